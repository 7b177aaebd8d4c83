//! Header field names: the known kinds, their compact forms, and the case-insensitive lookup.
//!
//! The lookup runs once per header line on the hot path, so it dispatches on the name length
//! first and compares at most a few candidates.

/// A header field kind. `Other` covers every name sipedge has no special knowledge of; such
/// headers are still indexed and kept byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HeaderKind {
    /// `Via` (compact `v`)
    Via,
    /// `From` (compact `f`)
    From,
    /// `To` (compact `t`)
    To,
    /// `Call-ID` (compact `i`)
    CallId,
    /// `CSeq`
    CSeq,
    /// `Max-Forwards`
    MaxForwards,
    /// `Content-Length` (compact `l`)
    ContentLength,
    /// `Content-Type` (compact `c`)
    ContentType,
    /// `Contact` (compact `m`)
    Contact,
    /// `Route`
    Route,
    /// `Record-Route`
    RecordRoute,
    /// `Expires`
    Expires,
    /// `Min-Expires`
    MinExpires,
    /// `Authorization`
    Authorization,
    /// `Proxy-Authorization`
    ProxyAuthorization,
    /// `WWW-Authenticate`
    WwwAuthenticate,
    /// `Proxy-Authenticate`
    ProxyAuthenticate,
    /// `Authentication-Info`
    AuthenticationInfo,
    /// `Require`
    Require,
    /// `Proxy-Require`
    ProxyRequire,
    /// `Supported` (compact `k`)
    Supported,
    /// `Unsupported`
    Unsupported,
    /// `Allow`
    Allow,
    /// `Accept`
    Accept,
    /// `User-Agent`
    UserAgent,
    /// `Server`
    Server,
    /// `Subject` (compact `s`)
    Subject,
    /// `Content-Encoding` (compact `e`)
    ContentEncoding,
    /// `Content-Disposition`
    ContentDisposition,
    /// `Event` (compact `o`)
    Event,
    /// `Allow-Events` (compact `u`)
    AllowEvents,
    /// `Refer-To` (compact `r`)
    ReferTo,
    /// `Referred-By` (compact `b`)
    ReferredBy,
    /// `Session-Expires` (compact `x`)
    SessionExpires,
    /// `Min-SE`
    MinSe,
    /// `Identity` (compact `y`)
    Identity,
    /// `Accept-Contact` (compact `a`)
    AcceptContact,
    /// `Path`
    Path,
    /// `Service-Route`
    ServiceRoute,
    /// `Retry-After`
    RetryAfter,
    /// `Date`
    Date,
    /// `Warning`
    Warning,
    /// `Timestamp`
    Timestamp,
    /// `RSeq`
    RSeq,
    /// `RAck`
    RAck,
    /// `P-Asserted-Identity`
    PAssertedIdentity,
    /// `P-Preferred-Identity`
    PPreferredIdentity,
    /// `Privacy`
    Privacy,
    /// `Reason`
    Reason,
    /// `Subscription-State`
    SubscriptionState,
    /// `Reply-To`
    ReplyTo,
    /// `Organization`
    Organization,
    /// `Priority`
    Priority,
    /// `In-Reply-To`
    InReplyTo,
    /// `Call-Info`
    CallInfo,
    /// `Alert-Info`
    AlertInfo,
    /// `Error-Info`
    ErrorInfo,
    /// `MIME-Version`
    MimeVersion,
    /// `Replaces`
    Replaces,
    /// `Diversion`
    Diversion,
    /// `Remote-Party-ID`
    RemotePartyId,
    /// `P-Charging-Vector`
    PChargingVector,
    /// Any other header field.
    Other,
}

impl HeaderKind {
    /// Number of kinds, `Other` included; kinds index arrays of this size.
    pub const COUNT: usize = 63;

