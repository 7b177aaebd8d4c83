//! The shared store: one LMDB environment that every process (master and workers) opens
//! after fork, holding the state that all workers must see.
//!
//! # What it owns
//!
//! | table           | key                          | value                                  |
//! |-----------------|------------------------------|----------------------------------------|
//! | `registrations` | `aor \0 contact_uri`         | [`Binding`] (MessagePack map)          |
//! | `subscribers`   | `user@domain`                | [`Subscriber`] (MessagePack map)       |
//! | `counters`      | caller's bytes               | `u64` LE (8 bytes), or window start + count, `u64` LE each (16 bytes) |
//! | `bans`          | IP address as text           | [`Ban`] (MessagePack map)              |
//! | `profiles`      | `profile \0 value`           | `i64` LE (8 bytes), absent when 0      |
//! | `dispatcher`    | `set \0 uri`                 | [`DestState`] (MessagePack map)        |
//!
//! The first key component of the `\0`-separated layouts must not contain NUL, so a prefix
//! scan of `aor \0` returns exactly that AOR's bindings. Keys are at most 511 bytes (LMDB's
//! limit); longer or empty keys are rejected with [`StoreError::InvalidKey`]. Records are
//! encoded with `rmp_serde::to_vec_named` and every record struct is `#[serde(default)]`, so
//! fields can be added without a migration (see [`types`]). [`Binding`], on the registrar's
//! path, is written and read by a hand-written codec that produces the same bytes and hands
//! whatever it does not expect to rmp_serde (`types::wire`).
//!
//! # Processes
//!
//! Open the store with [`Store::open`] in each process *after* fork; never use or close a
//! `Store` inherited from the parent. A `Store` remembers the pid that opened it: used in
//! another process it returns [`StoreError::WrongProcess`], and dropped in another process it
//! leaks its handle instead of closing the inherited descriptors. LMDB keeps the state of
//! readers and the writer lock in the `lock.mdb` file, shared by all processes.
//!
//! # One writer at a time
//!
//! LMDB has one global writer lock for the whole environment, across all processes and
//! threads. Every write transaction holds it from begin to commit, so callers batch: a worker
//! gathers the writes of one event-loop turn into one [`Store::write`] call, whose closure gets
//! a [`Writer`] with every table operation; the closure's `Ok` commits them all at once, its
//! `Err` aborts them all. The single-op methods on [`Store`] (`incr`, `put_binding`, ...) each
//! open their own transaction: fine for the master and for tools, a waste in a hot path.
//! Readers never wait for the writer and see a consistent snapshot ([`Store::read`]).
//! Calling [`Store::write`] inside a write closure on the same thread would deadlock and
//! returns [`StoreError::NestedWrite`] instead.
//!
//! Group commit: between [`Store::begin_batch`] and [`Store::end_batch`] every `write` joins
//! one transaction, begun by the first of them and committed by `end_batch`. A worker wraps
//! each batch of datagrams (one `recvmmsg`) in a group and sends the batch's answers only
//! after `end_batch` succeeded, so ten REGISTERs cost one commit, and an answer never
//! announces a write that did not happen. A `Store` is therefore bound to its thread (it is
//! neither `Send` nor `Sync`), as LMDB write transactions are; every process is
//! single-threaded and opens its own.
//!
//! A writer killed inside a write transaction releases the lock (LMDB uses a robust mutex)
//! and its transaction is lost. A reader killed inside a read transaction leaves its slot
//! taken, pinning old pages: the master calls [`Store::reader_check`] when a worker dies.
//!
//! # Durability
//!
//! The environment is opened with `MDB_NOSYNC`: a commit writes the pages but does not
//! `fsync`, so a small commit costs a few µs instead of an fsync's ~0.5 ms. A crash of any *process* loses nothing
//! that was committed (the pages are in the kernel's page cache). A power cut or kernel crash
//! loses the commits the kernel had not yet written back (at most the last few seconds, fewer
//! if the master calls [`Store::sync`] periodically); database integrity is kept as long as
//! the filesystem preserves write order (ext4 `data=ordered`, xfs). For registrations (clients
//! re-register), bans (re-learned), counters and profiles (rebuilt by traffic) that loss is
//! acceptable.
//!
//! `MDB_WRITEMAP` ([`StoreOptions::write_map`], off by default) makes small commits 2-3 times
//! faster, but with `NOSYNC` the kernel may then write the data pages in any order, so a power
//! cut can corrupt the file rather than only lose the last commits. Turn it on only if the
//! store directory is on tmpfs or losing the whole store on power loss is acceptable. All
//! processes must agree on it.
//!
//! `MDB_NOTLS` is set so a read transaction is tied to the [`Reader`], not to the thread.

