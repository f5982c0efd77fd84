//! The blocking server: one thread per connection, each a loop of socket
//! reads, pared-core events and file-system calls. Threads accept their
//! own connections (the `Crew` below) and are reused across connections.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use pared_core::log::{access_line, AccessRecord};
use pared_core::range::{Piece, Pieces};
use pared_core::server::{Connection, Event, Reuse};
use pared_core::service::{self, FsFailure, Route};
use pared_core::{ProtocolError, RequestHead, ServerOptions};

use crate::between::{self, Between};
use crate::buf::RecvBuf;
use crate::fs::{remove_unfinished_uploads, Root, Upload};
use crate::gate::{Admitted, Gate, Pass};
use crate::keeper::Keeper;
use crate::serve::{self, Body, Prepared, PutStart};
use crate::shutdown::{Shutdown, POLL};
use crate::slots::{pending, Slot, Slots};
use crate::tls::{handshake, Tls, Wire};
use crate::wait::wait_for;
use rustix::event::PollFlags;

/// Binds the listening socket: `bind` if given, else every interface
/// (one dual-stack IPv6 socket, or IPv4 where IPv6 is unavailable).
pub fn listen(bind: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    match bind {
        Some(ip) => TcpListener::bind(SocketAddr::new(ip, port)),
        None => TcpListener::bind(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port))
            .or_else(|_| TcpListener::bind(SocketAddr::new([0, 0, 0, 0].into(), port))),
    }
}

/// Sets `TCP_NODELAY` on the listening socket: Linux copies it to every
/// accepted connection, so no connection needs a `setsockopt` of its own
/// (small answers leave at once instead of waiting for an ACK).
pub fn nodelay_for_accepted(listener: &TcpListener) {
    let _ = rustix::net::sockopt::set_tcp_nodelay(listener, true);
}

/// Raises the soft limit on open files to the hard limit, as nginx's
/// `worker_rlimit_nofile` and Go's runtime do: every connection takes two
/// descriptors (its socket, and the duplicate the slot registry keeps to
/// close it when it must give way), plus the files being sent. Both
/// runtimes call it once at start-up.
pub fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// The receive-buffer size for a server connection: a whole head and a
/// little more. Small, since every idle keep-alive connection holds one.
pub fn recv_capacity(opts: &ServerOptions) -> usize {
    (opts.connection.limits.max_head_bytes + 1).max(8 * 1024)
}

/// The receive-buffer size while an upload body streams in: large reads
/// and writes for throughput, for as long as the upload lasts.
pub const UPLOAD_BUFFER: usize = 256 * 1024;

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
        if !opts.access_log {
            return;
        }
        let remote = peer.to_canonical().to_string();
        let mut line = access_line(&AccessRecord {
            remote: &remote,
            user,
            request: req.map(|r| (r.method.as_str(), r.target.as_str(), r.version.as_str())),
            status,
            bytes,
            start: self.at,
            duration: self.began.elapsed(),
        });
        line.push('\n');
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

