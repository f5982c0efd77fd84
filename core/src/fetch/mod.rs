//! The client's decisions: what request to send for `HOST PORT METHOD PATH`
//! ([`target`]), whether a response is delivered or a redirect followed
//! ([`session`]), which exit code a result earns ([`exit`]), and what may
//! reach a terminal ([`terminal`]). A transport runs one [`Session`] per
//! command.
//!
//! Invariants: no CR, LF or NUL from the command line ever reaches the wire
//! (refused before anything is sent); a redirect is followed only to
//! `http:` URLs, at most `max_redirects` times, never to a place already
//! visited; every [`Session`] ends in delivery or a [`FetchError`].

pub mod exit;
pub mod resumable_put;
pub mod session;
pub mod target;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod tree;

pub use exit::*;
pub use session::*;
pub use target::*;
pub use terminal::*;
