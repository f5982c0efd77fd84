//! Message heads: methods, versions, status codes, header lists, request and
//! response heads.
//!
//! Invariants: a [`Headers`] keeps every field in arrival order, including
//! repeated names; lookups ignore ASCII case. Names and values stored here
//! never contain CR, LF or NUL when they came from the parser, and the
//! serializer refuses them when they came from a caller, so a head can never
//! smuggle a second message onto the wire.

use std::borrow::Cow;
use std::fmt;

/// A request method; the ones pared acts on have their own variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: fetch a resource.
    Get,
    /// `HEAD`: fetch only the head of what `GET` would answer.
    Head,
    /// `PUT`: store the body at the target.
    Put,
    /// `DELETE`: remove the target.
    Delete,
    /// `POST`: accepted by the parser, not served by pared.
    Post,
    /// `OPTIONS`: accepted by the parser, not served by pared.
    Options,
    /// Any other token (methods are case-sensitive, so `get` lands here).
    Other(String),
}

impl Method {
    /// Maps a method token to a method; the token must already be validated.
    pub fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method's token as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Post => "POST",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP version of a message; any `HTTP/1.x` with x ≥ 1 reads as 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`, the version pared answers with.
    Http10,
    /// `HTTP/1.1` (and later 1.x minor versions, which are compatible).
    Http11,
}

impl Version {
    /// The version as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A three-digit status code (100–999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 100 Continue.
    pub const CONTINUE: StatusCode = StatusCode(100);
    /// 200 OK.
    pub const OK: StatusCode = StatusCode(200);
    /// 201 Created.
    pub const CREATED: StatusCode = StatusCode(201);
    /// 204 No Content.
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// 206 Partial Content.
    pub const PARTIAL_CONTENT: StatusCode = StatusCode(206);
    /// 301 Moved Permanently.
    pub const MOVED_PERMANENTLY: StatusCode = StatusCode(301);
    /// 304 Not Modified.
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);
    /// 400 Bad Request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 401 Unauthorized.
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    /// 403 Forbidden.
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 404 Not Found.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 405 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 408 Request Timeout.
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// 409 Conflict.
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// 411 Length Required.
    pub const LENGTH_REQUIRED: StatusCode = StatusCode(411);
    /// 412 Precondition Failed.
    pub const PRECONDITION_FAILED: StatusCode = StatusCode(412);
    /// 413 Content Too Large.
    pub const PAYLOAD_TOO_LARGE: StatusCode = StatusCode(413);
    /// 414 URI Too Long.
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    /// 416 Range Not Satisfiable.
    pub const RANGE_NOT_SATISFIABLE: StatusCode = StatusCode(416);
    /// 431 Request Header Fields Too Large.
    pub const HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    /// 500 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    /// 501 Not Implemented.
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// 503 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// 505 HTTP Version Not Supported.
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    /// 507 Insufficient Storage.
    pub const INSUFFICIENT_STORAGE: StatusCode = StatusCode(507);
    /// 207 Multi-Status (WebDAV).
    pub const MULTI_STATUS: StatusCode = StatusCode(207);
    /// 415 Unsupported Media Type.
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    /// 423 Locked (WebDAV).
    pub const LOCKED: StatusCode = StatusCode(423);
    /// 424 Failed Dependency (WebDAV).
    pub const FAILED_DEPENDENCY: StatusCode = StatusCode(424);
    /// 429 Too Many Requests (too many unfinished resumable uploads).
    pub const TOO_MANY_REQUESTS: StatusCode = StatusCode(429);
    /// 502 Bad Gateway (a COPY or MOVE to another server).
    pub const BAD_GATEWAY: StatusCode = StatusCode(502);

    /// A status code from its number; `None` outside 100–999.
    pub fn new(code: u16) -> Option<StatusCode> {
        (100..=999).contains(&code).then_some(StatusCode(code))
    }

    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// True for 1xx interim responses.
    pub fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// True for 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// True for 3xx.
    pub fn is_redirection(self) -> bool {
        (300..400).contains(&self.0)
    }

    /// The standard reason phrase, or `""` for codes without one.
    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            101 => "Switching Protocols",
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "No Content",
            206 => "Partial Content",
            207 => "Multi-Status",
            301 => "Moved Permanently",
            302 => "Found",
            303 => "See Other",
            304 => "Not Modified",
            307 => "Temporary Redirect",
            308 => "Permanent Redirect",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Content Too Large",
            414 => "URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Range Not Satisfiable",
            417 => "Expectation Failed",
            423 => "Locked",
            424 => "Failed Dependency",
            429 => "Too Many Requests",
            460 => "Checksum Mismatch",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            505 => "HTTP Version Not Supported",
            507 => "Insufficient Storage",
            _ => "",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One field of a head: its name and raw value (leading and trailing
/// whitespace already stripped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name as received (case preserved).
    pub name: &'a str,
    /// The value bytes; may hold obs-text (0x80–0xFF), never CR, LF or NUL.
    pub value: &'a [u8],
}

