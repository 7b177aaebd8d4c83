//! Helpers for the end-to-end tests in `tests/tests/`: find the `sipedge` binary that
//! `cargo test` built, start it with a test configuration on a private port, talk SIP to it
//! over UDP, signal it, and find the corpora shipped in `tests/corpora/`.
//!
//! Test support only (never linked into sipedge): failing loudly is its job.
#![allow(clippy::panic)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `sipedge` binary of the current build profile (cargo builds every workspace binary
/// before it runs any test).
pub fn sipedge_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test-binary> -> target/<profile>/sipedge
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(PathBuf::from)
        .unwrap_or_default();
    let bin = dir.join("sipedge");
    assert!(
        bin.exists(),
        "{} not found: build the workspace first (cargo build --workspace)",
        bin.display()
    );
    bin
}

/// `tests/corpora/<rel>` in the source tree.
pub fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpora")
        .join(rel)
}

/// A fresh scratch directory under the target dir, removed first if it exists.
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("mkdir {}: {e}", base.display()));
    base
}

/// A configuration for tests: one UDP listener on `port`, `workers` workers, no admin HTTP,
/// store and ctl socket under `dir`.
pub fn test_config(dir: &Path, port: u16, workers: usize) -> String {
    test_config_admin(dir, port, workers, "")
}

/// [`test_config`] with the admin HTTP endpoint on `admin` (`IP:port`, or empty for none).
pub fn test_config_admin(dir: &Path, port: u16, workers: usize, admin: &str) -> String {
    format!(
        r#"[general]
workers = {workers}
log_level = "info"
drain_timeout = 2

[[listen]]
name = "test"
address = "127.0.0.1:{port}"

[admin]
address = "{admin}"
ctl_socket = "{dir}/ctl.sock"

[store]
path = "{dir}/store"
"#,
        dir = dir.display()
    )
}

/// A running `sipedge run` master, killed on drop.
pub struct Sipedge {
    pub child: Child,
    pub config: PathBuf,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Sipedge {
    /// Write `config` to `dir/sipedge.toml` and start sipedge on it; waits until it answers
    /// and all `workers` worker processes exist.
    pub fn start(dir: &Path, config: &str, port: u16) -> Sipedge {
        let path = dir.join("sipedge.toml");
        std::fs::write(&path, config).unwrap_or_else(|e| panic!("write config: {e}"));
        let log = dir.join("sipedge.log");
        let logf = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log file: {e}"));
        let child = Command::new(sipedge_bin())
            .args(["run", "-c"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn sipedge: {e}"));
        let s = Sipedge {
            child,
            config: path,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let workers = config
            .lines()
            .find_map(|l| l.strip_prefix("workers = "))
            .and_then(|n| n.trim().parse::<usize>().ok());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let all_forked = workers.is_none_or(|n| s.workers().len() == n);
            if all_forked && s.options_status().is_some() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "sipedge did not answer on {}; log:\n{}",
            s.addr,
            s.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(0)
    }

    /// Worker pids: the master's children.
    pub fn workers(&self) -> Vec<i32> {
        let pid = self.pid();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// SIGKILL the worker processes `victims`, then wait up to `timeout` until all are
    /// replaced (none is a child any more and the worker count is back); true if they were.
    pub fn kill_workers(&self, victims: &[i32], timeout: Duration) -> bool {
        let count = self.workers().len();
        for &pid in victims {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.workers();
            if now.len() == count && !now.iter().any(|w| victims.contains(w)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stop with SIGTERM (it must exit cleanly within 5 s), then start again in `dir` on the
    /// same configuration and store.
    pub fn restart(mut self, dir: &Path) -> Sipedge {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let st = self.wait_exit(Duration::from_secs(5));
        assert!(
            st.is_some_and(|st| st.success()),
            "no clean exit on SIGTERM ({st:?}); log:\n{}",
            self.log_text()
        );
        let config = std::fs::read_to_string(&self.config)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.config.display()));
        let port = self.addr.port();
        drop(self);
        Sipedge::start(dir, &config, port)
    }

    /// Wait for the master to exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Send an OPTIONS to sipedge itself; the status of the answer, if one came.
    pub fn options_status(&self) -> Option<u16> {
        let sock = client();
        let msg = request(&sock, "OPTIONS", &format!("sip:{}", self.addr), "");
        exchange(&sock, self.addr, msg.as_bytes(), Duration::from_millis(300))
            .and_then(|r| status_of(&r))
    }
}

impl Drop for Sipedge {
    fn drop(&mut self) {
        // Workers first: once the master is reaped its children list is gone.
        let workers = self.workers();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for w in workers {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(w),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A UDP client socket on an ephemeral loopback port.
pub fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind client: {e}"))
}

/// A well-formed request from `sock`, with rport so the answer comes back to it.
pub fn request(sock: &UdpSocket, method: &str, ruri: &str, extra: &str) -> String {
    let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
    let branch = format!("z9hG4bK{}{}", port, rand_suffix());
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:test@127.0.0.1>;tag=t{port}\r\nTo: <{ruri}>\r\nCall-ID: {branch}@127.0.0.1\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Send `data` and wait up to `timeout` for one datagram back.
pub fn exchange(
    sock: &UdpSocket,
    to: SocketAddr,
    data: &[u8],
    timeout: Duration,
) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(timeout)).ok()?;
    sock.send_to(data, to).ok()?;
    let mut buf = vec![0u8; 65536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            None
        }
        Err(_) => None,
    }
}

/// Status code of a response.
pub fn status_of(resp: &[u8]) -> Option<u16> {
    let line = resp.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// `sipedge ctl -c CONFIG ARGS...`: exit status and stdout.
pub fn ctl(config: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(sipedge_bin())
        .arg("ctl")
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run sipedge ctl: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A plain HTTP/1.0 GET; the status and the body.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.get(9..12)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Sum of every sample of `name` in Prometheus text whose labels contain all of `labels`
/// (e.g. `&["method=\"OPTIONS\""]`).
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            (n == name && labels.iter().all(|want| rest.contains(want)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .map(|v| v as u64)
        .sum()
}

/// `tests/scenarios/<name>`.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// What a SIPp run reported.
#[derive(Debug, Clone, Default)]
pub struct SippResult {
    /// SIPp's exit status (0: every call succeeded).
    pub status: Option<i32>,
    pub successful: u64,
    pub failed: u64,
    pub retransmissions: u64,
    /// Screen and error output, for assertion messages.
    pub output: String,
}

/// Run SIPp (`sipp` on PATH) with `args` in `dir`, bounded by `-timeout` and a kill after
/// `limit`. Counts come from its `-trace_stat` file.
pub fn sipp(dir: &Path, name: &str, args: &[&str], limit: Duration) -> SippResult {
    let stat = dir.join(format!("{name}_stat.csv"));
    let _ = std::fs::remove_file(&stat);
    let timeout = format!("{}s", limit.as_secs().max(1));
    let mut child = Command::new("sipp")
        .current_dir(dir)
        .args(args)
        .args(["-trace_stat", "-stf"])
        .arg(&stat)
        .args(["-fd", "1", "-trace_err", "-timeout", &timeout, "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run sipp (install sip-tester): {e}"));
    let deadline = Instant::now() + limit + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut output);
    }
    let csv = std::fs::read_to_string(&stat).unwrap_or_default();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(';').collect();
    let last: Vec<&str> = lines.last().unwrap_or_default().split(';').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    SippResult {
        status,
        successful: col("SuccessfulCall(C)"),
        failed: col("FailedCall(C)"),
        retransmissions: col("Retransmissions(C)"),
        output,
    }
}
