//! The HTML of a directory listing.
//!
//! Invariants: every name is HTML-escaped in text and percent-encoded in
//! links, so a file name can never inject markup; dot-files (and names that
//! a request could not address) are left out, as they cannot be fetched.

mod assets;
mod entries;
mod json;
pub mod search;

use assets::ICONS;
pub use assets::{content_security_policy, SCRIPT, STYLE, TIME_SCRIPT};
pub use entries::{page_of, Listing, Page, Row, PAGE_SIZE};
pub use json::{
    push_json_str, read_listing, render_json, wants_json, ListingError, RemoteEntry, RemotePage,
};

use crate::path::{encode_into, RelPath};

/// One directory entry, as the file system reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (one path segment).
    pub name: String,
    /// True for a directory (the link gets a trailing `/`).
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Modification time, where known.
    pub modified: Option<std::time::SystemTime>,
}

/// The column a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By name (the default).
    Name,
    /// By size.
    Size,
    /// By modification time.
    Time,
}

impl SortKey {
    /// The key's name in a query (`sort=size`).
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Size => "size",
            SortKey::Time => "time",
        }
    }
}

/// How a listing is ordered: `?sort=name|size|time&order=asc|desc`.
/// Directories always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The column.
    pub key: SortKey,
    /// Descending instead of ascending.
    pub desc: bool,
}

impl Order {
    /// The order a request target's query asks for; anything unknown
    /// falls back to name, ascending.
    pub fn from_target(target: &str) -> Order {
        let mut order = Order {
            key: SortKey::Name,
            desc: false,
        };
        let query = crate::path::split_query(target).1.unwrap_or("");
        let query = query.split('#').next().unwrap_or("");
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("sort", "name")) => order.key = SortKey::Name,
                Some(("sort", "size")) => order.key = SortKey::Size,
                Some(("sort", "time")) => order.key = SortKey::Time,
                Some(("order", "desc")) => order.desc = true,
                Some(("order", "asc")) => order.desc = false,
                _ => {}
            }
        }
        order
    }
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

/// A size in human units (`1.5 KiB`), bytes below 1 KiB.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// ISO 8601 in UTC, to the second: `2026-11-26T16:43:20Z`.
pub fn iso8601(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = crate::log::civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The controls a page offers, from the visitor's rights there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Controls {
    /// Upload and New folder (create).
    pub upload: bool,
    /// Rename and Move on each row (manage).
    pub rename: bool,
    /// Delete on each row.
    pub delete: bool,
    /// The folder's contents are shown (read); without, a drop box.
    pub contents: bool,
}

impl Controls {
    /// The controls `rights` allow.
    pub fn from_rights(rights: crate::rights::Rights) -> Controls {
        use crate::rights::Right;
        Controls {
            upload: rights.allows(Right::Create),
            rename: rights.allows(Right::Manage),
            delete: rights.allows(Right::Delete),
            contents: rights.allows(Right::Read),
        }
    }

    /// Every control, and the contents.
    pub const ALL: Controls = Controls {
        upload: true,
        rename: true,
        delete: true,
        contents: true,
    };

    /// Reading only.
    pub const READ: Controls = Controls {
        upload: false,
        rename: false,
        delete: false,
        contents: true,
    };

    fn any(self) -> bool {
        self.upload || self.rename || self.delete
    }

    fn all(self) -> bool {
        self.upload && self.rename && self.delete
    }

    fn row_actions(self) -> bool {
        self.contents && (self.rename || self.delete)
    }

    /// The `data-can` words the script reads.
    fn can(self) -> &'static str {
        match (self.rename, self.delete) {
            (true, true) => "ren mv del",
            (true, false) => "ren mv",
            (false, true) => "del",
            (false, false) => "",
        }
    }
}

