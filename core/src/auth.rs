//! Access control: who may read and write, decided from the request head,
//! the peer's address and the configured users.
//!
//! - Without users, reads are open and writes (PUT, DELETE) are accepted
//!   only from loopback peers, unless `public_writes` opens them to all:
//!   `pared server` in a checkout is not writable from the network by
//!   accident.
//! - With users, writes need valid Basic credentials, and reads too with
//!   `reads_need_auth`. A missing or wrong credential gets 401 with
//!   `WWW-Authenticate: Basic realm="pared", charset="UTF-8"`; the answer is
//!   the same for an unknown user and a wrong password, and an unknown user
//!   costs a verification of the same kind, so neither status nor timing
//!   tells whether a user exists.
//!
//! Verification (bcrypt is slow on purpose) is a pure function here; the
//! driver decides where it runs and keeps an [`AuthCache`] of successes.

use core::net::IpAddr;
use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::head::RequestHead;
use crate::methods::{Effect, Methods};

/// How a user's password is stored.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// The password itself (from `--auth USER:PASSWORD`).
    Plain(String),
    /// A bcrypt hash (`$2y$`, `$2b$`, `$2a$`), as `htpasswd -B` writes.
    Bcrypt(String),
    /// A SHA-512 crypt hash (`$6$`), as `mkpasswd -m sha-512` writes.
    Sha512Crypt(String),
    /// A locked entry (`!…` or `*` in an htpasswd file): never logs in.
    Locked,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password or a hash.
        f.write_str(match self {
            Credential::Plain(_) => "Plain(..)",
            Credential::Bcrypt(_) => "Bcrypt(..)",
            Credential::Sha512Crypt(_) => "Sha512Crypt(..)",
            Credential::Locked => "Locked",
        })
    }
}

/// Why a user entry was refused at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// Not `USER:PASSWORD` (the entry is not echoed: it holds a secret).
    #[error("expected USER:PASSWORD")]
    Malformed,
    /// A user name with `:` or a control character, or an empty one.
    #[error("invalid user name {0:?}")]
    BadName(String),
    /// A hash format pared does not verify (MD5 `$apr1$`, `{SHA}`, crypt).
    #[error("user {user}: unsupported password hash (use bcrypt, htpasswd -B, or SHA-512 crypt, mkpasswd -m sha-512)")]
    Unsupported {
        /// The user.
        user: String,
    },
    /// A bcrypt or SHA-512 crypt value that is not well formed.
    #[error("user {user}: malformed password hash")]
    BadHash {
        /// The user.
        user: String,
    },
    /// An empty password.
    #[error("user {user}: empty password")]
    Empty {
        /// The user.
        user: String,
    },
    /// A line of an htpasswd file that was refused.
    #[error("line {line}: {error}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// Why.
        error: Box<UserError>,
    },
}

/// A well-formed bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost
/// from 4 to 31, `$`, then 53 characters of bcrypt's base64.
fn bcrypt_well_formed(h: &str) -> bool {
    let b = h.as_bytes();
    b.len() == 60
        && ["$2a$", "$2b$", "$2y$"].iter().any(|p| h.starts_with(p))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && (4..=31).contains(&((b[4] - b'0') * 10 + (b[5] - b'0')))
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}

/// A well-formed SHA-512 crypt value: `$6$[rounds=N$]SALT$HASH`.
fn sha512_well_formed(h: &str) -> bool {
    let Some(rest) = h.strip_prefix("$6$") else {
        return false;
    };
    let rest = match rest.strip_prefix("rounds=") {
        Some(r) => match r.split_once('$') {
            Some((n, r)) if n.parse::<u32>().is_ok() => r,
            _ => return false,
        },
        None => rest,
    };
    let Some((salt, hash)) = rest.split_once('$') else {
        return false;
    };
    !salt.is_empty()
        && salt.len() <= 16
        && hash.len() == 86
        && hash
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/')
}

/// One configured user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name.
    pub name: String,
    /// The stored password.
    pub credential: Credential,
}

