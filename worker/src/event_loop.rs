//! The worker's mio loop: the only place in the worker that touches a socket or the clock.
//!
//! Sources, each drained until empty (mio is edge-triggered); UDP is read a batch per
//! `recvmmsg` ([`crate::udp_batch`]), and what a batch produces is sent after it:
//! - one UDP socket per listener (this worker slot's member of the SO_REUSEPORT group);
//! - the worker's IPC inbox: datagrams other workers steered here, and control messages
//!   from the master (reload, stats request, reopen logs, drain).
//!
//! Each datagram read from the network is parsed once; [`steering::owner`] says which worker
//! owns it. Ours: handled here. Another worker's: its raw bytes go to that worker's inbox.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use proto::{Message, ParseError, EMPTY_HEADER};
use shared::config::Config;
use shared::ipc::{self, Control, Datagram, Frame, Inbox, Outbox};
use shared::store::Store;

use crate::proxy::{self, Proxy};
use crate::security::Guard;
use crate::sends::{Frames, Sends};
use crate::stateless::{self, Absorbed, Outcome};
use crate::stats::{drop_reason, Counters};
use crate::steering;
use crate::udp_batch::{self, Received, RxBatch, TxBatch};

/// Period of the dispatcher housekeeping (probe sends and timeouts).
const TICK: Duration = Duration::from_millis(100);

/// Seconds since the Unix epoch (store timestamps).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Longest sleep in `poll`: how late a stop request may be noticed.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// Consecutive read errors after which a wake-up stops reading a socket.
const MAX_RECV_ERRORS: u32 = 16;
/// Header slots tried first for each datagram.
const FEW_HEADERS: usize = 32;
/// Header slots for the rest (up to `limits.max_headers`, whose default is 128).
const MAX_HEADER_SLOTS: usize = 128;
/// Token of the IPC inbox; listener sockets use their index.
const INBOX: Token = Token(usize::MAX - 1);

/// Everything a worker process starts with (built by the master before fork).
pub struct Setup {
    /// This worker's slot: its index among the workers, stable across restarts.
    pub slot: usize,
    pub generation: u64,
    /// This slot's socket of every listener, in config order.
    pub sockets: Vec<StdUdpSocket>,
    /// This slot's relay socket of every `worker_ports` listener: (listener index, socket).
    pub worker_ports: Vec<(usize, StdUdpSocket)>,
    /// This worker's IPC inbox.
    pub inbox: Inbox,
    /// Every worker's inbox write end, indexed by slot (ours included, unused).
    pub peers: Vec<Outbox>,
    /// The master's inbox write end.
    pub master: Outbox,
    pub config: Config,
    /// The nonce-count table of all workers (made by the master before the first fork).
    pub nonces: shared::nonces::NonceTable,
    /// Reopens the log file (SIGUSR1 reaches workers as [`Control::ReopenLogs`]).
    pub reopen_logs: Box<dyn Fn()>,
}

/// The protocol state of one worker: what the loop feeds datagrams and control messages to.
struct Worker {
    slot: usize,
    workers: usize,
    generation: u64,
    proxy: Proxy,
    /// Bans, scanner and flood defence (before routing).
    guard: Guard,
    sends: Sends,
    /// Datagrams steered to other workers, sent with the batch's answers.
    forwards: Frames,
    stats: Counters,
    peers: Vec<Outbox>,
    master: Outbox,
    reopen_logs: Box<dyn Fn()>,
    /// Set by a drain request: stop when nothing is in flight or at the deadline.
    drain_deadline: Option<Instant>,
    /// Next dispatcher housekeeping: probes, and destination states other workers published.
    next_tick: Instant,
    next_sync: Instant,
    /// `general.coalesce_us`: the wait after a busy wake-up (see [`run`]).
    coalesce: Duration,
    tx: TxBatch,
}

