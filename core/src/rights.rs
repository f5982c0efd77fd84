//! Who may do what where: rights, and rules that grant them per path
//! prefix to everyone (`*`) or to one user.
//!
//! The model, as the README explains it with examples:
//! - Five rights: read (list and download), create (add new names only,
//!   never replace: a drop box), write (create and replace), delete, and
//!   manage (move, rename, lock). Write includes create.
//! - A rule grants rights on a path prefix, matched by whole segments
//!   (`/photos` covers `/photos/2024/a.jpg`, not `/photosynthesis`).
//! - A visitor's rights on a path are those of the longest matching rule
//!   for everyone (`*`), plus, for a logged-in user, those of the longest
//!   matching rule naming them. Where no rule matches, nothing is allowed.
//! - An action on a whole tree (DELETE or MOVE of a folder) needs its
//!   right at the folder and at every rule's prefix beneath it, so a rule
//!   deeper down cannot be bypassed from above.
//!
//! Pure: the host asks; nothing here touches the file system.

use std::fmt;

use crate::path::RelPath;

/// One right a method needs at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// List and download.
    Read,
    /// Add a new name (never replace).
    Create,
    /// Create, and replace what exists.
    Write,
    /// Remove.
    Delete,
    /// Move, rename, lock.
    Manage,
}

impl Right {
    /// Every right, in the order they are listed.
    pub const ALL: [Right; 5] = [
        Right::Read,
        Right::Create,
        Right::Write,
        Right::Delete,
        Right::Manage,
    ];

    /// The right's name, as rules spell it.
    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Create => "create",
            Right::Write => "write",
            Right::Delete => "delete",
            Right::Manage => "manage",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Right::Read => 1,
            Right::Create => 2,
            Right::Write => 4,
            Right::Delete => 8,
            Right::Manage => 16,
        }
    }
}

/// A set of rights. Write always brings create with it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No right at all.
    pub const NONE: Rights = Rights(0);
    /// Every right.
    pub const ALL: Rights = Rights(31);
    /// Read only.
    pub const READ: Rights = Rights(1);
    /// A drop box: create only.
    pub const CREATE: Rights = Rights(2);

    /// The set holding `right` (and create, for write).
    pub fn of(right: Right) -> Rights {
        Rights(right.bit()).normalized()
    }

    fn normalized(self) -> Rights {
        if self.0 & Right::Write.bit() != 0 {
            Rights(self.0 | Right::Create.bit())
        } else {
            self
        }
    }

    /// True when the set holds `right`.
    pub fn allows(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    /// Both sets together.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// The set without anything that changes the tree (`--read-only`).
    pub fn without_writes(self) -> Rights {
        Rights(self.0 & Right::Read.bit())
    }

    /// True when the set holds nothing.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses names separated by commas or spaces: `read`, `create`,
    /// `write`, `delete`, `manage`, `all`, `none`.
    pub fn parse(s: &str) -> Result<Rights, RuleError> {
        let mut set = Rights::NONE;
        let mut any = false;
        for word in s.split([',', ' ', '+']).filter(|w| !w.is_empty()) {
            any = true;
            let w = word.to_ascii_lowercase();
            set = set.union(match w.as_str() {
                "all" => Rights::ALL,
                "none" => Rights::NONE,
                _ => match Right::ALL.iter().find(|r| r.name() == w) {
                    Some(r) => Rights::of(*r),
                    None => return Err(RuleError::UnknownRight(word.to_owned())),
                },
            });
        }
        if !any {
            return Err(RuleError::NoRights);
        }
        Ok(set)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights({self})")
    }
}

impl fmt::Display for Rights {
    /// `read,create,write` or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Right::ALL
            .iter()
            .filter(|r| self.allows(**r))
            .map(|r| r.name())
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// Whom a rule is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// Every visitor, logged in or not (`*`).
    Everyone,
    /// One user, once logged in.
    User(String),
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// Not `WHO:RIGHTS:PATH`.
    #[error("expected WHO:RIGHTS:PATH, e.g. '*:read:/' or 'alice:read,write:/team/'")]
    Malformed,
    /// A right with no such name.
    #[error("unknown right {0:?} (read, create, write, delete, manage, all, none)")]
    UnknownRight(String),
    /// An empty list of rights.
    #[error("no rights named (use none to grant nothing)")]
    NoRights,
    /// A path that does not start with `/`, or has `.` or `..` segments.
    #[error("path {0:?} must start with / and have no . or .. segments")]
    BadPath(String),
    /// An empty user name, or one with `:` or a control character.
    #[error("invalid user name {0:?}")]
    BadUser(String),
}

/// One rule: `who` gets `rights` on everything under `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The path prefix's segments (decoded), empty for the root.
    pub prefix: Vec<String>,
    /// Whom it is for.
    pub who: Principal,
    /// What it grants.
    pub rights: Rights,
}

