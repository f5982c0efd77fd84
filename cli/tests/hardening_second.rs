//! The second hardening pass (issue "Hardening, second pass"), items 7
//! and 8, end to end on both runtimes; items 3 and 4 are in `auth.rs`.
//! Each of these failed before its fix.

mod support;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use support::*;

/// Item 7: a served HTML or SVG file runs in a sandbox (an opaque
/// origin), so its scripts cannot act as the site; `--website` lifts it;
/// pared's own page keeps its own policy.
fn served_files_run_in_a_sandbox(rt: &str) {
    let root = fixture();
    std::fs::write(root.path().join("page.html"), b"<script>1</script>").unwrap();
    std::fs::write(root.path().join("pic.svg"), b"<svg/>").unwrap();
    let s = Server::start(rt, root.path(), &[]);
    for path in ["/page.html", "/pic.svg", "/hello.txt", "/sub/"] {
        let r = get(&s, path);
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.starts_with("sandbox ") && !csp.contains("allow-same-origin"),
            "{path}: {csp:?}"
        );
    }
    let listing = get(&s, "/list/");
    let csp = listing.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let site = Server::start(rt, root.path(), &["--website"]);
    assert_eq!(
        get(&site, "/page.html").header("content-security-policy"),
        None
    );
}

/// Item 8: with --auth-reads every answer is `Cache-Control: private`.
fn protected_reads_are_private(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw", "--auth-reads"]);
    let anon = get(&s, "/hello.txt");
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("cache-control").as_deref(), Some("private"));
    // "ann:pw" in base64.
    let r = raw(
        &s,
        b"GET /hello.txt HTTP/1.0\r\nAuthorization: Basic YW5uOnB3\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control").as_deref(), Some("private"));
    // Without --auth-reads nothing changes.
    let open = Server::start(rt, root.path(), &["--auth", "ann:pw"]);
    assert_eq!(get(&open, "/hello.txt").header("cache-control"), None);
}

/// Item 8: SIGHUP does not kill a plain-http server.
fn sighup_keeps_a_plain_server(rt: &str) {
    let root = fixture();
    let mut s = Server::start(rt, root.path(), &[]);
    let pid = s.child.id().to_string();
    for _ in 0..2 {
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(get(&s, "/hello.txt").status, 200, "still serving");
    }
    assert!(s.child.try_wait().unwrap().is_none());
    let status = s.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "graceful exit after SIGHUPs: {status:?}");
    assert!(s.stderr_text().contains("SIGHUP: reloaded"));
}

/// Item 8: with --quiet a failed TLS handshake writes nothing (a flood of
/// them would otherwise flood the log).
fn quiet_means_quiet_for_failed_handshakes(rt: &str) {
    let root = fixture();
    let mut s = Server::start(rt, root.path(), &["--tls-self-signed"]);
    for _ in 0..5 {
        let mut c = s.connect();
        // A TLS record header, then garbage.
        let _ = c.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = [0u8; 64];
        let _ = c.read(&mut sink);
    }
    s.terminate(Duration::from_secs(10));
    let err = s.stderr_text();
    assert!(!err.contains("handshake"), "{err}");
}

/// Item 8: a refusal sent before the request body was read says
/// `Connection: close`, as the connection then closes.
fn refusal_before_the_body_says_close(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw"]);
    let mut c = s.connect();
    c.write_all(
        b"PUT /x.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut c, false);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("connection").as_deref(),
        Some("close"),
        "{}",
        r.head
    );
}

fn put_via(port: u16, extra: &str) -> u16 {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(
        format!("PUT /via.txt HTTP/1.0\r\nHost: localhost\r\n{extra}Content-Length: 1\r\n\r\nx")
            .as_bytes(),
    )
    .unwrap();
    read_response(&mut c, false).status
}

