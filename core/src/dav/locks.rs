//! WebDAV write locks (RFC 4918 §6, §7): which locks cover a resource,
//! which conflict with a new one, whether a request may write, the
//! `activelock` it is reported as, and the text form the lock table is
//! kept in (shared by every pared process on a root).
//!
//! Invariants: a lock is found only by its root path and depth, so every
//! process reading the same table decides alike; an expired lock is
//! dropped before any decision; a write needs the token of every lock that
//! covers what it changes, submitted by the user who took it.

use super::xml::escape_text;

/// One lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Its token, `urn:uuid:…`.
    pub token: String,
    /// The path it was taken on, `/` separated, without a trailing slash
    /// (`/` for the root).
    pub root: String,
    /// Depth infinity (else 0).
    pub infinite: bool,
    /// Exclusive (else shared).
    pub exclusive: bool,
    /// The owner element's content, as sent.
    pub owner: Option<String>,
    /// The user who took it, when users are configured.
    pub user: Option<String>,
    /// The timeout granted, in seconds.
    pub timeout: u64,
    /// When it expires, in seconds since the epoch.
    pub expires: u64,
}

/// The lock-table key of a path: `/a/b` (no trailing slash), `/` for the
/// root.
pub fn key(href_path: &str) -> String {
    let t = href_path.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_owned()
    }
}

/// True when `path` is `ancestor` or below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

impl Lock {
    /// True when the lock applies to `path`.
    pub fn covers(&self, path: &str) -> bool {
        self.root == path || (self.infinite && is_within(path, &self.root))
    }

    /// The `DAV:activelock` element reporting it, its timeout counted
    /// down from `now` (seconds since the epoch).
    pub fn activelock(&self, href: &str, now: u64) -> String {
        let left = self.expires.saturating_sub(now).max(1);
        let mut s = String::with_capacity(400);
        s.push_str("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>");
        s.push_str(if self.exclusive {
            "<D:exclusive/>"
        } else {
            "<D:shared/>"
        });
        s.push_str("</D:lockscope><D:depth>");
        s.push_str(if self.infinite { "infinity" } else { "0" });
        s.push_str("</D:depth>");
        if let Some(owner) = &self.owner {
            s.push_str("<D:owner>");
            s.push_str(owner);
            s.push_str("</D:owner>");
        }
        s.push_str(&format!("<D:timeout>Second-{left}</D:timeout>"));
        s.push_str("<D:locktoken><D:href>");
        s.push_str(&escape_text(&self.token));
        s.push_str("</D:href></D:locktoken><D:lockroot><D:href>");
        s.push_str(&escape_text(href));
        s.push_str("</D:href></D:lockroot></D:activelock>");
        s
    }
}

/// The locks of `table` that cover `path`.
pub fn covering<'a>(table: &'a [Lock], path: &'a str) -> impl Iterator<Item = &'a Lock> {
    table.iter().filter(move |l| l.covers(path))
}

/// True when a new lock on `path` (`infinite` depth, `exclusive` scope)
/// conflicts with one in `table`: a lock covering `path`, or (for depth
/// infinity) one below it, where either lock is exclusive.
pub fn conflicts(table: &[Lock], path: &str, infinite: bool, exclusive: bool) -> bool {
    table.iter().any(|l| {
        let overlaps = l.covers(path) || (infinite && is_within(&l.root, path));
        overlaps && (exclusive || l.exclusive)
    })
}

/// Whether a request may change `paths` (with everything below each,
/// when `tree`): every lock covering one of them, or below one of them
/// for a tree, must have its token among `submitted`, taken by `user`.
pub fn may_write(
    table: &[Lock],
    paths: &[&str],
    tree: bool,
    submitted: &[&str],
    user: Option<&str>,
) -> bool {
    table.iter().all(|l| {
        let applies = paths
            .iter()
            .any(|p| l.covers(p) || (tree && is_within(&l.root, p)));
        !applies || (submitted.contains(&l.token.as_str()) && l.user.as_deref() == user)
    })
}

