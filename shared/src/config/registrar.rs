//! `[registrar]`: the domains sipedge keeps a location service for, and the rules of its
//! bindings. Which requests register or are looked up is the routing table's choice
//! (`register = true`, `lookup = true` on a `[[route]]` rule).
//!
//! ```toml
//! [registrar]
//! domains = ["localhost", "127.0.0.1"]   # address-of-record domains served
//! min_expires = 60          # shorter (but non-zero) requests get 423 with Min-Expires
//! max_expires = 3600        # longer ones are cut to this
//! default_expires = 3600    # when neither the Contact nor Expires says
//! max_contacts = 10         # bindings per address-of-record
//! nat_keepalive_interval = 30   # seconds between OPTIONS pings to NATed phones; 0 = off
//! nat_keepalive_tries = 3       # unanswered pings in a row before the binding is dropped
//! ```

use serde::Deserialize;

use super::{ConfigError, ErrFn};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Registrar {
    pub domains: Vec<String>,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    pub nat_keepalive_interval: u64,
    pub nat_keepalive_tries: u32,
}

impl Default for Registrar {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            nat_keepalive_interval: 30,
            nat_keepalive_tries: 3,
        }
    }
}

pub fn validate(r: &Registrar, err: &ErrFn<'_>) -> Result<(), ConfigError> {
    for (i, d) in r.domains.iter().enumerate() {
        if d.is_empty()
            || d.bytes()
                .any(|b| b.is_ascii_whitespace() || b == b'@' || b == b';')
        {
            return Err(err(
                format!("registrar.domains[{i}]"),
                format!("{d:?} is not a host name or address"),
            ));
        }
    }
    if r.min_expires == 0 || r.min_expires > r.max_expires {
        return Err(err(
            "registrar.min_expires".into(),
            format!(
                "{} must be at least 1 and at most max_expires ({})",
                r.min_expires, r.max_expires
            ),
        ));
    }
    if r.max_expires > 7 * 86_400 {
        return Err(err(
            "registrar.max_expires".into(),
            format!("{} is more than a week", r.max_expires),
        ));
    }
    if !(r.min_expires..=r.max_expires).contains(&r.default_expires) {
        return Err(err(
            "registrar.default_expires".into(),
            format!(
                "{} is outside min_expires..=max_expires ({}..={})",
                r.default_expires, r.min_expires, r.max_expires
            ),
        ));
    }
    if r.nat_keepalive_interval > 3600 {
        return Err(err(
            "registrar.nat_keepalive_interval".into(),
            format!("{} is more than an hour", r.nat_keepalive_interval),
        ));
    }
    if !(1..=100).contains(&r.nat_keepalive_tries) {
        return Err(err(
            "registrar.nat_keepalive_tries".into(),
            format!("{} is outside 1..=100", r.nat_keepalive_tries),
        ));
    }
    if !(1..=1000).contains(&r.max_contacts) {
        return Err(err(
            "registrar.max_contacts".into(),
            format!("{} is outside 1..=1000", r.max_contacts),
        ));
    }
    Ok(())
}
