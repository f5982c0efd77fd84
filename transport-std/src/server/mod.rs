//! The blocking server: threads that accept their own connections
//! ([`crew`]), each connection a loop of socket reads, pared-core events
//! and the exchange's steps ([`conn`]), answers sent by [`send`].

pub mod conn;
pub mod crew;
pub mod send;

pub use crew::serve;
pub use pared_host::listener::listen;
