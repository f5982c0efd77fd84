//! Collections and trees beneath the root, for WebDAV: make a directory,
//! remove a tree, copy a tree file by file, move by rename, and the dead
//! properties kept with each resource.
//!
//! Invariants: every call resolves beneath the root with the same
//! `openat2(RESOLVE_BENEATH)` as a GET, and walks a tree through
//! directory descriptors opened without following links, so a symlink in
//! a tree is removed or skipped, never followed out of it. A copied file
//! is written through an upload temporary: each one whole or absent.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;

use pared_core::dav::QName;
use pared_core::path::RelPath;
use pared_core::service::{FileKind, FsFailure, WriteGuard};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{failure, Root};

/// The extended attribute that keeps a resource's dead properties.
pub const PROPS_XATTR: &str = "user.pared.props";

/// A member of a tree that could not be changed, and why.
pub type Failed = Vec<(RelPath, FsFailure)>;

impl Root {
    /// The directory that holds `path`, which must exist (409 otherwise:
    /// RFC 4918 §9.7.1 refuses to make intermediate collections).
    pub fn existing_parent(&self, path: &RelPath) -> Result<OwnedFd, FsFailure> {
        self.parent_dir(path, false)
            .map_err(|e| match e.raw_os_error() {
                Some(c)
                    if c == rustix::io::Errno::NOENT.raw_os_error()
                        || c == rustix::io::Errno::NOTDIR.raw_os_error() =>
                {
                    FsFailure::Conflict
                }
                _ => failure(&e),
            })
    }

    /// MKCOL: a new directory at `path`; [`MkcolFailure::Exists`] (405)
    /// when something is there, a 409 failure without a parent.
    pub fn make_dir(&self, path: &RelPath) -> Result<(), MkcolFailure> {
        let name = path.file_name().ok_or(MkcolFailure::Exists)?;
        let dir = self.existing_parent(path).map_err(MkcolFailure::Fs)?;
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => {
                let _ = rustix::fs::fsync(&dir);
                Ok(())
            }
            Err(rustix::io::Errno::EXIST) => Err(MkcolFailure::Exists),
            Err(e) => Err(MkcolFailure::Fs(failure(&e.into()))),
        }
    }

    /// The kind of object at `path`, without following a final symlink
    /// that leaves the root; `None` when nothing is there.
    pub fn kind(&self, path: &RelPath) -> Result<Option<FileKind>, FsFailure> {
        match self.open_read(path) {
            Ok(o) => Ok(Some(o.meta.kind)),
            Err(FsFailure::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// DELETE of a directory and everything in it: what could not be
    /// removed is reported (and its parents stay); the rest is gone.
    pub fn remove_tree(&self, path: &RelPath) -> Result<Failed, FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Denied)?;
        let parent = self.existing_parent(path)?;
        let mut failed = Vec::new();
        if self.remove_entry(&parent, name, path, &mut failed) {
            let _ = rustix::fs::fsync(&parent);
        }
        Ok(failed)
    }

    /// Removes `name` in `dir` (a tree when it is a directory); true when
    /// it is gone.
    fn remove_entry(&self, dir: &OwnedFd, name: &str, at: &RelPath, failed: &mut Failed) -> bool {
        let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return true,
            Err(e) => {
                failed.push((at.clone(), failure(&e.into())));
                return false;
            }
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
                Ok(()) => true,
                Err(e) => {
                    failed.push((at.clone(), failure(&e.into())));
                    false
                }
            };
        }
        let sub = match rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                failed.push((at.clone(), failure(&e.into())));
                return false;
            }
        };
        let mut all_gone = true;
        for child in names(&sub) {
            // A name pared cannot address (not UTF-8) is still removed.
            let child_path = at.join(&child).unwrap_or_else(|_| at.clone());
            all_gone &= self.remove_entry(&sub, &child, &child_path, failed);
        }
        if !all_gone {
            return false;
        }
        match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
            Ok(()) => true,
            Err(e) => {
                failed.push((at.clone(), failure(&e.into())));
                false
            }
        }
    }

    /// Copies the file `from` to `to` (replacing what is there) through
    /// an upload temporary, dead properties included.
    pub fn copy_file(&self, from: &RelPath, to: &RelPath) -> Result<(), FsFailure> {
        let src = self.open_read(from)?;
        if src.meta.kind != FileKind::File {
            return Err(FsFailure::Conflict);
        }
        let mut upload = self.begin_upload(to, Some(src.meta.len), WriteGuard::None, Vec::new())?;
        let mut file: &File = &src.file;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(|e| failure(&e))?;
            if n == 0 {
                break;
            }
            upload.write(&buf[..n])?;
        }
        let props = read_props(&src.file);
        upload.commit(&|_| true)?;
        if !props.is_empty() {
            if let Ok(dst) = self.open_read(to) {
                let _ = write_props(&dst.file, &props);
            }
        }
        Ok(())
    }

    /// Copies the directory `from` to `to` (which must not exist): the
    /// collection and its dead properties, and with `deep` every member.
    pub fn copy_tree(&self, from: &RelPath, to: &RelPath, deep: bool) -> Result<Failed, FsFailure> {
        let src = self.open_read(from)?;
        match self.make_dir(to) {
            Ok(()) => {}
            Err(MkcolFailure::Exists) => return Err(FsFailure::PreconditionFailed),
            Err(MkcolFailure::Fs(f)) => return Err(f),
        }
        let props = read_props(&src.file);
        if !props.is_empty() {
            if let Ok(dst) = self.open_read(to) {
                let _ = write_props(&dst.file, &props);
            }
        }
        let mut failed = Vec::new();
        if !deep {
            return Ok(failed);
        }
        for entry in self.entries(&src.file).map_err(|e| failure(&e))? {
            if entry.name.starts_with('.') {
                continue;
            }
            let (Ok(f), Ok(t)) = (from.join(&entry.name), to.join(&entry.name)) else {
                continue;
            };
            let r = if entry.is_dir {
                self.copy_tree(&f, &t, true).map(|mut more| {
                    failed.append(&mut more);
                })
            } else {
                self.copy_file(&f, &t)
            };
            if let Err(e) = r {
                failed.push((t, e));
            }
        }
        Ok(failed)
    }

    /// Renames `from` to `to` (nothing may be at `to`; the caller removed
    /// what an overwrite replaces). Locks and properties go with it.
    pub fn rename(&self, from: &RelPath, to: &RelPath) -> Result<(), FsFailure> {
        let (Some(a), Some(b)) = (from.file_name(), to.file_name()) else {
            return Err(FsFailure::Denied);
        };
        let src_dir = self.existing_parent(from)?;
        let dst_dir = self.existing_parent(to)?;
        // A symlink that leaves the root is refused as GET refuses it.
        if let Err(FsFailure::Denied) = self.open_read(from) {
            return Err(FsFailure::Denied);
        }
        match rustix::fs::renameat_with(
            &src_dir,
            a,
            &dst_dir,
            b,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => return Err(FsFailure::PreconditionFailed),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                rustix::fs::renameat(&src_dir, a, &dst_dir, b).map_err(|e| failure(&e.into()))?
            }
            Err(e) => return Err(failure(&e.into())),
        }
        let _ = rustix::fs::fsync(&dst_dir);
        let _ = rustix::fs::fsync(&src_dir);
        Ok(())
    }
}

