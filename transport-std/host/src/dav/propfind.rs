//! PROPFIND: the properties of a resource, and of a folder's members,
//! as a 207 written while it is sent.

use std::time::SystemTime;

use pared_core::dav::headers::{self, Depth};
use pared_core::dav::locks::{self, Lock};
use pared_core::dav::multistatus::{self, Multistatus, PropValue};
use pared_core::dav::request::{self, PropFind};
use pared_core::dav::QName;
use pared_core::path::RelPath;
use pared_core::service::{self, FileKind, Meta};
use pared_core::{RequestHead, StatusCode};

use super::lock_table::{read_table, unix_now};
use super::{href_of, key_of, xml};
use crate::fs::tree::read_props;
use crate::fs::{Names, Root};
use crate::steps::{Prepared, Produce, STREAM_PIECE};

/// PROPFIND (RFC 4918 §9.1): Depth 0 or 1 (infinity is refused with
/// `propfind-finite-depth`). A folder's members are described as they are
/// read and sent in pieces, so a 207 over a folder of any size costs
/// bounded memory; one that fits in a piece goes with a Content-Length.
pub(super) fn propfind(
    root: &Root,
    req: &RequestHead,
    path: &RelPath,
    body: &[u8],
    now: SystemTime,
) -> Result<Prepared, StatusCode> {
    let depth = headers::depth(req, Depth::Infinity)?;
    if depth == Depth::Infinity {
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n";
        return Ok(xml(StatusCode::FORBIDDEN, body.into(), now));
    }
    let asked = request::propfind(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let top = root.open_read(path).map_err(|f| f.status())?;
    if top.meta.kind == FileKind::Other {
        return Err(StatusCode::FORBIDDEN);
    }
    let table = read_table(root, now).unwrap_or_default();
    let mut m = Multistatus::new();
    describe(&mut m, path, &top.meta, &top.file, &asked, &table, now);
    let names = if top.meta.kind == FileKind::Dir && depth == Depth::One {
        Some(
            root.names(&top.file)
                .map_err(|e| crate::fs::failure(&e).status())?,
        )
    } else {
        None
    };
    let mut members = Members {
        root: root.clone(),
        path: path.clone(),
        names,
        asked,
        table,
        now,
        m: Some(m),
    };
    members
        .fill()
        .map_err(|e| crate::fs::failure(&e).status())?;
    if members.names.is_none() {
        let body = members
            .m
            .take()
            .map(Multistatus::finish)
            .unwrap_or_default();
        return Ok(xml(StatusCode::MULTI_STATUS, body, now));
    }
    Ok(Prepared::streamed(
        service::xml_stream_reply(StatusCode::MULTI_STATUS, now),
        Box::new(members),
    ))
}

/// The rest of a Depth 1 PROPFIND: the folder's members, described as
/// they are read.
#[derive(Debug)]
struct Members {
    root: Root,
    path: RelPath,
    /// The names not yet read; `None` once the folder is done.
    names: Option<Names>,
    asked: PropFind,
    table: Vec<Lock>,
    now: SystemTime,
    /// The body being written; `None` once it is finished and sent.
    m: Option<Multistatus>,
}

impl Members {
    /// Describes members until a piece is written or the folder is done.
    fn fill(&mut self) -> std::io::Result<()> {
        let Some(m) = self.m.as_mut() else {
            return Ok(());
        };
        while m.pending() < STREAM_PIECE {
            let Some(names) = self.names.as_mut() else {
                break;
            };
            let name = match names.next() {
                None => {
                    self.names = None;
                    break;
                }
                Some(name) => name?,
            };
            if name.starts_with('.') {
                continue;
            }
            let Ok(child) = self.path.join(&name) else {
                continue;
            };
            if let Ok(o) = self.root.open_read(&child) {
                if o.meta.kind != FileKind::Other {
                    describe(
                        m,
                        &child,
                        &o.meta,
                        &o.file,
                        &self.asked,
                        &self.table,
                        self.now,
                    );
                }
            }
        }
        Ok(())
    }
}

impl Produce for Members {
    fn produce(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        self.fill()?;
        if self.names.is_some() {
            if let Some(m) = self.m.as_mut() {
                out.extend_from_slice(m.take().as_bytes());
            }
            return Ok(true);
        }
        if let Some(m) = self.m.take() {
            out.extend_from_slice(m.finish().as_bytes());
        }
        Ok(false)
    }
}

/// One resource's response in a PROPFIND.
fn describe(
    m: &mut Multistatus,
    path: &RelPath,
    meta: &Meta,
    file: &std::fs::File,
    asked: &PropFind,
    table: &[Lock],
    now: SystemTime,
) {
    let dir = meta.kind == FileKind::Dir;
    let href = path.href(dir);
    let key = key_of(path);
    let discovery: String = locks::covering(table, &key)
        .map(|l| l.activelock(&href_of(&l.root), unix_now(now)))
        .collect();
    let name = path.file_name().unwrap_or("");
    let dead = read_props(file);
    let live = |q: &QName| multistatus::live_value(q, meta, name, &discovery, now);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match asked {
        PropFind::AllProp | PropFind::PropName => {
            let names_only = matches!(asked, PropFind::PropName);
            for local in multistatus::LIVE {
                let q = QName::dav(local);
                if let Some(v) = live(&q) {
                    let value = (!names_only).then_some(v);
                    found.push(PropValue { name: q, value });
                }
            }
            for (q, v) in dead {
                let value = (!names_only).then_some(v);
                found.push(PropValue { name: q, value });
            }
        }
        PropFind::Props(names) => {
            for q in names {
                let value =
                    live(q).or_else(|| dead.iter().find(|(n, _)| n == q).map(|(_, v)| v.clone()));
                match value {
                    Some(v) => found.push(PropValue {
                        name: q.clone(),
                        value: Some(v),
                    }),
                    None => missing.push(PropValue {
                        name: q.clone(),
                        value: None,
                    }),
                }
            }
        }
    }
    m.propstats(
        &href,
        &[(StatusCode::OK, found), (StatusCode::NOT_FOUND, missing)],
    );
}
