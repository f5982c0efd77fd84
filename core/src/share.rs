//! Share links: a URL that grants read, or drop-box upload, on one path
//! and everything beneath it, to whoever holds it, until it expires.
//!
//! The link carries `?share=TOKEN`, where TOKEN is `KIND EXPIRY . MAC`:
//! - KIND `r` (read) or `u` (upload: create new names only);
//! - EXPIRY the Unix time it ends, `0` for never;
//! - MAC HMAC-SHA-256 (RFC 2104) under the server's key over the kind,
//!   the expiry and the shared path, base64url without padding.
//!
//! The path is not in the token: the server tries the request's path and
//! each of its ancestors, so a link to `/photos/` also opens
//! `/photos/2024/a.jpg` and nothing outside `/photos/`. A browser that
//! opened a link gets the token back as a cookie scoped to the path, so
//! the page's own links and uploads carry it. Changing the key (rotating
//! it) revokes every link made with the old one.
//!
//! Pure: the key comes from the host; `now` from the caller.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::head::RequestHead;
use crate::path::RelPath;
use crate::rights::Rights;

/// The query parameter and cookie that carry a token.
pub const PARAM: &str = "share";
/// The cookie a browser keeps the token in.
pub const COOKIE: &str = "pared_share";

/// A server's share key: 32 random bytes, kept 0600 in the state
/// directory as 64 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareKey([u8; 32]);

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(..)")
    }
}

impl ShareKey {
    /// The key of 32 bytes.
    pub fn new(bytes: [u8; 32]) -> ShareKey {
        ShareKey(bytes)
    }

    /// Reads a key file's text: 64 hex digits, blank space around them
    /// ignored.
    pub fn from_hex(text: &str) -> Option<ShareKey> {
        let t = text.trim();
        if t.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ShareKey(out))
    }

    /// The key file's text.
    pub fn to_hex(&self) -> String {
        let mut s: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.push('\n');
        s
    }
}

/// What a link grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// List and download.
    Read,
    /// Upload new names only (a drop box).
    Upload,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Read => 'r',
            Kind::Upload => 'u',
        }
    }

    /// The rights a link of this kind grants.
    pub fn rights(self) -> Rights {
        match self {
            Kind::Read => Rights::READ,
            Kind::Upload => Rights::CREATE,
        }
    }
}

/// Why a token grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// Not a token at all.
    #[error("malformed share link")]
    Malformed,
    /// Made for another path, altered, or made with a key since rotated.
    #[error("share link not valid here (altered, for another path, or revoked)")]
    Invalid,
    /// Past its expiry.
    #[error("share link expired")]
    Expired,
}

/// A valid token's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What it allows.
    pub kind: Kind,
    /// The shared path, as a URL path ending in `/` (for the cookie).
    pub href: String,
    /// When it ends (Unix seconds), or `None` for never.
    pub expires: Option<u64>,
}

/// What the share links a request carries come to at its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    /// The rights the valid links grant.
    pub rights: Rights,
    /// Why a link grants nothing, when one was given and none is valid.
    pub problem: Option<ShareError>,
    /// The valid link given in the query, with its grant: handed back as
    /// a cookie so the page's own links and uploads carry it.
    pub from_query: Option<(String, Grant)>,
}

impl Presented {
    /// No link at all.
    pub const NONE: Presented = Presented {
        rights: Rights::NONE,
        problem: None,
        from_query: None,
    };

