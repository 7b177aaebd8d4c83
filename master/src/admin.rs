//! The master's admin connections: HTTP on the admin address (`/metrics`, `/health`) and the
//! `sipedge ctl` unix socket (one JSON request line, one JSON answer). Both are tiny
//! request/response protocols: read one request, write one answer, close. Requests are
//! bounded in size; anything else is answered `400` (HTTP) or `{"ok":false}` (ctl).

use std::io::{self, Read, Write};

use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

/// Largest request accepted on either socket.
const MAX_REQUEST: usize = 16 * 1024;

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// HTTP `GET /metrics`.
    Metrics,
    /// HTTP `GET /health`.
    Health,
    /// ctl `status`.
    Status,
    /// ctl `reload`.
    Reload,
    /// ctl `dispatcher`.
    Dispatcher,
    /// ctl `ban list`, `ban del IP`.
    Ban {
        op: String,
        ip: Option<String>,
    },
    /// ctl `subscriber add|del|list|import` (the whole request, read by the master).
    Subscriber(serde_json::Value),
    /// ctl `reg show [AOR]`, `reg del AOR`, `reg count`.
    Reg {
        op: String,
        aor: Option<String>,
    },
    NotFound,
    Malformed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    Http,
    Ctl,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// One admin or ctl connection.
pub struct Conn {
    pub kind: ConnKind,
    stream: Stream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    written: usize,
    /// Set once the answer is in `outbuf`: close after it is written.
    answered: bool,
    /// A request waiting for the workers' counters.
    pub pending: Option<Request>,
}

/// What the loop should do after an event.
pub enum Step {
    /// A complete request: answer it (now or when the counters arrive).
    Request(Request),
    /// Wait for more events.
    Continue,
    /// Finished or broken: deregister and close.
    Done,
}

impl Conn {
    pub fn http(s: TcpStream) -> Conn {
        Self::new(ConnKind::Http, Stream::Tcp(s))
    }

    pub fn ctl(s: UnixStream) -> Conn {
        Self::new(ConnKind::Ctl, Stream::Unix(s))
    }

    fn new(kind: ConnKind, stream: Stream) -> Conn {
        Conn {
            kind,
            stream,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            written: 0,
            answered: false,
            pending: None,
        }
    }

    pub fn register(&mut self, reg: &Registry, t: Token) -> io::Result<()> {
        let i = Interest::READABLE | Interest::WRITABLE;
        match &mut self.stream {
            Stream::Tcp(s) => reg.register(s, t, i),
            Stream::Unix(s) => reg.register(s, t, i),
        }
    }

    pub fn deregister(&mut self, reg: &Registry) {
        let _ = match &mut self.stream {
            Stream::Tcp(s) => reg.deregister(s),
            Stream::Unix(s) => reg.deregister(s),
        };
    }

