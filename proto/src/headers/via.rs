//! Via (RFC 3261 §20.42, §18.2.2; RFC 3581 rport).
//!
//! `via-parm = sent-protocol LWS sent-by *( SEMI via-params )`, with whitespace allowed around
//! every separator (RFC 4475 wsinv puts line folds inside `SIP / 2.0 / UDP`).

use crate::chars::{self, DIGIT, GEN_VALUE};
use crate::scan::{header_param, Cursor, ListValues, Params};
use crate::uri::{parse_host, parse_port, Host};

/// One Via value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'b> {
    /// Protocol name, normally `SIP`.
    pub protocol: &'b [u8],
    /// Protocol version, normally `2.0`.
    pub version: &'b [u8],
    /// Transport token (`UDP`, `TCP`, `TLS`, `WS`, anything else is kept as is).
    pub transport: &'b [u8],
    pub host: Host<'b>,
    pub port: Option<u16>,
    pub branch: Option<&'b [u8]>,
    pub received: Option<&'b [u8]>,
    /// `rport` (RFC 3581): `Some(None)` when present without a value, as a request carries it.
    pub rport: Option<Option<u16>>,
    pub maddr: Option<&'b [u8]>,
    pub ttl: Option<u8>,
    /// The parameter section as written, from the first `;`.
    pub params: &'b [u8],
    /// The whole via-parm as written.
    pub raw: &'b [u8],
}

/// The RFC 3261 branch magic cookie.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

impl<'b> Via<'b> {
    /// All parameters, known ones included.
    pub fn params(&self) -> Params<'b> {
        Params::new(self.params)
    }

    /// True when the branch starts with the RFC 3261 magic cookie (the branch is then a
    /// transaction id).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }
}

impl Via<'_> {
    /// A placeholder to parse into.
    pub(crate) const EMPTY: Via<'static> = Via {
        protocol: b"",
        version: b"",
        transport: b"",
        host: Host::NONE,
        port: None,
        branch: None,
        received: None,
        rport: None,
        maddr: None,
        ttl: None,
        params: b"",
        raw: b"",
    };

    /// Forget the parameters a previous parse into this value recorded ([`known_param`]
    /// sets them again).
    #[inline(always)]
    fn clear_known_params(&mut self) {
        self.branch = None;
        self.received = None;
        self.rport = None;
        self.maddr = None;
        self.ttl = None;
    }
}

/// Parse one via-parm at the cursor, stopping before a `,` or the end.
pub(crate) fn parse<'b>(cur: &mut Cursor<'b>) -> Option<Via<'b>> {
    let mut via = Via::EMPTY;
    parse_into(cur, &mut via)?;
    Some(via)
}

/// [`parse`] into `via` where the caller keeps it (the message's top Via): written once
/// rather than returned and copied. On `None` `via` is garbage.
#[inline]
pub(crate) fn parse_into<'b>(cur: &mut Cursor<'b>, via: &mut Via<'b>) -> Option<()> {
    cur.skip_lws();
    if parse_plain(cur, via).is_some() {
        return Some(());
    }
    let start = cur.pos();
    via.protocol = cur.token()?;
    if !cur.eat_sep(b'/') {
        return None;
    }
    via.version = cur.token()?;
    if !cur.eat_sep(b'/') {
        return None;
    }
    via.transport = cur.token()?;
    cur.skip_lws();
    via.host = parse_host(cur)?;
    via.port = if cur.eat_sep(b':') {
        Some(parse_port(cur.take1(&DIGIT)?)?)
    } else {
        None
    };
    via.clear_known_params();
    let params_start = {
        let mut c = *cur;
        c.skip_lws();
        c.pos()
    };
    while cur.eat_sep(b';') {
        let (name, value) = header_param(cur)?;
        known_param(via, name, value)?;
    }
    via.params = chars::trim(cur.since(0).get(params_start..).unwrap_or_default());
    via.raw = chars::trim(cur.since(start));
    Some(())
}

/// Record a parameter sipedge reads (branch, received, rport, maddr, ttl); `None` when its
/// value is missing or malformed. Others are only kept in `params`.
#[inline(always)]
fn known_param<'b>(via: &mut Via<'b>, name: &[u8], value: Option<&'b [u8]>) -> Option<()> {
    // Dispatch on the length first: every Via has a branch, most an rport.
    match name.len() {
        6 if name.eq_ignore_ascii_case(b"branch") => via.branch = Some(value?),
        8 if name.eq_ignore_ascii_case(b"received") => via.received = Some(value?),
        5 if name.eq_ignore_ascii_case(b"rport") => {
            via.rport = Some(match value {
                Some(v) => Some(parse_port(v)?),
                None => None,
            });
        }
        5 if name.eq_ignore_ascii_case(b"maddr") => via.maddr = Some(value?),
        3 if name.eq_ignore_ascii_case(b"ttl") => {
            via.ttl = Some(u8::try_from(chars::parse_u32(value?)?).ok()?);
        }
        _ => {}
    }
    Some(())
}

