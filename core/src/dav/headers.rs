//! WebDAV request fields: Depth, Overwrite, Destination and Timeout
//! (RFC 4918 §10). Each malformed value is a 400, never a guess.

use crate::head::{RequestHead, StatusCode};
use crate::path::{resolve_target, RelPath};

/// How deep a request reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The resource alone.
    Zero,
    /// The resource and its members.
    One,
    /// The resource and everything below it.
    Infinity,
}

/// The Depth field, or `default` when absent; 400 when malformed.
pub fn depth(req: &RequestHead, default: Depth) -> Result<Depth, StatusCode> {
    match req.headers.get_str("depth").map(str::trim) {
        None => Ok(default),
        Some("0") => Ok(Depth::Zero),
        Some("1") => Ok(Depth::One),
        Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
        Some(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// The Overwrite field: true unless `F`; 400 when malformed.
pub fn overwrite(req: &RequestHead) -> Result<bool, StatusCode> {
    match req.headers.get_str("overwrite").map(str::trim) {
        None | Some("T") | Some("t") => Ok(true),
        Some("F") | Some("f") => Ok(false),
        Some(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// The Destination of a COPY or MOVE as a path beneath the root: an
/// absolute URI on this server (same authority as the request's Host) or
/// an absolute path. 400 when missing or malformed, 502 for another
/// server, 403 for a path the root refuses (decoded once, as any target).
pub fn destination(req: &RequestHead) -> Result<RelPath, StatusCode> {
    let value = req
        .headers
        .get_str("destination")
        .map(str::trim)
        .ok_or(StatusCode::BAD_REQUEST)?;
    let path = if value.starts_with('/') {
        value
    } else {
        let rest = value
            .strip_prefix("http://")
            .or_else(|| value.strip_prefix("https://"))
            .ok_or(StatusCode::BAD_REQUEST)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let host = req.headers.get_str("host").map(str::trim);
        if authority.is_empty() || authority.contains('@') {
            return Err(StatusCode::BAD_REQUEST);
        }
        if !host.is_some_and(|h| same_authority(h, authority)) {
            return Err(StatusCode::BAD_GATEWAY);
        }
        path
    };
    // A fragment or query is not part of the resource named.
    let path = path.split(['#', '?']).next().unwrap_or(path);
    resolve_target(path).map_err(|e| e.status())
}

/// Host names compare without case; a default port may be left out.
fn same_authority(host: &str, authority: &str) -> bool {
    fn strip(a: &str) -> &str {
        a.strip_suffix(":80").unwrap_or(a)
    }
    strip(host).eq_ignore_ascii_case(strip(authority))
}

/// The lock timeout asked for, in seconds: the first `Second-N` or
/// `Infinite` in the Timeout field, capped at `max`; `default` when absent
/// or unreadable (RFC 4918 §10.7 lets the server choose).
pub fn timeout(req: &RequestHead, default: u64, max: u64) -> u64 {
    let Some(v) = req.headers.get_str("timeout") else {
        return default;
    };
    for part in v.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("infinite") {
            return max;
        }
        if let Some(n) = part
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| part[7..].parse::<u64>().ok())
        {
            return n.clamp(1, max);
        }
    }
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{Method, Version};

    fn req(fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(Method::Other("COPY".into()), "/a", Version::Http11);
        for (n, v) in fields {
            r.headers.append(n, v);
        }
        r
    }

    #[test]
    fn destinations() {
        let d = |v: &str| destination(&req(&[("Host", "h:8080"), ("Destination", v)]));
        assert_eq!(
            d("http://h:8080/x/y").unwrap(),
            resolve_target("/x/y").unwrap()
        );
        assert_eq!(d("/x%20y").unwrap(), resolve_target("/x%20y").unwrap());
        assert_eq!(
            d("http://H:8080/z#frag").unwrap(),
            resolve_target("/z").unwrap()
        );
        assert_eq!(d("http://other:8080/x"), Err(StatusCode::BAD_GATEWAY));
        assert_eq!(d("http://h:8080/../etc/passwd"), Err(StatusCode::FORBIDDEN));
        assert_eq!(d("http://h:8080/%2e%2e/etc"), Err(StatusCode::FORBIDDEN));
        assert_eq!(d("ftp://h/x"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(
            destination(&req(&[("Host", "h")])),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn depth_overwrite_timeout() {
        assert_eq!(depth(&req(&[]), Depth::Infinity), Ok(Depth::Infinity));
        assert_eq!(depth(&req(&[("Depth", "1")]), Depth::Zero), Ok(Depth::One));
        assert_eq!(
            depth(&req(&[("Depth", "2")]), Depth::Zero),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(overwrite(&req(&[("Overwrite", "F")])), Ok(false));
        assert_eq!(
            overwrite(&req(&[("Overwrite", "x")])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(timeout(&req(&[("Timeout", "Second-60")]), 10, 100), 60);
        assert_eq!(
            timeout(&req(&[("Timeout", "Infinite, Second-5")]), 10, 100),
            100
        );
        assert_eq!(timeout(&req(&[("Timeout", "Second-999")]), 10, 100), 100);
        assert_eq!(timeout(&req(&[]), 10, 100), 10);
    }
}
