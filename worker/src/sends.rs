//! Datagrams the protocol logic wants sent: one byte arena plus (listener, destination,
//! range) records. The event loop sends them and clears the list; the arena is reused, so the
//! steady state allocates nothing.

use std::net::SocketAddr;
use std::ops::Range;

#[derive(Debug, Default)]
pub struct Sends {
    buf: Vec<u8>,
    items: Vec<(usize, SocketAddr, Range<usize>)>,
}

impl Sends {
    /// Queue a datagram whose bytes `write` appends to the buffer it is given.
    pub fn push_with(
        &mut self,
        listener: usize,
        dest: SocketAddr,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.buf.len();
        write(&mut self.buf);
        let end = self.buf.len();
        if end > start {
            self.items.push((listener, dest, start..end));
        }
    }

    /// Queue a copy of `bytes`.
    pub fn push(&mut self, listener: usize, dest: SocketAddr, bytes: &[u8]) {
        self.push_with(listener, dest, |b| b.extend_from_slice(bytes));
    }

    /// Queued datagrams, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, SocketAddr, &[u8])> + '_ {
        self.items
            .iter()
            .map(|(l, d, r)| (*l, *d, self.buf.get(r.clone()).unwrap_or_default()))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
    }
}
