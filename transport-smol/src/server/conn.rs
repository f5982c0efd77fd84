//! One connection as an async task: TLS accept, then a loop of reading a
//! request head, running the exchange's plan and sending its answer.
//! An idle connection holds no buffers and costs no wake-ups.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use pared_core::server::{Connection, Reuse};
use pared_core::{ProtocolError, RequestHead};
use pared_host::access_log::Started;
use pared_host::conn_end::log_handshake_failure;
use pared_host::conn_end::{
    error_answer, handshake_failure, handshake_limit, plain_http_on_tls_port, refusal,
    reset_if_stalled, Stop,
};
use pared_host::conn_slots::Slot;
use pared_host::exchange::{Answer, Plan, Receive};
use pared_host::listener::recv_capacity;
use pared_host::next_request::{self, Between};
use pared_host::recv_buf::RecvBuf;
use pared_host::shutdown::{Shutdown, POLL};
use pared_host::tls::{looks_like_tls, Tls};
use smol::{Async, Timer};

use super::Shared;
use crate::wire::{handshake, tls_read};

pub(super) struct Conn<'a> {
    /// The TLS session, on an https port.
    pub(super) tls: Option<Box<Tls>>,
    /// The socket (no async_net::TcpStream: its cached readiness futures
    /// would add 112 bytes to every connection).
    pub(super) raw: Arc<Async<std::net::TcpStream>>,
    pub(super) peer_ip: std::net::IpAddr,
    pub(super) conn: Connection,
    pub(super) buf: RecvBuf,
    pub(super) out: Vec<u8>,
    /// Bounds every wait for the client; see [`Conn::arm`].
    pub(super) timer: Timer,
    /// When `timer` fires, if it is set.
    pub(super) armed: Option<Instant>,
    pub(super) shared: &'a Shared,
    pub(super) slot: &'a Slot,
}