impl Rule {
    /// A rule for `who` on `path` (a URL path from `/`, decoded).
    pub fn new(who: Principal, rights: Rights, path: &str) -> Result<Rule, RuleError> {
        if let Principal::User(name) = &who {
            if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
                return Err(RuleError::BadUser(name.clone()));
            }
        }
        Ok(Rule {
            prefix: prefix_segments(path)?,
            who,
            rights: rights.normalized(),
        })
    }

    /// Parses `WHO:RIGHTS:PATH`: `*` or a user name, rights as in
    /// [`Rights::parse`], and a path from `/` (which may hold `:`).
    pub fn parse(s: &str) -> Result<Rule, RuleError> {
        let mut parts = s.splitn(3, ':');
        let (Some(who), Some(rights), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(RuleError::Malformed);
        };
        let who = match who.trim() {
            "*" => Principal::Everyone,
            name => Principal::User(name.to_owned()),
        };
        Rule::new(who, Rights::parse(rights)?, path.trim())
    }

    /// The prefix as a URL path (`/`, `/photos/`).
    pub fn path(&self) -> String {
        let mut p = String::from("/");
        for s in &self.prefix {
            p.push_str(s);
            p.push('/');
        }
        p
    }

    fn matches(&self, path: &[String]) -> bool {
        path.len() >= self.prefix.len() && path[..self.prefix.len()] == self.prefix[..]
    }

    fn applies_to(&self, user: Option<&str>) -> bool {
        match &self.who {
            Principal::Everyone => true,
            Principal::User(name) => user == Some(name.as_str()),
        }
    }
}

impl fmt::Display for Rule {
    /// `WHO:RIGHTS:PATH`, as [`Rule::parse`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.who {
            Principal::Everyone => "*",
            Principal::User(u) => u,
        };
        write!(f, "{who}:{}:{}", self.rights, self.path())
    }
}

/// A path's segments as rules compare them: `/a/b/` and `/a/b` are the
/// same prefix.
fn prefix_segments(path: &str) -> Result<Vec<String>, RuleError> {
    let bad = || RuleError::BadPath(path.to_owned());
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let mut out = Vec::new();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." || seg.chars().any(char::is_control) {
            return Err(bad());
        }
        out.push(seg.to_owned());
    }
    Ok(out)
}

