//! Timers for the transaction layer at O(1) per timer.
//!
//! SIP timers come in few distinct durations (T1, 2·T1, 4·T1, T2, 64·T1, T4, Timer C, …).
//! For a fixed duration, timers started later also expire later, so one FIFO queue per
//! distinct duration is always sorted: starting a timer is a push at the back, expiry is a
//! pop at the front, and the next deadline is the smallest of the queue heads. Cancelling is
//! lazy: the owner keeps the deadline it expects for each timer kind, and an entry whose
//! deadline no longer matches (or whose transaction is gone) is skipped when it surfaces.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One queued timer: when, and an opaque key the owner interprets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<K> {
    pub at: Instant,
    pub key: K,
}

/// FIFO queues of timers, one per distinct duration.
#[derive(Debug)]
pub struct TimerQueues<K> {
    queues: Vec<(Duration, VecDeque<Entry<K>>)>,
}

impl<K: Copy> Default for TimerQueues<K> {
    fn default() -> Self {
        Self { queues: Vec::new() }
    }
}

impl<K: Copy> TimerQueues<K> {
    /// Start a timer of `after` from `now`; returns its deadline (keep it to recognise the
    /// entry when it fires).
    pub fn start(&mut self, now: Instant, after: Duration, key: K) -> Instant {
        let at = now + after;
        let entry = Entry { at, key };
        match self.queues.iter_mut().find(|(d, _)| *d == after) {
            Some((_, q)) => q.push_back(entry),
            None => {
                let mut q = VecDeque::with_capacity(1024);
                q.push_back(entry);
                self.queues.push((after, q));
            }
        }
        at
    }

    /// The earliest deadline of any queued entry (stale ones included: a spurious wake-up
    /// only costs a loop turn).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|(_, q)| q.front().map(|e| e.at))
            .min()
    }

    /// Remove and return one entry due at `now`, if any.
    pub fn pop_due(&mut self, now: Instant) -> Option<Entry<K>> {
        for (_, q) in &mut self.queues {
            if q.front().is_some_and(|e| e.at <= now) {
                return q.pop_front();
            }
        }
        None
    }

    /// Entries queued (live and stale).
    pub fn len(&self) -> usize {
        self.queues.iter().map(|(_, q)| q.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_order_across_durations() {
        let t0 = Instant::now();
        let mut q = TimerQueues::default();
        q.start(t0, Duration::from_millis(500), 'a');
        q.start(t0, Duration::from_secs(32), 'b');
        q.start(
            t0 + Duration::from_millis(100),
            Duration::from_millis(500),
            'c',
        );
        q.start(t0, Duration::from_millis(50), 'd');
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(50)));
        assert_eq!(q.pop_due(t0), None);
        let at = t0 + Duration::from_millis(600);
        let mut fired = Vec::new();
        while let Some(e) = q.pop_due(at) {
            fired.push(e.key);
        }
        fired.sort_unstable();
        assert_eq!(fired, vec!['a', 'c', 'd']);
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_secs(32)));
    }
}
