//! What the house added, end to end on both runtimes: OPTIONS answered
//! from the method table, chunked PUT bodies (whole-or-absent, bounded by
//! `--max-upload` as they arrive, trailers ignored, a bad chunk leaving
//! nothing), and an ETag without the device number.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// Upload temporaries left behind in `dir`.
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read root")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pared-upload"))
        .collect()
}

fn options_from_the_table(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    for target in ["*", "/hello.txt", "/"] {
        let r = raw(
            &s,
            format!("OPTIONS {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "OPTIONS {target}");
        assert_eq!(
            r.header("allow").as_deref(),
            Some("GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, POST, PATCH"),
            "OPTIONS {target}"
        );
        assert_eq!(r.header("content-length").as_deref(), Some("0"));
        assert!(r.body.is_empty());
    }
    // Refused paths stay refused.
    let r = raw(&s, b"OPTIONS /../etc HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 403);
    let ro = Server::start(rt, root.path(), &["--read-only"]);
    let r = raw(&ro, b"OPTIONS * HTTP/1.0\r\n\r\n");
    assert_eq!(
        (r.status, r.header("allow").as_deref()),
        (200, Some("GET, HEAD, OPTIONS, PROPFIND"))
    );
    // curl agrees on what it got.
    require_tool("curl");
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "OPTIONS",
        ])
        .arg(s.url("/"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}

fn chunked_put_is_stored_whole(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--max-upload", "64K"]);
    // Several chunks, an extension, and a trailer that is read and ignored.
    let r = raw(
        &s,
        b"PUT /chunked.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_eq!(r.status, 201, "{}", r.head);
    assert_eq!(
        std::fs::read(root.path().join("chunked.txt")).expect("stored"),
        b"hello world"
    );
    // curl -T - sends stdin chunked: a 40 KiB body arrives whole.
    require_tool("curl");
    let body = random_bytes(40 * 1024, 7);
    let mut curl = Command::new("curl")
        .args([
            "-s",
            "-f",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-T",
            "-",
        ])
        .arg(s.url("/from-stdin.bin"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    curl.stdin
        .take()
        .expect("stdin")
        .write_all(&body)
        .expect("feed curl");
    let out = curl.wait_with_output().expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    assert_eq!(
        std::fs::read(root.path().join("from-stdin.bin")).expect("stored"),
        body
    );
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

fn chunked_put_is_whole_or_absent(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--max-upload", "1K"]);
    // Over the limit as it arrives: 413, nothing stored.
    let mut big =
        b"PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        big.extend_from_slice(b"200\r\n");
        big.extend_from_slice(&[b'x'; 512]);
        big.extend_from_slice(b"\r\n");
    }
    big.extend_from_slice(b"0\r\n\r\n");
    let r = raw(&s, &big);
    assert_eq!(r.status, 413, "{}", r.head);
    assert!(!root.path().join("big.bin").exists());
    // A malformed chunk size: 400, nothing stored, the old file kept.
    let r = raw(
        &s,
        b"PUT /hello.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.head);
    assert_eq!(
        std::fs::read(root.path().join("hello.txt")).expect("old file"),
        b"hello\n"
    );
    // Cut off mid-body: nothing stored.
    {
        let mut c = s.connect();
        c.write_all(
            b"PUT /cut.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        )
        .expect("send");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!root.path().join("cut.bin").exists());
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
    // The server still serves.
    assert_eq!(get(&s, "/hello.txt").status, 200);
}

/// The ETag names the file version without the device number: inode,
/// size and modification time, so two mounts of one shared file system
/// agree on it.
fn etag_has_no_device(rt: &str) {
    use std::os::unix::fs::MetadataExt;
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let r = get(&s, "/hello.txt");
    let etag = r.header("etag").expect("etag");
    let m = std::fs::metadata(root.path().join("hello.txt")).expect("meta");
    let mtime_ns = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
    let want = format!("\"{:x}-{:x}-{:x}\"", m.ino(), m.len(), mtime_ns);
    assert_eq!(etag, want);
    let put = put(&s, "/hello.txt", b"new");
    let m = std::fs::metadata(root.path().join("hello.txt")).expect("meta");
    let mtime_ns = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
    assert_eq!(
        put.header("etag"),
        Some(format!("\"{:x}-{:x}-{:x}\"", m.ino(), m.len(), mtime_ns))
    );
}

per_runtime!(
    options_from_the_table,
    chunked_put_is_stored_whole,
    chunked_put_is_whole_or_absent,
    etag_has_no_device,
);
