//! Cutting SIP messages out of a byte stream (TCP, TLS, WebSocket payloads reassembled).
//!
//! On a stream, Content-Length is the only message boundary (RFC 3261 §18.3), so it is
//! mandatory there, and a missing, malformed or conflicting value loses the framing: the
//! connection must be closed. CRLFs between messages are keep-alives (RFC 5626 §3.5.1): a
//! double CRLF is a ping that wants a single CRLF back, a single CRLF is a pong.
//!
//! The framer is sans-IO: the transport pushes whatever bytes arrived and pulls frames until
//! `Ok(None)`. It remembers how far it searched for the end of the header section, so a
//! message trickling in byte by byte is scanned once, not once per byte.

use crate::message::Limits;

/// One unit cut from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message: parse it with [`crate::Message::parse`].
    Message(&'a [u8]),
    /// `CRLF CRLF`: answer with one CRLF.
    Ping,
    /// A single `CRLF`.
    Pong,
}

/// The stream cannot be framed any further; close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// No empty line within `Limits::max_header_section` bytes.
    HeaderSectionTooLarge,
    /// Header section plus Content-Length exceeds `Limits::max_message_size`.
    MessageTooLarge,
    /// No Content-Length header (mandatory on streams).
    MissingContentLength,
    /// Content-Length is not a number that fits in 32 bits.
    BadContentLength,
    /// Several Content-Length headers with different values.
    ConflictingContentLength,
}

impl FrameError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::HeaderSectionTooLarge => "Header section too large",
            Self::MessageTooLarge => "Message Too Large",
            Self::MissingContentLength => "Missing Content-Length on stream",
            Self::BadContentLength => "Malformed Content-Length header",
            Self::ConflictingContentLength => "Conflicting Content-Length headers",
        }
    }

    /// Status code to send before closing, when the message was a request.
    pub fn status(self) -> u16 {
        match self {
            Self::MessageTooLarge | Self::HeaderSectionTooLarge => 513,
            _ => 400,
        }
    }
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for FrameError {}

/// Reassembly buffer for one connection.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Start of the frame being assembled.
    start: usize,
    /// Where the search for the header terminator resumes.
    scan: usize,
    /// Total length of the current message once its header section is known.
    need: Option<usize>,
    limits: Limits,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            scan: 0,
            need: None,
            limits,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            // Drop what was already handed out before growing.
            self.buf.drain(..self.start);
            self.scan -= self.start.min(self.scan);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FrameError> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        if self.need.is_none() {
            // Between messages: keep-alives.
            match pending {
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    self.consume(4);
                    return Ok(Some(Frame::Ping));
                }
                [b'\r', b'\n', b'\r'] | [b'\r', b'\n'] | [b'\r'] | [] => return Ok(None),
                [b'\r', b'\n', ..] => {
                    self.consume(2);
                    return Ok(Some(Frame::Pong));
                }
                [b'\n', ..] => {
                    // Bare LF between messages: tolerated and ignored.
                    self.consume(1);
                    return self.next_frame();
                }
                _ => {}
            }
            let Some(head_len) = self.find_head_end() else {
                if self.buffered() > self.limits.max_header_section {
                    return Err(FrameError::HeaderSectionTooLarge);
                }
                return Ok(None);
            };
            if head_len > self.limits.max_header_section {
                return Err(FrameError::HeaderSectionTooLarge);
            }
            let head = self
                .buf
                .get(self.start..self.start + head_len)
                .unwrap_or_default();
            let cl = content_length(head)?.ok_or(FrameError::MissingContentLength)?;
            let total = head_len
                .checked_add(cl as usize)
                .filter(|&t| t <= self.limits.max_message_size)
                .ok_or(FrameError::MessageTooLarge)?;
            self.need = Some(total);
        }
        match self.need {
            Some(total) if self.buffered() >= total => {
                let at = self.start;
                self.consume(total);
                Ok(self.buf.get(at..at + total).map(Frame::Message))
            }
            _ => Ok(None),
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.scan = self.start;
        self.need = None;
    }

    /// Length of the header section (through the empty line) if it is complete.
    fn find_head_end(&mut self) -> Option<usize> {
        let mut i = self.scan.max(self.start);
        loop {
            let lf = i + memchr::memchr(b'\n', self.buf.get(i..)?)?;
            match (self.buf.get(lf + 1), self.buf.get(lf + 2)) {
                (Some(b'\n'), _) => return Some(lf + 2 - self.start),
                (Some(b'\r'), Some(b'\n')) => return Some(lf + 3 - self.start),
                (None, _) | (Some(b'\r'), None) => {
                    // Cannot tell yet; resume here when more bytes arrive.
                    self.scan = lf;
                    return None;
                }
                _ => i = lf + 1,
            }
        }
    }
}

