//! The client's decisions: what request to send for `HOST PORT METHOD PATH`,
//! whether a response is delivered or a redirect followed, and which exit
//! code a result earns. A transport runs one [`Session`] per command.
//!
//! Invariants: no CR, LF or NUL from the command line ever reaches the wire
//! (refused before anything is sent); a redirect is followed only to
//! `http:` URLs, at most `max_redirects` times, never to a place already
//! visited; every [`Session`] ends in delivery or a [`FetchError`].

use std::collections::HashSet;

use crate::head::{Method, RequestHead, ResponseHead, StatusCode, Version};
use crate::path::encode_into;

/// Exit code: success (2xx, or 304).
pub const EXIT_OK: u8 = 0;
/// Exit code: a local file could not be read or written.
pub const EXIT_LOCAL: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: network or protocol failure (name lookup, connect, timeout,
/// truncated or malformed response).
pub const EXIT_NETWORK: u8 = 3;
/// Exit code: the server answered 4xx.
pub const EXIT_HTTP_4XX: u8 = 4;
/// Exit code: the server answered 5xx.
pub const EXIT_HTTP_5XX: u8 = 5;
/// Exit code: a redirect that was not or could not be followed, or any
/// other status that is not success.
pub const EXIT_HTTP_OTHER: u8 = 6;
/// Exit code: 412 Precondition Failed (`--if-match`, `--create-only`, or
/// a `-H` precondition did not hold; nothing was changed).
pub const EXIT_PRECONDITION: u8 = 7;
/// Exit code: the body did not match the response's `Repr-Digest` or
/// `Content-Digest` (no output file is left).
pub const EXIT_DIGEST: u8 = 8;

/// Exit code: TLS failed (a certificate that does not verify: unknown
/// issuer, expired, name mismatch; or the handshake).
pub const EXIT_TLS: u8 = 9;

/// The exit code a final response status earns.
pub fn status_exit(status: StatusCode) -> u8 {
    match status.as_u16() {
        200..=299 | 304 => EXIT_OK,
        412 => EXIT_PRECONDITION,
        400..=499 => EXIT_HTTP_4XX,
        500..=599 => EXIT_HTTP_5XX,
        _ => EXIT_HTTP_OTHER,
    }
}

/// Why a fetch cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A host, path or header with CR, LF, NUL, or otherwise unusable.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A redirect to a scheme pared does not speak.
    #[error("redirected to {location}, but pared speaks only http and https")]
    UnsupportedScheme {
        /// Where the server pointed.
        location: String,
    },
    /// A redirect without a usable Location.
    #[error("redirect {status} without a usable Location")]
    BadLocation {
        /// The redirect status.
        status: u16,
    },
    /// More redirects than allowed.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The limit.
        max: usize,
    },
    /// A redirect back to a place already visited.
    #[error("redirect loop at {url}")]
    RedirectLoop {
        /// The repeated URL.
        url: String,
    },
    /// A redirect that would re-send the upload to another host or port.
    #[error("redirected to {url}, another host or port: the upload is not sent there (run the command again against it if that is wanted)")]
    BodyToOtherOrigin {
        /// Where the server pointed (escaped).
        url: String,
    },
}

/// Request fields that carry credentials: dropped when a redirect leads to
/// another scheme, host or port (curl's fixes for CVE-2018-1000007 and
/// CVE-2022-27776).
pub const CREDENTIAL_FIELDS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// `s` with every character a terminal could act on (C0 and C1 controls,
/// DEL, bidirectional overrides and isolates) shown as an escape: for
/// server-supplied text the client prints itself. Tab is kept.
pub fn escape_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\t' || !crate::listing::is_deceptive(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

impl FetchError {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            FetchError::Invalid { .. } => EXIT_USAGE,
            _ => EXIT_HTTP_OTHER,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The request target, origin-form, already percent-encoded.
    pub path: String,
    /// True for `https`: the exchange runs over TLS.
    pub tls: bool,
}

