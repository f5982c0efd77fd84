//! Who a request comes from when a reverse proxy may stand in between.
//!
//! Invariants: a request that carries proxy headers (`Forwarded`,
//! `X-Forwarded-For`, `X-Real-IP`, `Via`) from a peer that is not a
//! trusted proxy has no known client address, so it never counts as
//! local; from a trusted proxy, the client is the address that proxy
//! reports (the last one in `X-Forwarded-For` that is not itself a
//! trusted proxy). Without proxy headers the client is the peer.

use core::net::IpAddr;

use crate::head::RequestHead;

/// The header fields a proxy adds.
const PROXY_FIELDS: [&str; 4] = ["forwarded", "x-forwarded-for", "x-real-ip", "via"];

/// True when `req` says it went through a proxy.
pub fn proxied(req: &RequestHead) -> bool {
    PROXY_FIELDS.iter().any(|f| req.headers.contains(f))
}

/// The client's address: the peer's, unless the request went through a
/// proxy; then the address a trusted proxy reports, or `None` (unknown,
/// never local) when the peer is not a trusted proxy or reports nothing
/// usable.
pub fn client_address(req: &RequestHead, peer: IpAddr, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    if !proxied(req) {
        return Some(peer);
    }
    if !trusted.iter().any(|t| t.to_canonical() == peer) {
        return None;
    }
    let is_trusted = |ip: &IpAddr| {
        trusted
            .iter()
            .any(|t| t.to_canonical() == ip.to_canonical())
    };
    // X-Forwarded-For: client, proxy1, proxy2 — the last one not ours.
    let xff: Vec<&str> = req
        .headers
        .get_all("x-forwarded-for")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !xff.is_empty() {
        let mut last = None;
        for a in xff.iter().rev() {
            let ip = parse_addr(a)?;
            last = Some(ip);
            if !is_trusted(&ip) {
                break;
            }
        }
        return last.map(|ip| ip.to_canonical());
    }
    // Forwarded: for=... (the last element).
    if let Some(v) = req.headers.get_str("forwarded") {
        let last = v.split(',').next_back()?;
        let for_ = last.split(';').map(str::trim).find_map(|p| {
            p.get(..4)
                .filter(|k| k.eq_ignore_ascii_case("for="))
                .map(|_| &p[4..])
        })?;
        return parse_addr(for_.trim_matches('"')).map(|ip| ip.to_canonical());
    }
    req.headers
        .get_str("x-real-ip")
        .and_then(|v| parse_addr(v.trim()))
        .map(|ip| ip.to_canonical())
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`,
/// `[2001:db8::1]`, optionally with a port.
fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':').and_then(|(h, _)| h.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{Method, Version};

    fn req(fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(Method::Put, "/a", Version::Http11);
        for (n, v) in fields {
            r.headers.append(n, v);
        }
        r
    }

    #[test]
    fn proxy_headers_decide_who_the_client_is() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let far: IpAddr = "203.0.113.9".parse().unwrap();
        let none: [IpAddr; 0] = [];
        assert_eq!(client_address(&req(&[]), lo, &none), Some(lo));
        for field in ["X-Forwarded-For", "X-Real-IP", "Forwarded", "Via"] {
            let r = req(&[(field, "127.0.0.1")]);
            assert_eq!(client_address(&r, lo, &none), None, "{field} untrusted");
        }
        let trusted = [lo];
        let r = req(&[("X-Forwarded-For", "203.0.113.9, 127.0.0.1")]);
        assert_eq!(client_address(&r, lo, &trusted), Some(far));
        let r = req(&[("X-Forwarded-For", "127.0.0.1")]);
        assert_eq!(client_address(&r, lo, &trusted), Some(lo));
        let r = req(&[("Forwarded", "for=192.0.2.1, for=\"[2001:db8::1]:443\"")]);
        assert_eq!(
            client_address(&r, lo, &trusted),
            Some("2001:db8::1".parse().unwrap())
        );
        let r = req(&[("X-Real-IP", "203.0.113.9")]);
        assert_eq!(client_address(&r, lo, &trusted), Some(far));
        let r = req(&[("X-Forwarded-For", "garbage")]);
        assert_eq!(client_address(&r, lo, &trusted), None);
        // A trusted proxy elsewhere does not make a loopback peer trusted.
        let r = req(&[("X-Forwarded-For", "127.0.0.1")]);
        assert_eq!(client_address(&r, lo, &[far]), None);
    }
}
