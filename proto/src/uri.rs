//! SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966), and hosts (names, IPv4, IPv6
//! references). Any other scheme parses as an opaque absolute URI so that the message still
//! parses and the application layer can answer 416 (RFC 4475 §3.3.2).
//!
//! A [`Uri`] is a set of views into the input: the user part stays escaped (compare with
//! [`unescape`] when needed), parameters and URI headers are raw slices read on demand.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::chars::{
    self, DIGIT, HOST, IPV6, LABEL, OPAQUE, SCHEME, TEL_NUMBER, URI_HEADERS, URI_PARAM,
    URI_PASSWORD, URI_USER,
};
use crate::scan::Cursor;

/// URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme<'b> {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, as written.
    Other(&'b [u8]),
}

/// What kind of host a [`Host`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A domain name.
    Name,
    /// Dotted-quad IPv4.
    Ipv4,
    /// Bracketed IPv6 reference (`[2001:db8::1]`).
    Ipv6,
    /// No host (TEL and opaque URIs).
    None,
}

/// A host as written (IPv6 keeps its brackets, so it can be copied out unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host<'b> {
    pub text: &'b [u8],
    pub kind: HostKind,
}

impl<'b> Host<'b> {
    pub(crate) const NONE: Host<'static> = Host {
        text: b"",
        kind: HostKind::None,
    };

    /// The IP address, for IPv4 hosts and IPv6 references that std can read (the 3-colon
    /// form RFC 5118 §4.10 asks us to tolerate parses as a host but yields no address).
    pub fn ip(&self) -> Option<IpAddr> {
        match self.kind {
            // By hand: std's parser cost as much as the rest of a REGISTER's checks.
            HostKind::Ipv4 => ipv4(self.text).map(IpAddr::V4),
            HostKind::Ipv6 => core::str::from_utf8(self.text)
                .ok()?
                .strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<Ipv6Addr>()
                .ok()
                .map(IpAddr::V6),
            _ => None,
        }
    }
}

/// A dotted quad as `Ipv4Addr::from_str` reads it: four parts of 1 to 3 digits, each at
/// most 255, none with a leading zero.
fn ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    match dotted_quad(s, true)? {
        (octets, len) if len == s.len() => Some(Ipv4Addr::from(octets)),
        _ => None,
    }
}

/// The dotted quad at the start of `s` (four parts of 1 to 3 digits, each at most 255) and
/// its length; `strict` also refuses a part with a leading zero. One part per loop keeps the
/// state in registers.
// Always inlined: each caller's `strict` is a constant, which removes its check.
#[inline(always)]
fn dotted_quad(s: &[u8], strict: bool) -> Option<([u8; 4], usize)> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value = 0u16;
        while i - start < 3 {
            let Some(&d @ b'0'..=b'9') = s.get(i) else {
                break;
            };
            if strict && i - start == 1 && value == 0 {
                return None;
            }
            value = value * 10 + u16::from(d - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
    }
    Some((octets, i))
}

/// Parse a host at the cursor: `hostname / IPv4address / IPv6reference`.
#[inline]
pub(crate) fn parse_host<'b>(cur: &mut Cursor<'b>) -> Option<Host<'b>> {
    let rest = cur.rest();
    let (len, kind) = match rest.first()? {
        b'[' => {
            let start = cur.pos();
            cur.advance(1);
            let inner = cur.take(&IPV6);
            if !cur.eat(b']') || !inner.contains(&b':') || inner.len() > 45 {
                return None;
            }
            return Some(Host {
                text: cur.since(start),
                kind: HostKind::Ipv6,
            });
        }
        // A dotted quad that the host characters end right after; anything else that starts
        // with a digit is checked as a name below (`0001.2.3.4`, `1.2.3.4.5`, `256.1.1.1`).
        b'0'..=b'9' => match ipv4_len(rest) {
            Some(n) if !rest.get(n).is_some_and(|&b| chars::is(&HOST, b)) => (n, HostKind::Ipv4),
            _ => (name_len(rest)?, HostKind::Name),
        },
        _ => (name_len(rest)?, HostKind::Name),
    };
    let text = rest.get(..len)?;
    cur.advance(len);
    Some(Host { text, kind })
}

/// Length of the dotted quad (four decimal parts of 1-3 digits, each up to 255) at the start
/// of `s`, if there is one; it may be followed by anything (the caller decides).
#[inline]
fn ipv4_len(s: &[u8]) -> Option<usize> {
    dotted_quad(s, false).map(|(_, len)| len)
}