/// Run until `stop` is set (SIGTERM) or a drain completes. Returns the final counters.
pub fn run(setup: Setup, stop: &AtomicBool) -> io::Result<Counters> {
    let mut poll = Poll::new()?;
    let mut socks = Vec::with_capacity(setup.sockets.len());
    for (i, s) in setup.sockets.into_iter().enumerate() {
        s.set_nonblocking(true)?;
        let mut s = UdpSocket::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)?;
        socks.push(s);
    }
    // Worker ports: this slot's own socket per `worker_ports` listener (bound by the master),
    // for the requests it relays (their responses then come straight back here).
    let mut worker_ports = Vec::new();
    for (i, std_sock) in setup.worker_ports {
        let Some(l) = setup.config.listen.get(i) else {
            continue;
        };
        std_sock.set_nonblocking(true)?;
        let local = std_sock.local_addr()?;
        let mut s = UdpSocket::from_std(std_sock);
        let idx = socks.len();
        poll.registry()
            .register(&mut s, Token(idx), Interest::READABLE)?;
        socks.push(s);
        worker_ports.push((i, idx, local.to_string()));
        tracing::info!(listener = %l.name, port = local.port(), "worker port for relayed requests");
    }
    // Opened here, after fork: an LMDB environment must never cross a fork.
    let store = Store::open_with(
        std::path::Path::new(&setup.config.store.path),
        &setup.config.store.options(),
    )
    .map_err(|e| io::Error::other(e.to_string()))?;
    let inbox = setup.inbox;
    poll.registry()
        .register(&mut SourceFd(&inbox.raw_fd()), INBOX, Interest::READABLE)?;

    let (pcfg, dispatcher) = proxy::build(&setup.config).map_err(io::Error::other)?;
    let mut w = Worker {
        slot: setup.slot,
        workers: setup.peers.len().max(1),
        generation: setup.generation,
        guard: Guard::from_config(&setup.config.security),
        proxy: {
            let mut p = Proxy::new(pcfg, dispatcher, setup.slot);
            p.set_worker_ports(worker_ports);
            p.attach_store(store);
            p.attach_nonces(setup.nonces, setup.peers.len().max(1));
            p
        },
        sends: Sends::default(),
        forwards: Frames::default(),
        stats: Counters::default(),
        peers: setup.peers,
        master: setup.master,
        reopen_logs: setup.reopen_logs,
        drain_deadline: None,
        next_tick: Instant::now(),
        next_sync: Instant::now(),
        coalesce: Duration::from_micros(setup.config.general.coalesce_us),
        tx: TxBatch::default(),
    };
    let _ = w.master.send_control(&Control::Ready {
        slot: u16::try_from(w.slot).unwrap_or(u16::MAX),
        pid: std::process::id(),
        generation: w.generation,
    });

    set_timer_slack(w.coalesce);
    let mut events = Events::with_capacity(256);
    let mut rx = RxBatch::default();
    let mut inbox_rx = RxBatch::with_slot(ipc::MAX_FRAME);
    let mut out = Vec::with_capacity(4096);
    // Whether the last wake-up found traffic: then the next one is deferred by `coalesce`.
    let mut busy = false;
    while !stop.load(Ordering::Relaxed) {
        if let Some(deadline) = w.drain_deadline {
            if w.proxy.in_flight() == 0 || Instant::now() >= deadline {
                break;
            }
        }
        // Sleep until the next transaction timer, at most 200 ms (to see a stop request).
        let now = Instant::now();
        let mut wait = w
            .proxy
            .next_timeout()
            .map_or(MAX_WAIT, |at| {
                at.saturating_duration_since(now).min(MAX_WAIT)
            })
            .min(w.next_tick.saturating_duration_since(now));
        if busy && !w.coalesce.is_zero() {
            // Under load, sleeping through the next few arrivals and reading them together
            // saves a wake-up (a context switch, an epoll_wait, a read) per datagram; an idle
            // worker still answers the first datagram at once.
            let nap = w.coalesce.min(wait);
            if !nap.is_zero() {
                std::thread::sleep(nap);
            }
            wait = Duration::ZERO;
        }
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let mut handled = 0;
        for ev in events.iter() {
            if ev.token() == INBOX {
                handled += drain_inbox(&mut w, &inbox, &socks, &mut inbox_rx, &mut out);
            } else if let Some(sock) = socks.get(ev.token().0) {
                handled += drain_socket(&mut w, ev.token().0, sock, &socks, &mut rx, &mut out);
            }
        }
        busy = handled > 0;
        let now = Instant::now();
        if w.proxy.next_timeout().is_some_and(|at| at <= now) {
            w.proxy.on_timer(now, &mut w.sends);
            w.flush(&socks);
        }
        if now >= w.next_tick {
            w.housekeeping(now, &socks);
        }
    }
    Ok(w.stats)
}

