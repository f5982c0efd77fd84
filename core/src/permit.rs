//! Whether a settled visitor (anonymous, or a verified user, perhaps with
//! a share link) may make a request, under the rules of
//! [`crate::rights`], or under the flags' model when no rule is
//! configured.
//!
//! The flags' model, as rules would say it (the README's table):
//! - reads: `*:read:/`, or only logged-in users with `--auth-reads`;
//! - without users: every right for this machine (loopback, with the
//!   DNS-rebinding guard), or for everyone with `--public-writes`;
//! - with users: every right for any logged-in user.
//!
//! A share link adds its grant (read, or create) on its path.

use core::net::IpAddr;

use crate::auth::AuthConfig;
use crate::head::{Method, RequestHead};
use crate::methods::Methods;
use crate::path::{resolve_target, RelPath};
use crate::rights::{Right, Rights};

/// Why a request was refused with 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    /// The visitor lacks this right at the target (or, for DELETE and
    /// MOVE, somewhere beneath it).
    #[error("no {} right here", .0.name())]
    Lacks(Right),
    /// The visitor lacks this right at the `Destination`.
    #[error("no {} right at the destination", .0.name())]
    LacksAtDestination(Right),
    /// A share link came with the request but grants nothing here.
    #[error(transparent)]
    Share(crate::share::ShareError),
}

/// What the visitor may do at the request's target: the rights the page
/// shows controls for.
pub fn rights_here(
    config: &AuthConfig,
    req: &RequestHead,
    peer: IpAddr,
    user: Option<&str>,
    shared: Rights,
) -> Rights {
    if config.rules.is_empty() {
        let read = !config.reads_need_auth || user.is_some();
        let write = crate::auth::writes_allowed(config, req, peer, user.is_some());
        let mut r = if write { Rights::ALL } else { Rights::NONE };
        if read {
            r = r.union(Rights::READ);
        }
        return r.union(shared);
    }
    match resolve_target(&req.target) {
        Ok(path) => config.rules.rights(&path, user).union(shared),
        Err(_) => shared,
    }
}

/// Checks the rules for `req` by `user` (`None`: anonymous) with the
/// rights `shared` by a link at the target. Only for servers with rules;
/// the flags' model is decided by [`crate::auth::access`].
pub fn check_rules(
    config: &AuthConfig,
    methods: &Methods,
    req: &RequestHead,
    user: Option<&str>,
    shared: Rights,
) -> Result<(), Forbidden> {
    let Some(row) = methods.find(&req.method) else {
        return Ok(());
    };
    // A path that does not resolve is answered by the route (400, 404).
    let Ok(path) = resolve_target(&req.target) else {
        return Ok(());
    };
    if let Some(need) = target_need(row, req) {
        if !holds(config, &path, user, need, shared)
            && !drop_box_page(config, req, &path, user, need, shared)
        {
            return Err(Forbidden::Lacks(need));
        }
    }
    if let Some(need) = row.needs.destination {
        // A bad Destination is answered by the method itself.
        if let Ok(dest) = crate::dav::headers::destination(req) {
            let overwrite = req
                .headers
                .get_str("overwrite")
                .map_or(true, |v| !v.trim().eq_ignore_ascii_case("f"));
            if !holds(config, &dest, user, need, Rights::NONE) {
                return Err(Forbidden::LacksAtDestination(need));
            }
            // Replacing what is there is write, unless the method may
            // only create (`Overwrite: F`).
            if overwrite
                && need == Right::Create
                && !holds(config, &dest, user, Right::Write, Rights::NONE)
            {
                return Err(Forbidden::LacksAtDestination(Right::Write));
            }
        }
    }
    Ok(())
}

/// The right a request needs at its target: its row's, except that
/// every request about a resumable upload (`?upload=`: its offset, its
/// cancel) needs what making it needed, create.
pub fn target_need(row: &crate::methods::Row, req: &RequestHead) -> Option<Right> {
    if crate::resumable::upload_id(&req.target).is_some() {
        return Some(Right::Create);
    }
    row.needs.target
}

/// True for a GET or HEAD of a folder's page by a visitor who may add
/// files there but not read it: they get the page's upload controls and
/// none of its contents (the host sees to that).
pub fn drop_box_page(
    config: &AuthConfig,
    req: &RequestHead,
    path: &RelPath,
    user: Option<&str>,
    need: Right,
    shared: Rights,
) -> bool {
    need == Right::Read
        && matches!(req.method, Method::Get | Method::Head)
        && path.has_trailing_slash()
        && holds(config, path, user, Right::Create, shared)
}

