//! The file service's decisions as pure functions: which file-system action
//! a request needs, and which response follows from what the file system
//! answered. The caller does the file-system calls and passes in their
//! results and the time.
//!
//! Invariants: every response built here carries Date and Server and a
//! Content-Length (so keep-alive can follow); a refused path never reaches
//! the file system; a HEAD answer has the head a GET would have.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::body::content_length;
use crate::digest::{self, Algorithm, Digest};
use crate::head::{Method, RequestHead, ResponseHead, StatusCode, Version};
use crate::methods::{Action, Methods};
use crate::path::{resolve_target, RelPath};
use crate::range::{self, Multipart, Pieces, RangeRequest};
use crate::validators::{self, Current, FileVersion, Outcome};

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
    /// Remove the file, then call [`delete_reply`].
    Delete(RelPath),
    /// Answer at once, reading no body.
    Reply(Reply),
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

fn base(status: StatusCode, now: SystemTime) -> ResponseHead {
    let mut h = ResponseHead::new(status);
    h.headers = crate::Headers::with_capacity(10, 320);
    append_date(&mut h.headers, "Date", now);
    h.headers.append("Server", SERVER);
    h
}

/// Appends an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted into a stack buffer: no allocation per response.
fn append_date(headers: &mut crate::Headers, name: &str, t: SystemTime) {
    headers.append(name, imf_fixdate(t));
}

/// IMF-fixdate (RFC 9110 §5.6.7) of `t`, clamped to the epoch.
pub fn imf_fixdate(t: SystemTime) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let secs = secs(t).unwrap_or(0);
    let days = secs / 86_400;
    let (year, month, day) = crate::log::civil(days as i64);
    let rem = secs % 86_400;
    let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[5..7].copy_from_slice(&two(u64::from(day)));
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let y = year.clamp(0, 9999) as u64;
    out[12..14].copy_from_slice(&two(y / 100));
    out[14..16].copy_from_slice(&two(y % 100));
    out[17..19].copy_from_slice(&two(rem / 3600));
    out[20..22].copy_from_slice(&two(rem / 60 % 60));
    out[23..25].copy_from_slice(&two(rem % 60));
    out
}

fn error_text(status: StatusCode) -> &'static [u8] {
    match status.as_u16() {
        400 => b"400 Bad Request\n",
        401 => b"401 Unauthorized\n",
        403 => b"403 Forbidden\n",
        404 => b"404 Not Found\n",
        405 => b"405 Method Not Allowed\n",
        408 => b"408 Request Timeout\n",
        409 => b"409 Conflict\n",
        411 => b"411 Length Required\n",
        412 => b"412 Precondition Failed\n",
        413 => b"413 Content Too Large\n",
        414 => b"414 URI Too Long\n",
        416 => b"416 Range Not Satisfiable\n",
        431 => b"431 Request Header Fields Too Large\n",
        501 => b"501 Not Implemented\n",
        503 => b"503 Service Unavailable\n",
        505 => b"505 HTTP Version Not Supported\n",
        507 => b"507 Insufficient Storage\n",
        _ => b"500 Internal Server Error\n",
    }
}

/// An error answer with a one-line text body (omitted for HEAD).
pub fn error_reply(status: StatusCode, method: Option<&Method>, now: SystemTime) -> Reply {
    text_reply(status, method, error_text(status), now)
}

/// An answer whose body is the one-line `text` (omitted for HEAD, which
/// keeps the Content-Length a GET would have).
fn text_reply(
    status: StatusCode,
    method: Option<&Method>,
    text: &'static [u8],
    now: SystemTime,
) -> Reply {
    let mut head = base(status, now);
    head.headers
        .append("Content-Type", "text/plain; charset=utf-8");
    head.headers.append_u64("Content-Length", text.len() as u64);
    let body = if method == Some(&Method::Head) {
        ReplyBody::None
    } else {
        ReplyBody::Static(text)
    };
    Reply { head, body }
}

