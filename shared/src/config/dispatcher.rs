//! `[[dispatcher]]`: sets of core destinations that requests are balanced over.

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
}

fn default_algorithm() -> String {
    "round-robin".into()
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
}

fn one() -> u32 {
    1
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

/// Check names, algorithms and destination URIs.
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
        for (j, dst) in d.destinations.iter().enumerate() {
            let ok = proto::Uri::parse(dst.uri.as_bytes()).is_some_and(|u| u.is_sip());
            if !ok {
                return Err(err(
                    format!("dispatcher[{i}].destinations[{j}].uri"),
                    format!("{:?} is not a sip: or sips: URI", dst.uri),
                ));
            }
        }
    }
    Ok(())
}
