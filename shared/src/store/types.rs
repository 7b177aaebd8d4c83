//! The record types stored as MessagePack maps (`rmp_serde::to_vec_named`).
//!
//! Every struct is `#[serde(default)]` and unknown fields are ignored, so a field can be added
//! later without breaking old records or older readers during a rolling upgrade. Never rename
//! or retype a field: add a new one instead.

use serde::{Deserialize, Serialize};

/// One registered contact of an address-of-record (`registrations` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Binding {
    /// Address-of-record, e.g. `sip:alice@example.com`. Must not contain NUL.
    pub aor: String,
    /// The Contact URI.
    pub contact: String,
    /// Unix seconds when the binding expires.
    pub expires_at: u64,
    /// Contact `q` value times 1000 (`q=0.5` is 500).
    pub q: u16,
    pub call_id: String,
    pub cseq: u32,
    /// Source `ip:port` the REGISTER came from, for NAT traversal.
    pub received: Option<String>,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// The worker that holds the connection (connection-oriented transports).
    pub worker: u16,
    /// Path header URIs, in order.
    pub path: Vec<String>,
    pub user_agent: String,
    /// Application flags (bit meanings are defined by the registrar).
    pub flags: u32,
}

/// A subscriber credential record (`subscribers` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscriber {
    pub user: String,
    pub domain: String,
    /// Hex MD5 of `user:realm:password`.
    pub ha1_md5: String,
    /// Hex SHA-256 of `user:realm:password`.
    pub ha1_sha256: String,
    /// Plain password, only when the deployment keeps it (prefer the HA1 values).
    pub password: Option<String>,
    pub disabled: bool,
}

/// A banned source address (`bans` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ban {
    /// IP address as text; the table key.
    pub ip: String,
    /// Unix seconds when the ban ends (banned while `now < until`; `u64::MAX` is permanent).
    pub until: u64,
    pub reason: String,
    /// Unix seconds when the ban was created.
    pub created: u64,
    /// Requests seen from the address while banned.
    pub hits: u64,
}

/// Health of one dispatcher destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestStatus {
    /// Takes traffic.
    #[default]
    Active,
    /// Takes no traffic and is not probed (failed, or disabled by an operator).
    Inactive,
    /// Takes no traffic; being probed (e.g. OPTIONS) to become active again.
    Probing,
}

/// The state of one destination of a dispatcher set (`dispatcher` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DestState {
    pub state: DestStatus,
    /// Unix seconds when `state` was entered.
    pub since: u64,
    /// Consecutive failed probes/requests.
    pub fails: u32,
    /// Last SIP status code seen from the destination (0: none / timeout).
    pub last_code: u16,
}
