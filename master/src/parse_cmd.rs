//! `sipedge parse`: the ingress verdict on captured messages, for reproducing what the proxy
//! did with a packet. It calls the same [`proto::verdict`] the workers use.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use proto::{Limits, Message, StartLine, Verdict, EMPTY_HEADER};

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object per file (one per line) instead of text.
    #[arg(long)]
    json: bool,
    /// Files holding one raw message each; `-` reads stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// What we report about one file.
struct Report {
    file: String,
    verdict: Result<Verdict, String>,
    summary: Option<Summary>,
}

struct Summary {
    kind: &'static str,
    method_or_status: String,
    headers: usize,
    body: usize,
    call_id: Option<String>,
}

pub fn run(args: &Args) -> ExitCode {
    let mut all_ok = true;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        let report = examine(path);
        all_ok &= matches!(report.verdict, Ok(Verdict::Accept));
        let line = if args.json {
            json_line(&report)
        } else {
            text_line(&report)
        };
        if writeln!(out, "{line}").is_err() {
            return ExitCode::from(2);
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn examine(path: &PathBuf) -> Report {
    let file = path.display().to_string();
    let mut bytes = Vec::new();
    let read = if file == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    if let Err(e) = read {
        return Report {
            file,
            verdict: Err(format!("cannot read: {e}")),
            summary: None,
        };
    }
    let limits = Limits::DEFAULT;
    let verdict = proto::verdict(&bytes, &limits);
    let mut slots = [EMPTY_HEADER; 256];
    let summary = Message::parse(&bytes, &mut slots, &limits)
        .ok()
        .map(|m| Summary {
            kind: if m.is_request() {
                "request"
            } else {
                "response"
            },
            method_or_status: match m.start_line() {
                StartLine::Request { method, .. } => {
                    String::from_utf8_lossy(method.as_bytes()).into_owned()
                }
                StartLine::Response { code, .. } => code.to_string(),
            },
            headers: m.headers().len(),
            body: m.body().len(),
            call_id: m.call_id().map(|c| String::from_utf8_lossy(c).into_owned()),
        });
    Report {
        file,
        verdict: Ok(verdict),
        summary,
    }
}

fn text_line(r: &Report) -> String {
    let what = r.summary.as_ref().map_or(String::new(), |s| {
        format!(
            " ({} {}, {} headers, {} body bytes)",
            s.method_or_status, s.kind, s.headers, s.body
        )
    });
    match &r.verdict {
        Ok(Verdict::Accept) => format!("{}: accepted{what}", r.file),
        Ok(Verdict::Reject { status, reason }) => {
            format!("{}: rejected: {status} {reason}{what}", r.file)
        }
        Ok(Verdict::Drop { reason }) => format!("{}: dropped: {reason}{what}", r.file),
        Err(e) => format!("{}: error: {e}", r.file),
    }
}

fn json_line(r: &Report) -> String {
    let mut o = serde_json::Map::new();
    o.insert("file".into(), r.file.clone().into());
    match &r.verdict {
        Ok(v) => {
            let (verdict, status, reason) = match v {
                Verdict::Accept => ("accept", None, None),
                Verdict::Reject { status, reason } => ("reject", Some(*status), Some(*reason)),
                Verdict::Drop { reason } => ("drop", None, Some(*reason)),
            };
            o.insert("accepted".into(), matches!(v, Verdict::Accept).into());
            o.insert("verdict".into(), verdict.into());
            if let Some(s) = status {
                o.insert("status".into(), s.into());
            }
            if let Some(r) = reason {
                o.insert("reason".into(), r.into());
            }
        }
        Err(e) => {
            o.insert("accepted".into(), false.into());
            o.insert("verdict".into(), "error".into());
            o.insert("reason".into(), e.clone().into());
        }
    }
    if let Some(s) = &r.summary {
        o.insert("kind".into(), s.kind.into());
        let key = if s.kind == "request" {
            "method"
        } else {
            "status_code"
        };
        o.insert(key.into(), s.method_or_status.clone().into());
        o.insert("headers".into(), s.headers.into());
        o.insert("body_bytes".into(), s.body.into());
        if let Some(c) = &s.call_id {
            o.insert("call_id".into(), c.clone().into());
        }
    }
    serde_json::Value::Object(o).to_string()
}
