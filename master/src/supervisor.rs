//! The master process: bind the listeners, fork the workers, keep them alive, turn signals
//! into actions, nginx-style, and serve the admin HTTP endpoint and the ctl socket. The
//! master never reads SIP traffic.
//!
//! One mio loop over: a signalfd (signals are blocked and read synchronously, so no handler
//! runs in the master and nothing signal-related leaks into a forked worker except the
//! blocked mask, which the worker clears), the master's IPC inbox (worker → master control
//! messages), the admin HTTP listener and the ctl unix socket, and their connections.
//!
//! | signal          | action                                                          |
//! |-----------------|-----------------------------------------------------------------|
//! | SIGHUP          | reload: validate the file; if valid send it to every worker, which applies it to new transactions in place (no restart, nothing in flight is lost); if not, log the exact error and keep running |
//! | SIGTERM, SIGINT | graceful stop: workers drain (finish what is in flight, up to `general.drain_timeout`) and exit; the master exits 0 |
//! | SIGQUIT         | immediate stop: SIGKILL the workers, exit 0                      |
//! | SIGUSR1         | reopen the log file, in the master and in every worker          |
//! | SIGCHLD         | reap; a dead worker is replaced in the same slot at once (same sockets, same inbox) |

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, UnixListener};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use shared::config::Config;
use shared::ipc::{self, Control, Frame, Inbox, Outbox};
use shared::metrics::WorkerStats;
use shared::store::Store;
use socket2::{Domain, Protocol, Socket, Type};

use crate::admin::{self, Conn, ConnKind, Request};
use crate::logging::Logging;
use crate::metrics::{self, MasterFacts, SlotFacts};
use crate::process;
use crate::steer_bpf;

/// Exit code of a worker that cannot run with its configuration: never respawned (it would
/// only crash again).
pub const EXIT_FATAL: i32 = 2;

const MANAGED: [Signal; 6] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
];

const SIGNALS: Token = Token(0);
const INBOX: Token = Token(1);
const HTTP: Token = Token(2);
const CTL: Token = Token(3);
const FIRST_CONN: usize = 16;
/// How long a scrape or `ctl status` waits for the workers' counters.
const GATHER_TIMEOUT: Duration = Duration::from_millis(500);
/// A worker that dies younger than this is replaced only when it reaches this age, so a
/// crash loop (say, a store that cannot be opened) costs two forks a second, not a spin.
const MIN_WORKER_LIFE: Duration = Duration::from_millis(500);
/// Most admin/ctl connections open at once; more are refused.
const MAX_CONNS: usize = 64;

struct Slot {
    /// This slot's socket on every listener, in config order; kept for the master's life so
    /// a replacement worker inherits the same sockets (no lost or remapped flows).
    sockets: Vec<UdpSocket>,
    /// This slot's relay socket of every `worker_ports` listener, as (listener index, socket):
    /// bound here for the same reasons, so a replacement worker relays from the same port
    /// (responses to its predecessor's requests still reach this slot) with the listener's
    /// receive buffer (a worker that stalls for a moment must not lose responses).
    worker_ports: Vec<(usize, UdpSocket)>,
    /// The worker's inbox, kept so a replacement inherits it (and what is queued in it).
    inbox: Inbox,
    pid: Option<Pid>,
    started: Instant,
    restarts: u64,
    /// Generation the worker last confirmed (Ready or Reloaded).
    generation: u64,
    /// A replacement is due at this time (see [`MIN_WORKER_LIFE`]).
    respawn_at: Option<Instant>,
}

/// A collection of worker counters in progress, for one scrape or `ctl status`.
struct Gather {
    id: u64,
    conn: Token,
    deadline: Instant,
    waiting: Vec<usize>,
    got: Vec<(usize, WorkerStats)>,
}

pub struct Master {
    config_path: PathBuf,
    config: Config,
    /// The text of the configuration file the running generation came from.
    config_text: String,
    slots: Vec<Slot>,
    /// Write ends of every worker's inbox, by slot: handed to every worker (to steer to each
    /// other) and used by the master for control messages.
    outboxes: Vec<Outbox>,
    master_inbox: Inbox,
    master_outbox: Outbox,
    http: Option<TcpListener>,
    ctl: Option<UnixListener>,
    ctl_path: PathBuf,
    generation: u64,
    reloads_ok: u64,
    reloads_failed: u64,
    started: Instant,
    logging: Logging,
    /// The master's own handle on the LMDB store: stale-reader cleanup when a worker dies,
    /// periodic flushes, statistics. Workers open their own after fork.
    store: Store,
    last_sync: Instant,
    last_sweep: Instant,
    last_binding_sweep: Instant,
    /// Where the next slice of the binding expiry sweep starts (empty: the first binding).
    sweep_from: Vec<u8>,
    /// Bindings per slice in the current pass ([`shared::store::expiry_slice`]).
    sweep_slice: usize,
    /// Bindings expired so far in the current pass over the table.
    swept: usize,
    /// Digest nonce-counts, shared with every worker forked from here.
    nonces: shared::nonces::NonceTable,
}

