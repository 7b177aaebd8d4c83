#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Every RFC 4475 and RFC 5118 torture message gets the verdict its manifest expects, at the
//! parser level and at the ingress-verdict level the proxy uses.

use std::collections::BTreeMap;

use proto::{verdict, HeaderError, Limits, Message, ParseError, Verdict, EMPTY_HEADER};

fn parse(bytes: &[u8]) -> Result<(), ParseError> {
    let mut slots = [EMPTY_HEADER; 128];
    Message::parse(bytes, &mut slots, &Limits::DEFAULT).map(|_| ())
}

/// Read a manifest: rows of columns by header name.
fn manifest(rel: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(e2e::corpus(rel)).unwrap();
    let mut lines = text.lines();
    let cols: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            cols.iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

/// Exactly how sipedge treats the files the RFC does not call plainly valid. A test that only
/// said "rejected somehow" could pass for the wrong reason.
fn rfc4475_expected(file: &str) -> Option<Result<(), ParseError>> {
    use HeaderError as H;
    use ParseError as P;
    Some(match file {
        "invalid/badinv01.dat" => Err(P::BadHeader(H::Via)),
        "invalid/clerr.dat" => Err(P::BodyTruncated),
        "invalid/ncl.dat" => Err(P::BadHeader(H::ContentLength)),
        "invalid/scalar02.dat" => Err(P::BadHeader(H::CSeq)),
        "invalid/scalarlg.dat" => Err(P::BadHeader(H::CSeq)),
        "invalid/quotbal.dat" => Err(P::BadHeader(H::To)),
        "invalid/ltgtruri.dat" => Err(P::BadRequestUri),
        "invalid/lwsruri.dat" => Err(P::BadRequestLine),
        "invalid/lwsstart.dat" => Err(P::BadRequestLine),
        "invalid/trws.dat" => Err(P::BadVersion),
        "invalid/escruri.dat" => Err(P::BadRequestUri),
        // Liberal: Date does not matter to a proxy, so the bad time zone is ignored.
        "invalid/baddate.dat" => Ok(()),
        "invalid/regbadct.dat" => Err(P::BadHeader(H::Contact)),
        "invalid/badaspec.dat" => Err(P::BadHeader(H::To)),
        "invalid/baddn.dat" => Err(P::BadHeader(H::From)),
        "invalid/badvers.dat" => Err(P::VersionNotSupported),
        "invalid/mismatch01.dat" => Err(P::CSeqMethodMismatch),
        "invalid/mismatch02.dat" => Err(P::CSeqMethodMismatch),
        "invalid/bigcode.dat" => Err(P::BadStatusCode),
        "extra/test.dat" => Err(P::BadRequestLine),
        _ => return None,
    })
}

/// Ingress verdicts for the files whose manifest says "accept-then-error".
fn rfc4475_after_parse(file: &str) -> Option<&'static str> {
    Some(match file {
        "application/insuf.dat" => "Missing From header",
        "application/multi01.dat" => "Duplicate From header",
        "application/mcl01.dat" => "Conflicting Content-Length headers",
        _ => return None,
    })
}

