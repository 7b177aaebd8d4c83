//! Dispatcher sets of one worker: destination selection, failover decisions and health.
//!
//! Health has three states (the store's [`DestStatus`]):
//! - `Active`: takes traffic.
//! - `Inactive`: failed `threshold_down` consecutive checks (OPTIONS probes, or forwarded
//!   requests that timed out); takes no traffic and keeps being probed.
//! - `Probing`: an inactive destination that answered probes, but fewer than `threshold_up`
//!   times in a row yet; takes no traffic.
//!
//! Each destination is probed by exactly one worker (the slot its URI hashes to). Whoever sees
//! a state change reports it as a [`StateChange`]; the event loop logs it and writes it to the
//! store, and every worker applies the store's states each second, so all workers agree
//! within about a second.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use shared::config::dispatcher::{code_matches, Probe};
use shared::config::DispatcherSet;
use shared::store::{DestState, DestStatus};

use crate::steering::fnv1a;

/// How a forwarded request ended at one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A final response.
    Status(u16),
    /// Timer B/F fired without a final response.
    Timeout,
    /// The request could not be sent.
    Transport,
}

/// How a health probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Reply(u16),
    Timeout,
}

/// What hash-based algorithms hash on.
pub struct SelectInput<'a> {
    pub call_id: &'a [u8],
    pub from_user: Option<&'a [u8]>,
    pub to_user: Option<&'a [u8]>,
    pub ruri_user: Option<&'a [u8]>,
    pub auth_user: Option<&'a [u8]>,
    /// A random number from the caller (the proxy's generator), for `random`/`weighted`.
    pub random: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    RoundRobin,
    Random,
    Weighted,
    Priority,
    HashCallId,
    HashFromUser,
    HashToUser,
    HashRuriUser,
    HashAuthUser,
}

impl Algorithm {
    fn parse(s: &str) -> Option<Algorithm> {
        Some(match s {
            "round-robin" => Algorithm::RoundRobin,
            "random" => Algorithm::Random,
            "weighted" => Algorithm::Weighted,
            "priority" => Algorithm::Priority,
            "hash-call-id" => Algorithm::HashCallId,
            "hash-from-user" => Algorithm::HashFromUser,
            "hash-to-user" => Algorithm::HashToUser,
            "hash-ruri-user" => Algorithm::HashRuriUser,
            "hash-auth-user" => Algorithm::HashAuthUser,
            _ => return None,
        })
    }
}

/// One destination with its health.
#[derive(Debug, Clone)]
pub struct Dest {
    pub uri: String,
    pub addr: SocketAddr,
    pub weight: u32,
    pub priority: u32,
    pub probe: bool,
    pub state: DestStatus,
    /// Unix seconds of the last state change (0: never changed).
    pub since: u64,
    /// Consecutive failures (probes or timed-out requests).
    pub fails: u32,
    /// Consecutive successful probes while not active.
    pub oks: u32,
    /// Last status code seen (0: none or timeout).
    pub last_code: u16,
    next_probe: Option<Instant>,
}

/// One dispatcher set.
#[derive(Debug, Clone)]
pub struct Set {
    pub name: String,
    algorithm: Algorithm,
    pub dests: Vec<Dest>,
    pub max_failover: usize,
    failover_on: Vec<String>,
    failover_on_timeout: bool,
    pub probe: Probe,
    rr: usize,
    /// Destination indices by (priority, config order), for `priority`.
    by_priority: Vec<usize>,
}

/// A destination whose state changed.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub set: usize,
    pub set_name: String,
    pub uri: String,
    pub from: DestStatus,
    pub to: DestStatus,
    pub reason: String,
    fails: u32,
    last_code: u16,
}

impl StateChange {
    /// The record the store keeps for this destination.
    pub fn to_state(&self, unix: u64) -> DestState {
        DestState {
            state: self.to,
            since: unix,
            fails: self.fails,
            last_code: self.last_code,
        }
    }
}

/// All dispatcher sets of a configuration.
#[derive(Debug, Clone, Default)]
pub struct Dispatcher {
    sets: Vec<Set>,
}

