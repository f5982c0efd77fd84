//! Descriptors of small files served lately, kept open with the identity
//! of what they opened, so that a repeated GET costs one `statx` of the
//! path instead of `openat2`, `fstat` and `close`.
//!
//! Freshness is not traded for it: every request still looks the path up
//! (one `statx`, following symlinks as `openat2` does), and the kept
//! descriptor is used only when what the path names now is the same
//! inode, unchanged: device, inode, size, link count, mode, mtime and
//! ctime all equal. A replacement (a new inode), a rename or delete (the
//! lookup fails, or the link count and ctime move), an append or a write
//! (size, mtime, ctime), a chmod (mode, ctime) each make it a miss, and
//! the full `openat2(RESOLVE_BENEATH)` path runs again. The content is
//! always read from the kept descriptor at the time of the request, so
//! it is the inode's current content, never a copy.
//!
//! The lookup is not confined to the root (`statx` has no
//! `RESOLVE_BENEATH`), and need not be: it only compares. A match means
//! the path names the very inode that was opened beneath the root, with
//! no link made to it since (that moves its ctime), so serving it is
//! what the confined open would have served.
//!
//! On an async executor the lookup must not wait on the disk, and when
//! nothing changed it cannot: the kept descriptor pins the dentries of
//! its path and its inode, so `statx` finds them in memory. Two cases may
//! read a directory block once: a path changed since (a component renamed
//! or replaced by another process: the lookup that finds the change), and
//! a path through a symlink, whose own dentry the descriptor does not pin
//! (it pins the target's). The open that follows a miss is the cached,
//! non-waiting one.
//!
//! Only regular files up to [`HOT_MAX`] are kept, in [`SLOTS`] slots
//! (one open descriptor each, at most): a file deleted by someone else
//! holds its blocks only until its slot is taken or its path asked for
//! again. On a network or FUSE file system, where another host's change
//! may not reach this host's attributes at once, nothing is kept.

use std::fs::File;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use pared_core::service::{FileKind, Meta};
use rustix::fs::{AtFlags, Statx, StatxFlags};

/// The largest file kept: the size of a body sent from memory with its
/// head (a larger file's open costs little beside its transfer).
pub const HOT_MAX: u64 = crate::steps::INLINE_BODY;

/// How many files are kept at most (a power of two).
pub const SLOTS: usize = 256;

/// What `statx` is asked for: enough to tell the same, unchanged inode.
pub(super) const WANTED: StatxFlags = StatxFlags::BASIC_STATS;

/// What identifies an unchanged inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: (u32, u32),
    ino: u64,
    size: u64,
    nlink: u32,
    mode: u16,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl Identity {
    /// The identity `st` reports, if it reports all of it.
    pub fn of(st: &Statx) -> Option<Identity> {
        let basic = StatxFlags::INO
            | StatxFlags::SIZE
            | StatxFlags::NLINK
            | StatxFlags::MODE
            | StatxFlags::TYPE
            | StatxFlags::MTIME
            | StatxFlags::CTIME;
        StatxFlags::from_bits_retain(st.stx_mask)
            .contains(basic)
            .then_some(Identity {
                dev: (st.stx_dev_major, st.stx_dev_minor),
                ino: st.stx_ino,
                size: st.stx_size,
                nlink: st.stx_nlink,
                mode: st.stx_mode,
                mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
                ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
            })
    }
}

/// The slot of `path`: FNV-1a, a few instructions a byte. Paths that
/// share a slot only take turns in it: at worst (a client aiming at a
/// slot) a request takes the confined open, as if nothing were kept.
fn slot_of(path: &str) -> usize {
    let h = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // The high bits are the best mixed.
    (h >> 32) as usize & (SLOTS - 1)
}

/// One kept file.
#[derive(Debug)]
struct Entry {
    /// The path as the OS sees it, relative to the root.
    path: Box<str>,
    file: Arc<File>,
    meta: Meta,
    ident: Identity,
}

/// The kept descriptors, in slots chosen by a hash of the path: a lookup
/// locks one slot for the time it takes to clone an `Arc`.
#[derive(Debug)]
pub struct HotFiles {
    slots: Box<[Mutex<Option<Entry>>]>,
    enabled: bool,
}

impl HotFiles {
    /// An empty set; `enabled` false keeps nothing (a shared file system).
    pub fn new(enabled: bool) -> HotFiles {
        let slots = if enabled { SLOTS } else { 0 };
        HotFiles {
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
            enabled,
        }
    }

