//! The async server: a smol executor on every core, one task per
//! connection, each a loop of socket reads, pared-core events and
//! file-system calls through pared-std.
//!
//! An executor thread never waits on the disk. A GET is answered inline
//! when it needs nothing the kernel would read from the disk: the path is
//! opened with `RESOLVE_CACHED`, `fstat` reads the in-memory inode, the
//! digest comes from memory, and a small body (up to 64 KiB) is read with
//! `preadv2(RWF_NOWAIT)` and leaves with its head in one write. Any miss
//! runs the same pared-std step on smol's blocking pool. Larger bodies go
//! out with `sendfile` on the blocking pool, one call per socket buffer
//! full, as sendfile itself may wait on the disk. Uploads, deletes,
//! listings and password checks always run on the pool.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use pared_core::range::{Piece, Pieces};
use pared_core::server::{Connection, Event, Reuse};
use pared_core::service::{self, FsFailure, Route};
use pared_core::{ProtocolError, RequestHead, ServerOptions};
use pared_std::between::{self, Between};
use pared_std::buf::RecvBuf;
use pared_std::fs::{remove_unfinished_uploads, Cached, Upload};
use pared_std::gate::{Admitted, Gate, Pass};
use pared_std::serve::{self, Body, Preload, Prepared, PutStart, INLINE_BODY};
use pared_std::server::TLS_CHUNK;
use pared_std::server::{recv_capacity, transient_accept_error, Started};
use pared_std::shutdown::POLL;
use pared_std::slots::{pending, Slot, Slots};
use pared_std::tls::Tls;

use crate::wire::{handshake, tls_read, tls_write_all};
use pared_std::{Root, Shutdown};
use smol::{Async, LocalExecutor, Timer};

/// The most one sendfile on the blocking pool is asked to move: as much
/// as the socket takes, so each trip to the pool moves a socket buffer
/// full (the blocking runtime's smaller pieces would cost a trip each).
const POOL_SENDFILE: usize = 1 << 30;

/// Upload bytes gathered before one blocking write on the pool.
const UPLOAD_BATCH: usize = 512 * 1024;

/// The read buffer of a connection while an upload streams in: small (the
/// batches make the large writes), so a stalled upload holds little, and
/// large enough that the allocator maps it on its own and gives it back to
/// the system when the upload ends.
const UPLOAD_READ: usize = 128 * 1024;

/// Uploads that may hold a pair of batch buffers at once; more wait (and
/// stop reading) until one gives its pair back.
const BATCH_SLOTS: usize = 8;

/// Upload batch buffers shared by every connection: at most
/// [`BATCH_SLOTS`] uploads hold a pair at once, and buffers are kept for
/// reuse, so batches take at most 2 × 8 × 512 KiB = 8 MiB however many
/// uploads run or stall. A stalled upload gives its pair back and holds
/// only its read buffer.
struct Batches {
    slots: Arc<smol::lock::Semaphore>,
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Batches {
    fn new() -> Batches {
        Batches {
            slots: Arc::new(smol::lock::Semaphore::new(BATCH_SLOTS)),
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| Vec::with_capacity(UPLOAD_BATCH))
    }

    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() >= UPLOAD_BATCH {
            buf.clear();
            if let Ok(mut f) = self.free.lock() {
                if f.len() < 2 * BATCH_SLOTS {
                    f.push(buf);
                }
            }
        }
    }
}

struct Shared {
    root: Root,
    tls: Option<Arc<pared_std::tls::TlsServerConfig>>,
    gate: Arc<Gate>,
    opts: ServerOptions,
    /// `opts.connection`, shared by every connection's state machine.
    connection: Arc<pared_core::server::Config>,
    stop: Shutdown,
    active: AtomicUsize,
    slots: Arc<Slots>,
    batches: Batches,
    /// `--max-connections`, across every executor thread.
    permits: Option<Arc<smol::lock::Semaphore>>,
}

