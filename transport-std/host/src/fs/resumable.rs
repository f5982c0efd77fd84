//! Resumable uploads on disk (see `pared_core::resumable`): each is a
//! temporary `.pared-resumable-ID` beside its target, its state in an
//! extended attribute, its offset the file's size. Any pared process on
//! the root can take it up: one that started after a crash too.
//!
//! - An offset is reported only once the bytes below it are on disk.
//! - One request at a time holds an upload (a `flock` on its temporary).
//!   A new request for it marks the temporary as its own; the request in
//!   flight sees the mark at its next write and lets go, so a client that
//!   lost its connection resumes at once rather than after a timeout
//!   (bounded: [`TAKE_OVER`]).
//! - A finished upload is renamed to its target, with the creating
//!   request's preconditions checked again at that moment.
//! - Unfinished uploads are swept [`MAX_AGE_SECS`] after their last write.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pared_core::digest::{Algorithm, Digest, Hasher};
use pared_core::path::RelPath;
use pared_core::resumable::{UploadState, MAX_AGE_SECS, TEMP_PREFIX};
use pared_core::service::{FsFailure, WriteGuard};
use rustix::fs::{FlockOperation, Mode, OFlags, XattrFlags};

use super::upload::Resumable;
use super::{failure, Root, Upload};

const STATE_XATTR: &str = "user.pared.upload";
const OWNER_XATTR: &str = "user.pared.owner";

/// The longest a request waits for the one in flight to let go.
pub const TAKE_OVER: Duration = Duration::from_secs(10);