    /// Handle readiness. Reads until a request is complete; writes a pending answer.
    pub fn on_event(&mut self, readable: bool, writable: bool) -> Step {
        if writable && self.answered {
            return if self.flush() {
                Step::Done
            } else {
                Step::Continue
            };
        }
        if !readable || self.answered || self.pending.is_some() {
            return Step::Continue;
        }
        let mut chunk = [0u8; 4096];
        loop {
            let n = match &mut self.stream {
                Stream::Tcp(s) => s.read(&mut chunk),
                Stream::Unix(s) => s.read(&mut chunk),
            };
            match n {
                Ok(0) => return Step::Done,
                Ok(n) => {
                    self.inbuf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    if let Some(req) = self.parse() {
                        return Step::Request(req);
                    }
                    if self.inbuf.len() > MAX_REQUEST {
                        return Step::Request(Request::Malformed("request too large".into()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Done,
            }
        }
    }

    fn parse(&self) -> Option<Request> {
        match self.kind {
            ConnKind::Http => parse_http(&self.inbuf),
            ConnKind::Ctl => parse_ctl(&self.inbuf),
        }
    }

    /// Queue an HTTP answer.
    pub fn respond_http(&mut self, status: u16, content_type: &str, body: &[u8]) {
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            503 => "Service Unavailable",
            _ => "Error",
        };
        self.outbuf = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        self.outbuf.extend_from_slice(body);
        self.answered = true;
    }

    /// Queue a ctl answer (one JSON document and a newline).
    pub fn respond_ctl(&mut self, v: &serde_json::Value) {
        self.outbuf = v.to_string().into_bytes();
        self.outbuf.push(b'\n');
        self.answered = true;
    }

    /// Write what can be written; true when the answer is out (or the peer is gone).
    pub fn flush(&mut self) -> bool {
        if !self.answered {
            return false;
        }
        while self.written < self.outbuf.len() {
            let rest = self.outbuf.get(self.written..).unwrap_or_default();
            let n = match &mut self.stream {
                Stream::Tcp(s) => s.write(rest),
                Stream::Unix(s) => s.write(rest),
            };
            match n {
                Ok(0) => return true,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        true
    }
}

/// An HTTP request head, once complete.
fn parse_http(buf: &[u8]) -> Option<Request> {
    memchr::memmem::find(buf, b"\r\n\r\n")?;
    let line_end = memchr::memchr(b'\r', buf).unwrap_or(buf.len());
    let line = std::str::from_utf8(buf.get(..line_end).unwrap_or_default()).ok();
    let mut parts = line.unwrap_or_default().split(' ');
    let (method, target) = (parts.next(), parts.next());
    let Some(target) = target else {
        return Some(Request::Malformed("malformed request line\n".into()));
    };
    if method != Some("GET") {
        return Some(Request::Malformed("only GET is supported\n".into()));
    }
    let path = target.split('?').next().unwrap_or_default();
    Some(match path {
        "/metrics" => Request::Metrics,
        "/health" => Request::Health,
        _ => Request::NotFound,
    })
}

/// A ctl request line, once complete: `{"cmd": "status"}`.
fn parse_ctl(buf: &[u8]) -> Option<Request> {
    let end = memchr::memchr(b'\n', buf)?;
    let v: serde_json::Value = match serde_json::from_slice(buf.get(..end).unwrap_or_default()) {
        Ok(v) => v,
        Err(e) => return Some(Request::Malformed(format!("not JSON: {e}"))),
    };
    Some(match v.get("cmd").and_then(|c| c.as_str()) {
        Some("status") => Request::Status,
        Some("reload") => Request::Reload,
        Some("dispatcher") => Request::Dispatcher,
        Some("subscriber") => Request::Subscriber(v.clone()),
        Some("ban") => Request::Ban {
            op: v
                .get("op")
                .and_then(|o| o.as_str())
                .unwrap_or("list")
                .to_string(),
            ip: v.get("ip").and_then(|a| a.as_str()).map(String::from),
        },
        Some("reg") => match v.get("op").and_then(|o| o.as_str()) {
            Some(op @ ("show" | "del" | "count")) => Request::Reg {
                op: op.to_string(),
                aor: v.get("aor").and_then(|a| a.as_str()).map(String::from),
            },
            _ => Request::Malformed("reg needs \"op\": show, del or count".into()),
        },
        Some(other) => Request::Malformed(format!("unknown command {other:?}")),
        None => Request::Malformed("missing \"cmd\"".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests() {
        assert_eq!(parse_http(b"GET /metrics HTTP/1.1\r\nHost: x"), None);
        assert_eq!(
            parse_http(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Request::Metrics)
        );
        assert_eq!(
            parse_http(b"GET /health?x=1 HTTP/1.0\r\n\r\n"),
            Some(Request::Health)
        );
        assert_eq!(
            parse_http(b"GET /nope HTTP/1.0\r\n\r\n"),
            Some(Request::NotFound)
        );
        assert!(matches!(
            parse_http(b"POST /metrics HTTP/1.0\r\n\r\n"),
            Some(Request::Malformed(_))
        ));
        assert!(matches!(
            parse_http(b"\r\n\r\n"),
            Some(Request::Malformed(_))
        ));
    }

    #[test]
    fn ctl_requests() {
        assert_eq!(parse_ctl(b"{\"cmd\":\"status\"}"), None);
        assert_eq!(parse_ctl(b"{\"cmd\":\"status\"}\n"), Some(Request::Status));
        assert_eq!(parse_ctl(b"{\"cmd\":\"reload\"}\n"), Some(Request::Reload));
        assert!(matches!(
            parse_ctl(b"{\"cmd\":\"rm -rf\"}\n"),
            Some(Request::Malformed(_))
        ));
        assert!(matches!(parse_ctl(b"junk\n"), Some(Request::Malformed(_))));
    }
}
