//! Integrity fields (RFC 9530): `Content-Digest`, `Repr-Digest` and
//! `Want-Repr-Digest`, with sha-256 and sha-512, and a streaming hasher.
//!
//! Hashing is pure computation over bytes the caller hands in; nothing
//! here reads a file. Unknown algorithms and members that do not parse are
//! ignored, as RFC 9530 §2 asks; a value that is not a structured-field
//! dictionary at all is ignored whole.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256, Sha512};

use crate::head::Headers;

/// A digest algorithm pared computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-512`.
    Sha512,
}

impl Algorithm {
    /// The key in a digest dictionary.
    pub fn key(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha-256",
            Algorithm::Sha512 => "sha-512",
        }
    }

    fn from_key(k: &str) -> Option<Algorithm> {
        match k {
            "sha-256" => Some(Algorithm::Sha256),
            "sha-512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// One expected or computed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm.
    pub alg: Algorithm,
    /// The raw hash bytes.
    pub bytes: Vec<u8>,
}

impl Digest {
    /// The dictionary member, e.g. `sha-256=:base64…=:`.
    pub fn field_value(&self) -> String {
        format!("{}=:{}:", self.alg.key(), STANDARD.encode(&self.bytes))
    }
}

/// Splits a structured-field dictionary into `(key, value)` members;
/// `None` when it is not one (RFC 9651 §4.2.2, enough for digests).
fn members(value: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    for m in value.split(',') {
        let m = m.trim_matches([' ', '\t']);
        if m.is_empty() {
            return None;
        }
        let (key, val) = m.split_once('=').unwrap_or((m, "?1"));
        let ok_key = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
        if !ok_key {
            return None;
        }
        // Parameters after `;` are allowed and ignored.
        let val = val.split(';').next().unwrap_or("");
        out.push((key, val));
    }
    Some(out)
}

/// The digests of a `Content-Digest` or `Repr-Digest` value that pared can
/// check; unknown algorithms and malformed members are left out.
pub fn parse_digests(value: &str) -> Vec<Digest> {
    let Some(members) = members(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, val) in members {
        let Some(alg) = Algorithm::from_key(key) else {
            continue;
        };
        let Some(b64) = val.strip_prefix(':').and_then(|v| v.strip_suffix(':')) else {
            continue;
        };
        match STANDARD.decode(b64) {
            Ok(bytes) if bytes.len() == alg.output_len() => out.push(Digest { alg, bytes }),
            _ => {}
        }
    }
    out
}

/// The digests a request or response declares for its content or
/// representation (both fields; for a body without content coding the two
/// are the same bytes).
pub fn declared(headers: &Headers) -> Vec<Digest> {
    let mut out = Vec::new();
    for name in ["content-digest", "repr-digest"] {
        for v in headers.get_all(name) {
            if let Ok(v) = std::str::from_utf8(v) {
                out.extend(parse_digests(v));
            }
        }
    }
    out
}

/// The algorithm a `Want-Repr-Digest` value prefers (highest positive
/// weight; sha-256 on a tie), or `None` when it names none pared has.
pub fn wanted(headers: &Headers) -> Option<Algorithm> {
    let mut best: Option<(u64, Algorithm)> = None;
    for v in headers.get_all("want-repr-digest") {
        let Some(members) = std::str::from_utf8(v).ok().and_then(members) else {
            continue;
        };
        for (key, val) in members {
            let (Some(alg), Ok(w)) = (Algorithm::from_key(key), val.trim().parse::<u64>()) else {
                continue;
            };
            if w == 0 || w > 10 {
                continue;
            }
            let better = match best {
                None => true,
                Some((bw, balg)) => w > bw || (w == bw && alg < balg),
            };
            if better {
                best = Some((w, alg));
            }
        }
    }
    best.map(|(_, a)| a)
}

/// A streaming hash over a body: always sha-256 (pared's own record),
/// sha-512 only when asked for.
#[derive(Clone)]
pub struct Hasher {
    sha256: Sha256,
    sha512: Option<Sha512>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("sha512", &self.sha512.is_some())
            .finish()
    }
}

impl Hasher {
    /// A hasher computing sha-256, and sha-512 when `sha512`.
    pub fn new(sha512: bool) -> Hasher {
        Hasher {
            sha256: Sha256::new(),
            sha512: sha512.then(Sha512::new),
        }
    }

