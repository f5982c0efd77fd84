//! The client side of one connection: a request out, its response in.
//!
//! Invariants:
//! - Events for the response come in the order `Head`, `Body`*, `End`;
//!   interim 1xx responses are skipped, as any HTTP/1.1 client must.
//! - The response may arrive before the request body is finished (a server
//!   refusing an upload early); it is read all the same.
//! - A body shorter than its framing promised is an error, never a short
//!   success.

use std::time::{Duration, Instant};

use crate::body::{request_framing, response_framing, BodyEvent, BodyReader, Framing};
use crate::deadline;
use crate::error::{ProtocolError, UsageError};
use crate::head::{Method, RequestHead, ResponseHead, Version};
use crate::parse::{Limits, Parsed, ResponseParser};
use crate::write::write_request;

/// Limits and timeouts of a client connection; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Head size limits for responses (more generous than a server's).
    pub limits: Limits,
    /// Time the response may go without progress. Default 30 s.
    pub read_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // Bounded by size, generously (real servers send many fields;
            // curl allows 300 KB), not by a small count.
            limits: Limits {
                max_head_bytes: 192 * 1024,
                max_line_bytes: 64 * 1024,
                max_headers: 10_000,
            },
            read_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// What [`Connection::handle_input`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'b> {
    /// The final response head.
    Head(ResponseHead),
    /// Response body bytes, borrowed from the caller's buffer.
    Body(&'b [u8]),
    /// The response is complete.
    End,
    /// Nothing to report until more bytes arrive.
    NeedData,
}

#[derive(Debug)]
enum Recv {
    /// No request sent yet.
    Idle,
    /// Waiting for the response head; any byte of it seen?
    Head { started: bool },
    /// Reading the body.
    Body(BodyReader),
    /// The response is complete.
    Done,
}

#[derive(Debug)]
enum Send {
    Idle,
    Body { framing: Framing, sent: u64 },
    Done,
}

/// The client side of one HTTP/1.x connection.
///
/// See the crate docs for the calling convention.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    parser: ResponseParser,
    method: Method,
    recv: Recv,
    send: Send,
    last: Option<Instant>,
    /// When the request (or its last body bytes) went out.
    sent_at: Option<Instant>,
    /// An interim (1xx) response arrived: from then on only a final head
    /// ends the wait, which runs from `sent_at` (a stream of `100
    /// Continue` never extends it).
    interim: bool,
    reusable: bool,
    eof: bool,
    error: Option<ProtocolError>,
}

impl Connection {
    /// A connection with no request sent yet.
    pub fn new(config: Config) -> Connection {
        Connection {
            parser: ResponseParser::new(config.limits),
            config,
            method: Method::Get,
            recv: Recv::Idle,
            send: Send::Idle,
            last: None,
            sent_at: None,
            interim: false,
            reusable: false,
            eof: false,
            error: None,
        }
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.error = Some(e);
        e
    }

