//! The record types stored as MessagePack maps (`rmp_serde::to_vec_named`).
//!
//! Every struct is `#[serde(default)]` and unknown fields are ignored, so a field can be added
//! later without breaking old records or older readers during a rolling upgrade. Never rename
//! or retype a field: add a new one instead.

use serde::{Deserialize, Serialize};

/// One registered contact of an address-of-record (`registrations` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Binding {
    /// Address-of-record, e.g. `sip:alice@example.com`. Must not contain NUL.
    pub aor: String,
    /// The Contact URI.
    pub contact: String,
    /// Unix seconds when the binding expires.
    pub expires_at: u64,
    /// Contact `q` value times 1000 (`q=0.5` is 500).
    pub q: u16,
    pub call_id: String,
    pub cseq: u32,
    /// Source `ip:port` the REGISTER came from, for NAT traversal.
    pub received: Option<String>,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// The worker that holds the connection (connection-oriented transports).
    pub worker: u16,
    /// Path header URIs, in order.
    pub path: Vec<String>,
    pub user_agent: String,
    /// Application flags (bit meanings are defined by the registrar).
    pub flags: u32,
}

/// A [`Binding`] whose strings are borrowed: the registrar stores one without cloning the
/// request's strings ([`super::Writer::put_binding_ref`]), and a scan hands them out without
/// allocating ([`super::Writer::for_each_binding`]). The same fields as `Binding`, stored as
/// the same record (byte for byte what `rmp_serde::to_vec_named` writes for the `Binding`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindingRef<'a> {
    pub aor: &'a str,
    pub contact: &'a str,
    pub expires_at: u64,
    pub q: u16,
    pub call_id: &'a str,
    pub cseq: u32,
    pub received: Option<&'a str>,
    pub transport: &'a str,
    pub worker: u16,
    pub path: Vec<&'a str>,
    pub user_agent: &'a str,
    pub flags: u32,
}

impl Binding {
    /// This binding with its strings borrowed.
    pub fn borrowed(&self) -> BindingRef<'_> {
        BindingRef {
            aor: &self.aor,
            contact: &self.contact,
            expires_at: self.expires_at,
            q: self.q,
            call_id: &self.call_id,
            cseq: self.cseq,
            received: self.received.as_deref(),
            transport: &self.transport,
            worker: self.worker,
            path: self.path.iter().map(String::as_str).collect(),
            user_agent: &self.user_agent,
            flags: self.flags,
        }
    }
}

impl BindingRef<'_> {
    /// An owned copy.
    pub fn to_binding(&self) -> Binding {
        Binding {
            aor: self.aor.into(),
            contact: self.contact.into(),
            expires_at: self.expires_at,
            q: self.q,
            call_id: self.call_id.into(),
            cseq: self.cseq,
            received: self.received.map(String::from),
            transport: self.transport.into(),
            worker: self.worker,
            path: self.path.iter().map(|&p| p.into()).collect(),
            user_agent: self.user_agent.into(),
            flags: self.flags,
        }
    }
}

/// The `Binding` record written and read by hand: serde's generic path cost more than the
/// LMDB put itself in the registrar's profile. The encoder writes exactly the bytes of
/// `rmp_serde::to_vec_named(&Binding)` (a map with the field names, in declaration order,
/// smallest integer and length forms), so stores and older or newer readers see no change.
/// The decoder takes only that shape (a map whose keys are this version's field names, each
/// at most once, with values of their own MessagePack type) and returns `None` for anything
/// else (unknown fields from a newer writer, positional arrays, other integer types,
/// trailing bytes), which the caller then hands to rmp_serde, so every record decodes as it
/// always did. A field added to `Binding` must be added here too (the tests compare both
/// ways against rmp_serde on a binding with every field set).
pub(super) mod wire {
    use super::BindingRef;

    /// The field names, in `Binding`'s declaration order.
    const FIELDS: [&str; 12] = [
        "aor",
        "contact",
        "expires_at",
        "q",
        "call_id",
        "cseq",
        "received",
        "transport",
        "worker",
        "path",
        "user_agent",
        "flags",
    ];

