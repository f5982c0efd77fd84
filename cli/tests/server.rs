//! The server end to end, on both runtimes: the real binary on a loopback
//! port, raw HTTP from the test.

mod support;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use support::*;

fn statuses_and_headers(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--max-upload", "1K"]);
    let r = get(&s, "/hello.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello\n");
    assert!(r.head.starts_with("HTTP/1.0 200 OK\r\n"), "{}", r.head);
    for h in ["date", "server", "last-modified"] {
        assert!(r.header(h).is_some(), "missing {h}: {}", r.head);
    }
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(r.header("content-length").as_deref(), Some("6"));
    assert_eq!(r.header("connection").as_deref(), Some("close"));

    let h = raw(&s, b"HEAD /hello.txt HTTP/1.0\r\n\r\n");
    assert_eq!(
        (h.status, h.header("content-length").as_deref()),
        (200, Some("6"))
    );
    // 304 for a date at or after the mtime; a future or broken date is ignored.
    let lm = r.header("last-modified").unwrap();
    let c = raw(
        &s,
        format!("GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: {lm}\r\n\r\n").as_bytes(),
    );
    assert_eq!((c.status, c.body.len()), (304, 0));
    let c = raw(
        &s,
        b"GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n",
    );
    assert_eq!(c.status, 200);
    let c = raw(
        &s,
        b"GET /hello.txt HTTP/1.0\r\nIf-Modified-Since: yesterday\r\n\r\n",
    );
    assert_eq!(c.status, 200);

    let d = get(&s, "/sub");
    assert_eq!(
        (d.status, d.header("location").as_deref()),
        (301, Some("/sub/"))
    );
    assert_eq!(get(&s, "/sub/").body, b"<p>index</p>\n");
    let l = get(&s, "/list/");
    let html = String::from_utf8_lossy(&l.body);
    assert_eq!(l.status, 200);
    assert!(
        html.contains("&lt;a&gt;&amp;.txt") && html.contains("b.txt"),
        "{html}"
    );
    assert!(!html.contains(".hidden") && !html.contains("<a>"), "{html}");

    let cases: &[(&[u8], u16)] = &[
        (b"GET /missing HTTP/1.0\r\n\r\n", 404),
        (b"GET /.secret HTTP/1.0\r\n\r\n", 403),
        (b"POST /hello.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.0\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"PUT /x HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"PUT /x HTTP/1.0\r\n\r\n", 400),
        (b"PUT /x HTTP/1.0\r\nContent-Length: 2048\r\n\r\n", 413),
        (b"PUT /x HTTP/1.0\r\nContent-Length: 1\r\nContent-Range: bytes 0-0/2\r\n\r\n", 400),
        (b"PUT /x HTTP/1.0\r\nContent-Length: +1\r\n\r\n", 400),
    ];
    for (req, want) in cases {
        let r = raw(&s, req);
        assert_eq!(r.status, *want, "{}", String::from_utf8_lossy(req));
        assert!(r.head.starts_with("HTTP/1.0 "), "{}", r.head);
    }
    let r = raw(&s, b"DELETE /x HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = raw(&s, b"POST / HTTP/1.0\r\n\r\n");
    assert_eq!(
        r.header("allow").as_deref(),
        Some(
            "GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, POST, PATCH"
        )
    );

    let long = format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(9000));
    assert_eq!(raw(&s, long.as_bytes()).status, 414);
    let big = format!(
        "GET / HTTP/1.0\r\n{}\r\n",
        "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
            .repeat(300)
    );
    assert_eq!(raw(&s, big.as_bytes()).status, 431);
}

