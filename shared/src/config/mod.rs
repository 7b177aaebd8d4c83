//! Configuration: the TOML schema, its defaults, and validation of the whole file.
//!
//! Loading never panics and never half-applies: [`Config::load`] either returns a config that
//! passed every check or a [`ConfigError`] that names the file, the key and the problem, the
//! way `nginx -t` does. The master validates before it forks and again on every SIGHUP.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod auth;
pub mod dispatcher;
pub mod registrar;
pub mod routing;
pub mod security;

pub use auth::Auth;
pub use dispatcher::{DispatcherSet, ALGORITHMS};
pub use registrar::Registrar;
pub use routing::RouteRule;
pub use security::Security;

/// Builds a [`ConfigError`] for a key of the file being validated.
pub type ErrFn<'a> = dyn Fn(String, String) -> ConfigError + 'a;

/// A configuration problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted key path (`listen[0].address`), empty for whole-file problems.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub listen: Vec<Listener>,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub transaction: Transaction,
    #[serde(default)]
    pub dispatcher: Vec<DispatcherSet>,
    #[serde(default)]
    pub registrar: Registrar,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub security: Security,
    /// The routing table: ordered rules, first match wins (see [`routing`]).
    #[serde(default)]
    pub route: Vec<RouteRule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Worker processes; 0 means one per CPU core.
    pub workers: usize,
    /// `text` (human-readable) or `json`.
    pub log_format: String,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: String,
    /// Log file; empty means stderr. Reopened on SIGUSR1.
    pub log_file: String,
    /// Seconds a graceful stop waits for transactions in flight.
    pub drain_timeout: u64,
    /// The name sipedge answers as (Server/User-Agent header).
    pub server_header: String,
    /// Microseconds a worker waits, after a wake-up that found traffic, before it looks for
    /// more: datagrams that arrive meanwhile are read and handled as one batch, so a loaded
    /// worker wakes once per interval instead of once per datagram. A datagram that arrives
    /// while the worker is idle is handled at once; one that arrives during the wait is
    /// delayed by at most 1.5 times this much (the worker's timer slack is half of it).
    /// 0 turns batching off.
    pub coalesce_us: u64,
}

/// Most `general.coalesce_us` may be: past it the added latency starts to matter to SIP
/// timers (T1 is 500 ms, but a forked call crosses several hops).
pub const MAX_COALESCE_US: u64 = 5_000;

impl Default for General {
    fn default() -> Self {
        Self {
            workers: 0,
            log_format: "text".into(),
            log_level: "info".into(),
            log_file: String::new(),
            drain_timeout: 10,
            server_header: concat!("sipedge/", env!("CARGO_PKG_VERSION")).into(),
            coalesce_us: 1000,
        }
    }
}

/// A SIP listener.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Name used in routing rules and metrics.
    #[serde(default)]
    pub name: String,
    /// `udp` (TCP, TLS and WebSocket come later).
    #[serde(default = "default_transport")]
    pub transport: String,
    /// `IP:port` to bind.
    pub address: String,
    /// Address to write in Via/Record-Route when it differs from `address` (NAT, 0.0.0.0).
    #[serde(default)]
    pub advertise: String,
    /// Socket receive buffer in bytes (0 keeps the system default).
    #[serde(default = "default_rcvbuf")]
    pub receive_buffer: usize,
    /// How the kernel spreads datagrams over the workers' sockets: `random` (a reuseport
    /// BPF program: every source's load spreads over all workers) or `hash` (the kernel's
    /// 4-tuple hash: one source address always reaches the same worker).
    #[serde(default = "default_steering")]
    pub steering: String,
    /// Each worker sends the requests it relays from a port of its own (same IP, a port the
    /// kernel picks) and puts it in Via, so responses come straight back to the worker that
    /// owns the transaction instead of crossing an IPC hop. Record-Route and everything
    /// phones see keep the listener's address. Needs the worker ports reachable from the
    /// next hops (not with `advertise`, i.e. not behind NAT).
    #[serde(default)]
    pub worker_ports: bool,
}