    /// A hasher able to check every digest in `expected`.
    pub fn for_checking(expected: &[Digest]) -> Hasher {
        Hasher::new(expected.iter().any(|d| d.alg == Algorithm::Sha512))
    }

    /// Hashes more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = &mut self.sha512 {
            h.update(data);
        }
    }

    /// The finished digests: sha-256 first, then sha-512 if computed.
    pub fn finish(self) -> Vec<Digest> {
        let mut out = vec![Digest {
            alg: Algorithm::Sha256,
            bytes: self.sha256.finalize().to_vec(),
        }];
        if let Some(h) = self.sha512 {
            out.push(Digest {
                alg: Algorithm::Sha512,
                bytes: h.finalize().to_vec(),
            });
        }
        out
    }
}

/// True when every expected digest pared can check equals the computed
/// one of its algorithm (in constant time for equal lengths).
pub fn matches(expected: &[Digest], computed: &[Digest]) -> bool {
    expected.iter().all(|e| {
        computed.iter().any(|c| {
            c.alg == e.alg
                && c.bytes.len() == e.bytes.len()
                && c.bytes
                    .iter()
                    .zip(&e.bytes)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    })
}

/// The SHA-256 of `data` as colon-separated upper-case hex, the way
/// certificate fingerprints are shown (`openssl x509 -fingerprint -sha256`).
pub fn sha256_hex_colons(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The value kept beside a file (for example in an extended attribute):
/// the ETag of the version it was computed for, a space, the digest.
pub fn record(etag: &str, digest: &Digest) -> String {
    format!("{etag} {}", digest.field_value())
}

/// The digest in a kept `record` if it was made for `etag`; a record for
/// another version is stale and never used.
pub fn from_record(record: &str, etag: &str) -> Option<Digest> {
    let (tag, value) = record.split_once(' ')?;
    if tag != etag {
        return None;
    }
    parse_digests(value).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC256: &str = "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:";

    #[test]
    fn parse_and_check() {
        let d = parse_digests(ABC256);
        assert_eq!(d.len(), 1);
        let mut h = Hasher::for_checking(&d);
        h.update(b"a");
        h.update(b"bc");
        let got = h.finish();
        assert_eq!(got[0].field_value(), ABC256);
        assert!(matches(&d, &got));
        let mut other = Hasher::new(false);
        other.update(b"abd");
        assert!(!matches(&d, &other.finish()));
        // Unknown algorithms are ignored; bad members are skipped.
        assert!(parse_digests("md5=:AAAA:, unixsum=:x:").is_empty());
        assert_eq!(parse_digests(&format!("foo=:AA==:, {ABC256}")).len(), 1);
        assert!(parse_digests("sha-256=:AAAA:").is_empty(), "wrong length");
        assert!(parse_digests("Sha-256=:x:").is_empty());
        assert!(parse_digests("").is_empty());
        // sha-512 of "abc".
        let mut h = Hasher::new(true);
        h.update(b"abc");
        let all = h.finish();
        assert_eq!(all.len(), 2);
        let v512 = all[1].field_value();
        assert!(v512.starts_with("sha-512=:3a81oZNherrMQXNJriBBMRLm"));
        assert_eq!(parse_digests(&v512), vec![all[1].clone()]);
    }

    #[test]
    fn wants() {
        let mut h = Headers::new();
        assert_eq!(wanted(&h), None);
        h.append("Want-Repr-Digest", "sha-512=3, sha-256=10");
        assert_eq!(wanted(&h), Some(Algorithm::Sha256));
        let mut h = Headers::new();
        h.append("Want-Repr-Digest", "sha-256=0, sha-512=1, md5=9");
        assert_eq!(wanted(&h), Some(Algorithm::Sha512));
        let mut h = Headers::new();
        h.append("Want-Repr-Digest", "sha-256=0");
        assert_eq!(wanted(&h), None);
    }

    #[test]
    fn records() {
        let d = &parse_digests(ABC256)[0];
        let r = record("\"1-2\"", d);
        assert_eq!(from_record(&r, "\"1-2\"").as_ref(), Some(d));
        assert_eq!(from_record(&r, "\"1-3\""), None, "stale");
        assert_eq!(from_record("junk", "\"1-2\""), None);
    }
}
