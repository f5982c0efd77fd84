//! The server side of one connection: requests in, responses out.
//!
//! Invariants:
//! - Events for one request come in the order `Head`, `Body`*, `End`; then
//!   `Paused` until the response is finished, then the next request.
//! - A response may be sent once per request, also after a
//!   [`ProtocolError`] (to answer it); the error stays sticky and the
//!   connection closes after that response.
//! - The connection is kept alive only when the client asked, the response
//!   length is known, the request was read to its end, and nothing failed.
//! - Core counts outgoing body bytes but never sees them, so a driver may
//!   send a file with `sendfile`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::{request_framing, response_framing, BodyEvent, BodyReader, Framing};
use crate::deadline;
use crate::error::{ProtocolError, UsageError};
use crate::head::{Method, RequestHead, ResponseHead, Version};
use crate::parse::{Limits, Parsed, RequestParser};
use crate::write::write_response_with;

/// Limits and timeouts of a server connection; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Head size limits.
    pub limits: Limits,
    /// Time from a request's first byte (or from accepting, for the first
    /// request) to its complete head: the slowloris bound. Default 10 s.
    pub head_timeout: Option<Duration>,
    /// Time a kept-alive connection may wait for its next request. Default 15 s.
    pub idle_timeout: Option<Duration>,
    /// Time a body (either direction) may go without progress. Default 30 s.
    pub body_timeout: Option<Duration>,
    /// Largest request body accepted; longer ones get 413 before a byte of
    /// the body is read. Default none.
    pub max_body: Option<u64>,
    /// Requests one connection may carry; the last one is answered with
    /// `Connection: close` (as nginx's `keepalive_requests`). Default 1000.
    pub max_requests: Option<u32>,
    /// Slowest a response body may be taken, in bytes per second: within
    /// every `body_timeout` window the client must accept at least
    /// `body_timeout × min_send_rate` bytes (or the rest of the body), or
    /// the connection fails. Default 1024; 0 keeps only the no-progress rule.
    pub min_send_rate: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            head_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(15)),
            body_timeout: Some(Duration::from_secs(30)),
            max_body: None,
            max_requests: Some(1000),
            min_send_rate: 1024,
        }
    }
}

/// How long a lingering close (see [`Connection::needs_lingering_close`])
/// reads and discards before closing.
pub const LINGER_TIME: Duration = Duration::from_secs(1);

/// How many bytes a lingering close discards at most.
pub const LINGER_BYTES: usize = 1 << 20;

/// What [`Connection::handle_input`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'b> {
    /// A request head.
    Head(RequestHead),
    /// Request body bytes, borrowed from the caller's buffer.
    Body(&'b [u8]),
    /// The request (head and body) is complete.
    End,
    /// Nothing to report until more bytes arrive.
    NeedData,
    /// A request is complete and its response is not finished yet; further
    /// bytes (a pipelined request) wait until it is.
    Paused,
    /// The client closed the connection between requests.
    Closed,
}

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Keep it open and read the next request.
    KeepAlive,
    /// Close it.
    Close,
}

#[derive(Debug)]
enum Recv {
    /// Waiting for the first byte of a head since `since`.
    Idle { since: Instant, first: bool },
    /// Some bytes of a head arrived; the first at `since`.
    Head { since: Instant },
    /// Reading the body; last progress at `last`; `limit` bounds a body
    /// whose length was not declared (chunked), as it arrives.
    Body {
        reader: BodyReader,
        last: Instant,
        limit: Option<u64>,
    },
    /// The request is complete.
    Done,
    /// The client closed between requests.
    Closed,
}

#[derive(Debug)]
enum Send {
    /// No response started for the current request.
    Idle,
    /// The head is out; `sent` of the body counted; the current rate
    /// window began at `window` with `sent` at `window_sent`; a chunked
    /// body is `ended` once its last chunk was written.
    Body {
        ended: bool,
        framing: Framing,
        sent: u64,
        window: Instant,
        window_sent: u64,
    },
}