mod error;
mod ffi;
#[cfg(test)]
mod tests;
mod txn;
pub mod types;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use lmdb::{DatabaseFlags, Environment, EnvironmentFlags, Transaction};
use serde::Serialize;

pub use error::StoreError;
pub use txn::{BindingCursor, Reader, Writer, MAX_KEY};
pub use types::{
    Ban, Binding, BindingRef, DestState, DestStatus, DigestSecret, Ha1Kind, Subscriber,
};

use txn::{Ctx, Tables, TABLES};

/// Named databases the environment may hold (six are used; room to grow).
const MAX_DBS: u32 = 16;

thread_local! {
    /// Set while this thread runs a [`Store::write`] closure.
    static IN_WRITE: Cell<bool> = const { Cell::new(false) };
}

/// How to open the store; [`Store::open`] uses the defaults with the given map size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Maximum size of the data file, in MiB (the map is reserved address space, the file
    /// grows as needed). Default 1024.
    pub map_size_mb: usize,
    /// Reader slots in the lock file, shared by all processes: at least the number of read
    /// transactions open at the same time. Default 1024 (64 KiB of lock file).
    pub max_readers: u32,
    /// Open with `MDB_WRITEMAP` (see the module docs for the durability cost). Default off.
    pub write_map: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            map_size_mb: 1024,
            max_readers: 1024,
            write_map: false,
        }
    }
}

/// Entry counts and map usage, for metrics and `sipedge ctl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStat {
    pub registrations: usize,
    pub subscribers: usize,
    pub counters: usize,
    pub bans: usize,
    pub profiles: usize,
    pub dispatcher: usize,
    /// Size of the map (the most the data file can grow to), in bytes.
    pub map_size: usize,
    /// Page size in bytes.
    pub page_size: u32,
    /// Pages in use (last page number + 1), including free pages not yet reused.
    pub used_pages: usize,
    /// Reader slots ever used (LMDB's high-water mark, not the live count).
    pub readers: u32,
    /// Reader slots available.
    pub max_readers: u32,
}

impl StoreStat {
    /// Bytes of the map in use.
    pub fn used_bytes(&self) -> usize {
        self.used_pages.saturating_mul(self.page_size as usize)
    }
}

/// An open store, used by the thread that opened it (not `Send`, not `Sync`: a group commit
/// holds LMDB's thread-bound write transaction); open one per process, after fork.
pub struct Store {
    /// The open group commit, if any. Declared before `env` and emptied first by `Drop`:
    /// its transaction must end before the environment closes.
    batch: RefCell<Batch>,
    /// `None` only while dropping.
    env: Option<Environment>,
    tables: Tables,
    cx: Ctx,
    pid: u32,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.cx.path)
            .field("map_size_mb", &self.cx.map_size_mb)
            .field("pid", &self.pid)
            .finish()
    }
}

/// A group commit in progress ([`Store::begin_batch`]).
#[derive(Default)]
struct Batch {
    active: bool,
    /// Begun by the group's first write (a group without writes never takes the lock).
    txn: Option<lmdb::RwTransaction<'static>>,
    /// A write of the group failed: the group is rolled back.
    failed: bool,
    /// Writes that joined the group.
    writes: usize,
}

impl Drop for Store {
    fn drop(&mut self) {
        // An open group transaction ends (is aborted) before the environment closes.
        let txn = self.batch.get_mut().txn.take();
        if let Some(env) = self.env.take() {
            if ffi::current_pid() != self.pid {
                std::mem::forget(txn);
                // Inherited across fork: closing would touch the parent's descriptors and
                // reader slots. Leak it; the process image goes away with the child.
                std::mem::forget(env);
                return;
            }
            drop(txn);
        }
    }
}

/// Clears [`IN_WRITE`] when the write closure ends, even by unwinding.
struct WriteGuard;

impl Drop for WriteGuard {
    fn drop(&mut self) {
        IN_WRITE.with(|w| w.set(false));
    }
}

/// Bindings one slice of the expiry sweep reads. Lookups already skip expired bindings; the
/// sweep frees their space and keeps the binding count true. A whole-table scan in one write
/// transaction cost 250 ms of master CPU per pass at 1,000,000 bindings and held the write
/// lock that long (REGISTER 13 µs instead of 8); a slice of 20,000 in a read transaction
/// costs a few ms and blocks nobody.
pub const EXPIRY_SLICE: usize = 20_000;

