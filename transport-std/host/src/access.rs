//! Access control as the runtimes run it: core decides what a request
//! needs ([`pared_core::auth::access`]); this keeps the cache of verified
//! credentials shared by every connection, and runs the (slow, for bcrypt)
//! verification. The std runtime calls [`AccessControl::verify`] inline; the smol
//! runtime on its blocking pool, never on an executor thread.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use pared_core::auth::{self, Access, AuthCache, AuthConfig, Credential};
use pared_core::methods::Methods;
use pared_core::rights::Rights;
use pared_core::service::{self, Reply, Route, ServiceConfig};
use pared_core::share::Presented;

use crate::share_key::ShareKeyFile;
use pared_core::RequestHead;

/// What a request needs before it is served.
#[derive(Debug)]
pub enum Decision {
    /// Serve it, as this user if one authenticated, with what its share
    /// links grant.
    Serve(Option<String>, Presented),
    /// Answer this (401 or 403) instead.
    Refuse(Reply),
    /// Verify this credential first ([`AccessControl::verify`]).
    Verify(Pending),
}

/// A credential waiting for verification.
#[derive(Debug)]
pub struct Pending {
    user: String,
    password: String,
    credential: Credential,
    known: bool,
    key: [u8; 32],
    shared: Presented,
}

/// The access-control state of one server.
#[derive(Debug, Default)]
pub struct AccessControl {
    config: AuthConfig,
    methods: Methods,
    cache: Mutex<AuthCache>,
    shares: ShareKeyFile,
}

impl AccessControl {
    /// True when users are configured (a visitor may log in).
    pub fn has_users(&self) -> bool {
        !self.config.users.is_empty()
    }

    /// True when reads need credentials (`--auth-reads` with users).
    pub fn reads_need_auth(&self) -> bool {
        self.config.reads_need_auth && !self.config.users.is_empty() && self.config.rules.is_empty()
    }

    /// The settings it judges by.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// A gate for `config`, judging methods by `methods`, with share
    /// links checked against the key in `share_key` (see
    /// [`ShareKeyFile`]).
    pub fn new(config: AuthConfig, methods: Methods, share_key: Option<PathBuf>) -> AccessControl {
        AccessControl {
            config,
            methods,
            cache: Mutex::new(AuthCache::default()),
            shares: ShareKeyFile::new(share_key),
        }
    }

    /// Decides what `req` from `peer` needs; a credential verified before
    /// is found in the cache, so only a new one needs [`AccessControl::verify`].
    pub fn check(&self, req: &RequestHead, peer: IpAddr, now: SystemTime) -> Decision {
        let shared = if pared_core::share::tokens(req).is_empty() {
            Presented::NONE
        } else {
            let key = self.shares.current();
            Presented::of(key.as_ref(), req, unix(now))
        };
        match auth::access(&self.config, &self.methods, req, peer, &shared) {
            Access::Allowed => Decision::Serve(None, shared),
            Access::Verify {
                user,
                password,
                credential,
                known,
                cache_key,
            } => {
                let cached = self
                    .cache
                    .lock()
                    .ok()
                    .and_then(|c| c.get(&cache_key).map(str::to_owned));
                match cached {
                    Some(u) if u == user => Decision::Serve(Some(u), shared),
                    _ => Decision::Verify(Pending {
                        user,
                        password,
                        credential,
                        known,
                        key: cache_key,
                        shared,
                    }),
                }
            }
            refused => match service::access_reply(&refused, &req.method, now) {
                Some(reply) => Decision::Refuse(reply),
                None => Decision::Serve(None, shared),
            },
        }
    }

    /// Verifies a pending credential (slow for bcrypt: not on an event
    /// loop); a success is cached. [`Decision::Serve`] with the user, or
    /// [`Decision::Refuse`] with the 401 to answer.
    pub fn verify(&self, p: Pending, req: &RequestHead, now: SystemTime) -> Decision {
        let matched = auth::verify(&p.credential, &p.password);
        if matched && p.known {
            if let Ok(mut c) = self.cache.lock() {
                c.insert(p.key, p.user.clone());
            }
            Decision::Serve(Some(p.user), p.shared)
        } else {
            Decision::Refuse(service::unauthorized_reply(&req.method, now))
        }
    }