/// Length of the run of host characters at the start of `s`, provided it is a valid name:
/// not empty, not starting with `.` or `-`, no empty label inside (`a..b`). One pass over
/// the labels, as this runs for every URI and Via of every message.
#[inline]
fn name_len(s: &[u8]) -> Option<usize> {
    if matches!(s.first(), None | Some(b'.' | b'-')) {
        return None;
    }
    let mut i = 0;
    loop {
        i += chars::run(&LABEL, s.get(i..).unwrap_or_default());
        if s.get(i) != Some(&b'.') {
            return (i > 0).then_some(i);
        }
        if s.get(i + 1) == Some(&b'.') {
            return None;
        }
        i += 1;
    }
}

/// A parsed URI; all fields borrow from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'b> {
    pub scheme: Scheme<'b>,
    /// User part, still escaped (for TEL: the subscriber number).
    pub user: Option<&'b [u8]>,
    /// Password (deprecated by RFC 3261, still parsed).
    pub password: Option<&'b [u8]>,
    pub host: Host<'b>,
    pub port: Option<u16>,
    /// Parameters as written, starting at the first `;` (empty when none).
    pub params: &'b [u8],
    /// URI headers after `?`, without the `?` (empty when none).
    pub headers: &'b [u8],
    /// The whole URI.
    pub raw: &'b [u8],
}

impl<'b> Uri<'b> {
    /// Parse exactly `s` as a URI; trailing bytes are an error.
    pub fn parse(s: &'b [u8]) -> Option<Uri<'b>> {
        let mut uri = Uri::EMPTY;
        uri.parse_into(s).then_some(uri)
    }

    /// A placeholder to parse into.
    pub(crate) const EMPTY: Uri<'static> = Uri {
        scheme: Scheme::Sip,
        user: None,
        password: None,
        host: Host::NONE,
        port: None,
        params: b"",
        headers: b"",
        raw: b"",
    };

    /// [`Uri::parse`] into `self`, which lives where the caller keeps it (a `NameAddr`, the
    /// start line): the parser fills it in place rather than returning a 136-byte value that
    /// is then copied, once per layer, into its final place. On `false` `self` is garbage.
    #[inline]
    pub(crate) fn parse_into(&mut self, s: &'b [u8]) -> bool {
        let mut cur = Cursor::new(s);
        // `sip:` is by far the most common; the general path below gives the same result.
        let scheme = if let [b's' | b'S', b'i' | b'I', b'p' | b'P', b':', ..] = s {
            cur.advance(4);
            Scheme::Sip
        } else {
            match Self::scheme(&mut cur) {
                Some(scheme) => scheme,
                None => return false,
            }
        };
        *self = Uri {
            scheme,
            raw: s,
            ..Uri::EMPTY
        };
        let ok = match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(&mut cur, self).is_some(),
            Scheme::Tel => parse_tel(&mut cur, self).is_some(),
            Scheme::Other(_) => cur.take1(&OPAQUE).is_some(),
        };
        ok && cur.at_end()
    }

    /// `scheme ":"` at the cursor.
    fn scheme(cur: &mut Cursor<'b>) -> Option<Scheme<'b>> {
        let scheme_txt = cur.take1(&SCHEME)?;
        if !scheme_txt.first()?.is_ascii_alphabetic() || !cur.eat(b':') {
            return None;
        }
        Some(if scheme_txt.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if scheme_txt.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if scheme_txt.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_txt)
        })
    }

    /// True for `sip:` and `sips:` URIs.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The URI parameters (`;name[=value]`).
    pub fn params(&self) -> UriParams<'b> {
        UriParams { rest: self.params }
    }

    /// Parameter `name` (case-insensitive): `Some(None)` when present without a value.
    pub fn param(&self, name: &[u8]) -> Option<Option<&'b [u8]>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The `lr` parameter marks a loose router (RFC 3261 §16.4).
    pub fn is_loose_router(&self) -> bool {
        self.param(b"lr").is_some()
    }

    /// `transport=` parameter value.
    pub fn transport(&self) -> Option<&'b [u8]> {
        self.param(b"transport").flatten()
    }

    /// `maddr=` parameter value.
    pub fn maddr(&self) -> Option<&'b [u8]> {
        self.param(b"maddr").flatten()
    }
}