impl Target {
    /// A target from command-line pieces: `index.html` and `/index.html`
    /// are the same, and characters that need it are percent-encoded.
    pub fn new(host: &str, port: u16, path: &str) -> Result<Target, FetchError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || host
                .bytes()
                .any(|b| b <= b' ' || b == 0x7f || b"/?#@".contains(&b))
        {
            return Err(FetchError::Invalid {
                what: "host",
                detail: format!("{host:?}"),
            });
        }
        if path.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(FetchError::Invalid {
                what: "path",
                detail: "contains CR, LF or NUL".into(),
            });
        }
        Ok(Target {
            host: host.to_owned(),
            port,
            path: encode_path(path),
            // In the HOST PORT PATH form, port 443 means https.
            tls: port == 443,
        })
    }

    /// The same target over http or https.
    pub fn with_tls(mut self, tls: bool) -> Target {
        self.tls = tls;
        self
    }

    /// A target from an `http://` or `https://` URL: a host (an IPv6
    /// literal in brackets), an optional port (80 or 443 by default), an
    /// optional path and query; a fragment is dropped.
    pub fn from_url(url: &str) -> Result<Target, FetchError> {
        let bad = |detail: &str| FetchError::Invalid {
            what: "URL",
            detail: format!("{detail}: {}", escape_for_terminal(url)),
        };
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("spaces or control characters"));
        }
        let lower = url.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("https://") {
            (true, &url[8..])
        } else if lower.starts_with("http://") {
            (false, &url[7..])
        } else {
            return Err(bad("not an http:// or https:// URL"));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("credentials in the URL (use -u USER:PASSWORD)"));
        }
        let (host, port) = split_authority(authority, if tls { 443 } else { 80 })
            .ok_or_else(|| bad("bad host or port"))?;
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.is_empty() { "/" } else { path };
        Ok(Target::new(host, port, path)?.with_tls(tls))
    }

    /// The port a URL of this scheme leaves out.
    fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    /// The file name `-O` saves under: the last segment of the path,
    /// percent-decoded, refused when it is empty, a dot-file, `..` or holds
    /// a control character (so a URL cannot aim a download at `.bashrc`).
    pub fn remote_file_name(&self) -> Option<String> {
        let path = self.path.split('?').next().unwrap_or("/");
        let rel = crate::path::resolve_target(path).ok()?;
        if rel.has_trailing_slash() {
            return None;
        }
        rel.file_name().map(str::to_owned)
    }

    /// True when `other` is the same origin: scheme, host and port.
    pub fn same_origin(&self, other: &Target) -> bool {
        self.tls == other.tls
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }

    /// The Host field: the host (bracketed if IPv6) and the port unless it
    /// is the scheme's default.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `http://authority/path` (or `https://`), for messages.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }
}

/// Percent-encodes what may not appear in a request target, keeping `/`,
/// `?`, `&`, `=` and existing `%XX` escapes; adds the leading `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if escaped || b == b'/' || b == b'?' {
            out.push(b as char);
        } else if b.is_ascii() {
            let one = [b];
            encode_into(std::str::from_utf8(&one).unwrap_or("?"), &mut out);
        } else {
            // Each byte of a non-ASCII character's UTF-8 form.
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// One request-response exchange the transport is to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Where to connect and what target to ask for.
    pub target: Target,
    /// The head to send (Host, User-Agent, Accept, Content-Length set).
    pub head: RequestHead,
    /// True when the local file's bytes follow the head.
    pub upload: bool,
}

/// What to do with a response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This is the answer: show it and its body; the exit code follows.
    Deliver {
        /// The exit code the command ends with once the body is complete.
        exit: u8,
        /// Where its body goes relative to a resumed download.
        body: BodyUse,
    },
    /// A redirect to follow, or a resume to restart from zero: drop this
    /// body and make [`Session::hop`] again.
    Follow,
}

/// How a delivered body relates to the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyUse {
    /// A 2xx body: the whole representation, written from the start.
    Fresh,
    /// A 206 continuing a resumed download at its offset: appended.
    Append,
    /// A 416 saying the resumed download already has every byte: keep the
    /// partial file as complete and drop this body.
    Complete,
    /// Not a success: the body is shown (or dropped), never saved as output.
    Error,
}

/// A download being resumed: bytes already held, and the validator
/// (ETag or Last-Modified) of the version they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Bytes already held (the Range starts here).
    pub offset: u64,
    /// The If-Range value.
    pub validator: String,
}

