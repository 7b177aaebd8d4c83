//! End to end: scanner User-Agents, flood bans (while honest traffic from another loopback
//! address keeps flowing), ban management with sipedge ctl, and the registration-poisoning
//! guard.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use e2e::{ctl, exchange, scenario, scratch_dir, sipp, status_of, test_config, Sipedge};

fn options(sock: &UdpSocket, port: u16, ua: &str, n: u32) -> String {
    let me = sock.local_addr().unwrap();
    format!(
        "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKsec{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{me}>;tag=s{n}\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: sec{n}-{}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n",
        me.port()
    )
}

fn start(name: &str, port: u16, security: &str) -> Sipedge {
    let dir = scratch_dir(name);
    let config = format!(
        "{}\n[security]\n{security}\n[registrar]\ndomains = [\"127.0.0.1\"]\n[[dispatcher]]\nname = \"core\"\ndestinations = [{{ uri = \"sip:127.0.0.1:25480\" }}]\n[dispatcher.probe]\ninterval = 0\n[[route]]\nname = \"register\"\nmethod = [\"REGISTER\"]\nregister = true\n[[route]]\nname = \"404\"\nruri_user_prefix = [\"404\"]\nreply = 404\n",
        test_config(&dir, port, 2)
    );
    Sipedge::start(&dir, &config, port)
}

#[test]
fn scanners_get_no_answer() {
    let s = start("sec-scanner", 25401, "scanner_action = \"drop\"");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, ua) in [
        "friendly-scanner",
        "sipvicious 0.3",
        "VaxSIPUserAgent/3.1",
        "pplsip",
    ]
    .iter()
    .enumerate()
    {
        let m = options(&sock, 25401, ua, i as u32);
        assert!(
            exchange(&sock, s.addr, m.as_bytes(), Duration::from_millis(300)).is_none(),
            "{ua} got an answer"
        );
    }
    let m = options(&sock, 25401, "Linphone/5.2", 9);
    let r = exchange(&sock, s.addr, m.as_bytes(), Duration::from_secs(2)).unwrap();
    assert_eq!(status_of(&r), Some(200));
}

