//! The proxy core driven in memory, in virtual time (quinn-proto style): messages in,
//! datagrams out, timers fired by moving the clock. Every RFC 3261 flow the SBC relies on:
//! a full call with Record-Route, retransmissions (timer A doubling), failover on 503 and on
//! timeout, CANCEL before and after a provisional, hop-by-hop ACK absorption with timer G,
//! loop detection and Max-Forwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use proto::{Limits, Message, EMPTY_HEADER};
use shared::config::Config;
use worker::proxy::{self, Proxy};
use worker::sends::Sends;

const UA: &str = "127.0.0.1:5070";
const CORE1: &str = "127.0.0.1:5080";
const CORE2: &str = "127.0.0.1:5081";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Harness {
    proxy: Proxy,
    now: Instant,
    out: Sends,
}

/// One datagram the proxy sent.
#[derive(Debug, Clone)]
struct Sent {
    dest: SocketAddr,
    text: String,
}

impl Sent {
    fn start(&self) -> &str {
        self.text.lines().next().unwrap_or_default()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.text
            .lines()
            .find(|l| {
                l.len() > name.len()
                    && l[..name.len()].eq_ignore_ascii_case(name)
                    && l.as_bytes()[name.len()] == b':'
            })
            .map(|l| l[name.len() + 1..].trim())
    }
    fn headers(&self, name: &str) -> Vec<&str> {
        self.text
            .lines()
            .filter(|l| {
                l.len() > name.len()
                    && l[..name.len()].eq_ignore_ascii_case(name)
                    && l.as_bytes()[name.len()] == b':'
            })
            .map(|l| l[name.len() + 1..].trim())
            .collect()
    }
    fn branch(&self) -> String {
        let via = self.header("Via").unwrap();
        let b = via.split("branch=").nth(1).unwrap();
        b.split([';', ',']).next().unwrap().to_string()
    }
}

fn config(extra: &str) -> Config {
    let text = format!(
        r#"
[[listen]]
name = "public"
address = "127.0.0.1:5060"

[transaction]
timeout_ms = 2000

[[dispatcher]]
name = "core"
algorithm = "priority"
destinations = [
  {{ uri = "sip:{CORE1}", priority = 0 }},
  {{ uri = "sip:{CORE2}", priority = 1 }},
]

[[route]]
name = "to-core"
dispatch = "core"
{extra}
"#
    );
    Config::from_str(&text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

impl Harness {
    fn new() -> Harness {
        Harness::with(config(""))
    }

    fn with(config: Config) -> Harness {
        let (cfg, ds) = proxy::build(&config).unwrap();
        Harness {
            proxy: Proxy::new(cfg, ds, 0),
            now: Instant::now(),
            out: Sends::default(),
        }
    }

    /// Feed a message from `src`; return what was sent.
    fn feed(&mut self, src: &str, text: &str) -> Vec<Sent> {
        let bytes = text.replace('\n', "\r\n").into_bytes();
        let mut h = [EMPTY_HEADER; 64];
        let msg = Message::parse(&bytes, &mut h, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("test message does not parse: {e}\n{text}"));
        if msg.is_request() {
            self.proxy
                .on_request(0, addr(src), &msg, self.now, &mut self.out);
        } else {
            self.proxy
                .on_response(0, addr(src), &msg, self.now, &mut self.out);
        }
        self.take()
    }

    /// Move the clock and fire due timers.
    fn advance(&mut self, ms: u64) -> Vec<Sent> {
        self.now += Duration::from_millis(ms);
        self.proxy.on_timer(self.now, &mut self.out);
        self.take()
    }

    fn take(&mut self) -> Vec<Sent> {
        let v = self
            .out
            .iter()
            .map(|(_, dest, b)| Sent {
                dest,
                text: String::from_utf8_lossy(b).into_owned(),
            })
            .collect();
        self.out.clear();
        v
    }
}

fn invite(branch: &str) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP {UA};branch={branch};rport
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@127.0.0.1:5060>
Call-ID: call-{branch}
CSeq: 1 INVITE
Contact: <sip:alice@{UA}>
Content-Length: 0

"
    )
}

