//! Batched UDP I/O: `recvmmsg(2)` reads every datagram waiting with one system call, and
//! `sendmmsg(2)` sends everything a batch produced with one more.
//!
//! Reading also needs no extra call to learn that a socket is empty: mio is edge-triggered,
//! and a `recvmmsg` that returns fewer datagrams than it had room for has emptied the queue
//! (the kernel stops at the first would-block), so a datagram that arrives afterwards raises
//! a new edge.

#![allow(unsafe_code)] // sendmmsg: see `TxBatch::send`

use std::io::{self, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, MultiHeaders, SockaddrStorage};

/// Datagrams read or sent per system call.
pub const BATCH: usize = 32;
/// Room for one datagram: the largest UDP payload.
const SLOT: usize = 65_536;
/// Gap after each slot, an odd number of cache lines. Slots a power of two apart would start
/// in the same cache sets, so the first lines of the 32 datagrams of a batch would evict
/// each other from L1 and L2 before they are parsed; staggered, they spread over the sets.
const STAGGER: usize = 11 * 64;

/// Receive buffers and headers for [`BATCH`] datagrams, allocated once per worker.
pub struct RxBatch {
    buf: Vec<u8>,
    /// Room per datagram.
    slot: usize,
    /// Distance from one slot's start to the next (`slot` + [`STAGGER`]).
    stride: usize,
    headers: MultiHeaders<SockaddrStorage>,
    /// `(length, source)` of each datagram of the last read; the length may exceed `slot`
    /// for [`RxBatch::recv_records`] (the record was cut).
    got: Vec<(usize, Option<SocketAddr>)>,
}

impl Default for RxBatch {
    fn default() -> Self {
        RxBatch::with_slot(SLOT)
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
    /// Buffers of `slot` bytes per datagram.
    pub fn with_slot(slot: usize) -> RxBatch {
        let stride = slot + STAGGER;
        RxBatch {
            buf: vec![0u8; BATCH * stride],
            slot,
            stride,
            headers: MultiHeaders::preallocate(BATCH, None),
            got: Vec::with_capacity(BATCH),
        }
    }

    /// Read up to [`BATCH`] datagrams from `fd` without blocking.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<Received> {
        self.read(fd, MsgFlags::MSG_DONTWAIT)
    }

    /// Read up to [`BATCH`] records from the SEQPACKET socket `fd` without blocking.
    /// [`RxBatch::len`] gives each record's real length: more than the slot means it was cut.
    pub fn recv_records(&mut self, fd: RawFd) -> io::Result<Received> {
        self.read(fd, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC)
    }

