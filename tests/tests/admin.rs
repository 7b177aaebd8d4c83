//! End to end: the admin HTTP endpoint (`/metrics`, `/health`), `sipedge ctl`, log reopening,
//! and steering of one source's traffic over every worker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use e2e::{
    client, ctl, exchange, http_get, metric_sum, request, scratch_dir, status_of,
    test_config_admin, Sipedge,
};
use nix::sys::signal::Signal;

fn scrape(admin: &str) -> String {
    let (status, body) = http_get(admin, "/metrics").expect("no answer from /metrics");
    assert_eq!(status, 200, "{body}");
    body
}

/// Counters after minus counters before, for one series selection.
fn delta(before: &str, after: &str, name: &str, labels: &[&str]) -> u64 {
    metric_sum(after, name, labels) - metric_sum(before, name, labels)
}

#[test]
fn metrics_totals_equal_what_the_test_sent() {
    let dir = scratch_dir("metrics");
    let admin = "127.0.0.1:29071";
    let s = Sipedge::start(&dir, &test_config_admin(&dir, 25071, 2, admin), 25071);
    let before = scrape(admin);
    let ruri = "sip:127.0.0.1:25071";

    // One client socket, many Call-IDs: like one trunk.
    let sock = client();
    for _ in 0..40 {
        let m = request(&sock, "OPTIONS", ruri, "");
        let r = exchange(&sock, s.addr, m.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(status_of(&r), Some(200));
    }
    let mut answered = Vec::new();
    for _ in 0..30 {
        let m = request(&sock, "INVITE", "sip:404@127.0.0.1:25071", "");
        let r = exchange(&sock, s.addr, m.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(status_of(&r), Some(404));
        answered.push((m, String::from_utf8_lossy(&r).into_owned()));
    }
    // The ACKs for five of those 404s (same branch, the 404's To tag): absorbed.
    for (invite, resp) in answered.iter().take(5) {
        let to = resp
            .lines()
            .find(|l| l.starts_with("To:"))
            .unwrap()
            .to_string();
        let ack: String = invite
            .replacen("INVITE sip", "ACK sip", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .lines()
            .map(|l| {
                if l.starts_with("To:") {
                    to.clone()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n";
        assert!(exchange(&sock, s.addr, ack.as_bytes(), Duration::from_millis(50)).is_none());
    }
    for i in 0..10 {
        // Malformed Via: answered 400 by whichever worker read it.
        let m = request(&sock, "INVITE", ruri, "").replacen(
            "Via: SIP/2.0/UDP",
            &format!("Via: SIP/2.0/UDP ;;{i}"),
            1,
        );
        let r = exchange(&sock, s.addr, m.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(status_of(&r), Some(400), "{}", String::from_utf8_lossy(&r));
    }
    let after = scrape(admin);

    let d = |name: &str, labels: &[&str]| delta(&before, &after, name, labels);
    assert_eq!(d("sipedge_received_datagrams_total", &[]), 85, "{after}");
    assert_eq!(
        d("sipedge_requests_total", &["method=\"OPTIONS\""]),
        40,
        "{after}"
    );
    assert_eq!(d("sipedge_requests_total", &["method=\"INVITE\""]), 30);
    assert_eq!(d("sipedge_requests_total", &["method=\"ACK\""]), 5);
    assert_eq!(d("sipedge_replies_total", &["code=\"200\""]), 40);
    assert_eq!(d("sipedge_replies_total", &["code=\"404\""]), 30);
    assert_eq!(d("sipedge_replies_total", &["code=\"400\""]), 10);
    assert_eq!(d("sipedge_parse_errors_total", &[]), 10);
    assert_eq!(d("sipedge_dropped_total", &["reason=\"ack_absorbed\""]), 5);
    // What one worker steered, another received; nothing was lost on the way.
    let fwd = d("sipedge_ipc_forwarded_total", &[]);
    assert_eq!(fwd, d("sipedge_ipc_received_total", &[]));
    assert_eq!(d("sipedge_ipc_dropped_total", &[]), 0);
    // One source address lands on one socket, yet both workers handled requests.
    for w in ["worker=\"0\"", "worker=\"1\""] {
        assert!(
            d("sipedge_requests_total", &[w]) >= 10,
            "worker {w} idle:\n{after}"
        );
    }
    // Requests the other worker owns were either steered to it or, needing no transaction
    // (OPTIONS, stateless 404, ACK of a 404), answered where they landed.
    let local = d("sipedge_steering_local_total", &[]);
    assert!(fwd + local >= 10, "nothing crossed workers:\n{after}");
    assert!(
        local >= 5,
        "no stateless request was answered where it landed:\n{after}"
    );
    assert_eq!(metric_sum(&after, "sipedge_workers", &[]), 2);

    let (status, body) = http_get(admin, "/health").unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = http_get(admin, "/nope").unwrap();
    assert_eq!(status, 404);
}

#[test]
fn ctl_status_and_reload() {
    let dir = scratch_dir("ctl");
    let good = test_config_admin(&dir, 25072, 2, "");
    let s = Sipedge::start(&dir, &good, 25072);

    let (ok, out) = ctl(&s.config, &["--json", "status"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["generation"], 1);
    assert_eq!(v["pid"], s.pid());
    let mut pids: Vec<i64> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["pid"].as_i64().unwrap())
        .collect();
    let mut expected: Vec<i64> = s.workers().into_iter().map(i64::from).collect();
    pids.sort_unstable();
    expected.sort_unstable();
    assert_eq!(pids, expected);

    let (ok, out) = ctl(&s.config, &["status"]);
    assert!(
        ok && out.contains("generation 1") && out.contains("slot"),
        "{out}"
    );

    // A good reload answers with the new generation and the workers confirm it.
    let (ok, out) = ctl(&s.config, &["reload"]);
    assert!(ok, "{out}");
    assert!(out.contains("generation 2"), "{out}");
    let t = Instant::now();
    loop {
        let (_, out) = ctl(&s.config, &["--json", "status"]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        if v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["generation"] == 2)
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "workers not at generation 2: {v}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A broken file: the master's answer says exactly what is wrong, ctl exits non-zero,
    // nothing changes.
    std::fs::write(
        &s.config,
        good.replace("drain_timeout = 2", "drain_timeout = \"x\""),
    )
    .unwrap();
    let (ok, out) = ctl(&s.config, &["reload"]);
    assert!(!ok, "{out}");
    assert!(out.contains("sipedge.toml: line 4"), "{out}");
    std::fs::write(
        &s.config,
        good.replace("log_level = \"info\"", "log_level = \"loud\""),
    )
    .unwrap();
    let (ok, out) = ctl(&s.config, &["reload"]);
    assert!(!ok, "{out}");
    assert!(out.contains("general.log_level"), "{out}");
    assert_eq!(s.options_status(), Some(200));
    let (_, out) = ctl(&s.config, &["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["generation"], 2, "{v}");
    assert_eq!(v["reloads"]["error"], 2, "{v}");
    assert!(s
        .log_text()
        .contains("reload failed, keeping the running configuration"));
}

#[test]
fn sigusr1_reopens_the_log_file_in_master_and_workers() {
    let dir = scratch_dir("reopen");
    let log = dir.join("sipedge-file.log");
    let config = test_config_admin(&dir, 25073, 2, "").replace(
        "drain_timeout = 2",
        &format!("drain_timeout = 2\nlog_file = \"{}\"", log.display()),
    );
    let s = Sipedge::start(&dir, &config, 25073);
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("sipedge started"));
    let rotated = dir.join("sipedge-file.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    s.signal(Signal::SIGUSR1);
    let t = Instant::now();
    while !log.exists() && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Workers write to the new file too: a reload makes each of them log a line.
    std::thread::sleep(Duration::from_millis(100));
    s.signal(Signal::SIGHUP);
    let t = Instant::now();
    let applied = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("configuration applied")
            .count()
    };
    while applied() < 2 && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("log file reopened"), "{text}");
    assert_eq!(applied(), 2, "{text}");
    assert!(!std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("configuration applied"));
}
