//! The two kinds of failure: the peer broke the protocol
//! ([`ProtocolError`], which knows the status a server answers with), or the
//! caller misused a connection ([`UsageError`], which names the state).
//!
//! Invariant: nothing that arrives from the network can produce a
//! [`UsageError`] or a panic; it produces a [`ProtocolError`].

use crate::head::StatusCode;

/// The peer sent something pared will not accept, or stopped too early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The head is longer than [`crate::Limits::max_head_bytes`].
    #[error("head exceeds {limit} bytes")]
    HeadTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The request line is longer than [`crate::Limits::max_line_bytes`].
    #[error("request line exceeds {limit} bytes")]
    RequestLineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A header line is longer than [`crate::Limits::max_line_bytes`].
    #[error("header line exceeds {limit} bytes")]
    HeaderLineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// More header fields than [`crate::Limits::max_headers`].
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// The request line is not `METHOD SP target SP HTTP/x.y`.
    #[error("malformed request line")]
    BadRequestLine,
    /// The status line is not `HTTP/x.y SP code [SP reason]`.
    #[error("malformed status line")]
    BadStatusLine,
    /// The method is not a token.
    #[error("malformed method")]
    BadMethod,
    /// The request target is empty or holds bytes a target may not.
    #[error("malformed request target")]
    BadTarget,
    /// The version is not `HTTP/digit.digit`.
    #[error("malformed HTTP version")]
    BadVersion,
    /// A version other than HTTP/1.x.
    #[error("HTTP version {major}.{minor} is not supported")]
    UnsupportedVersion {
        /// Major version received.
        major: u8,
        /// Minor version received.
        minor: u8,
    },
    /// A CR not followed by LF.
    #[error("bare CR in head")]
    BareCr,
    /// A NUL or other control byte where none may be.
    #[error("control character in head")]
    ControlCharacter,
    /// A header name that is empty or not a token.
    #[error("malformed header name")]
    BadHeaderName,
    /// Whitespace between a header name and its colon (RFC 9112 §5.1).
    #[error("whitespace before colon in header field")]
    WhitespaceBeforeColon,
    /// A header line without a colon.
    #[error("header line without colon")]
    MissingColon,
    /// A continuation line (obs-fold), refused by RFC 9112 §5.2.
    #[error("obsolete line folding in head")]
    ObsFold,
    /// A Content-Length that is not digits only or overflows.
    #[error("malformed Content-Length")]
    BadContentLength,
    /// Several Content-Length values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding (a smuggling vector).
    #[error("Content-Length together with Transfer-Encoding")]
    LengthWithTransferEncoding,
    /// Transfer-Encoding on an HTTP/1.0 message.
    #[error("Transfer-Encoding in an HTTP/1.0 message")]
    TransferEncodingOnHttp10,
    /// A transfer coding pared does not implement.
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    /// A request body without Content-Length (chunked requests included).
    #[error("request body needs Content-Length")]
    LengthRequired,
    /// A request body longer than the configured maximum.
    #[error("body of {length} bytes exceeds the limit of {limit}")]
    BodyTooLarge {
        /// Declared length, or the bytes received so far of a chunked body.
        length: u64,
        /// The limit in force.
        limit: u64,
    },
    /// An HTTP/1.1 request without exactly one Host field.
    #[error("HTTP/1.1 request needs exactly one Host field")]
    BadHost,
    /// A malformed chunk size line or chunk terminator.
    #[error("malformed chunked body")]
    BadChunk,
    /// A response that switches protocols, which pared never asks for.
    #[error("unexpected 101 Switching Protocols")]
    UnexpectedUpgrade,
    /// The connection closed before a byte of the response arrived.
    #[error("connection closed before any response")]
    ClosedBeforeResponse,
    /// The connection closed in the middle of a head.
    #[error("connection closed in the middle of a head")]
    IncompleteHead,
    /// The connection closed before the body was complete.
    #[error("connection closed after {received} of {expected} body bytes")]
    IncompleteBody {
        /// Bytes the framing promised (`u64::MAX` for an unfinished chunked body).
        expected: u64,
        /// Bytes that arrived.
        received: u64,
    },
    /// The head did not arrive within the head timeout.
    #[error("head not received in time")]
    HeadTimeout,
    /// No new request within the idle timeout.
    #[error("idle connection timed out")]
    IdleTimeout,
    /// The body made no progress within the body timeout.
    #[error("body transfer stalled")]
    BodyStalled,
}

impl ProtocolError {
    /// The status a server answers with, or `None` when the right answer is
    /// to close without one (an idle timeout, or a peer that already left).
    pub fn status(self) -> Option<StatusCode> {
        use ProtocolError::*;
        Some(match self {
            HeadTooLarge { .. } | HeaderLineTooLong { .. } | TooManyHeaders { .. } => {
                StatusCode::HEADER_FIELDS_TOO_LARGE
            }
            RequestLineTooLong { .. } => StatusCode::URI_TOO_LONG,
            UnsupportedVersion { .. } => StatusCode::VERSION_NOT_SUPPORTED,
            UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            LengthRequired => StatusCode::LENGTH_REQUIRED,
            BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HeadTimeout | BodyStalled => StatusCode::REQUEST_TIMEOUT,
            IdleTimeout | ClosedBeforeResponse | IncompleteHead | IncompleteBody { .. } => {
                return None
            }
            BadRequestLine
            | BadStatusLine
            | BadMethod
            | BadTarget
            | BadVersion
            | BareCr
            | ControlCharacter
            | BadHeaderName
            | WhitespaceBeforeColon
            | MissingColon
            | ObsFold
            | BadContentLength
            | ConflictingContentLength
            | LengthWithTransferEncoding
            | TransferEncodingOnHttp10
            | BadHost
            | BadChunk
            | UnexpectedUpgrade => StatusCode::BAD_REQUEST,
        })
    }
}

/// The caller used a connection in a way its state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A command that the current state does not accept.
    #[error("{action} is not allowed while {state}")]
    WrongState {
        /// What was attempted.
        action: &'static str,
        /// The state the connection was in.
        state: &'static str,
    },
    /// More body bytes than the head declared.
    #[error("body of {attempted} bytes exceeds the declared {declared}")]
    BodyTooLong {
        /// Declared length.
        declared: u64,
        /// Bytes the caller tried to send in total.
        attempted: u64,
    },
    /// The message was finished before its declared length was sent.
    #[error("body ended after {sent} of {declared} declared bytes")]
    BodyIncomplete {
        /// Declared length.
        declared: u64,
        /// Bytes sent.
        sent: u64,
    },
    /// A head to send holds a name or value that would corrupt the framing.
    #[error("refusing to send header {name:?}: CR, LF, NUL or invalid name")]
    InvalidField {
        /// The offending field name (lossy).
        name: String,
    },
    /// A request target or reason phrase with bytes that may not go on the wire.
    #[error("refusing to send {what}: it contains whitespace or control characters")]
    InvalidLine {
        /// Which part of the start line.
        what: &'static str,
    },
    /// A Content-Length on an outgoing head that is not a plain number.
    #[error("outgoing Content-Length is not a number")]
    InvalidLength,
}
