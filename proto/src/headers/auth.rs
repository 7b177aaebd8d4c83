//! Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate (RFC 3261 §20.7,
//! §25.1; RFC 7616; RFC 8760).
//!
//! `credentials = auth-scheme LWS auth-param *(COMMA auth-param)`; the challenge headers have
//! the same shape. Commas here separate parameters of one value, not list elements.

use crate::scan::{unquote, Cursor};

/// Credentials or a challenge: a scheme and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'b> {
    /// `Digest` or another scheme (RFC 4475 regaut01 sends an unknown one).
    pub scheme: &'b [u8],
    /// The parameters as written.
    pub params: &'b [u8],
}

impl<'b> Credentials<'b> {
    /// Parse and validate a credentials or challenge value.
    pub fn parse(value: &'b [u8]) -> Option<Credentials<'b>> {
        Self::parse_fields(value).map(|(c, _)| c)
    }

    /// [`Credentials::parse`] and [`Credentials::digest_fields`] in one walk of the
    /// parameters: what a verifier needs, for the cost of validating.
    pub fn parse_fields(value: &'b [u8]) -> Option<(Credentials<'b>, DigestFields<'b>)> {
        let mut cur = Cursor::new(value);
        cur.skip_lws();
        let scheme = cur.token()?;
        cur.skip_lws();
        let params = cur.rest();
        let mut it = AuthParams::new(params);
        let fields = DigestFields::collect(it.by_ref());
        if it.failed {
            return None;
        }
        Some((Credentials { scheme, params }, fields))
    }

    /// True for the Digest scheme.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// Iterate `(name, value)` with quotes removed from values.
    pub fn params(&self) -> AuthParams<'b> {
        AuthParams::new(self.params)
    }

    /// Parameter `name` (case-insensitive), unquoted.
    pub fn param(&self, name: &[u8]) -> Option<&'b [u8]> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn username(&self) -> Option<&'b [u8]> {
        self.param(b"username")
    }
    pub fn realm(&self) -> Option<&'b [u8]> {
        self.param(b"realm")
    }
    pub fn nonce(&self) -> Option<&'b [u8]> {
        self.param(b"nonce")
    }
    pub fn uri(&self) -> Option<&'b [u8]> {
        self.param(b"uri")
    }
    pub fn response(&self) -> Option<&'b [u8]> {
        self.param(b"response")
    }
    pub fn algorithm(&self) -> Option<&'b [u8]> {
        self.param(b"algorithm")
    }
    pub fn cnonce(&self) -> Option<&'b [u8]> {
        self.param(b"cnonce")
    }
    pub fn opaque(&self) -> Option<&'b [u8]> {
        self.param(b"opaque")
    }
    pub fn qop(&self) -> Option<&'b [u8]> {
        self.param(b"qop")
    }
    pub fn nc(&self) -> Option<&'b [u8]> {
        self.param(b"nc")
    }
    pub fn stale(&self) -> Option<&'b [u8]> {
        self.param(b"stale")
    }

    /// All the Digest parameters in one walk of the list (each accessor above walks it
    /// again). Same matching as [`Credentials::param`]: case-insensitive names, first one
    /// wins.
    pub fn digest_fields(&self) -> DigestFields<'b> {
        DigestFields::collect(self.params())
    }
}

impl<'b> DigestFields<'b> {
    /// The Digest parameters among `params`, consumed to the end.
    fn collect(params: impl Iterator<Item = (&'b [u8], &'b [u8])>) -> DigestFields<'b> {
        let mut f = DigestFields::default();
        for (name, value) in params {
            let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
            let slot = match name.len() {
                2 if is(b"nc") => &mut f.nc,
                3 if is(b"uri") => &mut f.uri,
                3 if is(b"qop") => &mut f.qop,
                5 if is(b"realm") => &mut f.realm,
                5 if is(b"nonce") => &mut f.nonce,
                5 if is(b"stale") => &mut f.stale,
                6 if is(b"cnonce") => &mut f.cnonce,
                6 if is(b"opaque") => &mut f.opaque,
                8 if is(b"username") => &mut f.username,
                8 if is(b"response") => &mut f.response,
                9 if is(b"algorithm") => &mut f.algorithm,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        f
    }
}

/// The Digest parameters of [`Credentials`], unquoted; `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestFields<'b> {
    pub username: Option<&'b [u8]>,
    pub realm: Option<&'b [u8]>,
    pub nonce: Option<&'b [u8]>,
    pub uri: Option<&'b [u8]>,
    pub response: Option<&'b [u8]>,
    pub algorithm: Option<&'b [u8]>,
    pub cnonce: Option<&'b [u8]>,
    pub opaque: Option<&'b [u8]>,
    pub qop: Option<&'b [u8]>,
    pub nc: Option<&'b [u8]>,
    pub stale: Option<&'b [u8]>,
}