/// True when a response declares a body longer than `max` bytes, so it
/// is refused before a byte of it is stored.
pub fn declared_too_large(head: &ResponseHead, max: Option<u64>) -> bool {
    match (crate::body::content_length(&head.headers), max) {
        (Ok(Some(len)), Some(max)) => len > max,
        _ => false,
    }
}

/// The validator to keep for resuming a download of this response: a
/// strong ETag, else Last-Modified; `None` for a weak ETag alone.
pub fn resume_validator(head: &ResponseHead) -> Option<String> {
    let etag = head.headers.get_str("etag").map(str::trim);
    match etag {
        Some(e) if e.starts_with('"') => Some(e.to_owned()),
        _ => head
            .headers
            .get_str("last-modified")
            .map(|v| v.trim().to_owned()),
    }
}

/// The digests a delivered body is checked against: `repr` over the whole
/// representation (on an appended 206, the held bytes and the new ones),
/// `content` over this message's bytes only. Only a GET's success body is
/// checked (a PUT answer's digest describes what was stored, not its own
/// empty body); `Repr-Digest` is skipped under a content coding pared
/// does not undo.
pub fn body_digests(
    method: &Method,
    head: &ResponseHead,
    body: BodyUse,
) -> (Vec<crate::digest::Digest>, Vec<crate::digest::Digest>) {
    use crate::digest::parse_digests;
    if *method != Method::Get || !matches!(body, BodyUse::Fresh | BodyUse::Append) {
        return (Vec::new(), Vec::new());
    }
    let field = |name| {
        head.headers
            .get_all(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(parse_digests)
            .collect::<Vec<_>>()
    };
    let coded = head
        .headers
        .get_str("content-encoding")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("identity"));
    let repr = if coded {
        Vec::new()
    } else {
        field("repr-digest")
    };
    (repr, field("content-digest"))
}