    /// What a request comes to once its `decision` is settled (after
    /// [`AccessControl::verify`] where it asked for one): a refusal is
    /// answered as it is; a user the rules do not allow gets 403;
    /// otherwise core routes the request. Both runtimes call this.
    pub fn admit(
        &self,
        decision: Decision,
        service: &ServiceConfig,
        req: &RequestHead,
        peer: IpAddr,
        now: SystemTime,
    ) -> Admitted {
        let (user, shared, route) = match decision {
            Decision::Serve(Some(user), shared) if !self.config.rules.is_empty() => {
                match pared_core::permit::check_rules(
                    &self.config,
                    &self.methods,
                    req,
                    Some(&user),
                    shared.rights,
                ) {
                    Ok(()) => (Some(user), shared, service::route(service, req, now)),
                    Err(why) => {
                        let reply = service::forbidden_reply(why, &req.method, now);
                        (Some(user), shared, Route::Reply(reply))
                    }
                }
            }
            Decision::Serve(user, shared) => (user, shared, service::route(service, req, now)),
            Decision::Refuse(reply) => (None, Presented::NONE, Route::Reply(reply)),
            // Verification was not run: never serve unverified.
            Decision::Verify(_) => (
                None,
                Presented::NONE,
                Route::Reply(service::unauthorized_reply(&req.method, now)),
            ),
        };
        let mut rights = pared_core::permit::rights_here(
            &self.config,
            req,
            peer,
            user.as_deref(),
            shared.rights,
        );
        if service.read_only {
            rights = rights.without_writes();
        }
        let set_cookie = shared
            .from_query
            .map(|(token, grant)| pared_core::share::cookie(&token, &grant, unix(now)));
        Admitted {
            user,
            route,
            rights,
            set_cookie,
        }
    }

    /// True when `user` may read `path`, for walks (archives, search)
    /// that must leave out what the rules hide.
    pub fn may_read(&self, path: &pared_core::path::RelPath, user: Option<&str>) -> bool {
        self.config.rules.is_empty()
            || self
                .config
                .rules
                .rights(path, user)
                .allows(pared_core::rights::Right::Read)
    }

    /// True when the rules differ somewhere beneath `path` (a walk must
    /// ask [`AccessControl::may_read`] as it goes).
    pub fn varies_below(&self, path: &pared_core::path::RelPath) -> bool {
        self.config.rules.varies_below(path)
    }
}

/// Seconds since the Unix epoch.
fn unix(now: SystemTime) -> u64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A request whose credentials are settled.
#[derive(Debug)]
pub struct Admitted {
    /// The authenticated user, for the access log.
    pub user: Option<String>,
    /// What to do: core's route, or the refusal to answer.
    pub route: Route,
    /// What the visitor may do at the target, so a listing shows only
    /// the controls they may use.
    pub rights: Rights,
    /// A `Set-Cookie` value keeping a share link given in the query.
    pub set_cookie: Option<String>,
}

/// The access control a running server uses, swapped whole by a reload
/// (SIGHUP): requests in flight finish under the one they started with.
#[derive(Debug, Clone)]
pub struct Policy(Arc<RwLock<Arc<AccessControl>>>);

impl Policy {
    /// A policy starting with `first`.
    pub fn new(first: AccessControl) -> Policy {
        Policy(Arc::new(RwLock::new(Arc::new(first))))
    }

    /// The access control now.
    pub fn current(&self) -> Arc<AccessControl> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces it for every request that starts from now on.
    pub fn replace(&self, next: AccessControl) {
        let next = Arc::new(next);
        match self.0.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

/// The names this machine answers to besides `localhost` and its
/// addresses: its host name, and that name under `.local` (mDNS), for the
/// DNS-rebinding guard on local writes. Empty when the kernel has none.
pub fn machine_names() -> Vec<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || name == "localhost" || name == "(none)" {
        return Vec::new();
    }
    vec![format!("{name}.local"), name]
}
