//! A folder as an archive (`?archive=tar` or `?archive=zip`), laid out
//! before a byte is sent: a stored archive's size and every byte follow
//! from the entries' names, sizes and times (and, for zip, their CRC-32,
//! which the host computes when asked), so the archive has a
//! Content-Length, a strong ETag derived from its entries, and Range
//! support, and an interrupted download resumes byte-exact.
//!
//! Invariants: the entries are in the order the host walked them (it
//! sorts each folder by name, so the same tree gives the same archive);
//! the ETag changes when any entry's path, size, time or file id does;
//! [`Plan::part_at`] gives every byte of the archive exactly once.

pub mod tar;
pub mod zip;

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
    /// Zip, stored, zip64 where needed.
    Zip,
}

impl Format {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::Zip => "application/zip",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::Zip => "zip",
        }
    }
}

/// The archive a target asks for (`?archive=tar`), if any.
pub fn format_of(target: &str) -> Option<Format> {
    let query = crate::path::split_query(target).1?;
    match query.split('&').find_map(|p| p.strip_prefix("archive="))? {
        "tar" => Some(Format::Tar),
        "zip" => Some(Format::Zip),
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

/// An archive laid out: its entries and where each part begins.
#[derive(Debug, Clone)]
pub struct Plan {
    format: Format,
    entries: Vec<ArchiveEntry>,
    /// The offset of each entry's first header byte.
    starts: Vec<u64>,
    /// Zip: the offset of each entry's central directory header.
    central: Vec<u64>,
    /// Where the entries end: the zip central directory or tar's end.
    entries_end: u64,
    /// Where the end records begin (zip; tar's end is zeros).
    end_start: u64,
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
            let (head, pad) = match format {
                Format::Tar => (tar::header_len(e), tar::padding(data)),
                Format::Zip => (zip::local_len(e), 0),
            };
            at = at
                .saturating_add(head)
                .saturating_add(data)
                .saturating_add(pad);
        }
        let entries_end = at;
        let mut central = Vec::new();
        if format == Format::Zip {
            central.reserve(entries.len());
            for (e, &offset) in entries.iter().zip(&starts) {
                central.push(at);
                at = at.saturating_add(zip::central_len(e, offset));
            }
        }
        let end_start = at;
        let total = match format {
            Format::Tar => at.saturating_add(2 * tar::BLOCK),
            Format::Zip => at.saturating_add(zip::end_len(
                entries.len(),
                entries_end,
                end_start - entries_end,
            )),
        };
        Plan {
            format,
            entries,
            starts,
            central,
            entries_end,
            end_start,
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

    /// The part that begins at byte `at`, at most `max` bytes (and within
    /// the archive); `None` at or past the end. `crc` gives an entry's
    /// CRC-32 where a zip record needs it (the host reads the file).
    pub fn part_at<E>(
        &self,
        at: u64,
        max: u64,
        crc: &mut dyn FnMut(usize) -> Result<u32, E>,
    ) -> Result<Option<Part>, E> {
        if at >= self.total || max == 0 {
            return Ok(None);
        }
        let slice = |bytes: Vec<u8>, within: u64| {
            let from = within as usize;
            let to = (within + max).min(bytes.len() as u64) as usize;
            Part::Bytes(bytes[from..to].to_vec())
        };
        if at >= self.end_start {
            let within = at - self.end_start;
            return Ok(Some(match self.format {
                // The two zero blocks that end a tar.
                Format::Tar => Part::Bytes(vec![0; (self.total - at).min(max) as usize]),
                Format::Zip => slice(
                    zip::end(
                        self.entries.len(),
                        self.entries_end,
                        self.end_start - self.entries_end,
                    ),
                    within,
                ),
            }));
        }
        if at >= self.entries_end {
            // The zip central directory.
            let j = match self.central.binary_search(&at) {
                Ok(j) => j,
                Err(j) => j.saturating_sub(1),
            };
            let e = &self.entries[j];
            let bytes = zip::central(e, crc(j)?, self.starts[j]);
            return Ok(Some(slice(bytes, at - self.central[j])));
        }
        let i = match self.starts.binary_search(&at) {
            Ok(i) => i,
            Err(i) => match i.checked_sub(1) {
                Some(i) => i,
                None => return Ok(None),
            },
        };
        let e = &self.entries[i];
        let within = at - self.starts[i];
        let data = if e.is_dir { 0 } else { e.size };
        let (head, pad) = match self.format {
            Format::Tar => (tar::header_len(e), tar::padding(data)),
            Format::Zip => (zip::local_len(e), 0),
        };
        if within < head {
            let bytes = match self.format {
                Format::Tar => tar::headers(e),
                Format::Zip => zip::local(e, crc(i)?),
            };
            return Ok(Some(slice(bytes, within)));
        }
        if within < head + data {
            let offset = within - head;
            return Ok(Some(Part::File {
                entry: i,
                offset,
                len: (data - offset).min(max),
            }));
        }
        // The padding after the data.
        let n = (head + data + pad - within).min(max);
        Ok(Some(Part::Bytes(vec![0; n as usize])))
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

/// An entry for the tests of this module and its formats.
#[cfg(test)]
pub(crate) fn sample(path: &str, is_dir: bool, size: u64) -> ArchiveEntry {
    ArchiveEntry {
        path: path.into(),
        is_dir,
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        id: 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use super::sample as e;

    /// The whole archive, file data given by `data`.
    fn bytes(plan: &Plan, data: &dyn Fn(usize, u64) -> u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(p) = plan.part_at(at, 777, &mut crc_of(plan, data)).unwrap() {
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

    /// The CRC-32 of entry `i`'s data as `data` gives it.
    fn crc_of<'a>(
        plan: &'a Plan,
        data: &'a dyn Fn(usize, u64) -> u8,
    ) -> impl FnMut(usize) -> Result<u32, ()> + 'a {
        move |i| {
            let e = &plan.entries()[i];
            let bytes: Vec<u8> = (0..e.size).map(|o| data(i, o)).collect();
            Ok(crc32(&bytes))
        }
    }

    /// A plain CRC-32 (IEEE), bit by bit: the reference for the tests.
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        !c
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
        assert!(plan
            .part_at(plan.len(), 10, &mut |_| Ok::<u32, ()>(0))
            .unwrap()
            .is_none());
        let again = Plan::new(Format::Tar, vec![e("d", true, 0), e("d/a.txt", false, 700)]);
        assert_eq!(plan.etag(), again.etag());
        let changed = Plan::new(Format::Tar, vec![e("d", true, 0), e("d/a.txt", false, 701)]);
        assert_ne!(plan.etag(), changed.etag());
        assert!(plan.etag().starts_with("\"tar-"));
        assert_eq!(format_of("/d/?archive=tar"), Some(Format::Tar));
        assert_eq!(format_of("/d/?archive=zip"), Some(Format::Zip));
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
            zip in any::<bool>(),
        ) {
            let entries: Vec<ArchiveEntry> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| e(&format!("f{i}"), false, s))
                .collect();
            let format = if zip { Format::Zip } else { Format::Tar };
            let plan = Plan::new(format, entries);
            let data = |i: usize, o: u64| (i as u64 * 31 + o) as u8;
            let whole = bytes(&plan, &data);
            prop_assert_eq!(whole.len() as u64, plan.len());
            let start = start.min(plan.len());
            let mut got = Vec::new();
            let mut at = start;
            while let Some(p) = plan.part_at(at, step, &mut crc_of(&plan, &data)).unwrap() {
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
