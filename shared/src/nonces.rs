//! The nonce-count table: replay protection for digest authentication, shared by every
//! worker without the store.
//!
//! A ring of slots in one anonymous shared mapping that the master creates before it forks
//! any worker, so every worker (a respawned one too) sees the same memory. A challenge's
//! nonce names a slot and carries a 32-bit tag; issuing it writes `(tag, nc 0)` there.
//! Credentials on that nonce are then good only while the slot still holds its tag, and
//! only with a nonce-count above the slot's, raised by compare-and-swap, so of two workers
//! seeing the same count at once exactly one wins. A slot reissued to a later challenge
//! (the ring wrapped) makes the older nonce stale, as does a restart of the master (the
//! table starts empty and tags are never 0): the client answers a `stale=true` challenge
//! with the same credentials and no one notices.
//!
//! Why not the store: a write transaction per authenticated request, keys that pile up at
//! the request rate until a sweep removes them, and page faults on the pages they dirty;
//! a compare-and-swap in memory costs nanoseconds, and the table's size is fixed.
#![allow(unsafe_code)]

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Words per slot: `tag << 32 | nc`, and the hash of the transaction that last raised nc
/// (to tell a retransmission from a replay).
const WORDS: usize = 2;

/// What [`NonceTable::use_count`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcCheck {
    /// The count is above the last one: accepted and recorded.
    Fresh,
    /// The same count in the same transaction (same branch, Call-ID and CSeq): a
    /// retransmission of the request already accepted.
    Retransmission,
    /// The count is not above the last one.
    Replayed,
    /// The slot belongs to another nonce now (or the table is younger than the nonce):
    /// stale.
    Evicted,
}

struct Mapping {
    ptr: NonNull<AtomicU64>,
    words: usize,
}

// SAFETY: the mapping is only ever accessed through `AtomicU64`s, which are Sync; the pointer
// stays valid until the last `Arc<Mapping>` drops it.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len are exactly what mmap returned in `NonceTable::new`, and no
        // reference into the mapping outlives `self` (they borrow the table).
        unsafe {
            libc::munmap(
                self.ptr.as_ptr().cast(),
                self.words * std::mem::size_of::<AtomicU64>(),
            );
        }
    }
}

/// A handle to the table; clones share it (within a process, and with every process forked
/// after it was made).
#[derive(Clone)]
pub struct NonceTable {
    map: Arc<Mapping>,
}

impl std::fmt::Debug for NonceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceTable")
            .field("slots", &self.slots())
            .finish()
    }
}

impl NonceTable {
    /// A zeroed table of `slots` slots (16 bytes each; pages are allocated as they are used).
    pub fn new(slots: u32) -> io::Result<NonceTable> {
        let words = (slots.max(1) as usize)
            .checked_mul(WORDS)
            .ok_or_else(|| io::Error::other("nonce table too large"))?;
        let len = words * std::mem::size_of::<AtomicU64>();
        // SAFETY: a fresh anonymous mapping, no address hint, no file; the result is checked
        // before use. Anonymous mappings are zero-filled and page aligned (so AtomicU64
        // aligned), and MAP_SHARED keeps them shared with children across fork(2).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<AtomicU64>())
            .ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(NonceTable {
            map: Arc::new(Mapping { ptr, words }),
        })
    }