/// Item 2: behind a reverse proxy every request arrives from loopback.
/// A request with proxy headers counts as local only when a trusted proxy
/// says its client is local; the README's nginx example is safe as is.
fn proxied_requests_are_not_local_unless_a_trusted_proxy_says_so(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    assert_eq!(put_via(s.port, ""), 201, "loopback, no proxy: local");
    for field in [
        "X-Forwarded-For: 203.0.113.9\r\n",
        "X-Forwarded-For: 127.0.0.1\r\n",
        "X-Real-IP: 127.0.0.1\r\n",
        "Forwarded: for=127.0.0.1\r\n",
        "Via: 1.1 proxy\r\n",
    ] {
        assert_eq!(put_via(s.port, field), 403, "{field}");
    }
    let trusting = Server::start(rt, root.path(), &["--trusted-proxy", "127.0.0.1"]);
    assert_eq!(
        put_via(trusting.port, "X-Forwarded-For: 203.0.113.9\r\n"),
        403
    );
    assert_eq!(
        put_via(trusting.port, "X-Forwarded-For: 127.0.0.1\r\n"),
        200,
        "replaces the file the first PUT made"
    );
    // The start-up lines say which rule is in force.
    for (args, says) in [
        (vec![], "count as remote"),
        (
            vec!["--trusted-proxy", "127.0.0.1"],
            "headers of 127.0.0.1 only",
        ),
    ] {
        let mut child = Command::new(pared())
            .args(["--runtime", rt, "server", "0", "--quiet", "--root"])
            .arg(root.path())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        for _ in 0..3 {
            std::io::BufRead::read_line(&mut out, &mut text).unwrap();
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(text.contains(says), "{args:?}: {text}");
    }
    // The README's nginx configuration, in front of each.
    let conf = |port: u16| {
        format!(
            "server {{ listen 127.0.0.1:{{port}}; client_max_body_size 0;\n\
               location / {{ proxy_pass http://127.0.0.1:{port};\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 proxy_set_header X-Real-IP $remote_addr; }} }}"
        )
    };
    let plain = Nginx::start(&conf(s.port));
    assert_eq!(
        put_via(plain.port, ""),
        403,
        "through nginx, no proxy trusted"
    );
    let trusted = Nginx::start(&conf(trusting.port));
    assert_eq!(
        put_via(trusted.port, ""),
        200,
        "through a trusted nginx, a local client"
    );
}

/// Item 8: with --auth (reads open), a visitor can log in from the page
/// and then gets its controls.
fn the_page_offers_a_log_in(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw"]);
    let anon = get(&s, "/");
    let page = String::from_utf8_lossy(&anon.body).into_owned();
    assert!(page.contains("href=\"?login\""), "{page}");
    assert!(!page.contains("id=\"files\""));
    let r = get(&s, "/?login");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    // "ann:pw" in base64; a wrong password is refused.
    let r = raw(
        &s,
        b"GET /sub/?login HTTP/1.0\r\nAuthorization: Basic YW5uOnB3\r\n\r\n",
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/sub/"));
    let r = raw(
        &s,
        b"GET /?login HTTP/1.0\r\nAuthorization: Basic YW5uOng=\r\n\r\n",
    );
    assert_eq!(r.status, 401);
    let r = raw(
        &s,
        b"GET /list/ HTTP/1.0\r\nAuthorization: Basic YW5uOnB3\r\n\r\n",
    );
    let page = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        page.contains("id=\"files\"") && !page.contains("?login"),
        "{page}"
    );
    // Without users there is nothing to log in to.
    let open = Server::start(rt, root.path(), &["--read-only"]);
    assert!(!String::from_utf8_lossy(&get(&open, "/").body).contains("?login"));
}

/// Item 10: `-C` saves only the rest of the same version: a 206 that
/// does not run from the held length to the end, or with another ETag,
/// and a 416 from a changed file, restart the download instead.
fn resume_never_splices(rt: &str) {
    let full = b"0123456789ABCDEFGHIJ";
    let fresh = format!(
        "HTTP/1.1 200 OK\r\nETag: \"v2\"\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{}",
        std::str::from_utf8(full).unwrap()
    );
    for first in [
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 4-9/20\r\nETag: \"v1\"\r\nContent-Length: 6\r\n\r\nxxxxxx",
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 4-19/20\r\nETag: \"v2\"\r\nContent-Length: 16\r\n\r\nxxxxxxxxxxxxxxxx",
        "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */4\r\nETag: \"v2\"\r\nContent-Length: 0\r\n\r\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("f.bin");
        let part = dir.path().join(".f.bin.pared-part");
        std::fs::write(&part, b"0123").unwrap();
        rustix::fs::setxattr(&part, "user.pared.validator", b"\"v1\"", rustix::fs::XattrFlags::empty())
            .unwrap();
        let (port, seen) = scripted_server(vec![
            Some(first.as_bytes().to_vec()),
            Some(fresh.clone().into_bytes()),
        ]);
        let url = format!("http://127.0.0.1:{port}/f.bin");
        let o = client(rt, &["GET", &url, "-o", out.to_str().unwrap(), "-C"]);
        let heads = seen.join().unwrap();
        assert_eq!(o.status.code(), Some(0), "{first}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&out).unwrap(), full, "{first}");
        assert!(heads[0].contains("Range: bytes=4-"), "{}", heads[0]);
        assert!(!heads[1].contains("Range:"), "restarted whole: {}", heads[1]);
    }
}

/// Item 9: `-C` continues only a partial of the user's own: not a link
/// another user planted, not a file others may write.
fn resume_trusts_only_its_own_partial(rt: &str) {
    let body = b"0123456789ABCDEFGHIJ";
    let fresh = format!(
        "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{}",
        std::str::from_utf8(body).unwrap()
    );
    for planted in ["link", "world-writable"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("f.bin");
        let part = dir.path().join(".f.bin.pared-part");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"0123").unwrap();
        rustix::fs::setxattr(
            &victim,
            "user.pared.validator",
            b"\"v1\"",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        match planted {
            "link" => std::os::unix::fs::symlink(&victim, &part).unwrap(),
            _ => {
                std::fs::copy(&victim, &part).unwrap();
                rustix::fs::setxattr(
                    &part,
                    "user.pared.validator",
                    b"\"v1\"",
                    rustix::fs::XattrFlags::empty(),
                )
                .unwrap();
                std::fs::set_permissions(
                    &part,
                    std::os::unix::fs::PermissionsExt::from_mode(0o666),
                )
                .unwrap();
            }
        }
        let (port, seen) = scripted_server(vec![Some(fresh.clone().into_bytes())]);
        let url = format!("http://127.0.0.1:{port}/f.bin");
        let o = client(rt, &["GET", &url, "-o", out.to_str().unwrap(), "-C"]);
        let heads = seen.join().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{planted}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            !heads[0].contains("Range:"),
            "{planted}: resumed: {}",
            heads[0]
        );
        assert_eq!(std::fs::read(&out).unwrap(), body, "{planted}");
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            b"0123",
            "{planted}: the victim changed"
        );
    }
}

