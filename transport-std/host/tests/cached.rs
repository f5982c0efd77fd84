//! The steps an async executor may run inline, forced to miss: a path not
//! in the kernel's dentry cache (`RESOLVE_CACHED`), a body not in the page
//! cache (`RWF_NOWAIT`), a digest not known in memory. Each miss must say
//! so (never block, never answer wrongly), and the blocking step must then
//! give the answer and warm what the next inline attempt needs.
//!
//! The files live under `CARGO_TARGET_TMPDIR` (the build's disk), not in
//! a tmpfs: a tmpfs keeps every dentry and page in memory, so nothing
//! could miss there.

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::SystemTime;

use pared_core::path::resolve_target;
use pared_core::{Parsed, RequestHead, RequestParser};
use pared_host::fs::{Cached, HOT_MAX};
use pared_host::steps::{self, Payload, Preload, Prepared, INLINE_BODY};
use pared_host::Root;

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cached-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("sub")).expect("scratch directory");
    dir
}

fn request(raw: &str) -> RequestHead {
    match RequestParser::new(Default::default()).parse(raw.as_bytes()) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("test request does not parse: {other:?}"),
    }
}

/// Writes `body` to `path`, synced, so its pages are clean and can be
/// dropped from the page cache.
fn write_synced(path: &PathBuf, body: &[u8]) {
    let mut f = fs::File::create(path).expect("create");
    f.write_all(body).expect("write");
    f.sync_all().expect("sync");
}

