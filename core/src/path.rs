//! Request target → a validated path relative to the served root.
//!
//! Invariants (each one a published CVE in some file server):
//! - The target is percent-decoded exactly once, then handled as segments;
//!   nothing is decoded again.
//! - A [`RelPath`] never holds an empty, `.` or `..` segment, a segment
//!   starting with `.` (dot-files, and pared's own upload temporaries), a
//!   `/` or `\` inside a segment, a control character, or a drive prefix.
//!   Joined with `/` under the root it cannot name anything outside it
//!   (symlinks are the file-system layer's job).
//! - [`RelPath::href`] starts with exactly one `/`, so a redirect built
//!   from it can never become `//host` (an open redirect).

use std::fmt;

use crate::head::StatusCode;

/// Why a target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not an origin-form or http absolute-form target.
    #[error("request target is not a path")]
    NotAPath,
    /// A `%` not followed by two hex digits, or a path that is not UTF-8.
    #[error("malformed percent-encoding in request target")]
    BadEncoding,
    /// A `..` segment, a dot-file, a backslash, NUL or other control
    /// character, an encoded slash, or a drive prefix.
    #[error("request target names a refused path")]
    Refused,
    /// A segment longer than a file name may be (255 bytes), or a path
    /// longer than the system takes (4095 bytes).
    #[error("request target names a path too long for the file system")]
    TooLong,
}

/// The longest file name (one segment, in bytes) file systems take.
pub const MAX_NAME: usize = 255;

/// The longest relative path (in bytes) pared passes to the file system.
pub const MAX_PATH: usize = 4095;

impl PathError {
    /// The status a server answers with.
    pub fn status(self) -> StatusCode {
        match self {
            PathError::NotAPath | PathError::BadEncoding => StatusCode::BAD_REQUEST,
            PathError::Refused => StatusCode::FORBIDDEN,
            PathError::TooLong => StatusCode::URI_TOO_LONG,
        }
    }
}

/// A validated path below the root, as segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RelPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

impl RelPath {
    /// The root itself.
    pub fn root() -> RelPath {
        RelPath {
            segments: Vec::new(),
            trailing_slash: true,
        }
    }

    /// The segments, outermost first; none is empty or starts with `.`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// True when the target ended in `/` (the directory form).
    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The last segment, if this is not the root.
    pub fn file_name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// This path with one more segment, which must pass the same checks.
    pub fn join(&self, name: &str) -> Result<RelPath, PathError> {
        check_segment(name, self.segments.is_empty())?;
        let mut segments = self.segments.clone();
        segments.push(name.to_owned());
        Ok(RelPath {
            segments,
            trailing_slash: false,
        })
    }

    /// True when `name` is one segment a request could address beneath
    /// this path (what [`RelPath::join`] accepts), without building it.
    pub fn can_join(&self, name: &str) -> bool {
        check_segment(name, self.segments.is_empty()).is_ok()
    }

    /// The path percent-encoded for a URL: exactly one leading `/`, and a
    /// trailing `/` when `dir` is true.
    pub fn href(&self, dir: bool) -> String {
        let mut out = String::with_capacity(16);
        for s in &self.segments {
            out.push('/');
            encode_into(s, &mut out);
        }
        if dir || out.is_empty() {
            out.push('/');
        }
        out
    }
}

impl fmt::Display for RelPath {
    /// The path joined with `/`, without a leading slash (`""` for the root).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("/"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and a few
/// safe sub-delimiters, appending to `out`.
pub fn encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            )
        {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn decode(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(PathError::BadEncoding);
            };
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadEncoding)
}

fn check_segment(s: &str, first: bool) -> Result<(), PathError> {
    let drive =
        first && s.len() >= 2 && s.as_bytes()[0].is_ascii_alphabetic() && s.as_bytes()[1] == b':';
    if s.is_empty()
        || s.starts_with('.')
        || drive
        || s.chars().any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(PathError::Refused);
    }
    Ok(())
}