impl User {
    /// Parses `USER:PASSWORD` (or an htpasswd line `USER:HASH`): a value
    /// starting `$2a$`, `$2b$`, `$2y$` is bcrypt, `$6$` SHA-512 crypt; other
    /// `$…$` or `{…}` forms are refused; anything else is a plain password.
    pub fn parse(entry: &str) -> Result<User, UserError> {
        let (name, secret) = entry.split_once(':').ok_or(UserError::Malformed)?;
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(UserError::BadName(name.to_owned()));
        }
        let user = || name.to_owned();
        let credential = if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| secret.starts_with(p))
        {
            if !bcrypt_well_formed(secret) {
                return Err(UserError::BadHash { user: user() });
            }
            Credential::Bcrypt(secret.to_owned())
        } else if secret.starts_with("$6$") {
            if !sha512_well_formed(secret) {
                return Err(UserError::BadHash { user: user() });
            }
            Credential::Sha512Crypt(secret.to_owned())
        } else if secret.starts_with('$') || secret.starts_with("{SHA}") {
            return Err(UserError::Unsupported { user: user() });
        } else if secret.is_empty() {
            return Err(UserError::Empty { user: user() });
        } else {
            Credential::Plain(secret.to_owned())
        };
        Ok(User {
            name: name.to_owned(),
            credential,
        })
    }

    /// Parses an htpasswd file: one `USER:HASH` a line; blank lines and
    /// `#` comments are skipped. Only hashes pared verifies (bcrypt,
    /// SHA-512 crypt) are accepted: a line with anything else (DES crypt,
    /// MD5, SHA-1, a plain password) is refused with its number, never
    /// taken as a plain password. A locked entry (`!…`, `*`) stays and
    /// never logs in.
    pub fn parse_file(text: &str) -> Result<Vec<User>, UserError> {
        let mut users = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |error| UserError::Line {
                line: i + 1,
                error: Box::new(error),
            };
            let (name, secret) = line.split_once(':').ok_or(at(UserError::Malformed))?;
            if secret.starts_with('!') || secret == "*" {
                let checked = User::parse(&format!("{name}:x")).map_err(at)?;
                users.push(User {
                    name: checked.name,
                    credential: Credential::Locked,
                });
                continue;
            }
            let user = User::parse(line).map_err(at)?;
            if matches!(user.credential, Credential::Plain(_)) {
                return Err(at(UserError::Unsupported {
                    user: name.to_owned(),
                }));
            }
            users.push(user);
        }
        Ok(users)
    }
}

/// The access-control settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// Users who may authenticate; empty means no authentication.
    pub users: Vec<User>,
    /// GET, HEAD and listings need credentials too (`--auth-reads`).
    pub reads_need_auth: bool,
    /// Without users: accept writes from anyone, not only loopback
    /// (`--public-writes`).
    pub public_writes: bool,
    /// Reverse proxies whose client-address headers are believed
    /// (`--trusted-proxy`); a request with proxy headers from any other
    /// peer never counts as local.
    pub trusted_proxies: Vec<IpAddr>,
    /// Host names besides IP literals and `localhost` that name this
    /// machine, for the DNS-rebinding guard on local writes (the machine's
    /// own host name, and `--local-name`).
    pub local_names: Vec<String>,
    /// Rules per path prefix and user ([`crate::rights`]); when there are
    /// any, they alone decide, and `reads_need_auth` and `public_writes`
    /// mean nothing.
    pub rules: crate::rights::Rules,
}

impl AuthConfig {
    /// One line for the start-up message: who can write, and read.
    pub fn summary(&self) -> String {
        if !self.rules.is_empty() {
            return format!(
                "access by {} rule{} ({} user{}; `pared server --check-config` lists them)",
                self.rules.iter().count(),
                if self.rules.iter().count() == 1 {
                    ""
                } else {
                    "s"
                },
                self.users.len(),
                if self.users.len() == 1 { "" } else { "s" },
            );
        }
        match (self.users.is_empty(), self.public_writes) {
            (true, false) => {
                "writes (PUT, DELETE, WebDAV) from this machine only; use --auth to allow others"
                    .into()
            }
            (true, true) => {
                "writes (PUT, DELETE, WebDAV) open to everyone (--public-writes)".into()
            }
            (false, _) => format!(
                "writes need a login ({} user{}){}",
                self.users.len(),
                if self.users.len() == 1 { "" } else { "s" },
                if self.reads_need_auth {
                    "; so do reads"
                } else {
                    ""
                }
            ),
        }
    }

