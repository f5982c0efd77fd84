//! The root-confined file system, shared by every runtime: open beneath the
//! root, atomic uploads, deletes and directory entries.
//!
//! Invariants:
//! - Every path is resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`
//!   relative to a descriptor of the root, so neither `..` nor a symlink
//!   (absolute, or relative and climbing out) can reach outside it, and a
//!   rename of the root's parent cannot redirect us. Symlinks that stay
//!   inside the root work.
//! - An upload is written to a dot-file temporary in the target's directory
//!   (dot-files are never served, listed or addressable), synced, renamed
//!   over the target, and the directory synced: a reader sees the old file
//!   or the new one, never a mix, and a crash after a 2xx keeps the upload.
//!   An upload dropped before [`Upload::commit`] removes its temporary; one
//!   still open at shutdown is removed by [`remove_unfinished_uploads`].
//!
//! Linux only (openat2 needs Linux 5.6).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pared_core::listing::Entry;
use pared_core::path::RelPath;
use pared_core::service::{FileKind, FsFailure, Meta};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// Maps an OS error to what the response needs to know.
pub fn failure(e: &io::Error) -> FsFailure {
    use rustix::io::Errno;
    match e.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::NOENT | Errno::NOTDIR) => FsFailure::NotFound,
        Some(Errno::ACCESS | Errno::PERM | Errno::XDEV | Errno::LOOP | Errno::ROFS) => {
            FsFailure::Denied
        }
        Some(Errno::ISDIR | Errno::EXIST | Errno::NOTEMPTY) => FsFailure::Conflict,
        Some(Errno::NOSPC | Errno::DQUOT | Errno::FBIG) => FsFailure::NoSpace,
        _ => FsFailure::Other,
    }
}

fn resolve() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS
}

/// The relative path as the OS sees it (`.` for the root).
fn os_path(path: &RelPath) -> String {
    if path.is_root() {
        ".".to_owned()
    } else {
        path.to_string()
    }
}

fn meta_of(fd: &OwnedFd) -> io::Result<Meta> {
    let st = rustix::fs::fstat(fd)?;
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        _ => FileKind::Other,
    };
    let modified = (st.st_mtime >= 0)
        .then(|| UNIX_EPOCH + Duration::new(st.st_mtime as u64, st.st_mtime_nsec as u32));
    Ok(Meta {
        kind,
        len: u64::try_from(st.st_size).unwrap_or(0),
        modified,
    })
}

/// An object opened beneath the root, with its metadata.
#[derive(Debug)]
pub struct Opened {
    /// The open file or directory.
    pub file: File,
    /// What it is.
    pub meta: Meta,
}

/// A directory that all paths are resolved beneath.
#[derive(Debug, Clone)]
pub struct Root {
    fd: Arc<OwnedFd>,
}

