//! Resumed downloads and the client's integrity and precondition flags:
//! pared's `-C` against pared, nginx and Python's http.server; curl's
//! `-r`/`-C -` and wget's `-c` against pared; digests checked on GET and
//! sent on PUT; `--if-match` and `--create-only` with their exit codes.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::*;

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn partial_of(out: &Path) -> std::path::PathBuf {
    out.with_file_name(format!(
        ".{}.pared-part",
        out.file_name().unwrap().to_string_lossy()
    ))
}

/// Interrupts a `-C` download of `path` from `port` through the cutting
/// proxy, then resumes it directly; returns the second run's output.
fn interrupt_then_resume(rt: &str, port: u16, path: &str, out: &Path) -> std::process::Output {
    let (proxy, h) = cutting_proxy(port, 400_000);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &proxy.to_string(),
            "GET",
            path,
            "-o",
            out.to_str().unwrap(),
            "-C",
            "--timeout",
            "20",
        ],
    );
    h.join().unwrap();
    assert_eq!(code(&o), 3, "truncated download: {}", stderr(&o));
    assert!(
        !out.exists(),
        "an incomplete download was renamed into place"
    );
    let part = partial_of(out);
    let held = std::fs::metadata(&part).expect("partial kept for -C").len();
    assert!(held > 0, "partial is empty");
    client(
        rt,
        &[
            "127.0.0.1",
            &port.to_string(),
            "GET",
            path,
            "-o",
            out.to_str().unwrap(),
            "-C",
            "-v",
            "--timeout",
            "20",
        ],
    )
}

fn resume_against_pared(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let data = random_bytes(3 << 20, 21);
    // Uploaded through pared, so its digest is known and the resumed
    // response carries Repr-Digest: the whole file is then verified.
    assert_eq!(put(&s, "/big.bin", &data).status, 201);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.bin");
    let o = interrupt_then_resume(rt, s.port, "big.bin", &out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("> Range: bytes="), "{err}");
    assert!(err.contains("> If-Range: \""), "{err}");
    assert!(err.contains("< HTTP/1.0 206"), "{err}");
    assert!(err.contains("< Repr-Digest: sha-256="), "{err}");
    assert!(std::fs::read(&out).unwrap() == data, "resumed file differs");
    assert!(!partial_of(&out).exists(), "partial left behind");

    // A remote file that changed restarts from zero (If-Range fails).
    std::fs::remove_file(&out).unwrap();
    let (proxy, h) = cutting_proxy(s.port, 300_000);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &proxy.to_string(),
            "big.bin",
            "-o",
            out.to_str().unwrap(),
            "-C",
        ],
    );
    h.join().unwrap();
    assert_eq!(code(&o), 3);
    let changed = random_bytes(2 << 20, 22);
    assert_eq!(put(&s, "/big.bin", &changed).status, 200);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "big.bin",
            "-o",
            out.to_str().unwrap(),
            "-C",
            "-v",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("< HTTP/1.0 200"), "{}", stderr(&o));
    assert!(std::fs::read(&out).unwrap() == changed, "restart differs");

    // A partial that is already whole: 416 for exactly its length.
    let part = partial_of(&out);
    std::fs::rename(&out, &part).unwrap();
    let etag = get(&s, "/big.bin").header("etag").unwrap();
    set_validator(&part, &etag);
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "big.bin",
            "-o",
            out.to_str().unwrap(),
            "-C",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(&out).unwrap() == changed);
    // An error answer leaves a partial (and the output) as they were.
    std::fs::write(&part, b"partial bytes").unwrap();
    set_validator(&part, "\"x\"");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "missing.bin",
            "-o",
            out.to_str().unwrap(),
            "-C",
        ],
    );
    assert_eq!(code(&o), 4);
    assert_eq!(std::fs::read(&part).unwrap(), b"partial bytes");
    assert!(
        std::fs::read(&out).unwrap() == changed,
        "-o replaced by an error"
    );
}

fn set_validator(path: &Path, v: &str) {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], 'user.pared.validator', sys.argv[2].encode())",
        ])
        .arg(path)
        .arg(v)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn resume_against_nginx(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(3 << 20, 23);
    std::fs::write(dir.path().join("n.bin"), &data).unwrap();
    let ng = Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{{port}}; root {}; }}",
        dir.path().display()
    ));
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("n.bin");
    let o = interrupt_then_resume(rt, ng.port, "n.bin", &out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("< HTTP/1.1 206"), "{}", stderr(&o));
    assert!(std::fs::read(&out).unwrap() == data, "resumed file differs");
}

fn resume_against_python(rt: &str) {
    // http.server has no Range support: the resume restarts cleanly.
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(3 << 20, 24);
    std::fs::write(dir.path().join("p.bin"), &data).unwrap();
    let py = python_server(dir.path());
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("p.bin");
    let o = interrupt_then_resume(rt, py.1, "p.bin", &out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains(" 200 "), "{}", stderr(&o));
    assert!(
        std::fs::read(&out).unwrap() == data,
        "restarted file differs"
    );
    assert!(!partial_of(&out).exists());
}

/// A server that answers one request with `reply`.
fn one_reply(reply: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    scripted_server(vec![Some(reply)])
}

fn digest_of(data: &[u8]) -> String {
    let mut h = pared_core::digest::Hasher::new(false);
    h.update(data);
    h.finish().remove(0).field_value()
}

