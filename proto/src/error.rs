//! Parse errors: one small `Copy` enum, a static reason per variant.
//!
//! The reason strings go out verbatim as the reason phrase of a `400` (or `505`, `513`), so
//! they are short, ASCII and never contain input bytes. The error path never allocates.

use core::fmt;

/// Why a message was refused by the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but whitespace.
    Empty,
    /// More bytes than `Limits::max_message_size`.
    MessageTooLarge,
    /// A single line longer than `Limits::max_line_len`.
    LineTooLong,
    /// More header fields than `Limits::max_headers`.
    TooManyHeaders,
    /// Header section longer than `Limits::max_header_section`.
    HeaderSectionTooLarge,
    /// The header section never ends with an empty line.
    UnterminatedHeaders,
    /// A CR not followed by LF.
    BareCr,
    /// Request-Line is not `Method SP Request-URI SP SIP-Version`.
    BadRequestLine,
    /// The method is not a token.
    BadMethod,
    /// The Request-URI does not parse, or carries URI headers.
    BadRequestUri,
    /// A well-formed SIP version other than 2.0 (answer 505).
    VersionNotSupported,
    /// The version field is not `SIP/x.y`.
    BadVersion,
    /// Status-Line is not `SIP-Version SP 3DIGIT SP Reason-Phrase`.
    BadStatusLine,
    /// Status code outside 100..=699.
    BadStatusCode,
    /// A header line without a `:` or with a bad name.
    BadHeaderLine,
    /// A line starting with whitespace right after the start line (nothing to fold into).
    BadFolding,
    /// The named header field does not parse.
    BadHeader(HeaderError),
    /// CSeq method differs from the Request-Line method.
    CSeqMethodMismatch,
    /// Content-Length says more bytes than the datagram holds.
    BodyTruncated,
}

/// The header field a [`ParseError::BadHeader`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderError {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    Contact,
    Route,
    RecordRoute,
    Expires,
    ContentType,
    Authorization,
    Challenge,
    TokenList,
    Uri,
}

impl HeaderError {
    fn reason(self) -> &'static str {
        match self {
            Self::Via => "Malformed Via header",
            Self::From => "Malformed From header",
            Self::To => "Malformed To header",
            Self::CallId => "Malformed Call-ID header",
            Self::CSeq => "Malformed CSeq header",
            Self::MaxForwards => "Malformed Max-Forwards header",
            Self::ContentLength => "Malformed Content-Length header",
            Self::Contact => "Malformed Contact header",
            Self::Route => "Malformed Route header",
            Self::RecordRoute => "Malformed Record-Route header",
            Self::Expires => "Malformed Expires header",
            Self::ContentType => "Malformed Content-Type header",
            Self::Authorization => "Malformed Authorization header",
            Self::Challenge => "Malformed authentication challenge",
            Self::TokenList => "Malformed option-tag list",
            Self::Uri => "Malformed URI",
        }
    }
}

impl ParseError {
    /// Reason phrase for the error reply.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Empty => "Empty message",
            Self::MessageTooLarge => "Message Too Large",
            Self::LineTooLong => "Line too long",
            Self::TooManyHeaders => "Too many header fields",
            Self::HeaderSectionTooLarge => "Header section too large",
            Self::UnterminatedHeaders => "Header section not terminated",
            Self::BareCr => "Bare CR in message",
            Self::BadRequestLine => "Malformed Request-Line",
            Self::BadMethod => "Malformed method",
            Self::BadRequestUri => "Malformed Request-URI",
            Self::VersionNotSupported => "Version Not Supported",
            Self::BadVersion => "Malformed SIP version",
            Self::BadStatusLine => "Malformed Status-Line",
            Self::BadStatusCode => "Bad status code",
            Self::BadHeaderLine => "Malformed header line",
            Self::BadFolding => "Continuation line without header",
            Self::BadHeader(h) => h.reason(),
            Self::CSeqMethodMismatch => "CSeq method does not match Request-Line",
            Self::BodyTruncated => "Content-Length larger than message",
        }
    }

    /// Status code a request carrying this error is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::VersionNotSupported => 505,
            Self::MessageTooLarge => 513,
            _ => 400,
        }
    }

    /// Short machine name, for metric labels and JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::MessageTooLarge => "too_large",
            Self::LineTooLong => "line_too_long",
            Self::TooManyHeaders => "too_many_headers",
            Self::HeaderSectionTooLarge => "header_section_too_large",
            Self::UnterminatedHeaders => "unterminated_headers",
            Self::BareCr => "bare_cr",
            Self::BadRequestLine => "bad_request_line",
            Self::BadMethod => "bad_method",
            Self::BadRequestUri => "bad_request_uri",
            Self::VersionNotSupported => "version_not_supported",
            Self::BadVersion => "bad_version",
            Self::BadStatusLine => "bad_status_line",
            Self::BadStatusCode => "bad_status_code",
            Self::BadHeaderLine => "bad_header_line",
            Self::BadFolding => "bad_folding",
            Self::BadHeader(_) => "bad_header",
            Self::CSeqMethodMismatch => "cseq_method_mismatch",
            Self::BodyTruncated => "body_truncated",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ParseError {}

impl From<HeaderError> for ParseError {
    fn from(h: HeaderError) -> Self {
        Self::BadHeader(h)
    }
}