impl Root {
    /// Opens the served root directory.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd: Arc::new(fd) })
    }

    fn open_at(&self, dir: impl AsFd, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
        loop {
            match rustix::fs::openat2(
                &dir,
                path,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                resolve(),
            ) {
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    /// Opens `path` for reading. A fifo or device is opened non-blocking and
    /// reported as [`FileKind::Other`], so it can never stall a thread.
    pub fn open_read(&self, path: &RelPath) -> Result<Opened, FsFailure> {
        let fd = self
            .open_at(
                &*self.fd,
                &os_path(path),
                OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK,
            )
            .map_err(|e| failure(&e))?;
        // O_NONBLOCK has no effect on regular files and directories, so it
        // can stay set.
        let meta = meta_of(&fd).map_err(|e| failure(&e))?;
        Ok(Opened {
            file: File::from(fd),
            meta,
        })
    }

    /// Opens (creating as needed) the directory that holds `path`.
    fn parent_dir(&self, path: &RelPath, create: bool) -> io::Result<OwnedFd> {
        let segs = path.segments();
        let parents = &segs[..segs.len().saturating_sub(1)];
        let mut dir = self.open_at(&*self.fd, ".", OFlags::RDONLY | OFlags::DIRECTORY)?;
        for seg in parents {
            if create {
                match rustix::fs::mkdirat(&dir, seg.as_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            dir = self.open_at(&dir, seg, OFlags::RDONLY | OFlags::DIRECTORY)?;
        }
        Ok(dir)
    }

    /// Starts an upload to `path`: parents are created, and the body goes
    /// to a temporary file beside the target.
    pub fn begin_upload(&self, path: &RelPath) -> Result<Upload, FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Conflict)?.to_owned();
        // A file where the path needs a directory is a conflict, not a 404.
        let dir = self
            .parent_dir(path, true)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == rustix::io::Errno::NOTDIR.raw_os_error() => {
                    FsFailure::Conflict
                }
                _ => failure(&e),
            })?;
        let dir = Arc::new(dir);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = format!(".pared-upload-{}-{n}-{nanos:08x}", std::process::id());
        let fd = rustix::fs::openat(
            &*dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )
        .map_err(|e| failure(&e.into()))?;
        let id = register(&dir, &tmp);
        Ok(Upload {
            dir,
            tmp,
            name,
            file: Some(File::from(fd)),
            id,
        })
    }

    /// Removes the file at `path` (not a directory).
    pub fn remove(&self, path: &RelPath) -> Result<(), FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Conflict)?;
        let dir = self.parent_dir(path, false).map_err(|e| failure(&e))?;
        rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| failure(&e.into()))
    }

    /// The entries of an opened directory, with names that are UTF-8.
    pub fn entries(&self, dir: &File) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for item in rustix::fs::Dir::read_from(dir)? {
            let item = item?;
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(raw) else {
                continue;
            };
            let is_dir = match item.file_type() {
                FileType::Directory => true,
                FileType::Symlink | FileType::Unknown => {
                    rustix::fs::statat(dir, OsStr::from_bytes(raw), AtFlags::empty())
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
                }
                _ => false,
            };
            out.push(Entry {
                name: name.to_owned(),
                is_dir,
            });
        }
        Ok(out)
    }
}

type Registry = Mutex<HashMap<u64, (Arc<OwnedFd>, String)>>;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(Default::default)
}

fn register(dir: &Arc<OwnedFd>, tmp: &str) -> u64 {
    static IDS: AtomicU64 = AtomicU64::new(0);
    let id = IDS.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut reg) = registry().lock() {
        reg.insert(id, (dir.clone(), tmp.to_owned()));
    }
    id
}

fn unregister(id: u64) {
    if let Ok(mut reg) = registry().lock() {
        reg.remove(&id);
    }
}

/// Removes the temporary file of every upload still in progress; called
/// on shutdown, when their connections are abandoned.
pub fn remove_unfinished_uploads() -> usize {
    let Ok(mut reg) = registry().lock() else {
        return 0;
    };
    let n = reg.len();
    for (_, (dir, tmp)) in reg.drain() {
        let _ = rustix::fs::unlinkat(&*dir, tmp.as_str(), AtFlags::empty());
    }
    n
}

/// An upload in progress: whole after [`Upload::commit`], gone otherwise.
#[derive(Debug)]
pub struct Upload {
    dir: Arc<OwnedFd>,
    tmp: String,
    name: String,
    file: Option<File>,
    id: u64,
}

impl Upload {
    /// Appends body bytes to the temporary file.
    pub fn write(&mut self, data: &[u8]) -> Result<(), FsFailure> {
        match &mut self.file {
            Some(f) => f.write_all(data).map_err(|e| failure(&e)),
            None => Err(FsFailure::Other),
        }
    }

    /// Syncs the data, renames it over the target, and syncs the directory.
    /// Returns true when the target did not exist before (201 Created).
    pub fn commit(mut self) -> Result<bool, FsFailure> {
        let file = self.file.take().ok_or(FsFailure::Other)?;
        file.sync_all().map_err(|e| failure(&e))?;
        drop(file);
        let created =
            match rustix::fs::statat(&*self.dir, self.name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                    return Err(FsFailure::Conflict)
                }
                Ok(_) => false,
                Err(rustix::io::Errno::NOENT) => true,
                Err(e) => return Err(failure(&e.into())),
            };
        rustix::fs::renameat(
            &*self.dir,
            self.tmp.as_str(),
            &*self.dir,
            self.name.as_str(),
        )
        .map_err(|e| failure(&e.into()))?;
        self.tmp.clear();
        unregister(self.id);
        rustix::fs::fsync(&*self.dir).map_err(|e| failure(&e.into()))?;
        Ok(created)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.tmp.is_empty() {
            self.file = None;
            let _ = rustix::fs::unlinkat(&*self.dir, self.tmp.as_str(), AtFlags::empty());
            unregister(self.id);
        }
    }
}
