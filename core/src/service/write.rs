//! Answers to writes: what an upload or a removal reports, and how a
//! write keeps its preconditions atomic.

use crate::head::{Method, RequestHead, StatusCode};
use crate::path::RelPath;
use std::time::SystemTime;

use super::replies::{base, error_reply};
use super::{FsFailure, Meta, Reply, ReplyBody};
use crate::digest::{self, Digest};
use crate::validators::{self, Outcome};

/// What a completed upload reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// True when the target did not exist before (201 Created).
    pub created: bool,
    /// The stored file's metadata (for its ETag).
    pub meta: Meta,
    /// The sha-256 of the stored bytes.
    pub digest: Digest,
}

/// The answer after an upload: 201 with Location when created, 200 when
/// it replaced a file, each with the new ETag and `Repr-Digest`; or the
/// failure's status.
pub fn put_reply(path: &RelPath, stored: Result<Stored, FsFailure>, now: SystemTime) -> Reply {
    match stored {
        Ok(stored) => {
            let status = if stored.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut head = base(status, now);
            if stored.created {
                head.headers.append("Location", path.href(false));
            }
            head.headers.append("ETag", stored.meta.etag());
            head.headers
                .append("Repr-Digest", stored.digest.field_value());
            head.headers.append("Content-Length", "0");
            Reply {
                head,
                body: ReplyBody::None,
            }
        }
        Err(f) => error_reply(f.status(), Some(&Method::Put), now),
    }
}

/// Whether a PUT or DELETE may go ahead given the target's current state
/// (`None`: nothing there): the preconditions of RFC 9110 §13.2.2. The
/// caller checks once early (to refuse before reading a body) and again
/// atomically where the write happens.
pub fn write_allowed(req: &RequestHead, current: Option<&Meta>, now: SystemTime) -> bool {
    let current = current.map(|m| m.current(now));
    matches!(
        validators::evaluate(req, current.as_ref(), now),
        Outcome::Proceed { .. }
    )
}

/// How a write must be committed to keep its preconditions atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteGuard {
    /// No preconditions: replace (or remove) whatever is there.
    None,
    /// `If-None-Match: *` alone: create, failing if the target exists at
    /// the moment of the rename.
    CreateOnly,
    /// Other preconditions: lock the current file, check it is still the
    /// one at the path, evaluate [`write_allowed`], then write.
    Locked,
}

/// The guard a PUT or DELETE needs.
pub fn write_guard(req: &RequestHead) -> WriteGuard {
    if validators::write_needs_lock(req) {
        WriteGuard::Locked
    } else if validators::create_only(req) {
        WriteGuard::CreateOnly
    } else {
        WriteGuard::None
    }
}

/// The digests an upload must match to be stored (from Content-Digest and
/// Repr-Digest; algorithms pared does not know are ignored).
pub fn expected_digests(req: &RequestHead) -> Vec<Digest> {
    digest::declared(&req.headers)
}

/// The answer after a DELETE (412 when an atomic precondition failed).
pub fn delete_reply(removed: Result<(), FsFailure>, now: SystemTime) -> Reply {
    match removed {
        Ok(()) => {
            let mut head = base(StatusCode::OK, now);
            head.headers.append("Content-Length", "0");
            Reply {
                head,
                body: ReplyBody::None,
            }
        }
        Err(f) => error_reply(f.status(), Some(&Method::Delete), now),
    }
}
