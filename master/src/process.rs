//! fork(2), the one unsafe operation of sipedge, kept in this module.
#![allow(unsafe_code)]

use nix::unistd::{ForkResult, Pid};

/// Fork; run `child` in the new process and exit with its code. Returns the child's pid.
pub fn spawn(child: impl FnOnce() -> i32) -> nix::Result<Pid> {
    // SAFETY: the master is single-threaded when it forks (it starts no threads: logging is
    // synchronous and signals arrive through a signalfd), so the child cannot inherit a lock
    // held by another thread. The child never returns into the master's code: it runs
    // `child` and exits.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = child();
            std::process::exit(code);
        }
    }
}
