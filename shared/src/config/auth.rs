//! `[auth]`: digest authentication (RFC 3261 §22, RFC 7616, RFC 8760). Which requests must
//! authenticate is the routing table's choice (`authenticate = true` on a rule).
//!
//! ```toml
//! [auth]
//! realm = "sipedge"                # the realm of challenges (HA1 values depend on it)
//! algorithms = ["SHA-256", "MD5"]  # one challenge per algorithm, in this order
//! nonce_ttl = 300                  # seconds a nonce is good for; older ones get stale=true
//! nonce_slots = 1048576            # nonce-count table shared by all workers, 16 bytes a slot:
//!                                  # a nonce goes stale once this many later challenges exist
//! secret = ""                      # nonce key shared by all workers; empty: random, kept in the store
//! match_from = true                # the authenticated user must be the From user
//! lockout_threshold = 5            # failed attempts per source address or per user ...
//! lockout_seconds = 300            # ... within this many seconds lock it out (0 = off)
//! ```

use serde::Deserialize;

use super::{ConfigError, ErrFn};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub realm: String,
    pub algorithms: Vec<String>,
    pub nonce_ttl: u64,
    /// Slots of the shared nonce-count table (`shared::nonces`); read at start only.
    pub nonce_slots: u32,
    pub secret: String,
    pub match_from: bool,
    pub lockout_threshold: u64,
    pub lockout_seconds: u64,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            realm: "sipedge".into(),
            algorithms: vec!["SHA-256".into(), "MD5".into()],
            nonce_ttl: 300,
            // 16 MiB: a nonce outlives nonce_ttl up to ~3,500 challenges a second.
            nonce_slots: 1 << 20,
            secret: String::new(),
            match_from: true,
            lockout_threshold: 5,
            lockout_seconds: 300,
        }
    }
}

pub fn validate(a: &Auth, err: &ErrFn<'_>) -> Result<(), ConfigError> {
    if a.realm.is_empty()
        || a.realm
            .bytes()
            .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
    {
        return Err(err(
            "auth.realm".into(),
            format!("{:?} is not a usable realm", a.realm),
        ));
    }
    if a.algorithms.is_empty() {
        return Err(err(
            "auth.algorithms".into(),
            "at least one algorithm is needed".into(),
        ));
    }
    for (i, alg) in a.algorithms.iter().enumerate() {
        if alg != "MD5" && alg != "SHA-256" {
            return Err(err(
                format!("auth.algorithms[{i}]"),
                format!("{alg:?} is not MD5 or SHA-256"),
            ));
        }
    }
    if !(10..=86_400).contains(&a.nonce_ttl) {
        return Err(err(
            "auth.nonce_ttl".into(),
            format!("{} is outside 10..=86400", a.nonce_ttl),
        ));
    }
    if !(2..=86_400).contains(&a.lockout_seconds) {
        return Err(err(
            "auth.lockout_seconds".into(),
            format!("{} is outside 2..=86400", a.lockout_seconds),
        ));
    }
    if !(1024..=(1 << 26)).contains(&a.nonce_slots) {
        return Err(err(
            "auth.nonce_slots".into(),
            format!("{} is outside 1024..=67108864", a.nonce_slots),
        ));
    }
    if !a.secret.is_empty() && a.secret.len() < 16 {
        return Err(err(
            "auth.secret".into(),
            "use at least 16 characters (or leave it empty)".into(),
        ));
    }
    Ok(())
}
