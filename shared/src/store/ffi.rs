//! What the safe `lmdb` crate does not offer: `mdb_reader_check`, and a write transaction
//! that outlives the borrow of its environment (for group commit); and a pid that costs no
//! system call.
#![allow(unsafe_code)]

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Once;

/// This process's pid, or 0 once a fork made it unknown.
static PID: AtomicU32 = AtomicU32::new(0);
/// The fork handler is registered, so [`PID`] may cache.
static FORK_HOOKED: AtomicBool = AtomicBool::new(false);

extern "C" fn forget_pid() {
    // Runs in the child right after fork(): an atomic store is async-signal-safe.
    PID.store(0, Ordering::Relaxed);
}

/// The pid of this process. `std::process::id()` is a system call each time (glibc does not
/// cache getpid), and the store checks the pid on every transaction; this caches it and a
/// fork handler clears the cache in every child.
pub(super) fn current_pid() -> u32 {
    static HOOK: Once = Once::new();
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    HOOK.call_once(|| {
        // SAFETY: `forget_pid` is a plain `extern "C" fn()` that only stores to an atomic,
        // which is what pthread_atfork requires of a child handler; the handler is
        // registered once and stays valid for the life of the process (a static function).
        // If registration fails (ENOMEM) the cache stays off: every call asks the kernel.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
        FORK_HOOKED.store(rc == 0, Ordering::Relaxed);
    });
    let pid = std::process::id();
    if FORK_HOOKED.load(Ordering::Relaxed) {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}

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

#[cfg(test)]
mod tests {
    use super::current_pid;

    #[test]
    fn cached_pid_is_forgotten_by_a_forked_child() {
        let parent = current_pid();
        assert_eq!(parent, std::process::id());
        // SAFETY: the child only reads atomics, makes getpid system calls and `_exit`s (no
        // allocation, no locks), which is what may run in the child of a threaded process.
        match unsafe { libc::fork() } {
            0 => {
                let ok = current_pid() == std::process::id() && current_pid() != parent;
                // SAFETY: `_exit` ends the child without running the parent's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
            child => {
                let mut status = 0;
                // SAFETY: `child` is our own child and `status` a valid, writable int.
                let rc = unsafe { libc::waitpid(child, &mut status, 0) };
                assert_eq!(rc, child);
                assert!(libc::WIFEXITED(status), "child did not exit: {status}");
                assert_eq!(libc::WEXITSTATUS(status), 0, "child saw the parent's pid");
                assert_eq!(current_pid(), parent);
            }
        }
    }
}
