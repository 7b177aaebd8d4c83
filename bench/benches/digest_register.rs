//! The digest-REGISTER hot path without the kernel: what a worker does between `recvmmsg`
//! and `sendmmsg` for the flow of `bench/auth/run.sh` (REGISTER, 401, REGISTER with MD5
//! credentials, 200), driven in memory. Run with `cargo bench -p sipedge-bench --bench
//! digest_register`.
//!
//! The SIPp comparison measures the whole process, and about half of that is the kernel's
//! UDP cost, the same for every proxy (the floor of `bench/README.md`); this bench isolates
//! the other half, so a change to parsing, authentication or the registrar shows here at
//! the nanosecond scale that the SIPp runs' noise hides.
//!
//! Each iteration is one flow of one subscriber, as the worker sees it: `Message::parse`
//! and `Proxy::try_stateless` for the first REGISTER (the challenge), then for the second
//! (nonce check, nonce-count, subscriber lookup, MD5, binding write, the 200), with the
//! store writes of 16 flows in one group commit as a busy worker's batch has them. The store
//! is a real LMDB environment (write map on, as in `bench/auth/sipedge-auth.toml`) with
//! 10,000 subscribers, registered in turn like SIPp's sequential injection file. Building
//! the clients' messages and computing their digest responses is outside the timed part.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use proto::{Limits, Message, EMPTY_HEADER};
use shared::config::Config;
use shared::nonces::NonceTable;
use shared::store::Store;
use worker::auth::{self, Alg};
use worker::proxy::{self, Proxy};
use worker::sends::Sends;

const USERS: usize = 10_000;
/// Flows whose store writes share one commit.
const GROUP: usize = 16;
const REALM: &str = "127.0.0.1";
const UA: &str = "127.0.0.1:5070";

fn user(i: usize) -> String {
    format!("user{:07}", i % USERS + 1)
}

struct Bench {
    proxy: Proxy,
    out: Sends,
    limits: Limits,
    src: SocketAddr,
    dir: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let dir = std::env::temp_dir().join(format!("sipedge-bench-digest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!(
            r#"
[[listen]]
name = "bench"
address = "127.0.0.1:5060"

[store]
path = "{}"
map_size_mb = 512
write_map = true

[registrar]
domains = ["{REALM}"]
nat_keepalive_interval = 0

[auth]
realm = "{REALM}"
algorithms = ["MD5"]
secret = "bench-nonce-secret-0123456789"
lockout_threshold = 0

[[route]]
name = "register"
method = ["REGISTER"]
authenticate = true
register = true
"#,
            dir.display()
        );
        let config = Config::from_str(&text, Path::new("digest_register.toml")).unwrap();
        let store = Store::open_with(&dir, &config.store.options()).unwrap();
        for i in 0..USERS {
            let u = user(i);
            store
                .put_subscriber(&auth::subscriber(&u, REALM, &u))
                .unwrap();
        }
        let (cfg, ds) = proxy::build(&config).unwrap();
        let mut proxy = Proxy::new(cfg, ds, 0);
        proxy.attach_store(store);
        proxy.attach_nonces(NonceTable::new(65_536).unwrap(), 1);
        Bench {
            proxy,
            out: Sends::default(),
            limits: Limits::DEFAULT,
            src: UA.parse().unwrap(),
            dir,
        }
    }

    /// Parse and handle `msgs` as one batch with one group commit, as the event loop does;
    /// the time it took.
    fn batch(&mut self, msgs: &[Vec<u8>]) -> Duration {
        let now = Instant::now();
        let store = self.proxy.store().unwrap();
        store.begin_batch();
        for m in msgs {
            let mut slots = [EMPTY_HEADER; 32];
            let msg = Message::parse(m, &mut slots, &self.limits).unwrap();
            assert!(self
                .proxy
                .try_stateless(0, self.src, &msg, now, &mut self.out));
        }
        let store = self.proxy.store().unwrap();
        store.end_batch().unwrap();
        now.elapsed()
    }