/// Why MKCOL failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MkcolFailure {
    /// Something is already at the path (405).
    Exists,
    /// The file system refused (the failure's status; 409 without a parent).
    Fs(FsFailure),
}

/// The names in a directory, `.` and `..` left out.
fn names(dir: &OwnedFd) -> Vec<String> {
    let Ok(d) = rustix::fs::Dir::read_from(dir) else {
        return Vec::new();
    };
    d.filter_map(Result::ok)
        .filter_map(|e| {
            let raw = e.file_name().to_bytes();
            (raw != b"." && raw != b"..").then(|| String::from_utf8_lossy(raw).into_owned())
        })
        .collect()
}

/// The dead properties kept with an open resource.
pub fn read_props(file: &File) -> Vec<(QName, String)> {
    let mut buf = vec![0u8; 64 * 1024];
    match rustix::fs::fgetxattr(file, PROPS_XATTR, &mut buf[..]) {
        Ok(n) => decode_props(&buf[..n]),
        Err(_) => Vec::new(),
    }
}

/// Replaces the dead properties kept with an open resource.
pub fn write_props(file: &File, props: &[(QName, String)]) -> Result<(), FsFailure> {
    if props.is_empty() {
        return match rustix::fs::fremovexattr(file, PROPS_XATTR) {
            Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
            Err(e) => Err(failure(&e.into())),
        };
    }
    let data = encode_props(props);
    rustix::fs::fsetxattr(file, PROPS_XATTR, &data, rustix::fs::XattrFlags::empty()).map_err(|e| {
        match e {
            rustix::io::Errno::NOSPC | rustix::io::Errno::TOOBIG | rustix::io::Errno::RANGE => {
                FsFailure::NoSpace
            }
            e => failure(&e.into()),
        }
    })
}

/// Properties as length-prefixed fields: namespace, name, value.
fn encode_props(props: &[(QName, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in props {
        for field in [name.ns.as_bytes(), name.local.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&(field.len() as u32).to_le_bytes());
            out.extend_from_slice(field);
        }
    }
    out
}

fn decode_props(mut data: &[u8]) -> Vec<(QName, String)> {
    let field = |data: &mut &[u8]| -> Option<String> {
        let len = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let s = std::str::from_utf8(data.get(4..4 + len)?).ok()?.to_owned();
        *data = &data[4 + len..];
        Some(s)
    };
    let mut out = Vec::new();
    while !data.is_empty() {
        let (Some(ns), Some(local), Some(value)) =
            (field(&mut data), field(&mut data), field(&mut data))
        else {
            break;
        };
        out.push((QName { ns, local }, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_round_trip() {
        let p = vec![
            (QName::new("urn:a", "x"), "v<b xmlns=\"\"/>".to_owned()),
            (QName::new("", "n"), String::new()),
        ];
        assert_eq!(decode_props(&encode_props(&p)), p);
        assert!(decode_props(&[1, 0, 0]).is_empty());
    }
}
