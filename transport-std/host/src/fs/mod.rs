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

use std::fs::File;
use std::io::{self};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
mod archive;
mod digest_store;
mod dir;
mod fresh;
mod gate;
mod hot;
mod resumable;
mod search;
mod stale;
mod sweep;
pub mod tree;
mod upload;
pub mod writeback;

pub use archive::ArchiveBody;
pub use digest_store::DIGEST_XATTR;
pub use dir::Names;
pub use hot::{HOT_MAX, SLOTS as HOT_SLOTS};
pub use stale::{retry_stale, STALE_RETRIES};
pub use sweep::{pared_alive, remove_stale_uploads, sweep_stale_uploads, UPLOAD_PREFIX};
pub use upload::{remove_unfinished_uploads, Upload};

use self::digest_store::{compute_digest, stored_digest};
use self::upload::lock_current;
use crate::digest_cache::DigestCache;
use pared_core::digest::{Algorithm, Digest};
use pared_core::path::RelPath;
use pared_core::service::{FileKind, FsFailure, Meta, WriteGuard};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// Maps an OS error to what the response needs to know.
pub fn failure(e: &io::Error) -> FsFailure {
    use rustix::io::Errno;
    match e.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::NOENT | Errno::NOTDIR) => FsFailure::NotFound,
        // ENXIO: a socket (or a device without its driver) inside the root.
        Some(
            Errno::ACCESS | Errno::PERM | Errno::XDEV | Errno::LOOP | Errno::ROFS | Errno::NXIO,
        ) => FsFailure::Denied,
        Some(Errno::NAMETOOLONG) => FsFailure::NameTooLong,
        Some(Errno::ISDIR | Errno::EXIST | Errno::NOTEMPTY) => FsFailure::Conflict,
        Some(Errno::NOSPC | Errno::DQUOT | Errno::FBIG) => FsFailure::NoSpace,
        // A shared file system lost the handle: look again (fs::stale).
        Some(Errno::STALE) => FsFailure::Unavailable,
        _ => FsFailure::Other,
    }
}

pub(super) fn resolve() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS
}

/// The relative path as the OS sees it (`.` for the root).
pub(super) fn os_path(path: &RelPath) -> String {
    if path.is_root() {
        ".".to_owned()
    } else {
        // One allocation, no formatting machinery: this runs per request.
        path.segments().join("/")
    }
}

pub(super) fn meta_of(fd: impl AsFd) -> io::Result<Meta> {
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
        id: st.st_ino,
    })
}

/// An object opened beneath the root, with its metadata.
#[derive(Debug)]
pub struct Opened {
    /// The open file or directory (shared with the set of kept small
    /// files, see [`Root::open_served`]).
    pub file: Arc<File>,
    /// What it is.
    pub meta: Meta,
}

/// A directory that all paths are resolved beneath.
#[derive(Debug, Clone)]
pub struct Root {
    fd: Arc<OwnedFd>,
    digests: Arc<DigestCache>,
    crcs: Arc<archive::CrcCache>,
    hot: Arc<hot::HotFiles>,
}

/// Why a step that must not wait on the disk did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached<T> {
    /// Done without waiting: this is the answer.
    Done(T),
    /// The step needs the disk (a path component or inode that is not in
    /// the kernel's caches): run the blocking version on a thread that
    /// may wait.
    Miss,
}

