//! One connection on one thread: TLS accept, then a loop of reading a
//! request head, running the exchange's plan and sending its answer;
//! an idle keep-alive connection is handed back to be parked.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pared_core::server::{Connection, Event, Reuse};
use pared_core::service::FsFailure;
use pared_core::{ProtocolError, RequestHead};
use pared_host::access_log::Started;
use pared_host::conn_end::log_handshake_failure;
use pared_host::conn_end::{
    error_answer, handshake_failure, handshake_limit, plain_http_on_tls_port, refusal,
    reset_if_stalled, Stop,
};
use pared_host::conn_slots::Slot;
use pared_host::document::take_document;
use pared_host::exchange::{Answer, Plan, Receive};
use pared_host::fs::Upload;
use pared_host::listener::{recv_capacity, UPLOAD_BUFFER};
use pared_host::next_request::{self, Between};
use pared_host::recv_buf::RecvBuf;
use pared_host::shutdown::POLL;
use pared_host::tls::{handshake, looks_like_tls, Tls, Wire};
use pared_host::wait::wait_for;
use rustix::event::PollFlags;

use super::threads::{Parked, Shared};

/// One connection's state as the driver loop sees it.
pub(super) struct Conn<'a> {
    pub(super) wire: Wire,
    pub(super) peer_ip: IpAddr,
    pub(super) conn: Connection,
    pub(super) buf: RecvBuf,
    pub(super) out: Vec<u8>,
    /// The read timeout last set on the socket, to skip repeating it.
    pub(super) read_timeout: Option<Duration>,
    pub(super) shared: &'a Shared,
    pub(super) slot: Slot,
}

/// Starts TLS on an accepted connection, within the header timeout (a
/// trickled handshake is cut there); a client that speaks plain http gets
/// a 400 saying this port speaks https. A failed handshake is one line on
/// stderr and ends only this connection. `None`: the connection is over.
fn tls_accept(
    stream: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    shared: &Shared,
    peer: SocketAddr,
    slot: &Slot,
) -> Option<Wire> {
    let limit = handshake_limit(shared.opts.connection.head_timeout);
    let deadline = Some(Instant::now() + limit);
    let _ = stream.set_read_timeout(Some(limit));
    let mut first = [0u8; 1];
    match stream.peek(&mut first) {
        Ok(1) if !looks_like_tls(first[0]) => {
            let reply = plain_http_on_tls_port(SystemTime::now());
            let _ = (&stream).write_all(&reply);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut sink = [0u8; 4096];
            let _ = (&stream).read(&mut sink);
            return None;
        }
        Ok(1) => {}
        _ => return None,
    }
    let mut tls = match Tls::server(config.clone()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pared: TLS with {}: {e}", peer.ip().to_canonical());
            return None;
        }
    };
    // At the global limit, the handshake that has run the longest gives
    // way to a waiting connection (see `conn_slots`).
    let give_up = || slot.evicted() || shared.stop.requested();
    match handshake(&stream, &mut tls, deadline, Some(&give_up)) {
        Ok(()) => Some(Wire::Tls(stream, Box::new(tls))),
        Err(e) => {
            log_handshake_failure(&shared.opts, peer.ip(), &handshake_failure(&e));
            None
        }
    }
}

/// Answers 503 to a connection whose client holds too many, and closes it.
/// What the client already sent is read first (without waiting), so the
/// close does not turn into a reset that would hide the answer.
pub(super) fn refuse(stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    let _ = (&stream).read(&mut sink);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&stream).write_all(&refusal(SystemTime::now()));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Serves a newly accepted connection; `Some` when it was parked idle.
pub(super) fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    slot: Slot,
) -> Option<Parked> {
    // accept() does not pass the listener's O_NONBLOCK on: the stream
    // blocks. TCP_NODELAY it does pass on (`nodelay_for_accepted`).
    // A write that makes no progress for the body timeout fails.
    stream
        .set_write_timeout(shared.opts.connection.body_timeout)
        .ok()?;
    let accepted = Instant::now();
    let wire = match &shared.tls {
        None => Wire::Plain(stream),
        Some(config) => tls_accept(stream, config, shared, peer, &slot)?,
    };
    Conn {
        wire,
        peer_ip: peer.ip(),
        // The handshake counts against the first request's head timeout.
        conn: Connection::new(shared.connection.clone(), accepted),
        buf: RecvBuf::lazy(recv_capacity(&shared.opts)),
        out: Vec::new(),
        read_timeout: None,
        shared,
        slot,
    }
    .run()
}

