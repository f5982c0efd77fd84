//! A folder's members from a PROPFIND answer (207), for a client that
//! lists a remote folder.

use super::xml::{parse_bounded, Element, XmlError};

/// Elements a client accepts in one 207 answer.
const MAX_NODES: usize = 2_000_000;

/// One member of a listed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its href, percent-decoded.
    pub href: String,
    /// A collection (a folder).
    pub collection: bool,
    /// `getcontentlength`, when given.
    pub length: Option<u64>,
    /// `getlastmodified`, as sent.
    pub modified: Option<String>,
}

/// The members a 207 answer describes, in its order.
pub fn members(body: &[u8]) -> Result<Vec<Member>, XmlError> {
    let root = parse_bounded(body, MAX_NODES)?;
    if !root.name.is_dav("multistatus") {
        return Err(XmlError::Unexpected);
    }
    let mut out = Vec::new();
    for r in root.elements().filter(|e| e.name.is_dav("response")) {
        let Some(href) = r.dav_child("href") else {
            continue;
        };
        let mut m = Member {
            href: decode(href.text().trim()),
            collection: false,
            length: None,
            modified: None,
        };
        for stat in r.elements().filter(|e| e.name.is_dav("propstat")) {
            let ok = stat
                .dav_child("status")
                .is_some_and(|s| s.text().split_whitespace().nth(1) == Some("200"));
            let Some(prop) = stat.dav_child("prop").filter(|_| ok) else {
                continue;
            };
            read_props(prop, &mut m);
        }
        out.push(m);
    }
    Ok(out)
}

fn read_props(prop: &Element, m: &mut Member) {
    for p in prop.elements() {
        if p.name.is_dav("resourcetype") {
            m.collection = p.dav_child("collection").is_some();
        } else if p.name.is_dav("getcontentlength") {
            m.length = p.text().trim().parse().ok();
        } else if p.name.is_dav("getlastmodified") {
            m.modified = Some(p.text().trim().to_owned());
        }
    }
}

/// The path of an href (an absolute URI or a path), percent-decoded
/// (undecodable escapes are kept as they are).
fn decode(href: &str) -> String {
    let path = match href.find("://") {
        Some(i) => href[i + 3..].find('/').map_or("/", |j| &href[i + 3 + j..]),
        None => href,
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_of_a_207() {
        let body = br#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">
<D:response><D:href>http://h/dir/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/dir/a%20b.txt</D:href><D:propstat><D:prop><D:resourcetype/><D:getcontentlength>12</D:getcontentlength><D:getlastmodified>Thu, 03 Dec 2026 08:00:00 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:getcontentlength>99</D:getcontentlength></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
</D:multistatus>"#;
        let m = members(body).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].href, "/dir/");
        assert!(m[0].collection);
        assert_eq!(m[1].href, "/dir/a b.txt");
        assert_eq!(m[1].length, Some(12));
        assert!(m[1].modified.as_deref().unwrap().starts_with("Thu"));
        assert!(members(b"<x/>").is_err());
    }
}