/// What the server remembers about the request being answered.
#[derive(Debug, Clone)]
struct Answering {
    method: Method,
    version: Version,
    keep_alive: bool,
    expects_continue: bool,
}

/// The server side of one HTTP/1.x connection.
///
/// See the crate docs for the calling convention and the driver loop.
#[derive(Debug)]
pub struct Connection {
    /// Shared by every connection of a server (it is read, never changed).
    config: Arc<Config>,
    parser: RequestParser,
    recv: Recv,
    send: Send,
    current: Option<Answering>,
    keep_alive: bool,
    eof: bool,
    /// A response ended the connection; nothing more may be sent.
    finished: bool,
    /// Requests answered on this connection.
    served: u32,
    /// The last response ended the connection before its request's body
    /// was read whole.
    unread: bool,
    error: Option<ProtocolError>,
}

impl Connection {
    /// A connection accepted at `now`.
    /// A server passes one `Arc` to all its connections, so none keeps a
    /// copy of its own; a plain `Config` works too.
    pub fn new(config: impl Into<Arc<Config>>, now: Instant) -> Connection {
        let config = config.into();
        Connection {
            parser: RequestParser::new(config.limits),
            config,
            recv: Recv::Idle {
                since: now,
                first: true,
            },
            send: Send::Idle,
            current: None,
            keep_alive: false,
            eof: false,
            finished: false,
            served: 0,
            unread: false,
            error: None,
        }
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.error = Some(e);
        e
    }

