//! The listening socket and what every runtime does with it: binding,
//! socket options accepted connections inherit, the open-files limit, and
//! which accept errors are passing.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener};

use pared_core::ServerOptions;

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

/// What a server process sets up once before it listens, on every
/// runtime: more open files, and freed memory given back to the system.
pub fn prepare_process() {
    raise_open_files_limit();
    crate::memory::give_back_freed_memory();
}

/// Raises the soft limit on open files to the hard limit, as nginx's
/// `worker_rlimit_nofile` and Go's runtime do: every connection takes two
/// descriptors (its socket, and the duplicate the slot registry keeps to
/// close it when it must give way), plus the files being sent.
fn raise_open_files_limit() {
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

/// Byte budgets of the send and receive loops, the same on every runtime.
pub mod sizes {
    /// The most one sendfile call is asked to move.
    pub const SENDFILE_CHUNK: usize = 256 * 1024;

    /// Plaintext per TLS write of a file body: bounded memory per connection.
    pub const TLS_CHUNK: usize = 64 * 1024;
}
