//! What the master exports: Prometheus text for `/metrics` and the JSON of `sipedge ctl
//! status`, both built from one [`MasterFacts`] snapshot (the master's own facts plus the
//! counters every worker sent for this request). Series names and help texts are defined
//! once, in `shared::metrics::names`.

use std::collections::HashMap;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use shared::metrics::{names, WorkerStats};
use shared::store::StoreStat;

/// One worker slot as the master sees it.
pub struct SlotFacts {
    pub slot: usize,
    pub pid: Option<i32>,
    pub uptime: Duration,
    pub restarts: u64,
    pub generation: u64,
    /// None when the worker did not answer in time (or is down).
    pub stats: Option<WorkerStats>,
    /// Kernel receive-buffer drops of this slot's socket, per listener name.
    pub rcvbuf_drops: Vec<(String, u64)>,
}

pub struct MasterFacts {
    pub pid: u32,
    pub uptime: Duration,
    pub generation: u64,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub config_path: String,
    pub slots: Vec<SlotFacts>,
    /// Workers that did not answer in time.
    pub missing: usize,
    /// Store entry counts and map usage (None if reading them failed).
    pub store: Option<StoreStat>,
    /// Every dispatcher destination with its shared health.
    pub dispatcher: Vec<DestView>,
}

/// One dispatcher destination as `sipedge ctl dispatcher` and `/metrics` show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DestView {
    pub set: String,
    pub uri: String,
    pub algorithm: String,
    pub weight: u32,
    pub priority: u32,
    pub probe: bool,
    /// `active`, `inactive` or `probing`.
    pub state: &'static str,
    /// Unix seconds of the last state change (0: never changed since it was configured).
    pub since: u64,
    pub failed_checks: u32,
    /// Last status code seen from it (0: none, or a timeout).
    pub last_code: u16,
}

/// The destinations of `config` with the health the workers published in `store`.
pub fn dispatcher_view(
    config: &shared::config::Config,
    store: &shared::store::Store,
) -> Vec<DestView> {
    use shared::store::DestStatus;
    let mut out = Vec::new();
    for set in &config.dispatcher {
        let states = store.dest_states(&set.name).unwrap_or_default();
        for d in &set.destinations {
            let st = states.iter().find(|(u, _)| *u == d.uri).map(|(_, s)| s);
            out.push(DestView {
                set: set.name.clone(),
                uri: d.uri.clone(),
                algorithm: set.algorithm.clone(),
                weight: d.weight,
                priority: d.priority,
                probe: d.probe && set.probe.interval > 0,
                state: match st.map(|s| s.state) {
                    None | Some(DestStatus::Active) => "active",
                    Some(DestStatus::Inactive) => "inactive",
                    Some(DestStatus::Probing) => "probing",
                },
                since: st.map_or(0, |s| s.since),
                failed_checks: st.map_or(0, |s| s.fails),
                last_code: st.map_or(0, |s| s.last_code),
            });
        }
    }
    out
}

/// A registry being filled; metric construction errors (impossible with our static names)
/// are logged and the series skipped rather than failing the scrape.
struct Builder {
    reg: Registry,
}

impl Builder {
    fn add<C: Collector + Clone + 'static>(&self, c: Result<C, prometheus::Error>) -> Option<C> {
        match c {
            Ok(c) => match self.reg.register(Box::new(c.clone())) {
                Ok(()) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "metric registration");
                    None
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "metric definition");
                None
            }
        }
    }

    fn counter(&self, (name, help): (&str, &str), labels: &[&str]) -> Option<IntCounterVec> {
        self.add(IntCounterVec::new(Opts::new(name, help), labels))
    }

    fn gauge(&self, (name, help): (&str, &str)) -> Option<IntGauge> {
        self.add(IntGauge::new(name, help))
    }
}

fn inc(c: &Option<IntCounterVec>, labels: &[&str], n: u64) {
    if let Some(c) = c {
        if let Ok(m) = c.get_metric_with_label_values(labels) {
            m.inc_by(n);
        }
    }
}

