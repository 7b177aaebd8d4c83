//! Building the outgoing message from the received bytes plus a list of edits.
//!
//! A proxy changes little: one Via pushed, maybe a Route popped, a Record-Route added, the
//! Request-URI rewritten, Max-Forwards decremented. Reparsing or re-serialising the whole
//! message for that is wasted work, so an edit is a byte range of the original buffer and the
//! bytes that replace it (an insertion is an empty range). [`Edits::apply`] sorts them and
//! copies the message once, splicing the new bytes in. With no edits the output is the input.
//!
//! The bytes of all edits live in one arena owned by [`Edits`]; keep one `Edits` per worker
//! and `clear` it between messages, and the steady state allocates nothing.

use core::ops::Range;

use crate::header::HeaderKind;
use crate::message::{Header, Message};
use crate::scan::split_list;

/// A misuse of the edit API (never caused by input bytes alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditError {
    /// Two edits touch the same bytes.
    Overlap,
    /// An edit lies outside the message.
    OutOfRange,
    /// The header or value to remove does not exist.
    NotFound,
}

impl core::fmt::Display for EditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EditError::Overlap => "overlapping edits",
            EditError::OutOfRange => "edit outside the message",
            EditError::NotFound => "nothing to edit",
        })
    }
}

impl std::error::Error for EditError {}

#[derive(Debug, Clone, Copy)]
struct Op {
    start: usize,
    end: usize,
    data: (usize, usize),
    seq: usize,
}

/// A reusable list of byte edits against one buffer.
#[derive(Debug, Default, Clone)]
pub struct Edits {
    ops: Vec<Op>,
    arena: Vec<u8>,
}

impl Edits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget all edits, keeping the allocations.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.arena.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Replace `range` of the source with bytes written by `f` into the arena.
    pub fn replace_with(&mut self, range: Range<usize>, f: impl FnOnce(&mut Vec<u8>)) {
        let from = self.arena.len();
        f(&mut self.arena);
        let seq = self.ops.len();
        self.ops.push(Op {
            start: range.start,
            end: range.end.max(range.start),
            data: (from, self.arena.len()),
            seq,
        });
    }

    pub fn replace(&mut self, range: Range<usize>, bytes: &[u8]) {
        self.replace_with(range, |a| a.extend_from_slice(bytes));
    }

    pub fn insert(&mut self, at: usize, bytes: &[u8]) {
        self.replace(at..at, bytes);
    }

    pub fn delete(&mut self, range: Range<usize>) {
        self.replace(range, b"");
    }

    /// Write `src[window]` with the edits applied to `out` (appended). Every edit must lie
    /// inside `window`; insertions at one position keep the order they were added in.
    pub fn apply(
        &mut self,
        src: &[u8],
        window: Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), EditError> {
        if window.end > src.len() || window.start > window.end {
            return Err(EditError::OutOfRange);
        }
        // Insertions (empty ranges) sort before a replacement starting at the same offset.
        self.ops.sort_unstable_by_key(|o| (o.start, o.end, o.seq));
        let added: usize = self.ops.iter().map(|o| o.data.1 - o.data.0).sum();
        out.reserve(window.len() + added);
        let mut cursor = window.start;
        for op in &self.ops {
            if op.start < cursor {
                return Err(EditError::Overlap);
            }
            if op.end > window.end {
                return Err(EditError::OutOfRange);
            }
            out.extend_from_slice(src.get(cursor..op.start).ok_or(EditError::OutOfRange)?);
            out.extend_from_slice(
                self.arena
                    .get(op.data.0..op.data.1)
                    .ok_or(EditError::OutOfRange)?,
            );
            cursor = op.end;
        }
        out.extend_from_slice(src.get(cursor..window.end).ok_or(EditError::OutOfRange)?);
        Ok(())
    }
}

/// The proxy's edit operations on one parsed message.
pub struct Editor<'m, 'b, 'h> {
    msg: &'m Message<'b, 'h>,
    edits: &'m mut Edits,
    new_body_len: Option<usize>,
}

