use super::*;
use crate::head::{Method, RequestHead, Version};

fn req(method: &str, target: &str, h: &[(&str, &str)]) -> RequestHead {
    let mut r = RequestHead::new(Method::from_token(method), target, Version::Http11);
    for (n, v) in h {
        r.headers.append(n, v);
    }
    r
}

const ID: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn ids_are_32_hex_digits() {
    assert_eq!(upload_id(&format!("/a?upload={ID}")), Some(ID));
    assert_eq!(upload_id(&format!("/a?x=1&upload={ID}")), Some(ID));
    assert_eq!(upload_id("/a?upload=../../etc"), None);
    assert_eq!(upload_id("/a?upload=0123"), None);
    assert_eq!(upload_id(&format!("/a?upload={}", ID.to_uppercase())), None);
}

#[test]
fn ietf_creation_reads_completeness_length_and_interop() {
    let r = req(
        "PUT",
        "/dir/f.bin",
        &[
            ("Upload-Complete", "?1"),
            ("Content-Length", "10"),
            ("Upload-Draft-Interop-Version", "8"),
            ("If-None-Match", "*"),
        ],
    );
    let Ok(Op::Create(c)) = classify(&r) else {
        panic!("{:?}", classify(&r))
    };
    assert_eq!(c.path.href(false), "/dir/f.bin");
    assert!(c.complete);
    assert_eq!(c.length, Some(10));
    assert_eq!(c.protocol, Protocol::Ietf { interim: true });
    assert_eq!(c.state.if_none_match, "*");
    // Another interop version: no 104.
    let r = req(
        "PUT",
        "/f",
        &[
            ("Upload-Complete", "?0"),
            ("Upload-Draft-Interop-Version", "6"),
        ],
    );
    let Ok(Op::Create(c)) = classify(&r) else {
        panic!()
    };
    assert_eq!(c.protocol, Protocol::Ietf { interim: false });
    // Lengths that disagree.
    let r = req(
        "PUT",
        "/f",
        &[
            ("Upload-Complete", "?1"),
            ("Content-Length", "10"),
            ("Upload-Length", "11"),
        ],
    );
    assert_eq!(classify(&r), Err(StatusCode::BAD_REQUEST));
    // POST to a folder takes the name from Content-Disposition.
    let r = req(
        "POST",
        "/dir/",
        &[
            ("Upload-Complete", "?0"),
            ("Content-Disposition", "inline; filename*=UTF-8''a%20b.txt"),
        ],
    );
    let Ok(Op::Create(c)) = classify(&r) else {
        panic!()
    };
    assert_eq!(c.path.href(false), "/dir/a%20b.txt");
    let r = req(
        "POST",
        "/dir/",
        &[
            ("Upload-Complete", "?0"),
            ("Content-Disposition", "inline; filename=\"../x\""),
        ],
    );
    assert_eq!(classify(&r), Err(StatusCode::BAD_REQUEST));
}

#[test]
fn appends_need_the_media_type_and_an_offset() {
    let t = format!("/f?upload={ID}");
    let ok = req(
        "PATCH",
        &t,
        &[
            ("Content-Type", "application/partial-upload"),
            ("Upload-Offset", "5"),
            ("Upload-Complete", "?1"),
            ("Content-Length", "7"),
        ],
    );
    match classify(&ok) {
        Ok(Op::Append {
            offset,
            complete,
            length,
            ..
        }) => assert_eq!((offset, complete, length), (5, true, Some(12))),
        other => panic!("{other:?}"),
    }
    let wrong_type = req(
        "PATCH",
        &t,
        &[("Upload-Offset", "5"), ("Upload-Complete", "?0")],
    );
    assert_eq!(
        classify(&wrong_type),
        Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
    );
    let no_offset = req(
        "PATCH",
        &t,
        &[
            ("Content-Type", "application/partial-upload"),
            ("Upload-Complete", "?0"),
        ],
    );
    assert_eq!(classify(&no_offset), Err(StatusCode::BAD_REQUEST));
    assert!(matches!(classify(&req("HEAD", &t, &[])), Ok(Op::Offset(_))));
    assert!(matches!(
        classify(&req("DELETE", &t, &[])),
        Ok(Op::Cancel(_))
    ));
    assert_eq!(
        classify(&req("GET", &t, &[])),
        Err(StatusCode::METHOD_NOT_ALLOWED)
    );
}

#[test]
fn tus_creation_takes_the_name_from_metadata() {
    // "filename" "report.pdf" in base64.
    let r = req(
        "POST",
        "/docs/",
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Length", "100"),
            (
                "Upload-Metadata",
                "filename cmVwb3J0LnBkZg==,filetype YXBwbGljYXRpb24vcGRm",
            ),
        ],
    );
    let Ok(Op::Create(c)) = classify(&r) else {
        panic!("{:?}", classify(&r))
    };
    assert_eq!(c.path.href(false), "/docs/report.pdf");
    assert_eq!(c.protocol, Protocol::Tus);
    assert_eq!(c.length, Some(100));
    // "../etc" in base64: refused.
    let bad = req(
        "POST",
        "/docs/",
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Length", "1"),
            ("Upload-Metadata", "filename Li4vZXRj"),
        ],
    );
    assert_eq!(classify(&bad), Err(StatusCode::BAD_REQUEST));
    let version = req(
        "POST",
        "/docs/",
        &[("Tus-Resumable", "0.2.2"), ("Upload-Length", "1")],
    );
    assert_eq!(classify(&version), Err(StatusCode::PRECONDITION_FAILED));
}

#[test]
fn state_round_trips_and_refuses_forged_lines() {
    let r = req(
        "PUT",
        "/f",
        &[("If-Match", "\"a\""), ("Repr-Digest", "sha-256=:x:")],
    );
    let mut s = UploadState::of_request(&r, Some(9), Protocol::Tus);
    s.user = "zoë\nuser=eve".into();
    let back = UploadState::decode(&s.encode()).unwrap();
    assert_eq!(
        back.user, "zoëuser=eve",
        "no forged line; names keep their letters"
    );
    assert_eq!(back.length, Some(9));
    assert!(back.tus);
    assert_eq!(back.if_match, "\"a\"");
    assert_eq!(
        back.preconditions().headers.get_str("if-match"),
        Some("\"a\"")
    );
    assert_eq!(UploadState::decode("something else"), None);
    // Whatever a client sends, what goes back out in a header is printable.
    let odd = req(
        "POST",
        "/",
        &[("Upload-Metadata", "filename eA==\u{0}\u{7f}é")],
    );
    let kept = UploadState::of_request(&odd, None, Protocol::Tus).metadata;
    assert_eq!(kept, "filename eA==");
}

#[test]
fn checksums_parse() {
    // sha1 of "abc".
    let c = fields::checksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=").unwrap();
    assert!(!c.sha256);
    assert_eq!(c.digest.len(), 20);
    assert_eq!(fields::checksum("md5 AAAA"), None);
}

#[test]
fn oversized_state_is_refused_up_front() {
    let meta = format!("filename eC50eHQ=,note {}", "QUFB".repeat(1000));
    let r = req(
        "POST",
        "/d/",
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Upload-Length", "1"),
            ("Upload-Metadata", &meta),
        ],
    );
    assert_eq!(classify(&r), Err(StatusCode::BAD_REQUEST));
}