/// Prometheus text exposition format.
pub fn render(f: &MasterFacts) -> String {
    let b = Builder {
        reg: Registry::new(),
    };
    let w = &["worker"];
    let received = b.counter(names::RECEIVED, w);
    let received_bytes = b.counter(names::RECEIVED_BYTES, w);
    let requests = b.counter(names::REQUESTS, &["worker", "method"]);
    let responses = b.counter(names::RESPONSES, &["worker", "code"]);
    let replies = b.counter(names::REPLIES, &["worker", "code"]);
    let parse_errors = b.counter(names::PARSE_ERRORS, &["worker", "reason"]);
    let drops = b.counter(names::DROPS, &["worker", "reason"]);
    let recv_errors = b.counter(names::RECV_ERRORS, w);
    let send_errors = b.counter(names::SEND_ERRORS, w);
    let store_commits = b.counter(names::STORE_COMMITS, w);
    let store_writes = b.counter(names::STORE_WRITES, w);
    let store_failures = b.counter(names::STORE_COMMIT_FAILURES, w);
    let rcvbuf = b.counter(names::UDP_RCVBUF_DROPS, &["worker", "listener"]);
    let fwd = b.counter(names::IPC_FORWARDED, w);
    let ipc_in = b.counter(names::IPC_RECEIVED, w);
    let ipc_drop = b.counter(names::IPC_DROPPED, w);
    let ipc_bad = b.counter(names::IPC_BAD_FRAMES, w);
    let restarts = b.counter(names::WORKER_RESTARTS, w);
    let reloads = b.counter(names::RELOADS, &["result"]);
    let workers = b.gauge(names::WORKERS);
    let generation = b.gauge(names::GENERATION);
    let uptime = b.gauge(names::UPTIME);
    let missing = b.gauge(names::SCRAPE_MISSING);
    let txns = b.add(IntGaugeVec::new(
        Opts::new(names::TRANSACTIONS.0, names::TRANSACTIONS.1),
        &["worker", "side"],
    ));
    let forwarded = b.counter(names::FORWARDED, &["worker", "mode"]);
    let relayed = b.counter(names::RELAYED, w);
    let retrans = b.counter(names::RETRANSMISSIONS, &["worker", "direction"]);
    let failovers = b.counter(names::FAILOVERS, w);
    let timeouts = b.counter(names::TIMEOUTS, w);
    let stray = b.counter(names::STRAY_RESPONSES, w);
    let registrations = b.counter(names::REGISTRATIONS, &["worker", "result"]);
    let local = b.counter(names::HANDLED_LOCALLY, w);
    let auth = b.counter(names::AUTH, &["worker", "result"]);
    let store_entries = b.add(IntGaugeVec::new(
        Opts::new(names::STORE_ENTRIES.0, names::STORE_ENTRIES.1),
        &["table"],
    ));
    let store_used = b.gauge(names::STORE_USED_BYTES);
    let store_map = b.gauge(names::STORE_MAP_BYTES);
    let store_readers = b.gauge(names::STORE_READERS);
    let ds_state = b.add(IntGaugeVec::new(
        Opts::new(names::DISPATCHER_STATE.0, names::DISPATCHER_STATE.1),
        &["set", "uri", "state"],
    ));
    let ds_fails = b.add(IntGaugeVec::new(
        Opts::new(names::DISPATCHER_FAILS.0, names::DISPATCHER_FAILS.1),
        &["set", "uri"],
    ));
    for d in &f.dispatcher {
        if let Some(g) = &ds_state {
            for st in ["active", "inactive", "probing"] {
                g.with_label_values(&[&d.set, &d.uri, st])
                    .set(i64::from(st == d.state));
            }
        }
        if let Some(g) = &ds_fails {
            g.with_label_values(&[&d.set, &d.uri])
                .set(i64::from(d.failed_checks));
        }
    }

    for s in &f.slots {
        let slot = s.slot.to_string();
        let sl = slot.as_str();
        inc(&restarts, &[sl], s.restarts);
        for (listener, n) in &s.rcvbuf_drops {
            inc(&rcvbuf, &[sl, listener], *n);
        }
        let Some(st) = &s.stats else { continue };
        inc(&received, &[sl], st.received);
        inc(&received_bytes, &[sl], st.received_bytes);
        for (m, n) in &st.requests {
            inc(&requests, &[sl, m], *n);
        }
        for (code, n) in &st.responses {
            inc(&responses, &[sl, &code.to_string()], *n);
        }
        for (code, n) in &st.replies {
            inc(&replies, &[sl, &code.to_string()], *n);
        }
        for (r, n) in &st.parse_errors {
            inc(&parse_errors, &[sl, r], *n);
        }
        for (r, n) in &st.drops {
            inc(&drops, &[sl, r], *n);
        }
        inc(&recv_errors, &[sl], st.recv_errors);
        inc(&send_errors, &[sl], st.send_errors);
        inc(&store_commits, &[sl], st.store_commits);
        inc(&store_writes, &[sl], st.store_writes);
        inc(&store_failures, &[sl], st.store_commit_failures);
        inc(&fwd, &[sl], st.ipc_forwarded);
        inc(&ipc_in, &[sl], st.ipc_received);
        inc(&ipc_drop, &[sl], st.ipc_dropped);
        inc(&ipc_bad, &[sl], st.ipc_bad_frames);
        if let Some(g) = &txns {
            g.with_label_values(&[sl, "server"])
                .set(i64::try_from(st.transactions.0).unwrap_or(i64::MAX));
            g.with_label_values(&[sl, "client"])
                .set(i64::try_from(st.transactions.1).unwrap_or(i64::MAX));
        }
        inc(&forwarded, &[sl, "stateful"], st.forwarded);
        inc(&forwarded, &[sl, "stateless"], st.forwarded_stateless);
        inc(&relayed, &[sl], st.relayed);
        inc(&retrans, &[sl, "sent"], st.retransmissions.0);
        inc(&retrans, &[sl, "absorbed"], st.retransmissions.1);
        inc(&failovers, &[sl], st.failovers);
        inc(&timeouts, &[sl], st.timeouts);
        inc(&stray, &[sl], st.stray_responses);
        inc(&local, &[sl], st.handled_locally);
        for (result, n) in &st.registrations {
            inc(&registrations, &[sl, result], *n);
        }
        for (result, n) in &st.auth {
            inc(&auth, &[sl, result], *n);
        }
    }
    inc(&reloads, &["ok"], f.reloads_ok);
    inc(&reloads, &["error"], f.reloads_failed);
    let set = |g: &Option<IntGauge>, v: u64| {
        if let Some(g) = g {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        }
    };
    set(
        &workers,
        f.slots.iter().filter(|s| s.pid.is_some()).count() as u64,
    );
    set(&generation, f.generation);
    set(&uptime, f.uptime.as_secs());
    set(&missing, f.missing as u64);
    if let Some(st) = &f.store {
        if let Some(g) = &store_entries {
            for (table, n) in [
                ("registrations", st.registrations),
                ("subscribers", st.subscribers),
                ("counters", st.counters),
                ("bans", st.bans),
                ("profiles", st.profiles),
                ("dispatcher", st.dispatcher),
            ] {
                g.with_label_values(&[table])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        set(&store_used, st.used_bytes() as u64);
        set(&store_map, st.map_size as u64);
        set(&store_readers, u64::from(st.readers));
    }

    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&b.reg.gather(), &mut out) {
        tracing::error!(error = %e, "metrics encoding");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The answer to `sipedge ctl status`.
pub fn status_json(f: &MasterFacts) -> serde_json::Value {
    let workers: Vec<serde_json::Value> = f
        .slots
        .iter()
        .map(|s| {
            let mut v = serde_json::json!({
                "slot": s.slot,
                "pid": s.pid,
                "uptime_s": s.uptime.as_secs(),
                "restarts": s.restarts,
                "generation": s.generation,
            });
            if let (Some(st), Some(obj)) = (&s.stats, v.as_object_mut()) {
                let sum = |l: &[(String, u64)]| l.iter().map(|(_, n)| n).sum::<u64>();
                obj.insert("received".into(), st.received.into());
                obj.insert("requests".into(), sum(&st.requests).into());
                obj.insert(
                    "responses".into(),
                    st.responses.iter().map(|(_, n)| n).sum::<u64>().into(),
                );
                obj.insert(
                    "replies".into(),
                    st.replies.iter().map(|(_, n)| n).sum::<u64>().into(),
                );
                obj.insert("ipc_forwarded".into(), st.ipc_forwarded.into());
                obj.insert("ipc_received".into(), st.ipc_received.into());
                obj.insert("ipc_dropped".into(), st.ipc_dropped.into());
            }
            v
        })
        .collect();
    serde_json::json!({
        "ok": true,
        "pid": f.pid,
        "uptime_s": f.uptime.as_secs(),
        "generation": f.generation,
        "config": f.config_path,
        "reloads": {"ok": f.reloads_ok, "error": f.reloads_failed},
        "workers": workers,
        "missing": f.missing,
        "store": f.store,
    })
}

/// Kernel drop counters of every UDP socket, by socket inode (`/proc/net/udp` and `udp6`,
/// last column). Read at scrape time only.
pub fn udp_drops_by_inode() -> HashMap<u64, u64> {
    let mut out = HashMap::new();
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            let inode = cols.get(9).and_then(|c| c.parse::<u64>().ok());
            let drops = cols.last().and_then(|c| c.parse::<u64>().ok());
            if let (Some(i), Some(d)) = (inode, drops) {
                out.insert(i, d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_summed_series_with_worker_labels() {
        let stats = |n: u64| WorkerStats {
            received: n,
            requests: vec![("OPTIONS".into(), n)],
            replies: vec![(200, n)],
            ..WorkerStats::default()
        };
        let f = MasterFacts {
            pid: 1,
            uptime: Duration::from_secs(5),
            generation: 2,
            reloads_ok: 1,
            reloads_failed: 0,
            config_path: "x.toml".into(),
            dispatcher: vec![DestView {
                set: "core".into(),
                uri: "sip:127.0.0.1:5080".into(),
                algorithm: "round-robin".into(),
                weight: 1,
                priority: 0,
                probe: true,
                state: "inactive",
                since: 1,
                failed_checks: 3,
                last_code: 0,
            }],
            slots: vec![
                SlotFacts {
                    slot: 0,
                    pid: Some(10),
                    uptime: Duration::ZERO,
                    restarts: 0,
                    generation: 2,
                    stats: Some(stats(3)),
                    rcvbuf_drops: vec![("public".into(), 0)],
                },
                SlotFacts {
                    slot: 1,
                    pid: Some(11),
                    uptime: Duration::ZERO,
                    restarts: 1,
                    generation: 2,
                    stats: Some(stats(4)),
                    rcvbuf_drops: vec![("public".into(), 2)],
                },
            ],
            missing: 0,
            store: None,
        };
        let text = render(&f);
        assert!(
            text.contains("sipedge_requests_total{method=\"OPTIONS\",worker=\"0\"} 3"),
            "{text}"
        );
        assert!(text.contains("sipedge_requests_total{method=\"OPTIONS\",worker=\"1\"} 4"));
        assert!(text.contains("sipedge_replies_total{code=\"200\",worker=\"1\"} 4"));
        assert!(text.contains("sipedge_worker_restarts_total{worker=\"1\"} 1"));
        assert!(text.contains(
            "sipedge_udp_receive_buffer_drops_total{listener=\"public\",worker=\"1\"} 2"
        ));
        assert!(text.contains("sipedge_config_generation 2"));
        assert!(text.contains("sipedge_workers 2"));
        assert!(text.contains(
            "sipedge_dispatcher_destination_state{set=\"core\",state=\"inactive\",uri=\"sip:127.0.0.1:5080\"} 1"
        ));
        assert!(text.contains(
            "sipedge_dispatcher_destination_state{set=\"core\",state=\"active\",uri=\"sip:127.0.0.1:5080\"} 0"
        ));
        assert!(text.contains(
            "sipedge_dispatcher_destination_failed_checks{set=\"core\",uri=\"sip:127.0.0.1:5080\"} 3"
        ));
        let j = status_json(&f);
        assert_eq!(j["workers"][1]["requests"], 4);
        assert_eq!(j["workers"][1]["restarts"], 1);
    }
}
