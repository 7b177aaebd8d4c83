//! Digest authentication (RFC 3261 §22, RFC 7616, RFC 8760) with stateless nonces that every
//! worker can verify, nonce-count replay protection in the table all workers share
//! ([`shared::nonces`]), and credentials from the store's subscriber table (HA1 per
//! algorithm).
//!
//! Nonce: 28 base64url characters of 21 bytes: the Unix time it was issued (40 bits), a value
//! unique to the challenge (its slot in the nonce-count table and a tag, so nonce-counts of
//! different clients never collide) and a SipHash-2-4 MAC ([`crate::siphash`]) of both and
//! the realm under a key derived from the shared secret. A nonce whose MAC is wrong is
//! ignored (a new challenge); one older than `nonce_ttl`, or whose slot went to a later
//! challenge, gets a challenge with `stale=true`.
//! An unknown user, a disabled one and a wrong password all get the same fresh challenge, so
//! nothing tells an attacker which user names exist.

use std::cell::RefCell;

use md5::Md5;
use proto::{HeaderKind, Message};
use sha2::{Digest, Sha256};
use shared::nonces::{NcCheck, NonceTable};
use shared::store::{DigestSecret, Ha1Kind, Store, Subscriber};

use crate::siphash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Md5,
    Sha256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Md5 => "MD5",
            Alg::Sha256 => "SHA-256",
        }
    }

    fn parse(s: &[u8]) -> Option<Alg> {
        if s.eq_ignore_ascii_case(b"MD5") {
            Some(Alg::Md5)
        } else if s.eq_ignore_ascii_case(b"SHA-256") {
            Some(Alg::Sha256)
        } else {
            None
        }
    }

    /// Lower-case hex digest of `parts` joined by `:`.
    fn hex(self, parts: &[&[u8]]) -> Hex {
        fn run<D: Digest>(parts: &[&[u8]]) -> Hex {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            Hex::encode(&d.finalize())
        }
        match self {
            Alg::Md5 => run::<Md5>(parts),
            Alg::Sha256 => run::<Sha256>(parts),
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Write the lower-case hex digits of `bytes` into `out`, two per byte, as far as `out` goes.
fn encode_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            // Both indices are below 16: the fallback is never taken.
            *hi = HEX_DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = HEX_DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0');
        }
    }
}