    /// Feeds the unconsumed received bytes; returns how many were used and
    /// what they held. Call again with the rest until `NeedData`, `Paused`
    /// or `Closed`.
    pub fn handle_input<'b>(
        &mut self,
        input: &'b [u8],
        now: Instant,
    ) -> Result<(usize, Event<'b>), ProtocolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match &mut self.recv {
            Recv::Idle { .. } | Recv::Head { .. } => self.read_head(input, now),
            Recv::Body {
                reader,
                last,
                limit,
            } => match reader.read(input) {
                Ok((n, BodyEvent::Data(d))) => {
                    if let Some(limit) = *limit {
                        let length = reader.received();
                        if length > limit {
                            return Err(self.fail(ProtocolError::BodyTooLarge { length, limit }));
                        }
                    }
                    *last = now;
                    Ok((n, Event::Body(d)))
                }
                Ok((n, BodyEvent::End)) => {
                    self.recv = Recv::Done;
                    Ok((n, Event::End))
                }
                Ok((n, BodyEvent::NeedData)) if !self.eof => Ok((n, Event::NeedData)),
                Ok(_) => {
                    let e = reader.eof().err().unwrap_or(ProtocolError::IncompleteHead);
                    Err(self.fail(e))
                }
                Err(e) => Err(self.fail(e)),
            },
            Recv::Done => Ok((0, Event::Paused)),
            Recv::Closed => Ok((0, Event::Closed)),
        }
    }

    fn read_head<'b>(
        &mut self,
        input: &'b [u8],
        now: Instant,
    ) -> Result<(usize, Event<'b>), ProtocolError> {
        let parsed = self.parser.parse(input).map_err(|e| self.fail(e))?;
        let Parsed::Complete { head, consumed } = parsed else {
            if self.eof {
                if input.is_empty() {
                    self.recv = Recv::Closed;
                    return Ok((0, Event::Closed));
                }
                return Err(self.fail(ProtocolError::IncompleteHead));
            }
            if let Recv::Idle { since, first } = self.recv {
                if !input.is_empty() {
                    // The first request's head is timed from the accept.
                    let since = if first { since } else { now };
                    self.recv = Recv::Head { since };
                }
            }
            return Ok((0, Event::NeedData));
        };
        self.current = Some(Answering {
            method: head.method.clone(),
            version: head.version,
            keep_alive: head.wants_keep_alive(),
            expects_continue: head.version == Version::Http11
                && head.headers.has_token("expect", "100-continue"),
        });
        if head.version == Version::Http11 && head.headers.get_all("host").count() != 1 {
            return Err(self.fail(ProtocolError::BadHost));
        }
        let framing = request_framing(&head).map_err(|e| self.fail(e))?;
        if let (Framing::Length(length), Some(limit)) = (framing, self.config.max_body) {
            if length > limit {
                return Err(self.fail(ProtocolError::BodyTooLarge { length, limit }));
            }
        }
        self.recv = Recv::Body {
            reader: BodyReader::new(framing),
            last: now,
            limit: self.config.max_body,
        };
        Ok((consumed, Event::Head(head)))
    }

    /// Bounds the body of the request just received to `max` bytes (the
    /// file service's `--max-upload`): a declared length over it was
    /// refused before the body, and a chunked body fails with
    /// [`ProtocolError::BodyTooLarge`] (413) as soon as it passes it.
    /// Call it after `Head` and before reading the body; the tighter of it
    /// and [`Config::max_body`] holds.
    pub fn limit_body(&mut self, max: Option<u64>) {
        if let Recv::Body { limit, .. } = &mut self.recv {
            *limit = match (*limit, max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// Tells the connection the client closed its side (a read returned 0).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// The next instant at which [`Connection::handle_timeout`] must be
    /// called, if any deadline is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let c = &self.config;
        match (&self.recv, &self.send) {
            (_, Send::Body { window, .. }) => add(*window, c.body_timeout),
            (Recv::Idle { since, first: true }, _) => add(*since, c.head_timeout),
            (
                Recv::Idle {
                    since,
                    first: false,
                },
                _,
            ) => add(*since, c.idle_timeout),
            (Recv::Head { since }, _) => add(*since, c.head_timeout),
            (Recv::Body { reader, last, .. }, _) if !reader.is_done() => add(*last, c.body_timeout),
            _ => None,
        }
    }

    /// How long a driver may wait for input at `now`: `Ok(None)` when no
    /// deadline runs, the time left otherwise, or the timeout's error once
    /// the deadline has passed (as [`Connection::handle_timeout`] reports it).
    pub fn time_left(&mut self, now: Instant) -> Result<Option<Duration>, ProtocolError> {
        deadline::left(self, now)
    }

    /// Checks the deadlines at `now`; an expired one becomes a sticky error
    /// (and an earlier sticky error is returned again).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ProtocolError> {
        deadline::check(self, now)
    }

    /// True between requests: no byte of a next request has arrived, so a
    /// server shutting down may close the connection without losing work.
    pub fn is_idle(&self) -> bool {
        matches!(self.recv, Recv::Idle { .. } | Recv::Closed) && matches!(self.send, Send::Idle)
    }

    /// True when the connection was closed by a response sent before its
    /// request body was read (a 401, 412, 413 …): the client may still be
    /// sending it, so the driver should stop writing, read and discard
    /// for a short, bounded time, then close ("lingering close"), or the
    /// unread bytes turn the close into a reset that can destroy the
    /// answer before the client reads it.
    pub fn needs_lingering_close(&self) -> bool {
        self.finished && self.unread
    }

    /// The sticky error, if the client broke the protocol or timed out.
    pub fn error(&self) -> Option<ProtocolError> {
        self.error
    }

    /// True while no response has been started for the current request
    /// (or for a failed one), so [`Connection::send_response`] may be called.
    pub fn can_respond(&self) -> bool {
        !self.finished
            && matches!(self.send, Send::Idle)
            && (self.current.is_some() || self.error.is_some())
    }

    /// Writes `HTTP/1.1 100 Continue` to `out` when the client is waiting
    /// for it (an HTTP/1.1 `Expect: 100-continue` request). Call it before
    /// reading a body the server intends to accept.
    pub fn accept_body(&mut self, out: &mut Vec<u8>) {
        if let Some(cur) = &mut self.current {
            if cur.expects_continue && matches!(self.send, Send::Idle) {
                cur.expects_continue = false;
                out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
        }
    }

    /// Writes the response head to `out`, adding the `Connection` field.
    /// The caller supplies Content-Length; a head without one (and with
    /// a body) is a body of unknown length: to an HTTP/1.1 request it goes
    /// out chunked (the connection adds `Transfer-Encoding: chunked` and
    /// answers with `HTTP/1.1`, since RFC 9112 §6.1 makes a transfer
    /// coding in an HTTP/1.0 message faulty), sent with
    /// [`Connection::send_chunk`] and ended by [`Connection::end_body`];
    /// to an HTTP/1.0 request it is delimited by closing the connection.
    pub fn send_response(
        &mut self,
        head: &ResponseHead,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), UsageError> {
        if !self.can_respond() {
            return Err(self.wrong_state("send_response"));
        }
        let (method, version) = self
            .current
            .as_ref()
            .map_or((Method::Get, Version::Http10), |c| {
                (c.method.clone(), c.version)
            });
        let mut framing = response_framing(&method, head).map_err(|_| UsageError::InvalidLength)?;
        if framing == Framing::Chunked {
            // The connection chooses the coding; a caller's is refused.
            return Err(UsageError::InvalidLength);
        }
        if framing == Framing::UntilClose && version == Version::Http11 {
            framing = Framing::Chunked;
        }
        let last_allowed = self
            .config
            .max_requests
            .is_some_and(|max| self.served.saturating_add(1) >= max);
        // Answered before its body was read (a 401, 413, 412 ...): the
        // connection closes, and says so, since the rest of the body is
        // still on its way.
        let body_unread = matches!(&self.recv, Recv::Body { reader, .. } if !reader.is_done());
        self.keep_alive = self.error.is_none()
            && !body_unread
            && self.current.as_ref().is_some_and(|c| c.keep_alive)
            && framing != Framing::UntilClose
            && !last_allowed
            && !head.headers.has_token("connection", "close");
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        write_response_with(head, Some(connection), framing == Framing::Chunked, out)?;
        self.send = Send::Body {
            ended: framing != Framing::Chunked,
            framing,
            sent: 0,
            window: now,
            window_sent: 0,
        };
        Ok(())
    }

    /// True when the response being sent is chunked: its body goes out
    /// through [`Connection::send_chunk`] and [`Connection::end_body`].
    pub fn is_chunked(&self) -> bool {
        matches!(
            self.send,
            Send::Body {
                framing: Framing::Chunked,
                ..
            }
        )
    }

    /// Appends `data` to `out` as one chunk of a chunked response and
    /// counts it; for any other framing, appends `data` as it is (so a
    /// caller can send a body of unknown length the same way to both
    /// versions).
    pub fn send_chunk(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), UsageError> {
        if self.is_chunked() {
            crate::chunked::write_chunk(data, out);
        } else {
            out.extend_from_slice(data);
        }
        self.send_body(data.len(), now)
    }

    /// Ends a body of unknown length: the last chunk of a chunked
    /// response goes into `out`; nothing for other framings.
    pub fn end_body(&mut self, out: &mut Vec<u8>) -> Result<(), UsageError> {
        match &mut self.send {
            Send::Body {
                framing: Framing::Chunked,
                ended,
                ..
            } if !*ended => {
                out.extend_from_slice(crate::chunked::LAST_CHUNK);
                *ended = true;
                Ok(())
            }
            Send::Body { .. } => Ok(()),
            Send::Idle => Err(self.wrong_state("end_body")),
        }
    }

    /// The number of body bytes the response head allows, if it states one.
    pub fn response_length(&self) -> Option<u64> {
        match self.send {
            Send::Body { framing, .. } => framing.known_length(),
            Send::Idle => None,
        }
    }

    /// Counts `n` response body bytes the caller sent.
    pub fn send_body(&mut self, n: usize, now: Instant) -> Result<(), UsageError> {
        let quota = self.window_quota();
        let Send::Body {
            framing,
            sent,
            window,
            window_sent,
            ..
        } = &mut self.send
        else {
            return Err(self.wrong_state("send_body"));
        };
        let attempted = *sent + n as u64;
        if let Some(declared) = framing.known_length() {
            if attempted > declared {
                return Err(UsageError::BodyTooLong {
                    declared,
                    attempted,
                });
            }
        }
        *sent = attempted;
        // Enough for this window: a new one starts.
        if *sent - *window_sent >= quota {
            *window = now;
            *window_sent = *sent;
        }
        Ok(())
    }

    /// Bytes a client must take per `body_timeout` window (at least 1, so
    /// any progress counts when the rate is 0).
    fn window_quota(&self) -> u64 {
        let secs = self.config.body_timeout.map_or(0, |d| d.as_secs());
        (secs.saturating_mul(self.config.min_send_rate)).max(1)
    }

    /// Ends the response; says whether the connection carries another
    /// request, and if so readies it for one, with the idle timer from `now`.
    pub fn finish_response(&mut self, now: Instant) -> Result<Reuse, UsageError> {
        let Send::Body {
            framing,
            sent,
            ended,
            ..
        } = self.send
        else {
            return Err(self.wrong_state("finish_response"));
        };
        if !ended {
            // A chunked body without its last chunk: the client cannot
            // tell it from a cut one, so the connection closes.
            self.keep_alive = false;
            self.send = Send::Idle;
            self.current = None;
            self.finished = true;
            return Err(UsageError::BodyIncomplete {
                declared: u64::MAX,
                sent,
            });
        }
        if let Some(declared) = framing.known_length() {
            if sent != declared {
                self.keep_alive = false;
                self.send = Send::Idle;
                self.current = None;
                self.finished = true;
                return Err(UsageError::BodyIncomplete { declared, sent });
            }
        }
        let request_done = match &self.recv {
            Recv::Done => true,
            Recv::Body { reader, .. } => reader.is_done(),
            _ => false,
        };
        self.send = Send::Idle;
        self.current = None;
        self.served = self.served.saturating_add(1);
        if self.keep_alive && request_done && self.error.is_none() && !self.eof {
            self.recv = Recv::Idle {
                since: now,
                first: false,
            };
            Ok(Reuse::KeepAlive)
        } else {
            self.unread = !request_done;
            self.recv = Recv::Done;
            self.keep_alive = false;
            self.finished = true;
            Ok(Reuse::Close)
        }
    }

    fn wrong_state(&self, action: &'static str) -> UsageError {
        let state = match (&self.recv, &self.send) {
            (_, Send::Body { .. }) => "sending a response body",
            (Recv::Idle { .. } | Recv::Head { .. }, _) if self.error.is_none() => {
                "waiting for a request head"
            }
            _ if self.finished => "closed",
            (Recv::Closed, _) => "closed",
            _ if self.current.is_none() && self.error.is_none() => "no request to answer",
            _ => "reading a request",
        };
        UsageError::WrongState { action, state }
    }
}

fn add(at: Instant, d: Option<Duration>) -> Option<Instant> {
    d.and_then(|d| at.checked_add(d))
}

impl deadline::Timed for Connection {
    fn failure(&self) -> Option<ProtocolError> {
        self.error
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }

    fn expired(&self) -> ProtocolError {
        match (&self.recv, &self.send) {
            (_, Send::Body { .. }) | (Recv::Body { .. }, _) => ProtocolError::BodyStalled,
            (Recv::Head { .. }, _) => ProtocolError::HeadTimeout,
            _ => ProtocolError::IdleTimeout,
        }
    }

    fn set_failure(&mut self, e: ProtocolError) {
        self.error = Some(e);
    }
}
