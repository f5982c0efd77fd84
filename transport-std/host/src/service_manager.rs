//! Running under a service manager (systemd): socket activation and
//! readiness notification, the two protocols `sd_listen_fds(3)` and
//! `sd_notify(3)` describe, without libsystemd.
//!
//! - Socket activation: when `LISTEN_PID` is this process and `LISTEN_FDS`
//!   is at least 1, descriptor 3 is the listening socket the manager
//!   opened (so it may bind port 80 for an unprivileged service, and keep
//!   the port while pared restarts). It is taken once, after checking it
//!   is a listening TCP socket.
//! - Notification: `READY=1` once serving, `STOPPING=1` when a shutdown
//!   begins, sent to the datagram socket `NOTIFY_SOCKET` names (a path,
//!   or `@name` in the abstract namespace). Best effort: a missing or
//!   unreachable socket changes nothing.
//!
//! Taking descriptor 3 is this crate's third `unsafe` call (after
//! `sync_file_range` and `mallopt`): only the process's environment says
//! it is ours, which the type system cannot know.
#![allow(unsafe_code)]

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::shutdown::Shutdown;

/// The first descriptor a service manager passes.
const SD_LISTEN_FDS_START: i32 = 3;

/// The listening socket the service manager passed, if it passed one to
/// this process; an error when the variables say so but descriptor 3 is
/// not a listening TCP socket.
pub fn inherited_listener() -> io::Result<Option<TcpListener>> {
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !ours || count == 0 || TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    // Check before taking ownership: a borrowed view of descriptor 3.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(SD_LISTEN_FDS_START) };
    let kind = rustix::net::sockopt::socket_type(fd).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("LISTEN_FDS: descriptor 3 is not a socket ({e})"),
        )
    })?;
    let listening = rustix::net::sockopt::socket_acceptconn(fd).unwrap_or(false);
    if kind != rustix::net::SocketType::STREAM || !listening {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "LISTEN_FDS: descriptor 3 is not a listening stream socket",
        ));
    }
    // SAFETY: the service manager passed descriptor 3 to this process
    // (LISTEN_PID is ours), it is open (its socket options were just
    // read), and TAKEN makes sure it is taken at most once.
    let owned = unsafe { OwnedFd::from_raw_fd(SD_LISTEN_FDS_START) };
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
    Ok(Some(TcpListener::from(owned)))
}

/// Sends `state` (e.g. `READY=1`) to the service manager, if there is one.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = target.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = sock.send_to_addr(state.as_bytes(), &addr);
        }
    } else {
        let _ = sock.send_to(state.as_bytes(), &target);
    }
}

/// Sends `STOPPING=1`, once however often it is called.
pub fn stopping() {
    static SENT: AtomicBool = AtomicBool::new(false);
    if !SENT.swap(true, Ordering::SeqCst) {
        notify("STOPPING=1");
    }
}

/// Tells the service manager `STOPPING=1` as soon as `stop` is requested
/// (a thread that looks every 100 ms; it ends with the process). A
/// shutdown quicker than that is told by [`stopping`], which the caller
/// also calls when serving ends.
pub fn notify_on_stop(stop: Shutdown) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("pared-notify".into())
        .spawn(move || {
            while !stop.requested() {
                std::thread::sleep(Duration::from_millis(100));
            }
            stopping();
        });
}
