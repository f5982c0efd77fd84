//! A folder listing as JSON, for scripts and the recursive client: the
//! same rows, order and pages as the HTML page.
//!
//! Schema (one object):
//! `{"path": "/dir/", "page": 1, "pages": 3, "per_page": 1000,
//!   "total": 2345, "folders": 1, "files": 2344, "bytes": 123,
//!   "entries": [{"name": "a.txt", "type": "file", "size": 3,
//!                "modified": "2026-12-03T10:00:00Z",
//!                "mtime_ns": 1796290000000000000, "etag": "\"…\""},
//!               {"name": "sub", "type": "dir", "size": 0, …, "etag": null}]}`.
//! `total`, `folders`, `files` and `bytes` count the whole folder;
//! `entries` is this page. A folder has no ETag (`null`), nor has a link
//! that leaves its folder (it is listed, undescribed); `modified` and
//! `mtime_ns` are `null` where the file system has no time.

use std::fmt::Write as _;

use super::{iso8601, Listing, Order, PAGE_SIZE};
use crate::path::RelPath;
use crate::validators::{nanos, FileVersion};

/// Appends `s` as a JSON string (quotes included).
pub fn push_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Controls, and the two separators JavaScript once refused.
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// True when a request for a folder asks for JSON: `?format=json`, or an
/// `Accept` that names `application/json` and not `text/html` (browsers
/// name HTML; `curl -H 'Accept: application/json'` does not).
pub fn wants_json(target: &str, accept: Option<&str>) -> bool {
    let query = crate::path::split_query(target).1.unwrap_or("");
    if query.split('&').any(|p| p == "format=json") {
        return true;
    }
    accept.is_some_and(|a| {
        let types = || {
            a.split(',')
                .map(|t| t.split(';').next().unwrap_or("").trim())
        };
        types().any(|t| t.eq_ignore_ascii_case("application/json"))
            && !types().any(|t| t.eq_ignore_ascii_case("text/html"))
    })
}

/// Page `page` of the listing of `dir` as JSON (see the module).
pub fn render_json(dir: &RelPath, listing: &mut Listing, order: Order, page: usize) -> String {
    let (dirs, files, bytes) = listing.totals();
    let total = listing.len();
    let page = listing.page(order, page);
    let mut out = String::with_capacity(256 + page.rows.len() * 160);
    out.push_str("{\"path\":");
    push_json_str(&dir.href(true), &mut out);
    let _ = write!(
        out,
        ",\"page\":{},\"pages\":{},\"per_page\":{PAGE_SIZE},\"total\":{total},\
         \"folders\":{dirs},\"files\":{files},\"bytes\":{bytes},\"entries\":[",
        page.number, page.count
    );
    for (i, r) in page.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_str(r.name, &mut out);
        let kind = if r.is_dir { "dir" } else { "file" };
        let _ = write!(out, ",\"type\":\"{kind}\",\"size\":{}", r.size);
        match r.modified {
            Some(t) => {
                let _ = write!(
                    out,
                    ",\"modified\":\"{}\",\"mtime_ns\":{}",
                    iso8601(t),
                    nanos(t)
                );
            }
            None => out.push_str(",\"modified\":null,\"mtime_ns\":null"),
        }
        out.push_str(",\"etag\":");
        // A folder has none; nor has an entry the file system would not
        // describe (a link leaving its folder: id 0).
        if r.is_dir || r.id == 0 {
            out.push_str("null");
        } else {
            let etag = FileVersion::new(r.id, r.size, r.modified.map_or(0, nanos)).etag();
            push_json_str(&etag, &mut out);
        }
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

/// One entry of a folder listing as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    /// The name: always one path segment a request could address (a
    /// listing that names anything else, such as `..` or `a/b`, is
    /// refused: a hostile server must not steer a download out of its
    /// folder).
    pub name: String,
    /// True for a folder.
    pub is_dir: bool,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch, if given.
    pub mtime_ns: Option<u128>,
    /// The file's ETag, if given.
    pub etag: Option<String>,
}

/// One page of a folder listing as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePage {
    /// This page's number.
    pub page: usize,
    /// How many pages there are.
    pub pages: usize,
    /// The entries of this page.
    pub entries: Vec<RemoteEntry>,
}

