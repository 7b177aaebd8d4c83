//! Inputs the fuzzers (fuzz/) once failed on, replayed with the same checks as the
//! `parse_message` target: parse, serialise without edits, apply a proxy's edits, parse again.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proto::{Editor, Edits, Limits, Message, EMPTY_HEADER};

fn check(data: &[u8]) {
    let limits = Limits::DEFAULT;
    let _ = proto::verdict(data, &limits);
    let mut slots = [EMPTY_HEADER; 128];
    let Ok(msg) = Message::parse(data, &mut slots, &limits) else {
        return;
    };
    let mut edits = Edits::new();
    let mut out = Vec::new();
    Editor::new(&msg, &mut edits).finish(&mut out).unwrap();
    assert_eq!(out.as_slice(), msg.as_bytes());
    if !msg.is_request() {
        return;
    }
    let mut ed = Editor::new(&msg, &mut edits);
    ed.push_via(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-se00.0123456789abcdef");
    ed.add_record_route(b"<sip:192.0.2.1:5060;lr>");
    if ed.set_max_forwards(69).is_err() {
        return;
    }
    let _ = ed.pop_route();
    out.clear();
    if ed.finish(&mut out).is_err() {
        return;
    }
    let roomier = Limits {
        max_headers: limits.max_headers + 3,
        max_message_size: limits.max_message_size + 256,
        max_header_section: limits.max_header_section + 256,
        ..limits
    };
    let mut slots2 = [EMPTY_HEADER; 131];
    Message::parse(&out, &mut slots2, &roomier).unwrap();
}

#[test]
fn every_saved_input() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        check(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 2, "regression inputs missing in {}", dir.display());
}
