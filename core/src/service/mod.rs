//! The file service's decisions as pure functions: which file-system action
//! a request needs ([`route`]), and which response follows from what the
//! file system answered ([`read`], [`write`]); the answers that need no
//! file ([`replies`]). The caller does the file-system calls and passes in
//! their results and the time.
//!
//! Invariants: every response built here carries Date and Server and a
//! Content-Length (so keep-alive can follow); a refused path never reaches
//! the file system; a HEAD answer has the head a GET would have.

mod read;
mod replies;
mod route;
#[cfg(test)]
mod tests;
mod write;

pub use crate::date::imf_fixdate;
pub use crate::mime::content_type;
pub use read::*;
pub use replies::*;
pub use route::*;
pub use write::*;

use crate::head::{ResponseHead, StatusCode};
use crate::path::RelPath;
use std::time::SystemTime;

use crate::methods::Methods;
use crate::range::Pieces;
use crate::validators::{self, Current, FileVersion};

/// The `Server` field pared sends.
pub const SERVER: &str = concat!("pared/", env!("CARGO_PKG_VERSION"));

/// The name of the index file served for a directory.
pub const INDEX: &str = "index.html";

/// How the file service behaves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceConfig {
    /// Refuse every writing method with 405.
    pub read_only: bool,
    /// Largest upload accepted; `None` means no limit.
    pub max_upload: Option<u64>,
    /// The methods served: what each one is and which decision answers it.
    pub methods: Methods,
    /// Serve HTML as a website of the operator's own (`--website`): no
    /// sandbox around served files.
    pub website: bool,
}

/// What kind of object the file system found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (device, socket, fifo): never served.
    Other,
}

/// What the caller learned from the file system about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The kind of object.
    pub kind: FileKind,
    /// Its length in bytes.
    pub len: u64,
    /// Its modification time, where the file system has one.
    pub modified: Option<SystemTime>,
    /// The storage's id of the file (the inode number on a POSIX file
    /// system; never a device number, which differs between mounts).
    pub id: u64,
}

impl Meta {
    /// The version the ETag is made of: the same on every host that
    /// mounts the same shared file system.
    pub fn version(&self) -> FileVersion {
        FileVersion::new(
            self.id,
            self.len,
            self.modified.map_or(0, validators::nanos),
        )
    }

    /// The strong ETag of this version, quotes included.
    pub fn etag(&self) -> String {
        self.version().etag()
    }

    /// What preconditions are evaluated against; `now` clamps a future
    /// modification time.
    pub fn current(&self, now: SystemTime) -> Current {
        Current {
            etag: self.etag(),
            modified: self.modified.map(|m| m.min(now)),
        }
    }
}

/// Why a file-system call failed, as far as the response cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsFailure {
    /// Nothing there (404).
    NotFound,
    /// Not allowed: permissions, or a symlink that leaves the root (403).
    Denied,
    /// A directory where a file is needed, or a file where a directory is
    /// needed in the path (409).
    Conflict,
    /// The disk is full (507).
    NoSpace,
    /// A precondition (If-Match, If-None-Match, If-Unmodified-Since) did
    /// not hold against the current file when it was checked atomically (412).
    PreconditionFailed,
    /// The upload's bytes did not match its Content-Digest or Repr-Digest (400).
    DigestMismatch,
    /// A name or path longer than the file system takes (414).
    NameTooLong,
    /// The shared file system lost track of the file for now (a stale
    /// handle that retries did not cure, or an upload temporary another
    /// host removed): 503 with Retry-After, never 500.
    Unavailable,
    /// More bytes than the upload's declared length (413).
    TooLarge,
    /// Anything else (500).
    Other,
}

impl FsFailure {
    /// The status a server answers with.
    pub fn status(self) -> StatusCode {
        match self {
            FsFailure::NotFound => StatusCode::NOT_FOUND,
            FsFailure::Denied => StatusCode::FORBIDDEN,
            FsFailure::Conflict => StatusCode::CONFLICT,
            FsFailure::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
            FsFailure::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            FsFailure::DigestMismatch => StatusCode::BAD_REQUEST,
            FsFailure::NameTooLong => StatusCode::URI_TOO_LONG,
            FsFailure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            FsFailure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FsFailure::Other => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body that goes with a [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// No body (HEAD, 304, or an empty answer).
    None,
    /// Bytes of the opened file (the whole file, one range, or a
    /// multipart body of ranges), exactly the Content-Length in all.
    File(Pieces),
    /// A short fixed text (error pages).
    Static(&'static [u8]),
    /// The bytes the caller generated for it (a directory listing).
    Generated,
}

/// A response head and where its body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The head to send.
    pub head: ResponseHead,
    /// The body to send after it.
    pub body: ReplyBody,
}

/// The file-system action a request needs, or an answer without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Open the path for reading (GET, HEAD), then call [`read_reply`].
    Read(RelPath),
    /// Store the body at the path, then call [`put_reply`].
    Write {
        /// Where.
        path: RelPath,
        /// The declared body length, already checked against the limit;
        /// `None` for a chunked body (checked as it arrives).
        length: Option<u64>,
    },
    /// Remove the file or the tree, then call [`delete_reply`].
    Delete(RelPath),
    /// A WebDAV method on the path; the host runs its step.
    Dav(crate::methods::Action, RelPath),
    /// Answer at once, reading no body.
    Reply(Reply),
    /// A resumable upload's creation, offset, append or cancel.
    Resumable(crate::resumable::Op),
}

/// What to do after opening a path for reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadStep {
    /// Send this reply (for [`ReplyBody::File`], from the opened file).
    Reply(Reply),
    /// A directory in slash form: open its `index.html` and call
    /// [`index_reply`] with the result.
    TryIndex(RelPath),
}
