//! Reading one response, the same on every client runtime: core's events
//! turned into what the job does with them (show the head, follow a
//! redirect, write the body to its sink). The runtime only fills the
//! receive buffer when [`ResponseRead::advance`] asks for it.

use std::time::Instant;

use pared_core::client::{Connection, Event};
use pared_core::fetch::{Hop, Session};

use super::error::{response_failed, timeout_or, ClientError};
use super::job::Job;
use super::output::Sink;
use crate::recv_buf::RecvBuf;

/// What the runtime does next.
#[derive(Debug)]
pub enum Next {
    /// Read more bytes into the buffer (within the deadlines), then call
    /// [`ResponseRead::advance`] again.
    Fill,
    /// The session follows a redirect: start the next hop.
    Redirect,
    /// The response was delivered; the command exits with this code.
    Done(u8),
}

/// Where a response read is.
#[derive(Debug)]
enum Stage {
    Head,
    Body { exit: u8, sink: Box<Sink> },
    Over,
}

/// One response being read.
#[derive(Debug)]
pub struct ResponseRead {
    url: String,
    /// Why sending the upload failed, if it did: reported instead of the
    /// response's error when no head arrives (the server may have cut the
    /// upload off).
    write_failed: Option<ClientError>,
    stage: Stage,
}

impl ResponseRead {
    /// The read of the response to `hop`, after its request was sent (or
    /// failed to be sent with `write_failed`).
    pub fn new(hop: &Hop, write_failed: Option<ClientError>) -> ResponseRead {
        ResponseRead {
            url: hop.target.url(),
            write_failed,
            stage: Stage::Head,
        }
    }

    /// Feeds what `buf` holds to `conn` and acts on the events, until the
    /// buffer needs more bytes or the response is over.
    pub fn advance(
        &mut self,
        conn: &mut Connection,
        buf: &mut RecvBuf,
        job: &Job,
        session: &mut Session,
        hop: &Hop,
    ) -> Result<Next, ClientError> {
        loop {
            let (used, event) = match conn.handle_input(buf.data(), Instant::now()) {
                Ok(step) => step,
                Err(e) => return Err(self.failed(e)),
            };
            match (&mut self.stage, event) {
                (Stage::Head, Event::Head(head)) => {
                    buf.consume(used);
                    match job.deliver(session, &hop.head.method, &head)? {
                        Some((exit, sink)) => {
                            self.stage = Stage::Body {
                                exit,
                                sink: Box::new(sink),
                            }
                        }
                        None => {
                            self.stage = Stage::Over;
                            return Ok(Next::Redirect);
                        }
                    }
                }
                (Stage::Body { sink, .. }, Event::Body(data)) => {
                    sink.write(data)?;
                    buf.consume(used);
                }
                (Stage::Body { .. }, Event::End) => {
                    if let Stage::Body { exit, sink } =
                        std::mem::replace(&mut self.stage, Stage::Over)
                    {
                        sink.finish()?;
                        return Ok(Next::Done(exit));
                    }
                }
                _ => {
                    buf.consume(used);
                    return Ok(Next::Fill);
                }
            }
        }
    }

    /// The error for a response that failed: while waiting for its head,
    /// a failed upload's own error when there was one; in its body, core's
    /// error (timeouts named as such).
    fn failed(&mut self, e: pared_core::ProtocolError) -> ClientError {
        let url = self.url.clone();
        match self.stage {
            Stage::Head => response_failed(self.write_failed.take(), e, &url),
            _ => timeout_or(e, |source| ClientError::Protocol { url, source }),
        }
    }
}