    /// A string or an array longer than MessagePack can say (4 GiB).
    #[derive(Debug)]
    pub(in crate::store) struct TooLong;

    /// Appends the record of `b` to `out`.
    pub(in crate::store) fn encode(b: &BindingRef<'_>, out: &mut Vec<u8>) -> Result<(), TooLong> {
        out.reserve(
            96 + b.aor.len()
                + b.contact.len()
                + b.call_id.len()
                + b.received.map_or(0, str::len)
                + b.transport.len()
                + b.user_agent.len()
                + b.path.iter().map(|p| p.len() + 5).sum::<usize>(),
        );
        let [f_aor, f_contact, f_expires_at, f_q, f_call_id, f_cseq, f_received, f_transport, f_worker, f_path, f_user_agent, f_flags] =
            FIELDS;
        out.push(0x80 | FIELDS.len() as u8); // fixmap
        put_str(out, f_aor)?;
        put_str(out, b.aor)?;
        put_str(out, f_contact)?;
        put_str(out, b.contact)?;
        put_str(out, f_expires_at)?;
        put_uint(out, b.expires_at);
        put_str(out, f_q)?;
        put_uint(out, u64::from(b.q));
        put_str(out, f_call_id)?;
        put_str(out, b.call_id)?;
        put_str(out, f_cseq)?;
        put_uint(out, u64::from(b.cseq));
        put_str(out, f_received)?;
        match b.received {
            Some(r) => put_str(out, r)?,
            None => out.push(0xc0), // nil
        }
        put_str(out, f_transport)?;
        put_str(out, b.transport)?;
        put_str(out, f_worker)?;
        put_uint(out, u64::from(b.worker));
        put_str(out, f_path)?;
        put_len(out, b.path.len(), 0x90, 0xdc, 0xdd)?; // fixarray, array 16, array 32
        for p in &b.path {
            put_str(out, p)?;
        }
        put_str(out, f_user_agent)?;
        put_str(out, b.user_agent)?;
        put_str(out, f_flags)?;
        put_uint(out, u64::from(b.flags));
        Ok(())
    }

