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

/// The CRC-32s of file versions a zip needed, so a resumed download (each
/// range request lays the archive out again) does not read them again.
#[derive(Debug, Default)]
pub struct CrcCache {
    known: std::sync::Mutex<std::collections::HashMap<(u64, u64, u128), u32>>,
}

impl CrcCache {
    /// Versions remembered at most (then forgotten all at once).
    const MAX: usize = 1 << 16;

    fn get(&self, e: &ArchiveEntry) -> Option<u32> {
        let known = self.known.lock().ok()?;
        known.get(&(e.id, e.size, e.mtime_ns)).copied()
    }

    fn put(&self, e: &ArchiveEntry, crc: u32) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= Self::MAX {
                known.clear();
            }
            known.insert((e.id, e.size, e.mtime_ns), crc);
        }
    }
}

/// How deep the walk goes below the archived folder.
const MAX_DEPTH: usize = 64;

impl Root {
    /// The entries of the folder `path` (opened as `dir`) for its archive;
    /// with `readable`, only the relative paths it allows (a folder left
    /// out is not walked).
    pub fn archive_entries(
        &self,
        dir: &File,
        path: &RelPath,
        readable: Option<&dyn Fn(&str) -> bool>,
    ) -> io::Result<Vec<ArchiveEntry>> {
        let _turn = FOLDER_READS.enter();
        let mut out = Vec::new();
        self.walk_into(dir, path, "", 0, readable, &mut out)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        dir: &File,
        path: &RelPath,
        prefix: &str,
        depth: usize,
        readable: Option<&dyn Fn(&str) -> bool>,
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
            if readable.is_some_and(|may| !may(&rel)) {
                continue;
            }
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
            self.walk_into(&File::from(sub), path, &rel, depth + 1, readable, out)?;
        }
        Ok(())
    }
}

/// The bytes `first..first + len` of an archive, read as they are sent.
#[derive(Debug)]
pub struct ArchiveBody {
    plan: Plan,
    files: Files,
    at: u64,
    end: u64,
}

/// The archived files: the one open now, and the CRC-32s computed so far.
#[derive(Debug)]
struct Files {
    root: Root,
    base: RelPath,
    open: Option<(usize, std::sync::Arc<File>)>,
    crcs: Vec<Option<u32>>,
}

impl ArchiveBody {
    /// The body of `plan` (of the folder `base`) from byte `first`, `len`
    /// bytes.
    pub fn new(root: &Root, base: &RelPath, plan: Plan, first: u64, len: u64) -> ArchiveBody {
        let n = plan.entries().len();
        ArchiveBody {
            plan,
            files: Files {
                root: root.clone(),
                base: base.clone(),
                open: None,
                crcs: vec![None; n],
            },
            at: first,
            end: first.saturating_add(len),
        }
    }
}

fn changed(what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} changed while its folder was archived; the archive ends short"
    ))
}

/// True when `file` is no longer the version `e` describes.
fn differs(file: &File, e: &ArchiveEntry) -> io::Result<bool> {
    let now = super::meta_of(file)?;
    Ok(now.len != e.size || now.modified.map_or(0, nanos) != e.mtime_ns)
}

impl Files {
    /// Entry `i`'s file, opened beneath the root and checked to be the
    /// version the archive was laid out with.
    fn file(&mut self, plan: &Plan, i: usize) -> io::Result<&File> {
        if self.open.as_ref().map(|(j, _)| *j) != Some(i) {
            let e = &plan.entries()[i];
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
            if meta.len != e.size || meta.modified.map_or(0, nanos) != e.mtime_ns || meta.id != e.id
            {
                return Err(changed(&path.to_string()));
            }
            self.open = Some((i, opened.file));
        }
        self.open
            .as_ref()
            .map(|(_, f)| &**f)
            .ok_or_else(|| io::Error::other("no open file"))
    }

    /// Entry `i`'s CRC-32 (zip), read from its file once.
    fn crc(&mut self, plan: &Plan, i: usize) -> io::Result<u32> {
        if let Some(Some(c)) = self.crcs.get(i) {
            return Ok(*c);
        }
        let e = &plan.entries()[i];
        let crc = if e.is_dir {
            0
        } else if let Some(known) = self.root.crcs.get(e) {
            known
        } else {
            let file = self.file(plan, i)?;
            let mut h = crc32fast::Hasher::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut at = 0u64;
            while at < e.size {
                let want = (e.size - at).min(buf.len() as u64) as usize;
                match file.read_at(&mut buf[..want], at) {
                    Ok(0) => return Err(changed(&e.path)),
                    Ok(n) => {
                        h.update(&buf[..n]);
                        at += n as u64;
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            if differs(file, e)? {
                return Err(changed(&e.path));
            }
            let crc = h.finalize();
            self.root.crcs.put(e, crc);
            crc
        };
        if let Some(slot) = self.crcs.get_mut(i) {
            *slot = Some(crc);
        }
        Ok(crc)
    }
}

impl Produce for ArchiveBody {
    fn produce(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        // Larger than other streamed bodies: each piece may be a trip to
        // the async runtime's blocking pool.
        let want = out.len() + 16 * STREAM_PIECE;
        while out.len() < want && self.at < self.end {
            let room = ((want - out.len()) as u64).min(self.end - self.at);
            let (plan, files) = (&self.plan, &mut self.files);
            let Some(part) = plan.part_at(self.at, room, &mut |i| files.crc(plan, i))? else {
                break;
            };
            match part {
                Part::Bytes(b) => {
                    self.at += b.len() as u64;
                    out.extend_from_slice(&b);
                }
                Part::File { entry, offset, len } => {
                    let file = self.files.file(&self.plan, entry)?;
                    let from = out.len();
                    out.resize(from + len as usize, 0);
                    let mut got = 0usize;
                    while got < len as usize {
                        match file.read_at(&mut out[from + got..], offset + got as u64) {
                            Ok(0) => return Err(changed("a file")),
                            Ok(n) => got += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    // Written to in place while it was read: what was read
                    // may mix two versions, so it is never sent.
                    if differs(file, &self.plan.entries()[entry])? {
                        return Err(changed(&self.plan.entries()[entry].path));
                    }
                    self.at += len;
                }
            }
        }
        Ok(self.at < self.end)
    }
}
