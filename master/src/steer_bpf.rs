//! The reuseport steering program: a three-instruction classic BPF filter the master attaches
//! to each UDP listener's SO_REUSEPORT group, so that the kernel hands every datagram to a
//! *random* member socket instead of hashing the 4-tuple.
//!
//! Why: with the default hash, all traffic of one carrier trunk (one source IP:port) reaches
//! one worker, which then does every receive and parse and steers most messages to their
//! owners (see `worker::steering`). With random selection every worker receives an equal
//! share of every source, and the ownership rule still brings each message to the worker
//! that owns its transaction; the number of IPC hops is the same ((N-1)/N of messages),
//! only the receive work is spread. Classic BPF cannot find a Call-ID at a variable offset,
//! so it cannot pick the owner itself; eBPF could, at the price of a BPF toolchain and
//! CAP_BPF, which is not worth it while the IPC hop costs a few microseconds.
//!
//! The program returns an index into the group's socket array, which is the order in which
//! the sockets joined the group: the master binds slot 0, 1, ... in order and keeps every
//! socket for its whole life, so index i is always slot i's socket.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use nix::libc;

/// Attach "pick a random socket out of `members`" to the reuseport group of `sock`.
pub fn attach_random(sock: &impl AsRawFd, members: usize) -> io::Result<()> {
    let members = u32::try_from(members)
        .ok()
        .filter(|m| *m > 0)
        .ok_or_else(|| io::Error::other("bad member count"))?;
    // A = random u32 (ancillary load); A = A % members; return A.
    let ld_abs_w = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let alu_mod_k = (libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K) as u16;
    let ret_a = (libc::BPF_RET | libc::BPF_A) as u16;
    let mut prog = [
        libc::sock_filter {
            code: ld_abs_w,
            jt: 0,
            jf: 0,
            // The kernel's ancillary offsets are negative; the field is their bit pattern.
            k: (libc::SKF_AD_OFF + libc::SKF_AD_RANDOM) as u32,
        },
        libc::sock_filter {
            code: alu_mod_k,
            jt: 0,
            jf: 0,
            k: members,
        },
        libc::sock_filter {
            code: ret_a,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `prog`, which lives until the call returns; the kernel copies
    // the program during setsockopt and keeps no pointer to our memory. The length passed is
    // the size of the `sock_fprog` struct, as SO_ATTACH_REUSEPORT_CBPF expects.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
