//! End to end: one SIPp instance (one socket, one 4-tuple, like one carrier trunk) is spread
//! over every worker, with the reuseport steering program (`steering = "random"`) and
//! without it (`"hash"`: the kernel sends everything to one worker, which steers by Call-ID).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use e2e::{http_get, metric_sum, scenario, scratch_dir, sipp, test_config_admin, Sipedge};

fn run(steering: &str, port: u16, admin_port: u16) {
    let dir = scratch_dir(&format!("steering-{steering}"));
    let admin = format!("127.0.0.1:{admin_port}");
    let config = test_config_admin(&dir, port, 2, &admin).replace(
        &format!("address = \"127.0.0.1:{port}\""),
        &format!("address = \"127.0.0.1:{port}\"\nsteering = \"{steering}\""),
    );
    let s = Sipedge::start(&dir, &config, port);
    let before = http_get(&admin, "/metrics").unwrap().1;

    let calls = 1000;
    let target = format!("127.0.0.1:{port}");
    let sf = scenario("uac_404.xml");
    let r = sipp(
        &dir,
        "uac",
        &[
            "-sf",
            sf.to_str().unwrap(),
            "-s",
            "404",
            &target,
            "-i",
            "127.0.0.1",
            "-p",
            &(port + 500).to_string(),
            "-r",
            "500",
            "-m",
            &calls.to_string(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, Some(0), "sipp failed: {r:?}\n{}", s.log_text());
    assert_eq!(r.successful, calls, "{r:?}");
    assert_eq!(r.failed, 0, "{r:?}");

    let after = http_get(&admin, "/metrics").unwrap().1;
    let d = |name: &str, labels: &[&str]| {
        metric_sum(&after, name, labels) - metric_sum(&before, name, labels)
    };
    let invites = d("sipedge_requests_total", &["method=\"INVITE\""]);
    assert!(invites >= calls, "{after}");
    assert_eq!(d("sipedge_replies_total", &["code=\"404\""]), invites);
    assert_eq!(
        d("sipedge_ipc_forwarded_total", &[]),
        d("sipedge_ipc_received_total", &[])
    );
    assert_eq!(d("sipedge_ipc_dropped_total", &[]), 0, "{after}");
    // Every worker owns a fair share of the calls (Call-ID hash: ~50% each).
    for w in ["worker=\"0\"", "worker=\"1\""] {
        let mine = d("sipedge_requests_total", &["method=\"INVITE\"", w]);
        assert!(
            mine * 100 >= invites * 35,
            "{steering}: {w} handled {mine} of {invites} INVITEs\n{after}"
        );
    }
    let received: Vec<u64> = ["worker=\"0\"", "worker=\"1\""]
        .iter()
        .map(|w| d("sipedge_received_datagrams_total", &[w]))
        .collect();
    if steering == "random" {
        // The kernel spread the reads too.
        for r in &received {
            assert!(*r * 100 >= 2 * calls * 35, "{steering}: reads {received:?}");
        }
    } else {
        // One 4-tuple, one socket: one worker read everything and steered half of it.
        assert!(received.contains(&0), "{steering}: reads {received:?}");
    }
}

#[test]
fn one_sipp_socket_spreads_over_all_workers_random() {
    run("random", 25081, 29081);
}

#[test]
fn one_sipp_socket_spreads_over_all_workers_hash() {
    run("hash", 25082, 29082);
}
