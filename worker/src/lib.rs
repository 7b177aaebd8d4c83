//! `worker`: the per-process SIP engine: the mio event loop over the worker's sockets and IPC
//! channel, transports, the transaction layer, the proxy core and the policy modules.
//! Protocol logic is sans-IO (fed `(message, source, now)`, returns actions); only the loop
//! touches sockets or reads the clock.

pub mod event_loop;
pub mod stateless;