    fn read(&mut self, fd: RawFd, flags: MsgFlags) -> io::Result<Received> {
        self.got.clear();
        // Rebuilt per call (on the stack): they borrow the buffer the datagrams are read from.
        let slot = self.slot;
        let mut chunks = self.buf.chunks_mut(self.stride);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] = std::array::from_fn(|_| {
            let chunk = chunks.next().unwrap_or_default();
            let room = chunk.len().min(slot);
            [IoSliceMut::new(chunk.get_mut(..room).unwrap_or_default())]
        });
        let res = socket::recvmmsg(fd, &mut self.headers, iovs.iter_mut(), flags, None);
        match res {
            Ok(msgs) => {
                for m in msgs {
                    // A UDP datagram longer than the slot is cut by the kernel; its length
                    // (the slot's) then says so, and the caller rejects it as oversize.
                    self.got
                        .push((m.bytes, m.address.as_ref().and_then(to_std)));
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

    /// Datagram `i` of the last read: its bytes (at most a slot) and source.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        let (len, src) = *self.got.get(i)?;
        let at = i * self.stride;
        Some((self.buf.get(at..at + len.min(self.slot))?, src))
    }

    /// The length the kernel reported for datagram `i` of the last read.
    pub fn len(&self, i: usize) -> usize {
        self.got.get(i).map_or(0, |g| g.0)
    }

    /// The room for one datagram.
    pub fn slot(&self) -> usize {
        self.slot
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// Destination and payload pointers for up to [`BATCH`] datagrams, reused by every send.
///
/// nix's `sendmmsg` wrapper reads uninitialised memory when it reports its result, so this
/// is a direct call; the records are plain C structs filled right before it.
pub struct TxBatch {
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl Default for TxBatch {
    fn default() -> Self {
        TxBatch {
            addrs: Vec::with_capacity(BATCH),
            iovs: Vec::with_capacity(BATCH),
            hdrs: Vec::with_capacity(BATCH),
        }
    }
}

/// `dest` as a C socket address and its length.
fn c_addr(dest: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid (unspecified) value.
    let mut out: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match dest {
        SocketAddr::V4(v4) => {
            let a = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*v4.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for every sockaddr type
            // (that is its purpose); the write stays inside `out`.
            unsafe { std::ptr::write((&mut out as *mut libc::sockaddr_storage).cast(), a) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let a = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((&mut out as *mut libc::sockaddr_storage).cast(), a) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (out, len as libc::socklen_t)
}

/// One `mmsghdr` of one iovec, to `name` (address and length) or, on a connected socket,
/// to no address.
fn header(
    name: Option<(&mut libc::sockaddr_storage, libc::socklen_t)>,
    iov: &mut libc::iovec,
) -> libc::mmsghdr {
    // SAFETY: msghdr is plain old data; all zeroes means no address and no control data.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some((a, len)) = name {
        h.msg_name = (a as *mut libc::sockaddr_storage).cast();
        h.msg_namelen = len;
    }
    h.msg_iov = iov;
    h.msg_iovlen = 1;
    libc::mmsghdr {
        msg_hdr: h,
        msg_len: 0,
    }
}

/// `sendmmsg(2)` of the records in `hdrs`: how many the kernel took (at least one), or its
/// error (EINTR included: the caller retries).
///
/// # Safety
/// Every address and iovec pointer in `hdrs` (see [`header`]) must be valid for reads for
/// the whole call; the kernel only reads them, and writes each `msg_len` inside `hdrs`.
unsafe fn send_headers(
    fd: RawFd,
    hdrs: &mut [libc::mmsghdr],
    flags: libc::c_int,
) -> io::Result<usize> {
    let n = libc::c_uint::try_from(hdrs.len()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: `n` records are initialised; the caller vouches for their pointers.
    let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n, flags) };
    match usize::try_from(rc) {
        Ok(0) => Err(io::Error::other("sendmmsg sent nothing")),
        Ok(sent) => Ok(sent),
        // errno is only meaningful for -1.
        Err(_) => Err(io::Error::last_os_error()),
    }
}

impl TxBatch {
    /// Send `items` (destination, payload) from `fd`, [`BATCH`] per system call. Calls
    /// `on_error` for each datagram the kernel refused; the ones after it are still sent.
    pub fn send(
        &mut self,
        fd: RawFd,
        items: &[(SocketAddr, &[u8])],
        mut on_error: impl FnMut(SocketAddr, io::Error),
    ) {
        let mut rest = items;
        while !rest.is_empty() {
            let chunk = rest.get(..rest.len().min(BATCH)).unwrap_or_default();
            self.addrs.clear();
            self.iovs.clear();
            self.hdrs.clear();
            let mut lens = [0 as libc::socklen_t; BATCH];
            for ((dest, bytes), len) in chunk.iter().zip(lens.iter_mut()) {
                let (a, l) = c_addr(*dest);
                self.addrs.push(a);
                *len = l;
                self.iovs.push(libc::iovec {
                    iov_base: bytes.as_ptr() as *mut libc::c_void,
                    iov_len: bytes.len(),
                });
            }
            // The vectors are filled and never grow below (capacity BATCH): the pointers
            // taken here stay valid until the call returns.
            for ((a, iov), len) in self.addrs.iter_mut().zip(self.iovs.iter_mut()).zip(lens) {
                self.hdrs.push(header(Some((a, len)), iov));
            }
            // SAFETY: `hdrs` points into `addrs` and `iovs` (alive and not reallocated until
            // this function returns) and into the caller's payload slices (borrowed for the
            // whole call).
            let res = unsafe { send_headers(fd, &mut self.hdrs, 0) };
            let skip = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // The first datagram of the chunk was refused: report it, go on after it.
                    if let Some((dest, _)) = chunk.first() {
                        on_error(*dest, e);
                    }
                    1
                }
            };
            rest = rest.get(skip.min(rest.len())..).unwrap_or_default();
        }
    }

    /// Send `records` on the connected (SEQPACKET) socket `fd`, [`BATCH`] per system call,
    /// each one record, without blocking. Stops at the first record the kernel refuses
    /// (a full queue refuses the rest too) and returns how many went out, with the error.
    pub fn send_records(&mut self, fd: RawFd, records: &[&[u8]]) -> (usize, Option<io::Error>) {
        let mut sent = 0;
        while let Some(rest) = records.get(sent..).filter(|r| !r.is_empty()) {
            let chunk = rest.get(..rest.len().min(BATCH)).unwrap_or_default();
            self.iovs.clear();
            self.hdrs.clear();
            for rec in chunk {
                self.iovs.push(libc::iovec {
                    iov_base: rec.as_ptr() as *mut libc::c_void,
                    iov_len: rec.len(),
                });
            }
            for iov in self.iovs.iter_mut() {
                // No address: the socket is connected.
                self.hdrs.push(header(None, iov));
            }
            // SAFETY: `hdrs` points into `iovs` (not reallocated until this returns) and
            // into the caller's records (borrowed for the whole call).
            match unsafe {
                send_headers(fd, &mut self.hdrs, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
            } {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (sent, Some(e)),
            }
        }
        (sent, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;

    fn seqpacket_pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_NONBLOCK,
        )
        .unwrap()
    }

    #[test]
    fn records_go_out_in_batches_and_come_back_with_their_real_lengths() {
        let (a, b) = seqpacket_pair();
        let payloads: Vec<Vec<u8>> = (0..40u8)
            .map(|i| vec![i; usize::from(i % 12) + 1])
            .collect();
        let records: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let mut tx = TxBatch::default();
        let (sent, err) = tx.send_records(a.as_raw_fd(), &records);
        assert_eq!((sent, err.is_none()), (40, true));
        // Slots of 8 bytes: longer records are cut, and their length says so.
        let mut rx = RxBatch::with_slot(8);
        let mut got = Vec::new();
        loop {
            match rx.recv_records(b.as_raw_fd()).unwrap() {
                Received::Empty => break,
                Received::Some(n) => {
                    for i in 0..n {
                        let (bytes, _) = rx.get(i).unwrap();
                        got.push((rx.len(i), bytes.to_vec()));
                    }
                    if n < BATCH {
                        break;
                    }
                }
            }
        }
        assert_eq!(got.len(), 40);
        for (p, (len, bytes)) in payloads.iter().zip(&got) {
            assert_eq!(*len, p.len());
            assert_eq!(bytes.as_slice(), &p[..p.len().min(8)]);
        }
        assert_eq!(rx.recv_records(b.as_raw_fd()).unwrap(), Received::Empty);
    }

    #[test]
    fn datagrams_go_out_past_a_refused_one_and_past_a_batch_boundary() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let to = rx.local_addr().unwrap();
        let tx_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // An IPv6 destination on an IPv4 socket is refused (EAFNOSUPPORT) by the kernel.
        let refused: SocketAddr = "[::1]:9".parse().unwrap();
        let payloads: Vec<Vec<u8>> = (0..BATCH + 5).map(|i| i.to_string().into_bytes()).collect();
        let mut items: Vec<(SocketAddr, &[u8])> =
            payloads.iter().map(|p| (to, p.as_slice())).collect();
        items.insert(3, (refused, b"no".as_slice()));
        let mut tx = TxBatch::default();
        let mut errors = Vec::new();
        tx.send(tx_sock.as_raw_fd(), &items, |dest, e| {
            errors.push((dest, e.kind()))
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors.first().map(|e| e.0), Some(refused));
        let mut buf = [0u8; 64];
        for p in &payloads {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!(from, tx_sock.local_addr().unwrap());
            assert_eq!(&buf[..n], p.as_slice());
        }
    }

    #[test]
    fn a_full_peer_stops_the_batch_and_reports_how_many_went_out() {
        let (a, _b) = seqpacket_pair();
        let big = vec![0u8; 60_000];
        let records = vec![big.as_slice(); 200];
        let mut tx = TxBatch::default();
        let (sent, err) = tx.send_records(a.as_raw_fd(), &records);
        assert!(sent < records.len(), "a unix socket cannot queue 12 MB");
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::WouldBlock));
    }
}
