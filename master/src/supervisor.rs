//! The master process: bind the listeners, fork the workers, keep them alive, and turn
//! signals into actions, nginx-style. The master never reads SIP traffic.
//!
//! Signals are blocked and read synchronously from a signalfd, so no handler runs in the
//! master and nothing signal-related is inherited by a forked worker except the blocked mask,
//! which the worker clears before installing its own handlers (a child's signal must never
//! wake the master).
//!
//! | signal          | action                                                          |
//! |-----------------|-----------------------------------------------------------------|
//! | SIGHUP          | reload: validate the file; if valid start a new generation of workers on the same sockets, then stop the old ones; if not, log the error and keep running |
//! | SIGTERM, SIGINT | graceful stop: workers finish and exit, master exits 0           |
//! | SIGQUIT         | immediate stop: SIGKILL the workers, exit 0                      |
//! | SIGUSR1         | reopen the log file                                             |
//! | SIGCHLD         | reap; a dead worker is replaced in the same slot at once        |

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use shared::config::Config;
use socket2::{Domain, Protocol, Socket, Type};

use crate::logging::Logging;
use crate::process;

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

struct Slot {
    /// This slot's socket on every listener, in config order; kept for the master's life so
    /// a replacement worker inherits the same sockets (no lost or remapped flows).
    sockets: Vec<UdpSocket>,
    pid: Option<Pid>,
    /// Workers of older generations still finishing after a reload.
    retiring: Vec<Pid>,
}

pub struct Master {
    config_path: PathBuf,
    config: Config,
    slots: Vec<Slot>,
    generation: u64,
    logging: Logging,
}

impl Master {
    /// Bind every listener once per worker slot.
    pub fn new(config_path: &Path, config: Config, logging: Logging) -> Result<Master, String> {
        let n = config.worker_count();
        let mut slots = Vec::with_capacity(n);
        for slot in 0..n {
            let mut sockets = Vec::new();
            for l in &config.listen {
                let addr: SocketAddr = l
                    .address
                    .parse()
                    .map_err(|_| format!("listen address {:?} is invalid", l.address))?;
                let s = bind_udp(addr, l.receive_buffer)
                    .map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
                if slot == 0 {
                    let got = s
                        .as_fd()
                        .try_clone_to_owned()
                        .ok()
                        .map(Socket::from)
                        .and_then(|s| s.recv_buffer_size().ok())
                        .unwrap_or(0);
                    tracing::info!(listener = %l.name, %addr, receive_buffer = got, requested = l.receive_buffer, "listening (udp, SO_REUSEPORT, one socket per worker)");
                }
                sockets.push(s);
            }
            slots.push(Slot {
                sockets,
                pid: None,
                retiring: Vec::new(),
            });
        }
        Ok(Master {
            config_path: config_path.to_path_buf(),
            config,
            slots,
            generation: 1,
            logging,
        })
    }

    /// Run until stopped; returns the process exit code.
    pub fn run(mut self) -> i32 {
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
        for i in 0..self.slots.len() {
            self.spawn(i, sfd.as_raw_fd());
        }
        tracing::info!(
            workers = self.slots.len(),
            pid = std::process::id(),
            "sipedge started"
        );

        let mut stopping: Option<Instant> = None;
        loop {
            let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(500u16));
            while let Ok(Some(info)) = sfd.read_signal() {
                let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                    continue;
                };
                match sig {
                    // Reaping below runs on every turn, so coalesced SIGCHLDs are harmless.
                    Signal::SIGCHLD => {}
                    Signal::SIGTERM | Signal::SIGINT if stopping.is_none() => {
                        tracing::info!(signal = %sig, "graceful stop");
                        stopping = Some(Instant::now());
                        self.signal_all(Signal::SIGTERM);
                    }
                    Signal::SIGQUIT => {
                        tracing::info!("immediate stop");
                        self.signal_all(Signal::SIGKILL);
                        self.reap_all_blocking();
                        return 0;
                    }
                    Signal::SIGHUP if stopping.is_none() => self.reload(sfd.as_raw_fd()),
                    Signal::SIGUSR1 => {
                        if let Err(e) = self.logging.reopen() {
                            tracing::error!(error = %e, "cannot reopen log file");
                        }
                    }
                    _ => {}
                }
            }
            self.reap(stopping.is_some(), sfd.as_raw_fd());
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

    fn live_workers(&self) -> usize {
        self.slots
            .iter()
            .map(|s| usize::from(s.pid.is_some()) + s.retiring.len())
            .sum()
    }