/// Parses `Content-Range: bytes first-last/len` (len may be `*`).
fn content_range(head: &ResponseHead) -> Option<(u64, u64)> {
    let v = head.headers.get_str("content-range")?.trim();
    let rest = v.strip_prefix("bytes ")?;
    let (span, _len) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The complete length in `Content-Range: bytes */len` (a 416's).
fn unsatisfied_length(head: &ResponseHead) -> Option<u64> {
    let v = head.headers.get_str("content-range")?.trim();
    v.strip_prefix("bytes */")?.trim().parse().ok()
}

/// The client's decisions for one command, across redirects.
#[derive(Debug, Clone)]
pub struct Session {
    method: Method,
    target: Target,
    headers: Vec<(String, String)>,
    upload_len: Option<u64>,
    follow: bool,
    max_redirects: usize,
    redirects: usize,
    visited: HashSet<String>,
    resume: Option<Resume>,
}

/// The User-Agent pared sends.
pub const USER_AGENT: &str = concat!("pared/", env!("CARGO_PKG_VERSION"));

impl Session {
    /// A session for `method` on `target`; `upload_len` is the local file's
    /// length for PUT; `headers` are extra `-H` fields.
    pub fn new(
        method: Method,
        target: Target,
        headers: Vec<(String, String)>,
        upload_len: Option<u64>,
        follow: bool,
        max_redirects: usize,
    ) -> Result<Session, FetchError> {
        for (n, v) in &headers {
            if !crate::parse::is_token(n.as_bytes())
                || v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
            {
                return Err(FetchError::Invalid {
                    what: "header",
                    detail: format!("{n:?}"),
                });
            }
        }
        let mut visited = HashSet::new();
        visited.insert(target.url());
        Ok(Session {
            method,
            target,
            headers,
            upload_len,
            follow,
            max_redirects,
            redirects: 0,
            visited,
            resume: None,
        })
    }

    /// Adds a request field, refusing what could not go on the wire.
    fn add_field(&mut self, name: &str, value: String) -> Result<(), FetchError> {
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(FetchError::Invalid {
                what: "header",
                detail: format!("{name}: {value:?}"),
            });
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value));
        Ok(())
    }

    /// `--if-match ETAG`: write or delete only if the file still has this
    /// ETag (quotes added when missing; `*` means "if it exists").
    pub fn if_match(&mut self, etag: &str) -> Result<(), FetchError> {
        let e = etag.trim();
        let value = if e == "*" || e.starts_with('"') || e.starts_with("W/\"") {
            e.to_owned()
        } else {
            format!("\"{e}\"")
        };
        self.add_field("If-Match", value)
    }

    /// `-u USER:PASSWORD`: Basic credentials (UTF-8). Like any
    /// Authorization field they are dropped on a redirect to another host
    /// or port.
    pub fn basic_auth(&mut self, user_password: &str) -> Result<(), FetchError> {
        if !user_password.contains(':') {
            return Err(FetchError::Invalid {
                what: "credentials",
                detail: "expected USER:PASSWORD".into(),
            });
        }
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(user_password);
        self.add_field("Authorization", format!("Basic {token}"))
    }

    /// A warning when credentials would cross the network in the clear:
    /// an Authorization field over plain http to a host that is not this
    /// machine.
    pub fn cleartext_credentials_warning(&self) -> Option<String> {
        let has = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
        let host = self.target.host.as_str();
        let local = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<core::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
        (has && !local).then(|| {
            format!(
                "warning: credentials sent over plain http to {}: anyone on the path can read them",
                self.target.authority()
            )
        })
    }

    /// `--create-only`: `If-None-Match: *`, so an existing file is never
    /// replaced (PUT) and the server answers 412 instead.
    pub fn create_only(&mut self) -> Result<(), FetchError> {
        self.add_field("If-None-Match", "*".to_owned())
    }

    /// `--digest`: the upload's `Content-Digest`.
    pub fn content_digest(&mut self, digest: &crate::digest::Digest) -> Result<(), FetchError> {
        self.add_field("Content-Digest", digest.field_value())
    }

    /// Asks for the rest of a partial download (`-C`): `Range` from its
    /// length, with `If-Range` so a changed file comes back whole.
    pub fn resume(&mut self, resume: Resume) {
        self.resume = (resume.offset > 0 && self.method == Method::Get).then_some(resume);
    }

    /// The resume in effect, if any (cleared when the server restarts it).
    pub fn resuming(&self) -> Option<&Resume> {
        self.resume.as_ref()
    }

    /// The next exchange to make.
    pub fn hop(&self) -> Hop {
        let mut head = RequestHead::new(
            self.method.clone(),
            self.target.path.clone(),
            Version::Http10,
        );
        let user_has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        head.headers.append("Host", self.target.authority());
        if !user_has("user-agent") {
            head.headers.append("User-Agent", USER_AGENT);
        }
        if !user_has("accept") {
            head.headers.append("Accept", "*/*");
        }
        for (n, v) in &self.headers {
            if !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length") {
                head.headers.append(n, v.trim());
            }
        }
        if let Some(r) = &self.resume {
            head.headers.append("Range", format!("bytes={}-", r.offset));
            head.headers.append("If-Range", &r.validator);
        }
        let upload = crate::methods::Methods::standard().takes_upload(&self.method);
        if upload {
            head.headers
                .append("Content-Length", self.upload_len.unwrap_or(0).to_string());
        }
        Hop {
            target: self.target.clone(),
            head,
            upload,
        }
    }

    /// Decides what a response head means: deliver it, or follow it (and
    /// then the next [`Session::hop`] goes to the new place).
    pub fn on_response(&mut self, head: &ResponseHead) -> Result<Verdict, FetchError> {
        let status = head.status.as_u16();
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
        if !(self.follow && redirect) {
            return Ok(self.delivery(head));
        }
        let location = head
            .headers
            .get_str("location")
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .ok_or(FetchError::BadLocation { status })?;
        let next = resolve_location(&self.target, location, status)?;
        if self.redirects >= self.max_redirects {
            return Err(FetchError::TooManyRedirects {
                max: self.max_redirects,
            });
        }
        if !self.visited.insert(next.url()) {
            return Err(FetchError::RedirectLoop { url: next.url() });
        }
        let other_origin = !self.target.same_origin(&next);
        let keeps_body = self.upload_len.is_some() && status != 303;
        if other_origin && keeps_body {
            return Err(FetchError::BodyToOtherOrigin { url: next.url() });
        }
        self.redirects += 1;
        if status == 303 && self.method != Method::Head {
            self.method = Method::Get;
            self.upload_len = None;
        }
        if other_origin {
            self.headers
                .retain(|(n, _)| !CREDENTIAL_FIELDS.iter().any(|c| n.eq_ignore_ascii_case(c)));
        }
        self.target = next;
        Ok(Verdict::Follow)
    }

    /// Delivers a final response, deciding how its body meets a resumed
    /// download: a 206 from the right offset is appended; a 416 whose
    /// length is the offset means the file is complete; a 200 replaces
    /// the partial; a 206 from elsewhere restarts without Range.
    fn delivery(&mut self, head: &ResponseHead) -> Verdict {
        let exit = status_exit(head.status);
        let status = head.status.as_u16();
        let Some(resume) = &self.resume else {
            let body = if head.status.is_success() {
                BodyUse::Fresh
            } else {
                BodyUse::Error
            };
            return Verdict::Deliver { exit, body };
        };
        match status {
            206 if content_range(head).is_some_and(|(first, _)| first == resume.offset) => {
                Verdict::Deliver {
                    exit,
                    body: BodyUse::Append,
                }
            }
            206 => {
                self.resume = None;
                Verdict::Follow
            }
            416 if unsatisfied_length(head) == Some(resume.offset) => Verdict::Deliver {
                exit: EXIT_OK,
                body: BodyUse::Complete,
            },
            416 => {
                self.resume = None;
                Verdict::Follow
            }
            _ if head.status.is_success() => Verdict::Deliver {
                exit,
                body: BodyUse::Fresh,
            },
            _ => Verdict::Deliver {
                exit,
                body: BodyUse::Error,
            },
        }
    }

    /// Where the session is now.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// Resolves a Location against the current target.
