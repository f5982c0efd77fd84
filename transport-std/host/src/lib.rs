//! pared-host: the host layer every pared runtime runs. The blocking
//! driver (pared-std) and the async one (pared-smol) both depend on this
//! crate and never on each other; what differs between them is only how
//! they wait (threads or an executor) and how they move bytes.
//!
//! - [`exchange`]: what a request comes to, as a plan of steps both
//!   runtimes run; [`steps`] holds the file-service steps and the
//!   description of what to send ([`steps::Prepared`]).
//! - [`fs`]: the root-confined file system: opens beneath the root,
//!   atomic uploads, deletes, directory entries, the upload sweep.
//! - [`dav`]: the WebDAV steps (properties, collections, copy and move,
//!   locks in a table shared by every process on the root).
//! - [`access`]: credential checks and their cache.
//! - [`tls`]: one byte-driven TLS layer over rustls for both runtimes.
//! - Connections: [`listener`] (binding and accept errors),
//!   [`conn_slots`] (per-client and global connection limits),
//!   [`next_request`] (what the bytes between requests give),
//!   [`recv_buf`] (receive buffers given back while idle),
//!   [`document`] (a small request body read into memory),
//!   [`conn_end`] (why a connection stops, answers outside a request),
//!   [`access_log`], [`shutdown`], [`wait`].
//! - [`client`]: the client's job, errors, output and progress, shared by
//!   both client runtimes.
//! - [`digest_cache`]: the sha-256 of each file version, in memory.
//! - [`memory`]: freed memory given back to the system.
//! - [`metrics`]: counters for operators (`--metrics ADDR`).
//! - [`service_manager`]: systemd socket activation and readiness.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod access_log;
pub mod client;
pub mod conn_end;
pub mod conn_slots;
pub mod dav;
pub mod digest_cache;
pub mod document;
pub mod exchange;
pub mod fs;
pub mod listener;
pub mod memory;
pub mod metrics;
pub mod next_request;
pub mod recv_buf;
pub mod reload;
pub mod resume;
pub mod service_manager;
pub mod share_key;
pub mod shutdown;
pub mod steps;
pub mod tls;
pub mod wait;

pub use exchange::{Answer, Host, Plan, Site};
pub use fs::Root;
pub use shutdown::Shutdown;