    // Inlined: with a field name the length and marker are constants.
    #[inline(always)]
    fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), TooLong> {
        let n = s.len();
        if n < 32 {
            out.push(0xa0 | n as u8); // fixstr
        } else if let Ok(n) = u8::try_from(n) {
            out.extend_from_slice(&[0xd9, n]); // str 8
        } else {
            put_len(out, n, 0, 0xda, 0xdb)?; // str 16, str 32
        }
        out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// A length in the 16- or 32-bit form, or the fix form (`fix | n`) below 16 when `fix`
    /// is not 0.
    fn put_len(out: &mut Vec<u8>, n: usize, fix: u8, m16: u8, m32: u8) -> Result<(), TooLong> {
        if fix != 0 && n < 16 {
            out.push(fix | n as u8);
        } else if let Ok(n) = u16::try_from(n) {
            out.push(m16);
            out.extend_from_slice(&n.to_be_bytes());
        } else {
            let n = u32::try_from(n).map_err(|_| TooLong)?;
            out.push(m32);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Ok(())
    }

    /// The smallest unsigned form, as rmp writes it.
    #[inline]
    fn put_uint(out: &mut Vec<u8>, v: u64) {
        if v < 128 {
            out.push(v as u8); // positive fixint
        } else if let Ok(v) = u8::try_from(v) {
            out.extend_from_slice(&[0xcc, v]);
        } else if let Ok(v) = u16::try_from(v) {
            out.push(0xcd);
            out.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = u32::try_from(v) {
            out.push(0xce);
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// The record in `bytes`, when it has the shape [`encode`] writes (any field order, any
    /// subset, any integer or length width); `None` otherwise (see the module docs).
    pub(in crate::store) fn decode(bytes: &[u8]) -> Option<BindingRef<'_>> {
        let mut f = Fields::new(bytes)?;
        let mut b = BindingRef::default();
        while let Some(i) = f.next_key(field)? {
            let r = &mut f.r;
            match i {
                0 => b.aor = r.str()?,
                1 => b.contact = r.str()?,
                2 => b.expires_at = r.uint()?,
                3 => b.q = u16::try_from(r.uint()?).ok()?,
                4 => b.call_id = r.str()?,
                5 => b.cseq = u32::try_from(r.uint()?).ok()?,
                6 => b.received = r.nil_or_str()?,
                7 => b.transport = r.str()?,
                8 => b.worker = u16::try_from(r.uint()?).ok()?,
                9 => {
                    // Each element takes at least one byte: a bad length cannot make a
                    // huge allocation.
                    let len = usize::try_from(r.array_len()?).ok()?;
                    if len > r.rest.len() {
                        return None;
                    }
                    b.path = Vec::with_capacity(len);
                    for _ in 0..len {
                        b.path.push(r.str()?);
                    }
                }
                10 => b.user_agent = r.str()?,
                11 => b.flags = u32::try_from(r.uint()?).ok()?,
                _ => return None,
            }
        }
        Some(b)
    }

    /// What the sweeps read of a binding without decoding it: [`skim`], or rmp_serde
    /// (every other field skipped) for the shapes `skim` leaves to it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
    #[serde(default)]
    pub(in crate::store) struct Skim {
        pub expires_at: u64,
        pub flags: u32,
    }

    /// Only the `expires_at` and `flags` of a record (0 when absent, as in [`decode`]), for
    /// the sweeps that read every binding (expiry, NAT keep-alives): the other values are
    /// stepped over by their length, their text not checked as UTF-8 (the sweeps use none
    /// of it). `None` for a shape [`decode`] also leaves to rmp_serde.
    pub(in crate::store) fn skim(bytes: &[u8]) -> Option<Skim> {
        let mut f = Fields::new(bytes)?;
        let mut out = Skim::default();
        while let Some(i) = f.next_key(field)? {
            let r = &mut f.r;
            match i {
                2 => out.expires_at = r.uint()?,
                11 => out.flags = u32::try_from(r.uint()?).ok()?,
                3 | 5 | 8 => {
                    r.uint()?;
                }
                6 if r.rest.first() == Some(&0xc0) => {
                    r.byte()?;
                }
                9 => {
                    for _ in 0..r.array_len()? {
                        r.str_bytes()?;
                    }
                }
                _ => {
                    r.str_bytes()?;
                }
            }
        }
        Some(out)
    }

    /// What a digest check reads of a subscriber record (every `Subscriber` field but
    /// `user` and `domain`), borrowed from the page: no allocation per authenticated request.
    /// Also the shape rmp_serde decodes when [`secret`] leaves a record to it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
    #[serde(default)]
    pub(in crate::store) struct Secret<'a> {
        #[serde(borrow)]
        pub ha1_md5: &'a str,
        #[serde(borrow)]
        pub ha1_sha256: &'a str,
        #[serde(borrow)]
        pub password: Option<&'a str>,
        pub disabled: bool,
    }

    /// The [`Secret`] of a `Subscriber` record of the shape `rmp_serde::to_vec_named` writes
    /// (a map of this version's field names, each at most once, any order, any subset, any
    /// length form; strings valid UTF-8); `None` for anything else, which the caller hands to
    /// rmp_serde, as for bindings. rmp_serde's generic path was a third of the subscriber read
    /// in the digest flow's profile (1.5 % of the flow's CPU; this reader, 0.9 %). A field added to `Subscriber` must be added here too.
    pub(in crate::store) fn secret(bytes: &[u8]) -> Option<Secret<'_>> {
        let mut s = Secret::default();
        let index = |key: &[u8]| {
            Some(match key {
                b"user" => 0,
                b"domain" => 1,
                b"ha1_md5" => 2,
                b"ha1_sha256" => 3,
                b"password" => 4,
                b"disabled" => 5,
                _ => return None,
            })
        };
        let mut f = Fields::new(bytes)?;
        while let Some(i) = f.next_key(index)? {
            let r = &mut f.r;
            match i {
                0 | 1 => {
                    r.str()?;
                }
                2 => s.ha1_md5 = r.str()?,
                3 => s.ha1_sha256 = r.str()?,
                4 => s.password = r.nil_or_str()?,
                _ => {
                    s.disabled = match r.byte()? {
                        0xc2 => false,
                        0xc3 => true,
                        _ => return None,
                    }
                }
            }
        }
        Some(s)
    }

    /// A walk over a MessagePack map whose keys a caller numbers (below 32): the caller
    /// loops on [`Fields::next_key`] and reads each value from `r` itself, so the record
    /// it fills stays a local of its own.
    struct Fields<'b> {
        r: Rd<'b>,
        left: u32,
        seen: u32,
    }

    impl<'b> Fields<'b> {
        fn new(bytes: &'b [u8]) -> Option<Self> {
            let mut r = Rd { rest: bytes };
            let left = r.map_len()?;
            Some(Fields { r, left, seen: 0 })
        }

        /// The number `index` gives the next key; `Some(None)` after the last value. `None`
        /// for a key `index` does not know, a key given twice (serde rejects it), or bytes
        /// after the map (rmp_serde ignores those; that case is left to it).
        #[inline]
        fn next_key(&mut self, index: impl Fn(&[u8]) -> Option<u32>) -> Option<Option<u32>> {
            if self.left == 0 {
                return self.r.rest.is_empty().then_some(None);
            }
            self.left -= 1;
            let i = index(self.r.str_bytes()?)?;
            let bit = 1u32.checked_shl(i)?;
            if self.seen & bit != 0 {
                return None;
            }
            self.seen |= bit;
            Some(Some(i))
        }
    }

    /// The index in [`FIELDS`] of a key, compared as bytes (a match is ASCII, so valid
    /// UTF-8); a `match` compiles to a length switch and word compares, no `memcmp` calls.
    fn field(key: &[u8]) -> Option<u32> {
        Some(match key {
            b"aor" => 0,
            b"contact" => 1,
            b"expires_at" => 2,
            b"q" => 3,
            b"call_id" => 4,
            b"cseq" => 5,
            b"received" => 6,
            b"transport" => 7,
            b"worker" => 8,
            b"path" => 9,
            b"user_agent" => 10,
            b"flags" => 11,
            _ => return None,
        })
    }

    /// A reader over the record's bytes.
    struct Rd<'b> {
        rest: &'b [u8],
    }

    impl<'b> Rd<'b> {
        fn take(&mut self, n: usize) -> Option<&'b [u8]> {
            if n > self.rest.len() {
                return None;
            }
            let (head, tail) = self.rest.split_at(n);
            self.rest = tail;
            Some(head)
        }

        fn byte(&mut self) -> Option<u8> {
            let (&b, tail) = self.rest.split_first()?;
            self.rest = tail;
            Some(b)
        }

        fn be<const N: usize>(&mut self) -> Option<[u8; N]> {
            self.take(N)?.try_into().ok()
        }

        /// The entry count of a map of any length form.
        fn map_len(&mut self) -> Option<u32> {
            Some(match self.byte()? {
                m @ 0x80..=0x8f => u32::from(m & 0x0f),
                0xde => u32::from(self.be::<2>().map(u16::from_be_bytes)?),
                0xdf => self.be::<4>().map(u32::from_be_bytes)?,
                _ => return None,
            })
        }

        /// The element count of an array of any length form.
        fn array_len(&mut self) -> Option<u32> {
            Some(match self.byte()? {
                m @ 0x90..=0x9f => u32::from(m & 0x0f),
                0xdc => u32::from(self.be::<2>().map(u16::from_be_bytes)?),
                0xdd => self.be::<4>().map(u32::from_be_bytes)?,
                _ => return None,
            })
        }

        /// The bytes of a str of any length form.
        fn str_bytes(&mut self) -> Option<&'b [u8]> {
            let n = match self.byte()? {
                m @ 0xa0..=0xbf => usize::from(m & 0x1f),
                0xd9 => usize::from(self.byte()?),
                0xda => usize::from(self.be::<2>().map(u16::from_be_bytes)?),
                0xdb => usize::try_from(self.be::<4>().map(u32::from_be_bytes)?).ok()?,
                _ => return None,
            };
            self.take(n)
        }

        /// A str of any length form, valid UTF-8.
        fn str(&mut self) -> Option<&'b str> {
            std::str::from_utf8(self.str_bytes()?).ok()
        }

        /// `None` for a nil, else a str as [`Rd::str`] reads it.
        fn nil_or_str(&mut self) -> Option<Option<&'b str>> {
            if self.rest.first() == Some(&0xc0) {
                self.byte()?;
                Some(None)
            } else {
                self.str().map(Some)
            }
        }

        /// An unsigned integer of any width (signed forms are left to rmp_serde).
        fn uint(&mut self) -> Option<u64> {
            Some(match self.byte()? {
                m @ 0x00..=0x7f => u64::from(m),
                0xcc => u64::from(self.byte()?),
                0xcd => u64::from(self.be::<2>().map(u16::from_be_bytes)?),
                0xce => u64::from(self.be::<4>().map(u32::from_be_bytes)?),
                0xcf => self.be::<8>().map(u64::from_be_bytes)?,
                _ => return None,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn field_indexes_match_the_names() {
            for (i, f) in (0u32..).zip(FIELDS.iter()) {
                assert_eq!(field(f.as_bytes()), Some(i), "{f}");
            }
            assert_eq!(field(b"other"), None);
            assert_eq!(field(b""), None);
        }
    }
}

/// A subscriber credential record (`subscribers` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscriber {
    pub user: String,
    pub domain: String,
    /// Hex MD5 of `user:realm:password`.
    pub ha1_md5: String,
    /// Hex SHA-256 of `user:realm:password`.
    pub ha1_sha256: String,
    /// Plain password, only when the deployment keeps it (prefer the HA1 values).
    pub password: Option<String>,
    pub disabled: bool,
}