/// Drops the file's pages from the page cache.
fn evict_pages(path: &PathBuf) {
    let f = fs::File::open(path).expect("open");
    rustix::fs::fadvise(f.as_fd(), 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
}

/// Drops unused dentries and inodes everywhere (root only).
fn drop_dentries() -> bool {
    fs::write("/proc/sys/vm/drop_caches", "2").is_ok()
}

#[test]
fn a_body_out_of_the_page_cache_is_a_miss_until_read() {
    let dir = scratch("pages");
    let path = dir.join("sub/page.txt");
    let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    write_synced(&path, &body);
    let root = Root::open(&dir).expect("root");
    let req = request("GET /sub/page.txt HTTP/1.0\r\n\r\n");
    let rel = resolve_target("/sub/page.txt").expect("path");
    let now = SystemTime::now();

    // The digest is not known in memory yet: the blocking read learns it.
    assert!(matches!(
        steps::read_cached(&root, &req, &rel, now),
        Cached::Miss
    ));
    let warm = steps::read(&root, &req, &rel, now, &steps::View::reader());
    assert_eq!(warm.head.status.as_u16(), 200);
    let Cached::Done(prepared) = steps::read_cached(&root, &req, &rel, now) else {
        panic!("the second read of a file just opened misses");
    };
    assert!(matches!(prepared.body, Payload::File { .. }));

    // A file system that cannot tell what is cached (no RWF_NOWAIT) makes
    // every body a miss: nothing to check here then.
    let Payload::File { file, .. } = &prepared.body else {
        unreachable!("checked above")
    };
    let mut probe = [0u8; 16];
    if matches!(steps::read_cached_at(file, &mut probe, 0), Cached::Miss) {
        eprintln!("skipped: this file system does not support RWF_NOWAIT reads");
        return;
    }
    // DONTNEED skips pages still queued on another CPU's LRU list; try a
    // few times, checking with a read that cannot bring them back.
    let evicted = (0..50).any(|_| {
        evict_pages(&path);
        let gone = matches!(steps::read_cached_at(file, &mut probe, 0), Cached::Miss);
        if !gone {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        gone
    });
    if !evicted {
        eprintln!("skipped: the kernel kept the file's pages after fadvise(DONTNEED)");
        return;
    }
    let prepared = match steps::preload_cached(prepared, INLINE_BODY) {
        Preload::Miss(p) => p,
        Preload::Ready(p) => panic!("pages just evicted read without waiting: {:?}", p.body),
    };
    assert!(
        matches!(prepared.body, Payload::File { .. }),
        "a miss gives the response back unchanged"
    );
    let loaded = steps::preload(prepared, INLINE_BODY);
    match &loaded.body {
        Payload::Bytes(b) => assert_eq!(b, &body),
        other => panic!("the blocking preload did not read the body: {other:?}"),
    }
    // Now cached: the inline read succeeds, with the same bytes.
    let Cached::Done(again) = steps::read_cached(&root, &req, &rel, now) else {
        panic!("miss after the file was read");
    };
    match steps::preload_cached(again, INLINE_BODY) {
        Preload::Ready(Prepared {
            body: Payload::Bytes(b),
            ..
        }) => assert_eq!(b, body),
        other => panic!("cached body not read inline: {other:?}"),
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_path_out_of_the_dentry_cache_is_a_miss_until_opened() {
    let dir = scratch("dentries");
    let path = dir.join("sub/entry.txt");
    // Larger than what is kept open (a kept descriptor pins its path's
    // dentries: see the next test).
    let body = vec![b'e'; usize::try_from(HOT_MAX).unwrap() + 1];
    write_synced(&path, &body);
    let root = Root::open(&dir).expect("root");
    let rel = resolve_target("/sub/entry.txt").expect("path");
    root.open_read(&rel).expect("blocking open");
    if matches!(root.open_read_cached(&rel), Cached::Miss) {
        eprintln!("skipped: this kernel has no RESOLVE_CACHED (Linux 5.12)");
        return;
    }
    if !drop_dentries() {
        eprintln!("skipped: dropping the dentry cache needs root");
        return;
    }
    assert!(
        matches!(root.open_read_cached(&rel), Cached::Miss),
        "a path whose dentries were dropped opened without a lookup"
    );
    let opened = root.open_read(&rel).expect("blocking open");
    assert_eq!(opened.meta.len, HOT_MAX + 1);
    match root.open_read_cached(&rel) {
        Cached::Done(Ok(o)) => assert_eq!(o.meta.id, opened.meta.id),
        other => panic!("open after a blocking lookup missed: {other:?}"),
    }
    // A missing name is answered from the cache too, once looked up.
    let gone = resolve_target("/sub/absent.txt").expect("path");
    assert!(root.open_read(&gone).is_err());
    assert!(matches!(
        root.open_read_cached(&gone),
        Cached::Done(Err(pared_core::service::FsFailure::NotFound))
    ));
    let _ = fs::remove_dir_all(&dir);
}

/// A small file served lately is kept open, and its open descriptor pins
/// the dentries of its path and its inode: dropping the kernel's caches
/// leaves them, so the inline step still answers (its one `statx` finds
/// everything in memory), with the same bytes.
#[test]
fn a_kept_file_survives_dropped_dentries() {
    let dir = scratch("kept");
    write_synced(&dir.join("sub/kept.txt"), b"kept");
    let root = Root::open(&dir).expect("root");
    let req = request("GET /sub/kept.txt HTTP/1.0\r\n\r\n");
    let rel = resolve_target("/sub/kept.txt").expect("path");
    let first = steps::read(&root, &req, &rel, SystemTime::now(), &steps::View::reader());
    assert!(matches!(first.body, Payload::File { .. }));
    if !drop_dentries() {
        eprintln!("skipped: dropping the dentry cache needs root");
        return;
    }
    let Cached::Done(again) = steps::read_cached(&root, &req, &rel, SystemTime::now()) else {
        panic!("a kept file missed after the caches were dropped");
    };
    let Payload::File { file, .. } = &again.body else {
        panic!("no file body: {:?}", again.body);
    };
    let Payload::File { file: kept, .. } = &first.body else {
        unreachable!()
    };
    assert!(
        std::sync::Arc::ptr_eq(file, kept),
        "not the kept descriptor"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_always_takes_the_blocking_step() {
    let dir = scratch("dir");
    write_synced(&dir.join("sub/a.txt"), b"a");
    let root = Root::open(&dir).expect("root");
    let req = request("GET /sub/ HTTP/1.0\r\n\r\n");
    let rel = resolve_target("/sub/").expect("path");
    let _ = steps::read(&root, &req, &rel, SystemTime::now(), &steps::View::reader());
    assert!(matches!(
        steps::read_cached(&root, &req, &rel, SystemTime::now()),
        Cached::Miss
    ));
    let _ = fs::remove_dir_all(&dir);
}
