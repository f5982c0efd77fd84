//! Who may do what: rules per path prefix and user (`--rule`, `[[rule]]`),
//! share links (`pared share`), the config file (`--config`,
//! `--check-config`) and its reload on SIGHUP, end to end on both
//! runtimes against the real binary over loopback.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// `ann:pw` and `bob:pw` in base64, for Basic credentials.
const ANN: &str = "YW5uOnB3";
const BOB: &str = "Ym9iOnB3";

/// The tree the rules below are about.
fn tree() -> tempfile::TempDir {
    let root = fixture();
    let r = root.path();
    for d in ["drop", "team/keep", "private", "pub/deep"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::write(r.join("private/secret.txt"), b"secret").unwrap();
    std::fs::write(r.join("team/plan.txt"), b"plan").unwrap();
    std::fs::write(r.join("team/keep/law.txt"), b"law").unwrap();
    std::fs::write(r.join("drop/old.txt"), b"old").unwrap();
    std::fs::write(r.join("pub/deep/s-file.txt"), b"s").unwrap();
    std::fs::write(r.join("private/s-hidden.txt"), b"s").unwrap();
    root
}

/// Everyone reads; nobody but ann sees /private/; /drop/ is a drop box;
/// ann manages /team/ except /team/keep/, which she may only read; bob
/// may write to /team/ but not delete or move.
const RULES: [&str; 10] = [
    "--auth",
    "ann:pw",
    "--auth",
    "bob:pw",
    "--rule",
    "*:read:/",
    "--rule",
    "*:none:/private/",
    "--rule",
    "*:create:/drop/",
];
const MORE_RULES: [&str; 8] = [
    "--rule",
    "ann:all:/team/",
    "--rule",
    "ann:read:/team/keep/",
    "--rule",
    "bob:read,write:/team/",
    "--rule",
    "ann:read:/private/",
];

fn start_with_rules(rt: &str, root: &Path) -> Server {
    let args: Vec<&str> = RULES.iter().chain(MORE_RULES.iter()).copied().collect();
    Server::start(rt, root, &args)
}

/// One request; the status and the body.
fn ask(
    s: &Server,
    method: &str,
    path: &str,
    who: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut text = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
    if let Some(b64) = who {
        text.push_str(&format!("Authorization: Basic {b64}\r\n"));
    }
    for (n, v) in headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "PUT" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    let mut c = s.connect();
    c.write_all(text.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let r = read_response(&mut c, method == "HEAD");
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

fn status(s: &Server, method: &str, path: &str, who: Option<&str>, h: &[(&str, &str)]) -> u16 {
    let body: &[u8] = if method == "PUT" { b"new" } else { b"" };
    ask(s, method, path, who, h, body).0
}

/// Each right granted and refused, for each method family, anonymous and
/// per user, with the longest prefix winning.
fn each_right_granted_and_refused(rt: &str) {
    let root = tree();
    let s = start_with_rules(rt, root.path());
    let r = root.path();
    // read
    assert_eq!(status(&s, "GET", "/hello.txt", None, &[]), 200);
    assert_eq!(status(&s, "GET", "/private/secret.txt", None, &[]), 401);
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some(BOB), &[]),
        403
    );
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some(ANN), &[]),
        200
    );
    assert_eq!(
        status(&s, "PROPFIND", "/private/", None, &[("Depth", "1")]),
        401
    );
    // create (a drop box): a new name yes, a replacement no, reading no.
    assert_eq!(status(&s, "PUT", "/drop/new.txt", None, &[]), 201);
    assert_eq!(std::fs::read(r.join("drop/new.txt")).unwrap(), b"new");
    let (code, text) = ask(&s, "PUT", "/drop/old.txt", None, &[], b"overwrite");
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("not replace"), "{text}");
    assert_eq!(std::fs::read(r.join("drop/old.txt")).unwrap(), b"old");
    assert_eq!(status(&s, "GET", "/drop/old.txt", None, &[]), 401);
    assert_eq!(status(&s, "MKCOL", "/drop/sub/", None, &[]), 201);
    assert_eq!(status(&s, "MKCOL", "/new-folder/", None, &[]), 401);
    assert_eq!(status(&s, "MKCOL", "/team/keep/sub/", Some(ANN), &[]), 403);
    assert_eq!(status(&s, "MKCOL", "/team/sub/", Some(ANN), &[]), 201);
    assert_eq!(status(&s, "PUT", "/hello2.txt", None, &[]), 401);
    // write: bob replaces in /team/; ann, whose longest rule under
    // /team/keep/ grants read only, does not (bob's rules have no such
    // narrower prefix: each user's longest prefix counts for them).
    assert_eq!(status(&s, "PUT", "/team/plan.txt", Some(BOB), &[]), 200);
    assert_eq!(status(&s, "PUT", "/team/keep/law.txt", Some(ANN), &[]), 403);
    assert_eq!(std::fs::read(r.join("team/keep/law.txt")).unwrap(), b"law");
    assert_eq!(status(&s, "PUT", "/team/keep/new.txt", Some(ANN), &[]), 403);
    // delete: ann in /team/, not the folder holding /team/keep/; bob never.
    assert_eq!(status(&s, "DELETE", "/team/plan.txt", Some(BOB), &[]), 403);
    assert_eq!(status(&s, "DELETE", "/drop/new.txt", None, &[]), 401);
    assert_eq!(status(&s, "DELETE", "/team/", Some(ANN), &[]), 403);
    assert!(r.join("team/keep/law.txt").exists());
    assert_eq!(status(&s, "DELETE", "/team/plan.txt", Some(ANN), &[]), 200);
    assert!(!r.join("team/plan.txt").exists());
    // manage: MOVE and LOCK need it at both ends.
    std::fs::write(r.join("team/a.txt"), b"a").unwrap();
    let to = |d: &'static str| [("Destination", d)];
    assert_eq!(
        status(&s, "MOVE", "/team/a.txt", Some(BOB), &to("/team/b.txt")),
        403
    );
    assert_eq!(
        status(&s, "MOVE", "/team/a.txt", Some(ANN), &to("/drop/a.txt")),
        403
    );
    assert_eq!(
        status(&s, "MOVE", "/team/a.txt", Some(ANN), &to("/team/b.txt")),
        201
    );
    assert!(r.join("team/b.txt").exists() && !r.join("team/a.txt").exists());
    let lock = b"<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
    assert_eq!(ask(&s, "LOCK", "/team/b.txt", Some(BOB), &[], lock).0, 403);
    assert_eq!(ask(&s, "LOCK", "/team/b.txt", Some(ANN), &[], lock).0, 200);
    // COPY: read at the source, create (and write, to replace) there.
    let copy_to = |d: &'static str| [("Destination", d), ("Overwrite", "F")];
    assert_eq!(
        status(&s, "COPY", "/hello.txt", None, &copy_to("/drop/h.txt")),
        201
    );
    assert_eq!(
        status(&s, "COPY", "/hello.txt", None, &to("/drop/h2.txt")),
        401
    );
    assert_eq!(
        status(
            &s,
            "COPY",
            "/private/secret.txt",
            None,
            &copy_to("/drop/s.txt")
        ),
        401
    );
    // A wrong password is 401 whatever the rules say.
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some("YW5uOng="), &[]),
        401
    );
    // OPTIONS touches nothing: open.
    assert_eq!(status(&s, "OPTIONS", "/private/", None, &[]), 200);
}

