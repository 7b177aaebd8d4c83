//! The message parser: start line, header index, eager typed core headers, body.
//!
//! `Message::parse` makes one pass over the bytes. Each header line is found with one
//! `memchr2` for CR/LF, its name is classified by [`HeaderKind::from_name`], and the header
//! goes into a slot of the caller's `headers` slice. The headers every hop needs (Via, From,
//! To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact) are parsed and validated right
//! away, so a message that parses is safe to route; everything else is parsed on demand
//! through the typed accessors.
//!
//! Lenient where it is harmless: a bare LF ends a line like CRLF does. Strict where it
//! matters: a CR that is not followed by LF, a header line without a colon, a continuation
//! line with nothing to continue, Content-Length beyond the datagram.

use core::ops::Range;

use crate::chars::{self, TOKEN};
use crate::error::{HeaderError, ParseError};
use crate::header::HeaderKind;
use crate::headers::addr::{self, AddrValues, Contact, ContactValues, NameAddr};
use crate::headers::simple::{self, CSeq, MediaType, Tokens};
use crate::headers::via::{self, Via, ViaValues};
use crate::headers::{Credentials, DigestFields};
use crate::method::Method;
use crate::uri::Uri;

/// Abuse limits. The defaults suit UDP and ordinary streams; every violation is a typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message (start line + headers + body), in bytes. Over it: 513.
    pub max_message_size: usize,
    /// Most header fields in one message.
    pub max_headers: usize,
    /// Longest single line (a folded header may span several lines of this size).
    pub max_line_len: usize,
    /// Largest header section (start line to the empty line).
    pub max_header_section: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_message_size: 65_535,
        max_headers: 128,
        max_line_len: 8_192,
        max_header_section: 32_768,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A header field as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    pub kind: HeaderKind,
    /// Name as written (compact or long, any case).
    pub name: &'b [u8],
    /// Value with surrounding whitespace trimmed; folded lines keep their CRLF inside.
    pub value: &'b [u8],
    /// Byte range of the whole field in the parsed buffer, from the name to after the final
    /// line break (the unit an edit removes or replaces).
    pub span: Span,
}

/// An empty header slot, for building the caller's header array.
pub const EMPTY_HEADER: Header<'static> = Header {
    kind: HeaderKind::Other,
    name: b"",
    value: b"",
    span: Span { start: 0, end: 0 },
};

/// A byte range in the parsed buffer (u32 keeps `Header` small; messages are < 4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        // Lengths are bounded by Limits, far below u32::MAX; saturate rather than wrap.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Request-Line or Status-Line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'b> {
    Request { method: Method<'b>, uri: Uri<'b> },
    Response { code: u16, reason: &'b [u8] },
}

/// A parsed message: views into the input buffer plus the header slots.
#[derive(Debug, Clone)]
pub struct Message<'b, 'h> {
    buf: &'b [u8],
    start: usize,
    end: usize,
    head_end: usize,
    line: StartLine<'b>,
    line_span: Span,
    uri_span: Span,
    headers: &'h [Header<'b>],
    first: [u16; HeaderKind::COUNT],
    dup_single: u128,
    top_via: Option<Via<'b>>,
    from: Option<NameAddr<'b>>,
    to: Option<NameAddr<'b>>,
    call_id: Option<&'b [u8]>,
    cseq: Option<CSeq<'b>>,
    max_forwards: Option<u32>,
    content_length: Option<u32>,
}

const NONE: u16 = u16::MAX;

