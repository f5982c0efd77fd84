//! HTTP semantics on the real binary, both runtimes: ETags and the
//! preconditions of RFC 9110 §13, byte ranges (§14), conditional writes,
//! and RFC 9530 digests on upload and download.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

fn req(s: &Server, text: &str) -> Response {
    raw(s, text.as_bytes())
}

fn get_with(s: &Server, path: &str, fields: &[(&str, &str)]) -> Response {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in fields {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    req(s, &r)
}

fn put_with(s: &Server, path: &str, body: &[u8], fields: &[(&str, &str)]) -> Response {
    let mut c = s.connect();
    let mut r = format!(
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in fields {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    c.write_all(r.as_bytes()).unwrap();
    // The server may answer (412) before reading the body and close.
    let _ = c.write_all(body);
    read_response(&mut c, false)
}

fn delete_with(s: &Server, path: &str, fields: &[(&str, &str)]) -> Response {
    let mut r = format!("DELETE {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in fields {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    req(s, &r)
}

fn no_temporaries(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pared-upload"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

fn sha256_b64(data: &[u8]) -> String {
    let mut h = pared_core::digest::Hasher::new(false);
    h.update(data);
    h.finish().remove(0).field_value()
}

fn validators_and_conditional_reads(rt: &str) {
    let root = fixture();
    let data = random_bytes(10_000, 1);
    std::fs::write(root.path().join("f.bin"), &data).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let ok = get(&s, "/f.bin");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("accept-ranges").as_deref(), Some("bytes"));
    let etag = ok.header("etag").expect("ETag on a file");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let lm = ok.header("last-modified").expect("Last-Modified");
    // HEAD has the same validators.
    let head = req(&s, "HEAD /f.bin HTTP/1.0\r\n\r\n");
    assert_eq!(head.header("etag"), Some(etag.clone()));
    // If-None-Match: 304 with the ETag, weak comparison.
    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"x\", {etag}"),
        "*".into(),
    ] {
        let r = get_with(&s, "/f.bin", &[("If-None-Match", &inm)]);
        assert_eq!(r.status, 304, "{inm}");
        assert_eq!(r.header("etag"), Some(etag.clone()));
        assert!(r.body.is_empty());
    }
    // If-None-Match wins over If-Modified-Since.
    let r = get_with(
        &s,
        "/f.bin",
        &[("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        get_with(&s, "/f.bin", &[("If-Modified-Since", &lm)]).status,
        304
    );
    // If-Match: strong comparison, 412 otherwise.
    assert_eq!(get_with(&s, "/f.bin", &[("If-Match", &etag)]).status, 200);
    assert_eq!(
        get_with(&s, "/f.bin", &[("If-Match", &format!("W/{etag}"))]).status,
        412
    );
    assert_eq!(
        get_with(&s, "/f.bin", &[("If-Match", "\"nope\"")]).status,
        412
    );
    assert_eq!(
        get_with(
            &s,
            "/f.bin",
            &[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]
        )
        .status,
        412
    );
    // Preconditions do not turn a 404 into a 412.
    assert_eq!(get_with(&s, "/missing", &[("If-Match", "*")]).status, 404);
}

fn ranges(rt: &str) {
    let root = fixture();
    let data = random_bytes(10_000, 2);
    std::fs::write(root.path().join("f.bin"), &data).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let etag = get(&s, "/f.bin").header("etag").unwrap();
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=100-199")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range").as_deref(),
        Some("bytes 100-199/10000")
    );
    assert!(r.body == data[100..200]);
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=9990-")]);
    assert!(r.status == 206 && r.body == data[9990..]);
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=-5")]);
    assert!(r.status == 206 && r.body == data[9995..]);
    // Unsatisfiable: 416 with the length.
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=10000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").as_deref(), Some("bytes */10000"));
    // Malformed or another unit: ignored.
    for bad in ["bytes=9-1", "lines=1-2", "bytes=abc", "bytes"] {
        let r = get_with(&s, "/f.bin", &[("Range", bad)]);
        assert!(r.status == 200 && r.body == data, "{bad}");
    }
    // If-Range: a current ETag honours the Range, a stale one or a weak
    // one gets the whole file; so does a date that is not Last-Modified.
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=0-9"), ("If-Range", &etag)]);
    assert_eq!(r.status, 206);
    for stale in [
        "\"old\"".to_owned(),
        format!("W/{etag}"),
        "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
    ] {
        let r = get_with(
            &s,
            "/f.bin",
            &[("Range", "bytes=0-9"), ("If-Range", &stale)],
        );
        assert!(r.status == 200 && r.body == data, "{stale}");
    }
    // Several ranges: multipart/byteranges, parts ascending.
    let r = get_with(&s, "/f.bin", &[("Range", "bytes=5000-5009, 0-9")]);
    assert_eq!(r.status, 206);
    let parts = multipart(&r);
    assert_eq!(parts.len(), 2);
    assert_eq!((parts[0].0, parts[1].0), (0, 5000));
    for (first, bytes) in &parts {
        assert!(bytes[..] == data[*first..*first + bytes.len()]);
    }
    // Overlapping ranges are coalesced: no amplification.
    let many = vec!["0-"; 50].join(",");
    let r = get_with(&s, "/f.bin", &[("Range", &format!("bytes={many}"))]);
    assert!(r.body.len() <= data.len() + 200, "{}", r.body.len());
    // HEAD ignores Range.
    let r = req(&s, "HEAD /f.bin HTTP/1.0\r\nRange: bytes=0-1\r\n\r\n");
    assert_eq!(r.status, 200);
}

/// Splits a multipart/byteranges response into (first offset, bytes).
fn multipart(r: &Response) -> Vec<(usize, Vec<u8>)> {
    let ct = r.header("content-type").unwrap();
    let boundary = ct.split("boundary=").nth(1).expect("boundary").to_owned();
    assert_eq!(
        r.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        r.body.len()
    );
    let delim = format!("\r\n--{boundary}");
    let mut out = Vec::new();
    let mut rest = &r.body[..];
    loop {
        assert!(rest.starts_with(delim.as_bytes()), "delimiter expected");
        rest = &rest[delim.len()..];
        if rest.starts_with(b"--") {
            assert_eq!(rest, b"--\r\n");
            return out;
        }
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("part head");
        let head = String::from_utf8_lossy(&rest[2..end]).into_owned();
        let cr = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: bytes "))
            .expect("part Content-Range");
        let (span, _) = cr.split_once('/').unwrap();
        let (a, b) = span.split_once('-').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        rest = &rest[end + 4..];
        out.push((a, rest[..b - a + 1].to_vec()));
        rest = &rest[b - a + 1..];
    }
}

fn random_ranges_reassemble(rt: &str) {
    let root = fixture();
    let len = 300_000;
    let data = random_bytes(len, 3);
    std::fs::write(root.path().join("r.bin"), &data).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let mut rebuilt = vec![None; len];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    for _ in 0..150 {
        let n = 1 + next(3);
        let specs: Vec<String> = (0..n)
            .map(|_| {
                let a = next(len);
                let b = a + next(4000);
                format!("{a}-{b}")
            })
            .collect();
        let r = get_with(
            &s,
            "/r.bin",
            &[("Range", &format!("bytes={}", specs.join(",")))],
        );
        assert_eq!(r.status, 206);
        let parts = if r.header("content-type").unwrap().starts_with("multipart/") {
            multipart(&r)
        } else {
            let cr = r.header("content-range").unwrap();
            let first = cr[6..].split('-').next().unwrap().parse().unwrap();
            vec![(first, r.body.clone())]
        };
        for (first, bytes) in parts {
            for (i, b) in bytes.iter().enumerate() {
                rebuilt[first + i] = Some(*b);
            }
        }
    }
    // Fill the rest with suffix and open ranges, then compare byte-exact.
    let r = get_with(&s, "/r.bin", &[("Range", "bytes=0-")]);
    for (i, b) in r.body.iter().enumerate() {
        if let Some(seen) = rebuilt[i] {
            assert_eq!(seen, *b, "byte {i} differs between responses");
        }
        rebuilt[i] = Some(*b);
    }
    let rebuilt: Vec<u8> = rebuilt.into_iter().map(|b| b.unwrap()).collect();
    assert!(rebuilt == data);
}

fn conditional_writes(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    // Create only: one 201, then 412 and the file untouched.
    let r = put_with(&s, "/c.txt", b"first", &[("If-None-Match", "*")]);
    assert_eq!(r.status, 201);
    let e1 = r.header("etag").expect("ETag on PUT");
    let r = put_with(&s, "/c.txt", b"second", &[("If-None-Match", "*")]);
    assert_eq!(r.status, 412);
    assert_eq!(std::fs::read(root.path().join("c.txt")).unwrap(), b"first");
    assert_eq!(get(&s, "/c.txt").header("etag"), Some(e1.clone()));
    // If-Match: a stale ETag is refused, the current one replaces.
    let r = put_with(&s, "/c.txt", b"third", &[("If-Match", "\"stale\"")]);
    assert_eq!(r.status, 412);
    let r = put_with(&s, "/c.txt", b"third", &[("If-Match", &e1)]);
    assert_eq!(r.status, 200);
    let e2 = r.header("etag").unwrap();
    assert_ne!(e1, e2);
    assert_eq!(get(&s, "/c.txt").header("etag"), Some(e2.clone()));
    // The same content again still gets a new ETag: every write is a version.
    let r = put_with(&s, "/c.txt", b"third", &[]);
    let e3 = r.header("etag").unwrap();
    assert_ne!(e2, e3);
    assert_eq!(
        put_with(&s, "/c.txt", b"x", &[("If-Match", &e2)]).status,
        412
    );
    // If-Match on a missing file, and If-Unmodified-Since.
    assert_eq!(
        put_with(&s, "/none.txt", b"x", &[("If-Match", "*")]).status,
        412
    );
    assert!(!root.path().join("none.txt").exists());
    assert_eq!(
        put_with(
            &s,
            "/c.txt",
            b"y",
            &[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]
        )
        .status,
        412
    );
    assert_eq!(
        put_with(
            &s,
            "/c.txt",
            b"y",
            &[("If-Unmodified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")]
        )
        .status,
        200
    );
    // DELETE with If-Match.
    let cur = get(&s, "/c.txt").header("etag").unwrap();
    assert_eq!(
        delete_with(&s, "/c.txt", &[("If-Match", "\"stale\"")]).status,
        412
    );
    assert!(root.path().join("c.txt").exists());
    assert_eq!(delete_with(&s, "/c.txt", &[("If-Match", &cur)]).status, 200);
    assert!(!root.path().join("c.txt").exists());
    assert_eq!(delete_with(&s, "/c.txt", &[("If-Match", "*")]).status, 404);
    no_temporaries(root.path());
}

fn upload_digests(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let body = random_bytes(700_000, 4);
    let good = sha256_b64(&body);
    let r = put_with(&s, "/d.bin", &body, &[("Content-Digest", &good)]);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("repr-digest"), Some(good.clone()));
    // The digest is known now: every GET and HEAD carries it.
    assert_eq!(get(&s, "/d.bin").header("repr-digest"), Some(good.clone()));
    let head = req(&s, "HEAD /d.bin HTTP/1.0\r\n\r\n");
    assert_eq!(head.header("repr-digest"), Some(good.clone()));
    // A corrupted body (digest of other bytes): 400, the old file stays.
    let other = random_bytes(700_000, 8);
    for field in ["Content-Digest", "Repr-Digest"] {
        let r = put_with(&s, "/d.bin", &other, &[(field, &good)]);
        assert_eq!(r.status, 400, "{field}");
        assert!(
            std::fs::read(root.path().join("d.bin")).unwrap() == body,
            "old file replaced"
        );
    }
    no_temporaries(root.path());
    // sha-512 is checked too; unknown algorithms are ignored.
    let mut h = pared_core::digest::Hasher::new(true);
    h.update(b"abc");
    let d512 = h.finish().remove(1).field_value();
    assert_eq!(
        put_with(&s, "/e.txt", b"abd", &[("Repr-Digest", &d512)]).status,
        400
    );
    assert!(!root.path().join("e.txt").exists());
    assert_eq!(
        put_with(&s, "/e.txt", b"abc", &[("Repr-Digest", &d512)]).status,
        201
    );
    assert_eq!(
        put_with(&s, "/e.txt", b"abc", &[("Content-Digest", "md5=:AAAA:")]).status,
        200
    );
    // Large uploads are hashed on a helper thread: the same checks hold.
    let big = random_bytes(6 << 20, 9);
    let mut h = pared_core::digest::Hasher::new(true);
    h.update(&big);
    let big512 = h.finish().remove(1).field_value();
    let mut bad = big.clone();
    bad[5 << 20] ^= 1;
    assert_eq!(
        put_with(&s, "/big.bin", &bad, &[("Content-Digest", &big512)]).status,
        400
    );
    assert!(!root.path().join("big.bin").exists());
    let r = put_with(&s, "/big.bin", &big, &[("Content-Digest", &big512)]);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("repr-digest"), Some(sha256_b64(&big)));
    // Want-Repr-Digest on a file pared did not write: computed.
    std::fs::write(root.path().join("w.txt"), b"abc").unwrap();
    let r = get_with(&s, "/w.txt", &[("Want-Repr-Digest", "sha-512=3")]);
    assert_eq!(r.header("repr-digest"), Some(d512));
    let r = get_with(&s, "/w.txt", &[("Want-Repr-Digest", "sha-256=1")]);
    assert_eq!(r.header("repr-digest"), Some(sha256_b64(b"abc")));
    // Changed behind pared's back: the kept digest is stale and not sent.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(root.path().join("w.txt"), b"abcd").unwrap();
    let r = get(&s, "/w.txt");
    assert_eq!(r.header("repr-digest"), None, "stale digest served");
}