/// True when `user` holds `need` at `path` (and, for removing or moving
/// a tree, beneath it too), rules and share together.
fn holds(
    config: &AuthConfig,
    path: &RelPath,
    user: Option<&str>,
    need: Right,
    shared: Rights,
) -> bool {
    if shared.allows(need) {
        return true;
    }
    match need {
        Right::Delete | Right::Manage => config.rules.allows_tree(path, user, need),
        _ => config.rules.rights(path, user).allows(need),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::Version;
    use crate::rights::{Rule, Rules};

    fn req(method: &str, target: &str, extra: &[(&str, &str)]) -> RequestHead {
        let mut r = RequestHead::new(Method::from_token(method), target, Version::Http11);
        r.headers.append("Host", "localhost");
        for (n, v) in extra {
            r.headers.append(n, v);
        }
        r
    }

    fn config(rules: &[&str]) -> AuthConfig {
        AuthConfig {
            rules: Rules::new(rules.iter().map(|r| Rule::parse(r).unwrap()).collect()),
            ..AuthConfig::default()
        }
    }

    #[test]
    fn each_method_family_needs_its_right() {
        let c = config(&[
            "*:read:/",
            "*:create:/drop/",
            "ann:all:/team/",
            "ann:read:/team/keep/",
        ]);
        let m = Methods::standard();
        let check = |method: &str, target: &str, user: Option<&str>, h: &[(&str, &str)]| {
            check_rules(&c, &m, &req(method, target, h), user, Rights::NONE)
        };
        assert_eq!(check("GET", "/a", None, &[]), Ok(()));
        assert_eq!(check("OPTIONS", "/a", None, &[]), Ok(()));
        assert_eq!(
            check("PUT", "/a", None, &[]),
            Err(Forbidden::Lacks(Right::Create))
        );
        assert_eq!(check("PUT", "/drop/a", None, &[]), Ok(()));
        assert_eq!(check("MKCOL", "/drop/sub/", None, &[]), Ok(()));
        assert_eq!(
            check("DELETE", "/drop/a", None, &[]),
            Err(Forbidden::Lacks(Right::Delete))
        );
        assert_eq!(check("DELETE", "/team/x", Some("ann"), &[]), Ok(()));
        // The folder holds /team/keep/, where ann may only read.
        assert_eq!(
            check("DELETE", "/team/", Some("ann"), &[]),
            Err(Forbidden::Lacks(Right::Delete))
        );
        let to = |d: &'static str| [("Destination", d)];
        assert_eq!(
            check("MOVE", "/team/a", Some("ann"), &to("/team/b")),
            Ok(())
        );
        assert_eq!(
            check("MOVE", "/team/a", Some("ann"), &to("/drop/b")),
            Err(Forbidden::LacksAtDestination(Right::Manage))
        );
        // COPY into a drop box: only without overwriting.
        assert_eq!(
            check("COPY", "/a", None, &to("/drop/a")),
            Err(Forbidden::LacksAtDestination(Right::Write))
        );
        assert_eq!(
            check(
                "COPY",
                "/a",
                None,
                &[("Destination", "/drop/a"), ("Overwrite", "F")]
            ),
            Ok(())
        );
        assert_eq!(
            check("LOCK", "/team/a", None, &[]),
            Err(Forbidden::Lacks(Right::Manage))
        );
        // A share link's grant stands in for the rules at its path.
        assert_eq!(
            check_rules(&c, &m, &req("PUT", "/x", &[]), None, Rights::CREATE),
            Ok(())
        );
    }

    #[test]
    fn the_page_shows_what_the_rules_allow() {
        let c = config(&["*:read:/", "ann:read,delete:/"]);
        let peer: IpAddr = [192, 0, 2, 1].into();
        let r = req("GET", "/", &[]);
        assert_eq!(rights_here(&c, &r, peer, None, Rights::NONE), Rights::READ);
        let ann = rights_here(&c, &r, peer, Some("ann"), Rights::NONE);
        assert!(ann.allows(Right::Delete) && !ann.allows(Right::Create));
        // Without rules: the flags' model.
        let flags = AuthConfig::default();
        assert_eq!(
            rights_here(&flags, &r, peer, None, Rights::NONE),
            Rights::READ
        );
        let local: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(
            rights_here(&flags, &r, local, None, Rights::NONE),
            Rights::ALL
        );
    }
}