/// A response from the core to a request the proxy sent.
fn answer(req: &Sent, code: u16, reason: &str, to_tag: Option<&str>) -> String {
    let mut s = format!("SIP/2.0 {code} {reason}\n");
    for v in req.headers("Via") {
        s.push_str(&format!("Via: {v}\n"));
    }
    for rr in req.headers("Record-Route") {
        s.push_str(&format!("Record-Route: {rr}\n"));
    }
    s.push_str(&format!("From: {}\n", req.header("From").unwrap()));
    let to = req.header("To").unwrap();
    match to_tag {
        Some(t) if !to.contains("tag=") => s.push_str(&format!("To: {to};tag={t}\n")),
        _ => s.push_str(&format!("To: {to}\n")),
    }
    s.push_str(&format!("Call-ID: {}\n", req.header("Call-ID").unwrap()));
    s.push_str(&format!("CSeq: {}\n", req.header("CSeq").unwrap()));
    if (200..300).contains(&code) {
        s.push_str(&format!("Contact: <sip:bob@{CORE1}>\n"));
    }
    s.push_str("Content-Length: 0\n\n");
    s
}

#[test]
fn full_call_with_record_route() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKc1"));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].dest, addr(UA));
    assert!(sent[0].start().starts_with("SIP/2.0 100 Trying"));
    let fwd = &sent[1];
    assert_eq!(fwd.dest, addr(CORE1));
    assert!(fwd
        .start()
        .starts_with("INVITE sip:bob@127.0.0.1:5060 SIP/2.0"));
    let vias = fwd.headers("Via");
    assert_eq!(vias.len(), 2);
    assert!(
        vias[0].starts_with("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-se00."),
        "{}",
        vias[0]
    );
    assert_eq!(fwd.header("Max-Forwards"), Some("69"));
    assert_eq!(fwd.header("Record-Route"), Some("<sip:127.0.0.1:5060;lr>"));

    let sent = h.feed(CORE1, &answer(fwd, 180, "Ringing", Some("b1")));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].dest, addr(UA));
    assert!(sent[0].start().starts_with("SIP/2.0 180 Ringing"));
    assert_eq!(sent[0].headers("Via").len(), 1, "our Via popped");

    let sent = h.feed(CORE1, &answer(fwd, 200, "OK", Some("b1")));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("SIP/2.0 200 OK"));
    assert_eq!(sent[0].dest, addr(UA));
    // A retransmitted 200 still goes upstream.
    let sent = h.feed(CORE1, &answer(fwd, 200, "OK", Some("b1")));
    assert_eq!(sent.len(), 1);

    // ACK and BYE follow the Route set to the callee's contact.
    let in_dialog = |method: &str, branch: &str, cseq: u32| {
        format!(
            "{method} sip:bob@{CORE1} SIP/2.0
Via: SIP/2.0/UDP {UA};branch={branch};rport
Route: <sip:127.0.0.1:5060;lr>
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@127.0.0.1:5060>;tag=b1
Call-ID: call-z9hG4bKc1
CSeq: {cseq} {method}
Content-Length: 0

"
        )
    };
    let sent = h.feed(UA, &in_dialog("ACK", "z9hG4bKa1", 1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].dest, addr(CORE1));
    assert!(sent[0].start().starts_with("ACK sip:bob@127.0.0.1:5080"));
    assert_eq!(sent[0].header("Route"), None, "our Route popped");
    assert_eq!(sent[0].headers("Via").len(), 2);

    let sent = h.feed(UA, &in_dialog("BYE", "z9hG4bKb1", 2));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let bye = sent[0].clone();
    assert_eq!(bye.dest, addr(CORE1));
    assert!(bye.start().starts_with("BYE "));
    let sent = h.feed(CORE1, &answer(&bye, 200, "OK", None));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("SIP/2.0 200 OK"));
    assert_eq!(sent[0].dest, addr(UA));

    // Everything lingers a while, then is gone.
    assert_eq!(h.proxy.in_flight(), 0);
    h.advance(40_000);
    assert_eq!(h.proxy.transactions(), (0, 0));
}

#[test]
fn retransmissions_double_until_a_provisional() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKr1"));
    let fwd = sent[1].clone();
    // The caller retransmits: it gets our 100 again, nothing goes to the core.
    let sent = h.feed(UA, &invite("z9hG4bKr1"));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("SIP/2.0 100"));
    // Timer A: 500 ms, then 1 s.
    assert!(h.advance(499).is_empty());
    let sent = h.advance(1);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, fwd.text, "retransmitted byte for byte");
    assert!(h.advance(999).is_empty());
    assert_eq!(h.advance(1).len(), 1);
    // A provisional stops them.
    let sent = h.feed(CORE1, &answer(&fwd, 100, "Trying", None));
    assert!(sent.is_empty(), "100 is not forwarded");
    assert!(h.advance(5_000).is_empty());
}