/// Let the kernel end this worker's sleeps up to half a coalescing interval late, so that
/// its wake-ups can share a timer interrupt with others (each one costs a VM exit on a
/// virtual machine). With batching off, the kernel's default (50 µs) stays.
fn set_timer_slack(coalesce: Duration) {
    if coalesce.is_zero() {
        return;
    }
    let ns = u64::try_from(coalesce.as_nanos() / 2).unwrap_or(u64::MAX);
    if let Err(e) = nix::sys::prctl::set_timerslack(ns) {
        tracing::debug!(error = %e, "PR_SET_TIMERSLACK");
    }
}

/// Read a listener socket until it is empty, a batch per system call; what the batch
/// produced is sent once the whole batch is handled.
fn drain_socket(
    w: &mut Worker,
    listener: usize,
    sock: &UdpSocket,
    socks: &[UdpSocket],
    rx: &mut RxBatch,
    out: &mut Vec<u8>,
) -> usize {
    let mut total = 0;
    let mut errors = 0;
    loop {
        let n = match rx.recv(sock.as_raw_fd()) {
            Ok(Received::Some(n)) => n,
            Ok(Received::Empty) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // ICMP errors from earlier sends surface here on Linux; not fatal, and the
                // error is consumed, so reading goes on. An error that does not go away
                // must not spin the loop: give up on this wake-up after a few.
                w.stats.recv_errors += 1;
                tracing::debug!(error = %e, "recvmmsg");
                errors += 1;
                if errors >= MAX_RECV_ERRORS {
                    break;
                }
                continue;
            }
        };
        w.begin_group();
        for i in 0..n {
            let Some((data, Some(src))) = rx.get(i) else {
                w.stats.recv_errors += 1;
                continue;
            };
            w.stats.received += 1;
            w.stats.received_bytes += data.len() as u64;
            w.on_datagram(listener, src, data, false, out);
        }
        total += n;
        w.end_group();
        w.flush(socks);
        if n < udp_batch::BATCH {
            break;
        }
    }
    total
}

/// Read the IPC inbox until it is empty, a batch of records per system call.
fn drain_inbox(
    w: &mut Worker,
    inbox: &Inbox,
    socks: &[UdpSocket],
    rx: &mut RxBatch,
    out: &mut Vec<u8>,
) -> usize {
    let mut total = 0;
    w.begin_group();
    loop {
        let n = match rx.recv_records(inbox.raw_fd()) {
            Ok(Received::Some(n)) => n,
            Ok(Received::Empty) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(error = %e, "IPC inbox read failed");
                break;
            }
        };
        for i in 0..n {
            let Some((rec, _)) = rx.get(i) else {
                continue;
            };
            let frame = if rx.len(i) > rx.slot() {
                Err(ipc::FrameError::TooLarge(rx.len(i)))
            } else if rec.is_empty() {
                Err(ipc::FrameError::Malformed("empty record"))
            } else {
                ipc::decode(rec)
            };
            match frame {
                Ok(Frame::Datagram(d)) => {
                    w.stats.ipc_received += 1;
                    total += 1;
                    w.on_datagram(usize::from(d.listener), d.source, d.data, true, out);
                }
                Ok(Frame::Control(c)) => w.on_control(c),
                Err(e) => {
                    w.stats.ipc_bad_frames += 1;
                    tracing::warn!(error = %e, "bad IPC frame dropped");
                }
            }
        }
        if n < udp_batch::BATCH {
            break;
        }
    }
    w.end_group();
    w.flush(socks);
    total
}

impl Worker {
    /// Transactions this worker still has to finish.
    fn in_flight(&self) -> usize {
        self.proxy.in_flight()
    }

    /// One SIP datagram: steer it to its owner, or handle it here. `steered` is true when
    /// another worker already made that decision.
    fn on_datagram(
        &mut self,
        listener: usize,
        src: SocketAddr,
        data: &[u8],
        steered: bool,
        out: &mut Vec<u8>,
    ) {
        // Banned sources cost nothing more than this lookup: no parse, no answer.
        if !steered && self.guard.is_banned(src.ip()) {
            self.stats.dropped(drop_reason::BANNED);
            return;
        }
        let limits = self.proxy.cfg.ctx.limits;
        // Header slots are initialised before every parse: 32 (1.5 KiB) fit nearly every
        // message; only one with more headers pays for the full array.
        let mut slots = [EMPTY_HEADER; FEW_HEADERS];
        let parsed = Message::parse(data, &mut slots, &limits);
        if matches!(parsed, Err(ParseError::TooManyHeaders)) && limits.max_headers > FEW_HEADERS {
            drop(parsed);
            self.on_datagram_many_headers(listener, src, data, steered, out);
            return;
        }
        self.on_parsed(listener, src, data, steered, parsed, out);
    }