/// Serves a parked connection whose client sent again; `Some` when it was
/// parked again.
pub(super) fn resume(shared: &Shared, p: Parked) -> Option<Parked> {
    let c = Conn {
        wire: Wire::Plain(p.stream),
        peer_ip: p.peer_ip,
        conn: p.conn,
        buf: RecvBuf::lazy(recv_capacity(&shared.opts)),
        out: Vec::new(),
        read_timeout: None,
        shared,
        slot: p.slot,
    };
    c.run()
}

impl Conn<'_> {
    /// Serves requests until the connection ends (`None`) or is idle long
    /// enough to be parked (`Some`).
    fn run(mut self) -> Option<Parked> {
        loop {
            let head = match self.next_head() {
                Ok(Next::Head(head)) => head,
                Ok(Next::Park) => return self.park(),
                Ok(Next::Close) => return None,
                Err(Stop::Protocol(e)) => {
                    self.answer_error(e, None, Started::now());
                    self.linger();
                    return None;
                }
                Err(e) => {
                    e.report();
                    return None;
                }
            };
            match self.serve_request(head) {
                Ok(Reuse::KeepAlive) => continue,
                Ok(Reuse::Close) => {
                    if self.conn.needs_lingering_close() {
                        self.linger();
                    }
                    return None;
                }
                Err(e) => {
                    e.report();
                    return None;
                }
            }
        }
    }

    /// The connection's state without its thread or buffers.
    fn park(self) -> Option<Parked> {
        match self.wire {
            Wire::Plain(stream) => Some(Parked {
                stream,
                peer_ip: self.peer_ip,
                conn: self.conn,
                slot: self.slot,
            }),
            // Never parked (see `next_head`).
            Wire::Tls(..) => None,
        }
    }
}

/// What waiting between requests came to.
enum Next {
    /// A request head.
    Head(RequestHead),
    /// The connection ends.
    Close,
    /// Idle for a while with nothing pending: hand it to the parking lot.
    Park,
}