    /// One line for the start-up message: how requests through a proxy
    /// are judged.
    pub fn proxy_summary(&self) -> String {
        if self.trusted_proxies.is_empty() {
            "requests with proxy headers (Forwarded, X-Forwarded-For, X-Real-IP, Via) count as \
             remote; --trusted-proxy ADDR believes a proxy's X-Forwarded-For"
                .into()
        } else {
            let list: Vec<String> = self.trusted_proxies.iter().map(|p| p.to_string()).collect();
            format!(
                "behind a proxy: the client address comes from the headers of {} only",
                list.join(", ")
            )
        }
    }

    /// True when the request comes from this machine: a loopback peer
    /// without proxy headers, or a loopback client as a trusted proxy
    /// reports it.
    pub fn is_local(&self, req: &RequestHead, peer: IpAddr) -> bool {
        crate::proxy::client_address(req, peer, &self.trusted_proxies)
            .is_some_and(|ip| ip.to_canonical().is_loopback())
    }
}

/// What a request needs before it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Serve it.
    Allowed,
    /// Serve it as this authenticated user (after verifying `password`
    /// against `credential`, or finding the success in the cache under
    /// `cache_key`).
    Verify {
        /// The user the request claims to be.
        user: String,
        /// The password it gave.
        password: String,
        /// What to verify it against (a dummy of the same kind when the
        /// user is unknown, so the timing is the same; it then never
        /// matches).
        credential: Credential,
        /// True when the user exists (a match counts only then).
        known: bool,
        /// The cache key of this Authorization value.
        cache_key: [u8; 32],
    },
    /// 401 with the challenge: no or unusable credentials.
    Challenge,
    /// 403: a write from another machine while no users are configured.
    WritesNeedAuth,
    /// 403: a write from this machine that names the server by a name
    /// only DNS gives, or comes from another site's page (DNS rebinding).
    Foreign(crate::local_origin::Foreign),
    /// 403: the rules (or a share link) do not allow it, and logging in
    /// would not help (no users, or the link was bad).
    Forbidden(crate::permit::Forbidden),
}

/// True when this visitor may write (PUT, DELETE): without users, a
/// loopback peer or `public_writes`; with users, an authenticated one.
/// Used to show or hide a listing's upload and delete controls.
pub fn writes_allowed(
    config: &AuthConfig,
    req: &RequestHead,
    peer: IpAddr,
    authenticated: bool,
) -> bool {
    if config.users.is_empty() {
        config.public_writes || config.is_local(req, peer)
    } else {
        authenticated
    }
}

/// The challenge sent with 401.
pub const CHALLENGE: &str = "Basic realm=\"pared\", charset=\"UTF-8\"";

/// A bcrypt hash of an unguessable string, verified for unknown users so
/// that they cost what a known user costs.
const DUMMY_BCRYPT: &str = "$2y$10$9kWqC3vz6Mo5d8yw7mtF7O20mxct74Z9oHJe4Oe.lXmxdzryoaNx2";

/// The credential an unknown user (or a locked one) is checked against,
/// so that a refusal costs what a known user's costs: the credential of a
/// configured user picked by the name (the same one every time), or a
/// cost-10 bcrypt hash when none can be verified.
fn stand_in(users: &[User], name: &str) -> Credential {
    let usable: Vec<&User> = users
        .iter()
        .filter(|u| u.credential != Credential::Locked)
        .collect();
    if usable.is_empty() {
        return Credential::Bcrypt(DUMMY_BCRYPT.to_owned());
    }
    let h = Sha256::digest(name.as_bytes());
    let i = usize::from(h[0]) << 8 | usize::from(h[1]);
    usable[i % usable.len()].credential.clone()
}

