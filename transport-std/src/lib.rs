//! pared-std: the blocking transport of pared, and the file-system layer
//! every runtime shares.
//!
//! - [`fs`]: root-confined opens (`openat2` beneath the root), atomic
//!   uploads, deletes, directory entries.
//! - [`serve`]: the file service's blocking steps, deciding nothing itself:
//!   it runs file-system calls and asks `pared_core::service` what to answer.
//! - [`server`] and [`client`]: the std drivers, short loops of socket
//!   reads, core events and file-system calls; [`keeper`] holds the
//!   server's idle keep-alive connections without a thread.
//! - Shared by both runtimes' drivers: [`between`] (waiting for a request),
//!   [`buf`] (receive buffers given back while idle), [`digests`] (the
//!   sha-256 of each file version, in memory), [`writeback`] (uploads
//!   written back as they stream; the crate's one `unsafe` call,
//!   `sync_file_range`, which no safe wrapper offers).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod between;
pub mod buf;
pub mod client;
pub mod digests;
pub mod fs;
pub mod gate;
pub mod keeper;
pub mod serve;
pub mod server;
pub mod shutdown;
pub mod slots;
pub mod tls;
pub mod wait;
pub mod writeback;

pub use fs::Root;
pub use shutdown::Shutdown;
