//! The exchange: what one request comes to, as a plan every runtime runs.
//!
//! A driver hands a parsed request head to [`Host::start`] and gets a
//! [`Plan`]. It then loops until the plan says [`Plan::Send`]:
//!
//! 1. [`Plan::Run`]: run the [`Step`] where waiting is allowed (inline on
//!    the blocking runtime; on the async runtime first
//!    [`Step::try_inline`], which never waits on the disk, then the
//!    blocking pool), and continue with the plan it returns.
//! 2. [`Plan::Receive`]: read the request body into the upload (bounded by
//!    [`Receive::limit`]), then continue with [`AfterBody::finish`].
//! 3. [`Plan::Send`]: send the [`Answer`] and log it.
//!
//! Drivers never look at routes, methods or paths: access control,
//! routing (core's method table) and every file-system decision happen
//! here and in core. Adding a method touches core (its row and decision)
//! and, where it needs file-system work, a [`Step`] kind here; never a
//! driver.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use pared_core::methods::{Action, RequestBody, Row};
use pared_core::path::RelPath;
use pared_core::rights::{Right, Rights};
use pared_core::service::{self, FsFailure, Route, ServiceConfig};
use pared_core::{RequestHead, ServerOptions};

use crate::access::{AccessControl, Decision, Pending, Policy};
use crate::dav;
use crate::fs::{Cached, Root, Upload};
use crate::steps::{self, Preload, Prepared, PutStart, INLINE_BODY};

/// What every connection of one server shares to answer requests: the
/// root, the access-control state and the file service's configuration.
#[derive(Debug)]
pub struct Host {
    root: Root,
    policy: Policy,
    service: ServiceConfig,
}

/// What a server serves: its root, and the access policy it judges
/// requests by (which a reload swaps while it runs).
#[derive(Debug)]
pub struct Site {
    /// The folder served.
    pub root: Root,
    /// Who may do what.
    pub policy: Policy,
}

impl Site {
    /// `root` under the flags' and rules' access settings of `opts`,
    /// without share links.
    pub fn new(root: Root, opts: &ServerOptions) -> Site {
        let access = AccessControl::new(opts.auth.clone(), opts.service.methods.clone(), None);
        Site {
            root,
            policy: Policy::new(access),
        }
    }
}

/// What to do next with a request.
#[derive(Debug)]
pub enum Plan {
    /// Send this answer; the exchange is over.
    Send(Answer),
    /// Run this step where waiting is allowed, then follow its plan.
    Run(Step),
    /// Read the request body into an upload, then follow
    /// [`AfterBody::finish`].
    Receive(Receive),
    /// Read the request body (an XML document, at most `limit` bytes:
    /// pass it to [`pared_core::server::Connection::limit_body`]) into
    /// memory, then follow [`AfterDocument::finish`].
    ReceiveDocument {
        /// The most bytes accepted (413 beyond).
        limit: u64,
        /// What follows once the body is in.
        then: AfterDocument,
    },
}

/// The rest of an exchange whose body is a small document.
#[derive(Debug)]
pub struct AfterDocument {
    action: Action,
    path: RelPath,
    who: Who,
}

impl AfterDocument {
    /// The step that answers, with the document read.
    pub fn finish(self, body: Vec<u8>) -> Plan {
        let AfterDocument { action, path, who } = self;
        Plan::Run(Step {
            kind: StepKind::Dav(action, path, body),
            who,
        })
    }
}

/// A response ready to send, and who it was for (the access log).
#[derive(Debug)]
pub struct Answer {
    /// What to send.
    pub prepared: Prepared,
    /// The authenticated user, if any.
    pub user: Option<String>,
}

/// Who is asking, once access control settled it.
#[derive(Debug, Clone)]
struct Who {
    peer: IpAddr,
    user: Option<String>,
    /// What the visitor may do at the target, so a listing shows only
    /// the controls they may use, and a PUT without write never replaces.
    rights: Rights,
    /// A cookie that keeps a share link given in the query (boxed: a
    /// step stays small).
    set_cookie: Option<Box<str>>,
    /// The access control the request started under (a reload does not
    /// change it halfway).
    access: Arc<AccessControl>,
}

/// A piece of work that may wait on the disk or the CPU.
#[derive(Debug)]
pub struct Step {
    kind: StepKind,
    who: Who,
}

#[derive(Debug)]
enum StepKind {
    /// Verify a credential (bcrypt is slow on purpose), then route.
    Verify(Box<Pending>),
    /// GET or HEAD of a path.
    Fetch(RelPath),
    /// Read a small file body into memory (it leaves with its head).
    Preload(Box<Prepared>),
    /// DELETE of a path.
    Remove(RelPath),
    /// Check a PUT's If field and locks, then [`StepKind::Store`].
    BeginStore(RelPath),
    /// Check a PUT's preconditions and open its upload.
    Store(RelPath),
    /// Commit a complete upload.
    Commit(Box<Upload>, RelPath),
    /// A WebDAV method, with its body.
    Dav(Action, RelPath, Vec<u8>),
    /// A resumable upload's creation, offset, append or cancel.
    Resume(Box<pared_core::resumable::Op>),
    /// Commit a resumable upload whose last bytes came in.
    CommitResumable(Box<Upload>, RelPath, pared_core::resumable::Protocol),
}