    /// [`Worker::on_datagram`] for a message with more than [`FEW_HEADERS`] headers.
    #[cold]
    #[inline(never)]
    fn on_datagram_many_headers(
        &mut self,
        listener: usize,
        src: SocketAddr,
        data: &[u8],
        steered: bool,
        out: &mut Vec<u8>,
    ) {
        let mut slots = [EMPTY_HEADER; MAX_HEADER_SLOTS];
        let parsed = Message::parse(data, &mut slots, &self.proxy.cfg.ctx.limits);
        self.on_parsed(listener, src, data, steered, parsed, out);
    }

    // Inlined into both callers: a `Message` is about a kilobyte, and moving it into a call
    // would copy it for every datagram.
    #[inline(always)]
    fn on_parsed(
        &mut self,
        listener: usize,
        src: SocketAddr,
        data: &[u8],
        steered: bool,
        parsed: Result<Message<'_, '_>, ParseError>,
        out: &mut Vec<u8>,
    ) {
        let outcome = match parsed {
            Err(ParseError::Empty) => Outcome::Absorb {
                reason: Absorbed::KeepAlive,
            },
            Err(e) => {
                self.stats.parse_error(e.code());
                stateless::reject_unparsed(&self.proxy.cfg.ctx, data, e, src, out)
            }
            Ok(msg) => {
                let now = Instant::now();
                if !steered && msg.is_request() {
                    self.guard.count(src.ip());
                    if self.guard.is_scanner(msg.user_agent().unwrap_or_default()) {
                        // Scanners get no answer at all (not even a 4xx to learn from).
                        self.guard.scanner_seen(src.ip());
                        self.stats.dropped(drop_reason::SCANNER);
                        return;
                    }
                }
                if !steered {
                    let owner = steering::owner(&msg, self.workers);
                    if owner != self.slot {
                        // What needs no transaction is answered where it landed.
                        let spread = self
                            .proxy
                            .cfg
                            .listeners
                            .get(listener)
                            .is_some_and(|l| l.kernel_spread);
                        if spread
                            && msg.is_request()
                            && self
                                .proxy
                                .try_stateless(listener, src, &msg, now, &mut self.sends)
                        {
                            if let Some(m) = msg.method() {
                                self.stats.request(m.label());
                            }
                            self.stats.handled_locally += 1;
                            return;
                        }
                        self.forward(owner, listener, src, data);
                        return;
                    }
                }
                match msg.method() {
                    Some(m) => {
                        self.stats.request(m.label());
                        // Replies the proxy generates are counted by the proxy.
                        let _ = self
                            .proxy
                            .on_request(listener, src, &msg, now, &mut self.sends);
                    }
                    None => {
                        self.stats.response(msg.status().unwrap_or(0));
                        self.proxy
                            .on_response(listener, src, &msg, now, &mut self.sends);
                    }
                }
                return;
            }
        };
        match outcome {
            Outcome::Reply { dest, status } => {
                self.stats.reply(status);
                self.sends.push(listener, dest, out);
            }
            Outcome::Absorb { reason } => {
                let label = match reason {
                    Absorbed::Ack => drop_reason::ACK,
                    Absorbed::Response => drop_reason::RESPONSE,
                    Absorbed::KeepAlive => drop_reason::KEEPALIVE,
                    Absorbed::Malformed(why) => {
                        tracing::debug!(%src, reason = why, "dropped malformed message");
                        if data.starts_with(b"SIP/") {
                            drop_reason::MALFORMED_RESPONSE
                        } else {
                            drop_reason::MALFORMED
                        }
                    }
                };
                self.stats.dropped(label);
            }
        }
    }

