//! A folder as an archive (`?archive=tar`), laid out before a byte is sent:
//! a stored tar's size and every byte follow from the entries' names,
//! sizes and times, so the archive has a Content-Length, a strong ETag
//! derived from its entries, and Range support, and an interrupted
//! download resumes byte-exact.
//!
//! Invariants: the entries are in the order the host walked them (it
//! sorts each folder by name, so the same tree gives the same archive);
//! the ETag changes when any entry's path, size, time or file id does;
//! [`Plan::part_at`] gives every byte of the archive exactly once.

pub mod tar;

use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::head::{Method, RequestHead, StatusCode};
use crate::range::{self, RangeRequest};
use crate::service::{base, error_reply, Reply, ReplyBody};
use crate::validators::{self, Current, Outcome};

/// One entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Its path below the archived folder, names joined with `/` (a
    /// folder's without the trailing `/`).
    pub path: String,
    /// True for a folder (no data).
    pub is_dir: bool,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, nanoseconds since the epoch (the ETag and the
    /// check that a file did not change use all of them; the tar header
    /// keeps the seconds).
    pub mtime_ns: u128,
    /// The storage's id of the file (its inode), for the ETag.
    pub id: u64,
}

/// The archive formats pared writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// POSIX tar (pax), stored.
    Tar,
}

impl Format {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
        }
    }
}

/// The archive a target asks for (`?archive=tar`), if any.
pub fn format_of(target: &str) -> Option<Format> {
    let query = target.split_once('?')?.1;
    match query.split('&').find_map(|p| p.strip_prefix("archive="))? {
        "tar" => Some(Format::Tar),
        _ => None,
    }
}

/// What a stretch of the archive is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes the plan generates (headers, padding, the end).
    Bytes(Vec<u8>),
    /// `len` bytes of entry `entry`'s file from `offset`.
    File {
        /// The entry's index.
        entry: usize,
        /// Where in the file.
        offset: u64,
        /// How many bytes.
        len: u64,
    },
}

/// An archive laid out: its entries and where each begins.
#[derive(Debug, Clone)]
pub struct Plan {
    format: Format,
    entries: Vec<ArchiveEntry>,
    /// The offset of each entry's first header byte.
    starts: Vec<u64>,
    total: u64,
}

impl Plan {
    /// Lays out `entries` in `format`.
    pub fn new(format: Format, entries: Vec<ArchiveEntry>) -> Plan {
        let mut starts = Vec::with_capacity(entries.len());
        let mut at = 0u64;
        for e in &entries {
            starts.push(at);
            let data = if e.is_dir { 0 } else { e.size };
            at = at
                .saturating_add(tar::header_len(e))
                .saturating_add(data)
                .saturating_add(tar::padding(data));
        }
        let total = at.saturating_add(2 * tar::BLOCK);
        Plan {
            format,
            entries,
            starts,
            total,
        }
    }

    /// The archive's size in bytes.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True for no bytes at all (never: an empty archive has its end).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The entries, in archive order.
    pub fn entries(&self) -> &[ArchiveEntry] {
        &self.entries
    }

    /// The strong ETag: a digest of the format and every entry's path,
    /// kind, size, time and file id.
    pub fn etag(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.format.extension().as_bytes());
        for e in &self.entries {
            h.update((e.path.len() as u64).to_le_bytes());
            h.update(e.path.as_bytes());
            h.update([u8::from(e.is_dir)]);
            h.update(e.size.to_le_bytes());
            h.update(e.mtime_ns.to_le_bytes());
            h.update(e.id.to_le_bytes());
        }
        let d = h.finalize();
        let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{}-{hex}\"", self.format.extension())
    }

    /// The part that begins at byte `at`, at most `max` bytes (and
    /// within the archive); `None` at or past the end.
    pub fn part_at(&self, at: u64, max: u64) -> Option<Part> {
        if at >= self.total || max == 0 {
            return None;
        }
        let tail = self.total - 2 * tar::BLOCK;
        if at >= tail {
            // The two zero blocks that end the archive.
            let n = (self.total - at).min(max);
            return Some(Part::Bytes(vec![0; n as usize]));
        }
        let i = match self.starts.binary_search(&at) {
            Ok(i) => i,
            Err(i) => i.checked_sub(1)?,
        };
        let e = &self.entries[i];
        let start = self.starts[i];
        let head = tar::header_len(e);
        let data = if e.is_dir { 0 } else { e.size };
        let pad = tar::padding(data);
        let within = at - start;
        if within < head {
            let h = tar::headers(e);
            let from = within as usize;
            let to = (within + max).min(head) as usize;
            return Some(Part::Bytes(h[from..to].to_vec()));
        }
        if within < head + data {
            let offset = within - head;
            return Some(Part::File {
                entry: i,
                offset,
                len: (data - offset).min(max),
            });
        }
        // The padding after the data (an entry ends where the next, or
        // the end, begins).
        let n = (head + data + pad - within).min(max);
        Some(Part::Bytes(vec![0; n as usize]))
    }
}

