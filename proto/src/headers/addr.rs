//! Address headers: From, To, Contact, Route, Record-Route, Path, and the like.
//!
//! ```text
//! (name-addr / addr-spec) *( SEMI param )
//! name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//! display-name = *(token LWS) / quoted-string
//! ```
//! In the addr-spec form the URI ends at the first `;` (those parameters belong to the header)
//! and may not contain `,` or `?` (RFC 3261 §20.10): RFC 4475 regbadct is rejected for it.

use crate::chars::{self, GEN_VALUE, OPAQUE, TOKEN};
use crate::error::HeaderError;
use crate::scan::{header_param, Cursor, ListValues, Params};
use crate::uri::Uri;

/// A name-addr or addr-spec with its header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'b> {
    /// Display name as written: a quoted string (quotes included) or a run of tokens.
    pub display: Option<&'b [u8]>,
    pub uri: Uri<'b>,
    /// Whether the URI was enclosed in `<...>`.
    pub angle: bool,
    /// Header parameters as written, from the first `;` (empty when none).
    pub params: &'b [u8],
    /// `tag` parameter (From/To).
    pub tag: Option<&'b [u8]>,
    /// The whole value as written.
    pub raw: &'b [u8],
}

impl<'b> NameAddr<'b> {
    /// All header parameters.
    pub fn params(&self) -> Params<'b> {
        Params::new(self.params)
    }

    /// `expires` parameter of a Contact, if present and numeric (saturating at u32::MAX).
    pub fn expires(&self) -> Option<u32> {
        self.params()
            .get(b"expires")
            .flatten()
            .and_then(saturating_u32)
    }

    /// `q` parameter of a Contact in thousandths (`q=0.5` is 500); `None` when absent or
    /// malformed.
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.params().get(b"q").flatten()?)
    }
}

/// Delta-seconds as u32, saturating at u32::MAX for over-large values (RFC 4475 scalar02
/// has a 15-digit `expires`); `None` unless the value is all digits.
pub(crate) fn saturating_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(chars::parse_u32(v).unwrap_or(u32::MAX))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
pub fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match memchr::memchr(b'.', v) {
        Some(dot) => (v.get(..dot)?, v.get(dot + 1..)?),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Parse one address value at the cursor, stopping before a `,` or the end.
pub(crate) fn parse<'b>(cur: &mut Cursor<'b>) -> Option<NameAddr<'b>> {
    let mut na = NameAddr::EMPTY;
    parse_into(cur, &mut na)?;
    Some(na)
}

impl NameAddr<'_> {
    /// A placeholder to parse into.
    pub(crate) const EMPTY: NameAddr<'static> = NameAddr {
        display: None,
        uri: Uri::EMPTY,
        angle: false,
        params: b"",
        tag: None,
        raw: b"",
    };
}

/// [`parse`] into `na` where the caller keeps it (the message's From and To), so the 208
/// bytes are written once instead of being returned and copied. On `None` `na` is garbage.
#[inline]
pub(crate) fn parse_into<'b>(cur: &mut Cursor<'b>, na: &mut NameAddr<'b>) -> Option<()> {
    cur.skip_lws();
    let start = cur.pos();
    na.display = None;
    match cur.peek()? {
        b'"' => {
            na.display = Some(cur.quoted()?);
            cur.skip_lws();
            bracketed(cur, &mut na.uri)?;
            na.angle = true;
        }
        b'<' => {
            bracketed(cur, &mut na.uri)?;
            na.angle = true;
        }
        _ => {
            // Either `token token <uri>` or a bare addr-spec: look ahead for the `<`.
            let mut ahead = *cur;
            let dstart = ahead.pos();
            let mut dend = dstart;
            while ahead.take1(&TOKEN).is_some() {
                dend = ahead.pos();
                ahead.skip_lws();
            }
            if ahead.peek() == Some(b'<') && dend > dstart {
                na.display = Some(chars::trim(ahead.since(dstart).get(..dend - dstart)?));
                *cur = ahead;
                bracketed(cur, &mut na.uri)?;
                na.angle = true;
            } else {
                let s = cur.rest();
                let end = s
                    .iter()
                    .position(|&b| b == b';' || b == b',' || chars::is_lws(b))
                    .unwrap_or(s.len());
                let text = s.get(..end)?;
                if memchr::memchr(b'?', text).is_some() || !chars::all(&OPAQUE, text) {
                    return None;
                }
                if !na.uri.parse_into(text) {
                    return None;
                }
                cur.advance(end);
                na.angle = false;
            }
        }
    }
    if !plain_params(cur, na) {
        let params_start = {
            let mut c = *cur;
            c.skip_lws();
            c.pos()
        };
        na.tag = None;
        while cur.eat_sep(b';') {
            let (name, value) = header_param(cur)?;
            if name.eq_ignore_ascii_case(b"tag") {
                na.tag = Some(value?);
            }
        }
        na.params = chars::trim(cur.since(0).get(params_start..).unwrap_or_default());
    }
    na.raw = chars::trim(cur.since(start));
    Some(())
}

