//! The answers of resumable uploads, for both protocols.

use std::time::SystemTime;

use crate::head::StatusCode;
use crate::service::{base, Reply, ReplyBody};

use super::{Protocol, INTEROP_VERSION, MAX_AGE_SECS};

/// `Upload-Limit` for an upload that may grow to `max` bytes.
pub fn limit_value(max: Option<u64>) -> String {
    match max {
        Some(m) => format!("max-size={m}, max-age={MAX_AGE_SECS}"),
        None => format!("max-age={MAX_AGE_SECS}"),
    }
}

/// The bytes of `104 Upload Resumption Supported` naming `location`.
pub fn interim(location: &str, max: Option<u64>) -> Vec<u8> {
    format!(
        "HTTP/1.1 104 Upload Resumption Supported\r\nLocation: {location}\r\n\
         Upload-Draft-Interop-Version: {INTEROP_VERSION}\r\nUpload-Limit: {}\r\n\r\n",
        limit_value(max)
    )
    .into_bytes()
}

fn empty(status: StatusCode, now: SystemTime, protocol: Protocol) -> Reply {
    let mut head = base(status, now);
    if protocol == Protocol::Tus {
        head.headers.append("Tus-Resumable", "1.0.0");
    }
    if status != StatusCode::NO_CONTENT {
        head.headers.append("Content-Length", "0");
    }
    Reply {
        head,
        body: ReplyBody::None,
    }
}

/// The upload was made (or appended to) and is not complete: 201 with
/// its URL for a creation, 204 for an append.
pub fn unfinished(
    created: Option<&str>,
    offset: u64,
    max: Option<u64>,
    expires: SystemTime,
    protocol: Protocol,
    now: SystemTime,
) -> Reply {
    let status = if created.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut r = empty(status, now, protocol);
    let h = &mut r.head.headers;
    if let Some(loc) = created {
        h.append("Location", loc);
    }
    h.append_u64("Upload-Offset", offset);
    match protocol {
        Protocol::Tus => {
            crate::date::append_date(h, "Upload-Expires", expires);
        }
        Protocol::Ietf { .. } => {
            h.append("Upload-Complete", "?0");
            h.append("Upload-Limit", limit_value(max));
        }
    }
    r
}

/// HEAD of an upload: its offset, completeness, length and limits.
pub fn offset(
    offset: u64,
    length: Option<u64>,
    max: Option<u64>,
    metadata: &str,
    protocol: Protocol,
    now: SystemTime,
) -> Reply {
    let status = match protocol {
        Protocol::Tus => StatusCode::OK,
        Protocol::Ietf { .. } => StatusCode::NO_CONTENT,
    };
    let mut r = empty(status, now, protocol);
    let h = &mut r.head.headers;
    h.append_u64("Upload-Offset", offset);
    match (length, protocol) {
        (Some(n), _) => h.append_u64("Upload-Length", n),
        (None, Protocol::Tus) => h.append("Upload-Defer-Length", "1"),
        (None, _) => {}
    }
    match protocol {
        Protocol::Tus => {
            if !metadata.is_empty() {
                h.append("Upload-Metadata", metadata);
            }
        }
        Protocol::Ietf { .. } => {
            h.append("Upload-Complete", "?0");
            h.append("Upload-Limit", limit_value(max));
        }
    }
    h.append("Cache-Control", "no-store");
    r
}

/// 409: the append's offset is not the upload's.
pub fn wrong_offset(offset: u64, protocol: Protocol, now: SystemTime) -> Reply {
    let mut r = empty(StatusCode::CONFLICT, now, protocol);
    r.head.headers.append_u64("Upload-Offset", offset);
    r
}

/// 204 after a cancel.
pub fn cancelled(protocol: Protocol, now: SystemTime) -> Reply {
    empty(StatusCode::NO_CONTENT, now, protocol)
}

/// tus's 460 Checksum Mismatch: the part was not kept.
pub fn checksum_mismatch(offset: u64, now: SystemTime) -> Reply {
    let status = StatusCode::new(460).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = empty(status, now, Protocol::Tus);
    r.head.headers.append_u64("Upload-Offset", offset);
    r
}

/// An error answer, tagged for tus clients.
pub fn error(status: StatusCode, protocol: Protocol, now: SystemTime) -> Reply {
    let mut r = crate::service::error_reply(status, None, now);
    if protocol == Protocol::Tus {
        r.head.headers.append("Tus-Resumable", "1.0.0");
    }
    r
}

/// Marks the answer to a completing request: the IETF draft's
/// `Upload-Complete: ?1`, tus's offset.
pub fn completed(reply: &mut Reply, length: u64, protocol: Protocol) {
    let h = &mut reply.head.headers;
    match protocol {
        Protocol::Ietf { .. } => h.append("Upload-Complete", "?1"),
        Protocol::Tus => {
            h.append("Tus-Resumable", "1.0.0");
            h.append_u64("Upload-Offset", length);
        }
    }
}

/// What OPTIONS adds: both protocols' discovery fields.
pub fn describe(headers: &mut crate::head::Headers, max: Option<u64>) {
    headers.append(
        "Accept-Patch",
        "application/partial-upload, application/offset+octet-stream",
    );
    headers.append("Upload-Limit", limit_value(max));
    headers.append("Tus-Resumable", "1.0.0");
    headers.append("Tus-Version", "1.0.0");
    headers.append(
        "Tus-Extension",
        "creation,creation-with-upload,termination,expiration,checksum",
    );
    headers.append("Tus-Checksum-Algorithm", "sha1,sha256");
    if let Some(m) = max {
        headers.append_u64("Tus-Max-Size", m);
    }
}
