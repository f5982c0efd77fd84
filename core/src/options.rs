//! Whole-server and whole-client settings, as the CLI builds them from
//! flags and the transports read them. Kept here so both runtimes share
//! one meaning and one set of defaults.

use std::time::Duration;

use crate::service::ServiceConfig;
use crate::{client, server};

/// Everything a server transport needs besides sockets and a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Per-connection limits and timeouts.
    pub connection: server::Config,
    /// File-service behaviour.
    pub service: ServiceConfig,
    /// Connections served at once. At the limit, a waiting connection
    /// takes the slot of the longest-idle keep-alive connection; with none
    /// idle, accepting pauses. Default 512; `None` means no limit.
    pub max_connections: Option<usize>,
    /// Connections one client (an IPv4 address, an IPv6 prefix of
    /// `ipv6_client_prefix` bits) may hold at once; more get 503 and are
    /// closed. Default 64; `None` means no limit.
    pub max_per_client: Option<usize>,
    /// How many leading bits of an IPv6 address name one client. Default
    /// [`crate::admission::DEFAULT_IPV6_PREFIX`] (a /56).
    pub ipv6_client_prefix: u8,
    /// How long in-flight requests may run after SIGINT/SIGTERM. Default 10 s.
    pub grace: Duration,
    /// How access-log lines are written. Default CLF.
    pub log_format: crate::log::LogFormat,
    /// Write one access-log line per request to stderr. Default on.
    pub access_log: bool,
    /// Who may read and write.
    pub auth: crate::auth::AuthConfig,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            connection: server::Config::default(),
            service: ServiceConfig::default(),
            max_connections: Some(512),
            max_per_client: Some(64),
            ipv6_client_prefix: crate::admission::DEFAULT_IPV6_PREFIX,
            grace: Duration::from_secs(10),
            access_log: true,
            log_format: crate::log::LogFormat::Clf,
            auth: crate::auth::AuthConfig::default(),
        }
    }
}

/// Everything a client transport needs besides the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Response limits and the read timeout.
    pub connection: client::Config,
    /// Time to connect. Default 30 s; `None` waits as long as the OS does.
    pub connect_timeout: Option<Duration>,
    /// Follow redirects (`-L`).
    pub follow_redirects: bool,
    /// The most redirects followed. Default 10.
    pub max_redirects: usize,
    /// The largest body accepted (`--max-filesize`); `None` means no limit.
    pub max_filesize: Option<u64>,
    /// Time the whole command may take, redirects included (`--max-time`);
    /// `None` means no limit.
    pub max_time: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connection: client::Config::default(),
            connect_timeout: Some(Duration::from_secs(30)),
            follow_redirects: false,
            max_redirects: 10,
            max_filesize: None,
            max_time: None,
        }
    }
}