impl Root {
    /// Opens the served root directory.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Another host's change may reach a shared file system's
        // attributes late: keep no descriptors there (see `hot`).
        let hot = hot::HotFiles::new(!fresh::is_shared(&fd));
        Ok(Root {
            fd: Arc::new(fd),
            digests: Arc::new(DigestCache::new()),
            crcs: Arc::default(),
            hot: Arc::new(hot),
        })
    }

    pub(super) fn open_at(&self, dir: impl AsFd, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
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
        stale::retry_stale(&format_args!("GET /{path}"), || self.open_read_once(path))
    }

    fn open_read_once(&self, path: &RelPath) -> Result<Opened, FsFailure> {
        let fd = self.open_for_reading(&os_path(path))?;
        let meta = meta_of(&fd).map_err(|e| failure(&e))?;
        Ok(Opened {
            file: Arc::new(File::from(fd)),
            meta,
        })
    }

    /// Opens `os` (an [`os_path`]) beneath the root for reading, waiting
    /// on the disk as needed. O_NONBLOCK keeps a fifo or device from
    /// stalling the thread; it has no effect on regular files and
    /// directories, so it can stay set.
    fn open_for_reading(&self, os: &str) -> Result<OwnedFd, FsFailure> {
        self.open_at(
            &*self.fd,
            os,
            OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK,
        )
        .map_err(|e| failure(&e))
    }

    /// [`Root::open_read`] that never waits on the disk: the path is
    /// resolved with `RESOLVE_CACHED` (Linux 5.12), which fails with
    /// EAGAIN, reported as [`Cached::Miss`], where a lookup would have to
    /// read a directory or an inode from the disk; `statx` of an open
    /// descriptor reads only the in-memory inode. A small file served
    /// lately comes from its kept descriptor, as in [`Root::open_served`].
    /// A kernel without
    /// `RESOLVE_CACHED` (EINVAL) is a miss too: everything takes the
    /// blocking path there.
    pub fn open_read_cached(&self, path: &RelPath) -> Cached<Result<Opened, FsFailure>> {
        use rustix::io::Errno;
        let path = os_path(path);
        if let Some((file, meta)) = self.hot.get(&*self.fd, &path) {
            return Cached::Done(Ok(Opened { file, meta }));
        }
        let opened = rustix::fs::openat2(
            &*self.fd,
            path.as_str(),
            OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
            resolve() | ResolveFlags::CACHED,
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(Errno::AGAIN | Errno::INTR | Errno::INVAL) => return Cached::Miss,
            Err(e) => return Cached::Done(Err(failure(&e.into()))),
        };
        Cached::Done(self.opened_served(fd, &path))
    }

    /// The object `path` names, for a GET or HEAD: a small file served
    /// lately comes from its kept descriptor when one `statx` of the path
    /// shows the same, unchanged inode (see `hot`); anything else is
    /// opened like [`Root::open_read`], and a small file is kept.
    pub fn open_served(&self, path: &RelPath) -> Result<Opened, FsFailure> {
        let os = os_path(path);
        if let Some((file, meta)) = self.hot.get(&*self.fd, &os) {
            return Ok(Opened { file, meta });
        }
        stale::retry_stale(&format_args!("GET /{path}"), || {
            self.opened_served(self.open_for_reading(&os)?, &os)
        })
    }

    /// An object just opened for a GET, with its metadata from one
    /// `statx`; a small regular file is kept for next time.
    fn opened_served(&self, fd: OwnedFd, os: &str) -> Result<Opened, FsFailure> {
        let st = rustix::fs::statx(&fd, "", AtFlags::EMPTY_PATH, hot::WANTED)
            .map_err(|e| failure(&e.into()))?;
        let meta = fresh::meta_from(&st);
        let file = Arc::new(File::from(fd));
        self.hot.put(os, &file, &meta, hot::Identity::of(&st));
        Ok(Opened { file, meta })
    }

    /// The sha-256 recorded for this version of `file`, if any: from
    /// memory, else from its extended attribute (then remembered).
    pub fn known_digest(&self, file: &File, meta: &Meta) -> Option<Digest> {
        if let Some(known) = self.digests.get(&meta.version()) {
            return known;
        }
        let stored = stored_digest(file, &meta.etag());
        self.digests.put(meta.version(), stored.clone());
        stored
    }

    /// What is known in memory of this version's sha-256, without any
    /// system call (see [`DigestCache::get`]).
    pub fn cached_digest(&self, meta: &Meta) -> Option<Option<Digest>> {
        self.digests.get(&meta.version())
    }

    /// Reads the whole of `file` (version `meta`) and returns its `alg`
    /// digest; the sha-256 is kept for next time when the file did not
    /// change while it was read.
    pub fn compute_digest(&self, file: &File, meta: &Meta, alg: Algorithm) -> io::Result<Digest> {
        compute_digest(file, meta, alg, &self.digests)
    }

    /// Opens (creating as needed) the directory that holds `path`.
    pub(super) fn parent_dir(&self, path: &RelPath, create: bool) -> io::Result<OwnedFd> {
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

    /// Removes the file at `path` (not a directory). With a `guard` other
    /// than [`WriteGuard::None`], the current file is locked and
    /// `allowed` decides, atomically with respect to every pared process
    /// on this root, whether it may go (else 412).
    pub fn remove(
        &self,
        path: &RelPath,
        guard: WriteGuard,
        allowed: &dyn Fn(Option<&Meta>) -> bool,
    ) -> Result<(), FsFailure> {
        stale::retry_stale(&format_args!("DELETE /{path}"), || {
            self.remove_once(path, guard, allowed)
        })
    }

    fn remove_once(
        &self,
        path: &RelPath,
        guard: WriteGuard,
        allowed: &dyn Fn(Option<&Meta>) -> bool,
    ) -> Result<(), FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Conflict)?;
        let dir = self.parent_dir(path, false).map_err(|e| failure(&e))?;
        // A kept descriptor would hold the removed file's blocks.
        self.hot.forget(&os_path(path));
        // A symlink GET refuses (it leaves the root) is refused here too;
        // one GET follows is removed itself, never its target. Sockets,
        // fifos and devices are not pared's to delete.
        if let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            let kind = FileType::from_raw_mode(st.st_mode);
            if kind == FileType::Symlink && self.open_read(path).err() == Some(FsFailure::Denied) {
                return Err(FsFailure::Denied);
            }
            if !matches!(
                kind,
                FileType::RegularFile | FileType::Symlink | FileType::Directory
            ) {
                return Err(FsFailure::Conflict);
            }
        }
        let unlink =
            || rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| failure(&e.into()));
        if guard == WriteGuard::None {
            return unlink();
        }
        match lock_current(&dir, name)? {
            // A DELETE of nothing is a 404 whatever its preconditions.
            None => Err(FsFailure::NotFound),
            Some((_, meta)) if meta.kind == FileKind::Dir => Err(FsFailure::Conflict),
            Some((_lock, meta)) if allowed(Some(&meta)) => unlink(),
            Some(_) => Err(FsFailure::PreconditionFailed),
        }
    }

    /// Opens (creating it) a state file of pared's own in the root, such
    /// as the lock table: a dot-file, so never served, listed or written
    /// by a request.
    /// Without `create`, a missing file is `NotFound`.
    pub fn open_state(&self, name: &str, create: bool) -> io::Result<File> {
        debug_assert!(name.starts_with(".pared-"));
        let flags = if create {
            OFlags::RDWR | OFlags::CREATE
        } else {
            OFlags::RDONLY
        };
        rustix::fs::openat(
            &*self.fd,
            name,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map(File::from)
        .map_err(io::Error::from)
    }

    /// Metadata of `path` without following a final symlink out of the
    /// root (resolved like [`Root::open_read`]).
    pub fn meta(&self, path: &RelPath) -> Result<Meta, FsFailure> {
        self.open_read(path).map(|o| o.meta)
    }
}