#[test]
fn failover_on_503_then_success() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKf1"));
    let first = sent[1].clone();
    assert_eq!(first.dest, addr(CORE1));
    let sent = h.feed(
        CORE1,
        &answer(&first, 503, "Service Unavailable", Some("x")),
    );
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ack = sent.iter().find(|s| s.start().starts_with("ACK")).unwrap();
    assert_eq!(ack.dest, addr(CORE1));
    assert_eq!(
        ack.branch(),
        first.branch(),
        "hop-by-hop ACK keeps the branch"
    );
    assert!(ack.header("To").unwrap().contains("tag=x"));
    let second = sent
        .iter()
        .find(|s| s.start().starts_with("INVITE"))
        .unwrap()
        .clone();
    assert_eq!(second.dest, addr(CORE2));
    assert_ne!(second.branch(), first.branch());
    let sent = h.feed(CORE2, &answer(&second, 200, "OK", Some("y")));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("SIP/2.0 200"));
    assert_eq!(sent[0].dest, addr(UA));
}

#[test]
fn timeouts_fail_over_then_503() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKt1"));
    assert_eq!(sent[1].dest, addr(CORE1));
    let mut to_core2 = None;
    let mut to_ua = Vec::new();
    for _ in 0..50 {
        for s in h.advance(100) {
            if s.start().starts_with("INVITE") && s.dest == addr(CORE2) && to_core2.is_none() {
                to_core2 = Some(s);
            } else if s.dest == addr(UA) {
                to_ua.push(s);
            }
        }
    }
    assert!(to_core2.is_some(), "no failover after timer B");
    // One 503, then only its timer G retransmissions until the ACK comes.
    assert!(!to_ua.is_empty());
    assert!(
        to_ua[0].start().starts_with("SIP/2.0 503"),
        "{}",
        to_ua[0].text
    );
    assert!(to_ua.iter().all(|s| s.text == to_ua[0].text), "{to_ua:?}");
    // The caller's ACK for our 503 is absorbed.
    let ack = invite("z9hG4bKt1")
        .replace("INVITE sip", "ACK sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
    assert!(h.feed(UA, &ack).is_empty());
    // ... and stops the retransmissions.
    let later: Vec<Sent> = (0..40).flat_map(|_| h.advance(100)).collect();
    assert!(later.iter().all(|s| s.dest != addr(UA)), "{later:?}");
}

#[test]
fn cancel_after_ringing() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKx1"));
    let fwd = sent[1].clone();
    h.feed(CORE1, &answer(&fwd, 180, "Ringing", Some("b")));
    let cancel = invite("z9hG4bKx1")
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let sent = h.feed(UA, &cancel);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ok = sent.iter().find(|s| s.dest == addr(UA)).unwrap();
    assert!(ok.start().starts_with("SIP/2.0 200"));
    assert!(ok.header("CSeq").unwrap().ends_with("CANCEL"));
    let down = sent.iter().find(|s| s.dest == addr(CORE1)).unwrap().clone();
    assert!(down.start().starts_with("CANCEL sip:bob@127.0.0.1:5060"));
    assert_eq!(down.branch(), fwd.branch());
    // The core answers the CANCEL (absorbed) and the INVITE with 487 (ACKed, relayed).
    assert!(h
        .feed(CORE1, &answer(&down, 200, "OK", Some("b")))
        .is_empty());
    let sent = h.feed(CORE1, &answer(&fwd, 487, "Request Terminated", Some("b")));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent
        .iter()
        .any(|s| s.start().starts_with("ACK") && s.dest == addr(CORE1)));
    let up = sent.iter().find(|s| s.dest == addr(UA)).unwrap();
    assert!(up.start().starts_with("SIP/2.0 487"));
    // No failover after a CANCEL.
    assert!(h
        .advance(3_000)
        .iter()
        .all(|s| !s.start().starts_with("INVITE")));
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKx2"));
    let fwd = sent[1].clone();
    let cancel = invite("z9hG4bKx2")
        .replace("INVITE sip", "CANCEL sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let sent = h.feed(UA, &cancel);
    assert_eq!(sent.len(), 1, "only the 200 to the CANCEL: {sent:?}");
    let sent = h.feed(CORE1, &answer(&fwd, 100, "Trying", None));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].start().starts_with("CANCEL"));
    // A CANCEL for nothing: 481.
    let stray = cancel.replace("z9hG4bKx2", "z9hG4bKnone");
    let sent = h.feed(UA, &stray);
    assert!(sent[0].start().starts_with("SIP/2.0 481"));
}

