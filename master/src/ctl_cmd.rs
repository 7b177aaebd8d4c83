//! `sipedge ctl -c FILE COMMAND`: talk to the running master of that configuration over its
//! ctl socket (`admin.ctl_socket`). One JSON request line, one JSON answer.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use shared::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file of the running sipedge (its ctl socket path is read from it).
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Print the raw JSON answer.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Workers, their pids, restarts and message counts; configuration generation; uptime.
    Status,
    /// Reload the configuration file (like SIGHUP, but tells you whether it worked).
    Reload,
    /// Dispatcher sets: every destination with its health as all workers see it.
    Dispatcher,
    /// Banned source addresses (flood, scanners).
    Ban {
        #[command(subcommand)]
        op: BanOp,
    },
    /// Digest credentials (stored as HA1 values for `[auth] realm`).
    Subscriber {
        #[command(subcommand)]
        op: SubOp,
    },
    /// The registrar's location service.
    Reg {
        #[command(subcommand)]
        op: RegOp,
    },
}

#[derive(clap::Subcommand)]
enum BanOp {
    /// Current bans with their remaining time and reason.
    List,
    /// Lift the ban of an address.
    Del { ip: String },
}

#[derive(clap::Subcommand)]
enum SubOp {
    /// Add or replace a subscriber.
    Add { user: String, password: String },
    /// Remove a subscriber.
    Del { user: String },
    /// List subscribers (first 10000).
    List,
    /// Add every `user,password` line of a CSV file (a header line `user,password` is skipped).
    Import { file: PathBuf },
}

#[derive(clap::Subcommand)]
enum RegOp {
    /// Bindings of one address-of-record (`sip:alice@example.com`), or all (first 10000).
    Show { aor: Option<String> },
    /// Remove every binding of an address-of-record.
    Del { aor: String },
    /// Number of bindings stored.
    Count,
}