/// An ordered list of header fields with ASCII-case-insensitive lookup.
///
/// Names and values live in one byte arena: a parsed head copies its bytes
/// there once and records where each name and value lies, so parsing costs
/// two allocations however many fields there are. Equality compares the
/// fields, not the arena.
#[derive(Clone, Default)]
pub struct Headers {
    arena: Vec<u8>,
    // [name start, name end, value start, value end] into the arena.
    spans: Vec<[u32; 4]>,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl Headers {
    /// An empty list.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty list with room for `fields` fields totalling `bytes` bytes.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            arena: Vec::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
        }
    }

    /// A list over `arena` with fields at the given spans; the parser has
    /// checked that names are tokens (so UTF-8) and spans are in bounds.
    pub(crate) fn from_parts(arena: Vec<u8>, spans: Vec<[u32; 4]>) -> Headers {
        Headers { arena, spans }
    }

    /// Appends a field, keeping any earlier field of the same name.
    ///
    /// Names must be tokens and values free of CR, LF and NUL to be
    /// serialized; the serializers check that and refuse otherwise.
    pub fn append(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(name.as_bytes());
        let mid = self.arena.len() as u32;
        self.arena.extend_from_slice(value.as_ref());
        let end = self.arena.len() as u32;
        self.spans.push([start, mid, mid, end]);
    }

    /// Appends a field whose value is a decimal number, without allocating.
    pub fn append_u64(&mut self, name: &str, n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.append(name, &digits[i..]);
    }

    /// Replaces every field named `name` by one with `value` (appended last).
    pub fn set(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.remove(name);
        self.append(name, value);
    }

    /// Removes every field named `name`; the arena keeps the bytes.
    pub fn remove(&mut self, name: &str) {
        let arena = &self.arena;
        self.spans.retain(|&[s, m, _, _]| {
            !arena[s as usize..m as usize].eq_ignore_ascii_case(name.as_bytes())
        });
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn field(&self, span: [u32; 4]) -> Field<'_> {
        let [ns, ne, vs, ve] = span.map(|x| x as usize);
        // Names are tokens or came from `&str`, so this cannot fail.
        let name = std::str::from_utf8(&self.arena[ns..ne]).unwrap_or("");
        Field {
            name,
            value: &self.arena[vs..ve],
        }
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.spans.iter().map(move |&sp| self.field(sp))
    }

    /// All fields in order as (name, value) bytes: for serializing, which
    /// needs no `&str` (and so no UTF-8 check) of a name.
    pub(crate) fn raw(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(move |&[ns, ne, vs, ve]| {
            (
                &self.arena[ns as usize..ne as usize],
                &self.arena[vs as usize..ve as usize],
            )
        })
    }

    /// The values of every field named `name`, in order. Lookups compare
    /// name bytes directly, without building a [`Field`].
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.spans
            .iter()
            .filter(move |&&[ns, ne, _, _]| {
                self.arena[ns as usize..ne as usize].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(move |&[_, _, vs, ve]| &self.arena[vs as usize..ve as usize])
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let arena = &self.arena;
        self.spans.iter().find_map(|&[ns, ne, vs, ve]| {
            arena[ns as usize..ne as usize]
                .eq_ignore_ascii_case(name.as_bytes())
                .then(|| &arena[vs as usize..ve as usize])
        })
    }

    /// The first value named `name` as text, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// True when a field `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// True when some comma-separated element of a `name` field equals
    /// `token`, ignoring ASCII case (as `Connection: keep-alive, Upgrade`).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|fl| (fl.name, String::from_utf8_lossy(fl.value).into_owned())),
            )
            .finish()
    }
}

