//! WebDAV end to end: litmus (all five suites) on both runtimes, locks
//! held across two pared processes on one root, and the hostile inputs a
//! WebDAV server meets.

mod support;

use std::process::{Command, Stdio};

use support::*;

/// Runs litmus against a fresh root on `rt`; returns its output.
fn litmus_on(rt: &str) -> String {
    require_tool("litmus");
    let root = tempfile::tempdir().unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    let o = Command::new("timeout")
        .args(["300", "litmus"])
        .arg(s.url("/"))
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .expect("run litmus");
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn litmus_passes_every_test(rt: &str) {
    let out = litmus_on(rt);
    let mut total = 0;
    for suite in ["basic", "copymove", "props", "locks", "http"] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("summary for `{suite}'")))
            .unwrap_or_else(|| panic!("suite {suite} did not run:\n{out}"));
        assert!(
            line.contains(" 0 failed") && line.ends_with("100.0%"),
            "{line}\n{out}"
        );
        let run: usize = line
            .split("of ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a count");
        total += run;
    }
    assert!(!out.contains("SKIPPED"), "{out}");
    assert_eq!(total, 104, "litmus 0.13 runs 104 tests:\n{out}");
}

/// Sends `request` and returns the response.
fn send(s: &Server, request: &str) -> Response {
    raw(s, request.as_bytes())
}

fn lock_body(scope: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:{scope}/></D:lockscope>\
         <D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>"
    )
}