    /// Every [`TICK`]: dispatcher probes and passive health; every second: destination
    /// states other workers published in the store.
    fn housekeeping(&mut self, now: Instant, socks: &[UdpSocket]) {
        self.next_tick = now + TICK;
        self.proxy.on_probe_tick(now, self.workers, &mut self.sends);
        self.proxy
            .on_keepalive_tick(now, self.workers, &mut self.sends);
        if let Some(store) = self.proxy.store() {
            self.guard.tick(store, unix_now());
        }
        self.flush(socks);
        let changes = self.proxy.take_changes();
        if !changes.is_empty() {
            let unix = unix_now();
            let Some(store) = self.proxy.store() else {
                return;
            };
            let res = store.write(|w| {
                for c in &changes {
                    w.set_dest_state(&c.set_name, &c.uri, &c.to_state(unix))?;
                }
                Ok(())
            });
            for c in &changes {
                tracing::warn!(set = %c.set_name, uri = %c.uri, from = ?c.from, to = ?c.to, reason = %c.reason, "dispatcher destination state changed");
            }
            if let Err(e) = res {
                tracing::error!(error = %e, "cannot publish destination states");
            }
        }
        if now >= self.next_sync {
            self.next_sync = now + Duration::from_secs(1);
            let names: Vec<String> = self
                .proxy
                .dispatcher
                .set_names()
                .map(String::from)
                .collect();
            for set in names {
                let Some(store) = self.proxy.store() else {
                    break;
                };
                match store.dest_states(&set) {
                    Ok(states) => {
                        for (uri, st) in states {
                            self.proxy.dispatcher.apply_shared(&set, &uri, st.state);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read destination states"),
                }
            }
        }
    }

    /// Store writes from here to [`Worker::end_group`] share one commit (group commit).
    fn begin_group(&self) {
        if let Some(store) = self.proxy.store() {
            store.begin_batch();
        }
    }

    /// Commit the group's store writes before anything they answer is sent. If the group
    /// failed, none of its writes happened, so none of its answers may go out: they are
    /// dropped and the clients' retransmissions are handled afresh.
    fn end_group(&mut self) {
        let Some(store) = self.proxy.store() else {
            return;
        };
        match store.end_batch() {
            Ok(0) => {}
            Ok(writes) => {
                self.stats.store_commits += 1;
                self.stats.store_writes += writes as u64;
            }
            Err(e) => {
                self.stats.store_commit_failures += 1;
                tracing::error!(error = %e, dropped = self.sends.len(), "store group commit failed; its answers are dropped");
                self.sends.clear();
            }
        }
    }

    /// Send what the proxy queued: all datagrams of one socket together, with one
    /// `sendmmsg` per [`udp_batch::BATCH`]. A stateful relay alternates sockets (the answer
    /// upstream on the listener socket, the request downstream on a worker port), so sending
    /// in queue order would cost a system call per datagram. Order is kept per socket, which
    /// is all UDP could keep anyway. A worker has a handful of sockets: one pass per socket.
    fn flush(&mut self, socks: &[UdpSocket]) {
        const NOWHERE: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        ));
        self.flush_forwards();
        if self.sends.is_empty() {
            return;
        }
        let Worker {
            sends, tx, stats, ..
        } = self;
        let mut run: [(SocketAddr, &[u8]); udp_batch::BATCH] = [(NOWHERE, &[]); udp_batch::BATCH];
        for (listener, sock) in socks.iter().enumerate() {
            let mut len = 0;
            let mut items = sends.iter().filter(|(l, _, _)| *l == listener).peekable();
            while let Some((_, dest, bytes)) = items.next() {
                if let Some(slot) = run.get_mut(len) {
                    *slot = (dest, bytes);
                    len += 1;
                }
                if len < udp_batch::BATCH && items.peek().is_some() {
                    continue;
                }
                tx.send(
                    sock.as_raw_fd(),
                    run.get(..len).unwrap_or_default(),
                    |dest, e| {
                        stats.send_errors += 1;
                        tracing::debug!(error = %e, %dest, "sendmmsg");
                    },
                );
                len = 0;
            }
        }
        // Datagrams queued for a socket this worker does not have (not expected).
        stats.send_errors += sends.iter().filter(|(l, _, _)| *l >= socks.len()).count() as u64;
        sends.clear();
    }

    /// Hand a datagram to the worker that owns it: queued, and sent with the batch's
    /// answers ([`Worker::flush_forwards`]).
    fn forward(&mut self, owner: usize, listener: usize, source: SocketAddr, data: &[u8]) {
        let d = Datagram {
            listener: u16::try_from(listener).unwrap_or(u16::MAX),
            from_worker: u16::try_from(self.slot).unwrap_or(u16::MAX),
            source,
            data,
        };
        if owner >= self.peers.len() {
            self.stats.ipc_dropped += 1;
            return;
        }
        if let Err(e) = self
            .forwards
            .push_with(owner, |out| ipc::encode_datagram(&d, out))
        {
            self.stats.ipc_dropped += 1;
            tracing::warn!(owner, error = %e, "cannot steer datagram");
        }
    }

