//! The client as a new user meets it, both runtimes: -o never replaced by
//! an error, every failure one line on stderr, PUT/DELETE outcome printed
//! once, -v heads closed once, `-o -`, HEAD -o, PATH as the remote path
//! for PUT, many header fields.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn one(reply: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    scripted_server(vec![Some(reply)])
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn errors_never_replace_the_output(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep.txt");
    std::fs::write(&keep, b"good data").unwrap();
    let k = keep.to_str().unwrap();
    let (port, h) = one(b"HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec());
    let o = client(
        rt,
        &["127.0.0.1", &port.to_string(), "missing.txt", "-o", k],
    );
    h.join().unwrap();
    assert_eq!(code(&o), 4);
    assert_eq!(std::fs::read(&keep).unwrap(), b"good data");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("404 Not Found") && err.contains("left as it was"),
        "{err}"
    );
    // An unfollowed redirect with an empty body: untouched, and a hint.
    let (port, h) =
        one(b"HTTP/1.0 301 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n".to_vec());
    let o = client(rt, &["127.0.0.1", &port.to_string(), "x", "-o", k]);
    h.join().unwrap();
    assert_eq!(code(&o), 6);
    assert_eq!(std::fs::read(&keep).unwrap(), b"good data");
    assert!(
        stderr(&o).contains("/elsewhere (use -L to follow)"),
        "{}",
        stderr(&o)
    );
    // No temporary left either.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn outcomes_and_heads_once(rt: &str) {
    let root = fixture();
    std::fs::create_dir(root.path().join("d")).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let port = s.port.to_string();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("f.txt");
    std::fs::write(&local, b"x").unwrap();
    let up = local.to_str().unwrap();
    // PUT onto a directory: 409, said once, on stderr (stdout stays for
    // what succeeded); -i and -v add heads only.
    for extra in [&[][..], &["-i"][..], &["-v"][..]] {
        let mut args = vec!["127.0.0.1", port.as_str(), "PUT", "d", "--upload-from", up];
        args.extend_from_slice(extra);
        let o = client(rt, &args);
        assert_eq!(code(&o), 4);
        assert!(o.stdout.is_empty(), "{extra:?}");
        let err = stderr(&o);
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("pared: server answered 409 Conflict"))
                .count(),
            1,
            "{extra:?}: {err}"
        );
    }
    // A success prints its outcome on stdout, once.
    let o = client(
        rt,
        &["127.0.0.1", &port, "PUT", "new.txt", "--upload-from", up],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "201 Created\n");
    // -v: each head's closing line once.
    let o = client(rt, &["127.0.0.1", &port, "hello.txt", "-v"]);
    let err = stderr(&o);
    assert_eq!(err.lines().filter(|l| *l == "<").count(), 1, "{err}");
    assert_eq!(err.lines().filter(|l| *l == ">").count(), 1, "{err}");
    assert_eq!(o.stdout, b"hello\n");
    // -o - is stdout.
    let o = client(rt, &["127.0.0.1", &port, "hello.txt", "-o", "-"]);
    assert_eq!(o.stdout, b"hello\n");
    assert!(!std::path::Path::new("-").exists());
    // HEAD -o FILE: the head goes there.
    let head_file = work.path().join("head.txt");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port,
            "HEAD",
            "hello.txt",
            "-o",
            head_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let head = std::fs::read_to_string(&head_file).unwrap();
    assert!(head.starts_with("HTTP/1.0 200 OK") && head.contains("Content-Length: 6"));
}

fn put_path_is_the_remote_path(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("docs")).unwrap();
    std::fs::write(work.path().join("docs/a.txt"), b"from docs").unwrap();
    // PUT makes no parent folders (RFC 4918 §9.7.1).
    std::fs::create_dir(root.path().join("docs")).unwrap();
    for path in ["/docs/a.txt", "docs/a.txt"] {
        let o = Command::new(pared())
            .args([
                "--runtime",
                rt,
                "client",
                "127.0.0.1",
                &s.port.to_string(),
                "PUT",
                path,
            ])
            .current_dir(work.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{path}: {}", stderr(&o));
        assert_eq!(
            std::fs::read(root.path().join("docs/a.txt")).unwrap(),
            b"from docs"
        );
    }
    let o = Command::new(pared())
        .args([
            "--runtime",
            rt,
            "client",
            "127.0.0.1",
            &s.port.to_string(),
            "PUT",
            "/nope.txt",
        ])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("nope.txt") && err.contains("--upload-from"),
        "{err}"
    );
}

fn many_header_fields_are_fine(rt: &str) {
    let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
    for i in 0..500 {
        reply.extend(format!("X-Field-{i}: value {i}\r\n").as_bytes());
    }
    reply.extend(b"\r\nok");
    let (port, h) = one(reply);
    let o = client(rt, &["127.0.0.1", &port.to_string(), "x"]);
    h.join().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"ok");
}