/// An upload waiting for its body.
#[derive(Debug)]
pub struct Receive {
    /// Where the body goes.
    pub upload: Upload,
    /// The most body bytes accepted (`--max-upload`), for a body whose
    /// length was not declared; decision it to
    /// [`pared_core::server::Connection::limit_body`].
    pub limit: Option<u64>,
    /// What follows once the body is in.
    pub then: AfterBody,
    /// An interim response to send before reading the body (a resumable
    /// upload's `104 Upload Resumption Supported`).
    pub interim: Option<Vec<u8>>,
}

/// The rest of an upload's exchange once its body was read.
#[derive(Debug)]
pub struct AfterBody {
    path: RelPath,
    who: Who,
    /// For a resumable upload: what its request asked.
    resume: Option<Box<crate::resume::Pending>>,
}

impl Host {
    /// The host of a server on `site` with `opts`.
    pub fn new(site: Site, opts: &ServerOptions) -> Host {
        Host {
            root: site.root,
            policy: site.policy,
            service: opts.service.clone(),
        }
    }

    /// The root served.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The first plan for `req` from `peer`: a refusal, a credential to
    /// verify, or the route's first step.
    pub fn start(&self, req: &RequestHead, peer: IpAddr, now: SystemTime) -> Plan {
        let access = self.policy.current();
        match access.check(req, peer, now) {
            Decision::Verify(pending) => Plan::Run(Step {
                kind: StepKind::Verify(Box::new(pending)),
                who: Who {
                    peer,
                    user: None,
                    rights: Rights::NONE,
                    set_cookie: None,
                    access,
                },
            }),
            decision => self.admitted(decision, req, peer, now),
        }
    }

    /// The plan once access control has settled `decision`.
    fn admitted(
        &self,
        decision: Decision,
        req: &RequestHead,
        peer: IpAddr,
        now: SystemTime,
    ) -> Plan {
        let access = self.policy.current();
        let admitted = access.admit(decision, &self.service, req, peer, now);
        let who = Who {
            peer,
            user: admitted.user,
            rights: admitted.rights,
            set_cookie: admitted.set_cookie.map(String::into_boxed_str),
            access,
        };
        let kind = match admitted.route {
            Route::Reply(reply) => return send(Prepared::reply(reply), who),
            Route::Read(path) => StepKind::Fetch(path),
            Route::Delete(path) => StepKind::Remove(path),
            Route::Write { path, .. } => StepKind::BeginStore(path),
            Route::Resumable(op) => StepKind::Resume(Box::new(op)),
            Route::Dav(action, path) => match self.service.methods.find(&req.method) {
                Some(Row {
                    body: RequestBody::Document { max },
                    ..
                }) => {
                    return Plan::ReceiveDocument {
                        limit: *max,
                        then: AfterDocument { action, path, who },
                    }
                }
                _ => StepKind::Dav(action, path, Vec::new()),
            },
        };
        Plan::Run(Step { kind, who })
    }
}

impl Host {
    /// The answer to a read: a served file goes out in its sandbox.
    fn served(&self, mut prepared: Prepared, who: Who) -> Plan {
        service::sandbox_served_file(&self.service, &mut prepared.head);
        send(prepared, who)
    }
}

fn send(mut prepared: Prepared, who: Who) -> Plan {
    // Reads need credentials: every answer is private, so no shared
    // cache hands it to someone else.
    if who.access.reads_need_auth() && !prepared.head.headers.contains("cache-control") {
        prepared.head.headers.append("Cache-Control", "private");
    }
    if let Some(cookie) = who.set_cookie {
        // A share link's answer is for its holder alone.
        prepared.head.headers.append("Set-Cookie", &*cookie);
        if !prepared.head.headers.contains("cache-control") {
            prepared.head.headers.append("Cache-Control", "private");
        }
    }
    Plan::Send(Answer {
        prepared,
        user: who.user,
    })
}

