//! `sipedge parse`: the same verdict as the proxy, exit status 0 only when all accepted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::process::{Command, Stdio};

fn parse(args: &[&str]) -> (i32, String) {
    let out = Command::new(e2e::sipedge_bin())
        .arg("parse")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn valid_files_exit_zero() {
    let a = e2e::corpus("rfc4475/valid/wsinv.dat");
    let b = e2e::corpus("rfc5118/wire/ipv6-good.sip");
    let (code, out) = parse(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().all(|l| l.contains(": accepted (")), "{out}");
}

#[test]
fn one_rejected_file_makes_the_exit_status_non_zero() {
    let a = e2e::corpus("rfc4475/valid/wsinv.dat");
    let b = e2e::corpus("rfc4475/invalid/badvers.dat");
    let (code, out) = parse(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("badvers.dat: rejected: 505 Version Not Supported"),
        "{out}"
    );
}

#[test]
fn json_output() {
    let f = e2e::corpus("rfc4475/application/multi01.dat");
    let (code, out) = parse(&["--json", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["accepted"], false);
    assert_eq!(v["verdict"], "reject");
    assert_eq!(v["status"], 400);
    assert_eq!(v["reason"], "Duplicate From header");
    assert_eq!(v["method"], "INVITE");

    let f = e2e::corpus("rfc4475/invalid/bigcode.dat");
    let (_, out) = parse(&["--json", f.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["verdict"], "drop");
    assert_eq!(v["reason"], "Bad status code");
}

#[test]
fn stdin_and_unreadable_files() {
    let mut child = Command::new(e2e::sipedge_bin())
        .args(["parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let msg = std::fs::read(e2e::corpus("rfc4475/valid/esc01.dat")).unwrap();
    child.stdin.take().unwrap().write_all(&msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-: accepted (INVITE request"));

    let (code, out) = parse(&["/nonexistent/file.sip"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("/nonexistent/file.sip: error: cannot read"),
        "{out}"
    );
}
