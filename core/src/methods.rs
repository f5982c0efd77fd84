//! The method table: for every method pared serves, whether it writes,
//! what request body it takes, and which decision answers it. Routing,
//! access control, `Allow`, `--read-only` and the client all read this
//! table; nothing else decides what a method is.
//!
//! Invariants:
//! - A method is a write exactly when its row says [`Effect::Write`]; a
//!   method with no row is never served (501), so it cannot be taken for
//!   a read that skips access control.
//! - `--read-only` refuses every write (405) and `Allow` then lists only
//!   the reads, in table order.
//!
//! Adding a method is a row here plus its decision (an [`Action`] and the
//! code that answers it): see `docs/ARCHITECTURE.md`.

use std::borrow::Cow;

use crate::head::Method;
use crate::rights::Right;

/// Whether a method changes what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only: open to anyone unless `--auth-reads`.
    Read,
    /// Changes the tree: needs credentials (or loopback, without users),
    /// refused by `--read-only`.
    Write,
}

/// What request body a method takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// None: a body sent anyway is read and discarded.
    None,
    /// A stored upload, streamed to a temporary file (Content-Length or
    /// chunked), bounded by `--max-upload`.
    Upload,
    /// A small document read into memory, up to `max` bytes (XML bodies of
    /// WebDAV methods, say).
    Document {
        /// The most bytes accepted; more get 413.
        max: u64,
    },
}

/// Which decision answers a method: the route core's service takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open the target and answer with it (GET, HEAD).
    Fetch,
    /// Store the body at the target (PUT).
    Store,
    /// Remove the target (DELETE).
    Remove,
    /// Say what the server allows (OPTIONS).
    Describe,
    /// Report properties (PROPFIND).
    PropFind,
    /// Set and remove dead properties (PROPPATCH).
    PropPatch,
    /// Make a collection (MKCOL).
    MakeCollection,
    /// Copy a resource or a tree (COPY).
    Copy,
    /// Move or rename a resource or a tree (MOVE).
    Move,
    /// Take or refresh a write lock (LOCK).
    Lock,
    /// Give a lock up (UNLOCK).
    Unlock,
    /// Create or append to a resumable upload (POST, PATCH: the IETF
    /// draft and tus; see [`crate::resumable`]).
    Resume,
}

/// What a client prints for a response (see [`Methods::shown_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The body, as it arrives.
    Body,
    /// The response head.
    Head,
    /// The status line alone: what a write came to.
    Outcome,
    /// A table of a folder's members, read from a 207 (PROPFIND).
    Listing,
}

/// The rights a method needs (see [`crate::rights`]): at its target,
/// and at its `Destination` (COPY, MOVE). A PUT that would replace a file
/// needs write on top of create; the host checks that against the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// At the request's path; `None` for a method that touches nothing
    /// (OPTIONS).
    pub target: Option<Right>,
    /// At the `Destination` header's path.
    pub destination: Option<Right>,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The method token, as on the wire (case-sensitive).
    pub token: &'static str,
    /// Read or write.
    pub effect: Effect,
    /// The request body it takes.
    pub body: RequestBody,
    /// The decision that answers it.
    pub action: Action,
    /// The rights it needs.
    pub needs: Needs,
}

impl Row {
    /// True when `--read-only` refuses this method (every write).
    pub fn refused_when_read_only(&self) -> bool {
        self.effect == Effect::Write
    }
}

/// The methods pared serves, in the order `Allow` lists them.
pub const STANDARD: &[Row] = &[
    Row {
        token: "GET",
        effect: Effect::Read,
        body: RequestBody::None,
        action: Action::Fetch,
        needs: Needs {
            target: Some(Right::Read),
            destination: None,
        },
    },
    Row {
        token: "HEAD",
        effect: Effect::Read,
        body: RequestBody::None,
        action: Action::Fetch,
        needs: Needs {
            target: Some(Right::Read),
            destination: None,
        },
    },
    Row {
        token: "PUT",
        effect: Effect::Write,
        body: RequestBody::Upload,
        action: Action::Store,
        needs: Needs {
            target: Some(Right::Create),
            destination: None,
        },
    },
    Row {
        token: "DELETE",
        effect: Effect::Write,
        body: RequestBody::None,
        action: Action::Remove,
        needs: Needs {
            target: Some(Right::Delete),
            destination: None,
        },
    },
    Row {
        token: "OPTIONS",
        effect: Effect::Read,
        body: RequestBody::None,
        action: Action::Describe,
        needs: Needs {
            target: None,
            destination: None,
        },
    },
    Row {
        token: "PROPFIND",
        effect: Effect::Read,
        body: RequestBody::Document { max: DOCUMENT_MAX },
        action: Action::PropFind,
        needs: Needs {
            target: Some(Right::Read),
            destination: None,
        },
    },
    Row {
        token: "PROPPATCH",
        effect: Effect::Write,
        body: RequestBody::Document { max: DOCUMENT_MAX },
        action: Action::PropPatch,
        needs: Needs {
            target: Some(Right::Write),
            destination: None,
        },
    },
    Row {
        token: "MKCOL",
        effect: Effect::Write,
        body: RequestBody::Document { max: DOCUMENT_MAX },
        action: Action::MakeCollection,
        needs: Needs {
            target: Some(Right::Create),
            destination: None,
        },
    },
    Row {
        token: "COPY",
        effect: Effect::Write,
        body: RequestBody::None,
        action: Action::Copy,
        needs: Needs {
            target: Some(Right::Read),
            destination: Some(Right::Create),
        },
    },
    Row {
        token: "MOVE",
        effect: Effect::Write,
        body: RequestBody::None,
        action: Action::Move,
        needs: Needs {
            target: Some(Right::Manage),
            destination: Some(Right::Manage),
        },
    },
    Row {
        token: "LOCK",
        effect: Effect::Write,
        body: RequestBody::Document { max: DOCUMENT_MAX },
        action: Action::Lock,
        needs: Needs {
            target: Some(Right::Manage),
            destination: None,
        },
    },
    Row {
        token: "UNLOCK",
        effect: Effect::Write,
        body: RequestBody::None,
        action: Action::Unlock,
        needs: Needs {
            target: Some(Right::Manage),
            destination: None,
        },
    },
    Row {
        token: "POST",
        effect: Effect::Write,
        body: RequestBody::Upload,
        action: Action::Resume,
        needs: Needs {
            target: Some(Right::Create),
            destination: None,
        },
    },
    Row {
        token: "PATCH",
        effect: Effect::Write,
        body: RequestBody::Upload,
        action: Action::Resume,
        needs: Needs {
            target: Some(Right::Create),
            destination: None,
        },
    },
];

