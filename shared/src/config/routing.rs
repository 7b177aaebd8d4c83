//! `[[route]]`: the routing table. Ordered rules; the first rule whose every condition holds
//! acts. Conditions left out match anything. Exactly one action per rule.
//!
//! ```toml
//! [[route]]
//! name = "trunk-premium"
//! method = ["INVITE"]                 # request methods (any when absent)
//! in_dialog = false                   # only initial (false) or in-dialog (true) requests
//! source = ["192.0.2.0/24", "2001:db8::/32", "192.0.2.9:5080"]   # CIDRs or exact IP:port
//! listener = ["public"]               # names of [[listen]] entries
//! ruri_user_prefix = ["0900", "+44900"]
//! ruri_user_regex = "^[0-9]{4,}$"
//! ruri_domain = ["@local", "example.com"]      # "@local": an address of sipedge itself
//! ruri_registered = true              # the R-URI is an address-of-record with live bindings
//! header = [{ name = "User-Agent", regex = "(?i)friendly-scanner" },
//!           { name = "X-Skip", absent = true }]
//! # actions (exactly one):
//! dispatch = "core"                   # relay to a dispatcher set ...
//! record_route = true                 #   ... and stay in the dialog's path (default true)
//! path = false                        #   ... add Path (RFC 3327) to a relayed REGISTER
//! # reply = 403                       # answer with a status (and `reason`)
//! # reason = "Forbidden"
//! # drop = true                       # send nothing
//! # continue = true                   # do nothing, go on with the next rule
//! # register = true                   # REGISTER: update the location service ([registrar])
//! # lookup = true                     # relay to the contacts registered for the R-URI
//! # steps before the action:
//! # authenticate = true               # digest credentials required ([auth]): 401/407
//! ```
//!
//! Later features (authentication, limits, registrar lookup, topology hiding, media, header
//! edits) become further keys of a rule: conditions stay as they are, and a rule may carry
//! steps that run before its action.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::Deserialize;

use super::{ConfigError, DispatcherSet, ErrFn, Registrar};

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub name: String,
    #[serde(default)]
    pub method: Vec<String>,
    #[serde(default)]
    pub in_dialog: Option<bool>,
    #[serde(default)]
    pub source: Vec<String>,
    #[serde(default)]
    pub listener: Vec<String>,
    #[serde(default)]
    pub ruri_user_prefix: Vec<String>,
    #[serde(default)]
    pub ruri_user_regex: Option<String>,
    #[serde(default)]
    pub ruri_domain: Vec<String>,
    #[serde(default)]
    pub header: Vec<HeaderMatch>,
    #[serde(default)]
    pub ruri_registered: Option<bool>,
    #[serde(default)]
    pub dispatch: Option<String>,
    #[serde(default = "yes")]
    pub record_route: bool,
    #[serde(default)]
    pub path: bool,
    #[serde(default)]
    pub reply: Option<u16>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub drop: bool,
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    #[serde(default)]
    pub register: bool,
    #[serde(default)]
    pub lookup: bool,
    /// Step before the action: the request must carry valid digest credentials.
    #[serde(default)]
    pub authenticate: bool,
}

fn yes() -> bool {
    true
}

/// A condition on a header: its first value matches `regex`, or (with `absent = true`) the
/// header is not there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub name: String,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub absent: bool,
}

/// Parse `a.b.c.d/len` or `v6/len` (a bare address is a host route).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

