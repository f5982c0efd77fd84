//! The connection threads (one per connection being served): each accepts its own
//! connections, serves them ([`super::conn`]) and goes back to accepting;
//! idle keep-alive connections are parked without a thread and handed to
//! a new thread when their client sends again.

use std::io;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use pared_core::server::Connection;
use pared_core::ServerOptions;
use pared_host::conn_slots::{pending, Slot, Slots};
use pared_host::fs::remove_unfinished_uploads;
use pared_host::listener::{nodelay_for_accepted, prepare_process, transient_accept_error};
use pared_host::shutdown::{Shutdown, POLL};
use pared_host::{Host, Site};

use super::conn::{handle, refuse, resume};
use crate::parking::ParkingLot;

/// The connection threads. Each one blocks in `accept()` (Linux wakes one
/// waiter per connection), serves the connection it got on the same
/// thread, and goes back to accepting: no hand-off between an accepting
/// thread and a serving one. A thread that takes the last idle acceptor's
/// place starts another while connections and acceptors together stay
/// within `max_connections`; at the limit nobody accepts, so new
/// connections wait in the kernel's backlog.
///
/// A keep-alive connection idle for [`POLL`] is parked with the
/// [`ParkingLot`] and its thread goes back to accepting (or exits); when its
/// client sends again, a thread is started for it.
#[derive(Debug, Default)]
struct ConnThreads {
    state: Mutex<ThreadCounts>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ThreadCounts {
    /// Threads alive.
    threads: usize,
    /// Threads waiting in accept().
    idle: usize,
    /// Connections open: served by a thread or parked.
    conns: usize,
}

/// Idle acceptors kept after a burst; more than this exit.
const MAX_IDLE: usize = 32;

pub(super) struct Shared {
    pub(super) host: Host,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) opts: ServerOptions,
    /// `opts.connection`, shared by every connection's state machine.
    pub(super) connection: Arc<pared_core::server::Config>,
    pub(super) stop: Shutdown,
    threads: ConnThreads,
    listener: TcpListener,
    slots: Arc<Slots>,
    /// Idle keep-alive connections, held without a thread.
    parking: ParkingLot<Parked>,
}

/// Serves `site` (its root, under its access policy) on `listener` until
/// `stop` is requested, then lets in-flight requests finish within the
/// grace period and removes the temporaries of unfinished uploads.
pub fn serve(
    listener: TcpListener,
    site: Site,
    opts: ServerOptions,
    stop: Shutdown,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    pared_host::fs::sweep_stale_uploads(&site.root);
    prepare_process();
    nodelay_for_accepted(&listener);
    let shared = Arc::new(Shared {
        host: Host::new(site, &opts),
        tls,
        slots: Slots::new(&opts),
        connection: Arc::new(opts.connection),
        opts,
        stop,
        threads: ConnThreads::default(),
        listener,
        parking: ParkingLot::new()?,
    });
    if let Ok(mut st) = shared.threads.state.lock() {
        // The parking thread and the first acceptor.
        st.threads = 2;
        st.idle = 1;
    }
    let s = shared.clone();
    std::thread::Builder::new()
        .name("pared-parking".into())
        .stack_size(64 * 1024)
        .spawn(move || keep(&s))?;
    spawn_thread(&shared, None)?;
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
    let left = drain(&shared.threads, deadline);
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
fn drain(threads: &ConnThreads, deadline: Instant) -> usize {
    let Ok(mut st) = threads.state.lock() else {
        return 0;
    };
    while st.threads > 0 && Instant::now() < deadline {
        st = match threads.changed.wait_timeout(st, POLL) {
            Ok((g, _)) => g,
            Err(_) => return 0,
        };
    }
    st.threads
}

/// Starts a connection thread, which serves `first` (a parked
/// connection whose client sent again), if any, then accepts. The caller
/// has counted it in [`ThreadCounts::threads`].
fn spawn_thread(shared: &Arc<Shared>, first: Option<Parked>) -> io::Result<()> {
    let s = shared.clone();
    std::thread::Builder::new()
        .name("pared-conn".into())
        .stack_size(256 * 1024)
        .spawn(move || conn_thread(&s, first))
        .map(|_| ())
}

/// One connection thread: serve, accept, repeat; exits on shutdown or
/// when enough others are idle.
fn conn_thread(shared: &Arc<Shared>, first: Option<Parked>) {
    let threads = &shared.threads;
    let leave = |st: &mut ThreadCounts| {
        st.threads -= 1;
        threads.changed.notify_all();
    };
    let max = shared.opts.max_connections.unwrap_or(usize::MAX);
    let mut next = first.map(|p| resume(shared, p));
    loop {
        if let Some(parked) = next.take() {
            let Ok(mut st) = threads.state.lock() else {
                return;
            };
            match parked {
                Some(parked) => {
                    drop(st);
                    if let Err(refused) = shared.parking.park(parked) {
                        drop(refused);
                        connection_ended(shared);
                    }
                    st = match threads.state.lock() {
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
        let Ok(mut st) = threads.state.lock() else {
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
            if spawn_thread(shared, None).is_err() {
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
    let Ok(mut st) = shared.threads.state.lock() else {
        return;
    };
    st.conns = st.conns.saturating_sub(1);
    let max = shared.opts.max_connections.unwrap_or(usize::MAX);
    if st.idle == 0 && st.conns < max && !shared.stop.requested() {
        st.threads += 1;
        st.idle += 1;
        if spawn_thread(shared, None).is_err() {
            st.threads -= 1;
            st.idle -= 1;
        }
    }
}

/// The parking thread: hands parked connections whose client sent again
/// to new threads, and closes those past core's idle deadline, told to
/// make room, or still parked at shutdown.
fn keep(shared: &Arc<Shared>) {
    let threads = &shared.threads;
    let mut were = 0;
    while !shared.stop.requested() {
        // Threads that exited left their buffers in their arenas: give
        // the free pages back (a burst of clients, now parked, must not
        // keep the burst's memory).
        let now_running = threads.state.lock().map_or(0, |st| st.threads);
        if now_running < were {
            pared_host::memory::trim_freed_memory();
        }
        were = now_running;
        let ready = shared.parking.wait(POLL).unwrap_or_else(|_| {
            std::thread::sleep(POLL);
            Vec::new()
        });
        for parked in ready {
            let spawned = match threads.state.lock() {
                Ok(mut st) => {
                    st.threads += 1;
                    let r = spawn_thread(shared, Some(parked));
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
            .parking
            .retain(|p| !p.slot.evicted() && p.conn.poll_timeout().map_or(true, |at| at > now));
        for _ in closed {
            connection_ended(shared);
        }
    }
    for _ in shared.parking.retain(|_| false) {
        connection_ended(shared);
    }
    if let Ok(mut st) = threads.state.lock() {
        st.threads -= 1;
        threads.changed.notify_all();
    }
}

/// A keep-alive connection parked between requests: its state without a
/// thread or buffers.
#[derive(Debug)]
pub(super) struct Parked {
    pub(super) stream: TcpStream,
    pub(super) peer_ip: IpAddr,
    pub(super) conn: Connection,
    pub(super) slot: Slot,
}

impl AsFd for Parked {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stream.as_fd()
    }
}