fn download_digests_are_checked(rt: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.txt");
    for (field, digest, want) in [
        ("Repr-Digest", digest_of(b"hello"), 0),
        ("Content-Digest", digest_of(b"hello"), 0),
        ("Repr-Digest", digest_of(b"hellO"), 8),
        ("Content-Digest", digest_of(b"hellO"), 8),
        ("Repr-Digest", "md5=:AAAA:".to_owned(), 0),
    ] {
        let _ = std::fs::remove_file(&out);
        let reply =
            format!("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n{field}: {digest}\r\n\r\nhello");
        let (port, h) = one_reply(reply.into_bytes());
        let o = client(
            rt,
            &[
                "127.0.0.1",
                &port.to_string(),
                "d.txt",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        h.join().unwrap();
        assert_eq!(code(&o), want, "{field} {digest}: {}", stderr(&o));
        assert_eq!(out.exists(), want == 0, "{field}");
        if want == 8 {
            assert!(stderr(&o).contains("mismatch"), "{}", stderr(&o));
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            usize::from(want == 0)
        );
    }
}

fn upload_flags(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let port = s.port.to_string();
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("up.txt");
    std::fs::write(&local, b"version one").unwrap();
    let up = local.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "127.0.0.1",
            port.as_str(),
            "PUT",
            "up.txt",
            "--upload-from",
            up,
        ];
        a.extend_from_slice(extra);
        client(rt, &a)
    };
    // --digest: the server checks it and answers with the same digest.
    let o = run(&["--digest", "--create-only", "-v"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = digest_of(b"version one");
    assert!(
        stderr(&o).contains(&format!("> Content-Digest: {want}")),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&format!("< Repr-Digest: {want}")),
        "{}",
        stderr(&o)
    );
    // --create-only again: 412, exit 7, file untouched.
    std::fs::write(&local, b"version two").unwrap();
    let o = run(&["--create-only"]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert_eq!(
        std::fs::read(root.path().join("up.txt")).unwrap(),
        b"version one"
    );
    // --if-match with the current ETag (bare or quoted) replaces; a stale one exits 7.
    let etag = get(&s, "/up.txt").header("etag").unwrap();
    let o = run(&["--if-match", "stale"]);
    assert_eq!(code(&o), 7);
    let o = run(&["--if-match", etag.trim_matches('"'), "-i"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("ETag: \""), "-i shows the ETag");
    assert_eq!(
        std::fs::read(root.path().join("up.txt")).unwrap(),
        b"version two"
    );
    let o = run(&["--if-match", &etag]);
    assert_eq!(code(&o), 7, "the old ETag no longer matches");
    // DELETE with --if-match.
    let new = get(&s, "/up.txt").header("etag").unwrap();
    let o = client(
        rt,
        &["127.0.0.1", &port, "DELETE", "up.txt", "--if-match", &etag],
    );
    assert_eq!(code(&o), 7);
    let o = client(
        rt,
        &["127.0.0.1", &port, "DELETE", "up.txt", "--if-match", &new],
    );
    assert_eq!(code(&o), 0);
    assert!(!root.path().join("up.txt").exists());
}

fn curl_and_wget_resume(rt: &str) {
    require_tool("curl");
    require_tool("wget");
    let root = fixture();
    let data = random_bytes(2 << 20, 25);
    std::fs::write(root.path().join("c.bin"), &data).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    // curl -r: one range, and two (multipart).
    let o = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-r",
            "1000-1999",
            &s.url("/c.bin"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.stdout == data[1000..2000], "{}", stderr(&o));
    let o = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-i",
            "-r",
            "0-9,100-109",
            &s.url("/c.bin"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("206 Partial Content") && text.contains("multipart/byteranges"));
    // curl -C -: continues a partial file.
    let cf = dir.path().join("curl.bin");
    std::fs::write(&cf, &data[..700_000]).unwrap();
    let o = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20", "-C", "-", "-o"])
        .arg(&cf)
        .arg(s.url("/c.bin"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(&cf).unwrap() == data,
        "curl -C - result differs"
    );
    // wget -c: the same.
    let wf = dir.path().join("c.bin");
    std::fs::write(&wf, &data[..123_457]).unwrap();
    let o = Command::new("wget")
        .args(["-q", "-c", "-T", "20", "-t", "1"])
        .current_dir(dir.path())
        .arg(s.url("/c.bin"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(&wf).unwrap() == data,
        "wget -c result differs"
    );
}

/// A download cut without -C keeps its partial with the validator and
/// says how to resume; the same command with -C then resumes it. A
/// refused download keeps nothing.
fn cut_without_c_is_kept_for_later(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let data = random_bytes(3 << 20, 33);
    assert_eq!(put(&s, "/big.bin", &data).status, 201);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.bin");
    let (proxy, h) = cutting_proxy(s.port, 500_000);
    let cut = client(
        rt,
        &[
            "127.0.0.1",
            &proxy.to_string(),
            "GET",
            "big.bin",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    h.join().unwrap();
    assert_eq!(code(&cut), 3, "{}", stderr(&cut));
    assert!(!out.exists());
    let err = stderr(&cut);
    assert!(err.contains("the same command with -C resumes it"), "{err}");
    let part = partial_of(&out);
    assert!(
        std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) > 0,
        "{err}"
    );
    let resumed = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "GET",
            "big.bin",
            "-o",
            out.to_str().unwrap(),
            "-C",
            "-v",
        ],
    );
    let err = stderr(&resumed);
    assert_eq!(code(&resumed), 0, "{err}");
    assert!(err.contains("< HTTP/1.0 206"), "{err}");
    assert!(std::fs::read(&out).unwrap() == data);
    assert!(!part.exists());
    // A refusal keeps nothing.
    let missing = dir.path().join("nope.bin");
    let o = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "GET",
            "nope",
            "-o",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 4);
    assert!(!partial_of(&missing).exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only big.bin"
    );
}

per_runtime!(
    cut_without_c_is_kept_for_later,
    resume_against_pared,
    resume_against_nginx,
    resume_against_python,
    download_digests_are_checked,
    upload_flags,
    curl_and_wget_resume,
);
