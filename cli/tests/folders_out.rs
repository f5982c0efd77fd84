//! Folders out (issue "Folders out"), end to end on both runtimes: the
//! JSON listing (by Accept or `?format=json`, the page's order and pages,
//! ETags that match a GET's), search (`?q=`: names under the folder,
//! never dot-files, never through a link; as a page and as JSON), and the
//! recursive client (`GET -r`). The JSON is read with Python's json
//! module, a parser nobody here wrote.

mod support;

use std::process::{Command, Stdio};

use support::*;

/// Runs `script` with the JSON `text` on stdin; returns its stdout.
fn python_json(text: &[u8], script: &str) -> String {
    use std::io::Write;
    let mut p = Command::new("python3")
        .args([
            "-c",
            &format!("import json,sys; d=json.load(sys.stdin); {script}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    p.stdin.take().unwrap().write_all(text).unwrap();
    let o = p.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn tree(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("photos/2024/cats")).unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("photos/2024/cats/Cat one.jpg"), b"meow").unwrap();
    std::fs::write(root.join("docs/catalog.pdf"), b"pdf").unwrap();
    std::fs::write(root.join("docs/.cat-secret"), b"no").unwrap();
    std::os::unix::fs::symlink("..", root.join("photos/loop")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc-cats")).unwrap();
    for i in 0..1500 {
        std::fs::write(root.join("docs").join(format!("n{i:04}.txt")), b"").unwrap();
    }
}

fn json_listing(rt: &str) {
    let root = fixture();
    tree(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let by_accept = raw(
        &s,
        b"GET /docs/?sort=name&order=desc HTTP/1.0\r\nAccept: application/json\r\n\r\n",
    );
    assert_eq!(by_accept.status, 200);
    assert_eq!(
        by_accept.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(by_accept.header("vary").as_deref(), Some("Accept"));
    let summary = python_json(
        &by_accept.body,
        "e=d['entries']; print(d['path'], d['page'], d['pages'], d['total'], d['files'], len(e), e[0]['name'], e[0]['type'])",
    );
    assert_eq!(summary, "/docs/ 1 2 1501 1501 1000 n1499.txt file");
    let second = get(&s, "/docs/?order=desc&page=2&format=json");
    let names = python_json(
        &second.body,
        "print(len(d['entries']), '.cat-secret' in [x['name'] for x in d['entries']])",
    );
    assert_eq!(names, "501 False", "the second page, no dot-files");
    // The ETag in the listing is the one a GET of the file gives.
    let listed = python_json(
        &get(&s, "/photos/2024/cats/?format=json").body,
        "print([x['etag'] for x in d['entries'] if x['name']=='Cat one.jpg'][0])",
    );
    let file = get(&s, "/photos/2024/cats/Cat%20one.jpg");
    assert_eq!(file.header("etag").as_deref(), Some(listed.as_str()));
    // A browser still gets the page.
    let page = raw(
        &s,
        b"GET /docs/ HTTP/1.0\r\nAccept: text/html,application/json;q=0.9\r\n\r\n",
    );
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
}

fn search(rt: &str) {
    let root = fixture();
    tree(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let found = get(&s, "/?q=CAT&format=json");
    assert_eq!(found.status, 200);
    let paths = python_json(
        &found.body,
        "print(d['complete'], sorted(x['path'] for x in d['results']))",
    );
    assert_eq!(
        paths,
        "True ['docs/catalog.pdf', 'etc-cats', 'photos/2024/cats', 'photos/2024/cats/Cat one.jpg']",
        "names found, case-insensitively; a link found by name, never walked"
    );
    let under = get(&s, "/photos/?q=one&format=json");
    let paths = python_json(&under.body, "print([x['path'] for x in d['results']])");
    assert_eq!(paths, "['2024/cats/Cat one.jpg']", "relative to the folder");
    let page = String::from_utf8(get(&s, "/?q=cat+one").body).unwrap();
    assert!(
        page.contains("href=\"/photos/2024/cats/Cat%20one.jpg\""),
        "{page}"
    );
    assert!(page.contains("value=\"cat one\""));
    assert!(page.contains("1 result<"));
    // Every page has the search box.
    let listing = String::from_utf8(get(&s, "/docs/").body).unwrap();
    assert!(listing.contains("<input type=\"search\" name=\"q\""));
    let none = get(&s, "/?q=zebra&format=json");
    assert_eq!(python_json(&none.body, "print(len(d['results']))"), "0");
    // 1,500 names match in one folder: the search stops at 1,000 results,
    // in the middle of the folder, and says it is incomplete.
    let many = get(&s, "/docs/?q=.txt&format=json");
    assert_eq!(
        python_json(&many.body, "print(len(d['results']), d['complete'])"),
        "1000 False"
    );
}

/// Every file under `dir`, relative, with its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// `GET -r URL/dir/ -o DIR` mirrors a tree (two listing pages in one
/// folder), skips what is up to date, fetches what changed.
fn recursive_get(rt: &str) {
    let root = fixture();
    let src = root.path().join("share");
    std::fs::create_dir_all(src.join("été/深い")).unwrap();
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::fs::write(src.join("été/深い/big.bin"), random_bytes(2 << 20, 9)).unwrap();
    std::fs::write(src.join("top.txt"), b"top\n").unwrap();
    std::fs::write(src.join(".hidden"), b"never").unwrap();
    std::fs::create_dir(src.join("many")).unwrap();
    for i in 0..1200 {
        std::fs::write(src.join("many").join(format!("m{i:04}")), i.to_string()).unwrap();
    }
    let s = Server::start(rt, root.path(), &[]);
    let dest = tempfile::tempdir().unwrap();
    let out = dest.path().join("copy");
    let args = [
        "GET",
        &s.url("/share/"),
        "-r",
        "-o",
        out.to_str().unwrap(),
        "-j",
        "3",
    ];
    let first = client(rt, &args);
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(0), "{err}");
    assert!(err.contains("downloaded 1202 file(s)"), "{err}");
    let mut want = files_under(&src);
    want.retain(|(n, _)| n != ".hidden");
    assert_eq!(files_under(&out), want, "the same tree, dot-files left out");
    assert!(out.join("empty").is_dir(), "empty folders too");
    let again = client(rt, &args);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert!(
        err.contains("downloaded 0 file(s), 0 bytes; 1202 already up to date"),
        "{err}"
    );
    std::fs::write(src.join("top.txt"), b"changed\n").unwrap();
    let third = client(rt, &args);
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(err.contains("downloaded 1 file(s)"), "{err}");
    assert_eq!(std::fs::read(out.join("top.txt")).unwrap(), b"changed\n");
}

/// A listing that names `..` is refused whole: nothing is written outside
/// the destination.
fn recursive_get_refuses_escaping_names(rt: &str) {
    let body = r#"{"path":"/d/","page":1,"pages":1,"entries":[{"name":"..","type":"dir","size":0},{"name":"x","type":"file","size":1}]}"#;
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (port, h) = scripted_server(vec![Some(reply.into_bytes())]);
    let dest = tempfile::tempdir().unwrap();
    let out = dest.path().join("inside");
    let o = client(
        rt,
        &[
            "GET",
            &format!("http://127.0.0.1:{port}/d/"),
            "-r",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let _ = h.join();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("which is not a file name"), "{err}");
    let mut left: Vec<_> = std::fs::read_dir(dest.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![std::ffi::OsString::from("inside")]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

per_runtime!(
    json_listing,
    search,
    recursive_get,
    recursive_get_refuses_escaping_names
);