impl Master {
    /// Bind every listener once per worker slot, the admin HTTP address and the ctl socket;
    /// create the IPC channels. Everything that can fail because of the environment fails
    /// here, before any worker exists.
    pub fn new(config_path: &Path, config: Config, logging: Logging) -> Result<Master, String> {
        let config_text = std::fs::read_to_string(config_path)
            .map_err(|e| format!("{}: cannot read: {e}", config_path.display()))?;
        let n = config.worker_count();
        let mut slots = Vec::with_capacity(n);
        let mut outboxes = Vec::with_capacity(n);
        for slot in 0..n {
            let mut sockets = Vec::new();
            for l in &config.listen {
                let addr: SocketAddr = l
                    .address
                    .parse()
                    .map_err(|_| format!("listen address {:?} is invalid", l.address))?;
                let s = bind_udp(addr, l.receive_buffer, true)
                    .map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
                if slot == 0 {
                    let got =
                        Socket::from(s.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?)
                            .recv_buffer_size()
                            .unwrap_or(0);
                    tracing::info!(listener = %l.name, %addr, receive_buffer = got, requested = l.receive_buffer, "listening (udp, SO_REUSEPORT, one socket per worker)");
                }
                sockets.push(s);
            }
            let mut worker_ports = Vec::new();
            for (li, l) in config
                .listen
                .iter()
                .enumerate()
                .filter(|(_, l)| l.worker_ports)
            {
                // Validated with the config; the listener itself was bound just above.
                let Ok(addr) = l.address.parse::<SocketAddr>() else {
                    continue;
                };
                let any_port = SocketAddr::new(addr.ip(), 0);
                let s = bind_udp(any_port, l.receive_buffer, false).map_err(|e| {
                    format!("cannot bind the worker port of listener {}: {e}", l.name)
                })?;
                worker_ports.push((li, s));
            }
            let (tx, rx) = ipc::channel().map_err(|e| format!("cannot create IPC channel: {e}"))?;
            outboxes.push(tx);
            slots.push(Slot {
                sockets,
                worker_ports,
                inbox: rx,
                pid: None,
                started: Instant::now(),
                restarts: 0,
                generation: 1,
                respawn_at: None,
            });
        }
        for (li, l) in config.listen.iter().enumerate() {
            if l.steering != "random" || n < 2 {
                continue;
            }
            let first = slots.first().and_then(|s: &Slot| s.sockets.get(li));
            if let Some(sock) = first {
                match steer_bpf::attach_random(sock, n) {
                    Ok(()) => {
                        tracing::info!(listener = %l.name, "reuseport steering: random over {n} workers")
                    }
                    // Still correct without it (ownership steering over IPC), only less even.
                    Err(e) => {
                        tracing::warn!(listener = %l.name, error = %e, "cannot attach the reuseport steering program; using the kernel's 4-tuple hash")
                    }
                }
            }
        }
        let (master_outbox, master_inbox) =
            ipc::channel().map_err(|e| format!("cannot create IPC channel: {e}"))?;

        let http = if config.admin.address.is_empty() {
            None
        } else {
            let addr: SocketAddr = config
                .admin
                .address
                .parse()
                .map_err(|_| format!("admin.address {:?} is invalid", config.admin.address))?;
            let l = TcpListener::bind(addr)
                .map_err(|e| format!("cannot bind admin HTTP {addr}: {e}"))?;
            tracing::info!(%addr, "admin HTTP listening (/metrics, /health)");
            Some(l)
        };
        let store = Store::open_with(Path::new(&config.store.path), &config.store.options())
            .map_err(|e| e.to_string())?;
        match store.stat() {
            Ok(st) => {
                tracing::info!(path = %config.store.path, registrations = st.registrations, subscribers = st.subscribers, bans = st.bans, used_bytes = st.used_bytes(), "store opened")
            }
            Err(e) => return Err(e.to_string()),
        }
        // Destination health is learned again after a start: a core that was down when
        // sipedge last stopped must not stay shunned until its next probe.
        let mut stale = Vec::new();
        for set in &config.dispatcher {
            for (uri, _) in store.dest_states(&set.name).map_err(|e| e.to_string())? {
                stale.push((set.name.clone(), uri));
            }
        }
        if !stale.is_empty() {
            store
                .write(|w| {
                    for (set, uri) in &stale {
                        w.delete_dest(set, uri)?;
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            tracing::info!(
                destinations = stale.len(),
                "dispatcher health from the last run cleared: every destination starts active"
            );
        }
        // The nonce secret every worker verifies digest nonces with, when the configuration
        // gives none: random, made once and kept in the store (nonces survive restarts).
        if config.auth.secret.is_empty() && worker::auth::stored_secret(&store).is_none() {
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
                .map_err(|e| format!("cannot read /dev/urandom for the nonce secret: {e}"))?;
            store
                .write(|w| {
                    for (i, k) in worker::auth::SECRET_KEYS.iter().enumerate() {
                        let mut v = [0u8; 8];
                        v.copy_from_slice(bytes.get(i * 8..i * 8 + 8).unwrap_or(&[1; 8]));
                        let v = u64::from_be_bytes(v).max(1);
                        w.reset_counter(k)?;
                        w.incr(k, v)?;
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
        }
        // Mapped before any fork so that every worker, a respawned one too, shares it; its
        // size is fixed until the next start.
        let nonces = shared::nonces::NonceTable::new(config.auth.nonce_slots).map_err(|e| {
            format!(
                "cannot map the nonce-count table ({} slots): {e}",
                config.auth.nonce_slots
            )
        })?;
        let ctl_path = PathBuf::from(&config.admin.ctl_socket);
        let ctl = bind_ctl(&ctl_path)?;
        tracing::info!(path = %ctl_path.display(), "ctl socket listening");

        Ok(Master {
            config_path: config_path.to_path_buf(),
            config,
            config_text,
            slots,
            outboxes,
            master_inbox,
            master_outbox,
            http,
            ctl: Some(ctl),
            ctl_path,
            generation: 1,
            reloads_ok: 0,
            reloads_failed: 0,
            started: Instant::now(),
            logging,
            store,
            last_sync: Instant::now(),
            last_sweep: Instant::now(),
            last_binding_sweep: Instant::now(),
            sweep_from: Vec::new(),
            sweep_slice: shared::store::EXPIRY_SLICE,
            nonces,
            swept: 0,
        })
    }

    /// Run until stopped; returns the process exit code.
    pub fn run(mut self) -> i32 {
        let code = self.run_loop();
        let _ = std::fs::remove_file(&self.ctl_path);
        code
    }

    fn run_loop(&mut self) -> i32 {
        let mut mask = SigSet::empty();
        for s in MANAGED {
            mask.add(s);
        }
        if let Err(e) = mask.thread_block() {
            tracing::error!(error = %e, "cannot block signals");
            return 1;
        }
        let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot create signalfd");
                return 1;
            }
        };
        let mut poll = match self.register(&sfd) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot set up the master's event loop");
                return 1;
            }
        };
        let child_closes = self.master_only_fds(&sfd, &poll);
        // Logged before the fork so that the line is in the log by the time any worker answers.
        tracing::info!(
            workers = self.slots.len(),
            pid = std::process::id(),
            "sipedge started"
        );
        for i in 0..self.slots.len() {
            self.spawn(i, &child_closes);
        }

        let mut events = Events::with_capacity(64);
        let mut conns: HashMap<Token, Conn> = HashMap::new();
        let mut next_conn = FIRST_CONN;
        let mut gathers: Vec<Gather> = Vec::new();
        let mut next_gather: u64 = 1;
        let mut stopping: Option<Instant> = None;
        let mut buf = vec![0u8; ipc::MAX_FRAME];
        loop {
            let respawn_pending = self.slots.iter().any(|s| s.respawn_at.is_some());
            let timeout = if gathers.is_empty() && stopping.is_none() && !respawn_pending {
                Duration::from_millis(500)
            } else {
                Duration::from_millis(50)
            };
            if let Err(e) = poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "master poll failed");
                    return 1;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    SIGNALS => {
                        while let Ok(Some(info)) = sfd.read_signal() {
                            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                                continue;
                            };
                            match sig {
                                // Reaping below runs on every turn.
                                Signal::SIGCHLD => {}
                                Signal::SIGTERM | Signal::SIGINT if stopping.is_none() => {
                                    tracing::info!(signal = %sig, drain_timeout = self.config.general.drain_timeout, "graceful stop");
                                    stopping = Some(Instant::now());
                                    let timeout_ms = self.config.general.drain_timeout * 1000;
                                    self.broadcast(&Control::Drain { timeout_ms });
                                }
                                Signal::SIGQUIT => {
                                    tracing::info!("immediate stop");
                                    self.signal_all(Signal::SIGKILL);
                                    self.reap_all_blocking();
                                    return 0;
                                }
                                Signal::SIGHUP if stopping.is_none() => {
                                    let _ = self.reload();
                                }
                                Signal::SIGUSR1 => {
                                    if let Err(e) = self.logging.reopen() {
                                        tracing::error!(error = %e, "cannot reopen log file");
                                    }
                                    self.broadcast(&Control::ReopenLogs);
                                }
                                _ => {}
                            }
                        }
                    }
                    INBOX => self.drain_inbox(&mut buf, &mut gathers),
                    HTTP | CTL => {
                        accept_all(
                            self.http.as_ref(),
                            self.ctl.as_ref(),
                            ev.token(),
                            &poll,
                            &mut conns,
                            &mut next_conn,
                        );
                    }
                    token => {
                        let Some(conn) = conns.get_mut(&token) else {
                            continue;
                        };
                        let done = match conn.on_event(ev.is_readable(), ev.is_writable()) {
                            admin::Step::Request(req) => {
                                self.on_request(req, token, conn, &mut gathers, &mut next_gather);
                                conn.flush()
                            }
                            admin::Step::Continue => false,
                            admin::Step::Done => true,
                        };
                        if done {
                            if let Some(mut c) = conns.remove(&token) {
                                c.deregister(poll.registry());
                            }
                        }
                    }
                }
            }
            self.finish_gathers(&mut gathers, &mut conns, &poll);
            // The store is opened NO_SYNC: flush it every `store.sync_interval_ms`, so a
            // power cut loses at most that much of registrations and counters.
            if self.last_sync.elapsed() >= Duration::from_millis(self.config.store.sync_interval_ms)
            {
                self.last_sync = Instant::now();
                if let Err(e) = self.store.sync() {
                    tracing::warn!(error = %e, "store flush failed");
                }
            }
            // Bans and counters: small tables, a full scan every few seconds.
            if self.last_sweep.elapsed() >= SWEEP_EVERY {
                self.last_sweep = Instant::now();
                if let Err(e) = self.store.expire_bans(unix_now()) {
                    tracing::warn!(error = %e, "ban expiry sweep failed");
                }
                if let Err(e) = self.expire_counters(unix_now()) {
                    tracing::warn!(error = %e, "counter expiry sweep failed");
                }
            }
            // The registrar's expiry sweep: a slice a second, sized so a pass takes about
            // `EXPIRY_PASS_SECS` (50 s at 1,000,000 bindings).
            if self.last_binding_sweep.elapsed() >= Duration::from_secs(1) {
                self.last_binding_sweep = Instant::now();
                self.sweep_bindings(unix_now());
            }
            self.reap(stopping.is_some(), &child_closes);
            if stopping.is_none() {
                self.respawn_due(&child_closes);
            }
            if let Some(t) = stopping {
                if self.live_workers() == 0 {
                    tracing::info!("all workers stopped, exiting");
                    return 0;
                }
                let grace =
                    Duration::from_secs(self.config.general.drain_timeout) + Duration::from_secs(1);
                if t.elapsed() > grace {
                    tracing::warn!("drain timeout passed, killing workers");
                    self.signal_all(Signal::SIGKILL);
                }
            }
        }
    }

    fn register(&mut self, sfd: &SignalFd) -> io::Result<Poll> {
        let poll = Poll::new()?;
        let reg = poll.registry();
        reg.register(
            &mut SourceFd(&sfd.as_fd().as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        reg.register(
            &mut SourceFd(&self.master_inbox.raw_fd()),
            INBOX,
            Interest::READABLE,
        )?;
        if let Some(h) = self.http.as_mut() {
            reg.register(h, HTTP, Interest::READABLE)?;
        }
        if let Some(c) = self.ctl.as_mut() {
            reg.register(c, CTL, Interest::READABLE)?;
        }
        Ok(poll)
    }

    /// Descriptors only the master uses: a forked worker closes them first thing.
    fn master_only_fds(&self, sfd: &SignalFd, poll: &Poll) -> Vec<RawFd> {
        // mio's epoll descriptor too: the child builds its own loop.
        let mut fds = vec![
            sfd.as_fd().as_raw_fd(),
            self.master_inbox.raw_fd(),
            poll.as_raw_fd(),
        ];
        if let Some(h) = &self.http {
            fds.push(h.as_raw_fd());
        }
        if let Some(c) = &self.ctl {
            fds.push(c.as_raw_fd());
        }
        fds
    }

    fn live_workers(&self) -> usize {
        self.slots.iter().filter(|s| s.pid.is_some()).count()
    }

    fn signal_all(&self, sig: Signal) {
        for s in &self.slots {
            if let Some(pid) = s.pid {
                let _ = kill(pid, sig);
            }
        }
    }

    /// Send a control message to every live worker.
    fn broadcast(&self, c: &Control) {
        for (i, s) in self.slots.iter().enumerate() {
            if s.pid.is_none() {
                continue;
            }
            if let Some(Err(e)) = self.outboxes.get(i).map(|o| o.send_control(c)) {
                tracing::warn!(slot = i, error = %e, "cannot send control message to worker");
            }
        }
    }

    fn reap_all_blocking(&mut self) {
        while let Ok(status) = waitpid(None, None) {
            if matches!(status, WaitStatus::StillAlive) {
                break;
            }
        }
    }

    /// Collect dead workers; replace them unless stopping.
    fn reap(&mut self, stopping: bool, child_closes: &[RawFd]) {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(s) => s,
            };
            let (pid, how, fatal) = match status {
                WaitStatus::Exited(pid, code) => {
                    (pid, format!("exited with code {code}"), code == EXIT_FATAL)
                }
                WaitStatus::Signaled(pid, sig, _) => (pid, format!("killed by {sig}"), false),
                _ => continue,
            };
            let Some(i) = self.slots.iter().position(|s| s.pid == Some(pid)) else {
                continue;
            };
            // A worker killed inside a read transaction leaves its reader slot taken.
            match self.store.reader_check() {
                Ok(0) => {}
                Ok(n) => tracing::info!(slot = i, cleared = n, "stale store readers cleared"),
                Err(e) => tracing::warn!(error = %e, "store reader check failed"),
            }
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            slot.pid = None;
            if stopping {
                tracing::info!(slot = i, %pid, "worker stopped: {how}");
            } else if fatal {
                tracing::error!(slot = i, %pid, "worker {how} (fatal configuration error): not restarting");
            } else {
                slot.restarts += 1;
                let at = slot.started + MIN_WORKER_LIFE;
                if at > Instant::now() {
                    tracing::warn!(slot = i, %pid, "worker {how}: restarting in {} ms (it lived {} ms)", (at - Instant::now()).as_millis(), slot.started.elapsed().as_millis());
                    slot.respawn_at = Some(at);
                } else {
                    tracing::warn!(slot = i, %pid, "worker {how}: restarting");
                    self.spawn(i, child_closes);
                }
            }
        }
    }

    /// Replacements whose time has come.
    fn respawn_due(&mut self, child_closes: &[RawFd]) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let due = self
                .slots
                .get(i)
                .and_then(|s| s.respawn_at)
                .is_some_and(|at| at <= now);
            if due {
                if let Some(s) = self.slots.get_mut(i) {
                    s.respawn_at = None;
                }
                self.spawn(i, child_closes);
            }
        }
    }

    /// Validate the configuration file and, if valid, send it to every worker. Listener and
    /// worker-count changes need a restart: they are logged and left out.
    pub fn reload(&mut self) -> Result<u64, String> {
        let text = match std::fs::read_to_string(&self.config_path) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("{}: cannot read: {e}", self.config_path.display());
                tracing::error!("reload failed, keeping the running configuration: {msg}");
                self.reloads_failed += 1;
                return Err(msg);
            }
        };
        let new = match load_usable(&text, &self.config_path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload failed, keeping the running configuration: {e}");
                self.reloads_failed += 1;
                return Err(e);
            }
        };
        if new.listen != self.config.listen
            || new.worker_count() != self.slots.len()
            || new.admin != self.config.admin
            || new.store != self.config.store
            || new.auth.nonce_slots != self.config.auth.nonce_slots
        {
            tracing::warn!(
                "listener, worker-count, admin, store and auth.nonce_slots changes need a restart; applying the rest"
            );
        }
        let mut applied = new;
        applied.listen = self.config.listen.clone();
        applied.admin = self.config.admin.clone();
        applied.store = self.config.store.clone();
        applied.auth.nonce_slots = self.config.auth.nonce_slots;
        applied.general.workers = self.slots.len();
        self.config = applied;
        self.config_text = text;
        self.generation += 1;
        self.reloads_ok += 1;
        self.broadcast(&Control::Reload {
            generation: self.generation,
            config: self.config_text.clone(),
        });
        tracing::info!(generation = self.generation, "configuration reloaded");
        Ok(self.generation)
    }

    fn spawn(&mut self, i: usize, child_closes: &[RawFd]) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let setup = (|| -> io::Result<worker::event_loop::Setup> {
            let sockets = slot
                .sockets
                .iter()
                .map(|s| s.try_clone())
                .collect::<io::Result<Vec<_>>>()?;
            let worker_ports = slot
                .worker_ports
                .iter()
                .map(|(li, s)| Ok((*li, s.try_clone()?)))
                .collect::<io::Result<Vec<_>>>()?;
            let peers = self
                .outboxes
                .iter()
                .map(Outbox::try_clone)
                .collect::<io::Result<Vec<_>>>()?;
            let logging = self.logging.clone();
            Ok(worker::event_loop::Setup {
                slot: i,
                generation: self.generation,
                sockets,
                worker_ports,
                inbox: slot.inbox.try_clone()?,
                peers,
                master: self.master_outbox.try_clone()?,
                config: self.config.clone(),
                nonces: self.nonces.clone(),
                reopen_logs: Box::new(move || {
                    if let Err(e) = logging.reopen() {
                        tracing::error!(error = %e, "cannot reopen log file");
                    }
                }),
            })
        })();
        let setup = match setup {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(slot = i, error = %e, "cannot prepare worker (out of descriptors?)");
                return;
            }
        };
        let generation = self.generation;
        let closes = child_closes.to_vec();
        // The setup's descriptors are duplicates: the child takes them, the parent drops its
        // copies when `spawn` returns (the closure is dropped unused in the parent).
        let res = process::spawn(move || worker_main(setup, &closes));
        match res {
            Ok(pid) => {
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.pid = Some(pid);
                    slot.started = Instant::now();
                    slot.generation = generation;
                }
                tracing::info!(slot = i, %pid, generation, "worker started");
            }
            Err(e) => tracing::error!(slot = i, error = %e, "fork failed"),
        }
    }

    /// Control messages from workers.
    fn drain_inbox(&mut self, buf: &mut [u8], gathers: &mut [Gather]) {
        loop {
            let frame = match self.master_inbox.recv(buf) {
                Ok(None) => return,
                Ok(Some(f)) => f,
                Err(e) => {
                    tracing::error!(error = %e, "master inbox read failed");
                    return;
                }
            };
            match frame {
                Ok(Frame::Control(Control::Stats { id, slot, stats })) => {
                    let slot = usize::from(slot);
                    if let Some(g) = gathers.iter_mut().find(|g| g.id == id) {
                        g.waiting.retain(|s| *s != slot);
                        g.got.push((slot, *stats));
                    }
                }
                Ok(Frame::Control(Control::Ready {
                    slot, generation, ..
                })) => {
                    if let Some(s) = self.slots.get_mut(usize::from(slot)) {
                        s.generation = generation;
                    }
                }
                Ok(Frame::Control(Control::Reloaded {
                    slot,
                    generation,
                    error,
                })) => match error {
                    None => {
                        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
                            s.generation = generation;
                        }
                    }
                    Some(e) => {
                        tracing::error!(slot, generation, error = %e, "worker rejected reload")
                    }
                },
                Ok(other) => tracing::debug!(?other, "unexpected frame in master inbox"),
                Err(e) => tracing::warn!(error = %e, "bad frame in master inbox"),
            }
        }
    }

    /// A complete admin or ctl request.
    fn on_request(
        &mut self,
        req: Request,
        token: Token,
        conn: &mut Conn,
        gathers: &mut Vec<Gather>,
        next_gather: &mut u64,
    ) {
        match req {
            Request::Metrics | Request::Status => {
                let id = *next_gather;
                *next_gather += 1;
                let live: Vec<usize> = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.pid.is_some())
                    .map(|(i, _)| i)
                    .collect();
                let mut waiting = Vec::new();
                for i in live {
                    if let Some(Ok(())) = self
                        .outboxes
                        .get(i)
                        .map(|o| o.send_control(&Control::StatsRequest { id }))
                    {
                        waiting.push(i);
                    }
                }
                conn.pending = Some(req);
                gathers.push(Gather {
                    id,
                    conn: token,
                    deadline: Instant::now() + GATHER_TIMEOUT,
                    waiting,
                    got: Vec::new(),
                });
            }
            Request::Health => {
                let dead: Vec<usize> = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.pid.is_none())
                    .map(|(i, _)| i)
                    .collect();
                if dead.is_empty() {
                    conn.respond_http(200, "text/plain", b"ok\n");
                } else {
                    let body = format!("workers down: {dead:?}\n");
                    conn.respond_http(503, "text/plain", body.as_bytes());
                }
            }
            Request::Reload => {
                let body = match self.reload() {
                    Ok(generation) => serde_json::json!({"ok": true, "generation": generation}),
                    Err(e) => serde_json::json!({"ok": false, "error": e}),
                };
                conn.respond_ctl(&body);
            }
            Request::Ban { op, ip } => {
                let body = match (op.as_str(), ip) {
                    ("list", _) => self.store.list_bans(100_000).map(|bans| {
                        let now = unix_now();
                        let v: Vec<serde_json::Value> = bans
                            .iter()
                            .filter(|b| b.until > now)
                            .map(|b| serde_json::json!({"ip": b.ip, "expires_in": b.until - now, "reason": b.reason}))
                            .collect();
                        serde_json::json!({"ok": true, "bans": v})
                    }),
                    ("del", Some(ip)) => {
                        let r = self.store.unban(&ip);
                        if matches!(r, Ok(true)) {
                            tracing::info!(%ip, "ban lifted by sipedge ctl");
                        }
                        r.map(|d| serde_json::json!({"ok": true, "deleted": u64::from(d)}))
                    }
                    _ => Ok(serde_json::json!({"ok": false, "error": "ban del needs an IP"})),
                };
                conn.respond_ctl(
                    &body.unwrap_or_else(
                        |e| serde_json::json!({"ok": false, "error": e.to_string()}),
                    ),
                );
            }
            Request::Subscriber(v) => {
                conn.respond_ctl(&self.subscriber_command(&v));
            }
            Request::Reg { op, aor } => {
                conn.respond_ctl(&self.reg_command(&op, aor.as_deref()));
            }
            Request::Dispatcher => {
                let dests = metrics::dispatcher_view(&self.config, &self.store);
                conn.respond_ctl(&serde_json::json!({"ok": true, "destinations": dests}));
            }
            Request::NotFound => conn.respond_http(404, "text/plain", b"not found\n"),
            Request::Malformed(why) => match conn.kind {
                ConnKind::Http => conn.respond_http(400, "text/plain", why.as_bytes()),
                ConnKind::Ctl => conn.respond_ctl(&serde_json::json!({"ok": false, "error": why})),
            },
        }
    }

    /// Answer the scrapes and status requests whose workers have all answered (or timed out).
    fn finish_gathers(
        &self,
        gathers: &mut Vec<Gather>,
        conns: &mut HashMap<Token, Conn>,
        poll: &Poll,
    ) {
        let now = Instant::now();
        let mut i = 0;
        while i < gathers.len() {
            let ready = gathers
                .get(i)
                .is_some_and(|g| g.waiting.is_empty() || now >= g.deadline);
            if !ready {
                i += 1;
                continue;
            }
            let g = gathers.swap_remove(i);
            let Some(conn) = conns.get_mut(&g.conn) else {
                continue; // the client went away
            };
            let facts = self.facts(&g);
            match conn.pending.take() {
                Some(Request::Metrics) => {
                    let body = metrics::render(&facts);
                    conn.respond_http(200, "text/plain; version=0.0.4", body.as_bytes());
                }
                Some(Request::Status) => conn.respond_ctl(&metrics::status_json(&facts)),
                _ => {}
            }
            if conn.flush() {
                if let Some(mut c) = conns.remove(&g.conn) {
                    c.deregister(poll.registry());
                }
            }
        }
    }

    /// One slice of the binding expiry sweep; a line at the end of each pass that expired
    /// something.
    fn sweep_bindings(&mut self, now: u64) {
        if self.sweep_from.is_empty() {
            // A new pass: size its slices to the table.
            self.sweep_slice = match self.store.count_bindings() {
                Ok(n) => shared::store::expiry_slice(n),
                Err(_) => shared::store::EXPIRY_SLICE,
            };
        }
        match self
            .store
            .expire_bindings_slice(&self.sweep_from, self.sweep_slice, now)
        {
            Ok((n, next)) => {
                self.swept += n;
                match next {
                    Some(k) => self.sweep_from = k,
                    None => {
                        if self.swept > 0 {
                            tracing::info!(expired = self.swept, "registrar bindings expired");
                        }
                        self.sweep_from.clear();
                        self.swept = 0;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "binding expiry sweep failed"),
        }
    }

    /// Drop flood / failed-auth windows that ended.
    fn expire_counters(&self, now: u64) -> Result<usize, shared::store::StoreError> {
        let window_life = self
            .config
            .auth
            .lockout_seconds
            .max(self.config.security.flood_window)
            .saturating_mul(2);
        let mut n = 0;
        // Flood and failed-auth windows are keyed by source or user: every key is read, a
        // slice per write transaction (an attack from many addresses leaves many).
        for prefix in [&b"flood/"[..], &b"authfail/"[..]] {
            let mut from = Vec::new();
            loop {
                let (gone, next) = self.store.write(|w| {
                    w.delete_counters_slice(prefix, &from, shared::store::EXPIRY_SLICE, |_, v| {
                        // A window's value starts with its start time (8 bytes, LE).
                        v.get(..8)
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .is_none_or(|b| u64::from_le_bytes(b).saturating_add(window_life) < now)
                    })
                })?;
                n += gone;
                match next {
                    Some(k) => from = k,
                    None => break,
                }
            }
        }
        Ok(n)
    }

    /// `sipedge ctl subscriber ...`: credentials in the store (HA1 values for the configured
    /// realm; passwords are not kept).
    fn subscriber_command(&self, v: &serde_json::Value) -> serde_json::Value {
        let realm = self.config.auth.realm.clone();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let valid = |u: &str| !u.is_empty() && !u.contains(['\0', ':', '@']);
        let res = match s("op").as_deref() {
            Some("add") => match (s("user"), s("password")) {
                (Some(u), Some(p)) if valid(&u) && !p.is_empty() => self
                    .store
                    .put_subscriber(&worker::auth::subscriber(&u, &realm, &p))
                    .map(|()| serde_json::json!({"ok": true, "added": 1, "realm": realm})),
                _ => return serde_json::json!({"ok": false, "error": "subscriber add needs USER (no ':' or '@') and PASSWORD"}),
            },
            Some("import") => {
                let rows: Vec<(String, String)> = v
                    .get("rows")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|r| {
                        let a = r.as_array()?;
                        Some((a.first()?.as_str()?.to_string(), a.get(1)?.as_str()?.to_string()))
                    })
                    .collect();
                if let Some((u, _)) = rows.iter().find(|(u, p)| !valid(u) || p.is_empty()) {
                    return serde_json::json!({"ok": false, "error": format!("bad row for user {u:?}")});
                }
                self.store
                    .write(|w| {
                        for (u, p) in &rows {
                            w.put_subscriber(&worker::auth::subscriber(u, &realm, p))?;
                        }
                        Ok(())
                    })
                    .map(|()| serde_json::json!({"ok": true, "added": rows.len(), "realm": realm}))
            }
            Some("del") => match s("user") {
                Some(u) => self
                    .store
                    .delete_subscriber(&u, &realm)
                    .map(|d| serde_json::json!({"ok": true, "deleted": u64::from(d)})),
                None => return serde_json::json!({"ok": false, "error": "subscriber del needs USER"}),
            },
            Some("list") => self.store.list_subscribers(10_000).map(|l| {
                let users: Vec<serde_json::Value> = l
                    .iter()
                    .map(|x| serde_json::json!({"user": x.user, "realm": x.domain, "disabled": x.disabled}))
                    .collect();
                serde_json::json!({"ok": true, "subscribers": users})
            }),
            _ => return serde_json::json!({"ok": false, "error": "subscriber op: add, del, list or import"}),
        };
        res.unwrap_or_else(|e| serde_json::json!({"ok": false, "error": e.to_string()}))
    }

    /// `sipedge ctl reg ...`: the location service as the store holds it.
    fn reg_command(&self, op: &str, aor: Option<&str>) -> serde_json::Value {
        let now = unix_now();
        let view = |b: &shared::store::Binding| {
            serde_json::json!({
                "aor": b.aor,
                "contact": b.contact,
                "expires_in": b.expires_at.saturating_sub(now),
                "q": f64::from(b.q) / 1000.0,
                "received": b.received,
                "nat": b.flags & worker::registrar::FLAG_NAT != 0,
                "call_id": b.call_id,
                "cseq": b.cseq,
                "user_agent": b.user_agent,
            })
        };
        let res = match (op, aor) {
            ("count", _) => self
                .store
                .count_bindings()
                .map(|n| serde_json::json!({"ok": true, "bindings": n})),
            ("show", Some(aor)) => self.store.bindings(aor).map(|bs| {
                serde_json::json!({"ok": true, "bindings": bs.iter().map(view).collect::<Vec<_>>()})
            }),
            ("show", None) => self.store.all_bindings(10_000).map(|bs| {
                serde_json::json!({"ok": true, "bindings": bs.iter().map(view).collect::<Vec<_>>()})
            }),
            ("del", Some(aor)) => self
                .store
                .delete_aor(aor)
                .map(|n| serde_json::json!({"ok": true, "deleted": n})),
            _ => return serde_json::json!({"ok": false, "error": "reg del needs an AOR"}),
        };
        res.unwrap_or_else(|e| serde_json::json!({"ok": false, "error": e.to_string()}))
    }

    fn facts(&self, g: &Gather) -> MasterFacts {
        let rcvbuf_drops = metrics::udp_drops_by_inode();
        let slots = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| SlotFacts {
                slot: i,
                pid: s.pid.map(|p| p.as_raw()),
                uptime: s.started.elapsed(),
                restarts: s.restarts,
                generation: s.generation,
                stats: g
                    .got
                    .iter()
                    .find(|(slot, _)| *slot == i)
                    .map(|(_, st)| st.clone()),
                rcvbuf_drops: s
                    .sockets
                    .iter()
                    .enumerate()
                    .zip(&self.config.listen)
                    .map(|((li, sock), l)| {
                        // A listener's drops include those of its worker port in this slot.
                        let own = s.worker_ports.iter().filter(|(wl, _)| *wl == li);
                        let drops = std::iter::once(sock)
                            .chain(own.map(|(_, p)| p))
                            .map(|sock| {
                                let ino = nix::sys::stat::fstat(sock.as_raw_fd())
                                    .map(|st| st.st_ino)
                                    .unwrap_or(0);
                                rcvbuf_drops.get(&ino).copied().unwrap_or(0)
                            })
                            .sum();
                        (l.name.clone(), drops)
                    })
                    .collect(),
            })
            .collect();
        MasterFacts {
            pid: std::process::id(),
            uptime: self.started.elapsed(),
            generation: self.generation,
            reloads_ok: self.reloads_ok,
            reloads_failed: self.reloads_failed,
            config_path: self.config_path.display().to_string(),
            slots,
            missing: g.waiting.len(),
            store: self.store.stat().ok(),
            dispatcher: metrics::dispatcher_view(&self.config, &self.store),
        }
    }
}