fn default_steering() -> String {
    "random".into()
}

fn default_transport() -> String {
    "udp".into()
}

fn default_rcvbuf() -> usize {
    4 << 20
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// HTTP address for `/metrics` and `/health`; empty disables it.
    pub address: String,
    /// Unix socket `sipedge ctl` talks to.
    pub ctl_socket: String,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:9060".into(),
            ctl_socket: Config::default_ctl_socket(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// Directory of the LMDB environment (created when missing).
    pub path: String,
    /// Maximum size of the memory map, in MiB.
    pub map_size_mb: usize,
    /// LMDB `MDB_WRITEMAP`: commits 2-3x cheaper (REGISTER-heavy loads), at the price that a
    /// power cut (not a crash) can corrupt the store instead of losing its last second.
    pub write_map: bool,
    /// How often the master flushes the store to disk (it is opened without a sync per
    /// commit): a power cut or kernel crash loses at most this much of registrations and
    /// counters; a crash of sipedge itself loses nothing. Shorter is safer, at the price of
    /// more disk writes.
    pub sync_interval_ms: u64,
}

impl Store {
    /// The store's opening options.
    pub fn options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            map_size_mb: self.map_size_mb,
            write_map: self.write_map,
            ..crate::store::StoreOptions::default()
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Self {
            path: "run/store".into(),
            map_size_mb: 1024,
            write_map: false,
            sync_interval_ms: 1000,
        }
    }
}

/// Transaction timers (RFC 3261 §17, Table 4). Defaults are the RFC's values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Transaction {
    /// T1, the round-trip estimate: first retransmission interval (ms).
    pub t1_ms: u64,
    /// T2, the longest retransmission interval for non-INVITE requests and INVITE
    /// responses (ms).
    pub t2_ms: u64,
    /// T4, how long the network keeps a message (ms): linger of completed transactions.
    pub t4_ms: u64,
    /// Timer B / F: how long a forwarded request may go unanswered before the destination
    /// counts as failed (ms); 0 means 64·T1 as in the RFC. A dispatcher fails over sooner
    /// with a shorter value.
    pub timeout_ms: u64,
    /// Timer C: how long a forwarded INVITE may ring (after a provisional) before it is
    /// cancelled and answered 408 (s).
    pub timer_c_s: u64,
}

impl Default for Transaction {
    fn default() -> Self {
        Self {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            timeout_ms: 0,
            timer_c_s: 180,
        }
    }
}

/// Parser limits against abuse (see `proto::Limits`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_headers: usize,
    pub max_line_len: usize,
    pub max_header_section: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let d = proto::Limits::DEFAULT;
        Self {
            max_message_size: d.max_message_size,
            max_headers: d.max_headers,
            max_line_len: d.max_line_len,
            max_header_section: d.max_header_section,
        }
    }
}

impl Limits {
    pub fn to_proto(&self) -> proto::Limits {
        proto::Limits {
            max_message_size: self.max_message_size,
            max_headers: self.max_headers,
            max_line_len: self.max_line_len,
            max_header_section: self.max_header_section,
        }
    }
}

impl Config {
    /// `admin.ctl_socket` when the file does not set it.
    pub fn default_ctl_socket() -> String {
        "run/sipedge.ctl".into()
    }