/// The connection threads. Each one blocks in `accept()` (Linux wakes one
/// waiter per connection), serves the connection it got on the same
/// thread, and goes back to accepting: no hand-off between an accepting
/// thread and a serving one. A thread that takes the last idle acceptor's
/// place starts another while connections and acceptors together stay
/// within `max_connections`; at the limit nobody accepts, so new
/// connections wait in the kernel's backlog.
///
/// A keep-alive connection idle for [`POLL`] is parked with the
/// [`Keeper`] and its thread goes back to accepting (or exits); when its
/// client sends again, a thread is started for it.
#[derive(Debug, Default)]
struct Crew {
    state: Mutex<CrewState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct CrewState {
    /// Threads alive.
    threads: usize,
    /// Threads waiting in accept().
    idle: usize,
    /// Connections open: served by a thread or parked.
    conns: usize,
}

/// Idle acceptors kept after a burst; more than this exit.
const MAX_IDLE: usize = 32;

struct Shared {
    root: Root,
    tls: Option<Arc<rustls::ServerConfig>>,
    gate: Gate,
    opts: ServerOptions,
    /// `opts.connection`, shared by every connection's state machine.
    connection: Arc<pared_core::server::Config>,
    stop: Shutdown,
    crew: Crew,
    listener: TcpListener,
    slots: Arc<Slots>,
    /// Idle keep-alive connections, held without a thread.
    keeper: Keeper<Parked>,
}

/// Serves `root` on `listener` until `stop` is requested, then lets
/// in-flight requests finish within the grace period and removes the
/// temporaries of unfinished uploads.
pub fn serve(
    listener: TcpListener,
    root: Root,
    opts: ServerOptions,
    stop: Shutdown,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    crate::fs::sweep_stale_uploads(&root);
    raise_open_files_limit();
    nodelay_for_accepted(&listener);
    let shared = Arc::new(Shared {
        root,
        tls,
        gate: Gate::new(opts.auth.clone(), opts.service.methods.clone()),
        slots: Slots::new(&opts),
        connection: Arc::new(opts.connection),
        opts,
        stop,
        crew: Crew::default(),
        listener,
        keeper: Keeper::new()?,
    });
    if let Ok(mut st) = shared.crew.state.lock() {
        // The keeper's thread and the first acceptor.
        st.threads = 2;
        st.idle = 1;
    }
    let s = shared.clone();
    std::thread::Builder::new()
        .name("pared-keeper".into())
        .stack_size(64 * 1024)
        .spawn(move || keep(&s))?;
    spawn_crew(&shared, None)?;
    while !shared.stop.requested() {
        std::thread::sleep(POLL);
        // Full, with someone waiting: the longest-idle keep-alive
        // connection gives way (its thread then accepts the newcomer).
        if shared.slots.full() && pending(&shared.listener) {
            shared.slots.make_room();
        }
    }
    // Wakes every thread blocked in accept() (it fails with EINVAL).
    let _ = rustix::net::shutdown(&shared.listener, rustix::net::Shutdown::Read);
    let deadline = Instant::now() + shared.opts.grace;
    let left = drain(&shared.crew, deadline);
    let removed = remove_unfinished_uploads();
    if left > 0 || removed > 0 {
        eprintln!(
            "pared: shutdown: {left} connection(s) cut off, {removed} unfinished upload(s) removed"
        );
    }
    Ok(())
}

/// Waits until every connection thread has exited or `deadline` passes;
/// returns how many are still running.
fn drain(crew: &Crew, deadline: Instant) -> usize {
    let Ok(mut st) = crew.state.lock() else {
        return 0;
    };
    while st.threads > 0 && Instant::now() < deadline {
        st = match crew.changed.wait_timeout(st, POLL) {
            Ok((g, _)) => g,
            Err(_) => return 0,
        };
    }
    st.threads
}

/// Starts a connection thread, which serves `first` (a parked
/// connection whose client sent again), if any, then accepts. The caller
/// has counted it in [`CrewState::threads`].
fn spawn_crew(shared: &Arc<Shared>, first: Option<Parked>) -> io::Result<()> {
    let s = shared.clone();
    std::thread::Builder::new()
        .name("pared-conn".into())
        .stack_size(256 * 1024)
        .spawn(move || crew_thread(&s, first))
        .map(|_| ())
}

/// One connection thread: serve, accept, repeat; exits on shutdown or
/// when enough others are idle.
fn crew_thread(shared: &Arc<Shared>, first: Option<Parked>) {
    let crew = &shared.crew;
    let leave = |st: &mut CrewState| {
        st.threads -= 1;
        crew.changed.notify_all();
    };
    let max = shared.opts.max_connections.unwrap_or(usize::MAX);
    let mut next = first.map(|p| resume(shared, p));
    loop {
        if let Some(parked) = next.take() {
            let Ok(mut st) = crew.state.lock() else {
                return;
            };
            match parked {
                Some(parked) => {
                    drop(st);
                    if let Err(refused) = shared.keeper.park(parked) {
                        drop(refused);
                        connection_ended(shared);
                    }
                    st = match crew.state.lock() {
                        Ok(st) => st,
                        Err(_) => return,
                    };
                }
                None => st.conns = st.conns.saturating_sub(1),
            }
            if shared.stop.requested() || st.idle >= MAX_IDLE || st.conns + st.idle >= max {
                return leave(&mut st);
            }
            st.idle += 1;
        }
        let accepted = shared.listener.accept();
        let Ok(mut st) = crew.state.lock() else {
            return;
        };
        st.idle -= 1;
        let (stream, peer) = match accepted {
            Ok(conn) if !shared.stop.requested() => conn,
            Err(e) if !shared.stop.requested() && transient_accept_error(&e) => {
                st.idle += 1;
                drop(st);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            _ => return leave(&mut st),
        };
        st.conns += 1;
        if st.idle == 0 && st.conns < max {
            st.threads += 1;
            st.idle += 1;
            if spawn_crew(shared, None).is_err() {
                st.threads -= 1;
                st.idle -= 1;
            }
        }
        drop(st);
        next = Some(match shared.slots.admit(peer.ip()) {
            Some(slot) => handle(stream, peer, shared, slot),
            None => {
                refuse(stream);
                None
            }
        });
    }
}

/// Counts a parked connection that was closed (its thread had already
/// left it), and starts an acceptor if nobody accepts although the limit
/// now allows.
fn connection_ended(shared: &Arc<Shared>) {
    let Ok(mut st) = shared.crew.state.lock() else {
        return;
    };
    st.conns = st.conns.saturating_sub(1);
    let max = shared.opts.max_connections.unwrap_or(usize::MAX);
    if st.idle == 0 && st.conns < max && !shared.stop.requested() {
        st.threads += 1;
        st.idle += 1;
        if spawn_crew(shared, None).is_err() {
            st.threads -= 1;
            st.idle -= 1;
        }
    }
}

/// The keeper's thread: hands parked connections whose client sent again
/// to new threads, and closes those past core's idle deadline, told to
/// make room, or still parked at shutdown.
fn keep(shared: &Arc<Shared>) {
    let crew = &shared.crew;
    while !shared.stop.requested() {
        let ready = shared.keeper.wait(POLL).unwrap_or_else(|_| {
            std::thread::sleep(POLL);
            Vec::new()
        });
        for parked in ready {
            let spawned = match crew.state.lock() {
                Ok(mut st) => {
                    st.threads += 1;
                    let r = spawn_crew(shared, Some(parked));
                    if r.is_err() {
                        st.threads -= 1;
                    }
                    r.is_ok()
                }
                Err(_) => false,
            };
            if !spawned {
                connection_ended(shared);
            }
        }
        let now = Instant::now();
        let closed = shared
            .keeper
            .retain(|p| !p.slot.evicted() && p.conn.poll_timeout().map_or(true, |at| at > now));
        for _ in closed {
            connection_ended(shared);
        }
    }
    for _ in shared.keeper.retain(|_| false) {
        connection_ended(shared);
    }
    if let Ok(mut st) = crew.state.lock() {
        st.threads -= 1;
        crew.changed.notify_all();
    }
}

/// A keep-alive connection parked between requests: its state without a
/// thread or buffers.
#[derive(Debug)]
struct Parked {
    stream: TcpStream,
    peer_ip: IpAddr,
    conn: Connection,
    slot: Slot,
}

impl AsFd for Parked {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// Errors after which accepting goes on (the peer left, or a resource
/// limit that frees up).
pub fn transient_accept_error(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM | Errno::PROTO)
    )
}

/// One connection's state as the driver loop sees it.
struct Conn<'a> {
    wire: Wire,
    peer_ip: IpAddr,
    conn: Connection,
    buf: RecvBuf,
    out: Vec<u8>,
    /// The read timeout last set on the socket, to skip repeating it.
    read_timeout: Option<Duration>,
    shared: &'a Shared,
    slot: Slot,
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

/// The most one sendfile call is asked to move.
pub const SENDFILE_CHUNK: usize = 256 * 1024;

/// Plaintext per TLS write of a file body: bounded memory per connection.
pub const TLS_CHUNK: usize = 64 * 1024;

/// Starts TLS on an accepted connection, within the header timeout (a
/// trickled handshake is cut there); a client that speaks plain http gets
/// a 400 saying this port speaks https. A failed handshake is one line on
/// stderr and ends only this connection. `None`: the connection is over.
fn tls_accept(
    stream: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    shared: &Shared,
    peer: SocketAddr,
) -> Option<Wire> {
    let deadline = shared
        .opts
        .connection
        .head_timeout
        .map(|t| Instant::now() + t);
    let _ = stream.set_read_timeout(shared.opts.connection.head_timeout);
    let mut first = [0u8; 1];
    match stream.peek(&mut first) {
        Ok(1) if !crate::tls::looks_like_tls(first[0]) => {
            let reply = serve::plain_http_on_tls_port(SystemTime::now());
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
    match handshake(&stream, &mut tls, deadline) {
        Ok(()) => Some(Wire::Tls(stream, Box::new(tls))),
        Err(e) => {
            let why = match crate::tls::tls_failure(&e) {
                Some(f) => f.0,
                None if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
                {
                    "not finished within the header timeout".to_owned()
                }
                None => e.to_string(),
            };
            eprintln!(
                "pared: TLS handshake with {} failed: {why}",
                peer.ip().to_canonical()
            );
            None
        }
    }
}

/// Answers 503 to a connection whose client holds too many, and closes it.
/// What the client already sent is read first (without waiting), so the
/// close does not turn into a reset that would hide the answer.
fn refuse(stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut sink = [0u8; 4096];
    let _ = (&stream).read(&mut sink);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&stream).write_all(&serve::refusal(SystemTime::now()));
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Serves a newly accepted connection; `Some` when it was parked idle.
fn handle(stream: TcpStream, peer: SocketAddr, shared: &Shared, slot: Slot) -> Option<Parked> {
    // accept() does not pass the listener's O_NONBLOCK on: the stream
    // blocks. TCP_NODELAY it does pass on (`nodelay_for_accepted`).
    // A write that makes no progress for the body timeout fails.
    stream
        .set_write_timeout(shared.opts.connection.body_timeout)
        .ok()?;
    let accepted = Instant::now();
    let wire = match &shared.tls {
        None => Wire::Plain(stream),
        Some(config) => tls_accept(stream, config, shared, peer)?,
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
fn resume(shared: &Shared, p: Parked) -> Option<Parked> {
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
                Ok(Next::Close) | Err(Stop::Io(_)) => return None,
                Err(Stop::Protocol(e)) => {
                    self.answer_error(e, None, Started::now());
                    self.linger();
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
                Err(_) => return None,
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
    /// Idle for a while with nothing pending: hand it to the keeper.
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
            let next = between::next(&mut self.conn, &mut self.buf, &self.slot, stop);
            match next.map_err(Stop::Protocol)? {
                Between::Head(head) => return Ok(Next::Head(head)),
                Between::Close => return Ok(Next::Close),
                // A whole wait with nothing (the buffer was given back):
                // the thread leaves the connection to the keeper. TLS
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

    /// Answers a protocol error if it deserves an answer and none was sent.
    /// Answers a protocol error if it deserves an answer and none was sent,
    /// and logs it; `req` is the request it ended, if its head was parsed.
    fn answer_error(&mut self, e: ProtocolError, req: Option<&RequestHead>, started: Started) {
        let reply = self
            .conn
            .can_respond()
            .then(|| service::protocol_error_reply(e, started.at))
            .flatten();
        let (status, sent) = match reply {
            Some(reply) => {
                let status = reply.head.status.as_u16();
                (Some(status), self.send(Prepared::reply(reply)).unwrap_or(0))
            }
            None => (None, 0),
        };
        if status.is_some() || req.is_some() {
            started.log(&self.shared.opts, self.peer_ip, None, req, status, sent);
        }
    }

    fn serve_request(&mut self, req: RequestHead) -> Result<Reuse, Stop> {
        let started = Started::now();
        let start = started.at;
        let shared = self.shared;
        let pass = match shared.gate.check(&req, self.peer_ip, start) {
            Pass::Verify(pending) => shared.gate.verify(pending, &req, start),
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
            Route::Read(path) => {
                // A small body is read into memory and leaves with its
                // head in one write: no sendfile, and no switch to
                // non-blocking and back around it.
                let read = serve::read(&shared.root, &req, &path, start, writable);
                serve::preload(read, serve::INLINE_BODY)
            }
            Route::Delete(path) => serve::delete(&shared.root, &req, &path, start),
            Route::Write { path, .. } => match serve::begin_put(&shared.root, &req, &path, start) {
                PutStart::Upload(upload) => match self.receive_upload(upload) {
                    Ok(Ok(upload)) => serve::finish_put(upload, &req, &path),
                    Ok(Err(f)) => {
                        Prepared::reply(service::put_reply(&path, Err(f), SystemTime::now()))
                    }
                    Err(Stop::Protocol(e)) => {
                        self.answer_error(e, Some(&req), started);
                        return Err(Stop::Protocol(e));
                    }
                    Err(e) => return Err(e),
                },
                PutStart::Refused(refused) => refused,
            },
        };
        let status = prepared.head.status.as_u16();
        let sent = self.send(prepared);
        drop_if_stalled(&sent, self.wire.socket());
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
        self.conn
            .finish_response(Instant::now())
            .map_err(|e| Stop::Io(io::Error::other(e)))
    }

    /// Streams the request body into the upload; the upload is removed if
    /// anything goes wrong before the body is complete. Returns the upload,
    /// ready to commit, or why it failed.
    fn receive_upload(&mut self, mut upload: Upload) -> Result<Result<Upload, FsFailure>, Stop> {
        self.out.clear();
        self.conn.accept_body(&mut self.out);
        if !self.out.is_empty() {
            self.wire.write_all(&self.out)?;
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

    /// Sends a prepared response; returns the body bytes sent.
    fn send(&mut self, prepared: Prepared) -> Result<u64, Stop> {
        self.out.clear();
        self.out.reserve(prepared.write_room());
        self.conn
            .send_response(&prepared.head, &mut self.out, Instant::now())
            .map_err(|e| Stop::Io(io::Error::other(e)))?;
        let mut sent = 0u64;
        match prepared.body {
            Body::None => self.wire.write_all(&self.out)?,
            Body::Static(bytes) => sent += self.write_with_head(bytes)?,
            Body::Bytes(bytes) => sent += self.write_with_head(&bytes)?,
            Body::File { file, pieces } if self.wire.is_tls() => {
                sent += self.send_pieces_tls(&file, &pieces)?;
            }
            Body::File { file, pieces } => {
                // Non-blocking while the file goes out, so every wait for
                // the client is bounded by core's deadline (no progress, or
                // slower than the minimum rate, for the body timeout),
                // however much one sendfile would have moved.
                self.wire.socket().set_nonblocking(true)?;
                let r = self.send_pieces(&file, &pieces);
                let _ = self.wire.socket().set_nonblocking(false);
                sent += r?;
            }
        }
        Ok(sent)
    }

    /// Over TLS: the head, then the pieces, the file read into a bounded
    /// buffer and encrypted (no sendfile); each write is bounded by the
    /// socket's body timeout.
    fn send_pieces_tls(&mut self, file: &std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        use std::os::unix::fs::FileExt;
        let head = std::mem::take(&mut self.out);
        let r = self.wire.write_all(&head);
        self.out = head;
        r?;
        let mut sent = 0u64;
        let mut chunk = vec![0u8; TLS_CHUNK];
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    self.wire.write_all(b)?;
                    self.count(b.len())?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, TLS_CHUNK);
                        let n = file.read_at(&mut chunk[..want], at)?;
                        if n == 0 {
                            return Err(Stop::Io(io::Error::other("file shrank while sending")));
                        }
                        self.wire.write_all(&chunk[..n])?;
                        self.count(n)?;
                        at += n as u64;
                        sent += n as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends the head (already in `out`) with MSG_MORE, then the pieces of
    /// a file body; the socket is non-blocking. Returns the body bytes sent.
    fn send_pieces(&mut self, file: &std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        let head = std::mem::take(&mut self.out);
        let r = self.send_more(&head);
        self.out = head;
        r?;
        let mut sent = 0u64;
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    self.send_more(b)?;
                    self.count(b.len())?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, SENDFILE_CHUNK);
                        match rustix::fs::sendfile(
                            self.wire.socket().as_fd(),
                            file.as_fd(),
                            Some(&mut at),
                            want,
                        ) {
                            // The file shrank under us: the promised length cannot be kept.
                            Ok(0) => {
                                return Err(Stop::Io(io::Error::other("file shrank while sending")))
                            }
                            Ok(n) => {
                                self.count(n)?;
                                sent += n as u64;
                            }
                            Err(rustix::io::Errno::AGAIN) => self.wait_writable()?,
                            Err(rustix::io::Errno::INTR) => {}
                            Err(e) => return Err(Stop::Io(e.into())),
                        }
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends all of `bytes` with MSG_MORE (more follows at once: the
    /// kernel holds a partial segment back for it), on the non-blocking
    /// socket.
    fn send_more(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            match rustix::net::send(self.wire.socket(), bytes, rustix::net::SendFlags::MORE) {
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::AGAIN) => self.wait_writable()?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::Io(e.into())),
            }
        }
        Ok(())
    }

    /// Waits until the socket takes more bytes, at most until core's
    /// deadline; past it, core's error (the body stalled).
    fn wait_writable(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        let left = match self.conn.poll_timeout() {
            Some(at) if at <= now => {
                let e = self.conn.handle_timeout(now).err();
                return Err(Stop::Protocol(e.unwrap_or(ProtocolError::BodyStalled)));
            }
            Some(at) => Some(at - now),
            None => self.shared.opts.connection.body_timeout,
        };
        match wait_for(self.wire.socket(), PollFlags::OUT, left) {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Io(e)),
        }
    }

    /// Counts `n` body bytes sent.
    fn count(&mut self, n: usize) -> Result<(), Stop> {
        self.conn
            .send_body(n, Instant::now())
            .map_err(|e| Stop::Io(io::Error::other(e)))
    }

    /// Sends the head and a small body in one write.
    fn write_with_head(&mut self, body: &[u8]) -> Result<u64, Stop> {
        self.out.extend_from_slice(body);
        self.wire.write_all(&self.out)?;
        self.conn
            .send_body(body.len(), Instant::now())
            .map_err(|e| Stop::Io(io::Error::other(e)))?;
        Ok(body.len() as u64)
    }
}

/// A client that stopped taking the response (or took it too slowly) is
/// reset, not closed: what is still queued for it is dropped at once
/// instead of being kept and trickled out by the kernel.
fn drop_if_stalled<T>(sent: &Result<T, Stop>, socket: &impl std::os::fd::AsFd) {
    if matches!(sent, Err(Stop::Protocol(ProtocolError::BodyStalled))) {
        let _ = rustix::net::sockopt::set_socket_linger(socket, Some(Duration::ZERO));
    }
}