/// Whether `ip` lies in `net/len`.
pub fn cidr_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Check the rules and their references to listeners and dispatcher sets.
pub fn validate(
    rules: &[RouteRule],
    sets: &[DispatcherSet],
    listeners: &[String],
    registrar: &Registrar,
    err: &ErrFn<'_>,
) -> Result<(), ConfigError> {
    let mut names = HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        let key = |k: &str| format!("route[{i}].{k}");
        if r.name.is_empty() || !names.insert(r.name.as_str()) {
            return Err(err(
                key("name"),
                format!("{:?} is empty or used twice", r.name),
            ));
        }
        for (j, m) in r.method.iter().enumerate() {
            if !token(m) {
                return Err(err(
                    format!("route[{i}].method[{j}]"),
                    format!("{m:?} is not a method name"),
                ));
            }
        }
        for (j, c) in r.source.iter().enumerate() {
            if parse_cidr(c).is_none() && c.parse::<std::net::SocketAddr>().is_err() {
                return Err(err(
                    format!("route[{i}].source[{j}]"),
                    format!("{c:?} is not an address, CIDR (10.0.0.0/8) or IP:port"),
                ));
            }
        }
        for (j, l) in r.listener.iter().enumerate() {
            if !listeners.contains(l) {
                return Err(err(
                    format!("route[{i}].listener[{j}]"),
                    format!("no [[listen]] is named {l:?}"),
                ));
            }
        }
        if let Some(re) = &r.ruri_user_regex {
            if let Err(e) = regex::bytes::Regex::new(re) {
                return Err(err(key("ruri_user_regex"), format!("bad regex: {e}")));
            }
        }
        for (j, d) in r.ruri_domain.iter().enumerate() {
            if d.is_empty() || (d.starts_with('@') && d != "@local") {
                return Err(err(
                    format!("route[{i}].ruri_domain[{j}]"),
                    format!("{d:?} is not a domain or \"@local\""),
                ));
            }
        }
        for (j, h) in r.header.iter().enumerate() {
            let hkey = |k: &str| format!("route[{i}].header[{j}].{k}");
            if !token(&h.name) {
                return Err(err(
                    hkey("name"),
                    format!("{:?} is not a header name", h.name),
                ));
            }
            match (&h.regex, h.absent) {
                (Some(_), true) | (None, false) => {
                    return Err(err(
                        hkey("regex"),
                        "give either a regex or absent = true".into(),
                    ))
                }
                (Some(re), false) => {
                    if let Err(e) = regex::bytes::Regex::new(re) {
                        return Err(err(hkey("regex"), format!("bad regex: {e}")));
                    }
                }
                (None, true) => {}
            }
        }
        let actions = usize::from(r.dispatch.is_some())
            + usize::from(r.reply.is_some())
            + usize::from(r.drop)
            + usize::from(r.continue_)
            + usize::from(r.register)
            + usize::from(r.lookup);
        if actions != 1 {
            return Err(err(
                key("dispatch"),
                format!(
                    "a rule needs exactly one action (dispatch, reply, drop, continue, register or lookup); it has {actions}"
                ),
            ));
        }
        if (r.register || r.lookup || r.ruri_registered.is_some()) && registrar.domains.is_empty() {
            let k = if r.register {
                "register"
            } else if r.lookup {
                "lookup"
            } else {
                "ruri_registered"
            };
            return Err(err(
                key(k),
                "needs [registrar] domains (the domains whose location service sipedge keeps)"
                    .into(),
            ));
        }
        if r.authenticate && (r.drop || r.continue_ || r.reply.is_some()) {
            return Err(err(
                key("authenticate"),
                "authenticate goes with dispatch, register or lookup".into(),
            ));
        }
        if r.path && r.dispatch.is_none() {
            return Err(err(
                key("path"),
                "path needs dispatch (it applies to a relayed REGISTER)".into(),
            ));
        }
        if let Some(set) = &r.dispatch {
            if !sets.iter().any(|s| &s.name == set) {
                return Err(err(
                    key("dispatch"),
                    format!("no [[dispatcher]] set is named {set:?}"),
                ));
            }
        }
        if let Some(code) = r.reply {
            if !(300..=699).contains(&code) {
                return Err(err(
                    key("reply"),
                    format!("{code} is not a final non-2xx status (300..=699)"),
                ));
            }
        }
        if let Some(reason) = &r.reason {
            if r.reply.is_none() {
                return Err(err(key("reason"), "reason needs reply".into()));
            }
            if reason.bytes().any(|b| b.is_ascii_control()) {
                return Err(err(
                    key("reason"),
                    "control characters are not allowed".into(),
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

    fn load(rule: &str) -> Result<Config, ConfigError> {
        Config::from_str(
            &format!("[[listen]]\nname = \"pub\"\naddress = \"127.0.0.1:5060\"\n[[dispatcher]]\nname = \"core\"\ndestinations = [{{ uri = \"sip:127.0.0.1:5080\" }}]\n[[route]]\nname = \"r\"\n{rule}\n"),
            Path::new("t.toml"),
        )
    }

    #[test]
    fn registrar_actions_need_domains() {
        let e = load("register = true").unwrap_err();
        assert_eq!(e.key, "route[0].register");
        let c = Config::from_str(
            "[[listen]]\naddress = \"127.0.0.1:5060\"\n[registrar]\ndomains = [\"localhost\"]\n[[route]]\nname = \"reg\"\nmethod = [\"REGISTER\"]\nregister = true\n[[route]]\nname = \"find\"\nlookup = true\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert!(c.route[0].register && c.route[1].lookup);
    }

    #[test]
    fn a_full_rule_loads() {
        let c = load("method = [\"INVITE\"]\nin_dialog = false\nsource = [\"10.0.0.0/8\", \"::1\"]\nlistener = [\"pub\"]\nruri_user_prefix = [\"00\"]\nruri_user_regex = \"^[0-9]+$\"\nruri_domain = [\"@local\"]\nheader = [{ name = \"X-A\", regex = \"b\" }, { name = \"X-B\", absent = true }]\ndispatch = \"core\"\nrecord_route = false").unwrap();
        let r = &c.route[0];
        assert_eq!(r.dispatch.as_deref(), Some("core"));
        assert!(!r.record_route);
        assert_eq!(r.header.len(), 2);
        let c = load("continue = true").unwrap();
        assert!(c.route[0].continue_);
    }

    #[test]
    fn errors_name_the_key() {
        for (rule, key) in [
            ("dispatch = \"nope\"", "route[0].dispatch"),
            ("drop = true\nreply = 404", "route[0].dispatch"),
            ("", "route[0].dispatch"),
            ("reply = 200", "route[0].reply"),
            ("drop = true\nreason = \"x\"", "route[0].reason"),
            (
                "drop = true\nsource = [\"10.0.0.0/33\"]",
                "route[0].source[0]",
            ),
            (
                "drop = true\nlistener = [\"other\"]",
                "route[0].listener[0]",
            ),
            (
                "drop = true\nruri_user_regex = \"(\"",
                "route[0].ruri_user_regex",
            ),
            (
                "drop = true\nruri_domain = [\"@elsewhere\"]",
                "route[0].ruri_domain[0]",
            ),
            ("drop = true\nmethod = [\"IN VITE\"]", "route[0].method[0]"),
            (
                "drop = true\nheader = [{ name = \"X\" }]",
                "route[0].header[0].regex",
            ),
        ] {
            let e = load(rule).unwrap_err();
            assert_eq!(e.key, key, "{rule}: {e}");
        }
    }

    #[test]
    fn cidrs() {
        let (n, l) = parse_cidr("10.1.0.0/16").unwrap();
        assert!(cidr_contains(n, l, "10.1.200.3".parse().unwrap()));
        assert!(!cidr_contains(n, l, "10.2.0.1".parse().unwrap()));
        assert!(cidr_contains(n, l, "::ffff:10.1.0.9".parse().unwrap()));
        let (n, l) = parse_cidr("0.0.0.0/0").unwrap();
        assert!(cidr_contains(n, l, "192.0.2.1".parse().unwrap()));
        let (n, l) = parse_cidr("2001:db8::/32").unwrap();
        assert!(cidr_contains(n, l, "2001:db8:1::5".parse().unwrap()));
        assert!(!cidr_contains(n, l, "2001:db9::5".parse().unwrap()));
        let (n, l) = parse_cidr("127.0.0.2").unwrap();
        assert!(!cidr_contains(n, l, "127.0.0.1".parse().unwrap()));
        assert!(parse_cidr("10.0.0.0/x").is_none());
    }
}
