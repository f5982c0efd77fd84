//! No stale answers from kept descriptors: small files served once are
//! kept open (see pared-host `fs::hot`), and every change another
//! process makes between two requests must show in the next answer, on
//! the same kept-alive connection: a replacement by rename, an in-place
//! write of the same size, an append, a truncation, a rename away and
//! back, a delete, a symlink swapped in (inside the root, and out of it
//! through a hard link made to the kept file), a parent folder replaced;
//! and a HEAD, a range and conditional GETs after a change.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use support::*;

/// One GET on the kept-alive connection.
fn get_on(s: &mut TcpStream, path: &str) -> Response {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .expect("send");
    read_response(s, false)
}

/// Runs `script` with `sh` in `dir`: another process changes the files.
fn elsewhere(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .expect("sh");
    assert!(st.success(), "{script}");
}

/// Asks for `path` twice (the second answer comes from the kept
/// descriptor when nothing changed) and checks both.
fn expect(s: &mut TcpStream, path: &str, status: u16, body: &[u8]) {
    for round in 0..2 {
        let r = get_on(s, path);
        assert_eq!(r.status, status, "{path}, request {round}: {}", r.head);
        if status == 200 {
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                String::from_utf8_lossy(body),
                "{path}, request {round}"
            );
        }
    }
}

fn every_change_shows_at_once(rt: &str) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("root");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("a.txt"), b"one").unwrap();
    std::fs::write(root.join("d/b.txt"), b"bee").unwrap();
    std::fs::write(root.join("inside.txt"), b"inside").unwrap();
    let server = Server::start(rt, &root, &[]);
    let mut s = server.connect();

    expect(&mut s, "/a.txt", 200, b"one");
    let etag = get_on(&mut s, "/a.txt").header("etag");

    elsewhere(&root, "printf two > a.new && mv a.new a.txt");
    expect(&mut s, "/a.txt", 200, b"two");
    assert_ne!(get_on(&mut s, "/a.txt").header("etag"), etag);

    // Same size, same inode, perhaps the same timestamp tick: the bytes
    // still come from the file as it is now.
    elsewhere(&root, "printf TWO | dd of=a.txt conv=notrunc status=none");
    expect(&mut s, "/a.txt", 200, b"TWO");

    elsewhere(&root, "printf ' and more' >> a.txt");
    expect(&mut s, "/a.txt", 200, b"TWO and more");
    // A HEAD, a range and a conditional GET see the file as it is now.
    s.write_all(b"HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_response(&mut s, true);
    assert_eq!(head.header("content-length").as_deref(), Some("12"));
    let now_etag = head.header("etag").expect("etag");
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=4-6\r\n\r\n")
        .unwrap();
    let part = read_response(&mut s, false);
    assert_eq!((part.status, &part.body[..]), (206, &b"and"[..]));
    let old_etag = etag.clone().expect("first etag");
    s.write_all(
        format!("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {old_etag}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).status, 200, "an old ETag");
    s.write_all(
        format!("GET /a.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {now_etag}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).status, 304, "the current ETag");

    elsewhere(&root, "truncate -s 2 a.txt");
    expect(&mut s, "/a.txt", 200, b"TW");

    elsewhere(&root, "mv a.txt gone.txt");
    expect(&mut s, "/a.txt", 404, b"");
    expect(&mut s, "/gone.txt", 200, b"TW");
    elsewhere(&root, "mv gone.txt a.txt");
    expect(&mut s, "/a.txt", 200, b"TW");

    elsewhere(&root, "rm a.txt");
    expect(&mut s, "/a.txt", 404, b"");

    elsewhere(&root, "ln -s inside.txt a.txt");
    expect(&mut s, "/a.txt", 200, b"inside");
    elsewhere(&root, "rm a.txt && printf back > a.txt");
    expect(&mut s, "/a.txt", 200, b"back");

    // The kept inode, reached from outside the root: a hard link made to
    // it outside, then a symlink to that link in its place. The confined
    // open refuses the symlink; so must the kept descriptor.
    elsewhere(
        &root,
        "ln a.txt ../outside.txt && ln -sf ../outside.txt a.tmp && mv -T a.tmp a.txt",
    );
    let r = get_on(&mut s, "/a.txt");
    assert_eq!(r.status, 403, "a symlink out of the root: {}", r.head);
    expect(&mut s, "/a.txt", 403, b"");

    expect(&mut s, "/d/b.txt", 200, b"bee");
    elsewhere(
        &root,
        "mv d d.old && mkdir d && printf new-bee > d/b.txt && rm -r d.old",
    );
    expect(&mut s, "/d/b.txt", 200, b"new-bee");
    elsewhere(&root, "rm -r d");
    expect(&mut s, "/d/b.txt", 404, b"");

    // Many rounds of either kind of change, each checked by a fresh
    // connection as well as the kept one.
    for i in 0..40u32 {
        let body = format!("round {i} {}", "x".repeat((i as usize * 7) % 50));
        let script = if i % 2 == 0 {
            format!("printf '{body}' > c.new && mv c.new c.txt")
        } else {
            format!("printf '{body}' > c.txt")
        };
        elsewhere(&root, &script);
        expect(&mut s, "/c.txt", 200, body.as_bytes());
        assert_eq!(get(&server, "/c.txt").body, body.as_bytes(), "round {i}");
    }
}

per_runtime!(every_change_shows_at_once);