/// Serves `root` on `listener` until `stop` is requested, then lets
/// in-flight requests finish within the grace period and removes the
/// temporaries of unfinished uploads.
pub fn serve(
    listener: TcpListener,
    root: Root,
    opts: ServerOptions,
    stop: Shutdown,
    tls: Option<Arc<pared_std::tls::TlsServerConfig>>,
) -> io::Result<()> {
    pared_std::fs::sweep_stale_uploads(&root);
    pared_std::server::raise_open_files_limit();
    pared_std::server::nodelay_for_accepted(&listener);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let permits = opts
        .max_connections
        .map(|n| Arc::new(smol::lock::Semaphore::new(n)));
    let shared = Arc::new(Shared {
        root,
        tls,
        gate: Arc::new(Gate::new(opts.auth.clone(), opts.service.methods.clone())),
        slots: Slots::new(&opts),
        batches: Batches::new(),
        connection: Arc::new(opts.connection),
        opts,
        stop,
        active: AtomicUsize::new(0),
        permits,
    });
    // An executor per core, each accepting on its own registration of the
    // listening socket and running the connections it accepted: a
    // connection stays on one thread, and waking it never crosses
    // threads (as nginx's workers share one listening socket).
    let mut workers = Vec::new();
    for i in 1..threads {
        let (l, s) = (listener.try_clone()?, shared.clone());
        workers.push(
            std::thread::Builder::new()
                .name(format!("pared-smol-{i}"))
                .spawn(move || run_executor(l, s, false))?,
        );
    }
    let result = run_executor(listener, shared.clone(), true);
    for w in workers {
        if let Ok(Err(e)) = w.join() {
            eprintln!("pared: an executor thread stopped: {e}");
        }
    }
    let left = shared.active.load(Ordering::SeqCst);
    let removed = remove_unfinished_uploads();
    if left > 0 || removed > 0 {
        eprintln!(
            "pared: shutdown: {left} connection(s) cut off, {removed} unfinished upload(s) removed"
        );
    }
    result
}

/// Runs one executor thread's accept loop and connections until shutdown;
/// `first` also runs the task that makes room at the global limit.
fn run_executor(listener: TcpListener, shared: Arc<Shared>, first: bool) -> io::Result<()> {
    let ex = LocalExecutor::new();
    smol::block_on(ex.run(accept_loop(&ex, listener, shared, first)))
}

/// Resolves once a shutdown was requested.
async fn stopping(stop: &Shutdown) {
    while !stop.requested() {
        Timer::after(POLL).await;
    }
}

async fn accept_loop(
    ex: &LocalExecutor<'_>,
    listener: TcpListener,
    shared: Arc<Shared>,
    first: bool,
) -> io::Result<()> {
    if first {
        // Full, with someone waiting: the longest-idle keep-alive
        // connection gives way, and its permit lets the newcomer in.
        let waiting = listener.try_clone()?;
        let s = shared.clone();
        ex.spawn(async move {
            while !s.stop.requested() {
                Timer::after(POLL).await;
                if s.slots.full() && pending(&waiting) {
                    s.slots.make_room();
                }
            }
            // Idle connections wait without polling: wake them to close.
            s.slots.wake_all();
        })
        .detach();
    }
    let listener = Async::new(listener)?;
    let slots = shared.permits.clone();
    loop {
        let permit = match &slots {
            Some(s) => match future::or(async { Some(s.acquire_arc().await) }, async {
                stopping(&shared.stop).await;
                None
            })
            .await
            {
                Some(p) => Some(p),
                None => break,
            },
            None => None,
        };
        let accepted = future::or(async { Some(accept(&listener).await) }, async {
            stopping(&shared.stop).await;
            None
        })
        .await;
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(conn)) => conn,
            Some(Err(e)) if transient_accept_error(&e) => {
                Timer::after(Duration::from_millis(10)).await;
                continue;
            }
            Some(Err(e)) => return Err(e),
        };
        let s = shared.clone();
        let Some(slot) = shared.slots.admit(peer.ip()) else {
            ex.spawn(refuse(stream)).detach();
            continue;
        };
        s.active.fetch_add(1, Ordering::SeqCst);
        let ip = peer.ip();
        ex.spawn(async move {
            let _ = handle(stream, ip, &s, &slot).await;
            drop(slot);
            s.active.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
        })
        .detach();
    }
    let deadline = Instant::now() + shared.opts.grace;
    while shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        Timer::after(POLL).await;
    }
    Ok(())
}

