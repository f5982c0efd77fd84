//! The file service's decisions against byte strings and a fake clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::digest::{self, Algorithm};
use crate::head::{Method, RequestHead, StatusCode, Version};
use crate::path::{resolve_target, RelPath};
use crate::range::Pieces;

fn req(method: Method, target: &str) -> RequestHead {
    RequestHead::new(method, target, Version::Http10)
}

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

fn status(r: &Route) -> u16 {
    match r {
        Route::Reply(r) => r.head.status.as_u16(),
        _ => 0,
    }
}

#[test]
fn routes() {
    let c = ServiceConfig::default();
    let now = t(1_700_000_000);
    assert_eq!(
        route(&c, &req(Method::Get, "/a"), now),
        Route::Read(resolve_target("/a").unwrap())
    );
    assert_eq!(
        status(&route(&c, &req(Method::Other("BREW".into()), "/a"), now)),
        501
    );
    // POST serves resumable uploads alone: a plain one is 405.
    assert_eq!(status(&route(&c, &req(Method::Post, "/a"), now)), 405);
    assert_eq!(status(&route(&c, &req(Method::Get, "/../a"), now)), 403);
    assert_eq!(status(&route(&c, &req(Method::Get, "/%zz"), now)), 400);
    assert_eq!(status(&route(&c, &req(Method::Put, "/a"), now)), 400);
    let mut r11 = RequestHead::new(Method::Put, "/a", Version::Http11);
    assert_eq!(status(&route(&c, &r11, now)), 411);
    r11.headers.append("Content-Length", "10");
    assert!(matches!(
        route(&c, &r11, now),
        Route::Write {
            length: Some(10),
            ..
        }
    ));
    r11.headers.append("Content-Range", "bytes 0-9/20");
    assert_eq!(status(&route(&c, &r11, now)), 400);
    let small = ServiceConfig {
        max_upload: Some(5),
        ..c.clone()
    };
    let mut big = req(Method::Put, "/a");
    big.headers.append("Content-Length", "6");
    assert_eq!(status(&route(&small, &big, now)), 413);
    let ro = ServiceConfig {
        read_only: true,
        ..c.clone()
    };
    let Route::Reply(r) = route(&ro, &req(Method::Delete, "/a"), now) else {
        panic!()
    };
    assert_eq!(r.head.status.as_u16(), 405);
    assert_eq!(
        r.head.headers.get_str("allow"),
        Some("GET, HEAD, OPTIONS, PROPFIND")
    );
    // OPTIONS is answered from the table, for `*` and for a path.
    for target in ["*", "/a"] {
        let Route::Reply(r) = route(&ro, &req(Method::Options, target), now) else {
            panic!()
        };
        assert_eq!(r.head.status.as_u16(), 200);
        assert_eq!(
            r.head.headers.get_str("allow"),
            Some("GET, HEAD, OPTIONS, PROPFIND")
        );
        assert_eq!(r.head.headers.get_str("dav"), Some("1, 2"));
        assert_eq!(r.head.headers.get_str("content-length"), Some("0"));
    }
    let Route::Reply(r) = route(&c, &req(Method::Options, "*"), now) else {
        panic!()
    };
    assert_eq!(
        r.head.headers.get_str("allow"),
        Some(
            "GET, HEAD, PUT, DELETE, OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, POST, PATCH"
        )
    );
    // A chunked HTTP/1.1 upload has no declared length.
    let mut chunked = RequestHead::new(Method::Put, "/a", Version::Http11);
    chunked.headers.append("Transfer-Encoding", "chunked");
    assert!(matches!(
        route(&small, &chunked, now),
        Route::Write { length: None, .. }
    ));
}