    /// Every kind but `Other`, in declaration order.
    pub const KNOWN: [HeaderKind; 62] = [
        HeaderKind::Via,
        HeaderKind::From,
        HeaderKind::To,
        HeaderKind::CallId,
        HeaderKind::CSeq,
        HeaderKind::MaxForwards,
        HeaderKind::ContentLength,
        HeaderKind::ContentType,
        HeaderKind::Contact,
        HeaderKind::Route,
        HeaderKind::RecordRoute,
        HeaderKind::Expires,
        HeaderKind::MinExpires,
        HeaderKind::Authorization,
        HeaderKind::ProxyAuthorization,
        HeaderKind::WwwAuthenticate,
        HeaderKind::ProxyAuthenticate,
        HeaderKind::AuthenticationInfo,
        HeaderKind::Require,
        HeaderKind::ProxyRequire,
        HeaderKind::Supported,
        HeaderKind::Unsupported,
        HeaderKind::Allow,
        HeaderKind::Accept,
        HeaderKind::UserAgent,
        HeaderKind::Server,
        HeaderKind::Subject,
        HeaderKind::ContentEncoding,
        HeaderKind::ContentDisposition,
        HeaderKind::Event,
        HeaderKind::AllowEvents,
        HeaderKind::ReferTo,
        HeaderKind::ReferredBy,
        HeaderKind::SessionExpires,
        HeaderKind::MinSe,
        HeaderKind::Identity,
        HeaderKind::AcceptContact,
        HeaderKind::Path,
        HeaderKind::ServiceRoute,
        HeaderKind::RetryAfter,
        HeaderKind::Date,
        HeaderKind::Warning,
        HeaderKind::Timestamp,
        HeaderKind::RSeq,
        HeaderKind::RAck,
        HeaderKind::PAssertedIdentity,
        HeaderKind::PPreferredIdentity,
        HeaderKind::Privacy,
        HeaderKind::Reason,
        HeaderKind::SubscriptionState,
        HeaderKind::ReplyTo,
        HeaderKind::Organization,
        HeaderKind::Priority,
        HeaderKind::InReplyTo,
        HeaderKind::CallInfo,
        HeaderKind::AlertInfo,
        HeaderKind::ErrorInfo,
        HeaderKind::MimeVersion,
        HeaderKind::Replaces,
        HeaderKind::Diversion,
        HeaderKind::RemotePartyId,
        HeaderKind::PChargingVector,
    ];