impl Conn<'_> {
    /// A lingering close: stop sending, then read and discard what the
    /// client is still sending (bounded by core's time and size), so the
    /// close does not reset the connection under the answer just sent.
    fn linger(&mut self) {
        let _ = self.wire.socket().shutdown(std::net::Shutdown::Write);
        let socket = self.wire.socket();
        let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
        let end = Instant::now() + pared_core::server::LINGER_TIME;
        let mut discarded = 0;
        // On the heap: a thread's stack keeps every page it ever touched.
        let mut sink = vec![0u8; 16 * 1024];
        // Raw bytes: what is discarded need not be decrypted.
        while Instant::now() < end && discarded < pared_core::server::LINGER_BYTES {
            match (&mut &*socket).read(&mut sink) {
                Ok(0) => break,
                Ok(n) => discarded += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
        }
    }

    /// Reads until a request head arrives; `None` when the client closed.
    fn next_head(&mut self) -> Result<Next, Stop> {
        loop {
            let stop = &self.shared.stop;
            let next = next_request::next(&mut self.conn, &mut self.buf, &self.slot, stop);
            match next.map_err(Stop::Protocol)? {
                Between::Head(head) => return Ok(Next::Head(head)),
                Between::Close => return Ok(Next::Close),
                // A whole wait with nothing (the buffer was given back):
                // the thread leaves the connection to the parking lot. TLS
                // connections stay (their session may hold decrypted
                // bytes).
                Between::Read { idle: true } if self.buf.is_released() && !self.wire.is_tls() => {
                    return Ok(Next::Park)
                }
                Between::Read { .. } => self.fill()?,
            }
        }
    }

    /// One read from the socket, bounded by core's next deadline (and by
    /// [`POLL`] between requests, to notice a shutdown).
    fn fill(&mut self) -> Result<(), Stop> {
        let left = self
            .conn
            .time_left(Instant::now())
            .map_err(Stop::Protocol)?;
        let cap = if self.conn.is_idle() { POLL } else { POLL * 5 };
        let wait = Some(
            left.map_or(cap, |d| d.min(cap))
                .max(Duration::from_millis(1)),
        );
        if self.buf.is_released() {
            // Idle without a buffer: wait until the client sends something.
            match wait_for(self.wire.socket(), PollFlags::IN, wait) {
                Ok(false) => return Ok(()),
                Ok(true) => self.buf.restore(),
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        if wait != self.read_timeout {
            self.wire.socket().set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        let spare = self.buf.spare();
        if spare.is_empty() {
            // Core never lets a head outgrow the buffer; a full buffer is a bug.
            return Err(Stop::Io(io::Error::other("receive buffer full")));
        }
        match self.wire.read(spare) {
            Ok(0) => self.conn.handle_eof(),
            Ok(n) => self.buf.filled(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                // A whole wait with nothing, between requests: hold no
                // buffer while idle (TLS may keep decrypted bytes of its
                // own, so its connections keep theirs).
                if self.conn.is_idle() && !self.wire.is_tls() {
                    self.buf.release();
                }
            }
            Err(e) => return Err(Stop::Io(e)),
        }
        Ok(())
    }

    /// Answers a protocol error if it deserves an answer and none was sent,
    /// and logs it; `req` is the request it ended, if its head was parsed.
    fn answer_error(&mut self, e: ProtocolError, req: Option<&RequestHead>, started: Started) {
        let answer = error_answer(&self.conn, e, started.at);
        let status = answer.as_ref().map(|p| p.head.status.as_u16());
        let sent = answer.map_or(0, |p| self.send(p).unwrap_or(0));
        started.log_error(&self.shared.opts, self.peer_ip, req, status, sent);
    }

    /// Serves one request: runs the exchange's plan (every step inline:
    /// this thread may wait), sends the answer, logs it.
    fn serve_request(&mut self, req: RequestHead) -> Result<Reuse, Stop> {
        let started = Started::now();
        let host = &self.shared.host;
        let mut plan = host.start(&req, self.peer_ip, started.at);
        let Answer { prepared, user } = loop {
            plan = match plan {
                Plan::Send(answer) => break answer,
                Plan::Run(step) => step.run(host, &req, SystemTime::now()),
                Plan::ReceiveDocument { limit, then } => {
                    self.conn.limit_body(Some(limit));
                    match self.receive_document() {
                        Ok(body) => then.finish(body),
                        Err(Stop::Protocol(e)) => {
                            self.answer_error(e, Some(&req), started);
                            return Err(Stop::Protocol(e));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Plan::Receive(Receive {
                    upload,
                    limit,
                    then,
                    interim,
                }) => {
                    self.conn.limit_body(limit);
                    match self.receive_upload(upload, interim.as_deref()) {
                        Ok(received) => then.finish(received, SystemTime::now()),
                        Err(Stop::Protocol(e)) => {
                            self.answer_error(e, Some(&req), started);
                            return Err(Stop::Protocol(e));
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
        };
        let status = prepared.head.status.as_u16();
        let sent = self.send(prepared);
        reset_if_stalled(&sent, self.wire.socket());
        let (opts, peer) = (&self.shared.opts, self.peer_ip);
        started.log_answer(opts, peer, user.as_deref(), &req, status, &sent);
        sent?;
        Ok(self.conn.finish_response(Instant::now())?)
    }

    /// Tells a client waiting with `Expect: 100-continue` to send its body.
    fn continue_body(&mut self) -> Result<(), Stop> {
        self.out.clear();
        self.conn.accept_body(&mut self.out);
        if !self.out.is_empty() {
            self.wire.write_all(&self.out)?;
        }
        Ok(())
    }

    /// Reads a small request body (bounded by core's body limit) into memory.
    fn receive_document(&mut self) -> Result<Vec<u8>, Stop> {
        self.continue_body()?;
        let mut body = Vec::new();
        while !take_document(&mut self.conn, &mut self.buf, &mut body).map_err(Stop::Protocol)? {
            self.fill()?;
        }
        Ok(body)
    }

    /// Streams the request body into the upload; the upload is removed if
    /// anything goes wrong before the body is complete. Returns the upload,
    /// ready to commit, or why it failed.
    fn receive_upload(
        &mut self,
        mut upload: Upload,
        interim: Option<&[u8]>,
    ) -> Result<Result<Upload, FsFailure>, Stop> {
        self.continue_body()?;
        if let Some(bytes) = interim {
            self.wire.write_all(bytes)?;
        }
        let small = self.buf.limit();
        self.buf.resize(UPLOAD_BUFFER);
        let result = self.stream_upload(&mut upload);
        self.buf.resize(small);
        Ok(match result? {
            Some(failed) => Err(failed),
            None => Ok(upload),
        })
    }

    /// Writes body events to the upload until the body ends; a failed
    /// write is returned once the rest of the body has been read.
    fn stream_upload(&mut self, upload: &mut Upload) -> Result<Option<FsFailure>, Stop> {
        let mut failed = None;
        loop {
            let (used, event) = self
                .conn
                .handle_input(self.buf.data(), Instant::now())
                .map_err(Stop::Protocol)?;
            match event {
                Event::Body(data) => {
                    if failed.is_none() {
                        failed = upload.write(data).err();
                    }
                    self.buf.consume(used);
                }
                Event::End => {
                    self.buf.consume(used);
                    break;
                }
                Event::NeedData => {
                    self.buf.consume(used);
                    self.fill()?;
                }
                Event::Head(_) | Event::Paused | Event::Closed => break,
            }
        }
        Ok(failed)
    }
}
