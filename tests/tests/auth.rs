//! End to end: digest authentication. SIPp registers with MD5 credentials it computes
//! itself; raw clients check SHA-256, wrong passwords, replayed nonce-counts, stale nonces,
//! trusted sources and the 407 for non-REGISTER requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use e2e::{ctl, exchange, scenario, scratch_dir, sipp, status_of, test_config, Sipedge};
use worker::auth::{self, Alg};

const SECRET: &str = "test-secret-0123456789";
const REALM: &str = "edge.test";

/// sipedge on `port`: REGISTER from 127.0.0.2 (trusted) without credentials, every other
/// REGISTER and every INVITE only with them.
fn start(name: &str, port: u16, algorithms: &str) -> (PathBuf, Sipedge) {
    let dir = scratch_dir(name);
    let config = format!(
        r#"{}
[registrar]
domains = ["127.0.0.1"]

[auth]
realm = "{REALM}"
algorithms = [{algorithms}]
secret = "{SECRET}"

[[route]]
name = "trusted"
source = ["127.0.0.2"]
method = ["REGISTER"]
register = true

[[route]]
name = "register"
method = ["REGISTER"]
register = true
authenticate = true

[[route]]
name = "calls"
authenticate = true
lookup = true
"#,
        test_config(&dir, port, 2)
    );
    let s = Sipedge::start(&dir, &config, port);
    (dir, s)
}

fn phone(ip: &str) -> UdpSocket {
    UdpSocket::bind(format!("{ip}:0")).unwrap()
}

fn cfg() -> auth::AuthConfig {
    auth::AuthConfig {
        realm: REALM.into(),
        algorithms: vec![Alg::Sha256, Alg::Md5],
        nonce_ttl: 300,
        secret: SECRET.as_bytes().to_vec(),
        match_from: true,
        lockout_threshold: 0,
        lockout_seconds: 300,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn header<'a>(resp: &'a str, name: &str) -> Vec<&'a str> {
    resp.lines()
        .filter(|l| l.len() > name.len() && l[..name.len()].eq_ignore_ascii_case(name))
        .collect()
}

fn param(line: &str, name: &str) -> Option<String> {
    let i = line.find(&format!("{name}="))? + name.len() + 1;
    let rest = &line[i..];
    let v = if let Some(q) = rest.strip_prefix('"') {
        &q[..q.find('"')?]
    } else {
        rest.split([',', ' ']).next()?
    };
    Some(v.to_string())
}

#[allow(clippy::too_many_arguments)]
fn register(
    sock: &UdpSocket,
    to: SocketAddr,
    user: &str,
    cseq: u32,
    creds: Option<(&str, &str, Alg, &str)>, // password, nonce, alg, nc
) -> String {
    let me = sock.local_addr().unwrap();
    let uri = format!("sip:127.0.0.1:{}", to.port());
    let auth_line = match creds {
        None => String::new(),
        Some((password, nonce, alg, nc)) => {
            let ha1 = auth::ha1(alg, user, REALM, password);
            let resp = auth::response(alg, &ha1, nonce, nc, "c0ffee", "REGISTER", &uri);
            let name = if alg == Alg::Md5 { "MD5" } else { "SHA-256" };
            format!("Authorization: Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={name}, qop=auth, nc={nc}, cnonce=\"c0ffee\"\r\n")
        }
    };
    let m = format!(
        "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{user}{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=a{cseq}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: {user}-auth\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{me}>\r\n{auth_line}Content-Length: 0\r\n\r\n"
    );
    String::from_utf8(exchange(sock, to, m.as_bytes(), Duration::from_secs(2)).expect("no answer"))
        .unwrap()
}

