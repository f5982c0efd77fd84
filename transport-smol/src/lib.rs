//! pared-smol: the async transport of pared on smol and async-net.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod server;
mod wire;