#[test]
fn conditional_get() {
    let now = t(1_700_000_000);
    let meta = Meta {
        kind: FileKind::File,
        len: 3,
        modified: Some(t(1_600_000_000)),
        id: 2,
    };
    let path = resolve_target("/a.txt").unwrap();
    let mut r = req(Method::Get, "/a.txt");
    let ok = file_reply(&r, &path, &meta, now);
    assert_eq!(ok.head.status.as_u16(), 200);
    assert_eq!(
        ok.head.headers.get_str("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let lm = ok.head.headers.get_str("last-modified").unwrap().to_owned();
    r.headers.append("If-Modified-Since", &lm);
    assert_eq!(file_reply(&r, &path, &meta, now).head.status.as_u16(), 304);
    for ims in [
        "Sunday, 13-Sep-20 12:26:40 GMT", // RFC 850, after mtime
        "Sun Sep 13 12:26:40 2020",       // asctime
    ] {
        let mut r = req(Method::Get, "/a.txt");
        r.headers.append("If-Modified-Since", ims);
        assert_eq!(
            file_reply(&r, &path, &meta, now).head.status.as_u16(),
            304,
            "{ims}"
        );
    }
    for ims in [
        "garbage",
        "Tue, 14 Nov 2090 22:13:20 GMT",
        "Mon, 01 Jan 2001 00:00:00 GMT",
    ] {
        let mut r = req(Method::Get, "/a.txt");
        r.headers.append("If-Modified-Since", ims);
        assert_eq!(
            file_reply(&r, &path, &meta, now).head.status.as_u16(),
            200,
            "{ims}"
        );
    }
}

#[test]
fn dates_match_httpdate() {
    let mut t = 0u64;
    while t < 5_000_000_000 {
        let at = UNIX_EPOCH + Duration::from_secs(t);
        assert_eq!(
            std::str::from_utf8(&imf_fixdate(at)).unwrap(),
            httpdate::fmt_http_date(at),
            "{t}"
        );
        t += 86_399 * 37 + 3_601 + t % 7_919;
    }
}

#[test]
fn directories() {
    let now = t(1_700_000_000);
    let dir = Meta {
        kind: FileKind::Dir,
        len: 0,
        modified: None,
        id: 3,
    };
    let r = req(Method::Get, "/d");
    let ReadStep::Reply(rep) = read_reply(&r, &resolve_target("/d").unwrap(), Ok(dir), now) else {
        panic!()
    };
    assert_eq!(rep.head.status.as_u16(), 301);
    assert_eq!(rep.head.headers.get_str("location"), Some("/d/"));
    let step = read_reply(&r, &resolve_target("/d/").unwrap(), Ok(dir), now);
    assert_eq!(
        step,
        ReadStep::TryIndex(resolve_target("/d/index.html").unwrap())
    );
    assert_eq!(
        index_reply(&r, &RelPath::root(), Err(FsFailure::NotFound), now),
        None
    );
}

#[test]
fn head_has_get_head_without_body() {
    let now = t(1_700_000_000);
    let r = error_reply(StatusCode::NOT_FOUND, Some(&Method::Head), now);
    assert_eq!(r.body, ReplyBody::None);
    assert_eq!(r.head.headers.get_str("content-length"), Some("14"));
}

fn file(len: u64) -> Meta {
    Meta {
        kind: FileKind::File,
        len,
        modified: Some(t(1_600_000_000)),
        id: 9,
    }
}

fn get(fields: &[(&str, &str)]) -> RequestHead {
    let mut r = RequestHead::new(Method::Get, "/a.txt", Version::Http11);
    for (n, v) in fields {
        r.headers.append(n, v);
    }
    r
}

#[test]
fn validators_and_ranges() {
    let now = t(1_700_000_000);
    let path = resolve_target("/a.txt").unwrap();
    let meta = file(1000);
    let ok = file_reply(&get(&[]), &path, &meta, now);
    let etag = ok.head.headers.get_str("etag").unwrap().to_owned();
    assert_eq!(etag, meta.etag());
    assert_eq!(ok.head.headers.get_str("accept-ranges"), Some("bytes"));
    assert_eq!(
        ok.body,
        ReplyBody::File(Pieces::Span {
            offset: 0,
            len: 1000
        })
    );
    // 304 carries the ETag.
    let nm = file_reply(&get(&[("If-None-Match", &etag)]), &path, &meta, now);
    assert_eq!(nm.head.status.as_u16(), 304);
    assert_eq!(nm.head.headers.get_str("etag"), Some(etag.as_str()));
    let pf = file_reply(&get(&[("If-Match", "\"other\"")]), &path, &meta, now);
    assert_eq!(pf.head.status.as_u16(), 412);
    // One range.
    let one = file_reply(&get(&[("Range", "bytes=10-19")]), &path, &meta, now);
    assert_eq!(one.head.status.as_u16(), 206);
    assert_eq!(
        one.head.headers.get_str("content-range"),
        Some("bytes 10-19/1000")
    );
    assert_eq!(one.head.headers.get_str("content-length"), Some("10"));
    assert_eq!(
        one.body,
        ReplyBody::File(Pieces::Span {
            offset: 10,
            len: 10
        })
    );
    // If-Range that does not match: the whole file.
    let ir = file_reply(
        &get(&[("Range", "bytes=10-19"), ("If-Range", "\"old\"")]),
        &path,
        &meta,
        now,
    );
    assert_eq!(ir.head.status.as_u16(), 200);
    // Unsatisfiable.
    let un = file_reply(&get(&[("Range", "bytes=1000-")]), &path, &meta, now);
    assert_eq!(un.head.status.as_u16(), 416);
    assert_eq!(
        un.head.headers.get_str("content-range"),
        Some("bytes */1000")
    );
    // Malformed: ignored.
    let bad = file_reply(&get(&[("Range", "bytes=x")]), &path, &meta, now);
    assert_eq!(bad.head.status.as_u16(), 200);
    // Several: multipart with a length that matches its pieces.
    let multi = file_reply(&get(&[("Range", "bytes=0-0,-1")]), &path, &meta, now);
    assert_eq!(multi.head.status.as_u16(), 206);
    assert!(multi
        .head
        .headers
        .get_str("content-type")
        .unwrap()
        .starts_with("multipart/byteranges; boundary="));
    let ReplyBody::File(p) = &multi.body else {
        panic!()
    };
    assert_eq!(
        multi.head.headers.get_str("content-length"),
        Some(p.len().to_string().as_str())
    );
    // HEAD ignores Range.
    let mut head = get(&[("Range", "bytes=0-1")]);
    head.method = Method::Head;
    let h = file_reply(&head, &path, &meta, now);
    assert_eq!(h.head.status.as_u16(), 200);
    assert_eq!(h.body, ReplyBody::None);
}

#[test]
fn writes_and_digests() {
    let now = t(1_700_000_000);
    let meta = file(5);
    let mut put = RequestHead::new(Method::Put, "/a.txt", Version::Http11);
    assert_eq!(write_guard(&put), WriteGuard::None);
    assert!(write_allowed(&put, None, now));
    put.headers.append("If-None-Match", "*");
    assert_eq!(write_guard(&put), WriteGuard::CreateOnly);
    assert!(write_allowed(&put, None, now));
    assert!(!write_allowed(&put, Some(&meta), now));
    let mut put = RequestHead::new(Method::Put, "/a.txt", Version::Http11);
    put.headers.append("If-Match", meta.etag());
    assert_eq!(write_guard(&put), WriteGuard::Locked);
    assert!(write_allowed(&put, Some(&meta), now));
    assert!(!write_allowed(&put, Some(&file(6)), now));
    assert!(!write_allowed(&put, None, now));

    let mut h = digest::Hasher::new(false);
    h.update(b"hello");
    let d = h.finish().remove(0);
    let stored = Stored {
        created: true,
        meta,
        digest: d.clone(),
    };
    let r = put_reply(&resolve_target("/a.txt").unwrap(), Ok(stored), now);
    assert_eq!(r.head.status.as_u16(), 201);
    assert_eq!(r.head.headers.get_str("etag"), Some(meta.etag().as_str()));
    assert_eq!(
        r.head.headers.get_str("repr-digest"),
        Some(d.field_value().as_str())
    );
    assert_eq!(
        put_reply(&RelPath::root(), Err(FsFailure::DigestMismatch), now)
            .head
            .status
            .as_u16(),
        400
    );

    let path = resolve_target("/a.txt").unwrap();
    let ok = file_reply(&get(&[]), &path, &meta, now);
    assert_eq!(digest_plan(&get(&[]), &ok, None), DigestPlan::Omit);
    assert_eq!(
        digest_plan(&get(&[]), &ok, Some(d.clone())),
        DigestPlan::Send(d.clone())
    );
    let want = get(&[("Want-Repr-Digest", "sha-512=1")]);
    assert_eq!(
        digest_plan(&want, &ok, Some(d.clone())),
        DigestPlan::Compute(Algorithm::Sha512)
    );
    let nm = file_reply(&get(&[("If-None-Match", "*")]), &path, &meta, now);
    assert_eq!(digest_plan(&want, &nm, Some(d)), DigestPlan::Omit);
}
