//! Access control end to end, both runtimes: who may write and read, with
//! plain passwords, bcrypt (`htpasswd -B`) and SHA-512 crypt (`openssl
//! passwd -6`) hashes, `--auth-file`, `--auth-reads`; the same 401 for an
//! unknown user and a wrong password; the user in the access log; the
//! client's `-u`; the safe default for writes.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn b64(s: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("base64")
        .args(["-w", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64");
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

fn put_as(s: &Server, path: &str, creds: Option<&str>) -> Response {
    let auth = creds
        .map(|c| format!("Authorization: Basic {}\r\n", b64(c)))
        .unwrap_or_default();
    raw(
        s,
        format!("PUT {path} HTTP/1.0\r\n{auth}Content-Length: 2\r\n\r\nhi").as_bytes(),
    )
}

fn get_as(s: &Server, method: &str, path: &str, creds: Option<&str>) -> Response {
    let auth = creds
        .map(|c| format!("Authorization: Basic {}\r\n", b64(c)))
        .unwrap_or_default();
    raw(
        s,
        format!("{method} {path} HTTP/1.0\r\n{auth}\r\n").as_bytes(),
    )
}

/// An htpasswd file with bob (bcrypt) and cat (SHA-512 crypt), made by
/// the tools people use.
fn htpasswd_file(dir: &std::path::Path) -> std::path::PathBuf {
    require_tool("htpasswd");
    require_tool("openssl");
    let bob = Command::new("htpasswd")
        .args(["-nbB", "-C", "5", "bob", "bob's pw"])
        .output()
        .unwrap();
    assert!(bob.status.success());
    let sha = Command::new("openssl")
        .args(["passwd", "-6", "cat-pw"])
        .output()
        .unwrap();
    assert!(sha.status.success());
    let text = format!(
        "# users\n{}\ncat:{}\n",
        String::from_utf8(bob.stdout).unwrap().trim(),
        String::from_utf8(sha.stdout).unwrap().trim()
    );
    let path = dir.join("users.htpasswd");
    std::fs::write(&path, text).unwrap();
    path
}

fn auth_matrix(rt: &str) {
    let root = fixture();
    let etc = tempfile::tempdir().unwrap();
    let file = htpasswd_file(etc.path());
    let mut s = Server::start_with(
        rt,
        root.path(),
        &[
            "--auth",
            "ann:ann-pw",
            "--auth-file",
            file.to_str().unwrap(),
        ],
        false,
    );
    // No credentials, unknown user, wrong password: the same 401.
    let none = put_as(&s, "/a.txt", None);
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate").as_deref(),
        Some("Basic realm=\"pared\", charset=\"UTF-8\"")
    );
    let unknown = put_as(&s, "/a.txt", Some("zed:ann-pw"));
    let wrong = put_as(&s, "/a.txt", Some("ann:nope"));
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(unknown.body, wrong.body, "a body that tells users apart");
    for bad in ["bob:bob", "cat:cat", "ann:"] {
        assert_eq!(put_as(&s, "/a.txt", Some(bad)).status, 401, "{bad}");
    }
    assert!(!root.path().join("a.txt").exists());
    // Each kind of credential works: plain, bcrypt, SHA-512 crypt.
    assert_eq!(put_as(&s, "/a.txt", Some("ann:ann-pw")).status, 201);
    assert_eq!(put_as(&s, "/b.txt", Some("bob:bob's pw")).status, 201);
    assert_eq!(put_as(&s, "/c.txt", Some("cat:cat-pw")).status, 201);
    // Again (from the cache), and DELETE needs it too.
    assert_eq!(put_as(&s, "/b.txt", Some("bob:bob's pw")).status, 200);
    assert_eq!(get_as(&s, "DELETE", "/c.txt", None).status, 401);
    assert_eq!(
        get_as(&s, "DELETE", "/c.txt", Some("cat:cat-pw")).status,
        200
    );
    // Reads stay open without --auth-reads.
    assert_eq!(get_as(&s, "GET", "/a.txt", None).status, 200);
    assert_eq!(get_as(&s, "GET", "/list/", None).status, 200);
    s.terminate(std::time::Duration::from_secs(10));
    let log = s.stderr_text();
    assert!(
        log.contains(" - ann [") && log.contains(" - bob ["),
        "{log}"
    );
    assert!(
        !log.contains("ann-pw") && !log.contains("bob's pw"),
        "{log}"
    );
}

fn reads_need_auth(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw", "--auth-reads"]);
    for m in ["GET", "HEAD"] {
        let r = get_as(&s, m, "/hello.txt", None);
        assert_eq!(r.status, 401, "{m}");
        assert!(r.header("www-authenticate").is_some());
        assert_eq!(get_as(&s, m, "/hello.txt", Some("ann:bad")).status, 401);
        assert_eq!(get_as(&s, m, "/hello.txt", Some("ann:pw")).status, 200);
    }
    assert_eq!(get_as(&s, "GET", "/list/", None).status, 401);
    assert_eq!(get_as(&s, "GET", "/list/", Some("ann:pw")).status, 200);
}

fn client_sends_credentials(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--auth", "ann:pw"]);
    let port = s.port.to_string();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("u.txt");
    std::fs::write(&local, b"up").unwrap();
    let up = local.to_str().unwrap();
    let o = client(
        rt,
        &["127.0.0.1", &port, "PUT", "u.txt", "--upload-from", up],
    );
    assert_eq!(o.status.code(), Some(4), "no credentials: 401");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port,
            "PUT",
            "u.txt",
            "--upload-from",
            up,
            "-u",
            "ann:pw",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stderr.is_empty(), "no warning on loopback");
    assert_eq!(std::fs::read(root.path().join("u.txt")).unwrap(), b"up");
    // curl -u works the same.
    require_tool("curl");
    let o = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            "ann:pw",
            "-T",
        ])
        .arg(&local)
        .arg(s.url("/curl.txt"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "201");
}

