//! Property tests of ranges, preconditions and ETags: any Range header
//! stays inside the file and a multipart length equals its bytes; the
//! preconditions of RFC 9110 §13.2.2 are evaluated in their order for every
//! pair of headers; the ETag changes with every part of a version.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pared_core::path::resolve_target;
use pared_core::range::{parse_range, Piece, RangeRequest};
use pared_core::service::{file_reply, write_allowed, FileKind, Meta, ReplyBody};
use pared_core::validators::{evaluate, Current, FileVersion, Outcome};
use pared_core::{Method, RequestHead, Version};
use proptest::prelude::*;

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn range_value() -> impl Strategy<Value = String> {
    let spec = prop_oneof![
        (0u64..3000, 0u64..3000).prop_map(|(a, b)| format!("{a}-{b}")),
        (0u64..3000).prop_map(|a| format!("{a}-")),
        (0u64..3000).prop_map(|n| format!("-{n}")),
        "[0-9 ,=a-z-]{0,12}",
    ];
    (
        prop::collection::vec(spec, 0..40),
        "[ ]{0,2}(bytes|BYTES|items)?",
    )
        .prop_map(|(specs, unit)| format!("{}={}", unit.trim(), specs.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ranges_stay_inside_the_file(value in range_value(), len in 0u64..5000) {
        if let RangeRequest::Ranges(rs) = parse_range(&value, len) {
            prop_assert!(!rs.is_empty());
            let total: u64 = rs.iter().map(|r| r.len()).sum();
            prop_assert!(total <= len, "more bytes than the file");
            for w in rs.windows(2) {
                prop_assert!(w[0].last < w[1].first);
            }
            for r in &rs {
                prop_assert!(r.first <= r.last && r.last < len);
            }
        }
    }

    #[test]
    fn replies_match_their_content_length(value in range_value(), len in 0u64..5000) {
        let meta = Meta { kind: FileKind::File, len, modified: Some(t(1000)), id: 2 };
        let mut req = RequestHead::new(Method::Get, "/f.bin", Version::Http11);
        req.headers.append("Range", &value);
        let reply = file_reply(&req, &resolve_target("/f.bin").unwrap(), &meta, t(2000));
        let declared: u64 = reply.head.headers.get_str("content-length").unwrap().parse().unwrap();
        match &reply.body {
            ReplyBody::File(p) => {
                let mut produced = 0;
                for piece in p.iter() {
                    match piece {
                        Piece::Bytes(b) => produced += b.len() as u64,
                        Piece::File { offset, len: n } => {
                            prop_assert!(offset + n <= len, "byte outside the file");
                            produced += n;
                        }
                    }
                }
                prop_assert_eq!(produced, declared);
            }
            ReplyBody::None => prop_assert!(len == 0),
            ReplyBody::Static(s) => prop_assert_eq!(s.len() as u64, declared),
            ReplyBody::Generated => prop_assert!(false, "no generated body for a file"),
        }
    }

    /// Each precondition header present or not, true or false, in any
    /// combination: the outcome is what §13.2.2's order gives.
    #[test]
    fn precondition_order(
        im in 0u8..3, ius in 0u8..3, inm in 0u8..3, ims in 0u8..3,
        method in 0u8..3, exists in any::<bool>(),
    ) {
        // 0 = absent, 1 = holds, 2 = fails (against the current file).
        let cur = Current { etag: "\"v\"".into(), modified: Some(t(1000)) };
        let method = [Method::Get, Method::Head, Method::Put][usize::from(method)].clone();
        let mut req = RequestHead::new(method.clone(), "/f", Version::Http11);
        let date = |s| httpdate::fmt_http_date(t(s));
        match im { 1 => req.headers.append("If-Match", "\"v\""), 2 => req.headers.append("If-Match", "\"w\""), _ => {} }
        match ius { 1 => req.headers.append("If-Unmodified-Since", date(1500)), 2 => req.headers.append("If-Unmodified-Since", date(500)), _ => {} }
        match inm { 1 => req.headers.append("If-None-Match", "\"w\""), 2 => req.headers.append("If-None-Match", "\"v\""), _ => {} }
        match ims { 1 => req.headers.append("If-Modified-Since", date(500)), 2 => req.headers.append("If-Modified-Since", date(1500)), _ => {} }
        let current = exists.then_some(&cur);
        let got = evaluate(&req, current, t(2000));
        let read = method != Method::Put;
        // The reference, step by step.
        let step1 = match im {
            0 => None,
            1 => Some(exists),
            _ => Some(false),
        };
        let step2 = if im == 0 && ius != 0 { Some(exists && ius == 1) } else { None };
        let want = if step1 == Some(false) || step2 == Some(false) {
            Outcome::Failed
        } else if inm != 0 && exists && inm == 2 {
            if read { Outcome::NotModified } else { Outcome::Failed }
        } else if inm == 0 && read && ims == 2 && exists {
            Outcome::NotModified
        } else {
            Outcome::Proceed { range: true }
        };
        prop_assert_eq!(got, want);
        // Writes use the same evaluation.
        if method == Method::Put {
            let meta = Meta { kind: FileKind::File, len: 1, modified: Some(t(1000)), id: 0 };
            let _ = write_allowed(&req, exists.then_some(&meta), t(2000));
        }
    }

    #[test]
    fn etag_changes_with_every_version(
        id in any::<u64>(), len in any::<u64>(), mtime in any::<u64>(),
        which in 0u8..3, delta in 1u64..1000,
    ) {
        let v = FileVersion::new(id, len, u128::from(mtime));
        let w = match which {
            0 => FileVersion::new(id.wrapping_add(delta), len, u128::from(mtime)),
            1 => FileVersion::new(id, len.wrapping_add(delta), u128::from(mtime)),
            _ => FileVersion::new(id, len, u128::from(mtime) + u128::from(delta)),
        };
        prop_assert_ne!(v.etag(), w.etag());
        prop_assert_eq!(v.etag(), v.etag());
    }
}