    fn signal_all(&self, sig: Signal) {
        for s in &self.slots {
            for pid in s.pid.iter().chain(&s.retiring) {
                let _ = kill(*pid, sig);
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

    /// Collect dead workers; replace those of the current generation unless stopping.
    fn reap(&mut self, stopping: bool, sigfd: i32) {
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
            let Some(i) = self
                .slots
                .iter()
                .position(|s| s.pid == Some(pid) || s.retiring.contains(&pid))
            else {
                continue;
            };
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if slot.retiring.contains(&pid) {
                slot.retiring.retain(|p| *p != pid);
                tracing::info!(slot = i, %pid, "old-generation worker finished: {how}");
                continue;
            }
            slot.pid = None;
            if stopping {
                tracing::info!(slot = i, %pid, "worker stopped: {how}");
            } else if fatal {
                tracing::error!(slot = i, %pid, "worker {how} (fatal configuration error): not restarting");
            } else {
                tracing::warn!(slot = i, %pid, "worker {how}: restarting");
                self.spawn(i, sigfd);
            }
        }
    }

    /// SIGHUP: validate, then start a new generation on the same sockets and retire the old.
    fn reload(&mut self, sigfd: i32) {
        let new = match Config::load(&self.config_path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("reload failed, keeping the running configuration: {e}");
                return;
            }
        };
        if new.listen != self.config.listen || new.worker_count() != self.slots.len() {
            tracing::warn!("listener or worker-count changes need a restart; applying the rest");
        }
        let mut applied = new;
        applied.listen = self.config.listen.clone();
        applied.general.workers = self.slots.len();
        self.config = applied;
        self.generation += 1;
        for i in 0..self.slots.len() {
            let old = self.slots.get_mut(i).and_then(|s| s.pid.take());
            self.spawn(i, sigfd);
            if let (Some(pid), Some(slot)) = (old, self.slots.get_mut(i)) {
                slot.retiring.push(pid);
                let _ = kill(pid, Signal::SIGTERM);
            }
        }
        tracing::info!(generation = self.generation, "configuration reloaded");
    }

    fn spawn(&mut self, i: usize, sigfd: i32) {
        let Some(slot) = self.slots.get(i) else {
            return;
        };
        let sockets: Vec<UdpSocket> = slot
            .sockets
            .iter()
            .filter_map(|s| s.try_clone().ok())
            .collect();
        let config = self.config.clone();
        let generation = self.generation;
        let res = process::spawn(move || worker_main(i, generation, sockets, &config, sigfd));
        match res {
            Ok(pid) => {
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.pid = Some(pid);
                }
                tracing::info!(slot = i, %pid, generation, "worker started");
            }
            Err(e) => tracing::error!(slot = i, error = %e, "fork failed"),
        }
    }
}

/// Body of a worker process, right after fork.
fn worker_main(
    slot: usize,
    generation: u64,
    sockets: Vec<UdpSocket>,
    config: &Config,
    sigfd: i32,
) -> i32 {
    // A worker never outlives its master (a crashed or SIGKILLed master must not leave
    // workers holding the port): the kernel sends us SIGTERM when the master dies.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    // Leave the master's signal world: close its signalfd, unblock, install our own flags.
    let _ = nix::unistd::close(sigfd);
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
    let span = tracing::info_span!("worker", slot, generation);
    let _guard = span.enter();
    let ctx = worker::stateless::Context {
        limits: config.limits.to_proto(),
        local_hosts: local_hosts(config),
        server_line: format!("Server: {}", config.general.server_header).into_bytes(),
    };
    match worker::event_loop::run(sockets, &ctx, &stop) {
        Ok(stats) => {
            tracing::info!(
                received = stats.received,
                replies = stats.replies,
                malformed_dropped = stats.malformed_dropped,
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

/// Hosts that address sipedge itself in a Request-URI.
fn local_hosts(config: &Config) -> Vec<Vec<u8>> {
    let mut hosts: Vec<Vec<u8>> = vec![b"localhost".to_vec()];
    for l in &config.listen {
        if let Ok(addr) = l.address.parse::<SocketAddr>() {
            let ip = match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            };
            hosts.push(ip.into_bytes());
        }
        if !l.advertise.is_empty() {
            let host = l
                .advertise
                .rsplit_once(':')
                .map_or(l.advertise.as_str(), |(h, _)| h);
            hosts.push(host.as_bytes().to_vec());
        }
    }
    hosts
}

/// A UDP socket for one worker slot: SO_REUSEPORT (never SO_REUSEADDR, which lets a later
/// bind steal the port), a large receive buffer (forced past rmem_max when root).
fn bind_udp(addr: SocketAddr, rcvbuf: usize) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
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