/// How often the master deletes expired bans, nonce-counts and counter windows.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parse and validate a configuration, and check that the workers can build their routing
/// table and dispatcher sets from it (regexes, hostnames): what `sipedge check`, start and
/// reload all require.
pub fn load_usable(text: &str, path: &Path) -> Result<Config, String> {
    let c = Config::from_str(text, path).map_err(|e| e.to_string())?;
    worker::proxy::build(&c).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(c)
}

/// Accept every pending connection on the admin HTTP or ctl listener.
fn accept_all(
    http: Option<&TcpListener>,
    ctl: Option<&UnixListener>,
    token: Token,
    poll: &Poll,
    conns: &mut HashMap<Token, Conn>,
    next: &mut usize,
) {
    loop {
        let conn = match token {
            HTTP => match http.map(TcpListener::accept) {
                Some(Ok((s, _))) => Conn::http(s),
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "admin accept");
                    return;
                }
                None => return,
            },
            _ => match ctl.map(UnixListener::accept) {
                Some(Ok((s, _))) => Conn::ctl(s),
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "ctl accept");
                    return;
                }
                None => return,
            },
        };
        if conns.len() >= MAX_CONNS {
            tracing::warn!("too many admin connections, refusing one");
            continue; // dropping `conn` closes it
        }
        let t = Token(*next);
        *next = if *next == usize::MAX - 1 {
            FIRST_CONN
        } else {
            *next + 1
        };
        let mut conn = conn;
        if conn.register(poll.registry(), t).is_ok() {
            conns.insert(t, conn);
        }
    }
}