    /// The links `req` carries, checked under `key` at `now` (Unix
    /// seconds). Without a key no link is valid.
    pub fn of(key: Option<&ShareKey>, req: &RequestHead, now: u64) -> Presented {
        let tokens = tokens(req);
        if tokens.is_empty() {
            return Presented::NONE;
        }
        let Ok(path) = crate::path::resolve_target(&req.target) else {
            return Presented::NONE;
        };
        let mut out = Presented::NONE;
        let mut problem = None;
        for t in tokens {
            let checked = match key {
                Some(k) => verify(k, t, &path, now),
                None => Err(ShareError::Invalid),
            };
            match checked {
                Ok(grant) => {
                    out.rights = out.rights.union(grant.kind.rights());
                    if out.from_query.is_none() && in_query(req, t) {
                        out.from_query = Some((t.to_owned(), grant));
                    }
                }
                Err(e) => problem = problem.or(Some(e)),
            }
        }
        if out.rights.is_empty() {
            out.problem = problem;
        }
        out
    }
}

/// HMAC-SHA-256 of `msg` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner = Sha256::new()
        .chain_update(block.map(|b| b ^ 0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(block.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The shared path's canonical text: its decoded segments, each followed
/// by `/`, after a leading `/`.
fn canonical(segments: &[String]) -> String {
    let mut p = String::from("/");
    for s in segments {
        p.push_str(s);
        p.push('/');
    }
    p
}

fn mac(key: &ShareKey, kind: Kind, expiry: u64, segments: &[String]) -> [u8; 32] {
    let msg = format!(
        "pared share v1\n{}\n{expiry}\n{}",
        kind.letter(),
        canonical(segments)
    );
    hmac_sha256(&key.0, msg.as_bytes())
}

/// The token for `path` (`expires`: Unix seconds, `None` for never).
pub fn make(key: &ShareKey, path: &RelPath, kind: Kind, expires: Option<u64>) -> String {
    let expiry = expires.unwrap_or(0);
    let m = mac(key, kind, expiry, path.segments());
    format!("{}{expiry}.{}", kind.letter(), URL_SAFE_NO_PAD.encode(m))
}

/// Checks `token` for a request of `path` at `now` (Unix seconds): the
/// grant of the first of the path and its ancestors it was made for.
pub fn verify(key: &ShareKey, token: &str, path: &RelPath, now: u64) -> Result<Grant, ShareError> {
    let (head, sig) = token.split_once('.').ok_or(ShareError::Malformed)?;
    let kind = match head.as_bytes().first() {
        Some(b'r') => Kind::Read,
        Some(b'u') => Kind::Upload,
        _ => return Err(ShareError::Malformed),
    };
    let digits = &head[1..];
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ShareError::Malformed);
    }
    let expiry: u64 = digits.parse().map_err(|_| ShareError::Malformed)?;
    let given = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| ShareError::Malformed)?;
    if given.len() != 32 {
        return Err(ShareError::Malformed);
    }
    let segs = path.segments();
    for k in (0..=segs.len()).rev() {
        let want = mac(key, kind, expiry, &segs[..k]);
        // Constant time over the MAC: no early exit on the first byte.
        let diff = want
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            if expiry != 0 && now >= expiry {
                return Err(ShareError::Expired);
            }
            return Ok(Grant {
                kind,
                href: href_of(&segs[..k]),
                expires: (expiry != 0).then_some(expiry),
            });
        }
    }
    Err(ShareError::Invalid)
}

/// The percent-encoded URL path of `segments`, ending in `/`.
fn href_of(segments: &[String]) -> String {
    let mut out = String::from("/");
    for s in segments {
        crate::path::encode_into(s, &mut out);
        out.push('/');
    }
    out
}

/// The tokens a request carries: `?share=` first, then every
/// `pared_share` cookie (a browser sends one per shared path it holds).
pub fn tokens(req: &RequestHead) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(query) = crate::path::split_query(&req.target).1 {
        for pair in query.split('&') {
            if let Some(v) = pair.strip_prefix("share=") {
                out.push(v);
            }
        }
    }
    for value in req.headers.get_all("cookie") {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for c in value.split(';') {
            if let Some(v) = c.trim().strip_prefix("pared_share=") {
                out.push(v);
            }
        }
    }
    out
}

