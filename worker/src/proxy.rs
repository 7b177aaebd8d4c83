//! The transaction-stateful proxy core (RFC 3261 §16 and §17), sans-IO.
//!
//! Fed parsed messages with their listener, source and the time, and timer expiries; writes
//! what must be sent into [`Sends`]. It owns the worker's server and client transactions and
//! their timers. What it does with a request:
//!
//! 1. ACK matching a server transaction that sent a non-2xx final: absorbed (hop-by-hop).
//!    Any other ACK (for a 2xx) is forwarded statelessly along its route (end to end).
//! 2. CANCEL matching a pending INVITE: `200` to the CANCEL, a CANCEL downstream (once a
//!    provisional has arrived, §9.1), and the `487` goes upstream. No match: `481`.
//! 3. A retransmission of a request with a server transaction: the last response again.
//! 4. Otherwise: Max-Forwards (`483`), OPTIONS to sipedge itself (`200`), loop detection
//!    (`482`, §16.3), Route pre-processing (§16.4: strict-router fix, our own Route popped),
//!    then the target: the next Route, else the Request-URI of an in-dialog request, else the
//!    routing table (dispatch to a set, reply, drop). Forwarding creates a server transaction
//!    (`100 Trying` for INVITE) and a client transaction with our Via on top, Max-Forwards
//!    decremented and Record-Route added when the rule asks.
//!
//! Responses are matched to their client transaction by our branch; provisional ones (not
//! 100) and finals go upstream through the server transaction. A final failure (a code the
//! set fails over on, or timer B/F) moves the request to the next destination of its
//! dispatcher set, up to the set's limit; when nothing is left the best response goes
//! upstream, or our own `503` when every attempt timed out.

use std::collections::HashMap as StdHashMap;

/// Transaction indexes hash every message's branch or Call-ID: foldhash is several times
/// cheaper than std's SipHash on these short keys, and its per-process random seed keeps
/// attacker-chosen keys from being aimed at one bucket.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use proto::headers::via::Via;
use proto::{reply, Editor, Edits, HeaderKind, Message, Method, Uri, Verdict, EMPTY_HEADER};

use crate::auth::{self, AuthConfig};
use crate::dispatcher::{Dispatcher, Outcome as DsOutcome, ProbeResult, SelectInput, StateChange};
use crate::registrar::{self, RegReply, RegistrarConfig};
use crate::routing::{Decision, RequestFacts, Router};
use crate::sends::Sends;
use crate::stateless::{self, Context};
use crate::stats::drop_reason;
use crate::steering::{self, fnv1a};
use crate::timers::TimerQueues;
use crate::txn::{
    client_key, server_key, Client, ClientState, Deadlines, Dispatch, Id, Server, ServerState,
    Side, Slab, TimerKey, TimerKind,
};

/// A listener as the proxy writes it into Via and Record-Route.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    pub name: String,
    pub addr: SocketAddr,
    /// `host:port` written in Via and Record-Route (the advertised address, or the bound one).
    pub hostport: String,
    /// The port a URI without one means us on (the bound port).
    pub port: u16,
    /// The kernel spreads this listener's datagrams over the workers (`steering = "random"`):
    /// requests needing no transaction are then answered where they land. With `hash`, one
    /// source reaches one worker and steering over IPC is what spreads its load.
    pub kernel_spread: bool,
}

/// Everything the proxy reads from the configuration; rebuilt on reload and applied to new
/// transactions only (transactions in flight keep what they captured).
pub struct ProxyConfig {
    pub ctx: Context,
    pub listeners: Vec<ListenerInfo>,
    pub router: Router,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    /// Timer B/F.
    pub timeout: Duration,
    pub timer_c: Duration,
    pub registrar: RegistrarConfig,
    pub auth: AuthConfig,
}

/// Build the proxy's view of a configuration: routing table, dispatcher sets (hostnames
/// resolved now), listeners and timers. The master calls it too, so that a configuration the
/// workers cannot use is refused by `sipedge check` and by reload.
pub fn build(config: &shared::config::Config) -> Result<(ProxyConfig, Dispatcher), String> {
    let ctx = Context::from_config(config);
    let mut listeners = Vec::with_capacity(config.listen.len());
    for l in &config.listen {
        let addr: SocketAddr = l
            .address
            .parse()
            .map_err(|_| format!("listen address {:?} is invalid", l.address))?;
        let hostport = if l.advertise.is_empty() {
            addr.to_string()
        } else {
            l.advertise.clone()
        };
        listeners.push(ListenerInfo {
            name: l.name.clone(),
            addr,
            hostport,
            port: addr.port(),
            kernel_spread: l.steering == "random",
        });
    }
    let router = Router::from_config(&config.route, &ctx.local_hosts)?;
    let mut registrar = RegistrarConfig::from_config(&config.registrar);
    // What a phone must not register as its Contact: our listeners, trusted peers, the core.
    registrar
        .protected_addrs
        .extend(listeners.iter().map(|l| l.addr));
    registrar.protected.extend(
        config
            .security
            .trusted
            .iter()
            .filter_map(|c| shared::config::routing::parse_cidr(c)),
    );
    let dispatcher = Dispatcher::from_config(&config.dispatcher)?;
    for set in dispatcher.sets() {
        registrar
            .protected_addrs
            .extend(set.dests.iter().map(|d| d.addr));
    }
    let t = &config.transaction;
    let t1 = Duration::from_millis(t.t1_ms);
    let cfg = ProxyConfig {
        ctx,
        listeners,
        router,
        t1,
        t2: Duration::from_millis(t.t2_ms),
        t4: Duration::from_millis(t.t4_ms),
        timeout: if t.timeout_ms == 0 {
            t1 * 64
        } else {
            Duration::from_millis(t.timeout_ms)
        },
        timer_c: Duration::from_secs(t.timer_c_s),
        registrar,
        auth: AuthConfig::from_config(&config.auth),
    };
    Ok((cfg, dispatcher))
}

