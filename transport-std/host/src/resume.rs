//! Resumable uploads as a request runs them (see `pared_core::resumable`
//! for the protocols and `fs/resumable.rs` for the disk): what a request
//! starts, what its body comes to, and the commit.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use pared_core::path::RelPath;
use pared_core::resumable::fields::Checksum;
use pared_core::resumable::{replies, Op, Protocol};
use pared_core::service::{self, FsFailure, Reply};

use crate::fs::{Root, Upload};

/// Unfinished uploads one client (a user, or an anonymous address) may
/// have made through this process at once.
pub const MAX_UNFINISHED: usize = 16;

/// Per client: each unfinished upload's id, declared length and start.
type Quota = HashMap<String, Vec<(String, u64, Instant)>>;

/// The uploads each client made and has not finished: a bound on what
/// one client can hold open on disk (its declared lengths count against
/// `MAX_UNFINISHED` times `--max-upload`). Entries end with the upload,
/// or after its lifetime.
fn quota() -> &'static Mutex<Quota> {
    static Q: OnceLock<Mutex<Quota>> = OnceLock::new();
    Q.get_or_init(Default::default)
}

/// Counts a new upload for `client`, or says why not.
fn admit(client: &str, id: &str, length: u64, max: Option<u64>) -> Result<(), ()> {
    let Ok(mut q) = quota().lock() else {
        return Ok(());
    };
    let life = Duration::from_secs(pared_core::resumable::MAX_AGE_SECS);
    let list = q.entry(client.to_owned()).or_default();
    list.retain(|(_, _, at)| at.elapsed() < life);
    let held: u64 = list.iter().map(|(_, n, _)| n).sum();
    let too_much =
        max.is_some_and(|m| held.saturating_add(length) > m.saturating_mul(MAX_UNFINISHED as u64));
    if list.len() >= MAX_UNFINISHED || too_much {
        return Err(());
    }
    list.push((id.to_owned(), length, Instant::now()));
    Ok(())
}

/// Forgets upload `id` (finished or cancelled).
fn release(id: &str) {
    if let Ok(mut q) = quota().lock() {
        for list in q.values_mut() {
            list.retain(|(i, _, _)| i != id);
        }
        q.retain(|_, l| !l.is_empty());
    }
}

/// A request's resumable-upload work waiting for its body.
#[derive(Debug)]
pub struct Pending {
    /// The target.
    pub path: RelPath,
    protocol: Protocol,
    /// The upload's id.
    id: String,
    /// The upload's URL, when this request created it (answered 201).
    created: Option<String>,
    /// This body ends the upload (IETF `Upload-Complete: ?1`).
    complete: bool,
    /// The whole length, when known.
    length: Option<u64>,
    checksum: Option<Checksum>,
    max: Option<u64>,
}

/// What a resumable request comes to once its body is in.
#[derive(Debug)]
pub enum Done {
    /// Answer this.
    Answer(Reply),
    /// The upload is whole: [`commit`] it.
    Commit(Box<Upload>, RelPath, Protocol),
}

impl From<Done> for Start {
    fn from(d: Done) -> Start {
        match d {
            Done::Answer(r) => Start::Answer(r),
            Done::Commit(u, p, proto) => Start::Commit(u, p, proto),
        }
    }
}

/// What comes of a request: an answer, a body to read, or a commit.
#[derive(Debug)]
pub enum Start {
    /// Answer this.
    Answer(Reply),
    /// Read the body into the upload, then [`after_body`].
    Receive {
        /// Where the body goes.
        upload: Box<Upload>,
        /// The most body bytes accepted.
        limit: Option<u64>,
        /// What the request asked.
        pending: Box<Pending>,
        /// `104 Upload Resumption Supported`, sent before the body.
        interim: Option<Vec<u8>>,
    },
    /// The upload is whole: [`commit`] it.
    Commit(Box<Upload>, RelPath, Protocol),
}

fn answer(status: pared_core::StatusCode, protocol: Protocol, now: SystemTime) -> Start {
    Start::Answer(replies::error(status, protocol, now))
}

fn failed(f: FsFailure, protocol: Protocol, max: Option<u64>, now: SystemTime) -> Start {
    failed_done(f, protocol, max, now).into()
}

/// The answer to a failure (a too-large one says the limit).
fn failed_done(f: FsFailure, protocol: Protocol, max: Option<u64>, now: SystemTime) -> Done {
    let mut r = replies::error(f.status(), protocol, now);
    if f == FsFailure::TooLarge {
        r.head
            .headers
            .append("Upload-Limit", replies::limit_value(max));
    }
    Done::Answer(r)
}

/// Who asks, for [`start`].
#[derive(Debug)]
pub struct Asker<'a> {
    /// The user (empty: anonymous); an upload is theirs alone.
    pub user: &'a str,
    /// Who counts against the quota: the user, or the address.
    pub client: &'a str,
    /// The visitor may not replace an existing file (create only): the
    /// upload never will, even if the name appears before it completes.
    pub create_only: bool,
    /// A share link given in the query, kept on the upload's URL.
    pub share: Option<&'a str>,
}

