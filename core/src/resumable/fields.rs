//! The header fields of resumable uploads: Structured Field integers and
//! booleans (RFC 9651) of the IETF draft, and tus's metadata and
//! checksums.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::head::{Headers, RequestHead};

/// A non-negative Structured Field Integer (at most 15 digits); `None`
/// for a missing or malformed field, which the draft says to ignore.
pub fn integer(h: &Headers, name: &str) -> Option<u64> {
    let v = h.get_str(name)?.trim();
    if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// A Structured Field Boolean: `?1` or `?0`.
pub fn boolean(h: &Headers, name: &str) -> Option<bool> {
    match h.get_str(name)?.trim() {
        "?1" => Some(true),
        "?0" => Some(false),
        _ => None,
    }
}

/// The request's Content-Length, when it has one.
pub fn content_length(req: &RequestHead) -> Option<u64> {
    crate::body::content_length(&req.headers).ok().flatten()
}

/// The file name of `Content-Disposition` (`filename*=UTF-8''…` first,
/// then `filename="…"`), as one path segment: `None` when missing or
/// when it names a path.
pub fn disposition_filename(h: &Headers) -> Option<String> {
    let v = h.get_str("content-disposition")?;
    let mut plain = None;
    let mut extended = None;
    for part in v.split(';').map(str::trim) {
        if let Some(x) = part.strip_prefix("filename*=") {
            let rest = x
                .strip_prefix("UTF-8''")
                .or_else(|| x.strip_prefix("utf-8''"))?;
            extended = percent_decode(rest);
        } else if let Some(x) = part.strip_prefix("filename=") {
            plain = Some(x.trim_matches('"').to_owned());
        }
    }
    extended.or(plain).filter(|n| one_segment(n))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// True for a name that is one path segment a client may create.
fn one_segment(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && !n.contains('/')
        && !n.contains('\\')
        && !n.chars().any(char::is_control)
}

/// The value of `key` in tus `Upload-Metadata` (`key base64,key2 …`),
/// decoded; for `filename`, only a single path segment.
pub fn tus_metadata(meta: &str, key: &str) -> Option<String> {
    for pair in meta.split(',') {
        let mut it = pair.trim().splitn(2, ' ');
        if it.next() == Some(key) {
            let raw = STANDARD.decode(it.next().unwrap_or("").trim()).ok()?;
            let text = String::from_utf8(raw).ok()?;
            return one_segment(&text).then_some(text);
        }
    }
    None
}

/// A tus `Upload-Checksum`: the algorithm and the expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `sha1` or `sha256`.
    pub sha256: bool,
    /// The digest's bytes.
    pub digest: Vec<u8>,
}

/// Parses `sha1 BASE64` or `sha256 BASE64`.
pub fn checksum(v: &str) -> Option<Checksum> {
    let (alg, b64) = v.trim().split_once(' ')?;
    let digest = STANDARD.decode(b64.trim()).ok()?;
    match alg.to_ascii_lowercase().as_str() {
        "sha1" if digest.len() == 20 => Some(Checksum {
            sha256: false,
            digest,
        }),
        "sha256" if digest.len() == 32 => Some(Checksum {
            sha256: true,
            digest,
        }),
        _ => None,
    }
}