/// ASCII bytes as a String (no UTF-8 validation needed for hex digits).
fn ascii_string(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// A hex digest on the stack: 64 digits fit SHA-256, the longest algorithm.
#[derive(Clone, Copy)]
struct Hex {
    buf: [u8; 64],
    len: usize,
}

impl Hex {
    fn encode(bytes: &[u8]) -> Hex {
        let mut h = Hex {
            buf: [0; 64],
            len: 0,
        };
        encode_hex(&mut h.buf, bytes);
        h.len = (2 * bytes.len()).min(h.buf.len());
        h
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn string(&self) -> String {
        ascii_string(self.as_bytes())
    }
}

/// The failed-auth counter key of a user name, `authfail/user/NAME`. It must always be a
/// valid store key: a write that fails inside a batch's group commit rolls back the whole
/// group and drops every answer of the batch, so one request with a hostile name would take
/// its neighbours down. A name too long for a key is cut and tagged with a hash of the whole.
fn lockout_user_key(user: &str) -> Vec<u8> {
    const PREFIX: &[u8] = b"authfail/user/";
    const KEEP: usize = 200;
    let mut key = Vec::with_capacity(PREFIX.len() + KEEP + 17);
    key.extend_from_slice(PREFIX);
    match user.as_bytes().get(..KEEP) {
        Some(head) if user.len() > KEEP => {
            // FNV-1a, not DefaultHasher: the key outlives the binary (it is in the store),
            // and std does not promise DefaultHasher's output across Rust releases.
            key.extend_from_slice(head);
            key.push(b'#');
            key.extend_from_slice(&proto::hex16(crate::steering::fnv1a(user.as_bytes())));
        }
        _ => key.extend_from_slice(user.as_bytes()),
    }
    key
}

/// The `response` a client computes for qop=auth (RFC 7616 §3.4.1), for tests and tools.
#[allow(clippy::too_many_arguments)]
pub fn response(
    alg: Alg,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = alg.hex(&[method.as_bytes(), uri.as_bytes()]);
    alg.hex(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        b"auth",
        ha2.as_bytes(),
    ])
    .string()
}

/// The HA1 of a subscriber for a realm: `H(user:realm:password)`.
pub fn ha1(alg: Alg, user: &str, realm: &str, password: &str) -> String {
    alg.hex(&[user.as_bytes(), realm.as_bytes(), password.as_bytes()])
        .string()
}

/// A subscriber record for `user` in `realm` with both HA1 values (the password itself is
/// not kept).
pub fn subscriber(user: &str, realm: &str, password: &str) -> Subscriber {
    Subscriber {
        user: user.to_string(),
        domain: realm.to_string(),
        ha1_md5: ha1(Alg::Md5, user, realm, password),
        ha1_sha256: ha1(Alg::Sha256, user, realm, password),
        password: None,
        disabled: false,
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub realm: String,
    pub algorithms: Vec<Alg>,
    pub nonce_ttl: u64,
    pub secret: Vec<u8>,
    pub match_from: bool,
    pub lockout_threshold: u64,
    pub lockout_seconds: u64,
}

impl AuthConfig {
    pub fn from_config(a: &shared::config::Auth) -> AuthConfig {
        AuthConfig {
            realm: a.realm.clone(),
            algorithms: a
                .algorithms
                .iter()
                .filter_map(|s| Alg::parse(s.as_bytes()))
                .collect(),
            nonce_ttl: a.nonce_ttl,
            secret: a.secret.as_bytes().to_vec(),
            match_from: a.match_from,
            lockout_threshold: a.lockout_threshold,
            lockout_seconds: a.lockout_seconds,
        }
    }
}

/// Store key of the secret generated when `[auth] secret` is empty (four random u64
/// counters written once by the master).
pub const SECRET_KEYS: [&[u8]; 4] = [
    b"auth/secret/0",
    b"auth/secret/1",
    b"auth/secret/2",
    b"auth/secret/3",
];

/// The secret the master generated into the store.
pub fn stored_secret(store: &Store) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(32);
    for k in SECRET_KEYS {
        let v = store.get_counter(k).ok()?;
        if v == 0 {
            return None;
        }
        out.extend_from_slice(&v.to_be_bytes());
    }
    Some(out)
}

thread_local! {
    /// The nonce MAC key of the last secret used on this thread, with that secret: deriving
    /// it hashes the secret, a cache hit only compares it.
    static NONCE_KEY: RefCell<Option<(Vec<u8>, siphash::Key)>> = const { RefCell::new(None) };
}

/// The SipHash key of `secret`: the first 16 bytes of SHA-256 over a label and the secret,
/// so a secret of any length gives a full 128-bit key.
fn derive_key(secret: &[u8]) -> siphash::Key {
    let mut d = Sha256::new();
    d.update(b"sipedge nonce mac v2\0");
    d.update(secret);
    let out = d.finalize();
    let mut k = [0u8; 16];
    for (d, s) in k.iter_mut().zip(out.iter()) {
        *d = *s;
    }
    siphash::Key::from_bytes(k)
}

/// The nonce MAC key of `secret`, from the cache when the secret is the cached one.
fn keyed(secret: &[u8]) -> siphash::Key {
    NONCE_KEY
        .try_with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return derive_key(secret);
            };
            if let Some((s, k)) = slot.as_ref() {
                if s.as_slice() == secret {
                    return *k;
                }
            }
            let k = derive_key(secret);
            *slot = Some((secret.to_vec(), k));
            k
        })
        .unwrap_or_else(|_| derive_key(secret))
}

/// An HA2 with what it was computed from.
struct Ha2Entry {
    alg: Alg,
    method: Vec<u8>,
    uri: Vec<u8>,
    hex: Hex,
}

thread_local! {
    /// The last HA2 this worker computed.
    static LAST_HA2: RefCell<Option<Ha2Entry>> = const { RefCell::new(None) };
}

/// HA2 of qop=auth, `H(method ":" digest-uri)` (RFC 7616 §3.4.3). Phones of one domain send
/// the same method and URI (`REGISTER`, `sip:domain`) over and over, so the last one is kept:
/// a hit saves one of the three digests of a verification.
fn ha2(alg: Alg, method: &[u8], uri: &[u8]) -> Hex {
    let compute = || alg.hex(&[method, uri]);
    LAST_HA2
        .try_with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return compute();
            };
            if let Some(e) = slot.as_ref() {
                if e.alg == alg && e.method == method && e.uri == uri {
                    return e.hex;
                }
            }
            let hex = compute();
            *slot = Some(Ha2Entry {
                alg,
                method: method.to_vec(),
                uri: uri.to_vec(),
                hex,
            });
            hex
        })
        .unwrap_or_else(|_| compute())
}

fn mac(secret: &[u8], realm: &str, ts: u64, unique: u64) -> u64 {
    siphash::hash(
        keyed(secret),
        &[&ts.to_be_bytes(), &unique.to_be_bytes(), realm.as_bytes()],
    )
}