/// Strips HTTP whitespace (SP, HTAB) from both ends.
pub(crate) fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// A request line and its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target exactly as received (origin- or absolute-form).
    pub target: String,
    /// The version the client speaks.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
}

impl RequestHead {
    /// A head with no fields.
    pub fn new(method: Method, target: impl Into<String>, version: Version) -> RequestHead {
        RequestHead {
            method,
            target: target.into(),
            version,
            headers: Headers::new(),
        }
    }

    /// True when the client asked to keep the connection open afterwards:
    /// `Connection: keep-alive` on 1.0, no `Connection: close` on 1.1.
    pub fn wants_keep_alive(&self) -> bool {
        match self.version {
            Version::Http10 => self.headers.has_token("connection", "keep-alive"),
            Version::Http11 => !self.headers.has_token("connection", "close"),
        }
    }
}

/// A status line and its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The version on the status line.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as received or to send (may be empty); borrowed
    /// for the standard phrases, so building a response allocates none.
    pub reason: Cow<'static, str>,
    /// The header fields.
    pub headers: Headers,
}

impl ResponseHead {
    /// An HTTP/1.0 head with the standard reason phrase and no fields.
    pub fn new(status: StatusCode) -> ResponseHead {
        ResponseHead {
            version: Version::Http10,
            status,
            reason: Cow::Borrowed(status.reason()),
            headers: Headers::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_lookup_is_case_insensitive_and_ordered() {
        let mut h = Headers::new();
        h.append("Content-Length", "5");
        h.append("X-A", "1");
        h.append("x-a", "2");
        assert_eq!(h.get("content-length"), Some(&b"5"[..]));
        assert_eq!(h.get_all("X-a").collect::<Vec<_>>(), vec![&b"1"[..], b"2"]);
        h.set("X-A", "3");
        assert_eq!(h.get_all("x-A").collect::<Vec<_>>(), vec![&b"3"[..]]);
        assert_eq!(h.len(), 2);
        h.remove("content-LENGTH");
        assert_eq!(h.get("Content-Length"), None);
    }

    #[test]
    fn numbers_without_allocation() {
        let mut h = Headers::new();
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            h.append_u64("N", n);
        }
        let got: Vec<_> = h
            .get_all("n")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(got, ["0", "7", "10", "1234567890", &u64::MAX.to_string()]);
    }

    #[test]
    fn tokens_in_lists() {
        let mut h = Headers::new();
        h.append("Connection", "Upgrade, Keep-Alive");
        assert!(h.has_token("connection", "keep-alive"));
        assert!(!h.has_token("connection", "close"));
    }

    #[test]
    fn keep_alive_per_version() {
        let mut r = RequestHead::new(Method::Get, "/", Version::Http10);
        assert!(!r.wants_keep_alive());
        r.headers.append("Connection", "keep-alive");
        assert!(r.wants_keep_alive());
        let mut r = RequestHead::new(Method::Get, "/", Version::Http11);
        assert!(r.wants_keep_alive());
        r.headers.append("Connection", "close");
        assert!(!r.wants_keep_alive());
    }

    #[test]
    fn status_ranges() {
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(1000), None);
        assert!(StatusCode::CONTINUE.is_informational());
        assert!(StatusCode::CREATED.is_success());
        assert_eq!(StatusCode::NOT_FOUND.reason(), "Not Found");
    }
}
