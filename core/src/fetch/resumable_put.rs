//! The client's side of a resumable upload (the IETF draft, interop
//! version 8), as a plan the runtime runs one request at a time:
//!
//! 1. `OPTIONS` of the target: the server must list
//!    `application/partial-upload` in `Accept-Patch`, else the caller
//!    sends a plain PUT (a bare creation would store an empty file on a
//!    server that ignores the draft).
//! 2. With an upload URL from an earlier run (`-C`), `HEAD` it for the
//!    offset; otherwise create the upload with an empty `PUT`
//!    (`Upload-Complete: ?0`, `Upload-Length`).
//! 3. `PATCH` parts of at most `part` bytes from the offset, the last with
//!    `Upload-Complete: ?1`.
//! 4. A part cut by the network: wait (1, 2, 4, 8, 16 s), `HEAD` for the
//!    offset, go on; at most [`MAX_RETRIES`] times in a row.
//!
//! Pure: the caller sends, and reports each answer or failure here.

use std::time::Duration;

use crate::head::ResponseHead;
use crate::resumable::INTEROP_VERSION;

/// Network failures in a row before the upload gives up, by default.
pub const MAX_RETRIES: u32 = 5;

/// The part size when none is given: small enough for common proxy caps.
pub const DEFAULT_PART: u64 = 8 << 20;

/// The next request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `OPTIONS` of the target.
    Probe,
    /// An empty `PUT` to the target that creates the upload.
    Create {
        /// Its fields.
        headers: Vec<(String, String)>,
    },
    /// `HEAD` of the upload URL.
    Offset {
        /// The upload's URL (path and query).
        url: String,
    },
    /// `PATCH` of the file's bytes `offset..offset + len` to the upload.
    Append {
        /// The upload's URL.
        url: String,
        /// Where the part starts.
        offset: u64,
        /// How long it is.
        len: u64,
        /// Its fields.
        headers: Vec<(String, String)>,
        /// The part ends the upload.
        last: bool,
    },
}

/// What the plan comes to after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send [`ResumablePut::next`].
    Continue,
    /// The server does not take resumable uploads: send a plain PUT.
    Unsupported,
    /// The upload was made: keep its URL for `-C`.
    Created(String),
    /// The upload is over; this answer (to the last part) is the result.
    Finished,
    /// The upload URL is gone (expired, cancelled): start again.
    Restart,
    /// Stop with this answer's status.
    Failed(u16),
}

/// A resumable upload of `size` bytes in progress.
#[derive(Debug, Clone)]
pub struct ResumablePut {
    size: u64,
    part: u64,
    url: Option<String>,
    offset: u64,
    probed: bool,
    known: bool,
    retries: u32,
    max_retries: u32,
    pending: Option<Request>,
}

fn field(head: &ResponseHead, name: &str) -> Option<u64> {
    head.headers.get_str(name)?.trim().parse().ok()
}

impl ResumablePut {
    /// An upload of `size` bytes in parts of `part` (at least 1), resuming
    /// the upload at `url` when an earlier run left one.
    pub fn new(size: u64, part: u64, url: Option<String>) -> ResumablePut {
        ResumablePut {
            size,
            part: part.max(1),
            url,
            offset: 0,
            probed: false,
            known: false,
            retries: 0,
            max_retries: MAX_RETRIES,
            pending: None,
        }
    }

    /// At most `n` network failures in a row (default [`MAX_RETRIES`]).
    pub fn with_retries(mut self, n: u32) -> ResumablePut {
        self.max_retries = n;
        self
    }

    /// The upload's URL, once there is one.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The bytes the server holds, as far as the plan knows.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The request to send now.
    pub fn next(&mut self, creating: &[(String, String)]) -> Request {
        let r = match (&self.url, self.probed, self.known) {
            (_, false, _) => Request::Probe,
            (None, true, _) => {
                let mut headers = vec![
                    ("Upload-Complete".into(), "?0".into()),
                    ("Upload-Length".into(), self.size.to_string()),
                    (
                        "Upload-Draft-Interop-Version".into(),
                        INTEROP_VERSION.to_string(),
                    ),
                ];
                headers.extend(creating.iter().cloned());
                Request::Create { headers }
            }
            (Some(url), true, false) => Request::Offset { url: url.clone() },
            (Some(url), true, true) => {
                let len = (self.size - self.offset.min(self.size)).min(self.part);
                let last = self.offset + len >= self.size;
                Request::Append {
                    url: url.clone(),
                    offset: self.offset,
                    len,
                    headers: vec![
                        ("Content-Type".into(), "application/partial-upload".into()),
                        ("Upload-Offset".into(), self.offset.to_string()),
                        (
                            "Upload-Complete".into(),
                            if last { "?1" } else { "?0" }.into(),
                        ),
                        (
                            "Upload-Draft-Interop-Version".into(),
                            INTEROP_VERSION.to_string(),
                        ),
                    ],
                    last,
                }
            }
        };
        self.pending = Some(r.clone());
        r
    }

