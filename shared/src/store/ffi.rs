//! The one raw LMDB call the safe `lmdb` crate does not wrap: `mdb_reader_check`.
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
