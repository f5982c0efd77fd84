//! The HTML of a directory listing.
//!
//! Invariants: every name is HTML-escaped in text and percent-encoded in
//! links, so a file name can never inject markup; dot-files (and names that
//! a request could not address) are left out, as they cannot be fetched.

use crate::path::{encode_into, RelPath};

/// One directory entry, as the file system reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (one path segment).
    pub name: String,
    /// True for a directory (the link gets a trailing `/`).
    pub is_dir: bool,
}

/// Appends `s` to `out` with `&`, `<`, `>`, `"` and `'` escaped, for text
/// and attribute values alike.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// True for characters that change how the text around them is shown
/// (controls, and the bidirectional marks, embeddings, overrides and
/// isolates behind "Trojan Source"-style spoofing): a listing shows them
/// as visible escapes, never raw.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Appends a file name for display: HTML-escaped, with deceptive
/// characters shown as `\u{…}`.
pub fn escape_name(s: &str, out: &mut String) {
    for c in s.chars() {
        if is_deceptive(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            let mut b = [0u8; 4];
            escape_html(c.encode_utf8(&mut b), out);
        }
    }
}

/// Renders the listing of `dir`: directories first, then files, each by name.
pub fn render(dir: &RelPath, entries: &[Entry]) -> String {
    let mut shown: Vec<&Entry> = entries
        .iter()
        .filter(|e| dir.join(&e.name).is_ok())
        .collect();
    shown.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let title_path = dir.href(true);
    let mut out = String::with_capacity(256 + shown.len() * 96);
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    escape_name(&percent_decoded(dir), &mut out);
    out.push_str("</title></head>\n<body><h1>Index of ");
    escape_name(&percent_decoded(dir), &mut out);
    out.push_str("</h1>\n<ul>\n");
    if !dir.is_root() {
        out.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for e in shown {
        // The href is percent-encoded, then HTML-escaped as an attribute
        // value: `&` stays a literal `&` for the browser.
        let mut href = title_path.clone();
        encode_into(&e.name, &mut href);
        if e.is_dir {
            href.push('/');
        }
        out.push_str("<li><a href=\"");
        escape_html(&href, &mut out);
        out.push_str("\">");
        escape_name(&e.name, &mut out);
        if e.is_dir {
            out.push('/');
        }
        out.push_str("</a></li>\n");
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}

fn percent_decoded(dir: &RelPath) -> String {
    let mut s = String::from("/");
    for seg in dir.segments() {
        s.push_str(seg);
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;

    #[test]
    fn escapes_and_sorts() {
        let entries = vec![
            Entry {
                name: "b.txt".into(),
                is_dir: false,
            },
            Entry {
                name: "<script>alert(1)<script>".into(),
                is_dir: false,
            },
            Entry {
                name: "sub".into(),
                is_dir: true,
            },
            Entry {
                name: ".secret".into(),
                is_dir: false,
            },
            Entry {
                name: "a\"b".into(),
                is_dir: false,
            },
        ];
        let mut entries = entries;
        entries.push(Entry {
            name: "&amp;.txt".into(),
            is_dir: false,
        });
        entries.push(Entry {
            name: "evil\u{202e}txt.exe".into(),
            is_dir: false,
        });
        let html = render(&resolve_target("/d%20x/").unwrap(), &entries);
        // `&` in a name is escaped inside the href too.
        assert!(html.contains("href=\"/d%20x/&amp;amp;.txt\">&amp;amp;.txt</a>"));
        // A bidi override is shown, not obeyed.
        assert!(!html.contains('\u{202e}'));
        assert!(html.contains("evil\\u{202e}txt.exe"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;script&gt;"));
        assert!(html.contains("href=\"/d%20x/%3Cscript%3Ealert(1)%3Cscript%3E\""));
        assert!(html.contains("href=\"/d%20x/a%22b\">a&quot;b</a>"));
        assert!(!html.contains("secret"));
        assert!(html.contains("<title>Index of /d x/</title>"));
        let sub = html.find("sub/").unwrap();
        assert!(sub < html.find("b.txt").unwrap(), "directories first");
        assert!(html.contains("href=\"../\""));
    }
}