/// Item 11: a client killed with SIGKILL leaves `.NAME.pared-part-PID`;
/// the next download of NAME removes it (a live pared's is kept).
fn stale_download_temporaries_are_cleaned(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    // A PID that just ended.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let stale = dir.path().join(format!(".f.bin.pared-part-{dead}"));
    std::fs::write(&stale, b"left by a killed client").unwrap();
    // One of a live pared (a server) stays.
    let root = fixture();
    let live_server = Server::start(rt, root.path(), &[]);
    let live = dir
        .path()
        .join(format!(".f.bin.pared-part-{}", live_server.child.id()));
    std::fs::write(&live, b"in use").unwrap();
    let o = client(
        rt,
        &[
            "GET",
            &live_server.url("/hello.txt"),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"hello\n");
    assert!(!stale.exists(), "the stale temporary is gone");
    assert!(live.exists(), "a live pared's temporary stays");
}

/// Item 8: a write allowed because it comes from this machine must name
/// the server as only this machine can (DNS rebinding), and carry no
/// other site's Origin.
fn local_writes_check_host_and_origin(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--local-name", "build-box"]);
    let port = s.port;
    let put = |name: &str, host: &str, origin: Option<&str>| {
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        raw(
            &s,
            format!(
                "PUT /{name} HTTP/1.1\r\nHost: {host}\r\n{origin}Connection: close\r\nContent-Length: 2\r\n\r\nok"
            )
            .as_bytes(),
        )
    };
    let rebound = put("a.txt", &format!("evil.example:{port}"), None);
    assert_eq!(rebound.status, 403);
    assert!(String::from_utf8_lossy(&rebound.body).contains("DNS rebinding"));
    assert!(!root.path().join("a.txt").exists());
    let cross = put(
        "b.txt",
        &format!("127.0.0.1:{port}"),
        Some("http://evil.example"),
    );
    assert_eq!(cross.status, 403);
    assert_eq!(
        put("c.txt", &format!("127.0.0.1:{port}"), Some("null")).status,
        403,
        "a sandboxed page"
    );
    assert!(!root.path().join("b.txt").exists() && !root.path().join("c.txt").exists());
    for (name, host) in [
        ("d.txt", format!("localhost:{port}")),
        ("e.txt", format!("[::1]:{port}")),
        ("f.txt", format!("build-box:{port}")),
        ("g.txt", format!("sub.localhost:{port}")),
    ] {
        let origin = format!("http://{host}");
        assert_eq!(put(name, &host, Some(&origin)).status, 201, "{host}");
    }
    // DELETE and WebDAV writes are checked the same way.
    let del = raw(
        &s,
        format!("DELETE /d.txt HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(del.status, 403);
    let mkcol = raw(
        &s,
        format!("MKCOL /new/ HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(mkcol.status, 403);
    assert!(root.path().join("d.txt").exists() && !root.path().join("new").exists());
    // Reads are not writes: a GET under any name is served.
    let read = raw(
        &s,
        format!(
            "GET /hello.txt HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(read.status, 200);
    // With --public-writes, or with users, the name does not matter.
    let open = Server::start(rt, root.path(), &["--public-writes"]);
    let r = raw(
        &open,
        b"PUT /h.txt HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(r.status, 201);
    let users = Server::start(rt, root.path(), &["--auth", "ann:pw"]);
    let r = raw(
        &users,
        b"PUT /i.txt HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Basic YW5uOnB3\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(r.status, 201);
}

per_runtime!(
    local_writes_check_host_and_origin,
    stale_download_temporaries_are_cleaned,
    resume_trusts_only_its_own_partial,
    resume_never_splices,
    the_page_offers_a_log_in,
    proxied_requests_are_not_local_unless_a_trusted_proxy_says_so,
    served_files_run_in_a_sandbox,
    protected_reads_are_private,
    sighup_keeps_a_plain_server,
    quiet_means_quiet_for_failed_handshakes,
    refusal_before_the_body_says_close,
);