/// The header parameters in their usual form, `;name[=value]` with no whitespace and no
/// quoted value, up to a `,` or the end. `false` (cursor untouched) leaves them to the
/// general loop above, which gives the same result for everything this accepts.
#[inline]
fn plain_params<'b>(cur: &mut Cursor<'b>, na: &mut NameAddr<'b>) -> bool {
    let mut c = *cur;
    let start = c.pos();
    let mut tag = None;
    while c.eat(b';') {
        let Some(name) = c.token() else {
            return false;
        };
        let value = if c.eat(b'=') {
            if c.peek() == Some(b'"') {
                return false;
            }
            match c.take1(&GEN_VALUE) {
                Some(v) => Some(v),
                None => return false,
            }
        } else {
            None
        };
        if name.eq_ignore_ascii_case(b"tag") {
            match value {
                Some(v) => tag = Some(v),
                None => return false,
            }
        }
    }
    if !matches!(c.peek(), None | Some(b',')) {
        return false;
    }
    na.tag = tag;
    na.params = c.since(start);
    *cur = c;
    true
}

/// `< addr-spec >` with nothing else inside (RFC 4475 badaspec has spaces there: rejected).
#[inline]
fn bracketed<'b>(cur: &mut Cursor<'b>, uri: &mut Uri<'b>) -> Option<()> {
    if !cur.eat(b'<') {
        return None;
    }
    let rest = cur.rest();
    let close = memchr::memchr(b'>', rest)?;
    if !uri.parse_into(rest.get(..close)?) {
        return None;
    }
    cur.advance(close + 1);
    Some(())
}

/// Parse a header value that holds exactly one address (From, To, Refer-To, ...).
pub fn parse_single(value: &[u8]) -> Option<NameAddr<'_>> {
    let mut na = NameAddr::EMPTY;
    parse_single_into(value, &mut na)?;
    Some(na)
}

/// [`parse_single`] into `na` (see [`parse_into`]).
#[inline]
pub(crate) fn parse_single_into<'b>(value: &'b [u8], na: &mut NameAddr<'b>) -> Option<()> {
    let mut cur = Cursor::new(value);
    parse_into(&mut cur, na)?;
    cur.skip_lws();
    cur.at_end().then_some(())
}

/// Check every value of a list header of addresses the way [`AddrValues`] reads it, parsing
/// each into one scratch value: the parse path validates Contact lists without copying each
/// value out. Returns how many values there are.
pub(crate) fn validate_list(value: &[u8]) -> Option<usize> {
    let mut scratch = NameAddr::EMPTY;
    crate::scan::each_list_value(value, |cur, _| parse_into(cur, &mut scratch))
}

/// Iterator over the values of one list header of addresses (Route, Record-Route, Path,
/// Contact without `*`). Yields an error once on the first malformed value, then stops.
#[derive(Debug, Clone)]
pub struct AddrValues<'b> {
    list: ListValues<'b>,
    err: HeaderError,
}

impl<'b> AddrValues<'b> {
    pub fn new(value: &'b [u8], err: HeaderError) -> Self {
        Self {
            list: ListValues::new(value),
            err,
        }
    }
}

impl<'b> Iterator for AddrValues<'b> {
    type Item = Result<NameAddr<'b>, HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.list.next_with(parse, self.err)
    }
}

