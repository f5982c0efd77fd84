//! The client never harms its user, on both runtimes: credentials and
//! bodies stay with their origin across redirects; temporaries go away on
//! SIGINT/SIGTERM; --max-filesize, --max-time and a stream of 100 Continue
//! are bounded; nothing a server sends can drive the terminal.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn credentials_stay_with_their_origin(rt: &str) {
    let (second, h2) = scripted_server(vec![Some(
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    )]);
    let redirect = format!(
        "HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:{second}/there\r\nContent-Length: 0\r\n\r\n"
    );
    let (first, h1) = scripted_server(vec![Some(redirect.into_bytes())]);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &first.to_string(),
            "here",
            "-L",
            "-H",
            "Authorization: Basic c2VjcmV0OnNlY3JldA==",
            "-H",
            "Cookie: session=abc",
            "-H",
            "Proxy-Authorization: Basic eA==",
            "-H",
            "X-Trace: 1",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let seen1 = h1.join().unwrap().join("");
    assert!(seen1.contains("Authorization: Basic"), "{seen1}");
    let seen2 = h2.join().unwrap().join("").to_ascii_lowercase();
    for leaked in ["authorization", "cookie", "c2vjcmv0"] {
        assert!(
            !seen2.contains(leaked),
            "{leaked} sent to another port: {seen2}"
        );
    }
    assert!(seen2.contains("x-trace: 1"));

    // A 307 for a PUT to another origin: the body is not re-sent there.
    let (other, h3) = scripted_server(vec![Some(
        b"HTTP/1.0 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
    )]);
    let redirect = format!(
        "HTTP/1.0 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{other}/x\r\nContent-Length: 0\r\n\r\n"
    );
    let (first, h4) = scripted_server(vec![Some(redirect.into_bytes())]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("up.txt");
    std::fs::write(&local, b"private data").unwrap();
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &first.to_string(),
            "PUT",
            "x",
            "--upload-from",
            local.to_str().unwrap(),
            "-L",
        ],
    );
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    assert!(stderr(&o).contains("not sent there"), "{}", stderr(&o));
    h4.join().unwrap();
    // Nobody connected to the other origin: unblock its accept and check.
    let _ = std::net::TcpStream::connect(("127.0.0.1", other))
        .and_then(|mut s| s.write_all(b"GET /probe HTTP/1.0\r\n\r\n"));
    let seen = h3.join().unwrap();
    assert!(seen.iter().all(|h| h.starts_with("GET /probe")), "{seen:?}");
}

fn signals_remove_temporaries(rt: &str) {
    // A body that starts and then never ends.
    let mut reply = b"HTTP/1.0 200 OK\r\nContent-Length: 104857600\r\n\r\n".to_vec();
    reply.extend(vec![b'x'; 64 * 1024]);
    for sig in ["INT", "TERM"] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = reply.clone();
        let server = std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut b = [0u8; 1024];
                let _ = s.read(&mut b);
                let _ = s.write_all(&body);
                std::thread::sleep(Duration::from_secs(5));
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.bin");
        let mut child = Command::new(pared())
            .args([
                "--runtime",
                rt,
                "client",
                "127.0.0.1",
                &port.to_string(),
                "x",
                "-o",
            ])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the temporary to appear and grow.
        let end = Instant::now() + Duration::from_secs(10);
        let part = |d: &std::path::Path| {
            std::fs::read_dir(d)
                .unwrap()
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().contains("pared-part"))
        };
        while !part(dir.path()) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(part(dir.path()), "no temporary appeared");
        std::thread::sleep(Duration::from_millis(200));
        Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(10)).expect("client exits");
        let want = if sig == "INT" { 130 } else { 143 };
        assert_eq!(status.code(), Some(want), "SIG{sig}");
        assert!(!part(dir.path()), "SIG{sig} left the temporary behind");
        assert!(!out.exists());
        server.join().unwrap();
    }
}

fn size_and_time_are_bounded(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    let o_arg = out.to_str().unwrap().to_owned();
    // A declared length over the limit: refused before a byte is stored.
    let (port, h) = scripted_server(vec![Some(
        b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec(),
    )]);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port.to_string(),
            "f",
            "-o",
            &o_arg,
            "--max-filesize",
            "500",
        ],
    );
    h.join().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-filesize"));
    // An endless body without a length: cut at the limit, nothing kept.
    let mut endless = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    endless.extend(vec![b'y'; 3 << 20]);
    let (port, h) = scripted_server(vec![Some(endless)]);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port.to_string(),
            "f",
            "-o",
            &o_arg,
            "--max-filesize",
            "1M",
        ],
    );
    h.join().unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "leftovers"
    );
    // A server that stalls after the head: --max-time ends it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stall = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nab");
            std::thread::sleep(Duration::from_secs(6));
        }
    });
    let start = Instant::now();
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port.to_string(),
            "f",
            "--max-time",
            "1",
            "--timeout",
            "30",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-time"), "{}", stderr(&o));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    stall.join().unwrap();
    // An endless stream of 100 Continue: the read timeout still ends it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let interim = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let end = Instant::now() + Duration::from_secs(6);
            while Instant::now() < end {
                if s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let start = Instant::now();
    let o = client(rt, &["127.0.0.1", &port.to_string(), "f", "--timeout", "1"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    interim.join().unwrap();
}

fn on_terminal(rt: &str, port: u16, extra: &str) -> (i32, String) {
    require_tool("script");
    let cmd = format!(
        "{} --runtime {rt} client 127.0.0.1 {port} {extra}",
        pared().display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    (code(&o), String::from_utf8_lossy(&o.stdout).into_owned())
}

fn nothing_drives_the_terminal(rt: &str) {
    // Escape sequences after a clean first chunk: refused, never shown.
    let mut reply = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    reply.extend(vec![b'a'; 100_000]);
    reply.extend(b"\x1b]0;pwned\x07\x1b[31mred");
    let (port, h) = scripted_server(vec![Some(reply)]);
    let (status, screen) = on_terminal(rt, port, "x");
    h.join().unwrap();
    assert_eq!(status, 1, "{screen}");
    assert!(
        !screen.contains("\x1b]0;pwned"),
        "escape sequence reached the terminal"
    );
    assert!(screen.contains("binary output not shown"), "{screen}");
    // C0 controls in a head are refused by the parser; C1 controls and
    // bidi overrides (valid obs-text) in the reason phrase, Location and
    // header values are printed escaped.
    let reply = b"HTTP/1.0 302 Gone\xc2\x9b2J\xe2\x80\xae\r\nLocation: /x\xc2\x85y\r\nX-Evil: a\xe2\x80\xaeb\r\nContent-Length: 0\r\n\r\n".to_vec();
    let (port, h) = scripted_server(vec![Some(reply)]);
    let (status, screen) = on_terminal(rt, port, "x -i");
    h.join().unwrap();
    assert_eq!(status, 6, "{screen}");
    for raw in ["\u{9b}", "\u{85}", "\u{202e}"] {
        assert!(!screen.contains(raw), "{raw:?} printed raw: {screen:?}");
    }
    assert!(screen.contains("Gone\\u{9b}2J\\u{202e}"), "{screen:?}");
    assert!(screen.contains("a\\u{202e}b"), "{screen:?}");
}

per_runtime!(
    credentials_stay_with_their_origin,
    signals_remove_temporaries,
    size_and_time_are_bounded,
    nothing_drives_the_terminal,
);
