//! Why a client command failed: one typed error per cause, each with its
//! exit code and one line for the user, and the mappings from core's and
//! TLS's errors that every client runtime uses.

use std::io;
use std::time::{Duration, Instant};

use pared_core::fetch::{self};
use pared_core::{ClientOptions, ProtocolError, UsageError};

use crate::tls::TlsFailure;

/// Why a client command failed; each maps to one exit code and one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// No address of the host accepted a connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried last.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// Connecting or reading took longer than the timeout.
    #[error("timed out {during}")]
    Timeout {
        /// What was going on.
        during: &'static str,
    },
    /// The connection failed while sending or receiving.
    #[error("connection to {url} failed: {source}")]
    Network {
        /// The URL of the exchange.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The server broke the protocol (or closed too early).
    #[error("bad response from {url}: {source}")]
    Protocol {
        /// The URL of the exchange.
        url: String,
        /// What was wrong.
        source: ProtocolError,
    },
    /// The request could not be built or a redirect not followed.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Binary output refused on a terminal.
    #[error("binary output not shown on a terminal; use -o FILE (or redirect stdout)")]
    BinaryToTerminal,
    /// The body does not match the digest the server sent with it.
    #[error(
        "{field} mismatch: the body received is not what the server described (nothing saved)"
    )]
    DigestMismatch {
        /// `Repr-Digest` or `Content-Digest`.
        field: &'static str,
    },
    /// The body is larger than `--max-filesize`.
    #[error("the body is larger than --max-filesize ({max} bytes); nothing saved")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// The whole command took longer than `--max-time`.
    #[error("gave up after --max-time ({secs} s)")]
    MaxTime {
        /// The limit in seconds.
        secs: f64,
    },
    /// TLS failed: a certificate that does not verify, or the handshake.
    #[error("{host}: {source}")]
    Tls {
        /// The server.
        host: String,
        /// Why.
        source: TlsFailure,
    },
    /// A PROPFIND answer that could not be read as a listing.
    #[error("cannot list the folder: {reason}")]
    Listing {
        /// Why.
        reason: String,
    },
    /// A bug: pared-core refused how it was called.
    #[error("internal error: {0}")]
    Usage(#[from] UsageError),
}

impl ClientError {
    /// True for a failure the network caused (a cut, a reset, a timeout,
    /// a server that was briefly away): worth retrying.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Network { .. }
                | ClientError::Timeout { .. }
                | ClientError::Connect { .. }
                | ClientError::Protocol { .. }
        )
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Resolve { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. }
            | ClientError::Network { .. }
            | ClientError::Protocol { .. }
            | ClientError::TooLarge { .. }
            | ClientError::MaxTime { .. } => fetch::EXIT_NETWORK,
            ClientError::Fetch(e) => e.exit_code(),
            ClientError::Local { .. } | ClientError::BinaryToTerminal => fetch::EXIT_LOCAL,
            ClientError::DigestMismatch { .. } => fetch::EXIT_DIGEST,
            ClientError::Tls { .. } => fetch::EXIT_TLS,
            ClientError::Listing { .. } => fetch::EXIT_NETWORK,
            ClientError::Usage(_) => fetch::EXIT_NETWORK,
        }
    }
}

/// The time left before `--max-time`, if set: an error once it passed.
pub fn time_left(
    deadline: Option<Instant>,
    opts: &ClientOptions,
) -> Result<Option<Duration>, ClientError> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(ClientError::MaxTime {
                secs: opts.max_time.map_or(0.0, |t| t.as_secs_f64()),
            }),
        },
    }
}

/// The shorter of two optional waits.
pub fn shorter(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A TLS failure as the user sees it.
pub fn tls_error(target: &fetch::Target, f: TlsFailure) -> ClientError {
    ClientError::Tls {
        host: target.authority(),
        source: f,
    }
}

/// An I/O error of an exchange: a TLS failure carried inside it, a
/// timeout, or a network error.
pub fn wire_error(
    target: &fetch::Target,
    e: io::Error,
    net: &impl Fn(io::Error) -> ClientError,
) -> ClientError {
    if let Some(f) = crate::tls::tls_failure(&e) {
        return tls_error(target, f);
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return ClientError::Timeout {
            during: "the TLS handshake",
        };
    }
    net(e)
}

/// The error for an exchange whose response failed: a failed upload's own
/// error when there was one (the server may have cut it off), else the
/// response's.
pub fn response_failed(
    write_failed: Option<ClientError>,
    e: ProtocolError,
    url: &str,
) -> ClientError {
    match write_failed {
        Some(ClientError::Network { source, .. }) => ClientError::Network {
            url: url.to_owned(),
            source,
        },
        Some(other) => other,
        None => timeout_or(e, |source| ClientError::Protocol {
            url: url.to_owned(),
            source,
        }),
    }
}

/// Maps core's timeout errors to [`ClientError::Timeout`].
pub fn timeout_or(
    e: ProtocolError,
    other: impl FnOnce(ProtocolError) -> ClientError,
) -> ClientError {
    match e {
        ProtocolError::HeadTimeout => ClientError::Timeout {
            during: "waiting for the response",
        },
        ProtocolError::BodyStalled => ClientError::Timeout {
            during: "reading the response body",
        },
        e => other(e),
    }
}
