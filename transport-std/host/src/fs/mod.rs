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

pub mod writeback;

use self::writeback::WriteBack;
use crate::digest_cache::DigestCache;
use pared_core::digest::{self, Algorithm, Digest, Hasher};
use pared_core::listing::Entry;
use pared_core::path::RelPath;
use pared_core::service::{FileKind, FsFailure, Meta, Stored, WriteGuard};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags, ResolveFlags};

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
        // One allocation, no formatting machinery: this runs per request.
        path.segments().join("/")
    }
}

fn meta_of(fd: impl AsFd) -> io::Result<Meta> {
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

/// The extended attribute that keeps a file's sha-256, tagged with the
/// ETag of the version it was computed for (so it is never served stale).
pub const DIGEST_XATTR: &str = "user.pared.repr-digest";

/// The digest kept for `file` if it was recorded for this `etag`.
fn stored_digest(file: &File, etag: &str) -> Option<Digest> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::fgetxattr(file, DIGEST_XATTR, &mut buf[..]).ok()?;
    let record = std::str::from_utf8(buf.get(..n)?).ok()?;
    digest::from_record(record, etag)
}

/// Keeps `digest` beside `file` for the version `etag`; best effort (a
/// file system without user extended attributes keeps nothing).
fn keep_digest(file: &File, etag: &str, digest: &Digest) {
    let record = digest::record(etag, digest);
    let _ = rustix::fs::fsetxattr(
        file,
        DIGEST_XATTR,
        record.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    );
}

/// Reads the whole of `file` (version `meta`) and returns its `alg`
/// digest; keeps the sha-256 (in the file's attribute and in `digests`)
/// for next time when the file did not change while it was read.
fn compute_digest(
    file: &File,
    meta: &Meta,
    alg: Algorithm,
    digests: &DigestCache,
) -> io::Result<Digest> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Hasher::new(alg == Algorithm::Sha512);
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    while at < meta.len {
        let want = usize::try_from(meta.len - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::other("file shrank while hashing"));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    let after = meta_of(file)?;
    if after.version() != meta.version() {
        return Err(io::Error::other("file changed while hashing"));
    }
    let all = hasher.finish();
    if let Some(sha256) = all.iter().find(|d| d.alg == Algorithm::Sha256) {
        keep_digest(file, &meta.etag(), sha256);
        digests.put(meta.version(), Some(sha256.clone()));
    }
    all.into_iter()
        .find(|d| d.alg == alg)
        .ok_or_else(|| io::Error::other("digest not computed"))
}

/// The current file at `name` in `dir`, opened and locked with an
/// exclusive `flock` (shared by every process on this root), and checked
/// to still be the file at that name after the lock was taken; `None`
/// when nothing is there. The lock holds until the descriptor is dropped.
fn lock_current(dir: &OwnedFd, name: &str) -> Result<Option<(OwnedFd, Meta)>, FsFailure> {
    use rustix::io::Errno;
    // Each retry means another writer replaced the file meanwhile; this
    // many in a row means something is wrong.
    for _ in 0..1000 {
        let fd = match rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(failure(&e.into())),
        };
        loop {
            match rustix::fs::flock(&fd, FlockOperation::LockExclusive) {
                Ok(()) => break,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(failure(&e.into())),
            }
        }
        let meta = meta_of(&fd).map_err(|e| failure(&e))?;
        let held = rustix::fs::fstat(&fd).map_err(|e| failure(&e.into()))?;
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_dev == held.st_dev && st.st_ino == held.st_ino => {
                return Ok(Some((fd, meta)))
            }
            Ok(_) | Err(Errno::NOENT) => continue,
            Err(e) => return Err(failure(&e.into())),
        }
    }
    Err(FsFailure::Other)
}

