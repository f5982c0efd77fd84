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
use crate::head::{Method, RequestHead, ResponseHead, StatusCode, Version};
use crate::path::{resolve_target, RelPath};

/// The `Server` field pared sends.
pub const SERVER: &str = concat!("pared/", env!("CARGO_PKG_VERSION"));

/// The name of the index file served for a directory.
pub const INDEX: &str = "index.html";

/// How the file service behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceConfig {
    /// Refuse PUT and DELETE with 405.
    pub read_only: bool,
    /// Largest upload accepted; `None` means no limit.
    pub max_upload: Option<u64>,
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
            FsFailure::Other => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body that goes with a [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// No body (HEAD, 304, or an empty answer).
    None,
    /// The opened file's bytes, exactly the Content-Length.
    File,
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
    /// Store the body of `length` bytes at the path, then call [`put_reply`].
    Write {
        /// Where.
        path: RelPath,
        /// The body length, already checked against the limit.
        length: u64,
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

const ALLOW_ALL: &str = "GET, HEAD, PUT, DELETE";
const ALLOW_READ: &str = "GET, HEAD";

fn base(status: StatusCode, now: SystemTime) -> ResponseHead {
    let mut h = ResponseHead::new(status);
    h.headers = crate::Headers::with_capacity(8, 192);
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
        403 => b"403 Forbidden\n",
        404 => b"404 Not Found\n",
        405 => b"405 Method Not Allowed\n",
        408 => b"408 Request Timeout\n",
        409 => b"409 Conflict\n",
        411 => b"411 Length Required\n",
        413 => b"413 Content Too Large\n",
        414 => b"414 URI Too Long\n",
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
    let mut head = base(status, now);
    let text = error_text(status);
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

/// Decides what a request needs, before any file-system call.
pub fn route(config: &ServiceConfig, req: &RequestHead, now: SystemTime) -> Route {
    let err = |s| Route::Reply(error_reply(s, Some(&req.method), now));
    let allow = if config.read_only {
        ALLOW_READ
    } else {
        ALLOW_ALL
    };
    match req.method {
        Method::Get | Method::Head => {}
        Method::Put | Method::Delete if config.read_only => {
            return Route::Reply(with_allow(
                error_reply(StatusCode::METHOD_NOT_ALLOWED, Some(&req.method), now),
                ALLOW_READ,
            ))
        }
        Method::Put | Method::Delete => {}
        _ => {
            return Route::Reply(with_allow(
                error_reply(StatusCode::NOT_IMPLEMENTED, Some(&req.method), now),
                allow,
            ))
        }
    }
    let path = match resolve_target(&req.target) {
        Ok(p) => p,
        Err(e) => return err(e.status()),
    };
    match req.method {
        Method::Get | Method::Head => Route::Read(path),
        Method::Delete if path.has_trailing_slash() => err(StatusCode::CONFLICT),
        Method::Delete => Route::Delete(path),
        _ => {
            if req.headers.contains("content-range") {
                return err(StatusCode::BAD_REQUEST);
            }
            let length = match content_length(&req.headers) {
                Ok(Some(n)) => n,
                Ok(None) if req.version == Version::Http10 => return err(StatusCode::BAD_REQUEST),
                Ok(None) => return err(StatusCode::LENGTH_REQUIRED),
                Err(_) => return err(StatusCode::BAD_REQUEST),
            };
            if config.max_upload.is_some_and(|max| length > max) {
                return err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            if path.has_trailing_slash() {
                return err(StatusCode::CONFLICT);
            }
            Route::Write { path, length }
        }
    }
}

/// Whole seconds since the epoch (HTTP dates have no finer resolution).
fn secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// True when If-Modified-Since holds a valid date, not in the future, at or
/// after the file's modification time (RFC 9110 §13.1.3).
fn not_modified(req: &RequestHead, modified: Option<SystemTime>, now: SystemTime) -> bool {
    let (Some(value), Some(modified)) = (req.headers.get_str("if-modified-since"), modified) else {
        return false;
    };
    let Ok(since) = httpdate::parse_http_date(value.trim()) else {
        return false;
    };
    match (secs(since), secs(modified), secs(now)) {
        (Some(since), Some(modified), Some(now)) => since <= now && modified <= since,
        _ => false,
    }
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

/// The answer for a GET or HEAD of a regular file with `meta`.
pub fn file_reply(req: &RequestHead, path: &RelPath, meta: &Meta, now: SystemTime) -> Reply {
    let modified = meta.modified.map(|m| m.min(now));
    if not_modified(req, modified, now) {
        let mut head = base(StatusCode::NOT_MODIFIED, now);
        if let Some(m) = modified {
            head.headers.append("Last-Modified", imf_fixdate(m));
        }
        return Reply {
            head,
            body: ReplyBody::None,
        };
    }
    let mut head = base(StatusCode::OK, now);
    head.headers
        .append("Content-Type", content_type(path.file_name().unwrap_or("")));
    head.headers.append_u64("Content-Length", meta.len);
    if let Some(m) = modified {
        head.headers.append("Last-Modified", imf_fixdate(m));
    }
    let body = if req.method == Method::Head || meta.len == 0 {
        ReplyBody::None
    } else {
        ReplyBody::File
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
    let mut reply = error_reply(StatusCode::MOVED_PERMANENTLY, Some(&req.method), now);
    let text: &'static [u8] = b"301 Moved Permanently\n";
    reply
        .head
        .headers
        .set("Content-Length", text.len().to_string());
    reply.head.headers.append("Location", location);
    if reply.body != ReplyBody::None {
        reply.body = ReplyBody::Static(text);
    }
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
    let body = if req.method == Method::Head {
        ReplyBody::None
    } else {
        ReplyBody::Generated
    };
    Reply { head, body }
}

/// The answer after an upload: 201 with Location when `created`, 200 when
/// it replaced a file, or the failure's status.
pub fn put_reply(path: &RelPath, stored: Result<bool, FsFailure>, now: SystemTime) -> Reply {
    match stored {
        Ok(created) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut head = base(status, now);
            if created {
                head.headers.append("Location", path.href(false));
            }
            head.headers.append("Content-Length", "0");
            Reply {
                head,
                body: ReplyBody::None,
            }
        }
        Err(f) => error_reply(f.status(), Some(&Method::Put), now),
    }
}

/// The answer after a DELETE.
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
            Route::Write { length: 10, .. }
        ));
        r11.headers.append("Content-Range", "bytes 0-9/20");
        assert_eq!(status(&route(&c, &r11, now)), 400);
        let small = ServiceConfig {
            max_upload: Some(5),
            ..c
        };
        let mut big = req(Method::Put, "/a");
        big.headers.append("Content-Length", "6");
        assert_eq!(status(&route(&small, &big, now)), 413);
        let ro = ServiceConfig {
            read_only: true,
            ..c
        };
        let Route::Reply(r) = route(&ro, &req(Method::Delete, "/a"), now) else {
            panic!()
        };
        assert_eq!(r.head.status.as_u16(), 405);
        assert_eq!(r.head.headers.get_str("allow"), Some("GET, HEAD"));
    }

    #[test]
    fn conditional_get() {
        let now = t(1_700_000_000);
        let meta = Meta {
            kind: FileKind::File,
            len: 3,
            modified: Some(t(1_600_000_000)),
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
}
