//! Transaction records of RFC 3261 §17 as a proxy keeps them: server transactions (the
//! request as received, one per hop upstream) and client transactions (each forwarded copy),
//! their states, their timers, and the slab that holds them.
//!
//! The state machines themselves are driven by `crate::proxy`, which owns both tables; this
//! module holds the data, the matching keys (§17.1.3, §17.2.3) and the bookkeeping that keeps
//! timers and slots honest (a generation per slot so a late timer never touches a reused one).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proto::Message;

/// Server transaction states (§17.2.1 INVITE, §17.2.2 non-INVITE, RFC 6026 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE, nothing sent upstream yet.
    Trying,
    /// A provisional response was sent (INVITE: at least our 100 Trying).
    Proceeding,
    /// A final non-2xx response was sent; waiting for the ACK (INVITE) or lingering.
    Completed,
    /// INVITE: the ACK for our non-2xx final arrived; absorbing retransmitted ACKs.
    Confirmed,
    /// INVITE: a 2xx went upstream; absorbing retransmitted INVITEs (RFC 6026).
    Accepted,
}

/// Client transaction states (§17.1.1, §17.1.2, RFC 6026 Accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, no response yet.
    Calling,
    /// Non-INVITE sent, no response yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final non-2xx arrived (INVITE: ACK sent); absorbing retransmissions.
    Completed,
    /// INVITE: a 2xx arrived; its retransmissions are forwarded upstream (RFC 6026).
    Accepted,
}

/// Timer names of RFC 3261 (and RFC 6026's L and M). Server: G H I J L; client: A B C D E
/// F K M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
    M,
}

pub const TIMER_KINDS: usize = 13;

/// Which table a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

/// What a queued timer refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerKey {
    pub side: Side,
    pub id: Id,
    pub kind: TimerKind,
}

impl TimerKey {
    pub fn new(side: Side, id: Id, kind: TimerKind) -> TimerKey {
        TimerKey { side, id, kind }
    }
}

/// A slab slot and the generation it was allocated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id {
    pub idx: u32,
    pub gen: u32,
}

/// The deadlines a transaction expects for each timer kind (None: not running).
#[derive(Debug, Clone, Default)]
pub struct Deadlines([Option<Instant>; TIMER_KINDS]);

impl Deadlines {
    pub fn set(&mut self, kind: TimerKind, at: Instant) {
        if let Some(slot) = self.0.get_mut(kind as usize) {
            *slot = Some(at);
        }
    }

    pub fn cancel(&mut self, kind: TimerKind) {
        if let Some(slot) = self.0.get_mut(kind as usize) {
            *slot = None;
        }
    }

    /// True when a queued entry for `kind` due at `at` is the live one.
    pub fn is_live(&self, kind: TimerKind, at: Instant) -> bool {
        self.0.get(kind as usize).copied().flatten() == Some(at)
    }
}

/// Why a server transaction's request is forwarded where it is: what failover needs.
#[derive(Debug, Clone, Default)]
pub struct Dispatch {
    /// Dispatcher set index, when the destination came from a set.
    pub set: Option<usize>,
    /// Destinations of that set already tried for this request.
    pub tried: Vec<usize>,
}

/// A server transaction together with its response context (§16.7).
#[derive(Debug)]
pub struct Server {
    pub key: Box<[u8]>,
    pub invite: bool,
    pub state: ServerState,
    pub listener: usize,
    /// Where responses go (§18.2.2 with rport).
    pub reply_to: SocketAddr,
    /// The request as received: our own responses are built from it.
    pub request: Box<[u8]>,
    /// The last response sent upstream, for retransmissions.
    pub last_response: Vec<u8>,
    /// Timer G's current interval.
    pub retransmit: Duration,
    pub timers: Deadlines,
    /// The client transactions forwarding this request: one at a time when a dispatcher
    /// set fails over (serial), several at once when a lookup forks to every contact.
    pub clients: Vec<Id>,
    /// Branches run in parallel (a lookup forked to several contacts), not one after the
    /// other: a final failure waits for the other branches instead of failing over.
    pub forked: bool,
    pub dispatch: Dispatch,
    /// A CANCEL arrived: no more failover; the 487 (or our own) goes upstream.
    pub cancelled: bool,
    /// The best final response received so far while failing over, with its code.
    pub best: Option<(u16, Vec<u8>)>,
    /// Whether every failed attempt so far was a timeout or transport error (then the
    /// answer upstream is ours: 503 for a set, 408 otherwise).
    pub only_timeouts: bool,
}