/// Which stored HA1 a digest check needs ([`super::Store::digest_secret`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ha1Kind {
    Md5,
    Sha256,
}

/// What a digest check needs of one subscriber, read without copying the whole record out:
/// the stored hex HA1 of one algorithm (empty when none is stored), the plain password when
/// the deployment keeps one, and whether the account is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSecret {
    ha1: [u8; 64],
    ha1_len: u8,
    pub password: Option<String>,
    pub disabled: bool,
}

impl DigestSecret {
    /// `None` when `ha1` is longer than any hex HA1 (64 characters for SHA-256).
    pub fn new(ha1: &[u8], password: Option<String>, disabled: bool) -> Option<Self> {
        let mut buf = [0u8; 64];
        buf.get_mut(..ha1.len())?.copy_from_slice(ha1);
        Some(Self {
            ha1: buf,
            ha1_len: u8::try_from(ha1.len()).ok()?,
            password,
            disabled,
        })
    }

    /// The stored hex HA1; empty when the record has none for this algorithm.
    pub fn ha1(&self) -> &[u8] {
        self.ha1
            .get(..usize::from(self.ha1_len))
            .unwrap_or_default()
    }
}

/// A banned source address (`bans` table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ban {
    /// IP address as text; the table key.
    pub ip: String,
    /// Unix seconds when the ban ends (banned while `now < until`; `u64::MAX` is permanent).
    pub until: u64,
    pub reason: String,
    /// Unix seconds when the ban was created.
    pub created: u64,
    /// Requests seen from the address while banned.
    pub hits: u64,
}

