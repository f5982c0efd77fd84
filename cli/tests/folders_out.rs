//! Folders out (issue "Folders out"), end to end on both runtimes: the
//! JSON listing (by Accept or `?format=json`, the page's order and pages,
//! ETags that match a GET's) and search (`?q=`: names under the folder,
//! never dot-files, never through a link; as a page and as JSON). The
//! JSON is read with Python's json module, a parser nobody here wrote.

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
}

per_runtime!(json_listing, search);