fn resolve_location(current: &Target, location: &str, status: u16) -> Result<Target, FetchError> {
    let bad = || FetchError::BadLocation { status };
    if location.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad());
    }
    let lower = location.to_ascii_lowercase();
    for (prefix, tls) in [("http://", false), ("https://", true)] {
        if let Some(rest) = lower
            .strip_prefix(prefix)
            .map(|_| &location[prefix.len()..])
        {
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            let (host, port) =
                split_authority(authority, if tls { 443 } else { 80 }).ok_or_else(bad)?;
            return Target::new(host, port, path.split('#').next().unwrap_or("/"))
                .map(|t| t.with_tls(tls))
                .map_err(|_| bad());
        }
    }
    if let Some(i) = lower.find("://") {
        if lower[..i]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(FetchError::UnsupportedScheme {
                location: escape_for_terminal(location),
            });
        }
    }
    if let Some(rest) = location.strip_prefix("//") {
        // Network-path reference: same scheme, new authority.
        let scheme = if current.tls { "https" } else { "http" };
        return resolve_location(current, &format!("{scheme}://{rest}"), status);
    }
    let path = location.split('#').next().unwrap_or("");
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        let base = current.path.split('?').next().unwrap_or("/");
        let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{path}")
    };
    Target::new(&current.host, current.port, &joined)
        .map(|t| t.with_tls(current.tls))
        .map_err(|_| bad())
}

fn split_authority(a: &str, default_port: u16) -> Option<(&str, u16)> {
    if let Some(rest) = a.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = match &rest[end + 1..] {
            "" => default_port,
            p => p.strip_prefix(':')?.parse().ok()?,
        };
        return Some((host, port));
    }
    match a.rsplit_once(':') {
        Some((h, p)) => Some((
            h,
            if p.is_empty() {
                default_port
            } else {
                p.parse().ok()?
            },
        )),
        None => Some((a, default_port)),
    }
}

/// True when body bytes must not reach a terminal: any control byte other
/// than tab, CR and LF (NUL, ESC and the rest of C0, DEL), or a C1 control
/// in UTF-8 (U+0080–U+009F, which some terminals obey like ESC sequences).
/// Checked on every chunk, not only the first.
pub fn looks_binary(data: &[u8]) -> bool {
    data.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
            || b == 0x7f
            || (b == 0xc2 && data.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n)))
    })
}

