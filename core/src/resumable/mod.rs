//! Resumable uploads: the IETF draft "Resumable Uploads for HTTP"
//! (draft-ietf-httpbis-resumable-upload, interop version 8) and tus 1.0
//! (core, creation, creation-with-upload, termination, expiration,
//! checksum), on the same upload resources.
//!
//! An upload resource is its target's URL with `?upload=ID`: the bytes
//! live in a temporary beside the target, so any pared process serving
//! the root can resume it, and the file appears at its name, whole, only
//! when the upload completes. Pure: this reads requests and builds
//! replies; the host keeps the bytes and the state.

pub mod fields;
pub mod replies;
pub mod state;

use crate::digest::Digest;
use crate::head::StatusCode;
use crate::head::{Method, RequestHead, Version};
use crate::path::{resolve_target, RelPath};

pub use state::UploadState;

/// The draft's interop version pared speaks.
pub const INTEROP_VERSION: u32 = 8;

/// How long an unfinished upload is kept after its last append.
pub const MAX_AGE_SECS: u64 = 24 * 3600;

/// The name prefix of an upload's temporary, beside its target.
pub const TEMP_PREFIX: &str = ".pared-resumable-";

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The IETF draft; `interim` when the client speaks our interop
    /// version over HTTP/1.1, so a 104 may be sent.
    Ietf {
        /// Send `104 Upload Resumption Supported`.
        interim: bool,
    },
    /// tus 1.0.
    Tus,
}

/// A new upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// The file it makes.
    pub path: RelPath,
    /// The protocol.
    pub protocol: Protocol,
    /// This request carries the whole representation (IETF `?1`).
    pub complete: bool,
    /// The whole length, when declared (`Upload-Length`, or
    /// `Content-Length` with `Upload-Complete: ?1`).
    pub length: Option<u64>,
    /// The creating request's preconditions and digests, checked again
    /// at the commit.
    pub state: UploadState,
}

/// A request about an existing upload (`?upload=ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    /// The target's path (without the query).
    pub path: RelPath,
    /// The upload's id.
    pub id: String,
    /// The protocol.
    pub protocol: Protocol,
}

/// What a resumable-upload request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create an upload, perhaps with (some of) its body.
    Create(Creation),
    /// Report its offset (HEAD).
    Offset(Existing),
    /// Append the body at `offset` (PATCH); `complete` ends it (IETF
    /// `Upload-Complete: ?1`; for tus, reaching the length does).
    Append {
        /// Which upload.
        upload: Existing,
        /// Where the body goes.
        offset: u64,
        /// This body ends the upload (IETF).
        complete: bool,
        /// A length declared now (IETF `Upload-Length`, tus deferred
        /// length).
        length: Option<u64>,
        /// tus `Upload-Checksum` of this body.
        checksum: Option<fields::Checksum>,
    },
    /// Cancel it (DELETE).
    Cancel(Existing),
}

