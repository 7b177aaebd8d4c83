//! Building a response to a request we received (RFC 3261 §8.2.6), and where to send it
//! (§18.2.2 with RFC 3581 rport).
//!
//! The response copies every Via (the top one gains `received` and `rport` values as seen by
//! the transport), From, To (with our tag added when the request had none and the response is
//! not 100), Call-ID and CSeq, then the caller's extra headers and `Content-Length: 0`.

use core::net::{IpAddr, SocketAddr};
use std::io::Write as _;

use crate::chars::push_decimal;
use crate::header::HeaderKind;
use crate::message::Message;

/// Append the response `code reason` to `req` into `out`. `source` is where the request came
/// from; `to_tag` is added to To when the request has no tag and `code > 100`; `extra` is a
/// list of ready-made header lines (`Name: value`, without CRLF).
pub fn write_response(
    req: &Message<'_, '_>,
    code: u16,
    reason: &str,
    source: SocketAddr,
    to_tag: &[u8],
    extra: &[&[u8]],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"SIP/2.0 ");
    push_decimal(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut first = true;
    for h in req.headers_of(HeaderKind::Via) {
        out.extend_from_slice(b"Via: ");
        if first {
            first = false;
            write_top_via(req, h.value, source, out);
        } else {
            out.extend_from_slice(h.value);
        }
        out.extend_from_slice(b"\r\n");
    }
    for kind in [
        HeaderKind::From,
        HeaderKind::To,
        HeaderKind::CallId,
        HeaderKind::CSeq,
    ] {
        if let Some(h) = req.header(kind) {
            out.extend_from_slice(kind.name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.value);
            if kind == HeaderKind::To
                && code > 100
                && !to_tag.is_empty()
                && req.to().is_some_and(|t| t.tag.is_none())
            {
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(to_tag);
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    for line in extra {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
}

/// The top Via value of the first Via header, with `received`/`rport` filled in.
fn write_top_via(
    req: &Message<'_, '_>,
    header_value: &[u8],
    source: SocketAddr,
    out: &mut Vec<u8>,
) {
    let Some(top) = req.top_via() else {
        out.extend_from_slice(header_value);
        return;
    };
    // Offsets of the top value inside the header value, so the rest (other values of the
    // same header line) is copied unchanged.
    let (Some(val), Some(top_r)) = (req.offset_of(header_value), req.offset_of(top.raw)) else {
        out.extend_from_slice(header_value);
        return;
    };
    let rel = |at: usize| at.checked_sub(val.start);
    let (Some(top_start), Some(top_end)) = (rel(top_r.start), rel(top_r.end)) else {
        out.extend_from_slice(header_value);
        return;
    };
    let need_received = top.received.is_some() || top.host.ip() != Some(source.ip());
    let need_rport = top.rport.is_some();
    if !need_received && !need_rport {
        out.extend_from_slice(header_value);
        return;
    }
    // Copy the top value without any received/rport the client put there, then ours.
    out.extend_from_slice(header_value.get(..top_start).unwrap_or_default());
    let params_at = req
        .offset_of(top.params)
        .and_then(|p| rel(p.start))
        .filter(|&p| !top.params.is_empty() && p <= top_end)
        .unwrap_or(top_end);
    let sent_by = header_value.get(top_start..params_at).unwrap_or_default();
    out.extend_from_slice(crate::chars::trim(sent_by));
    for (name, value) in top.params() {
        if name.eq_ignore_ascii_case(b"received") || name.eq_ignore_ascii_case(b"rport") {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(name);
        if let Some(v) = value {
            out.push(b'=');
            out.extend_from_slice(v);
        }
    }
    if need_received {
        out.extend_from_slice(b";received=");
        match source.ip() {
            // RFC 5118 §4.5: IPv6 in received is written bracketed by most stacks; both
            // forms must be accepted, we write the bracketed one.
            IpAddr::V6(v6) => {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "[{v6}]");
            }
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    push_decimal(out, u64::from(octet));
                }
            }
        }
    }
    if need_rport {
        out.extend_from_slice(b";rport=");
        push_decimal(out, u64::from(source.port()));
    }
    out.extend_from_slice(header_value.get(top_end..).unwrap_or_default());
}

/// Answer a request that did not parse, from its raw header lines: copy the Via, From, To,
/// Call-ID and CSeq lines that are clean printable text (so nothing hostile is reflected),
/// add `extra` and `Content-Length: 0`. Returns false (and writes nothing useful) when there
/// is no Via line to answer along; such a message is dropped.
pub fn write_raw_response(
    data: &[u8],
    code: u16,
    reason: &str,
    extra: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let _ = write!(out, "SIP/2.0 {code} {reason}\r\n");
    let mut has_via = false;
    let start = data
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(data.len());
    let mut lines = data.get(start..).unwrap_or_default().split(|&b| b == b'\n');
    lines.next(); // the start line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let clean = line.len() <= 1024
            && line
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if !clean || matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        let name = crate::chars::trim(line.get(..colon).unwrap_or_default());
        let kind = HeaderKind::from_name(name);
        if !matches!(
            kind,
            HeaderKind::Via
                | HeaderKind::From
                | HeaderKind::To
                | HeaderKind::CallId
                | HeaderKind::CSeq
        ) {
            continue;
        }
        has_via |= kind == HeaderKind::Via;
        out.extend_from_slice(kind.name().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(crate::chars::trim(
            line.get(colon + 1..).unwrap_or_default(),
        ));
        out.extend_from_slice(b"\r\n");
    }
    if !extra.is_empty() {
        out.extend_from_slice(extra);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    has_via
}

/// Where a response to `req` goes (RFC 3261 §18.2.2 for unreliable transports, RFC 3581):
/// the source address when the client asked for rport, else `received` (or the source IP)
/// with the sent-by port (default 5060).
pub fn response_destination(req: &Message<'_, '_>, source: SocketAddr) -> SocketAddr {
    let Some(top) = req.top_via() else {
        return source;
    };
    if top.rport.is_some() {
        return source;
    }
    let port = top.port.unwrap_or(5060);
    SocketAddr::new(source.ip(), port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Limits, EMPTY_HEADER};

    fn respond(req: &[u8], source: &str) -> (String, SocketAddr) {
        let mut h = [EMPTY_HEADER; 32];
        let m = Message::parse(req, &mut h, &Limits::DEFAULT).unwrap();
        let src: SocketAddr = source.parse().unwrap();
        let mut out = Vec::new();
        write_response(
            &m,
            404,
            "Not Found",
            src,
            b"abc",
            &[b"Server: sipedge"],
            &mut out,
        );
        let dest = response_destination(&m, src);
        // The response must itself parse.
        let mut h2 = [EMPTY_HEADER; 32];
        let r = Message::parse(&out, &mut h2, &Limits::DEFAULT).unwrap();
        assert_eq!(r.status(), Some(404));
        (String::from_utf8(out).unwrap(), dest)
    }

    const REQ: &[u8] = b"INVITE sip:404@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0\r\n\
Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bKx\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:404@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn rport_and_received() {
        let (r, dest) = respond(REQ, "192.0.2.7:40000");
        assert!(r.starts_with("SIP/2.0 404 Not Found\r\n"));
        assert!(
            r.contains("Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1;received=192.0.2.7;rport=40000, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0\r\n"),
            "{r}"
        );
        assert!(r.contains("Via: SIP/2.0/UDP 10.0.0.8;branch=z9hG4bKx\r\n"));
        assert!(r.contains("To: <sip:404@127.0.0.1>;tag=abc\r\n"));
        assert!(r.contains("Server: sipedge\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
        assert_eq!(dest, "192.0.2.7:40000".parse().unwrap());
    }

    #[test]
    fn no_rport_goes_to_sent_by_port() {
        let req = b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>;tag=9\r\nCall-ID: c\r\nCSeq: 2 OPTIONS\r\n\r\n";
        let (r, dest) = respond(req, "127.0.0.1:33333");
        assert!(
            r.contains("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK2\r\n"),
            "{r}"
        );
        assert!(r.contains("To: <sip:x@y>;tag=9\r\n"));
        assert_eq!(dest, "127.0.0.1:5070".parse().unwrap());
    }
}
