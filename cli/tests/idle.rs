//! Idle keep-alive connections, on both runtimes: they give their
//! buffers back (and, on the blocking runtime, their threads), yet each one
//! is served again the moment its client sends, keeps its idle deadline,
//! and closes at shutdown.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

const GET: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// `n` connections, each answered once and left open.
fn open_idle(server: &Server, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(GET).unwrap();
            assert_eq!(read_response(&mut s, false).status, 200);
            s
        })
        .collect()
}

/// A field of /proc/PID/status, as a number.
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Long idle (well past the 100 ms after which buffers are given back and
/// the blocking runtime parks the connection), each connection is served
/// again, in any order, with requests split across writes.
fn idle_connections_are_served_again(runtime: &str) {
    let dir = fixture();
    let server = Server::start(runtime, dir.path(), &["--max-per-client", "0"]);
    let mut conns = open_idle(&server, 40);
    std::thread::sleep(Duration::from_millis(600));
    for (i, s) in conns.iter_mut().enumerate().rev() {
        // Half of them send the head in two pieces, the second after the
        // connection was woken by the first.
        if i % 2 == 0 {
            s.write_all(&GET[..10]).unwrap();
            std::thread::sleep(Duration::from_millis(5));
            s.write_all(&GET[10..]).unwrap();
        } else {
            s.write_all(GET).unwrap();
        }
        let r = read_response(s, false);
        assert_eq!(r.status, 200, "connection {i}");
        assert_eq!(r.body, b"hello\n", "connection {i}");
    }
    // Twice: a connection that went idle again is parked and woken again.
    std::thread::sleep(Duration::from_millis(300));
    for s in conns.iter_mut() {
        s.write_all(GET).unwrap();
        assert_eq!(read_response(s, false).status, 200);
    }
}

/// The blocking runtime holds no thread for an idle connection: 200 idle
/// connections leave only a few threads (before parking, there were more
/// than 200). The async runtime has a fixed set of threads anyway.
#[test]
fn std_idle_connections_hold_no_thread() {
    let dir = fixture();
    let server = Server::start("std", dir.path(), &["--max-per-client", "0"]);
    let mut conns = open_idle(&server, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut threads = proc_status(server.child.id(), "Threads:");
    while threads > 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        threads = proc_status(server.child.id(), "Threads:");
    }
    assert!(threads <= 40, "{threads} threads for 200 idle connections");
    // And all of them still work.
    for s in conns.iter_mut() {
        s.write_all(GET).unwrap();
        assert_eq!(read_response(s, false).status, 200);
    }
}

/// An idle connection still closes at its idle deadline, however it waits.
fn idle_deadline_holds(runtime: &str) {
    let dir = fixture();
    let server = Server::start(
        runtime,
        dir.path(),
        &["--idle-timeout", "1", "--max-per-client", "0"],
    );
    let mut conns = open_idle(&server, 5);
    let start = Instant::now();
    for s in conns.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 1];
        // The server closes: EOF (or a reset).
        let n = std::io::Read::read(s, &mut b).unwrap_or(0);
        assert_eq!(n, 0);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
}

/// Shutdown closes idle connections promptly, parked ones included.
fn shutdown_closes_idle_connections(runtime: &str) {
    let dir = fixture();
    let mut server = Server::start(runtime, dir.path(), &["--max-per-client", "0"]);
    let mut conns = open_idle(&server, 20);
    std::thread::sleep(Duration::from_millis(400));
    let status = server.terminate(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    for s in conns.iter_mut() {
        let mut b = [0u8; 1];
        assert_eq!(std::io::Read::read(s, &mut b).unwrap_or(0), 0);
    }
}

per_runtime!(
    idle_connections_are_served_again,
    idle_deadline_holds,
    shutdown_closes_idle_connections,
);