/// Iterator over `name = value` auth parameters separated by commas; values are unquoted.
/// Stops (and sets `failed`) on a malformed parameter.
#[derive(Debug, Clone)]
pub struct AuthParams<'b> {
    cur: Cursor<'b>,
    first: bool,
    failed: bool,
}

impl<'b> AuthParams<'b> {
    fn new(raw: &'b [u8]) -> Self {
        Self {
            cur: Cursor::new(raw),
            first: true,
            failed: false,
        }
    }
}

impl<'b> Iterator for AuthParams<'b> {
    type Item = (&'b [u8], &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.cur.skip_lws();
        if self.cur.at_end() {
            return None;
        }
        if !self.first && !self.cur.eat_sep(b',') {
            self.failed = true;
            return None;
        }
        self.first = false;
        self.cur.skip_lws();
        let item = (|| {
            let name = self.cur.token()?;
            if !self.cur.eat_sep(b'=') {
                return None;
            }
            let value = if self.cur.peek() == Some(b'"') {
                self.cur.quoted()?
            } else {
                self.cur.token()?
            };
            Some((name, unquote(value)))
        })();
        if item.is_none() {
            self.failed = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let c = Credentials::parse(
            br#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.username(), Some(&b"bob"[..]));
        assert_eq!(c.uri(), Some(&b"sip:bob@biloxi.com"[..]));
        assert_eq!(c.qop(), Some(&b"auth"[..]));
        assert_eq!(c.nc(), Some(&b"00000001"[..]));
        assert_eq!(c.params().count(), 9);
    }

    #[test]
    fn challenge_and_unknown_scheme() {
        let c = Credentials::parse(br#"Digest realm="atlanta.com", qop="auth", algorithm=SHA-256, nonce="84a4cc6f3082121f32b42a2187831a9e", stale=FALSE"#).unwrap();
        assert_eq!(c.algorithm(), Some(&b"SHA-256"[..]));
        assert_eq!(c.stale(), Some(&b"FALSE"[..]));
        let c = Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!c.is_digest());
    }

    #[test]
    fn digest_fields_match_the_accessors() {
        let inputs: [&[u8]; 6] = [
            br#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5, stale=false"#,
            // Duplicates (the first wins), mixed-case names, odd spacing.
            b"Digest  USERNAME = \"a\" ,Realm=x,\r\n realm=\"y\" , username=b,NC=1,nc=2 ,  Uri= \"sip:a,b\"",
            // Quoted values with commas, escapes and spaces.
            br#"Digest response="a, b", cnonce="x\"y", opaque="", qop="auth", nonce="n n""#,
            // Names close to known ones (same length or one letter more or less).
            b"Digest nx=1, url=2, realms=3, nonces=4, stalee=5, qopp=6, usernam=7, algorithms=8",
            b"Digest",
            b"NoOneKnowsThisScheme opaque-data=here",
        ];
        for raw in inputs {
            let c = Credentials::parse(raw).unwrap();
            let f = c.digest_fields();
            let text = String::from_utf8_lossy(raw);
            assert_eq!(Credentials::parse_fields(raw), Some((c, f)), "{text}");
            assert_eq!(f.username, c.username(), "{text}");
            assert_eq!(f.realm, c.realm(), "{text}");
            assert_eq!(f.nonce, c.nonce(), "{text}");
            assert_eq!(f.uri, c.uri(), "{text}");
            assert_eq!(f.response, c.response(), "{text}");
            assert_eq!(f.algorithm, c.algorithm(), "{text}");
            assert_eq!(f.cnonce, c.cnonce(), "{text}");
            assert_eq!(f.opaque, c.opaque(), "{text}");
            assert_eq!(f.qop, c.qop(), "{text}");
            assert_eq!(f.nc, c.nc(), "{text}");
            assert_eq!(f.stale, c.stale(), "{text}");
        }
        let c = Credentials::parse(inputs[1]).unwrap();
        let f = c.digest_fields();
        assert_eq!(f.username, Some(&b"a"[..]));
        assert_eq!(f.realm, Some(&b"x"[..]));
        assert_eq!(f.nc, Some(&b"1"[..]));
        assert_eq!(f.uri, Some(&b"sip:a,b"[..]));
        // Built by hand with a malformed tail: both stop where the iterator stops.
        let c = Credentials {
            scheme: b"Digest",
            params: b"nonce=a, uri=u junk, nonce=b, realm=r",
        };
        let f = c.digest_fields();
        assert_eq!((f.nonce, f.uri, f.realm), (c.nonce(), c.uri(), c.realm()));
        assert_eq!((f.nonce, f.realm), (Some(&b"a"[..]), None));
    }

    #[test]
    fn malformed() {
        for bad in [
            &br#"Digest username="bob"#[..],
            b"Digest a=b c=d",
            b"Digest a=",
            b"",
            b"Digest =x",
        ] {
            assert!(
                Credentials::parse(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert!(Credentials::parse_fields(bad).is_none());
        }
    }
}