/// A request target split at its first `?`: the path, and the query if
/// there is one. A byte search: targets are short, and `str::split_once`
/// with a `char` costs more to set up than to run on them (this runs
/// several times per request).
pub fn split_query(target: &str) -> (&str, Option<&str>) {
    match target.bytes().position(|b| b == b'?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    }
}

/// Validates a request target (origin-form `/a/b?q`, or absolute-form
/// `http://host/a/b`) into a [`RelPath`]. The query is ignored; a
/// fragment has no place in a request target (RFC 9112 §3.2), so a raw
/// `#` is refused (400) rather than cut off: a DELETE of `/dir/#x` must
/// not remove `/dir/`.
pub fn resolve_target(target: &str) -> Result<RelPath, PathError> {
    if target.bytes().any(|b| b == b'#') {
        return Err(PathError::NotAPath);
    }
    let path = match target.as_bytes().first() {
        Some(b'/') => target,
        _ => {
            let lower = target.get(..7).map(str::to_ascii_lowercase);
            if lower.as_deref() != Some("http://") {
                return Err(PathError::NotAPath);
            }
            let rest = &target[7..];
            match rest.find(['/', '?']) {
                Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
                _ => "/",
            }
        }
    };
    let path = split_query(path).0;
    let mut segments = Vec::new();
    let mut total = 0;
    for raw in path.split('/') {
        let seg = decode(raw)?;
        if seg.is_empty() {
            continue;
        }
        check_segment(&seg, segments.is_empty())?;
        total += seg.len() + 1;
        if seg.len() > MAX_NAME || total > MAX_PATH {
            return Err(PathError::TooLong);
        }
        segments.push(seg);
    }
    Ok(RelPath {
        trailing_slash: segments.is_empty() || path.ends_with('/'),
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_query_at_the_first_question_mark() {
        assert_eq!(split_query("/a/b"), ("/a/b", None));
        assert_eq!(split_query("/a?"), ("/a", Some("")));
        assert_eq!(split_query("/a?x=1?y"), ("/a", Some("x=1?y")));
        assert_eq!(split_query("?q"), ("", Some("q")));
        for t in ["/", "/x?y", "/é?ü", "??", "/a/b/?archive=zip&share=t"] {
            let (path, query) = split_query(t);
            assert_eq!(
                (path, query),
                t.split_once('?').map_or((t, None), |(p, q)| (p, Some(q)))
            );
        }
    }

    #[test]
    fn accepts_and_normalises() {
        let p = resolve_target("/a//b%20c/?x=1").unwrap();
        assert_eq!(p.segments(), ["a", "b c"]);
        assert!(p.has_trailing_slash());
        assert_eq!(p.href(true), "/a/b%20c/");
        let p = resolve_target("http://example.com:8080/x/y").unwrap();
        assert_eq!(p.to_string(), "x/y");
        assert_eq!(resolve_target("HTTP://h").unwrap(), RelPath::root());
        assert_eq!(resolve_target("/").unwrap().href(false), "/");
        assert_eq!(resolve_target("/caf%C3%A9").unwrap().to_string(), "café");
    }

    #[test]
    fn refuses_escapes() {
        for t in [
            "/..",
            "/a/../..",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc",
            "/a%2f..%2f..",
            "/..%5c..%5cwindows",
            "/a\\b",
            "/a%5cb",
            "/.git/config",
            "/a/.hidden",
            "/a%00b",
            "/C:/windows",
            "/c%3A",
            "/%0d%0aSet-Cookie:x",
            "/.pared-upload-1",
        ] {
            assert_eq!(resolve_target(t), Err(PathError::Refused), "{t}");
        }
        for t in ["*", "example.com:443", "https://h/x", ""] {
            assert_eq!(resolve_target(t), Err(PathError::NotAPath), "{t}");
        }
        for t in ["/%", "/%zz", "/%c3", "/%ff"] {
            assert_eq!(resolve_target(t), Err(PathError::BadEncoding), "{t}");
        }
    }

    #[test]
    fn too_long() {
        let name = "a".repeat(255);
        assert!(resolve_target(&format!("/{name}")).is_ok());
        assert_eq!(
            resolve_target(&format!("/{name}b")),
            Err(PathError::TooLong)
        );
        let deep = format!("/{}", vec!["d".repeat(200); 21].join("/"));
        assert_eq!(resolve_target(&deep), Err(PathError::TooLong));
        assert_eq!(PathError::TooLong.status().as_u16(), 414);
    }

    #[test]
    fn double_encoding_is_decoded_once() {
        // %252e%252e decodes to the literal name "%2e%2e", never to "..".
        let p = resolve_target("/%252e%252e/x").unwrap();
        assert_eq!(p.segments(), ["%2e%2e", "x"]);
    }

    #[test]
    fn href_never_starts_with_two_slashes() {
        let p = resolve_target("//evil.example/%2f").err();
        assert_eq!(p, Some(PathError::Refused));
        let p = resolve_target("//evil.example").unwrap();
        assert_eq!(p.href(true), "/evil.example/");
    }
}