/// Renders page `page` of the listing of `dir` as a table (name, size,
/// modified), in `order` with directories first, a parent row below the
/// root, a summary line over the whole folder, and links to the other
/// pages when there are more than [`PAGE_SIZE`] entries. Every name is
/// escaped wherever it appears.
pub fn render(
    dir: &RelPath,
    listing: &mut Listing,
    order: Order,
    page: usize,
    controls: Controls,
    login_link: bool,
) -> String {
    let writable = controls.any();
    let (dirs, files, total) = listing.totals();
    let page = listing.page(order, page);
    let title_path = dir.href(true);
    let mut out = String::with_capacity(8192 + page.rows.len() * 400);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Index of ",
    );
    escape_name(&percent_decoded(dir), &mut out);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head>\n<body>");
    out.push_str(ICONS);
    out.push_str("<h1>Index of <nav class=\"crumbs\">");
    breadcrumb(dir, &mut out);
    out.push_str("</nav></h1>\n");
    search::search_box(None, &mut out);
    out.push_str(
        "<p class=\"archive\">Download this folder: <a href=\"?archive=zip\" download>zip</a> \
         <a href=\"?archive=tar\" download>tar</a></p>\n",
    );
    if login_link && !controls.all() {
        out.push_str(
            "<p class=\"login\"><a href=\"?login\">Log in</a> to upload and manage files.</p>\n",
        );
    }
    if writable {
        out.push_str("<section id=\"upload\">");
        if controls.upload {
            out.push_str(
                "<div class=\"zone\"><strong>Drop files or folders here</strong> or \
<label class=\"btn\">Choose files<input type=\"file\" id=\"files\" multiple></label>\
<label class=\"btn\">Choose a folder<input type=\"file\" id=\"folder\" webkitdirectory multiple></label>\
<button type=\"button\" class=\"btn\" id=\"mkdir\">New folder</button></div>",
            );
        }
        out.push_str("<ul id=\"progress\"></ul></section>\n");
    }
    if !controls.contents {
        out.push_str("<p class=\"drop\">You may add files here; what is here is not shown.</p>\n");
    }
    // Row actions the script adds: none for a reader (the table is then
    // as it always was).
    match controls.can() {
        "" => out.push_str("<table>\n<thead><tr>"),
        can => {
            out.push_str("<table data-can=\"");
            out.push_str(can);
            out.push_str("\">\n<thead><tr>");
        }
    }
    for (key, label, class) in [
        (SortKey::Name, "Name", "n"),
        (SortKey::Size, "Size", "s"),
        (SortKey::Time, "Modified", "t"),
    ] {
        let (next, mark) = if order.key == key {
            (
                !order.desc,
                if order.desc { " \u{2193}" } else { " \u{2191}" },
            )
        } else {
            (false, "")
        };
        let sort = key.as_str();
        let dir_word = if next { "desc" } else { "asc" };
        out.push_str(&format!(
            "<th class=\"{class}\"><a href=\"?sort={sort}&amp;order={dir_word}\">{label}{mark}</a></th>"
        ));
    }
    let actions = controls.row_actions();
    if actions {
        out.push_str("<th class=\"d\"></th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    if !dir.is_root() {
        out.push_str(
            "<tr><td class=\"n\"><a href=\"../\">../</a></td><td class=\"s\"></td><td class=\"t\"></td>",
        );
        if actions {
            out.push_str("<td class=\"d\"></td>");
        }
        out.push_str("</tr>\n");
    }
    for e in &page.rows {
        // The href is percent-encoded, then HTML-escaped as an attribute
        // value: `&` stays a literal `&` for the browser.
        let mut href = title_path.clone();
        encode_into(e.name, &mut href);
        if e.is_dir {
            href.push('/');
        }
        out.push_str("<tr><td class=\"n\">");
        out.push_str(&icon(e.name, e.is_dir));
        out.push_str("<a href=\"");
        escape_html(&href, &mut out);
        out.push_str("\" title=\"");
        escape_name(e.name, &mut out);
        out.push_str("\">");
        escape_name(e.name, &mut out);
        if e.is_dir {
            out.push('/');
        }
        out.push_str("</a></td><td class=\"s\"");
        if e.is_dir {
            out.push_str("></td>");
        } else {
            out.push_str(&format!(
                " title=\"{} bytes\">{}</td>",
                e.size,
                human_size(e.size)
            ));
        }
        match e.modified {
            Some(t) => {
                let iso = iso8601(t);
                out.push_str(&format!(
                    "<td class=\"t\"><time datetime=\"{iso}\">{iso}</time></td>"
                ));
            }
            None => out.push_str("<td class=\"t\"></td>"),
        }
        if actions {
            // The script adds Rename, Move and Delete here, from the row's
            // link (its href, and its title: the name as shown): the page
            // stays small for huge folders, and no raw name is repeated.
            out.push_str("<td class=\"d\"></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str(&format!(
        "</tbody>\n</table>\n<footer>{dirs} folder{}, {files} file{}, {} in all</footer>\n",
        if dirs == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" },
        human_size(total)
    ));
    if page.count > 1 {
        pager(&page, order, &mut out);
    }
    out.push_str("<script>");
    out.push_str(if writable { SCRIPT } else { TIME_SCRIPT });
    out.push_str("</script>\n");
    out.push_str("</body></html>\n");
    out
}

/// Links to the neighbouring pages of a long listing, keeping its order:
/// `« Previous · Page 2 of 100 (1,001–2,000) · Next »`.
fn pager(page: &Page<'_>, order: Order, out: &mut String) {
    let link = |n: usize, label: &str, rel: &str| {
        format!(
            "<a rel=\"{rel}\" href=\"?sort={}&amp;order={}&amp;page={n}\">{label}</a>",
            order.key.as_str(),
            if order.desc { "desc" } else { "asc" }
        )
    };
    out.push_str("<nav class=\"pages\">");
    if page.number > 1 {
        out.push_str(&link(page.number - 1, "\u{ab} Previous", "prev"));
        out.push_str(" \u{b7} ");
    }
    out.push_str(&format!(
        "Page {} of {} (entries {}\u{2013}{})",
        page.number,
        page.count,
        page.first + 1,
        page.first + page.rows.len()
    ));
    if page.number < page.count {
        out.push_str(" \u{b7} ");
        out.push_str(&link(page.number + 1, "Next \u{bb}", "next"));
    }
    out.push_str("</nav>\n");
}

/// The path as links, one per folder on the way: `/ › a › b`.
fn breadcrumb(dir: &RelPath, out: &mut String) {
    out.push_str("<a href=\"/\">/</a>");
    let mut href = String::from("/");
    for seg in dir.segments() {
        encode_into(seg, &mut href);
        href.push('/');
        out.push_str(" <a href=\"");
        escape_html(&href, out);
        out.push_str("\">");
        escape_name(seg, out);
        out.push_str("/</a>");
    }
}

/// The icon of a row: a folder, or a page coloured by the kind of file
/// its name suggests.
fn icon(name: &str, is_dir: bool) -> String {
    let (symbol, kind) = if is_dir {
        ("i-d", "dir")
    } else {
        ("i-f", kind_of(name))
    };
    format!("<svg class=\"i k-{kind}\"><use href=\"#{symbol}\"/></svg>")
}

/// The kind of file a name suggests, for its icon's colour.
fn kind_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" | "bmp" | "heic" | "avif" => "image",
        "mp3" | "flac" | "ogg" | "wav" | "m4a" | "opus" => "audio",
        "mp4" | "mkv" | "webm" | "mov" | "avi" => "video",
        "zip" | "tar" | "gz" | "tgz" | "xz" | "zst" | "7z" | "rar" | "bz2" => "archive",
        "pdf" => "pdf",
        "txt" | "md" | "log" | "csv" | "doc" | "docx" | "odt" | "rtf" => "text",
        "rs" | "py" | "js" | "ts" | "c" | "h" | "go" | "java" | "sh" | "html" | "css" | "json"
        | "toml" | "yaml" | "yml" | "xml" => "code",
        _ => "file",
    }
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
    use super::assets::sha256_b64;
    use super::*;
    use crate::path::resolve_target;

    fn render_entries(dir: &RelPath, entries: &[Entry], target: &str, writable: bool) -> String {
        let mut l = Listing::new();
        for e in entries {
            l.push(dir, &e.name, e.is_dir, e.size, e.modified, 0);
        }
        render(
            dir,
            &mut l,
            Order::from_target(target),
            page_of(target),
            if writable {
                Controls::ALL
            } else {
                Controls::READ
            },
            false,
        )
    }

    #[test]
    fn escapes_and_sorts() {
        let entries = vec![
            Entry {
                name: "b.txt".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "<script>alert(1)<script>".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "sub".into(),
                is_dir: true,
                size: 0,
                modified: None,
            },
            Entry {
                name: ".secret".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
            Entry {
                name: "a\"b".into(),
                is_dir: false,
                size: 3,
                modified: None,
            },
        ];
        let mut entries = entries;
        entries.push(Entry {
            name: "&amp;.txt".into(),
            is_dir: false,
            size: 1,
            modified: None,
        });
        entries.push(Entry {
            name: "evil\u{202e}txt.exe".into(),
            is_dir: false,
            size: 2,
            modified: None,
        });
        let html = render_entries(
            &resolve_target("/d%20x/").unwrap(),
            &entries,
            "/d%20x/",
            false,
        );
        // `&` in a name is escaped inside the href too.
        assert!(html
            .contains("href=\"/d%20x/&amp;amp;.txt\" title=\"&amp;amp;.txt\">&amp;amp;.txt</a>"));
        // A bidi override is shown, not obeyed.
        assert!(!html.contains('\u{202e}'));
        assert!(html.contains("evil\\u{202e}txt.exe"));
        // The only script is pared's own (the local-time one, read-only).
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains(&format!("<script>{TIME_SCRIPT}</script>")));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;script&gt;"));
        assert!(html.contains("href=\"/d%20x/%3Cscript%3Ealert(1)%3Cscript%3E\""));
        assert!(html.contains("href=\"/d%20x/a%22b\" title=\"a&quot;b\">a&quot;b</a>"));
        assert!(!html.contains("secret"));
        assert!(html.contains("<title>Index of /d x/</title>"));
        let sub = html.find("sub/").unwrap();
        assert!(sub < html.find("b.txt").unwrap(), "directories first");
        assert!(html.contains("href=\"../\""));
    }

    #[test]
    fn table_sorting_and_units() {
        let t = |s: u64| Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        let entries = vec![
            Entry {
                name: "small".into(),
                is_dir: false,
                size: 10,
                modified: t(300),
            },
            Entry {
                name: "big".into(),
                is_dir: false,
                size: 5000,
                modified: t(100),
            },
            Entry {
                name: "zdir".into(),
                is_dir: true,
                size: 0,
                modified: t(200),
            },
        ];
        let dir = resolve_target("/").unwrap();
        let pos = |html: &str, n: &str| html.find(&format!(">{n}<")).unwrap_or(usize::MAX);
        let by_size = render_entries(&dir, &entries, "/?sort=size&order=desc", false);
        assert!(
            pos(&by_size, "zdir/") < pos(&by_size, "big"),
            "directories first"
        );
        assert!(pos(&by_size, "big") < pos(&by_size, "small"));
        let by_time = render_entries(&dir, &entries, "/?sort=time", false);
        assert!(pos(&by_time, "big") < pos(&by_time, "small"));
        assert!(by_size.contains("title=\"5000 bytes\">4.9 KiB<"));
        assert!(by_size.contains("1970-01-01T00:01:40Z"));
        assert!(by_size.contains("1 folder, 2 files, 4.9 KiB in all"));
        // The current column's header link flips the order.
        assert!(by_size.contains("href=\"?sort=size&amp;order=asc\""));
        assert!(
            !by_size.contains("href=\"../\""),
            "no parent row at the root"
        );
        assert_eq!(
            Order::from_target("/x?sort=bogus&order=up").key,
            SortKey::Name
        );
        assert_eq!(human_size(1023), "1023 B");
        // The CSP allows exactly the inline style and script.
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains(&format!(
            "script-src 'sha256-{}' 'sha256-{}'",
            sha256_b64(SCRIPT),
            sha256_b64(TIME_SCRIPT)
        )));
        assert!(!csp.contains("unsafe"));
        assert!(
            !by_size.contains(SCRIPT) && !by_size.contains("<button type=\"button\""),
            "no controls without writes"
        );
        assert!(
            by_size.contains("<input type=\"search\" name=\"q\""),
            "a search box for everyone"
        );
        assert!(by_size.contains("<a href=\"?archive=tar\" download>tar</a>"));
        assert!(by_size.contains("<a href=\"?archive=zip\" download>zip</a>"));
        let w = render_entries(&dir, &entries, "/", true);
        assert!(w.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(!w.contains(&format!("<script>{TIME_SCRIPT}</script>")));
        assert!(w.contains("<td class=\"d\"></td>"));
        assert!(w.contains("id=\"mkdir\""));
        assert!(w.contains("id=\"files\"") && w.contains("webkitdirectory"));
    }

    #[test]
    fn long_folders_are_paged_with_totals_over_all() {
        let dir = resolve_target("/big/").unwrap();
        let entries: Vec<Entry> = (0..2345)
            .map(|i| Entry {
                name: format!("n{i:04}"),
                is_dir: false,
                size: 1,
                modified: None,
            })
            .collect();
        let first = render_entries(&dir, &entries, "/big/", false);
        assert_eq!(first.matches("<tr><td class=\"n\"><svg").count(), PAGE_SIZE);
        assert!(first.contains(">n0999<") && !first.contains(">n1000<"));
        assert!(first.contains("0 folders, 2345 files, 2.3 KiB in all"));
        assert!(first.contains("Page 1 of 3 (entries 1\u{2013}1000)"));
        assert!(first.contains("rel=\"next\" href=\"?sort=name&amp;order=asc&amp;page=2\""));
        assert!(!first.contains("rel=\"prev\""));
        let last = render_entries(&dir, &entries, "/big/?sort=name&order=desc&page=3", false);
        assert!(last.contains(">n0000<") && !last.contains(">n0345<"));
        assert!(last.contains("Page 3 of 3 (entries 2001\u{2013}2345)"));
        assert!(last.contains("rel=\"prev\" href=\"?sort=name&amp;order=desc&amp;page=2\""));
        assert!(!last.contains("rel=\"next\""));
        let short = render_entries(&dir, &entries[..3], "/big/", false);
        assert!(!short.contains("class=\"pages\""), "one page: no pager");
    }
}
