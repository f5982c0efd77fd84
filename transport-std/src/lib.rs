//! pared-std: the blocking transport of pared. Short loops of socket
//! reads, pared-core events and the shared host layer's steps
//! ([`pared_host`]), on threads.
//!
//! - [`server`]: connection threads that accept their own connections
//!   ([`server::threads`]), each a loop serving one connection
//!   ([`server::conn`]); [`parking`] holds idle keep-alive connections
//!   without a thread.
//! - [`client`]: one command's exchanges on a blocking socket.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod parking;
pub mod server;