    /// Send the queued steered datagrams: one `sendmmsg` per owner (per 32 frames).
    fn flush_forwards(&mut self) {
        if self.forwards.is_empty() {
            return;
        }
        let Worker {
            forwards,
            peers,
            tx,
            stats,
            ..
        } = self;
        for (owner, peer) in peers.iter().enumerate() {
            let mut frames: [&[u8]; udp_batch::BATCH] = [&[]; udp_batch::BATCH];
            let mut len = 0;
            let mut queued = forwards.of(owner).peekable();
            while let Some(frame) = queued.next() {
                if let Some(slot) = frames.get_mut(len) {
                    *slot = frame;
                    len += 1;
                }
                if len < udp_batch::BATCH && queued.peek().is_some() {
                    continue;
                }
                let batch = frames.get(..len).unwrap_or_default();
                let (sent, err) = tx.send_records(peer.raw_fd(), batch);
                stats.ipc_forwarded += sent as u64;
                len = 0;
                if let Some(e) = err {
                    // The rest of this owner's frames are dropped: a full inbox means the
                    // owner is overloaded (UDP retransmission recovers), and a log line per
                    // datagram would make the overload worse.
                    let lost = batch.len() - sent + queued.count();
                    stats.ipc_dropped += lost as u64;
                    if e.kind() != io::ErrorKind::WouldBlock {
                        tracing::warn!(owner, error = %e, lost, "cannot steer datagrams");
                    }
                    break;
                }
            }
        }
        forwards.clear();
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Reload { generation, config } => {
                let built = Config::from_str(&config, std::path::Path::new("<reload>"))
                    .map_err(|e| e.to_string())
                    .and_then(|cfg| proxy::build(&cfg).map(|b| (cfg, b)));
                let error = match built {
                    Ok((cfg, (pcfg, dispatcher))) => {
                        self.guard.reconfigure(Guard::from_config(&cfg.security));
                        // New routing and timers apply to new transactions; transactions in
                        // flight keep their destinations; destination health carries over.
                        self.proxy.reconfigure(pcfg, dispatcher);
                        self.coalesce = Duration::from_micros(cfg.general.coalesce_us);
                        set_timer_slack(self.coalesce);
                        self.generation = generation;
                        tracing::info!(generation, "configuration applied");
                        None
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reload rejected by worker");
                        Some(e)
                    }
                };
                let _ = self.master.send_control(&Control::Reloaded {
                    slot: self.slot_u16(),
                    generation,
                    error,
                });
            }
            Control::StatsRequest { id } => {
                let mut snap = self.stats.snapshot(self.generation);
                let p = &self.proxy.stats;
                let (servers, clients) = self.proxy.transactions();
                snap.transactions = (servers as u64, clients as u64);
                snap.forwarded = p.forwarded_requests;
                snap.forwarded_stateless = p.forwarded_stateless;
                snap.relayed = p.relayed_responses;
                snap.retransmissions = (p.retransmissions_sent, p.retransmissions_absorbed);
                snap.failovers = p.failovers;
                snap.timeouts = p.timeouts;
                snap.stray_responses = p.stray_responses;
                // Replies the proxy generated itself (100 Trying, 404, 408, 503, ...) join
                // the ones the stateless path sent for unparsable requests.
                for (code, n) in &p.generated {
                    shared::metrics::add(&mut snap.replies, *code, *n);
                }
                for (why, n) in &p.drops {
                    shared::metrics::add(&mut snap.drops, (*why).to_string(), *n);
                }
                snap.registrations = p
                    .registrations
                    .iter()
                    .map(|(r, n)| ((*r).to_string(), *n))
                    .collect();
                snap.auth = p.auth.iter().map(|(r, n)| ((*r).to_string(), *n)).collect();
                let stats = Box::new(snap);
                if let Err(e) = self.master.send_control(&Control::Stats {
                    id,
                    slot: self.slot_u16(),
                    stats,
                }) {
                    tracing::warn!(error = %e, "cannot send stats to the master");
                }
            }
            Control::ReopenLogs => (self.reopen_logs)(),
            Control::Drain { timeout_ms } => {
                tracing::info!(in_flight = self.in_flight(), "draining");
                self.drain_deadline = Some(Instant::now() + Duration::from_millis(timeout_ms));
            }
            // Messages only the master receives.
            Control::Ready { .. } | Control::Reloaded { .. } | Control::Stats { .. } => {}
        }
    }

    fn slot_u16(&self) -> u16 {
        u16::try_from(self.slot).unwrap_or(u16::MAX)
    }
}
