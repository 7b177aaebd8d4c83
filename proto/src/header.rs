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
    pub fn name(self) -> &'static str {
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
    #[inline]
    pub fn from_name(name: &[u8]) -> HeaderKind {
        let eq = |known: &[u8]| name.eq_ignore_ascii_case(known);
        match name.len() {
            1 => match name.first().map(u8::to_ascii_lowercase) {
                Some(b'v') => HeaderKind::Via,
                Some(b'f') => HeaderKind::From,
                Some(b't') => HeaderKind::To,
                Some(b'i') => HeaderKind::CallId,
                Some(b'l') => HeaderKind::ContentLength,
                Some(b'c') => HeaderKind::ContentType,
                Some(b'm') => HeaderKind::Contact,
                Some(b'k') => HeaderKind::Supported,
                Some(b's') => HeaderKind::Subject,
                Some(b'e') => HeaderKind::ContentEncoding,
                Some(b'o') => HeaderKind::Event,
                Some(b'u') => HeaderKind::AllowEvents,
                Some(b'r') => HeaderKind::ReferTo,
                Some(b'b') => HeaderKind::ReferredBy,
                Some(b'x') => HeaderKind::SessionExpires,
                Some(b'y') => HeaderKind::Identity,
                Some(b'a') => HeaderKind::AcceptContact,
                _ => HeaderKind::Other,
            },
            2 => {
                if eq(b"To") {
                    HeaderKind::To
                } else {
                    HeaderKind::Other
                }
            }
            3 => {
                if eq(b"Via") {
                    HeaderKind::Via
                } else {
                    HeaderKind::Other
                }
            }
            4 => {
                if eq(b"From") {
                    HeaderKind::From
                } else if eq(b"CSeq") {
                    HeaderKind::CSeq
                } else if eq(b"Path") {
                    HeaderKind::Path
                } else if eq(b"Date") {
                    HeaderKind::Date
                } else if eq(b"RSeq") {
                    HeaderKind::RSeq
                } else if eq(b"RAck") {
                    HeaderKind::RAck
                } else {
                    HeaderKind::Other
                }
            }
            5 => {
                if eq(b"Route") {
                    HeaderKind::Route
                } else if eq(b"Allow") {
                    HeaderKind::Allow
                } else if eq(b"Event") {
                    HeaderKind::Event
                } else {
                    HeaderKind::Other
                }
            }
            6 => {
                if eq(b"Accept") {
                    HeaderKind::Accept
                } else if eq(b"Server") {
                    HeaderKind::Server
                } else if eq(b"Min-SE") {
                    HeaderKind::MinSe
                } else if eq(b"Reason") {
                    HeaderKind::Reason
                } else {
                    HeaderKind::Other
                }
            }
            7 => {
                if eq(b"Call-ID") {
                    HeaderKind::CallId
                } else if eq(b"Contact") {
                    HeaderKind::Contact
                } else if eq(b"Expires") {
                    HeaderKind::Expires
                } else if eq(b"Require") {
                    HeaderKind::Require
                } else if eq(b"Subject") {
                    HeaderKind::Subject
                } else if eq(b"Warning") {
                    HeaderKind::Warning
                } else if eq(b"Privacy") {
                    HeaderKind::Privacy
                } else {
                    HeaderKind::Other
                }
            }
            8 => {
                if eq(b"Refer-To") {
                    HeaderKind::ReferTo
                } else if eq(b"Identity") {
                    HeaderKind::Identity
                } else if eq(b"Reply-To") {
                    HeaderKind::ReplyTo
                } else if eq(b"Priority") {
                    HeaderKind::Priority
                } else if eq(b"Replaces") {
                    HeaderKind::Replaces
                } else {
                    HeaderKind::Other
                }
            }
            9 => {
                if eq(b"Supported") {
                    HeaderKind::Supported
                } else if eq(b"Timestamp") {
                    HeaderKind::Timestamp
                } else if eq(b"Call-Info") {
                    HeaderKind::CallInfo
                } else if eq(b"Diversion") {
                    HeaderKind::Diversion
                } else {
                    HeaderKind::Other
                }
            }
            10 => {
                if eq(b"User-Agent") {
                    HeaderKind::UserAgent
                } else if eq(b"Alert-Info") {
                    HeaderKind::AlertInfo
                } else if eq(b"Error-Info") {
                    HeaderKind::ErrorInfo
                } else {
                    HeaderKind::Other
                }
            }
            11 => {
                if eq(b"Min-Expires") {
                    HeaderKind::MinExpires
                } else if eq(b"Unsupported") {
                    HeaderKind::Unsupported
                } else if eq(b"Referred-By") {
                    HeaderKind::ReferredBy
                } else if eq(b"Retry-After") {
                    HeaderKind::RetryAfter
                } else if eq(b"In-Reply-To") {
                    HeaderKind::InReplyTo
                } else {
                    HeaderKind::Other
                }
            }
            12 => {
                if eq(b"Max-Forwards") {
                    HeaderKind::MaxForwards
                } else if eq(b"Content-Type") {
                    HeaderKind::ContentType
                } else if eq(b"Record-Route") {
                    HeaderKind::RecordRoute
                } else if eq(b"Allow-Events") {
                    HeaderKind::AllowEvents
                } else if eq(b"Organization") {
                    HeaderKind::Organization
                } else if eq(b"MIME-Version") {
                    HeaderKind::MimeVersion
                } else {
                    HeaderKind::Other
                }
            }
            13 => {
                if eq(b"Authorization") {
                    HeaderKind::Authorization
                } else if eq(b"Proxy-Require") {
                    HeaderKind::ProxyRequire
                } else if eq(b"Service-Route") {
                    HeaderKind::ServiceRoute
                } else {
                    HeaderKind::Other
                }
            }
            14 => {
                if eq(b"Content-Length") {
                    HeaderKind::ContentLength
                } else if eq(b"Accept-Contact") {
                    HeaderKind::AcceptContact
                } else {
                    HeaderKind::Other
                }
            }
            15 => {
                if eq(b"Session-Expires") {
                    HeaderKind::SessionExpires
                } else if eq(b"Remote-Party-ID") {
                    HeaderKind::RemotePartyId
                } else {
                    HeaderKind::Other
                }
            }
            16 => {
                if eq(b"WWW-Authenticate") {
                    HeaderKind::WwwAuthenticate
                } else if eq(b"Content-Encoding") {
                    HeaderKind::ContentEncoding
                } else {
                    HeaderKind::Other
                }
            }
            17 => {
                if eq(b"P-Charging-Vector") {
                    HeaderKind::PChargingVector
                } else {
                    HeaderKind::Other
                }
            }
            18 => {
                if eq(b"Proxy-Authenticate") {
                    HeaderKind::ProxyAuthenticate
                } else if eq(b"Subscription-State") {
                    HeaderKind::SubscriptionState
                } else {
                    HeaderKind::Other
                }
            }
            19 => {
                if eq(b"Proxy-Authorization") {
                    HeaderKind::ProxyAuthorization
                } else if eq(b"Authentication-Info") {
                    HeaderKind::AuthenticationInfo
                } else if eq(b"Content-Disposition") {
                    HeaderKind::ContentDisposition
                } else if eq(b"P-Asserted-Identity") {
                    HeaderKind::PAssertedIdentity
                } else {
                    HeaderKind::Other
                }
            }
            20 => {
                if eq(b"P-Preferred-Identity") {
                    HeaderKind::PPreferredIdentity
                } else {
                    HeaderKind::Other
                }
            }
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

    #[test]
    fn near_misses_are_other() {
        for name in [&b"Vias"[..], b"C%6Fntact", b"Contact-", b"", b"Call_ID"] {
            assert_eq!(HeaderKind::from_name(name), HeaderKind::Other);
        }
    }
}