/// One Contact value: `*` or an address.
// `Star` is rare and short-lived; boxing the common variant would cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'b> {
    /// `Contact: *` (only meaningful in REGISTER with Expires: 0).
    Star,
    Addr(NameAddr<'b>),
}

/// Iterator over the values of one Contact header field.
#[derive(Debug, Clone)]
pub struct ContactValues<'b> {
    inner: AddrValues<'b>,
    star: bool,
}

impl<'b> ContactValues<'b> {
    pub fn new(value: &'b [u8]) -> Self {
        let star = chars::trim(value) == b"*";
        Self {
            inner: AddrValues::new(if star { b"" } else { value }, HeaderError::Contact),
            star,
        }
    }
}

impl<'b> Iterator for ContactValues<'b> {
    type Item = Result<Contact<'b>, HeaderError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.star {
            self.star = false;
            return Some(Ok(Contact::Star));
        }
        self.inner.next().map(|r| r.map(Contact::Addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Scheme;

    #[test]
    fn forms() {
        let na = parse_single(br#""A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s"#).unwrap();
        assert_eq!(na.display, Some(&br#""A. G. Bell""#[..]));
        assert_eq!(na.uri.host.text, b"bell-telephone.com");
        assert_eq!(na.tag, Some(&b"a48s"[..]));
        assert!(na.angle);

        let na = parse_single(b"sip:+12125551212@server.phone2net.com;tag=887s").unwrap();
        assert_eq!(na.display, None);
        assert!(!na.angle);
        assert_eq!(na.uri.params, b"");
        assert_eq!(na.tag, Some(&b"887s"[..]));

        // RFC 4475 lwsdisp: no space before `<`.
        let na = parse_single(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(na.display, Some(&b"caller"[..]));

        // Several tokens as display name (RFC 4475 intmeth).
        let na = parse_single(b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=x")
            .unwrap();
        assert_eq!(na.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));

        // Unknown schemes still parse (RFC 4475 unksm2).
        let na = parse_single(b"isbn:2983792873").unwrap();
        assert_eq!(na.uri.scheme, Scheme::Other(b"isbn"));
        let na = parse_single(b"<http://www.example.com>;tag=3234233").unwrap();
        assert_eq!(na.tag, Some(&b"3234233"[..]));
    }

    #[test]
    fn wsinv_from_and_to() {
        let to = parse_single(b"\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
            .unwrap();
        assert_eq!(to.tag, Some(&b"1918181833n"[..]));
        let from = parse_single(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(from.tag, Some(&b"98asjd8"[..]));
        assert_eq!(from.display, Some(&b"\"J Rosenberg \\\\\\\"\""[..]));
    }

    #[test]
    fn rejected() {
        for bad in [
            &b"\"Mr. J. User <sip:j.user@example.com>"[..],
            b"\"Watson, Thomas\" < sip:t.watson@example.org >",
            b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            b"<sip:a@b>;;;;",
            b"<sip:a@b>;tag",
            b"<sip:a@b> junk",
            b"",
        ] {
            assert!(
                parse_single(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn contact_lists() {
        let v: Vec<_> = ContactValues::new(
            b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33, <sip:b@c>;expires=60",
        )
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(v.len(), 2);
        let Contact::Addr(a) = v[0] else { panic!() };
        assert_eq!(a.q(), Some(330));
        assert_eq!(a.params().get(b"newparam"), Some(Some(&b"newvalue"[..])));
        let Contact::Addr(b) = v[1] else { panic!() };
        assert_eq!(b.expires(), Some(60));
        assert_eq!(b.q(), None);

        let v: Vec<_> = ContactValues::new(b" * ").collect();
        assert_eq!(v, vec![Ok(Contact::Star)]);
        assert!(ContactValues::new(b"<sip:a@b>,").any(|r| r.is_err()));
        assert!(ContactValues::new(b"*, <sip:a@b>").any(|r| r.is_err()));
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.123"), Some(123));
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"1.5"), None);
        assert_eq!(parse_qvalue(b"0.1234"), None);
        assert_eq!(parse_qvalue(b"2"), None);
        assert_eq!(parse_qvalue(b""), None);
    }
}
