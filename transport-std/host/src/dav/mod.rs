//! The WebDAV steps (RFC 4918 classes 1 and 2): each runs the file-system
//! calls a method needs and asks pared-core's `dav` decisions what to
//! answer. Every step may wait on the disk; the exchange runs them where
//! waiting is allowed.
//!
//! Invariants: a write (PUT, DELETE, PROPPATCH, MKCOL, COPY, MOVE, LOCK)
//! first passes [`write_check`]: its If field must hold (else 412) and it
//! must submit the token of every lock that covers what it changes (else
//! 423), taken by the same user. Paths come from core's target and
//! Destination checks, so a COPY or MOVE never leaves the root.

pub mod lock_table;
mod propfind;

use std::time::SystemTime;

use pared_core::dav::headers::{self, Depth};
use pared_core::dav::if_header::{self, ResourceState};
use pared_core::dav::locks::{self, Lock};
use pared_core::dav::multistatus::{self, Multistatus, PropValue};
use pared_core::dav::request::{self, PatchOp};
use pared_core::dav::QName;
use pared_core::methods::Action;
use pared_core::path::{resolve_target, RelPath};
use pared_core::service::{self, FileKind, FsFailure};
use pared_core::{RequestHead, StatusCode};

use crate::fs::tree::{read_props, write_props, MkcolFailure};
use crate::fs::Root;
use crate::steps::{self, Prepared};
use lock_table::{read_table, unix_now, with_table};

/// The longest lock pared grants, in seconds (a week); `Infinite` gets this.
pub const MAX_LOCK: u64 = 7 * 24 * 3600;
/// The lock timeout when a client asks for none, in seconds.
pub const DEFAULT_LOCK: u64 = 3600;

/// Runs a WebDAV method on `path` with its (already read) body.
pub fn run(
    root: &Root,
    req: &RequestHead,
    action: Action,
    path: &RelPath,
    body: &[u8],
    user: Option<&str>,
    now: SystemTime,
) -> Prepared {
    let r = match action {
        Action::PropFind => propfind::propfind(root, req, path, body, now),
        Action::PropPatch => proppatch(root, req, path, body, user, now),
        Action::MakeCollection => mkcol(root, req, path, body, user, now),
        Action::Copy => copy_move(root, req, path, false, user, now),
        Action::Move => copy_move(root, req, path, true, user, now),
        Action::Lock => lock(root, req, path, body, user, now),
        Action::Unlock => unlock(root, req, path, user, now),
        _ => Err(StatusCode::NOT_IMPLEMENTED),
    };
    r.unwrap_or_else(|status| error(req, status, now))
}

fn error(req: &RequestHead, status: StatusCode, now: SystemTime) -> Prepared {
    Prepared::reply(service::error_reply(status, Some(&req.method), now))
}

fn xml(status: StatusCode, body: String, now: SystemTime) -> Prepared {
    Prepared::generated(
        service::xml_reply(status, body.len(), now),
        body.into_bytes(),
    )
}

/// A 207 naming each member of a tree that could not be changed.
fn failures(failed: &[(RelPath, FsFailure)], now: SystemTime) -> Prepared {
    let mut m = Multistatus::new();
    for (p, f) in failed {
        m.status(&p.href(false), f.status());
    }
    xml(StatusCode::MULTI_STATUS, m.finish(), now)
}

/// The lock-table key of a path.
pub fn key_of(path: &RelPath) -> String {
    format!("/{path}")
}

