//! Throughput of the store, for the record (not a pass/fail test). Run with
//! `cargo test --release -p sipedge-shared --test store_bench -- --ignored --nocapture`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use shared::store::{Ban, Binding, Store, StoreOptions};

const SINGLE: u64 = 20_000;
const BATCHED: u64 = 200_000;
const BATCH: u64 = 100;
const READS: u64 = 200_000;

fn rate(n: u64, start: Instant) -> String {
    let secs = start.elapsed().as_secs_f64();
    format!("{:>10.0}/s", n as f64 / secs)
}

fn binding(i: u64) -> Binding {
    Binding {
        aor: format!("sip:user{}@example.com", i % 10_000),
        contact: format!("sip:user{i}@198.51.100.{}:5060;transport=udp", i % 250),
        expires_at: 1_900_000_000,
        q: 1000,
        call_id: format!("{i:016x}@host"),
        cseq: 1,
        received: Some("198.51.100.7:40312".into()),
        transport: "udp".into(),
        worker: 1,
        path: vec![],
        user_agent: "bench/1.0".into(),
        flags: 0,
    }
}

fn run(write_map: bool) {
    // On the build's disk (not /tmp, which may be tmpfs) unless SIPEDGE_BENCH_DIR says where.
    let base = std::env::var("SIPEDGE_BENCH_DIR").unwrap_or(env!("CARGO_TARGET_TMPDIR").into());
    let dir = tempfile::tempdir_in(&base).unwrap();
    let opts = StoreOptions {
        map_size_mb: 2048,
        write_map,
        ..StoreOptions::default()
    };
    let s = Store::open_with(dir.path(), &opts).unwrap();
    println!("write_map = {write_map}, in {base}");

    let t = Instant::now();
    for _ in 0..SINGLE {
        s.incr(b"bench", 1).unwrap();
    }
    println!("  incr, one txn each          {}", rate(SINGLE, t));

    let t = Instant::now();
    for _ in 0..BATCHED / BATCH {
        s.write(|w| {
            for _ in 0..BATCH {
                w.incr(b"bench", 1)?;
            }
            Ok(())
        })
        .unwrap();
    }
    println!("  incr, {BATCH} per txn          {}", rate(BATCHED, t));
    assert_eq!(s.get_counter(b"bench").unwrap(), SINGLE + BATCHED);

    let t = Instant::now();
    for i in 0..SINGLE {
        s.put_binding(&binding(i)).unwrap();
    }
    println!("  put_binding, one txn each   {}", rate(SINGLE, t));

    let t = Instant::now();
    for b in 0..BATCHED / BATCH {
        s.write(|w| {
            for i in 0..BATCH {
                w.put_binding(&binding(SINGLE + b * BATCH + i))?;
            }
            Ok(())
        })
        .unwrap();
    }
    println!("  put_binding, {BATCH} per txn   {}", rate(BATCHED, t));

    s.ban(&Ban {
        ip: "203.0.113.9".into(),
        until: u64::MAX,
        ..Ban::default()
    })
    .unwrap();
    let t = Instant::now();
    let mut hits = 0u64;
    for i in 0..READS {
        let ip = if i % 2 == 0 {
            "203.0.113.9"
        } else {
            "203.0.113.10"
        };
        if s.is_banned(ip, 1).unwrap() {
            hits += 1;
        }
    }
    assert_eq!(hits, READS / 2);
    println!("  is_banned, one read txn each{}", rate(READS, t));

    let t = Instant::now();
    let mut n = 0usize;
    for i in 0..READS / 10 {
        n += s
            .bindings(&format!("sip:user{}@example.com", i % 10_000))
            .unwrap()
            .len();
    }
    assert!(n > 0);
    println!("  bindings(aor), ~22 each     {}", rate(READS / 10, t));
    let st = s.stat().unwrap();
    assert_eq!(st.registrations as u64, SINGLE + BATCHED);
    println!(
        "  {} bindings, {} MiB used",
        st.registrations,
        st.used_bytes() / (1024 * 1024)
    );
}

#[test]
#[ignore = "measurement, run by hand in release"]
fn store_throughput() {
    run(false);
    run(true);
}
