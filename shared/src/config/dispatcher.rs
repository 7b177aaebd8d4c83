//! `[[dispatcher]]`: sets of core destinations that requests are balanced over, how a
//! request fails over inside a set, and how destinations are health-checked.
//!
//! ```toml
//! [[dispatcher]]
//! name = "core"
//! algorithm = "round-robin"     # see ALGORITHMS
//! max_failover = 3              # destinations tried per request (serial forking)
//! failover_on = ["5xx", "408", "timeout"]   # codes, classes, "timeout" (timer B/F)
//! destinations = [
//!     { uri = "sip:10.0.0.1:5060", weight = 2, priority = 0 },
//!     { uri = "sip:10.0.0.2:5060", weight = 1, priority = 1, probe = true },
//! ]
//! [dispatcher.probe]
//! interval = 10                 # seconds between OPTIONS probes; 0 disables probing
//! timeout_ms = 2000             # a probe unanswered this long failed
//! ok_codes = ["2xx", "404"]     # replies that mean "alive"
//! threshold_down = 3            # consecutive failures before a destination is inactive
//! threshold_up = 1              # consecutive successes before it is active again
//! from_uri = "sip:sipedge@localhost"
//! ```

use std::collections::HashSet;

use serde::Deserialize;

use super::{ConfigError, ErrFn};

/// A set of core destinations requests are balanced over.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatcherSet {
    pub name: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    pub destinations: Vec<Destination>,
    /// Destinations tried per request, the first included.
    #[serde(default = "default_max_failover")]
    pub max_failover: usize,
    /// What moves a request to the next destination: status codes (`"503"`), classes
    /// (`"5xx"`), `"timeout"` (no final answer before timer B/F).
    #[serde(default = "default_failover_on")]
    pub failover_on: Vec<String>,
    #[serde(default)]
    pub probe: Probe,
}

fn default_algorithm() -> String {
    "round-robin".into()
}

fn default_max_failover() -> usize {
    3
}

fn default_failover_on() -> Vec<String> {
    vec!["5xx".into(), "408".into(), "timeout".into()]
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// SIP URI of the destination, e.g. `sip:127.0.0.1:5080`.
    pub uri: String,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub priority: u32,
    /// Whether this destination is health-checked with OPTIONS.
    #[serde(default = "yes")]
    pub probe: bool,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// OPTIONS health checks of a set's destinations.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Probe {
    /// Seconds between probes of one destination; 0 disables probing.
    pub interval: u64,
    /// A probe unanswered this long counts as failed (ms).
    pub timeout_ms: u64,
    /// Replies that mean the destination is alive: codes (`"200"`) or classes (`"2xx"`).
    pub ok_codes: Vec<String>,
    /// Consecutive failures (probes, or forwarded requests that timed out) before the
    /// destination is marked inactive and skipped.
    pub threshold_down: u32,
    /// Consecutive successful probes before an inactive destination is active again.
    pub threshold_up: u32,
    /// From URI of the probes.
    pub from_uri: String,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            interval: 10,
            timeout_ms: 2000,
            // Any answer but a server failure shows a live SIP stack: a core that does not
            // implement OPTIONS (405/501) or rejects our From (403/404) is still up.
            ok_codes: ["2xx", "3xx", "4xx", "6xx"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            threshold_down: 3,
            threshold_up: 1,
            from_uri: "sip:sipedge@localhost".into(),
        }
    }
}

/// Whether `code` matches a pattern list of codes (`"503"`) and classes (`"5xx"`).
pub fn code_matches(patterns: &[String], code: u16) -> bool {
    patterns.iter().any(|p| match p.as_bytes() {
        [c, b'x', b'x'] => u16::from(c.wrapping_sub(b'0')) == code / 100,
        _ => p.parse::<u16>().ok() == Some(code),
    })
}

fn valid_code_pattern(p: &str) -> bool {
    match p.as_bytes() {
        [c, b'x', b'x'] => (b'1'..=b'6').contains(c),
        _ => p.parse::<u16>().is_ok_and(|c| (100..=699).contains(&c)),
    }
}

/// Algorithms a dispatcher set may use.
pub const ALGORITHMS: &[&str] = &[
    "round-robin",
    "random",
    "weighted",
    "priority",
    "hash-call-id",
    "hash-from-user",
    "hash-to-user",
    "hash-ruri-user",
    "hash-auth-user",
];