/// A new lock token from 16 random bytes: `urn:uuid:` and a version-4 UUID.
pub fn new_token(mut r: [u8; 16]) -> String {
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    let h: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The lock table as text: one lock a line, fields separated by tabs,
/// each escaped so no field holds a tab or a line end.
pub fn encode_table(table: &[Lock]) -> String {
    let mut out = String::new();
    for l in table {
        let fields = [
            l.token.as_str(),
            l.root.as_str(),
            if l.infinite { "infinity" } else { "0" },
            if l.exclusive { "exclusive" } else { "shared" },
            l.owner.as_deref().unwrap_or("\u{0}"),
            l.user.as_deref().unwrap_or("\u{0}"),
        ];
        let mut line: Vec<String> = fields.iter().map(|f| escape_field(f)).collect();
        line.push(l.timeout.to_string());
        line.push(l.expires.to_string());
        out.push_str(&line.join("\t"));
        out.push('\n');
    }
    out
}

/// Reads a table written by [`encode_table`], dropping what expired by
/// `now` and any line that does not parse.
pub fn decode_table(text: &str, now: u64) -> Vec<Lock> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() != 8 {
                return None;
            }
            let opt = |s: &str| (s != "\\0").then(|| unescape_field(s));
            let lock = Lock {
                token: unescape_field(f[0]),
                root: unescape_field(f[1]),
                infinite: f[2] == "infinity",
                exclusive: f[3] == "exclusive",
                owner: opt(f[4]),
                user: opt(f[5]),
                timeout: f[6].parse().ok()?,
                expires: f[7].parse().ok()?,
            };
            (lock.expires > now).then_some(lock)
        })
        .collect()
}

fn escape_field(s: &str) -> String {
    if s == "\u{0}" {
        return "\\0".into();
    }
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The `DAV:supportedlock` value: exclusive and shared write locks.
pub const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// The body of a LOCK answer: the lock discovery of `locks` on `href`.
pub fn lock_answer(locks: &[&Lock], href: &str, now: u64) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>",
    );
    for l in locks {
        s.push_str(&l.activelock(href, now));
    }
    s.push_str("</D:lockdiscovery></D:prop>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(root: &str, infinite: bool, exclusive: bool) -> Lock {
        Lock {
            token: format!("urn:uuid:{root}"),
            root: root.into(),
            infinite,
            exclusive,
            owner: Some("<a xmlns=\"urn:x\">me\ttab</a>".into()),
            user: None,
            timeout: 60,
            expires: 1060,
        }
    }

    #[test]
    fn coverage_and_conflicts() {
        let t = vec![lock("/c", true, true), lock("/f", false, false)];
        assert!(t[0].covers("/c/x/y") && !t[0].covers("/cx"));
        assert!(!t[1].covers("/f/x"));
        assert!(conflicts(&t, "/c/x", false, false));
        assert!(!conflicts(&t, "/f", false, false), "shared beside shared");
        assert!(conflicts(&t, "/f", false, true));
        assert!(conflicts(&t, "/", true, false), "an infinite lock above /c");
        assert!(!conflicts(&t, "/other", true, true));
        let tok = t[0].token.clone();
        assert!(!may_write(&t, &["/c/new"], false, &[], None));
        assert!(may_write(&t, &["/c/new"], false, &[tok.as_str()], None));
        assert!(!may_write(
            &t,
            &["/c/new"],
            false,
            &[tok.as_str()],
            Some("bob")
        ));
        assert!(
            !may_write(&t, &["/"], true, &[tok.as_str()], None),
            "/f is below /"
        );
        assert!(may_write(&t, &["/g"], true, &[], None));
    }

    #[test]
    fn table_round_trips_and_expires() {
        let t = vec![lock("/a\tb", true, true), lock("/", false, false)];
        assert_eq!(decode_table(&encode_table(&t), 1000), t);
        assert!(decode_table(&encode_table(&t), 1060).is_empty());
        assert!(decode_table("garbage\n", 0).is_empty());
        let tok = new_token([0xff; 16]);
        assert_eq!(tok, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(key("/a/b/"), "/a/b");
        assert_eq!(key("/"), "/");
    }
}
