//! A folder as an archive: the walk that lists its entries, and the body
//! that reads them while the archive is sent (core's `archive` lays it
//! out). Memory is the entry list (about 60 bytes an entry) and one read
//! buffer, whatever the files' sizes; nothing is written to disk.
//!
//! The walk takes folders and files in name order, depth first: dot-files
//! and names a request could not address are left out, a symlink to a
//! file is archived as that file when it resolves beneath its folder (as
//! the page describes it), and a symlink to a folder is left out (never
//! walked, so never a loop). A file that changed between the walk and its
//! turn (size, time or file id) ends the body short: the client sees a
//! cut transfer, never a wrong archive.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use pared_core::archive::{ArchiveEntry, Part, Plan};
use pared_core::path::RelPath;
use pared_core::validators::nanos;
use rustix::fs::OFlags;

use super::dir::FOLDER_READS;
use super::Root;
use crate::steps::{Produce, STREAM_PIECE};

/// How deep the walk goes below the archived folder.
const MAX_DEPTH: usize = 64;

impl Root {
    /// The entries of the folder `path` (opened as `dir`) for its archive.
    pub fn archive_entries(&self, dir: &File, path: &RelPath) -> io::Result<Vec<ArchiveEntry>> {
        let _turn = FOLDER_READS.enter();
        let mut out = Vec::new();
        self.walk_into(dir, path, "", 0, &mut out)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        dir: &File,
        path: &RelPath,
        prefix: &str,
        depth: usize,
        out: &mut Vec<ArchiveEntry>,
    ) -> io::Result<()> {
        let mut here = Vec::new();
        self.each_entry(dir, |name, is_dir, size, modified, id| {
            if path.can_join(name) {
                let mtime = modified.map_or(0, nanos);
                here.push((name.to_owned(), is_dir, size, mtime, id));
            }
        })?;
        here.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, is_dir, size, mtime, id) in here {
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if !is_dir {
                // A link leaving its folder is listed undescribed (id 0):
                // it cannot be read, so it is not archived.
                if id != 0 {
                    out.push(ArchiveEntry {
                        path: rel,
                        is_dir: false,
                        size,
                        mtime_ns: mtime,
                        id,
                    });
                }
                continue;
            }
            if depth >= MAX_DEPTH {
                continue;
            }
            // NOFOLLOW: a symlink to a folder is left out, never walked.
            let Ok(sub) = self.open_at(
                dir,
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            ) else {
                continue;
            };
            out.push(ArchiveEntry {
                path: rel.clone(),
                is_dir: true,
                size: 0,
                mtime_ns: mtime,
                id,
            });
            self.walk_into(&File::from(sub), path, &rel, depth + 1, out)?;
        }
        Ok(())
    }
}

/// The bytes `first..first + len` of an archive, read as they are sent.
#[derive(Debug)]
pub struct ArchiveBody {
    root: Root,
    base: RelPath,
    plan: Plan,
    at: u64,
    end: u64,
    open: Option<(usize, File)>,
}

impl ArchiveBody {
    /// The body of `plan` (of the folder `base`) from byte `first`, `len`
    /// bytes.
    pub fn new(root: &Root, base: &RelPath, plan: Plan, first: u64, len: u64) -> ArchiveBody {
        ArchiveBody {
            root: root.clone(),
            base: base.clone(),
            plan,
            at: first,
            end: first.saturating_add(len),
            open: None,
        }
    }

    /// Entry `i`'s file, opened beneath the root and checked to be the
    /// version the archive was laid out with.
    fn file(&mut self, i: usize) -> io::Result<&File> {
        if self.open.as_ref().map(|(j, _)| *j) != Some(i) {
            let e = &self.plan.entries()[i];
            let mut path = self.base.clone();
            for seg in e.path.split('/') {
                path = path
                    .join(seg)
                    .map_err(|_| io::Error::other("an archived name is no longer valid"))?;
            }
            let opened = self
                .root
                .open_read(&path)
                .map_err(|f| io::Error::other(format!("{path}: {f:?}")))?;
            let meta = opened.meta;
            let mtime = meta.modified.map_or(0, nanos);
            if meta.len != e.size || mtime != e.mtime_ns || meta.id != e.id {
                return Err(io::Error::other(format!(
                    "{path} changed while its folder was archived; the archive ends short"
                )));
            }
            self.open = Some((i, opened.file));
        }
        self.open
            .as_ref()
            .map(|(_, f)| f)
            .ok_or_else(|| io::Error::other("no open file"))
    }
}

impl Produce for ArchiveBody {
    fn produce(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        // Larger than other streamed bodies: each piece may be a trip to
        // the async runtime's blocking pool.
        let want = out.len() + 16 * STREAM_PIECE;
        while out.len() < want && self.at < self.end {
            let room = (want - out.len()) as u64;
            let Some(part) = self.plan.part_at(self.at, room.min(self.end - self.at)) else {
                break;
            };
            match part {
                Part::Bytes(b) => {
                    self.at += b.len() as u64;
                    out.extend_from_slice(&b);
                }
                Part::File { entry, offset, len } => {
                    let file = self.file(entry)?;
                    let from = out.len();
                    out.resize(from + len as usize, 0);
                    let mut got = 0usize;
                    while got < len as usize {
                        match file.read_at(&mut out[from + got..], offset + got as u64) {
                            Ok(0) => {
                                return Err(io::Error::other(
                                    "a file shrank while its folder was archived",
                                ))
                            }
                            Ok(n) => got += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    // Written to in place while it was read: what was read
                    // may mix two versions, so it is never sent.
                    let now = super::meta_of(file)?;
                    let e = &self.plan.entries()[entry];
                    if now.len != e.size || now.modified.map_or(0, nanos) != e.mtime_ns {
                        return Err(io::Error::other(
                            "a file changed while its folder was archived; the archive ends short",
                        ));
                    }
                    self.at += len;
                }
            }
        }
        Ok(self.at < self.end)
    }
}