impl<'b, 'h> Message<'b, 'h> {
    /// Parse one message from `buf` (a datagram, or a frame the stream framer cut).
    ///
    /// Leading CRLFs are skipped (RFC 3261 §7.5). Bytes after the body that Content-Length
    /// announces are ignored and are not part of the message (RFC 4475 dblreq). Without
    /// Content-Length the body runs to the end of `buf` (allowed on UDP, §18.3).
    #[inline]
    pub fn parse(
        buf: &'b [u8],
        slots: &'h mut [Header<'b>],
        limits: &Limits,
    ) -> Result<Message<'b, 'h>, ParseError> {
        // Filled where it is returned: a Message is about 1 KiB, and building it in a local
        // that is then moved into the result costs a copy.
        let mut out = Ok(Message {
            buf,
            start: 0,
            end: buf.len(),
            head_end: buf.len(),
            line: StartLine::Response {
                code: 0,
                reason: b"",
            },
            line_span: Span::default(),
            uri_span: Span::default(),
            headers: &[],
            first: [NONE; HeaderKind::COUNT],
            dup_single: 0,
            top_via: None,
            from: None,
            to: None,
            call_id: None,
            cseq: None,
            max_forwards: None,
            content_length: None,
        });
        if let Ok(msg) = &mut out {
            msg.fill(slots, limits)?;
        }
        out
    }

    /// The body of [`Message::parse`], on a message whose fields are all empty.
    #[inline]
    fn fill(&mut self, slots: &'h mut [Header<'b>], limits: &Limits) -> Result<(), ParseError> {
        let buf = self.buf;
        if buf.len() > limits.max_message_size {
            return Err(ParseError::MessageTooLarge);
        }
        let start = buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .ok_or(ParseError::Empty)?;

        // Start line.
        let (sl_end, mut pos) = line_end(buf, start)?.ok_or(ParseError::UnterminatedHeaders)?;
        let line = buf.get(start..sl_end).unwrap_or_default();
        if line.len() > limits.max_line_len {
            return Err(ParseError::LineTooLong);
        }
        let uri_range = parse_start_line(line, &mut self.line)?;
        self.start = start;
        self.line_span = Span::new(start, sl_end);
        self.uri_span = Span::new(start + uri_range.start, start + uri_range.end);
        let msg = self;

        let max_headers = limits
            .max_headers
            .min(slots.len())
            .min(usize::from(NONE - 1));
        let mut n = 0usize;
        loop {
            if pos - start > limits.max_header_section {
                return Err(ParseError::HeaderSectionTooLarge);
            }
            let (mut content_end, mut next) =
                line_end(buf, pos)?.ok_or(ParseError::UnterminatedHeaders)?;
            if content_end == pos {
                msg.head_end = next;
                break;
            }
            if content_end - pos > limits.max_line_len {
                return Err(ParseError::LineTooLong);
            }
            let line = buf.get(pos..content_end).unwrap_or_default();
            if matches!(line.first(), Some(b' ' | b'\t')) {
                return Err(ParseError::BadFolding);
            }
            let name_len = chars::run(&TOKEN, line);
            let name = line.get(..name_len).unwrap_or_default();
            let after = line.get(name_len..).unwrap_or_default();
            let colon = after.iter().position(|&b| b != b' ' && b != b'\t');
            if name.is_empty() || colon.and_then(|c| after.get(c)) != Some(&b':') {
                return Err(ParseError::BadHeaderLine);
            }
            let value_start = pos + name_len + colon.unwrap_or(0) + 1;
            // Continuation lines (folding) belong to this header.
            while matches!(buf.get(next), Some(b' ' | b'\t')) {
                let (ce, nx) = line_end(buf, next)?.ok_or(ParseError::UnterminatedHeaders)?;
                if ce - next > limits.max_line_len {
                    return Err(ParseError::LineTooLong);
                }
                content_end = ce;
                next = nx;
            }
            let value = chars::trim(buf.get(value_start..content_end).unwrap_or_default());
            let kind = HeaderKind::from_name(name);
            let slot = match slots.get_mut(n) {
                Some(slot) if n < max_headers => slot,
                _ => return Err(ParseError::TooManyHeaders),
            };
            *slot = Header {
                kind,
                name,
                value,
                span: Span::new(pos, next),
            };
            let k = kind as usize;
            if kind != HeaderKind::Other {
                match msg.first.get_mut(k) {
                    Some(f) if *f == NONE => {
                        *f = u16::try_from(n).unwrap_or(NONE);
                        msg.eager(kind, value)?;
                    }
                    Some(_) => {
                        if kind.is_single() {
                            msg.dup_single |= 1u128 << k;
                        }
                        msg.eager_repeat(kind, value)?;
                    }
                    None => {}
                }
            }
            n += 1;
            pos = next;
        }

        // Body.
        let avail = buf.len() - msg.head_end;
        if let Some(cl) = msg.content_length {
            let cl = cl as usize;
            if cl > avail {
                return Err(ParseError::BodyTruncated);
            }
            msg.end = msg.head_end + cl;
        }
        if let (StartLine::Request { method, .. }, Some(cseq)) = (msg.line, msg.cseq) {
            if method != cseq.method {
                return Err(ParseError::CSeqMethodMismatch);
            }
        }
        let (filled, _) = slots.split_at_mut(n.min(slots.len()));
        msg.headers = filled;
        Ok(())
    }

    /// Typed parse of the first occurrence of a core header.
    fn eager(&mut self, kind: HeaderKind, value: &'b [u8]) -> Result<(), ParseError> {
        match kind {
            HeaderKind::Via => {
                let top = self.top_via.insert(Via::EMPTY);
                match via::validate_list(value, top) {
                    Some(n) if n > 0 => {}
                    _ => return Err(HeaderError::Via.into()),
                }
            }
            // Parsed in place: a NameAddr is 208 bytes, not worth returning and copying.
            HeaderKind::From => {
                let na = self.from.insert(NameAddr::EMPTY);
                addr::parse_single_into(value, na).ok_or(HeaderError::From)?;
            }
            HeaderKind::To => {
                let na = self.to.insert(NameAddr::EMPTY);
                addr::parse_single_into(value, na).ok_or(HeaderError::To)?;
            }
            HeaderKind::CallId => {
                if !simple::valid_call_id(value) {
                    return Err(HeaderError::CallId.into());
                }
                self.call_id = Some(value);
            }
            HeaderKind::CSeq => self.cseq = Some(CSeq::parse(value).ok_or(HeaderError::CSeq)?),
            HeaderKind::MaxForwards => {
                self.max_forwards =
                    Some(simple::parse_number(value).ok_or(HeaderError::MaxForwards)?);
            }
            HeaderKind::ContentLength => {
                self.content_length =
                    Some(simple::parse_number(value).ok_or(HeaderError::ContentLength)?);
            }
            HeaderKind::Contact => validate_contacts(value)?,
            _ => {}
        }
        Ok(())
    }

    /// Later occurrences of core headers: list headers are validated, single ones are only
    /// marked as duplicates (the sanity check answers them), except that a broken second
    /// Content-Length is still an error (RFC 4475 ncl: never use it as a number).
    fn eager_repeat(&mut self, kind: HeaderKind, value: &'b [u8]) -> Result<(), ParseError> {
        match kind {
            HeaderKind::Via => {
                let mut scratch = Via::EMPTY;
                via::validate_list(value, &mut scratch).ok_or(HeaderError::Via)?;
            }
            HeaderKind::Contact => validate_contacts(value)?,
            HeaderKind::ContentLength => {
                simple::parse_number(value).ok_or(HeaderError::ContentLength)?;
            }
            _ => {}
        }
        Ok(())
    }

    // ----- whole message -------------------------------------------------------------------

    /// The buffer given to `parse` (the message is `as_bytes()`, a part of it).
    pub fn buffer(&self) -> &'b [u8] {
        self.buf
    }

    /// The message bytes: start line to the end of the body (no leading CRLF, no trailing
    /// octets past Content-Length).
    pub fn as_bytes(&self) -> &'b [u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Range of the message inside `buffer()`.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Offset where the body starts in `buffer()` (just after the empty line).
    pub fn head_end(&self) -> usize {
        self.head_end
    }

    pub fn body(&self) -> &'b [u8] {
        self.buf.get(self.head_end..self.end).unwrap_or_default()
    }

    /// Where `part` (a slice this message handed out) lies in `buffer()`.
    pub fn offset_of(&self, part: &[u8]) -> Option<Range<usize>> {
        let base = self.buf.as_ptr() as usize;
        let at = (part.as_ptr() as usize).checked_sub(base)?;
        let end = at.checked_add(part.len())?;
        (end <= self.buf.len()).then_some(at..end)
    }

    // ----- start line ----------------------------------------------------------------------

    pub fn start_line(&self) -> &StartLine<'b> {
        &self.line
    }

    /// Span of the start line (without its line break).
    pub fn start_line_span(&self) -> Span {
        self.line_span
    }

    pub fn is_request(&self) -> bool {
        matches!(self.line, StartLine::Request { .. })
    }

    pub fn method(&self) -> Option<Method<'b>> {
        match self.line {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn request_uri(&self) -> Option<&Uri<'b>> {
        match &self.line {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// Span of the Request-URI (empty for responses).
    pub fn request_uri_span(&self) -> Span {
        self.uri_span
    }

    pub fn status(&self) -> Option<u16> {
        match self.line {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&'b [u8]> {
        match self.line {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    // ----- header index --------------------------------------------------------------------

    /// All header fields in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// First header field of `kind`, in O(1).
    pub fn header(&self, kind: HeaderKind) -> Option<&'h Header<'b>> {
        let i = *self.first.get(kind as usize)?;
        if i == NONE {
            return None;
        }
        self.headers.get(usize::from(i))
    }

    /// Every header field of `kind`, in order.
    pub fn headers_of(&self, kind: HeaderKind) -> impl Iterator<Item = &'h Header<'b>> + 'h {
        let from = match self.first.get(kind as usize) {
            Some(&i) if i != NONE => usize::from(i),
            _ => self.headers.len(),
        };
        self.headers
            .get(from..)
            .unwrap_or_default()
            .iter()
            .filter(move |h| h.kind == kind)
    }

    /// Header fields by name (case-insensitive; for extension headers).
    pub fn headers_named<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'h Header<'b>> + 'n
    where
        'h: 'n,
    {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    /// Single-instance header kinds (From, To, Call-ID, CSeq, ...) that appear more than once.
    pub fn duplicated_single_headers(&self) -> impl Iterator<Item = HeaderKind> + '_ {
        let bits = self.dup_single;
        // Nearly always none: then the walk over every kind (400 instructions) is skipped.
        let kinds: &'static [HeaderKind] = if bits == 0 { &[] } else { &HeaderKind::KNOWN };
        kinds
            .iter()
            .copied()
            .filter(move |&k| bits & (1u128 << (k as usize)) != 0)
    }

    // ----- core headers (parsed eagerly) -------------------------------------------------

    /// The first Via value.
    pub fn top_via(&self) -> Option<&Via<'b>> {
        self.top_via.as_ref()
    }

    /// Every Via value across all Via fields, top first.
    pub fn vias(&self) -> impl Iterator<Item = Via<'b>> + 'h {
        // Every Via was validated during parse, so errors cannot occur here.
        self.headers_of(HeaderKind::Via)
            .flat_map(|h| ViaValues::new(h.value).filter_map(Result::ok))
    }

    pub fn from(&self) -> Option<&NameAddr<'b>> {
        self.from.as_ref()
    }

    pub fn to(&self) -> Option<&NameAddr<'b>> {
        self.to.as_ref()
    }

    pub fn call_id(&self) -> Option<&'b [u8]> {
        self.call_id
    }

    pub fn cseq(&self) -> Option<&CSeq<'b>> {
        self.cseq.as_ref()
    }

    pub fn max_forwards(&self) -> Option<u32> {
        self.max_forwards
    }

    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// Every Contact value across all Contact fields (validated during parse).
    pub fn contacts(&self) -> impl Iterator<Item = Contact<'b>> + 'h {
        self.headers_of(HeaderKind::Contact)
            .flat_map(|h| ContactValues::new(h.value).filter_map(Result::ok))
    }

    // ----- lazily parsed headers -----------------------------------------------------------

    /// Route values, top first; an error for the first malformed one.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, HeaderError>> + 'h {
        self.headers_of(HeaderKind::Route)
            .flat_map(|h| AddrValues::new(h.value, HeaderError::Route))
    }

    /// Record-Route values, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, HeaderError>> + 'h {
        self.headers_of(HeaderKind::RecordRoute)
            .flat_map(|h| AddrValues::new(h.value, HeaderError::RecordRoute))
    }

    /// Expires header value (saturating; malformed is an error).
    pub fn expires(&self) -> Option<Result<u32, HeaderError>> {
        let h = self.header(HeaderKind::Expires)?;
        Some(simple::parse_expires(h.value).ok_or(HeaderError::Expires))
    }

    pub fn content_type(&self) -> Option<Result<MediaType<'b>, HeaderError>> {
        let h = self.header(HeaderKind::ContentType)?;
        Some(MediaType::parse(h.value).ok_or(HeaderError::ContentType))
    }

    /// Credentials of every field of `kind` (Authorization or Proxy-Authorization) or
    /// challenges (WWW-Authenticate, Proxy-Authenticate).
    pub fn credentials(
        &self,
        kind: HeaderKind,
    ) -> impl Iterator<Item = Result<Credentials<'b>, HeaderError>> + 'h {
        let err = credentials_error(kind);
        self.headers_of(kind)
            .map(move |h| Credentials::parse(h.value).ok_or(err))
    }

    /// [`Message::credentials`] with each one's Digest parameters, from one walk of it.
    pub fn digest_credentials(
        &self,
        kind: HeaderKind,
    ) -> impl Iterator<Item = Result<(Credentials<'b>, DigestFields<'b>), HeaderError>> + 'h {
        let err = credentials_error(kind);
        self.headers_of(kind)
            .map(move |h| Credentials::parse_fields(h.value).ok_or(err))
    }

    /// Option tags of every field of `kind` (Require, Proxy-Require, Supported, Unsupported,
    /// Allow).
    pub fn tokens(&self, kind: HeaderKind) -> impl Iterator<Item = &'b [u8]> + 'h {
        self.headers_of(kind).flat_map(|h| Tokens::new(h.value))
    }

    pub fn user_agent(&self) -> Option<&'b [u8]> {
        self.header(HeaderKind::UserAgent).map(|h| h.value)
    }
}

