//! Fuzz the datagram path: parse, read every typed view, take the ingress verdict, and check
//! that serialising without edits gives the message's bytes back and that the proxy's usual
//! edits give a message that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::{Editor, Edits, HeaderKind, Limits, Message, EMPTY_HEADER};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::DEFAULT;
    let _ = proto::verdict(data, &limits);
    let mut slots = [EMPTY_HEADER; 128];
    let Ok(msg) = Message::parse(data, &mut slots, &limits) else {
        return;
    };
    let _ = proto::check::verdict_of(&msg);
    let _ = (msg.method(), msg.request_uri(), msg.status(), msg.reason());
    let _ = (msg.from(), msg.to(), msg.call_id(), msg.cseq(), msg.max_forwards());
    let _ = (msg.content_length(), msg.expires(), msg.content_type(), msg.user_agent());
    for v in msg.vias() {
        let _ = (v.branch, v.received, v.rport, v.host.ip());
    }
    for c in msg.contacts() {
        let _ = c;
    }
    for r in msg.routes().chain(msg.record_routes()) {
        let _ = r.map(|n| n.uri.params().count());
    }
    for k in [HeaderKind::Require, HeaderKind::Supported, HeaderKind::ProxyRequire] {
        let _ = msg.tokens(k).count();
    }
    let _ = msg.duplicated_single_headers().count();
    // One walk (what the verifier uses) must agree with validate-then-collect.
    for k in [HeaderKind::Authorization, HeaderKind::ProxyAuthorization] {
        for (one, two) in msg.digest_credentials(k).zip(msg.credentials(k)) {
            assert_eq!(one, two.map(|c| (c, c.digest_fields())));
        }
    }
    if let Some(u) = msg.request_uri() {
        let _ = (u.params().count(), u.maddr(), u.transport(), u.host.ip());
    }

    // No edits: the same bytes.
    let mut edits = Edits::new();
    let mut out = Vec::new();
    let ed = Editor::new(&msg, &mut edits);
    assert!(ed.finish(&mut out).is_ok());
    assert_eq!(out.as_slice(), msg.as_bytes());

    // What a proxy does to a request it forwards: the result must parse again.
    if msg.is_request() {
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
        // Up to three more headers (Via, Record-Route, a missing Max-Forwards) and a few
        // more bytes than the input was allowed.
        let roomier = Limits {
            max_headers: limits.max_headers + 3,
            max_message_size: limits.max_message_size + 256,
            max_header_section: limits.max_header_section + 256,
            ..limits
        };
        let mut slots2 = [EMPTY_HEADER; 131];
        let again = Message::parse(&out, &mut slots2, &roomier);
        assert!(again.is_ok(), "edited message does not parse: {again:?}");
    }
});