/// The id in `?upload=ID`, when the target has one (32 lower-case hex
/// digits; anything else is no upload).
pub fn upload_id(target: &str) -> Option<&str> {
    let query = crate::path::split_query(target).1?;
    let id = query.split('&').find_map(|p| p.strip_prefix("upload="))?;
    (id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(id)
}

/// True when the request asks for resumable-upload handling.
pub fn applies(req: &RequestHead) -> bool {
    upload_id(&req.target).is_some()
        || req.headers.contains("upload-complete")
        || (req.method == Method::Post && req.headers.contains("tus-resumable"))
}

/// Reads a resumable-upload request: the operation, or the error status
/// to answer.
pub fn classify(req: &RequestHead) -> Result<Op, StatusCode> {
    let op = classify_inner(req)?;
    // The state goes in one extended attribute, which file systems cap
    // at a few KiB (ext4: one block).
    if let Op::Create(c) = &op {
        if c.state.encode().len() > MAX_STATE {
            return Err(StatusCode::BAD_REQUEST);
        }
    }
    Ok(op)
}

/// The most bytes an upload's kept state may take.
pub const MAX_STATE: usize = 3072;

fn classify_inner(req: &RequestHead) -> Result<Op, StatusCode> {
    let tus = req.headers.contains("tus-resumable");
    let path = resolve_target(&req.target).map_err(|e| e.status())?;
    if let Some(id) = upload_id(&req.target) {
        let protocol = if tus {
            Protocol::Tus
        } else {
            Protocol::Ietf { interim: false }
        };
        let upload = Existing {
            path,
            id: id.to_owned(),
            protocol,
        };
        return match &req.method {
            Method::Head => Ok(Op::Offset(upload)),
            Method::Delete => Ok(Op::Cancel(upload)),
            Method::Other(m) if m == "PATCH" => append(req, upload, tus),
            _ => Err(StatusCode::METHOD_NOT_ALLOWED),
        };
    }
    if tus {
        return create_tus(req, path);
    }
    create_ietf(req, path)
}

fn append(req: &RequestHead, upload: Existing, tus: bool) -> Result<Op, StatusCode> {
    let h = &req.headers;
    let ctype = h.get_str("content-type").map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let want = if tus {
        "application/offset+octet-stream"
    } else {
        "application/partial-upload"
    };
    if ctype.as_deref() != Some(want) {
        return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let offset = fields::integer(h, "upload-offset").ok_or(StatusCode::BAD_REQUEST)?;
    let complete = if tus {
        false
    } else {
        fields::boolean(h, "upload-complete").ok_or(StatusCode::BAD_REQUEST)?
    };
    let mut length = fields::integer(h, "upload-length");
    if complete {
        if let Some(n) = fields::content_length(req) {
            let total = offset.checked_add(n).ok_or(StatusCode::BAD_REQUEST)?;
            if length.is_some_and(|l| l != total) {
                return Err(StatusCode::BAD_REQUEST);
            }
            length = Some(total);
        }
    }
    let checksum = match h.get_str("upload-checksum") {
        Some(v) => Some(fields::checksum(v).ok_or(StatusCode::BAD_REQUEST)?),
        None => None,
    };
    Ok(Op::Append {
        upload,
        offset,
        complete,
        length,
        checksum,
    })
}

fn create_ietf(req: &RequestHead, path: RelPath) -> Result<Op, StatusCode> {
    let h = &req.headers;
    let complete = fields::boolean(h, "upload-complete").ok_or(StatusCode::BAD_REQUEST)?;
    let path = match req.method {
        Method::Put if !path.has_trailing_slash() => path,
        // POST to a folder: the file name comes with the request.
        Method::Post if path.has_trailing_slash() => {
            let name = fields::disposition_filename(h).ok_or(StatusCode::BAD_REQUEST)?;
            path.join(&name).map_err(|e| e.status())?
        }
        _ => return Err(StatusCode::CONFLICT),
    };
    let mut length = fields::integer(h, "upload-length");
    if complete {
        if let Some(n) = fields::content_length(req) {
            if length.is_some_and(|l| l != n) {
                return Err(StatusCode::BAD_REQUEST);
            }
            length = Some(n);
        }
    }
    let interim = req.version == Version::Http11
        && fields::integer(h, "upload-draft-interop-version") == Some(u64::from(INTEROP_VERSION));
    Ok(Op::Create(Creation {
        path,
        protocol: Protocol::Ietf { interim },
        complete,
        length,
        state: UploadState::of_request(req, length, Protocol::Ietf { interim }),
    }))
}

fn create_tus(req: &RequestHead, folder: RelPath) -> Result<Op, StatusCode> {
    let h = &req.headers;
    if h.get_str("tus-resumable").map(str::trim) != Some("1.0.0") {
        return Err(StatusCode::PRECONDITION_FAILED);
    }
    let meta = h.get_str("upload-metadata").unwrap_or("");
    let name = fields::tus_metadata(meta, "filename").ok_or(StatusCode::BAD_REQUEST)?;
    let path = if folder.has_trailing_slash() || folder.is_root() {
        folder.join(&name).map_err(|e| e.status())?
    } else {
        return Err(StatusCode::CONFLICT);
    };
    // creation-defer-length is not offered: the length comes now.
    let length = fields::integer(h, "upload-length");
    if length.is_none() {
        return Err(StatusCode::BAD_REQUEST);
    }
    // creation-with-upload: a body is the first part.
    if fields::content_length(req).is_some_and(|n| n > 0) {
        let ctype = h.get_str("content-type").unwrap_or("");
        if !ctype
            .trim()
            .eq_ignore_ascii_case("application/offset+octet-stream")
        {
            return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }
    Ok(Op::Create(Creation {
        path,
        protocol: Protocol::Tus,
        complete: false,
        length,
        state: UploadState::of_request(req, length, Protocol::Tus),
    }))
}

/// The expected digests an upload's creator declared (`Repr-Digest`).
pub fn expected(state: &UploadState) -> Vec<Digest> {
    crate::digest::parse_digests(&state.repr_digest)
}

#[cfg(test)]
mod tests;
