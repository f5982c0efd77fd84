//! Slow heads and slow TLS handshakes at the global limit (issue
//! "Hardening, second pass", item 6), on both runtimes: a few addresses
//! that hold every slot with heads or handshakes that never finish no
//! longer lock others out until their header timeout; the connection in
//! its head the longest gives way to a waiting one, as an idle one does.
//! Before the fix, only idle keep-alive connections gave way, and every
//! probe here waited the whole header timeout (60 s).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const LIMITS: [&str; 6] = [
    "--max-connections",
    "16",
    "--max-per-client",
    "8",
    "--header-timeout",
    "60",
];

/// Fills every slot from two addresses, each connection having sent
/// `first` and nothing more.
fn fill(s: &Server, first: &[u8]) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for from in ["127.0.1.1", "127.0.1.2"] {
        for _ in 0..8 {
            let mut c = connect_from(s, from, None);
            c.write_all(first).unwrap();
            held.push(c);
        }
    }
    // Let the server accept them all.
    std::thread::sleep(Duration::from_millis(500));
    held
}

fn slow_heads_give_way(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &LIMITS);
    let _held = fill(
        &s,
        b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
    );
    assert_eq!(probes_pass(&s, "127.0.0.3", 6), 6, "probes answered");
}

/// A GET over https from 127.0.0.3 (curl), answered within 3 s.
fn tls_probe(s: &Server) -> bool {
    Command::new("curl")
        .args([
            "-sk",
            "--interface",
            "127.0.0.3",
            "--max-time",
            "3",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("https://127.0.0.1:{}/hello.txt", s.port))
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.stdout == b"200")
}

fn slow_handshakes_give_way(rt: &str) {
    require_tool("curl");
    let root = fixture();
    let mut args = LIMITS.to_vec();
    args.push("--tls-self-signed");
    let s = Server::start(rt, root.path(), &args);
    // The first bytes of a TLS record header, and nothing more.
    let _held = fill(&s, b"\x16\x03\x01");
    let passed = (0..4).filter(|_| tls_probe(&s)).count();
    assert_eq!(passed, 4, "https probes answered");
}

per_runtime!(slow_heads_give_way, slow_handshakes_give_way);
