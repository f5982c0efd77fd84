//! Slow readers (issue "Hardening, second pass", item 5), on both
//! runtimes: a client that keeps taking bytes, however slowly, is served
//! to the end, and one that stops is cut after the body timeout. The async
//! runtime used to cut the first kind: it waited for the kernel to call
//! the socket writable, which needs a third of the send buffer free, and a
//! slow reader can take longer than the body timeout to drain that.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

const SIZE: usize = 48 << 20;

fn start(rt: &str) -> (tempfile::TempDir, Server) {
    let root = fixture();
    std::fs::write(root.path().join("big.bin"), vec![7u8; SIZE]).unwrap();
    let s = Server::start(rt, root.path(), &["--body-timeout", "1"]);
    (root, s)
}

fn ask(s: &Server, path: &str) -> TcpStream {
    // A small receive buffer, set before connecting (so the window is
    // small from the start): the server's send buffer fills at once.
    use rustix::net::{AddressFamily, SocketType};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, 8192).unwrap();
    let remote: std::net::SocketAddr = s.addr().parse().unwrap();
    rustix::net::connect(&fd, &remote).unwrap();
    let mut c = TcpStream::from(fd);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    c
}

/// Reads at about `rate` bytes a second for `secs`; the bytes read.
fn read_slowly(c: &mut TcpStream, rate: usize, secs: u64) -> usize {
    let step = Duration::from_millis(100);
    let per_step = rate / 10;
    let mut buf = vec![0u8; per_step];
    let mut total = 0;
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        let mut got = 0;
        while got < per_step {
            match c.read(&mut buf[got..]) {
                Ok(0) => panic!("the server closed after {total} bytes"),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("cut after {} bytes: {e}", total + got),
            }
        }
        total += got;
        std::thread::sleep(step);
    }
    total
}

/// A reader at 32 KB/s (far above the 1 KB/s minimum rate) is still being
/// served after four body timeouts of one second.
fn a_slow_reader_is_kept(rt: &str) {
    let (_root, s) = start(rt);
    let mut c = ask(&s, "/big.bin");
    let read = read_slowly(&mut c, 32 * 1024, 4);
    assert!(read >= 100 * 1024, "{read} bytes in 4 s");
    // Still served: more arrives.
    let mut more = [0u8; 1024];
    assert!(c.read(&mut more).expect("still open") > 0);
}

/// A reader that stops is cut: after a few body timeouts the connection
/// ends before the whole file went out.
fn a_stopped_reader_is_cut(rt: &str) {
    let (_root, s) = start(rt);
    let mut c = ask(&s, "/big.bin");
    let _ = read_slowly(&mut c, 32 * 1024, 1);
    std::thread::sleep(Duration::from_secs(4));
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    assert!(total < SIZE, "the whole body went out to a stalled reader");
}

/// The same over https (Python's ssl as the client): progress counts a
/// TLS record at a time.
fn a_slow_tls_reader_is_kept(rt: &str) {
    let root = fixture();
    std::fs::write(root.path().join("big.bin"), vec![7u8; SIZE]).unwrap();
    let s = Server::start(
        rt,
        root.path(),
        &["--body-timeout", "1", "--tls-self-signed"],
    );
    let script = format!(
        r#"
import socket, ssl, time
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
c.settimeout(10)
c.connect(("127.0.0.1", {port}))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c = ctx.wrap_socket(c)
c.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
start, total = time.time(), 0
while time.time() - start < 4:
    want = 3276
    while want > 0:
        d = c.recv(want)
        if not d:
            raise SystemExit("closed after %d bytes" % total)
        want -= len(d)
        total += len(d)
    time.sleep(0.1)
if not c.recv(1024):
    raise SystemExit("closed after %d bytes" % total)
print(total)
"#,
        port = s.port
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let total: usize = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(total >= 100 * 1024, "{total} bytes in 4 s");
}

per_runtime!(
    a_slow_reader_is_kept,
    a_stopped_reader_is_cut,
    a_slow_tls_reader_is_kept
);