impl<'m, 'b, 'h> Editor<'m, 'b, 'h> {
    /// Start editing `msg`; `edits` is cleared.
    pub fn new(msg: &'m Message<'b, 'h>, edits: &'m mut Edits) -> Self {
        edits.clear();
        Self {
            msg,
            edits,
            new_body_len: None,
        }
    }

    /// Offset just before the empty line that ends the header section.
    fn headers_end(&self) -> usize {
        match self.msg.headers().last() {
            Some(h) => h.span.end as usize,
            None => {
                let end = self.msg.start_line_span().end as usize;
                match self.msg.buffer().get(end) {
                    Some(b'\r') => end + 2,
                    _ => end + 1,
                }
            }
        }
    }

    /// Offset where the first header starts (just after the start line).
    fn headers_start(&self) -> usize {
        match self.msg.headers().first() {
            Some(h) => h.span.start as usize,
            None => self.headers_end(),
        }
    }

    fn insert_header_at(&mut self, at: usize, name: &[u8], value: &[u8]) {
        self.edits.replace_with(at..at, |a| {
            a.extend_from_slice(name);
            a.extend_from_slice(b": ");
            a.extend_from_slice(value);
            a.extend_from_slice(b"\r\n");
        });
    }

    /// Replace the Request-URI.
    pub fn set_request_uri(&mut self, uri: &[u8]) {
        let span = self.msg.request_uri_span();
        if self.msg.is_request() {
            self.edits.replace(span.range(), uri);
        }
    }

    /// Add a Via value on top (as a new header line above the first Via).
    pub fn push_via(&mut self, value: &[u8]) {
        let at = self
            .msg
            .header(HeaderKind::Via)
            .map_or_else(|| self.headers_start(), |h| h.span.start as usize);
        self.insert_header_at(at, b"Via", value);
    }

    /// Remove the top Via value (responses going upstream).
    pub fn pop_via(&mut self) -> Result<(), EditError> {
        self.remove_first_value(HeaderKind::Via)
    }

    /// Remove the top Route value (loose routing, RFC 3261 §16.4).
    pub fn pop_route(&mut self) -> Result<(), EditError> {
        self.remove_first_value(HeaderKind::Route)
    }

    /// Remove the first `n` Route values, across header lines (a proxy that recorded two
    /// routes, one per listener, pops both).
    pub fn pop_routes(&mut self, n: usize) -> Result<(), EditError> {
        let msg = self.msg;
        let mut left = n;
        for h in msg.headers_of(HeaderKind::Route) {
            if left == 0 {
                break;
            }
            let count = split_list(h.value).count();
            if count <= left {
                self.edits.delete(h.span.range());
                left -= count;
            } else {
                let first = split_list(h.value).next().ok_or(EditError::NotFound)?;
                let keep = split_list(h.value).nth(left).ok_or(EditError::NotFound)?;
                let a = msg.offset_of(first).ok_or(EditError::OutOfRange)?;
                let b = msg.offset_of(keep).ok_or(EditError::OutOfRange)?;
                self.edits.delete(a.start..b.start);
                left = 0;
            }
        }
        if left > 0 {
            return Err(EditError::NotFound);
        }
        Ok(())
    }

    /// Remove the first value of the first header of `kind`: the whole line when it holds one
    /// value, else the value and its comma.
    pub fn remove_first_value(&mut self, kind: HeaderKind) -> Result<(), EditError> {
        let h = self.msg.header(kind).ok_or(EditError::NotFound)?;
        let mut items = split_list(h.value);
        let first = items.next().ok_or(EditError::NotFound)?;
        match items.next() {
            None => self.edits.delete(h.span.range()),
            Some(second) => {
                let a = self.msg.offset_of(first).ok_or(EditError::OutOfRange)?;
                let b = self.msg.offset_of(second).ok_or(EditError::OutOfRange)?;
                self.edits.delete(a.start..b.start);
            }
        }
        Ok(())
    }