/// Starts TLS on an accepted connection within the header timeout (a
/// trickled handshake is cut there); plain http gets a 400 saying this
/// port speaks https. A failed handshake is one line on stderr and ends
/// only this connection. `None`: the connection is over.
async fn tls_accept(
    raw: &Arc<Async<std::net::TcpStream>>,
    config: &Arc<pared_host::tls::TlsServerConfig>,
    shared: &Shared,
    peer: std::net::IpAddr,
    slot: &Slot,
) -> Option<Tls> {
    let limit = handshake_limit(shared.opts.connection.head_timeout);
    let started = async {
        let mut first = [0u8; 1];
        let mut stream = &**raw;
        match raw.peek(&mut first).await {
            Ok(1) if !looks_like_tls(first[0]) => {
                let reply = plain_http_on_tls_port(SystemTime::now());
                let _ = stream.write_all(&reply).await;
                let _ = raw.get_ref().shutdown(std::net::Shutdown::Write);
                let mut sink = vec![0u8; 4096];
                let _ = stream.read(&mut sink).await;
                return Ok(None);
            }
            Ok(1) => {}
            Ok(_) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut tls = Tls::server(config.clone()).map_err(pared_host::tls::io_error)?;
        handshake(&mut stream, &mut tls).await?;
        Ok(Some(tls))
    };
    // At the global limit, the handshake that has run the longest gives
    // way to a waiting connection (see `conn_slots`), as does a shutdown.
    let outcome = future::or(
        async { Some(started.await) },
        future::or(
            async {
                Timer::after(limit).await;
                None
            },
            async {
                changed(slot, &shared.stop).await;
                Some(Err(io::Error::other(
                    "closed to make room for a waiting connection",
                )))
            },
        ),
    )
    .await;
    match outcome {
        Some(Ok(tls)) => tls,
        Some(Err(e)) => {
            log_handshake_failure(&shared.opts, peer, &handshake_failure(&e));
            None
        }
        None => {
            let why = "not finished within the header timeout";
            log_handshake_failure(&shared.opts, peer, why);
            None
        }
    }
}

/// Answers 503 to a connection whose client holds too many, and closes
/// it; what the client already sent is read first (briefly), so the close
/// does not turn into a reset that would hide the answer.
pub(super) async fn refuse(stream: Arc<Async<std::net::TcpStream>>) {
    let mut stream = &*stream;
    let mut sink = [0u8; 4096];
    let _ = future::or(async { stream.read(&mut sink).await.map(|_| ()) }, async {
        Timer::after(Duration::from_millis(20)).await;
        Ok(())
    })
    .await;
    let reply = refusal(SystemTime::now());
    let _ = future::or(async { stream.write_all(&reply).await }, async {
        Timer::after(Duration::from_secs(1)).await;
        Ok(())
    })
    .await;
    let _ = stream.get_ref().shutdown(std::net::Shutdown::Write);
}

/// Accepts a connection already non-blocking (`accept4(SOCK_NONBLOCK)`,
/// so registering it needs no `ioctl`); `TCP_NODELAY` is inherited from
/// the listening socket (see `serve`).
pub(super) async fn accept(
    listener: &Async<TcpListener>,
) -> io::Result<(Arc<Async<std::net::TcpStream>>, std::net::SocketAddr)> {
    use rustix::net::SocketFlags;
    let (fd, addr) = listener
        .read_with(|l| {
            rustix::net::acceptfrom_with(l, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
                .map_err(io::Error::from)
        })
        .await?;
    let stream = std::net::TcpStream::from(fd);
    let peer = match addr.and_then(|a| std::net::SocketAddr::try_from(a).ok()) {
        Some(peer) => peer,
        None => stream.peer_addr()?,
    };
    Ok((Arc::new(Async::new_nonblocking(stream)?), peer))
}

/// Serves one connection. A plain function returning an async block, not
/// an `async fn`: an async fn keeps a second copy of each argument in its
/// state for the connection's whole life.
#[allow(clippy::manual_async_fn)]
pub(super) fn handle<'a>(
    raw: Arc<Async<std::net::TcpStream>>,
    peer: std::net::IpAddr,
    shared: &'a Shared,
    slot: &'a Slot,
) -> impl std::future::Future<Output = Result<(), Stop>> + 'a {
    async move {
        let accepted = Instant::now();
        let tls = match &shared.tls {
            None => None,
            Some(config) => match Box::pin(tls_accept(&raw, config, shared, peer, slot)).await {
                Some(tls) => Some(Box::new(tls)),
                None => return Ok(()),
            },
        };
        let mut c = Conn {
            tls,
            raw,
            peer_ip: peer,
            // The handshake counts against the first request's head timeout.
            conn: Connection::new(shared.connection.clone(), accepted),
            buf: RecvBuf::lazy(recv_capacity(&shared.opts)),
            out: Vec::new(),
            timer: Timer::never(),
            armed: None,
            shared,
            slot,
        };
        // The task's future is as large as its largest state: everything but
        // waiting for a request runs boxed, so an idle connection's task
        // holds only `Conn` and one read.
        let c = &mut c;
        loop {
            let head = match c.next_head().await {
                Ok(Some(head)) => head,
                Ok(None) => return Ok(()),
                Err(Stop::Protocol(e)) => {
                    Box::pin(async {
                        c.answer_error(e, None, Started::now()).await;
                        c.linger().await;
                    })
                    .await;
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if Box::pin(c.serve_request(head)).await? == Reuse::Close {
                if c.conn.needs_lingering_close() {
                    Box::pin(c.linger()).await;
                }
                return Ok(());
            }
        }
    }
}

impl Conn<'_> {
    /// A lingering close: stop sending, then read and discard what the
    /// client is still sending (bounded by core's time and size), so the
    /// close does not reset the connection under the answer just sent.
    async fn linger(&mut self) {
        let _ = self.raw.get_ref().shutdown(std::net::Shutdown::Write);
        let end = Instant::now() + pared_core::server::LINGER_TIME;
        let mut discarded = 0;
        // On the heap: a buffer held across an await would grow every
        // connection's task by its size.
        let mut sink = vec![0u8; 16 * 1024];
        while discarded < pared_core::server::LINGER_BYTES {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            let read = future::or(async { Some((&*self.raw).read(&mut sink).await) }, async {
                Timer::after(left).await;
                None
            })
            .await;
            match read {
                Some(Ok(n)) if n > 0 => discarded += n,
                _ => break,
            }
        }
    }

    async fn next_head(&mut self) -> Result<Option<RequestHead>, Stop> {
        loop {
            // The event is gone before the read is awaited, so it takes
            // no room in an idle connection's state.
            if let Some(head) = self.next_event()? {
                return Ok(head);
            }
            self.fill().await?;
        }
    }

    /// What the received bytes give between requests: `Some` with the
    /// next head or the end of the connection, `None` to read more.
    fn next_event(&mut self) -> Result<Option<Option<RequestHead>>, Stop> {
        let shared = self.shared;
        let next = next_request::next(&mut self.conn, &mut self.buf, self.slot, &shared.stop);
        Ok(match next.map_err(Stop::Protocol)? {
            Between::Head(head) => Some(Some(head)),
            Between::Close => Some(None),
            Between::Read { .. } => None,
        })
    }

    /// One read from the socket, bounded by core's next deadline (and by
    /// [`POLL`] between requests, to notice a shutdown).
    pub(super) async fn fill(&mut self) -> Result<(), Stop> {
        let left = self
            .conn
            .time_left(Instant::now())
            .map_err(Stop::Protocol)?;
        let idle = self.conn.is_idle();
        // Between requests the only deadline is core's (the idle
        // timeout); a shutdown or an eviction wakes the wait (see
        // `changed`), so an idle connection costs no wake-ups at all.
        let wait = if idle {
            left.unwrap_or(IDLE_WAIT)
        } else {
            left.map_or(POLL * 5, |d| d.min(POLL * 5))
        };
        if idle && self.tls.is_none() {
            // Between requests with nothing pending: hold no buffers until
            // the client sends (TLS keeps its own, as it may hold
            // decrypted bytes).
            self.buf.release();
            self.out = Vec::new();
        }
        if self.buf.is_released() {
            // Bytes already here are read at once (a wait for readiness
            // would cost a trip through the reactor); otherwise wait
            // without the buffer until the client sends something.
            self.buf.restore();
            match std::io::Read::read(&mut self.raw.get_ref(), self.buf.spare()) {
                Ok(0) => {
                    self.conn.handle_eof();
                    return Ok(());
                }
                Ok(n) => {
                    self.buf.filled(n);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.buf.release(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
                Err(e) => return Err(Stop::Io(e)),
            }
            self.arm(wait);
            let (raw, timer) = (&self.raw, &mut self.timer);
            let (slot, stop) = (self.slot, &self.shared.stop);
            let ready = future::or(
                async { Some(raw.readable().await) },
                future::or(
                    async {
                        timer.await;
                        None
                    },
                    async {
                        changed(slot, stop).await;
                        None
                    },
                ),
            )
            .await;
            match ready {
                None => {
                    self.armed = None;
                    return Ok(());
                }
                Some(Ok(())) => self.buf.restore(),
                Some(Err(e)) => return Err(Stop::Io(e)),
            }
        }
        self.arm(wait);
        let spare = self.buf.spare();
        if spare.is_empty() {
            return Err(Stop::Io(io::Error::other("receive buffer full")));
        }
        let (mut stream, tls, timer) = (&*self.raw, &mut self.tls, &mut self.timer);
        let (slot, stop) = (self.slot, &self.shared.stop);
        let read = future::or(
            async {
                Some(match tls {
                    // Boxed: its state would grow every connection's task.
                    Some(tls) => Box::pin(tls_read(&mut stream, tls, spare)).await,
                    None => stream.read(spare).await,
                })
            },
            future::or(
                async {
                    timer.await;
                    None
                },
                async {
                    if idle {
                        changed(slot, stop).await;
                    } else {
                        future::pending::<()>().await;
                    }
                    None
                },
            ),
        )
        .await;
        match read {
            None => self.armed = None,
            Some(Ok(0)) => self.conn.handle_eof(),
            Some(Ok(n)) => self.buf.filled(n),
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(e)) => return Err(Stop::Io(e)),
        }
        Ok(())
    }

    /// Makes the connection's timer fire within `wait` from now. A timer
    /// already set to fire sooner, and still ahead, is left alone: a busy
    /// connection re-arms it once per wait (100 ms between requests), not
    /// for every read; firing early only ends one wait early.
    fn arm(&mut self, wait: Duration) {
        let now = Instant::now();
        let want = now + wait;
        if !matches!(self.armed, Some(at) if at > now && at <= want) {
            self.timer.set_at(want);
            self.armed = Some(want);
        }
    }

    /// Answers a protocol error if it deserves an answer and none was sent,
    /// and logs it; `req` is the request it ended, if its head was parsed.
    async fn answer_error(
        &mut self,
        e: ProtocolError,
        req: Option<&RequestHead>,
        started: Started,
    ) {
        let answer = error_answer(&self.conn, e, started.at);
        let status = answer.as_ref().map(|p| p.head.status.as_u16());
        let sent = match answer {
            Some(p) => self.send(p).await.unwrap_or(0),
            None => 0,
        };
        started.log_error(&self.shared.opts, self.peer_ip, req, status, sent);
    }

    /// Serves one request: runs the exchange's plan (a step inline when
    /// it cannot wait on the disk, else on the blocking pool), sends the
    /// answer, logs it.
    async fn serve_request(&mut self, req: RequestHead) -> Result<Reuse, Stop> {
        let started = Started::now();
        let shared = self.shared;
        let mut plan = shared.host.start(&req, self.peer_ip, started.at);
        let Answer { prepared, user } = loop {
            plan = match plan {
                Plan::Send(answer) => break answer,
                Plan::Run(step) => match step.try_inline(&shared.host, &req, SystemTime::now()) {
                    Ok(plan) => plan,
                    Err(step) => {
                        let (host, r) = (shared.host.clone(), req.clone());
                        smol::unblock(move || (*step).run(&host, &r, SystemTime::now())).await
                    }
                },
                Plan::ReceiveDocument { limit, then } => {
                    self.conn.limit_body(Some(limit));
                    match self.receive_document().await {
                        Ok(body) => then.finish(body),
                        Err(Stop::Protocol(e)) => {
                            self.answer_error(e, Some(&req), started).await;
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
                    match self.receive_upload(upload, interim.as_deref()).await {
                        Ok(received) => then.finish(received, SystemTime::now()),
                        Err(Stop::Protocol(e)) => {
                            self.answer_error(e, Some(&req), started).await;
                            return Err(Stop::Protocol(e));
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
        };
        let status = prepared.head.status.as_u16();
        let sent = self.send(prepared).await;
        reset_if_stalled(&sent, &*self.raw);
        let (opts, peer) = (&self.shared.opts, self.peer_ip);
        started.log_answer(opts, peer, user.as_deref(), &req, status, &sent);
        sent?;
        Ok(self.conn.finish_response(Instant::now())?)
    }
}

const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// Resolves when the connection must close between requests: the server
/// shuts down or the slot is given to a waiting client. The slot's waker
/// is registered before the flags are read again, so neither change can
/// slip between the check and the wait.
async fn changed(slot: &Slot, stop: &Shutdown) {
    future::poll_fn(|cx| {
        if stop.requested() || slot.evicted() {
            return std::task::Poll::Ready(());
        }
        slot.wake_on_change(cx.waker());
        if stop.requested() || slot.evicted() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
