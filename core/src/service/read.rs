//! Answers to reads: a file with its validators, preconditions and ranges,
//! a directory's redirect, index or listing, and the `Repr-Digest` a file
//! response carries.

use crate::head::{Method, RequestHead, ResponseHead, StatusCode};
use crate::path::RelPath;
use std::time::SystemTime;

use super::replies::{base, error_reply, redirect_reply};
use super::{FileKind, FsFailure, Meta, ReadStep, Reply, ReplyBody, INDEX};
use crate::date::append_date;
use crate::digest::{self, Algorithm, Digest};
use crate::mime::content_type;
use crate::range::{self, Multipart, Pieces, RangeRequest};
use crate::validators::{self, Current, Outcome};

/// Appends the validators of a file response: ETag and Last-Modified.
fn append_validators(head: &mut ResponseHead, current: &Current) {
    head.headers.append("ETag", &current.etag);
    if let Some(m) = current.modified {
        append_date(&mut head.headers, "Last-Modified", m);
    }
}

/// The answer for a GET or HEAD of a regular file with `meta`: the
/// preconditions of RFC 9110 §13.2.2, then the Range (GET only).
pub fn file_reply(req: &RequestHead, path: &RelPath, meta: &Meta, now: SystemTime) -> Reply {
    let current = meta.current(now);
    let range_allowed = match validators::evaluate(req, Some(&current), now) {
        Outcome::Failed => {
            return error_reply(StatusCode::PRECONDITION_FAILED, Some(&req.method), now)
        }
        Outcome::NotModified => {
            let mut head = base(StatusCode::NOT_MODIFIED, now);
            append_validators(&mut head, &current);
            return Reply {
                head,
                body: ReplyBody::None,
            };
        }
        Outcome::Proceed { range } => range && req.method == Method::Get,
    };
    let ctype = content_type(path.file_name().unwrap_or(""));
    let plan = match req.headers.get_str("range") {
        Some(v) if range_allowed => range::parse_range(v, meta.len),
        _ => RangeRequest::Whole,
    };
    let (status, pieces, content_range) = match plan {
        RangeRequest::Whole => (
            StatusCode::OK,
            Pieces::Span {
                offset: 0,
                len: meta.len,
            },
            None,
        ),
        RangeRequest::Unsatisfiable => {
            let mut reply = error_reply(StatusCode::RANGE_NOT_SATISFIABLE, Some(&req.method), now);
            reply
                .head
                .headers
                .append("Content-Range", format!("bytes */{}", meta.len));
            append_validators(&mut reply.head, &current);
            return reply;
        }
        RangeRequest::Ranges(ranges) if ranges.len() == 1 => (
            StatusCode::PARTIAL_CONTENT,
            Pieces::Span {
                offset: ranges[0].first,
                len: ranges[0].len(),
            },
            Some(range::content_range(ranges[0], meta.len)),
        ),
        RangeRequest::Ranges(ranges) => {
            let boundary = range::boundary_for(&current.etag);
            let m = Multipart::new(&ranges, meta.len, ctype, &boundary);
            let multipart_type = m.content_type();
            let mut head = base(StatusCode::PARTIAL_CONTENT, now);
            head.headers.append("Content-Type", multipart_type);
            let pieces = Pieces::Multipart(m);
            head.headers.append_u64("Content-Length", pieces.len());
            head.headers.append("Accept-Ranges", "bytes");
            append_validators(&mut head, &current);
            return Reply {
                head,
                body: ReplyBody::File(pieces),
            };
        }
    };
    let mut head = base(status, now);
    head.headers.append("Content-Type", ctype);
    head.headers.append_u64("Content-Length", pieces.len());
    if let Some(cr) = content_range {
        head.headers.append("Content-Range", cr);
    }
    head.headers.append("Accept-Ranges", "bytes");
    append_validators(&mut head, &current);
    let body = if req.method == Method::Head || pieces.is_empty() {
        ReplyBody::None
    } else {
        ReplyBody::File(pieces)
    };
    Reply { head, body }
}