    /// Read, parse and validate `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_str(&text, path)
    }

    /// Parse and validate TOML text; `path` is only used in errors.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Number of workers to start.
    pub fn worker_count(&self) -> usize {
        if self.general.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.general.workers
        }
    }

    /// Check everything serde cannot: addresses, ranges, references, duplicates.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let err = |key: String, message: String| ConfigError {
            file: path.to_path_buf(),
            key,
            message,
        };
        let g = &self.general;
        if g.workers > 256 {
            return Err(err(
                "general.workers".into(),
                format!("{} is more than 256", g.workers),
            ));
        }
        if g.coalesce_us > MAX_COALESCE_US {
            return Err(err(
                "general.coalesce_us".into(),
                format!("{} is more than {MAX_COALESCE_US}", g.coalesce_us),
            ));
        }
        if !matches!(g.log_format.as_str(), "text" | "json") {
            return Err(err(
                "general.log_format".into(),
                format!("{:?} is not \"text\" or \"json\"", g.log_format),
            ));
        }
        if !matches!(
            g.log_level.as_str(),
            "error" | "warn" | "info" | "debug" | "trace"
        ) {
            return Err(err(
                "general.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    g.log_level
                ),
            ));
        }
        if self.listen.is_empty() {
            return Err(err(
                "listen".into(),
                "at least one listener is required".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut addrs = HashSet::new();
        for (i, l) in self.listen.iter().enumerate() {
            let key = |k: &str| format!("listen[{i}].{k}");
            if l.transport != "udp" {
                return Err(err(
                    key("transport"),
                    format!("{:?} is not supported (only \"udp\" for now)", l.transport),
                ));
            }
            let addr: SocketAddr = l.address.parse().map_err(|_| {
                err(
                    key("address"),
                    format!("{:?} is not an IP:port address", l.address),
                )
            })?;
            if !matches!(l.steering.as_str(), "random" | "hash") {
                return Err(err(
                    key("steering"),
                    format!("{:?} is not \"random\" or \"hash\"", l.steering),
                ));
            }
            if !addrs.insert(addr) {
                return Err(err(key("address"), format!("{addr} is listed twice")));
            }
            if !l.advertise.is_empty()
                && proto::Uri::parse(format!("sip:{}", l.advertise).as_bytes()).is_none()
            {
                return Err(err(
                    key("advertise"),
                    format!("{:?} is not a host[:port]", l.advertise),
                ));
            }
            if !l.name.is_empty() && !names.insert(l.name.clone()) {
                return Err(err(key("name"), format!("{:?} is used twice", l.name)));
            }
            if l.worker_ports && !l.advertise.is_empty() {
                return Err(err(
                    key("worker_ports"),
                    "cannot be used with advertise (the worker ports are not reachable through the NAT)".into(),
                ));
            }
        }
        if !self.admin.address.is_empty() {
            self.admin.address.parse::<SocketAddr>().map_err(|_| {
                err(
                    "admin.address".into(),
                    format!("{:?} is not an IP:port address", self.admin.address),
                )
            })?;
        }
        if self.admin.ctl_socket.is_empty() {
            return Err(err("admin.ctl_socket".into(), "must not be empty".into()));
        }
        if self.store.path.is_empty() {
            return Err(err("store.path".into(), "must not be empty".into()));
        }
        if !(1..=1 << 20).contains(&self.store.map_size_mb) {
            return Err(err(
                "store.map_size_mb".into(),
                format!("{} is outside 1..=1048576", self.store.map_size_mb),
            ));
        }
        if !(10..=3_600_000).contains(&self.store.sync_interval_ms) {
            return Err(err(
                "store.sync_interval_ms".into(),
                format!(
                    "{} is outside 10..=3600000 (10 ms to an hour)",
                    self.store.sync_interval_ms
                ),
            ));
        }
        let lim = &self.limits;
        for (k, v, lo, hi) in [
            (
                "limits.max_message_size",
                lim.max_message_size,
                512,
                1 << 20,
            ),
            ("limits.max_headers", lim.max_headers, 8, 1024),
            ("limits.max_line_len", lim.max_line_len, 128, 1 << 16),
            (
                "limits.max_header_section",
                lim.max_header_section,
                512,
                1 << 20,
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(err(k.into(), format!("{v} is outside {lo}..={hi}")));
            }
        }
        let t = &self.transaction;
        for (k, v, lo, hi) in [
            ("transaction.t1_ms", t.t1_ms, 10, 10_000),
            ("transaction.t2_ms", t.t2_ms, t.t1_ms, 60_000),
            ("transaction.t4_ms", t.t4_ms, 10, 60_000),
            ("transaction.timer_c_s", t.timer_c_s, 10, 3_600),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(err(k.into(), format!("{v} is outside {lo}..={hi}")));
            }
        }
        if t.timeout_ms != 0 && !(100..=600_000).contains(&t.timeout_ms) {
            return Err(err(
                "transaction.timeout_ms".into(),
                format!("{} is outside 100..=600000 (or 0 for 64*T1)", t.timeout_ms),
            ));
        }
        dispatcher::validate(&self.dispatcher, &err)?;
        registrar::validate(&self.registrar, &err)?;
        auth::validate(&self.auth, &err)?;
        security::validate(&self.security, &err)?;
        let listeners: Vec<String> = self.listen.iter().map(|l| l.name.clone()).collect();
        routing::validate(
            &self.route,
            &self.dispatcher,
            &listeners,
            &self.registrar,
            &err,
        )?;
        Ok(())
    }
}

