//! Several processes writing the same store at once: counts must come out exact. And a
//! reader killed inside a read transaction leaves a slot that `reader_check` clears.
//!
//! The test binary re-executes itself: with `SIPEDGE_STORE_CHILD` set, the `child` test
//! acts as one process of the scenario instead of doing nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shared::store::{Binding, Store};

const CHILD_ENV: &str = "SIPEDGE_STORE_CHILD";
const WRITERS: usize = 4;
const INCRS: usize = 5000;
const PROFILE_OPS: usize = 500;
const BINDINGS: usize = 250;
const READY: &str = "store-child-ready";

fn spawn_child(role: &str, dir: &Path, idx: usize, stdout: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role}:{idx}:{}", dir.display()))
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// Kills the sleeping reader child if an assertion fails before the test kills it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child side; a no-op in a normal test run.
#[test]
fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let role = parts.next().unwrap().to_string();
    let idx: usize = parts.next().unwrap().parse().unwrap();
    let dir = parts.next().unwrap().to_string();
    let store = Store::open(Path::new(&dir), 64).unwrap();
    match role.as_str() {
        "writer" => {
            // Start together: report in, then wait for the parent's go file.
            store.incr(b"ready", 1).unwrap();
            let go = Path::new(&dir).join("go");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !go.exists() {
                assert!(Instant::now() < deadline, "no go file from the parent");
                std::thread::sleep(Duration::from_millis(1));
            }
            for _ in 0..INCRS {
                store.incr(b"shared", 1).unwrap();
            }
            for _ in 0..PROFILE_OPS {
                store.profile_add("calls", "trunk1", 1).unwrap();
                store.profile_add("calls", "trunk1", -1).unwrap();
            }
            for i in 0..BINDINGS {
                store
                    .put_binding(&Binding {
                        aor: format!("sip:w{idx}@example.com"),
                        contact: format!("sip:w{idx}-{i}@192.0.2.1:5060"),
                        expires_at: u64::MAX,
                        ..Binding::default()
                    })
                    .unwrap();
            }
        }
        "reader" => {
            store
                .read(|r| {
                    let _ = r.get_counter(b"shared")?;
                    println!("\n{READY}");
                    std::thread::sleep(Duration::from_secs(60));
                    Ok(())
                })
                .unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

#[test]
fn concurrent_writers_get_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    // The parent has the store open throughout, as the master does.
    let store = Store::open(dir.path(), 64).unwrap();
    let mut children: Vec<KillOnDrop> = (0..WRITERS)
        .map(|i| KillOnDrop(spawn_child("writer", dir.path(), i, Stdio::null())))
        .collect();
    // Every writer has the store open and waits: release them at once so they contend.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.get_counter(b"ready").unwrap() < WRITERS as u64 {
        for c in &mut children {
            if let Some(status) = c.0.try_wait().unwrap() {
                panic!("writer child exited early: {status}");
            }
        }
        assert!(Instant::now() < deadline, "writers did not report in");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::fs::write(dir.path().join("go"), b"").unwrap();
    for c in &mut children {
        let status = c.0.wait().unwrap();
        assert!(status.success(), "writer child failed: {status}");
    }
    assert_eq!(
        store.get_counter(b"shared").unwrap(),
        (WRITERS * INCRS) as u64
    );
    assert_eq!(store.profile_count("calls", "trunk1").unwrap(), 0);
    assert_eq!(store.count_bindings().unwrap(), WRITERS * BINDINGS);
    for i in 0..WRITERS {
        assert_eq!(
            store
                .bindings(&format!("sip:w{i}@example.com"))
                .unwrap()
                .len(),
            BINDINGS
        );
    }
}

#[test]
fn killed_reader_slot_is_cleared() {
    let dir = tempfile::tempdir().unwrap();
    // Opened before the child: the first opener of an environment resets the reader table,
    // so the parent must already hold it open (as the master does) for the stale slot to
    // survive the child's death.
    let store = Store::open(dir.path(), 64).unwrap();
    store.incr(b"shared", 1).unwrap();
    let mut child = KillOnDrop(spawn_child("reader", dir.path(), 0, Stdio::piped()));
    let stdout = child.0.stdout.take().unwrap();
    let mut ready = false;
    for line in BufReader::new(stdout).lines() {
        // libtest may print `test child ... ` before it on the same line.
        if line.unwrap().contains(READY) {
            ready = true;
            break;
        }
    }
    assert!(
        ready,
        "reader child exited before holding its read transaction"
    );
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    let cleared = store.reader_check().unwrap();
    assert!(cleared >= 1, "reader_check cleared {cleared} slots");
    assert_eq!(store.reader_check().unwrap(), 0);
    assert_eq!(store.incr(b"shared", 1).unwrap(), 2);
    store.write(|w| w.profile_add("p", "v", 1)).unwrap();
}
