//! The client end to end, on both runtimes, against small scripted
//! loopback servers that send each response shape real servers send.

mod support;

use std::os::unix::fs::FileTypeExt;
use std::thread::JoinHandle;

use support::*;

/// A server that answers each of `replies.len()` connections with the next
/// scripted reply (`None`: accept, read the head, then stall until closed).
/// Joining it gives the request heads it received.
struct Scripted {
    port: u16,
    handle: JoinHandle<Vec<String>>,
}

fn scripted(replies: Vec<Option<Vec<u8>>>) -> Scripted {
    let (port, handle) = scripted_server(replies);
    Scripted { port, handle }
}

fn one(reply: &[u8]) -> Scripted {
    scripted(vec![Some(reply.to_vec())])
}

fn run(rt: &str, port: u16, extra: &[&str]) -> std::process::Output {
    let port = port.to_string();
    let mut args = vec!["127.0.0.1", port.as_str()];
    args.extend_from_slice(extra);
    client(rt, &args)
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn response_shapes(rt: &str) {
    let shapes: &[(&[u8], &[u8])] = &[
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", b"until the end"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nlf", b"lf"),
        (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nno", b"no"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nchun\r\n3;x=1\r\nked\r\n0\r\n\r\n", b"chunked"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes", b"yes"),
    ];
    for (reply, body) in shapes {
        let srv = one(reply);
        let o = run(rt, srv.port, &["GET", "x"]);
        assert_eq!(
            code(&o),
            0,
            "{}: {}",
            String::from_utf8_lossy(reply),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(&o.stdout, body);
        let heads = srv.handle.join().unwrap();
        let h = &heads[0];
        assert!(h.starts_with("GET /x HTTP/1.0\r\n"), "{h}");
        assert!(
            h.contains(&format!("Host: 127.0.0.1:{}\r\n", srv.port)),
            "{h}"
        );
        assert!(
            h.contains("User-Agent: pared/") && h.contains("Accept: */*"),
            "{h}"
        );
    }
}

fn failures_have_exit_codes(rt: &str) {
    /// (scripted reply or a stall, client arguments, exit code, message part)
    type Case<'a> = (Option<&'a [u8]>, &'a [&'a str], i32, &'a str);
    let cases: &[Case] = &[
        (
            Some(b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            &["GET", "x"],
            3,
            "closed after 5 of 10",
        ),
        (Some(b""), &["GET", "x"], 3, "closed before any response"),
        (Some(b"garbage\r\n\r\n"), &["GET", "x"], 3, "bad response"),
        (
            Some(b"HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"),
            &["GET", "x"],
            4,
            "",
        ),
        (
            Some(b"HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n"),
            &["GET", "x"],
            5,
            "",
        ),
        (
            Some(b"HTTP/1.0 301 Moved\r\nLocation: /y\r\nContent-Length: 0\r\n\r\n"),
            &["GET", "x"],
            6,
            "",
        ),
        (None, &["GET", "x", "--timeout", "1"], 3, "timed out"),
    ];
    for (reply, args, want, msg) in cases {
        let srv = scripted(vec![reply.map(<[u8]>::to_vec)]);
        let o = run(rt, srv.port, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), *want, "{reply:?}: {err}");
        assert!(err.contains(msg), "{err}");
        if *want == 3 {
            assert_eq!(err.lines().count(), 1, "one clear line: {err}");
        }
    }
    // Usage and local errors.
    let o = client(rt, &["127.0.0.1", "1", "FETCH", "x"]);
    assert_eq!(code(&o), 2);
    let o = client(rt, &["127.0.0.1", "1"]);
    assert_eq!(code(&o), 2);
    let o = client(rt, &["127.0.0.1", "1", "PUT", "/definitely/not/here.bin"]);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let o = client(rt, &["127.0.0.1", "1", "GET", "x"]);
    assert_eq!(code(&o), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot connect"));
    let o = client(rt, &["no-such-host.invalid", "80", "GET", "x"]);
    assert_eq!(code(&o), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot resolve"));
    let o = client(rt, &["127.0.0.1", "1", "GET", "x", "-H", "X-Evil: a\rb"]);
    assert_eq!(code(&o), 2);
}

fn truncated_download_leaves_no_file(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    let srv = one(b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
    let o = run(rt, srv.port, &["GET", "x", "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 3);
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temporary left behind"
    );
    let srv = one(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nfull");
    let o = run(rt, srv.port, &["GET", "x", "-o", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert_eq!(std::fs::read(&out).unwrap(), b"full");
    assert!(o.stdout.is_empty());
    // A device is written to, never replaced (as root, a rename would).
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let srv = one(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\npipe");
    let o = run(rt, srv.port, &["GET", "x", "-o", fifo.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(reader.join().unwrap(), b"pipe");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let srv = one(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nnull");
    let o = run(rt, srv.port, &["GET", "x", "-o", "/dev/null"]);
    assert_eq!(code(&o), 0);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

fn redirects(rt: &str) {
    // A chain of two relative redirects, then the answer.
    let srv = scripted(vec![
        Some(b"HTTP/1.0 302 Found\r\nLocation: /b\r\nContent-Length: 3\r\n\r\nxyz".to_vec()),
        Some(b"HTTP/1.1 301 Moved\r\nLocation: c/d\r\nContent-Length: 0\r\n\r\n".to_vec()),
        Some(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nhere".to_vec()),
    ]);
    // A lone PATH is a GET, as in curl and wget.
    let o = run(rt, srv.port, &["a", "-L"]);
    assert_eq!(
        (code(&o), o.stdout.as_slice()),
        (0, &b"here"[..]),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let heads = srv.handle.join().unwrap();
    assert!(
        heads[1].starts_with("GET /b HTTP/1.0") && heads[2].starts_with("GET /c/d HTTP/1.0"),
        "{heads:?}"
    );
    // A loop is detected.
    let srv = scripted(vec![
        Some(b"HTTP/1.0 302 Found\r\nLocation: /b\r\n\r\n".to_vec()),
        Some(b"HTTP/1.0 302 Found\r\nLocation: /a\r\n\r\n".to_vec()),
    ]);
    let o = run(rt, srv.port, &["GET", "a", "-L"]);
    assert_eq!(code(&o), 6);
    assert!(String::from_utf8_lossy(&o.stderr).contains("redirect loop"));
    // A scheme pared does not speak is explained (https is followed: see tls.rs).
    let srv =
        one(b"HTTP/1.0 301 Moved\r\nLocation: ftp://example.com/\r\nContent-Length: 0\r\n\r\n");
    let o = run(rt, srv.port, &["GET", "a", "-L"]);
    assert_eq!(code(&o), 6);
    assert!(String::from_utf8_lossy(&o.stderr).contains("only http and https"));
}

fn heads_are_shown(rt: &str) {
    let srv = one(b"HTTP/1.0 200 OK\r\nX-Test: yes\r\nContent-Length: 2\r\n\r\nok");
    let o = run(rt, srv.port, &["GET", "x", "-i"]);
    assert_eq!(o.stdout, b"ok");
    assert!(String::from_utf8_lossy(&o.stderr).contains("X-Test: yes"));
    let srv = one(b"HTTP/1.0 200 OK\r\nX-Test: yes\r\nContent-Length: 2\r\n\r\n");
    let o = run(rt, srv.port, &["HEAD", "x", "-v"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("> HEAD /x HTTP/1.0") && err.contains("< X-Test: yes"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("HTTP/1.0 200 OK"));
}

fn put_get_roundtrip_against_pared(rt: &str) {
    let root = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let data = random_bytes(20 << 20, 7);
    let src = local.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    // PUT makes no parent folders (RFC 4918 §9.7.1).
    std::fs::create_dir(root.path().join("dir")).unwrap();
    for server_rt in RUNTIMES {
        let s = Server::start(server_rt, root.path(), &[]);
        let port = s.port.to_string();
        let o = client(
            rt,
            &[
                "127.0.0.1",
                &port,
                "PUT",
                "dir/r t.bin",
                "--upload-from",
                src.to_str().unwrap(),
            ],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            std::fs::read(root.path().join("dir/r t.bin")).unwrap(),
            data
        );
        let dst = local.path().join(format!("back-{server_rt}.bin"));
        let o = client(
            rt,
            &[
                "::1",
                &port,
                "GET",
                "/dir/r t.bin",
                "-o",
                dst.to_str().unwrap(),
            ],
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(&dst).unwrap() == data, "download differs");
        let o = client(rt, &["localhost", &port, "delete", "dir/r t.bin"]);
        assert_eq!(code(&o), 0);
        let o = client(rt, &["127.0.0.1", &port, "GET", "dir/r t.bin"]);
        assert_eq!(code(&o), 4);
    }
}

/// Runs the client under `script`, so its stdout and stderr are a terminal.
fn on_terminal(rt: &str, port: u16, extra: &str) -> (i32, String) {
    require_tool("script");
    let cmd = format!(
        "{} --runtime {rt} client 127.0.0.1 {port} {extra}",
        pared().display()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script");
    (code(&o), String::from_utf8_lossy(&o.stdout).into_owned())
}

fn terminal_gets_no_binary_and_a_progress_line(rt: &str) {
    let srv = one(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nab\0c");
    let (status, screen) = on_terminal(rt, srv.port, "GET x");
    assert_eq!(status, 1, "{screen}");
    assert!(screen.contains("binary output not shown"), "{screen}");
    assert!(!screen.contains("ab"), "{screen}");
    // Over 1 MiB to a terminal: a progress line with the total.
    let mut reply = b"HTTP/1.0 200 OK\r\nContent-Length: 3145728\r\n\r\n".to_vec();
    reply.extend(vec![b'x'; 3 << 20]);
    let srv = one(&reply);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.txt");
    let (status, screen) = on_terminal(rt, srv.port, &format!("GET x -o {}", out.display()));
    assert_eq!(status, 0, "{screen}");
    assert!(
        screen.contains("100.0%") && screen.contains("3.0 MiB"),
        "{screen}"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 3 << 20);
    // Not a terminal: no progress line at all.
    let srv = one(&reply);
    let o = run(rt, srv.port, &["GET", "x", "-o", out.to_str().unwrap()]);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

per_runtime!(
    terminal_gets_no_binary_and_a_progress_line,
    response_shapes,
    failures_have_exit_codes,
    truncated_download_leaves_no_file,
    redirects,
    heads_are_shown,
    put_get_roundtrip_against_pared,
);