    /// Canonical (long) name, as sipedge writes it. `Other` has none.
    pub const fn name(self) -> &'static str {
        match self {
            HeaderKind::Via => "Via",
            HeaderKind::From => "From",
            HeaderKind::To => "To",
            HeaderKind::CallId => "Call-ID",
            HeaderKind::CSeq => "CSeq",
            HeaderKind::MaxForwards => "Max-Forwards",
            HeaderKind::ContentLength => "Content-Length",
            HeaderKind::ContentType => "Content-Type",
            HeaderKind::Contact => "Contact",
            HeaderKind::Route => "Route",
            HeaderKind::RecordRoute => "Record-Route",
            HeaderKind::Expires => "Expires",
            HeaderKind::MinExpires => "Min-Expires",
            HeaderKind::Authorization => "Authorization",
            HeaderKind::ProxyAuthorization => "Proxy-Authorization",
            HeaderKind::WwwAuthenticate => "WWW-Authenticate",
            HeaderKind::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderKind::AuthenticationInfo => "Authentication-Info",
            HeaderKind::Require => "Require",
            HeaderKind::ProxyRequire => "Proxy-Require",
            HeaderKind::Supported => "Supported",
            HeaderKind::Unsupported => "Unsupported",
            HeaderKind::Allow => "Allow",
            HeaderKind::Accept => "Accept",
            HeaderKind::UserAgent => "User-Agent",
            HeaderKind::Server => "Server",
            HeaderKind::Subject => "Subject",
            HeaderKind::ContentEncoding => "Content-Encoding",
            HeaderKind::ContentDisposition => "Content-Disposition",
            HeaderKind::Event => "Event",
            HeaderKind::AllowEvents => "Allow-Events",
            HeaderKind::ReferTo => "Refer-To",
            HeaderKind::ReferredBy => "Referred-By",
            HeaderKind::SessionExpires => "Session-Expires",
            HeaderKind::MinSe => "Min-SE",
            HeaderKind::Identity => "Identity",
            HeaderKind::AcceptContact => "Accept-Contact",
            HeaderKind::Path => "Path",
            HeaderKind::ServiceRoute => "Service-Route",
            HeaderKind::RetryAfter => "Retry-After",
            HeaderKind::Date => "Date",
            HeaderKind::Warning => "Warning",
            HeaderKind::Timestamp => "Timestamp",
            HeaderKind::RSeq => "RSeq",
            HeaderKind::RAck => "RAck",
            HeaderKind::PAssertedIdentity => "P-Asserted-Identity",
            HeaderKind::PPreferredIdentity => "P-Preferred-Identity",
            HeaderKind::Privacy => "Privacy",
            HeaderKind::Reason => "Reason",
            HeaderKind::SubscriptionState => "Subscription-State",
            HeaderKind::ReplyTo => "Reply-To",
            HeaderKind::Organization => "Organization",
            HeaderKind::Priority => "Priority",
            HeaderKind::InReplyTo => "In-Reply-To",
            HeaderKind::CallInfo => "Call-Info",
            HeaderKind::AlertInfo => "Alert-Info",
            HeaderKind::ErrorInfo => "Error-Info",
            HeaderKind::MimeVersion => "MIME-Version",
            HeaderKind::Replaces => "Replaces",
            HeaderKind::Diversion => "Diversion",
            HeaderKind::RemotePartyId => "Remote-Party-ID",
            HeaderKind::PChargingVector => "P-Charging-Vector",
            HeaderKind::Other => "",
        }
    }

    /// Compact form (RFC 3261 §7.3.3 and later RFCs), if the kind has one.
    pub fn compact(self) -> Option<u8> {
        match self {
            HeaderKind::Via => Some(b'v'),
            HeaderKind::From => Some(b'f'),
            HeaderKind::To => Some(b't'),
            HeaderKind::CallId => Some(b'i'),
            HeaderKind::ContentLength => Some(b'l'),
            HeaderKind::ContentType => Some(b'c'),
            HeaderKind::Contact => Some(b'm'),
            HeaderKind::Supported => Some(b'k'),
            HeaderKind::Subject => Some(b's'),
            HeaderKind::ContentEncoding => Some(b'e'),
            HeaderKind::Event => Some(b'o'),
            HeaderKind::AllowEvents => Some(b'u'),
            HeaderKind::ReferTo => Some(b'r'),
            HeaderKind::ReferredBy => Some(b'b'),
            HeaderKind::SessionExpires => Some(b'x'),
            HeaderKind::Identity => Some(b'y'),
            HeaderKind::AcceptContact => Some(b'a'),
            _ => None,
        }
    }

    /// Kind of a header name (case-insensitive; compact forms included).
    ///
    /// The name is read as up to three little-endian words and compared with the few known
    /// names of its length, a handful of integer comparisons instead of byte loops.
    #[inline]
    pub fn from_name(name: &[u8]) -> HeaderKind {
        if let [c] = name {
            return Self::from_compact(*c);
        }
        let Some(bucket) = BY_LEN.get(name.len()) else {
            return HeaderKind::Other;
        };
        let w = words(name);
        bucket
            .iter()
            .find(|e| {
                (w[0] | e.mask[0]) == e.lower[0]
                    && (w[1] | e.mask[1]) == e.lower[1]
                    && (w[2] | e.mask[2]) == e.lower[2]
            })
            .map_or(HeaderKind::Other, |e| e.kind)
    }

    #[inline]
    fn from_compact(c: u8) -> HeaderKind {
        match c.to_ascii_lowercase() {
            b'v' => HeaderKind::Via,
            b'f' => HeaderKind::From,
            b't' => HeaderKind::To,
            b'i' => HeaderKind::CallId,
            b'l' => HeaderKind::ContentLength,
            b'c' => HeaderKind::ContentType,
            b'm' => HeaderKind::Contact,
            b'k' => HeaderKind::Supported,
            b's' => HeaderKind::Subject,
            b'e' => HeaderKind::ContentEncoding,
            b'o' => HeaderKind::Event,
            b'u' => HeaderKind::AllowEvents,
            b'r' => HeaderKind::ReferTo,
            b'b' => HeaderKind::ReferredBy,
            b'x' => HeaderKind::SessionExpires,
            b'y' => HeaderKind::Identity,
            b'a' => HeaderKind::AcceptContact,
            _ => HeaderKind::Other,
        }
    }

    /// Header fields RFC 3261 allows only once per message (§7.3.1 and §20): a second copy
    /// is a fault the sanity check answers with 400.
    pub fn is_single(self) -> bool {
        matches!(
            self,
            HeaderKind::From
                | HeaderKind::To
                | HeaderKind::CallId
                | HeaderKind::CSeq
                | HeaderKind::MaxForwards
                | HeaderKind::ContentLength
                | HeaderKind::ContentType
                | HeaderKind::Expires
                | HeaderKind::MinExpires
        )
    }

    /// Header fields whose value is a comma-separated list (RFC 3261 §7.3.1) that may be split
    /// over several lines. Authorization-type headers use commas inside one value and are not.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            HeaderKind::Via
                | HeaderKind::Contact
                | HeaderKind::Route
                | HeaderKind::RecordRoute
                | HeaderKind::Path
                | HeaderKind::ServiceRoute
                | HeaderKind::Require
                | HeaderKind::ProxyRequire
                | HeaderKind::Supported
                | HeaderKind::Unsupported
                | HeaderKind::Allow
                | HeaderKind::Accept
                | HeaderKind::AllowEvents
                | HeaderKind::ContentEncoding
                | HeaderKind::Privacy
                | HeaderKind::PAssertedIdentity
                | HeaderKind::PPreferredIdentity
                | HeaderKind::AcceptContact
                | HeaderKind::Reason
                | HeaderKind::Warning
                | HeaderKind::CallInfo
                | HeaderKind::AlertInfo
                | HeaderKind::ErrorInfo
                | HeaderKind::InReplyTo
                | HeaderKind::Diversion
        )
    }
}

