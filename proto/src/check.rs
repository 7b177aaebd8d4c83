//! The ingress verdict: parse, then the RFC 3261 sanity rules every message must pass before
//! sipedge routes it. The worker and `sipedge parse` both call [`verdict`], so an engineer
//! reproducing a rejection from a capture sees exactly what the proxy did.
//!
//! Requests that fail are answered (the status and reason come from here); responses that
//! fail are dropped, since nobody answers a response (RFC 4475 §3.1.2.19).

use crate::error::ParseError;
use crate::header::HeaderKind;
use crate::message::{Limits, Message, StartLine, EMPTY_HEADER};

/// What to do with a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Well-formed: route it.
    Accept,
    /// A request to answer statelessly with `status` and `reason`.
    Reject { status: u16, reason: &'static str },
    /// Discard silently (malformed responses, nothing recognisable).
    Drop { reason: &'static str },
}

/// Why a parsed message fails the sanity rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SanityError {
    MissingHeader(HeaderKind),
    DuplicateHeader(HeaderKind),
    ConflictingContentLength,
}

impl SanityError {
    pub fn reason(self) -> &'static str {
        match self {
            SanityError::MissingHeader(k) => match k {
                HeaderKind::Via => "Missing Via header",
                HeaderKind::From => "Missing From header",
                HeaderKind::To => "Missing To header",
                HeaderKind::CallId => "Missing Call-ID header",
                HeaderKind::CSeq => "Missing CSeq header",
                _ => "Missing mandatory header",
            },
            SanityError::DuplicateHeader(k) => match k {
                HeaderKind::From => "Duplicate From header",
                HeaderKind::To => "Duplicate To header",
                HeaderKind::CallId => "Duplicate Call-ID header",
                HeaderKind::CSeq => "Duplicate CSeq header",
                HeaderKind::MaxForwards => "Duplicate Max-Forwards header",
                HeaderKind::ContentLength => "Duplicate Content-Length header",
                HeaderKind::ContentType => "Duplicate Content-Type header",
                HeaderKind::Expires => "Duplicate Expires header",
                _ => "Duplicate single-instance header",
            },
            SanityError::ConflictingContentLength => "Conflicting Content-Length headers",
        }
    }
}

/// The mandatory headers of every request and response (RFC 3261 §8.1.1; Max-Forwards is
/// left out for RFC 2543 peers, RFC 4475 §3.4.1).
const MANDATORY: [HeaderKind; 5] = [
    HeaderKind::Via,
    HeaderKind::From,
    HeaderKind::To,
    HeaderKind::CallId,
    HeaderKind::CSeq,
];

/// Sanity rules on a parsed message.
pub fn sanity(msg: &Message<'_, '_>) -> Result<(), SanityError> {
    for kind in MANDATORY {
        if msg.header(kind).is_none() {
            return Err(SanityError::MissingHeader(kind));
        }
    }
    if let Some(kind) = msg.duplicated_single_headers().next() {
        if kind == HeaderKind::ContentLength {
            let first = msg.content_length();
            let differ = msg
                .headers_of(HeaderKind::ContentLength)
                .any(|h| crate::chars::parse_u32(h.value) != first);
            return Err(if differ {
                SanityError::ConflictingContentLength
            } else {
                SanityError::DuplicateHeader(kind)
            });
        }
        return Err(SanityError::DuplicateHeader(kind));
    }
    Ok(())
}

/// Whether a failed message looks like a response (to drop) or a request (to answer).
fn looks_like_response(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf.get(start..start + 4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

/// Parse `buf` with `limits` and apply the sanity rules.
pub fn verdict(buf: &[u8], limits: &Limits) -> Verdict {
    let mut slots = [EMPTY_HEADER; 256];
    match Message::parse(buf, &mut slots, limits) {
        Ok(msg) => verdict_of(&msg),
        Err(e) => verdict_of_error(buf, e),
    }
}

/// Verdict for a message that parsed.
pub fn verdict_of(msg: &Message<'_, '_>) -> Verdict {
    match sanity(msg) {
        Ok(()) => Verdict::Accept,
        Err(e) => match msg.start_line() {
            StartLine::Request { .. } => Verdict::Reject {
                status: 400,
                reason: e.reason(),
            },
            StartLine::Response { .. } => Verdict::Drop { reason: e.reason() },
        },
    }
}

/// Verdict for a parse error on `buf`.
pub fn verdict_of_error(buf: &[u8], e: ParseError) -> Verdict {
    if e == ParseError::Empty {
        return Verdict::Drop { reason: e.reason() };
    }
    if looks_like_response(buf) {
        Verdict::Drop { reason: e.reason() }
    } else {
        Verdict::Reject {
            status: e.status(),
            reason: e.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n";

    #[test]
    fn accept_and_reject() {
        assert_eq!(verdict(OK, &Limits::DEFAULT), Verdict::Accept);
        let missing = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert_eq!(
            verdict(missing, &Limits::DEFAULT),
            Verdict::Reject {
                status: 400,
                reason: "Missing From header"
            }
        );
        let v = verdict(b"OPTIONS sip:a@b SIP/3.0\r\n\r\n", &Limits::DEFAULT);
        assert_eq!(
            v,
            Verdict::Reject {
                status: 505,
                reason: "Version Not Supported"
            }
        );
        let v = verdict(b"SIP/2.0 999 x\r\n\r\n", &Limits::DEFAULT);
        assert!(matches!(v, Verdict::Drop { .. }));
        let big = Limits {
            max_message_size: 10,
            ..Limits::DEFAULT
        };
        assert_eq!(
            verdict(OK, &big),
            Verdict::Reject {
                status: 513,
                reason: "Message Too Large"
            }
        );
    }

    #[test]
    fn content_length_conflict_vs_duplicate() {
        let conflict = [&OK[..OK.len() - 2], b"Content-Length: 5\r\n\r\n"].concat();
        assert_eq!(
            verdict(&conflict, &Limits::DEFAULT),
            Verdict::Reject {
                status: 400,
                reason: "Conflicting Content-Length headers"
            }
        );
        let same = [&OK[..OK.len() - 2], b"Content-Length: 0\r\n\r\n"].concat();
        assert_eq!(
            verdict(&same, &Limits::DEFAULT),
            Verdict::Reject {
                status: 400,
                reason: "Duplicate Content-Length header"
            }
        );
    }
}
