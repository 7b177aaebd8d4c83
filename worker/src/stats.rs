//! The worker's counters: plain integers in the worker's own memory, bumped on the hot path
//! without locks, and turned into a [`WorkerStats`] snapshot when the master asks.

use shared::metrics::{add, WorkerStats};

/// Why a message got no answer (the `reason` label of `sipedge_dropped_total`).
pub mod drop_reason {
    pub const ACK: &str = "ack_absorbed";
    pub const RESPONSE: &str = "response_no_transaction";
    pub const KEEPALIVE: &str = "keepalive";
    pub const MALFORMED: &str = "malformed_unanswerable";
    pub const MALFORMED_RESPONSE: &str = "malformed_response";
    /// An ACK with nowhere to go: no Route, not in a dialog we relay.
    pub const ACK_UNROUTABLE: &str = "ack_unroutable";
    /// From a banned source address.
    pub const BANNED: &str = "banned";
    /// A scanner's User-Agent.
    pub const SCANNER: &str = "scanner";
    /// A routing rule with `drop = true`.
    pub const ROUTE_DROP: &str = "route_drop";
}

#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub received: u64,
    pub received_bytes: u64,
    pub requests: Vec<(&'static str, u64)>,
    pub responses: Vec<(u16, u64)>,
    pub replies: Vec<(u16, u64)>,
    pub parse_errors: Vec<(&'static str, u64)>,
    pub drops: Vec<(&'static str, u64)>,
    pub recv_errors: u64,
    pub send_errors: u64,
    pub ipc_forwarded: u64,
    /// Requests another worker owns, handled here because they need no transaction.
    pub handled_locally: u64,
    pub ipc_received: u64,
    pub ipc_dropped: u64,
    pub ipc_bad_frames: u64,
    pub store_commits: u64,
    pub store_writes: u64,
    pub store_commit_failures: u64,
}

impl Counters {
    pub fn request(&mut self, method: &'static str) {
        add(&mut self.requests, method, 1);
    }

    pub fn response(&mut self, code: u16) {
        add(&mut self.responses, code, 1);
    }

    pub fn reply(&mut self, code: u16) {
        add(&mut self.replies, code, 1);
    }

    pub fn parse_error(&mut self, code: &'static str) {
        add(&mut self.parse_errors, code, 1);
    }

    pub fn dropped(&mut self, reason: &'static str) {
        add(&mut self.drops, reason, 1);
    }

    /// Sum of one labelled list (for logs and tests).
    pub fn total<L>(list: &[(L, u64)]) -> u64 {
        list.iter().map(|(_, n)| n).sum()
    }

    pub fn snapshot(&self, generation: u64) -> WorkerStats {
        let owned = |l: &[(&'static str, u64)]| {
            l.iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect::<Vec<_>>()
        };
        WorkerStats {
            received: self.received,
            received_bytes: self.received_bytes,
            requests: owned(&self.requests),
            responses: self.responses.clone(),
            replies: self.replies.clone(),
            parse_errors: owned(&self.parse_errors),
            drops: owned(&self.drops),
            recv_errors: self.recv_errors,
            send_errors: self.send_errors,
            ipc_forwarded: self.ipc_forwarded,
            handled_locally: self.handled_locally,
            ipc_received: self.ipc_received,
            ipc_dropped: self.ipc_dropped,
            ipc_bad_frames: self.ipc_bad_frames,
            store_commits: self.store_commits,
            store_writes: self.store_writes,
            store_commit_failures: self.store_commit_failures,
            generation,
            ..WorkerStats::default()
        }
    }
}
