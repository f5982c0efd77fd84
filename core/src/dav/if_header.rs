//! The WebDAV `If` field (RFC 4918 §10.4): lists of state tokens and
//! entity tags, optionally tagged with the resource they apply to.
//!
//! Invariants: a field that does not parse is an error (400), never
//! "true"; the field is true when any one list is true, and a list is true
//! when every condition in it is; a lock token counts as submitted only
//! where it appears without `Not`.

use crate::head::RequestHead;

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `Not` before it.
    pub not: bool,
    /// What it tests.
    pub test: Test,
}

/// What a condition tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// That this state token (a lock token) is current on the resource.
    Token(String),
    /// That the resource's entity tag is this one (quotes included).
    ETag(String),
}

/// One list, with the resource it is tagged with (an absolute URI or a
/// path), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The resource tag; `None` applies the list to the request's target.
    pub resource: Option<String>,
    /// The conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed If field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IfHeader {
    /// The lists, any one of which must hold.
    pub lists: Vec<List>,
}

/// What a resource looks like to an If field.
#[derive(Debug, Clone, Default)]
pub struct ResourceState {
    /// Its ETag, when it exists.
    pub etag: Option<String>,
    /// The tokens of the locks that cover it.
    pub tokens: Vec<String>,
}

/// An If field that does not parse (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed If field")]
pub struct BadIf;

/// The If field of `req`: `Ok(None)` when absent.
pub fn parse(req: &RequestHead) -> Result<Option<IfHeader>, BadIf> {
    let mut all = String::new();
    for v in req.headers.get_all("if") {
        if !all.is_empty() {
            all.push(' ');
        }
        all.push_str(std::str::from_utf8(v).map_err(|_| BadIf)?);
    }
    if all.is_empty() {
        return Ok(None);
    }
    parse_value(&all).map(Some)
}

fn parse_value(s: &str) -> Result<IfHeader, BadIf> {
    let mut p = s.trim_start();
    let mut lists = Vec::new();
    let mut resource: Option<String> = None;
    let mut tagged = None;
    while !p.is_empty() {
        if let Some(rest) = p.strip_prefix('<') {
            // A resource tag: applies to the lists that follow.
            if tagged == Some(false) {
                return Err(BadIf);
            }
            tagged = Some(true);
            let end = rest.find('>').ok_or(BadIf)?;
            resource = Some(rest[..end].to_owned());
            p = rest[end + 1..].trim_start();
            if !p.starts_with('(') {
                return Err(BadIf);
            }
            continue;
        }
        let rest = p.strip_prefix('(').ok_or(BadIf)?;
        if tagged.is_none() {
            tagged = Some(false);
        }
        let end = rest.find(')').ok_or(BadIf)?;
        let conditions = parse_conditions(&rest[..end])?;
        lists.push(List {
            resource: resource.clone(),
            conditions,
        });
        p = rest[end + 1..].trim_start();
    }
    if lists.is_empty() {
        return Err(BadIf);
    }
    Ok(IfHeader { lists })
}

fn parse_conditions(s: &str) -> Result<Vec<Condition>, BadIf> {
    let mut out = Vec::new();
    let mut p = s.trim();
    while !p.is_empty() {
        let mut not = false;
        if p.len() >= 3 && p[..3].eq_ignore_ascii_case("not") {
            not = true;
            p = p[3..].trim_start();
        }
        let test = if let Some(rest) = p.strip_prefix('<') {
            let end = rest.find('>').ok_or(BadIf)?;
            let t = Test::Token(rest[..end].to_owned());
            p = &rest[end + 1..];
            t
        } else if let Some(rest) = p.strip_prefix('[') {
            let end = rest.find(']').ok_or(BadIf)?;
            let t = Test::ETag(rest[..end].trim().to_owned());
            p = &rest[end + 1..];
            t
        } else {
            return Err(BadIf);
        };
        out.push(Condition { not, test });
        p = p.trim_start();
    }
    if out.is_empty() {
        return Err(BadIf);
    }
    Ok(out)
}

impl IfHeader {
    /// True when any list holds; `state` gives the state of the resource
    /// a list is tagged with (`None`: the request's target).
    pub fn holds(&self, state: &dyn Fn(Option<&str>) -> ResourceState) -> bool {
        self.lists.iter().any(|list| {
            let st = state(list.resource.as_deref());
            list.conditions.iter().all(|c| {
                let matched = match &c.test {
                    Test::Token(t) => st.tokens.iter().any(|x| x == t),
                    Test::ETag(e) => st.etag.as_deref().is_some_and(|cur| etag_eq(cur, e)),
                };
                matched != c.not
            })
        })
    }

    /// The lock tokens the request submits (those not under `Not`).
    pub fn submitted(&self) -> impl Iterator<Item = &str> {
        self.lists.iter().flat_map(|l| {
            l.conditions.iter().filter_map(|c| match &c.test {
                Test::Token(t) if !c.not => Some(t.as_str()),
                _ => None,
            })
        })
    }
}

/// Strong comparison; a weak tag never matches (RFC 4918 §10.4.3 compares
/// entity tags strongly for If).
fn etag_eq(current: &str, given: &str) -> bool {
    !given.starts_with("W/") && current == given
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tokens: &[&str], etag: &str) -> ResourceState {
        ResourceState {
            etag: Some(etag.into()),
            tokens: tokens.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn parses_and_evaluates_lists() {
        let tok = "opaquelocktoken:abc";
        let etag = "\"1-2-3\"";
        let eval = |v: &str| {
            let h = parse_value(v).unwrap();
            h.holds(&|_| state(&[tok], etag))
        };
        assert!(eval(&format!("(<{tok}> [{etag}])")));
        assert!(!eval(&format!("(<DAV:no-lock> [{etag}])")));
        assert!(eval(&format!("(<{tok}>) (Not <DAV:no-lock>)")));
        assert!(eval(&format!("(<{tok}x>) (Not <DAV:no-lock>)")));
        assert!(!eval(&format!(
            "(<{tok}> [\"x\"]) (Not <DAV:no-lock> [\"x\"])"
        )));
        assert!(eval(&format!("<http://h/a> (<{tok}>)")));
        let h = parse_value(&format!("(<{tok}x>) (Not <DAV:no-lock>)")).unwrap();
        assert_eq!(h.submitted().collect::<Vec<_>>(), vec![format!("{tok}x")]);
        for bad in [
            "",
            "(",
            "()",
            "<a>",
            "(x)",
            "(<a>) <b> (<c>",
            "(<a>",
            "([a)",
        ] {
            assert!(parse_value(bad).is_err(), "{bad:?}");
        }
        // Tagged and untagged lists cannot mix.
        assert!(parse_value("<http://h/a> (<t>) (<u>)").is_ok());
        assert!(parse_value("(<t>) <http://h/a> (<u>)").is_err());
    }
}
