//! IPC between the master and its workers, and between workers.
//!
//! **Channels.** Every process that receives IPC owns one *inbox*: the read end of an
//! `AF_UNIX`/`SOCK_SEQPACKET` socketpair the master creates before it forks anything. Whoever
//! may write to that process holds the pair's write end (an [`Outbox`]); several processes
//! may share one write end, because one `send` is one record and records never interleave.
//! The master keeps both ends of every worker's pair for its whole life, so a replacement
//! worker inherits the same inbox, with whatever was queued for its dead predecessor.
//! SEQPACKET rather than DGRAM: a unix datagram queue holds only `net.unix.max_dgram_qlen`
//! (10 here) messages, a seqpacket one is bounded by bytes (the socket buffers, 4 MiB).
//!
//! **Frames.** One record is one frame; the record boundary is the framing, so there is no
//! length prefix. Byte 0 is the frame kind, byte 1 the protocol [`VERSION`]:
//!
//! | kind | body |
//! |------|------|
//! | [`KIND_DATAGRAM`] | a SIP datagram steered to its owning worker: fixed 24-byte header (listener, sending worker, source address) then the raw bytes. Encoded by hand: this is the hot path, and it must not allocate or copy the payload. |
//! | [`KIND_CONTROL`] | a [`Control`] message in rmp-serde with named fields, so that fields can be added without breaking a running peer. |
//!
//! Frames larger than [`MAX_FRAME`] are refused on send and dropped (and reported) on receipt.
//! Every send is non-blocking: a full inbox means the receiver is overloaded, and the caller
//! counts a drop instead of stalling its own event loop (SIP over UDP retransmits).

use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::metrics::WorkerStats;

/// Protocol version carried in every frame.
pub const VERSION: u8 = 1;
/// Frame kind: a steered SIP datagram.
pub const KIND_DATAGRAM: u8 = 1;
/// Frame kind: an rmp-serde [`Control`] message.
pub const KIND_CONTROL: u8 = 2;
/// Size of the datagram frame header.
pub const DATAGRAM_HEADER: usize = 24;
/// Largest frame: a maximal UDP payload plus the datagram header.
pub const MAX_FRAME: usize = 65_535 + DATAGRAM_HEADER;
/// Socket buffer asked for on both ends (forced past `rmem_max`/`wmem_max` when root).
const SOCKET_BUFFER: usize = 4 << 20;

/// Control messages between the master and a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// Worker → master, once its event loop runs.
    Ready {
        slot: u16,
        pid: u32,
        generation: u64,
    },
    /// Master → worker: apply this configuration (TOML text the master has validated) to new
    /// transactions. Listener and worker-count changes are not in it: they need a restart.
    Reload { generation: u64, config: String },
    /// Worker → master: the outcome of a [`Control::Reload`].
    Reloaded {
        slot: u16,
        generation: u64,
        error: Option<String>,
    },
    /// Master → worker: send your counters.
    StatsRequest { id: u64 },
    /// Worker → master: the answer to a [`Control::StatsRequest`].
    Stats {
        id: u64,
        slot: u16,
        stats: Box<WorkerStats>,
    },
    /// Master → worker: reopen the log file (SIGUSR1, after logrotate).
    ReopenLogs,
    /// Master → worker: stop taking new transactions; exit when the ones in flight have
    /// ended, or after `timeout_ms`.
    Drain { timeout_ms: u64 },
}

/// A SIP datagram steered from the worker that received it to the worker that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Index of the listener it arrived on (config order).
    pub listener: u16,
    /// Slot of the worker that received it from the network.
    pub from_worker: u16,
    /// Where it came from: the owner answers there, from its own socket of that listener.
    pub source: SocketAddr,
    pub data: &'a [u8],
}

/// One received frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<'a> {
    Datagram(Datagram<'a>),
    Control(Control),
}

