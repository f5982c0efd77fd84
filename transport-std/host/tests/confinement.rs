//! Root confinement, tested on the file-system layer itself: every open,
//! upload and removal stays beneath the root, through symlinks too, and
//! nothing outside it is read, written or removed.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use pared_core::path::resolve_target;
use pared_core::service::{FileKind, FsFailure, WriteGuard};
use pared_host::Root;

/// A scratch tree: `outside/secret.txt` beside the served `root/`, with
/// links inside the root that stay in it and links that leave it.
fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    fs::create_dir_all(root.join("dir")).expect("mkdir");
    fs::create_dir_all(t.path().join("outside")).expect("mkdir");
    fs::write(t.path().join("outside/secret.txt"), b"secret").expect("write");
    fs::write(root.join("dir/inner.txt"), b"inner").expect("write");
    symlink("dir/inner.txt", root.join("inside-link")).expect("link");
    symlink("dir", root.join("inside-dir")).expect("link");
    symlink("../outside/secret.txt", root.join("climbs")).expect("link");
    symlink(t.path().join("outside/secret.txt"), root.join("absolute")).expect("link");
    symlink("../outside", root.join("outside-dir")).expect("link");
    symlink("../../..", root.join("dir/up")).expect("link");
    t
}

fn rel(target: &str) -> pared_core::path::RelPath {
    resolve_target(target).expect("a valid target")
}

fn root_of(t: &tempfile::TempDir) -> Root {
    Root::open(&t.path().join("root")).expect("root")
}

#[test]
fn links_inside_the_root_work() {
    let t = tree();
    let root = root_of(&t);
    let o = root.open_read(&rel("/inside-link")).expect("inside link");
    assert_eq!(o.meta.kind, FileKind::File);
    assert_eq!(o.meta.len, 5);
    let o = root
        .open_read(&rel("/inside-dir/inner.txt"))
        .expect("via dir link");
    assert_eq!(o.meta.len, 5);
}

#[test]
fn links_that_leave_the_root_are_refused() {
    let t = tree();
    let root = root_of(&t);
    for target in [
        "/climbs",
        "/absolute",
        "/outside-dir/secret.txt",
        "/dir/up/outside/secret.txt",
        "/dir/up",
    ] {
        match root.open_read(&rel(target)) {
            Err(FsFailure::Denied) => {}
            Err(other) => panic!("{target}: {other:?}, expected Denied"),
            Ok(o) => panic!("{target} opened outside the root: {:?}", o.meta),
        }
    }
}

#[test]
fn uploads_never_land_outside_the_root() {
    let t = tree();
    let root = root_of(&t);
    // Through a directory link that leaves the root: refused before a
    // byte is written, and nothing appears outside.
    for target in ["/outside-dir/new.txt", "/dir/up/outside/new.txt"] {
        let r = root.begin_upload(&rel(target), Some(3), WriteGuard::None, Vec::new());
        assert!(r.is_err(), "{target}: an upload began outside the root");
    }
    assert!(!t.path().join("outside/new.txt").exists());
    // Onto a link that leaves the root: refused, and its target unchanged.
    for target in ["/climbs", "/absolute"] {
        let r = root.begin_upload(&rel(target), Some(3), WriteGuard::None, Vec::new());
        assert!(r.is_err(), "{target}: an upload would replace a link");
    }
    assert_eq!(
        fs::read(t.path().join("outside/secret.txt")).expect("secret"),
        b"secret"
    );
    // Inside the root an upload works, and its temporary is gone after.
    let mut up = root
        .begin_upload(&rel("/dir/new.txt"), Some(3), WriteGuard::None, Vec::new())
        .expect("upload inside");
    up.write(b"new").expect("write");
    up.commit(&|_| true).expect("commit");
    assert_eq!(
        fs::read(t.path().join("root/dir/new.txt")).expect("stored"),
        b"new"
    );
    let left: Vec<_> = fs::read_dir(t.path().join("root/dir"))
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pared-upload"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn removals_never_reach_outside_the_root() {
    let t = tree();
    let root = root_of(&t);
    let r = root.remove(&rel("/outside-dir/secret.txt"), WriteGuard::None, &|_| true);
    assert!(r.is_err(), "removed through a link that leaves the root");
    // A link that leaves the root is refused as GET refuses it; both it
    // and its target stay.
    assert_eq!(
        root.remove(&rel("/absolute"), WriteGuard::None, &|_| true),
        Err(FsFailure::Denied)
    );
    assert!(fs::symlink_metadata(t.path().join("root/absolute")).is_ok());
    // A link inside the root is removed itself, not its target.
    root.remove(&rel("/inside-link"), WriteGuard::None, &|_| true)
        .expect("remove the inner link");
    assert!(fs::symlink_metadata(t.path().join("root/inside-link")).is_err());
    assert!(t.path().join("root/dir/inner.txt").exists());
    assert_eq!(
        fs::read(t.path().join("outside/secret.txt")).expect("secret"),
        b"secret"
    );
}

#[test]
fn a_root_renamed_away_keeps_serving_what_it_opened() {
    // The root is held by descriptor: renaming its parent cannot redirect
    // a later open to another tree.
    let t = tree();
    let root = root_of(&t);
    let moved = t.path().join("moved");
    fs::rename(t.path().join("root"), &moved).expect("rename");
    fs::create_dir_all(t.path().join("root")).expect("decoy");
    fs::write(t.path().join("root/decoy.txt"), b"decoy").expect("decoy");
    assert!(matches!(
        root.open_read(&rel("/decoy.txt")),
        Err(FsFailure::NotFound)
    ));
    assert_eq!(
        root.open_read(&rel("/dir/inner.txt"))
            .expect("moved")
            .meta
            .len,
        5
    );
    let _ = Path::new(&moved);
}
