//! Batched UDP reads with `recvmmsg(2)`: a wake-up that finds several datagrams waiting costs
//! one system call to read them all.
//!
//! Reading also needs no extra call to learn that a socket is empty: mio is edge-triggered,
//! and a `recvmmsg` that returns fewer datagrams than it had room for has emptied the queue
//! (the kernel stops at the first would-block), so a datagram that arrives afterwards raises
//! a new edge.

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, MultiHeaders, SockaddrStorage};

/// Datagrams read or sent per system call.
pub const BATCH: usize = 32;
/// Room for one datagram: the largest UDP payload.
const SLOT: usize = 65_536;

/// Receive buffers and headers for [`BATCH`] datagrams, allocated once per worker.
pub struct RxBatch {
    buf: Vec<u8>,
    headers: MultiHeaders<SockaddrStorage>,
    /// `(length, source)` of each datagram of the last read.
    got: Vec<(usize, Option<SocketAddr>)>,
}

impl Default for RxBatch {
    fn default() -> Self {
        RxBatch {
            buf: vec![0u8; BATCH * SLOT],
            headers: MultiHeaders::preallocate(BATCH, None),
            got: Vec::with_capacity(BATCH),
        }
    }
}

/// The result of one [`RxBatch::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// This many datagrams; fewer than [`BATCH`] means the socket is now empty.
    Some(usize),
    /// Nothing waiting.
    Empty,
}

impl RxBatch {
    /// Read up to [`BATCH`] datagrams from `fd` without blocking.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<Received> {
        self.got.clear();
        // Rebuilt per call (on the stack): they borrow the buffer the datagrams are read from.
        let mut chunks = self.buf.chunks_mut(SLOT);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
        let res = socket::recvmmsg(
            fd,
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        );
        match res {
            Ok(msgs) => {
                for m in msgs {
                    // A datagram longer than the slot is cut by the kernel; its length
                    // then says so, and the caller rejects it as oversize.
                    let len = m.bytes.min(SLOT);
                    self.got.push((len, m.address.as_ref().and_then(to_std)));
                }
            }
            Err(Errno::EAGAIN) => return Ok(Received::Empty),
            // The caller reads again (the interrupted call consumed nothing).
            Err(Errno::EINTR) => return Err(io::ErrorKind::Interrupted.into()),
            Err(e) => return Err(e.into()),
        }
        if self.got.is_empty() {
            return Ok(Received::Empty);
        }
        Ok(Received::Some(self.got.len()))
    }

    /// Datagram `i` of the last read: its bytes and source.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        let (len, src) = *self.got.get(i)?;
        let at = i * SLOT;
        Some((self.buf.get(at..at + len)?, src))
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}
