//! End to end: the SIPVicious tools (Debian package `sipvicious`) against sipedge on
//! loopback. svmap is dropped as a scanner; with scanner filtering off, svwar cannot tell
//! existing extensions from others (every REGISTER gets the same challenge) and svcrack is
//! locked out before it reaches the password.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

use e2e::{ctl, scratch_dir, test_config, Sipedge};

fn start(name: &str, port: u16, security: &str) -> Sipedge {
    let dir = scratch_dir(name);
    let config = format!(
        "{}\n[registrar]\ndomains = [\"127.0.0.1\"]\n[auth]\nrealm = \"127.0.0.1\"\nalgorithms = [\"MD5\"]\n[security]\n{security}\n[[route]]\nname = \"register\"\nmethod = [\"REGISTER\"]\nregister = true\nauthenticate = true\n[[route]]\nname = \"calls\"\nauthenticate = true\nlookup = true\n",
        test_config(&dir, port, 2)
    );
    let s = Sipedge::start(&dir, &config, port);
    let (ok, out) = ctl(&s.config, &["subscriber", "add", "105", "1234"]);
    assert!(ok, "{out}");
    s
}

/// Run a SIPVicious tool (bounded by `timeout`), stdout and stderr together.
fn tool(args: &[&str]) -> String {
    let out = Command::new("timeout")
        .arg("90")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn svmap_sees_nothing() {
    let s = start("sv-map", 25501, "");
    let out = tool(&["svmap", "127.0.0.1", "-p", "25501"]);
    assert!(
        !out.contains("127.0.0.1:25501"),
        "svmap found sipedge:\n{out}"
    );
    assert!(out.contains("found nothing"), "{out}");
    assert!(s.log_text().contains("sipedge started"));
}

#[test]
fn svwar_cannot_tell_existing_extensions() {
    let _s = start("sv-war", 25502, "scanner_user_agents = []");
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec![
            "svwar",
            "-e100-110",
            "-m",
            "REGISTER",
            "127.0.0.1",
            "-p",
            "25502",
        ];
        args.extend_from_slice(extra);
        let out = tool(&args);
        assert!(out.contains("found nothing"), "svwar {extra:?}:\n{out}");
        assert!(!out.contains("| 105"), "svwar found extension 105:\n{out}");
    }
}

#[test]
fn svcrack_is_locked_out() {
    let s = start("sv-crack", 25503, "scanner_user_agents = []");
    let out = tool(&[
        "svcrack",
        "-u",
        "105",
        "-r",
        "1200-1300",
        "127.0.0.1",
        "-p",
        "25503",
    ]);
    assert!(!out.contains("1234"), "svcrack found the password:\n{out}");
    assert!(out.contains("found nothing"), "{out}");
    assert!(
        s.log_text()
            .contains("sipedge auth lockout: source 127.0.0.1 user \"105\""),
        "{}",
        s.log_text()
    );
}