/// Content-Length of a complete header section, scanning names only (no full parse).
fn content_length(head: &[u8]) -> Result<Option<u32>, FrameError> {
    let mut found: Option<u32> = None;
    let mut lines = head.split(|&b| b == b'\n').peekable();
    // Skip the start line.
    lines.next();
    while let Some(line) = lines.next() {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue; // continuation of some other header
        }
        let name_end = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        let name = crate::chars::trim(line.get(..name_end).unwrap_or_default());
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let mut value = crate::chars::trim(line.get(name_end + 1..).unwrap_or_default());
        // A folded Content-Length ("l:\r\n 42") continues on the next line.
        if value.is_empty() {
            if let Some(next) = lines.next_if(|l| matches!(l.first(), Some(b' ' | b'\t'))) {
                value = crate::chars::trim(next);
            }
        }
        let v = crate::chars::parse_u32(value).ok_or(FrameError::BadContentLength)?;
        match found {
            Some(prev) if prev != v => return Err(FrameError::ConflictingContentLength),
            _ => found = Some(v),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello";
    const M2: &[u8] = b"BYE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";

    fn collect(f: &mut StreamFramer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().unwrap() {
            out.push(match fr {
                Frame::Message(m) => m.to_vec(),
                Frame::Ping => b"PING".to_vec(),
                Frame::Pong => b"PONG".to_vec(),
            });
        }
        out
    }

    #[test]
    fn pipelined_and_keepalives() {
        let mut f = StreamFramer::new(Limits::DEFAULT);
        let mut all = Vec::new();
        all.extend_from_slice(b"\r\n\r\n");
        all.extend_from_slice(M1);
        all.extend_from_slice(b"\r\n");
        all.extend_from_slice(M2);
        f.push(&all);
        assert_eq!(
            collect(&mut f),
            vec![b"PING".to_vec(), M1.to_vec(), b"PONG".to_vec(), M2.to_vec()]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn byte_by_byte() {
        let mut f = StreamFramer::new(Limits::DEFAULT);
        let mut got = Vec::new();
        for &b in M1.iter().chain(M2) {
            f.push(&[b]);
            got.extend(collect(&mut f));
        }
        assert_eq!(got, vec![M1.to_vec(), M2.to_vec()]);
    }

    #[test]
    fn errors() {
        let mut f = StreamFramer::new(Limits::DEFAULT);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::MissingContentLength));

        let mut f = StreamFramer::new(Limits::DEFAULT);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 13\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::ConflictingContentLength));

        let mut f = StreamFramer::new(Limits::DEFAULT);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));

        let mut f = StreamFramer::new(Limits::DEFAULT);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4000000000\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::MessageTooLarge));

        let small = Limits {
            max_header_section: 32,
            ..Limits::DEFAULT
        };
        let mut f = StreamFramer::new(small);
        f.push(&[b'A'; 33]);
        assert_eq!(f.next_frame(), Err(FrameError::HeaderSectionTooLarge));
    }

    #[test]
    fn waits_for_body_and_split_terminator() {
        let mut f = StreamFramer::new(Limits::DEFAULT);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r");
        assert_eq!(f.next_frame(), Ok(None));
        f.push(b"\nhel");
        assert_eq!(f.next_frame(), Ok(None));
        f.push(b"lo");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Message(M1))));
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(None), "a lone CRLF may be half a ping");
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
    }
}