fn lock_request(path: &str, scope: &str) -> String {
    let body = lock_body(scope);
    format!(
        "LOCK {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTimeout: Second-60\r\n\
         Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn put_request(path: &str, body: &str, extra: &str) -> String {
    format!(
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn locks_hold_across_two_processes_on_one_root() {
    let root = fixture();
    let a = Server::start("std", root.path(), &[]);
    let b = Server::start("smol", root.path(), &[]);
    // Locked through one process...
    let r = send(&a, &lock_request("/hello.txt", "exclusive"));
    assert_eq!(r.status, 200, "{}", r.head);
    let token = r.header("lock-token").expect("Lock-Token");
    let token = token.trim_matches(|c| c == '<' || c == '>').to_owned();
    assert!(token.starts_with("urn:uuid:"), "{token}");
    // ...the other refuses a write without the token...
    let r = send(&b, &put_request("/hello.txt", "intruder", ""));
    assert_eq!(r.status, 423);
    let r = send(&b, &lock_request("/hello.txt", "shared"));
    assert_eq!(r.status, 423, "a shared lock beside an exclusive one");
    assert_eq!(
        std::fs::read(root.path().join("hello.txt")).unwrap(),
        b"hello\n"
    );
    // ...and takes it with the token.
    let r = send(
        &b,
        &put_request("/hello.txt", "owner", &format!("If: (<{token}>)\r\n")),
    );
    assert_eq!(r.status, 200, "{}", r.head);
    // A PROPFIND on the other process reports the lock.
    let body = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:lockdiscovery/></D:prop></D:propfind>";
    let r = send(
        &b,
        &format!(
            "PROPFIND /hello.txt HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(r.status, 207);
    assert!(
        String::from_utf8_lossy(&r.body).contains(&token),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // A restart keeps it: a new process still refuses.
    drop(a);
    let c = Server::start("std", root.path(), &[]);
    assert_eq!(send(&c, &put_request("/hello.txt", "x", "")).status, 423);
    // Unlocked through the other process, anyone may write again.
    let r = send(
        &c,
        &format!("UNLOCK /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nLock-Token: <{token}>\r\n\r\n"),
    );
    assert_eq!(r.status, 204, "{}", r.head);
    assert_eq!(send(&b, &put_request("/hello.txt", "free", "")).status, 200);
}

fn hostile_inputs_are_refused(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let outside = root.path().parent().unwrap().join("escaped.txt");
    let copy = |dest: &str, src: &str| {
        send(
            &s,
            &format!("COPY {src} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nDestination: {dest}\r\n\r\n"),
        )
        .status
    };
    // Destinations outside the root, plainly and encoded.
    for dest in [
        "http://localhost/../escaped.txt",
        "http://localhost/%2e%2e/escaped.txt",
        "/..%2fescaped.txt",
        "http://localhost/sub/%2E%2E/%2E%2E/escaped.txt",
    ] {
        let status = copy(dest, "/hello.txt");
        assert!(status == 403 || status == 400, "{dest}: {status}");
    }
    assert!(!outside.exists());
    // Another host: 502, nothing copied.
    assert_eq!(copy("http://elsewhere.example/x.txt", "/hello.txt"), 502);
    assert!(!root.path().join("x.txt").exists());
    // A folder into itself.
    assert_eq!(
        send(
            &s,
            "MKCOL /box/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .status,
        201
    );
    assert_eq!(copy("http://localhost/box/inner/", "/box/"), 403);
    let r = send(
        &s,
        "MOVE /box/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nDestination: /box/deeper/\r\n\r\n",
    );
    assert_eq!(r.status, 403);
    // XML with entities, external entities or a DTD: 400, nothing expanded.
    for body in [
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\
         <D:propfind xmlns:D=\"DAV:\"><D:prop><x>&b;</x></D:prop></D:propfind>",
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
         <D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><p xmlns=\"urn:x\">&x;</p></D:prop></D:set></D:propertyupdate>",
        "<D:propfind xmlns:D=\"DAV:\"><D:prop><x>&undefined;</x></D:prop></D:propfind>",
    ] {
        for method in ["PROPFIND", "PROPPATCH"] {
            let r = send(
                &s,
                &format!(
                    "{method} /hello.txt HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            );
            assert_eq!(r.status, 400, "{method} {body}");
            assert!(!String::from_utf8_lossy(&r.body).contains("root:"));
        }
    }
    // Depth: infinity (and no Depth, which means it) is refused, finitely.
    for depth in ["Depth: infinity\r\n", ""] {
        let r = send(
            &s,
            &format!("PROPFIND / HTTP/1.1\r\nHost: localhost\r\n{depth}Connection: close\r\nContent-Length: 0\r\n\r\n"),
        );
        assert_eq!(r.status, 403);
        assert!(String::from_utf8_lossy(&r.body).contains("propfind-finite-depth"));
    }
    // A body over the document limit: 413.
    let big = "x".repeat(300 * 1024);
    let r = send(
        &s,
        &format!(
            "PROPPATCH /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        ),
    );
    assert_eq!(r.status, 413);
    // Dot-files stay out of reach, and out of listings.
    assert_eq!(copy("/.pared-locks", "/hello.txt"), 403);
    let r = send(
        &s,
        "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 207);
    let listing = String::from_utf8_lossy(&r.body);
    assert!(
        listing.contains("hello.txt") && !listing.contains(".secret"),
        "{listing}"
    );
}

fn writes_stay_writes_under_read_only_and_auth(rt: &str) {
    let root = fixture();
    let ro = Server::start(rt, root.path(), &["--read-only"]);
    for req in [
        "MKCOL /d/ HTTP/1.0\r\n\r\n",
        "DELETE /sub/ HTTP/1.0\r\n\r\n",
        "MOVE /hello.txt HTTP/1.0\r\nDestination: /moved.txt\r\n\r\n",
        "LOCK /hello.txt HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
    ] {
        assert_eq!(send(&ro, req).status, 405, "{req}");
    }
    assert!(root.path().join("hello.txt").exists());
    let authed = Server::start(rt, root.path(), &["--auth", "ann:secret", "--auth-reads"]);
    assert_eq!(
        send(&authed, "PROPFIND / HTTP/1.0\r\nDepth: 0\r\n\r\n").status,
        401,
        "--auth-reads covers PROPFIND"
    );
    assert_eq!(send(&authed, "MKCOL /d/ HTTP/1.0\r\n\r\n").status, 401);
}

fn pared_client_manages_folders(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let run = |args: &[&str]| {
        let o = client(rt, args);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["MKCOL", &s.url("/box/")]);
    assert_eq!((code, out.trim()), (0, "201 Created"), "{err}");
    assert!(root.path().join("box").is_dir());
    let (code, _, err) = run(&[
        "COPY",
        &s.url("/hello.txt"),
        "--to",
        "/box/copy of hello.txt",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(root.path().join("box/copy of hello.txt")).unwrap(),
        b"hello\n"
    );
    let (code, _, err) = run(&[
        "move",
        &s.url("/box/copy%20of%20hello.txt"),
        "--to",
        "/box/moved.txt",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(root.path().join("box/moved.txt").exists());
    assert!(!root.path().join("box/copy of hello.txt").exists());
    // PROPFIND lists the folder as a table.
    let (code, out, err) = run(&["PROPFIND", &s.url("/")]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("dir") && lines[0].ends_with(" ."),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("file") && l.contains(" 6 ") && l.ends_with(" hello.txt")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dir") && l.ends_with(" box/")),
        "{out}"
    );
    assert!(!out.contains(".secret"), "{out}");
    // COPY and MOVE need --to; --to needs them.
    assert_eq!(run(&["COPY", &s.url("/hello.txt")]).0, 2);
    assert_eq!(run(&["GET", &s.url("/hello.txt"), "--to", "/x"]).0, 2);
    // A listing of what is not there: the status, exit 4.
    assert_eq!(run(&["PROPFIND", &s.url("/nope/")]).0, 4);
}

fn pared_client_puts_a_tree(rt: &str) {
    let root = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(local.path().join("a/b")).unwrap();
    std::fs::write(local.path().join("one.txt"), b"1").unwrap();
    std::fs::write(local.path().join("a/two 50%.txt"), b"2").unwrap();
    std::fs::write(local.path().join("a/b/three.bin"), random_bytes(200_000, 9)).unwrap();
    std::fs::write(local.path().join(".hidden"), b"h").unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let src = local.path().to_str().unwrap();
    for round in 0..2 {
        // The second round finds every folder there (405): still a success.
        let o = client(rt, &["PUT", "-r", &s.url("/up/"), "--upload-from", src]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "round {round}: {err}");
        assert!(err.contains("uploaded 3 file(s) into 3 folder(s)"), "{err}");
        assert!(o.stdout.is_empty(), "one summary, on stderr");
    }
    assert_eq!(
        std::fs::read(root.path().join("up/a/two 50%.txt")).unwrap(),
        b"2"
    );
    assert_eq!(
        std::fs::read(root.path().join("up/a/b/three.bin")).unwrap(),
        random_bytes(200_000, 9)
    );
    assert!(!root.path().join("up/.hidden").exists());
    // Against a read-only server every file fails, and the exit says so.
    let ro = Server::start(rt, root.path(), &["--read-only"]);
    let o = client(rt, &["PUT", "-r", &ro.url("/up/"), "--upload-from", src]);
    assert_eq!(o.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("3 failed"));
}

per_runtime!(
    pared_client_puts_a_tree,
    pared_client_manages_folders,
    litmus_passes_every_test,
    hostile_inputs_are_refused,
    writes_stay_writes_under_read_only_and_auth,
);