fn put_and_delete(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    // No parent folder: 409 (RFC 4918 §9.7.1); folders are made with MKCOL.
    assert_eq!(put(&s, "/new/deep/file.bin", b"first").status, 409);
    assert!(!root.path().join("new").exists());
    for dir in ["/new/", "/new/deep/"] {
        let r = raw(&s, format!("MKCOL {dir} HTTP/1.0\r\n\r\n").as_bytes());
        assert_eq!(r.status, 201, "MKCOL {dir}");
    }
    let r = put(&s, "/new/deep/file.bin", b"first");
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (201, Some("/new/deep/file.bin"))
    );
    assert_eq!(
        std::fs::read(root.path().join("new/deep/file.bin")).unwrap(),
        b"first"
    );
    let r = put(&s, "/new/deep/file.bin", b"second!");
    assert_eq!(r.status, 200);
    assert_eq!(get(&s, "/new/deep/file.bin").body, b"second!");
    assert_eq!(put(&s, "/new/", b"x").status, 409);
    assert_eq!(
        put(&s, "/new/deep", b"x").status,
        409,
        "a directory is not replaced"
    );
    assert_eq!(
        put(&s, "/hello.txt/inside", b"x").status,
        409,
        "a file is not a directory"
    );
    assert_eq!(put(&s, "/.pared-upload-x", b"x").status, 403);
    assert_eq!(
        raw(&s, b"DELETE /new/deep/file.bin HTTP/1.0\r\n\r\n").status,
        200
    );
    assert!(!root.path().join("new/deep/file.bin").exists());
    assert_eq!(
        raw(&s, b"DELETE /new/deep/file.bin HTTP/1.0\r\n\r\n").status,
        404
    );
    let ro = Server::start(rt, root.path(), &["--read-only"]);
    let r = put(&ro, "/ro.txt", b"x");
    assert_eq!(
        (r.status, r.header("allow").as_deref()),
        (405, Some("GET, HEAD, OPTIONS, PROPFIND"))
    );
    assert_eq!(raw(&ro, b"DELETE /hello.txt HTTP/1.0\r\n\r\n").status, 405);
    assert!(root.path().join("hello.txt").exists());
}

fn traversal_is_refused(rt: &str) {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"TOP-SECRET-MARKER").unwrap();
    let root = fixture();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        root.path().join("out-link"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("out-dir")).unwrap();
    std::os::unix::fs::symlink("hello.txt", root.path().join("in-link")).unwrap();
    let rel = format!(
        "../{}/secret.txt",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    let s = Server::start(rt, root.path(), &[]);
    let targets = [
        format!("/{rel}"),
        format!("/%2e%2e/{}", &rel[3..]),
        format!("/%252e%252e/{}", &rel[3..]),
        format!("/..%2f{}", &rel[3..]),
        format!("/..%5c{}", &rel[3..]),
        format!("/sub/..\\..\\{}", &rel[3..]),
        format!("http://127.0.0.1/{rel}"),
        "/out-link".to_owned(),
        "/out-dir/secret.txt".to_owned(),
        "/out-dir/".to_owned(),
        "/%00/etc/passwd".to_owned(),
        "/C:/Windows/win.ini".to_owned(),
        "//etc/passwd".to_owned(),
    ];
    for t in &targets {
        let r = raw(&s, format!("GET {t} HTTP/1.0\r\n\r\n").as_bytes());
        assert!(matches!(r.status, 400 | 403 | 404), "{t}: {}", r.status);
        assert!(
            !String::from_utf8_lossy(&r.body).contains("TOP-SECRET"),
            "{t} leaked"
        );
    }
    // Writing through a link that leaves the root is refused too.
    assert_eq!(put(&s, "/out-dir/planted.txt", b"x").status, 403);
    assert!(!outside.path().join("planted.txt").exists());
    // A symlink that stays inside the root works.
    assert_eq!(get(&s, "/in-link").body, b"hello\n");
    // The redirect for a directory never becomes protocol-relative.
    std::fs::create_dir(root.path().join("evil.example")).unwrap();
    let r = get(&s, "//evil.example");
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (301, Some("/evil.example/"))
    );
}