/// Why a frame could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// The receiver's queue is full (it is overloaded or stopped); the frame was not sent.
    Full,
    /// The frame is larger than [`MAX_FRAME`].
    TooLarge(usize),
    /// The receiving end is gone (all its holders closed it).
    Closed,
    /// Encoding a control message failed (a bug: our own types always encode).
    Encode(String),
    Io(io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => f.write_str("receiver queue full"),
            Self::TooLarge(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME}"),
            Self::Closed => f.write_str("receiver closed"),
            Self::Encode(e) => write!(f, "encode: {e}"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why a received record is not a usable frame. The record is consumed either way; the
/// caller counts it and goes on reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Larger than the receive buffer ([`MAX_FRAME`]); the excess was discarded by the kernel.
    TooLarge(usize),
    /// A version this build does not speak.
    Version(u8),
    /// Unknown kind byte, short header, bad address family, or undecodable control message.
    Malformed(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME}"),
            Self::Version(v) => write!(f, "IPC version {v}, expected {VERSION}"),
            Self::Malformed(why) => write!(f, "malformed frame: {why}"),
        }
    }
}

/// The read end of a channel: one process's inbox.
#[derive(Debug)]
pub struct Inbox {
    fd: OwnedFd,
}

/// The write end of a channel. Cheap to clone (a dup of the descriptor).
#[derive(Debug)]
pub struct Outbox {
    fd: OwnedFd,
}

