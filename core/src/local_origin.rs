//! The guard against DNS rebinding for writes that are allowed because
//! they come from this machine.
//!
//! Without users, pared lets a client on this machine write. A web page
//! from anywhere can make the visitor's browser that client: its site's
//! name, re-pointed at 127.0.0.1 after the page loaded ("DNS
//! rebinding"), makes the browser send the page's requests to pared as
//! same-origin ones, and the peer address is loopback. What such a
//! request cannot hide is the name it used: its `Host` is the attacker's
//! name. So a write that rests on coming from this machine must name the
//! server as only this machine can: an IP literal, `localhost` (or a name
//! under `.localhost`, which RFC 6761 keeps on loopback), or a name the
//! operator listed (the machine's own host name by default). When the
//! request carries an `Origin` (browsers send one with every PUT, DELETE
//! and WebDAV method), it must be the same host and port as `Host`: a
//! page from elsewhere, or a sandboxed file (`Origin: null`), is refused.
//!
//! Invariants: pure string checks; a missing `Host` (HTTP/1.0) is judged
//! by the peer alone, as no browser sends a request without one.

use crate::head::RequestHead;

/// Why a local write was refused, for the one-line answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// The `Host` names the server by a name only DNS gives.
    Host(String),
    /// The `Origin` is another site (or `null`).
    Origin(String),
}

/// Checks a write that is allowed because it comes from this machine;
/// `names` are the extra host names that count as this machine's.
pub fn check(req: &RequestHead, names: &[String]) -> Result<(), Foreign> {
    let Some(host) = req.headers.get_str("host").map(str::trim) else {
        return Ok(());
    };
    let Some((name, port)) = split_authority(host) else {
        return Err(Foreign::Host(host.to_owned()));
    };
    if !is_local_name(name, names) {
        return Err(Foreign::Host(host.to_owned()));
    }
    let Some(origin) = req.headers.get_str("origin").map(str::trim) else {
        return Ok(());
    };
    let same = origin_authority(origin).is_some_and(|(o_name, o_port, default)| {
        o_name.eq_ignore_ascii_case(name) && o_port.unwrap_or(default) == port.unwrap_or(default)
    });
    if same {
        Ok(())
    } else {
        Err(Foreign::Origin(origin.to_owned()))
    }
}

/// True for a name only this machine answers to.
fn is_local_name(name: &str, names: &[String]) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<core::net::IpAddr>().is_ok() {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    lower == "localhost"
        || lower.ends_with(".localhost")
        || names.iter().any(|n| n.eq_ignore_ascii_case(lower))
}

/// `host[:port]` or `[v6][:port]` as name and port; `None` when malformed.
fn split_authority(a: &str) -> Option<(&str, Option<u16>)> {
    if a.is_empty() || a.contains(['/', '@', ' ', '\t']) {
        return None;
    }
    if a.starts_with('[') {
        let end = a.find(']')?;
        let (name, rest) = a.split_at(end + 1);
        return match rest {
            "" => Some((name, None)),
            p => Some((name, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match a.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => Some((name, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((a, None)),
    }
}

/// The host, port and scheme's default port of an `Origin` value.
fn origin_authority(origin: &str) -> Option<(&str, Option<u16>, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (name, port) = split_authority(rest.trim_end_matches('/'))?;
    Some((name, port, default))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{Method, Version};

    fn req(host: Option<&str>, origin: Option<&str>) -> RequestHead {
        let mut r = RequestHead::new(Method::Put, "/f", Version::Http11);
        if let Some(h) = host {
            r.headers.append("Host", h);
        }
        if let Some(o) = origin {
            r.headers.append("Origin", o);
        }
        r
    }

    #[test]
    fn local_names_pass() {
        let names = vec!["build-box".to_owned()];
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:1",
            "[::1]:8080",
            "[::1]",
            "192.0.2.7:80",
            "build-box:8080",
            "localhost.:8080",
        ] {
            assert_eq!(check(&req(Some(host), None), &names), Ok(()), "{host}");
        }
        assert_eq!(check(&req(None, None), &names), Ok(()), "HTTP/1.0");
    }

    #[test]
    fn rebound_names_are_refused() {
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "",
            "a b",
            "user@127.0.0.1",
            "::1",
            "[::1]x",
            "127.0.0.1:99999",
        ] {
            assert!(
                matches!(check(&req(Some(host), None), &[]), Err(Foreign::Host(_))),
                "{host:?}"
            );
        }
    }

    #[test]
    fn origin_must_be_the_host() {
        let ok = |h: &str, o: &str| check(&req(Some(h), Some(o)), &[]).is_ok();
        assert!(ok("127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(ok("localhost:8443", "https://localhost:8443"));
        assert!(ok("localhost", "http://localhost"));
        assert!(ok("localhost:80", "http://localhost"));
        assert!(ok("[::1]:8080", "http://[::1]:8080"));
        assert!(!ok("127.0.0.1:8080", "http://evil.example"));
        assert!(!ok("127.0.0.1:8080", "http://127.0.0.1:9999"));
        assert!(!ok("127.0.0.1:8080", "null"));
        assert!(!ok("localhost:8080", "http://127.0.0.1:8080"));
        assert!(!ok("localhost", "ftp://localhost"));
    }
}
