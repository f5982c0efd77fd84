//! The blocking server: threads that accept their own connections
//! ([`threads`]), each connection a loop of socket reads, pared-core events
//! and the exchange's steps ([`conn`]), answers sent by [`send`].

pub mod conn;
pub mod send;
pub mod threads;

pub use pared_host::listener::listen;
pub use threads::serve;
