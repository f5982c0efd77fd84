//! Exit codes of the client and the errors of its decisions.

use crate::head::StatusCode;

/// Exit code: success (2xx, or 304).
pub const EXIT_OK: u8 = 0;
/// Exit code: a local file could not be read or written.
pub const EXIT_LOCAL: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: network or protocol failure (name lookup, connect, timeout,
/// truncated or malformed response).
pub const EXIT_NETWORK: u8 = 3;
/// Exit code: the server answered 4xx.
pub const EXIT_HTTP_4XX: u8 = 4;
/// Exit code: the server answered 5xx.
pub const EXIT_HTTP_5XX: u8 = 5;
/// Exit code: a redirect that was not or could not be followed, or any
/// other status that is not success.
pub const EXIT_HTTP_OTHER: u8 = 6;
/// Exit code: 412 Precondition Failed (`--if-match`, `--create-only`, or
/// a `-H` precondition did not hold; nothing was changed).
pub const EXIT_PRECONDITION: u8 = 7;
/// Exit code: the body did not match the response's `Repr-Digest` or
/// `Content-Digest` (no output file is left).
pub const EXIT_DIGEST: u8 = 8;

/// Exit code: TLS failed (a certificate that does not verify: unknown
/// issuer, expired, name mismatch; or the handshake).
pub const EXIT_TLS: u8 = 9;

/// The exit code a final response status earns.
pub fn status_exit(status: StatusCode) -> u8 {
    match status.as_u16() {
        200..=299 | 304 => EXIT_OK,
        412 => EXIT_PRECONDITION,
        400..=499 => EXIT_HTTP_4XX,
        500..=599 => EXIT_HTTP_5XX,
        _ => EXIT_HTTP_OTHER,
    }
}

/// Why a fetch cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A host, path or header with CR, LF, NUL, or otherwise unusable.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A redirect to a scheme pared does not speak.
    #[error("redirected to {location}, but pared speaks only http and https")]
    UnsupportedScheme {
        /// Where the server pointed.
        location: String,
    },
    /// A redirect without a usable Location.
    #[error("redirect {status} without a usable Location")]
    BadLocation {
        /// The redirect status.
        status: u16,
    },
    /// More redirects than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The limit.
        max: usize,
    },
    /// A redirect back to a place already visited.
    #[error("redirect loop at {url}")]
    RedirectLoop {
        /// The repeated URL.
        url: String,
    },
    /// A redirect that would re-send the upload to another host or port.
    #[error("redirected to {url}, another host or port: the upload is not sent there (run the command again against it if that is wanted)")]
    BodyToOtherOrigin {
        /// Where the server pointed (escaped).
        url: String,
    },
}

/// Request fields that carry credentials: dropped when a redirect leads to
/// another scheme, host or port (curl's fixes for CVE-2018-1000007 and
/// CVE-2022-27776).
pub const CREDENTIAL_FIELDS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

impl FetchError {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            FetchError::Invalid { .. } => EXIT_USAGE,
            _ => EXIT_HTTP_OTHER,
        }
    }
}
