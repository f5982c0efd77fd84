//! Real WebDAV clients against pared, on both runtimes: an rclone session
//! (copy a tree, check it, server-side move and copy, purge) and a
//! cadaver script (folders, upload, move, copy, properties, a lock).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::*;

fn rclone(s: &Server, args: &[&str]) -> Output {
    require_tool("rclone");
    let url = s.url("/");
    Command::new("timeout")
        .arg("60")
        .arg("rclone")
        .args(args)
        .args(["--webdav-url", &url, "--webdav-vendor", "other"])
        .env("RCLONE_CONFIG", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .expect("run rclone")
}

fn ok(o: &Output) -> String {
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    text
}

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::write(dir.join("one.txt"), b"one\n").unwrap();
    std::fs::write(dir.join("a/big.bin"), random_bytes(700_000, 5)).unwrap();
    std::fs::write(dir.join("a/b/deep.txt"), "déjà vu\n").unwrap();
}

fn rclone_session(rt: &str) {
    let root = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    tree(local.path());
    let s = Server::start(rt, root.path(), &[]);
    let src = local.path().to_str().unwrap();
    ok(&rclone(&s, &["copy", src, ":webdav:tree"]));
    assert_eq!(
        std::fs::read(root.path().join("tree/a/big.bin")).unwrap(),
        std::fs::read(local.path().join("a/big.bin")).unwrap()
    );
    let check = ok(&rclone(&s, &["check", src, ":webdav:tree"]));
    assert!(check.contains("3 matching files"), "{check}");
    // Server-side move and copy: no bytes go through rclone.
    ok(&rclone(
        &s,
        &["moveto", ":webdav:tree/one.txt", ":webdav:tree/moved.txt"],
    ));
    assert!(!root.path().join("tree/one.txt").exists());
    assert_eq!(
        std::fs::read(root.path().join("tree/moved.txt")).unwrap(),
        b"one\n"
    );
    let copied = ok(&rclone(
        &s,
        &["copyto", "-v", ":webdav:tree/a", ":webdav:copy"],
    ));
    assert!(copied.contains("server-side copy"), "{copied}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("copy/b/deep.txt")).unwrap(),
        "déjà vu\n"
    );
    let listing = ok(&rclone(&s, &["lsf", "-R", ":webdav:"]));
    for name in ["tree/moved.txt", "tree/a/b/deep.txt", "copy/big.bin"] {
        assert!(listing.lines().any(|l| l == name), "{name} in {listing}");
    }
    ok(&rclone(&s, &["purge", ":webdav:tree"]));
    assert!(!root.path().join("tree").exists());
    assert!(root.path().join("copy/big.bin").exists());
}

fn cadaver_script(rt: &str) {
    require_tool("cadaver");
    let root = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let up = local.path().join("x.txt");
    std::fs::write(&up, b"cadaver body\n").unwrap();
    let back = local.path().join("back.txt");
    let s = Server::start(rt, root.path(), &[]);
    let script = format!(
        "mkcol d\nput {} d/x.txt\nmove d/x.txt d/y.txt\ncopy d/y.txt d/z.txt\nget d/z.txt {}\n\
         propset d/z.txt color blue\npropget d/z.txt color\nlock d/z.txt\nunlock d/z.txt\n\
         rm d/y.txt\nls d\nquit\n",
        up.display(),
        back.display()
    );
    let mut child = Command::new("timeout")
        .args(["60", "cadaver"])
        .arg(s.url("/"))
        .current_dir(local.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cadaver");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(!out.contains("failed"), "{out}");
    assert_eq!(out.matches("succeeded").count(), 10, "{out}");
    assert!(out.contains("Value of color is: blue"), "{out}");
    assert_eq!(std::fs::read(&back).unwrap(), b"cadaver body\n");
    assert!(root.path().join("d/z.txt").exists());
    assert!(!root.path().join("d/y.txt").exists());
    assert!(!root.path().join("d/x.txt").exists());
}

/// rclone lists a folder whose 207 is streamed (chunked, in pieces).
fn rclone_lists_a_big_folder(rt: &str) {
    let root = fixture();
    let dir = root.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..3000 {
        std::fs::write(dir.join(format!("f{i:04}")), b"z").unwrap();
    }
    let s = Server::start(rt, root.path(), &[]);
    let listing = ok(&rclone(&s, &["lsf", ":webdav:big"]));
    let names: Vec<&str> = listing.lines().filter(|l| l.starts_with('f')).collect();
    assert_eq!(names.len(), 3000, "{}", &listing[..listing.len().min(500)]);
    assert!(names.contains(&"f2999"));
}

per_runtime!(rclone_session, cadaver_script, rclone_lists_a_big_folder);