#[test]
fn sha256_and_md5_wrong_password_replay_and_stale() {
    let (_dir, s) = start("auth-raw", 25301, "\"SHA-256\", \"MD5\"");
    let (ok, out) = ctl(&s.config, &["subscriber", "add", "alice", "wonderland"]);
    assert!(
        ok && out.contains("1 subscriber(s) added for realm \"edge.test\""),
        "{out}"
    );
    let p = phone("127.0.0.1");

    // No credentials: 401 with one challenge per algorithm, SHA-256 first.
    let r = register_expect(401, &p, s.addr, "alice", 1, None);
    let ch = header(&r, "WWW-Authenticate:");
    assert_eq!(ch.len(), 2, "{r}");
    assert!(
        ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"),
        "{r}"
    );
    let nonce = param(ch[0], "nonce").unwrap();

    // SHA-256 then MD5 credentials on the same nonce with increasing nc.
    register_expect(
        200,
        &p,
        s.addr,
        "alice",
        2,
        Some(("wonderland", &nonce, Alg::Sha256, "00000001")),
    );
    // That REGISTER retransmitted (as if our 200 were lost): the same count in the same
    // transaction, answered 200 again rather than challenged as a replay.
    register_expect(
        200,
        &p,
        s.addr,
        "alice",
        2,
        Some(("wonderland", &nonce, Alg::Sha256, "00000001")),
    );
    register_expect(
        200,
        &p,
        s.addr,
        "alice",
        3,
        Some(("wonderland", &nonce, Alg::Md5, "00000002")),
    );
    // Replayed nonce-count: challenged again.
    register_expect(
        401,
        &p,
        s.addr,
        "alice",
        4,
        Some(("wonderland", &nonce, Alg::Md5, "00000002")),
    );
    // Wrong password and unknown user: the same answer (no user enumeration).
    let wrong = register(
        &p,
        s.addr,
        "alice",
        5,
        Some(("guess", &nonce, Alg::Md5, "00000003")),
    );
    let unknown = register(
        &p,
        s.addr,
        "nobody",
        5,
        Some(("guess", &nonce, Alg::Md5, "00000003")),
    );
    assert_eq!(status_of(wrong.as_bytes()), Some(401));
    assert_eq!(status_of(unknown.as_bytes()), Some(401));
    let shape = |r: &str| {
        header(r, "WWW-Authenticate:")
            .iter()
            .map(|l| l.replace(&param(l, "nonce").unwrap_or_default(), "N"))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&wrong), shape(&unknown));
    // An old nonce (issued 400 s ago, ttl 300) with the right password: stale=true.
    let old = auth::nonce(&cfg(), SECRET.as_bytes(), now() - 400, 99);
    let r = register_expect(
        401,
        &p,
        s.addr,
        "alice",
        6,
        Some(("wonderland", &old, Alg::Sha256, "00000001")),
    );
    assert!(
        header(&r, "WWW-Authenticate:")
            .iter()
            .all(|l| l.contains("stale=true")),
        "{r}"
    );

    // A trusted source registers without credentials.
    let t = phone("127.0.0.2");
    register_expect(200, &t, s.addr, "trunk", 1, None);

    // Other requests get 407 with Proxy-Authenticate.
    let me = p.local_addr().unwrap();
    let inv = format!("INVITE sip:trunk@127.0.0.1:25301 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKinv1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=i1\r\nTo: <sip:trunk@127.0.0.1>\r\nCall-ID: inv-auth\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nContent-Length: 0\r\n\r\n");
    let r = exchange(&p, s.addr, inv.as_bytes(), Duration::from_secs(2)).unwrap();
    let r = String::from_utf8(r).unwrap();
    assert_eq!(status_of(r.as_bytes()), Some(407), "{r}");
    assert_eq!(header(&r, "Proxy-Authenticate:").len(), 2, "{r}");

    // With credentials (a fresh nc each, several Call-IDs so that both workers own some),
    // the INVITE goes through to the registered trunk: 100 Trying, not another 407.
    let nonce = param(header(&r, "Proxy-Authenticate:")[1], "nonce").unwrap();
    let uri = "sip:trunk@127.0.0.1:25301";
    let ha1 = auth::ha1(Alg::Md5, "alice", REALM, "wonderland");
    for i in 1..=6u32 {
        let nc = format!("{i:08x}");
        let resp = auth::response(Alg::Md5, &ha1, &nonce, &nc, "c0ffee", "INVITE", uri);
        let inv = format!("INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKok{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=i{i}\r\nTo: <sip:trunk@127.0.0.1>\r\nCall-ID: inv-ok-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nProxy-Authorization: Digest username=\"alice\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"c0ffee\"\r\nContent-Length: 0\r\n\r\n");
        let r = exchange(&p, s.addr, inv.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(status_of(&r), Some(100), "{}", String::from_utf8_lossy(&r));
    }
    // Each of those counts replayed in a new transaction (new Call-IDs, so again owned by
    // both workers, mostly not the one that accepted the count): challenged, 407.
    for i in 1..=6u32 {
        let nc = format!("{i:08x}");
        let resp = auth::response(Alg::Md5, &ha1, &nonce, &nc, "c0ffee", "INVITE", uri);
        let inv = format!("INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKre{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=r{i}\r\nTo: <sip:trunk@127.0.0.1>\r\nCall-ID: inv-replay-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\nProxy-Authorization: Digest username=\"alice\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"c0ffee\"\r\nContent-Length: 0\r\n\r\n");
        let r = exchange(&p, s.addr, inv.as_bytes(), Duration::from_secs(2)).unwrap();
        assert_eq!(status_of(&r), Some(407), "{}", String::from_utf8_lossy(&r));
    }

    // The trunk answers the last one; the caller's ACK (no Route: a UA that ignores
    // Record-Route, and no credentials: ACKs are never challenged) reaches the trunk.
    let _ = t.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = vec![0u8; 65536];
    let mut last_invite = String::new();
    while let Ok((n, _)) = t.recv_from(&mut buf) {
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m.contains("Call-ID: inv-ok-6") && m.starts_with("INVITE ") {
            last_invite = m;
            break;
        }
    }
    assert!(
        !last_invite.is_empty(),
        "the trunk never got the authenticated INVITE"
    );
    let mut ok = String::from("SIP/2.0 200 OK\r\n");
    for line in last_invite.split("\r\n") {
        let l = line.to_ascii_lowercase();
        if l.starts_with("via:")
            || l.starts_with("from:")
            || l.starts_with("call-id:")
            || l.starts_with("cseq:")
            || l.starts_with("record-route:")
        {
            ok.push_str(line);
            ok.push_str("\r\n");
        } else if l.starts_with("to:") {
            ok.push_str(line);
            ok.push_str(";tag=tr1\r\n");
        }
    }
    ok.push_str(&format!(
        "Contact: <sip:trunk@{}>\r\nContent-Length: 0\r\n\r\n",
        t.local_addr().unwrap()
    ));
    t.send_to(ok.as_bytes(), s.addr).unwrap();
    let _ = p.set_read_timeout(Some(Duration::from_secs(2)));
    let mut got_200 = false;
    while let Ok((n, _)) = p.recv_from(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200") {
            got_200 = true;
            break;
        }
    }
    assert!(got_200, "the caller got no 200");
    let ack = format!("ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKack6;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=i6\r\nTo: <sip:trunk@127.0.0.1>;tag=tr1\r\nCall-ID: inv-ok-6\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
    p.send_to(ack.as_bytes(), s.addr).unwrap();
    let mut got_ack = false;
    while let Ok((n, _)) = t.recv_from(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).starts_with("ACK ") {
            got_ack = true;
            break;
        }
    }
    assert!(got_ack, "the ACK did not reach the trunk");

    let (_, list) = ctl(&s.config, &["subscriber", "list"]);
    assert_eq!(list.trim(), "alice@edge.test");
}