/// The token in the target's query, if any: kept on the URLs pared hands
/// out for the request (a resumable upload's `Location`), so a client
/// that follows them without cookies still holds the link.
pub fn query_token(target: &str) -> Option<&str> {
    let q = crate::path::split_query(target).1?;
    q.split('&').find_map(|p| p.strip_prefix("share="))
}

/// True when the token came in the query (so the answer hands it back as
/// a cookie).
pub fn in_query(req: &RequestHead, token: &str) -> bool {
    crate::path::split_query(&req.target).1.is_some_and(|q| {
        q.split('&')
            .any(|p| p.strip_prefix("share=") == Some(token))
    })
}

/// The `Set-Cookie` value that keeps `token` for the shared path, until
/// the link expires (at most 400 days, as browsers cap it).
pub fn cookie(token: &str, grant: &Grant, now: u64) -> String {
    const CAP: u64 = 400 * 86_400;
    let age = grant
        .expires
        .map_or(CAP, |e| e.saturating_sub(now).min(CAP));
    format!(
        "{COOKIE}={token}; Path={}; Max-Age={age}; HttpOnly; SameSite=Lax",
        grant.href
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        assert_eq!(
            hmac_sha256(&[0x0b; 20], b"Hi There").to_vec(),
            hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        );
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?").to_vec(),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )
            .to_vec(),
            hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
    }

    fn p(s: &str) -> RelPath {
        resolve_target(s).unwrap()
    }

    #[test]
    fn a_link_opens_its_path_and_beneath_only() {
        let key = ShareKey::new([7; 32]);
        let t = make(&key, &p("/photos/2024/"), Kind::Read, Some(1000));
        let g = verify(&key, &t, &p("/photos/2024/a%20b.jpg"), 10).unwrap();
        assert_eq!(g.kind, Kind::Read);
        assert_eq!(g.href, "/photos/2024/");
        assert!(verify(&key, &t, &p("/photos/2024"), 10).is_ok());
        assert_eq!(
            verify(&key, &t, &p("/photos/"), 10),
            Err(ShareError::Invalid)
        );
        assert_eq!(
            verify(&key, &t, &p("/photos/2025/a.jpg"), 10),
            Err(ShareError::Invalid)
        );
        assert_eq!(
            verify(&key, &t, &p("/photos/2024/a.jpg"), 1000),
            Err(ShareError::Expired)
        );
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let key = ShareKey::new([7; 32]);
        let t = make(&key, &p("/drop/"), Kind::Upload, None);
        assert!(t.starts_with("u0."));
        assert!(verify(&key, &t, &p("/drop/x"), u64::MAX - 1).is_ok());
        // Upgrade to read, extend, or use another key: refused.
        let as_read = format!("r{}", &t[1..]);
        assert_eq!(
            verify(&key, &as_read, &p("/drop/x"), 1),
            Err(ShareError::Invalid)
        );
        let later = t.replacen("u0.", "u9.", 1);
        assert_eq!(
            verify(&key, &later, &p("/drop/x"), 1),
            Err(ShareError::Invalid)
        );
        let other = ShareKey::new([8; 32]);
        assert_eq!(
            verify(&other, &t, &p("/drop/x"), 1),
            Err(ShareError::Invalid)
        );
        for bad in ["", "r", "r1", "x1.AAAA", "r1.!!", "r.AAAA", "r1.AAAA"] {
            assert_eq!(
                verify(&key, bad, &p("/drop/x"), 1),
                Err(ShareError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn key_files_round_trip() {
        let key = ShareKey::new([0xab; 32]);
        assert_eq!(ShareKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(ShareKey::from_hex("abc"), None);
        assert_eq!(ShareKey::from_hex(&"zz".repeat(32)), None);
    }

    #[test]
    fn cookies_are_scoped_and_bounded() {
        let g = Grant {
            kind: Kind::Read,
            href: "/a%20b/".into(),
            expires: Some(100),
        };
        assert_eq!(
            cookie("r100.x", &g, 40),
            "pared_share=r100.x; Path=/a%20b/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
    }
}
