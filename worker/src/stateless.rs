//! The first traffic path: what a worker answers without keeping any state.
//!
//! Pure: fed `(datagram, source)`, it writes the reply bytes into a caller buffer and says
//! where they go. Order of checks: parse (400 with the reason, 505, 513), the sanity rules,
//! OPTIONS addressed to sipedge itself (200), Max-Forwards 0 (483), and everything else that
//! cannot be routed yet (404). ACKs and responses are absorbed: nothing answers them.

use std::net::SocketAddr;

use proto::{reply, Limits, Message, Method, ParseError, Verdict, EMPTY_HEADER};

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Send the bytes written to `out` to `dest`. `status` is the reply's code.
    Reply { dest: SocketAddr, status: u16 },
    /// Nothing to send; `reason` says why, for the drop counters.
    Absorb { reason: Absorbed },
}

/// Why nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absorbed {
    /// An ACK (for a stateless final response, nothing to do).
    Ack,
    /// A response (no client transactions yet).
    Response,
    /// Keep-alive (CRLF) or empty datagram.
    KeepAlive,
    /// Malformed beyond answering (no usable Via), or a malformed response.
    Malformed(&'static str),
}

/// Per-worker facts the stateless path needs.
#[derive(Debug, Clone)]
pub struct Context {
    pub limits: Limits,
    /// Hosts that mean "sipedge itself" in a Request-URI (listener addresses, advertise
    /// names, `localhost`).
    pub local_hosts: Vec<Vec<u8>>,
    /// `Server: ...` header line.
    pub server_line: Vec<u8>,
}

pub const ALLOW_LINE: &[u8] = b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE, PUBLISH";
pub const SUPPORTED_LINE: &[u8] = b"Supported: path, outbound";

impl Context {
    /// What the stateless path needs from a configuration.
    pub fn from_config(config: &shared::config::Config) -> Context {
        Context {
            limits: config.limits.to_proto(),
            local_hosts: local_hosts(config),
            server_line: format!("Server: {}", config.general.server_header).into_bytes(),
        }
    }
}

/// Hosts that address sipedge itself in a Request-URI: `localhost`, every listener's IP and
/// every advertised name.
fn local_hosts(config: &shared::config::Config) -> Vec<Vec<u8>> {
    let mut hosts: Vec<Vec<u8>> = vec![b"localhost".to_vec()];
    for l in &config.listen {
        if let Ok(addr) = l.address.parse::<SocketAddr>() {
            let ip = match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            };
            hosts.push(ip.into_bytes());
        }
        if !l.advertise.is_empty() {
            let host = l
                .advertise
                .rsplit_once(':')
                .filter(|(h, _)| !h.ends_with(':')) // a bare IPv6 literal has no port
                .map_or(l.advertise.as_str(), |(h, _)| h);
            hosts.push(host.as_bytes().to_vec());
        }
    }
    hosts
}

/// Handle one datagram. `out` is cleared and receives the reply, if any.
pub fn handle(ctx: &Context, data: &[u8], source: SocketAddr, out: &mut Vec<u8>) -> Outcome {
    out.clear();
    let mut slots = [EMPTY_HEADER; 128];
    let msg = match Message::parse(data, &mut slots, &ctx.limits) {
        Ok(m) => m,
        Err(ParseError::Empty) => {
            return Outcome::Absorb {
                reason: Absorbed::KeepAlive,
            }
        }
        Err(e) => return reject_unparsed(ctx, data, e, source, out),
    };
    handle_parsed(ctx, &msg, source, out)
}

/// Handle a message that parsed. `out` is cleared and receives the reply, if any.
pub fn handle_parsed(
    ctx: &Context,
    msg: &Message<'_, '_>,
    source: SocketAddr,
    out: &mut Vec<u8>,
) -> Outcome {
    out.clear();
    let Some(method) = msg.method() else {
        return Outcome::Absorb {
            reason: Absorbed::Response,
        };
    };
    if let Verdict::Reject { status, reason } = proto::check::verdict_of(msg) {
        return respond(ctx, msg, status, reason, source, &[], out);
    }
    if method == Method::Ack {
        return Outcome::Absorb {
            reason: Absorbed::Ack,
        };
    }
    if method == Method::Options && is_for_us(ctx, msg) {
        return respond(
            ctx,
            msg,
            200,
            "OK",
            source,
            &[ALLOW_LINE, SUPPORTED_LINE],
            out,
        );
    }
    if msg.max_forwards() == Some(0) {
        return respond(ctx, msg, 483, "Too Many Hops", source, &[], out);
    }
    respond(ctx, msg, 404, "Not Found", source, &[], out)
}

/// A Request-URI without user part whose host is one of ours (RFC 3261 §16.4 "addressed to
/// the proxy itself").
fn is_for_us(ctx: &Context, msg: &Message<'_, '_>) -> bool {
    msg.request_uri().is_some_and(|u| {
        u.is_sip()
            && u.user.is_none()
            && ctx
                .local_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(u.host.text))
    })
}

fn respond(
    ctx: &Context,
    msg: &Message<'_, '_>,
    status: u16,
    reason: &str,
    source: SocketAddr,
    extra: &[&[u8]],
    out: &mut Vec<u8>,
) -> Outcome {
    let tag = to_tag(msg);
    let mut lines: [&[u8]; 4] = [&ctx.server_line, b"", b"", b""];
    let mut n = 1;
    for (slot, line) in lines.iter_mut().skip(1).zip(extra) {
        *slot = line;
        n += 1;
    }
    reply::write_response(
        msg,
        status,
        reason,
        source,
        tag.as_bytes(),
        lines.get(..n).unwrap_or_default(),
        out,
    );
    Outcome::Reply {
        dest: reply::response_destination(msg, source),
        status,
    }
}

