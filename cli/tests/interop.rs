//! Interoperability with software nobody here wrote: curl, wget and
//! Python's http.client against pared's server; pared's client against
//! Python's http.server. `.ci/run` installs the tools.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.stdin(Stdio::null()).output().expect("run tool")
}

fn curl_works(rt: &str) {
    require_tool("curl");
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    // PUT makes no parent folders (RFC 4918 §9.7.1): curl makes /up/.
    let o = sh(Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "-X",
            "MKCOL",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(s.url("/up/")));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "201");
    let o =
        sh(Command::new("curl").args(["-sS", "--fail", "--max-time", "20", &s.url("/hello.txt")]));
    assert_eq!(
        o.stdout,
        b"hello\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = sh(Command::new("curl").args(["-sS", "-I", "--max-time", "20", &s.url("/hello.txt")]));
    let head = String::from_utf8_lossy(&o.stdout);
    assert!(
        head.starts_with("HTTP/1.0 200 OK") && head.contains("Content-Length: 6"),
        "{head}"
    );
    // A 50 MiB upload: curl sends Expect: 100-continue and would wait 60 s
    // for the interim answer; --max-time fails the test if it has to.
    let big = random_bytes(50 << 20, 3);
    let src = root.path().join("src.bin");
    std::fs::write(&src, &big).unwrap();
    let o = sh(Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--max-time",
            "20",
            "--expect100-timeout",
            "60",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-T",
        ])
        .arg(&src)
        .arg(s.url("/up/big.bin")));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "201",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::read(root.path().join("up/big.bin")).unwrap() == big);
    // Keep-alive: one connection for two requests.
    let o = sh(Command::new("curl").args([
        "-sS",
        "-v",
        "--http1.0",
        "-H",
        "Connection: keep-alive",
        "--max-time",
        "20",
        &s.url("/hello.txt"),
        &s.url("/hello.txt"),
    ]));
    assert_eq!(o.stdout, b"hello\nhello\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
}

fn wget_works(rt: &str) {
    require_tool("wget");
    let root = fixture();
    let data = random_bytes(3 << 20, 11);
    std::fs::write(root.path().join("w.bin"), &data).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let out = tempfile::tempdir().unwrap();
    let dst = out.path().join("w.bin");
    let o = sh(Command::new("wget")
        .args(["-q", "-T", "20", "-t", "1", "-O"])
        .arg(&dst)
        .arg(s.url("/w.bin")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&dst).unwrap() == data);
    let o = sh(Command::new("wget").args([
        "-q",
        "-T",
        "20",
        "-t",
        "1",
        "-O",
        "/dev/null",
        &s.url("/missing"),
    ]));
    assert_eq!(
        o.status.code(),
        Some(8),
        "wget reports a server error for 404"
    );
}

fn python_http_client_works(rt: &str) {
    require_tool("python3");
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let script = r#"
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
c.request("GET", "/hello.txt")
r = c.getresponse(); body = r.read()
assert (r.status, body) == (200, b"hello\n"), (r.status, body)
c.request("MKCOL", "/py/")
r = c.getresponse(); r.read()
assert r.status == 201, r.status
c.request("PUT", "/py/up.txt", body=b"from python", headers={"Content-Length": "11"})
r = c.getresponse(); r.read()
assert r.status == 201, r.status
c.request("HEAD", "/py/up.txt")
r = c.getresponse(); r.read()
assert r.status == 200 and r.getheader("Content-Length") == "11", r.getheaders()
c.request("DELETE", "/py/up.txt")
r = c.getresponse(); r.read()
assert r.status == 200, r.status
print("ok")
"#;
    let o = sh(Command::new("python3").args(["-c", script, &s.port.to_string()]));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn client_against_python_http_server(rt: &str) {
    require_tool("python3");
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(5 << 20, 5);
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/bin.dat"), &data).unwrap();
    std::fs::write(dir.path().join("d/index.html"), b"<p>dir index</p>").unwrap();
    let py = python_server(dir.path());
    let port = py.1.to_string();
    let out = tempfile::tempdir().unwrap();
    let dst = out.path().join("bin.dat");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port,
            "GET",
            "d/bin.dat",
            "-o",
            dst.to_str().unwrap(),
            "--timeout",
            "20",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::read(&dst).unwrap() == data, "download differs");
    // The directory URL redirects to the slash form.
    let o = client(
        rt,
        &["127.0.0.1", &port, "GET", "d", "-L", "--timeout", "20"],
    );
    assert_eq!(
        (o.status.code(), o.stdout.as_slice()),
        (Some(0), &b"<p>dir index</p>"[..])
    );
    let o = client(rt, &["127.0.0.1", &port, "GET", "d", "--timeout", "20"]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "an unfollowed redirect is not success"
    );
}

per_runtime!(
    curl_works,
    wget_works,
    python_http_client_works,
    client_against_python_http_server,
);
