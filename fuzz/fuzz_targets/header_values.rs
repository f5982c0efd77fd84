//! The header values that ranges, validators and digests parse (Range,
//! If-Match, If-None-Match, If-Range, If-Modified-Since,
//! If-Unmodified-Since, Content-Digest, Repr-Digest, Want-Repr-Digest),
//! with the file's length and validators as input: never a panic, never a
//! byte outside the file, a multipart length that equals its pieces, and
//! preconditions that are pure (the same answer twice).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use pared_core::range::{parse_range, Multipart, Piece, Pieces, RangeRequest};
use pared_core::service::{self, FileKind, Meta, ReplyBody};
use pared_core::{digest, path, Method, RequestHead, Version};

const NAMES: [&str; 9] = [
    "Range",
    "If-Match",
    "If-None-Match",
    "If-Range",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "Content-Digest",
    "Repr-Digest",
    "Want-Repr-Digest",
];

fuzz_target!(|data: &[u8]| {
    // 8 bytes of file length, 1 byte of method, then fields separated by
    // 0xff, each starting with a byte that picks its name.
    if data.len() < 9 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) % (1 << 40);
    let method = match data[8] % 4 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Put,
        _ => Method::Delete,
    };
    let mut req = RequestHead::new(method, "/f.txt", Version::Http11);
    for field in data[9..].split(|&b| b == 0xff) {
        let Some((&pick, value)) = field.split_first() else {
            continue;
        };
        if value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        req.headers.append(NAMES[usize::from(pick) % NAMES.len()], value);
    }

    // Range alone, against the length.
    if let Some(v) = req.headers.get_str("range") {
        match parse_range(v, len) {
            RangeRequest::Ranges(rs) => {
                assert!(!rs.is_empty());
                let mut prev: Option<u64> = None;
                for r in &rs {
                    assert!(r.first <= r.last && r.last < len, "{r:?} outside {len}");
                    if let Some(p) = prev {
                        assert!(r.first > p, "not ascending and disjoint");
                    }
                    prev = Some(r.last);
                }
                let m = Pieces::Multipart(Multipart::new(&rs, len, "text/plain", "b"));
                let produced: u64 = m
                    .iter()
                    .map(|p| match p {
                        Piece::Bytes(b) => b.len() as u64,
                        Piece::File { offset, len: n } => {
                            assert!(offset + n <= len);
                            n
                        }
                    })
                    .sum();
                assert_eq!(produced, m.len());
            }
            RangeRequest::Whole | RangeRequest::Unsatisfiable => {}
        }
    }

    // The whole reply for a file of that length.
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let meta = Meta {
        kind: FileKind::File,
        len,
        modified: Some(UNIX_EPOCH + Duration::from_secs(1_600_000_000)),
        id: 2,
    };
    let target = path::resolve_target("/f.txt").expect("valid");
    let reply = service::file_reply(&req, &target, &meta, now);
    assert_eq!(reply, service::file_reply(&req, &target, &meta, now));
    if let ReplyBody::File(p) = &reply.body {
        let declared: u64 = reply
            .head
            .headers
            .get_str("content-length")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length");
        assert_eq!(declared, p.len());
        for piece in p.iter() {
            if let Piece::File { offset, len: n } = piece {
                assert!(offset + n <= len, "byte outside the file");
            }
        }
    }
    let allowed = service::write_allowed(&req, Some(&meta), now);
    assert_eq!(allowed, service::write_allowed(&req, Some(&meta), now));
    let _ = service::write_allowed(&req, None, now);
    let _ = service::write_guard(&req);
    let _ = digest::declared(&req.headers);
    let _ = digest::wanted(&req.headers);
    let _: SystemTime = now;
});
