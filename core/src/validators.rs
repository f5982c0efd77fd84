//! Validators and preconditions (RFC 9110 §8.8 and §13): the strong ETag
//! of a file version, entity-tag lists, and the evaluation of
//! `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since`
//! and `If-Range` in the order of RFC 9110 §13.2.2.
//!
//! Invariants: an ETag is a pure function of a [`FileVersion`] (the
//! storage's file id, size and modification time in nanoseconds; never a
//! device number), so every pared process on one root, on one host or on
//! several mounting the same shared file system, computes the same tag
//! for the same file, and a replaced or rewritten file gets a new one. A header that does not parse never makes a
//! precondition pass: If-Match and If-Range then fail, and the date
//! conditions are ignored, as the RFC says.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::head::{Method, RequestHead};

/// One version of one file, as storage reports it: opaque to the
/// decisions, which only compare versions and turn them into ETags.
///
/// On a local or shared POSIX file system the id is the inode number,
/// which every mount of the same file system reports alike (the device
/// number does not, so it is never part of a version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileVersion {
    id: u64,
    len: u64,
    mtime_ns: u128,
}

impl FileVersion {
    /// The version of the file storage knows as `id`, `len` bytes long,
    /// last modified `mtime_ns` nanoseconds after the epoch (0 if unknown).
    pub const fn new(id: u64, len: u64, mtime_ns: u128) -> FileVersion {
        FileVersion { id, len, mtime_ns }
    }

    /// The storage's id of the file (the same for every version of it).
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// The strong entity tag of this version, quotes included:
    /// `"id-len-mtime"`, all hexadecimal.
    pub fn etag(&self) -> String {
        format!("\"{:x}-{:x}-{:x}\"", self.id, self.len, self.mtime_ns)
    }
}

/// Nanoseconds since the epoch of `t` (0 before the epoch).
pub fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// One entity tag from a list: its opaque part (with quotes) and weakness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// True for `W/"…"`.
    pub weak: bool,
    /// The quoted opaque tag, e.g. `"abc"`.
    pub opaque: &'a str,
}

impl EntityTag<'_> {
    /// Strong comparison: both strong and the same opaque tag.
    pub fn strong_eq(&self, current: &str) -> bool {
        !self.weak && self.opaque == current
    }

    /// Weak comparison: the same opaque tag, weakness ignored.
    pub fn weak_eq(&self, current: &str) -> bool {
        self.opaque == current
    }
}

/// A parsed `If-Match` / `If-None-Match` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList<'a> {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags.
    Tags(Vec<EntityTag<'a>>),
}

/// Parses one entity tag at the start of `s`; returns it and the rest.
fn entity_tag(s: &str) -> Option<(EntityTag<'_>, &str)> {
    let (weak, rest) = match s.strip_prefix("W/") {
        Some(r) => (true, r),
        None => (false, s),
    };
    let body = rest.strip_prefix('"')?;
    let end = body.find('"')?;
    // etagc = %x21 / %x23-7E / obs-text: no controls, spaces or quotes.
    if !body.as_bytes()[..end]
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
    {
        return None;
    }
    let opaque = &rest[..end + 2];
    Some((EntityTag { weak, opaque }, &rest[end + 2..]))
}

/// Parses `*` or a comma-separated list of entity tags (empty elements
/// allowed, as in any HTTP list); `None` when it does not parse.
pub fn parse_tag_list(value: &str) -> Option<TagList<'_>> {
    let v = value.trim_matches([' ', '\t']);
    if v == "*" {
        return Some(TagList::Any);
    }
    let mut tags = Vec::new();
    let mut rest = v;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (tag, after) = entity_tag(rest)?;
        tags.push(tag);
        let after = after.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        rest = after;
    }
    if tags.is_empty() {
        return None;
    }
    Some(TagList::Tags(tags))
}