fn random16() -> io::Result<[u8; 16]> {
    let mut b = [0u8; 16];
    let mut filled = 0;
    while filled < b.len() {
        filled += rustix::rand::getrandom(&mut b[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// True when another request has marked the upload as its own.
pub(super) fn superseded(f: &File, owner: &[u8; 16]) -> bool {
    let mut buf = [0u8; 16];
    match rustix::fs::fgetxattr(f, OWNER_XATTR, &mut buf[..]) {
        Ok(16) => buf != *owner,
        // Unreadable: keep going rather than fail a healthy upload.
        _ => false,
    }
}

/// The digests of the whole file (SHA-256, and SHA-512 when expected).
pub(super) fn hash_whole(f: &File, expected: &[Digest]) -> Result<Vec<Digest>, FsFailure> {
    use std::os::unix::fs::FileExt;
    let mut h = Hasher::new(expected.iter().any(|d| d.alg == Algorithm::Sha512));
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    loop {
        let n = f.read_at(&mut buf, at).map_err(|e| failure(&e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finish())
}

/// Removes the upload's bookkeeping from a file about to be stored.
pub(super) fn forget_state(f: &File) {
    let _ = rustix::fs::fremovexattr(f, STATE_XATTR);
    let _ = rustix::fs::fremovexattr(f, OWNER_XATTR);
}

fn read_state(f: &File) -> Result<UploadState, FsFailure> {
    let mut buf = vec![0u8; 16 * 1024];
    let n = rustix::fs::fgetxattr(f, STATE_XATTR, &mut buf[..]).map_err(|_| FsFailure::NotFound)?;
    let text = std::str::from_utf8(&buf[..n]).map_err(|_| FsFailure::NotFound)?;
    UploadState::decode(text).ok_or(FsFailure::NotFound)
}

/// How the commit keeps the creating request's preconditions.
fn guard_of(state: &UploadState) -> WriteGuard {
    if !state.if_match.is_empty() || !state.if_unmodified_since.is_empty() {
        WriteGuard::Locked
    } else if state.if_none_match.trim() == "*" {
        WriteGuard::CreateOnly
    } else if !state.if_none_match.is_empty() {
        WriteGuard::Locked
    } else {
        WriteGuard::None
    }
}

impl Root {
    /// Makes a new upload for `path` (its folder must exist): its id,
    /// and the upload, empty, held by this request.
    pub fn create_resumable(
        &self,
        path: &RelPath,
        state: &UploadState,
    ) -> Result<(String, Upload), FsFailure> {
        let name = path.file_name().ok_or(FsFailure::Conflict)?.to_owned();
        let dir = self.existing_parent(path)?;
        self.check_final(&dir, &name, path)?;
        let id = hex(&random16().map_err(|e| failure(&e))?);
        let tmp = format!("{TEMP_PREFIX}{id}");
        let fd = rustix::fs::openat(
            &dir,
            tmp.as_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
        )
        .map_err(|e| failure(&e.into()))?;
        let file = File::from(fd);
        let stored = rustix::fs::fsetxattr(
            &file,
            STATE_XATTR,
            state.encode().as_bytes(),
            XattrFlags::empty(),
        );
        if let Err(e) = stored {
            let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty());
            return Err(failure(&e.into()));
        }
        let owner = random16().map_err(|e| failure(&e))?;
        let _ = rustix::fs::fsetxattr(&file, OWNER_XATTR, &owner, XattrFlags::empty());
        rustix::fs::flock(&file, FlockOperation::LockExclusive).map_err(|e| failure(&e.into()))?;
        file.sync_all().map_err(|e| failure(&e))?;
        rustix::fs::fsync(&dir).map_err(|e| failure(&e.into()))?;
        let upload = Upload::resumable(
            self.digests.clone(),
            Arc::new(dir),
            tmp,
            name,
            file,
            0,
            guard_of(state),
            Resumable {
                owner,
                start: 0,
                state: state.clone(),
            },
        );
        Ok((id, upload))
    }

    /// Opens upload `id` of `path` for `user`: `NotFound` when there is
    /// none, it is another user's, or it names another target.
    fn open_existing(
        &self,
        path: &RelPath,
        id: &str,
        user: &str,
    ) -> Result<(OwnedFd, String, File, UploadState), FsFailure> {
        let dir = self.existing_parent(path)?;
        let tmp = format!("{TEMP_PREFIX}{id}");
        let fd = rustix::fs::openat(
            &dir,
            tmp.as_str(),
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| failure(&e.into()))?;
        let file = File::from(fd);
        let state = read_state(&file)?;
        if state.user != user {
            return Err(FsFailure::NotFound);
        }
        Ok((dir, tmp, file, state))
    }

    /// Takes upload `id` of `path` over for `user` to append to: the
    /// request in flight lets go (bounded by [`TAKE_OVER`]); the upload
    /// is positioned at its end.
    pub fn open_resumable(
        &self,
        path: &RelPath,
        id: &str,
        user: &str,
    ) -> Result<Upload, FsFailure> {
        let name = path.file_name().ok_or(FsFailure::NotFound)?.to_owned();
        let (dir, tmp, mut file, state) = self.open_existing(path, id, user)?;
        let owner = take_over(&file)?;
        let end = {
            use std::io::Seek;
            file.seek(io::SeekFrom::End(0)).map_err(|e| failure(&e))?
        };
        Ok(Upload::resumable(
            self.digests.clone(),
            Arc::new(dir),
            tmp,
            name,
            file,
            end,
            guard_of(&state),
            Resumable {
                owner,
                start: end,
                state,
            },
        ))
    }

    /// Upload `id`'s offset (synced to disk first, so it never goes
    /// back), its state and when it expires.
    pub fn resumable_offset(
        &self,
        path: &RelPath,
        id: &str,
        user: &str,
    ) -> Result<(u64, UploadState, SystemTime), FsFailure> {
        let (_, _, file, state) = self.open_existing(path, id, user)?;
        file.sync_data().map_err(|e| failure(&e))?;
        let meta = file.metadata().map_err(|e| failure(&e))?;
        let modified = meta.modified().unwrap_or_else(|_| SystemTime::now());
        Ok((
            meta.len(),
            state,
            modified + Duration::from_secs(MAX_AGE_SECS),
        ))
    }

    /// Cancels upload `id`: the request in flight lets go, the bytes go.
    pub fn cancel_resumable(&self, path: &RelPath, id: &str, user: &str) -> Result<(), FsFailure> {
        let (dir, tmp, file, _) = self.open_existing(path, id, user)?;
        take_over(&file)?;
        rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty())
            .map_err(|e| failure(&e.into()))?;
        rustix::fs::fsync(&dir).map_err(|e| failure(&e.into()))
    }
}

/// Marks the upload as this request's and waits (bounded) for its lock.
fn take_over(file: &File) -> Result<[u8; 16], FsFailure> {
    let owner = random16().map_err(|e| failure(&e))?;
    rustix::fs::fsetxattr(file, OWNER_XATTR, &owner, XattrFlags::empty())
        .map_err(|e| failure(&e.into()))?;
    let deadline = Instant::now() + TAKE_OVER;
    loop {
        match rustix::fs::flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(owner),
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Still held: the request in flight is stuck in a read.
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(FsFailure::Unavailable),
            Err(e) => return Err(failure(&e.into())),
        }
    }
}