impl Step {
    /// Runs the step, waiting on the disk or CPU as needed.
    pub fn run(self, host: &Host, req: &RequestHead, now: SystemTime) -> Plan {
        let Step { kind, who } = self;
        match kind {
            StepKind::Verify(pending) => {
                let decision = who.access.verify(*pending, req, now);
                host.admitted(decision, req, who.peer, now)
            }
            StepKind::Fetch(path) => {
                if pared_core::auth::wants_login(req) && who.user.is_some() {
                    let back = path.href(path.has_trailing_slash());
                    let reply = service::see_other_reply(&back, now);
                    return send(Prepared::reply(reply), who);
                }
                let login = who.user.is_none() && who.access.has_users();
                let access = &who.access;
                let user = who.user.as_deref();
                let view = steps::View {
                    rights: who.rights,
                    login_link: login,
                    may_read: &|p| access.may_read(p, user),
                    varies_below: access.varies_below(&path),
                };
                let read = steps::read(&host.root, req, &path, now, &view);
                host.served(steps::preload(read, INLINE_BODY), who)
            }
            StepKind::Preload(prepared) => host.served(steps::preload(*prepared, INLINE_BODY), who),
            StepKind::Remove(path) => {
                let user = who.user.as_deref();
                send(dav::delete(&host.root, req, &path, user, now), who)
            }
            StepKind::Dav(action, path, body) => {
                let user = who.user.as_deref();
                send(
                    dav::run(&host.root, req, action, &path, &body, user, now),
                    who,
                )
            }
            StepKind::BeginStore(path) => {
                if let Err(status) =
                    dav::write_check(&host.root, req, &[&path], false, who.user.as_deref(), now)
                {
                    let reply = service::error_reply(status, Some(&req.method), now);
                    return send(Prepared::reply(reply), who);
                }
                Step {
                    kind: StepKind::Store(path),
                    who,
                }
                .run(host, req, now)
            }
            StepKind::Store(path) => {
                let create_only = !who.rights.allows(Right::Write);
                match steps::begin_put(&host.root, req, &path, now, create_only) {
                    PutStart::Upload(upload) => Plan::Receive(Receive {
                        upload,
                        limit: host.service.max_upload,
                        then: AfterBody {
                            path,
                            who,
                            resume: None,
                        },
                        interim: None,
                    }),
                    PutStart::Refused(prepared) => send(prepared, who),
                }
            }
            StepKind::Commit(upload, path) => send(steps::finish_put(*upload, req, &path), who),
            StepKind::Resume(op) => {
                let user = who.user.clone().unwrap_or_default();
                let create_only = !who.rights.allows(Right::Write);
                let has_body = !matches!(
                    pared_core::body::request_framing(req),
                    Ok(pared_core::Framing::Empty | pared_core::Framing::Length(0))
                );
                let client = match &who.user {
                    Some(u) => format!("user {u}"),
                    None => format!("address {}", who.peer.to_canonical()),
                };
                let asker = crate::resume::Asker {
                    user: &user,
                    client: &client,
                    create_only,
                    share: pared_core::share::query_token(&req.target),
                };
                match crate::resume::start(
                    &host.root,
                    *op,
                    &asker,
                    has_body,
                    host.service.max_upload,
                    now,
                ) {
                    crate::resume::Start::Answer(reply) => send(Prepared::reply(reply), who),
                    crate::resume::Start::Receive {
                        upload,
                        limit,
                        pending,
                        interim,
                    } => Plan::Receive(Receive {
                        upload: *upload,
                        limit,
                        then: AfterBody {
                            path: pending.path.clone(),
                            who,
                            resume: Some(pending),
                        },
                        interim,
                    }),
                    crate::resume::Start::Commit(upload, path, protocol) => Step {
                        kind: StepKind::CommitResumable(upload, path, protocol),
                        who,
                    }
                    .run(host, req, now),
                }
            }
            StepKind::CommitResumable(upload, path, protocol) => send(
                Prepared::reply(crate::resume::commit(*upload, &path, protocol)),
                who,
            ),
        }
    }

    /// Runs the step on a thread that must never wait on the disk (an
    /// async executor) when it can finish without waiting: a GET whose
    /// path, inode, digest and small body are all in memory. Otherwise
    /// gives the step back (perhaps advanced) to [`Step::run`] elsewhere.
    pub fn try_inline(
        self,
        host: &Host,
        req: &RequestHead,
        now: SystemTime,
    ) -> Result<Plan, Box<Step>> {
        let Step { kind, who } = self;
        let prepared = match kind {
            StepKind::Fetch(path) => match steps::read_cached(&host.root, req, &path, now) {
                Cached::Done(prepared) => prepared,
                Cached::Miss => {
                    let kind = StepKind::Fetch(path);
                    return Err(Box::new(Step { kind, who }));
                }
            },
            StepKind::Preload(prepared) => *prepared,
            kind => return Err(Box::new(Step { kind, who })),
        };
        match steps::preload_cached(prepared, INLINE_BODY) {
            Preload::Ready(prepared) => Ok(host.served(prepared, who)),
            Preload::Miss(prepared) => Err(Box::new(Step {
                kind: StepKind::Preload(Box::new(prepared)),
                who,
            })),
        }
    }
}

impl AfterBody {
    /// The plan once the body was read: commit the upload (a step that
    /// waits on the disk), or answer why it failed (the upload, dropped,
    /// leaves nothing behind).
    pub fn finish(self, received: Result<Upload, FsFailure>, now: SystemTime) -> Plan {
        let AfterBody { path, who, resume } = self;
        if let Some(pending) = resume {
            return match crate::resume::after_body(*pending, received, now) {
                crate::resume::Done::Answer(reply) => send(Prepared::reply(reply), who),
                crate::resume::Done::Commit(upload, path, protocol) => Plan::Run(Step {
                    kind: StepKind::CommitResumable(upload, path, protocol),
                    who,
                }),
            };
        }
        match received {
            Ok(upload) => Plan::Run(Step {
                kind: StepKind::Commit(Box::new(upload), path),
                who,
            }),
            Err(f) => send(Prepared::reply(service::put_reply(&path, Err(f), now)), who),
        }
    }
}
