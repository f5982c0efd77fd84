//! Access control as the runtimes run it: core decides what a request
//! needs ([`pared_core::auth::access`]); this keeps the cache of verified
//! credentials shared by every connection, and runs the (slow, for bcrypt)
//! verification. The std runtime calls [`AccessControl::verify`] inline; the smol
//! runtime on its blocking pool, never on an executor thread.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;

use pared_core::auth::{self, Access, AuthCache, AuthConfig, Credential};
use pared_core::methods::Methods;
use pared_core::service::{self, Reply, Route, ServiceConfig};
use pared_core::RequestHead;

/// What a request needs before it is served.
#[derive(Debug)]
pub enum Decision {
    /// Serve it, as this user if one authenticated.
    Serve(Option<String>),
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
}

/// The access-control state of one server.
#[derive(Debug, Default)]
pub struct AccessControl {
    config: AuthConfig,
    methods: Methods,
    cache: Mutex<AuthCache>,
}

impl AccessControl {
    /// True when users are configured (a visitor may log in).
    pub fn has_users(&self) -> bool {
        !self.config.users.is_empty()
    }

    /// True when reads need credentials (`--auth-reads` with users).
    pub fn reads_need_auth(&self) -> bool {
        self.config.reads_need_auth && !self.config.users.is_empty()
    }

    /// A gate for `config`, judging methods by `methods`.
    pub fn new(config: AuthConfig, methods: Methods) -> AccessControl {
        AccessControl {
            config,
            methods,
            cache: Mutex::new(AuthCache::default()),
        }
    }

    /// Decides what `req` from `peer` needs; a credential verified before
    /// is found in the cache, so only a new one needs [`AccessControl::verify`].
    pub fn check(&self, req: &RequestHead, peer: IpAddr, now: SystemTime) -> Decision {
        match auth::access(&self.config, &self.methods, req, peer) {
            Access::Allowed => Decision::Serve(None),
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
                    Some(u) if u == user => Decision::Serve(Some(u)),
                    _ => Decision::Verify(Pending {
                        user,
                        password,
                        credential,
                        known,
                        key: cache_key,
                    }),
                }
            }
            refused => match service::access_reply(&refused, &req.method, now) {
                Some(reply) => Decision::Refuse(reply),
                None => Decision::Serve(None),
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
            Decision::Serve(Some(p.user))
        } else {
            Decision::Refuse(service::unauthorized_reply(&req.method, now))
        }
    }

    /// What a request comes to once its `decision` is settled (after
    /// [`AccessControl::verify`] where it asked for one): a refusal is answered as
    /// it is; otherwise core routes the request. Both runtimes call this.
    pub fn admit(
        &self,
        decision: Decision,
        service: &ServiceConfig,
        req: &RequestHead,
        peer: IpAddr,
        now: SystemTime,
    ) -> Admitted {
        let (user, route) = match decision {
            Decision::Serve(user) => (user, service::route(service, req, now)),
            Decision::Refuse(reply) => (None, Route::Reply(reply)),
            // Verification was not run: never serve unverified.
            Decision::Verify(_) => (
                None,
                Route::Reply(service::unauthorized_reply(&req.method, now)),
            ),
        };
        let writable =
            !service.read_only && auth::writes_allowed(&self.config, req, peer, user.is_some());
        Admitted {
            user,
            route,
            writable,
        }
    }
}

/// A request whose credentials are settled.
#[derive(Debug)]
pub struct Admitted {
    /// The authenticated user, for the access log.
    pub user: Option<String>,
    /// What to do: core's route, or the refusal to answer.
    pub route: Route,
    /// The visitor may write, so a listing shows its upload and delete
    /// controls.
    pub writable: bool,
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