    /// Writes the request head to `out`. A body needs a Content-Length
    /// field in `head`; its bytes are then counted with
    /// [`Connection::send_body`].
    pub fn send_request(
        &mut self,
        head: &RequestHead,
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<(), UsageError> {
        if !matches!(self.send, Send::Idle) || !matches!(self.recv, Recv::Idle) {
            return Err(UsageError::WrongState {
                action: "send_request",
                state: "a request was already sent",
            });
        }
        let framing = request_framing(head).map_err(|_| UsageError::InvalidLength)?;
        write_request(head, out)?;
        self.method = head.method.clone();
        self.reusable = head.wants_keep_alive();
        self.send = if framing == Framing::Empty {
            Send::Done
        } else {
            Send::Body { framing, sent: 0 }
        };
        self.recv = Recv::Head { started: false };
        self.last = Some(now);
        self.sent_at = Some(now);
        Ok(())
    }

    /// Counts `n` request body bytes the caller sent.
    pub fn send_body(&mut self, n: usize, now: Instant) -> Result<(), UsageError> {
        let Send::Body { framing, sent } = &mut self.send else {
            return Err(UsageError::WrongState {
                action: "send_body",
                state: "no request body is being sent",
            });
        };
        let attempted = *sent + n as u64;
        let declared = framing.known_length().unwrap_or(0);
        if attempted > declared {
            return Err(UsageError::BodyTooLong {
                declared,
                attempted,
            });
        }
        *sent = attempted;
        self.last = Some(now);
        self.sent_at = Some(now);
        Ok(())
    }

    /// Ends the request body; fails when fewer bytes than declared were sent.
    pub fn finish_request(&mut self) -> Result<(), UsageError> {
        match self.send {
            Send::Body { framing, sent } => {
                let declared = framing.known_length().unwrap_or(0);
                if sent != declared {
                    return Err(UsageError::BodyIncomplete { declared, sent });
                }
                self.send = Send::Done;
                Ok(())
            }
            Send::Done => Ok(()),
            Send::Idle => Err(UsageError::WrongState {
                action: "finish_request",
                state: "no request was sent",
            }),
        }
    }

    /// Feeds the unconsumed received bytes; returns how many were used and
    /// what they held. Call again with the rest until `NeedData` or `End`.
    pub fn handle_input<'b>(
        &mut self,
        input: &'b [u8],
        now: Instant,
    ) -> Result<(usize, Event<'b>), ProtocolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match &mut self.recv {
            Recv::Idle => Ok((0, Event::NeedData)),
            Recv::Head { .. } => self.read_head(input, now),
            Recv::Body(reader) => match reader.read(input) {
                Ok((n, BodyEvent::Data(d))) => {
                    self.last = Some(now);
                    Ok((n, Event::Body(d)))
                }
                Ok((n, BodyEvent::End)) => {
                    self.recv = Recv::Done;
                    Ok((n, Event::End))
                }
                Ok((n, BodyEvent::NeedData)) if !self.eof => Ok((n, Event::NeedData)),
                Ok((n, BodyEvent::NeedData)) => match reader.eof() {
                    Ok(()) => {
                        self.recv = Recv::Done;
                        self.reusable = false;
                        Ok((n, Event::End))
                    }
                    Err(e) => Err(self.fail(e)),
                },
                Err(e) => Err(self.fail(e)),
            },
            Recv::Done => Ok((0, Event::End)),
        }
    }

    fn read_head<'b>(
        &mut self,
        input: &'b [u8],
        now: Instant,
    ) -> Result<(usize, Event<'b>), ProtocolError> {
        let mut offset = 0;
        loop {
            let rest = &input[offset..];
            let parsed = self.parser.parse(rest).map_err(|e| self.fail(e))?;
            let Parsed::Complete { head, consumed } = parsed else {
                if !rest.is_empty() {
                    self.recv = Recv::Head { started: true };
                    self.last = Some(now);
                }
                if self.eof {
                    return Err(
                        self.fail(if matches!(self.recv, Recv::Head { started: true }) {
                            ProtocolError::IncompleteHead
                        } else {
                            ProtocolError::ClosedBeforeResponse
                        }),
                    );
                }
                return Ok((offset, Event::NeedData));
            };
            offset += consumed;
            self.last = Some(now);
            if head.status.as_u16() == 101 {
                return Err(self.fail(ProtocolError::UnexpectedUpgrade));
            }
            if head.status.is_informational() {
                self.interim = true;
                continue;
            }
            let framing = response_framing(&self.method, &head).map_err(|e| self.fail(e))?;
            self.reusable = self.reusable
                && framing != Framing::UntilClose
                && match head.version {
                    Version::Http10 => head.headers.has_token("connection", "keep-alive"),
                    Version::Http11 => !head.headers.has_token("connection", "close"),
                };
            self.recv = Recv::Body(BodyReader::new(framing));
            return Ok((offset, Event::Head(head)));
        }
    }

    /// Tells the connection the server closed its side (a read returned 0).
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// The instant by which the next response byte must arrive, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() || matches!(self.recv, Recv::Idle | Recv::Done) {
            return None;
        }
        let since = match self.recv {
            Recv::Head { .. } if self.interim => self.sent_at,
            _ => self.last,
        };
        since
            .zip(self.config.read_timeout)
            .and_then(|(at, d)| at.checked_add(d))
    }

    /// How long a driver may wait for input at `now`: `Ok(None)` when no
    /// deadline runs, the time left otherwise, or the timeout's error once
    /// the deadline has passed (as [`Connection::handle_timeout`] reports it).
    pub fn time_left(&mut self, now: Instant) -> Result<Option<Duration>, ProtocolError> {
        deadline::left(self, now)
    }

    /// Checks the deadline at `now`; an expired one becomes a sticky error
    /// (and an earlier sticky error is returned again).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ProtocolError> {
        deadline::check(self, now)
    }

    /// The framing of the response body, once its head has arrived.
    pub fn response_framing(&self) -> Option<Framing> {
        match &self.recv {
            Recv::Body(r) => Some(r.framing()),
            _ => None,
        }
    }

    /// True when the response is complete and the connection may carry
    /// another request.
    pub fn is_reusable(&self) -> bool {
        self.error.is_none() && matches!(self.recv, Recv::Done) && self.reusable
    }
}

impl deadline::Timed for Connection {
    fn failure(&self) -> Option<ProtocolError> {
        self.error
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }

    fn expired(&self) -> ProtocolError {
        match self.recv {
            Recv::Body(_) => ProtocolError::BodyStalled,
            _ => ProtocolError::HeadTimeout,
        }
    }

    fn set_failure(&mut self, e: ProtocolError) {
        self.error = Some(e);
    }
}
