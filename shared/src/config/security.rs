//! `[security]`: defences that run before routing, on every request.
//!
//! ```toml
//! [security]
//! # User-Agent substrings of SIP scanners (case-insensitive); "drop" answers nothing,
//! # "ban" also bans the source address.
//! scanner_user_agents = ["friendly-scanner", "sipcli", "sipvicious", "VaxSIPUserAgent", "pplsip"]
//! scanner_action = "drop"
//! # Flood detection: more than flood_limit requests from one source address within
//! # flood_window seconds, counted over all workers, bans it for ban_seconds (0 = off).
//! flood_limit = 0
//! flood_window = 2
//! ban_seconds = 300
//! # Addresses never banned (the core, carrier trunks): CIDRs.
//! trusted = ["10.0.0.0/8"]
//! # Run on every new ban, with the address, the seconds and the reason as arguments
//! # (not waited for; e.g. a script that calls a webhook or updates a firewall).
//! ban_hook = "/usr/local/bin/sipedge-ban-hook"
//! ```

use serde::Deserialize;

use super::{ConfigError, ErrFn};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Security {
    pub scanner_user_agents: Vec<String>,
    pub scanner_action: String,
    pub flood_limit: u64,
    pub flood_window: u64,
    pub ban_seconds: u64,
    pub trusted: Vec<String>,
    pub ban_hook: String,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            scanner_user_agents: [
                "friendly-scanner",
                "sipcli",
                "sipvicious",
                "VaxSIPUserAgent",
                "pplsip",
                "sundayddr",
                "iWar",
                "sip-scan",
                "SIVuS",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            scanner_action: "drop".into(),
            flood_limit: 0,
            flood_window: 2,
            ban_seconds: 300,
            trusted: Vec::new(),
            ban_hook: String::new(),
        }
    }
}

pub fn validate(s: &Security, err: &ErrFn<'_>) -> Result<(), ConfigError> {
    if s.scanner_action != "drop" && s.scanner_action != "ban" {
        return Err(err(
            "security.scanner_action".into(),
            format!("{:?} is not \"drop\" or \"ban\"", s.scanner_action),
        ));
    }
    for (i, u) in s.scanner_user_agents.iter().enumerate() {
        if u.is_empty() {
            return Err(err(
                format!("security.scanner_user_agents[{i}]"),
                "empty pattern".into(),
            ));
        }
    }
    if !(1..=3600).contains(&s.flood_window) {
        return Err(err(
            "security.flood_window".into(),
            format!("{} is outside 1..=3600", s.flood_window),
        ));
    }
    if !(1..=30 * 86_400).contains(&s.ban_seconds) {
        return Err(err(
            "security.ban_seconds".into(),
            format!("{} is outside 1..=2592000", s.ban_seconds),
        ));
    }
    for (i, c) in s.trusted.iter().enumerate() {
        if super::routing::parse_cidr(c).is_none() {
            return Err(err(
                format!("security.trusted[{i}]"),
                format!("{c:?} is not an address or CIDR"),
            ));
        }
    }
    if !s.ban_hook.is_empty() && !std::path::Path::new(&s.ban_hook).is_absolute() {
        return Err(err(
            "security.ban_hook".into(),
            format!("{:?} is not an absolute path", s.ban_hook),
        ));
    }
    Ok(())
}