#[test]
fn rfc4475_every_message() {
    let rows = manifest("rfc4475/MANIFEST.tsv");
    assert_eq!(
        rows.len(),
        50,
        "49 RFC messages plus the stray archive file"
    );
    let mut failures = Vec::new();
    for row in &rows {
        let file = row["file"].as_str();
        let expectation = row["parser_expectation"].as_str();
        let bytes = std::fs::read(e2e::corpus(&format!("rfc4475/{file}"))).unwrap();
        let got = parse(&bytes);
        let v = verdict(&bytes, &Limits::DEFAULT);
        let ok = match expectation {
            "accept" => got.is_ok() && v == Verdict::Accept,
            "reject" => got.is_err() && got == rfc4475_expected(file).unwrap_or(got),
            "reject-or-liberal" => match rfc4475_expected(file) {
                Some(exp) => got == exp && (got.is_err() || v == Verdict::Accept),
                None => false,
            },
            "accept-then-error" => {
                got.is_ok()
                    && matches!(v, Verdict::Reject { status: 400, reason }
                        if Some(reason) == rfc4475_after_parse(file))
            }
            other => panic!("unknown expectation {other:?} for {file}"),
        };
        // Rejections must carry exactly the reason we pinned.
        let pinned = rfc4475_expected(file).is_none_or(|exp| exp == got);
        if !ok || !pinned {
            failures.push(format!(
                "{file}: expected {expectation}, parse gave {got:?}, verdict {v:?}"
            ));
        }
        // A rejected request is answered with a reason; a rejected response is dropped.
        if let Err(e) = got {
            let is_response = bytes.starts_with(b"SIP/2.0");
            match v {
                Verdict::Reject { status, reason } => {
                    assert!(!is_response, "{file}: a response must never be answered");
                    assert_eq!((status, reason), (e.status(), e.reason()), "{file}");
                }
                Verdict::Drop { .. } => assert!(is_response, "{file}: requests get an answer"),
                Verdict::Accept => panic!("{file}: parse error but accepted"),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "RFC 4475 mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rfc4475_specific_semantics() {
    let read = |f: &str| std::fs::read(e2e::corpus(&format!("rfc4475/{f}"))).unwrap();
    let mut slots = [EMPTY_HEADER; 128];

    // dblreq: only the REGISTER is the message; the INVITE after it is ignored.
    let bytes = read("valid/dblreq.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.method(), Some(proto::Method::Register));
    assert!(m.as_bytes().len() < bytes.len());
    assert!(m.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));

    // semiuri: the user part holds the `;par=` text.
    let bytes = read("valid/semiuri.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(
        m.request_uri().unwrap().user,
        Some(&b"user;par=u%40example.net"[..])
    );
    assert_eq!(m.request_uri().unwrap().host.text, b"example.com");

    // esc02: the method is not REGISTER, and C%6Fntact is not Contact.
    let bytes = read("valid/esc02.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.method(), Some(proto::Method::Other(b"RE%47IST%45R")));
    assert_eq!(m.contacts().count(), 2);

    // wsinv: folded values, whitespace everywhere, two Via values in one header.
    let bytes = read("valid/wsinv.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.to().unwrap().tag, Some(&b"1918181833n"[..]));
    assert_eq!(m.from().unwrap().tag, Some(&b"98asjd8"[..]));
    assert_eq!(m.vias().count(), 3);
    assert_eq!(m.top_via().unwrap().branch, Some(&b"390skdjuw"[..]));
    assert_eq!(m.body().len(), 150);

    // longreq: 34 Via values over many header spellings.
    let bytes = read("valid/longreq.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.vias().count(), 34);

    // mpart01: the binary body with bare LFs is kept whole.
    let bytes = read("valid/mpart01.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.body().len(), 553);

    // inv2543: no Content-Length over UDP, the body runs to the end of the datagram.
    let bytes = read("backcompat/inv2543.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert!(m.content_length().is_none());
    assert!(m.body().starts_with(b"v=0"));
    assert!(m.top_via().unwrap().branch.is_none());

    // bext01: the option tags are there for the 420 logic.
    let bytes = read("application/bext01.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    let tags: Vec<_> = m.tokens(proto::HeaderKind::ProxyRequire).collect();
    assert_eq!(
        tags,
        vec![&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"]
    );

    // zeromf: Max-Forwards 0 parses (the proxy answers 483).
    let bytes = read("application/zeromf.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.max_forwards(), Some(0));

    // unkscm: unknown R-URI scheme parses (the proxy answers 416).
    let bytes = read("application/unkscm.dat");
    let m = Message::parse(&bytes, &mut slots, &Limits::DEFAULT).unwrap();
    assert!(!m.request_uri().unwrap().is_sip());
}

#[test]
fn rfc5118_every_message() {
    let rows = manifest("rfc5118/MANIFEST.tsv");
    assert_eq!(rows.len(), 12);
    for row in &rows {
        let file = row["file_wire"].as_str();
        let bytes = std::fs::read(e2e::corpus(&format!("rfc5118/{file}"))).unwrap();
        let got = parse(&bytes);
        let v = verdict(&bytes, &Limits::DEFAULT);
        if row["expectation"].starts_with("accept") {
            assert_eq!(got, Ok(()), "{file}");
            assert_eq!(v, Verdict::Accept, "{file}");
        } else {
            assert_eq!(got, Err(ParseError::BadRequestUri), "{file}");
            assert!(matches!(v, Verdict::Reject { status: 400, .. }), "{file}");
        }
    }
}

#[test]
fn rfc5118_ipv6_details() {
    let read = |f: &str| std::fs::read(e2e::corpus(&format!("rfc5118/wire/{f}"))).unwrap();
    let mut slots = [EMPTY_HEADER; 64];

    let b = read("port-ambiguous.sip");
    let m = Message::parse(&b, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.request_uri().unwrap().port, None);
    assert_eq!(m.request_uri().unwrap().host.text, b"[2001:db8::10:5070]");

    let b = read("port-unambiguous.sip");
    let m = Message::parse(&b, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.request_uri().unwrap().port, Some(5070));

    let b = read("via-received-param-with-delim.sip");
    let m = Message::parse(&b, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(
        m.top_via().unwrap().received,
        Some(&b"[2001:db8::9:255]"[..])
    );

    let b = read("via-received-param-no-delim.sip");
    let m = Message::parse(&b, &mut slots, &Limits::DEFAULT).unwrap();
    assert_eq!(m.top_via().unwrap().received, Some(&b"2001:db8::9:255"[..]));

    let b = read("mult-ip-in-header.sip");
    let m = Message::parse(&b, &mut slots, &Limits::DEFAULT).unwrap();
    let kinds: Vec<_> = m.vias().map(|v| v.host.kind).collect();
    use proto::HostKind::{Ipv4, Ipv6};
    assert_eq!(kinds, vec![Ipv6, Ipv4, Ipv6]);
}
