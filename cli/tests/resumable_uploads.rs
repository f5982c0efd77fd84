//! Resumable uploads, end to end on both runtimes: the IETF draft's flows
//! (creation, 104, offset, append, wrong offset, completion, cancel,
//! digests and preconditions checked at the commit), an upload cut on one
//! runtime's process and finished on the other's, one whose server was
//! SIGKILLed and restarted, and tus 1.0 through tuspy (PyPI).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// Sends one request (head and body) on a fresh connection; the response.
fn ask(s: &Server, head: &str, body: &[u8]) -> Response {
    let mut c = s.connect();
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    read_response(&mut c, head.starts_with("HEAD "))
}

/// The upload URL's path and query from a Location value.
fn location(r: &Response) -> String {
    let l = r.header("location").expect("a Location");
    assert!(l.contains("?upload="), "{l}");
    l
}

fn head_upload(s: &Server, loc: &str) -> Response {
    ask(
        s,
        &format!("HEAD {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

fn patch(s: &Server, loc: &str, offset: u64, complete: bool, body: &[u8]) -> Response {
    ask(
        s,
        &format!(
            "PATCH {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/partial-upload\r\nUpload-Offset: {offset}\r\n\
             Upload-Complete: {}\r\nContent-Length: {}\r\n\r\n",
            if complete { "?1" } else { "?0" },
            body.len()
        ),
        body,
    )
}

/// The names in a folder, hidden ones too.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The draft's flows, one after another.
fn draft_flows(rt: &str) {
    let root = fixture();
    std::fs::create_dir(root.path().join("up")).unwrap();
    let s = Server::start(rt, root.path(), &["--max-upload", "1M"]);
    let data = random_bytes(300_000, 7);
    // Discovery.
    let o = ask(
        &s,
        "OPTIONS /up/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"",
    );
    assert!(o
        .header("accept-patch")
        .unwrap()
        .contains("application/partial-upload"));
    assert!(o
        .header("upload-limit")
        .unwrap()
        .contains("max-size=1048576"));
    // Creation with the first part, into a folder, named by Content-Disposition.
    let r = ask(
        &s,
        "POST /up/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?0\r\n\
         Content-Disposition: inline; filename=\"data.bin\"\r\nContent-Length: 100000\r\n\r\n",
        &data[..100_000],
    );
    assert_eq!(r.status, 201, "{}", r.head);
    assert_eq!(r.header("upload-offset").as_deref(), Some("100000"));
    assert_eq!(r.header("upload-complete").as_deref(), Some("?0"));
    let loc = location(&r);
    assert!(loc.starts_with("/up/data.bin?upload="), "{loc}");
    // Never half-visible: the target does not exist, the page does not
    // show the temporary.
    assert!(!root.path().join("up/data.bin").exists());
    assert!(!get(&s, "/up/").body.windows(8).any(|w| w == b"resumabl"));
    // Offset retrieval.
    let h = head_upload(&s, &loc);
    assert_eq!(h.status, 204);
    assert_eq!(h.header("upload-offset").as_deref(), Some("100000"));
    assert_eq!(h.header("upload-complete").as_deref(), Some("?0"));
    assert_eq!(h.header("cache-control").as_deref(), Some("no-store"));
    assert!(h.header("upload-limit").unwrap().contains("max-age="));
    // A wrong offset: 409 with the right one; nothing appended.
    let w = patch(&s, &loc, 5, false, b"xyz");
    assert_eq!(w.status, 409);
    assert_eq!(w.header("upload-offset").as_deref(), Some("100000"));
    // The wrong media type: 415.
    let t = ask(
        &s,
        &format!(
            "PATCH {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Offset: 100000\r\n\
             Upload-Complete: ?0\r\nContent-Length: 1\r\n\r\n"
        ),
        b"x",
    );
    assert_eq!(t.status, 415);
    // An intermediate part, then the last.
    let p = patch(&s, &loc, 100_000, false, &data[100_000..200_000]);
    assert_eq!(p.status, 204);
    assert_eq!(p.header("upload-offset").as_deref(), Some("200000"));
    assert!(!root.path().join("up/data.bin").exists());
    let last = patch(&s, &loc, 200_000, true, &data[200_000..]);
    assert_eq!(last.status, 201, "{}", last.head);
    assert_eq!(last.header("upload-complete").as_deref(), Some("?1"));
    assert!(last.header("repr-digest").is_some());
    assert_eq!(
        std::fs::read(root.path().join("up/data.bin")).unwrap(),
        data
    );
    assert_eq!(names(&root.path().join("up")), vec!["data.bin".to_owned()]);
    assert_eq!(head_upload(&s, &loc).status, 404, "gone once stored");
    // Cancel.
    let r = ask(
        &s,
        "PUT /up/cancel.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?0\r\n\
         Content-Length: 3\r\n\r\n",
        b"abc",
    );
    let loc = location(&r);
    let d = ask(
        &s,
        &format!("DELETE {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        b"",
    );
    assert_eq!(d.status, 204);
    assert_eq!(head_upload(&s, &loc).status, 404);
    assert_eq!(names(&root.path().join("up")), vec!["data.bin".to_owned()]);
    // A length over --max-upload: 413 with the limit, nothing made.
    let big = ask(
        &s,
        "PUT /up/big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?0\r\n\
         Upload-Length: 2000000\r\nContent-Length: 0\r\n\r\n",
        b"",
    );
    assert_eq!(big.status, 413);
    assert!(big
        .header("upload-limit")
        .unwrap()
        .contains("max-size=1048576"));
    assert_eq!(names(&root.path().join("up")), vec!["data.bin".to_owned()]);
}

/// Creation with `Upload-Complete: ?1` and our interop version gets
/// `104 Upload Resumption Supported` before the body is read.
fn interim_response_names_the_upload(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let mut c = s.connect();
    c.write_all(
        b"PUT /whole.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?1\r\n\
          Upload-Draft-Interop-Version: 8\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    let mut reader = BufReader::new(c.try_clone().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "HTTP/1.1 104 Upload Resumption Supported\r\n");
    let mut interim = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        interim.push_str(&line);
    }
    assert!(
        interim.contains("Location: /whole.txt?upload="),
        "{interim}"
    );
    assert!(
        interim.contains("Upload-Draft-Interop-Version: 8"),
        "{interim}"
    );
    c.write_all(b"hello").unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert!(
        rest.starts_with("HTTP/1.0 201") || rest.starts_with("HTTP/1.1 201"),
        "{rest}"
    );
    assert!(rest.contains("Upload-Complete: ?1"), "{rest}");
    assert_eq!(
        std::fs::read(root.path().join("whole.txt")).unwrap(),
        b"hello"
    );
    // Another interop version: no 104, a plain upload.
    let r = ask(
        &s,
        "PUT /other.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?1\r\n\
         Upload-Draft-Interop-Version: 3\r\nContent-Length: 2\r\n\r\n",
        b"hi",
    );
    assert_eq!(r.status, 201);
}

/// `Repr-Digest` over the whole and the creating request's preconditions
/// are checked when the last part arrives.
fn digest_and_preconditions_hold_at_the_commit(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    // A digest that does not match what arrives: 400, nothing stored.
    let r = ask(
        &s,
        "PUT /d.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?0\r\n\
         Repr-Digest: sha-256=:LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=:\r\nContent-Length: 3\r\n\r\n",
        b"abc",
    );
    let loc = location(&r);
    let last = patch(&s, &loc, 3, true, b"def");
    assert_eq!(last.status, 400, "{}", last.head);
    assert!(!root.path().join("d.txt").exists());
    // If-None-Match: * at creation; the name is taken meanwhile: 412, the
    // other file stays.
    let r = ask(
        &s,
        "PUT /race.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nUpload-Complete: ?0\r\n\
         If-None-Match: *\r\nContent-Length: 3\r\n\r\n",
        b"abc",
    );
    let loc = location(&r);
    assert_eq!(put(&s, "/race.txt", b"theirs").status, 201);
    let last = patch(&s, &loc, 3, true, b"def");
    assert_eq!(last.status, 412, "{}", last.head);
    assert_eq!(
        std::fs::read(root.path().join("race.txt")).unwrap(),
        b"theirs"
    );
}

/// Starts an upload of `data` with `Upload-Complete: ?1` to `s`, sends
/// `sent` bytes of it, and returns the connection (still open) and the
/// upload's URL from the 104.
fn start_whole_upload(s: &Server, path: &str, data: &[u8], sent: usize) -> (TcpStream, String) {
    let mut c = s.connect();
    c.write_all(
        format!(
            "PUT {path} HTTP/1.1\r\nHost: localhost\r\nUpload-Complete: ?1\r\n\
             Upload-Draft-Interop-Version: 8\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut reader = BufReader::new(c.try_clone().unwrap());
    let mut loc = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(l) = line.strip_prefix("Location: ") {
            loc = Some(l.trim().to_owned());
        }
    }
    c.write_all(&data[..sent]).unwrap();
    (c, loc.expect("a 104 with a Location"))
}

/// Polls HEAD (bounded) until the upload holds `want` bytes.
fn wait_offset(s: &Server, loc: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = head_upload(s, loc);
        if h.status == 204 && h.header("upload-offset").as_deref() == Some(&want.to_string()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "offset never reached {want}: {}",
            h.head
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The connection is cut mid-upload on one runtime's process; the upload
/// finishes on the other runtime's process serving the same root.
fn cut_then_resumed_on_the_other_runtime(rt: &str) {
    let other = if rt == "std" { "smol" } else { "std" };
    let root = fixture();
    let a = Server::start(rt, root.path(), &[]);
    let b = Server::start(other, root.path(), &[]);
    let data = random_bytes(3 << 20, 11);
    let (c, loc) = start_whole_upload(&a, "/cut.bin", &data, 1 << 20);
    // The client's network goes: what arrived is kept.
    c.shutdown(std::net::Shutdown::Both).unwrap();
    drop(c);
    wait_offset(&b, &loc, 1 << 20);
    assert!(!root.path().join("cut.bin").exists(), "never half-visible");
    let last = patch(&b, &loc, 1 << 20, true, &data[1 << 20..]);
    assert_eq!(last.status, 201, "{}", last.head);
    assert_eq!(std::fs::read(root.path().join("cut.bin")).unwrap(), data);
}

/// The server is SIGKILLed mid-upload; a new one on the same root
/// finishes it.
fn killed_server_then_resumed_after_restart(rt: &str) {
    let root = fixture();
    let mut a = Server::start(rt, root.path(), &[]);
    let data = random_bytes(2 << 20, 12);
    let (_c, loc) = start_whole_upload(&a, "/kill.bin", &data, 512 * 1024);
    // Give the server time to take the bytes, then kill it outright.
    let deadline = Instant::now() + Duration::from_secs(10);
    while resumable_bytes(root.path()) < 512 * 1024 {
        assert!(Instant::now() < deadline, "the bytes never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = a.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let _ = wait_exit(&mut a.child, Duration::from_secs(10));
    assert!(!root.path().join("kill.bin").exists());
    let b = Server::start(rt, root.path(), &[]);
    wait_offset(&b, &loc, 512 * 1024);
    let last = patch(&b, &loc, 512 * 1024, true, &data[512 * 1024..]);
    assert_eq!(last.status, 201, "{}", last.head);
    assert_eq!(std::fs::read(root.path().join("kill.bin")).unwrap(), data);
}

/// tus 1.0 as tuspy speaks it: an upload in parts with checksums, and
/// one resumed by a second uploader from the URL of the first.
fn tuspy_uploads_and_resumes(rt: &str) {
    require_python_module("tusclient");
    let root = fixture();
    std::fs::create_dir(root.path().join("in")).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("photo.jpg");
    let data = random_bytes(2_500_000, 13);
    std::fs::write(&file, &data).unwrap();
    let script = format!(
        r#"
import sys
from tusclient import client
c = client.TusClient("{url}")
u = c.uploader("{file}", chunk_size=1000000, metadata={{"filename": "photo.jpg"}}, upload_checksum=True)
u.upload_chunk()
print(u.url)
print(u.offset)
# A second uploader, as after a restart, resumes from the server's offset.
v = c.uploader("{file}", chunk_size=1000000, url=u.url, upload_checksum=True)
print(v.offset)
v.upload()
print(v.offset)
"#,
        url = s.url("/in/"),
        file = file.display()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("/in/photo.jpg?upload="), "{text}");
    assert_eq!(&lines[1..], ["1000000", "1000000", "2500000"], "{text}");
    assert_eq!(
        std::fs::read(root.path().join("in/photo.jpg")).unwrap(),
        data
    );
    // A part whose checksum does not match is not kept: 460.
    let r = ask(
        &s,
        "POST /in/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Length: 6\r\nUpload-Metadata: filename Yi50eHQ=\r\nContent-Length: 0\r\n\r\n",
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.head);
    let loc = location(&r);
    let bad = ask(
        &s,
        &format!(
            "PATCH {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
             Upload-Checksum: sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\r\nContent-Length: 3\r\n\r\n"
        ),
        b"xyz",
    );
    assert_eq!(bad.status, 460, "{}", bad.head);
    let h = ask(
        &s,
        &format!("HEAD {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\r\n"),
        b"",
    );
    assert_eq!(h.status, 200);
    assert_eq!(h.header("upload-offset").as_deref(), Some("0"));
    assert_eq!(h.header("upload-length").as_deref(), Some("6"));
    assert_eq!(h.header("tus-resumable").as_deref(), Some("1.0.0"));
}

/// An upload belongs to the user who made it.
fn another_user_cannot_touch_an_upload(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw", "--auth", "bob:pw"]);
    // ann:pw and bob:pw in base64.
    let r = ask(
        &s,
        "PUT /mine.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Basic YW5uOnB3\r\n\
         Upload-Complete: ?0\r\nContent-Length: 3\r\n\r\n",
        b"abc",
    );
    assert_eq!(r.status, 201, "{}", r.head);
    let loc = location(&r);
    let as_bob = ask(
        &s,
        &format!("HEAD {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Basic Ym9iOnB3\r\n\r\n"),
        b"",
    );
    assert_eq!(as_bob.status, 404);
    let as_ann = ask(
        &s,
        &format!("HEAD {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Basic YW5uOnB3\r\n\r\n"),
        b"",
    );
    assert_eq!(as_ann.status, 204);
    assert_eq!(head_upload(&s, &loc).status, 401, "anonymous: log in first");
}

/// One client may hold only so many unfinished uploads.
fn unfinished_uploads_are_bounded_per_client(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let create = |name: &str| {
        ask(
            &s,
            &format!(
                "PUT /{name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
                 Upload-Complete: ?0\r\nContent-Length: 0\r\n\r\n"
            ),
            b"",
        )
    };
    let mut made = Vec::new();
    for i in 0..16 {
        let r = create(&format!("u{i}"));
        assert_eq!(r.status, 201, "{}", r.head);
        made.push(location(&r));
    }
    let refused = create("u16");
    assert_eq!(refused.status, 429, "{}", refused.head);
    // Cancelling one makes room.
    let d = ask(
        &s,
        &format!(
            "DELETE {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            made[0]
        ),
        b"",
    );
    assert_eq!(d.status, 204);
    assert_eq!(create("u16").status, 201);
}

fn tus_create(s: &Server, folder: &str, name_b64: &str, len: u64) -> Response {
    ask(
        s,
        &format!(
            "POST {folder} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\
             Upload-Length: {len}\r\nUpload-Metadata: filename {name_b64}\r\nContent-Length: 0\r\n\r\n"
        ),
        b"",
    )
}

fn tus_patch(s: &Server, loc: &str, offset: u64, body: &[u8]) -> Response {
    ask(
        s,
        &format!(
            "PATCH {loc} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        ),
        body,
    )
}

/// A drop box (create only) takes resumable uploads of new names, never
/// replaces a file, not even one that appears while the upload runs; an
/// upload share link works for a client without cookies.
fn drop_boxes_and_share_links(rt: &str) {
    let root = fixture();
    std::fs::create_dir(root.path().join("drop")).unwrap();
    let s = Server::start(rt, root.path(), &["--rule", "*:create:/drop/"]);
    // "x.txt" and "y.txt" in base64.
    let r = tus_create(&s, "/drop/", "eC50eHQ=", 3);
    assert_eq!(r.status, 201, "{}", r.head);
    let done = tus_patch(&s, &location(&r), 0, b"abc");
    assert_eq!(done.status, 204, "{}", done.head);
    assert_eq!(
        std::fs::read(root.path().join("drop/x.txt")).unwrap(),
        b"abc"
    );
    assert_eq!(
        tus_create(&s, "/drop/", "eC50eHQ=", 3).status,
        403,
        "no replacing"
    );
    let r = tus_create(&s, "/drop/", "eS50eHQ=", 3);
    let loc = location(&r);
    std::fs::write(root.path().join("drop/y.txt"), b"first").unwrap();
    let late = tus_patch(&s, &loc, 0, b"def");
    assert_eq!(late.status, 412, "{}", late.head);
    assert_eq!(
        std::fs::read(root.path().join("drop/y.txt")).unwrap(),
        b"first"
    );
    drop(s);
    // An upload link, followed by a client that keeps no cookies.
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let s = Server::start(
        rt,
        root.path(),
        &["--auth", "ann:pw", "--auth-reads", "--state-dir", st],
    );
    let (link, _) = share(&["/drop/", "--upload", "--state-dir", st, "--url", "http://x"]);
    let token = link
        .trim()
        .split("share=")
        .nth(1)
        .expect("a token")
        .to_owned();
    // "z.txt" in base64.
    let r = tus_create(&s, &format!("/drop/?share={token}"), "ei50eHQ=", 2);
    assert_eq!(r.status, 201, "{}", r.head);
    let loc = location(&r);
    assert!(loc.contains(&format!("&share={token}")), "{loc}");
    assert_eq!(tus_patch(&s, &loc, 0, b"zz").status, 204);
    assert_eq!(
        std::fs::read(root.path().join("drop/z.txt")).unwrap(),
        b"zz"
    );
}

/// A proxy to `upstream` that forwards every connection both ways, except
/// that connection number `cut` (from 0) is closed once `after` bytes of
/// its request went up: a network that drops one upload request midway.
fn upload_cutting_proxy(upstream: u16, cut: usize, after: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut n = 0usize;
        while Instant::now() < deadline {
            let Ok((down, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            down.set_nonblocking(false).unwrap();
            let up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let limit = if n == cut { after } else { usize::MAX };
            n += 1;
            let (mut d2, mut u2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut d2);
                let _ = d2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut down, mut up) = (down, up);
                let mut buf = vec![0u8; 64 * 1024];
                let mut sent = 0usize;
                loop {
                    let want = buf.len().min(limit - sent);
                    let got = match down.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(g) => g,
                    };
                    if up.write_all(&buf[..got]).is_err() {
                        break;
                    }
                    sent += got;
                    if sent >= limit {
                        let _ = up.shutdown(std::net::Shutdown::Both);
                        let _ = down.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                }
                let _ = up.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// `pared client PUT` of a large file goes in parts, and a part the
/// network cuts is resumed from the server's offset by itself.
fn client_resumes_a_cut_upload_by_itself(rt: &str) {
    let root = fixture();
    let mut s = Server::start_with(rt, root.path(), &[], false);
    // Connections: OPTIONS, the creating PUT, then the first part: cut.
    let proxy = upload_cutting_proxy(s.port, 2, 3 << 20);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("big.bin");
    let data = random_bytes(10 << 20, 21);
    std::fs::write(&file, &data).unwrap();
    let state = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{proxy}/big.bin");
    let o = client_with_env(
        rt,
        &[
            "PUT",
            &url,
            "--upload-from",
            file.to_str().unwrap(),
            "--part-size",
            "8M",
        ],
        &[("XDG_STATE_HOME", state.path())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "201 Created");
    assert!(err.contains("resuming the upload"), "{err}");
    assert_eq!(std::fs::read(root.path().join("big.bin")).unwrap(), data);
    s.terminate(Duration::from_secs(10));
    let log = s.stderr_text();
    assert!(log.contains("\"HEAD /big.bin?upload="), "{log}");
    assert_eq!(log.matches("\"PUT /big.bin ").count(), 1, "{log}");
}

/// An upload an earlier run left (it gave up) is taken up by `-C`, from
/// the server's offset, without making a new one.
fn client_continues_an_earlier_run_with_c(rt: &str) {
    let root = fixture();
    let mut s = Server::start_with(rt, root.path(), &[], false);
    let proxy = upload_cutting_proxy(s.port, 2, 3 << 20);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("later.bin");
    let data = random_bytes(9 << 20, 22);
    std::fs::write(&file, &data).unwrap();
    let state = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{proxy}/later.bin");
    let env = [("XDG_STATE_HOME", state.path())];
    let path = file.to_str().unwrap();
    let first = client_with_env(
        rt,
        &["PUT", &url, "--upload-from", path, "--retries", "0"],
        &env,
    );
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "{err}");
    assert!(err.contains("with -C to resume"), "{err}");
    assert!(!root.path().join("later.bin").exists());
    let second = client_with_env(rt, &["PUT", &url, "--upload-from", path, "-C"], &env);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert_eq!(std::fs::read(root.path().join("later.bin")).unwrap(), data);
    s.terminate(Duration::from_secs(10));
    let log = s.stderr_text();
    assert_eq!(
        log.matches("\"PUT /later.bin ").count(),
        1,
        "one upload made: {log}"
    );
    assert!(log.contains("\"HEAD /later.bin?upload="), "{log}");
}

per_runtime!(
    client_resumes_a_cut_upload_by_itself,
    client_continues_an_earlier_run_with_c,
    drop_boxes_and_share_links,
    unfinished_uploads_are_bounded_per_client,
    draft_flows,
    interim_response_names_the_upload,
    digest_and_preconditions_hold_at_the_commit,
    cut_then_resumed_on_the_other_runtime,
    killed_server_then_resumed_after_restart,
    tuspy_uploads_and_resumes,
    another_user_cannot_touch_an_upload,
);
