//! Parser micro-benchmarks: sipedge's `proto::Message::parse` against the published `rsip`
//! crate, on the sample messages of `sipedge_bench` (INVITE with SDP, its 200 OK, a REGISTER
//! with digest credentials), in one run. Run with `cargo bench -p sipedge-bench`.
//!
//! One criterion group per message, `Throughput::Bytes` = message length, and these functions:
//!
//! - `sipedge/full`: `Message::parse` into 32 caller-supplied header slots (reused across
//!   iterations, as a worker reuses them). That one pass parses the start line (method +
//!   Request-URI typed, or status code + reason), indexes every header by kind, and parses and
//!   validates at once: every Via value of every Via field, From, To, Call-ID, CSeq (and its
//!   method against the request method), Max-Forwards, Content-Length (and cuts the body by it)
//!   and every Contact value. Then the bench reads the top Via's branch, CSeq, From tag, To tag
//!   and Call-ID from the already-typed fields (no further parsing) and `black_box`es them.
//!   Nothing is allocated.
//! - `rsip/full`: `rsip::SipMessage::try_from(&[u8])`, which tokenizes the start line (method
//!   and Request-URI typed, or status code), copies every header into an owned, untyped `String`
//!   newtype and copies the body into a `Vec<u8>`. Then, through rsip's typed-header API, it
//!   types the top Via (`via_header()?.typed()?`, branch via `Via::branch()`), CSeq
//!   (`cseq_header()?.typed()?`), From and To (`typed()?.tag()`), and takes Call-ID's value;
//!   each result is `black_box`ed. Dropping the message and the typed headers (freeing) is
//!   inside the timed loop, as it is in real use.
//! - `rsip/eager_equiv`: `rsip/full` plus what sipedge's parse does eagerly and `rsip/full`
//!   skips: typing every Via field (not only the top one), every Contact field, Max-Forwards and
//!   Content-Length. This is the closest rsip gets to the validation `sipedge/full` performs;
//!   `rsip/full` is the headline comparison.
//!
//! The input is passed through `black_box` so neither parse can be folded at compile time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use proto::{Header, Limits, Message, EMPTY_HEADER};
use rsip::prelude::*;
use sipedge_bench::MESSAGES;

/// Parse with sipedge and read the five fields every hop needs.
fn sipedge_full<'b>(buf: &'b [u8], slots: &mut [Header<'b>], limits: &Limits) {
    let m = Message::parse(buf, slots, limits).expect("sipedge parse");
    black_box(m.top_via().expect("Via").branch);
    black_box(m.cseq().expect("CSeq"));
    black_box(m.from().expect("From").tag);
    black_box(m.to().expect("To").tag);
    black_box(m.call_id().expect("Call-ID"));
}

/// Parse with rsip and type the same five fields through its typed-header API.
fn rsip_full(buf: &[u8]) -> rsip::SipMessage {
    let m = rsip::SipMessage::try_from(buf).expect("rsip parse");
    let via = m.via_header().expect("Via").typed().expect("typed Via");
    black_box(via.branch());
    let cseq = m.cseq_header().expect("CSeq").typed().expect("typed CSeq");
    black_box(&cseq);
    let from = m.from_header().expect("From").typed().expect("typed From");
    black_box(from.tag());
    let to = m.to_header().expect("To").typed().expect("typed To");
    black_box(to.tag());
    black_box(m.call_id_header().expect("Call-ID").value());
    m
}

/// `rsip_full` plus typing what sipedge validates eagerly: all Via fields, all Contact
/// fields, Max-Forwards, Content-Length.
fn rsip_eager_equiv(buf: &[u8]) {
    let m = rsip_full(buf);
    for h in m.headers().iter() {
        match h {
            rsip::Header::Via(v) => {
                black_box(v.typed().expect("typed Via"));
            }
            rsip::Header::Contact(c) => {
                black_box(c.typed().expect("typed Contact"));
            }
            rsip::Header::MaxForwards(mf) => {
                black_box(mf.num().expect("Max-Forwards"));
            }
            rsip::Header::ContentLength(cl) => {
                black_box(cl.length().expect("Content-Length"));
            }
            _ => {}
        }
    }
}

fn parse(c: &mut Criterion) {
    let limits = Limits::DEFAULT;
    for (name, msg) in MESSAGES {
        // Both parsers must accept every sample before anything is timed.
        let mut slots = [EMPTY_HEADER; 32];
        sipedge_full(msg, &mut slots, &limits);
        rsip_eager_equiv(msg);

        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function("sipedge/full", |b| {
            let mut slots = [EMPTY_HEADER; 32];
            b.iter(|| sipedge_full(black_box(msg), &mut slots, &limits));
        });
        g.bench_function("rsip/full", |b| b.iter(|| rsip_full(black_box(msg))));
        g.bench_function("rsip/eager_equiv", |b| {
            b.iter(|| rsip_eager_equiv(black_box(msg)));
        });
        g.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
