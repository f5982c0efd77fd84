//! Finding names under a folder (`?q=`): the query, the limits, and the
//! results as a page or as JSON. The walk itself is the host's.
//!
//! Invariants: the query is a plain case-insensitive substring of a name,
//! never a pattern; dot-files and names a request could not address are
//! never found; every result is escaped as the page's names are.

use std::fmt::Write as _;
use std::time::SystemTime;

use super::assets::{STYLE, TIME_SCRIPT};
use super::json::push_json_str;
use super::{escape_html, escape_name, human_size, iso8601};
use crate::path::{encode_into, RelPath};

/// The most results a search returns.
pub const MAX_RESULTS: usize = 1000;
/// The most entries a search looks at.
pub const MAX_VISITS: usize = 200_000;
/// The longest a search runs, in milliseconds.
pub const MAX_MILLIS: u64 = 3000;
/// The longest query taken, in bytes.
pub const MAX_QUERY: usize = 256;

/// The search a target asks for: `?q=` percent-decoded (`+` is a space),
/// trimmed, lower-cased; `None` when absent, empty, too long or not UTF-8.
pub fn query_of(target: &str) -> Option<String> {
    let query = crate::path::split_query(target).1?;
    let raw = query.split('&').find_map(|p| p.strip_prefix("q="))?;
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = (it.next()? as char).to_digit(16)?;
                let lo = (it.next()? as char).to_digit(16)?;
                bytes.push((hi * 16 + lo) as u8);
            }
            b => bytes.push(b),
        }
    }
    let q = String::from_utf8(bytes).ok()?.trim().to_lowercase();
    (!q.is_empty() && q.len() <= MAX_QUERY && !q.chars().any(char::is_control)).then_some(q)
}

/// True when `name` matches the (lower-cased) query.
pub fn matches(name: &str, query: &str) -> bool {
    name.to_lowercase().contains(query)
}

/// One name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path below the searched folder, names joined with `/`.
    pub path: String,
    /// True for a folder.
    pub is_dir: bool,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, where known.
    pub modified: Option<SystemTime>,
}

/// What a search found, and whether it looked everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// The names found, in the order found (folders breadth first).
    pub found: Vec<Found>,
    /// False when a limit stopped it (results, entries or time).
    pub complete: bool,
}

fn href(dir: &RelPath, f: &Found) -> String {
    let mut out = dir.href(true);
    for (i, seg) in f.path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_into(seg, &mut out);
    }
    if f.is_dir {
        out.push('/');
    }
    out
}

/// The results as a page (the folder's look, its search box filled in).
pub fn render_search(dir: &RelPath, query: &str, results: &Results) -> String {
    let mut out = String::with_capacity(4096 + results.found.len() * 300);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Search ",
    );
    escape_name(&dir.href(true), &mut out);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head>\n<body><h1>Search in <a href=\"");
    escape_html(&dir.href(true), &mut out);
    out.push_str("\">");
    escape_html(&dir.href(true), &mut out);
    out.push_str("</a></h1>\n");
    search_box(Some(query), &mut out);
    out.push_str("<table>\n<thead><tr><th class=\"n\">Name</th><th class=\"s\">Size</th><th class=\"t\">Modified</th></tr></thead>\n<tbody>\n");
    for f in &results.found {
        out.push_str("<tr><td class=\"n\"><a href=\"");
        escape_html(&href(dir, f), &mut out);
        out.push_str("\">");
        escape_name(&f.path, &mut out);
        if f.is_dir {
            out.push('/');
        }
        out.push_str("</a></td>");
        if f.is_dir {
            out.push_str("<td class=\"s\"></td>");
        } else {
            let _ = write!(
                out,
                "<td class=\"s\" title=\"{} bytes\">{}</td>",
                f.size,
                human_size(f.size)
            );
        }
        match f.modified {
            Some(t) => {
                let iso = iso8601(t);
                let _ = write!(
                    out,
                    "<td class=\"t\"><time datetime=\"{iso}\">{iso}</time></td>"
                );
            }
            None => out.push_str("<td class=\"t\"></td>"),
        }
        out.push_str("</tr>\n");
    }
    let n = results.found.len();
    let _ = write!(
        out,
        "</tbody>\n</table>\n<footer>{n} result{}{}</footer>\n<script>{TIME_SCRIPT}</script>\n</body></html>\n",
        if n == 1 { "" } else { "s" },
        if results.complete {
            ""
        } else {
            " (the search stopped at a limit: narrow it, or search a subfolder)"
        }
    );
    out
}