/// What follows from opening `path` for a GET or HEAD.
pub fn read_reply(
    req: &RequestHead,
    path: &RelPath,
    opened: Result<Meta, FsFailure>,
    now: SystemTime,
) -> ReadStep {
    let err = |s| ReadStep::Reply(error_reply(s, Some(&req.method), now));
    match opened {
        Err(f) => err(f.status()),
        Ok(meta) => match meta.kind {
            FileKind::File => ReadStep::Reply(file_reply(req, path, &meta, now)),
            FileKind::Other => err(StatusCode::FORBIDDEN),
            FileKind::Dir if !path.has_trailing_slash() => {
                ReadStep::Reply(redirect_reply(req, &path.href(true), now))
            }
            FileKind::Dir => match path.join(INDEX) {
                Ok(index) => ReadStep::TryIndex(index),
                Err(_) => err(StatusCode::FORBIDDEN),
            },
        },
    }
}

/// What to do after opening a directory's index file: serve it, or list
/// the directory (`None`) when there is none.
pub fn index_reply(
    req: &RequestHead,
    index: &RelPath,
    opened: Result<Meta, FsFailure>,
    now: SystemTime,
) -> Option<Reply> {
    match opened {
        Ok(meta) if meta.kind == FileKind::File => Some(file_reply(req, index, &meta, now)),
        Err(FsFailure::NotFound) => None,
        Ok(_) => None,
        Err(f) => Some(error_reply(f.status(), Some(&req.method), now)),
    }
}

/// The answer with a directory listing of `len` bytes of HTML. A HEAD
/// passes `None`: its page is never rendered (a folder of any size costs
/// a HEAD nothing), and RFC 9110 §9.3.2 lets a HEAD answer leave out
/// what only generating the content would tell.
pub fn listing_reply(req: &RequestHead, len: Option<usize>, now: SystemTime) -> Reply {
    let mut head = base(StatusCode::OK, now);
    let json = crate::listing::wants_json(&req.target, req.headers.get_str("accept"));
    head.headers.append(
        "Content-Type",
        if json {
            "application/json"
        } else {
            "text/html; charset=utf-8"
        },
    );
    // The same URL answers HTML or JSON by Accept.
    head.headers.append("Vary", "Accept");
    if let Some(len) = len {
        head.headers.append_u64("Content-Length", len as u64);
    }
    head.headers.append(
        "Content-Security-Policy",
        crate::listing::content_security_policy(),
    );
    head.headers.append("X-Content-Type-Options", "nosniff");
    let body = if req.method == Method::Head {
        ReplyBody::None
    } else {
        ReplyBody::Generated
    };
    Reply { head, body }
}

/// The sandbox a served file runs in (unless `--website`): scripts and
/// forms work, but in an opaque origin, so a served HTML or SVG file can
/// never act as this site (its requests to pared are cross-origin and
/// refused: no CORS). pared's own directory page is not a served file.
pub const SANDBOX: &str =
    "sandbox allow-scripts allow-forms allow-popups allow-downloads allow-modals";

/// Adds the sandbox to the answer for a served file (a GET or HEAD of a
/// file, index files included), unless the operator serves a website.
/// pared's own page carries its own policy and is left alone.
pub fn sandbox_served_file(config: &super::ServiceConfig, head: &mut ResponseHead) {
    if !config.website && !head.headers.contains("content-security-policy") {
        head.headers.append("Content-Security-Policy", SANDBOX);
    }
}

/// Which `Repr-Digest` a file response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestPlan {
    /// None.
    Omit,
    /// This one, already known for the current version.
    Send(Digest),
    /// Compute this algorithm over the whole file, then send it.
    Compute(Algorithm),
}

/// Decides the `Repr-Digest` of a file `reply` (200 or 206 only): a digest
/// known for the current version is always sent; one the request asks for
/// with `Want-Repr-Digest` is computed when not known.
pub fn digest_plan(req: &RequestHead, reply: &Reply, known: Option<Digest>) -> DigestPlan {
    if !matches!(reply.head.status.as_u16(), 200 | 206) {
        return DigestPlan::Omit;
    }
    match (digest::wanted(&req.headers), known) {
        (Some(alg), Some(d)) if d.alg != alg => DigestPlan::Compute(alg),
        (_, Some(d)) => DigestPlan::Send(d),
        (Some(alg), None) => DigestPlan::Compute(alg),
        (None, None) => DigestPlan::Omit,
    }
}

/// Adds `Repr-Digest` to a file reply.
pub fn add_repr_digest(reply: &mut Reply, digest: &Digest) {
    reply
        .head
        .headers
        .append("Repr-Digest", digest.field_value());
}