/// The form nearly every Via has, `SIP/2.0/TRANSPORT host[:port]*(;name[=value])` with one
/// space before the host, no other whitespace and no quoted values, read without the
/// general path's whitespace handling. `None` (cursor untouched) hands anything else to the
/// general path, which gives the same result for every value this accepts.
#[inline]
fn parse_plain<'b>(cur: &mut Cursor<'b>, via: &mut Via<'b>) -> Option<()> {
    let s = cur.rest();
    let [b'S' | b's', b'I' | b'i', b'P' | b'p', b'/', b'2', b'.', b'0', b'/', ..] = s else {
        return None;
    };
    let mut c = *cur;
    let start = c.pos();
    via.protocol = s.get(..3)?;
    via.version = s.get(4..7)?;
    c.advance(8);
    via.transport = c.token()?;
    if !c.eat(b' ') || c.peek().is_some_and(chars::is_lws) {
        return None;
    }
    via.host = parse_host(&mut c)?;
    via.port = if c.eat(b':') {
        Some(parse_port(c.take1(&DIGIT)?)?)
    } else {
        None
    };
    via.clear_known_params();
    let params_start = c.pos();
    while c.eat(b';') {
        let name = c.token()?;
        let value = if c.eat(b'=') {
            if c.peek() == Some(b'"') {
                return None;
            }
            Some(c.take1(&GEN_VALUE)?)
        } else {
            None
        };
        known_param(via, name, value)?;
    }
    // Whatever follows must end the value here; whitespace may hide more parameters.
    if !matches!(c.peek(), None | Some(b',')) {
        return None;
    }
    via.params = c.since(params_start);
    via.raw = c.since(start);
    *cur = c;
    Some(())
}

/// Check every value of a Via field the way [`ViaValues`] reads them, the first one into
/// `top` and the others into one scratch value (the parse path validates all Vias without
/// copying each out). Returns how many values there are.
pub(crate) fn validate_list<'b>(value: &'b [u8], top: &mut Via<'b>) -> Option<usize> {
    let mut scratch = Via::EMPTY;
    crate::scan::each_list_value(value, |cur, i| {
        parse_into(cur, if i == 0 { &mut *top } else { &mut scratch })
    })
}

/// Iterator over the values of one Via header field; yields `None` (as `Some(Err(()))`) on
/// the first malformed value and then stops.
#[derive(Debug, Clone)]
pub struct ViaValues<'b> {
    list: ListValues<'b>,
}

impl<'b> ViaValues<'b> {
    pub fn new(value: &'b [u8]) -> Self {
        Self {
            list: ListValues::new(value),
        }
    }
}

impl<'b> Iterator for ViaValues<'b> {
    type Item = Result<Via<'b>, crate::HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.list.next_with(parse, crate::HeaderError::Via)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::HostKind;

    fn all(v: &str) -> Result<Vec<Via<'_>>, crate::HeaderError> {
        ViaValues::new(v.as_bytes()).collect()
    }

    #[test]
    fn typical() {
        let v =
            all("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport;received=10.0.0.1").unwrap();
        assert_eq!(v.len(), 1);
        let v = v[0];
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host.kind, HostKind::Ipv4);
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch, Some(&b"z9hG4bK776"[..]));
        assert_eq!(v.rport, Some(None));
        assert_eq!(v.received, Some(&b"10.0.0.1"[..]));
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.params, b";branch=z9hG4bK776;rport;received=10.0.0.1");
    }

    #[test]
    fn folded_and_spaced_rfc4475_wsinv() {
        let s = "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239";
        let v = all(s).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].branch, Some(&b"z9hG4bK9ikj8"[..]));
        assert_eq!(v[0].host.text, b"spindle.example.com");
        assert_eq!(v[1].transport, b"UDP");
        assert_eq!(v[1].branch, Some(&b"z9hG4bK30239"[..]));
        assert_eq!(
            v[1].raw,
            b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"
        );
    }

    #[test]
    fn ipv6_forms_rfc5118() {
        let v = all("SIP/2.0/UDP [2001:db8::9:1]:6050;received=2001:db8::9:255;branch=z9hG4bKas3;rport=5060;maddr=[2001:db8::1];ttl=16").unwrap();
        assert_eq!(v[0].host.text, b"[2001:db8::9:1]");
        assert_eq!(v[0].port, Some(6050));
        assert_eq!(v[0].received, Some(&b"2001:db8::9:255"[..]));
        assert_eq!(v[0].rport, Some(Some(5060)));
        assert_eq!(v[0].maddr, Some(&b"[2001:db8::1]"[..]));
        assert_eq!(v[0].ttl, Some(16));
    }

    #[test]
    fn malformed() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0 host",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host:abc",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;ttl=300",
            "SIP/2.0/UDP host,",
            "SIP/2.0/UDP host junk",
        ] {
            assert!(all(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