/// Longest known long name (`P-Preferred-Identity`).
const MAX_NAME: usize = 20;
/// Most known names of one length (7 of 7 bytes).
const PER_LEN: usize = 7;

/// A known name as words (see [`words`]): `lower` is the name in lower case, `mask` has 0x20
/// on its letters. `(w | mask) == lower` then accepts exactly the case variants of the name:
/// OR-ing 0x20 only folds a letter's case, and a `-` (mask 0) must match as is.
#[derive(Clone, Copy)]
struct Entry {
    lower: [u64; 3],
    mask: [u64; 3],
    kind: HeaderKind,
}

const EMPTY_ENTRY: Entry = Entry {
    // Matches only a name of NUL bytes, which is `Other` anyway.
    lower: [0; 3],
    mask: [0; 3],
    kind: HeaderKind::Other,
};

/// Known long names bucketed by length, in declaration order (the common ones first).
static BY_LEN: [[Entry; PER_LEN]; MAX_NAME + 1] = by_len();

// Indexing here runs in const evaluation only: an out-of-range index fails the build.
#[allow(clippy::indexing_slicing)]
const fn by_len() -> [[Entry; PER_LEN]; MAX_NAME + 1] {
    let mut t = [[EMPTY_ENTRY; PER_LEN]; MAX_NAME + 1];
    let mut used = [0usize; MAX_NAME + 1];
    let mut i = 0;
    while i < HeaderKind::KNOWN.len() {
        let kind = HeaderKind::KNOWN[i];
        let name = kind.name().as_bytes();
        let n = name.len();
        t[n][used[n]] = Entry {
            lower: const_words(name, true),
            mask: const_words(name, false),
            kind,
        };
        used[n] += 1;
        i += 1;
    }
    // Slot 0 stays empty for names of length 0 and 1 (1 is the compact table).
    t
}

/// The words of a name: up to 3 bytes packed, 4..=8 as two overlapping 4-byte halves, longer
/// ones as overlapping 8-byte words. Overlap keeps every length to at most three words
/// without padding, and a given length always has the same layout.
const fn const_words(name: &[u8], lower: bool) -> [u64; 3] {
    let n = name.len();
    match n {
        0..=3 => [const_le(name, 0, n, lower), 0, 0],
        4..=8 => [
            const_le(name, 0, 4, lower) | const_le(name, n - 4, 4, lower) << 32,
            0,
            0,
        ],
        9..=16 => [
            const_le(name, 0, 8, lower),
            const_le(name, n - 8, 8, lower),
            0,
        ],
        _ => [
            const_le(name, 0, 8, lower),
            const_le(name, 8, 8, lower),
            const_le(name, n - 8, 8, lower),
        ],
    }
}

/// `len` bytes of `s` from `at` as a little-endian word: lower-cased, or the case mask.
#[allow(clippy::indexing_slicing)] // const evaluation only
const fn const_le(s: &[u8], at: usize, len: usize, lower: bool) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < len {
        let b = s[at + i];
        let byte = match (lower, b.is_ascii_alphabetic()) {
            (true, _) => b.to_ascii_lowercase(),
            (false, true) => 0x20,
            (false, false) => 0,
        };
        v |= (byte as u64) << (8 * i);
        i += 1;
    }
    v
}