/// Every Contact value must parse; `*` must stand alone (what [`ContactValues`] yields).
fn validate_contacts(value: &[u8]) -> Result<(), ParseError> {
    if chars::trim(value) == b"*" {
        return Ok(());
    }
    match addr::validate_list(value) {
        Some(n) if n > 0 => Ok(()),
        _ => Err(HeaderError::Contact.into()),
    }
}

/// Find the end of the line starting at `from`: `(content_end, next_line_start)`. `None` when
/// the buffer ends first. A CR must be followed by LF; a bare LF is accepted.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Result<Option<(usize, usize)>, ParseError> {
    let rest = buf.get(from..).unwrap_or_default();
    match memchr::memchr2(b'\r', b'\n', rest) {
        None => Ok(None),
        Some(i) => {
            let at = from + i;
            if buf.get(at) == Some(&b'\n') {
                Ok(Some((at, at + 1)))
            } else {
                match buf.get(at + 1) {
                    Some(b'\n') => Ok(Some((at, at + 2))),
                    Some(_) => Err(ParseError::BareCr),
                    None => Ok(None),
                }
            }
        }
    }
}

/// Parse the start line into `out`; returns the Request-URI range within `line`. The URI is
/// parsed in place, inside `out`.
fn parse_start_line<'b>(
    line: &'b [u8],
    out: &mut StartLine<'b>,
) -> Result<Range<usize>, ParseError> {
    if line.len() >= 4
        && line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        *out = parse_status_line(line)?;
        return Ok(0..0);
    }
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::BadRequestLine)?;
    let method = line.get(..sp1).unwrap_or_default();
    if !chars::all(&TOKEN, method) {
        return Err(ParseError::BadMethod);
    }
    let rest = line.get(sp1 + 1..).unwrap_or_default();
    let sp2 = memchr::memrchr(b' ', rest).ok_or(ParseError::BadRequestLine)?;
    let uri_txt = rest.get(..sp2).unwrap_or_default();
    let version = rest.get(sp2 + 1..).unwrap_or_default();
    check_version(version)?;
    // Single spaces only (RFC 4475 lwsstart, lwsruri, trws).
    if uri_txt.is_empty() || uri_txt.contains(&b' ') || uri_txt.contains(&b'\t') {
        return Err(ParseError::BadRequestLine);
    }
    *out = StartLine::Request {
        method: Method::from_token(method),
        uri: Uri::EMPTY,
    };
    let StartLine::Request { uri, .. } = out else {
        return Err(ParseError::BadRequestUri);
    };
    if !uri.parse_into(uri_txt) {
        return Err(ParseError::BadRequestUri);
    }
    // URI headers are not allowed in a Request-URI (RFC 3261 §19.1.1; RFC 4475 escruri).
    if !uri.headers.is_empty() {
        return Err(ParseError::BadRequestUri);
    }
    let uri_start = sp1 + 1;
    Ok(uri_start..uri_start + uri_txt.len())
}