/// True for a read that asks to log in (`?login`): it needs credentials
/// even where reads do not, so a browser asks for them once and then sends
/// them with every request (the page then shows its controls).
pub fn wants_login(req: &RequestHead) -> bool {
    crate::path::split_query(&req.target).1.is_some_and(|q| {
        q.split('&')
            .any(|p| p == "login" || p.starts_with("login="))
    })
}

/// Decides what `req` from `peer` needs under `config`, given what the
/// share links it carries grant at its target (`shared`). Whether the
/// request writes, and the rights it needs, come from the method table
/// alone; a method the table does not list is answered 501 without
/// touching anything, so it needs no credentials.
pub fn access(
    config: &AuthConfig,
    methods: &Methods,
    req: &RequestHead,
    peer: IpAddr,
    shared: &crate::share::Presented,
) -> Access {
    let row = methods.find(&req.method);
    let need = row.and_then(|r| crate::permit::target_need(r, req));
    let moves = row.is_some_and(|r| r.needs.destination.is_some());
    // A share link alone covers what it grants on its path (an upload
    // link opens its folder's page too, with no contents).
    let link_covers = |n: crate::rights::Right| {
        shared.rights.allows(n)
            || (n == crate::rights::Right::Read
                && shared.rights.allows(crate::rights::Right::Create)
                && matches!(
                    req.method,
                    crate::head::Method::Get | crate::head::Method::Head
                )
                && crate::path::split_query(&req.target).0.ends_with('/'))
    };
    if !moves && need.is_some_and(link_covers) && !req.headers.contains("authorization") {
        return Access::Allowed;
    }
    let decided = if config.rules.is_empty() {
        by_flags(config, methods, req, peer)
    } else {
        by_rules(config, methods, req, shared)
    };
    match (decided, shared.problem) {
        // A visitor who came with a bad link is told so, not asked to log in.
        (Access::Challenge | Access::WritesNeedAuth, Some(problem)) => {
            Access::Forbidden(crate::permit::Forbidden::Share(problem))
        }
        (decided, _) => decided,
    }
}

/// The flags' model: reads open (or logged in with `--auth-reads`),
/// writes from this machine, from everyone (`--public-writes`), or from
/// logged-in users.
fn by_flags(config: &AuthConfig, methods: &Methods, req: &RequestHead, peer: IpAddr) -> Access {
    // Every request about a resumable upload (its offset too) is part of
    // a write.
    let write = methods.effect(&req.method) == Some(Effect::Write)
        || crate::resumable::upload_id(&req.target).is_some();
    if config.users.is_empty() {
        if !write || config.public_writes {
            return Access::Allowed;
        }
        if !config.is_local(req, peer) {
            return Access::WritesNeedAuth;
        }
        // Local, unless a rebound name or another site's page sent it.
        return match crate::local_origin::check(req, &config.local_names) {
            Ok(()) => Access::Allowed,
            Err(why) => Access::Foreign(why),
        };
    }
    // A read with credentials is served as that user (so the page shows
    // a logged-in visitor its controls); one without needs none.
    if !write
        && !config.reads_need_auth
        && !wants_login(req)
        && !req.headers.contains("authorization")
    {
        return Access::Allowed;
    }
    credentials(config, req)
}

/// The rules' model: a visitor with credentials (or asking to log in) is
/// verified first, and the rules are checked for the user afterwards
/// ([`crate::permit::check_rules`]); an anonymous visitor is checked now.
fn by_rules(
    config: &AuthConfig,
    methods: &Methods,
    req: &RequestHead,
    shared: &crate::share::Presented,
) -> Access {
    let has_users = !config.users.is_empty();
    if has_users && (req.headers.contains("authorization") || wants_login(req)) {
        return credentials(config, req);
    }
    match crate::permit::check_rules(config, methods, req, None, shared.rights) {
        Ok(()) => Access::Allowed,
        Err(_) if has_users => Access::Challenge,
        Err(why) => Access::Forbidden(why),
    }
}

