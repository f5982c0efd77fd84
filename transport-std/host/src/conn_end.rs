//! How a server connection ends, the same on every runtime: why its loop
//! stops, the answers sent outside a connection's state machine (a
//! refusal before any request, plain http on a TLS port), the bound on a
//! TLS handshake, and the reset of a client that stopped reading.

use std::io;
use std::time::{Duration, SystemTime};

use pared_core::server::Connection;
use pared_core::service::{self, Reply, ReplyBody};
use pared_core::ProtocolError;

use crate::steps::Prepared;

/// Why a connection loop stops.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// The socket or the file system failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The client broke the protocol or timed out (core's sticky error).
    #[error(transparent)]
    Protocol(ProtocolError),
    /// A file shrank while its promised length was being sent: the
    /// connection ends short, which the client sees as truncation.
    #[error("the file shrank while it was sent")]
    FileShrank,
    /// The driver used core's connection out of order: a bug, logged.
    #[error(transparent)]
    Usage(#[from] pared_core::UsageError),
}

impl Stop {
    /// True when the client stopped taking the response (or took it too
    /// slowly): its connection is reset, not closed, so what is still
    /// queued for it is dropped at once instead of trickled out.
    pub fn stalled(&self) -> bool {
        matches!(self, Stop::Protocol(ProtocolError::BodyStalled))
    }
}

impl Stop {
    /// Writes a line to stderr for a stop that is pared's fault (a driver
    /// that used core's connection out of order); the client's own
    /// failures (it left, broke the protocol, timed out) are not news.
    pub fn report(&self) {
        if let Stop::Usage(e) = self {
            eprintln!("pared: internal error, connection closed: {e}");
        }
    }
}

/// Resets the connection of a client that stopped reading (see
/// [`Stop::stalled`]) by closing it with `SO_LINGER` 0.
pub fn reset_if_stalled<T>(sent: &Result<T, Stop>, socket: &impl std::os::fd::AsFd) {
    if sent.as_ref().err().is_some_and(Stop::stalled) {
        let _ = rustix::net::sockopt::set_socket_linger(socket, Some(Duration::ZERO));
    }
}

/// The longest a TLS handshake may take when no head timeout is set: a
/// handshake always has a deadline (it counts against the first
/// request's head timeout when there is one).
pub const HANDSHAKE_CAP: Duration = Duration::from_secs(60);

/// How long a TLS handshake may take under `head_timeout`.
pub fn handshake_limit(head_timeout: Option<Duration>) -> Duration {
    head_timeout.unwrap_or(HANDSHAKE_CAP)
}

/// The bytes of the 503 answer for a connection refused before its
/// request is read (its client holds too many connections).
pub fn refusal(now: SystemTime) -> Vec<u8> {
    reply_bytes(service::busy_reply(now))
}

/// The bytes of the 400 answer, in plain text, to a client that speaks
/// plain http on a TLS port.
pub fn plain_http_on_tls_port(now: SystemTime) -> Vec<u8> {
    reply_bytes(service::plain_http_on_tls_reply(now))
}

/// A whole answer sent outside a connection's state machine (before any
/// request is read), as bytes: its head and static body.
fn reply_bytes(reply: Reply) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    if pared_core::write_response(&reply.head, &mut out).is_ok() {
        if let ReplyBody::Static(body) = reply.body {
            out.extend_from_slice(body);
        }
    }
    out
}

/// Logs a failed TLS handshake (one line, only when the access log is on:
/// with `--quiet` a flood of failed handshakes writes nothing).
pub fn log_handshake_failure(opts: &pared_core::ServerOptions, peer: std::net::IpAddr, why: &str) {
    if opts.access_log {
        eprintln!(
            "pared: TLS handshake with {} failed: {why}",
            peer.to_canonical()
        );
    }
}

/// A one-line reason for a failed TLS handshake, for the server's log.
pub fn handshake_failure(e: &io::Error) -> String {
    match crate::tls::tls_failure(e) {
        Some(f) => f.to_string(),
        None if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) =>
        {
            "not finished within the header timeout".to_owned()
        }
        None => e.to_string(),
    }
}

/// The answer to a protocol error, if it deserves one and the connection
/// can still send it (nothing was sent for the request yet).
pub fn error_answer(conn: &Connection, e: ProtocolError, now: SystemTime) -> Option<Prepared> {
    conn.can_respond()
        .then(|| service::protocol_error_reply(e, now))
        .flatten()
        .map(Prepared::reply)
}