fn parse_sip<'b>(cur: &mut Cursor<'b>, uri: &mut Uri<'b>) -> Option<()> {
    // The userinfo is everything before the first `@`. Neither `@` nor `:` is a user
    // character, so one run of user characters finds the user part and tells whether
    // there is a userinfo at all, without searching the URI for `@` and `:` separately.
    let rest = cur.rest();
    let run = chars::run(&URI_USER, rest);
    let userinfo = match rest.get(run) {
        Some(b'@') => Some((run, None, run)),
        Some(b':') => {
            let after = rest.get(run + 1..)?;
            memchr::memchr(b'@', after).map(|at| (run, after.get(..at), run + 1 + at))
        }
        // A `@` further on would put this byte into the user part: not a user character.
        Some(_) if memchr::memchr(b'@', rest.get(run..)?).is_some() => return None,
        _ => None,
    };
    if let Some((user_len, password, at)) = userinfo {
        let user = rest.get(..user_len)?;
        if user.is_empty() || !valid_escapes(user) {
            return None;
        }
        if let Some(p) = password {
            if chars::run(&URI_PASSWORD, p) != p.len() || !valid_escapes(p) {
                return None;
            }
        }
        uri.user = Some(user);
        uri.password = password;
        cur.advance(at + 1);
    }
    uri.host = parse_host(cur)?;
    if cur.eat(b':') {
        uri.port = Some(parse_port(cur.take1(&DIGIT)?)?);
    }
    uri.params = uri_params(cur)?;
    if cur.eat(b'?') {
        uri.headers = cur.take1(&URI_HEADERS)?;
    }
    Some(())
}

fn parse_tel<'b>(cur: &mut Cursor<'b>, uri: &mut Uri<'b>) -> Option<()> {
    uri.user = Some(cur.take1(&TEL_NUMBER)?);
    uri.params = uri_params(cur)?;
    Some(())
}

pub(crate) fn parse_port(digits: &[u8]) -> Option<u16> {
    chars::parse_u32(digits).and_then(|p| u16::try_from(p).ok())
}

/// `*( ";" pname [ "=" pvalue ] )` with URI parameter characters; returns the raw section.
fn uri_params<'b>(cur: &mut Cursor<'b>) -> Option<&'b [u8]> {
    let start = cur.pos();
    while cur.eat(b';') {
        cur.take1(&URI_PARAM)?;
        if cur.eat(b'=') {
            cur.take1(&URI_PARAM)?;
        }
    }
    Some(cur.since(start))
}

/// `%` must be followed by two hex digits.
#[inline]
fn valid_escapes(s: &[u8]) -> bool {
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'%' {
            match (it.next(), it.next()) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {}
                _ => return false,
            }
        }
    }
    true
}

/// Iterator over URI parameters (`;name[=value]`).
#[derive(Debug, Clone)]
pub struct UriParams<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for UriParams<'b> {
    type Item = (&'b [u8], Option<&'b [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.rest.strip_prefix(b";")?;
        let end = memchr::memchr(b';', body).unwrap_or(body.len());
        let (item, rest) = body.split_at(end);
        self.rest = rest;
        Some(match memchr::memchr(b'=', item) {
            Some(eq) => (item.get(..eq).unwrap_or_default(), item.get(eq + 1..)),
            None => (item, None),
        })
    }
}

