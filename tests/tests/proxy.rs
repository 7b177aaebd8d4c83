//! End to end: SIPp UAC → sipedge → SIPp UAS on loopback, through the stateful proxy and
//! the dispatcher. Every test checks SIPp's exit status and its call counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{scenario, scratch_dir, sipp, test_config_admin, Sipedge, SippResult};

/// A SIPp UAS running in the background on `port` until it has handled `calls` calls.
struct Uas {
    child: Child,
}

impl Uas {
    fn start(dir: &Path, sf: &Path, port: u16, calls: u64, extra: &[&str]) -> Uas {
        let child = Command::new("sipp")
            .current_dir(dir)
            .arg("-sf")
            .arg(sf)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &calls.to_string(), "-nostdin", "-timeout", "60s"])
            // -aa: answer OPTIONS (sipedge's health probes), INFO, NOTIFY and UPDATE with 200.
            .args(["-trace_err", "-aa"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sipp: {e}"));
        std::thread::sleep(Duration::from_millis(200));
        Uas { child }
    }
}

impl Drop for Uas {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A template scenario with @STATUS@/@REASON@ filled in, written into `dir`.
fn templated(dir: &Path, name: &str, status: u16, reason: &str) -> PathBuf {
    let text = std::fs::read_to_string(scenario(name))
        .unwrap()
        .replace("@STATUS@", &status.to_string())
        .replace("@REASON@", reason);
    let path = dir.join(format!("{status}-{name}"));
    std::fs::write(&path, text).unwrap();
    path
}

/// sipedge on `port` with the core set `cores` (in priority order), timer B/F of 1 s and
/// `extra` appended to the config.
fn start(name: &str, port: u16, cores: &[u16], extra: &str) -> (PathBuf, Sipedge) {
    start_with_timeout(name, port, cores, 1000, extra)
}

fn start_with_timeout(
    name: &str,
    port: u16,
    cores: &[u16],
    timeout_ms: u64,
    extra: &str,
) -> (PathBuf, Sipedge) {
    let dir = scratch_dir(name);
    let dests: Vec<String> = cores
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{{ uri = \"sip:127.0.0.1:{p}\", priority = {i} }}"))
        .collect();
    let config = format!(
        r#"{}
[transaction]
timeout_ms = {timeout_ms}

[[dispatcher]]
name = "core"
algorithm = "priority"
destinations = [{}]

[[route]]
name = "to-core"
dispatch = "core"
{extra}
"#,
        test_config_admin(&dir, port, 2, ""),
        dests.join(", ")
    );
    let s = Sipedge::start(&dir, &config, port);
    (dir, s)
}

fn uac(dir: &Path, sf: &Path, port: u16, calls: u64, rate: u64, extra: &[&str]) -> SippResult {
    let target = format!("127.0.0.1:{port}");
    let mut args: Vec<String> = vec![
        "-sf".into(),
        sf.display().to_string(),
        "-s".into(),
        "callee".into(),
        target,
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        (port + 1000).to_string(),
        "-m".into(),
        calls.to_string(),
        "-r".into(),
        rate.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sipp(dir, "uac", &args, Duration::from_secs(60))
}

fn assert_all(r: &SippResult, calls: u64, s: &Sipedge) {
    assert_eq!(
        (r.status, r.successful, r.failed),
        (Some(0), calls, 0),
        "{r:?}\nsipedge log:\n{}",
        s.log_text()
    );
}

#[test]
fn full_call_through_the_proxy() {
    let (dir, s) = start("proxy-call", 25101, &[25180], "");
    let _uas = Uas::start(&dir, &scenario("uas_call.xml"), 25180, 50, &[]);
    let r = uac(&dir, &scenario("uac_call.xml"), 25101, 50, 50, &[]);
    assert_all(&r, 50, &s);
}

#[test]
fn busy_is_passed_back() {
    let (dir, s) = start("proxy-486", 25102, &[25181], "");
    let uas_sf = templated(&dir, "uas_status.xml", 486, "Busy Here");
    let _uas = Uas::start(&dir, &uas_sf, 25181, 20, &[]);
    let uac_sf = templated(&dir, "uac_status.xml", 486, "Busy Here");
    let r = uac(&dir, &uac_sf, 25102, 20, 20, &[]);
    assert_all(&r, 20, &s);
}

#[test]
fn cancel_before_answer_gets_487() {
    let (dir, s) = start("proxy-cancel", 25103, &[25182], "");
    let _uas = Uas::start(&dir, &scenario("uas_ring.xml"), 25182, 20, &[]);
    let r = uac(&dir, &scenario("uac_cancel.xml"), 25103, 20, 20, &[]);
    assert_all(&r, 20, &s);
}

#[test]
fn a_503_fails_over_to_the_second_destination() {
    let (dir, s) = start("proxy-failover", 25104, &[25183, 25184], "");
    let uas_sf = templated(&dir, "uas_status.xml", 503, "Service Unavailable");
    let bad = Uas::start(&dir, &uas_sf, 25183, 20, &[]);
    let _good = Uas::start(&dir, &scenario("uas_call.xml"), 25184, 20, &[]);
    let r = uac(&dir, &scenario("uac_call.xml"), 25104, 20, 20, &[]);
    assert_all(&r, 20, &s);
    drop(bad);
}

#[test]
fn calls_complete_with_ten_percent_loss_on_both_legs() {
    // Timer B as in the RFC (64*T1): a lost INVITE is retransmitted six times before the
    // destination counts as failed.
    let (dir, s) = start_with_timeout("proxy-loss", 25105, &[25185], 0, "");
    let _uas = Uas::start(
        &dir,
        &scenario("uas_answer.xml"),
        25185,
        30,
        &["-lost", "10"],
    );
    let r = uac(
        &dir,
        &scenario("uac_call.xml"),
        25105,
        30,
        10,
        &["-lost", "10"],
    );
    assert_all(&r, 30, &s);
    assert!(
        r.retransmissions > 0,
        "10% loss without a retransmission: {r:?}"
    );
}
