//! What the safe `lmdb` crate does not offer: `mdb_reader_check`, and a write transaction
//! that outlives the borrow of its environment (for group commit).
#![allow(unsafe_code)]

use std::os::raw::c_int;

/// Clears reader-table slots left by dead processes; returns how many were cleared, or the
/// LMDB error code.
pub(super) fn reader_check(env: &lmdb::Environment) -> Result<usize, lmdb::Error> {
    let mut dead: c_int = 0;
    // SAFETY: `env.env()` is the handle of an environment that is open for as long as `env`
    // is borrowed (the `Environment` closes it only on drop), and `dead` is a valid, writable
    // `c_int` that outlives the call. `mdb_reader_check` takes its own lock on the reader
    // table, so it is safe to call while other threads or processes use the environment.
    let rc = unsafe { lmdb_sys::mdb_reader_check(env.env(), &mut dead) };
    if rc == 0 {
        Ok(usize::try_from(dead).unwrap_or(0))
    } else {
        Err(lmdb::Error::from_err_code(rc))
    }
}

/// Erases the environment borrow of a write transaction, so that the [`super::Store`] can keep
/// it open across calls (group commit: [`super::Store::begin_batch`]).
///
/// Contract (kept by its one caller, `Store::write`): the transaction must end (commit or
/// drop) before the `Environment` it was begun on is closed. `Store` keeps it only in its
/// `batch` field, which `end_batch` and `Drop` empty before the environment closes.
pub(super) fn detach(txn: lmdb::RwTransaction<'_>) -> lmdb::RwTransaction<'static> {
    // SAFETY: the types differ only in the lifetime parameter, which `RwTransaction` uses in
    // a PhantomData (it holds just the raw `MDB_txn` pointer, so moving the `Store` or its
    // `Environment` does not invalidate it); the caller ends the transaction before the
    // environment closes, as documented above.
    unsafe { std::mem::transmute::<lmdb::RwTransaction<'_>, lmdb::RwTransaction<'static>>(txn) }
}