#[test]
fn sipp_registers_with_md5_digest_credentials() {
    let (dir, s) = start("auth-sipp", 25302, "\"MD5\"");
    let csv: String = std::iter::once("user,password\n".to_string())
        .chain((0..50).map(|i| format!("sub{i:02},pw{i:02}x\n")))
        .collect();
    std::fs::write(dir.join("subs.csv"), &csv).unwrap();
    let (ok, out) = ctl(
        &s.config,
        &[
            "subscriber",
            "import",
            dir.join("subs.csv").to_str().unwrap(),
        ],
    );
    assert!(ok && out.contains("50 subscriber(s) added"), "{out}");
    let inf: String =
        std::iter::once("SEQUENTIAL\n".to_string())
            .chain((0..50).map(|i| {
                format!("sub{i:02};[authentication username=sub{i:02} password=pw{i:02}x]\n")
            }))
            .collect();
    std::fs::write(dir.join("subs.inf"), inf).unwrap();
    let args = |file: &str| {
        vec![
            "-sf".to_string(),
            scenario("uac_register_auth.xml").display().to_string(),
            "-inf".into(),
            dir.join(file).display().to_string(),
            "127.0.0.1:25302".into(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            "26302".into(),
            "-m".into(),
            "50".into(),
            "-r".into(),
            "50".into(),
        ]
    };
    let a = args("subs.inf");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = sipp(&dir, "register_auth", &a, Duration::from_secs(60));
    assert_eq!(
        (r.status, r.successful, r.failed),
        (Some(0), 50, 0),
        "{r:?}\n{}",
        s.log_text()
    );
    assert_eq!(ctl(&s.config, &["reg", "count"]).1.trim(), "50 bindings");

    // The same with wrong passwords: every call fails (the second REGISTER gets 401).
    let bad: String = std::iter::once("SEQUENTIAL\n".to_string())
        .chain(
            (0..5)
                .map(|i| format!("sub{i:02};[authentication username=sub{i:02} password=wrong]\n")),
        )
        .collect();
    std::fs::write(dir.join("bad.inf"), bad).unwrap();
    let mut a = args("bad.inf");
    a[10] = "5".into();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = sipp(&dir, "register_bad", &a, Duration::from_secs(60));
    assert_eq!((r.successful, r.failed), (0, 5), "{r:?}");
}

/// [`register`], asserting the answer's status; the answer, for further checks.
#[track_caller]
fn register_expect(
    status: u16,
    sock: &UdpSocket,
    to: SocketAddr,
    user: &str,
    cseq: u32,
    creds: Option<(&str, &str, Alg, &str)>,
) -> String {
    let r = register(sock, to, user, cseq, creds);
    assert_eq!(status_of(r.as_bytes()), Some(status), "{r}");
    r
}

/// The nonce of the challenge a REGISTER without credentials gets (a nonce only counts once
/// it was handed out: one merely signed with the secret is stale).
fn challenged(p: &UdpSocket, to: SocketAddr, user: &str, cseq: u32) -> String {
    let r = register_expect(401, p, to, user, cseq, None);
    param(header(&r, "WWW-Authenticate:")[0], "nonce").unwrap()
}

#[test]
fn repeated_wrong_passwords_lock_out_and_the_lockout_expires() {
    let dir = scratch_dir("auth-lockout");
    let config = format!(
        "{}\n[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nrealm = \"{REALM}\"\nsecret = \"{SECRET}\"\nlockout_threshold = 3\nlockout_seconds = 3\n[[route]]\nname = \"register\"\nmethod = [\"REGISTER\"]\nregister = true\nauthenticate = true\n",
        test_config(&dir, 25303, 2)
    );
    let s = Sipedge::start(&dir, &config, 25303);
    ctl(&s.config, &["subscriber", "add", "bob", "builder"]);
    let p = phone("127.0.0.1");
    // Wait for the start of a fresh 3 s window, so that the whole test fits in one.
    while !now().is_multiple_of(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let nonce = challenged(&p, s.addr, "bob", 100);
    for i in 1..=3 {
        register_expect(
            401,
            &p,
            s.addr,
            "bob",
            i,
            Some(("wrong", &nonce, Alg::Md5, &format!("{i:08x}"))),
        );
    }
    // Locked: even the right password is refused now.
    register_expect(
        403,
        &p,
        s.addr,
        "bob",
        4,
        Some(("builder", &nonce, Alg::Md5, "00000004")),
    );
    assert!(
        s.log_text().contains("sipedge auth lockout"),
        "{}",
        s.log_text()
    );
    // The window ends: the right password works again.
    std::thread::sleep(Duration::from_secs(3));
    let nonce = challenged(&p, s.addr, "bob", 101);
    register_expect(
        200,
        &p,
        s.addr,
        "bob",
        5,
        Some(("builder", &nonce, Alg::Md5, "00000001")),
    );
}

#[test]
fn proxy_require_gets_420_and_bad_expires_400() {
    let (_dir, s) = start("auth-sanity", 25304, "\"MD5\"");
    let p = phone("127.0.0.1");
    let me = p.local_addr().unwrap();
    let base = |extra: &str| {
        format!("OPTIONS sip:x@127.0.0.1:25304 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKs{};rport\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: s{}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n", extra.len(), extra.len())
    };
    let r = exchange(
        &p,
        s.addr,
        base("Proxy-Require: foo, bar\r\n").as_bytes(),
        Duration::from_secs(2),
    )
    .unwrap();
    let r = String::from_utf8(r).unwrap();
    assert_eq!(status_of(r.as_bytes()), Some(420), "{r}");
    assert!(r.contains("Unsupported: foo, bar\r\n"), "{r}");
    let r = exchange(
        &p,
        s.addr,
        base("Expires: soon\r\n").as_bytes(),
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(status_of(&r), Some(400), "{}", String::from_utf8_lossy(&r));
}

#[test]
fn nonce_counts_outlive_killed_workers_and_a_restart_makes_nonces_stale() {
    let (dir, s) = start("auth-nc-survive", 25305, "\"MD5\"");
    let (ok, out) = ctl(&s.config, &["subscriber", "add", "alice", "wonderland"]);
    assert!(ok, "{out}");
    let p = phone("127.0.0.1");
    let nonce = challenged(&p, s.addr, "alice", 1);
    let creds = |nc: &'static str| Some(("wonderland", nonce.as_str(), Alg::Md5, nc));
    register_expect(200, &p, s.addr, "alice", 2, creds("00000001"));

    // Both workers killed and replaced: the table lives in the master.
    let before = s.workers();
    assert_eq!(before.len(), 2);
    assert!(
        s.kill_workers(&before, Duration::from_secs(5)),
        "{}",
        s.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    // The used count is still known (a replay in a new transaction is challenged, not
    // stale), and the next count still works on the same nonce.
    let r = register_expect(401, &p, s.addr, "alice", 3, creds("00000001"));
    assert!(!r.contains("stale=true"), "{r}");
    register_expect(200, &p, s.addr, "alice", 4, creds("00000002"));

    // A full restart starts an empty table: the nonce is stale (the client retries with the
    // same password, unprompted), and a fresh challenge works.
    let s = s.restart(&dir);
    let r = register_expect(401, &p, s.addr, "alice", 5, creds("00000003"));
    assert!(r.contains("stale=true"), "{r}");
    let nonce = challenged(&p, s.addr, "alice", 6);
    register_expect(
        200,
        &p,
        s.addr,
        "alice",
        7,
        Some(("wonderland", &nonce, Alg::Md5, "00000001")),
    );
}
