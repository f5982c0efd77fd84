//! Reading a folder: its names one at a time (a folder of any size costs
//! one buffer), or every entry with what a listing shows of it.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pared_core::listing::{Entry, Listing};
use pared_core::path::RelPath;
use rustix::fs::{AtFlags, FileType, OFlags};

use super::gate::Gate;
use super::Root;

/// Folders read for their page at once, across the process: each holds
/// its whole folder while it is sorted (about 60 bytes an entry).
pub(super) static FOLDER_READS: Gate = Gate::new(2);

/// The UTF-8 names in a folder, read from the kernel as they are needed
/// (`.`, `..` and names that are not UTF-8 are skipped: no request could
/// name them).
pub struct Names {
    dir: rustix::fs::Dir,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Names")
    }
}

impl Iterator for Names {
    type Item = io::Result<String>;

    fn next(&mut self) -> Option<io::Result<String>> {
        loop {
            let item = match self.dir.next()? {
                Ok(item) => item,
                Err(e) => return Some(Err(e.into())),
            };
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            if let Ok(name) = std::str::from_utf8(raw) {
                return Some(Ok(name.to_owned()));
            }
        }
    }
}

impl Root {
    /// The names in an opened folder, read as the caller goes.
    pub fn names(&self, dir: &File) -> io::Result<Names> {
        Ok(Names {
            dir: rustix::fs::Dir::read_from(dir)?,
        })
    }

    /// Calls `f` with each UTF-8 entry of an opened folder: its name,
    /// whether it is a folder, its size, modification time and inode.
    ///
    /// A symlink is described by what it leads to, resolved beneath this
    /// folder (a link leaving it shows no size or date); no stat ever
    /// follows a link out of the root.
    pub fn each_entry(
        &self,
        dir: &File,
        mut f: impl FnMut(&str, bool, u64, Option<SystemTime>, u64),
    ) -> io::Result<()> {
        self.each_entry_while(dir, |name, is_dir, size, modified, id| {
            f(name, is_dir, size, modified, id);
            true
        })
    }

    /// [`Root::each_entry`] that stops as soon as `f` returns false (a
    /// search past its limits, in the middle of a huge folder).
    pub fn each_entry_while(
        &self,
        dir: &File,
        mut f: impl FnMut(&str, bool, u64, Option<SystemTime>, u64) -> bool,
    ) -> io::Result<()> {
        for item in rustix::fs::Dir::read_from(dir)? {
            let item = item?;
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(raw) else {
                continue;
            };
            let st = match item.file_type() {
                FileType::Symlink | FileType::Unknown => self
                    .open_at(dir, name, OFlags::PATH)
                    .ok()
                    .and_then(|fd| rustix::fs::fstat(&fd).ok()),
                _ => {
                    rustix::fs::statat(dir, OsStr::from_bytes(raw), AtFlags::SYMLINK_NOFOLLOW).ok()
                }
            };
            let Some(st) = st else {
                if !f(name, false, 0, None, 0) {
                    break;
                }
                continue;
            };
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            let modified = (st.st_mtime >= 0)
                .then(|| UNIX_EPOCH + Duration::new(st.st_mtime as u64, st.st_mtime_nsec as u32));
            let size = if is_dir {
                0
            } else {
                u64::try_from(st.st_size).unwrap_or(0)
            };
            if !f(name, is_dir, size, modified, st.st_ino) {
                break;
            }
        }
        Ok(())
    }

    /// The entries of an opened folder, each with its own name buffer
    /// (for walking a tree; a page uses [`Root::listing`]).
    pub fn entries(&self, dir: &File) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.each_entry(dir, |name, is_dir, size, modified, _| {
            out.push(Entry {
                name: name.to_owned(),
                is_dir,
                size,
                modified,
            });
        })?;
        Ok(out)
    }

    /// Reads what the page of the folder `path` (opened as `dir`) shows,
    /// held compactly whatever the folder's size, and hands it to `f`
    /// (which renders its page); the folder is dropped when `f` returns.
    /// At most two folders are held at once ([`FOLDER_READS`]), so many
    /// readers of a big folder at once cost two folders and their pages.
    pub fn with_listing<T>(
        &self,
        dir: &File,
        path: &RelPath,
        f: impl FnOnce(&mut Listing) -> T,
    ) -> io::Result<T> {
        let _turn = FOLDER_READS.enter();
        let mut out = Listing::new();
        self.each_entry(dir, |name, is_dir, size, modified, id| {
            out.push(path, name, is_dir, size, modified, id);
        })?;
        Ok(f(&mut out))
    }
}
