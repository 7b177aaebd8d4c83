//! `worker`: the per-process SIP engine: the mio event loop over the worker's sockets and IPC
//! inbox, steering of each message to the worker that owns it, and the protocol logic
//! (today the stateless path; transactions, proxy core and policy modules come next).
//! Protocol logic is sans-IO (fed `(message, source)`, returns what to send); only the loop
//! touches sockets or reads the clock.

pub mod auth;
pub mod dispatcher;
pub mod event_loop;
pub mod proxy;
pub mod registrar;
pub mod routing;
pub mod security;
pub mod sends;
pub mod siphash;
pub mod stateless;
pub mod stats;
pub mod steering;
pub mod timers;
pub mod txn;
pub mod udp_batch;