/// Seconds one expiry pass is spread over when the table is small enough: reading all
/// bindings each second cost the master 3 ms/s at 80,000 bindings (0.4 µs per REGISTER at
/// 8,000/s) for nothing, since lookups skip expired bindings anyway. Kamailio's usrloc
/// timer runs every 60 s by default.
pub const EXPIRY_PASS_SECS: usize = 30;

/// Bindings per one-second slice of a pass over a table of `bindings`: the whole table in
/// [`EXPIRY_PASS_SECS`], at least 1,000 (a small table is swept each second) and at most
/// [`EXPIRY_SLICE`] (a pass over 1,000,000 then takes 50 s).
pub fn expiry_slice(bindings: usize) -> usize {
    bindings
        .div_ceil(EXPIRY_PASS_SECS)
        .clamp(1_000, EXPIRY_SLICE)
}

impl Store {
    /// Opens (creating when missing) the store in `dir` with the default options and a map of
    /// `map_size_mb` MiB.
    pub fn open(dir: &Path, map_size_mb: usize) -> Result<Store, StoreError> {
        Self::open_with(
            dir,
            &StoreOptions {
                map_size_mb,
                ..StoreOptions::default()
            },
        )
    }

    /// Opens (creating when missing) the store in `dir` with `opts`. The directory is created
    /// mode 0700 and the files 0600 (subscribers hold credentials).
    pub fn open_with(dir: &Path, opts: &StoreOptions) -> Result<Store, StoreError> {
        let cx = Ctx {
            path: dir.to_path_buf(),
            map_size_mb: opts.map_size_mb,
        };
        let invalid = |message: String| StoreError::InvalidOption {
            path: dir.to_path_buf(),
            message,
        };
        let map_size = opts
            .map_size_mb
            .checked_mul(1024 * 1024)
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid(format!("invalid map_size_mb = {}", opts.map_size_mb)))?;
        if opts.max_readers == 0 {
            return Err(invalid("max_readers must be at least 1".into()));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        let mut flags = EnvironmentFlags::NO_SYNC | EnvironmentFlags::NO_TLS;
        if opts.write_map {
            flags |= EnvironmentFlags::WRITE_MAP;
        }
        let env = Environment::new()
            .set_flags(flags)
            .set_max_dbs(MAX_DBS)
            .set_max_readers(opts.max_readers)
            .set_map_size(map_size)
            .open_with_permissions(dir, 0o600)
            .map_err(|e| cx.lmdb("open", "", e))?;
        let mut dbs = Vec::with_capacity(TABLES.len());
        for name in TABLES {
            let db = env
                .create_db(Some(name), DatabaseFlags::empty())
                .map_err(|e| cx.lmdb("open table", name, e))?;
            dbs.push(db);
        }
        let tables = match dbs.as_slice() {
            &[registrations, subscribers, counters, bans, profiles, dispatcher] => Tables {
                registrations,
                subscribers,
                counters,
                bans,
                profiles,
                dispatcher,
            },
            _ => return Err(invalid("table list mismatch".into())),
        };
        Ok(Store {
            batch: RefCell::new(Batch::default()),
            env: Some(env),
            tables,
            cx,
            pid: ffi::current_pid(),
        })
    }

    /// The directory the store was opened from.
    pub fn path(&self) -> &Path {
        &self.cx.path
    }

    /// The environment, if this is the process that opened it.
    fn env(&self) -> Result<&Environment, StoreError> {
        let used_in = ffi::current_pid();
        match &self.env {
            Some(env) if used_in == self.pid => Ok(env),
            _ => Err(StoreError::WrongProcess {
                path: self.cx.path.clone(),
                opened_in: self.pid,
                used_in,
            }),
        }
    }

