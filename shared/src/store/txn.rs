//! Transactions: [`Reader`] (one read txn) and [`Writer`] (one write txn), the key layouts
//! and the per-table operations. `Store`'s single-op methods wrap these.

use std::cell::Cell;
use std::path::PathBuf;

use lmdb::{Cursor, Database, RoTransaction, RwCursor, RwTransaction, Transaction, WriteFlags};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::types::{wire, Ban, Binding, BindingRef, DestState, DigestSecret, Ha1Kind, Subscriber};

/// LMDB's default maximum key size in bytes. A binding's key is the AOR, a NUL and the
/// Contact: callers check that it fits before a write that would otherwise fail (and, in a
/// group commit, roll back the whole group).
pub const MAX_KEY: usize = 511;

pub(super) const REGISTRATIONS: &str = "registrations";
pub(super) const SUBSCRIBERS: &str = "subscribers";
pub(super) const COUNTERS: &str = "counters";
pub(super) const BANS: &str = "bans";
pub(super) const PROFILES: &str = "profiles";
pub(super) const DISPATCHER: &str = "dispatcher";

/// Every table, in creation order.
pub(super) const TABLES: [&str; 6] = [
    REGISTRATIONS,
    SUBSCRIBERS,
    COUNTERS,
    BANS,
    PROFILES,
    DISPATCHER,
];

thread_local! {
    /// Key and value bytes of the put being made (and scan prefixes), reused so that the
    /// registrar's put and scan allocate nothing.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer, empty; a nested call gets a new buffer.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    let out = f(&mut buf);
    // Not kept when a huge record grew it.
    if buf.capacity() <= 64 * 1024 {
        let _ = SCRATCH.try_with(|s| s.set(buf));
    }
    out
}

/// The opened table handles.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tables {
    pub(super) registrations: Database,
    pub(super) subscribers: Database,
    pub(super) counters: Database,
    pub(super) bans: Database,
    pub(super) profiles: Database,
    pub(super) dispatcher: Database,
}

/// What error messages need to say where they come from.
#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub(super) path: PathBuf,
    pub(super) map_size_mb: usize,
}

impl Ctx {
    pub(super) fn lmdb(&self, op: &'static str, table: &'static str, e: lmdb::Error) -> StoreError {
        if e == lmdb::Error::MapFull {
            StoreError::MapFull {
                path: self.path.clone(),
                op,
                table,
                map_size_mb: self.map_size_mb,
            }
        } else {
            StoreError::Lmdb {
                path: self.path.clone(),
                op,
                table,
                source: e,
            }
        }
    }

    fn invalid_key(&self, table: &'static str, key: &[u8], reason: &'static str) -> StoreError {
        StoreError::InvalidKey {
            path: self.path.clone(),
            table,
            key: key_text(key),
            reason,
        }
    }

    fn decode_err(&self, table: &'static str, key: &[u8], message: String) -> StoreError {
        StoreError::Decode {
            path: self.path.clone(),
            table,
            key: key_text(key),
            message,
        }
    }

    fn encode<V: Serialize>(&self, table: &'static str, v: &V) -> Result<Vec<u8>, StoreError> {
        rmp_serde::to_vec_named(v).map_err(|e| self.encode_err(table, e.to_string()))
    }

    fn encode_err(&self, table: &'static str, message: String) -> StoreError {
        StoreError::Encode {
            path: self.path.clone(),
            table,
            message,
        }
    }

    fn decode<V: DeserializeOwned>(
        &self,
        table: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<V, StoreError> {
        rmp_serde::from_slice(bytes).map_err(|e| self.decode_err(table, key, e.to_string()))
    }

    /// A single-component key: non-empty, at most [`MAX_KEY`] bytes.
    fn key1<'k>(&self, table: &'static str, key: &'k [u8]) -> Result<&'k [u8], StoreError> {
        if key.is_empty() {
            Err(self.invalid_key(table, key, "empty key"))
        } else if key.len() > MAX_KEY {
            Err(self.invalid_key(table, key, "longer than 511 bytes"))
        } else {
            Ok(key)
        }
    }

    /// `a \0 b`: `a` non-empty without NUL, `b` non-empty, at most [`MAX_KEY`] bytes in all.
    fn key2(&self, table: &'static str, a: &str, b: &str) -> Result<Vec<u8>, StoreError> {
        let mut key = Vec::with_capacity(a.len() + b.len() + 1);
        self.key2_into(table, a, b, &mut key)?;
        Ok(key)
    }

    /// [`Ctx::key2`] written into the empty `key`.
    fn key2_into(
        &self,
        table: &'static str,
        a: &str,
        b: &str,
        key: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        self.prefix_into(table, a, key)?;
        key.extend_from_slice(b.as_bytes());
        if b.is_empty() {
            Err(self.invalid_key(table, key, "empty second component"))
        } else if key.len() > MAX_KEY {
            Err(self.invalid_key(table, key, "longer than 511 bytes"))
        } else {
            Ok(())
        }
    }

    /// `a \0`, the prefix shared by every `key2(a, _)`.
    fn prefix(&self, table: &'static str, a: &str) -> Result<Vec<u8>, StoreError> {
        let mut key = Vec::with_capacity(a.len() + 64);
        self.prefix_into(table, a, &mut key)?;
        Ok(key)
    }

    /// [`Ctx::prefix`] written into the empty `key`.
    fn prefix_into(
        &self,
        table: &'static str,
        a: &str,
        key: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        let bytes = a.as_bytes();
        if bytes.is_empty() {
            return Err(self.invalid_key(table, bytes, "empty first component"));
        }
        if bytes.contains(&0) {
            return Err(self.invalid_key(table, bytes, "NUL byte in first component"));
        }
        if bytes.len() >= MAX_KEY {
            return Err(self.invalid_key(table, bytes, "longer than 511 bytes"));
        }
        key.extend_from_slice(bytes);
        key.push(0);
        Ok(())
    }

    /// `user@domain`; a domain cannot contain `@`, so the key is unambiguous.
    fn subscriber_key(&self, user: &str, domain: &str) -> Result<Vec<u8>, StoreError> {
        let mut key = Vec::with_capacity(user.len() + 1 + domain.len());
        key.extend_from_slice(user.as_bytes());
        key.push(b'@');
        key.extend_from_slice(domain.as_bytes());
        if user.is_empty() || domain.is_empty() {
            return Err(self.invalid_key(SUBSCRIBERS, &key, "empty user or domain"));
        }
        if domain.contains('@') {
            return Err(self.invalid_key(SUBSCRIBERS, &key, "'@' in domain"));
        }
        self.key1(SUBSCRIBERS, &key)?;
        Ok(key)
    }

    /// [`Ctx::subscriber_key`] written into `buf` instead of a new vector.
    fn subscriber_key_in<'b>(
        &self,
        user: &str,
        domain: &str,
        buf: &'b mut [u8; MAX_KEY],
    ) -> Result<&'b [u8], StoreError> {
        let n = user.len() + 1 + domain.len();
        match buf.get_mut(..n) {
            Some(key) if !user.is_empty() && !domain.is_empty() && !domain.contains('@') => {
                let (u, rest) = key.split_at_mut(user.len());
                u.copy_from_slice(user.as_bytes());
                if let Some((at, d)) = rest.split_first_mut() {
                    *at = b'@';
                    d.copy_from_slice(domain.as_bytes());
                }
                Ok(key)
            }
            // An invalid key: the checks again, with their messages (allocating is fine here).
            _ => Err(match self.subscriber_key(user, domain) {
                Err(e) => e,
                Ok(k) => self.invalid_key(SUBSCRIBERS, &k, "longer than 511 bytes"),
            }),
        }
    }
}