/// The verification the request's Basic credentials need, or the
/// challenge when it has none that can be used.
fn credentials(config: &AuthConfig, req: &RequestHead) -> Access {
    let Some((user, password, cache_key)) = basic_credentials(req) else {
        return Access::Challenge;
    };
    match config.users.iter().find(|u| u.name == user) {
        Some(u) if u.credential != Credential::Locked => Access::Verify {
            user,
            password,
            credential: u.credential.clone(),
            known: true,
            cache_key,
        },
        // Unknown, or locked: refused at the cost of a known user.
        _ => Access::Verify {
            credential: stand_in(&config.users, &user),
            user,
            password,
            known: false,
            cache_key,
        },
    }
}

/// The user and password of `Authorization: Basic …` (UTF-8, as the
/// challenge's charset asks), and the cache key of the field's value.
fn basic_credentials(req: &RequestHead) -> Option<(String, String, [u8; 32])> {
    let value = req.headers.get_str("authorization")?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let key: [u8; 32] = Sha256::digest(value.as_bytes()).into();
    Some((user.to_owned(), password.to_owned(), key))
}

/// True when `password` matches `credential`; comparisons of secrets run
/// in constant time. Slow for bcrypt (by design): run it off any
/// event-loop thread.
pub fn verify(credential: &Credential, password: &str) -> bool {
    match credential {
        Credential::Plain(p) => {
            // Compare digests, so the time depends on neither length.
            let a = Sha256::digest(p.as_bytes());
            let b = Sha256::digest(password.as_bytes());
            a.iter()
                .zip(b.iter())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0
        }
        Credential::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        Credential::Sha512Crypt(hash) => sha512_crypt_matches(password, hash),
        Credential::Locked => false,
    }
}

