//! The cost floor of answering SIP over kernel UDP on this machine: a responder that does
//! the least any proxy must do per datagram (the same batched system calls as a sipedge
//! worker: a nap under load, `recvmmsg`, `sendmmsg`) and almost nothing else. It answers a
//! REGISTER without credentials with a fixed `401` challenge (with `challenge` as the third
//! argument; else with `200`), an INVITE with `404`, any other
//! request but ACK with `200`, copying Via, From, To, Call-ID and CSeq; it checks nothing,
//! stores nothing, keeps no transaction.
//!
//! Benchmarks run it in place of a proxy (`PROXIES="... floor"` in `bench/auth/run.sh` and
//! `bench/sipp/compare.sh`): its CPU per flow is what kernel UDP costs, and a proxy's CPU
//! above it is the proxy's own work. By hand only, never in CI.
//!
//!   floor_responder [ADDRESS] [NAP_US] [challenge]      defaults 127.0.0.1:5060, 3000

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use worker::udp_batch::{Received, RxBatch, TxBatch, BATCH};

const SLOT: usize = 2048;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:5060".into());
    let nap = args
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(Duration::from_micros(3000), Duration::from_micros);
    let challenge = args.next().as_deref() == Some("challenge");
    let sock = match UdpSocket::bind(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("floor_responder: bind {addr}: {e}");
            std::process::exit(1);
        }
    };
    let fd = sock.as_raw_fd();
    // sipedge's own batch code: the same recvmmsg and sendmmsg calls as a worker.
    let mut rx = RxBatch::default();
    let mut tx = TxBatch::default();
    let mut out = vec![0u8; BATCH * SLOT];
    let mut busy = false;
    loop {
        if busy {
            std::thread::sleep(nap);
        } else {
            let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(200u16));
        }
        busy = false;
        while let Ok(Received::Some(n)) = rx.recv(fd) {
            busy = true;
            let mut lens = [0usize; BATCH];
            let mut dests = [None::<SocketAddr>; BATCH];
            for (i, chunk) in out.chunks_mut(SLOT).enumerate().take(n) {
                if let (Some((req, src)), Some(len), Some(dest)) =
                    (rx.get(i), lens.get_mut(i), dests.get_mut(i))
                {
                    *len = answer(req, chunk, challenge);
                    *dest = src;
                }
            }
            let items: Vec<(SocketAddr, &[u8])> = out
                .chunks(SLOT)
                .zip(lens.iter().zip(dests.iter()))
                .take(n)
                .filter(|(_, (&len, _))| len > 0)
                .filter_map(|(chunk, (&len, dest))| Some(((*dest)?, chunk.get(..len)?)))
                .collect();
            tx.send(fd, &items, |_, _| {});
            if n < BATCH {
                break;
            }
        }
    }
}

/// Writes the answer to `req` into `out`; returns its length.
fn answer(req: &[u8], out: &mut [u8], challenge_register: bool) -> usize {
    let mut w = Writer { out, len: 0 };
    if req.starts_with(b"ACK ") || req.starts_with(b"SIP/2.0 ") {
        return 0;
    }
    let challenge =
        challenge_register && req.starts_with(b"REGISTER") && !contains(req, b"\nAuthorization:");
    w.put(if challenge {
        b"SIP/2.0 401 Unauthorized\r\n"
    } else if req.starts_with(b"INVITE ") {
        b"SIP/2.0 404 Not Found\r\n"
    } else {
        b"SIP/2.0 200 OK\r\n"
    });
    for line in req.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let copy = [&b"Via:"[..], b"From:", b"To:", b"Call-ID:", b"CSeq:"]
            .iter()
            .any(|h| {
                line.get(..h.len())
                    .is_some_and(|l| l.eq_ignore_ascii_case(h))
            });
        if copy {
            w.put(line);
            w.put(b"\r\n");
        }
    }
    if challenge {
        w.put(b"WWW-Authenticate: Digest realm=\"127.0.0.1\", nonce=\"6d1f0c2a9b3e4f5061728394a5b6c7d8e9f00112\", qop=\"auth\", algorithm=MD5\r\n");
    }
    w.put(b"Content-Length: 0\r\n\r\n");
    w.len
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.len..self.len + b.len()) {
            dst.copy_from_slice(b);
            self.len += b.len();
        }
    }
}
