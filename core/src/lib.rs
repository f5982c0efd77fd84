//! pared-core: the sans-IO heart of pared, an HTTP/1.0 file server and client.
//!
//! Bytes in, events out; messages in, bytes out. This crate opens no socket,
//! touches no file, starts no thread, never awaits and never reads a clock:
//! the caller passes in received bytes, the time, and what the file system
//! said, and gets back events, bytes to send and decisions.
//!
//! # Calling convention (both [`server::Connection`] and [`client::Connection`])
//!
//! - The driver owns the read buffer. It feeds the unconsumed bytes with
//!   `handle_input(&buf, now)` and gets `(consumed, event)`; it drops
//!   `consumed` bytes from the front and calls again with the rest. Body
//!   events borrow from that buffer; nothing is copied.
//! - After any input or command, poll until the event says "need data"
//!   (`NeedData`, or `Paused`/`Closed` on the server).
//! - A read of 0 bytes is `handle_eof()`; then keep polling: the connection
//!   says whether that was a clean end or a truncation.
//! - Deadlines live here: sleep until `poll_timeout()`, then call
//!   `handle_timeout(now)`.
//! - Outgoing heads are written into a caller's `Vec<u8>` with `send_*`,
//!   framing headers included; outgoing body bytes are only counted
//!   (`send_body(n, now)`), so the driver may send a file with `sendfile`.
//! - [`ProtocolError`] is the peer's fault and knows its status;
//!   [`UsageError`] is the caller's. Errors are sticky, but a server may
//!   still send one response to answer a protocol error.
//!
//! # The server loop, as a transport runs it
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use pared_core::server::{Config, Connection, Event, Reuse};
//! use pared_core::service::{self, ServiceConfig, Route};
//!
//! let now = Instant::now();
//! let mut conn = Connection::new(Config::default(), now);
//! // 1. Read bytes from the socket into a buffer the driver owns.
//! let mut buf: Vec<u8> = b"DELETE /old.txt HTTP/1.0\r\n\r\n".to_vec();
//! let mut out = Vec::new();
//! loop {
//!     // 2. Feed the unconsumed bytes and the time; drop what was consumed.
//!     let (used, event) = conn.handle_input(&buf, now).expect("valid request");
//!     let event = match event {
//!         Event::Head(head) => Some(head),
//!         _ => None,
//!     };
//!     buf.drain(..used);
//!     // 3. Act on the event: ask the service, do the file-system call.
//!     let Some(head) = event else { break };
//!     let reply = match service::route(&ServiceConfig::default(), &head, SystemTime::now()) {
//!         Route::Delete(path) => {
//!             assert_eq!(path.to_string(), "old.txt");
//!             service::delete_reply(Ok(()), SystemTime::now()) // pretend we removed it
//!         }
//!         _ => unreachable!(),
//!     };
//!     // 4. Send the head core wrote (and any body, counted with send_body).
//!     conn.send_response(&reply.head, &mut out, now).unwrap();
//!     // 5. Finish; core says whether the connection carries another request.
//!     assert_eq!(conn.finish_response(now).unwrap(), Reuse::Close);
//! }
//! assert!(out.starts_with(b"HTTP/1.0 200 OK\r\n"));
//! // 6. Between reads, sleep until conn.poll_timeout() and call handle_timeout.
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod body;
pub mod client;
mod error;
pub mod fetch;
mod head;
pub mod listing;
pub mod log;
pub mod options;
mod parse;
pub mod path;
pub mod server;
pub mod service;
mod write;

pub use body::Framing;
pub use error::{ProtocolError, UsageError};
pub use head::{Field, Headers, Method, RequestHead, ResponseHead, StatusCode, Version};
pub use options::{ClientOptions, ServerOptions};
pub use parse::{Limits, Parsed, RequestParser, ResponseParser};
pub use write::{write_request, write_response};
