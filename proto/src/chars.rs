//! Byte classes of the RFC 3261 grammar (§25.1) as 256-entry tables.
//!
//! A lookup is one load, which keeps the scanners branch-light. Each table
//! quotes the ABNF it encodes.

// Indexing here runs in const evaluation only: an out-of-range index would fail the build,
// never a running worker.
#[allow(clippy::indexing_slicing)]
const fn table(extra: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    if alnum {
        let mut c = b'0';
        while c <= b'9' {
            t[c as usize] = true;
            c += 1;
        }
        c = b'a';
        while c <= b'z' {
            t[c as usize] = true;
            t[(c - 32) as usize] = true;
            c += 1;
        }
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )`
pub(crate) static TOKEN: [bool; 256] = table(b"-.!%*_+`'~", true);

/// `word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
///  "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )`
/// (Call-ID is `word ["@" word]`).
pub(crate) static WORD: [bool; 256] = table(b"-.!%*_+`'~()<>:\\\"/[]?{}", true);

/// Characters of a SIP URI user part, unescaped: `unreserved / user-unreserved`, plus `%` of
/// `escaped`. `unreserved = alphanum / mark`, `mark = "-" / "_" / "." / "!" / "~" / "*" / "'" /
/// "(" / ")"`, `user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"`.
pub(crate) static URI_USER: [bool; 256] = table(b"-_.!~*'()&=+$,;?/%", true);

/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`
pub(crate) static URI_PASSWORD: [bool; 256] = table(b"-_.!~*'()&=+$,%", true);

/// URI parameter names and values: `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"`.
pub(crate) static URI_PARAM: [bool; 256] = table(b"[]/:&+$-_.!~*'()%", true);

/// URI headers: `hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"` with unreserved and
/// escaped, plus the `=` and `&` separators.
pub(crate) static URI_HEADERS: [bool; 256] = table(b"[]/?:+$-_.!~*'()%=&", true);

/// `hostname` characters and IPv4 digits: `alphanum / "-" / "."`.
pub(crate) static HOST: [bool; 256] = table(b"-.", true);

/// The characters of one label of a hostname: `HOST` without the dot.
pub(crate) static LABEL: [bool; 256] = table(b"-", true);

/// Inside an IPv6 reference: hex digits, `:` and `.` (for the embedded IPv4 form).
pub(crate) static IPV6: [bool; 256] = table(b":.", true);

/// Value of a generic header parameter written without quotes:
/// `gen-value = token / host / quoted-string`; host adds `:` `[` `]` for IPv6.
pub(crate) static GEN_VALUE: [bool; 256] = table(b"-.!%*_+`'~:[]", true);

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
pub(crate) static SCHEME: [bool; 256] = table(b"+-.", true);

/// Opaque part of an absolute URI we do not interpret: any visible ASCII except the
/// delimiters that end a URI in a header (`<`, `>`, `"`, and whitespace).
#[allow(clippy::indexing_slicing)] // const evaluation
pub(crate) static OPAQUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x21u8;
    while c < 0x7f {
        t[c as usize] = !matches!(c, b'<' | b'>' | b'"');
        c += 1;
    }
    t
};

/// `DIGIT`
pub(crate) static DIGIT: [bool; 256] = table(b"0123456789", false);

/// Digits, visual separators and dial-string letters of a TEL number (RFC 3966), and `%`.
pub(crate) static TEL_NUMBER: [bool; 256] = table(b"+-.()*%0123456789abcdefABCDEFpwPW", false);

#[inline]
#[allow(clippy::indexing_slicing)] // a u8 always indexes a 256-entry table
pub(crate) fn is(class: &[bool; 256], b: u8) -> bool {
    class[b as usize]
}

/// Linear whitespace inside a header value. Folded lines keep their CRLF inside the value
/// slice (we never copy to unfold), so CR and LF count as whitespace there.
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Length of the leading run of `bytes` in `class`.
#[inline]
pub(crate) fn run(class: &[bool; 256], bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !is(class, b))
        .unwrap_or(bytes.len())
}

/// True when `bytes` is non-empty and entirely in `class`.
#[inline]
pub(crate) fn all(class: &[bool; 256], bytes: &[u8]) -> bool {
    !bytes.is_empty() && run(class, bytes) == bytes.len()
}

/// Trim linear whitespace (including folded CRLF) from both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_lws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parse an unsigned decimal that must fit in `u32`. No sign, no whitespace; leading zeros
/// are legal ("0009" in RFC 4475 wsinv).
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    // One pass; past u32::MAX the value stays pinned above it while the digits are checked.
    let mut v = 0u64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = (v * 10 + u64::from(b - b'0')).min(1 << 32);
    }
    u32::try_from(v).ok()
}

/// The decimal digits of `n` in `buf`: what `Display` writes, without the formatting
/// machinery (status codes, ports, lengths and expiries are written for most messages).
pub fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// Appends `n` in decimal (see [`decimal`]).
pub fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// `v` as 16 lower-case hex digits (`{v:016x}`, without the formatter: tags and branches).
pub fn hex16(v: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        let nibble = (v >> (60 - 4 * i)) & 0xf;
        *d = HEX.get(nibble as usize).copied().unwrap_or(b'0');
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex16_is_the_formatter_s_016x() {
        for v in [0, 1, 0xf, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(hex16(v), format!("{v:016x}").as_bytes(), "{v}");
        }
    }

    #[test]
    fn decimals_as_display_writes_them() {
        for n in [
            0u64,
            1,
            7,
            9,
            10,
            99,
            100,
            486,
            5060,
            65_535,
            12_345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn u32_bounds() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"0009"), Some(9));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"00000000000004294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"36893488147419103232"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"1 "), None);
    }

    #[test]
    fn trims_folded_whitespace() {
        assert_eq!(trim(b"\r\n  abc \t"), b"abc");
        assert_eq!(trim(b"   "), b"");
    }
}