/// A key as text for messages, NUL shown as `\0`.
fn key_text(key: &[u8]) -> String {
    String::from_utf8_lossy(key).replace('\0', "\\0")
}

fn u64_le(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_le_bytes)
}

fn i64_le(bytes: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(bytes).ok().map(i64::from_le_bytes)
}

/// `(window start, count)` of a windowed counter value.
fn window_le(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.len() != 16 {
        return None;
    }
    let start = u64_le(bytes.get(..8)?)?;
    let count = u64_le(bytes.get(8..)?)?;
    Some((start, count))
}

/// `f` on the binding record `bytes` (of `key`): decoded by hand when it has the shape this
/// version writes, else by rmp_serde, so any record it accepted still decodes.
fn with_binding<R>(
    cx: &Ctx,
    key: &[u8],
    bytes: &[u8],
    f: impl FnOnce(&BindingRef<'_>) -> R,
) -> Result<R, StoreError> {
    if let Some(b) = wire::decode(bytes) {
        return Ok(f(&b));
    }
    let owned: Binding = cx.decode(REGISTRATIONS, key, bytes)?;
    Ok(f(&owned.borrowed()))
}

/// Calls `f` on up to `limit` entries whose key starts with `prefix` (all entries for an
/// empty prefix), in key order, until `f` returns false. Moves the cursor itself: lmdb's
/// iterator reads the first entry twice (a seek, then "get current").
fn cursor_scan<'txn>(
    cursor: &impl Cursor<'txn>,
    cx: &Ctx,
    table: &'static str,
    prefix: &[u8],
    limit: usize,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    if limit == 0 {
        return Ok(());
    }
    let (mut key, mut op) = if prefix.is_empty() {
        (None, lmdb_sys::MDB_FIRST)
    } else {
        (Some(prefix), lmdb_sys::MDB_SET_RANGE)
    };
    let mut seen = 0usize;
    loop {
        let (k, v) = match cursor.get(key, None, op) {
            Ok((Some(k), v)) => (k, v),
            Ok((None, _)) | Err(lmdb::Error::NotFound) => return Ok(()),
            Err(e) => return Err(cx.lmdb("scan", table, e)),
        };
        if !k.starts_with(prefix) {
            return Ok(());
        }
        if !f(k, v)? {
            return Ok(());
        }
        seen += 1;
        if seen >= limit {
            return Ok(());
        }
        (key, op) = (None, lmdb_sys::MDB_NEXT);
    }
}

/// What one slice of a sweep found: the keys it picked, and where the next slice starts.
pub(super) type SweepSlice = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// A binding's `expires_at` and `flags`: the hand reader first, serde (skipping the rest)
/// otherwise.
fn binding_skim(cx: &Ctx, key: &[u8], bytes: &[u8]) -> Result<wire::Skim, StoreError> {
    match wire::skim(bytes) {
        Some(s) => Ok(s),
        None => cx.decode(REGISTRATIONS, key, bytes),
    }
}

/// Only the end of a ban.
#[derive(Deserialize, Default)]
#[serde(default)]
struct BanEnd {
    until: u64,
}

/// Read operations over any transaction (read or write).
pub(super) struct View<'a, T: Transaction> {
    txn: &'a T,
    t: &'a Tables,
    cx: &'a Ctx,
}