/// Turn a TOML/serde error into one that names the key and the line.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| {
        text.get(..s.start)
            .unwrap_or_default()
            .matches('\n')
            .count()
            + 1
    });
    let message = e.message().trim().to_string();
    ConfigError {
        file: path.to_path_buf(),
        key: line.map_or_else(String::new, |l| format!("line {l}")),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(text, Path::new("test.toml"))
    }

    const MINIMAL: &str = "[[listen]]\naddress = \"127.0.0.1:5060\"\n";

    #[test]
    fn defaults() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.listen[0].transport, "udp");
        assert_eq!(c.admin.address, "127.0.0.1:9060");
        assert_eq!(c.limits.to_proto(), proto::Limits::DEFAULT);
        assert!(c.worker_count() >= 1);
    }

    #[test]
    fn shipped_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/sipedge.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.listen[0].address, "127.0.0.1:5060");
        assert_eq!(c.dispatcher[0].destinations[0].uri, "sip:127.0.0.1:5080");
    }

    #[test]
    fn errors_name_file_key_and_problem() {
        let e = load("[[listen]]\naddress = \"localhost\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "test.toml: listen[0].address: \"localhost\" is not an IP:port address"
        );
        let e = load("[general]\nworkerz = 2\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("test.toml: line 2: unknown field `workerz`"),
            "{e}"
        );
        let e = load(&format!("{MINIMAL}[general]\nlog_format = \"xml\"\n")).unwrap_err();
        assert_eq!(e.key, "general.log_format");
        let e = load(&format!(
            "{MINIMAL}[[dispatcher]]\nname = \"core\"\nalgorithm = \"round-robin\"\ndestinations = [{{ uri = \"http://x\" }}]\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "dispatcher[0].destinations[0].uri");
        let e = load("").unwrap_err();
        assert_eq!(e.key, "listen");
        let e = load(&format!("{MINIMAL}[limits]\nmax_headers = 1\n")).unwrap_err();
        assert_eq!(e.key, "limits.max_headers");
        let e = load(&format!("{MINIMAL}[general]\ncoalesce_us = 5001\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test.toml: general.coalesce_us: 5001 is more than 5000"
        );
        assert!(load(&format!("{MINIMAL}[general]\ncoalesce_us = 0\n")).is_ok());
        let e = load(&format!("{MINIMAL}[store]\nsync_interval_ms = 5\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test.toml: store.sync_interval_ms: 5 is outside 10..=3600000 (10 ms to an hour)"
        );
        let c = load(&format!("{MINIMAL}[store]\nsync_interval_ms = 30000\n")).unwrap();
        assert_eq!(c.store.sync_interval_ms, 30_000);
        assert_eq!(load(MINIMAL).unwrap().store.sync_interval_ms, 1000);
        let e = load(&format!("{MINIMAL}[auth]\nnonce_slots = 100\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "test.toml: auth.nonce_slots: 100 is outside 1024..=67108864"
        );
        let c = load(&format!("{MINIMAL}[auth]\nnonce_slots = 4096\n")).unwrap();
        assert_eq!(c.auth.nonce_slots, 4096);
        assert_eq!(load(MINIMAL).unwrap().auth.nonce_slots, 1 << 20);
    }
}
