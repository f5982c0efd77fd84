//! 207 Multi-Status bodies (RFC 4918 §13) and the live properties of a
//! resource (RFC 4918 §15), written from the metadata storage reports.
//!
//! Invariants: every href and text value written is escaped; a property
//! is written with its own namespace declaration unless it is in `DAV:`,
//! so dead property values (self-contained fragments) stay well-formed.

use std::time::SystemTime;

use super::locks::SUPPORTED_LOCK;
use super::xml::{escape_text, QName};
use crate::head::StatusCode;
use crate::service::{FileKind, Meta};

/// A property to report, with its XML content (`None`: the name only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropValue {
    /// Its name.
    pub name: QName,
    /// Its content.
    pub value: Option<String>,
}

/// A Multi-Status body being written.
#[derive(Debug)]
pub struct Multistatus {
    out: String,
}

impl Default for Multistatus {
    fn default() -> Multistatus {
        Multistatus::new()
    }
}

impl Multistatus {
    /// An empty multistatus element.
    pub fn new() -> Multistatus {
        Multistatus {
            out: String::from(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">",
            ),
        }
    }

    /// A response with a status alone (a member that could not be
    /// deleted, copied or moved).
    pub fn status(&mut self, href: &str, status: StatusCode) {
        self.out.push_str("<D:response><D:href>");
        self.out.push_str(&escape_text(href));
        self.out.push_str("</D:href><D:status>");
        self.out.push_str(&status_line(status));
        self.out.push_str("</D:status></D:response>");
    }

    /// A response with properties grouped by status (empty groups left out).
    pub fn propstats(&mut self, href: &str, groups: &[(StatusCode, Vec<PropValue>)]) {
        self.out.push_str("<D:response><D:href>");
        self.out.push_str(&escape_text(href));
        self.out.push_str("</D:href>");
        for (status, props) in groups.iter().filter(|(_, p)| !p.is_empty()) {
            self.out.push_str("<D:propstat><D:prop>");
            for p in props {
                write_prop(&p.name, p.value.as_deref(), &mut self.out);
            }
            self.out.push_str("</D:prop><D:status>");
            self.out.push_str(&status_line(*status));
            self.out.push_str("</D:status></D:propstat>");
        }
        self.out.push_str("</D:response>");
    }

    /// The bytes written so far, taken out: a 207 over a folder of any
    /// size is sent in pieces as it is written, never held whole.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// How many bytes are written and not yet taken.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// The finished body (what is left of it after [`Multistatus::take`]).
    pub fn finish(mut self) -> String {
        self.out.push_str("</D:multistatus>\n");
        self.out
    }
}

/// `HTTP/1.1 200 OK` for a status element.
pub fn status_line(s: StatusCode) -> String {
    format!("HTTP/1.1 {} {}", s.as_u16(), s.reason())
}

/// Writes one property element with its content.
pub fn write_prop(name: &QName, value: Option<&str>, out: &mut String) {
    let (open, close) = if name.ns == "DAV:" {
        (format!("<D:{}", name.local), format!("</D:{}>", name.local))
    } else {
        (
            format!(
                "<{} xmlns=\"{}\"",
                name.local,
                escape_text(&name.ns).replace('"', "&quot;")
            ),
            format!("</{}>", name.local),
        )
    };
    out.push_str(&open);
    match value {
        Some(v) if !v.is_empty() => {
            out.push('>');
            out.push_str(v);
            out.push_str(&close);
        }
        _ => out.push_str("/>"),
    }
}

/// The live properties pared reports, in the order allprop lists them.
pub const LIVE: [&str; 8] = [
    "creationdate",
    "getcontentlength",
    "getcontenttype",
    "getetag",
    "getlastmodified",
    "resourcetype",
    "supportedlock",
    "lockdiscovery",
];

/// True for a property the server computes (it cannot be set or removed).
pub fn is_live(name: &QName) -> bool {
    name.ns == "DAV:" && (LIVE.contains(&name.local.as_str()) || name.local == "displayname")
}

/// The value of a live property of a resource, or `None` when it has none
/// (a collection has no content length); `lockdiscovery` is passed in.
pub fn live_value(
    name: &QName,
    meta: &Meta,
    file_name: &str,
    lockdiscovery: &str,
    now: SystemTime,
) -> Option<String> {
    if name.ns != "DAV:" {
        return None;
    }
    let dir = meta.kind == FileKind::Dir;
    let modified = meta.modified.map(|m| m.min(now));
    Some(match name.local.as_str() {
        "creationdate" => rfc3339(modified?),
        "getcontentlength" if !dir => meta.len.to_string(),
        "getcontenttype" if !dir => escape_text(crate::mime::content_type(file_name)),
        "getetag" => escape_text(&meta.etag()),
        "getlastmodified" => {
            String::from_utf8_lossy(&crate::date::imf_fixdate(modified?)).into_owned()
        }
        "resourcetype" if dir => "<D:collection/>".into(),
        "resourcetype" => String::new(),
        "supportedlock" => SUPPORTED_LOCK.into(),
        "lockdiscovery" => lockdiscovery.into(),
        _ => return None,
    })
}

/// `2026-12-03T08:49:37Z`.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = crate::log::civil((secs / 86_400) as i64);
    let r = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn writes_escaped_well_formed_responses() {
        let meta = Meta {
            kind: FileKind::File,
            len: 5,
            modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            id: 7,
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut m = Multistatus::new();
        let props = ["getcontentlength", "resourcetype", "creationdate"]
            .iter()
            .map(|n| {
                let name = QName::dav(n);
                let value = live_value(&name, &meta, "a.txt", "", now);
                PropValue { name, value }
            })
            .collect();
        m.propstats(
            "/a&b.txt",
            &[
                (StatusCode::OK, props),
                (
                    StatusCode::NOT_FOUND,
                    vec![PropValue {
                        name: QName::new("urn:x", "missing"),
                        value: None,
                    }],
                ),
            ],
        );
        m.status("/gone", StatusCode::LOCKED);
        let body = m.finish();
        assert!(body.contains("<D:href>/a&amp;b.txt</D:href>"));
        assert!(body.contains("<D:getcontentlength>5</D:getcontentlength><D:resourcetype/>"));
        assert!(body.contains("<D:creationdate>2023-11-14T22:13:20Z</D:creationdate>"));
        assert!(body.contains("<missing xmlns=\"urn:x\"/>"));
        assert!(body.contains("HTTP/1.1 404 Not Found"));
        assert!(body.contains("HTTP/1.1 423 Locked"));
        assert!(crate::dav::xml::parse(body.as_bytes()).is_ok());
    }
}