/// A client transaction: one forwarded copy of a request.
#[derive(Debug)]
pub struct Client {
    pub key: Box<[u8]>,
    pub invite: bool,
    /// A CANCEL we generated (its responses are absorbed).
    pub is_cancel: bool,
    pub state: ClientState,
    pub listener: usize,
    pub dest: SocketAddr,
    /// The request exactly as sent: retransmissions, and the source of CANCEL and ACK.
    pub request: Box<[u8]>,
    /// Timer A/E's current interval.
    pub retransmit: Duration,
    pub timers: Deadlines,
    /// The server transaction it forwards for (None for our own requests, e.g. CANCEL).
    pub server: Option<Id>,
    /// Dispatcher destination index within the server's set.
    pub dest_idx: Option<usize>,
    /// CANCEL asked for before any provisional response arrived (§9.1: wait for one).
    pub cancel_pending: bool,
}

/// A slab with generations: ids stay unique across reuse of a slot.
#[derive(Debug)]
pub struct Slab<T> {
    slots: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, v: T) -> Id {
        self.live += 1;
        if let Some(idx) = self.free.pop() {
            if let Some((gen, slot)) = self.slots.get_mut(idx as usize) {
                *gen = gen.wrapping_add(1);
                *slot = Some(v);
                return Id { idx, gen: *gen };
            }
        }
        let idx = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push((0, Some(v)));
        Id { idx, gen: 0 }
    }

    pub fn get(&self, id: Id) -> Option<&T> {
        match self.slots.get(id.idx as usize) {
            Some((gen, Some(v))) if *gen == id.gen => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        match self.slots.get_mut(id.idx as usize) {
            Some((gen, Some(v))) if *gen == id.gen => Some(v),
            _ => None,
        }
    }

    pub fn remove(&mut self, id: Id) -> Option<T> {
        match self.slots.get_mut(id.idx as usize) {
            Some((gen, slot)) if *gen == id.gen && slot.is_some() => {
                self.live -= 1;
                self.free.push(id.idx);
                slot.take()
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    /// Every live value.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|(_, v)| v.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// Server transaction key (§17.2.3): top Via branch, sent-by, and the method, with ACK
/// folded onto INVITE (an ACK for a non-2xx final belongs to the INVITE transaction).
/// Written into `out` (cleared first). False when the request has no RFC 3261 branch; such
/// (RFC 2543) requests are keyed by Call-ID, CSeq and From tag instead.
pub fn server_key(msg: &Message<'_, '_>, method: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let via = msg.top_via();
    match via
        .and_then(|v| v.branch)
        .filter(|b| b.starts_with(b"z9hG4bK"))
    {
        Some(branch) => {
            out.extend_from_slice(branch);
            out.push(0);
            if let Some(v) = via {
                out.extend_from_slice(v.host.text);
                out.push(b':');
                proto::push_decimal(out, u64::from(v.port.unwrap_or(5060)));
            }
        }
        None => {
            out.extend_from_slice(b"2543\0");
            out.extend_from_slice(msg.call_id().unwrap_or_default());
            out.push(0);
            proto::push_decimal(out, u64::from(msg.cseq().map_or(0, |c| c.seq)));
            out.push(0);
            out.extend_from_slice(msg.from().and_then(|f| f.tag).unwrap_or_default());
        }
    }
    out.push(0);
    out.extend_from_slice(method);
}

/// Client transaction key (§17.1.3): our branch and the CSeq method.
pub fn client_key(branch: &[u8], method: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(branch);
    out.push(0);
    out.extend_from_slice(method);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Limits, EMPTY_HEADER};

    #[test]
    fn slab_generations() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(b.idx, a.idx);
        assert_ne!(b.gen, a.gen);
        assert_eq!(s.get(a), None, "a stale id must not see the new value");
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn keys() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:5070;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        let mut h = [EMPTY_HEADER; 16];
        let msg = Message::parse(m, &mut h, &Limits::DEFAULT).unwrap();
        let mut k = Vec::new();
        server_key(&msg, b"INVITE", &mut k);
        assert_eq!(k, b"z9hG4bKx\0h:5070\0INVITE");
        let old = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 7 INVITE\r\n\r\n";
        let mut h = [EMPTY_HEADER; 16];
        let msg = Message::parse(old, &mut h, &Limits::DEFAULT).unwrap();
        server_key(&msg, b"INVITE", &mut k);
        assert_eq!(k, b"2543\0c\x007\0f\0INVITE");
    }
}