/// The largest XML body a WebDAV method takes (PROPFIND, PROPPATCH, LOCK,
/// MKCOL): read into memory, so bounded.
pub const DOCUMENT_MAX: u64 = 256 * 1024;

/// A method table: [`STANDARD`] unless a caller (a test, an extension)
/// adds rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Methods {
    rows: Cow<'static, [Row]>,
}

impl Default for Methods {
    fn default() -> Methods {
        Methods::standard()
    }
}

impl Methods {
    /// The table of the methods pared serves.
    pub const fn standard() -> Methods {
        Methods {
            rows: Cow::Borrowed(STANDARD),
        }
    }

    /// This table with `row` added (or replacing the row of its token).
    pub fn with(mut self, row: Row) -> Methods {
        let rows = self.rows.to_mut();
        match rows.iter_mut().find(|r| r.token == row.token) {
            Some(r) => *r = row,
            None => rows.push(row),
        }
        self
    }

    /// The row of `method`, if pared serves it.
    pub fn find(&self, method: &Method) -> Option<&Row> {
        let token = method.as_str();
        self.rows.iter().find(|r| r.token == token)
    }

    /// The row of a method token as a person types it (any case), for the
    /// client's command line.
    pub fn find_token(&self, token: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.token.eq_ignore_ascii_case(token))
    }

    /// Whether `method` writes; `None` for a method pared does not serve.
    pub fn effect(&self, method: &Method) -> Option<Effect> {
        self.find(method).map(|r| r.effect)
    }

    /// True when a client sends a stored upload (a local file) with `method`.
    pub fn takes_upload(&self, method: &Method) -> bool {
        self.find(method)
            .is_some_and(|r| r.body == RequestBody::Upload)
    }

    /// How a client shows the answer to `method`: the body of a read that
    /// fetches, the head of HEAD and OPTIONS, the status line of a write.
    pub fn shown_as(&self, method: &Method) -> Shown {
        match self.find(method) {
            Some(r) if r.effect == Effect::Write => Shown::Outcome,
            Some(r) if r.action == Action::PropFind => Shown::Listing,
            Some(r) if r.action == Action::Describe => Shown::Head,
            _ if *method == Method::Head => Shown::Head,
            _ => Shown::Body,
        }
    }

    /// The `Allow` value: every method served, or only the reads when
    /// `read_only`.
    pub fn allow(&self, read_only: bool) -> String {
        let mut out = String::with_capacity(40);
        for row in self.rows.iter() {
            if read_only && row.refused_when_read_only() {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(row.token);
        }
        out
    }

    /// Every row, in table order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_rows() {
        let m = Methods::standard();
        assert_eq!(m.effect(&Method::Get), Some(Effect::Read));
        assert_eq!(m.effect(&Method::Put), Some(Effect::Write));
        assert_eq!(m.effect(&Method::Delete), Some(Effect::Write));
        assert_eq!(m.effect(&Method::Post), Some(Effect::Write));
        assert_eq!(m.effect(&Method::Other("get".into())), None);
        assert_eq!(
            m.allow(false),
            "GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, POST, PATCH"
        );
        assert_eq!(m.allow(true), "GET, HEAD, OPTIONS, PROPFIND");
        assert_eq!(m.find_token("put").map(|r| r.token), Some("PUT"));
    }

    #[test]
    fn added_rows_are_listed_and_replace() {
        let row = Row {
            token: "BIND",
            effect: Effect::Write,
            body: RequestBody::None,
            action: Action::Store,
            needs: Needs {
                target: Some(Right::Create),
                destination: None,
            },
        };
        let m = Methods::standard().with(row);
        assert_eq!(m.effect(&Method::Other("BIND".into())), Some(Effect::Write));
        assert!(m.allow(false).ends_with(", UNLOCK, POST, PATCH, BIND"));
        assert_eq!(m.allow(true), "GET, HEAD, OPTIONS, PROPFIND");
        let m = m.with(Row {
            effect: Effect::Read,
            ..row
        });
        assert_eq!(m.rows().len(), STANDARD.len() + 1);
        assert_eq!(m.effect(&Method::Other("BIND".into())), Some(Effect::Read));
    }
}
