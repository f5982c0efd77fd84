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

per_runtime!(page_in_chromium, huge_directory);