/// Bytes a nonce carries: the issue time (low 40 bits of Unix seconds, good until the
/// year 36812), the unique value and the MAC, big-endian.
const NONCE_RAW: usize = 5 + 8 + 8;
/// Length of a nonce: its bytes in unpadded base64url. Short on purpose: the nonce is
/// hashed into every digest response (RFC 7616 §3.4.1), and with an MD5 HA1, a 28-character
/// nonce and a cnonce of up to 10 characters that input fits two MD5 blocks instead of three.
const NONCE_LEN: usize = NONCE_RAW / 3 * 4;
/// Issue times wrap at 40 bits.
const NONCE_TIME_MASK: u64 = (1 << 40) - 1;

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The value of each byte as a base64url digit; 64 for a byte that is not one.
// Evaluated at compile time: an index out of range would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const B64URL_VALUE: [u8; 256] = {
    let mut t = [64u8; 256];
    let mut i = 0;
    while i < 64 {
        t[B64URL[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn nonce_bytes(cfg: &AuthConfig, secret: &[u8], now: u64, unique: u64) -> [u8; NONCE_LEN] {
    let ts = now & NONCE_TIME_MASK;
    let m = mac(secret, &cfg.realm, ts, unique);
    let mut raw = [0u8; NONCE_RAW];
    let parts = ts.to_be_bytes().into_iter().skip(3);
    let parts = parts.chain(unique.to_be_bytes()).chain(m.to_be_bytes());
    for (d, s) in raw.iter_mut().zip(parts) {
        *d = s;
    }
    let mut out = [0u8; NONCE_LEN];
    for (quad, tri) in out.chunks_exact_mut(4).zip(raw.chunks_exact(3)) {
        let v = tri.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
        for (i, c) in quad.iter_mut().enumerate() {
            let digit = (v >> (18 - 6 * i)) & 63;
            // Below 64: the fallback is never taken.
            *c = B64URL.get(digit as usize).copied().unwrap_or(b'A');
        }
    }
    out
}

pub fn nonce(cfg: &AuthConfig, secret: &[u8], now: u64, unique: u64) -> String {
    ascii_string(&nonce_bytes(cfg, secret, now, unique))
}

/// The unique part of a nonce: its slot in the nonce-count table, then its tag.
pub fn nonce_unique(slot: u32, tag: u32) -> u64 {
    (u64::from(slot) << 32) | u64::from(tag)
}

enum NonceCheck {
    /// Signed by us, within `nonce_ttl`; its unique part.
    Fresh(u64),
    Stale,
    Bad,
}

/// The bytes of a nonce of ours, if `nonce` has the shape of one.
fn decode_nonce(nonce: &[u8]) -> Option<[u8; NONCE_RAW]> {
    if nonce.len() != NONCE_LEN {
        return None;
    }
    let mut raw = [0u8; NONCE_RAW];
    for (tri, quad) in raw.chunks_exact_mut(3).zip(nonce.chunks_exact(4)) {
        let mut v = 0u32;
        for &c in quad {
            let d = B64URL_VALUE.get(usize::from(c)).copied().unwrap_or(64);
            if d > 63 {
                return None;
            }
            v = (v << 6) | u32::from(d);
        }
        for (i, b) in tri.iter_mut().enumerate() {
            *b = (v >> (16 - 8 * i)) as u8;
        }
    }
    Some(raw)
}

fn check_nonce(cfg: &AuthConfig, secret: &[u8], nonce: &[u8], now: u64) -> NonceCheck {
    let Some(raw) = decode_nonce(nonce) else {
        return NonceCheck::Bad;
    };
    let be = |b: &[u8]| b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x));
    let (ts, unique, m) = (
        be(raw.get(..5).unwrap_or_default()),
        be(raw.get(5..13).unwrap_or_default()),
        be(raw.get(13..).unwrap_or_default()),
    );
    // Compared within `now`'s 40-bit epoch: a nonce from before a wrap (year 36812) looks
    // like one from the future and gets a fresh challenge.
    let now = now & NONCE_TIME_MASK;
    if mac(secret, &cfg.realm, ts, unique) != m || ts > now + 5 {
        return NonceCheck::Bad;
    }
    if now.saturating_sub(ts) > cfg.nonce_ttl {
        NonceCheck::Stale
    } else {
        NonceCheck::Fresh(unique)
    }
}

/// What the authentication step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid credentials of this user.
    Ok(String),
    /// Challenge (again); `stale` when the credentials were right but the nonce old.
    Challenge { stale: bool, why: &'static str },
    /// Authenticated, but not allowed (From is someone else).
    Forbidden(&'static str),
}

/// The challenge header lines (CRLF-terminated), one per configured algorithm.
pub fn challenge(
    cfg: &AuthConfig,
    secret: &[u8],
    proxy: bool,
    stale: bool,
    now: u64,
    unique: u64,
) -> Vec<u8> {
    let name = if proxy {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    let n = nonce_bytes(cfg, secret, now, unique);
    let mut out = Vec::with_capacity(160 * cfg.algorithms.len());
    for alg in &cfg.algorithms {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": Digest realm=\"");
        out.extend_from_slice(cfg.realm.as_bytes());
        out.extend_from_slice(b"\", nonce=\"");
        out.extend_from_slice(&n);
        out.extend_from_slice(b"\", algorithm=");
        out.extend_from_slice(alg.name().as_bytes());
        out.extend_from_slice(b", qop=\"auth\"");
        if stale {
            out.extend_from_slice(b", stale=true");
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A parameter as text; `None` also when it is not UTF-8 (then the credentials are incomplete).
fn utf8(v: Option<&[u8]>) -> Option<&str> {
    v.and_then(|b| std::str::from_utf8(b).ok())
}

/// The identity of the transaction `msg` belongs to (top Via branch, Call-ID, CSeq number):
/// the same in every worker, so any of them tells a retransmission from a replay.
fn txn_hash(msg: &Message<'_, '_>) -> u64 {
    use std::hash::{Hash, Hasher};
    // DefaultHasher::new() has fixed keys: the same value in every process.
    let mut h = std::hash::DefaultHasher::new();
    msg.top_via().and_then(|v| v.branch).hash(&mut h);
    msg.call_id().hash(&mut h);
    msg.cseq().map(|c| c.seq).hash(&mut h);
    h.finish()
}

/// Check the credentials of `msg` (Authorization for a REGISTER, Proxy-Authorization for
/// anything else).
pub fn verify(
    cfg: &AuthConfig,
    secret: &[u8],
    store: &Store,
    nonces: &NonceTable,
    msg: &Message<'_, '_>,
    src: std::net::IpAddr,
    now: u64,
) -> Verdict {
    let proxy = msg.method() != Some(proto::Method::Register);
    let kind = if proxy {
        HeaderKind::ProxyAuthorization
    } else {
        HeaderKind::Authorization
    };
    let creds = msg
        .digest_credentials(kind)
        .filter_map(Result::ok)
        .filter(|(c, _)| c.is_digest())
        .map(|(_, f)| f)
        .find(|f| f.realm == Some(cfg.realm.as_bytes()));
    let Some(c) = creds else {
        return Verdict::Challenge {
            stale: false,
            why: "no_credentials",
        };
    };
    let (Some(user), Some(nonce), Some(uri), Some(response)) =
        (utf8(c.username), c.nonce, c.uri, c.response)
    else {
        return Verdict::Challenge {
            stale: false,
            why: "incomplete",
        };
    };
    let alg = match c.algorithm {
        None => Alg::Md5,
        Some(a) => match Alg::parse(a) {
            Some(a) if cfg.algorithms.contains(&a) => a,
            _ => {
                return Verdict::Challenge {
                    stale: false,
                    why: "algorithm",
                }
            }
        },
    };
    let unique = match check_nonce(cfg, secret, nonce, now) {
        NonceCheck::Bad => {
            return Verdict::Challenge {
                stale: false,
                why: "bad_nonce",
            }
        }
        NonceCheck::Stale => None,
        NonceCheck::Fresh(unique) => Some(unique),
    };
    // qop=auth is offered and required (RFC 8760 has no digest without it).
    if c.qop.is_none_or(|q| !q.eq_ignore_ascii_case(b"auth")) {
        return Verdict::Challenge {
            stale: false,
            why: "qop",
        };
    }
    let (Some(nc), Some(cnonce)) = (c.nc, c.cnonce) else {
        return Verdict::Challenge {
            stale: false,
            why: "incomplete",
        };
    };
    let Some(nc_value) = std::str::from_utf8(nc)
        .ok()
        .filter(|s| s.len() == 8)
        .and_then(|s| u32::from_str_radix(s, 16).ok())
    else {
        return Verdict::Challenge {
            stale: false,
            why: "bad_nc",
        };
    };
    // Lockout: too many failures from this source or for this user in the current window
    // (read in the write transaction, so failures earlier in this batch's group count too).
    let window = now - now % cfg.lockout_seconds.max(1);
    let lockout_keys = (cfg.lockout_threshold > 0).then(|| {
        (
            format!("authfail/ip/{src}").into_bytes(),
            lockout_user_key(user),
        )
    });
    if let Some((ip_key, user_key)) = &lockout_keys {
        let locked = store.write(|w| {
            Ok(w.incr_window(ip_key, window, 0)? >= cfg.lockout_threshold
                || w.incr_window(user_key, window, 0)? >= cfg.lockout_threshold)
        });
        if matches!(locked, Ok(true)) {
            return Verdict::Forbidden("Locked Out");
        }
    }
    let kind = match alg {
        Alg::Md5 => Ha1Kind::Md5,
        Alg::Sha256 => Ha1Kind::Sha256,
    };
    let sub = store
        .digest_secret(user, &cfg.realm, kind)
        .ok()
        .flatten()
        .filter(|s| !s.disabled);
    let stored_ha1 = sub
        .as_ref()
        .map(DigestSecret::ha1)
        .filter(|h| !h.is_empty());
    let computed_ha1;
    let ha1: &[u8] = match stored_ha1 {
        Some(h) => h,
        None => {
            computed_ha1 = match sub.as_ref().and_then(|s| s.password.as_deref()) {
                Some(p) => alg.hex(&[user.as_bytes(), cfg.realm.as_bytes(), p.as_bytes()]),
                // Unknown users are checked against a made-up HA1: the same work, the same
                // answer.
                None => alg.hex(&[b"no such user", user.as_bytes()]),
            };
            computed_ha1.as_bytes()
        }
    };
    let method = msg.method().map_or(&b""[..], |m| m.as_bytes());
    let ha2 = ha2(alg, method, uri);
    let expected = alg.hex(&[ha1, nonce, nc, cnonce, b"auth", ha2.as_bytes()]);
    let expected = expected.as_bytes();
    // Constant time over the digest; clients may send upper-case hex.
    let matches = expected.len() == response.len()
        && expected
            .iter()
            .zip(response)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()))
            == 0;
    if !matches || sub.is_none() {
        if let Some((ip_key, user_key)) = &lockout_keys {
            let res = store.write(|w| {
                let by_ip = w.incr_window(ip_key, window, 1)?;
                let by_user = w.incr_window(user_key, window, 1)?;
                Ok(by_ip.max(by_user))
            });
            if let Ok(n) = res {
                if n == cfg.lockout_threshold {
                    tracing::warn!(
                        "sipedge auth lockout: source {src} user {user:?} locked out for the rest of a {} s window after {n} failures",
                        cfg.lockout_seconds
                    );
                }
            }
        }
        return Verdict::Challenge {
            stale: false,
            why: "wrong_credentials",
        };
    }
    let Some(unique) = unique else {
        return Verdict::Challenge {
            stale: true,
            why: "stale_nonce",
        };
    };
    // Replay: each (nonce, nc) once, in increasing order, whichever worker sees it. A
    // REGISTER retransmitted because our 200 was lost repeats its count in the same
    // transaction: that one passes (the registrar answers it again and changes nothing),
    // where a request of any other method has its server transaction absorb it first.
    let slot = (unique >> 32) as u32;
    match nonces.use_count(slot, unique as u32, nc_value, txn_hash(msg), !proxy) {
        NcCheck::Fresh | NcCheck::Retransmission => {}
        NcCheck::Replayed => {
            return Verdict::Challenge {
                stale: false,
                why: "replayed_nc",
            }
        }
        NcCheck::Evicted => {
            return Verdict::Challenge {
                stale: true,
                why: "evicted_nonce",
            }
        }
    }
    if cfg.match_from {
        let from_user = msg.from().and_then(|f| f.uri.user).unwrap_or_default();
        if from_user != user.as_bytes() {
            return Verdict::Forbidden("From does not match the authenticated user");
        }
    }
    Verdict::Ok(user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Limits, EMPTY_HEADER};

    fn cfg() -> AuthConfig {
        AuthConfig {
            realm: "example.com".into(),
            algorithms: vec![Alg::Sha256, Alg::Md5],
            nonce_ttl: 300,
            secret: b"0123456789abcdef0123".to_vec(),
            match_from: true,
            lockout_threshold: 0,
            lockout_seconds: 300,
        }
    }

    #[test]
    fn rfc_2617_style_vector() {
        // The HA1 of the RFC 2617 §3.5 example user.
        assert_eq!(
            ha1(Alg::Md5, "Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    fn request(user: &str, nonce: &str, nc: &str, password: &str, alg: Alg) -> String {
        request_as("REGISTER", user, nonce, nc, password, alg)
    }

    fn request_as(
        method: &str,
        user: &str,
        nonce: &str,
        nc: &str,
        password: &str,
        alg: Alg,
    ) -> String {
        let c = cfg();
        let uri = "sip:example.com";
        let h1 = ha1(alg, user, &c.realm, password);
        let resp = response(alg, &h1, nonce, nc, "xyz", method, uri);
        let header = if method == "REGISTER" {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:{user}@example.com>;tag=1\r\nTo: <sip:{user}@example.com>\r\nCall-ID: a\r\nCSeq: 1 {method}\r\n{header}: Digest username=\"{user}\", realm=\"example.com\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={}, qop=auth, nc={nc}, cnonce=\"xyz\"\r\nContent-Length: 0\r\n\r\n",
            alg.name()
        )
    }

    fn check(store: &Store, t: &NonceTable, text: &str, now: u64) -> Verdict {
        check_from(&cfg(), store, t, text, "192.0.2.1", now)
    }

    /// [`verify`] of `text` under `c`, sent from `src`.
    fn check_from(
        c: &AuthConfig,
        store: &Store,
        t: &NonceTable,
        text: &str,
        src: &str,
        now: u64,
    ) -> Verdict {
        let mut h = [EMPTY_HEADER; 32];
        let m = Message::parse(text.as_bytes(), &mut h, &Limits::DEFAULT).unwrap();
        verify(c, &c.secret, store, t, &m, src.parse().unwrap(), now)
    }

    #[test]
    fn verify_replay_stale_and_unknown() {
        let dir = std::env::temp_dir().join(format!("sipedge-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 64).unwrap();
        store
            .put_subscriber(&subscriber("alice", "example.com", "secret"))
            .unwrap();
        let c = cfg();
        let t = NonceTable::new(1024).unwrap();
        t.issue(0, 7);
        let n = nonce(&c, &c.secret, 1000, 7);
        for alg in [Alg::Sha256, Alg::Md5] {
            let slot = alg as u32 + 1;
            t.issue(slot, 5);
            let n = nonce(&c, &c.secret, 1000, nonce_unique(slot, 5));
            assert_eq!(
                check(
                    &store,
                    &t,
                    &request("alice", &n, "00000001", "secret", alg),
                    1010
                ),
                Verdict::Ok("alice".into())
            );
            // The same request again: a retransmission of the REGISTER, answered again.
            assert_eq!(
                check(
                    &store,
                    &t,
                    &request("alice", &n, "00000001", "secret", alg),
                    1011
                ),
                Verdict::Ok("alice".into())
            );
            // The same nc in another transaction: a replay.
            assert!(matches!(
                check(
                    &store,
                    &t,
                    &request("alice", &n, "00000001", "secret", alg)
                        .replace("z9hG4bK1", "z9hG4bK2"),
                    1011
                ),
                Verdict::Challenge {
                    why: "replayed_nc",
                    ..
                }
            ));
            assert_eq!(
                check(
                    &store,
                    &t,
                    &request("alice", &n, "00000002", "secret", alg),
                    1012
                ),
                Verdict::Ok("alice".into())
            );
        }
        // Wrong password and unknown user look the same.
        let wrong = check(
            &store,
            &t,
            &request("alice", &n, "00000009", "guess", Alg::Md5),
            1013,
        );
        let unknown = check(
            &store,
            &t,
            &request("mallory", &n, "00000009", "guess", Alg::Md5),
            1013,
        );
        assert_eq!(
            wrong,
            Verdict::Challenge {
                stale: false,
                why: "wrong_credentials"
            }
        );
        assert_eq!(wrong, unknown);
        // Old nonce, right password: stale.
        assert_eq!(
            check(
                &store,
                &t,
                &request("alice", &n, "00000010", "secret", Alg::Md5),
                1000 + 301
            ),
            Verdict::Challenge {
                stale: true,
                why: "stale_nonce"
            }
        );
        // A forged nonce.
        let forged = format!("{:016x}{:016x}{:016x}", 1000, 7, 42);
        assert!(matches!(
            check(
                &store,
                &t,
                &request("alice", &forged, "00000001", "secret", Alg::Md5),
                1010
            ),
            Verdict::Challenge {
                why: "bad_nonce",
                ..
            }
        ));
        let ch = String::from_utf8(challenge(&c, &c.secret, false, true, 5, 1)).unwrap();
        assert!(
            ch.starts_with("WWW-Authenticate: Digest realm=\"example.com\", nonce=\""),
            "{ch}"
        );
        assert!(
            ch.contains("algorithm=SHA-256, qop=\"auth\", stale=true\r\n"),
            "{ch}"
        );
        assert_eq!(ch.lines().count(), 2);
    }

    fn temp_store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("sipedge-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 64).unwrap();
        store
            .put_subscriber(&subscriber("alice", "example.com", "secret"))
            .unwrap();
        store
    }

    #[test]
    fn challenge_text() {
        let c = cfg();
        for (proxy, stale) in [(false, false), (false, true), (true, false), (true, true)] {
            let n = nonce(&c, &c.secret, 5, 1);
            let name = if proxy {
                "Proxy-Authenticate"
            } else {
                "WWW-Authenticate"
            };
            let tail = if stale { ", stale=true" } else { "" };
            let want = format!(
                "{name}: Digest realm=\"example.com\", nonce=\"{n}\", algorithm=SHA-256, qop=\"auth\"{tail}\r\n\
                 {name}: Digest realm=\"example.com\", nonce=\"{n}\", algorithm=MD5, qop=\"auth\"{tail}\r\n"
            );
            assert_eq!(
                String::from_utf8(challenge(&c, &c.secret, proxy, stale, 5, 1)).unwrap(),
                want
            );
        }
    }

    #[test]
    fn only_a_register_may_repeat_its_count_and_a_reissued_slot_makes_the_nonce_stale() {
        let store = temp_store("retrans");
        let t = NonceTable::new(1024).unwrap();
        let c = cfg();
        t.issue(9, 77);
        let n = nonce(&c, &c.secret, 1000, nonce_unique(9, 77));
        // An INVITE sent twice with the same count: its server transaction absorbs a real
        // retransmission before authentication, so here it is a replay.
        let invite = request_as("INVITE", "alice", &n, "00000001", "secret", Alg::Md5);
        assert_eq!(
            check(&store, &t, &invite, 1001),
            Verdict::Ok("alice".into())
        );
        assert_eq!(
            check(&store, &t, &invite, 1001),
            Verdict::Challenge {
                stale: false,
                why: "replayed_nc"
            }
        );
        // A REGISTER retransmitted (our 200 lost) repeats its count in the same transaction:
        // it passes, and the registrar answers it again.
        let reg = request("alice", &n, "00000002", "secret", Alg::Md5);
        assert_eq!(check(&store, &t, &reg, 1001), Verdict::Ok("alice".into()));
        assert_eq!(check(&store, &t, &reg, 1001), Verdict::Ok("alice".into()));
        // Another challenge took the slot: the nonce is stale, right password or not.
        t.issue(9, 78);
        let next = request("alice", &n, "00000003", "secret", Alg::Md5);
        assert_eq!(
            check(&store, &t, &next, 1001),
            Verdict::Challenge {
                stale: true,
                why: "evicted_nonce"
            }
        );
        // A nonce whose slot is past the table (a smaller table since it was issued).
        let far = nonce(&c, &c.secret, 1000, nonce_unique(5000, 77));
        assert_eq!(
            check(
                &store,
                &t,
                &request("alice", &far, "00000001", "secret", Alg::Md5),
                1001
            ),
            Verdict::Challenge {
                stale: true,
                why: "evicted_nonce"
            }
        );
        // Wrong credentials on a live nonce raise nothing: the right ones still pass.
        t.issue(10, 1);
        let n = nonce(&c, &c.secret, 1000, nonce_unique(10, 1));
        let wrong = request("alice", &n, "00000001", "guess", Alg::Md5);
        assert!(matches!(
            check(&store, &t, &wrong, 1001),
            Verdict::Challenge {
                why: "wrong_credentials",
                ..
            }
        ));
        let right = request("alice", &n, "00000001", "secret", Alg::Md5);
        assert_eq!(check(&store, &t, &right, 1001), Verdict::Ok("alice".into()));
    }

    #[test]
    fn upper_case_response_and_lockout() {
        let store = temp_store("lockout");
        let t = NonceTable::new(1024).unwrap();
        t.issue(0, 3);
        let c = cfg();
        let n = nonce(&c, &c.secret, 1000, 3);
        let text = request("alice", &n, "00000001", "secret", Alg::Sha256);
        let h1 = ha1(Alg::Sha256, "alice", "example.com", "secret");
        let resp = response(
            Alg::Sha256,
            &h1,
            &n,
            "00000001",
            "xyz",
            "REGISTER",
            "sip:example.com",
        );
        assert!(text.contains(&resp));
        let upper = text.replace(&resp, &resp.to_ascii_uppercase());
        assert_eq!(check(&store, &t, &upper, 1001), Verdict::Ok("alice".into()));
        // One digit short: wrong.
        let short = text.replace(&resp, &resp[1..]);
        assert!(matches!(
            check(&store, &t, &short, 1001),
            Verdict::Challenge {
                why: "wrong_credentials",
                ..
            }
        ));

        let mut lc = cfg();
        lc.lockout_threshold = 2;
        let run = |nc: &str, password: &str| {
            let text = request("alice", &n, nc, password, Alg::Md5);
            check_from(&lc, &store, &t, &text, "192.0.2.9", 1002)
        };
        // A success with lockout on only reads the failure counters: no records appear.
        assert_eq!(run("00000002", "secret"), Verdict::Ok("alice".into()));
        for key in ["authfail/ip/192.0.2.9", "authfail/user/alice"] {
            assert_eq!(store.get_window(key.as_bytes()).unwrap(), None, "{key}");
        }
        for _ in 0..2 {
            assert!(matches!(
                run("00000005", "guess"),
                Verdict::Challenge {
                    why: "wrong_credentials",
                    ..
                }
            ));
        }
        assert_eq!(run("00000005", "secret"), Verdict::Forbidden("Locked Out"));
    }

    #[test]
    fn a_hostile_user_name_cannot_roll_back_the_batch() {
        let store = temp_store("long-user");
        let t = NonceTable::new(1024).unwrap();
        t.issue(0, 3);
        let mut lc = cfg();
        lc.lockout_threshold = 5;
        let n = nonce(&lc, &lc.secret, 1000, 3);
        let long = "u".repeat(600);
        let verify_as = |user: &str| {
            let text = request(user, &n, "00000001", "guess", Alg::Md5);
            check_from(&lc, &store, &t, &text, "192.0.2.9", 1002)
        };
        // A neighbour's write, then the hostile request, in one group: the group commits.
        store.begin_batch();
        store.write(|w| w.incr(b"neighbour", 1)).unwrap();
        assert!(matches!(
            verify_as(&long),
            Verdict::Challenge {
                why: "wrong_credentials",
                ..
            }
        ));
        assert_eq!(store.end_batch().unwrap(), 3);
        assert_eq!(store.get_counter(b"neighbour").unwrap(), 1);
        // The failure was counted, under a key that stands for the whole name.
        let key = lockout_user_key(&long);
        assert!(key.len() < 300, "{}", key.len());
        assert_eq!(store.get_window(&key).unwrap().map(|w| w.1), Some(1));
        assert_ne!(key, lockout_user_key(&format!("{long}x")));
        assert_eq!(lockout_user_key("alice"), b"authfail/user/alice");
        // The cut key is stable across builds and Rust releases (it is stored): FNV-1a of
        // the whole name, computed independently of this code.
        let a300 = "a".repeat(300);
        let want = format!("authfail/user/{}#ee7717eba7a17e21", &a300[..200]);
        assert_eq!(lockout_user_key(&a300), want.as_bytes());
    }

    #[test]
    fn hex_vectors() {
        assert_eq!(
            Alg::Md5.hex(&[b"abc"]).as_bytes(),
            b"900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            Alg::Sha256.hex(&[b"abc"]).string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Parts are joined by ':'.
        assert_eq!(
            Alg::Md5.hex(&[b"a", b"", b"bc"]).as_bytes(),
            Alg::Md5.hex(&[b"a::bc"]).as_bytes()
        );
        // Every byte value, against the formatter.
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(32) {
            let want: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(Hex::encode(chunk).string(), want);
        }
    }

    #[test]
    fn cached_ha2_follows_algorithm_method_and_uri() {
        let cases: [(Alg, &[u8], &[u8]); 6] = [
            (Alg::Md5, b"REGISTER", b"sip:example.com"),
            (Alg::Md5, b"REGISTER", b"sip:example.com"),
            (Alg::Sha256, b"REGISTER", b"sip:example.com"),
            (Alg::Md5, b"INVITE", b"sip:example.com"),
            (Alg::Md5, b"INVITE", b"sip:bob@example.com"),
            (Alg::Md5, b"REGISTER", b"sip:example.com"),
        ];
        for (alg, method, uri) in cases {
            let want = alg.hex(&[method, uri]);
            assert_eq!(ha2(alg, method, uri).as_bytes(), want.as_bytes());
        }
        // Method and URI are two parts: moving the boundary changes the key, not the text
        // hashed, and the answer is still the digest of what was asked.
        assert_eq!(
            ha2(Alg::Md5, b"REGISTER:sip", b"x").as_bytes(),
            Alg::Md5.hex(&[b"REGISTER:sip:x"]).as_bytes()
        );
    }

    /// The nonce built independently: the key by its definition (SHA-256 of label and
    /// secret), the MAC by std's SipHash-2-4, the text by a plain base64url encoder.
    #[allow(deprecated)]
    fn reference_nonce(secret: &[u8], realm: &str, ts: u64, unique: u64) -> String {
        use std::hash::Hasher;
        let key = Sha256::digest([b"sipedge nonce mac v2\0".as_slice(), secret].concat());
        let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
        let k1 = u64::from_le_bytes(key[8..16].try_into().unwrap());
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(&ts.to_be_bytes());
        h.write(&unique.to_be_bytes());
        h.write(realm.as_bytes());
        let mut raw = ts.to_be_bytes()[3..].to_vec();
        raw.extend_from_slice(&unique.to_be_bytes());
        raw.extend_from_slice(&h.finish().to_be_bytes());
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bits: String = raw.iter().map(|b| format!("{b:08b}")).collect();
        (0..bits.len() / 6)
            .map(|i| {
                let d = usize::from_str_radix(&bits[6 * i..6 * i + 6], 2).unwrap();
                alphabet.as_bytes()[d] as char
            })
            .collect()
    }

    #[test]
    fn nonce_format_and_round_trip() {
        let c = cfg();
        let mut other = cfg();
        other.secret = b"another secret, another key".to_vec();
        let max_ts = (1u64 << 40) - 1;
        for (now, unique) in [
            (1000, 7),
            (0, 0),
            (max_ts, u64::MAX),
            (1_800_000_000, 1 << 40),
        ] {
            for k in [&c, &other, &c] {
                let n = nonce(k, &k.secret, now, unique);
                assert_eq!(n, reference_nonce(&k.secret, &k.realm, now, unique));
                assert_eq!(n.len(), 28);
                assert!(matches!(
                    check_nonce(k, &k.secret, n.as_bytes(), now),
                    NonceCheck::Fresh(u) if u == unique
                ));
            }
            // Another secret does not verify it.
            let n = nonce(&c, &c.secret, now, unique);
            assert!(matches!(
                check_nonce(&other, &other.secret, n.as_bytes(), now),
                NonceCheck::Bad
            ));
        }
        let n = nonce(&c, &c.secret, 1000, 7);
        assert!(matches!(
            check_nonce(&c, &c.secret, n.as_bytes(), 1000 + 301),
            NonceCheck::Stale
        ));
        // From the future (beyond 5 s of clock skew between workers): not ours.
        assert!(matches!(
            check_nonce(&c, &c.secret, n.as_bytes(), 1000 - 6),
            NonceCheck::Bad
        ));
        // Any character changed, to another digit or to a non-digit: not ours.
        for i in 0..n.len() {
            for sub in [b'A', b'z', b'-', b'=', b'"'] {
                let mut changed = n.clone().into_bytes();
                if changed[i] == sub {
                    continue;
                }
                changed[i] = sub;
                assert!(
                    matches!(check_nonce(&c, &c.secret, &changed, 1000), NonceCheck::Bad),
                    "{}",
                    String::from_utf8_lossy(&changed)
                );
            }
        }
        for cut in [&n.as_bytes()[..27], &n.as_bytes()[1..], b"".as_slice()] {
            assert!(matches!(
                check_nonce(&c, &c.secret, cut, 1000),
                NonceCheck::Bad
            ));
        }
        let longer = format!("{n}A");
        assert!(matches!(
            check_nonce(&c, &c.secret, longer.as_bytes(), 1000),
            NonceCheck::Bad
        ));
        // The old format (48 hex digits) is not accepted: a new challenge follows.
        let old = format!("{:016x}{:016x}{:016x}", 1000, 7, 12345);
        assert!(matches!(
            check_nonce(&c, &c.secret, old.as_bytes(), 1000),
            NonceCheck::Bad
        ));
    }
}
