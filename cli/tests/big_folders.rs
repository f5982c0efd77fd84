//! Big folders cost bounded memory and no wasted work (issue "Hardening,
//! second pass", item 1), end to end on both runtimes: the page is cut
//! into pages of 1,000 entries, a HEAD renders nothing, and a PROPFIND's
//! 207 is written while it is sent. Each of these failed before the fix
//! (the page held every entry, a HEAD rendered it, the 207 was built
//! whole with a Content-Length).

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use support::*;

const ENTRIES: usize = 2345;

fn big_folder(root: &Path) {
    let dir = root.join("big");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..ENTRIES {
        std::fs::write(dir.join(format!("n{i:04}.txt")), b"x").unwrap();
    }
    std::fs::create_dir(dir.join("zsub")).unwrap();
}

/// Sends `request` and reads everything until the server closes.
fn exchange(s: &Server, request: &str) -> (String, Vec<u8>) {
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let body = all.split_off(end);
    (String::from_utf8_lossy(&all).into_owned(), body)
}

/// Decodes a chunked body; panics unless it ends with its last chunk.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            assert_eq!(data, b"\r\n", "the body ends after the last chunk");
            return out;
        }
        out.extend_from_slice(&data[..size]);
        assert_eq!(&data[size..size + 2], b"\r\n");
        data = &data[size + 2..];
    }
}

fn rows(page: &str) -> usize {
    page.matches("<tr><td class=\"n\"><svg").count()
}

/// The page shows 1,000 entries at a time with links between pages and
/// totals over the whole folder; a HEAD renders nothing.
fn the_page_is_cut_into_pages(rt: &str) {
    let root = fixture();
    big_folder(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let first = get(&s, "/big/");
    assert_eq!(first.status, 200);
    let html = String::from_utf8(first.body).unwrap();
    assert_eq!(rows(&html), 1000, "one page");
    assert!(html.contains(">zsub/<"), "folders first");
    assert!(html.contains("1 folder, 2345 files"));
    assert!(html.contains("Page 1 of 3"));
    assert!(html.contains("href=\"?sort=name&amp;order=asc&amp;page=2\""));
    let last = String::from_utf8(get(&s, "/big/?order=desc&page=3").body).unwrap();
    assert_eq!(rows(&last), 346);
    assert!(last.contains(">n0000.txt<") && !last.contains(">zsub/<"));
    let head = raw(&s, b"HEAD /big/ HTTP/1.0\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        None,
        "a HEAD of a folder renders no page to measure"
    );
    assert!(head
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    // A small folder keeps one page and no pager.
    let small = String::from_utf8(get(&s, "/sub/").body).unwrap();
    assert!(!small.contains("class=\"pages\""));
}

const PROPFIND: &str = "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:getcontentlength/><D:resourcetype/></D:prop></D:propfind>";

/// A PROPFIND of a big folder is streamed: chunked to HTTP/1.1, closed to
/// HTTP/1.0, complete and well-formed either way; a small one keeps its
/// Content-Length.
fn propfind_is_streamed(rt: &str) {
    let root = fixture();
    big_folder(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let request = |version: &str, path: &str| {
        format!(
            "PROPFIND {path} {version}\r\nHost: localhost\r\nDepth: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{PROPFIND}",
            PROPFIND.len()
        )
    };
    let (head, body) = exchange(&s, &request("HTTP/1.1", "/big/"));
    assert!(head.starts_with("HTTP/1.1 207"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("content-length"));
    let xml = String::from_utf8(dechunk(&body)).unwrap();
    assert_eq!(xml.matches("<D:response>").count(), ENTRIES + 2);
    assert!(xml.trim_end().ends_with("</D:multistatus>"));
    assert!(xml.contains("<D:href>/big/n2344.txt</D:href>"));
    let (head10, body10) = exchange(&s, &request("HTTP/1.0", "/big/"));
    assert!(head10.starts_with("HTTP/1.0 207"), "{head10}");
    assert!(!head10.contains("chunked"));
    assert_eq!(String::from_utf8(body10).unwrap(), xml);
    let (small_head, small) = exchange(&s, &request("HTTP/1.1", "/sub/"));
    assert!(small_head.contains("Content-Length:"), "{small_head}");
    assert!(String::from_utf8(small)
        .unwrap()
        .contains("</D:multistatus>"));
    // The streamed answer parses as XML (Python's expat).
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,xml.dom.minidom as m; d=m.parseString(sys.stdin.buffer.read()); print(len(d.getElementsByTagNameNS('DAV:','response')))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            p.stdin.take().unwrap().write_all(xml.as_bytes())?;
            p.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        (ENTRIES + 2).to_string()
    );
}

per_runtime!(the_page_is_cut_into_pages, propfind_is_streamed);