/// The search box of a folder's page (`query` filled in on a results page).
pub fn search_box(query: Option<&str>, out: &mut String) {
    out.push_str(
        "<form class=\"search\" role=\"search\" method=\"get\"><input type=\"search\" name=\"q\" \
         aria-label=\"Search this folder\" placeholder=\"Search this folder\"",
    );
    if let Some(q) = query {
        out.push_str(" value=\"");
        escape_html(q, out);
        out.push('"');
    }
    out.push_str("><button type=\"submit\">Search</button></form>\n");
}

/// The results as JSON: `{"path": "/dir/", "query": "…", "complete":
/// true, "results": [{"path": "sub/a.txt", "type": "file", "size": 3,
/// "modified": "…"}]}`.
pub fn render_search_json(dir: &RelPath, query: &str, results: &Results) -> String {
    let mut out = String::from("{\"path\":");
    push_json_str(&dir.href(true), &mut out);
    out.push_str(",\"query\":");
    push_json_str(query, &mut out);
    let _ = write!(out, ",\"complete\":{},\"results\":[", results.complete);
    for (i, f) in results.found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"path\":");
        push_json_str(&f.path, &mut out);
        let _ = write!(
            out,
            ",\"type\":\"{}\",\"size\":{},\"modified\":",
            if f.is_dir { "dir" } else { "file" },
            f.size
        );
        match f.modified {
            Some(t) => push_json_str(&iso8601(t), &mut out),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;

    #[test]
    fn queries() {
        assert_eq!(query_of("/d/?q=Cat+Pics").as_deref(), Some("cat pics"));
        assert_eq!(
            query_of("/d/?sort=size&q=%C3%A9t%C3%A9").as_deref(),
            Some("été")
        );
        assert_eq!(query_of("/d/?q=").as_deref(), None);
        assert_eq!(query_of("/d/?q=%ZZ").as_deref(), None);
        assert_eq!(query_of("/d/?q=a%0Ab").as_deref(), None, "controls");
        assert_eq!(query_of("/d/").as_deref(), None);
        assert_eq!(query_of(&format!("/d/?q={}", "a".repeat(300))), None);
        assert!(matches("Holiday-CAT.jpg", "cat"));
        assert!(!matches("dog.jpg", "cat"));
    }

    #[test]
    fn results_are_escaped() {
        let dir = resolve_target("/a%20b/").unwrap();
        let results = Results {
            found: vec![
                Found {
                    path: "sub/<b>x\"y.txt".into(),
                    is_dir: false,
                    size: 2048,
                    modified: None,
                },
                Found {
                    path: "deep".into(),
                    is_dir: true,
                    size: 0,
                    modified: None,
                },
            ],
            complete: false,
        };
        let html = render_search(&dir, "<x>", &results);
        assert!(
            html.contains("href=\"/a%20b/sub/%3Cb%3Ex%22y.txt\">sub/&lt;b&gt;x&quot;y.txt</a>"),
            "{html}"
        );
        assert!(html.contains("href=\"/a%20b/deep/\">deep/</a>"));
        assert!(html.contains("value=\"&lt;x&gt;\""));
        assert!(html.contains("2 results (the search stopped at a limit"));
        assert_eq!(html.matches("<script>").count(), 1);
        let json = render_search_json(&dir, "<x>", &results);
        assert!(json.starts_with("{\"path\":\"/a%20b/\",\"query\":\"<x>\",\"complete\":false,\"results\":[{\"path\":\"sub/<b>x\\\"y.txt\",\"type\":\"file\",\"size\":2048,\"modified\":null}"), "{json}");
    }
}