/// Checks a `$6$[rounds=N$]SALT$HASH` value.
fn sha512_crypt_matches(password: &str, hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$6$") else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('$').collect();
    let rounds = match parts.first().and_then(|p| p.strip_prefix("rounds=")) {
        Some(r) => {
            let Ok(n) = r.parse::<usize>() else {
                return false;
            };
            parts.remove(0);
            n.clamp(1000, 999_999_999)
        }
        None => 5000,
    };
    let [salt, expected] = parts[..] else {
        return false;
    };
    let Ok(params) = sha_crypt::Sha512Params::new(rounds) else {
        return false;
    };
    let salt: String = salt.chars().take(16).collect();
    let Ok(computed) = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
    else {
        return false;
    };
    computed.len() == expected.len()
        && computed
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Successful verifications, keyed by a hash of the Authorization value
/// (never the password itself), so keep-alive and repeated requests do not
/// pay bcrypt again. Bounded: when full it starts over.
#[derive(Debug, Clone, Default)]
pub struct AuthCache {
    ok: HashMap<[u8; 32], String>,
}

/// Entries an [`AuthCache`] holds before it starts over.
pub const AUTH_CACHE_MAX: usize = 1024;

impl AuthCache {
    /// The user a cached success belongs to.
    pub fn get(&self, key: &[u8; 32]) -> Option<&str> {
        self.ok.get(key).map(String::as_str)
    }

    /// Remembers a success.
    pub fn insert(&mut self, key: [u8; 32], user: String) {
        if self.ok.len() >= AUTH_CACHE_MAX {
            self.ok.clear();
        }
        self.ok.insert(key, user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{Method, Version};
    use crate::methods::{Action, RequestBody, Row};

    const M: Methods = Methods::standard();
    const NO_LINK: crate::share::Presented = crate::share::Presented::NONE;

    #[test]
    fn htpasswd_lines_pared_cannot_verify_are_refused_with_their_line() {
        let bcrypt = "$2y$05$abcdefghijklmnopqrstuu5ZFjQ5ZpZfR3o0pWy8pY5vX7oT4c1Ka";
        assert_eq!(bcrypt.len(), 60);
        for (text, line) in [
            ("ann:rOd9Go7QhlN2c\n", 1),                      // DES crypt (htpasswd -d)
            (&format!("# c\nann:{bcrypt}\nbob:plain\n"), 3), // a plain password
            ("ann:$apr1$x$y\n", 1),                          // MD5
            ("ann:{SHA}abc=\n", 1),                          // SHA-1
            ("ann:$2y$05$short\n", 1),                       // malformed bcrypt
            ("ann:$6$salt$tooshort\n", 1),                   // malformed SHA-512 crypt
            ("ann:\n", 1),                                   // empty
        ] {
            match User::parse_file(text) {
                Err(UserError::Line { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        // Locked entries stay, and never log in.
        let users = User::parse_file(&format!("ann:{bcrypt}\nlocked:!{bcrypt}\nstar:*\n")).unwrap();
        assert_eq!(users.len(), 3);
        assert_eq!(users[1].credential, Credential::Locked);
        assert_eq!(users[2].credential, Credential::Locked);
        assert!(!verify(&Credential::Locked, ""));
        assert!(!verify(&Credential::Locked, "*"));
        // Flags: an empty password is refused; a plain one is fine.
        assert!(matches!(User::parse("ann:"), Err(UserError::Empty { .. })));
        assert!(User::parse("ann:secret").is_ok());
    }

    #[test]
    fn unknown_and_locked_users_cost_what_a_known_one_costs() {
        let c = AuthConfig {
            users: vec![
                User::parse("ann:$2y$05$abcdefghijklmnopqrstuu5ZFjQ5ZpZfR3o0pWy8pY5vX7oT4c1Ka")
                    .unwrap(),
                User {
                    name: "locked".into(),
                    credential: Credential::Locked,
                },
            ],
            ..AuthConfig::default()
        };
        let ip: IpAddr = REMOTE.parse().unwrap();
        for name in ["nobody", "locked", "someone-else"] {
            match access(
                &c,
                &M,
                &req(Method::Put, Some(&basic(name, "pw"))),
                ip,
                &NO_LINK,
            ) {
                Access::Verify {
                    credential, known, ..
                } => {
                    // Verified against the configured user's own hash: the
                    // same algorithm and cost as a known user's refusal.
                    assert_eq!(credential, c.users[0].credential, "{name}");
                    assert!(!known, "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_method_added_to_the_table_as_a_write_needs_credentials() {
        let row = Row {
            token: "BIND",
            effect: Effect::Write,
            body: RequestBody::None,
            action: Action::Store,
            needs: crate::methods::Needs {
                target: Some(crate::rights::Right::Create),
                destination: None,
            },
        };
        let table = Methods::standard().with(row);
        let mkcol = req(Method::Other("BIND".into()), None);
        let remote: IpAddr = REMOTE.parse().unwrap();
        // Without users: a write from another machine is refused.
        assert_eq!(
            access(&AuthConfig::default(), &table, &mkcol, remote, &NO_LINK),
            Access::WritesNeedAuth
        );
        // With users: it needs credentials.
        let users = AuthConfig {
            users: vec![User::parse("ann:secret").unwrap()],
            ..AuthConfig::default()
        };
        assert_eq!(
            access(&users, &table, &mkcol, remote, &NO_LINK),
            Access::Challenge
        );
        // Before the row was added it was not served at all (501 follows).
        assert_eq!(
            access(&users, &M, &mkcol, remote, &NO_LINK),
            Access::Allowed
        );
    }

    fn req(method: Method, auth: Option<&str>) -> RequestHead {
        let mut r = RequestHead::new(method, "/f", Version::Http11);
        if let Some(a) = auth {
            r.headers.append("Authorization", a);
        }
        r
    }

    fn basic(user: &str, pass: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
    }

    const LOOP: &str = "127.0.0.1";
    const REMOTE: &str = "192.0.2.7";

    #[test]
    fn default_writes_are_local() {
        let c = AuthConfig::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            access(&c, &M, &req(Method::Put, None), ip(LOOP), &NO_LINK),
            Access::Allowed
        );
        assert_eq!(
            access(&c, &M, &req(Method::Put, None), ip("::1"), &NO_LINK),
            Access::Allowed
        );
        assert_eq!(
            access(
                &c,
                &M,
                &req(Method::Put, None),
                ip("::ffff:127.0.0.1"),
                &NO_LINK
            ),
            Access::Allowed
        );
        assert_eq!(
            access(&c, &M, &req(Method::Delete, None), ip(REMOTE), &NO_LINK),
            Access::WritesNeedAuth
        );
        assert_eq!(
            access(&c, &M, &req(Method::Get, None), ip(REMOTE), &NO_LINK),
            Access::Allowed
        );
        let open = AuthConfig {
            public_writes: true,
            ..AuthConfig::default()
        };
        assert_eq!(
            access(&open, &M, &req(Method::Put, None), ip(REMOTE), &NO_LINK),
            Access::Allowed
        );
        assert!(c.summary().contains("this machine only"));
    }

    #[test]
    fn users_and_challenges() {
        let c = AuthConfig {
            users: vec![User::parse("ann:secret").unwrap()],
            ..AuthConfig::default()
        };
        let ip: IpAddr = LOOP.parse().unwrap();
        assert_eq!(
            access(&c, &M, &req(Method::Get, None), ip, &NO_LINK),
            Access::Allowed
        );
        assert_eq!(
            access(&c, &M, &req(Method::Put, None), ip, &NO_LINK),
            Access::Challenge
        );
        assert_eq!(
            access(&c, &M, &req(Method::Put, Some("Bearer x")), ip, &NO_LINK),
            Access::Challenge
        );
        let Access::Verify {
            user,
            password,
            credential,
            known,
            ..
        } = access(
            &c,
            &M,
            &req(Method::Put, Some(&basic("ann", "secret"))),
            ip,
            &NO_LINK,
        )
        else {
            panic!()
        };
        assert_eq!(
            (user.as_str(), password.as_str(), known),
            ("ann", "secret", true)
        );
        assert!(verify(&credential, &password));
        assert!(!verify(&credential, "Secret"));
        let Access::Verify {
            known, credential, ..
        } = access(
            &c,
            &M,
            &req(Method::Put, Some(&basic("bob", "secret"))),
            ip,
            &NO_LINK,
        )
        else {
            panic!()
        };
        // Checked against ann's own hash (the same cost), and refused
        // because bob is unknown, whatever the password.
        assert!(!known);
        assert_eq!(credential, c.users[0].credential);
        let reads = AuthConfig {
            reads_need_auth: true,
            ..c
        };
        assert_eq!(
            access(&reads, &M, &req(Method::Head, None), ip, &NO_LINK),
            Access::Challenge
        );
    }

    #[test]
    fn hashes() {
        // A bcrypt hash made here, and `openssl passwd -6 -salt saltsalt secret`.
        let bcrypt_hash = bcrypt::hash_with_salt("secret", 5, *b"0123456789abcdef")
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let u = User::parse(&format!("ann:{bcrypt_hash}")).unwrap();
        assert!(matches!(u.credential, Credential::Bcrypt(_)));
        assert!(verify(&u.credential, "secret"));
        assert!(!verify(&u.credential, "secrets"));
        assert!(
            bcrypt::verify("unguessable-pared-dummy", DUMMY_BCRYPT).unwrap(),
            "the dummy is a real bcrypt hash, so unknown users cost the same"
        );
        let sha = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        let u = User::parse(&format!("ann:{sha}")).unwrap();
        assert!(verify(&u.credential, "secret"), "sha-512 crypt");
        assert!(!verify(&u.credential, "secret2"));
        assert!(matches!(
            User::parse("ann:$apr1$x$y"),
            Err(UserError::Unsupported { .. })
        ));
        assert!(User::parse("nocolon").is_err());
        let users = User::parse_file(&format!("# users\nann:{sha}\n\nbob:!{sha}\n")).unwrap();
        assert_eq!(users.len(), 2);
        // A Debug print never shows a secret.
        assert!(!format!("{users:?}").contains("saltsalt"));
    }

    #[test]
    fn cache_is_bounded() {
        let mut c = AuthCache::default();
        for i in 0..(AUTH_CACHE_MAX + 5) {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            c.insert(k, "u".into());
        }
        assert!(c.ok.len() <= AUTH_CACHE_MAX);
    }
}
