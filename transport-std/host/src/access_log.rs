//! One access-log line per request on stderr, as every runtime writes it
//! (the line itself is core's [`pared_core::log::format_line`]: CLF or
//! JSON).

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use pared_core::log::{format_line, AccessRecord};
use pared_core::{RequestHead, ServerOptions};

/// When a request started, for its access-log line.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    /// Wall-clock time (the log's date, and `now` for Date fields).
    pub at: SystemTime,
    /// Monotonic time (the duration).
    pub began: Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        Started {
            at: SystemTime::now(),
            began: Instant::now(),
        }
    }

    /// Writes the request's access-log line to stderr, if logging is on:
    /// `req` is `None` when no head was parsed, `status` when none was sent.
    pub fn log(
        &self,
        opts: &ServerOptions,
        peer: IpAddr,
        user: Option<&str>,
        req: Option<&RequestHead>,
        status: Option<u16>,
        bytes: u64,
    ) {
        // Nothing is looked at for metrics unless they are on: this runs
        // for every request.
        if let (true, Some(r), Some(status)) = (crate::metrics::enabled(), req, status) {
            // Upload bytes: what a successful request's body declared.
            let received = if (200..300).contains(&status) {
                pared_core::body::content_length(&r.headers)
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            } else {
                0
            };
            crate::metrics::request(
                r.method.as_str(),
                status,
                bytes,
                received,
                self.began.elapsed(),
            );
        }
        if !opts.access_log {
            return;
        }
        let remote = peer.to_canonical().to_string();
        let mut line = format_line(
            opts.log_format,
            &AccessRecord {
                remote: &remote,
                user,
                request: req.map(|r| (r.method.as_str(), r.target.as_str(), r.version.as_str())),
                status,
                bytes,
                start: self.at,
                duration: self.began.elapsed(),
            },
        );
        line.push('\n');
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }

    /// Logs an answered request: `sent` is what sending its answer came
    /// to (the body bytes, or why it failed: then what went out is
    /// unknown and counted as 0).
    pub fn log_answer<E>(
        &self,
        opts: &ServerOptions,
        peer: IpAddr,
        user: Option<&str>,
        req: &RequestHead,
        status: u16,
        sent: &Result<u64, E>,
    ) {
        let bytes = *sent.as_ref().unwrap_or(&0);
        self.log(opts, peer, user, Some(req), Some(status), bytes);
    }

    /// Logs a request ended by a protocol error: `status` is the answer
    /// sent, if any; nothing is logged when there was neither a request
    /// head nor an answer (a client that left between requests).
    pub fn log_error(
        &self,
        opts: &ServerOptions,
        peer: IpAddr,
        req: Option<&RequestHead>,
        status: Option<u16>,
        bytes: u64,
    ) {
        if status.is_some() || req.is_some() {
            self.log(opts, peer, None, req, status, bytes);
        }
    }
}