/// Body of a worker process, right after fork.
fn worker_main(setup: worker::event_loop::Setup, master_only: &[RawFd]) -> i32 {
    // A worker never outlives its master (a crashed or SIGKILLed master must not leave
    // workers holding the port): the kernel sends us SIGTERM when the master dies.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    // Leave the master's world: close its descriptors, unblock signals, install our flags.
    for fd in master_only {
        let _ = nix::unistd::close(*fd);
    }
    let mut mask = SigSet::empty();
    for s in MANAGED {
        mask.add(s);
    }
    let _ = mask.thread_unblock();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            tracing::error!(error = %e, "cannot install signal handler");
            return EXIT_FATAL;
        }
    }
    if nix::unistd::getppid() == Pid::from_raw(1) {
        return 0; // the master died before the death signal was armed
    }
    let span = tracing::info_span!("worker", slot = setup.slot);
    let _guard = span.enter();
    match worker::event_loop::run(setup, &stop) {
        Ok(stats) => {
            tracing::info!(
                received = stats.received,
                replies = worker::stats::Counters::total(&stats.replies),
                forwarded = stats.ipc_forwarded,
                "worker exiting"
            );
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "worker event loop failed");
            1
        }
    }
}

/// A UDP socket for one worker slot: SO_REUSEPORT for a listener's shared port (never
/// SO_REUSEADDR, which lets a later bind steal the port), a large receive buffer (forced past
/// rmem_max when root).
fn bind_udp(addr: SocketAddr, rcvbuf: usize, reuse_port: bool) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if rcvbuf > 0 {
        let forced =
            nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf);
        if forced.is_err() {
            s.set_recv_buffer_size(rcvbuf)?;
        }
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Bind the ctl socket. A stale socket file from a dead master is replaced; a live master on
/// the same path is an error (two masters on one config).
fn bind_ctl(path: &Path) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("admin.ctl_socket: cannot create {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!(
                "admin.ctl_socket: {} is in use: is another sipedge running with this config?",
                path.display()
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    UnixListener::bind(path)
        .map_err(|e| format!("admin.ctl_socket: cannot bind {}: {e}", path.display()))
}