fn parse_status_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    let sp = memchr::memchr(b' ', line).ok_or(ParseError::BadStatusLine)?;
    check_version(line.get(..sp).unwrap_or_default())?;
    let rest = line.get(sp + 1..).unwrap_or_default();
    let code_txt = rest.get(..3).ok_or(ParseError::BadStatusLine)?;
    let after = rest.get(3..).unwrap_or_default();
    if !code_txt.iter().all(u8::is_ascii_digit) || after.first().is_some_and(|&b| b != b' ') {
        return Err(ParseError::BadStatusCode);
    }
    let code = code_txt
        .iter()
        .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&code) {
        return Err(ParseError::BadStatusCode);
    }
    Ok(StartLine::Response {
        code,
        reason: after.get(1..).unwrap_or_default(),
    })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported.
fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v.get(4..).is_some_and(|num| {
            let mut parts = num.split(|&b| b == b'.');
            let ok = |p: Option<&[u8]>| {
                p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
            };
            ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
        });
    Err(if well_formed {
        ParseError::VersionNotSupported
    } else {
        ParseError::BadVersion
    })
}

/// The error of a malformed credentials (Authorization) or challenge (WWW-Authenticate) field.
fn credentials_error(kind: HeaderKind) -> HeaderError {
    match kind {
        HeaderKind::WwwAuthenticate | HeaderKind::ProxyAuthenticate => HeaderError::Challenge,
        _ => HeaderError::Authorization,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn parse(b: &[u8]) -> Result<(), ParseError> {
        let mut h = [EMPTY_HEADER; 64];
        Message::parse(b, &mut h, &Limits::DEFAULT).map(|_| ())
    }

    #[test]
    fn request() {
        let mut h = [EMPTY_HEADER; 32];
        let m = Message::parse(INVITE, &mut h, &Limits::DEFAULT).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.request_uri().unwrap().host.text, b"biloxi.com");
        assert_eq!(&INVITE[m.request_uri_span().range()], b"sip:bob@biloxi.com");
        assert_eq!(m.headers().len(), 9);
        assert_eq!(m.top_via().unwrap().branch, Some(&b"z9hG4bK776asdhds"[..]));
        assert_eq!(m.from().unwrap().tag, Some(&b"1928301774"[..]));
        assert_eq!(m.to().unwrap().tag, None);
        assert_eq!(m.call_id(), Some(&b"a84b4c76e66710@pc33.atlanta.com"[..]));
        assert_eq!(m.cseq().unwrap().seq, 314159);
        assert_eq!(m.max_forwards(), Some(70));
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.as_bytes(), INVITE);
        assert!(m
            .content_type()
            .unwrap()
            .unwrap()
            .is(b"application", b"sdp"));
        let cl = m.header(HeaderKind::ContentLength).unwrap();
        assert_eq!(&INVITE[cl.span.range()], b"Content-Length: 4\r\n");
        assert_eq!(
            m.offset_of(cl.value),
            Some(cl.span.range().start + 16..cl.span.range().start + 17)
        );
        assert_eq!(m.duplicated_single_headers().count(), 0);
    }

    #[test]
    fn response() {
        let r = b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP a.b;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let mut h = [EMPTY_HEADER; 8];
        let m = Message::parse(r, &mut h, &Limits::DEFAULT).unwrap();
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.reason(), Some(&b"Ringing"[..]));
        assert!(!m.is_request());
    }

    #[test]
    fn start_line_errors() {
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n"),
            Err(ParseError::VersionNotSupported)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0 \r\n\r\n"),
            Err(ParseError::BadVersion)
        );
        assert_eq!(
            parse(b"OPTIONS  sip:a@b SIP/2.0\r\n\r\n"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b\r\n\r\n"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            parse(b"OPT(IONS sip:a@b SIP/2.0\r\n\r\n"),
            Err(ParseError::BadMethod)
        );
        assert_eq!(
            parse(b"OPTIONS <sip:a@b> SIP/2.0\r\n\r\n"),
            Err(ParseError::BadRequestUri)
        );
        assert_eq!(
            parse(b"SIP/2.0 4294967301 x\r\n\r\n"),
            Err(ParseError::BadStatusCode)
        );
        assert_eq!(
            parse(b"SIP/2.0 099 x\r\n\r\n"),
            Err(ParseError::BadStatusCode)
        );
        assert_eq!(parse(b"SIP/2.0 100 \r\n\r\n"), Ok(()));
        assert_eq!(parse(b"SIP/2.0 100\r\n\r\n"), Ok(()));
        assert_eq!(parse(b"\r\n\r\n"), Err(ParseError::Empty));
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0"),
            Err(ParseError::UnterminatedHeaders)
        );
    }

    #[test]
    fn header_line_errors() {
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nFoo bar\r\n\r\n"),
            Err(ParseError::BadHeaderLine)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\n: bar\r\n\r\n"),
            Err(ParseError::BadHeaderLine)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n"),
            Err(ParseError::BadFolding)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nA: b\rc\r\n\r\n"),
            Err(ParseError::BareCr)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nA: b\r\n"),
            Err(ParseError::UnterminatedHeaders)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nshort"),
            Err(ParseError::BodyTruncated)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n"),
            Err(ParseError::CSeqMethodMismatch)
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"),
            Err(ParseError::BadHeader(HeaderError::ContentLength))
        );
    }

    #[test]
    fn limits() {
        let small = Limits {
            max_message_size: 64,
            max_headers: 2,
            max_line_len: 40,
            max_header_section: 60,
        };
        let mut h = [EMPTY_HEADER; 8];
        let big = [b'x'; 65];
        assert_eq!(
            Message::parse(&big, &mut h, &small).err(),
            Some(ParseError::MessageTooLarge)
        );
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            Message::parse(m, &mut h, &small).err(),
            Some(ParseError::TooManyHeaders)
        );
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nA: 1234567890123456789012345678901234567890\r\n\r\n";
        let long_ok = Limits {
            max_message_size: 100,
            ..small
        };
        assert_eq!(
            Message::parse(m, &mut h, &long_ok).err(),
            Some(ParseError::LineTooLong)
        );
        // The caller's slot array bounds the header count too.
        let mut one = [EMPTY_HEADER; 1];
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(
            Message::parse(m, &mut one, &Limits::DEFAULT).err(),
            Some(ParseError::TooManyHeaders)
        );
    }

    #[test]
    fn bare_lf_and_leading_crlf() {
        let m = b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nl: 0\n\n";
        let mut h = [EMPTY_HEADER; 8];
        let msg = Message::parse(m, &mut h, &Limits::DEFAULT).unwrap();
        assert_eq!(msg.range(), 4..m.len());
        assert_eq!(msg.content_length(), Some(0));
    }

    #[test]
    fn duplicates_are_indexed() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: a\r\nv: SIP/2.0/UDP h1, SIP/2.0/UDP h2\r\ni: b\r\nVia: SIP/2.0/TCP h3\r\n\r\n";
        let mut h = [EMPTY_HEADER; 8];
        let msg = Message::parse(m, &mut h, &Limits::DEFAULT).unwrap();
        assert_eq!(msg.call_id(), Some(&b"a"[..]));
        assert_eq!(
            msg.duplicated_single_headers().collect::<Vec<_>>(),
            vec![HeaderKind::CallId]
        );
        let hosts: Vec<_> = msg.vias().map(|v| v.host.text).collect();
        assert_eq!(hosts, vec![&b"h1"[..], b"h2", b"h3"]);
        assert_eq!(msg.headers_of(HeaderKind::Via).count(), 2);
    }
}