/// Decode `%HH` escapes of `s` into `out` (cleared first). Invalid escapes are copied as is.
pub fn unescape(s: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&c| hex(c)),
                s.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dotted-quad scan as first written (one loop over the bytes with a state), which
    /// the per-part loop must agree with.
    fn ipv4_len_reference(s: &[u8]) -> Option<usize> {
        let (mut dots, mut digits, mut part) = (0u32, 0u32, 0u32);
        let mut end = s.len();
        for (i, &b) in s.iter().enumerate() {
            match b {
                b'0'..=b'9' if digits < 3 => {
                    part = part * 10 + u32::from(b - b'0');
                    digits += 1;
                }
                b'.' if dots < 3 && digits > 0 && part <= 255 => {
                    dots += 1;
                    digits = 0;
                    part = 0;
                }
                _ => {
                    end = i;
                    break;
                }
            }
        }
        (dots == 3 && digits > 0 && part <= 255).then_some(end)
    }

    #[test]
    fn ipv4_len_agrees_with_the_reference() {
        let mut cases: Vec<Vec<u8>> = [
            &b"127.0.0.1"[..],
            b"1.2.3.4",
            b"255.255.255.255",
            b"256.1.1.1",
            b"1.2.3.256",
            b"1.2.3",
            b"1.2.3.",
            b"1..3.4",
            b".1.2.3.4",
            b"0001.2.3.4",
            b"1.2.3.4.5",
            b"1.2.3.4567",
            b"1.2.3.4:5060",
            b"1.2.3.4;transport=udp",
            b"10.0.0.1a",
            b"",
            b"9",
        ]
        .iter()
        .map(|c| c.to_vec())
        .collect();
        // Every one-byte change of a few addresses, from the bytes that matter here.
        for base in [&b"192.168.1.20"[..], b"1.2.3.4", b"255.0.10.7:5"] {
            for at in 0..base.len() {
                for b in [b'0', b'5', b'9', b'.', b':', b'a', b' '] {
                    let mut c = base.to_vec();
                    c[at] = b;
                    cases.push(c);
                }
                cases.push([&base[..at], &base[at + 1..]].concat());
            }
        }
        for c in cases {
            assert_eq!(
                ipv4_len(&c),
                ipv4_len_reference(&c),
                "{:?}",
                String::from_utf8_lossy(&c)
            );
        }
    }

    /// The two-pass classification `parse_host` replaced: take the run of host characters,
    /// then decide IPv4 or name. Kept as the reference for the one-pass scanners.
    fn host_kind(text: &[u8]) -> Option<HostKind> {
        if matches!(text.first(), None | Some(b'.' | b'-')) {
            return None;
        }
        let (mut dots, mut digits, mut part, mut ipv4, mut prev) = (0u32, 0u32, 0u32, true, 0u8);
        for &b in text {
            if b == b'.' {
                if prev == b'.' {
                    return None;
                }
                ipv4 &= digits > 0 && part <= 255;
                dots += 1;
                digits = 0;
                part = 0;
            } else if ipv4 && b.is_ascii_digit() && digits < 3 {
                digits += 1;
                part = part * 10 + u32::from(b - b'0');
            } else {
                ipv4 = false;
            }
            prev = b;
        }
        ipv4 &= digits > 0 && part <= 255 && dots == 3;
        Some(if ipv4 { HostKind::Ipv4 } else { HostKind::Name })
    }

    fn reference_host(s: &[u8]) -> Option<(usize, HostKind)> {
        let mut cur = Cursor::new(s);
        if s.first() == Some(&b'[') {
            return parse_host(&mut cur).map(|h| (h.text.len(), h.kind));
        }
        let text = cur.take1(&HOST)?;
        Some((text.len(), host_kind(text)?))
    }

    #[test]
    fn host_kinds() {
        for (h, k) in [
            (&b"10.0.0.1"[..], Some(HostKind::Ipv4)),
            (b"255.255.255.255", Some(HostKind::Ipv4)),
            (b"256.1.1.1", Some(HostKind::Name)),
            (b"1.2.3", Some(HostKind::Name)),
            (b"1.2.3.4.", Some(HostKind::Name)),
            (b"1.2.3.4.5", Some(HostKind::Name)),
            (b"0001.2.3.4", Some(HostKind::Name)),
            (b"example.com", Some(HostKind::Name)),
            (b"a-b.example", Some(HostKind::Name)),
            (b".example", None),
            (b"-example", None),
            (b"a..b", None),
            (b"1..2.3", None),
            (b"", None),
        ] {
            assert_eq!(host_kind(h), k, "{}", String::from_utf8_lossy(h));
            let got = parse_host(&mut Cursor::new(h)).map(|h| h.kind);
            assert_eq!(got, k, "{}", String::from_utf8_lossy(h));
        }
    }

    /// The one-pass host scan agrees with the two-pass reference on every short string over
    /// the bytes that matter (digits, dots, hyphens, letters, and a terminator).
    #[test]
    fn one_pass_host_scan_matches_reference() {
        const ALPHABET: &[u8] = b"0125.-a;";
        let mut s = Vec::new();
        for len in 0..=7u32 {
            for mut n in 0..(ALPHABET.len() as u32).pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(ALPHABET[(n % ALPHABET.len() as u32) as usize]);
                    n /= ALPHABET.len() as u32;
                }
                let mut cur = Cursor::new(&s);
                let got = parse_host(&mut cur).map(|h| {
                    assert_eq!(h.text.len(), cur.pos());
                    (h.text.len(), h.kind)
                });
                assert_eq!(got, reference_host(&s), "{}", String::from_utf8_lossy(&s));
            }
        }
        for s in [
            &b"255.255.255.2555"[..],
            b"99.99.99.99x",
            b"1.2.3.256",
            b"1.2.3.04",
        ] {
            assert_eq!(
                parse_host(&mut Cursor::new(s)).map(|h| (h.text.len(), h.kind)),
                reference_host(s)
            );
        }
    }

    #[test]
    fn ipv4_reads_what_std_reads() {
        let std_ip = |s: &[u8]| {
            std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
        };
        let mut cases: Vec<Vec<u8>> = [
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "1.2.3.4.5",
            "1234.1.1.1",
            "1.2.3.4 ",
            "+1.2.3.4",
            "",
            "1.2.3.\u{e9}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        for a in 0..=300u32 {
            cases.push(format!("{a}.{}.{}.{a}", a % 7, 300 - a).into_bytes());
            cases.push(format!("0{a}.1.1.1").into_bytes());
        }
        // Pseudo-random strings of digits and dots (and a few other bytes), and quads of
        // parts of 1 to 4 digits.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..100_000 {
            let len = (rand() % 17) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| b"0123456789...2501x"[(rand() % 18) as usize])
                .collect();
            cases.push(s);
            let parts = 3 + rand() % 3;
            let mut q = Vec::new();
            for p in 0..parts {
                if p > 0 {
                    q.push(b'.');
                }
                for _ in 0..1 + rand() % 4 {
                    q.push(b"0123456789"[(rand() % 10) as usize]);
                }
            }
            cases.push(q);
        }
        let mut valid = 0;
        for c in &cases {
            assert_eq!(ipv4(c), std_ip(c), "{:?}", String::from_utf8_lossy(c));
            valid += usize::from(std_ip(c).is_some());
        }
        assert!(valid > 1000, "{valid}");
        let h = Host {
            text: b"10.1.2.3",
            kind: HostKind::Ipv4,
        };
        assert_eq!(h.ip(), Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))));
        let h = Host {
            text: b"[fd00::1]",
            kind: HostKind::Ipv6,
        };
        assert_eq!(h.ip(), "fd00::1".parse::<IpAddr>().ok());
    }

    fn p(s: &str) -> Uri<'_> {
        Uri::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn sip_uri_parts() {
        let u = p("sip:alice:secret@example.com:5070;transport=tcp;lr?subject=hi&x=y");
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secret"[..]));
        assert_eq!(u.host.text, b"example.com");
        assert_eq!(u.host.kind, HostKind::Name);
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.is_loose_router());
        assert_eq!(u.headers, b"subject=hi&x=y");
    }

    #[test]
    fn hosts() {
        let u = p("sips:[2001:db8::10]:5061");
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.host.kind, HostKind::Ipv6);
        assert_eq!(u.host.text, b"[2001:db8::10]");
        assert_eq!(u.port, Some(5061));
        assert!(u.host.ip().is_some());
        // RFC 5118 §4.3: the port is inside the brackets, so there is none.
        let u = p("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        // RFC 5118 §4.10: tolerate the 3-colon form.
        let u = p("sip:user@[2001:db8:::192.0.2.1]");
        assert_eq!(u.host.kind, HostKind::Ipv6);
        let u = p("sip:192.0.2.1");
        assert_eq!(u.host.kind, HostKind::Ipv4);
        assert_eq!(u.host.ip(), Some("192.0.2.1".parse().unwrap()));
        let u = p("sip:999.0.2.1");
        assert_eq!(u.host.kind, HostKind::Name);
    }

    #[test]
    fn odd_but_valid_user_parts() {
        // RFC 4475 §3.1.1.9 and §3.1.1.2.
        let u = p("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(u.host.text, b"example.com");
        let u = p("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.password,
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        let u = p("sip:null-%00-null@example.com");
        let mut out = Vec::new();
        unescape(u.user.unwrap(), &mut out);
        assert_eq!(out, b"null-\0-null");
    }

    #[test]
    fn tel_and_other_schemes() {
        let u = p("tel:+1-201-555-0123;phone-context=example.com");
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.user, Some(&b"+1-201-555-0123"[..]));
        assert_eq!(u.param(b"phone-context"), Some(Some(&b"example.com"[..])));
        let u = p("nobodyKnowsThisScheme:totallyopaquecontent");
        assert_eq!(u.scheme, Scheme::Other(b"nobodyKnowsThisScheme"));
        p("soap.beep://192.0.2.103:3002");
    }

    #[test]
    fn rejects() {
        for bad in [
            "sip:2001:db8::10",
            "<sip:a@b>",
            "sip:a@b c",
            " sip:a@b",
            "sip:",
            "sip:a@",
            "sip:a@b:99999",
            "sip:a@b;",
            "sip:a@b;=x",
            "sip:a%zz@b",
            "sip:[::1",
            "sip:.example.com",
            "1sip:x",
            "sip:a@b?",
        ] {
            assert!(
                Uri::parse(bad.as_bytes()).is_none(),
                "{bad} should not parse"
            );
        }
    }
}