fn safe_default_for_writes(rt: &str) {
    let root = fixture();
    // Loopback clients may write without --auth (the remote case is a
    // unit test in pared-core: this machine has only loopback to test on).
    let mut s = Server::start_with(rt, root.path(), &[], false);
    assert_eq!(put(&s, "/local.txt", b"ok").status, 201);
    s.terminate(std::time::Duration::from_secs(10));
    let out = Command::new(pared())
        .args(["--runtime", rt, "server", "0", "--root"])
        .arg(root.path())
        .arg("--auth-reads")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "--auth-reads without users must fail"
    );
}

fn startup_line_says_who_can_write(rt: &str) {
    let root = fixture();
    for (args, says) in [
        (vec![], "from this machine only"),
        (vec!["--public-writes"], "open to everyone"),
        (vec!["--auth", "a:b"], "need a login (1 user)"),
    ] {
        let mut cmd = Command::new(pared());
        cmd.args([
            "--runtime",
            rt,
            "server",
            "0",
            "--bind",
            "127.0.0.1",
            "--root",
        ])
        .arg(root.path())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

/// Issue "Hardening, second pass" item 3: every htpasswd format pared
/// does not verify is refused at start-up, naming its line; locked
/// entries never log in.
fn auth_file_formats_pared_cannot_verify_are_refused(rt: &str) {
    require_tool("htpasswd");
    let etc = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let line = |args: &[&str]| {
        let o = Command::new("htpasswd").args(args).output().unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let good = line(&["-nbB", "-C", "5", "ann", "ann-pw"]);
    for (bad, what) in [
        (line(&["-nbd", "des", "des-pw"]), "DES crypt"),
        (line(&["-nbm", "md5", "md5-pw"]), "MD5"),
        (line(&["-nbs", "sha", "sha-pw"]), "SHA-1"),
        ("plain:just-a-password".to_owned(), "a plain password"),
        ("broken:$2y$05$tooshort".to_owned(), "malformed bcrypt"),
        ("empty:".to_owned(), "an empty password"),
    ] {
        let file = etc.path().join("users");
        std::fs::write(&file, format!("# users\n{good}\n{bad}\n")).unwrap();
        let o = Command::new(pared())
            .args(["--runtime", rt, "server", "0", "--quiet", "--root"])
            .arg(root.path())
            .arg("--auth-file")
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: the server started");
        assert!(err.contains("line 3"), "{what}: {err}");
        assert!(
            !err.contains("pw"),
            "{what}: a secret in the message: {err}"
        );
    }
    // A locked entry (htpasswd -L writes `!`) never logs in, not even
    // with the text of its hash.
    let locked_hash = line(&["-nbB", "-C", "5", "lock", "lock-pw"]);
    let (name, hash) = locked_hash.split_once(':').unwrap();
    let file = etc.path().join("users");
    std::fs::write(&file, format!("{good}\n{name}:!{hash}\nstar:*\n")).unwrap();
    let s = Server::start(rt, root.path(), &["--auth-file", file.to_str().unwrap()]);
    for (user, pw) in [
        ("lock", "lock-pw"),
        ("lock", &format!("!{hash}")[..]),
        ("star", "*"),
    ] {
        let auth = format!("Authorization: Basic {}\r\n", b64(&format!("{user}:{pw}")));
        let r = raw(
            &s,
            format!("PUT /x.txt HTTP/1.0\r\n{auth}Content-Length: 1\r\n\r\nx").as_bytes(),
        );
        assert_eq!(r.status, 401, "{user}:{pw}");
    }
    let auth = format!("Authorization: Basic {}\r\n", b64("ann:ann-pw"));
    let r = raw(
        &s,
        format!("PUT /x.txt HTTP/1.0\r\n{auth}Content-Length: 1\r\n\r\nx").as_bytes(),
    );
    assert_eq!(r.status, 201);
}

per_runtime!(
    auth_file_formats_pared_cannot_verify_are_refused,
    auth_matrix,
    reads_need_auth,
    client_sends_credentials,
    safe_default_for_writes,
    startup_line_says_who_can_write,
);