/// Without users, what no rule allows is 403 (nobody could log in).
fn without_users_refusals_are_403(rt: &str) {
    let root = tree();
    let s = Server::start(rt, root.path(), &["--rule", "*:read:/pub/"]);
    assert_eq!(status(&s, "GET", "/pub/deep/s-file.txt", None, &[]), 200);
    let (code, text) = ask(&s, "GET", "/hello.txt", None, &[], b"");
    assert_eq!(code, 403);
    assert!(text.contains("no read right"), "{text}");
    // Even from this machine: rules replace the loopback-writes default.
    assert_eq!(status(&s, "PUT", "/pub/x.txt", None, &[]), 403);
}

/// The page offers only what the visitor may do; a drop box shows its
/// upload controls and none of its contents.
fn the_page_shows_only_allowed_controls(rt: &str) {
    let root = tree();
    let s = start_with_rules(rt, root.path());
    let (code, page) = ask(&s, "GET", "/", None, &[], b"");
    assert_eq!(code, 200);
    assert!(!page.contains("id=\"files\""), "no upload for readers");
    assert!(page.contains("<table>"), "no row actions for readers");
    let (_, team) = ask(&s, "GET", "/team/", Some(ANN), &[], b"");
    assert!(team.contains("id=\"files\"") && team.contains("data-can=\"ren mv del\""));
    let (_, bob) = ask(&s, "GET", "/team/", Some(BOB), &[], b"");
    assert!(
        bob.contains("id=\"files\"") && bob.contains("<table>"),
        "{bob}"
    );
    let (code, drop) = ask(&s, "GET", "/drop/", None, &[], b"");
    assert_eq!(code, 200);
    assert!(drop.contains("id=\"files\""));
    assert!(!drop.contains("old.txt"), "a drop box hides its contents");
    // The same folder's JSON listing, archive and search are refused.
    assert_eq!(status(&s, "GET", "/drop/?format=json", None, &[]), 403);
    assert_eq!(status(&s, "GET", "/drop/?archive=zip", None, &[]), 403);
}