/// The rules of a server. Empty means the flags' model (see
/// [`crate::auth::AuthConfig`]) decides instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Rules from a list; a later rule for the same principal and prefix
    /// replaces an earlier one (a flag after a config file's rule, say).
    pub fn new(list: Vec<Rule>) -> Rules {
        let mut rules: Vec<Rule> = Vec::with_capacity(list.len());
        for r in list {
            match rules
                .iter_mut()
                .find(|o| o.who == r.who && o.prefix == r.prefix)
            {
                Some(o) => *o = r,
                None => rules.push(r),
            }
        }
        Rules { rules }
    }

    /// True when no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// The users the rules name.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter_map(|r| match &r.who {
            Principal::User(u) => Some(u.as_str()),
            Principal::Everyone => None,
        })
    }

    /// What `user` (`None`: an anonymous visitor) may do at `path`.
    pub fn rights(&self, path: &RelPath, user: Option<&str>) -> Rights {
        self.rights_at(path.segments(), user)
    }

    fn rights_at(&self, path: &[String], user: Option<&str>) -> Rights {
        let longest = |everyone: bool| {
            self.rules
                .iter()
                .filter(|r| (r.who == Principal::Everyone) == everyone)
                .filter(|r| r.applies_to(user) && r.matches(path))
                .max_by_key(|r| r.prefix.len())
                .map_or(Rights::NONE, |r| r.rights)
        };
        let mut rights = longest(true);
        if user.is_some() {
            rights = rights.union(longest(false));
        }
        rights
    }

    /// True when `user` holds `right` on `path` and on everything beneath
    /// it: at `path`, and at every rule's prefix below it.
    pub fn allows_tree(&self, path: &RelPath, user: Option<&str>, right: Right) -> bool {
        let base = path.segments();
        self.rights_at(base, user).allows(right)
            && self
                .rules
                .iter()
                .filter(|r| r.prefix.len() > base.len() && r.prefix[..base.len()] == base[..])
                .all(|r| self.rights_at(&r.prefix, user).allows(right))
    }

    /// True when a walk of the tree at `path` must check each folder (a
    /// rule lies beneath it); otherwise the rights at `path` hold for all
    /// of it.
    pub fn varies_below(&self, path: &RelPath) -> bool {
        let base = path.segments();
        self.rules
            .iter()
            .any(|r| r.prefix.len() > base.len() && r.prefix[..base.len()] == base[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::resolve_target;
    use proptest::prelude::*;

    fn p(s: &str) -> RelPath {
        resolve_target(s).unwrap()
    }

    fn rules(list: &[&str]) -> Rules {
        Rules::new(list.iter().map(|r| Rule::parse(r).unwrap()).collect())
    }

    #[test]
    fn rights_parse_and_print() {
        assert_eq!(Rights::parse("read").unwrap(), Rights::READ);
        assert_eq!(Rights::parse("write").unwrap().to_string(), "create,write");
        assert_eq!(
            Rights::parse("read, delete+manage").unwrap().to_string(),
            "read,delete,manage"
        );
        assert_eq!(Rights::parse("all").unwrap(), Rights::ALL);
        assert_eq!(Rights::parse("none").unwrap(), Rights::NONE);
        assert_eq!(
            Rights::parse("rwx"),
            Err(RuleError::UnknownRight("rwx".into()))
        );
        assert_eq!(Rights::parse(" , "), Err(RuleError::NoRights));
    }

    #[test]
    fn rules_parse_and_refuse() {
        let r = Rule::parse("alice:read,write:/team/a:b/").unwrap();
        assert_eq!(r.who, Principal::User("alice".into()));
        assert_eq!(r.prefix, vec!["team".to_owned(), "a:b".to_owned()]);
        assert_eq!(r.to_string(), "alice:read,create,write:/team/a:b/");
        assert_eq!(
            Rule::parse("*:read:/").unwrap().prefix,
            Vec::<String>::new()
        );
        assert_eq!(Rule::parse("*:read"), Err(RuleError::Malformed));
        assert!(matches!(
            Rule::parse("*:read:photos"),
            Err(RuleError::BadPath(_))
        ));
        assert!(matches!(
            Rule::parse("*:read:/a/../b"),
            Err(RuleError::BadPath(_))
        ));
        assert!(matches!(Rule::parse(":read:/"), Err(RuleError::BadUser(_))));
    }

    #[test]
    fn longest_prefix_wins_per_principal_and_users_add_to_everyone() {
        let r = rules(&[
            "*:read:/",
            "*:none:/private",
            "*:create:/drop/",
            "alice:all:/private/",
            "bob:read,write:/team/",
            "bob:read:/team/archive",
        ]);
        assert_eq!(r.rights(&p("/a.txt"), None), Rights::READ);
        assert_eq!(r.rights(&p("/private/x"), None), Rights::NONE);
        assert_eq!(r.rights(&p("/privateer"), None), Rights::READ);
        assert_eq!(r.rights(&p("/private/x"), Some("alice")), Rights::ALL);
        assert_eq!(r.rights(&p("/private/x"), Some("bob")), Rights::NONE);
        assert_eq!(r.rights(&p("/drop/f"), None), Rights::CREATE);
        // bob: everyone's read on / plus his own, longest first.
        assert!(r.rights(&p("/team/x"), Some("bob")).allows(Right::Write));
        assert!(!r
            .rights(&p("/team/archive/x"), Some("bob"))
            .allows(Right::Write));
        assert!(r
            .rights(&p("/team/archive/x"), Some("bob"))
            .allows(Right::Read));
    }

    #[test]
    fn no_rule_no_right() {
        let r = rules(&["alice:all:/home/alice/"]);
        assert_eq!(r.rights(&p("/"), None), Rights::NONE);
        assert_eq!(r.rights(&p("/"), Some("alice")), Rights::NONE);
        assert_eq!(r.rights(&p("/home/alice/x"), Some("alice")), Rights::ALL);
        assert_eq!(r.rights(&p("/home/alice/x"), Some("eve")), Rights::NONE);
    }

    #[test]
    fn a_tree_needs_the_right_beneath_too() {
        let r = rules(&["bob:all:/team/", "bob:read:/team/keep/"]);
        assert!(r.allows_tree(&p("/team/other/"), Some("bob"), Right::Delete));
        assert!(!r.allows_tree(&p("/team/"), Some("bob"), Right::Delete));
        assert!(r.varies_below(&p("/team/")));
        assert!(!r.varies_below(&p("/team/keep/")));
    }

    #[test]
    fn a_later_rule_replaces_the_same_one() {
        let r = rules(&["*:read:/", "*:read,create:/"]);
        assert_eq!(r.iter().count(), 1);
        assert!(r.rights(&p("/x"), None).allows(Right::Create));
    }

    proptest! {
        /// A user never has fewer rights than an anonymous visitor, and
        /// rights never depend on users the rules do not name.
        #[test]
        fn users_only_add(path in "(/[a-c]{1,2}){0,4}", user in "[a-d]") {
            let r = rules(&["*:read:/", "*:none:/a", "b:all:/a/b", "c:create:/", "*:delete:/c/a"]);
            let path = p(if path.is_empty() { "/" } else { &path });
            let anon = r.rights(&path, None);
            let logged = r.rights(&path, Some(&user));
            prop_assert_eq!(logged.union(anon), logged);
            if user == "d" || user == "a" {
                prop_assert_eq!(logged, anon);
            }
        }

        /// Parsing what a rule prints gives the rule back.
        #[test]
        fn printed_rules_parse_back(
            who in "[*]|[a-z]{1,6}",
            bits in 0u8..32,
            segs in proptest::collection::vec("[a-z:]{1,5}", 0..4),
        ) {
            let path = format!("/{}", segs.join("/"));
            let rights = Rights(bits).normalized();
            let who = if who == "*" { Principal::Everyone } else { Principal::User(who) };
            let rule = Rule::new(who, rights, &path).unwrap();
            prop_assert_eq!(Rule::parse(&rule.to_string()).unwrap(), rule);
        }
    }
}
