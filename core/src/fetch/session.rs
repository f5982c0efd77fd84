//! One command's exchanges: the request of each hop, and what each
//! response head means (deliver, follow, resume, fail).

use std::collections::HashSet;

use super::exit::{status_exit, FetchError, CREDENTIAL_FIELDS, EXIT_OK};
use super::target::{resolve_location, Target};
use crate::head::{Method, RequestHead, ResponseHead, Version};

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

/// Parses `Content-Range: bytes first-last/len` (len may be `*`, `None`).
fn content_range(head: &ResponseHead) -> Option<(u64, u64, Option<u64>)> {
    let v = head.headers.get_str("content-range")?.trim();
    let rest = v.strip_prefix("bytes ")?;
    let (span, len) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((
        a.trim().parse().ok()?,
        b.trim().parse().ok()?,
        len.trim().parse().ok(),
    ))
}

/// True when `head` describes the version a resume's validator names:
/// its ETag equals the kept ETag (strongly), or its Last-Modified equals
/// the kept date. A response that says neither cannot be trusted to
/// continue the held bytes.
fn same_version(head: &ResponseHead, validator: &str) -> bool {
    if validator.starts_with('"') {
        head.headers.get_str("etag").map(str::trim) == Some(validator)
    } else {
        head.headers.get_str("last-modified").map(str::trim) == Some(validator)
    }
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
    /// The destination of a COPY or MOVE (`--to`): a path on the same
    /// server, sent as an absolute URI in `Destination`.
    pub fn destination(&mut self, path: &str) -> Result<(), FetchError> {
        let scheme = if self.target.tls { "https" } else { "http" };
        let url = format!(
            "{scheme}://{}{}",
            self.target.authority(),
            super::target::encode_path(path)
        );
        self.add_field("Destination", url)
    }

    /// Sends an If-Match precondition.
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
        // A listing is of the folder and its members.
        if self.method.as_str() == "PROPFIND" && !user_has("depth") {
            head.headers.append("Depth", "1");
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
            // The rest of the same version: from the held length to the
            // end of a stated complete length, with the kept validator.
            206 if content_range(head).is_some_and(|(first, last, total)| {
                first == resume.offset
                    && total.is_some_and(|t| t > first && last.checked_add(1) == Some(t))
                    && same_version(head, &resume.validator)
            }) =>
            {
                Verdict::Deliver {
                    exit,
                    body: BodyUse::Append,
                }
            }
            206 => {
                self.resume = None;
                Verdict::Follow
            }
            416 if unsatisfied_length(head) == Some(resume.offset)
                && same_version(head, &resume.validator) =>
            {
                Verdict::Deliver {
                    exit: EXIT_OK,
                    body: BodyUse::Complete,
                }
            }
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