pub fn run(args: &Args) -> ExitCode {
    // Only the socket path is read here: a file that is valid TOML but an invalid
    // configuration must still reach the master, whose `reload` reports what is wrong.
    let socket = match ctl_socket(&args.config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (cmd, req) = match &args.command {
        Command::Status => ("status", serde_json::json!({"cmd": "status"})),
        Command::Reload => ("reload", serde_json::json!({"cmd": "reload"})),
        Command::Dispatcher => ("dispatcher", serde_json::json!({"cmd": "dispatcher"})),
        Command::Ban { op } => (
            "ban",
            match op {
                BanOp::List => serde_json::json!({"cmd": "ban", "op": "list"}),
                BanOp::Del { ip } => serde_json::json!({"cmd": "ban", "op": "del", "ip": ip}),
            },
        ),
        Command::Subscriber { op } => (
            "subscriber",
            match op {
                SubOp::Add { user, password } => {
                    serde_json::json!({"cmd": "subscriber", "op": "add", "user": user, "password": password})
                }
                SubOp::Del { user } => {
                    serde_json::json!({"cmd": "subscriber", "op": "del", "user": user})
                }
                SubOp::List => serde_json::json!({"cmd": "subscriber", "op": "list"}),
                SubOp::Import { file } => {
                    let text = match std::fs::read_to_string(file) {
                        Ok(t) => t,
                        Err(e) => {
                            eprintln!("{}: cannot read: {e}", file.display());
                            return ExitCode::FAILURE;
                        }
                    };
                    let mut rows = Vec::new();
                    for (i, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || (i == 0 && line.eq_ignore_ascii_case("user,password"))
                        {
                            continue;
                        }
                        let Some((u, p)) = line.split_once(',') else {
                            eprintln!("{}:{}: expected user,password", file.display(), i + 1);
                            return ExitCode::FAILURE;
                        };
                        rows.push(serde_json::json!([u.trim(), p.trim()]));
                    }
                    // In batches: a ctl request line is at most 16 KiB.
                    let mut added = 0u64;
                    for chunk in rows.chunks(100) {
                        let req =
                            serde_json::json!({"cmd": "subscriber", "op": "import", "rows": chunk});
                        match request(&socket, &req) {
                            Ok(a) if a.get("ok").and_then(|v| v.as_bool()) == Some(true) => {
                                added += a.get("added").and_then(|v| v.as_u64()).unwrap_or(0);
                            }
                            Ok(a) => {
                                eprintln!(
                                    "sipedge ctl subscriber import: {}",
                                    a.get("error").unwrap_or(&a)
                                );
                                return ExitCode::FAILURE;
                            }
                            Err(e) => {
                                eprintln!("sipedge ctl: {socket}: {e}");
                                return ExitCode::FAILURE;
                            }
                        }
                    }
                    println!("{added} subscriber(s) added");
                    return ExitCode::SUCCESS;
                }
            },
        ),
        Command::Reg { op } => (
            "reg",
            match op {
                RegOp::Show { aor } => serde_json::json!({"cmd": "reg", "op": "show", "aor": aor}),
                RegOp::Del { aor } => serde_json::json!({"cmd": "reg", "op": "del", "aor": aor}),
                RegOp::Count => serde_json::json!({"cmd": "reg", "op": "count"}),
            },
        ),
    };
    let answer = match request(&socket, &req) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "sipedge ctl: {socket}: {e} (is sipedge running with {}?)",
                args.config.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let ok = answer.get("ok").and_then(|v| v.as_bool()) == Some(true);
    if args.json {
        println!("{answer}");
    } else if !ok {
        eprintln!(
            "sipedge ctl {cmd}: {}",
            answer
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("failed")
        );
    } else {
        match args.command {
            Command::Status => print_status(&answer),
            Command::Dispatcher => print_dispatcher(&answer),
            Command::Reg { .. } => print_reg(&answer),
            Command::Subscriber { .. } => print_subscribers(&answer),
            Command::Ban { .. } => print_bans(&answer),
            Command::Reload => println!(
                "reloaded: generation {}",
                answer.get("generation").unwrap_or(&serde_json::Value::Null)
            ),
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `admin.ctl_socket` of a configuration file, or its default.
fn ctl_socket(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let v: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    match v.get("admin").and_then(|a| a.get("ctl_socket")) {
        None => Ok(Config::default_ctl_socket()),
        Some(toml::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(format!(
            "{}: admin.ctl_socket: must be a non-empty string",
            path.display()
        )),
    }
}

fn request(path: &str, req: &serde_json::Value) -> std::io::Result<serde_json::Value> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    writeln!(s, "{req}")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    serde_json::from_str(&line).map_err(|e| std::io::Error::other(format!("bad answer: {e}")))
}

fn print_bans(v: &serde_json::Value) {
    if let Some(n) = v.get("deleted") {
        println!("{n} ban(s) lifted");
        return;
    }
    for b in v
        .get("bans")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
    {
        let f = |k: &str| match b.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(x) => x.to_string(),
            None => "-".into(),
        };
        println!("{:<40} {:>7}s  {}", f("ip"), f("expires_in"), f("reason"));
    }
}

fn print_subscribers(v: &serde_json::Value) {
    if let Some(n) = v.get("added") {
        println!(
            "{n} subscriber(s) added for realm {}",
            v.get("realm").unwrap_or(&serde_json::Value::Null)
        );
    } else if let Some(n) = v.get("deleted") {
        println!("{n} subscriber(s) deleted");
    } else {
        for s in v
            .get("subscribers")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            let f = |k: &str| s.get(k).and_then(|x| x.as_str()).unwrap_or("-").to_string();
            let off = if s.get("disabled").and_then(|d| d.as_bool()) == Some(true) {
                " (disabled)"
            } else {
                ""
            };
            println!("{}@{}{off}", f("user"), f("realm"));
        }
    }
}

fn print_reg(v: &serde_json::Value) {
    if let Some(n) = v.get("bindings").and_then(|b| b.as_u64()) {
        println!("{n} bindings");
        return;
    }
    if let Some(n) = v.get("deleted") {
        println!("{n} bindings deleted");
        return;
    }
    println!(
        "{:<32} {:<40} {:>8} {:>5} {:<21} {:>3}",
        "aor", "contact", "expires", "q", "received", "nat"
    );
    for b in v
        .get("bindings")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
    {
        let f = |k: &str| match b.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => "-".into(),
            Some(x) => x.to_string(),
        };
        println!(
            "{:<32} {:<40} {:>7}s {:>5} {:<21} {:>3}",
            f("aor"),
            f("contact"),
            f("expires_in"),
            f("q"),
            f("received"),
            if b.get("nat").and_then(|n| n.as_bool()) == Some(true) {
                "yes"
            } else {
                "no"
            }
        );
    }
}

fn print_dispatcher(v: &serde_json::Value) {
    println!(
        "{:<12} {:<32} {:<9} {:>6} {:>4} {:>5} {:>5} {:>9} {:>11}",
        "set", "uri", "state", "weight", "prio", "probe", "fails", "last_code", "since"
    );
    for d in v
        .get("destinations")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
    {
        let f = |k: &str| match d.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(x) => x.to_string(),
            None => "-".into(),
        };
        println!(
            "{:<12} {:<32} {:<9} {:>6} {:>4} {:>5} {:>5} {:>9} {:>11}",
            f("set"),
            f("uri"),
            f("state"),
            f("weight"),
            f("priority"),
            f("probe"),
            f("failed_checks"),
            f("last_code"),
            f("since")
        );
    }
}

fn print_status(v: &serde_json::Value) {
    let g = |k: &str| v.get(k).cloned().unwrap_or(serde_json::Value::Null);
    println!(
        "master pid {}  uptime {}s  generation {}  config {}",
        g("pid"),
        g("uptime_s"),
        g("generation"),
        g("config").as_str().unwrap_or_default()
    );
    println!(
        "{:>4} {:>8} {:>8} {:>8} {:>4} {:>10} {:>10} {:>10} {:>10}",
        "slot", "pid", "uptime", "restarts", "gen", "received", "requests", "forwarded", "from_ipc"
    );
    for w in v
        .get("workers")
        .and_then(|w| w.as_array())
        .into_iter()
        .flatten()
    {
        let f = |k: &str| match w.get(k) {
            Some(serde_json::Value::Null) | None => "-".to_string(),
            Some(x) => x.to_string(),
        };
        println!(
            "{:>4} {:>8} {:>7}s {:>8} {:>4} {:>10} {:>10} {:>10} {:>10}",
            f("slot"),
            f("pid"),
            f("uptime_s"),
            f("restarts"),
            f("generation"),
            f("received"),
            f("requests"),
            f("ipc_forwarded"),
            f("ipc_received")
        );
    }
    if g("missing").as_u64().unwrap_or(0) > 0 {
        println!("({} worker(s) did not answer in time)", g("missing"));
    }
}
