//! A bounds-checked cursor over a byte slice and the small grammar pieces every header parser
//! shares: whitespace, tokens, quoted strings, generic `;name=value` parameters, and splitting
//! comma-separated lists around quotes and `<...>`.
//!
//! Everything returns sub-slices of the input; nothing allocates, nothing can index out of
//! bounds (`get` everywhere), so hostile input ends in `None`, never a panic.

use crate::chars::{self, is_lws, GEN_VALUE, TOKEN};

/// A read position in `s`. Cheap to copy, which makes look-ahead a matter of saving a copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'b> {
    s: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    pub(crate) fn new(s: &'b [u8]) -> Self {
        Self { s, pos: 0 }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skip `n` bytes (clamped to the end).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.s.len());
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes from `from` to the current position.
    #[inline]
    pub(crate) fn since(&self, from: usize) -> &'b [u8] {
        self.s.get(from..self.pos).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn rest(&self) -> &'b [u8] {
        self.s.get(self.pos..).unwrap_or_default()
    }

    /// Consume `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skip linear whitespace, folded line breaks included.
    #[inline]
    pub(crate) fn skip_lws(&mut self) {
        while let Some(b) = self.peek() {
            if !is_lws(b) {
                break;
            }
            self.pos += 1;
        }
    }

    /// `SWS c SWS`: consume `c` with optional whitespace around it.
    #[inline]
    pub(crate) fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(c) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// The longest run of bytes in `class` (possibly empty).
    // Always inlined: a call per run costs about as much as a short run itself.
    #[inline(always)]
    pub(crate) fn take(&mut self, class: &[bool; 256]) -> &'b [u8] {
        let start = self.pos;
        let n = chars::run(class, self.rest());
        self.pos += n;
        self.since(start)
    }

    /// A non-empty run of bytes in `class`.
    #[inline(always)]
    pub(crate) fn take1(&mut self, class: &[bool; 256]) -> Option<&'b [u8]> {
        let t = self.take(class);
        (!t.is_empty()).then_some(t)
    }

    /// A token.
    #[inline]
    pub(crate) fn token(&mut self) -> Option<&'b [u8]> {
        self.take1(&TOKEN)
    }

    /// A quoted string, returned with its quotes.
    pub(crate) fn quoted(&mut self) -> Option<&'b [u8]> {
        let start = self.pos;
        let len = quoted_len(self.rest())?;
        self.pos += len;
        Some(self.since(start))
    }

    /// `gen-value = token / host / quoted-string`
    pub(crate) fn gen_value(&mut self) -> Option<&'b [u8]> {
        if self.peek() == Some(b'"') {
            self.quoted()
        } else {
            self.take1(&GEN_VALUE)
        }
    }
}

/// Length of the quoted string at the start of `s` (quotes included), or `None` when `s` does
/// not start with one or it is unterminated.
///
/// `quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE`,
/// `quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)`.
pub(crate) fn quoted_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    loop {
        let at = memchr::memchr2(b'"', b'\\', s.get(i..)?)? + i;
        if s.get(at) == Some(&b'"') {
            return Some(at + 1);
        }
        // Backslash: the next byte is literal, but never a line break.
        match s.get(at + 1) {
            Some(b'\r' | b'\n') | None => return None,
            Some(_) => i = at + 2,
        }
    }
}

/// Strip the quotes of a quoted string; other values pass through. Escapes stay as they are
/// (the value is a view of the input, not a decoded copy).
pub fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// One `;name[=value]` header parameter after the `;` (already consumed). Whitespace is allowed
/// around `=` (RFC 4475 wsinv).
pub(crate) fn header_param<'b>(cur: &mut Cursor<'b>) -> Option<(&'b [u8], Option<&'b [u8]>)> {
    cur.skip_lws();
    let name = cur.token()?;
    if cur.eat_sep(b'=') {
        Some((name, Some(cur.gen_value()?)))
    } else {
        Some((name, None))
    }
}

/// Iterator over `;name[=value]` parameters of a slice that the parser already validated
/// (a header's parameter section). It stops at the first malformed item.
#[derive(Debug, Clone)]
pub struct Params<'b> {
    cur: Cursor<'b>,
}

impl<'b> Params<'b> {
    pub(crate) fn new(raw: &'b [u8]) -> Self {
        Self {
            cur: Cursor::new(raw),
        }
    }