fn with_allow(mut reply: Reply, allow: &str) -> Reply {
    reply.head.headers.append("Allow", allow);
    reply
}

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
    let path = match resolve_target(&req.target) {
        Ok(p) => p,
        Err(e) => return err(e.status()),
    };
    match row.action {
        Action::Fetch => Route::Read(path),
        Action::Describe => Route::Reply(options_reply(config, now)),
        Action::Remove if path.has_trailing_slash() => err(StatusCode::CONFLICT),
        Action::Remove => Route::Delete(path),
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
    head.headers.append("Content-Length", "0");
    Reply {
        head,
        body: ReplyBody::None,
    }
}

/// Whole seconds since the epoch (HTTP dates have no finer resolution).
fn secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The Content-Type for a file name, guessed from its extension.
pub fn content_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "text" | "md" | "log" | "csv" | "rs" | "toml" | "py" | "sh" | "c" | "h") => {
            "text/plain; charset=utf-8"
        }
        _ => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

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

/// A 301 to `location`, which must be a path starting with one `/`.
pub fn redirect_reply(req: &RequestHead, location: &str, now: SystemTime) -> Reply {
    let mut reply = text_reply(
        StatusCode::MOVED_PERMANENTLY,
        Some(&req.method),
        b"301 Moved Permanently\n",
        now,
    );
    reply.head.headers.append("Location", location);
    reply
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

/// The answer with a directory listing of `len` bytes of HTML.
pub fn listing_reply(req: &RequestHead, len: usize, now: SystemTime) -> Reply {
    let mut head = base(StatusCode::OK, now);
    head.headers
        .append("Content-Type", "text/html; charset=utf-8");
    head.headers.append_u64("Content-Length", len as u64);
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

/// The answer to a connection refused before its request is read (its
/// client holds too many connections): 503 with `Retry-After`, and the
/// connection closes.
pub fn busy_reply(now: SystemTime) -> Reply {
    let mut reply = error_reply(StatusCode::SERVICE_UNAVAILABLE, None, now);
    reply.head.headers.append("Retry-After", "1");
    reply.head.headers.append("Connection", "close");
    reply
}

/// The answer a request gets from access control before anything else,
/// if it is refused: 401 with the Basic challenge, or 403 for a write from
/// another machine while no users are configured.
pub fn access_reply(
    access: &crate::auth::Access,
    method: &Method,
    now: SystemTime,
) -> Option<Reply> {
    use crate::auth::Access;
    match access {
        Access::Allowed | Access::Verify { .. } => None,
        Access::Challenge => Some(unauthorized_reply(method, now)),
        Access::WritesNeedAuth => Some(text_reply(
            StatusCode::FORBIDDEN,
            Some(method),
            b"403 Forbidden: writes from other machines need --auth (or --public-writes)\n",
            now,
        )),
    }
}

/// 401 with `WWW-Authenticate: Basic realm="pared", charset="UTF-8"`: the
/// same for missing, unknown and wrong credentials.
pub fn unauthorized_reply(method: &Method, now: SystemTime) -> Reply {
    let mut reply = error_reply(StatusCode::UNAUTHORIZED, Some(method), now);
    reply
        .head
        .headers
        .append("WWW-Authenticate", crate::auth::CHALLENGE);
    reply
}

/// The answer to plain http on a TLS port: 400 saying the port speaks
/// https, and the connection closes.
pub fn plain_http_on_tls_reply(now: SystemTime) -> Reply {
    let mut reply = text_reply(
        StatusCode::BAD_REQUEST,
        None,
        b"400 Bad Request: this port speaks https; use an https:// URL\n",
        now,
    );
    reply.head.headers.append("Connection", "close");
    reply
}

/// The answer to a peer's protocol error, if it deserves one.
pub fn protocol_error_reply(e: crate::ProtocolError, now: SystemTime) -> Option<Reply> {
    e.status().map(|s| error_reply(s, None, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(method: Method, target: &str) -> RequestHead {
        RequestHead::new(method, target, Version::Http10)
    }

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn status(r: &Route) -> u16 {
        match r {
            Route::Reply(r) => r.head.status.as_u16(),
            _ => 0,
        }
    }

    #[test]
    fn routes() {
        let c = ServiceConfig::default();
        let now = t(1_700_000_000);
        assert_eq!(
            route(&c, &req(Method::Get, "/a"), now),
            Route::Read(resolve_target("/a").unwrap())
        );
        assert_eq!(status(&route(&c, &req(Method::Post, "/a"), now)), 501);
        assert_eq!(status(&route(&c, &req(Method::Get, "/../a"), now)), 403);
        assert_eq!(status(&route(&c, &req(Method::Get, "/%zz"), now)), 400);
        assert_eq!(status(&route(&c, &req(Method::Put, "/a"), now)), 400);
        let mut r11 = RequestHead::new(Method::Put, "/a", Version::Http11);
        assert_eq!(status(&route(&c, &r11, now)), 411);
        r11.headers.append("Content-Length", "10");
        assert!(matches!(
            route(&c, &r11, now),
            Route::Write {
                length: Some(10),
                ..
            }
        ));
        r11.headers.append("Content-Range", "bytes 0-9/20");
        assert_eq!(status(&route(&c, &r11, now)), 400);
        let small = ServiceConfig {
            max_upload: Some(5),
            ..c.clone()
        };
        let mut big = req(Method::Put, "/a");
        big.headers.append("Content-Length", "6");
        assert_eq!(status(&route(&small, &big, now)), 413);
        let ro = ServiceConfig {
            read_only: true,
            ..c.clone()
        };
        let Route::Reply(r) = route(&ro, &req(Method::Delete, "/a"), now) else {
            panic!()
        };
        assert_eq!(r.head.status.as_u16(), 405);
        assert_eq!(r.head.headers.get_str("allow"), Some("GET, HEAD, OPTIONS"));
        // OPTIONS is answered from the table, for `*` and for a path.
        for target in ["*", "/a"] {
            let Route::Reply(r) = route(&ro, &req(Method::Options, target), now) else {
                panic!()
            };
            assert_eq!(r.head.status.as_u16(), 200);
            assert_eq!(r.head.headers.get_str("allow"), Some("GET, HEAD, OPTIONS"));
            assert_eq!(r.head.headers.get_str("content-length"), Some("0"));
        }
        let Route::Reply(r) = route(&c, &req(Method::Options, "*"), now) else {
            panic!()
        };
        assert_eq!(
            r.head.headers.get_str("allow"),
            Some("GET, HEAD, PUT, DELETE, OPTIONS")
        );
        // A chunked HTTP/1.1 upload has no declared length.
        let mut chunked = RequestHead::new(Method::Put, "/a", Version::Http11);
        chunked.headers.append("Transfer-Encoding", "chunked");
        assert!(matches!(
            route(&small, &chunked, now),
            Route::Write { length: None, .. }
        ));
    }

    #[test]
    fn conditional_get() {
        let now = t(1_700_000_000);
        let meta = Meta {
            kind: FileKind::File,
            len: 3,
            modified: Some(t(1_600_000_000)),
            id: 2,
        };
        let path = resolve_target("/a.txt").unwrap();
        let mut r = req(Method::Get, "/a.txt");
        let ok = file_reply(&r, &path, &meta, now);
        assert_eq!(ok.head.status.as_u16(), 200);
        assert_eq!(
            ok.head.headers.get_str("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let lm = ok.head.headers.get_str("last-modified").unwrap().to_owned();
        r.headers.append("If-Modified-Since", &lm);
        assert_eq!(file_reply(&r, &path, &meta, now).head.status.as_u16(), 304);
        for ims in [
            "Sunday, 13-Sep-20 12:26:40 GMT", // RFC 850, after mtime
            "Sun Sep 13 12:26:40 2020",       // asctime
        ] {
            let mut r = req(Method::Get, "/a.txt");
            r.headers.append("If-Modified-Since", ims);
            assert_eq!(
                file_reply(&r, &path, &meta, now).head.status.as_u16(),
                304,
                "{ims}"
            );
        }
        for ims in [
            "garbage",
            "Tue, 14 Nov 2090 22:13:20 GMT",
            "Mon, 01 Jan 2001 00:00:00 GMT",
        ] {
            let mut r = req(Method::Get, "/a.txt");
            r.headers.append("If-Modified-Since", ims);
            assert_eq!(
                file_reply(&r, &path, &meta, now).head.status.as_u16(),
                200,
                "{ims}"
            );
        }
    }

    #[test]
    fn dates_match_httpdate() {
        let mut t = 0u64;
        while t < 5_000_000_000 {
            let at = UNIX_EPOCH + Duration::from_secs(t);
            assert_eq!(
                std::str::from_utf8(&imf_fixdate(at)).unwrap(),
                httpdate::fmt_http_date(at),
                "{t}"
            );
            t += 86_399 * 37 + 3_601 + t % 7_919;
        }
    }

    #[test]
    fn directories() {
        let now = t(1_700_000_000);
        let dir = Meta {
            kind: FileKind::Dir,
            len: 0,
            modified: None,
            id: 3,
        };
        let r = req(Method::Get, "/d");
        let ReadStep::Reply(rep) = read_reply(&r, &resolve_target("/d").unwrap(), Ok(dir), now)
        else {
            panic!()
        };
        assert_eq!(rep.head.status.as_u16(), 301);
        assert_eq!(rep.head.headers.get_str("location"), Some("/d/"));
        let step = read_reply(&r, &resolve_target("/d/").unwrap(), Ok(dir), now);
        assert_eq!(
            step,
            ReadStep::TryIndex(resolve_target("/d/index.html").unwrap())
        );
        assert_eq!(
            index_reply(&r, &RelPath::root(), Err(FsFailure::NotFound), now),
            None
        );
    }

    #[test]
    fn head_has_get_head_without_body() {
        let now = t(1_700_000_000);
        let r = error_reply(StatusCode::NOT_FOUND, Some(&Method::Head), now);
        assert_eq!(r.body, ReplyBody::None);
        assert_eq!(r.head.headers.get_str("content-length"), Some("14"));
    }

    fn file(len: u64) -> Meta {
        Meta {
            kind: FileKind::File,
            len,
            modified: Some(t(1_600_000_000)),
            id: 9,
        }
    }

    fn get(fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(Method::Get, "/a.txt", Version::Http11);
        for (n, v) in fields {
            r.headers.append(n, v);
        }
        r
    }

    #[test]
    fn validators_and_ranges() {
        let now = t(1_700_000_000);
        let path = resolve_target("/a.txt").unwrap();
        let meta = file(1000);
        let ok = file_reply(&get(&[]), &path, &meta, now);
        let etag = ok.head.headers.get_str("etag").unwrap().to_owned();
        assert_eq!(etag, meta.etag());
        assert_eq!(ok.head.headers.get_str("accept-ranges"), Some("bytes"));
        assert_eq!(
            ok.body,
            ReplyBody::File(Pieces::Span {
                offset: 0,
                len: 1000
            })
        );
        // 304 carries the ETag.
        let nm = file_reply(&get(&[("If-None-Match", &etag)]), &path, &meta, now);
        assert_eq!(nm.head.status.as_u16(), 304);
        assert_eq!(nm.head.headers.get_str("etag"), Some(etag.as_str()));
        let pf = file_reply(&get(&[("If-Match", "\"other\"")]), &path, &meta, now);
        assert_eq!(pf.head.status.as_u16(), 412);
        // One range.
        let one = file_reply(&get(&[("Range", "bytes=10-19")]), &path, &meta, now);
        assert_eq!(one.head.status.as_u16(), 206);
        assert_eq!(
            one.head.headers.get_str("content-range"),
            Some("bytes 10-19/1000")
        );
        assert_eq!(one.head.headers.get_str("content-length"), Some("10"));
        assert_eq!(
            one.body,
            ReplyBody::File(Pieces::Span {
                offset: 10,
                len: 10
            })
        );
        // If-Range that does not match: the whole file.
        let ir = file_reply(
            &get(&[("Range", "bytes=10-19"), ("If-Range", "\"old\"")]),
            &path,
            &meta,
            now,
        );
        assert_eq!(ir.head.status.as_u16(), 200);
        // Unsatisfiable.
        let un = file_reply(&get(&[("Range", "bytes=1000-")]), &path, &meta, now);
        assert_eq!(un.head.status.as_u16(), 416);
        assert_eq!(
            un.head.headers.get_str("content-range"),
            Some("bytes */1000")
        );
        // Malformed: ignored.
        let bad = file_reply(&get(&[("Range", "bytes=x")]), &path, &meta, now);
        assert_eq!(bad.head.status.as_u16(), 200);
        // Several: multipart with a length that matches its pieces.
        let multi = file_reply(&get(&[("Range", "bytes=0-0,-1")]), &path, &meta, now);
        assert_eq!(multi.head.status.as_u16(), 206);
        assert!(multi
            .head
            .headers
            .get_str("content-type")
            .unwrap()
            .starts_with("multipart/byteranges; boundary="));
        let ReplyBody::File(p) = &multi.body else {
            panic!()
        };
        assert_eq!(
            multi.head.headers.get_str("content-length"),
            Some(p.len().to_string().as_str())
        );
        // HEAD ignores Range.
        let mut head = get(&[("Range", "bytes=0-1")]);
        head.method = Method::Head;
        let h = file_reply(&head, &path, &meta, now);
        assert_eq!(h.head.status.as_u16(), 200);
        assert_eq!(h.body, ReplyBody::None);
    }

    #[test]
    fn writes_and_digests() {
        let now = t(1_700_000_000);
        let meta = file(5);
        let mut put = RequestHead::new(Method::Put, "/a.txt", Version::Http11);
        assert_eq!(write_guard(&put), WriteGuard::None);
        assert!(write_allowed(&put, None, now));
        put.headers.append("If-None-Match", "*");
        assert_eq!(write_guard(&put), WriteGuard::CreateOnly);
        assert!(write_allowed(&put, None, now));
        assert!(!write_allowed(&put, Some(&meta), now));
        let mut put = RequestHead::new(Method::Put, "/a.txt", Version::Http11);
        put.headers.append("If-Match", meta.etag());
        assert_eq!(write_guard(&put), WriteGuard::Locked);
        assert!(write_allowed(&put, Some(&meta), now));
        assert!(!write_allowed(&put, Some(&file(6)), now));
        assert!(!write_allowed(&put, None, now));

        let mut h = digest::Hasher::new(false);
        h.update(b"hello");
        let d = h.finish().remove(0);
        let stored = Stored {
            created: true,
            meta,
            digest: d.clone(),
        };
        let r = put_reply(&resolve_target("/a.txt").unwrap(), Ok(stored), now);
        assert_eq!(r.head.status.as_u16(), 201);
        assert_eq!(r.head.headers.get_str("etag"), Some(meta.etag().as_str()));
        assert_eq!(
            r.head.headers.get_str("repr-digest"),
            Some(d.field_value().as_str())
        );
        assert_eq!(
            put_reply(&RelPath::root(), Err(FsFailure::DigestMismatch), now)
                .head
                .status
                .as_u16(),
            400
        );

        let path = resolve_target("/a.txt").unwrap();
        let ok = file_reply(&get(&[]), &path, &meta, now);
        assert_eq!(digest_plan(&get(&[]), &ok, None), DigestPlan::Omit);
        assert_eq!(
            digest_plan(&get(&[]), &ok, Some(d.clone())),
            DigestPlan::Send(d.clone())
        );
        let want = get(&[("Want-Repr-Digest", "sha-512=1")]);
        assert_eq!(
            digest_plan(&want, &ok, Some(d.clone())),
            DigestPlan::Compute(Algorithm::Sha512)
        );
        let nm = file_reply(&get(&[("If-None-Match", "*")]), &path, &meta, now);
        assert_eq!(digest_plan(&want, &nm, Some(d)), DigestPlan::Omit);
    }
}