/// A progress line: bytes so far, total if known, rate and ETA.
pub fn progress_line(done: u64, total: Option<u64>, elapsed_secs: f64) -> String {
    fn human(n: f64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = n;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < units.len() {
            v /= 1024.0;
            u += 1;
        }
        format!("{v:.1} {}", units[u])
    }
    let rate = if elapsed_secs > 0.0 {
        done as f64 / elapsed_secs
    } else {
        0.0
    };
    match total {
        Some(t) if t > 0 => {
            let pct = (done as f64 / t as f64 * 100.0).min(100.0);
            let width = 24;
            let filled = ((pct / 100.0) * width as f64) as usize;
            let eta = if rate > 0.0 {
                format!("{:.0}s", (t.saturating_sub(done)) as f64 / rate)
            } else {
                "--".into()
            };
            format!(
                "[{}{}] {pct:5.1}% {} / {} {}/s ETA {eta}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                human(done as f64),
                human(t as f64),
                human(rate)
            )
        }
        _ => format!("{} {}/s", human(done as f64), human(rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(status: u16, location: &str) -> ResponseHead {
        let mut h = ResponseHead::new(StatusCode::new(status).unwrap());
        h.headers.append("Location", location);
        h
    }

    #[test]
    fn targets() {
        let t = Target::new("example.com", 80, "index.html").unwrap();
        assert_eq!(
            (t.path.as_str(), t.authority()),
            ("/index.html", "example.com".into())
        );
        let t = Target::new("::1", 8080, "/a b/ü?x=1&y=%41").unwrap();
        assert_eq!(t.path, "/a%20b/%C3%BC?x=1&y=%41");
        assert_eq!(t.authority(), "[::1]:8080");
        assert!(Target::new("h", 80, "/a\r\nX: y").is_err());
        assert!(Target::new("h\r\nX: y", 80, "/").is_err());
        assert_eq!(encode_path("100%"), "/100%25");
    }

    #[test]
    fn request_heads() {
        let t = Target::new("h", 8080, "f.txt").unwrap();
        let s = Session::new(
            Method::Put,
            t,
            vec![("X-A".into(), "1".into())],
            Some(7),
            false,
            10,
        )
        .unwrap();
        let hop = s.hop();
        assert!(hop.upload);
        assert_eq!(hop.head.headers.get_str("host"), Some("h:8080"));
        assert_eq!(hop.head.headers.get_str("content-length"), Some("7"));
        assert_eq!(hop.head.headers.get_str("user-agent"), Some(USER_AGENT));
        assert_eq!(hop.head.headers.get_str("x-a"), Some("1"));
        let bad = Session::new(
            Method::Get,
            Target::new("h", 80, "/").unwrap(),
            vec![("X".into(), "a\nb".into())],
            None,
            false,
            1,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn redirects() {
        let t = Target::new("h", 8000, "/a/b").unwrap();
        let mut s = Session::new(Method::Get, t, vec![], None, true, 3).unwrap();
        assert_eq!(s.on_response(&redirect(301, "c/")), Ok(Verdict::Follow));
        assert_eq!(s.target().path, "/a/c/");
        assert_eq!(
            s.on_response(&redirect(302, "http://other:81/x")),
            Ok(Verdict::Follow)
        );
        assert_eq!((s.target().host.as_str(), s.target().port), ("other", 81));
        assert_eq!(
            s.on_response(&redirect(307, "ftp://h/")),
            Err(FetchError::UnsupportedScheme {
                location: "ftp://h/".into()
            })
        );
        assert_eq!(
            s.on_response(&redirect(301, "http://h:8000/a/b")),
            Err(FetchError::RedirectLoop {
                url: "http://h:8000/a/b".into()
            })
        );
        assert_eq!(s.on_response(&redirect(301, "/y")), Ok(Verdict::Follow));
        assert_eq!(
            s.on_response(&redirect(301, "/z")),
            Err(FetchError::TooManyRedirects { max: 3 })
        );
        let ok = ResponseHead::new(StatusCode::NOT_FOUND);
        assert_eq!(
            s.on_response(&ok),
            Ok(Verdict::Deliver {
                exit: EXIT_HTTP_4XX,
                body: BodyUse::Error,
            })
        );
        let mut nofollow = Session::new(
            Method::Get,
            Target::new("h", 80, "/").unwrap(),
            vec![],
            None,
            false,
            3,
        )
        .unwrap();
        assert_eq!(
            nofollow.on_response(&redirect(301, "/x")),
            Ok(Verdict::Deliver {
                exit: EXIT_HTTP_OTHER,
                body: BodyUse::Error,
            })
        );
    }

    #[test]
    fn exit_codes_and_helpers() {
        assert_eq!(status_exit(StatusCode::NOT_MODIFIED), EXIT_OK);
        assert_eq!(
            status_exit(StatusCode::INTERNAL_SERVER_ERROR),
            EXIT_HTTP_5XX
        );
        assert!(looks_binary(b"ab\0c"));
        assert!(!looks_binary("héllo\tx\r\n".as_bytes()));
        assert!(looks_binary(b"\x1b]0;title\x07"));
        assert!(looks_binary(b"\x1b[31mred"));
        assert!(looks_binary("a\u{9b}31m".as_bytes()));
        assert!(looks_binary(b"x\x7f"));
        assert_eq!(
            escape_for_terminal("ok\u{85}\u{202e}\x1b[0m\tz"),
            "ok\\u{85}\\u{202e}\\x1b[0m\tz"
        );
        assert!(progress_line(512, Some(1024), 1.0).contains("50.0%"));
    }

    fn response(status: u16, fields: &[(&str, &str)]) -> ResponseHead {
        let mut h = ResponseHead::new(StatusCode::new(status).unwrap());
        for (n, v) in fields {
            h.headers.append(n, v);
        }
        h
    }

    #[test]
    fn resumes() {
        let t = Target::new("h", 80, "/big").unwrap();
        let mut s = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
        s.resume(Resume {
            offset: 100,
            validator: "\"v1\"".into(),
        });
        let hop = s.hop();
        assert_eq!(hop.head.headers.get_str("range"), Some("bytes=100-"));
        assert_eq!(hop.head.headers.get_str("if-range"), Some("\"v1\""));
        let append = response(206, &[("Content-Range", "bytes 100-199/200")]);
        assert_eq!(
            s.clone().on_response(&append),
            Ok(Verdict::Deliver {
                exit: EXIT_OK,
                body: BodyUse::Append
            })
        );
        assert_eq!(
            s.clone().on_response(&response(200, &[])),
            Ok(Verdict::Deliver {
                exit: EXIT_OK,
                body: BodyUse::Fresh
            })
        );
        assert_eq!(
            s.clone()
                .on_response(&response(416, &[("Content-Range", "bytes */100")])),
            Ok(Verdict::Deliver {
                exit: EXIT_OK,
                body: BodyUse::Complete
            })
        );
        // A 206 from elsewhere, or a 416 for another length: start over.
        let mut again = s.clone();
        assert_eq!(
            again.on_response(&response(206, &[("Content-Range", "bytes 0-9/200")])),
            Ok(Verdict::Follow)
        );
        assert_eq!(again.hop().head.headers.get_str("range"), None);
        let mut again = s.clone();
        assert_eq!(
            again.on_response(&response(416, &[("Content-Range", "bytes */50")])),
            Ok(Verdict::Follow)
        );
        assert!(again.resuming().is_none());
        // Validators: a strong ETag, else Last-Modified.
        assert_eq!(
            resume_validator(&response(200, &[("ETag", "\"x\""), ("Last-Modified", "d")])),
            Some("\"x\"".into())
        );
        assert_eq!(
            resume_validator(&response(
                200,
                &[("ETag", "W/\"x\""), ("Last-Modified", "d")]
            )),
            Some("d".into())
        );
        assert_eq!(resume_validator(&response(200, &[])), None);
        assert_eq!(
            status_exit(StatusCode::PRECONDITION_FAILED),
            EXIT_PRECONDITION
        );
    }

    #[test]
    fn urls_and_schemes() {
        let t = Target::from_url("https://www.example.com/a?b=1#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.tls),
            ("www.example.com", 443, "/a?b=1", true)
        );
        assert_eq!(t.authority(), "www.example.com");
        assert_eq!(t.url(), "https://www.example.com/a?b=1");
        let t = Target::from_url("http://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.tls),
            ("::1", 8080, "/", false)
        );
        assert_eq!(t.authority(), "[::1]:8080");
        assert!(Target::from_url("HTTPS://H:444/x").unwrap().tls);
        for bad in [
            "ftp://h/",
            "h:80/x",
            "http://",
            "http://u:p@h/",
            "http://h:99999/",
            "http://h/a b",
        ] {
            assert!(Target::from_url(bad).is_err(), "{bad}");
        }
        assert!(
            Target::new("h", 443, "/").unwrap().tls,
            "port 443 means https"
        );
        // The www.cnn.com case: http -> 301 -> https, followed.
        let t = Target::new("www.example.com", 80, "index.html").unwrap();
        let mut s = Session::new(Method::Get, t, vec![], None, true, 5).unwrap();
        assert_eq!(
            s.on_response(&redirect(301, "https://www.example.com/index.html")),
            Ok(Verdict::Follow)
        );
        assert!(s.target().tls && s.target().port == 443);
        // Relative and network-path references keep the scheme.
        assert_eq!(s.on_response(&redirect(302, "/x")), Ok(Verdict::Follow));
        assert!(s.target().tls);
        assert_eq!(
            s.on_response(&redirect(302, "//other/y")),
            Ok(Verdict::Follow)
        );
        assert!(s.target().tls && s.target().host == "other");
    }

    #[test]
    fn remote_names() {
        let name = |u: &str| Target::from_url(u).unwrap().remote_file_name();
        assert_eq!(name("http://h/a/b%20c.txt?x=1"), Some("b c.txt".into()));
        assert_eq!(name("http://h/dir/"), None);
        assert_eq!(name("http://h/"), None);
        assert_eq!(name("http://h/.bashrc"), None);
        assert_eq!(name("http://h/a/%2e%2e"), None);
    }

    #[test]
    fn basic_credentials() {
        let t = Target::new("example.com", 80, "/f").unwrap();
        let mut s = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
        assert!(s.basic_auth("nocolon").is_err());
        assert_eq!(s.cleartext_credentials_warning(), None);
        s.basic_auth("ann:sécret").unwrap();
        assert_eq!(
            s.hop().head.headers.get_str("authorization"),
            Some("Basic YW5uOnPDqWNyZXQ=")
        );
        assert!(s.cleartext_credentials_warning().is_some());
        let t = Target::new("127.0.0.1", 8080, "/f").unwrap();
        let mut local = Session::new(Method::Get, t, vec![], None, false, 3).unwrap();
        local.basic_auth("a:b").unwrap();
        assert_eq!(local.cleartext_credentials_warning(), None);
    }

    #[test]
    fn conditional_flags() {
        let t = Target::new("h", 80, "/f").unwrap();
        let mut s = Session::new(Method::Put, t, vec![], Some(1), false, 3).unwrap();
        s.if_match("abc").unwrap();
        s.create_only().unwrap();
        let hop = s.hop();
        assert_eq!(hop.head.headers.get_str("if-match"), Some("\"abc\""));
        assert_eq!(hop.head.headers.get_str("if-none-match"), Some("*"));
        s.if_match("\"q\"").unwrap();
        assert_eq!(s.hop().head.headers.get_str("if-match"), Some("\"q\""));
        assert!(s.if_match("a\r\nX: y").is_err());
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let t = Target::new("h", 8000, "/a").unwrap();
        let fields = vec![
            ("Authorization".to_owned(), "Basic eDp5".to_owned()),
            ("Cookie".to_owned(), "s=1".to_owned()),
            ("Proxy-Authorization".to_owned(), "x".to_owned()),
            ("X-Other".to_owned(), "kept".to_owned()),
        ];
        let mut s = Session::new(Method::Get, t.clone(), fields.clone(), None, true, 5).unwrap();
        assert_eq!(s.on_response(&redirect(302, "/b")), Ok(Verdict::Follow));
        assert!(
            s.hop().head.headers.contains("authorization"),
            "same origin keeps them"
        );
        assert_eq!(
            s.on_response(&redirect(302, "http://h:8001/c")),
            Ok(Verdict::Follow)
        );
        let hop = s.hop();
        for c in CREDENTIAL_FIELDS {
            assert!(!hop.head.headers.contains(c), "{c} sent to another port");
        }
        assert_eq!(hop.head.headers.get_str("x-other"), Some("kept"));
        // A PUT body is never re-sent to another origin.
        let mut put = Session::new(Method::Put, t, fields, Some(3), true, 5).unwrap();
        assert!(matches!(
            put.on_response(&redirect(307, "http://evil:80/x")),
            Err(FetchError::BodyToOtherOrigin { .. })
        ));
        assert_eq!(
            put.on_response(&redirect(307, "/same")),
            Ok(Verdict::Follow)
        );
    }
}