/// Why a listing could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// Not JSON.
    #[error(transparent)]
    Json(#[from] crate::json::JsonError),
    /// JSON, but not a folder listing.
    #[error("not a folder listing: {0}")]
    Shape(&'static str),
    /// An entry's name is not one path segment.
    #[error("the listing names {0:?}, which is not a file name in the folder")]
    BadName(String),
}

/// Reads one page of a folder listing (the schema in the module docs).
pub fn read_listing(text: &str) -> Result<RemotePage, ListingError> {
    use crate::json::Json;
    let v = crate::json::parse(text)?;
    let num = |key: &'static str| {
        v.get(key)
            .and_then(Json::as_u128)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ListingError::Shape(key))
    };
    let (page, pages) = (num("page")?, num("pages")?);
    let items = v
        .get("entries")
        .and_then(Json::as_array)
        .ok_or(ListingError::Shape("entries"))?;
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .get("name")
            .and_then(Json::as_str)
            .ok_or(ListingError::Shape("name"))?;
        if !RelPath::root().can_join(name) {
            return Err(ListingError::BadName(name.to_owned()));
        }
        let is_dir = match item.get("type").and_then(Json::as_str) {
            Some("dir") => true,
            Some("file") => false,
            _ => return Err(ListingError::Shape("type")),
        };
        let size = item
            .get("size")
            .and_then(Json::as_u128)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(ListingError::Shape("size"))?;
        entries.push(RemoteEntry {
            name: name.to_owned(),
            is_dir,
            size,
            mtime_ns: item.get("mtime_ns").and_then(Json::as_u128),
            etag: item.get("etag").and_then(Json::as_str).map(str::to_owned),
        });
    }
    Ok(RemotePage {
        page,
        pages,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;

    #[test]
    fn what_is_written_is_read() {
        let dir = resolve_target("/d/").unwrap();
        let mut l = Listing::new();
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(100, 5);
        l.push(&dir, "été \"x\".txt", false, 3, Some(t), 42);
        l.push(&dir, "sub", true, 0, None, 7);
        let page = read_listing(&render_json(&dir, &mut l, Order::from_target("/"), 1)).unwrap();
        assert_eq!((page.page, page.pages), (1, 1));
        assert_eq!(page.entries[0].name, "sub");
        assert!(page.entries[0].is_dir);
        let f = &page.entries[1];
        assert_eq!(
            (f.name.as_str(), f.size, f.mtime_ns),
            ("été \"x\".txt", 3, Some(100_000_000_005))
        );
        assert_eq!(
            f.etag.as_deref(),
            Some(FileVersion::new(42, 3, 100_000_000_005).etag().as_str())
        );
        for evil in ["..", "a/b", ".hidden", "", "x\\u0000"] {
            let text = format!(
                "{{\"page\":1,\"pages\":1,\"entries\":[{{\"name\":\"{evil}\",\"type\":\"file\",\"size\":1}}]}}"
            );
            assert!(read_listing(&text).is_err(), "{evil:?}");
        }
        assert!(read_listing("[]").is_err());
    }

    #[test]
    fn who_wants_json() {
        assert!(wants_json("/d/?format=json", None));
        assert!(wants_json("/d/?sort=size&format=json", Some("text/html")));
        assert!(wants_json("/d/", Some("application/json")));
        assert!(wants_json("/d/", Some("application/json;q=0.9, */*;q=0.1")));
        assert!(!wants_json(
            "/d/",
            Some("text/html,application/xhtml+xml,application/json;q=0.9")
        ));
        assert!(!wants_json("/d/", Some("*/*")));
        assert!(!wants_json("/d/", None));
        assert!(!wants_json("/d/?format=jsonx", None));
    }

    #[test]
    fn escapes_and_counts() {
        let dir = resolve_target("/d%20x/").unwrap();
        let mut l = Listing::new();
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(100, 5);
        l.push(&dir, "a\"b.txt", false, 3, Some(t), 42);
        l.push(&dir, "sub", true, 0, None, 7);
        let j = render_json(&dir, &mut l, Order::from_target("/"), 1);
        assert!(j.starts_with("{\"path\":\"/d%20x/\",\"page\":1,\"pages\":1,\"per_page\":1000,\"total\":2,\"folders\":1,\"files\":1,\"bytes\":3,"), "{j}");
        assert!(j.contains("{\"name\":\"sub\",\"type\":\"dir\",\"size\":0,\"modified\":null,\"mtime_ns\":null,\"etag\":null}"), "{j}");
        assert!(j.contains("\"name\":\"a\\\"b.txt\""), "{j}");
        let mut esc = String::new();
        push_json_str("x\\\n\u{1}\u{2028}y", &mut esc);
        assert_eq!(esc, "\"x\\\\\\n\\u0001\\u2028y\"");
        assert!(j.contains("\"modified\":\"1970-01-01T00:01:40Z\",\"mtime_ns\":100000000005"));
        let etag = FileVersion::new(42, 3, 100_000_000_005).etag();
        let mut quoted = String::new();
        push_json_str(&etag, &mut quoted);
        assert!(j.contains(&format!("\"etag\":{quoted}")), "{j}");
        assert!(
            j.find("\"sub\"") < j.find("a\\\""),
            "folders first, as the page"
        );
    }
}