/// A new channel: the write end and the read end, both non-blocking and close-on-exec.
pub fn channel() -> io::Result<(Outbox, Inbox)> {
    let (a, b) = socket::socketpair(
        socket::AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    // Best effort: larger buffers absorb bursts; the default (208 KiB) still works.
    for (fd, send) in [(&a, true), (&b, false)] {
        let forced = if send {
            socket::setsockopt(fd, socket::sockopt::SndBufForce, &SOCKET_BUFFER)
        } else {
            socket::setsockopt(fd, socket::sockopt::RcvBufForce, &SOCKET_BUFFER)
        };
        if forced.is_err() {
            let _ = if send {
                socket::setsockopt(fd, socket::sockopt::SndBuf, &SOCKET_BUFFER)
            } else {
                socket::setsockopt(fd, socket::sockopt::RcvBuf, &SOCKET_BUFFER)
            };
        }
    }
    // Only `a` writes and only `b` reads: shut the other directions so a bug cannot use them.
    let _ = socket::shutdown(a.as_raw_fd(), socket::Shutdown::Read);
    let _ = socket::shutdown(b.as_raw_fd(), socket::Shutdown::Write);
    Ok((Outbox { fd: a }, Inbox { fd: b }))
}

impl Outbox {
    pub fn try_clone(&self) -> io::Result<Outbox> {
        Ok(Outbox {
            fd: self.fd.try_clone()?,
        })
    }

    /// Steer a datagram to the inbox's owner. No allocation: header and payload go out
    /// through one `sendmsg` with two buffers.
    pub fn send_datagram(&self, d: &Datagram<'_>) -> Result<(), SendError> {
        let total = DATAGRAM_HEADER + d.data.len();
        if total > MAX_FRAME {
            return Err(SendError::TooLarge(total));
        }
        let header = encode_datagram_header(d);
        let iov = [IoSlice::new(&header), IoSlice::new(d.data)];
        self.send_iov(&iov)
    }

    /// The socket, for callers that batch records themselves (`sendmmsg`): each record
    /// must be one frame, as [`encode_datagram`] writes it.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Send a control message (rmp-serde, named fields).
    pub fn send_control(&self, c: &Control) -> Result<(), SendError> {
        let mut buf = Vec::with_capacity(128);
        buf.push(KIND_CONTROL);
        buf.push(VERSION);
        rmp_serde::encode::write_named(&mut buf, c)
            .map_err(|e| SendError::Encode(e.to_string()))?;
        if buf.len() > MAX_FRAME {
            return Err(SendError::TooLarge(buf.len()));
        }
        self.send_iov(&[IoSlice::new(&buf)])
    }

    fn send_iov(&self, iov: &[IoSlice<'_>]) -> Result<(), SendError> {
        loop {
            let res = socket::sendmsg::<()>(
                self.fd.as_raw_fd(),
                iov,
                &[],
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
                None,
            );
            return match res {
                Ok(_) => Ok(()),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => Err(SendError::Full),
                Err(Errno::EPIPE | Errno::ECONNRESET | Errno::ENOTCONN) => Err(SendError::Closed),
                Err(e) => Err(SendError::Io(e.into())),
            };
        }
    }
}

impl AsFd for Outbox {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Inbox {
    pub fn try_clone(&self) -> io::Result<Inbox> {
        Ok(Inbox {
            fd: self.fd.try_clone()?,
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Read one record into `buf` (give it [`MAX_FRAME`] bytes). `Ok(None)`: the inbox is
    /// empty. `Ok(Some(Err(_)))`: a record arrived but is unusable (already consumed).
    pub fn recv<'a>(&self, buf: &'a mut [u8]) -> io::Result<Option<Result<Frame<'a>, FrameError>>> {
        let n = loop {
            // MSG_TRUNC makes the kernel report the record's real length, so an oversize
            // record is detected instead of silently cut.
            match socket::recv(
                self.fd.as_raw_fd(),
                buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            // Zero-length record, or every writer closed: nothing to decode. A live
            // master keeps a writer open, so the caller only sees this on shutdown.
            return Ok(Some(Err(FrameError::Malformed("empty record"))));
        }
        if n > buf.len() {
            return Ok(Some(Err(FrameError::TooLarge(n))));
        }
        Ok(Some(decode(buf.get(..n).unwrap_or_default())))
    }
}

impl AsFd for Inbox {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Decode one frame.
pub fn decode(rec: &[u8]) -> Result<Frame<'_>, FrameError> {
    let (&kind, rest) = rec
        .split_first()
        .ok_or(FrameError::Malformed("empty record"))?;
    let (&version, body) = rest
        .split_first()
        .ok_or(FrameError::Malformed("no version byte"))?;
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    match kind {
        KIND_DATAGRAM => decode_datagram(rec).map(Frame::Datagram),
        KIND_CONTROL => rmp_serde::from_slice(body)
            .map(Frame::Control)
            .map_err(|_| FrameError::Malformed("undecodable control message")),
        _ => Err(FrameError::Malformed("unknown frame kind")),
    }
}

/// Append the frame of `d` (header and payload) to `out`, for a sender that batches frames;
/// the same bytes [`Outbox::send_datagram`] sends.
pub fn encode_datagram(d: &Datagram<'_>, out: &mut Vec<u8>) -> Result<(), SendError> {
    let total = DATAGRAM_HEADER + d.data.len();
    if total > MAX_FRAME {
        return Err(SendError::TooLarge(total));
    }
    out.extend_from_slice(&encode_datagram_header(d));
    out.extend_from_slice(d.data);
    Ok(())
}

// Datagram header layout (24 bytes, integers big-endian):
//   0 kind | 1 version | 2..4 listener | 4..6 from_worker | 6..8 source port |
//   8..24 source address as IPv6; an IPv4 source is written IPv4-mapped (::ffff:a.b.c.d).
fn encode_datagram_header(d: &Datagram<'_>) -> [u8; DATAGRAM_HEADER] {
    let mut h = [0u8; DATAGRAM_HEADER];
    let (ip, port) = match d.source {
        SocketAddr::V4(a) => (a.ip().to_ipv6_mapped(), a.port()),
        SocketAddr::V6(a) => (*a.ip(), a.port()),
    };
    let fields = [KIND_DATAGRAM, VERSION]
        .into_iter()
        .chain(d.listener.to_be_bytes())
        .chain(d.from_worker.to_be_bytes())
        .chain(port.to_be_bytes())
        .chain(ip.octets());
    for (slot, b) in h.iter_mut().zip(fields) {
        *slot = b;
    }
    h
}

fn decode_datagram(rec: &[u8]) -> Result<Datagram<'_>, FrameError> {
    let (head, data) = rec
        .split_at_checked(DATAGRAM_HEADER)
        .ok_or(FrameError::Malformed("short datagram header"))?;
    let be16 = |i: usize| {
        let hi = head.get(i).copied().unwrap_or(0);
        let lo = head.get(i + 1).copied().unwrap_or(0);
        u16::from_be_bytes([hi, lo])
    };
    let mut octets = [0u8; 16];
    octets.copy_from_slice(head.get(8..24).unwrap_or(&[0u8; 16]));
    let v6 = Ipv6Addr::from(octets);
    let ip = match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    };
    Ok(Datagram {
        listener: be16(2),
        from_worker: be16(4),
        source: SocketAddr::new(ip, be16(6)),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn unspecified_v4() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }

    #[test]
    fn datagram_round_trip_v4_and_v6() {
        let (tx, rx) = channel().unwrap();
        let mut buf = vec![0u8; MAX_FRAME];
        for source in [
            "192.0.2.7:5062".parse::<SocketAddr>().unwrap(),
            "[2001:db8::1]:5090".parse().unwrap(),
        ] {
            let d = Datagram {
                listener: 3,
                from_worker: 1,
                source,
                data: b"OPTIONS sip:a SIP/2.0\r\n\r\n",
            };
            tx.send_datagram(&d).unwrap();
            let got = rx.recv(&mut buf).unwrap().unwrap().unwrap();
            assert_eq!(got, Frame::Datagram(d));
        }
        assert!(
            rx.recv(&mut buf).unwrap().is_none(),
            "inbox should be empty"
        );
    }

    #[test]
    fn encoded_frame_decodes_and_equals_the_sent_one() {
        let (tx, rx) = channel().unwrap();
        let mut buf = vec![0u8; MAX_FRAME];
        let d = Datagram {
            listener: 1,
            from_worker: 2,
            source: "192.0.2.9:5070".parse().unwrap(),
            data: b"ACK sip:b SIP/2.0\r\n\r\n",
        };
        let mut frame = Vec::new();
        encode_datagram(&d, &mut frame).unwrap();
        assert_eq!(decode(&frame).unwrap(), Frame::Datagram(d));
        tx.send_datagram(&d).unwrap();
        let n = socket::recv(rx.raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).unwrap();
        assert_eq!(buf.get(..n).unwrap(), frame.as_slice());
        let big = vec![b'x'; MAX_FRAME];
        let d = Datagram { data: &big, ..d };
        assert!(matches!(
            encode_datagram(&d, &mut frame),
            Err(SendError::TooLarge(_))
        ));
    }

    #[test]
    fn control_round_trip_and_shared_writers() {
        let (tx, rx) = channel().unwrap();
        let tx2 = tx.try_clone().unwrap();
        let msgs = [
            Control::Reload {
                generation: 2,
                config: "[general]\n".into(),
            },
            Control::StatsRequest { id: 9 },
            Control::Stats {
                id: 9,
                slot: 1,
                stats: Box::new(WorkerStats {
                    received: 5,
                    ..WorkerStats::default()
                }),
            },
        ];
        tx.send_control(&msgs[0]).unwrap();
        tx2.send_control(&msgs[1]).unwrap();
        tx.send_control(&msgs[2]).unwrap();
        let mut buf = vec![0u8; MAX_FRAME];
        for m in &msgs {
            let got = rx.recv(&mut buf).unwrap().unwrap().unwrap();
            assert_eq!(got, Frame::Control(m.clone()));
        }
    }

    #[test]
    fn limits_and_garbage() {
        let (tx, rx) = channel().unwrap();
        let big = vec![b'x'; MAX_FRAME];
        let d = Datagram {
            listener: 0,
            from_worker: 0,
            source: unspecified_v4(),
            data: &big,
        };
        assert!(matches!(tx.send_datagram(&d), Err(SendError::TooLarge(_))));
        // A record bigger than the receiver's buffer is reported, not cut silently.
        let d = Datagram {
            data: &big[..1000],
            ..d
        };
        tx.send_datagram(&d).unwrap();
        let mut small = vec![0u8; 100];
        assert_eq!(
            rx.recv(&mut small).unwrap().unwrap(),
            Err(FrameError::TooLarge(1000 + DATAGRAM_HEADER))
        );
        assert_eq!(decode(&[]), Err(FrameError::Malformed("empty record")));
        assert_eq!(decode(&[KIND_CONTROL, 9, 1]), Err(FrameError::Version(9)));
        assert!(decode(&[KIND_CONTROL, VERSION, 0xc1]).is_err());
        assert!(decode(&[KIND_DATAGRAM, VERSION, 0, 0]).is_err());
        assert!(decode(&[77, VERSION]).is_err());
    }

    #[test]
    fn full_inbox_is_reported_not_blocking() {
        let (tx, _rx) = channel().unwrap();
        let payload = vec![b'x'; 60_000];
        let d = Datagram {
            listener: 0,
            from_worker: 0,
            source: unspecified_v4(),
            data: &payload,
        };
        let mut sent = 0;
        let full = loop {
            match tx.send_datagram(&d) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 10_000, "never filled");
        };
        assert!(matches!(full, SendError::Full), "{full}");
    }
}