/// Health of one dispatcher destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DestStatus {
    /// Takes traffic.
    #[default]
    Active,
    /// Takes no traffic and is not probed (failed, or disabled by an operator).
    Inactive,
    /// Takes no traffic; being probed (e.g. OPTIONS) to become active again.
    Probing,
}

/// The state of one destination of a dispatcher set (`dispatcher` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DestState {
    pub state: DestStatus,
    /// Unix seconds when `state` was entered.
    pub since: u64,
    /// Consecutive failed probes/requests.
    pub fails: u32,
    /// Last SIP status code seen from the destination (0: none / timeout).
    pub last_code: u16,
}

#[cfg(test)]
mod tests {
    use super::wire::{decode, encode, secret, skim, Secret, Skim};
    use super::*;

    /// Every field set (a literal without `..Default::default()`: a new field must be
    /// added here, and then the comparisons below check the hand codec has it too).
    fn full() -> Binding {
        Binding {
            aor: "sip:alice@example.com".into(),
            contact: "sip:alice@192.0.2.1:5060;transport=udp".into(),
            expires_at: 1_900_000_000,
            q: 500,
            call_id: "a84b4c76e66710@pc33.atlanta.example.com".into(),
            cseq: 314_159,
            received: Some("192.0.2.1:5060".into()),
            transport: "udp".into(),
            worker: 3,
            path: vec!["<sip:edge1;lr>".into(), "<sip:edge2;lr>".into()],
            user_agent: "test/1".into(),
            flags: 0b101,
        }
    }

