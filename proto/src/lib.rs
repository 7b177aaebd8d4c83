//! `proto`: the SIP message model of sipedge. No I/O, no clock, no global state.
//!
//! - [`Message::parse`] reads a message from a byte slice without copying: the start line,
//!   every header indexed by [`HeaderKind`] (compact forms, any case, folded lines), and the
//!   headers every hop needs parsed and validated at once. Header slots come from the caller,
//!   like `httparse`, so the hot path does not allocate.
//! - [`headers`] has typed views (Via, From/To/Contact/Route, CSeq, auth, media types, option
//!   tags) and [`uri`] the SIP/SIPS/TEL URI parser.
//! - [`framing`] cuts messages out of a TCP/TLS byte stream by Content-Length.
//! - [`edit`] builds an outgoing message from the original buffer plus a list of edits in one
//!   pass, without reparsing.
//! - [`check`] is the verdict every ingress path uses: parse plus the RFC 3261 sanity rules,
//!   turned into "accept", "reject with status and reason" or "drop".
//!
//! Every error path is a value: nothing reachable from input bytes panics or indexes out of
//! bounds (the crate denies `unwrap`, `expect`, indexing and `unsafe`).

pub(crate) mod chars;
/// Numbers as text and back, without the formatter (hot paths read and write them).
pub use chars::{decimal, hex16, parse_u32, push_decimal};
pub mod check;
pub mod edit;
pub mod error;
pub mod framing;
pub mod header;
pub mod headers;
pub mod message;
pub mod method;
pub mod reply;
pub mod scan;
pub mod uri;

pub use check::{verdict, Verdict};
pub use edit::{EditError, Editor, Edits};
pub use error::{HeaderError, ParseError};
pub use framing::{Frame, FrameError, StreamFramer};
pub use header::HeaderKind;
pub use message::{Header, Limits, Message, Span, StartLine, EMPTY_HEADER};
pub use method::Method;
pub use uri::{Host, HostKind, Scheme, Uri};