/// The combined value of every field named `name` (a list field may be
/// split over several lines), or `None` when absent or not UTF-8.
fn joined(req: &RequestHead, name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for v in req.headers.get_all(name) {
        let v = std::str::from_utf8(v).ok()?;
        match &mut out {
            Some(s) => {
                s.push_str(", ");
                s.push_str(v);
            }
            None => out = Some(v.to_owned()),
        }
    }
    out
}

/// A valid HTTP date in any of the three formats, as whole seconds.
fn http_date(value: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

fn secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// What the file system says about the target when preconditions are
/// evaluated: its strong ETag and Last-Modified (already clamped to now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The strong ETag, quotes included.
    pub etag: String,
    /// The modification time, if known.
    pub modified: Option<SystemTime>,
}

/// The outcome of evaluating a request's preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Perform the method. For a GET, `range` says whether a Range header
    /// may be honoured (true unless If-Range failed).
    Proceed {
        /// False when If-Range did not match: send the whole representation.
        range: bool,
    },
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of `req` against the current representation
/// (`None`: there is none) in the order of RFC 9110 §13.2.2.
///
/// - If-Match: `*` needs a representation; a list needs a strong match.
/// - If-Unmodified-Since (only without If-Match, only a valid date): the
///   representation must exist and be modified at or before the date.
/// - If-None-Match: `*` needs no representation; a list must not match
///   weakly. Failing gives 304 for GET/HEAD, else 412.
/// - If-Modified-Since (GET/HEAD, only without If-None-Match; a valid date
///   not later than `now`): modified after the date, or 304.
/// - If-Range (GET with Range): a strong ETag match, or a date equal to
///   Last-Modified; otherwise the Range is ignored.
pub fn evaluate(req: &RequestHead, current: Option<&Current>, now: SystemTime) -> Outcome {
    let read = matches!(req.method, Method::Get | Method::Head);
    let modified = current.and_then(|c| c.modified).and_then(secs);
    // Step 1 and 2.
    if let Some(v) = joined(req, "if-match") {
        let ok = match (parse_tag_list(&v), current) {
            (Some(TagList::Any), Some(_)) => true,
            (Some(TagList::Tags(tags)), Some(c)) => tags.iter().any(|t| t.strong_eq(&c.etag)),
            _ => false,
        };
        if !ok {
            return Outcome::Failed;
        }
    } else if let Some(since) = req
        .headers
        .get_str("if-unmodified-since")
        .and_then(http_date)
    {
        match (current, modified) {
            (Some(_), Some(m)) if m <= since => {}
            _ => return Outcome::Failed,
        }
    }
    // Step 3 and 4.
    if let Some(v) = joined(req, "if-none-match") {
        let matched = match (parse_tag_list(&v), current) {
            (Some(TagList::Any), Some(_)) => true,
            (Some(TagList::Tags(tags)), Some(c)) => tags.iter().any(|t| t.weak_eq(&c.etag)),
            // Unparseable: the condition cannot be evaluated; treat as true
            // (no match), which performs the method as without it.
            _ => false,
        };
        if matched {
            return if read {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    } else if read {
        let since = req
            .headers
            .get_str("if-modified-since")
            .and_then(http_date)
            .filter(|&s| secs(now).is_some_and(|n| s <= n));
        if let (Some(since), Some(m)) = (since, modified) {
            if m <= since {
                return Outcome::NotModified;
            }
        }
    }
    // Step 5.
    let mut range = true;
    if req.method == Method::Get && req.headers.contains("range") {
        if let Some(v) = req.headers.get_str("if-range") {
            range = if_range_holds(v, current, modified);
        }
    }
    Outcome::Proceed { range }
}

fn if_range_holds(value: &str, current: Option<&Current>, modified: Option<u64>) -> bool {
    let Some(c) = current else { return false };
    let v = value.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return match entity_tag(v) {
            Some((tag, rest)) if rest.trim().is_empty() => tag.strong_eq(&c.etag),
            _ => false,
        };
    }
    matches!((http_date(v), modified), (Some(d), Some(m)) if d == m)
}

/// True when the request carries any precondition a write must check
/// atomically against the current file (If-Match, If-Unmodified-Since, or
/// If-None-Match other than a lone `*`).
pub fn write_needs_lock(req: &RequestHead) -> bool {
    if req.headers.contains("if-match") || req.headers.contains("if-unmodified-since") {
        return true;
    }
    match joined(req, "if-none-match") {
        Some(v) => parse_tag_list(&v) != Some(TagList::Any),
        None => false,
    }
}

/// True when the request asks to create only (`If-None-Match: *`): the
/// store must fail if the target exists at the moment of the rename.
pub fn create_only(req: &RequestHead) -> bool {
    joined(req, "if-none-match").is_some_and(|v| parse_tag_list(&v) == Some(TagList::Any))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::Version as HttpVersion;
    use std::time::Duration;

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn req(method: Method, fields: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(method, "/f", HttpVersion::Http11);
        for (n, v) in fields {
            r.headers.append(n, v);
        }
        r
    }

    fn cur() -> Current {
        Current {
            etag: "\"a-b\"".into(),
            modified: Some(t(1_000_000)),
        }
    }

    const NOW: u64 = 2_000_000;
    const LM: &str = "Mon, 12 Jan 1970 13:46:40 GMT"; // 1_000_000
    const LATER: &str = "Tue, 13 Jan 1970 13:46:40 GMT";
    const EARLIER: &str = "Sun, 11 Jan 1970 13:46:40 GMT";

    fn eval(m: Method, f: &[(&str, &str)], c: Option<&Current>) -> Outcome {
        evaluate(&req(m, f), c, t(NOW))
    }

    const GO: Outcome = Outcome::Proceed { range: true };

    #[test]
    fn tags() {
        assert_eq!(parse_tag_list(" * "), Some(TagList::Any));
        let Some(TagList::Tags(v)) = parse_tag_list("W/\"x\", \"y\",,") else {
            panic!()
        };
        assert_eq!(v.len(), 2);
        assert!(v[0].weak && v[0].opaque == "\"x\"");
        assert!(!v[0].strong_eq("\"x\"") && v[0].weak_eq("\"x\""));
        assert!(v[1].strong_eq("\"y\""));
        for bad in ["", "x", "\"a", "\"a\" b", "\"a b\"", "*, \"a\""] {
            assert_eq!(parse_tag_list(bad), None, "{bad:?}");
        }
        let v = FileVersion::new(2, 3, 4);
        assert_eq!(v.etag(), "\"2-3-4\"");
        for w in [
            FileVersion::new(9, 3, 4),
            FileVersion::new(2, 9, 4),
            FileVersion::new(2, 3, 9),
        ] {
            assert_ne!(w.etag(), v.etag());
        }
    }

    #[test]
    fn if_match() {
        let c = cur();
        assert_eq!(eval(Method::Put, &[("If-Match", "*")], Some(&c)), GO);
        assert_eq!(
            eval(Method::Put, &[("If-Match", "*")], None),
            Outcome::Failed
        );
        assert_eq!(eval(Method::Put, &[("If-Match", "\"a-b\"")], Some(&c)), GO);
        assert_eq!(
            eval(Method::Put, &[("If-Match", "W/\"a-b\"")], Some(&c)),
            Outcome::Failed,
            "If-Match uses strong comparison"
        );
        assert_eq!(
            eval(
                Method::Get,
                &[("If-Match", "\"x\""), ("If-Match", "\"a-b\"")],
                Some(&c)
            ),
            GO
        );
        assert_eq!(
            eval(Method::Get, &[("If-Match", "garbage")], Some(&c)),
            Outcome::Failed
        );
        // If-Match wins over If-Unmodified-Since.
        assert_eq!(
            eval(
                Method::Put,
                &[("If-Match", "\"a-b\""), ("If-Unmodified-Since", EARLIER)],
                Some(&c)
            ),
            GO
        );
    }

    #[test]
    fn if_unmodified_since() {
        let c = cur();
        let ius = |d| eval(Method::Delete, &[("If-Unmodified-Since", d)], Some(&c));
        assert_eq!(ius(LM), GO);
        assert_eq!(ius(LATER), GO);
        assert_eq!(ius(EARLIER), Outcome::Failed);
        assert_eq!(ius("not a date"), GO, "an invalid date is ignored");
        assert_eq!(
            eval(Method::Put, &[("If-Unmodified-Since", LATER)], None),
            Outcome::Failed
        );
    }

    #[test]
    fn if_none_match() {
        let c = cur();
        assert_eq!(
            eval(Method::Get, &[("If-None-Match", "W/\"a-b\"")], Some(&c)),
            Outcome::NotModified,
            "weak comparison"
        );
        assert_eq!(
            eval(Method::Head, &[("If-None-Match", "*")], Some(&c)),
            Outcome::NotModified
        );
        assert_eq!(
            eval(Method::Put, &[("If-None-Match", "*")], Some(&c)),
            Outcome::Failed
        );
        assert_eq!(eval(Method::Put, &[("If-None-Match", "*")], None), GO);
        assert_eq!(
            eval(Method::Get, &[("If-None-Match", "\"z\"")], Some(&c)),
            GO
        );
        // If-None-Match present: If-Modified-Since is ignored.
        assert_eq!(
            eval(
                Method::Get,
                &[("If-None-Match", "\"z\""), ("If-Modified-Since", LATER)],
                Some(&c)
            ),
            GO
        );
        // If-Match is evaluated first.
        assert_eq!(
            eval(
                Method::Get,
                &[("If-Match", "\"z\""), ("If-None-Match", "\"a-b\"")],
                Some(&c)
            ),
            Outcome::Failed
        );
    }

    #[test]
    fn if_modified_since() {
        let c = cur();
        let ims = |m, d| eval(m, &[("If-Modified-Since", d)], Some(&c));
        assert_eq!(ims(Method::Get, LM), Outcome::NotModified);
        assert_eq!(ims(Method::Get, EARLIER), GO);
        assert_eq!(ims(Method::Put, LM), GO, "only for GET and HEAD");
        assert_eq!(
            ims(Method::Get, "Tue, 14 Nov 2090 22:13:20 GMT"),
            GO,
            "a future date is ignored"
        );
    }

    #[test]
    fn if_range() {
        let c = cur();
        let ir = |v| {
            eval(
                Method::Get,
                &[("Range", "bytes=0-1"), ("If-Range", v)],
                Some(&c),
            )
        };
        assert_eq!(ir("\"a-b\""), GO);
        assert_eq!(ir("W/\"a-b\""), Outcome::Proceed { range: false });
        assert_eq!(ir("\"zz\""), Outcome::Proceed { range: false });
        assert_eq!(ir(LM), GO);
        assert_eq!(ir(LATER), Outcome::Proceed { range: false });
        assert_eq!(ir("junk"), Outcome::Proceed { range: false });
        // Without Range, If-Range changes nothing.
        assert_eq!(eval(Method::Get, &[("If-Range", "\"zz\"")], Some(&c)), GO);
    }

    #[test]
    fn write_guards() {
        assert!(create_only(&req(Method::Put, &[("If-None-Match", "*")])));
        assert!(!write_needs_lock(&req(
            Method::Put,
            &[("If-None-Match", "*")]
        )));
        assert!(write_needs_lock(&req(
            Method::Put,
            &[("If-Match", "\"x\"")]
        )));
        assert!(write_needs_lock(&req(
            Method::Delete,
            &[("If-Unmodified-Since", LM)]
        )));
        assert!(write_needs_lock(&req(
            Method::Put,
            &[("If-None-Match", "\"x\"")]
        )));
        assert!(!write_needs_lock(&req(Method::Put, &[])));
    }
}