    fn ours(b: &Binding) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&b.borrowed(), &mut out).unwrap();
        out
    }

    /// Bindings that cover every length and integer form.
    fn variants() -> Vec<Binding> {
        let mut all = vec![full(), Binding::default()];
        for n in [0usize, 1, 31, 32, 255, 256, 65_535, 65_536] {
            let s = "x".repeat(n);
            all.push(Binding {
                aor: s.clone(),
                contact: s.clone(),
                call_id: s.clone(),
                received: Some(s.clone()),
                transport: s.clone(),
                user_agent: s.clone(),
                path: vec![s],
                ..full()
            });
        }
        for v in [
            0u64,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            all.push(Binding {
                expires_at: v,
                q: u16::try_from(v).unwrap_or(u16::MAX),
                cseq: u32::try_from(v).unwrap_or(u32::MAX),
                worker: u16::try_from(v).unwrap_or(u16::MAX),
                flags: u32::try_from(v).unwrap_or(u32::MAX),
                ..full()
            });
        }
        for n in [0usize, 1, 15, 16, 70_000] {
            all.push(Binding {
                path: (0..n).map(|i| format!("<sip:p{i};lr>")).collect(),
                received: None,
                ..full()
            });
        }
        all
    }

    #[test]
    fn encode_writes_what_rmp_serde_writes() {
        for b in variants() {
            assert_eq!(ours(&b), rmp_serde::to_vec_named(&b).unwrap(), "{b:?}");
        }
    }

    #[test]
    fn decode_reads_the_named_form() {
        for b in variants() {
            let bytes = rmp_serde::to_vec_named(&b).unwrap();
            assert_eq!(decode(&bytes), Some(b.borrowed()));
            assert_eq!(decode(&bytes).unwrap().to_binding(), b);
        }
    }

    #[test]
    fn decode_fills_missing_fields_with_defaults() {
        // An old record with a subset of the fields, in another order, with wider integers.
        #[derive(Serialize)]
        struct Old<'a> {
            expires_at: u32,
            contact: &'a str,
            received: Option<&'a str>,
        }
        let bytes = rmp_serde::to_vec_named(&Old {
            expires_at: 9,
            contact: "sip:c",
            received: None,
        })
        .unwrap();
        let want: Binding = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decode(&bytes).unwrap().to_binding(), want);
        assert_eq!(want.contact, "sip:c");
        assert_eq!(want.expires_at, 9);
        // An empty map is the default binding.
        assert_eq!(decode(&[0x80]), Some(BindingRef::default()));
    }

    #[test]
    fn decode_leaves_other_shapes_to_rmp_serde() {
        let named = rmp_serde::to_vec_named(&full()).unwrap();
        // Positional (array) form.
        assert_eq!(decode(&rmp_serde::to_vec(&full()).unwrap()), None);
        // A field this version does not know (a newer writer).
        #[derive(Serialize)]
        struct Newer<'a> {
            aor: &'a str,
            future: u8,
        }
        let newer = rmp_serde::to_vec_named(&Newer {
            aor: "sip:a@x",
            future: 1,
        })
        .unwrap();
        assert_eq!(decode(&newer), None);
        let got: Binding = rmp_serde::from_slice(&newer).unwrap();
        assert_eq!(got.aor, "sip:a@x");
        // A field twice (serde rejects it), a signed integer, trailing bytes, truncation.
        assert_eq!(decode(&[0x82, 0xa1, b'q', 1, 0xa1, b'q', 2]), None);
        assert_eq!(decode(&[0x81, 0xa1, b'q', 0xd0, 1]), None);
        assert_cut_and_extended_are_left(&named, |b| decode(b).is_none());
        // Values out of their field's range, nil for a string, invalid UTF-8.
        assert_eq!(decode(&[0x81, 0xa1, b'q', 0xce, 0, 1, 0, 0]), None);
        assert_eq!(decode(&[0x81, 0xa3, b'a', b'o', b'r', 0xc0]), None);
        assert_eq!(decode(&[0x81, 0xa3, b'a', b'o', b'r', 0xa1, 0xff]), None);
    }

    /// A hand reader leaves a record with a trailing byte, and every truncation of it, to
    /// rmp_serde: `left` says whether it did for those bytes.
    fn assert_cut_and_extended_are_left(named: &[u8], left: impl Fn(&[u8]) -> bool) {
        let mut trailing = named.to_vec();
        trailing.push(0);
        assert!(left(&trailing), "trailing byte");
        for n in 0..named.len() {
            assert!(left(named.get(..n).unwrap()), "cut at {n}");
        }
    }

    /// Calls `check` on 20,000 copies each of the full and the default record (named form)
    /// with one to three pseudo-random bytes changed.
    fn for_mutated_records(seed: u64, check: impl FnMut(&[u8])) {
        let goods = [full(), Binding::default()].map(|b| rmp_serde::to_vec_named(&b).unwrap());
        for_mutations(&goods, seed, check);
    }

    /// Calls `check` on 20,000 copies of each of `goods` with one to three pseudo-random
    /// bytes changed.
    fn for_mutations(goods: &[Vec<u8>], mut seed: u64, mut check: impl FnMut(&[u8])) {
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for good in goods {
            for _ in 0..20_000 {
                let mut bytes = good.clone();
                for _ in 0..=(rand() % 3) {
                    let i = (rand() % bytes.len() as u64) as usize;
                    bytes[i] = rand() as u8;
                }
                check(&bytes);
            }
        }
    }

    /// Whatever the hand decoder accepts, rmp_serde accepts with the same result: bytes of
    /// valid records with pseudo-random bytes changed.
    #[test]
    fn decode_never_disagrees_with_rmp_serde() {
        let mut accepted = 0;
        for_mutated_records(0x2545_f491_4f6c_dd1d, |bytes| {
            if let Some(fast) = decode(bytes) {
                accepted += 1;
                let slow: Binding = rmp_serde::from_slice(bytes).unwrap();
                assert_eq!(fast.to_binding(), slow, "{bytes:02x?}");
            }
        });
        assert!(accepted > 1000, "{accepted}");
    }

    fn skimmed(b: &BindingRef<'_>) -> Skim {
        Skim {
            expires_at: b.expires_at,
            flags: b.flags,
        }
    }

    #[test]
    fn skim_reads_what_decode_reads() {
        for b in variants() {
            let bytes = rmp_serde::to_vec_named(&b).unwrap();
            assert_eq!(skim(&bytes), Some(skimmed(&b.borrowed())), "{b:?}");
        }
        assert_eq!(skim(&[0x80]), Some(Skim::default()));
        // Left to rmp_serde like decode does: array form, unknown field, a field twice,
        // trailing bytes, truncation, flags beyond u32.
        assert_eq!(skim(&rmp_serde::to_vec(&full()).unwrap()), None);
        assert_eq!(
            skim(&[0x81, 0xa6, b'f', b'u', b't', b'u', b'r', b'e', 1]),
            None
        );
        assert_eq!(skim(&[0x82, 0xa1, b'q', 1, 0xa1, b'q', 2]), None);
        let big_flags = [
            0x81, 0xa5, b'f', b'l', b'a', b'g', b's', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        assert_eq!(skim(&big_flags), None);
        let named = rmp_serde::to_vec_named(&full()).unwrap();
        assert_cut_and_extended_are_left(&named, |b| skim(b).is_none());
    }

    /// Whatever the skim reader accepts, rmp_serde reads the same expiry and flags from; and
    /// it accepts everything the full hand decoder accepts.
    #[test]
    fn skim_never_disagrees_with_rmp_serde() {
        let mut accepted = 0;
        for_mutated_records(0x9e37_79b9_7f4a_7c15, |bytes| {
            let fast = skim(bytes);
            if let Some(full) = decode(bytes) {
                assert_eq!(fast, Some(skimmed(&full)), "{bytes:02x?}");
            }
            if let Some(s) = fast {
                accepted += 1;
                let slow: Skim = rmp_serde::from_slice(bytes).unwrap();
                assert_eq!(slow, s, "{bytes:02x?}");
            }
        });
        assert!(accepted > 1000, "{accepted}");
    }

    /// Subscribers with every field set, without a password, disabled, and empty.
    fn subscribers() -> Vec<Subscriber> {
        let full = Subscriber {
            user: "alice".into(),
            domain: "example.com".into(),
            ha1_md5: "939e7578ed9e3c518a452acee763bce9".into(),
            ha1_sha256: "7b1d5f9e3c2a4b6d8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d".into(),
            password: Some("secret".into()),
            disabled: false,
        };
        let no_password = Subscriber {
            password: None,
            ..full.clone()
        };
        let disabled = Subscriber {
            disabled: true,
            ..no_password.clone()
        };
        vec![full, no_password, disabled, Subscriber::default()]
    }

    fn secret_of(s: &Subscriber) -> Secret<'_> {
        Secret {
            ha1_md5: &s.ha1_md5,
            ha1_sha256: &s.ha1_sha256,
            password: s.password.as_deref(),
            disabled: s.disabled,
        }
    }

    #[test]
    fn secret_reads_what_rmp_serde_reads() {
        for sub in subscribers() {
            let bytes = rmp_serde::to_vec_named(&sub).unwrap();
            let slow: Secret<'_> = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(secret(&bytes), Some(secret_of(&sub)), "{sub:?}");
            assert_eq!(slow, secret_of(&sub), "{sub:?}");
        }
        assert_eq!(secret(&[0x80]), Some(Secret::default()));
    }

    #[test]
    fn secret_leaves_other_shapes_to_rmp_serde() {
        let sub = subscribers().remove(0);
        // Array form, an unknown field, a field twice, a non-bool `disabled`.
        assert_eq!(secret(&rmp_serde::to_vec(&sub).unwrap()), None);
        assert_eq!(secret(&[0x81, 0xa3, b'n', b'e', b'w', 1]), None);
        let twice = [
            0x82, 0xa4, b'u', b's', b'e', b'r', 0xa1, b'a', 0xa4, b'u', b's', b'e', b'r', 0xa1,
            b'b',
        ];
        assert_eq!(secret(&twice), None);
        let disabled_int = [
            0x81, 0xa8, b'd', b'i', b's', b'a', b'b', b'l', b'e', b'd', 1,
        ];
        assert_eq!(secret(&disabled_int), None);
        let named = rmp_serde::to_vec_named(&sub).unwrap();
        assert_cut_and_extended_are_left(&named, |b| secret(b).is_none());
    }

    /// Whatever the hand reader accepts, rmp_serde reads the same secret from.
    #[test]
    fn secret_never_disagrees_with_rmp_serde() {
        let goods: Vec<Vec<u8>> = subscribers()
            .iter()
            .map(|s| rmp_serde::to_vec_named(s).unwrap())
            .collect();
        let mut accepted = 0;
        for_mutations(&goods, 0x6a09_e667_f3bc_c908, |bytes| {
            if let Some(fast) = secret(bytes) {
                accepted += 1;
                let slow: Secret<'_> = rmp_serde::from_slice(bytes).unwrap();
                assert_eq!(slow, fast, "{bytes:02x?}");
            }
        });
        assert!(accepted > 1000, "{accepted}");
    }
}