fn interrupted_put_keeps_old_file(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let mut c = s.connect();
    c.write_all(b"PUT /hello.txt HTTP/1.0\r\nContent-Length: 1000000\r\n\r\n")
        .unwrap();
    c.write_all(&[b'x'; 50_000]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(c);
    // Wait (bounded) for the server to notice and clean up.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let leftovers: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".pared-upload"))
            .collect();
        if leftovers.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "temporary file left behind: {leftovers:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read(root.path().join("hello.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(get(&s, "/hello.txt").body, b"hello\n");
}

fn concurrent_puts_leave_one_whole_body(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let bodies: Vec<Vec<u8>> = (0..8u8)
        .map(|i| vec![b'a' + i; 300_000 + usize::from(i) * 1000])
        .collect();
    std::thread::scope(|scope| {
        for b in &bodies {
            let s = &s;
            scope.spawn(move || {
                let r = put(s, "/race.bin", b);
                assert!(matches!(r.status, 200 | 201), "{}", r.status);
            });
        }
    });
    let stored = std::fs::read(root.path().join("race.bin")).unwrap();
    assert!(
        bodies.contains(&stored),
        "stored body is not one of the uploads"
    );
    let temps = std::fs::read_dir(root.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.') && e.file_name() != ".secret")
        .count();
    assert_eq!(temps, 0);
}

fn many_parallel_gets(rt: &str) {
    let root = fixture();
    // 500 at once from one address: above the default per-client limit
    // (64), which would answer some of them 503 by design.
    let s = Server::start(rt, root.path(), &["--max-per-client", "0"]);
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..500 {
            scope.spawn(|| {
                let r = get(&s, "/hello.txt");
                if r.status == 200 && r.body == b"hello\n" {
                    ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ok.into_inner(), 500);
}

fn slowloris_is_cut_off_and_blocks_nobody(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--header-timeout", "1"]);
    let mut slow = s.connect();
    let began = Instant::now();
    slow.write_all(b"GET /hello.txt HTTP/1.0\r\n").unwrap();
    // Others are served while the slow client dribbles.
    for _ in 0..3 {
        slow.write_all(b"X").unwrap();
        assert_eq!(get(&s, "/hello.txt").status, 200);
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = read_response(&mut slow, false);
    assert_eq!(r.status, 408);
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "cut off too early: {waited:?}"
    );
    let mut rest = Vec::new();
    assert_eq!(
        slow.read_to_end(&mut rest).unwrap_or(0),
        0,
        "connection must be closed"
    );
}

fn keep_alive_serves_several_requests(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let mut c = s.connect();
    for i in 0..5 {
        c.write_all(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let r = read_response(&mut c, false);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"hello\n"[..]),
            "request {i}"
        );
        assert_eq!(r.header("connection").as_deref(), Some("keep-alive"));
    }
    // HTTP/1.1 keeps alive by default; a pipelined pair is answered in order.
    c.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\nHEAD /sub/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut c, false).status, 200);
    let last = read_response(&mut c, true);
    assert_eq!(
        (last.status, last.header("connection").as_deref()),
        (200, Some("close"))
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

fn expect_continue_does_not_stall(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let mut c = s.connect();
    c.write_all(
        b"PUT /e.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"abc").unwrap();
    assert_eq!(read_response(&mut c, false).status, 201);
}

fn connection_limit_pauses_accepting(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--max-connections", "2"]);
    // Two connections in the middle of a request (its body still coming):
    // serving, so neither gives way (a connection still in its head
    // would: see slow_heads.rs).
    let mut a = s.connect();
    let mut b = s.connect();
    a.write_all(b"PUT /a.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nab")
        .unwrap();
    b.write_all(b"PUT /b.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nab")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    c.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    let mut byte = [0u8; 1];
    assert!(
        c.read(&mut byte).is_err(),
        "third connection served above the limit"
    );
    // a finishes its request and closes: c gets the slot.
    a.write_all(b"cde").unwrap();
    assert_eq!(read_response(&mut a, false).status, 201);
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_response(&mut c, false).status, 200);
    b.write_all(b"cde").unwrap();
    assert_eq!(read_response(&mut b, false).status, 201);
}

fn graceful_shutdown(rt: &str) {
    let root = fixture();
    let mut s = Server::start(rt, root.path(), &["--grace", "5"]);
    // An upload in flight when SIGTERM arrives completes.
    let mut c = s.connect();
    c.write_all(b"PUT /late.txt HTTP/1.0\r\nContent-Length: 10\r\n\r\nhalf_")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = s.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(b"done!").unwrap();
    assert_eq!(read_response(&mut c, false).status, 201);
    let st = support::wait_exit(&mut s.child, Duration::from_secs(10)).expect("server exits");
    assert!(st.success(), "{st:?}");
    assert_eq!(
        std::fs::read(root.path().join("late.txt")).unwrap(),
        b"half_done!"
    );
    // New connections are refused once it is gone.
    assert!(std::net::TcpStream::connect(s.addr()).is_err());

    // An upload that never finishes is cut off after the grace and removed.
    let mut s = Server::start(rt, root.path(), &["--grace", "1"]);
    let mut c = s.connect();
    c.write_all(b"PUT /never.txt HTTP/1.0\r\nContent-Length: 10\r\n\r\nhal")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let st = s.terminate(Duration::from_secs(10)).expect("server exits");
    assert!(st.success(), "{st:?}");
    let _ = c.shutdown(Shutdown::Both);
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pared") || n == "never.txt")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn access_log_lines(rt: &str) {
    let root = fixture();
    let mut s = Server::start_with(rt, root.path(), &["--max-upload", "1K"], false);
    get(&s, "/hello.txt");
    assert_eq!(
        raw(&s, b"PUT /big HTTP/1.0\r\nContent-Length: 2048\r\n\r\n").status,
        413
    );
    raw(&s, b"GET /a\"b HTTP/1.0\r\n\r\n");
    raw(&s, b"GET /a\x1b[31m HTTP/1.0\r\n\r\n");
    // An upload whose client vanishes is logged too, with no status.
    let mut c = s.connect();
    c.write_all(b"PUT /cut.txt HTTP/1.0\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let st = s.terminate(Duration::from_secs(10)).expect("exit");
    assert!(st.success());
    let log = s.stderr_text();
    let line = log
        .lines()
        .find(|l| l.contains("/hello.txt"))
        .expect("log line");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.contains("] \"GET /hello.txt HTTP/1.0\" 200 6 "),
        "{line}"
    );
    assert!(
        log.contains("\"GET /a\\\"b HTTP/1.0\" 404 "),
        "quotes must be escaped: {log}"
    );
    assert!(
        log.contains("\"-\" 400 "),
        "a refused request is logged: {log}"
    );
    assert!(
        log.contains("\"PUT /big HTTP/1.0\" 413 "),
        "an upload over the limit is logged with its request: {log}"
    );
    assert!(
        log.contains("\"PUT /cut.txt HTTP/1.0\" - 0 "),
        "a cut upload is logged: {log}"
    );
    assert!(
        !log.contains('\x1b'),
        "control characters must never reach the log: {log:?}"
    );
}

/// `--log-format json`: one JSON object per request on stderr, read back
/// by Python's json module; client text cannot break a line.
fn json_access_log(rt: &str) {
    let root = fixture();
    let mut s = Server::start_with(rt, root.path(), &["--log-format", "json"], false);
    assert_eq!(get(&s, "/hello.txt").status, 200);
    assert_eq!(raw(&s, b"GET /nope%0A\"x\" HTTP/1.0\r\n\r\n").status, 403);
    let _ = s.terminate(Duration::from_secs(10));
    let err = s.stderr_text();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 2, "{err}");
    let mut p = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys\nfor l in sys.stdin: d=json.loads(l); print(d['method'], d['target'], d['status'], d['bytes'] >= 0, d['remote'], d['time'].endswith('Z'))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let o = p.wait_with_output().unwrap();
    // Each connection logs when it is done: in either order.
    let text = String::from_utf8_lossy(&o.stdout);
    let mut seen: Vec<&str> = text.lines().collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "GET /hello.txt 200 True 127.0.0.1 True",
            "GET /nope%0A\"x\" 403 True 127.0.0.1 True"
        ]
    );
}

per_runtime!(
    json_access_log,
    statuses_and_headers,
    put_and_delete,
    traversal_is_refused,
    interrupted_put_keeps_old_file,
    concurrent_puts_leave_one_whole_body,
    many_parallel_gets,
    slowloris_is_cut_off_and_blocks_nobody,
    keep_alive_serves_several_requests,
    expect_continue_does_not_stall,
    connection_limit_pauses_accepting,
    graceful_shutdown,
    access_log_lines,
);
