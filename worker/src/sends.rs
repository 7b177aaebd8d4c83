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

/// IPC frames for other workers (steered datagrams), queued like [`Sends`] and sent at the
/// end of the batch: one `sendmmsg` per owner instead of one `sendmsg` per frame.
#[derive(Debug, Default)]
pub struct Frames {
    buf: Vec<u8>,
    items: Vec<(usize, Range<usize>)>,
}

impl Frames {
    /// Queue a frame for worker `owner`; `write` appends it to the buffer it is given and
    /// may refuse it (then nothing is queued).
    pub fn push_with<E>(
        &mut self,
        owner: usize,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.buf.len();
        if let Err(e) = write(&mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        let end = self.buf.len();
        if end > start {
            self.items.push((owner, start..end));
        }
        Ok(())
    }

    /// The queued frames of `owner`, in order.
    pub fn of(&self, owner: usize) -> impl Iterator<Item = &[u8]> + '_ {
        self.items
            .iter()
            .filter(move |(o, _)| *o == owner)
            .map(|(_, r)| self.buf.get(r.clone()).unwrap_or_default())
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_grouped_by_owner_in_order() {
        let mut f = Frames::default();
        for (owner, bytes) in [(2, &b"a"[..]), (0, b"b"), (2, b"c"), (1, b"d"), (0, b"e")] {
            f.push_with(owner, |out| {
                out.extend_from_slice(bytes);
                Ok::<(), ()>(())
            })
            .unwrap();
        }
        // A refused frame leaves nothing behind.
        assert!(f
            .push_with(1, |out| {
                out.extend_from_slice(b"partial");
                Err(())
            })
            .is_err());
        assert_eq!(f.of(2).collect::<Vec<_>>(), vec![&b"a"[..], b"c"]);
        assert_eq!(f.of(0).collect::<Vec<_>>(), vec![&b"b"[..], b"e"]);
        assert_eq!(f.of(1).collect::<Vec<_>>(), vec![&b"d"[..]]);
        f.clear();
        assert!(f.is_empty() && f.of(2).next().is_none());
    }
}