/// The answer to a GET or HEAD of the archive `plan` of the folder named
/// `name`: preconditions and Range as for a file (one range; several are
/// answered with the whole archive), and the byte span to send, if any.
pub fn archive_reply(
    req: &RequestHead,
    plan: &Plan,
    name: &str,
    now: SystemTime,
) -> (Reply, Option<(u64, u64)>) {
    let current = Current {
        etag: plan.etag(),
        modified: None,
    };
    let range_ok = match validators::evaluate(req, Some(&current), now) {
        Outcome::Failed => {
            return (
                error_reply(StatusCode::PRECONDITION_FAILED, Some(&req.method), now),
                None,
            )
        }
        Outcome::NotModified => {
            let mut head = base(StatusCode::NOT_MODIFIED, now);
            head.headers.append("ETag", current.etag);
            return (
                Reply {
                    head,
                    body: ReplyBody::None,
                },
                None,
            );
        }
        Outcome::Proceed { range } => range && req.method == Method::Get,
    };
    let total = plan.len();
    let asked = match req.headers.get_str("range") {
        Some(v) if range_ok => range::parse_range(v, total),
        _ => RangeRequest::Whole,
    };
    let (status, first, len, content_range) = match asked {
        RangeRequest::Ranges(r) if r.len() == 1 => (
            StatusCode::PARTIAL_CONTENT,
            r[0].first,
            r[0].len(),
            Some(range::content_range(r[0], total)),
        ),
        RangeRequest::Unsatisfiable => {
            let mut reply = error_reply(StatusCode::RANGE_NOT_SATISFIABLE, Some(&req.method), now);
            reply
                .head
                .headers
                .append("Content-Range", format!("bytes */{total}"));
            reply.head.headers.append("ETag", current.etag);
            return (reply, None);
        }
        _ => (StatusCode::OK, 0, total, None),
    };
    let mut head = base(status, now);
    head.headers
        .append("Content-Type", plan.format().content_type());
    head.headers.append_u64("Content-Length", len);
    if let Some(cr) = content_range {
        head.headers.append("Content-Range", cr);
    }
    head.headers.append("Accept-Ranges", "bytes");
    head.headers.append("ETag", current.etag);
    let mut file = String::new();
    for c in name.chars() {
        // A quoted-string of the folder's name; others as `_`.
        file.push(if c.is_ascii_graphic() && c != '"' && c != '\\' {
            c
        } else {
            '_'
        });
    }
    let mut encoded = String::new();
    crate::path::encode_into(name, &mut encoded);
    let ext = plan.format().extension();
    head.headers.append(
        "Content-Disposition",
        format!("attachment; filename=\"{file}.{ext}\"; filename*=UTF-8''{encoded}.{ext}"),
    );
    if req.method == Method::Head || len == 0 {
        return (
            Reply {
                head,
                body: ReplyBody::None,
            },
            None,
        );
    }
    (
        Reply {
            head,
            body: ReplyBody::Generated,
        },
        Some((first, len)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(path: &str, is_dir: bool, size: u64) -> ArchiveEntry {
        ArchiveEntry {
            path: path.into(),
            is_dir,
            size,
            mtime_ns: 1_700_000_000_000_000_000,
            id: 9,
        }
    }

    /// The whole archive, file data given by `data`.
    fn bytes(plan: &Plan, data: &dyn Fn(usize, u64) -> u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(p) = plan.part_at(at, 777) {
            match p {
                Part::Bytes(b) => out.extend_from_slice(&b),
                Part::File { entry, offset, len } => {
                    out.extend((offset..offset + len).map(|o| data(entry, o)));
                }
            }
            at = out.len() as u64;
        }
        out
    }

    #[test]
    fn layout_and_etag() {
        let plan = Plan::new(Format::Tar, vec![e("d", true, 0), e("d/a.txt", false, 700)]);
        // d/: 512; a.txt: 512 + 700 + 324; the end: 1024.
        assert_eq!(plan.len(), 512 + 512 + 700 + 324 + 1024);
        let all = bytes(&plan, &|_, o| (o % 251) as u8);
        assert_eq!(all.len() as u64, plan.len());
        assert_eq!(
            &all[1024..1024 + 700],
            &(0..700).map(|o| (o % 251) as u8).collect::<Vec<_>>()[..]
        );
        assert!(plan.part_at(plan.len(), 10).is_none());
        let again = Plan::new(Format::Tar, vec![e("d", true, 0), e("d/a.txt", false, 700)]);
        assert_eq!(plan.etag(), again.etag());
        let changed = Plan::new(Format::Tar, vec![e("d", true, 0), e("d/a.txt", false, 701)]);
        assert_ne!(plan.etag(), changed.etag());
        assert!(plan.etag().starts_with("\"tar-"));
        assert_eq!(format_of("/d/?archive=tar"), Some(Format::Tar));
        assert_eq!(format_of("/d/?archive=rar"), None);
        assert_eq!(format_of("/d/"), None);
    }

    proptest! {
        /// Any byte range of the archive is the same bytes as the whole
        /// archive has there, whatever the parts it is asked in.
        #[test]
        fn ranges_are_the_whole(
            sizes in proptest::collection::vec(0u64..3000, 0..6),
            start in 0u64..20_000,
            step in 1u64..5000,
        ) {
            let entries: Vec<ArchiveEntry> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| e(&format!("f{i}"), false, s))
                .collect();
            let plan = Plan::new(Format::Tar, entries);
            let data = |i: usize, o: u64| (i as u64 * 31 + o) as u8;
            let whole = bytes(&plan, &data);
            prop_assert_eq!(whole.len() as u64, plan.len());
            let start = start.min(plan.len());
            let mut got = Vec::new();
            let mut at = start;
            while let Some(p) = plan.part_at(at, step) {
                match p {
                    Part::Bytes(b) => got.extend_from_slice(&b),
                    Part::File { entry, offset, len } => {
                        got.extend((offset..offset + len).map(|o| data(entry, o)));
                    }
                }
                at = start + got.len() as u64;
            }
            prop_assert_eq!(&got[..], &whole[start as usize..]);
        }
    }
}
