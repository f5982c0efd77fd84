//! Uploads: a temporary beside the target, hashed as it is written,
//! synced, and renamed over the target only when whole (with the write's
//! preconditions checked atomically under a lock); dropped unfinished, it
//! leaves nothing behind.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use super::digest_store::keep_digest;
use super::writeback::WriteBack;
use super::{failure, fresh, meta_of, Root};
use crate::digest_cache::DigestCache;
use crate::fs::sweep::{process_space, UPLOAD_PREFIX};
use pared_core::digest::{self, Algorithm, Digest, Hasher};
use pared_core::path::RelPath;
use pared_core::service::{FileKind, FsFailure, Meta, Stored, WriteGuard};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags, RenameFlags};

/// The current file at `name` in `dir`, opened and locked with an
/// exclusive `flock` (shared by every process on this root), and checked
/// to still be the file at that name after the lock was taken; `None`
/// when nothing is there. The lock holds until the descriptor is dropped.
pub(super) fn lock_current(
    dir: &OwnedFd,
    name: &str,
) -> Result<Option<(OwnedFd, Meta)>, FsFailure> {
    use rustix::io::Errno;
    let mut stale = 0;
    // ESTALE (a shared file system lost the handle another host made
    // stale) means: look the name up again, a bounded number of times.
    let mut again = |e: Errno| -> Result<(), FsFailure> {
        if e == Errno::STALE && stale < super::STALE_RETRIES {
            stale += 1;
            Ok(())
        } else {
            Err(failure(&e.into()))
        }
    };
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
            Err(e) => {
                again(e)?;
                continue;
            }
        };
        let locked = loop {
            match rustix::fs::flock(&fd, FlockOperation::LockExclusive) {
                Ok(()) => break Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => break Err(e),
            }
        };
        if let Err(e) = locked {
            again(e)?;
            continue;
        }
        // What the lock holds, and what the name leads to now, both from
        // the file server (a network file system's cached attributes may
        // still describe a file another host has replaced).
        let held = match fresh::meta_of_fd(&fd) {
            Ok(m) => m,
            Err(e) => {
                again(Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
                continue;
            }
        };
        match fresh::meta_at(dir, name) {
            Ok(Some(now)) if now.id == held.id => return Ok(Some((fd, held))),
            Ok(_) => continue,
            Err(e) => again(Errno::from_io_error(&e).unwrap_or(Errno::IO))?,
        }
    }
    Err(FsFailure::Other)
}

/// Renames `tmp` to `name` in `dir` only if `name` does not exist, with no
/// window between check and rename (`RENAME_NOREPLACE`, or a hard link
/// where the file system lacks it). `Ok(false)` when it exists.
pub(super) fn rename_noreplace(dir: &OwnedFd, tmp: &str, name: &str) -> Result<bool, FsFailure> {
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

impl Root {
    /// Starts an upload to `path` (its parent must exist), and the body goes
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
        super::retry_stale(&format_args!("PUT /{path}"), || {
            self.begin_upload_once(path, length, guard, expected.clone())
        })
    }

    fn begin_upload_once(
        &self,
        path: &RelPath,
        length: Option<u64>,
        guard: WriteGuard,
        expected: Vec<Digest>,
    ) -> Result<Upload, FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Conflict)?.to_owned();
        // The parent must exist (RFC 4918 §9.7.1: 409, never made on the
        // way); a file where the path needs a directory is a conflict too.
        let dir = self.existing_parent(path)?;
        self.check_final(&dir, &name, path)?;
        let dir = Arc::new(dir);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = format!(
            "{UPLOAD_PREFIX}{}-{}-{n}-{nanos:08x}",
            process_space(),
            std::process::id()
        );
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
            resumable: None,
        })
    }

    /// What a write may do to the object already at `name` in `dir`: a
    /// symlink whose target GET refuses (it leaves the root) is 403; any
    /// other symlink, a socket, fifo or device is 409 (pared neither writes
    /// through a link nor replaces one with a file); a regular file,
    /// a directory (reported at commit) or nothing may go on.
    pub(super) fn check_final(
        &self,
        dir: &OwnedFd,
        name: &str,
        path: &RelPath,
    ) -> Result<(), FsFailure> {
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
}

type Registry = Mutex<HashMap<u64, (Arc<OwnedFd>, String)>>;

pub(super) fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(Default::default)
}

pub(super) fn register(dir: &Arc<OwnedFd>, tmp: &str) -> u64 {
    static IDS: AtomicU64 = AtomicU64::new(0);
    let id = IDS.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut reg) = registry().lock() {
        reg.insert(id, (dir.clone(), tmp.to_owned()));
    }
    id
}

pub(super) fn unregister(id: u64) {
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
    /// A resumable upload's own state: its bytes outlive the request.
    resumable: Option<Box<Resumable>>,
}

