//! Property tests: messages built from random parts parse, serialise back to the same bytes
//! without edits, keep their fields through edits, and come out of the stream framer intact
//! whatever the chunk sizes and keep-alives between them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use proto::{Editor, Edits, Frame, Limits, Message, StreamFramer, EMPTY_HEADER};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,3}",
    ]
}

fn uri() -> impl Strategy<Value = String> {
    (
        proptest::option::of("[a-z0-9+]{1,12}"),
        host(),
        proptest::option::of(1u16..=65535),
        proptest::option::of("[A-Za-z0-9][A-Za-z0-9._~-]{0,11}"),
    )
        .prop_map(|(user, host, port, param)| {
            let mut s = String::from("sip:");
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            if let Some(p) = param {
                s.push_str(&format!(";x-{p}"));
            }
            s
        })
}

/// A request or response with the mandatory headers, some extra ones and a body.
fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::sample::select(vec![
            "INVITE", "OPTIONS", "BYE", "REGISTER", "MESSAGE", "INFO",
        ]),
        uri(),
        (100u16..=699),
        prop::collection::vec((host(), token()), 1..4),
        (uri(), token(), uri(), proptest::option::of(token())),
        (token(), 1u32..=100_000, 0u32..=70),
        prop::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,40}"), 0..6),
        "[ -~\r\n]{0,200}",
    )
        .prop_map(
            |(
                request,
                method,
                ruri,
                code,
                vias,
                (from, ftag, to, ttag),
                (cid, seq, mf),
                extra,
                body,
            )| {
                let mut m = if request {
                    format!("{method} {ruri} SIP/2.0\r\n")
                } else {
                    format!("SIP/2.0 {code} Some Reason\r\n")
                };
                for (h, b) in &vias {
                    m.push_str(&format!("Via: SIP/2.0/UDP {h};branch=z9hG4bK{b}\r\n"));
                }
                m.push_str(&format!("From: <{from}>;tag={ftag}\r\n"));
                match ttag {
                    Some(t) => m.push_str(&format!("To: <{to}>;tag={t}\r\n")),
                    None => m.push_str(&format!("To: <{to}>\r\n")),
                }
                m.push_str(&format!(
                    "Call-ID: {cid}\r\nCSeq: {seq} {method}\r\nMax-Forwards: {mf}\r\n"
                ));
                for (n, v) in &extra {
                    m.push_str(&format!("{n}: {}\r\n", v.trim()));
                }
                m.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
                m.into_bytes()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_then_serialise_without_edits_is_identity(msg in message()) {
        let mut slots = [EMPTY_HEADER; 64];
        let m = Message::parse(&msg, &mut slots, &Limits::DEFAULT)
            .map_err(|e| TestCaseError::fail(format!("{e:?}: {}", String::from_utf8_lossy(&msg))))?;
        let mut edits = Edits::new();
        let mut out = Vec::new();
        Editor::new(&m, &mut edits).finish(&mut out).unwrap();
        prop_assert_eq!(&out, &msg);
    }

    #[test]
    fn a_proxys_edits_keep_the_message_whole(msg in message()) {
        let mut slots = [EMPTY_HEADER; 64];
        let m = Message::parse(&msg, &mut slots, &Limits::DEFAULT).unwrap();
        prop_assume!(m.is_request());
        let mut edits = Edits::new();
        let mut ed = Editor::new(&m, &mut edits);
        ed.push_via(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-se00.1");
        ed.add_record_route(b"<sip:192.0.2.1;lr>");
        ed.set_max_forwards(m.max_forwards().unwrap_or(70).saturating_sub(1)).unwrap();
        let mut out = Vec::new();
        ed.finish(&mut out).unwrap();
        let mut slots2 = [EMPTY_HEADER; 70];
        let e = Message::parse(&out, &mut slots2, &Limits::DEFAULT).unwrap();
        prop_assert_eq!(e.vias().count(), m.vias().count() + 1);
        prop_assert_eq!(e.top_via().unwrap().branch, Some(&b"z9hG4bK-se00.1"[..]));
        prop_assert_eq!(e.call_id(), m.call_id());
        prop_assert_eq!(e.cseq().map(|c| c.seq), m.cseq().map(|c| c.seq));
        prop_assert_eq!(e.from().and_then(|f| f.tag), m.from().and_then(|f| f.tag));
        prop_assert_eq!(e.body(), m.body());
        prop_assert_eq!(e.max_forwards(), Some(m.max_forwards().unwrap().saturating_sub(1)));
    }

    #[test]
    fn framing_at_random_chunk_sizes(
        msgs in prop::collection::vec(message(), 1..5),
        keepalives in prop::collection::vec(0usize..3, 5),
        chunks in prop::collection::vec(1usize..64, 1..40),
    ) {
        // The stream: messages with 0, 1 or 2 CRLF pairs before each (pong / ping).
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            match keepalives[i % keepalives.len()] {
                1 => { stream.extend_from_slice(b"\r\n"); expected.push(None); }
                2 => { stream.extend_from_slice(b"\r\n\r\n"); expected.push(Some(None)); }
                _ => {}
            }
            stream.extend_from_slice(m);
            expected.push(Some(Some(m.clone())));
        }
        let mut f = StreamFramer::new(Limits::DEFAULT);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut k = 0;
        while !rest.is_empty() {
            let n = chunks[k % chunks.len()].min(rest.len());
            k += 1;
            f.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(frame) = f.next_frame().unwrap() {
                got.push(match frame {
                    Frame::Pong => None,
                    Frame::Ping => Some(None),
                    Frame::Message(m) => Some(Some(m.to_vec())),
                });
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(f.buffered(), 0);
    }
}