/// Starts `op` for `who`. `has_body`: the request carries content.
pub fn start(
    root: &Root,
    op: Op,
    who: &Asker<'_>,
    has_body: bool,
    max: Option<u64>,
    now: SystemTime,
) -> Start {
    let (user, client, create_only) = (who.user, who.client, who.create_only);
    match op {
        Op::Create(c) => {
            let protocol = c.protocol;
            if create_only && root.meta(&c.path).is_ok() {
                return Start::Answer(service::forbidden_reply(
                    pared_core::permit::Forbidden::Lacks(pared_core::rights::Right::Write),
                    &pared_core::Method::Put,
                    now,
                ));
            }
            if let (Some(n), Some(m)) = (c.length, max) {
                if n > m {
                    return failed(FsFailure::TooLarge, protocol, max, now);
                }
            }
            let mut state = c.state;
            state.user = user.to_owned();
            if create_only && state.if_match.is_empty() {
                state.if_none_match = "*".into();
            }
            let (id, upload) = match root.create_resumable(&c.path, &state) {
                Ok(made) => made,
                Err(f) => return failed(f, protocol, max, now),
            };
            if admit(client, &id, c.length.unwrap_or(0), max).is_err() {
                drop(upload);
                let _ = root.cancel_resumable(&c.path, &id, user);
                let mut r =
                    replies::error(pared_core::StatusCode::TOO_MANY_REQUESTS, protocol, now);
                r.head.headers.append("Retry-After", "60");
                return Start::Answer(r);
            }
            let location = match who.share {
                Some(t) => format!("{}?upload={id}&share={t}", c.path.href(false)),
                None => format!("{}?upload={id}", c.path.href(false)),
            };
            let interim = matches!(protocol, Protocol::Ietf { interim: true })
                .then(|| replies::interim(&location, max));
            let pending = Box::new(Pending {
                path: c.path,
                protocol,
                id: id.clone(),
                created: Some(location),
                complete: c.complete,
                length: c.length,
                checksum: None,
                max,
            });
            if !has_body {
                return after_body(*pending, Ok(upload), now).into();
            }
            Start::Receive {
                upload: Box::new(upload),
                limit: max,
                pending,
                interim,
            }
        }
        Op::Offset(e) => match root.resumable_offset(&e.path, &e.id, user) {
            Ok((offset, state, _)) => Start::Answer(replies::offset(
                offset,
                state.length,
                max,
                &state.metadata,
                e.protocol,
                now,
            )),
            Err(f) => failed(f, e.protocol, max, now),
        },
        Op::Cancel(e) => match root.cancel_resumable(&e.path, &e.id, user) {
            Ok(()) => {
                release(&e.id);
                Start::Answer(replies::cancelled(e.protocol, now))
            }
            Err(f) => failed(f, e.protocol, max, now),
        },
        Op::Append {
            upload: e,
            offset,
            complete,
            length,
            checksum,
        } => {
            let protocol = e.protocol;
            let upload = match root.open_resumable(&e.path, &e.id, user) {
                Ok(u) => u,
                Err(f) => return failed(f, protocol, max, now),
            };
            let known = upload.upload_state().and_then(|s| s.length);
            if let (Some(a), Some(b)) = (known, length) {
                if a != b {
                    return answer(pared_core::StatusCode::BAD_REQUEST, protocol, now);
                }
            }
            if upload.offset() != offset {
                return Start::Answer(replies::wrong_offset(upload.offset(), protocol, now));
            }
            let pending = Box::new(Pending {
                path: e.path,
                protocol,
                id: e.id,
                created: None,
                complete,
                length: known.or(length),
                checksum,
                max,
            });
            if !has_body {
                return after_body(*pending, Ok(upload), now).into();
            }
            Start::Receive {
                upload: Box::new(upload),
                limit: max.map(|m| m.saturating_sub(offset)),
                pending,
                interim: None,
            }
        }
    }
}

/// What a resumable request comes to once its body is in: the commit
/// when the upload is whole, else the bytes kept and the offset said.
pub fn after_body(p: Pending, received: Result<Upload, FsFailure>, now: SystemTime) -> Done {
    let mut upload = match received {
        Ok(u) => u,
        Err(f) => return failed_done(f, p.protocol, p.max, now),
    };
    if let Some(sum) = &p.checksum {
        match upload.check_part(sum) {
            Ok(true) => {}
            Ok(false) => return Done::Answer(replies::checksum_mismatch(upload.offset(), now)),
            Err(f) => return failed_done(f, p.protocol, p.max, now),
        }
    }
    let offset = upload.offset();
    let done = match p.protocol {
        Protocol::Tus => p.length == Some(offset),
        Protocol::Ietf { .. } => p.complete,
    };
    if done {
        if p.length.is_some_and(|l| l != offset) {
            // The draft's inconsistent length: the upload stays as it is.
            return Done::Answer(replies::error(
                pared_core::StatusCode::BAD_REQUEST,
                p.protocol,
                now,
            ));
        }
        // Finished either way: stored, or refused for good.
        release(&p.id);
        return Done::Commit(Box::new(upload), p.path, p.protocol);
    }
    match upload.checkpoint() {
        Ok(offset) => {
            let expires = now + std::time::Duration::from_secs(pared_core::resumable::MAX_AGE_SECS);
            Done::Answer(replies::unfinished(
                p.created.as_deref(),
                offset,
                p.max,
                expires,
                p.protocol,
                now,
            ))
        }
        Err(f) => failed_done(f, p.protocol, p.max, now),
    }
}

/// Stores a whole upload at its target, the creating request's
/// preconditions checked again now.
pub fn commit(upload: Upload, path: &RelPath, protocol: Protocol) -> Reply {
    let state = upload.upload_state().cloned().unwrap_or_default();
    let pre = state.preconditions();
    let length = upload.offset();
    let now = SystemTime::now();
    let stored = upload.commit(&|current| service::write_allowed(&pre, current, now));
    let mut reply = match (protocol, stored) {
        (Protocol::Tus, Ok(_)) => replies::cancelled(Protocol::Ietf { interim: false }, now),
        (Protocol::Tus, Err(f)) => {
            replies::error(f.status(), Protocol::Ietf { interim: false }, now)
        }
        (Protocol::Ietf { .. }, stored) => service::put_reply(path, stored, now),
    };
    replies::completed(&mut reply, length, protocol);
    reply
}