/// Check names, algorithms, destination URIs, failover conditions and probe settings.
pub fn validate(sets_cfg: &[DispatcherSet], err: &ErrFn<'_>) -> Result<(), ConfigError> {
    let mut sets = HashSet::new();
    for (i, d) in sets_cfg.iter().enumerate() {
        let key = |k: &str| format!("dispatcher[{i}].{k}");
        if d.name.is_empty() || !sets.insert(d.name.clone()) {
            return Err(err(
                key("name"),
                format!("{:?} is empty or used twice", d.name),
            ));
        }
        if !ALGORITHMS.contains(&d.algorithm.as_str()) {
            return Err(err(
                key("algorithm"),
                format!("{:?} is not one of {}", d.algorithm, ALGORITHMS.join(", ")),
            ));
        }
        if d.destinations.is_empty() {
            return Err(err(
                key("destinations"),
                "at least one destination is required".into(),
            ));
        }
        if !(1..=32).contains(&d.max_failover) {
            return Err(err(
                key("max_failover"),
                format!("{} is outside 1..=32", d.max_failover),
            ));
        }
        for (j, f) in d.failover_on.iter().enumerate() {
            if f != "timeout" && !valid_code_pattern(f) {
                return Err(err(
                    format!("dispatcher[{i}].failover_on[{j}]"),
                    format!("{f:?} is not a status code, a class like \"5xx\" or \"timeout\""),
                ));
            }
        }
        let p = &d.probe;
        if p.interval > 86_400 {
            return Err(err(
                key("probe.interval"),
                format!("{} is more than a day", p.interval),
            ));
        }
        if !(100..=60_000).contains(&p.timeout_ms) {
            return Err(err(
                key("probe.timeout_ms"),
                format!("{} is outside 100..=60000", p.timeout_ms),
            ));
        }
        for (j, c) in p.ok_codes.iter().enumerate() {
            if !valid_code_pattern(c) {
                return Err(err(
                    format!("dispatcher[{i}].probe.ok_codes[{j}]"),
                    format!("{c:?} is not a status code or a class like \"2xx\""),
                ));
            }
        }
        for (k, v) in [
            ("probe.threshold_down", p.threshold_down),
            ("probe.threshold_up", p.threshold_up),
        ] {
            if !(1..=100).contains(&v) {
                return Err(err(key(k), format!("{v} is outside 1..=100")));
            }
        }
        if proto::Uri::parse(p.from_uri.as_bytes()).is_none_or(|u| !u.is_sip()) {
            return Err(err(
                key("probe.from_uri"),
                format!("{:?} is not a sip: URI", p.from_uri),
            ));
        }
        let mut uris = HashSet::new();
        for (j, dst) in d.destinations.iter().enumerate() {
            let ok = proto::Uri::parse(dst.uri.as_bytes())
                .is_some_and(|u| u.is_sip() && !u.host.text.is_empty());
            if !ok {
                return Err(err(
                    format!("dispatcher[{i}].destinations[{j}].uri"),
                    format!("{:?} is not a sip: or sips: URI", dst.uri),
                ));
            }
            if !uris.insert(dst.uri.as_str()) {
                return Err(err(
                    format!("dispatcher[{i}].destinations[{j}].uri"),
                    format!("{:?} is listed twice", dst.uri),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::path::Path;

    fn load(extra: &str) -> Result<Config, ConfigError> {
        Config::from_str(
            &format!("[[listen]]\naddress = \"127.0.0.1:5060\"\n[[dispatcher]]\nname = \"core\"\ndestinations = [{{ uri = \"sip:127.0.0.1:5080\" }}]\n{extra}"),
            Path::new("t.toml"),
        )
    }

    #[test]
    fn defaults() {
        let c = load("").unwrap();
        let d = &c.dispatcher[0];
        assert_eq!(d.algorithm, "round-robin");
        assert_eq!(d.max_failover, 3);
        assert_eq!(d.probe.interval, 10);
        assert!(d.destinations[0].probe);
        assert!(code_matches(&d.failover_on, 503));
        assert!(code_matches(&d.failover_on, 408));
        assert!(!code_matches(&d.failover_on, 486));
        assert!(code_matches(&d.probe.ok_codes, 404));
        assert!(!code_matches(&d.probe.ok_codes, 503));
    }

    #[test]
    fn errors_name_the_key() {
        for (extra, key) in [
            ("max_failover = 0", "dispatcher[0].max_failover"),
            ("failover_on = [\"5yy\"]", "dispatcher[0].failover_on[0]"),
            (
                "[dispatcher.probe]\ntimeout_ms = 5",
                "dispatcher[0].probe.timeout_ms",
            ),
            (
                "[dispatcher.probe]\nok_codes = [\"200\", \"99\"]",
                "dispatcher[0].probe.ok_codes[1]",
            ),
            (
                "[dispatcher.probe]\nthreshold_up = 0",
                "dispatcher[0].probe.threshold_up",
            ),
            (
                "[dispatcher.probe]\nfrom_uri = \"mailto:x\"",
                "dispatcher[0].probe.from_uri",
            ),
        ] {
            let e = load(extra).unwrap_err();
            assert_eq!(e.key, key, "{extra}: {e}");
        }
        let e = Config::from_str(
            "[[listen]]\naddress = \"127.0.0.1:5060\"\n[[dispatcher]]\nname = \"c\"\ndestinations = [{ uri = \"sip:a\" }, { uri = \"sip:a\" }]\n",
            Path::new("t.toml"),
        )
        .unwrap_err();
        assert_eq!(e.key, "dispatcher[0].destinations[1].uri");
    }
}