    /// Runs `f` in one write transaction: commits when it returns `Ok`, aborts when it returns
    /// `Err` (or panics). Holds the global writer lock for the duration of `f`.
    ///
    /// Between [`Store::begin_batch`] and [`Store::end_batch`], `f` instead joins the group's
    /// transaction (begun by the group's first write) and nothing is committed until
    /// `end_batch`; an `Err` from `f` then rolls back the whole group.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Writer<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let env = self.env()?;
        if IN_WRITE.with(|w| w.replace(true)) {
            return Err(StoreError::NestedWrite {
                path: self.cx.path.clone(),
            });
        }
        let _guard = WriteGuard;
        // Not borrowed while `f` runs for a plain write; `f` cannot reach `write` again
        // (IN_WRITE), and nothing else borrows the batch.
        let mut batch = self
            .batch
            .try_borrow_mut()
            .map_err(|_| StoreError::NestedWrite {
                path: self.cx.path.clone(),
            })?;
        if batch.active {
            if batch.failed {
                return Err(StoreError::BatchAborted {
                    path: self.cx.path.clone(),
                });
            }
            let txn = match &mut batch.txn {
                Some(txn) => txn,
                slot @ None => {
                    let txn = env
                        .begin_rw_txn()
                        .map_err(|e| self.cx.lmdb("begin write transaction", "", e))?;
                    // Kept in `self.batch`, which `end_batch` or `Drop` empties before `env`
                    // (owned by `self`) closes: the contract of `detach`.
                    slot.insert(ffi::detach(txn))
                }
            };
            let out = f(&mut Writer::new(txn, &self.tables, &self.cx));
            match &out {
                Ok(_) => batch.writes += 1,
                Err(_) => batch.failed = true,
            }
            return out;
        }
        drop(batch);
        let mut txn = env
            .begin_rw_txn()
            .map_err(|e| self.cx.lmdb("begin write transaction", "", e))?;
        let out = f(&mut Writer::new(&mut txn, &self.tables, &self.cx))?;
        txn.commit().map_err(|e| self.cx.lmdb("commit", "", e))?;
        Ok(out)
    }

    /// Starts a group commit: the [`Store::write`] calls until [`Store::end_batch`] share
    /// one transaction, committed once. A worker wraps each batch of datagrams in a group, so
    /// ten REGISTERs read by one `recvmmsg` cost one commit (one meta page, and the leaf
    /// pages they share written once). The writer lock is taken by the first write, not here,
    /// and held until `end_batch`: callers keep groups short (one event-loop batch) and send
    /// nothing that depends on the group's writes before `end_batch` returned `Ok`.
    pub fn begin_batch(&self) {
        if let Ok(mut b) = self.batch.try_borrow_mut() {
            b.active = true;
        }
    }

    /// Ends the group commit: commits its writes and returns how many joined it. `Err` when a
    /// write of the group failed or the commit did: then none of the group's writes happened.
    pub fn end_batch(&self) -> Result<usize, StoreError> {
        let Ok(mut b) = self.batch.try_borrow_mut() else {
            return Err(StoreError::NestedWrite {
                path: self.cx.path.clone(),
            });
        };
        let b = std::mem::take(&mut *b);
        let Some(txn) = b.txn else {
            return Ok(0);
        };
        if b.failed {
            drop(txn); // aborts
            return Err(StoreError::BatchAborted {
                path: self.cx.path.clone(),
            });
        }
        txn.commit().map_err(|e| self.cx.lmdb("commit", "", e))?;
        Ok(b.writes)
    }

    /// Runs `f` in one read transaction (a consistent snapshot; never waits for writers).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let env = self.env()?;
        let txn = env
            .begin_ro_txn()
            .map_err(|e| self.cx.lmdb("begin read transaction", "", e))?;
        let r = Reader::new(txn, &self.tables, &self.cx);
        f(&r)
    }

    /// Flushes committed data to disk (`fsync`); the master calls it periodically to bound
    /// what a power cut can lose.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.env()?
            .sync(true)
            .map_err(|e| self.cx.lmdb("sync", "", e))
    }

    /// Frees reader slots held by dead processes (`mdb_reader_check`); returns how many were
    /// freed. The master calls it after reaping a worker.
    pub fn reader_check(&self) -> Result<usize, StoreError> {
        ffi::reader_check(self.env()?).map_err(|e| self.cx.lmdb("reader check", "", e))
    }

    /// Entry counts of every table and the map's size and use.
    pub fn stat(&self) -> Result<StoreStat, StoreError> {
        let env = self.env()?;
        let info = env.info().map_err(|e| self.cx.lmdb("info", "", e))?;
        let est = env.stat().map_err(|e| self.cx.lmdb("stat", "", e))?;
        let [registrations, subscribers, counters, bans, profiles, dispatcher] =
            self.read(|r| r.view().table_entries())?;
        Ok(StoreStat {
            registrations,
            subscribers,
            counters,
            bans,
            profiles,
            dispatcher,
            map_size: info.map_size(),
            page_size: est.page_size(),
            used_pages: info.last_pgno().saturating_add(1),
            readers: info.num_readers(),
            max_readers: info.max_readers(),
        })
    }

    // --- single-operation wrappers: one transaction each ---

    /// [`Writer::put_binding`] in its own transaction.
    pub fn put_binding(&self, b: &Binding) -> Result<(), StoreError> {
        self.write(|w| w.put_binding(b))
    }

    /// [`Reader::bindings`] in its own transaction.
    pub fn bindings(&self, aor: &str) -> Result<Vec<Binding>, StoreError> {
        self.read(|r| r.bindings(aor))
    }

    /// [`Reader::binding`] in its own transaction.
    pub fn binding(&self, aor: &str, contact: &str) -> Result<Option<Binding>, StoreError> {
        self.read(|r| r.binding(aor, contact))
    }

    /// [`Writer::delete_binding`] in its own transaction.
    pub fn delete_binding(&self, aor: &str, contact: &str) -> Result<bool, StoreError> {
        self.write(|w| w.delete_binding(aor, contact))
    }

    /// [`Writer::delete_aor`] in its own transaction.
    pub fn delete_aor(&self, aor: &str) -> Result<usize, StoreError> {
        self.write(|w| w.delete_aor(aor))
    }

    /// [`Reader::count_bindings`] in its own transaction.
    pub fn count_bindings(&self) -> Result<usize, StoreError> {
        self.read(|r| r.count_bindings())
    }

    /// Deletes every binding with `expires_at <= now` (one whole pass of
    /// [`Store::expire_bindings_slice`], [`EXPIRY_SLICE`] at a time); returns how many.
    pub fn expire_bindings(&self, now: u64) -> Result<usize, StoreError> {
        let (mut from, mut total) = (Vec::new(), 0);
        loop {
            let (n, next) = self.expire_bindings_slice(&from, EXPIRY_SLICE, now)?;
            total += n;
            match next {
                Some(k) => from = k,
                None => return Ok(total),
            }
        }
    }

    /// One slice of the binding expiry sweep: reads up to `limit` bindings from `from` on
    /// (the first when empty) in a read transaction, which blocks nobody, then deletes the
    /// expired ones in a short write transaction (each re-checked there). Returns how many
    /// were deleted and where the next slice starts (None: the end of the table).
    pub fn expire_bindings_slice(
        &self,
        from: &[u8],
        limit: usize,
        now: u64,
    ) -> Result<(usize, Option<Vec<u8>>), StoreError> {
        let (expired, next) = self.read(|r| r.view().expired_bindings_slice(from, limit, now))?;
        let n = if expired.is_empty() {
            0
        } else {
            self.write(|w| w.delete_expired_bindings(&expired, now))?
        };
        Ok((n, next))
    }

    /// One slice of a sweep over the live bindings that have one of the `flags` bits, in a
    /// read transaction: of up to `limit` bindings from `from` on (the first when empty),
    /// `f` gets each one whose key (`aor \0 contact`) `mine` accepts, whose flags match and
    /// whose `expires_at` is after `now`; the others are not decoded. Returns where the next
    /// slice starts (None: the end of the table). The NAT keep-alive rounds read the table
    /// this way, a slice per tick, so no loop turn reads all of it.
    pub fn flagged_bindings_slice(
        &self,
        from: &[u8],
        limit: usize,
        flags: u32,
        now: u64,
        mine: impl FnMut(&[u8]) -> bool,
        f: impl FnMut(&BindingRef<'_>),
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| r.flagged_bindings_slice(from, limit, flags, now, mine, f))
    }

    /// [`Reader::all_bindings`] in its own transaction.
    pub fn all_bindings(&self, limit: usize) -> Result<Vec<Binding>, StoreError> {
        self.read(|r| r.all_bindings(limit))
    }

    /// [`Writer::put_subscriber`] in its own transaction.
    pub fn put_subscriber(&self, s: &Subscriber) -> Result<(), StoreError> {
        self.write(|w| w.put_subscriber(s))
    }

    /// [`Reader::get_subscriber`] in its own transaction.
    pub fn get_subscriber(
        &self,
        user: &str,
        domain: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        self.read(|r| r.get_subscriber(user, domain))
    }

    /// [`Reader::digest_secret`]: in the open group's transaction when this batch already
    /// wrote (one transaction fewer per authenticated request; a lockout check or an earlier
    /// REGISTER of the batch has opened it), else in its own read transaction.
    pub fn digest_secret(
        &self,
        user: &str,
        domain: &str,
        kind: Ha1Kind,
    ) -> Result<Option<DigestSecret>, StoreError> {
        if let Ok(mut b) = self.batch.try_borrow_mut() {
            if !b.failed {
                if let Some(txn) = &mut b.txn {
                    return Writer::new(txn, &self.tables, &self.cx)
                        .digest_secret(user, domain, kind);
                }
            }
        }
        self.read(|r| r.digest_secret(user, domain, kind))
    }

    /// [`Writer::delete_subscriber`] in its own transaction.
    pub fn delete_subscriber(&self, user: &str, domain: &str) -> Result<bool, StoreError> {
        self.write(|w| w.delete_subscriber(user, domain))
    }

    /// [`Reader::list_subscribers`] in its own transaction.
    pub fn list_subscribers(&self, limit: usize) -> Result<Vec<Subscriber>, StoreError> {
        self.read(|r| r.list_subscribers(limit))
    }

    /// [`Writer::incr`] in its own transaction.
    pub fn incr(&self, key: &[u8], delta: u64) -> Result<u64, StoreError> {
        self.write(|w| w.incr(key, delta))
    }

    /// [`Reader::get_counter`] in its own transaction.
    pub fn get_counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        self.read(|r| r.get_counter(key))
    }

    /// [`Writer::reset_counter`] in its own transaction.
    pub fn reset_counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        self.write(|w| w.reset_counter(key))
    }

    /// [`Writer::incr_window`] in its own transaction.
    pub fn incr_window(
        &self,
        key: &[u8],
        window_start: u64,
        delta: u64,
    ) -> Result<u64, StoreError> {
        self.write(|w| w.incr_window(key, window_start, delta))
    }

    /// [`Reader::get_window`] in its own transaction.
    pub fn get_window(&self, key: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
        self.read(|r| r.get_window(key))
    }

    /// [`Writer::ban`] in its own transaction.
    pub fn ban(&self, b: &Ban) -> Result<(), StoreError> {
        self.write(|w| w.ban(b))
    }

    /// [`Reader::get_ban`] in its own transaction.
    pub fn get_ban(&self, ip: &str) -> Result<Option<Ban>, StoreError> {
        self.read(|r| r.get_ban(ip))
    }

    /// [`Reader::is_banned`] in its own transaction.
    pub fn is_banned(&self, ip: &str, now: u64) -> Result<bool, StoreError> {
        self.read(|r| r.is_banned(ip, now))
    }

    /// [`Writer::unban`] in its own transaction.
    pub fn unban(&self, ip: &str) -> Result<bool, StoreError> {
        self.write(|w| w.unban(ip))
    }

    /// [`Reader::list_bans`] in its own transaction.
    pub fn list_bans(&self, limit: usize) -> Result<Vec<Ban>, StoreError> {
        self.read(|r| r.list_bans(limit))
    }

    /// [`Writer::expire_bans`] in its own transaction.
    pub fn expire_bans(&self, now: u64) -> Result<usize, StoreError> {
        self.write(|w| w.expire_bans(now))
    }

    /// [`Writer::profile_add`] in its own transaction.
    pub fn profile_add(&self, profile: &str, value: &str, delta: i64) -> Result<i64, StoreError> {
        self.write(|w| w.profile_add(profile, value, delta))
    }

    /// [`Reader::profile_count`] in its own transaction.
    pub fn profile_count(&self, profile: &str, value: &str) -> Result<i64, StoreError> {
        self.read(|r| r.profile_count(profile, value))
    }

    /// [`Reader::profile_values`] in its own transaction.
    pub fn profile_values(&self, profile: &str) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(|r| r.profile_values(profile))
    }

    /// [`Writer::set_dest_state`] in its own transaction.
    pub fn set_dest_state(&self, set: &str, uri: &str, st: &DestState) -> Result<(), StoreError> {
        self.write(|w| w.set_dest_state(set, uri, st))
    }

    /// [`Reader::dest_state`] in its own transaction.
    pub fn dest_state(&self, set: &str, uri: &str) -> Result<Option<DestState>, StoreError> {
        self.read(|r| r.dest_state(set, uri))
    }

    /// [`Reader::dest_states`] in its own transaction.
    pub fn dest_states(&self, set: &str) -> Result<Vec<(String, DestState)>, StoreError> {
        self.read(|r| r.dest_states(set))
    }

    /// [`Writer::delete_dest`] in its own transaction.
    pub fn delete_dest(&self, set: &str, uri: &str) -> Result<bool, StoreError> {
        self.write(|w| w.delete_dest(set, uri))
    }
}