    pub fn slots(&self) -> u32 {
        u32::try_from(self.map.words / WORDS).unwrap_or(u32::MAX)
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `words` AtomicU64s live at `ptr` for as long as `self.map` (mapped
        // read-write, zero-initialised, which is a valid AtomicU64); the slice borrows self.
        unsafe { std::slice::from_raw_parts(self.map.ptr.as_ptr(), self.map.words) }
    }

    fn slot(&self, slot: u32) -> Option<(&AtomicU64, &AtomicU64)> {
        let i = (slot as usize).checked_mul(WORDS)?;
        match self.words().get(i..i + WORDS)? {
            [state, txn] => Some((state, txn)),
            _ => None,
        }
    }

    /// The slot of the `k`-th challenge of worker `worker` of `workers`: workers take every
    /// `workers`-th slot, so they never hand out the same one, and each goes round its share
    /// of the ring in order (a nonce lives `slots / challenge rate` seconds at least).
    pub fn slot_for(&self, worker: usize, workers: usize, k: u64) -> u32 {
        let slots = u64::from(self.slots());
        let workers = (workers.max(1) as u64).min(slots);
        let worker = worker as u64 % workers;
        let share = slots / workers;
        u32::try_from(worker + workers * (k % share.max(1))).unwrap_or(0)
    }

    /// A challenge hands out `slot` to a nonce tagged `tag` (never 0: 0 marks an unused
    /// slot, so `tag | 1` is what gets stored and checked).
    pub fn issue(&self, slot: u32, tag: u32) {
        if let Some((state, txn)) = self.slot(slot) {
            state.store(u64::from(tag | 1) << 32, Ordering::Release);
            txn.store(0, Ordering::Release);
        }
    }

    /// Credentials with nonce-count `nc` on the nonce of `(slot, tag)`, in the transaction
    /// whose hash is `txn`: accepted when `nc` is above the slot's count (which it becomes).
    /// With `allow_retransmission`, the same count in the same transaction is accepted as
    /// well (see [`NcCheck::Retransmission`]).
    pub fn use_count(
        &self,
        slot: u32,
        tag: u32,
        nc: u32,
        txn_hash: u64,
        allow_retransmission: bool,
    ) -> NcCheck {
        let Some((state, txn)) = self.slot(slot) else {
            return NcCheck::Evicted;
        };
        let tag = u64::from(tag | 1) << 32;
        let mut cur = state.load(Ordering::Acquire);
        loop {
            if cur & !0xffff_ffff != tag {
                return NcCheck::Evicted;
            }
            let last = (cur & 0xffff_ffff) as u32;
            if nc <= last {
                // `last` 0: never used, so nothing to retransmit.
                let same = last != 0 && nc == last && txn.load(Ordering::Acquire) == txn_hash;
                return if same && allow_retransmission {
                    NcCheck::Retransmission
                } else {
                    NcCheck::Replayed
                };
            }
            match state.compare_exchange_weak(
                cur,
                tag | u64::from(nc),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // A retransmission racing this store on another worker sees the old
                    // hash and is challenged again: rare, and harmless.
                    txn.store(txn_hash, Ordering::Release);
                    return NcCheck::Fresh;
                }
                Err(now) => cur = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rise_replays_fail_and_reissue_evicts() {
        let t = NonceTable::new(8).unwrap();
        assert_eq!(t.slots(), 8);
        // Never issued (or issued before a restart): stale.
        assert_eq!(t.use_count(3, 7, 1, 9, true), NcCheck::Evicted);
        t.issue(3, 7);
        assert_eq!(t.use_count(3, 7, 0, 9, true), NcCheck::Replayed);
        assert_eq!(t.use_count(3, 7, 0, 0, true), NcCheck::Replayed);
        assert_eq!(t.use_count(3, 7, 1, 9, true), NcCheck::Fresh);
        // The same count: a retransmission only in the same transaction, and only if allowed.
        assert_eq!(t.use_count(3, 7, 1, 9, true), NcCheck::Retransmission);
        assert_eq!(t.use_count(3, 7, 1, 9, false), NcCheck::Replayed);
        assert_eq!(t.use_count(3, 7, 1, 10, true), NcCheck::Replayed);
        // Counts may skip, never go back.
        assert_eq!(t.use_count(3, 7, 5, 11, true), NcCheck::Fresh);
        assert_eq!(t.use_count(3, 7, 4, 12, true), NcCheck::Replayed);
        assert_eq!(t.use_count(3, 7, 5, 9, true), NcCheck::Replayed);
        // Another tag on the same slot, and the slot reissued: the old nonce is stale.
        assert_eq!(t.use_count(3, 8, 6, 9, true), NcCheck::Evicted);
        t.issue(3, 8);
        assert_eq!(t.use_count(3, 7, 6, 9, true), NcCheck::Evicted);
        assert_eq!(t.use_count(3, 8, 1, 9, true), NcCheck::Fresh);
        // Out of range: stale, no panic.
        assert_eq!(t.use_count(8, 7, 1, 9, true), NcCheck::Evicted);
        assert_eq!(t.use_count(u32::MAX, 7, 1, 9, true), NcCheck::Evicted);
        t.issue(u32::MAX, 1);
        // Tag 0 and tag 1 are the same stored tag (0 marks unused slots).
        t.issue(0, 0);
        assert_eq!(t.use_count(0, 1, 1, 0, false), NcCheck::Fresh);
        // The largest count.
        assert_eq!(t.use_count(0, 1, u32::MAX, 0, false), NcCheck::Fresh);
        assert_eq!(t.use_count(0, 1, u32::MAX, 0, false), NcCheck::Replayed);
    }

    #[test]
    fn workers_share_the_ring_without_overlap() {
        let t = NonceTable::new(10).unwrap();
        let mut seen = std::collections::HashSet::new();
        for w in 0..3 {
            for k in 0..3 {
                assert!(seen.insert(t.slot_for(w, 3, k)), "worker {w} challenge {k}");
            }
        }
        assert!(seen.iter().all(|&s| s < 10));
        // Round the share (3 slots each of 10 with 3 workers) and back to the first.
        assert_eq!(t.slot_for(1, 3, 3), t.slot_for(1, 3, 0));
        // More workers than slots, and a worker index past the count: still in range.
        let small = NonceTable::new(2).unwrap();
        for w in 0..5 {
            for k in 0..5 {
                assert!(small.slot_for(w, 4, k) < 2);
            }
        }
    }

    #[test]
    fn a_forked_child_sees_and_changes_the_same_slots() {
        let t = NonceTable::new(4).unwrap();
        t.issue(1, 42);
        // SAFETY (test): the child only touches atomics and exits with _exit.
        match unsafe { libc::fork() } {
            0 => {
                let ok = t.use_count(1, 42, 1, 5, false) == NcCheck::Fresh;
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            -1 => panic!("fork failed"),
            pid => {
                let mut status = 0;
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                // The child's count is the parent's too.
                assert_eq!(t.use_count(1, 42, 1, 5, false), NcCheck::Replayed);
                assert_eq!(t.use_count(1, 42, 2, 5, false), NcCheck::Fresh);
            }
        }
    }
}
