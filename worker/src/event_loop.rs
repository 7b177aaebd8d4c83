//! The worker's mio loop: receive until `WouldBlock`, hand each datagram to the protocol
//! code, send what it returns. The only place in the worker that touches a socket.

use std::io;
use std::net::UdpSocket as StdUdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use crate::stateless::{self, Absorbed, Context, Outcome};

/// Counters of one worker (exported through the master's metrics once IPC carries them).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub received: u64,
    pub replies: u64,
    pub absorbed_ack: u64,
    pub absorbed_response: u64,
    pub keepalives: u64,
    pub malformed_dropped: u64,
    pub send_errors: u64,
}

/// Largest datagram we read; bigger ones are truncated by the kernel and then fail to parse
/// or hit the size limit (513).
const RECV_BUF: usize = 65_536;

/// Run until `stop` is set. `sockets` are the worker's UDP sockets (already bound by the
/// master).
pub fn run(sockets: Vec<StdUdpSocket>, ctx: &Context, stop: &Arc<AtomicBool>) -> io::Result<Stats> {
    let mut poll = Poll::new()?;
    let mut socks = Vec::with_capacity(sockets.len());
    for (i, s) in sockets.into_iter().enumerate() {
        s.set_nonblocking(true)?;
        let mut s = UdpSocket::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)?;
        socks.push(s);
    }
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::with_capacity(4096);
    let mut stats = Stats::default();
    while !stop.load(Ordering::Relaxed) {
        // A bounded wait so a stop request is seen even when no traffic arrives.
        match poll.poll(&mut events, Some(Duration::from_millis(200))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            let Some(sock) = socks.get(ev.token().0) else {
                continue;
            };
            drain(sock, ctx, &mut buf, &mut out, &mut stats);
        }
    }
    Ok(stats)
}

/// Read until the socket is empty (mio is edge-triggered).
fn drain(sock: &UdpSocket, ctx: &Context, buf: &mut [u8], out: &mut Vec<u8>, stats: &mut Stats) {
    loop {
        let (n, src) = match sock.recv_from(buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here on Linux; not fatal.
                tracing::debug!(error = %e, "recv_from");
                continue;
            }
        };
        stats.received += 1;
        let data = buf.get(..n).unwrap_or_default();
        match stateless::handle(ctx, data, src, out) {
            Outcome::Reply { dest, status } => {
                stats.replies += 1;
                if let Err(e) = sock.send_to(out, dest) {
                    stats.send_errors += 1;
                    tracing::debug!(error = %e, %dest, status, "send_to");
                }
            }
            Outcome::Absorb { reason } => match reason {
                Absorbed::Ack => stats.absorbed_ack += 1,
                Absorbed::Response => stats.absorbed_response += 1,
                Absorbed::KeepAlive => stats.keepalives += 1,
                Absorbed::Malformed(why) => {
                    stats.malformed_dropped += 1;
                    tracing::debug!(%src, reason = why, "dropped malformed message");
                }
            },
        }
    }
}