    /// The answers of the last batch, cleared.
    fn answers(&mut self) -> Vec<String> {
        let v = self
            .out
            .iter()
            .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
            .collect();
        self.out.clear();
        v
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A REGISTER as SIPp's `bench/auth/uac_register_auth.xml` sends it.
fn register(u: &str, flow: usize, cseq: u32, authorization: Option<&str>) -> Vec<u8> {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:{REALM}:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {UA};branch=z9hG4bK-{flow}-{cseq}\r\n\
         From: <sip:{u}@{REALM}>;tag=4242r{flow}\r\n\
         To: <sip:{u}@{REALM}>\r\n\
         Call-ID: {flow}-4242@127.0.0.1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{u}@{UA}>\r\n\
         {auth}\
         Expires: 3600\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The client's answer to a 401: SIPp's Authorization header for `u` (password = user name).
fn credentials(u: &str, challenge: &str) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no nonce in {challenge}"));
    let uri = format!("sip:{REALM}:5060");
    let ha1 = auth::ha1(Alg::Md5, u, REALM, u);
    let cnonce = "6b8b4567";
    let resp = auth::response(Alg::Md5, &ha1, nonce, "00000001", cnonce, "REGISTER", &uri);
    format!(
        "Digest username=\"{u}\",realm=\"{REALM}\",cnonce=\"{cnonce}\",nc=00000001,qop=auth,\
         uri=\"{uri}\",nonce=\"{nonce}\",response=\"{resp}\",algorithm=MD5"
    )
}

/// Run `count` flows from flow number `next` on; the time spent in [`Bench::batch`].
fn flows(b: &mut Bench, next: &mut usize, count: usize) -> Duration {
    let mut spent = Duration::ZERO;
    let mut left = count;
    while left > 0 {
        let n = left.min(GROUP);
        left -= n;
        let flows: Vec<(usize, String)> = (*next..*next + n).map(|f| (f, user(f))).collect();
        *next += n;
        let first: Vec<Vec<u8>> = flows
            .iter()
            .map(|(f, u)| register(u, *f, 1, None))
            .collect();
        spent += b.batch(&first);
        let challenges = b.answers();
        assert_eq!(challenges.len(), n);
        let second: Vec<Vec<u8>> = flows
            .iter()
            .zip(&challenges)
            .map(|((f, u), ch)| {
                assert!(ch.starts_with("SIP/2.0 401 "), "{ch}");
                register(u, *f, 2, Some(&credentials(u, ch)))
            })
            .collect();
        spent += b.batch(&second);
        for ok in b.answers() {
            assert!(ok.starts_with("SIP/2.0 200 "), "{ok}");
        }
    }
    spent
}

fn digest_register(c: &mut Criterion) {
    let mut b = Bench::new();
    let mut next = 0usize;
    let mut g = c.benchmark_group("digest_register");
    g.throughput(Throughput::Elements(1));
    g.bench_function("flow", |bencher| {
        bencher.iter_custom(|iters| flows(&mut b, &mut next, iters as usize))
    });
    g.finish();
}

criterion_group!(benches, digest_register);

/// `DIGEST_FLOWS=N`: run every subscriber's flow once (the table warm), then exactly N more,
/// and exit: a fixed amount of work whose instruction count the shared machines' noise does
/// not move, e.g. under `valgrind --tool=callgrind --toggle-collect='*Bench*batch*'` (see
/// bench/README.md).
fn main() {
    if let Some(n) = std::env::var("DIGEST_FLOWS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut b = Bench::new();
        let mut next = 0usize;
        flows(&mut b, &mut next, USERS);
        let spent = flows(&mut b, &mut next, n);
        println!(
            "{n} flows, {:.0} ns each",
            spent.as_nanos() as f64 / n.max(1) as f64
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