/// Counters the proxy keeps (exported through the worker's stats).
#[derive(Debug, Default, Clone)]
pub struct ProxyStats {
    pub forwarded_requests: u64,
    pub forwarded_stateless: u64,
    pub relayed_responses: u64,
    pub retransmissions_sent: u64,
    pub retransmissions_absorbed: u64,
    pub failovers: u64,
    pub timeouts: u64,
    pub stray_responses: u64,
    /// Replies generated by the proxy core itself, by code (100, 408, 482, 483, 487, 503...).
    pub generated: Vec<(u16, u64)>,
    /// Requests dropped without an answer, by reason (`crate::stats::drop_reason`).
    pub drops: Vec<(&'static str, u64)>,
    /// REGISTERs handled by the registrar, by result (`ok`, `removed`, `query`, `too_brief`...).
    pub registrations: Vec<(&'static str, u64)>,
    /// Authentication steps by result (`ok`, `forbidden`, or why a challenge was sent).
    pub auth: Vec<(&'static str, u64)>,
}

/// The proxy core of one worker.
pub struct Proxy {
    pub cfg: ProxyConfig,
    pub dispatcher: Dispatcher,
    slot: usize,
    servers: Slab<Server>,
    server_index: HashMap<Box<[u8]>, Id>,
    clients: Slab<Client>,
    client_index: HashMap<Box<[u8]>, Id>,
    timers: TimerQueues<TimerKey>,
    edits: Edits,
    key: Vec<u8>,
    counter: u64,
    salt: u64,
    rng: u64,
    pub stats: ProxyStats,
    /// Health probes in flight: our branch → (set, destination, give-up time).
    probes: HashMap<Box<[u8]>, (usize, usize, Instant)>,
    /// Destination state changes for the event loop to log, count and publish in the store.
    changes: Vec<StateChange>,
    /// The shared store (registrar, location); `None` in tests that need none.
    store: Option<shared::store::Store>,
    /// The registrar's answer to the REGISTER being handled.
    reg_reply: Option<RegReply>,
    /// Per listener: this worker's own socket (index in the loop's socket list) and its
    /// `host:port` for Via, when the listener has `worker_ports`.
    worker_ports: Vec<Option<(usize, String)>>,
    /// The nonce secret the master generated into the store (used when `[auth] secret` is
    /// empty).
    stored_secret: Option<Vec<u8>>,
    /// The nonce-count table every worker shares, the worker count (its slots are every
    /// `workers`-th) and how many challenges this worker issued (plus a random start, so
    /// a respawned worker does not reissue its predecessor's latest slots).
    nonces: Option<(shared::nonces::NonceTable, usize)>,
    challenges: u64,
    /// NAT keep-alive OPTIONS in flight: our branch → (aor, contact).
    keepalives: HashMap<Box<[u8]>, (String, String)>,
    /// Give-up time of each keep-alive sent, in sending order (all wait the same time, so
    /// the front is always the next to give up).
    keepalive_deadlines: std::collections::VecDeque<(Instant, Box<[u8]>)>,
    /// Unanswered keep-alives in a row, per (aor, contact).
    keepalive_misses: HashMap<(String, String), u32>,
    next_keepalive: Option<Instant>,
    /// While a keep-alive round is under way: the binding key its next slice starts at.
    keepalive_round: Option<Vec<u8>>,
    /// Set while [`Proxy::try_stateless`] runs: stop before anything that needs state.
    local_only: bool,
    /// What `local_only` stopped at: the request needs its owner.
    needs_owner: bool,
}

/// Status of the pseudo-refusal that means "the registrar answered, see `reg_reply`".
const REGISTERED: u16 = 1;
/// Status of the pseudo-refusal that means "only the owner of this Call-ID may go on".
const NEEDS_OWNER: u16 = 2;

/// Length of the unique part of our branches (hex digits).
const UNIQUE_LEN: usize = 16;

/// Bindings a keep-alive round reads per tick (100 ms): a skim of two numbers for most,
/// ~2 ms of one core; a round over a million bindings takes ~6 s.
const KEEPALIVE_SLICE: usize = 16_384;

impl Proxy {
    pub fn new(cfg: ProxyConfig, dispatcher: Dispatcher, slot: usize) -> Proxy {
        let seed = fnv1a(
            format!(
                "{}-{:?}-{slot}",
                std::process::id(),
                std::time::SystemTime::now()
            )
            .as_bytes(),
        );
        Proxy {
            cfg,
            dispatcher,
            slot,
            servers: Slab::default(),
            server_index: HashMap::default(),
            clients: Slab::default(),
            client_index: HashMap::default(),
            timers: TimerQueues::default(),
            edits: Edits::new(),
            key: Vec::with_capacity(128),
            counter: 0,
            salt: seed,
            rng: seed | 1,
            stats: ProxyStats::default(),
            probes: HashMap::default(),
            changes: Vec::new(),
            store: None,
            reg_reply: None,
            stored_secret: None,
            nonces: None,
            challenges: seed,
            worker_ports: Vec::new(),
            local_only: false,
            needs_owner: false,
            keepalives: HashMap::default(),
            keepalive_deadlines: std::collections::VecDeque::new(),
            keepalive_misses: HashMap::default(),
            next_keepalive: None,
            keepalive_round: None,
        }
    }

    /// Apply a reloaded configuration to new transactions. Destination health and
    /// round-robin positions of destinations that still exist carry over.
    pub fn reconfigure(&mut self, cfg: ProxyConfig, dispatcher: Dispatcher) {
        self.cfg = cfg;
        self.dispatcher.reload(dispatcher);
    }

    /// Give the proxy the worker's store (registrar and location lookups).
    pub fn attach_store(&mut self, store: shared::store::Store) {
        self.stored_secret = auth::stored_secret(&store);
        self.store = Some(store);
    }

    /// The nonce-count table the master made for all `workers` workers (without it,
    /// authentication answers 500).
    pub fn attach_nonces(&mut self, nonces: shared::nonces::NonceTable, workers: usize) {
        self.nonces = Some((nonces, workers));
    }

    /// The worker's own sockets of `worker_ports` listeners: `(listener, socket index,
    /// host:port)`. Kept across reloads (the sockets live as long as the worker).
    pub fn set_worker_ports(&mut self, ports: Vec<(usize, usize, String)>) {
        self.worker_ports.clear();
        for (l, sock, hostport) in ports {
            if self.worker_ports.len() <= l {
                self.worker_ports.resize(l + 1, None);
            }
            if let Some(slot) = self.worker_ports.get_mut(l) {
                *slot = Some((sock, hostport));
            }
        }
    }

    /// The socket relayed requests leave from, and the `host:port` their Via names.
    fn client_side(&self, listener: usize) -> (usize, String) {
        match self.worker_ports.get(listener) {
            Some(Some((sock, hp))) => (*sock, hp.clone()),
            _ => (
                listener,
                self.cfg
                    .listeners
                    .get(listener)
                    .map_or(String::new(), |l| l.hostport.clone()),
            ),
        }
    }

    pub fn store(&self) -> Option<&shared::store::Store> {
        self.store.as_ref()
    }

    /// A value unique to this worker's lifetime, unpredictable from outside (branches,
    /// tags, nonces).
    fn next_unique(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        self.salt ^ self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// Send an OPTIONS of our own (dispatcher probe, NAT keep-alive) to `dest` with
    /// Request-URI `uri`; returns its branch, by which the answer is recognised.
    fn send_options(
        &mut self,
        dest: SocketAddr,
        uri: &str,
        from_uri: Option<&str>,
        out: &mut Sends,
    ) -> Box<[u8]> {
        let listener = self.listener_for(0, dest);
        let hostport = self
            .cfg
            .listeners
            .get(listener)
            .map_or(String::new(), |l| l.hostport.clone());
        let unique = self.next_unique();
        let mut branch = Vec::with_capacity(BRANCH_LEN);
        steering::write_branch_prefix(self.slot, &mut branch);
        write_hex(0, &mut branch);
        branch.push(b'.');
        write_hex(unique, &mut branch);
        let from = from_uri.map_or_else(|| format!("sip:sipedge@{hostport}"), str::to_string);
        let user_agent =
            String::from_utf8_lossy(&self.cfg.ctx.server_line).replace("Server:", "User-Agent:");
        let mut req = Vec::with_capacity(400);
        let _ = write!(
            req,
            "OPTIONS {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {hostport};branch="
        );
        req.extend_from_slice(&branch);
        let _ = write!(
            req,
            "\r\nMax-Forwards: 70\r\nFrom: <{from}>;tag={unique:x}\r\nTo: <{uri}>\r\nCall-ID: {unique:x}-options@sipedge\r\nCSeq: 1 OPTIONS\r\n{user_agent}\r\nContent-Length: 0\r\n\r\n"
        );
        out.push(listener, dest, &req);
        branch.into_boxed_slice()
    }

    /// Transactions not yet finished (a draining worker waits for 0).
    pub fn in_flight(&self) -> usize {
        let servers = self
            .servers
            .iter()
            .filter(|s| matches!(s.state, ServerState::Trying | ServerState::Proceeding))
            .count();
        let clients = self
            .clients
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                )
            })
            .count();
        servers + clients
    }

    /// Transactions held, lingering ones included (for metrics).
    pub fn transactions(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// When [`Proxy::on_timer`] should next be called.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: plenty for load balancing and branch uniqueness salt.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    // ----- requests ------------------------------------------------------------------------

    /// A request that landed on a worker that does not own its Call-ID: handle it here if
    /// that needs no transaction state (stateless replies, drops, the registrar, ACKs for
    /// our stateless replies), saving the IPC hop; false when it must go to its owner.
    pub fn try_stateless(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        now: Instant,
        out: &mut Sends,
    ) -> bool {
        let Some(method) = msg.method() else {
            return false;
        };
        let to_tag = msg.to().and_then(|t| t.tag);
        match method {
            Method::Ack => {
                let ours = msg.routes().next().is_none()
                    && to_tag.is_some_and(|t| t == stateless::to_tag(msg).as_bytes());
                if ours {
                    shared::metrics::add(&mut self.stats.drops, drop_reason::ACK, 1);
                }
                return ours;
            }
            Method::Cancel => return false,
            _ if to_tag.is_some() => return false,
            _ => {}
        }
        self.local_only = true;
        self.needs_owner = false;
        let _ = self.on_request(listener, src, msg, now, out);
        self.local_only = false;
        !self.needs_owner
    }

    /// The `authenticate` step of a rule: Ok with valid credentials, else the challenge
    /// (401 for REGISTER, 407 otherwise) or 403, stashed like a registrar answer.
    fn authenticate(
        &mut self,
        msg: &Message<'_, '_>,
        src: SocketAddr,
    ) -> Result<(), (u16, Reason)> {
        // ACK and CANCEL cannot be challenged (RFC 3261 §22.1): they follow their INVITE.
        if matches!(msg.method(), Some(Method::Ack | Method::Cancel)) {
            return Ok(());
        }
        // The tag of the nonce of a challenge, if one is sent.
        let tag = u32::try_from(self.next_unique() >> 32).unwrap_or(1);
        let (Some(store), Some((nonces, workers))) = (&self.store, &self.nonces) else {
            return Err((500, Reason::new("Credential Store Unavailable")));
        };
        let secret = if self.cfg.auth.secret.is_empty() {
            match &self.stored_secret {
                Some(s) => s.as_slice(),
                None => return Err((500, Reason::new("Authentication Not Ready"))),
            }
        } else {
            self.cfg.auth.secret.as_slice()
        };
        let now = unix_now();
        match auth::verify(&self.cfg.auth, secret, store, nonces, msg, src.ip(), now) {
            auth::Verdict::Ok(_) => {
                shared::metrics::add(&mut self.stats.auth, "ok", 1);
                Ok(())
            }
            auth::Verdict::Forbidden(why) => {
                shared::metrics::add(&mut self.stats.auth, "forbidden", 1);
                Err((403, Reason::new(why)))
            }
            auth::Verdict::Challenge { stale, why } => {
                shared::metrics::add(&mut self.stats.auth, why, 1);
                let proxy = msg.method() != Some(Method::Register);
                // The next slot of this worker's share of the ring, under a fresh tag.
                let slot = nonces.slot_for(self.slot, *workers, self.challenges);
                self.challenges = self.challenges.wrapping_add(1);
                nonces.issue(slot, tag);
                let unique = auth::nonce_unique(slot, tag);
                let headers = auth::challenge(&self.cfg.auth, secret, proxy, stale, now, unique);
                self.reg_reply = Some(RegReply {
                    status: if proxy { 407 } else { 401 },
                    reason: if proxy {
                        "Proxy Authentication Required"
                    } else {
                        "Unauthorized"
                    },
                    headers,
                    result: "",
                });
                Err((REGISTERED, Reason::new("")))
            }
        }
    }

    /// A request that parsed and passed the ingress verdict, owned by this worker.
    pub fn on_request(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        now: Instant,
        out: &mut Sends,
    ) -> Option<u16> {
        let method = msg.method()?;
        if let Verdict::Reject { status, reason } = proto::check::verdict_of(msg) {
            self.reply(listener, src, msg, status, reason, &[], out);
            return Some(status);
        }
        match method {
            Method::Ack => {
                self.on_ack(listener, src, msg, now, out);
                None
            }
            Method::Cancel => Some(self.on_cancel(listener, src, msg, now, out)),
            _ => self.on_new_request(listener, src, msg, method, now, out),
        }
    }

    fn on_ack(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        now: Instant,
        out: &mut Sends,
    ) {
        server_key(msg, b"INVITE", &mut self.key);
        if let Some(&id) = self.server_index.get(self.key.as_slice()) {
            let t4 = self.cfg.t4;
            if let Some(s) = self.servers.get_mut(id) {
                match s.state {
                    ServerState::Completed => {
                        s.state = ServerState::Confirmed;
                        s.timers.cancel(TimerKind::G);
                        s.timers.cancel(TimerKind::H);
                        // Timer I is zero on reliable transports; UDP only here.
                        self.server_timer(id, TimerKind::I, t4, now);
                        return;
                    }
                    ServerState::Confirmed => {
                        self.stats.retransmissions_absorbed += 1;
                        return;
                    }
                    // An ACK with the INVITE's branch after a 2xx is not ours to absorb:
                    // end to end, it goes on (RFC 6026 §8.4 leaves it to the TU).
                    _ => {}
                }
            }
        }
        // An ACK that matched no transaction is for a 2xx: it goes on like any in-dialog
        // request (route set, Request-URI, or the routing table when it is addressed to us
        // without a Route, as from UAs that ignore Record-Route). One for our own stateless
        // non-2xx final (its To tag is the one we generated) ends here, and so does one
        // without a To tag, which belongs to no dialog.
        if msg.routes().next().is_none() {
            let label = match msg.to().and_then(|t| t.tag) {
                None => Some(drop_reason::ACK_UNROUTABLE),
                Some(t)
                    if t == stateless::to_tag(msg).as_bytes()
                        || t == stateless::txn_tag(msg).as_bytes() =>
                {
                    Some(drop_reason::ACK)
                }
                Some(_) => None,
            };
            if let Some(label) = label {
                shared::metrics::add(&mut self.stats.drops, label, 1);
                return;
            }
        }
        self.forward_stateless(listener, src, msg, out);
    }

    fn on_cancel(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        now: Instant,
        out: &mut Sends,
    ) -> u16 {
        server_key(msg, b"INVITE", &mut self.key);
        let Some(&sid) = self.server_index.get(self.key.as_slice()) else {
            self.reply(
                listener,
                src,
                msg,
                481,
                "Call/Transaction Does Not Exist",
                &[],
                out,
            );
            return 481;
        };
        self.reply(listener, src, msg, 200, "OK", &[], out);
        let Some(s) = self.servers.get_mut(sid) else {
            return 200;
        };
        if !matches!(s.state, ServerState::Proceeding) || s.cancelled {
            return 200; // already answered (or being cancelled): nothing more to do
        }
        s.cancelled = true;
        let branches = s.clients.clone();
        self.cancel_branches(&branches, now, out);
        200
    }

    /// CANCEL every branch still waiting for a final answer: at once where a provisional
    /// came, on the first provisional otherwise (§9.1).
    fn cancel_branches(&mut self, branches: &[Id], now: Instant, out: &mut Sends) {
        for &cid in branches {
            match self.clients.get(cid).map(|c| c.state) {
                Some(ClientState::Proceeding) => self.send_cancel(cid, now, out),
                Some(ClientState::Calling) => {
                    if let Some(c) = self.clients.get_mut(cid) {
                        c.cancel_pending = true;
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether a server transaction still has a branch without a final answer.
    fn branches_pending(&self, sid: Id) -> bool {
        self.servers.get(sid).is_some_and(|s| {
            s.clients.iter().any(|&c| {
                self.clients.get(c).is_some_and(|c| {
                    matches!(
                        c.state,
                        ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                    )
                })
            })
        })
    }

    fn on_new_request(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        method: Method<'_>,
        now: Instant,
        out: &mut Sends,
    ) -> Option<u16> {
        server_key(msg, method.as_bytes(), &mut self.key);
        if let Some(&id) = self.server_index.get(self.key.as_slice()) {
            // A retransmission: the last response again, nothing forwarded.
            self.stats.retransmissions_absorbed += 1;
            if let Some(s) = self.servers.get(id) {
                if !s.last_response.is_empty() {
                    out.push(s.listener, s.reply_to, &s.last_response);
                    self.stats.retransmissions_sent += 1;
                }
            }
            return None;
        }
        // Sanity (RFC 3261 §16.3): extensions a proxy must support, and a numeric Expires.
        if msg.tokens(HeaderKind::ProxyRequire).next().is_some() {
            let mut line = b"Unsupported: ".to_vec();
            for (i, t) in msg.tokens(HeaderKind::ProxyRequire).enumerate() {
                if i > 0 {
                    line.extend_from_slice(b", ");
                }
                line.extend_from_slice(t);
            }
            self.reply(listener, src, msg, 420, "Bad Extension", &[&line], out);
            return Some(420);
        }
        if let Some(Err(_)) = msg.expires() {
            self.reply(listener, src, msg, 400, "Invalid Expires", &[], out);
            return Some(400);
        }
        let to_us = self.addressed_to_us(msg);
        if method == Method::Options && to_us && msg.routes().next().is_none() {
            let lines = [stateless::ALLOW_LINE, stateless::SUPPORTED_LINE];
            self.reply(listener, src, msg, 200, "OK", &lines, out);
            return Some(200);
        }
        match msg.max_forwards() {
            Some(0) => {
                self.reply(listener, src, msg, 483, "Too Many Hops", &[], out);
                return Some(483);
            }
            _ if self.is_loop(msg) => {
                self.reply(listener, src, msg, 482, "Loop Detected", &[], out);
                return Some(482);
            }
            _ => {}
        }
        let target = match self.resolve_target(listener, src, msg, to_us) {
            Ok(_) if self.local_only => {
                self.needs_owner = true;
                return None;
            }
            Ok(t) => t,
            Err((NEEDS_OWNER, _)) => {
                self.needs_owner = true;
                return None;
            }
            Err((REGISTERED, _)) => {
                let r = self.reg_reply.take()?;
                let block = r.headers.strip_suffix(b"\r\n").unwrap_or(&r.headers);
                let extra: &[&[u8]] = if block.is_empty() { &[] } else { &[block] };
                self.reply(listener, src, msg, r.status, r.reason, extra, out);
                if !r.result.is_empty() {
                    shared::metrics::add(&mut self.stats.registrations, r.result, 1);
                }
                return Some(r.status);
            }
            Err((status, reason)) => {
                if status > 0 {
                    self.reply(listener, src, msg, status, reason.as_str(), &[], out);
                    return Some(status);
                }
                shared::metrics::add(&mut self.stats.drops, drop_reason::ROUTE_DROP, 1);
                return None;
            }
        };
        self.forward_stateful(listener, src, msg, target, now, out);
        None
    }

    /// Whether the Request-URI names sipedge itself (no user part needed: R-URIs like
    /// `sip:service@proxy` of SIPp's built-in UAC are in-dialog requests sent to us).
    fn addressed_to_us(&self, msg: &Message<'_, '_>) -> bool {
        msg.request_uri().is_some_and(|u| self.is_local_uri(u))
    }

    fn is_local_uri(&self, u: &Uri<'_>) -> bool {
        if !u.is_sip() {
            return false;
        }
        let host_ours = self
            .cfg
            .ctx
            .local_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(u.host.text));
        if !host_ours {
            return false;
        }
        let port = u.port.unwrap_or(5060);
        self.cfg.listeners.iter().any(|l| l.port == port)
    }

    /// §16.3 step 4: a Via of ours carrying the same loop hash means this very request came
    /// back unchanged (a spiral changes the Request-URI or the Route set, so its hash).
    fn is_loop(&self, msg: &Message<'_, '_>) -> bool {
        // Most requests carry no Via of ours, and a byte search says so without parsing
        // every Via value again (our branches start with exactly these bytes).
        if !msg
            .headers_of(HeaderKind::Via)
            .any(|h| OUR_BRANCH.find(h.value).is_some())
        {
            return false;
        }
        let mut mine = msg
            .vias()
            .filter_map(|v| v.branch)
            .filter_map(loop_hash_of)
            .peekable();
        // None of ours after all: then the hash of the request is not needed.
        if mine.peek().is_none() {
            return false;
        }
        let h = loop_hash(msg);
        mine.any(|x| x == h)
    }

    /// Route pre-processing and target selection (§16.4, §16.5, the routing table).
    fn resolve_target(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        to_us: bool,
    ) -> Result<Target, (u16, Reason)> {
        // Our own Route values on top (one, or two when we recorded one per listener).
        let mut pop_route = 0usize;
        let mut new_ruri: Option<Vec<u8>> = None;
        let mut routes = msg.routes().filter_map(Result::ok);
        let first = routes.next();
        // Strict-router compatibility: a previous hop put our Record-Route URI into the
        // R-URI; the real target is the last Route value (§16.4).
        let ruri_is_our_rr = msg
            .request_uri()
            .is_some_and(|u| u.user.is_none() && u.is_loose_router() && self.is_local_uri(u));
        if ruri_is_our_rr {
            if let Some(last) = msg.routes().filter_map(Result::ok).last() {
                new_ruri = Some(last.uri.raw.to_vec());
                // Dropping the last Route value is done when the request is rebuilt.
                return Ok(Target {
                    dest: uri_dest(&last.uri).ok_or((404, Reason::new("Not Found")))?,
                    pop_route: 0,
                    strict_fix: true,
                    new_ruri,
                    record_route: false,
                    dispatch: Dispatch::default(),
                    forks: Vec::new(),
                    add_path: false,
                });
            }
        }
        let mut next_route = first;
        while let Some(r) = &next_route {
            if !self.is_local_uri(&r.uri) || pop_route >= 2 {
                break;
            }
            pop_route += 1;
            next_route = routes.next();
        }
        if let Some(r) = next_route {
            let dest = uri_dest(&r.uri).ok_or((404, Reason::new("Not Found")))?;
            return Ok(Target {
                dest,
                pop_route,
                strict_fix: false,
                new_ruri,
                record_route: false,
                dispatch: Dispatch::default(),
                forks: Vec::new(),
                add_path: false,
            });
        }
        let in_dialog = msg.to().is_some_and(|t| t.tag.is_some());
        if in_dialog && !to_us {
            let uri = msg
                .request_uri()
                .ok_or((400, Reason::new("Bad Request-URI")))?;
            let dest = uri_dest(uri).ok_or((404, Reason::new("Not Found")))?;
            return Ok(Target {
                dest,
                pop_route,
                strict_fix: false,
                new_ruri,
                record_route: false,
                dispatch: Dispatch::default(),
                forks: Vec::new(),
                add_path: false,
            });
        }
        // The routing table decides initial requests, and in-dialog ones that reached us
        // with no route left and our own address as target.
        let headers = |name: &[u8]| msg.headers_named(name).next().map(|h| h.value);
        let store = self.store.as_ref();
        let registered = || {
            let aor = msg.request_uri().and_then(registrar::aor_of);
            match (store, aor) {
                (Some(st), Some(aor)) => {
                    matches!(registrar::lookup(st, &aor, unix_now()), Ok(Some(b)) if !b.is_empty())
                }
                _ => false,
            }
        };
        let ruri = msg.request_uri();
        let listener_name = self
            .cfg
            .listeners
            .get(listener)
            .map_or("", |l| l.name.as_str());
        let facts = RequestFacts {
            method: msg.method().map_or(&b""[..], |m| m.as_bytes()),
            in_dialog,
            source: src,
            listener: listener_name,
            ruri_user: ruri.and_then(|u| u.user),
            ruri_host: ruri.map_or(&b""[..], |u| u.host.text),
            headers: &headers,
            registered: &registered,
        };
        let decision = self.cfg.router.decide(&facts);
        match decision {
            Decision::Dispatch { .. } if self.local_only => Err((NEEDS_OWNER, Reason::new(""))),
            Decision::Dispatch {
                set,
                record_route,
                path,
                authenticate,
                ..
            } => {
                let set = set.to_string();
                if authenticate {
                    self.authenticate(msg, src)?;
                }
                let set_idx = self
                    .dispatcher
                    .set_index(&set)
                    .ok_or((500, Reason::new("Server Internal Error")))?;
                let input = SelectInput {
                    call_id: msg.call_id().unwrap_or_default(),
                    from_user: msg.from().and_then(|f| f.uri.user),
                    to_user: msg.to().and_then(|t| t.uri.user),
                    ruri_user: ruri.and_then(|u| u.user),
                    auth_user: None,
                    random: self.random(),
                };
                let idx = self
                    .dispatcher
                    .select(set_idx, &input, &[])
                    .ok_or((503, Reason::new("Service Unavailable")))?;
                let dest = self
                    .dispatcher
                    .dest(set_idx, idx)
                    .map(|d| d.addr)
                    .ok_or((503, Reason::new("Service Unavailable")))?;
                Ok(Target {
                    dest,
                    pop_route,
                    strict_fix: false,
                    new_ruri,
                    // No Record-Route on REGISTER: it makes no dialog (RFC 3261 §10.2).
                    record_route: record_route
                        && !in_dialog
                        && msg.method() != Some(Method::Register),
                    dispatch: Dispatch {
                        set: Some(set_idx),
                        tried: vec![idx],
                    },
                    forks: Vec::new(),
                    add_path: path && msg.method() == Some(Method::Register),
                })
            }
            Decision::Reply { status, reason, .. } => Err((status, Reason::new(reason))),
            Decision::Drop { .. } => Err((0, Reason::new(""))),
            Decision::Register { authenticate, .. } => {
                if authenticate {
                    self.authenticate(msg, src)?;
                }
                let Some(store) = &self.store else {
                    return Err((500, Reason::new("Location Store Unavailable")));
                };
                if msg.method() != Some(Method::Register) {
                    return Err((405, Reason::new("Method Not Allowed")));
                }
                let slot = u16::try_from(self.slot).unwrap_or(u16::MAX);
                let r = registrar::register(&self.cfg.registrar, store, msg, src, slot, unix_now());
                self.reg_reply = Some(r);
                Err((REGISTERED, Reason::new("")))
            }
            // The owner authenticates (a nonce-count is accepted once): not here.
            Decision::Lookup { .. } if self.local_only => Err((NEEDS_OWNER, Reason::new(""))),
            Decision::Lookup { authenticate, .. } => {
                if authenticate {
                    self.authenticate(msg, src)?;
                }
                let Some(store) = &self.store else {
                    return Err((500, Reason::new("Location Store Unavailable")));
                };
                let aor = ruri
                    .and_then(registrar::aor_of)
                    .ok_or((404, Reason::new("Not Found")))?;
                let bindings = match registrar::lookup(store, &aor, unix_now()) {
                    Ok(Some(b)) => b,
                    Ok(None) => return Err((404, Reason::new("Not Found"))),
                    Err(e) => {
                        tracing::error!(error = %e, "location lookup failed");
                        return Err((500, Reason::new("Location Store Unavailable")));
                    }
                };
                // Every live contact rings at once (parallel forking), best q first.
                let mut targets = bindings.iter().filter_map(|b| {
                    registrar::binding_target(b).map(|d| (d, b.contact.clone().into_bytes()))
                });
                let Some((dest, ruri)) = targets.next() else {
                    return Err((480, Reason::new("Temporarily Unavailable")));
                };
                Ok(Target {
                    dest,
                    pop_route,
                    strict_fix: false,
                    new_ruri: Some(ruri),
                    record_route: !in_dialog,
                    dispatch: Dispatch::default(),
                    forks: targets.collect(),
                    add_path: false,
                })
            }
            Decision::NoMatch => Err((404, Reason::new("Not Found"))),
        }
    }

    // ----- forwarding ----------------------------------------------------------------------

    fn forward_stateful(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        target: Target,
        now: Instant,
        out: &mut Sends,
    ) {
        let invite = msg.method() == Some(Method::Invite);
        let reply_to = reply::response_destination(msg, src);
        let mut s = Server {
            key: self.key.clone().into_boxed_slice(),
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            listener,
            reply_to,
            request: msg.as_bytes().into(),
            last_response: Vec::new(),
            retransmit: self.cfg.t1,
            timers: Deadlines::default(),
            clients: Vec::with_capacity(1 + target.forks.len()),
            forked: !target.forks.is_empty(),
            dispatch: target.dispatch.clone(),
            cancelled: false,
            best: None,
            only_timeouts: true,
        };
        if invite {
            // 100 Trying at once: it stops the caller's INVITE retransmissions (§16.2).
            let tag = stateless::to_tag(msg);
            reply::write_response(
                msg,
                100,
                "Trying",
                src,
                tag.as_bytes(),
                &[],
                &mut s.last_response,
            );
            out.push(listener, reply_to, &s.last_response);
            proto_count(&mut self.stats.generated, 100);
        }
        let sid = self.servers.insert(s);
        self.server_index
            .insert(self.key.clone().into_boxed_slice(), sid);

        // Build the forwarded request once; failover copies it with a new branch.
        let out_listener = self.listener_for(listener, target.dest);
        let mut bytes = Vec::with_capacity(msg.as_bytes().len() + 256);
        if self
            .build_forward(msg, listener, out_listener, &target, &mut bytes)
            .is_none()
        {
            self.server_fail(sid, 500, "Server Internal Error", now, out);
            return;
        }
        let dest_idx = target.dispatch.tried.first().copied();
        self.stats.forwarded_requests += 1;
        let (send_sock, _) = self.client_side(out_listener);
        self.start_client(
            sid,
            send_sock,
            target.dest,
            bytes,
            dest_idx,
            invite,
            now,
            out,
        );
        // Parallel forking (§16.6 for each target): the same request, its own branch and
        // Request-URI per contact.
        for (dest, ruri) in &target.forks {
            let branch = Target {
                dest: *dest,
                pop_route: target.pop_route,
                strict_fix: false,
                new_ruri: Some(ruri.clone()),
                record_route: target.record_route,
                dispatch: Dispatch::default(),
                forks: Vec::new(),
                add_path: false,
            };
            let out_listener = self.listener_for(listener, *dest);
            let mut bytes = Vec::with_capacity(msg.as_bytes().len() + 256);
            if let Some(()) = self.build_forward(msg, listener, out_listener, &branch, &mut bytes) {
                let (send_sock, _) = self.client_side(out_listener);
                self.start_client(sid, send_sock, *dest, bytes, None, invite, now, out);
            }
        }
    }

    /// The outgoing listener for a destination: the incoming one when the address family
    /// matches, else the first listener of the destination's family.
    fn listener_for(&self, incoming: usize, dest: SocketAddr) -> usize {
        let fam = |a: SocketAddr| a.is_ipv4();
        match self.cfg.listeners.get(incoming) {
            Some(l) if fam(l.addr) == fam(dest) => incoming,
            _ => self
                .cfg
                .listeners
                .iter()
                .position(|l| fam(l.addr) == fam(dest))
                .unwrap_or(incoming),
        }
    }

    /// Write the forwarded request (None: the message could not be edited).
    fn build_forward(
        &mut self,
        msg: &Message<'_, '_>,
        in_listener: usize,
        out_listener: usize,
        target: &Target,
        bytes: &mut Vec<u8>,
    ) -> Option<()> {
        let hostport = self
            .cfg
            .listeners
            .get(out_listener)
            .map_or("", |l| l.hostport.as_str())
            .to_string();
        let (_, via_hostport) = self.client_side(out_listener);
        let loop_h = loop_hash(msg);
        let unique = self.next_unique();
        let mut via = Vec::with_capacity(96);
        via.extend_from_slice(b"SIP/2.0/UDP ");
        via.extend_from_slice(via_hostport.as_bytes());
        via.extend_from_slice(b";branch=");
        steering::write_branch_prefix(self.slot, &mut via);
        write_hex(loop_h, &mut via);
        via.push(b'.');
        write_hex(unique, &mut via);

        let mut ed = Editor::new(msg, &mut self.edits);
        ed.push_via(&via);
        let mf = msg.max_forwards().map_or(70, |m| m.saturating_sub(1));
        ed.set_max_forwards(mf).ok()?;
        if target.pop_route > 0 {
            ed.pop_routes(target.pop_route).ok()?;
        }
        if target.strict_fix {
            // Drop the last Route value: it became the Request-URI.
            let last = msg.headers_of(HeaderKind::Route).last()?;
            let values: Vec<&[u8]> = proto::scan::split_list(last.value).collect();
            if values.len() <= 1 {
                ed.remove_header(last);
            } else {
                ed.replace_value(last, &join_values(values.get(..values.len() - 1)?))
                    .ok()?;
            }
        }
        if let Some(u) = &target.new_ruri {
            ed.set_request_uri(u);
        }
        if target.add_path {
            let mut path = Vec::with_capacity(hostport.len() + 12);
            path.extend_from_slice(b"<sip:");
            path.extend_from_slice(hostport.as_bytes());
            path.extend_from_slice(b";lr>");
            ed.add_header_top(b"Path", &path);
        }
        let mut rr = Vec::new();
        let mut rr_in = Vec::new();
        if target.record_route {
            rr.extend_from_slice(b"<sip:");
            rr.extend_from_slice(hostport.as_bytes());
            rr.extend_from_slice(b";lr>");
            ed.add_record_route(&rr);
            // The two legs use different listeners (e.g. IPv4 and IPv6): a second
            // Record-Route, so that each side's route set names the address it can reach
            // (the outgoing one on top, for the next hop; the incoming one for the caller).
            if in_listener != out_listener {
                if let Some(l) = self.cfg.listeners.get(in_listener) {
                    rr_in.extend_from_slice(b"<sip:");
                    rr_in.extend_from_slice(l.hostport.as_bytes());
                    rr_in.extend_from_slice(b";lr>");
                    ed.add_record_route(&rr_in);
                }
            }
        }
        ed.finish(bytes).ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn start_client(
        &mut self,
        sid: Id,
        listener: usize,
        dest: SocketAddr,
        bytes: Vec<u8>,
        dest_idx: Option<usize>,
        invite: bool,
        now: Instant,
        out: &mut Sends,
    ) {
        let branch = our_branch(&bytes).unwrap_or_default();
        // The forwarded request starts with its method (the parser checked it equals CSeq's).
        let method = memchr::memchr(b' ', &bytes)
            .and_then(|sp| bytes.get(..sp))
            .unwrap_or_default();
        let mut key = Vec::with_capacity(branch.len() + 16);
        client_key(branch, method, &mut key);
        out.push(listener, dest, &bytes);
        let c = Client {
            key: key.clone().into_boxed_slice(),
            invite,
            is_cancel: false,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            listener,
            dest,
            request: bytes.into_boxed_slice(),
            retransmit: self.cfg.t1,
            timers: Deadlines::default(),
            server: Some(sid),
            dest_idx,
            cancel_pending: false,
        };
        let cid = self.clients.insert(c);
        self.client_index.insert(key.into_boxed_slice(), cid);
        if let Some(s) = self.servers.get_mut(sid) {
            s.clients.push(cid);
        }
        let t1 = self.cfg.t1;
        let timeout = self.cfg.timeout;
        let (retx, to) = if invite {
            (TimerKind::A, TimerKind::B)
        } else {
            (TimerKind::E, TimerKind::F)
        };
        self.client_timer(cid, retx, t1, now);
        self.client_timer(cid, to, timeout, now);
    }

    fn client_timer(&mut self, id: Id, kind: TimerKind, after: Duration, now: Instant) {
        self.arm(Side::Client, id, kind, after, now);
    }

    fn server_timer(&mut self, id: Id, kind: TimerKind, after: Duration, now: Instant) {
        self.arm(Side::Server, id, kind, after, now);
    }

    /// Queue the timer and note its deadline in the transaction (which cancels it by kind).
    fn arm(&mut self, side: Side, id: Id, kind: TimerKind, after: Duration, now: Instant) {
        let at = self.timers.start(now, after, TimerKey::new(side, id, kind));
        let deadlines = match side {
            Side::Client => self.clients.get_mut(id).map(|c| &mut c.timers),
            Side::Server => self.servers.get_mut(id).map(|s| &mut s.timers),
        };
        if let Some(d) = deadlines {
            d.set(kind, at);
        }
    }

    /// Send a CANCEL for the INVITE client transaction `cid` (§9.1): same Request-URI, Call-ID,
    /// From, To, CSeq number and Route set, our Via with the INVITE's branch.
    fn send_cancel(&mut self, cid: Id, now: Instant, out: &mut Sends) {
        let Some(c) = self.clients.get(cid) else {
            return;
        };
        let (listener, dest) = (c.listener, c.dest);
        let mut bytes = Vec::with_capacity(512);
        let mut branch = Vec::new();
        {
            let mut h = [EMPTY_HEADER; 64];
            let Ok(inv) = Message::parse(&c.request, &mut h, &proto::Limits::DEFAULT) else {
                return;
            };
            let Some(via) = inv.top_via() else { return };
            branch.extend_from_slice(via.branch.unwrap_or_default());
            write_in_dialog_request(&inv, b"CANCEL", None, &mut bytes);
        }
        let mut key = Vec::new();
        client_key(&branch, b"CANCEL", &mut key);
        out.push(listener, dest, &bytes);
        let cancel = Client {
            key: key.clone().into_boxed_slice(),
            invite: false,
            is_cancel: true,
            state: ClientState::Trying,
            listener,
            dest,
            request: bytes.into_boxed_slice(),
            retransmit: self.cfg.t1,
            timers: Deadlines::default(),
            server: None,
            dest_idx: None,
            cancel_pending: false,
        };
        let id = self.clients.insert(cancel);
        self.client_index.insert(key.into_boxed_slice(), id);
        let (t1, timeout) = (self.cfg.t1, self.cfg.timeout);
        self.client_timer(id, TimerKind::E, t1, now);
        self.client_timer(id, TimerKind::F, timeout, now);
    }

    /// Forward a request without keeping state (end-to-end ACK): same routing as a new
    /// request, a branch derived from the incoming one so retransmissions match downstream.
    fn forward_stateless(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        out: &mut Sends,
    ) {
        let to_us = self.addressed_to_us(msg);
        let Ok(target) = self.resolve_target(listener, src, msg, to_us) else {
            return; // an ACK is never answered
        };
        let out_listener = self.listener_for(listener, target.dest);
        let hostport = self
            .cfg
            .listeners
            .get(out_listener)
            .map_or("", |l| l.hostport.as_str())
            .to_string();
        let mut via = Vec::with_capacity(96);
        via.extend_from_slice(b"SIP/2.0/UDP ");
        via.extend_from_slice(hostport.as_bytes());
        via.extend_from_slice(b";branch=");
        steering::write_branch_prefix(self.slot, &mut via);
        write_hex(loop_hash(msg), &mut via);
        via.push(b'.');
        let incoming = msg.top_via().and_then(|v| v.branch).unwrap_or_default();
        write_hex(fnv1a(incoming) ^ 0x5354_4154_454c_4553, &mut via);
        let mut ed = Editor::new(msg, &mut self.edits);
        ed.push_via(&via);
        let mf = msg.max_forwards().map_or(70, |m| m.saturating_sub(1));
        if ed.set_max_forwards(mf).is_err() {
            return;
        }
        if target.pop_route > 0 && ed.pop_routes(target.pop_route).is_err() {
            return;
        }
        if let Some(u) = &target.new_ruri {
            ed.set_request_uri(u);
        }
        let mut res = Ok(());
        out.push_with(out_listener, target.dest, |b| res = ed.finish(b));
        if res.is_ok() {
            self.stats.forwarded_stateless += 1;
        }
    }

    // ----- responses -----------------------------------------------------------------------

    /// A response owned by this worker.
    pub fn on_response(
        &mut self,
        _listener: usize,
        _src: SocketAddr,
        msg: &Message<'_, '_>,
        now: Instant,
        out: &mut Sends,
    ) {
        let Some(code) = msg.status() else { return };
        let Some(via) = msg.top_via() else { return };
        let branch = via.branch.unwrap_or_default();
        if code >= 200 {
            if let Some((aor, contact)) = self.keepalives.remove(branch) {
                // Any final answer shows the phone and its NAT pinhole are alive.
                self.keepalive_misses.remove(&(aor, contact));
                return;
            }
            if let Some((set, dest, _)) = self.probes.remove(branch) {
                if let Some(c) =
                    self.dispatcher
                        .on_probe_result(set, dest, ProbeResult::Reply(code), now)
                {
                    self.changes.push(c);
                }
                return;
            }
        }
        let method = msg.cseq().map_or(&b""[..], |c| c.method.as_bytes());
        client_key(branch, method, &mut self.key);
        let Some(&cid) = self.client_index.get(self.key.as_slice()) else {
            // No transaction: a retransmitted 2xx for an INVITE whose client transaction
            // is gone still goes upstream (§16.7 step 10 / RFC 6026); anything else stops.
            if (200..300).contains(&code)
                && method == b"INVITE"
                && steering::slot_from_branch(branch).is_some()
            {
                self.forward_response_stateless(msg, out);
            } else {
                self.stats.stray_responses += 1;
            }
            return;
        };
        let Some(c) = self.clients.get_mut(cid) else {
            return;
        };
        let state = c.state;
        if c.is_cancel {
            // The answer to our CANCEL: nothing goes upstream.
            if code >= 200 && matches!(state, ClientState::Trying | ClientState::Proceeding) {
                self.client_complete(cid, now);
            }
            return;
        }
        let invite = c.invite;
        match (invite, state, code) {
            (
                _,
                ClientState::Calling | ClientState::Trying | ClientState::Proceeding,
                100..=199,
            ) => {
                let first = state != ClientState::Proceeding;
                c.state = ClientState::Proceeding;
                let cancel_pending = c.cancel_pending;
                if invite && first {
                    c.timers.cancel(TimerKind::A);
                    c.timers.cancel(TimerKind::B);
                }
                if !invite && first {
                    // Timer E continues, at T2 from now on (§17.1.2.2).
                    c.retransmit = self.cfg.t2;
                }
                if invite && first {
                    let tc = self.cfg.timer_c;
                    self.client_timer(cid, TimerKind::C, tc, now);
                }
                if cancel_pending {
                    if let Some(c) = self.clients.get_mut(cid) {
                        c.cancel_pending = false;
                    }
                    self.send_cancel(cid, now, out);
                }
                if code > 100 {
                    self.relay_upstream(cid, msg, code, now, out);
                }
            }
            (true, ClientState::Calling | ClientState::Proceeding, 200..=299) => {
                c.state = ClientState::Accepted;
                for k in [TimerKind::A, TimerKind::B, TimerKind::C] {
                    c.timers.cancel(k);
                }
                // RFC 6026 asks 64*T1 for Timer M; its only job here is to recognise 2xx
                // retransmissions, which are forwarded statelessly anyway, so we linger T4
                // (as Kamailio's wait timer does) and keep memory bounded at high call rates.
                // The request copy is no longer needed.
                c.request = Box::default();
                let tm = self.cfg.t4;
                let sid = c.server;
                self.client_timer(cid, TimerKind::M, tm, now);
                self.relay_upstream(cid, msg, code, now, out);
                // One branch answered: the others are cancelled (§16.7 step 10).
                if let Some(others) = sid
                    .and_then(|sid| self.servers.get(sid))
                    .filter(|s| s.forked)
                    .map(|s| s.clients.clone())
                {
                    self.cancel_branches(&others, now, out);
                }
            }
            (true, ClientState::Accepted, 200..=299) => {
                // A retransmitted 2xx: upstream again (the caller's ACK stops it).
                self.relay_upstream(cid, msg, code, now, out);
            }
            (true, ClientState::Calling | ClientState::Proceeding, 300..=699) => {
                self.send_ack_for(cid, msg, out);
                self.client_complete(cid, now);
                self.on_final_failure(cid, Some((code, msg)), now, out);
            }
            (true, ClientState::Completed, 300..=699) => {
                self.stats.retransmissions_absorbed += 1;
                self.send_ack_for(cid, msg, out);
            }
            (false, ClientState::Trying | ClientState::Proceeding, 200..=699) => {
                self.client_complete(cid, now);
                if (200..300).contains(&code) {
                    self.relay_upstream(cid, msg, code, now, out);
                } else {
                    self.on_final_failure(cid, Some((code, msg)), now, out);
                }
            }
            _ => self.stats.retransmissions_absorbed += 1,
        }
    }

    /// Move a client transaction to Completed (absorbing retransmissions for a while) and
    /// stop its retransmission and timeout timers.
    fn client_complete(&mut self, cid: Id, now: Instant) {
        let Some(c) = self.clients.get_mut(cid) else {
            return;
        };
        c.state = ClientState::Completed;
        for k in [
            TimerKind::A,
            TimerKind::B,
            TimerKind::C,
            TimerKind::E,
            TimerKind::F,
        ] {
            c.timers.cancel(k);
        }
        // The request stays: failover re-sends it with a new branch, and an INVITE's ACK
        // for a retransmitted final is built from it.
        let (kind, after) = if c.invite {
            (TimerKind::D, Duration::from_secs(32))
        } else {
            (TimerKind::K, self.cfg.t4)
        };
        self.client_timer(cid, kind, after, now);
    }

    /// The hop-by-hop ACK for a non-2xx final response to our INVITE (§17.1.1.3).
    fn send_ack_for(&mut self, cid: Id, resp: &Message<'_, '_>, out: &mut Sends) {
        let Some(c) = self.clients.get(cid) else {
            return;
        };
        let mut h = [EMPTY_HEADER; 64];
        let Ok(inv) = Message::parse(&c.request, &mut h, &proto::Limits::DEFAULT) else {
            return;
        };
        let to = resp.header(HeaderKind::To).map(|h| h.value);
        out.push_with(c.listener, c.dest, |b| {
            write_in_dialog_request(&inv, b"ACK", to, b)
        });
    }

    /// A final failure of a client transaction (a non-2xx final, or `None` for a timeout):
    /// fail over to the next destination, or answer upstream.
    fn on_final_failure(
        &mut self,
        cid: Id,
        resp: Option<(u16, &Message<'_, '_>)>,
        now: Instant,
        out: &mut Sends,
    ) {
        let Some(c) = self.clients.get(cid) else {
            return;
        };
        let (sid, dest_idx) = (c.server, c.dest_idx);
        let Some(sid) = sid else { return };
        let Some(s) = self.servers.get_mut(sid) else {
            return;
        };
        if !matches!(s.state, ServerState::Trying | ServerState::Proceeding) {
            return;
        }
        let outcome = match resp {
            Some((code, _)) => DsOutcome::Status(code),
            None => DsOutcome::Timeout,
        };
        if let (Some(set), Some(d)) = (s.dispatch.set, dest_idx) {
            if let Some(change) = self.dispatcher.on_request_outcome(set, d, outcome, now) {
                self.changes.push(change);
            }
        }
        let Some(s) = self.servers.get_mut(sid) else {
            return;
        };
        // Remember the best answer so far (§16.7 step 6, simplified: lowest class wins,
        // 6xx beats everything).
        if let Some((code, msg)) = resp {
            s.only_timeouts = false;
            let better = match &s.best {
                None => true,
                Some((b, _)) => code / 100 == 6 || (b / 100 != 6 && code / 100 < b / 100),
            };
            if better {
                let mut v = Vec::with_capacity(msg.as_bytes().len());
                v.extend_from_slice(msg.as_bytes());
                s.best = Some((code, v));
            }
        }
        let six = resp.is_some_and(|(c, _)| c >= 600);
        if s.forked {
            // Parallel forking: the best answer goes up once every branch has ended
            // (a 6xx ends the others at once, §16.7 step 5).
            if six {
                let others = s.clients.clone();
                self.cancel_branches(&others, now, out);
            } else if self.branches_pending(sid) {
                return;
            }
            self.answer_upstream_final(sid, now, out);
            return;
        }
        if !s.cancelled && !six {
            if let Some(set) = s.dispatch.set {
                if self.dispatcher.should_failover(set, outcome)
                    && self.failover(sid, cid, now, out)
                {
                    return;
                }
            }
        }
        self.answer_upstream_final(sid, now, out);
    }

    /// Try the next destination of the set; false when none is left.
    fn failover(&mut self, sid: Id, cid: Id, now: Instant, out: &mut Sends) -> bool {
        let Some(s) = self.servers.get(sid) else {
            return false;
        };
        let Some(set) = s.dispatch.set else {
            return false;
        };
        let tried = s.dispatch.tried.clone();
        let (call_id, invite) = {
            let mut h = [EMPTY_HEADER; 64];
            match Message::parse(&s.request, &mut h, &proto::Limits::DEFAULT) {
                Ok(m) => (m.call_id().unwrap_or_default().to_vec(), s.invite),
                Err(_) => return false,
            }
        };
        let input = SelectInput {
            call_id: &call_id,
            from_user: None,
            to_user: None,
            ruri_user: None,
            auth_user: None,
            random: self.random(),
        };
        let Some(next) = self.dispatcher.select(set, &input, &tried) else {
            return false;
        };
        let Some(dest) = self.dispatcher.dest(set, next).map(|d| d.addr) else {
            return false;
        };
        let Some(old) = self.clients.get(cid) else {
            return false;
        };
        // Same forwarded request, new branch.
        let mut bytes = old.request.to_vec();
        let listener = old.listener;
        let Some(unique_at) = find_unique(&bytes) else {
            return false;
        };
        let unique = self.next_unique();
        let mut hex = Vec::with_capacity(UNIQUE_LEN);
        write_hex(unique, &mut hex);
        if let Some(dst) = bytes.get_mut(unique_at..unique_at + UNIQUE_LEN) {
            dst.copy_from_slice(&hex);
        }
        if let Some(s) = self.servers.get_mut(sid) {
            s.dispatch.tried.push(next);
        }
        self.stats.failovers += 1;
        tracing::info!(set, destination = %dest, "failing over to the next destination");
        self.start_client(sid, listener, dest, bytes, Some(next), invite, now, out);
        true
    }

    /// No more destinations: the best response upstream, or ours.
    fn answer_upstream_final(&mut self, sid: Id, now: Instant, out: &mut Sends) {
        let Some(s) = self.servers.get_mut(sid) else {
            return;
        };
        let best = s.best.take();
        let (cancelled, only_timeouts, has_set) =
            (s.cancelled, s.only_timeouts, s.dispatch.set.is_some());
        match best {
            Some((code, bytes)) => {
                let mut h = [EMPTY_HEADER; 128];
                if let Ok(m) = Message::parse(&bytes, &mut h, &proto::Limits::DEFAULT) {
                    self.send_upstream(sid, &m, code, now, out);
                }
            }
            _ => {
                let (code, reason) = if cancelled {
                    (487, "Request Terminated")
                } else if has_set && only_timeouts {
                    (503, "Service Unavailable")
                } else {
                    (408, "Request Timeout")
                };
                self.server_fail(sid, code, reason, now, out);
            }
        }
    }

    /// Answer upstream with our own final response.
    fn server_fail(&mut self, sid: Id, code: u16, reason: &str, now: Instant, out: &mut Sends) {
        let Some(s) = self.servers.get_mut(sid) else {
            return;
        };
        let mut h = [EMPTY_HEADER; 128];
        let req = s.request.clone();
        let Ok(m) = Message::parse(&req, &mut h, &proto::Limits::DEFAULT) else {
            return;
        };
        let tag = stateless::txn_tag(&m);
        let mut bytes = Vec::with_capacity(512);
        let server_line = self.cfg.ctx.server_line.clone();
        reply::write_response(
            &m,
            code,
            reason,
            s.reply_to,
            tag.as_bytes(),
            &[&server_line],
            &mut bytes,
        );
        proto_count(&mut self.stats.generated, code);
        self.server_final(sid, bytes, code, now, out);
    }

    /// Relay a response from client transaction `cid` upstream (our Via popped).
    fn relay_upstream(
        &mut self,
        cid: Id,
        msg: &Message<'_, '_>,
        code: u16,
        now: Instant,
        out: &mut Sends,
    ) {
        let Some(sid) = self.clients.get(cid).and_then(|c| c.server) else {
            return;
        };
        self.send_upstream(sid, msg, code, now, out);
    }

    fn send_upstream(
        &mut self,
        sid: Id,
        msg: &Message<'_, '_>,
        code: u16,
        now: Instant,
        out: &mut Sends,
    ) {
        let mut ed = Editor::new(msg, &mut self.edits);
        if ed.pop_via().is_err() {
            return;
        }
        let mut bytes = Vec::with_capacity(msg.as_bytes().len());
        if ed.finish(&mut bytes).is_err() {
            return;
        }
        self.stats.relayed_responses += 1;
        if code < 200 {
            if let Some(s) = self.servers.get_mut(sid) {
                if s.state == ServerState::Trying {
                    s.state = ServerState::Proceeding;
                }
                if matches!(s.state, ServerState::Proceeding) {
                    out.push(s.listener, s.reply_to, &bytes);
                    s.last_response = bytes;
                }
            }
            return;
        }
        if (200..300).contains(&code) {
            if let Some(s) = self.servers.get(sid) {
                if s.state == ServerState::Accepted {
                    // A 2xx retransmission or a second 2xx (forking downstream): on it goes.
                    out.push(s.listener, s.reply_to, &bytes);
                    return;
                }
            }
        }
        self.server_final(sid, bytes, code, now, out);
    }

    /// Send a final response through server transaction `sid` and move it on.
    fn server_final(&mut self, sid: Id, bytes: Vec<u8>, code: u16, now: Instant, out: &mut Sends) {
        let Some(s) = self.servers.get_mut(sid) else {
            return;
        };
        if !matches!(s.state, ServerState::Trying | ServerState::Proceeding) {
            return;
        }
        out.push(s.listener, s.reply_to, &bytes);
        s.last_response = bytes;
        let t1 = self.cfg.t1;
        if s.invite && (200..300).contains(&code) {
            // Timer L lingers T4 rather than 64*T1 (see Timer M): long enough to absorb
            // the caller's INVITE retransmissions, short enough to bound memory.
            s.state = ServerState::Accepted;
            s.request = Box::default();
            let t4 = self.cfg.t4;
            self.server_timer(sid, TimerKind::L, t4, now);
        } else if s.invite {
            s.state = ServerState::Completed;
            s.retransmit = t1;
            self.server_timer(sid, TimerKind::G, t1, now);
            self.server_timer(sid, TimerKind::H, t1 * 64, now);
        } else {
            // Timer J keeps the transaction 64*T1 to absorb retransmitted requests, which
            // only need `last_response`: the request copy goes now (a BYE's server side is
            // the largest population of lingering transactions under call load).
            s.state = ServerState::Completed;
            s.request = Box::default();
            s.best = None;
            self.server_timer(sid, TimerKind::J, t1 * 64, now);
        }
    }

    /// A 2xx with no client transaction: pop our Via and send it to the next one.
    fn forward_response_stateless(&mut self, msg: &Message<'_, '_>, out: &mut Sends) {
        let Some(next) = msg.vias().nth(1) else {
            return;
        };
        let Some(dest) = via_destination(&next) else {
            return;
        };
        let listener = self.listener_for(0, dest);
        let mut ed = Editor::new(msg, &mut self.edits);
        if ed.pop_via().is_err() {
            return;
        }
        let mut res = Ok(());
        out.push_with(listener, dest, |b| res = ed.finish(b));
        if res.is_ok() {
            self.stats.relayed_responses += 1;
        }
    }

    // ----- dispatcher health ---------------------------------------------------------------

    /// Send the OPTIONS probes due now (for the destinations this worker slot probes) and
    /// give up on the ones that went unanswered.
    pub fn on_probe_tick(&mut self, now: Instant, workers: usize, out: &mut Sends) {
        let expired: Vec<Box<[u8]>> = self
            .probes
            .iter()
            .filter(|(_, (_, _, deadline))| *deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some((set, dest, _)) = self.probes.remove(&k) {
                if let Some(c) =
                    self.dispatcher
                        .on_probe_result(set, dest, ProbeResult::Timeout, now)
                {
                    self.changes.push(c);
                }
            }
        }
        for (set, dest) in self.dispatcher.probes_due(now, self.slot, workers) {
            let Some(d) = self.dispatcher.dest(set, dest) else {
                continue;
            };
            let (addr, uri) = (d.addr, d.uri.clone());
            let Some(probe) = self.dispatcher.set(set).map(|s| s.probe.clone()) else {
                continue;
            };
            let branch = self.send_options(addr, &uri, Some(&probe.from_uri), out);
            let deadline = now + Duration::from_millis(probe.timeout_ms);
            self.probes.insert(branch, (set, dest, deadline));
        }
    }

    /// NAT keep-alives: every `nat_keepalive_interval` seconds a round of OPTIONS, one to
    /// each NATed binding this worker slot is in charge of (a hash of AOR and Contact picks
    /// the slot), at its NAT-side address; a binding that leaves `nat_keepalive_tries` pings
    /// in a row unanswered is removed from the store. A round reads the binding table
    /// [`KEEPALIVE_SLICE`] entries per tick, so that no loop turn stalls on a table of a
    /// million bindings (a whole read there took seconds and tens of MiB).
    pub fn on_keepalive_tick(&mut self, now: Instant, workers: usize, out: &mut Sends) {
        let interval = self.cfg.registrar.keepalive_interval;
        let Some(store) = self.store.as_ref() else {
            return;
        };
        // Give up on unanswered pings.
        let tries = self.cfg.registrar.keepalive_tries;
        while let Some((deadline, _)) = self.keepalive_deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((_, branch)) = self.keepalive_deadlines.pop_front() else {
                break;
            };
            // Gone from the map: answered.
            let Some((aor, contact)) = self.keepalives.remove(&branch) else {
                continue;
            };
            let key = (aor, contact);
            let misses = self.keepalive_misses.entry(key.clone()).or_insert(0);
            *misses += 1;
            if *misses < tries {
                continue;
            }
            self.keepalive_misses.remove(&key);
            let (aor, contact) = key;
            match store.delete_binding(&aor, &contact) {
                Ok(true) => {
                    tracing::info!(%aor, %contact, tries, "NATed binding dropped: keep-alives unanswered")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot drop binding"),
            }
            shared::metrics::add(&mut self.stats.registrations, "keepalive_dropped", 1);
        }
        if interval == 0 {
            return;
        }
        if self.keepalive_round.is_none() {
            if self.next_keepalive.is_some_and(|t| t > now) {
                return;
            }
            self.next_keepalive = Some(now + Duration::from_secs(interval));
            self.keepalive_round = Some(Vec::new());
        }
        let Some(from) = self.keepalive_round.take() else {
            return;
        };
        let (workers, slot) = (workers.max(1) as u64, self.slot as u64);
        let mut due = Vec::new();
        let next = store.flagged_bindings_slice(
            &from,
            KEEPALIVE_SLICE,
            registrar::FLAG_NAT,
            unix_now(),
            // The key is `aor \0 contact`: the same hash every worker computes.
            |key| fnv1a(key) % workers == slot,
            |b| due.push(b.to_binding()),
        );
        self.keepalive_round = match next {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read bindings for keep-alives");
                None
            }
        };
        // Unanswered by the next round (10 s at most): a miss.
        let deadline = now + Duration::from_secs(interval.min(10));
        for b in due {
            let Some(dest) = registrar::binding_target(&b) else {
                continue;
            };
            let branch = self.send_options(dest, &b.contact, None, out);
            self.keepalive_deadlines
                .push_back((deadline, branch.clone()));
            self.keepalives.insert(branch, (b.aor, b.contact));
        }
    }

    /// Destination state changes since the last call.
    pub fn take_changes(&mut self) -> Vec<StateChange> {
        std::mem::take(&mut self.changes)
    }

    // ----- timers --------------------------------------------------------------------------

    /// Run every timer due at `now`.
    pub fn on_timer(&mut self, now: Instant, out: &mut Sends) {
        while let Some(e) = self.timers.pop_due(now) {
            let k = e.key;
            let live = match k.side {
                Side::Server => self
                    .servers
                    .get(k.id)
                    .is_some_and(|s| s.timers.is_live(k.kind, e.at)),
                Side::Client => self
                    .clients
                    .get(k.id)
                    .is_some_and(|c| c.timers.is_live(k.kind, e.at)),
            };
            if !live {
                continue;
            }
            match (k.side, k.kind) {
                (Side::Server, TimerKind::G) => {
                    let t2 = self.cfg.t2;
                    let Some(s) = self.servers.get_mut(k.id) else {
                        continue;
                    };
                    out.push(s.listener, s.reply_to, &s.last_response);
                    self.stats.retransmissions_sent += 1;
                    s.retransmit = (s.retransmit * 2).min(t2);
                    let r = s.retransmit;
                    self.server_timer(k.id, TimerKind::G, r, now);
                }
                (Side::Server, _) => self.remove_server(k.id),
                (Side::Client, TimerKind::A | TimerKind::E) => {
                    let t2 = self.cfg.t2;
                    let Some(c) = self.clients.get_mut(k.id) else {
                        continue;
                    };
                    out.push(c.listener, c.dest, &c.request);
                    self.stats.retransmissions_sent += 1;
                    c.retransmit = if k.kind == TimerKind::A {
                        c.retransmit * 2
                    } else {
                        (c.retransmit * 2).min(t2)
                    };
                    let r = c.retransmit;
                    self.client_timer(k.id, k.kind, r, now);
                }
                (Side::Client, TimerKind::B | TimerKind::F) => {
                    self.stats.timeouts += 1;
                    let is_cancel = self.clients.get(k.id).is_some_and(|c| c.is_cancel);
                    if let Some(c) = self.clients.get(k.id) {
                        tracing::debug!(dest = %c.dest, "no answer (timer {:?})", k.kind);
                    }
                    if !is_cancel {
                        self.on_final_failure(k.id, None, now, out);
                    }
                    self.remove_client(k.id);
                }
                (Side::Client, TimerKind::C) => {
                    // Rang too long: cancel downstream, 408 upstream (§16.8).
                    self.send_cancel(k.id, now, out);
                    if let Some(sid) = self.clients.get(k.id).and_then(|c| c.server) {
                        self.server_fail(sid, 408, "Request Timeout", now, out);
                    }
                    self.remove_client(k.id);
                }
                (Side::Client, _) => self.remove_client(k.id),
            }
        }
    }

    fn remove_server(&mut self, id: Id) {
        if let Some(s) = self.servers.remove(id) {
            self.server_index.remove(&s.key);
        }
    }

    fn remove_client(&mut self, id: Id) {
        if let Some(c) = self.clients.remove(id) {
            self.client_index.remove(&c.key);
        }
    }

    // ----- stateless replies ---------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        listener: usize,
        src: SocketAddr,
        msg: &Message<'_, '_>,
        status: u16,
        reason: &str,
        extra: &[&[u8]],
        out: &mut Sends,
    ) {
        let tag = stateless::to_tag(msg);
        let server_line = &self.cfg.ctx.server_line;
        let dest = reply::response_destination(msg, src);
        // Server line plus up to three extra lines, without allocating.
        let mut lines: [&[u8]; 4] = [server_line, b"", b"", b""];
        let mut n = 1;
        for (slot, line) in lines.iter_mut().skip(1).zip(extra) {
            *slot = line;
            n += 1;
        }
        let lines = lines.get(..n).unwrap_or_default();
        out.push_with(listener, dest, |b| {
            reply::write_response(msg, status, reason, src, tag.as_bytes(), lines, b);
        });
        proto_count(&mut self.stats.generated, status);
    }
}

/// Where a forwarded request goes and how it is edited.
#[derive(Debug)]
struct Target {
    dest: SocketAddr,
    /// How many of our own Route values to pop.
    pop_route: usize,
    strict_fix: bool,
    new_ruri: Option<Vec<u8>>,
    record_route: bool,
    dispatch: Dispatch,
    /// More branches forked in parallel with the first: (destination, Request-URI).
    forks: Vec<(SocketAddr, Vec<u8>)>,
    /// Add `Path: <sip:us;lr>` (a REGISTER relayed to a core registrar).
    add_path: bool,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn proto_count(list: &mut Vec<(u16, u64)>, code: u16) {
    shared::metrics::add(list, code, 1);
}

/// A reason phrase copied out of the configuration onto the stack, so a reply can be sent
/// while the routing table is borrowed, without allocating (longer phrases are cut).
struct Reason {
    buf: [u8; 64],
    len: usize,
}

impl Reason {
    fn new(s: &str) -> Reason {
        let mut buf = [0u8; 64];
        let mut len = s.len().min(buf.len());
        // Cut on a character boundary.
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), s.as_bytes().get(..len)) {
            dst.copy_from_slice(src);
        }
        Reason { buf, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or("Rejected")
    }
}

impl std::fmt::Debug for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request for `uri` goes: its host (an IP literal; names are not resolved on the
/// hot path) and port (`maddr` wins over the host).
fn uri_dest(uri: &Uri<'_>) -> Option<SocketAddr> {
    let ip: IpAddr = match uri.maddr() {
        Some(m) => std::str::from_utf8(m)
            .ok()?
            .trim_matches(['[', ']'])
            .parse()
            .ok()?,
        None => uri.host.ip()?,
    };
    let default = if matches!(uri.scheme, proto::Scheme::Sips) {
        5061
    } else {
        5060
    };
    Some(SocketAddr::new(ip, uri.port.unwrap_or(default)))
}

/// Where a response goes by a Via (§18.2.2): `received` (or the sent-by host) and `rport`
/// (or the sent-by port).
fn via_destination(v: &Via<'_>) -> Option<SocketAddr> {
    let ip: IpAddr = match v.received {
        Some(r) => std::str::from_utf8(r)
            .ok()?
            .trim_matches(['[', ']'])
            .parse()
            .ok()?,
        None => v.host.ip()?,
    };
    let port = v.rport.flatten().or(v.port).unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

/// The loop-detection hash of a request (§16.6 step 8 inputs): Request-URI, From tag, To tag,
/// Call-ID, CSeq number, the top Route.
fn loop_hash(msg: &Message<'_, '_>) -> u64 {
    let mut h = fnv1a(msg.request_uri().map_or(&b""[..], |u| u.raw));
    let mut mix = |b: &[u8]| h = (h ^ fnv1a(b)).wrapping_mul(0x0100_0000_01b3);
    mix(msg.from().and_then(|f| f.tag).unwrap_or_default());
    mix(msg.to().and_then(|t| t.tag).unwrap_or_default());
    mix(msg.call_id().unwrap_or_default());
    mix(proto::decimal(
        u64::from(msg.cseq().map_or(0, |c| c.seq)),
        &mut [0; 20],
    ));
    mix(msg.header(HeaderKind::Route).map_or(&b""[..], |r| r.value));
    h
}

/// The loop hash inside one of our branches, if the branch is ours.
fn loop_hash_of(branch: &[u8]) -> Option<u64> {
    steering::slot_from_branch(branch)?;
    // z9hG4bK-seXX.<16 hex>.<16 hex>
    let rest = branch.get(7 + steering::BRANCH_MARK.len() + 3..)?;
    let hex = rest.get(..16)?;
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// Length of our branches: `z9hG4bK` + mark + 2 hex slot + `.` + 16 hex loop hash + `.` +
/// 16 hex unique.
const BRANCH_LEN: usize = 7 + 3 + 2 + 1 + 16 + 1 + UNIQUE_LEN;

/// Our branch in a request we built (the first Via is ours).
fn our_branch(bytes: &[u8]) -> Option<&[u8]> {
    let start = branch_start(bytes)?;
    bytes.get(start..start + BRANCH_LEN)
}

/// The parameter name and the RFC 3261 magic cookie that start every branch of ours.
const BRANCH_HEAD: &[u8] = b"branch=z9hG4bK";

/// How every branch of ours starts, as a Via parameter: `branch=`, the RFC 3261 magic
/// cookie, then our mark.
// Evaluated at compile time: an index out of range would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const OUR_BRANCH_PARAM: [u8; BRANCH_HEAD.len() + steering::BRANCH_MARK.len()] = {
    let mut m = [0u8; BRANCH_HEAD.len() + steering::BRANCH_MARK.len()];
    let mut i = 0;
    while i < m.len() {
        m[i] = if i < BRANCH_HEAD.len() {
            BRANCH_HEAD[i]
        } else {
            steering::BRANCH_MARK[i - BRANCH_HEAD.len()]
        };
        i += 1;
    }
    m
};

type Finder = std::sync::LazyLock<memchr::memmem::Finder<'static>>;

// Searchers built once: `memmem::find` builds one per call, which cost more than searching
// a REGISTER's Via.
/// A branch of ours (cookie and mark) anywhere.
static OUR_BRANCH: Finder = Finder::new(|| {
    let cookie_on = OUR_BRANCH_PARAM.get(b"branch=".len()..);
    memchr::memmem::Finder::new(cookie_on.unwrap_or_default())
});
/// The branch parameter of ours.
static OUR_BRANCH_PARAM_FINDER: Finder =
    Finder::new(|| memchr::memmem::Finder::new(&OUR_BRANCH_PARAM));

fn branch_start(bytes: &[u8]) -> Option<usize> {
    OUR_BRANCH_PARAM_FINDER
        .find(bytes)
        .map(|at| at + b"branch=".len())
}

/// Offset of the unique part of our branch in a request we built.
fn find_unique(bytes: &[u8]) -> Option<usize> {
    Some(branch_start(bytes)? + BRANCH_LEN - UNIQUE_LEN)
}

/// `v` as 16 lower-case hex digits (two per relayed request).
fn write_hex(v: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&proto::hex16(v));
}

fn join_values(values: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, x) in values.iter().enumerate() {
        if i > 0 {
            v.extend_from_slice(b", ");
        }
        v.extend_from_slice(x);
    }
    v
}

/// CANCEL or ACK built from the INVITE we sent (§9.1, §17.1.1.3): its Request-URI, top Via,
/// Route set, From, Call-ID; To from `to` (the response's, with its tag) or the INVITE's;
/// CSeq number with the new method.
fn write_in_dialog_request(
    inv: &Message<'_, '_>,
    method: &[u8],
    to: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let ruri = inv.request_uri().map_or(&b""[..], |u| u.raw);
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(ruri);
    out.extend_from_slice(b" SIP/2.0\r\n");
    if let Some(v) = inv.top_via() {
        out.extend_from_slice(b"Via: ");
        out.extend_from_slice(v.raw);
        out.extend_from_slice(b"\r\n");
    }
    for h in inv.headers_of(HeaderKind::Route) {
        out.extend_from_slice(b"Route: ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Max-Forwards: 70\r\n");
    if let Some(f) = inv.header(HeaderKind::From) {
        out.extend_from_slice(b"From: ");
        out.extend_from_slice(f.value);
        out.extend_from_slice(b"\r\n");
    }
    let to = to.or_else(|| inv.header(HeaderKind::To).map(|h| h.value));
    if let Some(t) = to {
        out.extend_from_slice(b"To: ");
        out.extend_from_slice(t);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(c) = inv.call_id() {
        out.extend_from_slice(b"Call-ID: ");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"CSeq: ");
    proto::push_decimal(out, u64::from(inv.cseq().map_or(1, |c| c.seq)));
    out.push(b' ');
    out.extend_from_slice(method);
    out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::write_hex;

    #[test]
    fn hex_as_the_formatter_writes_it() {
        for v in [
            0u64,
            1,
            0xf,
            0x10,
            0xdead_beef,
            0x0123_4567_89ab_cdef,
            u64::MAX,
        ] {
            let mut out = b"z9hG4bK".to_vec();
            write_hex(v, &mut out);
            assert_eq!(out, format!("z9hG4bK{v:016x}").into_bytes());
        }
    }
}