fn corrupted_upload_keeps_old_file(rt: &str) {
    let root = fixture();
    let s = Server::start(rt, root.path(), &[]);
    let old = b"the old content".to_vec();
    assert_eq!(put(&s, "/k.txt", &old).status, 201);
    let new = random_bytes(300_000, 6);
    let wrong = sha256_b64(&new[1..]);
    let r = put_with(&s, "/k.txt", &new, &[("Content-Digest", &wrong)]);
    assert_eq!(r.status, 400);
    assert_eq!(std::fs::read(root.path().join("k.txt")).unwrap(), old);
    no_temporaries(root.path());
}

/// h11 (the Python HTTP/1.1 state machine) parses every 206, 416, 304 and
/// multipart response pared sends.
fn h11_parses_partial_responses(rt: &str) {
    require_python_module("h11");
    let root = fixture();
    std::fs::write(root.path().join("f.bin"), random_bytes(5000, 7)).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let script = r#"
import socket, sys, h11
port = int(sys.argv[1])
def fetch(headers):
    c = h11.Connection(h11.CLIENT)
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(c.send(h11.Request(method="GET", target="/f.bin",
        headers=[("Host", "x"), ("Connection", "close")] + headers)))
    s.sendall(c.send(h11.EndOfMessage()))
    resp, body = None, b""
    while True:
        e = c.next_event()
        if e is h11.NEED_DATA:
            c.receive_data(s.recv(65536))
            continue
        if isinstance(e, h11.Response): resp = e
        elif isinstance(e, h11.Data): body += e.data
        elif isinstance(e, h11.EndOfMessage): break
    s.close()
    return resp.status_code, dict(resp.headers), body
st, h, b = fetch([])
etag = h[b"etag"].decode()
assert st == 200 and len(b) == 5000
st, h, b = fetch([("Range", "bytes=10-19")]); assert st == 206 and len(b) == 10, st
st, h, b = fetch([("Range", "bytes=0-1,100-101,-3")]); assert st == 206, st
assert h[b"content-type"].startswith(b"multipart/byteranges"), h
assert int(h[b"content-length"]) == len(b)
st, h, b = fetch([("Range", "bytes=9000-")]); assert st == 416 and h[b"content-range"] == b"bytes */5000", (st, h)
st, h, b = fetch([("If-None-Match", etag)]); assert st == 304 and b == b"", st
st, h, b = fetch([("If-Match", '"x"')]); assert st == 412, st
print("ok")
"#;
    let o = Command::new("python3")
        .args(["-c", script, &s.port.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

per_runtime!(
    validators_and_conditional_reads,
    ranges,
    random_ranges_reassemble,
    conditional_writes,
    upload_digests,
    corrupted_upload_keeps_old_file,
    h11_parses_partial_responses,
);