impl<'a, T: Transaction> View<'a, T> {
    fn get_raw(
        &self,
        table: &'static str,
        db: Database,
        key: &[u8],
    ) -> Result<Option<&'a [u8]>, StoreError> {
        match self.txn.get(db, &key) {
            Ok(v) => Ok(Some(v)),
            Err(lmdb::Error::NotFound) => Ok(None),
            Err(e) => Err(self.cx.lmdb("get", table, e)),
        }
    }

    fn get_rec<V: DeserializeOwned>(
        &self,
        table: &'static str,
        db: Database,
        key: &[u8],
    ) -> Result<Option<V>, StoreError> {
        match self.get_raw(table, db, key)? {
            Some(bytes) => self.cx.decode(table, key, bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Calls `f` on up to `limit` entries whose key starts with `prefix` (all entries for an
    /// empty prefix), in key order.
    fn scan(
        &self,
        table: &'static str,
        db: Database,
        prefix: &[u8],
        limit: usize,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.scan_while(table, db, prefix, limit, |k, v| f(k, v).map(|()| true))
    }

    /// [`View::scan`] that stops as soon as `f` returns false.
    fn scan_while(
        &self,
        table: &'static str,
        db: Database,
        prefix: &[u8],
        limit: usize,
        f: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        if limit == 0 {
            return Ok(());
        }
        let cursor = self
            .txn
            .open_ro_cursor(db)
            .map_err(|e| self.cx.lmdb("open cursor", table, e))?;
        cursor_scan(&cursor, self.cx, table, prefix, limit, f)
    }

    fn entries(&self, table: &'static str, db: Database) -> Result<usize, StoreError> {
        self.txn
            .stat(db)
            .map(|s| s.entries())
            .map_err(|e| self.cx.lmdb("stat", table, e))
    }

    /// Keys (owned) of entries under `prefix` for which `pick(key, value)` holds.
    fn keys_where(
        &self,
        table: &'static str,
        db: Database,
        prefix: &[u8],
        mut pick: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys = Vec::new();
        self.scan(table, db, prefix, usize::MAX, |k, v| {
            if pick(k, v)? {
                keys.push(k.to_vec());
            }
            Ok(())
        })?;
        Ok(keys)
    }

    /// One slice of a sweep over the entries under `prefix`: the keys `pick` chooses among
    /// up to `limit` entries from `from` on (from the prefix's first entry when `from` sorts
    /// before it, e.g. is empty), and the key the next slice starts at (None when no entry
    /// under `prefix` is left). Slices let a sweep of millions of entries run as many short
    /// transactions.
    fn slice_where(
        &self,
        table: &'static str,
        db: Database,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
        mut pick: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<SweepSlice, StoreError> {
        let cursor = self
            .txn
            .open_ro_cursor(db)
            .map_err(|e| self.cx.lmdb("open cursor", table, e))?;
        let start = if from > prefix { from } else { prefix };
        let (mut key, mut op) = if start.is_empty() {
            (None, lmdb_sys::MDB_FIRST)
        } else {
            (Some(start), lmdb_sys::MDB_SET_RANGE)
        };
        let mut picked = Vec::new();
        // At least one entry per slice, so that a sweep always moves on.
        for _ in 0..limit.max(1) {
            let (k, v) = match cursor.get(key, None, op) {
                Ok((Some(k), v)) if k.starts_with(prefix) => (k, v),
                Ok(_) | Err(lmdb::Error::NotFound) => return Ok((picked, None)),
                Err(e) => return Err(self.cx.lmdb("scan", table, e)),
            };
            if pick(k, v)? {
                picked.push(k.to_vec());
            }
            (key, op) = (None, lmdb_sys::MDB_NEXT);
        }
        match cursor.get(None, None, lmdb_sys::MDB_NEXT) {
            Ok((Some(k), _)) if k.starts_with(prefix) => Ok((picked, Some(k.to_vec()))),
            Ok(_) | Err(lmdb::Error::NotFound) => Ok((picked, None)),
            Err(e) => Err(self.cx.lmdb("scan", table, e)),
        }
    }

    // --- registrations ---

    /// One slice of the expiry sweep: the keys of expired bindings among the `limit`
    /// bindings from `from` on (from the first when empty), and the key the next slice
    /// starts at (None when this slice reached the end of the table).
    pub(super) fn expired_bindings_slice(
        &self,
        from: &[u8],
        limit: usize,
        now: u64,
    ) -> Result<SweepSlice, StoreError> {
        let cx = self.cx;
        self.slice_where(
            REGISTRATIONS,
            self.t.registrations,
            &[],
            from,
            limit,
            |k, v| Ok(binding_skim(cx, k, v)?.expires_at <= now),
        )
    }

    fn with_binding<R>(
        &self,
        key: &[u8],
        bytes: &[u8],
        f: impl FnOnce(&BindingRef<'_>) -> R,
    ) -> Result<R, StoreError> {
        with_binding(self.cx, key, bytes, f)
    }

    pub(super) fn for_each_binding(
        &self,
        aor: &str,
        mut f: impl FnMut(&BindingRef<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        with_scratch(|prefix| {
            self.cx.prefix_into(REGISTRATIONS, aor, prefix)?;
            self.scan(
                REGISTRATIONS,
                self.t.registrations,
                prefix,
                usize::MAX,
                |k, v| self.with_binding(k, v, &mut f)?,
            )
        })
    }

    pub(super) fn bindings(&self, aor: &str) -> Result<Vec<Binding>, StoreError> {
        let mut out = Vec::new();
        self.for_each_binding(aor, |b| {
            out.push(b.to_binding());
            Ok(())
        })?;
        Ok(out)
    }

    pub(super) fn binding(&self, aor: &str, contact: &str) -> Result<Option<Binding>, StoreError> {
        let key = self.cx.key2(REGISTRATIONS, aor, contact)?;
        match self.get_raw(REGISTRATIONS, self.t.registrations, &key)? {
            Some(bytes) => self.with_binding(&key, bytes, |b| b.to_binding()).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn count_bindings(&self) -> Result<usize, StoreError> {
        self.entries(REGISTRATIONS, self.t.registrations)
    }

    /// One slice of a sweep over the live bindings that have one of the `flags` bits (the
    /// NAT keep-alives): reads up to `limit` bindings from `from` on (from the first when
    /// empty); `f` gets each one whose key `mine` accepts, whose flags match and that has
    /// not expired by `now`. Only those are decoded; the rest cost a key check and a skim
    /// of two numbers. Returns where the next slice starts (None: the end of the table).
    pub(super) fn flagged_bindings_slice(
        &self,
        from: &[u8],
        limit: usize,
        flags: u32,
        now: u64,
        mut mine: impl FnMut(&[u8]) -> bool,
        mut f: impl FnMut(&BindingRef<'_>),
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let cx = self.cx;
        let (_, next) = self.slice_where(
            REGISTRATIONS,
            self.t.registrations,
            &[],
            from,
            limit,
            |k, v| {
                if !mine(k) {
                    return Ok(false);
                }
                let s = binding_skim(cx, k, v)?;
                if s.flags & flags != 0 && s.expires_at > now {
                    self.with_binding(k, v, &mut f)?;
                }
                Ok(false)
            },
        )?;
        Ok(next)
    }

    pub(super) fn all_bindings(&self, limit: usize) -> Result<Vec<Binding>, StoreError> {
        let mut out = Vec::new();
        self.scan(REGISTRATIONS, self.t.registrations, &[], limit, |k, v| {
            out.push(self.with_binding(k, v, |b| b.to_binding())?);
            Ok(())
        })?;
        Ok(out)
    }

    // --- subscribers ---

    pub(super) fn get_subscriber(
        &self,
        user: &str,
        domain: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let key = self.cx.subscriber_key(user, domain)?;
        self.get_rec(SUBSCRIBERS, self.t.subscribers, &key)
    }

    pub(super) fn digest_secret(
        &self,
        user: &str,
        domain: &str,
        kind: Ha1Kind,
    ) -> Result<Option<DigestSecret>, StoreError> {
        let mut buf = [0u8; MAX_KEY];
        let key = self.cx.subscriber_key_in(user, domain, &mut buf)?;
        let Some(bytes) = self.get_raw(SUBSCRIBERS, self.t.subscribers, key)? else {
            return Ok(None);
        };
        let f = match wire::secret(bytes) {
            Some(f) => f,
            None => rmp_serde::from_slice::<wire::Secret<'_>>(bytes)
                .map_err(|e| self.cx.decode_err(SUBSCRIBERS, key, e.to_string()))?,
        };
        let ha1 = match kind {
            Ha1Kind::Md5 => f.ha1_md5,
            Ha1Kind::Sha256 => f.ha1_sha256,
        };
        DigestSecret::new(ha1.as_bytes(), f.password.map(str::to_owned), f.disabled)
            .map(Some)
            .ok_or_else(|| {
                self.cx.decode_err(
                    SUBSCRIBERS,
                    key,
                    format!("HA1 of {} characters (at most 64)", ha1.len()),
                )
            })
    }

    pub(super) fn list_subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
        let mut out = Vec::new();
        self.scan(SUBSCRIBERS, self.t.subscribers, &[], limit, |k, v| {
            out.push(self.cx.decode(SUBSCRIBERS, k, v)?);
            Ok(())
        })?;
        Ok(out)
    }

    // --- counters ---

    pub(super) fn get_counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        let key = self.cx.key1(COUNTERS, key)?;
        match self.get_raw(COUNTERS, self.t.counters, key)? {
            None => Ok(0),
            Some(bytes) => u64_le(bytes).ok_or_else(|| {
                self.cx.decode_err(
                    COUNTERS,
                    key,
                    format!(
                        "expected an 8-byte counter, found {} bytes (a windowed counter?)",
                        bytes.len()
                    ),
                )
            }),
        }
    }

    pub(super) fn get_window(&self, key: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
        let key = self.cx.key1(COUNTERS, key)?;
        match self.get_raw(COUNTERS, self.t.counters, key)? {
            None => Ok(None),
            Some(bytes) => window_le(bytes).map(Some).ok_or_else(|| {
                self.cx.decode_err(
                    COUNTERS,
                    key,
                    format!(
                        "expected a 16-byte windowed counter, found {} bytes",
                        bytes.len()
                    ),
                )
            }),
        }
    }

    // --- bans ---

    pub(super) fn get_ban(&self, ip: &str) -> Result<Option<Ban>, StoreError> {
        let key = self.cx.key1(BANS, ip.as_bytes())?;
        self.get_rec(BANS, self.t.bans, key)
    }

    pub(super) fn is_banned(&self, ip: &str, now: u64) -> Result<bool, StoreError> {
        let key = self.cx.key1(BANS, ip.as_bytes())?;
        match self.get_raw(BANS, self.t.bans, key)? {
            None => Ok(false),
            Some(bytes) => {
                let end: BanEnd = self.cx.decode(BANS, key, bytes)?;
                Ok(now < end.until)
            }
        }
    }

    pub(super) fn list_bans(&self, limit: usize) -> Result<Vec<Ban>, StoreError> {
        let mut out = Vec::new();
        self.scan(BANS, self.t.bans, &[], limit, |k, v| {
            out.push(self.cx.decode(BANS, k, v)?);
            Ok(())
        })?;
        Ok(out)
    }

    // --- profiles ---

    fn decode_i64(&self, table: &'static str, key: &[u8], bytes: &[u8]) -> Result<i64, StoreError> {
        i64_le(bytes).ok_or_else(|| {
            self.cx.decode_err(
                table,
                key,
                format!("expected 8 bytes, found {}", bytes.len()),
            )
        })
    }

    pub(super) fn profile_count(&self, profile: &str, value: &str) -> Result<i64, StoreError> {
        let key = self.cx.key2(PROFILES, profile, value)?;
        match self.get_raw(PROFILES, self.t.profiles, &key)? {
            None => Ok(0),
            Some(bytes) => self.decode_i64(PROFILES, &key, bytes),
        }
    }

    pub(super) fn profile_values(&self, profile: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let prefix = self.cx.prefix(PROFILES, profile)?;
        let mut out = Vec::new();
        self.scan(PROFILES, self.t.profiles, &prefix, usize::MAX, |k, v| {
            let count = self.decode_i64(PROFILES, k, v)?;
            out.push((self.second_component(PROFILES, k, prefix.len())?, count));
            Ok(())
        })?;
        Ok(out)
    }

    fn second_component(
        &self,
        table: &'static str,
        key: &[u8],
        prefix_len: usize,
    ) -> Result<String, StoreError> {
        let rest = key.get(prefix_len..).unwrap_or_default();
        String::from_utf8(rest.to_vec())
            .map_err(|_| self.cx.decode_err(table, key, "key is not UTF-8".into()))
    }

    // --- dispatcher ---

    pub(super) fn dest_state(&self, set: &str, uri: &str) -> Result<Option<DestState>, StoreError> {
        let key = self.cx.key2(DISPATCHER, set, uri)?;
        self.get_rec(DISPATCHER, self.t.dispatcher, &key)
    }

    pub(super) fn dest_states(&self, set: &str) -> Result<Vec<(String, DestState)>, StoreError> {
        let prefix = self.cx.prefix(DISPATCHER, set)?;
        let mut out = Vec::new();
        self.scan(
            DISPATCHER,
            self.t.dispatcher,
            &prefix,
            usize::MAX,
            |k, v| {
                let state = self.cx.decode(DISPATCHER, k, v)?;
                out.push((self.second_component(DISPATCHER, k, prefix.len())?, state));
                Ok(())
            },
        )?;
        Ok(out)
    }

    // --- all tables ---

    pub(super) fn table_entries(&self) -> Result<[usize; 6], StoreError> {
        let t = self.t;
        Ok([
            self.entries(REGISTRATIONS, t.registrations)?,
            self.entries(SUBSCRIBERS, t.subscribers)?,
            self.entries(COUNTERS, t.counters)?,
            self.entries(BANS, t.bans)?,
            self.entries(PROFILES, t.profiles)?,
            self.entries(DISPATCHER, t.dispatcher)?,
        ])
    }
}

/// One read transaction: a consistent snapshot of every table. Get one from
/// [`super::Store::read`]; keep it short, since an open reader pins old pages and the map
/// cannot reuse them until it ends.
pub struct Reader<'s> {
    txn: RoTransaction<'s>,
    t: &'s Tables,
    cx: &'s Ctx,
}

/// One write transaction. Get one from [`super::Store::write`]; everything done through it
/// commits together when the closure returns `Ok`, and nothing does when it returns `Err`.
/// While it lives every other writer (thread or process) waits, so keep it short: batch the
/// writes of one event-loop turn, do no I/O inside.
pub struct Writer<'w, 's> {
    txn: &'w mut RwTransaction<'s>,
    t: &'w Tables,
    cx: &'w Ctx,
}

impl<'s> Reader<'s> {
    pub(super) fn new(txn: RoTransaction<'s>, t: &'s Tables, cx: &'s Ctx) -> Self {
        Self { txn, t, cx }
    }

    pub(super) fn view(&self) -> View<'_, RoTransaction<'s>> {
        View {
            txn: &self.txn,
            t: self.t,
            cx: self.cx,
        }
    }
}

impl<'w, 's> Writer<'w, 's> {
    pub(super) fn new(txn: &'w mut RwTransaction<'s>, t: &'w Tables, cx: &'w Ctx) -> Self {
        Self { txn, t, cx }
    }

    pub(super) fn view(&self) -> View<'_, RwTransaction<'s>> {
        View {
            txn: &*self.txn,
            t: self.t,
            cx: self.cx,
        }
    }
}

/// The read operations, generated identically on [`Reader`] and [`Writer`].
macro_rules! read_methods {
    () => {
        /// Every binding of `aor`, in contact order.
        pub fn bindings(&self, aor: &str) -> Result<Vec<Binding>, StoreError> {
            self.view().bindings(aor)
        }

        /// `f` on every binding of `aor`, in contact order, without copying them out; an
        /// `Err` from `f` ends the scan and is returned.
        pub fn for_each_binding(
            &self,
            aor: &str,
            f: impl FnMut(&BindingRef<'_>) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            self.view().for_each_binding(aor, f)
        }

        /// The binding of `contact` under `aor`, if any.
        pub fn binding(&self, aor: &str, contact: &str) -> Result<Option<Binding>, StoreError> {
            self.view().binding(aor, contact)
        }

        /// Number of bindings of all AORs (O(1)).
        pub fn count_bindings(&self) -> Result<usize, StoreError> {
            self.view().count_bindings()
        }

        /// One slice of a sweep over live bindings with one of the `flags` bits; see
        /// [`Store::flagged_bindings_slice`].
        pub fn flagged_bindings_slice(
            &self,
            from: &[u8],
            limit: usize,
            flags: u32,
            now: u64,
            mine: impl FnMut(&[u8]) -> bool,
            f: impl FnMut(&BindingRef<'_>),
        ) -> Result<Option<Vec<u8>>, StoreError> {
            self.view()
                .flagged_bindings_slice(from, limit, flags, now, mine, f)
        }

        /// Up to `limit` bindings of all AORs, in key order.
        pub fn all_bindings(&self, limit: usize) -> Result<Vec<Binding>, StoreError> {
            self.view().all_bindings(limit)
        }

        /// The subscriber `user@domain`, if any.
        pub fn get_subscriber(
            &self,
            user: &str,
            domain: &str,
        ) -> Result<Option<Subscriber>, StoreError> {
            self.view().get_subscriber(user, domain)
        }

        /// What a digest check needs of `user@domain` (one HA1, no full record), if any.
        pub fn digest_secret(
            &self,
            user: &str,
            domain: &str,
            kind: Ha1Kind,
        ) -> Result<Option<DigestSecret>, StoreError> {
            self.view().digest_secret(user, domain, kind)
        }

        /// Up to `limit` subscribers, in `user@domain` order.
        pub fn list_subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
            self.view().list_subscribers(limit)
        }

        /// A plain counter's value (0 when missing).
        pub fn get_counter(&self, key: &[u8]) -> Result<u64, StoreError> {
            self.view().get_counter(key)
        }

        /// A windowed counter's `(window start, count)`, if any.
        pub fn get_window(&self, key: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
            self.view().get_window(key)
        }

        /// The ban of `ip`, expired or not, if any.
        pub fn get_ban(&self, ip: &str) -> Result<Option<Ban>, StoreError> {
            self.view().get_ban(ip)
        }

        /// Whether `ip` has a ban with `now < until`.
        pub fn is_banned(&self, ip: &str, now: u64) -> Result<bool, StoreError> {
            self.view().is_banned(ip, now)
        }

        /// Up to `limit` bans, in key order, expired ones included.
        pub fn list_bans(&self, limit: usize) -> Result<Vec<Ban>, StoreError> {
            self.view().list_bans(limit)
        }

        /// The count of `value` in `profile` (0 when missing).
        pub fn profile_count(&self, profile: &str, value: &str) -> Result<i64, StoreError> {
            self.view().profile_count(profile, value)
        }

        /// Every `(value, count)` of `profile` with a non-zero count.
        pub fn profile_values(&self, profile: &str) -> Result<Vec<(String, i64)>, StoreError> {
            self.view().profile_values(profile)
        }

        /// The state of destination `uri` of dispatcher set `set`, if any.
        pub fn dest_state(&self, set: &str, uri: &str) -> Result<Option<DestState>, StoreError> {
            self.view().dest_state(set, uri)
        }

        /// Every `(uri, state)` of dispatcher set `set`, in URI order.
        pub fn dest_states(&self, set: &str) -> Result<Vec<(String, DestState)>, StoreError> {
            self.view().dest_states(set)
        }
    };
}

impl Reader<'_> {
    read_methods!();
}

impl Writer<'_, '_> {
    read_methods!();

    fn put_raw(
        &mut self,
        table: &'static str,
        db: Database,
        key: &[u8],
        val: &[u8],
    ) -> Result<(), StoreError> {
        self.txn
            .put(db, &key, &val, WriteFlags::empty())
            .map_err(|e| self.cx.lmdb("put", table, e))
    }

    fn del_raw(
        &mut self,
        table: &'static str,
        db: Database,
        key: &[u8],
    ) -> Result<bool, StoreError> {
        match self.txn.del(db, &key, None) {
            Ok(()) => Ok(true),
            Err(lmdb::Error::NotFound) => Ok(false),
            Err(e) => Err(self.cx.lmdb("delete", table, e)),
        }
    }

    fn del_keys(
        &mut self,
        table: &'static str,
        db: Database,
        keys: &[Vec<u8>],
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for key in keys {
            if self.del_raw(table, db, key)? {
                n += 1;
            }
        }
        Ok(n)
    }

    // --- registrations ---

    /// Inserts or replaces the binding `(b.aor, b.contact)`.
    pub fn put_binding(&mut self, b: &Binding) -> Result<(), StoreError> {
        self.put_binding_ref(&b.borrowed())
    }

    /// A cursor over the bindings, for the registrar's scan of an AOR followed by its puts:
    /// after the scan the cursor sits on the AOR's leaf page, where LMDB's cursor put looks
    /// first, so a put does not search the tree from its root again. The cursor borrows the
    /// `Writer`: drop it to use the `Writer` again.
    pub fn binding_cursor(&mut self) -> Result<BindingCursor<'_>, StoreError> {
        let cx = self.cx;
        let cursor = self
            .txn
            .open_rw_cursor(self.t.registrations)
            .map_err(|e| cx.lmdb("open cursor", REGISTRATIONS, e))?;
        Ok(BindingCursor { cursor, cx })
    }

    /// [`Writer::put_binding`] of a borrowed binding: the same record.
    pub fn put_binding_ref(&mut self, b: &BindingRef<'_>) -> Result<(), StoreError> {
        with_scratch(|buf| {
            // Key and value share the buffer: `key \0 contact` then the record.
            self.cx.key2_into(REGISTRATIONS, b.aor, b.contact, buf)?;
            let key_len = buf.len();
            wire::encode(b, buf).map_err(|_| {
                self.cx
                    .encode_err(REGISTRATIONS, "a string longer than 4 GiB".into())
            })?;
            let (key, val) = buf.split_at(key_len);
            self.put_raw(REGISTRATIONS, self.t.registrations, key, val)
        })
    }

    /// Deletes one binding; false when there was none.
    pub fn delete_binding(&mut self, aor: &str, contact: &str) -> Result<bool, StoreError> {
        let key = self.cx.key2(REGISTRATIONS, aor, contact)?;
        self.del_raw(REGISTRATIONS, self.t.registrations, &key)
    }

    /// Deletes every binding of `aor`; returns how many.
    pub fn delete_aor(&mut self, aor: &str) -> Result<usize, StoreError> {
        let prefix = self.cx.prefix(REGISTRATIONS, aor)?;
        let db = self.t.registrations;
        let keys = self
            .view()
            .keys_where(REGISTRATIONS, db, &prefix, |_, _| Ok(true))?;
        self.del_keys(REGISTRATIONS, db, &keys)
    }

    /// Deletes those of `keys` whose binding is still expired at `now` (one refreshed since
    /// a sweep read it stays); returns how many.
    pub fn delete_expired_bindings(
        &mut self,
        keys: &[Vec<u8>],
        now: u64,
    ) -> Result<usize, StoreError> {
        let db = self.t.registrations;
        let mut n = 0;
        for key in keys {
            let expired = match self.view().get_raw(REGISTRATIONS, db, key)? {
                Some(v) => binding_skim(self.cx, key, v)?.expires_at <= now,
                None => false,
            };
            if expired && self.del_raw(REGISTRATIONS, db, key)? {
                n += 1;
            }
        }
        Ok(n)
    }

    // --- subscribers ---

    /// Inserts or replaces the subscriber `s.user@s.domain`.
    pub fn put_subscriber(&mut self, s: &Subscriber) -> Result<(), StoreError> {
        let key = self.cx.subscriber_key(&s.user, &s.domain)?;
        let val = self.cx.encode(SUBSCRIBERS, s)?;
        self.put_raw(SUBSCRIBERS, self.t.subscribers, &key, &val)
    }

    /// Deletes the subscriber; false when there was none.
    pub fn delete_subscriber(&mut self, user: &str, domain: &str) -> Result<bool, StoreError> {
        let key = self.cx.subscriber_key(user, domain)?;
        self.del_raw(SUBSCRIBERS, self.t.subscribers, &key)
    }

    // --- counters ---

    /// Adds `delta` to a plain counter (saturating) and returns the new value.
    pub fn incr(&mut self, key: &[u8], delta: u64) -> Result<u64, StoreError> {
        let new = self.view().get_counter(key)?.saturating_add(delta);
        self.put_raw(COUNTERS, self.t.counters, key, &new.to_le_bytes())?;
        Ok(new)
    }

    /// Deletes a counter (plain or windowed); returns the plain value it had (0 when missing
    /// or windowed).
    pub fn reset_counter(&mut self, key: &[u8]) -> Result<u64, StoreError> {
        let key = self.cx.key1(COUNTERS, key)?;
        let old = self
            .view()
            .get_raw(COUNTERS, self.t.counters, key)?
            .and_then(u64_le)
            .unwrap_or(0);
        self.del_raw(COUNTERS, self.t.counters, key)?;
        Ok(old)
    }

    /// Adds `delta` to the count of the window starting at `window_start` and returns the
    /// window's count. A stored older window is replaced (the count restarts at `delta`); if
    /// the stored window is newer than `window_start` (a caller that read the clock just before
    /// a boundary another process already crossed), `delta` counts in the stored window, so
    /// the window never moves backwards. A `delta` of 0 only reads the count (what a check
    /// before the attempt needs): it writes nothing, so checks create no records.
    pub fn incr_window(
        &mut self,
        key: &[u8],
        window_start: u64,
        delta: u64,
    ) -> Result<u64, StoreError> {
        let (start, count) = match self.view().get_window(key)? {
            Some((start, count)) if start >= window_start => (start, count.saturating_add(delta)),
            _ => (window_start, delta),
        };
        if delta == 0 {
            return Ok(count);
        }
        let mut val = [0u8; 16];
        let (a, b) = val.split_at_mut(8);
        a.copy_from_slice(&start.to_le_bytes());
        b.copy_from_slice(&count.to_le_bytes());
        self.put_raw(COUNTERS, self.t.counters, key, &val)?;
        Ok(count)
    }

    /// One slice of the expiry of the counters under `prefix`: deletes those that
    /// `stale(key, value)` picks among up to `limit` from `from` on (see
    /// [`View::slice_where`]); returns how many went and where the next slice starts (None:
    /// the prefix is done). Per-source and per-user windows do not sort by age, so a sweep
    /// reads them all, a slice per write transaction, never holding the writer lock long.
    pub fn delete_counters_slice(
        &mut self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
        mut stale: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(usize, Option<Vec<u8>>), StoreError> {
        let db = self.t.counters;
        let (keys, next) = self
            .view()
            .slice_where(COUNTERS, db, prefix, from, limit, |k, v| Ok(stale(k, v)))?;
        Ok((self.del_keys(COUNTERS, db, &keys)?, next))
    }

    // --- bans ---

    /// Inserts or replaces the ban of `b.ip`.
    pub fn ban(&mut self, b: &Ban) -> Result<(), StoreError> {
        let key = self.cx.key1(BANS, b.ip.as_bytes())?;
        let val = self.cx.encode(BANS, b)?;
        self.put_raw(BANS, self.t.bans, key, &val)
    }

    /// Deletes the ban of `ip`; false when there was none.
    pub fn unban(&mut self, ip: &str) -> Result<bool, StoreError> {
        let key = self.cx.key1(BANS, ip.as_bytes())?;
        self.del_raw(BANS, self.t.bans, key)
    }

    /// Deletes every ban with `until <= now`; returns how many.
    pub fn expire_bans(&mut self, now: u64) -> Result<usize, StoreError> {
        let db = self.t.bans;
        let cx = self.cx;
        let keys = self.view().keys_where(BANS, db, &[], |k, v| {
            let e: BanEnd = cx.decode(BANS, k, v)?;
            Ok(e.until <= now)
        })?;
        self.del_keys(BANS, db, &keys)
    }

    // --- profiles ---

    /// Adds `delta` (may be negative) to the count of `value` in `profile`, never going below
    /// 0, and returns the new count. A count that reaches 0 is deleted.
    pub fn profile_add(
        &mut self,
        profile: &str,
        value: &str,
        delta: i64,
    ) -> Result<i64, StoreError> {
        let key = self.cx.key2(PROFILES, profile, value)?;
        let new = self
            .view()
            .profile_count(profile, value)?
            .saturating_add(delta)
            .max(0);
        if new == 0 {
            self.del_raw(PROFILES, self.t.profiles, &key)?;
        } else {
            self.put_raw(PROFILES, self.t.profiles, &key, &new.to_le_bytes())?;
        }
        Ok(new)
    }

    // --- dispatcher ---

    /// Sets the state of destination `uri` of dispatcher set `set`.
    pub fn set_dest_state(
        &mut self,
        set: &str,
        uri: &str,
        st: &DestState,
    ) -> Result<(), StoreError> {
        let key = self.cx.key2(DISPATCHER, set, uri)?;
        let val = self.cx.encode(DISPATCHER, st)?;
        self.put_raw(DISPATCHER, self.t.dispatcher, &key, &val)
    }

    /// Forgets destination `uri` of set `set`; false when it was not there.
    pub fn delete_dest(&mut self, set: &str, uri: &str) -> Result<bool, StoreError> {
        let key = self.cx.key2(DISPATCHER, set, uri)?;
        self.del_raw(DISPATCHER, self.t.dispatcher, &key)
    }
}

/// The bindings through one write cursor ([`Writer::binding_cursor`]): the same operations
/// as the `Writer` methods of the same names, with the same results.
pub struct BindingCursor<'w> {
    cursor: RwCursor<'w>,
    cx: &'w Ctx,
}

impl BindingCursor<'_> {
    /// [`Writer::for_each_binding`].
    pub fn for_each_binding(
        &self,
        aor: &str,
        mut f: impl FnMut(&BindingRef<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let cx = self.cx;
        with_scratch(|prefix| {
            cx.prefix_into(REGISTRATIONS, aor, prefix)?;
            cursor_scan(
                &self.cursor,
                cx,
                REGISTRATIONS,
                prefix,
                usize::MAX,
                |k, v| with_binding(cx, k, v, &mut f)?.map(|()| true),
            )
        })
    }

    /// [`Writer::put_binding_ref`].
    pub fn put_binding_ref(&mut self, b: &BindingRef<'_>) -> Result<(), StoreError> {
        let cx = self.cx;
        with_scratch(|buf| {
            cx.key2_into(REGISTRATIONS, b.aor, b.contact, buf)?;
            let key_len = buf.len();
            wire::encode(b, buf)
                .map_err(|_| cx.encode_err(REGISTRATIONS, "a string longer than 4 GiB".into()))?;
            let (key, val) = buf.split_at(key_len);
            self.cursor
                .put(&key, &val, WriteFlags::empty())
                .map_err(|e| cx.lmdb("put", REGISTRATIONS, e))
        })
    }

    /// [`Writer::delete_binding`].
    pub fn delete_binding(&mut self, aor: &str, contact: &str) -> Result<bool, StoreError> {
        let cx = self.cx;
        with_scratch(|key| {
            cx.key2_into(REGISTRATIONS, aor, contact, key)?;
            match self.cursor.get(Some(key), None, lmdb_sys::MDB_SET) {
                Ok(_) => {}
                Err(lmdb::Error::NotFound) => return Ok(false),
                Err(e) => return Err(cx.lmdb("delete", REGISTRATIONS, e)),
            }
            self.cursor
                .del(WriteFlags::empty())
                .map_err(|e| cx.lmdb("delete", REGISTRATIONS, e))?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::Store;
    use super::*;

    fn binding<'a>(aor: &'a str, contact: &'a str, expires_at: u64) -> BindingRef<'a> {
        BindingRef {
            aor,
            contact,
            expires_at,
            q: 1000,
            call_id: "cid",
            cseq: 1,
            received: Some("192.0.2.1:5060"),
            transport: "udp",
            worker: 1,
            path: Vec::new(),
            user_agent: "test/1",
            flags: 0,
        }
    }

    /// Scans, puts and deletes through one cursor (in one transaction, through page splits)
    /// agree with a model, and with what plain reads see afterwards.
    #[test]
    fn binding_cursor_matches_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store"), 64).unwrap();
        let mut model: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..4 {
            s.write(|w| {
                for i in 0..1500u64 {
                    let aor = format!("sip:u{}@x", rand() % 700);
                    let contact = format!("sip:c{}@192.0.2.{}", rand() % 3, rand() % 200);
                    let mut cur = w.binding_cursor()?;
                    let mut seen = Vec::new();
                    cur.for_each_binding(&aor, |b| {
                        assert_eq!(b.aor, aor);
                        seen.push((b.contact.to_string(), b.expires_at));
                        Ok(())
                    })?;
                    let want: Vec<(String, u64)> = model
                        .range((aor.clone(), String::new())..)
                        .take_while(|((a, _), _)| *a == aor)
                        .map(|((_, c), &e)| (c.clone(), e))
                        .collect();
                    assert_eq!(seen, want, "round {round} op {i}");
                    if rand() % 5 == 0 {
                        let had = model.remove(&(aor.clone(), contact.clone())).is_some();
                        assert_eq!(cur.delete_binding(&aor, &contact)?, had);
                    } else {
                        let e = round * 10_000 + i;
                        cur.put_binding_ref(&binding(&aor, &contact, e))?;
                        model.insert((aor, contact), e);
                    }
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(s.count_bindings().unwrap(), model.len());
            let all = s.all_bindings(usize::MAX).unwrap();
            let got: Vec<((String, String), u64)> = all
                .into_iter()
                .map(|b| ((b.aor, b.contact), b.expires_at))
                .collect();
            let want: Vec<((String, String), u64)> =
                model.iter().map(|(k, &e)| (k.clone(), e)).collect();
            assert_eq!(got, want);
        }
        // A cursor's put is the plain put's record.
        let b = binding("sip:same@x", "sip:c@192.0.2.1", 5);
        s.write(|w| w.binding_cursor()?.put_binding_ref(&b))
            .unwrap();
        assert_eq!(
            s.binding("sip:same@x", "sip:c@192.0.2.1").unwrap(),
            Some(b.to_binding())
        );
        // Invalid keys are errors, as through the `Writer`.
        let e = s
            .write(|w| {
                w.binding_cursor()?
                    .put_binding_ref(&binding("a\0b", "c", 1))
            })
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidKey { .. }), "{e}");
        assert!(s
            .write(|w| w.binding_cursor()?.delete_binding("a", ""))
            .is_err());
        assert!(s
            .write(|w| w.binding_cursor()?.for_each_binding("", |_| Ok(())))
            .is_err());
    }

    /// An `Err` from the scan's closure ends the scan and is returned.
    #[test]
    fn for_each_binding_stops_at_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store"), 16).unwrap();
        s.write(|w| {
            for c in ["sip:a", "sip:b", "sip:c"] {
                w.put_binding_ref(&binding("sip:x@y", c, 1))?;
            }
            Ok(())
        })
        .unwrap();
        let mut n = 0;
        let r = s.read(|r| {
            r.for_each_binding("sip:x@y", |_| {
                n += 1;
                if n == 2 {
                    Err(StoreError::NestedWrite {
                        path: PathBuf::new(),
                    })
                } else {
                    Ok(())
                }
            })
        });
        assert!(matches!(r, Err(StoreError::NestedWrite { .. })));
        assert_eq!(n, 2);
    }
}