    fn slot(&self, path: &str) -> Option<&Mutex<Option<Entry>>> {
        if !self.enabled {
            return None;
        }
        self.slots.get(slot_of(path))
    }

    /// The kept descriptor of `path` (relative to `root`) when the path
    /// names the same, unchanged inode now; otherwise forgets it and
    /// returns `None` (open it the confined way).
    pub fn get(&self, root: impl AsFd, path: &str) -> Option<(Arc<File>, Meta)> {
        let slot = self.slot(path)?;
        let (file, meta, ident) = {
            let held = slot.lock().ok()?;
            let e = held.as_ref().filter(|e| &*e.path == path)?;
            (e.file.clone(), e.meta, e.ident)
        };
        let now = rustix::fs::statx(root, path, AtFlags::NO_AUTOMOUNT, WANTED)
            .ok()
            .and_then(|st| Identity::of(&st));
        if now == Some(ident) {
            return Some((file, meta));
        }
        if let Ok(mut held) = slot.lock() {
            if held.as_ref().is_some_and(|e| Arc::ptr_eq(&e.file, &file)) {
                *held = None;
            }
        }
        None
    }

    /// Keeps `file`, just opened beneath the root at `path` with the
    /// metadata and identity one `statx` of it reported, when it is a
    /// small regular file.
    pub fn put(&self, path: &str, file: &Arc<File>, meta: &Meta, ident: Option<Identity>) {
        if meta.kind != FileKind::File || meta.len > HOT_MAX {
            return;
        }
        let (Some(slot), Some(ident)) = (self.slot(path), ident) else {
            return;
        };
        if let Ok(mut held) = slot.lock() {
            *held = Some(Entry {
                path: path.into(),
                file: file.clone(),
                meta: *meta,
                ident,
            });
        }
    }

    /// Forgets `path` (pared itself changed what it names).
    pub fn forget(&self, path: &str) {
        if let Some(slot) = self.slot(path) {
            if let Ok(mut held) = slot.lock() {
                if held.as_ref().is_some_and(|e| &*e.path == path) {
                    *held = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn kept(dir: &std::path::Path, name: &str) -> (Arc<File>, Meta, Option<Identity>) {
        let file = File::open(dir.join(name)).unwrap();
        let st = rustix::fs::statx(&file, "", AtFlags::EMPTY_PATH, WANTED).unwrap();
        (
            Arc::new(file),
            super::super::fresh::meta_from(&st),
            Identity::of(&st),
        )
    }

    #[test]
    fn a_kept_file_is_used_only_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"one").unwrap();
        let root = File::open(dir.path()).unwrap();
        let hot = HotFiles::new(true);
        let (file, meta, ident) = kept(dir.path(), "a");
        hot.put("a", &file, &meta, ident);
        let (again, m) = hot.get(&root, "a").expect("unchanged: kept");
        assert!(Arc::ptr_eq(&again, &file));
        assert_eq!(m, meta);
        assert!(hot.get(&root, "b").is_none(), "another path");

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("a"))
            .unwrap();
        f.write_all(b"!").unwrap();
        assert!(hot.get(&root, "a").is_none(), "appended: a miss");
        hot.put("a", &file, &meta, ident);
        assert!(
            hot.get(&root, "a").is_none(),
            "a stale identity never matches"
        );

        let (file, meta, ident) = kept(dir.path(), "a");
        hot.put("a", &file, &meta, ident);
        assert!(hot.get(&root, "a").is_some());
        hot.forget("a");
        assert!(hot.get(&root, "a").is_none(), "forgotten");
    }

    #[test]
    fn large_files_and_disabled_sets_keep_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), vec![0u8; HOT_MAX as usize + 1]).unwrap();
        std::fs::write(dir.path().join("small"), b"s").unwrap();
        let root = File::open(dir.path()).unwrap();
        let hot = HotFiles::new(true);
        let (file, meta, ident) = kept(dir.path(), "big");
        hot.put("big", &file, &meta, ident);
        assert!(hot.get(&root, "big").is_none());
        let off = HotFiles::new(false);
        let (file, meta, ident) = kept(dir.path(), "small");
        off.put("small", &file, &meta, ident);
        assert!(off.get(&root, "small").is_none());
    }

    #[test]
    fn slots_spread() {
        let used: std::collections::HashSet<usize> = (0..1000)
            .map(|i| slot_of(&format!("dir/file-{i}.txt")))
            .collect();
        assert!(
            used.len() > SLOTS * 9 / 10,
            "{} slots of {SLOTS}",
            used.len()
        );
    }
}