/// What a resumable upload adds (see `fs/resumable.rs`).
#[derive(Debug)]
pub(super) struct Resumable {
    /// This request's mark on the temporary: when another request for
    /// the same upload replaces it, this one stops.
    pub owner: [u8; 16],
    /// Where this request's bytes began.
    pub start: u64,
    /// The upload's lasting state.
    pub state: pared_core::resumable::UploadState,
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
    /// An upload into a resumable upload's temporary `tmp` in `dir`, which
    /// holds `written` bytes already; `file` is open and locked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resumable(
        digests: Arc<DigestCache>,
        dir: Arc<OwnedFd>,
        tmp: String,
        name: String,
        file: File,
        written: u64,
        guard: WriteGuard,
        resumable: Resumable,
    ) -> Upload {
        let expected = pared_core::resumable::expected(&resumable.state);
        Upload {
            digests,
            dir,
            tmp,
            name,
            file: Some(file),
            id: u64::MAX,
            hashing: None,
            written,
            length: resumable.state.length,
            expected,
            guard,
            writeback: WriteBack::new(),
            resumable: Some(Box::new(resumable)),
        }
    }

    /// The bytes the temporary holds: a resumable upload's offset.
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// A resumable upload's lasting state.
    pub fn upload_state(&self) -> Option<&pared_core::resumable::UploadState> {
        self.resumable.as_ref().map(|r| &r.state)
    }

    /// Ends a request that did not finish a resumable upload: the bytes
    /// so far go to disk, and the offset they make is returned. The
    /// upload is kept for the next request.
    pub fn checkpoint(mut self) -> Result<u64, FsFailure> {
        let file = self.file.take().ok_or(FsFailure::Conflict)?;
        file.sync_data().map_err(|e| failure(&e))?;
        Ok(self.written)
    }

    /// Checks this request's bytes against a tus `Upload-Checksum`; on a
    /// mismatch they are cut off again and false is returned.
    pub fn check_part(
        &mut self,
        sum: &pared_core::resumable::fields::Checksum,
    ) -> Result<bool, FsFailure> {
        use sha2::Digest as _;
        use std::os::unix::fs::FileExt;
        let (Some(r), Some(f)) = (&self.resumable, &self.file) else {
            return Err(FsFailure::Other);
        };
        let mut sha1 = sha1::Sha1::new();
        let mut sha256 = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = r.start;
        while at < self.written {
            let want = usize::try_from(self.written - at).map_or(buf.len(), |n| n.min(buf.len()));
            let n = f.read_at(&mut buf[..want], at).map_err(|e| failure(&e))?;
            if n == 0 {
                return Err(FsFailure::Other);
            }
            if sum.sha256 {
                sha256.update(&buf[..n]);
            } else {
                sha1.update(&buf[..n]);
            }
            at += n as u64;
        }
        let got: Vec<u8> = if sum.sha256 {
            sha256.finalize().to_vec()
        } else {
            sha1.finalize().to_vec()
        };
        if got == sum.digest {
            return Ok(true);
        }
        f.set_len(r.start).map_err(|e| failure(&e))?;
        self.written = r.start;
        Ok(false)
    }

    /// Appends body bytes to the temporary file.
    pub fn write(&mut self, data: &[u8]) -> Result<(), FsFailure> {
        if let Some(r) = &self.resumable {
            if self
                .file
                .as_ref()
                .is_some_and(|f| super::resumable::superseded(f, &r.owner))
            {
                // Another request took the upload over: let go of it (and
                // of its lock) at once.
                self.file = None;
                return Err(FsFailure::Conflict);
            }
            if self
                .length
                .is_some_and(|l| self.written + data.len() as u64 > l)
            {
                return Err(FsFailure::TooLarge);
            }
        }
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
        let computed = match self.hashing.take() {
            Some(h) => h.finish()?,
            // A resumable upload came in several requests: hash it whole.
            None => super::resumable::hash_whole(&file, &self.expected)?,
        };
        if !digest::matches(&self.expected, &computed) {
            return Err(FsFailure::DigestMismatch);
        }
        if self.resumable.is_some() {
            // The stored file keeps none of the upload's bookkeeping.
            super::resumable::forget_state(&file);
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
        let created =
            match super::retry_stale(&format_args!("PUT {}", self.name), || self.place(allowed)) {
                // The temporary is gone: on a shared root, another host's
                // sweep took it. Nothing was stored; say so, and not as 404.
                Err(FsFailure::NotFound) if self.temporary_gone() => {
                    eprintln!(
                        "pared: PUT {}: its upload temporary {} vanished before the commit \
                     (removed by another host's sweep?); nothing stored, answered 503",
                        self.name, self.tmp
                    );
                    return Err(FsFailure::Unavailable);
                }
                r => r?,
            };
        self.tmp.clear();
        unregister(self.id);
        rustix::fs::fsync(&*self.dir).map_err(|e| failure(&e.into()))?;
        Ok(Stored {
            created,
            meta,
            digest: sha256,
        })
    }

    /// True when the temporary is no longer in its folder.
    fn temporary_gone(&self) -> bool {
        matches!(
            rustix::fs::statat(&*self.dir, self.tmp.as_str(), AtFlags::SYMLINK_NOFOLLOW),
            Err(rustix::io::Errno::NOENT)
        )
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
        if self.resumable.is_some() {
            // Whatever arrived is kept for the next request to resume.
            if let Some(f) = self.file.take() {
                let _ = f.sync_data();
            }
            return;
        }
        if !self.tmp.is_empty() {
            self.file = None;
            let _ = rustix::fs::unlinkat(&*self.dir, self.tmp.as_str(), AtFlags::empty());
            unregister(self.id);
        }
    }
}