    /// First parameter called `name` (case-insensitive): `Some(None)` when it has no value.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'b [u8]>> {
        self.clone()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl<'b> Iterator for Params<'b> {
    type Item = (&'b [u8], Option<&'b [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        self.cur.skip_lws();
        if !self.cur.eat(b';') {
            return None;
        }
        header_param(&mut self.cur)
    }
}

/// Split a header value into its comma-separated elements, respecting quoted strings
/// (with escapes) and `<...>`; elements are trimmed and empty ones skipped.
pub fn split_list(value: &[u8]) -> ListIter<'_> {
    ListIter { rest: value }
}

/// Iterator returned by [`split_list`].
#[derive(Debug, Clone)]
pub struct ListIter<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for ListIter<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = element_end(self.rest);
            let (item, rest) = self.rest.split_at(end.min(self.rest.len()));
            self.rest = rest.get(1..).unwrap_or_default();
            let item = chars::trim(item);
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Index of the first top-level comma in `s` (outside quotes and angle brackets), or `s.len()`.
/// An unterminated quote or bracket swallows the rest of the value.
fn element_end(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(off) = memchr::memchr3(b',', b'"', b'<', s.get(i..).unwrap_or_default()) {
        let at = i + off;
        match s.get(at) {
            Some(b',') => return at,
            Some(b'"') => match s.get(at..).and_then(quoted_len) {
                Some(n) => i = at + n,
                None => return s.len(),
            },
            _ => match memchr::memchr(b'>', s.get(at..).unwrap_or_default()) {
                Some(n) => i = at + n + 1,
                None => return s.len(),
            },
        }
    }
    s.len()
}

/// Walk a comma-separated header value: `one` parses each element from the cursor (it gets
/// the element's index). Returns how many elements there are, or `None` for a malformed
/// element, an empty one (`a,,b`, `a,`) or junk after an element.
#[inline(always)]
pub(crate) fn each_list_value<'b>(
    value: &'b [u8],
    mut one: impl FnMut(&mut Cursor<'b>, usize) -> Option<()>,
) -> Option<usize> {
    let mut cur = Cursor::new(value);
    let mut n = 0;
    loop {
        cur.skip_lws();
        if cur.at_end() {
            return Some(n);
        }
        one(&mut cur, n)?;
        n += 1;
        cur.skip_lws();
        if cur.at_end() {
            return Some(n);
        }
        // After a comma another value must follow: `a,` is an empty element.
        if !cur.eat(b',') {
            return None;
        }
        cur.skip_lws();
        if cur.at_end() {
            return None;
        }
    }
}

/// The state of an iterator over a comma-separated header value whose elements are parsed one
/// at a time (Via values, name-addr lists): the same list rules as [`each_list_value`], and
/// after the first bad element, nothing more.
#[derive(Debug, Clone)]
pub(crate) struct ListValues<'b> {
    cur: Cursor<'b>,
    done: bool,
}

impl<'b> ListValues<'b> {
    pub(crate) fn new(value: &'b [u8]) -> Self {
        Self {
            cur: Cursor::new(value),
            done: false,
        }
    }

    /// The next element parsed by `parse`, `Err(err)` for a malformed or empty element or
    /// junk after one (then the iteration ends), `None` at the end.
    #[inline(always)]
    pub(crate) fn next_with<T, E>(
        &mut self,
        parse: impl FnOnce(&mut Cursor<'b>) -> Option<T>,
        err: E,
    ) -> Option<Result<T, E>> {
        if self.done {
            return None;
        }
        self.cur.skip_lws();
        if self.cur.at_end() {
            self.done = true;
            return None;
        }
        let v = parse(&mut self.cur);
        self.cur.skip_lws();
        let ok = match v {
            Some(_) if self.cur.at_end() => true,
            // After a comma another value must follow: `a,` is an empty element.
            Some(_) if self.cur.eat(b',') => {
                self.cur.skip_lws();
                !self.cur.at_end()
            }
            _ => false,
        };
        match v {
            Some(v) if ok => Some(Ok(v)),
            _ => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted_len(br#""abc" x"#), Some(5));
        assert_eq!(quoted_len(br#""a\"b""#), Some(6));
        assert_eq!(quoted_len(br#""J Rosenberg \\\"""#), Some(18));
        assert_eq!(quoted_len(br#""unterminated"#), None);
        assert_eq!(quoted_len(b"\"a\\"), None);
        assert_eq!(quoted_len(b"abc"), None);
    }

    #[test]
    fn list_split_respects_quotes_and_brackets() {
        let v = br#""Doe, John" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d>,,sip:e@f"#;
        let items: Vec<&[u8]> = split_list(v).collect();
        assert_eq!(
            items,
            vec![
                &br#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#[..],
                b"<sip:c@d>",
                b"sip:e@f"
            ]
        );
        assert_eq!(split_list(b" , ,").count(), 0);
        assert_eq!(split_list(b"\"open, quote").count(), 1);
    }

    #[test]
    fn params_iterate_with_whitespace() {
        let p = Params::new(b" ;  tag    = 1918 ; lr;q=\"x;y\"");
        let all: Vec<_> = p.clone().collect();
        assert_eq!(all.len(), 3);
        assert_eq!(p.get(b"TAG"), Some(Some(&b"1918"[..])));
        assert_eq!(p.get(b"lr"), Some(None));
        assert_eq!(p.get(b"q"), Some(Some(&b"\"x;y\""[..])));
        assert_eq!(p.get(b"nope"), None);
    }
}