/// The words of `name` as written, laid out like [`const_words`] (names of 2..=20 bytes).
#[inline]
fn words(name: &[u8]) -> [u64; 3] {
    let n = name.len();
    match n {
        0..=3 => [
            name.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)),
            0,
            0,
        ],
        4..=8 => [le4(name, 0) | le4(name, n - 4) << 32, 0, 0],
        9..=16 => [le8(name, 0), le8(name, n - 8), 0],
        _ => [le8(name, 0), le8(name, 8), le8(name, n - 8)],
    }
}

#[inline]
fn le4(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
}

#[inline]
fn le8(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_round_trips_in_any_case() {
        for kind in HeaderKind::KNOWN {
            let name = kind.name();
            assert_eq!(HeaderKind::from_name(name.as_bytes()), kind, "{name}");
            assert_eq!(
                HeaderKind::from_name(name.to_ascii_uppercase().as_bytes()),
                kind
            );
            assert_eq!(
                HeaderKind::from_name(name.to_ascii_lowercase().as_bytes()),
                kind
            );
            if let Some(c) = kind.compact() {
                assert_eq!(HeaderKind::from_name(&[c]), kind);
                assert_eq!(HeaderKind::from_name(&[c.to_ascii_uppercase()]), kind);
            }
        }
    }

    #[test]
    fn compact_forms_of_rfc3261_and_later() {
        let pairs: &[(&[u8], HeaderKind)] = &[
            (b"i", HeaderKind::CallId),
            (b"m", HeaderKind::Contact),
            (b"f", HeaderKind::From),
            (b"t", HeaderKind::To),
            (b"v", HeaderKind::Via),
            (b"l", HeaderKind::ContentLength),
            (b"c", HeaderKind::ContentType),
            (b"k", HeaderKind::Supported),
            (b"s", HeaderKind::Subject),
            (b"e", HeaderKind::ContentEncoding),
            (b"o", HeaderKind::Event),
            (b"u", HeaderKind::AllowEvents),
            (b"r", HeaderKind::ReferTo),
            (b"b", HeaderKind::ReferredBy),
            (b"x", HeaderKind::SessionExpires),
            (b"y", HeaderKind::Identity),
            (b"a", HeaderKind::AcceptContact),
            (b"z", HeaderKind::Other),
        ];
        for (name, kind) in pairs {
            assert_eq!(HeaderKind::from_name(name), *kind);
        }
    }

    /// The plain definition the word comparison must agree with.
    fn reference(name: &[u8]) -> HeaderKind {
        HeaderKind::KNOWN
            .into_iter()
            .find(|k| {
                k.name().as_bytes().eq_ignore_ascii_case(name)
                    || (name.len() == 1 && k.compact() == name.first().map(u8::to_ascii_lowercase))
            })
            .unwrap_or(HeaderKind::Other)
    }

    #[test]
    fn every_one_byte_change_of_every_name_matches_reference() {
        for kind in HeaderKind::KNOWN {
            let name = kind.name().as_bytes();
            for at in 0..name.len() {
                for b in 0..=255u8 {
                    let mut n = name.to_vec();
                    n[at] = b;
                    assert_eq!(HeaderKind::from_name(&n), reference(&n), "{n:?}");
                }
            }
            for b in 0..=255u8 {
                assert_eq!(HeaderKind::from_name(&[b]), reference(&[b]));
                let mut longer = name.to_vec();
                longer.push(b);
                assert_eq!(HeaderKind::from_name(&longer), reference(&longer));
            }
            assert_eq!(
                HeaderKind::from_name(&name[1..]),
                reference(&name[1..]),
                "{name:?}"
            );
        }
    }

    #[test]
    fn near_misses_are_other() {
        for name in [
            &b"Vias"[..],
            b"C%6Fntact",
            b"Contact-",
            b"",
            b"Call_ID",
            b"Call\rID",
            b"Call\x0dID",
            b"Call-I\xc4",
            b"V\x09a",
            b"Max-Forwards ",
            b"P-Preferred-Identity-",
            b"P-Preferred-Identitx",
        ] {
            assert_eq!(HeaderKind::from_name(name), HeaderKind::Other);
        }
    }
}
