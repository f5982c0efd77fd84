//! Where a request goes: host, port, scheme and path from the command
//! line or a URL, and Location headers resolved against it.

use super::exit::FetchError;
use super::terminal::escape_for_terminal;
use crate::path::encode_into;

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

/// Resolves a Location against the current target.
pub(crate) fn resolve_location(
    current: &Target,
    location: &str,
    status: u16,
) -> Result<Target, FetchError> {
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
