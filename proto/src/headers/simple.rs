//! Small single-purpose header grammars: CSeq, Call-ID, Content-Type, option-tag lists,
//! numeric headers.

use crate::chars::{self, DIGIT, TOKEN, WORD};
use crate::method::Method;
use crate::scan::{split_list, Cursor, ListIter, Params};

/// `CSeq = 1*DIGIT LWS Method`; the number must fit in 32 bits (RFC 3261 §8.1.1.5; RFC 4475
/// scalar02 sends 2^65).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'b> {
    pub seq: u32,
    pub method: Method<'b>,
}

impl<'b> CSeq<'b> {
    pub fn parse(value: &'b [u8]) -> Option<CSeq<'b>> {
        let mut cur = Cursor::new(value);
        cur.skip_lws();
        let seq = chars::parse_u32(cur.take1(&DIGIT)?)?;
        let before = cur.pos();
        cur.skip_lws();
        if cur.pos() == before {
            return None;
        }
        let method = Method::from_token(cur.token()?);
        cur.skip_lws();
        cur.at_end().then_some(CSeq { seq, method })
    }
}

/// `callid = word [ "@" word ]`.
#[inline]
pub fn valid_call_id(value: &[u8]) -> bool {
    // `@` is not a word character, so one run finds the first word and where it stops.
    let n = chars::run(&WORD, value);
    match value.split_at_checked(n) {
        Some((word, [])) => !word.is_empty(),
        Some((word, [b'@', host @ ..])) => !word.is_empty() && chars::all(&WORD, host),
        _ => false,
    }
}

/// A numeric header (Max-Forwards, Content-Length, Min-Expires): digits only, fits u32.
pub fn parse_number(value: &[u8]) -> Option<u32> {
    chars::parse_u32(value)
}

/// Expires header: delta-seconds, saturating at u32::MAX for over-large values.
pub fn parse_expires(value: &[u8]) -> Option<u32> {
    crate::headers::addr::saturating_u32(value)
}

/// `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'b> {
    pub kind: &'b [u8],
    pub subtype: &'b [u8],
    /// Parameters as written, from the first `;`.
    pub params: &'b [u8],
}

impl<'b> MediaType<'b> {
    pub fn parse(value: &'b [u8]) -> Option<MediaType<'b>> {
        let mut cur = Cursor::new(value);
        cur.skip_lws();
        let kind = cur.token()?;
        if !cur.eat_sep(b'/') {
            return None;
        }
        let subtype = cur.token()?;
        let mut c = cur;
        c.skip_lws();
        let params_start = c.pos();
        while cur.eat_sep(b';') {
            crate::scan::header_param(&mut cur)?;
        }
        let params = chars::trim(cur.since(0).get(params_start..).unwrap_or_default());
        cur.skip_lws();
        cur.at_end().then_some(MediaType {
            kind,
            subtype,
            params,
        })
    }

    /// True for `type/subtype`, compared case-insensitively.
    pub fn is(&self, kind: &[u8], subtype: &[u8]) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    pub fn params(&self) -> Params<'b> {
        Params::new(self.params)
    }
}

/// Option tags or methods of a comma list (Require, Proxy-Require, Supported, Unsupported,
/// Allow). Items that are not tokens are reported as errors by [`Tokens::validate`].
#[derive(Debug, Clone)]
pub struct Tokens<'b> {
    inner: ListIter<'b>,
}

impl<'b> Tokens<'b> {
    pub fn new(value: &'b [u8]) -> Self {
        Self {
            inner: split_list(value),
        }
    }

    /// True when every element is a single token.
    pub fn validate(self) -> bool {
        let mut this = self;
        this.all(|t| chars::all(&TOKEN, t))
    }

    /// True when the list holds `tag` (case-insensitive, as option tags compare).
    pub fn contains(self, tag: &[u8]) -> bool {
        let mut this = self;
        this.any(|t| t.eq_ignore_ascii_case(tag))
    }
}

impl<'b> Iterator for Tokens<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        self.inner.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        let c = CSeq::parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!(c.seq, 9);
        assert_eq!(c.method, Method::Invite);
        assert_eq!(CSeq::parse(b"4294967295 ACK").unwrap().seq, u32::MAX);
        for bad in [
            &b"36893488147419103232 REGISTER"[..],
            b"1",
            b"INVITE",
            b"1INVITE",
            b"1 INVITE x",
            b"-1 BYE",
        ] {
            assert!(
                CSeq::parse(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn call_ids() {
        assert!(valid_call_id(b"a84b4c76e66710@pc33.atlanta.com"));
        assert!(valid_call_id(
            br#"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#
        ));
        assert!(!valid_call_id(b""));
        assert!(!valid_call_id(b"a b"));
        assert!(!valid_call_id(b"a@b@c"));
        assert!(!valid_call_id(b"a@"));
    }

    #[test]
    fn media_type() {
        let m = MediaType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(m.is(b"Multipart", b"MIXED"));
        assert_eq!(
            m.params().get(b"boundary"),
            Some(Some(&b"7a9cbec02ceef655"[..]))
        );
        assert!(MediaType::parse(b"application").is_none());
        assert!(MediaType::parse(b"application/sdp junk").is_none());
    }

    #[test]
    fn tokens() {
        let t = Tokens::new(b"nothingSupportsThis, nothingSupportsThisEither");
        assert_eq!(t.clone().count(), 2);
        assert!(t.clone().contains(b"NOTHINGSUPPORTSTHIS"));
        assert!(t.validate());
        assert!(!Tokens::new(b"100rel, a b").validate());
    }

    #[test]
    fn expires_saturates() {
        assert_eq!(parse_expires(b"3600"), Some(3600));
        assert_eq!(parse_expires(b"10000000000000000000000"), Some(u32::MAX));
        assert_eq!(parse_expires(b"soon"), None);
    }
}