/// Why a connection loop stops.
enum Stop {
    Io(#[allow(dead_code)] io::Error),
    Protocol(ProtocolError),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

struct Conn<'a> {
    /// The TLS session, on an https port.
    tls: Option<Box<Tls>>,
    /// The socket (no async_net::TcpStream: its cached readiness futures
    /// would add 112 bytes to every connection).
    raw: Arc<Async<std::net::TcpStream>>,
    peer_ip: std::net::IpAddr,
    conn: Connection,
    buf: RecvBuf,
    out: Vec<u8>,
    /// Bounds every wait for the client; see [`Conn::arm`].
    timer: Timer,
    /// When `timer` fires, if it is set.
    armed: Option<Instant>,
    shared: &'a Shared,
    slot: &'a Slot,
}

/// Starts TLS on an accepted connection within the header timeout (a
/// trickled handshake is cut there); plain http gets a 400 saying this
/// port speaks https. A failed handshake is one line on stderr and ends
/// only this connection. `None`: the connection is over.
async fn tls_accept(
    raw: &Arc<Async<std::net::TcpStream>>,
    config: &Arc<pared_std::tls::TlsServerConfig>,
    shared: &Shared,
    peer: std::net::IpAddr,
) -> Option<Tls> {
    let limit = shared
        .opts
        .connection
        .head_timeout
        .unwrap_or(Duration::from_secs(24 * 3600));
    let who = peer.to_canonical();
    let started = async {
        let mut first = [0u8; 1];
        let mut stream = &**raw;
        match raw.peek(&mut first).await {
            Ok(1) if !pared_std::tls::looks_like_tls(first[0]) => {
                let reply = serve::plain_http_on_tls_port(SystemTime::now());
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
        let mut tls = Tls::server(config.clone()).map_err(pared_std::tls::io_error)?;
        handshake(&mut stream, &mut tls).await?;
        Ok(Some(tls))
    };
    let outcome = future::or(async { Some(started.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await;
    match outcome {
        Some(Ok(tls)) => tls,
        Some(Err(e)) => {
            let why = pared_std::tls::tls_failure(&e).map_or_else(|| e.to_string(), |f| f.0);
            eprintln!("pared: TLS handshake with {who} failed: {why}");
            None
        }
        None => {
            eprintln!(
                "pared: TLS handshake with {who} failed: not finished within the header timeout"
            );
            None
        }
    }
}

/// Answers 503 to a connection whose client holds too many, and closes
/// it; what the client already sent is read first (briefly), so the close
/// does not turn into a reset that would hide the answer.
async fn refuse(stream: Arc<Async<std::net::TcpStream>>) {
    let mut stream = &*stream;
    let mut sink = [0u8; 4096];
    let _ = future::or(async { stream.read(&mut sink).await.map(|_| ()) }, async {
        Timer::after(Duration::from_millis(20)).await;
        Ok(())
    })
    .await;
    let reply = serve::refusal(SystemTime::now());
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
async fn accept(
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
fn handle<'a>(
    raw: Arc<Async<std::net::TcpStream>>,
    peer: std::net::IpAddr,
    shared: &'a Shared,
    slot: &'a Slot,
) -> impl std::future::Future<Output = Result<(), Stop>> + 'a {
    async move {
        let accepted = Instant::now();
        let tls = match &shared.tls {
            None => None,
            Some(config) => match Box::pin(tls_accept(&raw, config, shared, peer)).await {
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

fn usage(e: pared_core::UsageError) -> Stop {
    Stop::Io(io::Error::other(e))
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
        let next = between::next(&mut self.conn, &mut self.buf, self.slot, &shared.stop);
        Ok(match next.map_err(Stop::Protocol)? {
            Between::Head(head) => Some(Some(head)),
            Between::Close => Some(None),
            Between::Read { .. } => None,
        })
    }

    /// One read from the socket, bounded by core's next deadline (and by
    /// [`POLL`] between requests, to notice a shutdown).
    async fn fill(&mut self) -> Result<(), Stop> {
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
        let reply = self
            .conn
            .can_respond()
            .then(|| service::protocol_error_reply(e, started.at))
            .flatten();
        let (status, sent) = match reply {
            Some(reply) => {
                let status = reply.head.status.as_u16();
                (
                    Some(status),
                    self.send(Prepared::reply(reply)).await.unwrap_or(0),
                )
            }
            None => (None, 0),
        };
        if status.is_some() || req.is_some() {
            started.log(&self.shared.opts, self.peer_ip, None, req, status, sent);
        }
    }

    async fn serve_request(&mut self, req: RequestHead) -> Result<Reuse, Stop> {
        let started = Started::now();
        let start = started.at;
        let shared = self.shared;
        let root = shared.root.clone();
        let pass = match shared.gate.check(&req, self.peer_ip, start) {
            // bcrypt is slow on purpose: never on an executor thread.
            Pass::Verify(pending) => {
                let (gate, r) = (shared.gate.clone(), req.clone());
                smol::unblock(move || gate.verify(pending, &r, start)).await
            }
            pass => pass,
        };
        let Admitted {
            user,
            route,
            writable,
        } = shared
            .gate
            .admit(pass, &shared.opts.service, &req, self.peer_ip, start);
        let prepared = match route {
            Route::Reply(reply) => Prepared::reply(reply),
            Route::Read(path) => read(root, &req, path, start, writable).await,
            Route::Delete(path) => {
                let r = req.clone();
                smol::unblock(move || serve::delete(&root, &r, &path, start)).await
            }
            Route::Write { path, .. } => {
                let (p, r) = (path.clone(), req.clone());
                match smol::unblock(move || serve::begin_put(&root, &r, &p, start)).await {
                    PutStart::Upload(upload) => match self.receive_upload(upload).await {
                        Ok(Ok(upload)) => {
                            let r = req.clone();
                            smol::unblock(move || serve::finish_put(upload, &r, &path)).await
                        }
                        Ok(Err(f)) => {
                            Prepared::reply(service::put_reply(&path, Err(f), SystemTime::now()))
                        }
                        Err(Stop::Protocol(e)) => {
                            self.answer_error(e, Some(&req), started).await;
                            return Err(Stop::Protocol(e));
                        }
                        Err(e) => return Err(e),
                    },
                    PutStart::Refused(refused) => refused,
                }
            }
        };
        let status = prepared.head.status.as_u16();
        let sent = self.send(prepared).await;
        drop_if_stalled(&sent, &*self.raw);
        let bytes = *sent.as_ref().unwrap_or(&0);
        started.log(
            &shared.opts,
            self.peer_ip,
            user.as_deref(),
            Some(&req),
            Some(status),
            bytes,
        );
        sent?;
        self.conn.finish_response(Instant::now()).map_err(usage)
    }

    /// Streams the body into the upload in batches written on the blocking
    /// pool while the next batch is read (two buffers, one write in
    /// flight); the upload is removed if the body does not complete.
    async fn receive_upload(&mut self, upload: Upload) -> Result<Result<Upload, FsFailure>, Stop> {
        self.out.clear();
        self.conn.accept_body(&mut self.out);
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            let r = self.write_out(&out).await;
            self.out = out;
            r?;
        }
        let small = self.buf.limit();
        self.buf.resize(UPLOAD_READ);
        let result = self.stream_upload(upload).await;
        self.buf.resize(small);
        result
    }

    async fn stream_upload(&mut self, upload: Upload) -> Result<Result<Upload, FsFailure>, Stop> {
        let pool = &self.shared.batches;
        let mut upload = Some(upload);
        // Batch buffers are leased from the shared pool while data flows
        // and given back when the upload stalls or ends.
        let mut lease: Option<smol::lock::SemaphoreGuardArc> = None;
        let mut batch = Vec::new();
        let mut spare: Vec<u8> = Vec::new();
        let mut writing: Option<smol::Task<Written>> = None;
        let mut failed = None;
        loop {
            let (used, event) = self
                .conn
                .handle_input(self.buf.data(), Instant::now())
                .map_err(Stop::Protocol)?;
            match event {
                Event::Body(data) => {
                    if lease.is_none() {
                        lease = Some(pool.slots.acquire_arc().await);
                        batch = pool.take();
                        spare = pool.take();
                    }
                    batch.extend_from_slice(data);
                    self.buf.consume(used);
                    if batch.len() >= UPLOAD_BATCH {
                        if let Some(task) = writing.take() {
                            let (u, emptied, r) = task.await;
                            (upload, spare) = (u, emptied);
                            failed = failed.or(r.err());
                        }
                        let full = std::mem::replace(&mut batch, std::mem::take(&mut spare));
                        writing = Some(write_batch(upload.take(), full));
                    }
                }
                Event::End => {
                    self.buf.consume(used);
                    break;
                }
                Event::NeedData => {
                    self.buf.consume(used);
                    let before = self.buf.data().len();
                    self.fill().await?;
                    if self.buf.data().len() == before && lease.is_some() {
                        // Nothing arrived for a while: write out what we
                        // hold and give the batch buffers back, so a
                        // stalled upload keeps only its read buffer.
                        if let Some(task) = writing.take() {
                            let (u, emptied, r) = task.await;
                            upload = u;
                            pool.give(emptied);
                            failed = failed.or(r.err());
                        }
                        let (u, emptied, r) =
                            write_batch(upload.take(), std::mem::take(&mut batch)).await;
                        upload = u;
                        pool.give(emptied);
                        pool.give(std::mem::take(&mut spare));
                        failed = failed.or(r.err());
                        lease = None;
                    }
                }
                Event::Head(_) | Event::Paused | Event::Closed => break,
            }
        }
        if let Some(task) = writing.take() {
            let (u, emptied, r) = task.await;
            upload = u;
            pool.give(emptied);
            failed = failed.or(r.err());
        }
        pool.give(std::mem::take(&mut spare));
        let result = match failed {
            Some(f) => {
                pool.give(batch);
                Err(f)
            }
            None => {
                let (u, emptied, r) = write_batch(upload, batch).await;
                pool.give(emptied);
                r.and_then(|()| u.ok_or(FsFailure::Other))
            }
        };
        drop(lease);
        Ok(result)
    }

    async fn send(&mut self, prepared: Prepared) -> Result<u64, Stop> {
        self.out.clear();
        self.out.reserve(prepared.write_room());
        self.conn
            .send_response(&prepared.head, &mut self.out, Instant::now())
            .map_err(usage)?;
        let mut sent = 0u64;
        match prepared.body {
            Body::None => {
                self.write_timed(None).await?;
            }
            Body::Static(bytes) => sent += self.write_timed(Some(bytes)).await?,
            Body::Bytes(bytes) => sent += self.write_timed(Some(&bytes)).await?,
            Body::File { file, pieces } if self.tls.is_some() => {
                sent += self.send_pieces_tls(file, &pieces).await?;
            }
            Body::File { file, pieces } => {
                let file = Arc::new(file);
                // MSG_MORE: the head waits for the file's first bytes, so a
                // small file leaves in one segment with its head.
                let head = std::mem::take(&mut self.out);
                let r = self.send_more(&head).await;
                self.out = head;
                r?;
                for piece in pieces.iter() {
                    match piece {
                        Piece::Bytes(b) => {
                            self.send_more(b).await?;
                            self.conn
                                .send_body(b.len(), Instant::now())
                                .map_err(usage)?;
                            sent += b.len() as u64;
                        }
                        Piece::File { offset, len } => {
                            sent += self.sendfile(&file, offset, len).await?;
                        }
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends `len` bytes of `file` from `offset` with sendfile on the
    /// blocking pool, never on the executor: a page-cache miss inside
    /// sendfile would stall every connection of this thread. Each call
    /// sends what the socket buffer takes; in between, the task waits for
    /// the socket to drain, within core's deadline.
    async fn sendfile(
        &mut self,
        file: &Arc<std::fs::File>,
        offset: u64,
        len: u64,
    ) -> Result<u64, Stop> {
        let end = offset + len;
        let mut at = offset;
        while at < end {
            let want = pared_core::range::next_chunk(at, end, POOL_SENDFILE);
            let (raw, f) = (self.raw.clone(), file.clone());
            let (r, moved) = smol::unblock(move || {
                let mut pos = at;
                let r = rustix::fs::sendfile(raw.get_ref(), &*f, Some(&mut pos), want);
                (r, pos)
            })
            .await;
            match r {
                Ok(0) => return Err(Stop::Io(io::Error::other("file shrank while sending"))),
                Ok(n) => {
                    at = moved;
                    self.conn.send_body(n, Instant::now()).map_err(usage)?;
                    if n < want {
                        self.drained().await?;
                    }
                }
                Err(rustix::io::Errno::AGAIN) => self.drained().await?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::Io(e.into())),
            }
        }
        Ok(len)
    }

    /// Waits until the socket takes more bytes, within core's deadline.
    async fn drained(&mut self) -> Result<(), Stop> {
        let limit = self.send_limit()?;
        timed(limit, self.raw.writable()).await
    }

    /// Sends all of `bytes` with MSG_MORE, each wait within the body timeout.
    async fn send_more(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let mut written = 0;
        while written < bytes.len() {
            let rest = &bytes[written..];
            let limit = self.send_limit()?;
            let send = self.raw.write_with(|s| {
                rustix::net::send(s, rest, rustix::net::SendFlags::MORE).map_err(io::Error::from)
            });
            written += timed(limit, send).await?;
        }
        Ok(())
    }

    /// Writes the head (and a small body) within the body timeout.
    async fn write_timed(&mut self, body: Option<&[u8]>) -> Result<u64, Stop> {
        let n = body.map_or(0, <[u8]>::len);
        if let Some(b) = body {
            self.out.extend_from_slice(b);
        }
        let out = std::mem::take(&mut self.out);
        let limit = self.send_limit();
        let r = match limit {
            Ok(limit) => timed(limit, self.write_out(&out)).await,
            Err(e) => Err(e),
        };
        self.out = out;
        r?;
        if n > 0 {
            self.conn.send_body(n, Instant::now()).map_err(usage)?;
        }
        Ok(n as u64)
    }

    /// Writes all of `data` to the client (encrypted on an https port).
    async fn write_out(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => tls_write_all(&mut &*self.raw, tls, data).await,
            None => (&*self.raw).write_all(data).await,
        }
    }

    /// Over TLS: the head, then the pieces, the file read on the blocking
    /// pool into a bounded buffer and encrypted (no sendfile); each write
    /// is bounded by core's deadline.
    async fn send_pieces_tls(&mut self, file: std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        let head = std::mem::take(&mut self.out);
        let limit = self.send_limit()?;
        let r = timed(limit, self.write_out(&head)).await;
        self.out = head;
        r?;
        let file = Arc::new(file);
        let mut sent = 0u64;
        let mut chunk = vec![0u8; TLS_CHUNK];
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    let limit = self.send_limit()?;
                    timed(limit, self.write_out(b)).await?;
                    self.conn
                        .send_body(b.len(), Instant::now())
                        .map_err(usage)?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, TLS_CHUNK);
                        // What the page cache holds is read here; a read
                        // that would wait on the disk runs on the pool.
                        let n = match serve::read_cached_at(&file, &mut chunk[..want], at) {
                            Cached::Done(read) => read?,
                            Cached::Miss => {
                                let f = file.clone();
                                let (buf, read) = smol::unblock(move || {
                                    use std::os::unix::fs::FileExt;
                                    let mut buf = chunk;
                                    let r = f.read_at(&mut buf[..want], at);
                                    (buf, r)
                                })
                                .await;
                                chunk = buf;
                                read?
                            }
                        };
                        if n == 0 {
                            return Err(Stop::Io(io::Error::other("file shrank while sending")));
                        }
                        let limit = self.send_limit()?;
                        timed(limit, self.write_out(&chunk[..n])).await?;
                        self.conn.send_body(n, Instant::now()).map_err(usage)?;
                        at += n as u64;
                        sent += n as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// How long the next write may wait: until core's deadline (no
    /// progress, or slower than the minimum rate, for the body timeout).
    /// (An answer to a protocol error has no deadline of core's: it gets
    /// the plain body timeout.)
    fn send_limit(&mut self) -> Result<Option<Duration>, Stop> {
        let now = Instant::now();
        match self.conn.poll_timeout() {
            Some(at) if at <= now => Err(Stop::Protocol(
                self.conn
                    .handle_timeout(now)
                    .err()
                    .unwrap_or(ProtocolError::BodyStalled),
            )),
            Some(at) => Ok(Some(at - now)),
            None => Ok(self.shared.opts.connection.body_timeout),
        }
    }
}

/// The longest an idle connection waits when core sets no idle timeout:
/// it then only re-checks its state now and then.
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

/// GET or HEAD: answered on the executor thread when the path, the inode,
/// the digest and a small body are all in memory (the common case for a
/// busy server), else on the blocking pool. Either way through the same
/// pared-std steps, and a small body is read into memory so it leaves
/// with its head in one write.
async fn read(
    root: Root,
    req: &RequestHead,
    path: pared_core::path::RelPath,
    start: SystemTime,
    writable: bool,
) -> Prepared {
    let prepared = match serve::read_cached(&root, req, &path, start) {
        Cached::Done(prepared) => prepared,
        Cached::Miss => {
            let r = req.clone();
            return smol::unblock(move || {
                serve::preload(serve::read(&root, &r, &path, start, writable), INLINE_BODY)
            })
            .await;
        }
    };
    match serve::preload_cached(prepared, INLINE_BODY) {
        Preload::Ready(prepared) => prepared,
        Preload::Miss(prepared) => {
            smol::unblock(move || serve::preload(prepared, INLINE_BODY)).await
        }
    }
}

/// Runs a write, failing it once `limit` passes.
async fn timed<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, Stop> {
    match limit {
        None => Ok(fut.await?),
        Some(t) => future::or(async { Some(fut.await) }, async {
            Timer::after(t).await;
            None
        })
        .await
        .ok_or(Stop::Protocol(ProtocolError::BodyStalled))?
        .map_err(Stop::Io),
    }
}

/// What a batch write hands back: the upload, the emptied buffer for
/// reuse, and the result.
type Written = (Option<Upload>, Vec<u8>, Result<(), FsFailure>);

/// Writes a batch on the blocking pool (started at once; await the task
/// for the upload and an emptied buffer).
fn write_batch(upload: Option<Upload>, batch: Vec<u8>) -> smol::Task<Written> {
    smol::unblock(move || {
        let mut upload = upload;
        let mut batch = batch;
        let r = match &mut upload {
            Some(u) if !batch.is_empty() => u.write(&batch),
            Some(_) => Ok(()),
            None => Err(FsFailure::Other),
        };
        batch.clear();
        (upload, batch, r)
    })
}

/// A client that stopped taking the response (or took it too slowly) is
/// reset, not closed: what is still queued for it is dropped at once
/// instead of being kept and trickled out by the kernel.
fn drop_if_stalled<T>(sent: &Result<T, Stop>, socket: &impl std::os::fd::AsFd) {
    if matches!(sent, Err(Stop::Protocol(ProtocolError::BodyStalled))) {
        let _ = rustix::net::sockopt::set_socket_linger(socket, Some(Duration::ZERO));
    }
}
