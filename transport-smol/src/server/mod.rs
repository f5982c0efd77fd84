//! The async server: a smol executor on every core, one task per
//! connection, each a loop of socket reads, pared-core events and
//! file-system calls through pared-host.
//!
//! An executor thread never waits on the disk. A GET is answered inline
//! when it needs nothing the kernel would read from the disk: the path is
//! opened with `RESOLVE_CACHED`, `fstat` reads the in-memory inode (or a
//! small file kept open is checked with one `statx`: its open descriptor
//! pins its path's dentries and its inode in memory), the
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
use std::time::{Duration, Instant};

use futures_lite::future;
use pared_core::ServerOptions;
use pared_host::conn_slots::{pending, Slots};
use pared_host::fs::remove_unfinished_uploads;
use pared_host::listener::transient_accept_error;
use pared_host::shutdown::POLL;
use pared_host::{Host, Shutdown, Site};
use smol::{Async, LocalExecutor, Timer};

use conn::{accept, handle, refuse};
use upload::Batches;

mod conn;
mod send;
mod upload;

pub(super) struct Shared {
    pub(super) host: Arc<Host>,
    pub(super) tls: Option<Arc<pared_host::tls::TlsServerConfig>>,
    pub(super) opts: ServerOptions,
    /// `opts.connection`, shared by every connection's state machine.
    pub(super) connection: Arc<pared_core::server::Config>,
    pub(super) stop: Shutdown,
    pub(super) active: AtomicUsize,
    pub(super) slots: Arc<Slots>,
    batches: Batches,
    /// `--max-connections`, across every executor thread.
    pub(super) permits: Option<Arc<smol::lock::Semaphore>>,
}

/// Serves `site` (its root, under its access policy) on `listener` until
/// `stop` is requested, then lets in-flight requests finish within the
/// grace period and removes the temporaries of unfinished uploads.
pub fn serve(
    listener: TcpListener,
    site: Site,
    opts: ServerOptions,
    stop: Shutdown,
    tls: Option<Arc<pared_host::tls::TlsServerConfig>>,
) -> io::Result<()> {
    pared_host::fs::sweep_stale_uploads(&site.root);
    pared_host::listener::prepare_process();
    pared_host::listener::nodelay_for_accepted(&listener);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let permits = opts
        .max_connections
        .map(|n| Arc::new(smol::lock::Semaphore::new(n)));
    let shared = Arc::new(Shared {
        host: Arc::new(Host::new(site, &opts)),
        tls,
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
            if let Err(e) = handle(stream, ip, &s, &slot).await {
                e.report();
            }
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