#[test]
fn a_flood_is_banned_within_two_seconds_while_calls_from_elsewhere_go_on() {
    let hook = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/e2e/sec-flood/hook.sh");
    let s = start(
        "sec-flood",
        25402,
        &format!(
            "flood_limit = 300\nflood_window = 2\nban_seconds = 60\ntrusted = [\"127.0.0.1\"]\nban_hook = \"{}\"",
            hook.display()
        ),
    );
    let dir = s.config.parent().unwrap().to_path_buf();
    // The ban hook: records its arguments.
    std::fs::write(
        &hook,
        format!("#!/bin/sh\necho \"$@\" >> {}/hook.log\n", dir.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Honest traffic from 127.0.0.1 (trusted here): stateless INVITE/404/ACK calls.
    let honest = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            sipp(
                &dir,
                "uac_404",
                &[
                    "-sf",
                    scenario("uac_404.xml").to_str().unwrap(),
                    "-s",
                    "404",
                    "127.0.0.1:25402",
                    "-i",
                    "127.0.0.1",
                    "-p",
                    "26402",
                    "-m",
                    "400",
                    "-r",
                    "100",
                ],
                Duration::from_secs(60),
            )
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // The flood: 127.0.0.5, bounded to 6000 datagrams over about 3 s.
    let attacker = UdpSocket::bind("127.0.0.5:0").unwrap();
    let started = Instant::now();
    let mut banned_after = None;
    for i in 0..6000u32 {
        let m = options(&attacker, 25402, "flooder", i);
        attacker.send_to(m.as_bytes(), s.addr).unwrap();
        if i % 200 == 0 && banned_after.is_none() {
            let (_, bans) = ctl(&s.config, &["ban", "list"]);
            if bans.contains("127.0.0.5") {
                banned_after = Some(started.elapsed());
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let t = Instant::now();
    while banned_after.is_none() && t.elapsed() < Duration::from_secs(3) {
        if ctl(&s.config, &["ban", "list"]).1.contains("127.0.0.5") {
            banned_after = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let banned_after = banned_after.expect("the flooding address was never banned");
    assert!(
        banned_after <= Duration::from_secs(2),
        "banned after {banned_after:?}"
    );
    assert!(s
        .log_text()
        .contains("sipedge ban: source 127.0.0.5 banned for 60 s: flood"));
    let t = Instant::now();
    while !dir.join("hook.log").exists() && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let hooked = std::fs::read_to_string(dir.join("hook.log")).unwrap_or_default();
    assert!(
        hooked.starts_with("127.0.0.5 60 flood: "),
        "ban hook got {hooked:?}"
    );

    let r = honest.join().unwrap();
    assert_eq!(r.status, Some(0), "{r:?}");
    assert!(r.successful * 100 >= 400 * 99, "{r:?}");

    // Banned: no answer at all. Lifted with ctl: answered again.
    let _ = attacker.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    while attacker.recv_from(&mut buf).is_ok() {} // answers from before the ban
    let m = options(&attacker, 25402, "flooder", 99_999);
    assert!(exchange(&attacker, s.addr, m.as_bytes(), Duration::from_millis(300)).is_none());
    let (ok, out) = ctl(&s.config, &["ban", "del", "127.0.0.5"]);
    assert!(ok && out.contains("1 ban(s) lifted"), "{out}");
    let t = Instant::now();
    let mut answered = false;
    while !answered && t.elapsed() < Duration::from_secs(3) {
        let m = options(
            &attacker,
            25402,
            "calm",
            100_000 + t.elapsed().as_millis() as u32,
        );
        answered = exchange(&attacker, s.addr, m.as_bytes(), Duration::from_millis(200)).is_some();
    }
    assert!(answered, "still banned after ban del");
}

#[test]
fn register_with_a_contact_at_the_core_gets_476() {
    let s = start("sec-476", 25403, "");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    for (n, contact) in ["sip:evil@127.0.0.1:25480", "sip:evil@127.0.0.1:25403"]
        .iter()
        .enumerate()
    {
        let m = format!("REGISTER sip:127.0.0.1:25403 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKp{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:evil@127.0.0.1>;tag=p\r\nTo: <sip:evil@127.0.0.1>\r\nCall-ID: poison{n}\r\nCSeq: 1 REGISTER\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n");
        let r = exchange(&sock, s.addr, m.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(
            status_of(&r),
            Some(476),
            "{contact}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    assert_eq!(ctl(&s.config, &["reg", "count"]).1.trim(), "0 bindings");
}

/// `deploy/examples/secure-edge.toml` itself, moved to a private port and scratch paths:
/// nothing from an untrusted source gets through without credentials.
#[test]
fn the_secure_edge_example_challenges_every_untrusted_request() {
    let dir = scratch_dir("sec-example");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/examples/secure-edge.toml"),
    )
    .unwrap()
    .replace(
        "address = \"127.0.0.1:5060\"",
        "address = \"127.0.0.1:25404\"",
    )
    .replace("address = \"127.0.0.1:9060\"", "address = \"\"")
    .replace("workers = 0", "workers = 2")
    .replace(
        "\"run/secure-edge.ctl\"",
        &format!("\"{}/ctl.sock\"", dir.display()),
    )
    .replace(
        "\"run/secure-edge-store\"",
        &format!("\"{}/store\"", dir.display()),
    );
    let s = Sipedge::start(&dir, &text, 25404);
    let (ok, out) = ctl(&s.config, &["subscriber", "add", "alice", "s3cret"]);
    assert!(ok, "{out}");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = sock.local_addr().unwrap();
    let req = |method: &str, user: &str| {
        format!("{method} sip:{user}@127.0.0.1:25404 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKex{method};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=e\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: ex-{method}\r\nCSeq: 1 {method}\r\nContact: <sip:alice@{me}>\r\nUser-Agent: Linphone/5.2\r\nContent-Length: 0\r\n\r\n")
    };
    for (method, user, want) in [
        ("REGISTER", "alice", 401),
        ("INVITE", "bob", 407),
        ("MESSAGE", "bob", 407),
    ] {
        let r = exchange(
            &sock,
            s.addr,
            req(method, user).as_bytes(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert_eq!(
            status_of(&r),
            Some(want),
            "{method}: {}",
            String::from_utf8_lossy(&r)
        );
    }
    // A scanner is not even challenged.
    let m = req("OPTIONS", "x").replace("Linphone/5.2", "friendly-scanner");
    assert!(exchange(&sock, s.addr, m.as_bytes(), Duration::from_millis(300)).is_none());
}
