//! The sweep of upload temporaries a crashed or killed pared left behind.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::Root;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// The prefix of every upload temporary's name; the writer's PID follows.
pub const UPLOAD_PREFIX: &str = ".pared-upload-";

/// True when the process `pid` is alive and is a pared (so its upload
/// temporaries may still be in use).
pub fn pared_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.starts_with(b"pared"))
}

/// Removes pared's own upload temporaries under the root whose writer is
/// gone (a crash or SIGKILL left them): names `.pared-upload-PID-…` whose
/// PID is not a live pared process. Symlinks are not followed. Returns how
/// many were removed.
pub fn remove_stale_uploads(root: &Root) -> usize {
    let Ok(top) = rustix::fs::openat(
        &*root.fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return 0;
    };
    let mut removed = 0;
    let mut stack = vec![top];
    while let Some(dir) = stack.pop() {
        let Ok(listing) = rustix::fs::Dir::read_from(&dir) else {
            continue;
        };
        let mut subdirs = Vec::new();
        for item in listing.flatten() {
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            if let Some(rest) = raw.strip_prefix(UPLOAD_PREFIX.as_bytes()) {
                let pid = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|r| r.split('-').next())
                    .and_then(|p| p.parse::<u32>().ok());
                if let Some(pid) = pid {
                    if !pared_alive(pid)
                        && rustix::fs::unlinkat(&dir, OsStr::from_bytes(raw), AtFlags::empty())
                            .is_ok()
                    {
                        removed += 1;
                    }
                }
                continue;
            }
            if item.file_type() == FileType::Directory {
                subdirs.push(raw.to_vec());
            }
        }
        for name in subdirs {
            if let Ok(sub) = rustix::fs::openat(
                &dir,
                OsStr::from_bytes(&name),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                stack.push(sub);
            }
        }
    }
    removed
}

/// Runs [`remove_stale_uploads`] on a thread of its own (a large root takes
/// a while to walk) and logs how many it removed.
pub fn sweep_stale_uploads(root: &Root) {
    let root = root.clone();
    let _ = std::thread::Builder::new()
        .name("pared-sweep".into())
        .spawn(move || {
            let n = remove_stale_uploads(&root);
            if n > 0 {
                eprintln!(
                    "pared: removed {n} stale upload temporar{} left by a writer that is gone",
                    if n == 1 { "y" } else { "ies" }
                );
            }
        });
}