/// Archives and search leave out what the visitor may not read.
fn archives_and_search_leave_out_what_is_hidden(rt: &str) {
    let root = tree();
    let s = start_with_rules(rt, root.path());
    let (code, tar) = ask(&s, "GET", "/?archive=tar", None, &[], b"");
    assert_eq!(code, 200);
    assert!(tar.contains("pub/deep/s-file.txt"));
    assert!(!tar.contains("private/"), "private left out");
    assert!(
        !tar.contains("drop/old.txt"),
        "the drop box's contents left out"
    );
    let (_, ann_tar) = ask(&s, "GET", "/?archive=tar", Some(ANN), &[], b"");
    assert!(ann_tar.contains("private/secret.txt"));
    let (_, found) = ask(&s, "GET", "/?q=s-&format=json", None, &[], b"");
    assert!(found.contains("s-file.txt"), "{found}");
    assert!(!found.contains("s-hidden.txt"), "{found}");
}

/// The path and query of a link printed by `pared share`.
fn target_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

/// Share links: valid (and kept as a cookie for the path), beneath their
/// path only, expired, tampered, revoked by rotating the key; upload
/// links make a drop box.
fn share_links(rt: &str) {
    let root = tree();
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();
    let s = Server::start(
        rt,
        root.path(),
        &["--auth", "ann:pw", "--auth-reads", "--state-dir", st],
    );
    assert_eq!(status(&s, "GET", "/private/secret.txt", None, &[]), 401);
    let base = s.url("");
    let (link, said) = share(&["/private/", "--state-dir", st, "--url", &base]);
    assert!(said.contains("read-only link to /private/"), "{said}");
    let key = std::fs::metadata(state.path().join("share.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );
    let t = target_of(&link);
    // Valid: the folder, with the token kept as a cookie for its path.
    let mut c = s.connect();
    c.write_all(format!("GET {t} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut c, false);
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").expect("a cookie");
    assert!(
        cookie.contains("Path=/private/") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let cookie_header = [("Cookie", pair.as_str())];
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", None, &cookie_header),
        200
    );
    // Beneath its path only, and read only.
    let token = t.split("share=").nth(1).unwrap().to_owned();
    assert_eq!(
        status(&s, "GET", &format!("/hello.txt?share={token}"), None, &[]),
        403
    );
    assert_eq!(
        status(&s, "PUT", "/private/x.txt", None, &cookie_header),
        401
    );
    // Tampered: one character of the signature changed.
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let (code, text) = ask(&s, "GET", &format!("/private/?share={bad}"), None, &[], b"");
    assert_eq!(code, 403);
    assert!(text.contains("not valid"), "{text}");
    // Expired.
    let (short, _) = share(&[
        "/private/",
        "--state-dir",
        st,
        "--url",
        &base,
        "--expires",
        "1s",
    ]);
    assert_eq!(status(&s, "GET", &target_of(&short), None, &[]), 200);
    std::thread::sleep(Duration::from_millis(2100));
    let (code, text) = ask(&s, "GET", &target_of(&short), None, &[], b"");
    assert_eq!(code, 403);
    assert!(text.contains("expired"), "{text}");
    // An upload link: a drop box.
    let (up, _) = share(&["/drop/", "--upload", "--state-dir", st, "--url", &base]);
    let up_token = target_of(&up).split("share=").nth(1).unwrap().to_owned();
    let (code, page) = ask(&s, "GET", &target_of(&up), None, &[], b"");
    assert_eq!(code, 200);
    assert!(page.contains("id=\"files\"") && !page.contains("old.txt"));
    let put_to = |name: &str| format!("/drop/{name}?share={up_token}");
    assert_eq!(
        ask(&s, "PUT", &put_to("given.txt"), None, &[], b"gift").0,
        201
    );
    assert_eq!(
        std::fs::read(root.path().join("drop/given.txt")).unwrap(),
        b"gift"
    );
    assert_eq!(ask(&s, "PUT", &put_to("old.txt"), None, &[], b"x").0, 403);
    assert_eq!(status(&s, "GET", &put_to("old.txt"), None, &[]), 401);
    // Revoked: a new key, and no earlier link works.
    share(&["--rotate", "--state-dir", st]);
    let (code, text) = ask(&s, "GET", &t, None, &[], b"");
    assert_eq!(code, 403);
    assert!(text.contains("revoked"), "{text}");
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", None, &cookie_header),
        403
    );
}

const CONFIG: &str = r#"
# A team folder with one admin, readable by everyone.
quiet = true
max-upload = "1M"

[users]
ann = "pw"
bob = "pw"

[[rule]]
path = "/"
allow = "read"

[[rule]]
path = "/private/"
allow = "none"

[[rule]]
path = "/team/"
who = ["ann"]
allow = ["all"]
"#;

/// `--config`: the file's settings under the flags; `--check-config`
/// explains good settings and names the fault in bad ones.
fn config_file_and_check(rt: &str) {
    let root = tree();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pared.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let c = cfg.to_str().unwrap();
    let check = |path: &str| {
        Command::new(pared())
            .args(["--runtime", rt, "server", "--root"])
            .arg(root.path())
            .args(["--config", path, "--check-config"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = check(c);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("*:none:/private/") && text.contains("users: ann, bob"),
        "{text}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "max-uplaod = \"1M\"\n").unwrap();
    let out = check(bad.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown key `max-uplaod`") && err.lines().count() == 1,
        "{err}"
    );
    std::fs::write(
        &bad,
        "[[rule]]\npath = \"/\"\nwho = \"carol\"\nallow = \"read\"\n",
    )
    .unwrap();
    let out = check(bad.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("carol"));
    // Served: the file's rules and limit apply; a flag overrides a key.
    let s = Server::start(rt, root.path(), &["--config", c, "--max-upload", "2M"]);
    assert_eq!(status(&s, "GET", "/private/secret.txt", None, &[]), 401);
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some(ANN), &[]),
        403
    );
    assert_eq!(status(&s, "PUT", "/team/t.txt", Some(ANN), &[]), 201);
    assert_eq!(status(&s, "PUT", "/team/t.txt", Some(BOB), &[]), 403);
    let big = vec![b'x'; 1536 * 1024];
    assert_eq!(ask(&s, "PUT", "/team/big.bin", Some(ANN), &[], &big).0, 201);
}

/// SIGHUP reloads users and rules without dropping a connection; a bad
/// file keeps the configuration in force and says why.
fn reload_keeps_connections_and_applies_new_rules(rt: &str) {
    let root = tree();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pared.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut s = Server::start(rt, root.path(), &["--config", cfg.to_str().unwrap()]);
    // A keep-alive connection open across the reload.
    let mut held = s.connect();
    let keep = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
    held.write_all(keep).unwrap();
    assert_eq!(read_response(&mut held, false).status, 200);
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some(BOB), &[]),
        403
    );
    let opened = CONFIG.replace(
        "[[rule]]\npath = \"/private/\"\nallow = \"none\"",
        "[[rule]]\npath = \"/private/\"\nwho = \"bob\"\nallow = \"read\"",
    );
    assert_ne!(opened, CONFIG);
    std::fs::write(&cfg, opened).unwrap();
    let pid = s.child.id().to_string();
    let hup = || {
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success())
    };
    hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&s, "GET", "/private/secret.txt", Some(BOB), &[]) != 200 {
        assert!(Instant::now() < deadline, "the new rules never applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    held.write_all(keep).unwrap();
    assert_eq!(
        read_response(&mut held, false).status,
        200,
        "kept across the reload"
    );
    // A bad file: the rules in force stay.
    std::fs::write(&cfg, "[[rule]]\npath = \"/\"\nallow = \"fly\"\n").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        status(&s, "GET", "/private/secret.txt", Some(BOB), &[]),
        200
    );
    assert_eq!(status(&s, "GET", "/hello.txt", None, &[]), 200);
    held.write_all(keep).unwrap();
    assert_eq!(read_response(&mut held, false).status, 200);
    drop(held);
    let exit = s.terminate(Duration::from_secs(10)).expect("exits");
    assert!(exit.success());
    let err = s.stderr_text();
    assert!(
        err.contains("SIGHUP: reloaded 2 user(s), 3 rule(s)"),
        "{err}"
    );
    assert!(err.contains("SIGHUP: kept the old configuration"), "{err}");
    assert!(err.contains("fly"), "the reason names the fault: {err}");
}

/// A listing page's controls are wired by its script: reading only gives
/// a page with no upload script at all.
fn readers_get_no_upload_script(rt: &str) {
    let root = tree();
    let s = start_with_rules(rt, root.path());
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /pub/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"));
    assert!(
        !text.contains("XMLHttpRequest"),
        "no upload script for a reader"
    );
}

per_runtime!(
    each_right_granted_and_refused,
    without_users_refusals_are_403,
    the_page_shows_only_allowed_controls,
    archives_and_search_leave_out_what_is_hidden,
    share_links,
    config_file_and_check,
    reload_keeps_connections_and_applies_new_rules,
    readers_get_no_upload_script,
);