/// Resolve a destination URI to the address requests go to: the host (names resolved now,
/// at load or reload) and the port, 5060 (5061 for sips) when absent.
fn resolve(uri: &str) -> Result<SocketAddr, String> {
    let u = proto::Uri::parse(uri.as_bytes()).ok_or_else(|| format!("{uri:?} is not a URI"))?;
    let port = u
        .port
        .unwrap_or(if matches!(u.scheme, proto::Scheme::Sips) {
            5061
        } else {
            5060
        });
    if let Some(ip) = u.host.ip() {
        return Ok(SocketAddr::new(ip, port));
    }
    let host = std::str::from_utf8(u.host.text).map_err(|_| format!("{uri:?}: bad host"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("destination {uri:?}: cannot resolve {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("destination {uri:?}: {host:?} has no address"))
}

impl Dispatcher {
    /// Build the sets of a validated configuration; hostnames are resolved here.
    pub fn from_config(sets: &[DispatcherSet]) -> Result<Dispatcher, String> {
        let mut out = Vec::with_capacity(sets.len());
        for s in sets {
            let algorithm = Algorithm::parse(&s.algorithm).ok_or_else(|| {
                format!(
                    "dispatcher {:?}: unknown algorithm {:?}",
                    s.name, s.algorithm
                )
            })?;
            let mut dests = Vec::with_capacity(s.destinations.len());
            for d in &s.destinations {
                dests.push(Dest {
                    uri: d.uri.clone(),
                    addr: resolve(&d.uri).map_err(|e| format!("dispatcher {:?}: {e}", s.name))?,
                    weight: d.weight,
                    priority: d.priority,
                    probe: d.probe && s.probe.interval > 0,
                    state: DestStatus::Active,
                    since: 0,
                    fails: 0,
                    oks: 0,
                    last_code: 0,
                    next_probe: None,
                });
            }
            let mut by_priority: Vec<usize> = (0..dests.len()).collect();
            by_priority.sort_by_key(|&i| (dests.get(i).map_or(u32::MAX, |d| d.priority), i));
            out.push(Set {
                name: s.name.clone(),
                algorithm,
                dests,
                max_failover: s.max_failover,
                failover_on_timeout: s.failover_on.iter().any(|f| f == "timeout"),
                failover_on: s.failover_on.clone(),
                probe: s.probe.clone(),
                rr: 0,
                by_priority,
            });
        }
        Ok(Dispatcher { sets: out })
    }

    /// Take over a reloaded configuration, keeping the health and round-robin position of
    /// destinations (by set name and URI) that are still there.
    pub fn reload(&mut self, mut new: Dispatcher) {
        for s in &mut new.sets {
            let Some(old) = self.sets.iter().find(|o| o.name == s.name) else {
                continue;
            };
            s.rr = old.rr;
            for d in &mut s.dests {
                if let Some(o) = old.dests.iter().find(|o| o.uri == d.uri) {
                    d.state = o.state;
                    d.since = o.since;
                    d.fails = o.fails;
                    d.oks = o.oks;
                    d.last_code = o.last_code;
                    d.next_probe = o.next_probe;
                }
            }
        }
        *self = new;
    }

    pub fn set_index(&self, name: &str) -> Option<usize> {
        self.sets.iter().position(|s| s.name == name)
    }

    pub fn set(&self, i: usize) -> Option<&Set> {
        self.sets.get(i)
    }

    pub fn sets(&self) -> &[Set] {
        &self.sets
    }

    pub fn set_names(&self) -> impl Iterator<Item = &str> {
        self.sets.iter().map(|s| s.name.as_str())
    }

    pub fn dest(&self, set: usize, i: usize) -> Option<&Dest> {
        self.sets.get(set)?.dests.get(i)
    }

    /// Choose a destination of `set` for a request that already tried `tried`; None when the
    /// set's failover limit is reached or no active destination is left.
    pub fn select(
        &mut self,
        set: usize,
        input: &SelectInput<'_>,
        tried: &[usize],
    ) -> Option<usize> {
        let s = self.sets.get_mut(set)?;
        if tried.len() >= s.max_failover {
            return None;
        }
        let n = s.dests.len();
        let usable = |d: &[Dest], i: usize| {
            d.get(i).is_some_and(|d| d.state == DestStatus::Active) && !tried.contains(&i)
        };
        let key = match s.algorithm {
            Algorithm::HashCallId => Some(input.call_id).filter(|k| !k.is_empty()),
            Algorithm::HashFromUser => input.from_user,
            Algorithm::HashToUser => input.to_user,
            Algorithm::HashRuriUser => input.ruri_user,
            Algorithm::HashAuthUser => input.auth_user,
            _ => None,
        };
        match (s.algorithm, key) {
            (Algorithm::Priority, _) => {
                s.by_priority.iter().copied().find(|&i| usable(&s.dests, i))
            }
            (Algorithm::Random, _) => {
                let live: usize = (0..n).filter(|&i| usable(&s.dests, i)).count();
                if live == 0 {
                    return None;
                }
                let k = (input.random % live as u64) as usize;
                (0..n).filter(|&i| usable(&s.dests, i)).nth(k)
            }
            (Algorithm::Weighted, _) => {
                let total: u64 = (0..n)
                    .filter(|&i| usable(&s.dests, i))
                    .map(|i| s.dests.get(i).map_or(0, |d| u64::from(d.weight)))
                    .sum();
                if total == 0 {
                    // Every live destination has weight 0: treat them equally.
                    let first = (0..n).find(|&i| usable(&s.dests, i));
                    return first;
                }
                let mut r = input.random % total;
                for i in 0..n {
                    if !usable(&s.dests, i) {
                        continue;
                    }
                    let w = s.dests.get(i).map_or(0, |d| u64::from(d.weight));
                    if r < w {
                        return Some(i);
                    }
                    r -= w;
                }
                None
            }
            (Algorithm::RoundRobin, _) | (_, None) => {
                // Hash algorithms without their key fall back to round-robin.
                let start = s.rr;
                s.rr = s.rr.wrapping_add(1);
                (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| usable(&s.dests, i))
            }
            (_, Some(key)) => {
                // The same key keeps the same destination while it is up; when it is not,
                // the next one in order takes over.
                let start = (fnv1a(key) % n as u64) as usize;
                (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| usable(&s.dests, i))
            }
        }
    }

    /// Whether a request to `set` that ended with `outcome` moves to the next destination.
    pub fn should_failover(&self, set: usize, outcome: Outcome) -> bool {
        let Some(s) = self.sets.get(set) else {
            return false;
        };
        match outcome {
            Outcome::Status(code) => code_matches(&s.failover_on, code),
            Outcome::Timeout => s.failover_on_timeout,
            Outcome::Transport => true,
        }
    }

    /// Passive health: a forwarded request's outcome. Timeouts and transport errors count
    /// as failed checks; any answer from an active destination shows it is alive. Only a
    /// probed destination is taken out: nothing but a probe brings one back, so an unprobed
    /// destination (probing off, or `probe = false`) stays active and each request that it
    /// fails still fails over.
    pub fn on_request_outcome(
        &mut self,
        set: usize,
        dest: usize,
        outcome: Outcome,
        now: Instant,
    ) -> Option<StateChange> {
        let _ = now;
        let threshold = self.sets.get(set)?.probe.threshold_down;
        let d = self.sets.get_mut(set)?.dests.get_mut(dest)?;
        match outcome {
            Outcome::Status(code) => {
                d.last_code = code;
                if d.state == DestStatus::Active {
                    d.fails = 0;
                }
                None
            }
            Outcome::Timeout | Outcome::Transport => {
                d.last_code = 0;
                d.fails = d.fails.saturating_add(1);
                if d.state == DestStatus::Active && d.fails >= threshold && d.probe {
                    let why = format!("{} forwarded requests unanswered", d.fails);
                    self.change(set, dest, DestStatus::Inactive, why)
                } else {
                    None
                }
            }
        }
    }

    /// Active health: an OPTIONS probe's outcome.
    pub fn on_probe_result(
        &mut self,
        set: usize,
        dest: usize,
        result: ProbeResult,
        now: Instant,
    ) -> Option<StateChange> {
        let _ = now;
        let s = self.sets.get(set)?;
        let (down, up) = (s.probe.threshold_down, s.probe.threshold_up);
        let ok = match result {
            ProbeResult::Reply(code) => code_matches(&s.probe.ok_codes, code),
            ProbeResult::Timeout => false,
        };
        let d = self.sets.get_mut(set)?.dests.get_mut(dest)?;
        d.last_code = match result {
            ProbeResult::Reply(c) => c,
            ProbeResult::Timeout => 0,
        };
        let why = match result {
            ProbeResult::Reply(c) => format!("probe answered {c}"),
            ProbeResult::Timeout => "probe unanswered".to_string(),
        };
        if ok {
            d.fails = 0;
            if d.state == DestStatus::Active {
                return None;
            }
            d.oks = d.oks.saturating_add(1);
            let to = if d.oks >= up {
                DestStatus::Active
            } else {
                DestStatus::Probing
            };
            if to == d.state {
                return None;
            }
            let why = format!("{why}, {} in a row", d.oks);
            self.change(set, dest, to, why)
        } else {
            d.oks = 0;
            d.fails = d.fails.saturating_add(1);
            let to = match d.state {
                DestStatus::Active if d.fails >= down => DestStatus::Inactive,
                DestStatus::Probing => DestStatus::Inactive,
                _ => return None,
            };
            let why = format!("{why}, {} failed checks in a row", d.fails);
            self.change(set, dest, to, why)
        }
    }

    fn change(
        &mut self,
        set: usize,
        dest: usize,
        to: DestStatus,
        reason: String,
    ) -> Option<StateChange> {
        let s = self.sets.get_mut(set)?;
        let d = s.dests.get_mut(dest)?;
        let from = d.state;
        d.state = to;
        if to == DestStatus::Active {
            d.oks = 0;
            d.fails = 0;
        }
        d.since = unix_now();
        Some(StateChange {
            set,
            set_name: s.name.clone(),
            uri: d.uri.clone(),
            from,
            to,
            reason,
            fails: d.fails,
            last_code: d.last_code,
        })
    }

    /// Destinations this worker slot must probe now (each destination belongs to one slot,
    /// by a hash of its URI), with the next probe scheduled.
    pub fn probes_due(&mut self, now: Instant, slot: usize, workers: usize) -> Vec<(usize, usize)> {
        let workers = workers.max(1) as u64;
        let mut due = Vec::new();
        for (si, s) in self.sets.iter_mut().enumerate() {
            let every = Duration::from_secs(s.probe.interval);
            for (di, d) in s.dests.iter_mut().enumerate() {
                if !d.probe || fnv1a(d.uri.as_bytes()) % workers != slot as u64 {
                    continue;
                }
                match d.next_probe {
                    Some(t) if t > now => {}
                    _ => {
                        d.next_probe = Some(now + every);
                        due.push((si, di));
                    }
                }
            }
        }
        due
    }

    /// Take a state another worker published in the store.
    pub fn apply_shared(&mut self, set: &str, uri: &str, state: DestStatus) {
        let Some(s) = self.sets.iter_mut().find(|s| s.name == set) else {
            return;
        };
        if let Some(d) = s.dests.iter_mut().find(|d| d.uri == uri) {
            if d.state != state {
                d.state = state;
                if state == DestStatus::Active {
                    d.fails = 0;
                }
                d.oks = 0;
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Config;
    use std::path::Path;

    fn ds(extra: &str) -> Dispatcher {
        let text = format!(
            "[[listen]]\naddress = \"127.0.0.1:5060\"\n[[dispatcher]]\nname = \"core\"\ndestinations = [{{ uri = \"sip:127.0.0.1:5080\", weight = 3, priority = 2 }}, {{ uri = \"sip:127.0.0.2:5080\", weight = 1, priority = 1 }}, {{ uri = \"sip:127.0.0.3\" , priority = 3 }}]\n{extra}\n"
        );
        let c = Config::from_str(&text, Path::new("t.toml")).unwrap();
        Dispatcher::from_config(&c.dispatcher).unwrap()
    }

    fn input(random: u64) -> SelectInput<'static> {
        SelectInput {
            call_id: b"abc@host",
            from_user: Some(b"alice"),
            to_user: None,
            ruri_user: Some(b"bob"),
            auth_user: None,
            random,
        }
    }

    #[test]
    fn resolves_default_ports() {
        let d = ds("");
        assert_eq!(d.dest(0, 2).unwrap().addr.port(), 5060);
        assert_eq!(d.dest(0, 0).unwrap().addr.to_string(), "127.0.0.1:5080");
    }

    #[test]
    fn round_robin_cycles_and_skips_tried() {
        let mut d = ds("algorithm = \"round-robin\"");
        let picks: Vec<_> = (0..6)
            .map(|_| d.select(0, &input(0), &[]).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert_eq!(d.select(0, &input(0), &[0]), Some(1));
        assert_eq!(d.select(0, &input(0), &[0, 1]), Some(2));
        assert_eq!(d.select(0, &input(0), &[0, 1, 2]), None);
    }

    #[test]
    fn failover_limit() {
        let mut d = ds("algorithm = \"priority\"\nmax_failover = 2");
        assert_eq!(d.select(0, &input(0), &[]), Some(1));
        assert_eq!(d.select(0, &input(0), &[1]), Some(0));
        assert_eq!(d.select(0, &input(0), &[1, 0]), None);
    }

    #[test]
    fn weighted_follows_weights() {
        let mut d = ds("algorithm = \"weighted\"");
        let mut n = [0u32; 3];
        for r in 0..500u64 {
            let i = d.select(0, &input(r), &[]).unwrap();
            n[i] += 1;
        }
        // weights 3:1:1 over consecutive random values
        assert_eq!(n, [300, 100, 100]);
    }

    #[test]
    fn hash_is_sticky_and_moves_when_down() {
        let mut d = ds("algorithm = \"hash-call-id\"");
        let a = d.select(0, &input(1), &[]).unwrap();
        assert_eq!(d.select(0, &input(2), &[]), Some(a));
        for _ in 0..3 {
            d.on_probe_result(0, a, ProbeResult::Timeout, Instant::now());
        }
        assert_eq!(d.dest(0, a).unwrap().state, DestStatus::Inactive);
        let b = d.select(0, &input(1), &[]).unwrap();
        assert_ne!(a, b);
        // hash on a missing key: round-robin
        let mut d = ds("algorithm = \"hash-to-user\"");
        let picks: Vec<_> = (0..3)
            .map(|_| d.select(0, &input(0), &[]).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 2]);
    }

    #[test]
    fn random_only_live() {
        let mut d = ds("algorithm = \"random\"");
        for _ in 0..3 {
            d.on_probe_result(0, 0, ProbeResult::Reply(503), Instant::now());
        }
        for r in 0..50 {
            assert_ne!(d.select(0, &input(r), &[]), Some(0));
        }
    }

    #[test]
    fn probe_state_machine() {
        let mut d = ds("[dispatcher.probe]\nthreshold_down = 2\nthreshold_up = 2");
        let now = Instant::now();
        assert!(d.on_probe_result(0, 0, ProbeResult::Timeout, now).is_none());
        let c = d.on_probe_result(0, 0, ProbeResult::Timeout, now).unwrap();
        assert_eq!((c.from, c.to), (DestStatus::Active, DestStatus::Inactive));
        assert_eq!(c.uri, "sip:127.0.0.1:5080");
        assert!(d.on_probe_result(0, 0, ProbeResult::Timeout, now).is_none());
        let c = d
            .on_probe_result(0, 0, ProbeResult::Reply(200), now)
            .unwrap();
        assert_eq!(c.to, DestStatus::Probing);
        // a failure while probing goes back to inactive
        let c = d
            .on_probe_result(0, 0, ProbeResult::Reply(500), now)
            .unwrap();
        assert_eq!(c.to, DestStatus::Inactive);
        d.on_probe_result(0, 0, ProbeResult::Reply(404), now);
        let c = d
            .on_probe_result(0, 0, ProbeResult::Reply(200), now)
            .unwrap();
        assert_eq!(c.to, DestStatus::Active);
        assert_eq!(c.to_state(7).since, 7);
    }

    #[test]
    fn passive_timeouts_mark_inactive() {
        let mut d = ds("");
        let now = Instant::now();
        assert!(d.on_request_outcome(0, 1, Outcome::Timeout, now).is_none());
        // an answer resets the count
        assert!(d
            .on_request_outcome(0, 1, Outcome::Status(486), now)
            .is_none());
        assert!(d.on_request_outcome(0, 1, Outcome::Timeout, now).is_none());
        assert!(d
            .on_request_outcome(0, 1, Outcome::Transport, now)
            .is_none());
        let c = d.on_request_outcome(0, 1, Outcome::Timeout, now).unwrap();
        assert_eq!(c.to, DestStatus::Inactive);
        assert!(d.should_failover(0, Outcome::Timeout));
        assert!(d.should_failover(0, Outcome::Status(503)));
        assert!(!d.should_failover(0, Outcome::Status(486)));
    }

    #[test]
    fn unprobed_destinations_stay_active() {
        // Probing off: three timeouts in a row are counted but do not take the destination
        // out for good (before, the bench's only core was lost after one brief stall).
        let mut d = ds("algorithm = \"priority\"\n[dispatcher.probe]\ninterval = 0");
        let now = Instant::now();
        for _ in 0..5 {
            assert!(d.on_request_outcome(0, 1, Outcome::Timeout, now).is_none());
        }
        let dest = d.dest(0, 1).unwrap();
        assert_eq!((dest.state, dest.fails), (DestStatus::Active, 5));
        assert!(d.should_failover(0, Outcome::Timeout));
        assert_eq!(
            d.select(0, &input(0), &[]),
            Some(1),
            "priority order still picks it"
        );
    }

    #[test]
    fn probes_spread_over_slots_and_reload_keeps_health() {
        let mut d = ds("");
        let now = Instant::now();
        let mut all: Vec<_> = (0..2).flat_map(|slot| d.probes_due(now, slot, 2)).collect();
        all.sort();
        assert_eq!(all, [(0, 0), (0, 1), (0, 2)]);
        assert!((0..2).all(|slot| d.probes_due(now, slot, 2).is_empty()));
        d.apply_shared("core", "sip:127.0.0.2:5080", DestStatus::Inactive);
        d.reload(ds(""));
        assert_eq!(d.dest(0, 1).unwrap().state, DestStatus::Inactive);
        assert_eq!(d.dest(0, 0).unwrap().state, DestStatus::Active);
    }
}
