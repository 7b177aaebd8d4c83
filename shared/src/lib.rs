//! `shared`: what the master and the workers both need and nothing else: the configuration
//! schema and its validation, the LMDB store, the nonce-count table in shared memory, the
//! IPC message types and framing, and the metric definitions. No event loop and no SIP
//! routing logic live here.

pub mod config;
pub mod ipc;
pub mod metrics;
pub mod nonces;
pub mod store;