fn remote_names_and_hops(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let work = tempfile::tempdir().unwrap();
    // -O: the remote name, in the working directory.
    let o = Command::new(pared())
        .args(["--runtime", rt, "client", "-O", &s.url("/list/b.txt")])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(work.path().join("b.txt")).unwrap(), b"b");
    // -o DIR/: the remote name inside DIR.
    let into = work.path().join("into");
    std::fs::create_dir(&into).unwrap();
    let dir_arg = format!("{}/", into.display());
    let o = client(rt, &[&s.url("/hello.txt"), "-o", &dir_arg]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(into.join("hello.txt")).unwrap(), b"hello\n");
    // No usable name: a usage error, nothing written.
    let o = client(rt, &[&s.url("/list/"), "-o", &dir_arg]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // -L -i: every hop's head on stderr, stdout only the final body.
    let o = client(rt, &["127.0.0.1", &s.port.to_string(), "sub", "-L", "-i"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("301 Moved Permanently") && err.contains("200 OK"),
        "{err}"
    );
    assert_eq!(o.stdout, b"<p>index</p>\n");
}

fn bind_by_name_and_urls(rt: &str) {
    let root = fixture();
    let (mut child, mut out) = spawn_server_lines(rt, root.path(), &["--bind", "localhost"]);
    let (mut first, mut second) = (String::new(), String::new());
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    std::io::BufRead::read_line(&mut out, &mut second).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let port = first
        .split("(port ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap()
        .to_owned();
    assert!(
        second.starts_with("pared: open http://127.0.0.1:") || second.contains("http://[::1]:"),
        "{second}"
    );
    assert!(second.contains(&port), "{second}");
}

/// The frictions a new user met (issue "Folders out"): the server's
/// explanation shown with the status; "left as it was" only for a file
/// that exists; PUT to a folder's URL; `-k` in the host-and-port form
/// speaks https; `-u USER` asks for the password on the terminal.
fn frictions_a_new_user_met(rt: &str) {
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("report.txt");
    std::fs::write(&local, b"data").unwrap();
    let up = local.to_str().unwrap();
    // The one-line explanation of a refused write, on stderr.
    let body = "403 Forbidden: writes from other machines need --auth\n";
    let reply = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let srv = one(reply.into_bytes());
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &srv.0.to_string(),
            "PUT",
            "r.txt",
            "--upload-from",
            up,
        ],
    );
    let _ = srv.1.join();
    assert_eq!(code(&o), 4);
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o).trim(),
        "pared: server answered 403 Forbidden: writes from other machines need --auth"
    );
    // "left as it was" only for a file that was there.
    let root = fixture();
    std::fs::create_dir(root.path().join("inbox")).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let port = s.port.to_string();
    let never = work.path().join("never.txt");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &port,
            "GET",
            "nope",
            "-o",
            never.to_str().unwrap(),
        ],
    );
    assert!(!stderr(&o).contains("left as it was"), "{}", stderr(&o));
    let o = client(rt, &["127.0.0.1", &port, "GET", "nope", "-o", up]);
    assert!(stderr(&o).contains("left as it was"), "{}", stderr(&o));
    // PUT to a folder's URL uploads under the local name there.
    let o = client(rt, &["PUT", &s.url("/inbox/"), "--upload-from", up]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.path().join("inbox/report.txt")).unwrap(),
        b"data"
    );
    // PUT LOCAL URL, as curl -T LOCAL URL; with -r a whole folder.
    let tree = work.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/deep.txt"), b"deep").unwrap();
    let o = client(
        rt,
        &["PUT", "-r", tree.to_str().unwrap(), &s.url("/inbox/")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.path().join("inbox/sub/deep.txt")).unwrap(),
        b"deep"
    );
    let o = client(rt, &["PUT", up, &s.url("/inbox/sub/")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.path().join("inbox/sub/report.txt")).unwrap(),
        b"data"
    );
    // -k with the host-and-port form speaks https.
    let tls = Server::start(rt, root.path(), &["--tls-self-signed"]);
    let o = client(
        rt,
        &["127.0.0.1", &tls.port.to_string(), "GET", "hello.txt", "-k"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"hello\n");
    // ... and a plain-http port is then asked again in http.
    let o = client(rt, &["127.0.0.1", &port, "GET", "hello.txt", "-k"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"hello\n");
    // -u USER asks for the password on the terminal.
    require_tool("script");
    let users = Server::start(rt, root.path(), &["--auth", "ann:s3cret", "--auth-reads"]);
    let cmd = format!(
        "{} --runtime {rt} client 127.0.0.1 {} GET hello.txt -u ann",
        pared().display(),
        users.port
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    std::thread::sleep(std::time::Duration::from_millis(500));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"s3cret\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let o = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(
        screen.contains("Enter host password for user 'ann':"),
        "{screen}"
    );
    assert!(screen.contains("hello"), "{screen}");
    assert!(
        !screen.contains("s3cret"),
        "the password is not echoed: {screen}"
    );
}

per_runtime!(
    frictions_a_new_user_met,
    remote_names_and_hops,
    bind_by_name_and_urls,
    errors_never_replace_the_output,
    outcomes_and_heads_once,
    put_path_is_the_remote_path,
    many_header_fields_are_fine,
);

#[test]
fn completions_and_man_page() {
    let o = Command::new(pared())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(script.contains("_pared()") && script.contains("--max-per-client"));
    let o = Command::new(pared()).arg("man").output().unwrap();
    assert!(o.status.success());
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(page.contains(".TH pared 1"), "{page}");
    assert!(page.contains("pared\\-server(1)") && page.contains("pared\\-client(1)"));
    for (which, option) in [("server", "max\\-per\\-client"), ("client", "jobs")] {
        let o = Command::new(pared()).args(["man", which]).output().unwrap();
        let page = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success());
        assert!(page.contains(&format!(".TH pared-{which} 1")), "{page}");
        assert!(page.contains(option), "{which}: {option}");
    }
    let o = Command::new(pared())
        .args(["client", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("[default: 30]"),
        "the timeout's default is shown"
    );
}
