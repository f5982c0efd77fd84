//! The directory page in a real browser, both runtimes: headless
//! Chromium driven by Selenium (tests/browser/listing.py). `.ci/run`
//! installs chromium, chromium-driver and selenium.

mod support;

use std::process::{Command, Stdio};

use support::*;

fn page_in_chromium(rt: &str) {
    require_tool("chromium");
    require_tool("chromedriver");
    require_python_module("selenium");
    let root = fixture();
    std::fs::write(root.path().join("big.bin"), vec![7u8; 400_000]).unwrap();
    std::fs::write(
        root.path().join("<img src=x onerror=alert(1)>.txt"),
        b"evil",
    )
    .unwrap();
    let writable = Server::start(rt, root.path(), &[]);
    let readonly = Server::start(rt, root.path(), &["--read-only"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/listing.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(writable.url("/"))
        .arg(readonly.url("/"))
        .arg(root.path());
    if let Ok(shot) = std::env::var("PARED_SCREENSHOT") {
        cmd.arg(shot);
    }
    let o = cmd.stdin(Stdio::null()).output().expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// A directory of 100,000 entries: shown a page of 1,000 at a time (the
/// summary counts them all, and the last page has the last entry), and the
/// server's peak memory stays small: the folder is held compactly while it
/// is sorted, and only a page is rendered.
fn huge_directory(rt: &str) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..100_000 {
        std::fs::File::create(dir.join(format!("f{i:06}.txt"))).unwrap();
    }
    let s = Server::start(rt, root.path(), &[]);
    let before = rss_kib(s.child.id());
    let page = |target: &str| {
        let mut c = s.connect();
        c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        std::io::Write::write_all(&mut c, format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut c, false);
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    };
    let first = page("/many/?sort=size");
    assert!(first.contains(">f000000.txt<") && !first.contains(">f001000.txt<"));
    assert!(first.contains("0 folders, 100000 files"));
    assert!(first.contains("Page 1 of 100"));
    assert!(first.len() < 1 << 20, "one page: {} bytes", first.len());
    let last = page("/many/?sort=size&page=100");
    assert!(last.contains(">f099999.txt<") && !last.contains(">f098999.txt<"));
    let peak = rss_kib(s.child.id());
    assert!(
        peak.saturating_sub(before) < 40 * 1024,
        "listing 100,000 entries took {} KiB",
        peak.saturating_sub(before)
    );
}

/// The page sends a large file in parts (the resumable-upload draft)
/// through nginx with a 10 MiB body cap, and resumes by itself after the
/// network is cut (nginx stopped and started again mid-upload).
fn page_resumes_through_a_capped_proxy(rt: &str) {
    require_tool("chromium");
    require_tool("chromedriver");
    require_python_module("selenium");
    let root = tempfile::tempdir().unwrap();
    let mut pared = Server::start_with(rt, root.path(), &["--public-writes"], false);
    let conf = format!(
        "server {{ listen 127.0.0.1:{{port}}; client_max_body_size 10m; \
         location / {{ proxy_pass http://127.0.0.1:{}; proxy_http_version 1.1; \
         proxy_set_header Connection \"\"; }} }}",
        pared.port
    );
    let nginx = Nginx::start(&conf);
    let port = nginx.port;
    // The cap is real: one 11 MiB PUT through it is refused.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(
        &mut c,
        b"PUT /whole.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11534336\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(read_response(&mut c, false).status, 413);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/resumable.py");
    let py = Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .arg(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    // Once 24 MiB are in, cut the network: stop nginx, start it again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let held = resumable_bytes(root.path());
        if held >= 24 << 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never got going"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(nginx);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _nginx = Nginx::start_at(port, &conf);
    let o = py.wait_with_output().expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!root
        .path()
        .read_dir()
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(".pared-")));
    // The page really resumed: it asked the server for the offset.
    pared.terminate(std::time::Duration::from_secs(10));
    let log = pared.stderr_text();
    assert!(
        log.lines().any(|l| l.contains("\"HEAD /big.iso?upload=")),
        "no offset retrieval in the log"
    );
    let parts = log
        .lines()
        .filter(|l| l.contains("\"PATCH /big.iso?upload="))
        .count();
    assert!(parts >= 13, "100 MiB in 8 MiB parts: {parts} PATCHes");
}

per_runtime!(
    page_resumes_through_a_capped_proxy,
    page_in_chromium,
    huge_directory
);