    /// Takes the answer to the request [`ResumablePut::next`] gave.
    pub fn on_answer(&mut self, head: &ResponseHead) -> Outcome {
        let status = head.status.as_u16();
        match self.pending.take() {
            Some(Request::Probe) => {
                self.probed = true;
                let takes = head.headers.get_str("accept-patch").is_some_and(|v| {
                    v.split(',')
                        .any(|t| t.trim().eq_ignore_ascii_case("application/partial-upload"))
                });
                if takes {
                    Outcome::Continue
                } else {
                    Outcome::Unsupported
                }
            }
            Some(Request::Create { .. }) => match head.headers.get_str("location") {
                Some(loc) if status == 201 && loc.contains("?upload=") => {
                    // An absolute URL names the same server: keep its path.
                    let loc = loc.trim();
                    let url = match loc.split_once("://") {
                        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
                        None => loc.to_owned(),
                    };
                    self.url = Some(url.clone());
                    self.offset = field(head, "upload-offset").unwrap_or(0);
                    self.known = true;
                    Outcome::Created(url)
                }
                _ => Outcome::Failed(status),
            },
            Some(Request::Offset { .. }) => match status {
                200 | 204 => match field(head, "upload-offset") {
                    Some(o) if o <= self.size => {
                        self.offset = o;
                        self.known = true;
                        self.retries = 0;
                        Outcome::Continue
                    }
                    _ => Outcome::Failed(status),
                },
                404 | 410 => {
                    self.url = None;
                    self.known = false;
                    self.offset = 0;
                    Outcome::Restart
                }
                s if s >= 500 => Outcome::Continue,
                s => Outcome::Failed(s),
            },
            Some(Request::Append { offset, len, .. }) => {
                if head.headers.get_str("upload-complete").map(str::trim) == Some("?1") {
                    return Outcome::Finished;
                }
                match status {
                    204 | 200 => {
                        self.offset = field(head, "upload-offset").unwrap_or(offset + len);
                        self.retries = 0;
                        Outcome::Continue
                    }
                    409 => match field(head, "upload-offset") {
                        Some(o) if o <= self.size => {
                            self.offset = o;
                            Outcome::Continue
                        }
                        _ => Outcome::Failed(status),
                    },
                    // The server failed: ask for the offset and go on.
                    s if s >= 500 => {
                        self.known = false;
                        Outcome::Continue
                    }
                    s => Outcome::Failed(s),
                }
            }
            None => Outcome::Failed(status),
        }
    }

    /// The request was cut by the network (or timed out): how long to
    /// wait before going on, or `None` when the retries are used up or
    /// there is no upload to resume yet.
    pub fn on_network_error(&mut self) -> Option<Duration> {
        let resumable = matches!(
            self.pending.take(),
            Some(Request::Append { .. } | Request::Offset { .. })
        );
        if !resumable || self.retries >= self.max_retries {
            return None;
        }
        self.retries += 1;
        self.known = false;
        Some(Duration::from_secs(1 << (self.retries - 1).min(4)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::StatusCode;

    fn head(status: u16, fields: &[(&str, &str)]) -> ResponseHead {
        let mut h = ResponseHead::new(StatusCode::new(status).unwrap());
        for (n, v) in fields {
            h.headers.append(n, v);
        }
        h
    }

    #[test]
    fn a_whole_upload_in_parts() {
        let mut p = ResumablePut::new(20, 8, None);
        assert_eq!(p.next(&[]), Request::Probe);
        assert_eq!(
            p.on_answer(&head(
                200,
                &[("Accept-Patch", "application/partial-upload")]
            )),
            Outcome::Continue
        );
        assert!(matches!(p.next(&[]), Request::Create { .. }));
        let loc = "/f?upload=0123456789abcdef0123456789abcdef";
        assert_eq!(
            p.on_answer(&head(201, &[("Location", loc), ("Upload-Offset", "0")])),
            Outcome::Created(loc.into())
        );
        let mut parts = Vec::new();
        loop {
            match p.next(&[]) {
                Request::Append {
                    offset, len, last, ..
                } => {
                    parts.push((offset, len, last));
                    let a = if last {
                        head(201, &[("Upload-Complete", "?1")])
                    } else {
                        head(204, &[("Upload-Offset", &(offset + len).to_string())])
                    };
                    if p.on_answer(&a) == Outcome::Finished {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(parts, vec![(0, 8, false), (8, 8, false), (16, 4, true)]);
    }

    #[test]
    fn cut_parts_resume_from_the_servers_offset_a_bounded_number_of_times() {
        let loc = "/f?upload=0123456789abcdef0123456789abcdef".to_owned();
        let mut p = ResumablePut::new(100, 50, Some(loc.clone()));
        p.next(&[]);
        p.on_answer(&head(
            204,
            &[("Accept-Patch", "application/partial-upload")],
        ));
        assert_eq!(p.next(&[]), Request::Offset { url: loc.clone() });
        assert_eq!(
            p.on_answer(&head(204, &[("Upload-Offset", "30")])),
            Outcome::Continue
        );
        assert!(matches!(
            p.next(&[]),
            Request::Append {
                offset: 30,
                len: 50,
                ..
            }
        ));
        let waits: Vec<Option<Duration>> = (0..6)
            .map(|_| {
                let w = p.on_network_error();
                assert_eq!(p.next(&[]), Request::Offset { url: loc.clone() });
                w
            })
            .collect();
        assert_eq!(waits[0], Some(Duration::from_secs(1)));
        assert_eq!(waits[4], Some(Duration::from_secs(16)));
        assert_eq!(waits[5], None, "gave up after five");
    }

    #[test]
    fn servers_without_the_draft_get_a_plain_put_and_gone_uploads_restart() {
        let mut p = ResumablePut::new(10, 8, None);
        p.next(&[]);
        assert_eq!(
            p.on_answer(&head(200, &[("Allow", "GET, PUT")])),
            Outcome::Unsupported
        );
        let mut q = ResumablePut::new(10, 8, Some("/f?upload=x".into()));
        q.next(&[]);
        q.on_answer(&head(
            200,
            &[("Accept-Patch", "application/partial-upload")],
        ));
        q.next(&[]);
        assert_eq!(q.on_answer(&head(404, &[])), Outcome::Restart);
        assert!(matches!(q.next(&[]), Request::Create { .. }));
    }
}
