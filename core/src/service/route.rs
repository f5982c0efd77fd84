//! Routing: what a request needs before any file-system call, decided
//! from the method's row in core's method table.

use crate::head::{RequestHead, StatusCode, Version};
use std::time::SystemTime;

use super::replies::{base, error_reply, with_allow};
use super::{Reply, ReplyBody, Route, ServiceConfig};
use crate::body::content_length;
use crate::methods::Action;
use crate::path::resolve_target;

/// Decides what a request needs, before any file-system call: the
/// method's row in the table says whether it is served, whether
/// `--read-only` refuses it and which decision answers it.
pub fn route(config: &ServiceConfig, req: &RequestHead, now: SystemTime) -> Route {
    let err = |s| Route::Reply(error_reply(s, Some(&req.method), now));
    let Some(row) = config.methods.find(&req.method) else {
        return Route::Reply(with_allow(
            error_reply(StatusCode::NOT_IMPLEMENTED, Some(&req.method), now),
            &config.methods.allow(config.read_only),
        ));
    };
    if config.read_only && row.refused_when_read_only() {
        return Route::Reply(with_allow(
            error_reply(StatusCode::METHOD_NOT_ALLOWED, Some(&req.method), now),
            &config.methods.allow(true),
        ));
    }
    if row.action == Action::Describe && req.target == "*" {
        return Route::Reply(options_reply(config, now));
    }
    if crate::resumable::applies(req)
        && matches!(
            row.action,
            Action::Store | Action::Resume | Action::Fetch | Action::Remove
        )
    {
        return match crate::resumable::classify(req) {
            Ok(op) => Route::Resumable(op),
            Err(status) => err(status),
        };
    }
    let path = match resolve_target(&req.target) {
        Ok(p) => p,
        Err(e) => return err(e.status()),
    };
    match row.action {
        // Only resumable uploads use POST and PATCH.
        Action::Resume => Route::Reply(with_allow(
            error_reply(StatusCode::METHOD_NOT_ALLOWED, Some(&req.method), now),
            &config.methods.allow(config.read_only),
        )),
        Action::Fetch => Route::Read(path),
        Action::Describe => Route::Reply(options_reply(config, now)),
        Action::Remove => Route::Delete(path),
        Action::PropFind
        | Action::PropPatch
        | Action::MakeCollection
        | Action::Copy
        | Action::Move
        | Action::Lock
        | Action::Unlock => Route::Dav(row.action, path),
        Action::Store => {
            if req.headers.contains("content-range") {
                return err(StatusCode::BAD_REQUEST);
            }
            let length = match upload_length(req) {
                Ok(length) => length,
                Err(status) => return err(status),
            };
            if let (Some(n), Some(max)) = (length, config.max_upload) {
                if n > max {
                    return err(StatusCode::PAYLOAD_TOO_LARGE);
                }
            }
            if path.has_trailing_slash() {
                return err(StatusCode::CONFLICT);
            }
            Route::Write { path, length }
        }
    }
}

/// The declared length of an upload: `Some(n)` from Content-Length,
/// `None` for a chunked HTTP/1.1 body (its end is found as it arrives,
/// and `--max-upload` is enforced as bytes come in); a missing length is
/// 400 on HTTP/1.0 and 411 on HTTP/1.1.
fn upload_length(req: &RequestHead) -> Result<Option<u64>, StatusCode> {
    if req.version == Version::Http11 && crate::body::ends_chunked(&req.headers) {
        return Ok(None);
    }
    match content_length(&req.headers) {
        Ok(Some(n)) => Ok(Some(n)),
        Ok(None) if req.version == Version::Http10 => Err(StatusCode::BAD_REQUEST),
        Ok(None) => Err(StatusCode::LENGTH_REQUIRED),
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// The answer to OPTIONS (of a path or of `*`): 200 with `Allow` from the
/// method table, and no body.
pub fn options_reply(config: &ServiceConfig, now: SystemTime) -> Reply {
    let mut head = base(StatusCode::OK, now);
    head.headers
        .append("Allow", config.methods.allow(config.read_only));
    // WebDAV classes 1 and 2 (locks); MS-Author-Via tells Windows' and
    // Office's clients to speak WebDAV.
    head.headers.append("DAV", "1, 2");
    head.headers.append("MS-Author-Via", "DAV");
    if !config.read_only {
        crate::resumable::replies::describe(&mut head.headers, config.max_upload);
    }
    head.headers.append("Content-Length", "0");
    Reply {
        head,
        body: ReplyBody::None,
    }
}