/// Renames `tmp` to `name` in `dir` only if `name` does not exist, with no
/// window between check and rename (`RENAME_NOREPLACE`, or a hard link
/// where the file system lacks it). `Ok(false)` when it exists.
fn rename_noreplace(dir: &OwnedFd, tmp: &str, name: &str) -> Result<bool, FsFailure> {
    use rustix::io::Errno;
    match rustix::fs::renameat_with(dir, tmp, dir, name, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(Errno::INVAL | Errno::NOSYS) => {
            match rustix::fs::linkat(dir, tmp, dir, name, AtFlags::empty()) {
                Ok(()) => {
                    let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
                    Ok(true)
                }
                Err(Errno::EXIST) => Ok(false),
                Err(e) => Err(failure(&e.into())),
            }
        }
        Err(e) => Err(failure(&e.into())),
    }
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
    digests: Arc<DigestCache>,
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
        Ok(Root {
            fd: Arc::new(fd),
            digests: Arc::new(DigestCache::new()),
        })
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

    /// [`Root::open_read`] that never waits on the disk: the path is
    /// resolved with `RESOLVE_CACHED` (Linux 5.12), which fails with
    /// EAGAIN, reported as [`Cached::Miss`], where a lookup would have to
    /// read a directory or an inode from the disk; `fstat` of an open
    /// descriptor reads only the in-memory inode. A kernel without
    /// `RESOLVE_CACHED` (EINVAL) is a miss too: everything takes the
    /// blocking path there.
    pub fn open_read_cached(&self, path: &RelPath) -> Cached<Result<Opened, FsFailure>> {
        use rustix::io::Errno;
        let opened = rustix::fs::openat2(
            &*self.fd,
            os_path(path).as_str(),
            OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
            resolve() | ResolveFlags::CACHED,
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(Errno::AGAIN | Errno::INTR | Errno::INVAL) => return Cached::Miss,
            Err(e) => return Cached::Done(Err(failure(&e.into()))),
        };
        Cached::Done(meta_of(&fd).map_err(|e| failure(&e)).map(|meta| Opened {
            file: File::from(fd),
            meta,
        }))
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
    /// to a temporary file beside the target. The body is hashed as it is
    /// written and must match `expected` (if any) to be stored; `guard`
    /// says how the commit keeps its preconditions atomic.
    pub fn begin_upload(
        &self,
        path: &RelPath,
        length: Option<u64>,
        guard: WriteGuard,
        expected: Vec<Digest>,
    ) -> Result<Upload, FsFailure> {
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
        self.check_final(&dir, &name, path)?;
        let dir = Arc::new(dir);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = format!("{UPLOAD_PREFIX}{}-{n}-{nanos:08x}", std::process::id());
        let fd = rustix::fs::openat(
            &*dir,
            tmp.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )
        .map_err(|e| failure(&e.into()))?;
        let id = register(&dir, &tmp);
        // Reserve the space the body will take, without changing the
        // file's size: a full disk is refused (507) before a byte of the
        // body is read, and the file's blocks are allocated in one go.
        // File systems without fallocate simply skip this.
        // A chunked body (no declared length) reserves nothing.
        if let Some(length) = length.filter(|&n| n > 0) {
            use rustix::io::Errno;
            if let Err(e @ (Errno::NOSPC | Errno::DQUOT | Errno::FBIG)) =
                rustix::fs::fallocate(&fd, rustix::fs::FallocateFlags::KEEP_SIZE, 0, length)
            {
                let _ = rustix::fs::unlinkat(&*dir, tmp.as_str(), AtFlags::empty());
                unregister(id);
                return Err(failure(&e.into()));
            }
        }
        let file = File::from(fd);
        let sha512 = expected.iter().any(|d| d.alg == Algorithm::Sha512);
        let hashing = Hashing::Inline(Box::new(Hasher::new(sha512)));
        Ok(Upload {
            digests: self.digests.clone(),
            dir,
            tmp,
            name,
            file: Some(file),
            id,
            hashing: Some(hashing),
            written: 0,
            length,
            expected,
            guard,
            writeback: WriteBack::new(),
        })
    }

    /// What a write may do to the object already at `name` in `dir`: a
    /// symlink whose target GET refuses (it leaves the root) is 403; any
    /// other symlink, a socket, fifo or device is 409 (pared neither writes
    /// through a link nor replaces one with a file); a regular file,
    /// a directory (reported at commit) or nothing may go on.
    fn check_final(&self, dir: &OwnedFd, name: &str, path: &RelPath) -> Result<(), FsFailure> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile | FileType::Directory => Ok(()),
                FileType::Symlink => match self.open_read(path) {
                    Err(FsFailure::Denied) => Err(FsFailure::Denied),
                    _ => Err(FsFailure::Conflict),
                },
                _ => Err(FsFailure::Conflict),
            },
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(failure(&e.into())),
        }
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
        let name = path.file_name().ok_or(FsFailure::Conflict)?;
        let dir = self.parent_dir(path, false).map_err(|e| failure(&e))?;
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

    /// Metadata of `path` without following a final symlink out of the
    /// root (resolved like [`Root::open_read`]).
    pub fn meta(&self, path: &RelPath) -> Result<Meta, FsFailure> {
        self.open_read(path).map(|o| o.meta)
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
            // A symlink is described by what it leads to, resolved beneath
            // this directory (a link leaving it shows no size or date); no
            // stat ever follows a link out of the root.
            let st = match item.file_type() {
                FileType::Symlink | FileType::Unknown => self
                    .open_at(dir, name, OFlags::PATH)
                    .ok()
                    .and_then(|fd| rustix::fs::fstat(&fd).ok()),
                _ => {
                    rustix::fs::statat(dir, OsStr::from_bytes(raw), AtFlags::SYMLINK_NOFOLLOW).ok()
                }
            };
            let is_dir =
                st.is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
            let (size, modified) = match st {
                Some(st) if !is_dir => (
                    u64::try_from(st.st_size).unwrap_or(0),
                    (st.st_mtime >= 0).then(|| {
                        UNIX_EPOCH + Duration::new(st.st_mtime as u64, st.st_mtime_nsec as u32)
                    }),
                ),
                Some(st) => (
                    0,
                    (st.st_mtime >= 0).then(|| {
                        UNIX_EPOCH + Duration::new(st.st_mtime as u64, st.st_mtime_nsec as u32)
                    }),
                ),
                None => (0, None),
            };
            out.push(Entry {
                name: name.to_owned(),
                is_dir,
                size,
                modified,
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

/// The prefix of every upload temporary's name; the writer's PID follows.
pub const UPLOAD_PREFIX: &str = ".pared-upload-";

/// True when the process `pid` is alive and is a pared (so its upload
/// temporaries may still be in use).
fn pared_alive(pid: u32) -> bool {
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
    digests: Arc<DigestCache>,
    dir: Arc<OwnedFd>,
    tmp: String,
    name: String,
    file: Option<File>,
    id: u64,
    hashing: Option<Hashing>,
    /// Bytes written to the temporary so far.
    written: u64,
    /// The declared body length; `None` for a chunked body.
    length: Option<u64>,
    expected: Vec<Digest>,
    guard: WriteGuard,
    writeback: WriteBack,
}

/// An upload hands its hashing to a helper thread once this much is
/// written and at least as much is still to come.
const HASH_THREAD_MIN: u64 = 4 << 20;

/// How an upload's bytes are hashed: inline as they are written, until a
/// large upload has written [`HASH_THREAD_MIN`] bytes; from then on a
/// helper thread reads them back from the page cache behind the writer,
/// so hashing overlaps the socket and disk work instead of adding to it.
/// The helper holds one 64 KiB buffer; the writer only tells it how far
/// the file is written. A stalled small upload never starts one.
#[derive(Debug)]
enum Hashing {
    Inline(Box<Hasher>),
    Thread {
        tx: std::sync::mpsc::Sender<u64>,
        handle: std::thread::JoinHandle<io::Result<Hasher>>,
    },
}

impl Hashing {
    fn spawn(file: File, hasher: Hasher, from: u64) -> Option<Hashing> {
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let spawned = std::thread::Builder::new()
            .name("pared-hash".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                use std::os::unix::fs::FileExt;
                let mut hasher = hasher;
                let mut buf = vec![0u8; 64 * 1024];
                let mut at = from;
                for upto in rx {
                    while at < upto {
                        let want =
                            usize::try_from(upto - at).map_or(buf.len(), |n| n.min(buf.len()));
                        let n = file.read_at(&mut buf[..want], at)?;
                        if n == 0 {
                            return Err(io::Error::other("upload shrank while hashing"));
                        }
                        hasher.update(&buf[..n]);
                        at += n as u64;
                    }
                }
                Ok(hasher)
            });
        spawned.ok().map(|handle| Hashing::Thread { tx, handle })
    }

    /// Hashes (or has the helper hash) the bytes written up to `written`,
    /// of `length` in all; `data` are the newest of them, in `file`.
    fn advance(&mut self, data: &[u8], written: u64, length: u64, file: &File) {
        match self {
            Hashing::Inline(h) => {
                h.update(data);
                if written >= HASH_THREAD_MIN && length.saturating_sub(written) >= HASH_THREAD_MIN {
                    let helper = file
                        .try_clone()
                        .ok()
                        .and_then(|copy| Hashing::spawn(copy, (**h).clone(), written));
                    // Without a thread, hashing simply stays inline.
                    if let Some(helper) = helper {
                        *self = helper;
                    }
                }
            }
            Hashing::Thread { tx, .. } => {
                let _ = tx.send(written);
            }
        }
    }

    fn finish(self) -> Result<Vec<Digest>, FsFailure> {
        match self {
            Hashing::Inline(h) => Ok(h.finish()),
            Hashing::Thread { tx, handle } => {
                drop(tx);
                match handle.join() {
                    Ok(Ok(h)) => Ok(h.finish()),
                    Ok(Err(e)) => Err(failure(&e)),
                    Err(_) => Err(FsFailure::Other),
                }
            }
        }
    }
}

impl Upload {
    /// Appends body bytes to the temporary file.
    pub fn write(&mut self, data: &[u8]) -> Result<(), FsFailure> {
        let Some(f) = &mut self.file else {
            return Err(FsFailure::Other);
        };
        f.write_all(data).map_err(|e| failure(&e))?;
        self.written += data.len() as u64;
        if let Some(h) = &mut self.hashing {
            h.advance(data, self.written, self.length.unwrap_or(u64::MAX), f);
        }
        self.writeback.advance(f, self.written);
        Ok(())
    }

    /// Checks the digests, stamps the modification time, syncs the file,
    /// renames it over the target as the guard allows, and syncs the
    /// directory. `allowed` evaluates the preconditions against the
    /// current file (for [`WriteGuard::Locked`], while it is locked).
    pub fn commit(mut self, allowed: &dyn Fn(Option<&Meta>) -> bool) -> Result<Stored, FsFailure> {
        let file = self.file.take().ok_or(FsFailure::Other)?;
        // The disk writes the tail while the hashing helper catches up;
        // most of the body was written back as it arrived.
        self.writeback.finish(&file, self.written);
        let computed = self.hashing.take().ok_or(FsFailure::Other)?.finish()?;
        if !digest::matches(&self.expected, &computed) {
            return Err(FsFailure::DigestMismatch);
        }
        let sha256 = computed
            .into_iter()
            .find(|d| d.alg == Algorithm::Sha256)
            .ok_or(FsFailure::Other)?;
        // The mtime of the upload's end, with the clock's full resolution
        // (the kernel's own file times are coarser), so two versions
        // written within one tick still get different ETags.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let ts = rustix::fs::Timespec {
            tv_sec: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(now.subsec_nanos()),
        };
        rustix::fs::futimens(
            &file,
            &rustix::fs::Timestamps {
                last_access: ts,
                last_modification: ts,
            },
        )
        .map_err(|e| failure(&e.into()))?;
        let meta = meta_of(&file).map_err(|e| failure(&e))?;
        keep_digest(&file, &meta.etag(), &sha256);
        self.digests.put(meta.version(), Some(sha256.clone()));
        // One fsync for the data, the size, the time and the digest.
        file.sync_all().map_err(|e| failure(&e))?;
        drop(file);
        let created = self.place(allowed)?;
        self.tmp.clear();
        unregister(self.id);
        rustix::fs::fsync(&*self.dir).map_err(|e| failure(&e.into()))?;
        Ok(Stored {
            created,
            meta,
            digest: sha256,
        })
    }

    /// Moves the temporary to the target name; true when it was created.
    fn place(&self, allowed: &dyn Fn(Option<&Meta>) -> bool) -> Result<bool, FsFailure> {
        let (dir, tmp, name) = (&*self.dir, self.tmp.as_str(), self.name.as_str());
        let replace = || rustix::fs::renameat(dir, tmp, dir, name).map_err(|e| failure(&e.into()));
        match self.guard {
            WriteGuard::None => {
                let created = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => false,
                    // A directory, a symlink or a special file appeared.
                    Ok(_) => return Err(FsFailure::Conflict),
                    Err(rustix::io::Errno::NOENT) => true,
                    Err(e) => return Err(failure(&e.into())),
                };
                replace()?;
                Ok(created)
            }
            WriteGuard::CreateOnly => match rename_noreplace(dir, tmp, name)? {
                true => Ok(true),
                false => Err(FsFailure::PreconditionFailed),
            },
            WriteGuard::Locked => loop {
                match lock_current(dir, name)? {
                    None if !allowed(None) => return Err(FsFailure::PreconditionFailed),
                    // Created meanwhile by someone else: check against that.
                    None => match rename_noreplace(dir, tmp, name)? {
                        true => return Ok(true),
                        false => continue,
                    },
                    Some((_, meta)) if meta.kind == FileKind::Dir => {
                        return Err(FsFailure::Conflict)
                    }
                    Some((_lock, meta)) if allowed(Some(&meta)) => {
                        replace()?;
                        return Ok(false);
                    }
                    Some(_) => return Err(FsFailure::PreconditionFailed),
                }
            },
        }
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
