//! Which worker owns a message: the ownership rule that lets one peer's traffic spread over
//! every worker while each transaction and dialog stays in one process.
//!
//! The kernel's SO_REUSEPORT hash picks a listener socket by the 4-tuple, so every datagram
//! of one carrier trunk (one source IP:port) lands on the same worker. The worker that reads
//! a datagram parses it and asks [`owner`]; when another worker owns it, the raw bytes go to
//! that worker's IPC inbox ([`shared::ipc::Datagram`]) and the owner handles them as if it
//! had read them itself. The owner answers from *its own* socket of the same listener: all
//! sockets of a listener share the address, so the peer sees no difference.
//!
//! The rule, in order:
//!
//! 1. **A response whose top Via branch was written by sipedge** names its owner in the
//!    branch: `z9hG4bK` + [`BRANCH_MARK`] + two hex digits of the worker slot + `.`. The
//!    worker that created a client transaction is the one that must see its responses, even
//!    when the Call-ID toward the core is not the one the client sent (topology hiding).
//! 2. **Everything else** (requests, including ACK, CANCEL and in-dialog requests from either
//!    side, and responses to branches we did not write): `fnv1a(Call-ID) mod workers`. All
//!    messages of one dialog share the Call-ID, so one worker sees the whole dialog. When
//!    topology hiding replaces the Call-ID toward the core, the replacement is chosen so that
//!    it hashes to the same worker (see [`call_id_for_owner`]).
//! 3. **A message that does not parse** has no owner: the worker that read it answers `400`
//!    statelessly (no state is involved).
//!
//! The hash is fixed (FNV-1a, 64 bit) and the worker count only changes with a restart, so
//! every worker, and every generation after a reload, computes the same owner.
//!
//! Cost: with N workers and one source address, (N-1)/N of that source's messages take one
//! extra hop: one `sendmsg` on the receiving worker and one `recv` on the owner, plus a second
//! parse. Sources spread over many addresses are mostly read by their owner's socket by
//! chance only (1/N); the hop is the price of keeping every worker busy under a single trunk.

use proto::Message;

/// Marks a Via branch written by sipedge, after the RFC 3261 magic cookie `z9hG4bK`.
pub const BRANCH_MARK: &[u8] = b"-se";

/// 64-bit FNV-1a: small, fast on short keys, identical in every process.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The worker slot that owns `msg`, among `workers` workers.
pub fn owner(msg: &Message<'_, '_>, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    if !msg.is_request() {
        if let Some(slot) = msg
            .top_via()
            .and_then(|v| v.branch)
            .and_then(slot_from_branch)
        {
            if slot < workers {
                return slot;
            }
        }
    }
    owner_of_call_id(msg.call_id().unwrap_or_default(), workers)
}

/// Owner by Call-ID alone.
pub fn owner_of_call_id(call_id: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    // `workers` <= 256 (config validation), so the cast back cannot truncate.
    (fnv1a(call_id) % workers as u64) as usize
}

/// The slot written into a branch by [`write_branch_prefix`], if the branch is ours.
pub fn slot_from_branch(branch: &[u8]) -> Option<usize> {
    let rest = branch.strip_prefix(b"z9hG4bK")?.strip_prefix(BRANCH_MARK)?;
    let hex = rest.get(..2)?;
    if rest.get(2) != Some(&b'.') {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(16);
    let hi = digit(*hex.first()?)?;
    let lo = digit(*hex.get(1)?)?;
    Some((hi * 16 + lo) as usize)
}

/// Append the owner-carrying start of a branch for worker `slot` (the caller adds the unique
/// part after it).
pub fn write_branch_prefix(slot: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"z9hG4bK");
    out.extend_from_slice(BRANCH_MARK);
    let s = slot & 0xff;
    out.push(HEX.get(s >> 4).copied().unwrap_or(b'0'));
    out.push(HEX.get(s & 0xf).copied().unwrap_or(b'0'));
    out.push(b'.');
}

/// Extend `base` (a fresh, unique Call-ID for the core side) with a short suffix so that it
/// hashes to `slot`, keeping rule 2 true for in-dialog requests that come back from the core
/// with a replaced Call-ID. Tries suffixes `-0`, `-1`, ... (expected `workers` tries).
pub fn call_id_for_owner(base: &mut Vec<u8>, slot: usize, workers: usize) {
    if workers <= 1 {
        return;
    }
    let len = base.len();
    for n in 0u32.. {
        base.truncate(len);
        base.push(b'-');
        base.extend_from_slice(n.to_string().as_bytes());
        if owner_of_call_id(base, workers) == slot {
            return;
        }
        if n > 100_000 {
            break; // unreachable in practice; better a foreign owner than a hang
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Limits, EMPTY_HEADER};

    fn parse_owner(text: &str, workers: usize) -> usize {
        let mut slots = [EMPTY_HEADER; 32];
        let msg = Message::parse(text.as_bytes(), &mut slots, &Limits::DEFAULT).unwrap();
        owner(&msg, workers)
    }

    #[test]
    fn branch_round_trip() {
        for slot in [0, 1, 7, 15, 16, 255] {
            let mut b = Vec::new();
            write_branch_prefix(slot, &mut b);
            b.extend_from_slice(b"abc123");
            assert_eq!(slot_from_branch(&b), Some(slot));
        }
        assert_eq!(slot_from_branch(b"z9hG4bK776asdhds"), None);
        assert_eq!(slot_from_branch(b"z9hG4bK-se0"), None);
        assert_eq!(slot_from_branch(b"z9hG4bK-sezz.x"), None);
        assert_eq!(slot_from_branch(b"z9hG4bK-se01x"), None);
    }

    #[test]
    fn requests_follow_the_call_id_and_responses_our_branch() {
        let req = |cid: &str, method: &str| {
            format!("{method} sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: {cid}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n")
        };
        // Same Call-ID, any method: same owner.
        for n in 2..6 {
            let o = parse_owner(&req("abc@host", "INVITE"), n);
            assert_eq!(parse_owner(&req("abc@host", "ACK"), n), o);
            assert_eq!(parse_owner(&req("abc@host", "BYE"), n), o);
            assert!(o < n);
        }
        // Many Call-IDs spread over all workers.
        let mut seen = [0usize; 4];
        for i in 0..400 {
            seen[parse_owner(&req(&format!("{i}-x@h"), "INVITE"), 4)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
        // A response to a branch we wrote goes to the slot in it, whatever its Call-ID.
        let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-se03.77\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: whatever\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_owner(resp, 4), 3);
        // ... unless that slot does not exist (fall back to the Call-ID).
        assert_eq!(
            parse_owner(resp, 2),
            owner_of_call_id(b"whatever", 2),
            "slot 3 of 2"
        );
        assert_eq!(parse_owner(resp, 1), 0);
    }

    #[test]
    fn replaced_call_id_hashes_to_the_owner() {
        for workers in [2, 3, 8, 256] {
            for slot in [0, workers - 1, workers / 2] {
                let mut cid = b"deadbeef@sipedge".to_vec();
                call_id_for_owner(&mut cid, slot, workers);
                assert_eq!(owner_of_call_id(&cid, workers), slot);
            }
        }
    }
}