#[test]
fn busy_is_relayed_retransmitted_until_acked() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKbusy"));
    let fwd = sent[1].clone();
    let sent = h.feed(CORE1, &answer(&fwd, 486, "Busy Here", Some("b")));
    // 486 is not a failover code (5xx, 408, timeout): ACK down, 486 up.
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent
        .iter()
        .any(|s| s.dest == addr(UA) && s.start().starts_with("SIP/2.0 486")));
    // Timer G retransmits the 486 until the caller ACKs.
    let sent = h.advance(500);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("SIP/2.0 486"));
    let ack = invite("z9hG4bKbusy")
        .replace("INVITE sip", "ACK sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
    assert!(h.feed(UA, &ack).is_empty(), "hop-by-hop ACK absorbed");
    // Confirmed: the server transaction absorbs ACK retransmissions until Timer I (T4).
    assert_eq!(h.proxy.transactions().0, 1);
    assert!(h.feed(UA, &ack).is_empty(), "retransmitted ACK absorbed");
    assert!(h.advance(4_000).is_empty(), "no more retransmissions");
    assert_eq!(
        h.proxy.transactions().0,
        1,
        "still Confirmed before T4 (5 s)"
    );
    assert!(h.advance(6_000).is_empty(), "no more retransmissions");
    assert_eq!(
        h.proxy.transactions().0,
        0,
        "Timer I ended the server transaction"
    );
    // The core retransmits its 486: ACKed again, not relayed.
    let sent = h.feed(CORE1, &answer(&fwd, 486, "Busy Here", Some("b")));
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start().starts_with("ACK"));
}

#[test]
fn loops_and_max_forwards() {
    let mut h = Harness::new();
    let sent = h.feed(UA, &invite("z9hG4bKl1"));
    let fwd = sent[1].clone();
    // The same request comes back to us unchanged (the core routed it back): 482.
    let looped = fwd.text.replace("\r\n", "\n");
    let sent = h.feed(CORE1, &looped);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].start().starts_with("SIP/2.0 482"),
        "{}",
        sent[0].text
    );
    let mf0 = invite("z9hG4bKm0").replace("Max-Forwards: 70", "Max-Forwards: 0");
    let sent = h.feed(UA, &mf0);
    assert!(sent[0].start().starts_with("SIP/2.0 483"));
}

#[test]
fn legs_on_different_listeners_get_two_record_routes_and_both_are_popped() {
    // Phones on IPv4, the core on IPv6: the INVITE leaves by the IPv6 listener.
    let text = r#"
[[listen]]
name = "v4"
address = "127.0.0.1:5060"
[[listen]]
name = "v6"
address = "[::1]:5060"
[[dispatcher]]
name = "core"
destinations = [{ uri = "sip:[::1]:5080" }]
[dispatcher.probe]
interval = 0
[[route]]
name = "to-core"
dispatch = "core"
"#;
    let mut h = Harness::with(Config::from_str(text, Path::new("t.toml")).unwrap());
    let sent = h.feed(UA, &invite("z9hG4bKv6"));
    let fwd = sent
        .iter()
        .find(|s| s.start().starts_with("INVITE"))
        .unwrap();
    assert_eq!(fwd.dest.to_string(), "[::1]:5080");
    let rrs: Vec<&str> = fwd
        .text
        .lines()
        .filter(|l| l.starts_with("Record-Route:"))
        .collect();
    // The core's side on top, the caller's side below it.
    assert_eq!(
        rrs,
        [
            "Record-Route: <sip:[::1]:5060;lr>",
            "Record-Route: <sip:127.0.0.1:5060;lr>"
        ],
        "{}",
        fwd.text
    );
    assert!(
        fwd.text.contains("Via: SIP/2.0/UDP [::1]:5060;branch="),
        "{}",
        fwd.text
    );

    // The caller's BYE carries both routes (its route set: the RRs reversed): both are ours
    // and both are popped; it goes to the callee's Contact.
    let bye = "BYE sip:core@[::1]:5080 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbye6;rport
Route: <sip:127.0.0.1:5060;lr>, <sip:[::1]:5060;lr>
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a1
To: <sip:bob@127.0.0.1:5060>;tag=b6
Call-ID: call-z9hG4bKv6
CSeq: 2 BYE
Content-Length: 0

";
    let sent = h.feed(UA, bye);
    let fwd = sent.iter().find(|s| s.start().starts_with("BYE")).unwrap();
    assert_eq!(fwd.dest.to_string(), "[::1]:5080");
    assert!(!fwd.text.contains("Route:"), "{}", fwd.text);
}