/// A To tag that is the same for every retransmission of the request (a stateless element
/// must answer retransmissions identically, RFC 3261 §16.11): a hash of Call-ID, From tag and
/// top branch.
pub fn to_tag(msg: &Message<'_, '_>) -> TagText {
    TagText::hex(tag_hash(msg))
}

/// The To tag of the finals a server transaction generates itself (408, 487, 503, ...):
/// unlike [`to_tag`] of stateless replies, so that whichever worker an ACK lands on can tell
/// an ACK for a stateless reply (absorbed right there) from one the transaction's owner
/// must see.
pub fn txn_tag(msg: &Message<'_, '_>) -> TagText {
    TagText::hex(tag_hash(msg) ^ 0x7478_6e5f_7374_6174)
}

fn tag_hash(msg: &Message<'_, '_>) -> u64 {
    // Eight bytes per multiply (the fields are 10-60 bytes each); deterministic, so every
    // worker computes the same tag for the same request.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3);
            h ^= h >> 29;
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    };
    feed(msg.call_id().unwrap_or_default());
    feed(msg.from().and_then(|f| f.tag).unwrap_or_default());
    feed(msg.top_via().and_then(|v| v.branch).unwrap_or_default());
    h ^ (h >> 32)
}

pub struct TagText([u8; 16]);

impl TagText {
    fn hex(v: u64) -> Self {
        Self(proto::hex16(v))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A request that did not parse: answer from the raw header lines when the message has a Via
/// line to answer along, else drop. The reply goes back to the packet's source (the Via may be
/// the broken part).
pub fn reject_unparsed(
    ctx: &Context,
    data: &[u8],
    e: ParseError,
    source: SocketAddr,
    out: &mut Vec<u8>,
) -> Outcome {
    out.clear();
    let reason = match proto::check::verdict_of_error(data, e) {
        Verdict::Reject { status, reason } => (status, reason),
        Verdict::Drop { reason } => {
            return Outcome::Absorb {
                reason: Absorbed::Malformed(reason),
            }
        }
        Verdict::Accept => {
            return Outcome::Absorb {
                reason: Absorbed::Malformed(e.reason()),
            }
        }
    };
    if reply::write_raw_response(data, reason.0, reason.1, &ctx.server_line, out) {
        Outcome::Reply {
            dest: source,
            status: reason.0,
        }
    } else {
        out.clear();
        Outcome::Absorb {
            reason: Absorbed::Malformed(reason.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            limits: Limits::DEFAULT,
            local_hosts: vec![b"127.0.0.1".to_vec(), b"localhost".to_vec()],
            server_line: b"Server: sipedge-test".to_vec(),
        }
    }

    fn req(method: &str, ruri: &str, extra: &str) -> Vec<u8> {
        format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{method};rport\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: x@y\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn run(data: &[u8]) -> (Outcome, String) {
        let mut out = Vec::new();
        let o = handle(&ctx(), data, "127.0.0.1:5070".parse().unwrap(), &mut out);
        (o, String::from_utf8_lossy(&out).into_owned())
    }

    fn status(o: Outcome) -> Option<u16> {
        match o {
            Outcome::Reply { status, .. } => Some(status),
            Outcome::Absorb { .. } => None,
        }
    }

    #[test]
    fn options_to_us() {
        let (o, r) = run(&req("OPTIONS", "sip:127.0.0.1", ""));
        assert_eq!(status(o), Some(200));
        assert!(r.contains("\r\nAllow: INVITE"));
        assert!(r.contains("\r\nSupported: "));
        assert!(r.contains("rport=5070"));
        // Addressed to a user: not for us.
        let (o, _) = run(&req("OPTIONS", "sip:bob@127.0.0.1", ""));
        assert_eq!(status(o), Some(404));
    }

    #[test]
    fn statuses() {
        let (o, _) = run(&req("INVITE", "sip:404@127.0.0.1", "Max-Forwards: 0\r\n"));
        assert_eq!(status(o), Some(483));
        let (o, r) = run(&req("INVITE", "sip:404@127.0.0.1", "Max-Forwards: 70\r\n"));
        assert_eq!(status(o), Some(404));
        assert!(r.contains(";tag="));
        let (o, _) = run(&req("ACK", "sip:404@127.0.0.1", ""));
        assert_eq!(
            o,
            Outcome::Absorb {
                reason: Absorbed::Ack
            }
        );
        let (o, _) = run(b"\r\n\r\n");
        assert_eq!(
            o,
            Outcome::Absorb {
                reason: Absorbed::KeepAlive
            }
        );
        let (o, _) = run(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n");
        assert_eq!(
            o,
            Outcome::Absorb {
                reason: Absorbed::Response
            }
        );
    }

    #[test]
    fn same_tag_for_retransmissions() {
        let a = run(&req("INVITE", "sip:404@127.0.0.1", "")).1;
        let b = run(&req("INVITE", "sip:404@127.0.0.1", "")).1;
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_requests_get_the_reason() {
        let bad = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: z\r\nCSeq: 1 INVITE\r\n\r\n";
        let (o, r) = run(bad);
        assert_eq!(status(o), Some(400));
        assert!(r.starts_with("SIP/2.0 400 Malformed Via header\r\n"), "{r}");
        assert!(r.contains("Call-ID: z\r\n"));
        let (o, r) = run(b"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/7.0/UDP h\r\nCall-ID: v\r\n\r\n");
        assert_eq!(status(o), Some(505));
        assert!(r.starts_with("SIP/2.0 505 Version Not Supported\r\n"));
        // No Via at all: nothing to answer along.
        let (o, _) = run(b"GARBAGE\r\n\r\n");
        assert!(matches!(
            o,
            Outcome::Absorb {
                reason: Absorbed::Malformed(_)
            }
        ));
    }
}
