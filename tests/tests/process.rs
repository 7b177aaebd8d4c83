//! End to end: the real `sipedge run` binary, its workers and signals, driven over UDP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use e2e::{client, exchange, request, scratch_dir, status_of, test_config, Sipedge};
use nix::sys::signal::Signal;

#[test]
fn options_and_stateless_answers() {
    let dir = scratch_dir("stateless");
    let config = format!(
        "{}\n[limits]\nmax_message_size = 4096\n",
        test_config(&dir, 25061, 2)
    );
    let s = Sipedge::start(&dir, &config, 25061);
    assert_eq!(s.options_status(), Some(200));

    let sock = client();
    let msg = request(&sock, "INVITE", "sip:404@127.0.0.1:25061", "");
    let resp = exchange(&sock, s.addr, msg.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(status_of(&resp), Some(404));
    let text = String::from_utf8_lossy(&resp);
    assert!(text.contains(";rport="), "{text}");
    assert!(
        text.contains("To: <sip:404@127.0.0.1:25061>;tag="),
        "{text}"
    );

    let msg = request(&sock, "INVITE", "sip:404@127.0.0.1:25061", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let resp = exchange(&sock, s.addr, msg.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(status_of(&resp), Some(483));

    // Over max_message_size: 513.
    let pad = format!("X-Pad: {}\r\n", "a".repeat(1000));
    let msg = request(&sock, "INVITE", "sip:404@127.0.0.1:25061", &pad.repeat(5));
    let resp = exchange(&sock, s.addr, msg.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(status_of(&resp), Some(513));

    // ACK is absorbed.
    let msg = request(&sock, "ACK", "sip:404@127.0.0.1:25061", "");
    assert!(exchange(&sock, s.addr, msg.as_bytes(), Duration::from_millis(300)).is_none());
}

/// Every RFC 4475 invalid request gets the status its manifest names (400, or 505 for
/// badvers); invalid responses get nothing.
#[test]
fn rfc4475_invalid_requests_get_their_status() {
    let dir = scratch_dir("rfc4475");
    let s = Sipedge::start(&dir, &test_config(&dir, 25062, 2), 25062);
    let manifest = std::fs::read_to_string(e2e::corpus("rfc4475/MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, group) = (cols[0], cols[3]);
        if group != "invalid" {
            continue;
        }
        let bytes = std::fs::read(e2e::corpus(&format!("rfc4475/{file}"))).unwrap();
        let sock = client();
        let got =
            exchange(&sock, s.addr, &bytes, Duration::from_millis(500)).and_then(|r| status_of(&r));
        let expected = match file {
            "invalid/badvers.dat" => Some(505),
            // Responses are never answered.
            "invalid/bigcode.dat" | "invalid/scalarlg.dat" => None,
            // Accepted liberally (Date is irrelevant to a proxy); its 404 goes to the Via
            // sent-by port 5060, not to us.
            "invalid/baddate.dat" => None,
            _ => Some(400),
        };
        assert_eq!(got, expected, "{file}");
        checked += 1;
    }
    assert_eq!(checked, 19);
    assert_eq!(
        s.options_status(),
        Some(200),
        "still answering after the torture run"
    );
}

#[test]
fn killed_worker_is_replaced_within_a_second() {
    let dir = scratch_dir("respawn");
    let s = Sipedge::start(&dir, &test_config(&dir, 25063, 2), 25063);
    let before: HashSet<i32> = s.workers().into_iter().collect();
    assert_eq!(before.len(), 2, "{}", s.log_text());
    let victim = *before.iter().next().unwrap();
    assert!(
        s.kill_workers(&[victim], Duration::from_secs(1)),
        "no replacement within 1 s; log:\n{}",
        s.log_text()
    );
    // Many client ports hash over both sockets of the group: all must be answered, which
    // includes the replaced worker's slot.
    for _ in 0..20 {
        assert_eq!(s.options_status(), Some(200));
    }
    assert!(
        s.log_text().contains("killed by SIGKILL: restarting"),
        "{}",
        s.log_text()
    );
}

#[test]
fn sighup_with_broken_config_keeps_running_and_sigterm_exits_zero() {
    let dir = scratch_dir("reload");
    let good = test_config(&dir, 25064, 2);
    let mut s = Sipedge::start(&dir, &good, 25064);

    std::fs::write(&s.config, "[general]\nworkers = \"many\"\n").unwrap();
    s.signal(Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "master died on a bad reload"
    );
    assert_eq!(s.options_status(), Some(200));
    let log = s.log_text();
    assert!(
        log.contains("reload failed, keeping the running configuration"),
        "{log}"
    );
    assert!(log.contains("sipedge.toml: line 2: invalid type"), "{log}");

    std::fs::write(&s.config, &good).unwrap();
    s.signal(Signal::SIGHUP);
    let t = Instant::now();
    while !s.log_text().contains("configuration reloaded generation=2")
        && t.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        s.log_text().contains("configuration reloaded generation=2"),
        "{}",
        s.log_text()
    );
    assert_eq!(s.options_status(), Some(200));

    s.signal(Signal::SIGTERM);
    let status = s
        .wait_exit(Duration::from_secs(5))
        .expect("master did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn workers_exit_when_the_master_dies() {
    let dir = scratch_dir("orphans");
    let mut s = Sipedge::start(&dir, &test_config(&dir, 25065, 2), 25065);
    let workers = s.workers();
    assert_eq!(workers.len(), 2);
    s.signal(Signal::SIGKILL);
    s.wait_exit(Duration::from_secs(2))
        .expect("master did not die");
    let t = Instant::now();
    let alive = |pid: &i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|st| !st.contains(") Z "))
            .unwrap_or(false)
    };
    while workers.iter().any(alive) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!workers.iter().any(alive), "workers outlived their master");
}

/// Header slots: a message with more headers than the worker's first, small slot array (32)
/// is parsed again with the full one, up to `limits.max_headers`; past that it gets 400.
#[test]
fn many_headers_parse_up_to_the_limit() {
    let dir = scratch_dir("many-headers");
    let config = format!(
        "{}\n[limits]\nmax_headers = 100\n",
        test_config(&dir, 25066, 1)
    );
    let s = Sipedge::start(&dir, &config, 25066);
    let sock = client();
    let extra = |n: usize| (0..n).map(|i| format!("X-H{i}: v\r\n")).collect::<String>();
    // 8 headers of `request` plus 60: above 32, under 100.
    let msg = request(&sock, "INVITE", "sip:404@127.0.0.1:25066", &extra(60));
    let resp = exchange(&sock, s.addr, msg.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(
        status_of(&resp),
        Some(404),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    let msg = request(&sock, "INVITE", "sip:404@127.0.0.1:25066", &extra(120));
    let resp = exchange(&sock, s.addr, msg.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(status_of(&resp), Some(400));
    assert!(
        String::from_utf8_lossy(&resp).contains("Too many header fields"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
}