    /// Add a Record-Route value on top of the Record-Route set.
    pub fn add_record_route(&mut self, value: &[u8]) {
        let at = self
            .msg
            .header(HeaderKind::RecordRoute)
            .map_or_else(|| self.headers_start(), |h| h.span.start as usize);
        self.insert_header_at(at, b"Record-Route", value);
    }

    /// Add a header at the end of the header section.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) {
        let at = self.headers_end();
        self.insert_header_at(at, name, value);
    }

    /// Add a header at the top of the header section.
    pub fn add_header_top(&mut self, name: &[u8], value: &[u8]) {
        let at = self.headers_start();
        self.insert_header_at(at, name, value);
    }

    /// Remove one header field (all its lines).
    pub fn remove_header(&mut self, h: &Header<'_>) {
        self.edits.delete(h.span.range());
    }

    /// Remove every header field of `kind`.
    pub fn remove_all(&mut self, kind: HeaderKind) {
        for h in self.msg.headers_of(kind) {
            self.edits.delete(h.span.range());
        }
    }

    /// Replace the value of one header field, keeping its name as written.
    pub fn replace_value(&mut self, h: &Header<'_>, value: &[u8]) -> Result<(), EditError> {
        let r = self.msg.offset_of(h.value).ok_or(EditError::OutOfRange)?;
        self.edits.replace(r, value);
        Ok(())
    }

    /// Set Max-Forwards, adding the header when absent.
    pub fn set_max_forwards(&mut self, n: u32) -> Result<(), EditError> {
        let mut buf = [0; 20];
        let num = crate::chars::decimal(u64::from(n), &mut buf);
        match self.msg.header(HeaderKind::MaxForwards) {
            Some(h) => self.replace_value(h, num)?,
            None => self.add_header(b"Max-Forwards", num),
        }
        Ok(())
    }

    /// Replace the body and its Content-Length (added when absent). Content-Type is the
    /// caller's business.
    pub fn set_body(&mut self, body: &[u8]) -> Result<(), EditError> {
        let mut buf = [0; 20];
        let len = crate::chars::decimal(body.len() as u64, &mut buf);
        match self.msg.header(HeaderKind::ContentLength) {
            Some(h) => self.replace_value(h, len)?,
            None => self.add_header(b"Content-Length", len),
        }
        let body_range = self.msg.head_end()..self.msg.range().end;
        self.edits.replace(body_range, body);
        self.new_body_len = Some(body.len());
        Ok(())
    }

    /// Write the edited message to `out` (appended).
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), EditError> {
        self.edits.apply(self.msg.buffer(), self.msg.range(), out)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn pop_routes_across_lines() {
        let m = b"BYE sip:a@b SIP/2.0\r\nRoute: <sip:p1;lr>, <sip:p2;lr>\r\nRoute: <sip:p3;lr>, <sip:p4;lr>\r\nContent-Length: 0\r\n\r\n";
        for (n, want) in [
            (
                1,
                "Route: <sip:p2;lr>\r\nRoute: <sip:p3;lr>, <sip:p4;lr>\r\n",
            ),
            (2, "Route: <sip:p3;lr>, <sip:p4;lr>\r\n"),
            (3, "Route: <sip:p4;lr>\r\n"),
        ] {
            let mut h = [crate::EMPTY_HEADER; 8];
            let msg = Message::parse(m, &mut h, &crate::Limits::DEFAULT).unwrap();
            let mut edits = Edits::new();
            let mut ed = Editor::new(&msg, &mut edits);
            ed.pop_routes(n).unwrap();
            let mut out = Vec::new();
            ed.finish(&mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(
                text,
                format!("BYE sip:a@b SIP/2.0\r\n{want}Content-Length: 0\r\n\r\n"),
                "{n}"
            );
        }
        let mut h = [crate::EMPTY_HEADER; 8];
        let msg = Message::parse(m, &mut h, &crate::Limits::DEFAULT).unwrap();
        let mut edits = Edits::new();
        assert!(Editor::new(&msg, &mut edits).pop_routes(5).is_err());
    }

    use super::*;
    use crate::message::{Limits, EMPTY_HEADER};

    const REQ: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.com>;tag=1\r\n\
To: <sip:bob@biloxi.com>\r\n\
Call-ID: abc\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 3\r\n\
\r\n\
v=0";

    fn edited(f: impl FnOnce(&mut Editor<'_, '_, '_>)) -> Vec<u8> {
        let mut h = [EMPTY_HEADER; 16];
        let msg = Message::parse(REQ, &mut h, &Limits::DEFAULT).unwrap();
        let mut edits = Edits::new();
        let mut ed = Editor::new(&msg, &mut edits);
        f(&mut ed);
        let mut out = Vec::new();
        ed.finish(&mut out).unwrap();
        out
    }

    fn reparse(out: &[u8], check: impl FnOnce(&Message<'_, '_>)) {
        let mut h = [EMPTY_HEADER; 16];
        let msg = Message::parse(out, &mut h, &Limits::DEFAULT)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)));
        check(&msg);
    }

    #[test]
    fn no_edits_is_identity() {
        assert_eq!(edited(|_| {}), REQ);
    }

    #[test]
    fn proxy_edits() {
        let out = edited(|ed| {
            ed.push_via(b"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnew");
            ed.pop_route().unwrap();
            ed.add_record_route(b"<sip:127.0.0.1:5060;lr>");
            ed.set_request_uri(b"sip:bob@192.0.2.4:5080");
            ed.set_max_forwards(69).unwrap();
        });
        reparse(&out, |m| {
            let hosts: Vec<_> = m.vias().map(|v| v.host.text).collect();
            assert_eq!(
                hosts,
                vec![&b"127.0.0.1"[..], b"a.example.com", b"b.example.com"]
            );
            assert_eq!(m.routes().count(), 0);
            let rr: Vec<_> = m.record_routes().map(|r| r.unwrap().uri.raw).collect();
            assert_eq!(rr, vec![&b"sip:127.0.0.1:5060;lr"[..]]);
            assert_eq!(m.request_uri().unwrap().port, Some(5080));
            assert_eq!(m.max_forwards(), Some(69));
            assert_eq!(m.body(), b"v=0");
        });
    }

    #[test]
    fn pop_via_from_a_list_and_a_line() {
        let out = edited(|ed| ed.pop_via().unwrap());
        reparse(&out, |m| {
            let hosts: Vec<_> = m.vias().map(|v| v.host.text).collect();
            assert_eq!(hosts, vec![&b"b.example.com"[..]]);
        });
        assert!(out.windows(24).any(|w| w == b"Via: SIP/2.0/UDP b.examp"));
    }

    #[test]
    fn body_and_headers() {
        let out = edited(|ed| {
            ed.set_body(b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n").unwrap();
            ed.add_header(b"X-Edge", b"1");
            ed.add_header_top(b"X-Top", b"2");
            ed.remove_all(HeaderKind::CallId);
        });
        reparse(&out, |m| {
            assert_eq!(m.body(), b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n");
            assert_eq!(m.content_length(), Some(31));
            assert_eq!(m.headers().first().unwrap().name, b"X-Top");
            assert_eq!(m.headers().last().unwrap().name, b"X-Edge");
            assert!(m.call_id().is_none());
        });
    }

    #[test]
    fn misuse_is_an_error() {
        let mut h = [EMPTY_HEADER; 16];
        let msg = Message::parse(REQ, &mut h, &Limits::DEFAULT).unwrap();
        let mut edits = Edits::new();
        let mut ed = Editor::new(&msg, &mut edits);
        assert_eq!(
            ed.remove_first_value(HeaderKind::RecordRoute),
            Err(EditError::NotFound)
        );
        let cl = msg.header(HeaderKind::ContentLength).unwrap();
        ed.remove_header(cl);
        ed.replace_value(cl, b"9").unwrap();
        let mut out = Vec::new();
        assert_eq!(ed.finish(&mut out), Err(EditError::Overlap));

        let mut e = Edits::new();
        e.insert(100, b"x");
        assert_eq!(e.apply(b"abc", 0..3, &mut out), Err(EditError::OutOfRange));
    }
}