/// The href of a lock-table key (decoded names joined with `/`).
fn href_of(key: &str) -> String {
    let mut out = String::new();
    for seg in key.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        pared_core::path::encode_into(seg, &mut out);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The path a tagged If list names (an absolute URI or path on this
/// server), if it is one beneath the root.
fn tag_path(tag: &str) -> Option<RelPath> {
    let tag = tag.split('#').next().unwrap_or(tag);
    let path = match tag.find("://") {
        Some(i) => {
            let rest = &tag[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => tag,
    };
    resolve_target(path).ok()
}

/// What an If field sees of `path`: its ETag and the locks covering it.
fn state_of(root: &Root, table: &[Lock], path: &RelPath) -> ResourceState {
    let key = key_of(path);
    ResourceState {
        etag: root.open_read(path).ok().map(|o| o.meta.etag()),
        tokens: locks::covering(table, &key)
            .map(|l| l.token.clone())
            .collect(),
    }
}

/// The If field and the locks: `Ok` when a write to `targets` (their
/// trees too, with `tree`) may go ahead; else the status to answer
/// (400 for an If field that does not parse, 412 when it does not hold,
/// 423 without the tokens of the locks in the way).
pub fn write_check(
    root: &Root,
    req: &RequestHead,
    targets: &[&RelPath],
    tree: bool,
    user: Option<&str>,
    now: SystemTime,
) -> Result<(), StatusCode> {
    let cond = if_header::parse(req).map_err(|_| StatusCode::BAD_REQUEST)?;
    let table = read_table(root, now).map_err(|f| f.status())?;
    if let Some(cond) = &cond {
        let first = targets.first().copied();
        let holds = cond.holds(&|tag| {
            let path = match tag {
                None => first.cloned(),
                Some(t) => tag_path(t),
            };
            path.map_or_else(ResourceState::default, |p| state_of(root, &table, &p))
        });
        if !holds {
            return Err(StatusCode::PRECONDITION_FAILED);
        }
    }
    let submitted: Vec<&str> = cond.iter().flat_map(|c| c.submitted()).collect();
    let keys: Vec<String> = targets.iter().map(|p| key_of(p)).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    if locks::may_write(&table, &keys, tree, &submitted, user) {
        Ok(())
    } else {
        Err(StatusCode::LOCKED)
    }
}

/// Drops the locks on `path` and below it (the resources are gone).
fn forget_locks(root: &Root, path: &RelPath, now: SystemTime) {
    let key = key_of(path);
    let _ = with_table(root, now, |t| {
        t.retain(|l| !locks::is_within(&l.root, &key));
    });
}

/// DELETE of a file or a tree.
pub fn delete(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    user: Option<&str>,
    now: SystemTime,
) -> Prepared {
    if let Err(s) = write_check(root, req, &[path], true, user, now) {
        return error(req, s, now);
    }
    match root.kind(path) {
        Ok(Some(FileKind::Dir)) if !path.is_root() => match root.remove_tree(path) {
            Ok(failed) if failed.is_empty() => {
                forget_locks(root, path, now);
                Prepared::reply(service::empty_reply(StatusCode::NO_CONTENT, now))
            }
            Ok(failed) => failures(&failed, now),
            Err(f) => error(req, f.status(), now),
        },
        Ok(Some(FileKind::Dir)) => error(req, StatusCode::FORBIDDEN, now),
        Ok(_) if path.has_trailing_slash() => error(req, StatusCode::NOT_FOUND, now),
        _ => {
            let answer = steps::delete(root, req, path, now);
            if answer.head.status.is_success() {
                forget_locks(root, path, now);
            }
            answer
        }
    }
}

fn proppatch(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    body: &[u8],
    user: Option<&str>,
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    write_check(root, req, &[path], false, user, now)?;
    let ops = request::proppatch(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let target = root.open_read(path).map_err(|f| f.status())?;
    let name_of = |op: &PatchOp| match op {
        PatchOp::Set(q, _) | PatchOp::Remove(q) => q.clone(),
    };
    let protected = ops.iter().any(|op| multistatus::is_live(&name_of(op)));
    let outcome: Vec<(StatusCode, QName)> = if protected {
        // All or nothing: the protected ones are 403, the rest 424.
        ops.iter()
            .map(|op| {
                let q = name_of(op);
                let s = if multistatus::is_live(&q) {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::FAILED_DEPENDENCY
                };
                (s, q)
            })
            .collect()
    } else {
        let mut props = read_props(&target.file);
        for op in &ops {
            match op {
                PatchOp::Set(q, v) => match props.iter_mut().find(|(n, _)| n == q) {
                    Some(slot) => slot.1 = v.clone(),
                    None => props.push((q.clone(), v.clone())),
                },
                PatchOp::Remove(q) => props.retain(|(n, _)| n != q),
            }
        }
        let status = match write_props(&target.file, &props) {
            Ok(()) => StatusCode::OK,
            Err(FsFailure::NoSpace) => StatusCode::INSUFFICIENT_STORAGE,
            Err(f) => f.status(),
        };
        ops.iter().map(|op| (status, name_of(op))).collect()
    };
    let mut groups: Vec<(StatusCode, Vec<PropValue>)> = Vec::new();
    for (status, name) in outcome {
        let value = PropValue { name, value: None };
        match groups.iter_mut().find(|(s, _)| *s == status) {
            Some((_, v)) => {
                if !v.contains(&value) {
                    v.push(value)
                }
            }
            None => groups.push((status, vec![value])),
        }
    }
    let mut m = Multistatus::new();
    m.propstats(&path.href(target.meta.kind == FileKind::Dir), &groups);
    Ok(xml(StatusCode::MULTI_STATUS, m.finish(), now))
}

fn mkcol(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    body: &[u8],
    user: Option<&str>,
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    if !body.is_empty() {
        return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    write_check(root, req, &[path], false, user, now)?;
    match root.make_dir(path) {
        Ok(()) => {
            let mut reply = service::empty_reply(StatusCode::CREATED, now);
            reply.head.headers.append("Location", path.href(true));
            Ok(Prepared::reply(reply))
        }
        Err(MkcolFailure::Exists) => Err(StatusCode::METHOD_NOT_ALLOWED),
        Err(MkcolFailure::Fs(f)) => Err(f.status()),
    }
}

fn copy_move(
    root: &Root,
    req: &RequestHead,
    from: &RelPath,
    is_move: bool,
    user: Option<&str>,
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    let to = headers::destination(req)?;
    let overwrite = headers::overwrite(req)?;
    let depth = headers::depth(req, Depth::Infinity)?;
    if depth == Depth::One || (is_move && depth != Depth::Infinity) {
        return Err(StatusCode::BAD_REQUEST);
    }
    let kind = root.kind(from).map_err(|f| f.status())?;
    let Some(kind) = kind else {
        return Err(StatusCode::NOT_FOUND);
    };
    if from.is_root() || to.is_root() || from.segments() == to.segments() {
        return Err(StatusCode::FORBIDDEN);
    }
    let (fk, tk) = (key_of(from), key_of(&to));
    if kind == FileKind::Dir && locks::is_within(&tk, &fk) {
        // A collection into itself.
        return Err(StatusCode::FORBIDDEN);
    }
    if is_move {
        write_check(root, req, &[from, &to], true, user, now)?;
    } else {
        write_check(root, req, &[&to], true, user, now)?;
    }
    let existed = root.kind(&to).map_err(|f| f.status())?.is_some();
    if existed {
        if !overwrite {
            return Err(StatusCode::PRECONDITION_FAILED);
        }
        match root.remove_tree(&to) {
            Ok(failed) if failed.is_empty() => forget_locks(root, &to, now),
            Ok(_) => return Err(StatusCode::LOCKED),
            Err(f) => return Err(f.status()),
        }
    }
    root.existing_parent(&to).map_err(|f| f.status())?;
    let failed = if is_move {
        root.rename(from, &to).map_err(|f| f.status())?;
        forget_locks(root, from, now);
        Vec::new()
    } else if kind == FileKind::Dir {
        root.copy_tree(from, &to, depth == Depth::Infinity)
            .map_err(|f| f.status())?
    } else {
        root.copy_file(from, &to).map_err(|f| f.status())?;
        Vec::new()
    };
    if !failed.is_empty() {
        return Ok(failures(&failed, now));
    }
    let status = if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    };
    let mut reply = service::empty_reply(status, now);
    if !existed {
        reply
            .head
            .headers
            .append("Location", to.href(kind == FileKind::Dir));
    }
    Ok(Prepared::reply(reply))
}

fn lock(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    body: &[u8],
    user: Option<&str>,
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    let asked = request::lockinfo(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let timeout = headers::timeout(req, DEFAULT_LOCK, MAX_LOCK);
    let t = unix_now(now);
    let key = key_of(path);
    let Some(asked) = asked else {
        // A refresh: the If field names the lock.
        let cond = if_header::parse(req)
            .map_err(|_| StatusCode::BAD_REQUEST)?
            .ok_or(StatusCode::BAD_REQUEST)?;
        let submitted: Vec<String> = cond.submitted().map(str::to_owned).collect();
        let refreshed = with_table(root, now, |table| {
            let lock = table.iter_mut().find(|l| {
                l.covers(&key) && submitted.contains(&l.token) && l.user.as_deref() == user
            })?;
            lock.timeout = timeout;
            lock.expires = t + timeout;
            Some(lock.clone())
        })
        .map_err(|f| f.status())?;
        let lock = refreshed.ok_or(StatusCode::PRECONDITION_FAILED)?;
        let body = locks::lock_answer(&[&lock], &href_of(&lock.root), t);
        return Ok(xml(StatusCode::OK, body, now));
    };
    let depth = headers::depth(req, Depth::Infinity)?;
    if depth == Depth::One {
        return Err(StatusCode::BAD_REQUEST);
    }
    let existed = root.kind(path).map_err(|f| f.status())?.is_some();
    if !existed {
        // A lock on an unmapped URL makes an empty resource (RFC 4918 §7.3).
        write_check(root, req, &[path], false, user, now)?;
        let upload = root
            .begin_upload(path, Some(0), service::WriteGuard::CreateOnly, Vec::new())
            .map_err(|f| f.status())?;
        upload.commit(&|_| true).map_err(|f| f.status())?;
    }
    let mut random = [0u8; 16];
    rustix::rand::getrandom(&mut random, rustix::rand::GetRandomFlags::empty())
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let lock = Lock {
        token: locks::new_token(random),
        root: key.clone(),
        infinite: depth == Depth::Infinity,
        exclusive: asked.exclusive,
        owner: asked.owner,
        user: user.map(str::to_owned),
        timeout,
        expires: t + timeout,
    };
    let granted = with_table(root, now, |table| {
        if locks::conflicts(table, &key, lock.infinite, lock.exclusive) {
            return false;
        }
        table.push(lock.clone());
        true
    })
    .map_err(|f| f.status())?;
    if !granted {
        return Err(StatusCode::LOCKED);
    }
    let body = locks::lock_answer(&[&lock], &path.href(false), t);
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut reply = service::xml_reply(status, body.len(), now);
    reply
        .head
        .headers
        .append("Lock-Token", format!("<{}>", lock.token));
    Ok(Prepared::generated(reply, body.into_bytes()))
}

fn unlock(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    user: Option<&str>,
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    let token = req
        .headers
        .get_str("lock-token")
        .map(str::trim)
        .and_then(|t| t.strip_prefix('<')?.strip_suffix('>'))
        .ok_or(StatusCode::BAD_REQUEST)?
        .to_owned();
    let key = key_of(path);
    let outcome = with_table(root, now, |table| {
        let Some(i) = table
            .iter()
            .position(|l| l.token == token && l.covers(&key))
        else {
            return Err(StatusCode::CONFLICT);
        };
        if table[i].user.as_deref() != user {
            return Err(StatusCode::FORBIDDEN);
        }
        table.remove(i);
        Ok(())
    })
    .map_err(|f| f.status())?;
    outcome?;
    Ok(Prepared::reply(service::empty_reply(
        StatusCode::NO_CONTENT,
        now,
    )))
}
