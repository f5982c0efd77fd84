//! The head parsers against whole, split and hostile inputs.

use super::*;

fn req(bytes: &[u8]) -> Result<Parsed<RequestHead>, ProtocolError> {
    RequestParser::new(Limits::default()).parse(bytes)
}

fn complete(bytes: &[u8]) -> RequestHead {
    match req(bytes) {
        Ok(Parsed::Complete { head, .. }) => head,
        other => panic!("not complete: {other:?}"),
    }
}

#[test]
fn curl_request() {
    let h = complete(
        b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    );
    assert_eq!(h.method, Method::Get);
    assert_eq!(h.target, "/index.html");
    assert_eq!(h.version, Version::Http11);
    assert_eq!(h.headers.get_str("host"), Some("127.0.0.1:8080"));
    assert_eq!(h.headers.len(), 3);
}

#[test]
fn bare_lf_and_leading_empty_lines() {
    let h = complete(b"\r\n\nHEAD / HTTP/1.0\nA:  b \t\n\n");
    assert_eq!(h.method, Method::Head);
    assert_eq!(h.headers.get("a"), Some(&b"b"[..]));
}

#[test]
fn rejections() {
    use ProtocolError::*;
    let cases: &[(&[u8], ProtocolError)] = &[
        (b"GET / HTTP/1.0\r\nA: b\rc\r\n\r\n", BareCr),
        (b"GET / HTTP/1.0\r\nA: b\0c\r\n\r\n", ControlCharacter),
        (b"GET / HTTP/1.0\r\nA : b\r\n\r\n", WhitespaceBeforeColon),
        (b"GET / HTTP/1.0\r\nA: b\r\n c\r\n\r\n", ObsFold),
        (b"GET / HTTP/1.0\r\nAb\r\n\r\n", MissingColon),
        (b"GET / HTTP/1.0\r\n: b\r\n\r\n", BadHeaderName),
        (b"GET / HTTP/1.0\r\nA\"b: c\r\n\r\n", BadHeaderName),
        (b"GET  / HTTP/1.0\r\n\r\n", BadRequestLine),
        (b"GET /\r\n\r\n", BadRequestLine),
        (b"G(T / HTTP/1.0\r\n\r\n", BadMethod),
        (b"GET / HTTP/1.x\r\n\r\n", BadVersion),
        (b"GET / http/1.1\r\n\r\n", BadVersion),
        (
            b"PRI * HTTP/2.0\r\n\r\n",
            UnsupportedVersion { major: 2, minor: 0 },
        ),
        (
            b"GET / HTTP/0.9\r\n\r\n",
            UnsupportedVersion { major: 0, minor: 9 },
        ),
        (b"GET /\x7f HTTP/1.0\r\n\r\n", ControlCharacter),
        (b"GET /\xff HTTP/1.0\r\n\r\n", BadTarget),
    ];
    for (input, want) in cases {
        assert_eq!(
            req(input),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(want.status().is_some());
    }
}

#[test]
fn limits_pick_the_first_exceeded() {
    let limits = Limits {
        max_head_bytes: 64,
        max_line_bytes: 32,
        max_headers: 2,
    };
    let long_line = format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(40));
    assert_eq!(
        RequestParser::new(limits).parse(long_line.as_bytes()),
        Err(ProtocolError::RequestLineTooLong { limit: 32 })
    );
    let many = b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        RequestParser::new(limits).parse(many),
        Err(ProtocolError::TooManyHeaders { limit: 2 })
    );
    let big = b"GET / HTTP/1.0\r\nA: 1234567890123456789012\r\nB: 1234567890123456789012\r\n\r\n";
    assert_eq!(
        RequestParser::new(limits).parse(big),
        Err(ProtocolError::HeadTooLarge { limit: 64 })
    );
    assert_eq!(
        ProtocolError::HeadTooLarge { limit: 1 }.status(),
        Some(StatusCode::HEADER_FIELDS_TOO_LARGE)
    );
}

#[test]
fn field_byte_check_matches_bytewise() {
    let kinds = [0u8, 9, 10, 13, 31, 32, 126, 127, 128, 255];
    for len in 0..20 {
        for pos in 0..len.max(1) {
            for b in kinds {
                let mut v = vec![b'a'; len];
                if len > 0 {
                    v[pos] = b;
                }
                let naive = v.iter().all(|&c| is_field_byte(c));
                assert_eq!(all_field_bytes(&v), naive, "{v:?}");
            }
        }
    }
}

#[test]
fn word_scans_match_bytewise_scans() {
    // Two bytes placed at every pair of positions, with every kind of
    // value, across word boundaries: the LF and the first forbidden
    // byte are found exactly as a byte-by-byte scan finds them.
    let kinds = [0u8, 9, 10, 13, 31, 32, 126, 127, 128, 255];
    for len in 0..20 {
        for p1 in 0..len {
            for p2 in p1..len {
                for b1 in kinds {
                    for b2 in kinds {
                        let mut v = vec![b'a'; len];
                        v[p1] = b1;
                        v[p2] = b2;
                        let lf = v.iter().position(|&c| c == b'\n');
                        let upto = lf.unwrap_or(v.len());
                        let first_bad = v[..upto].iter().position(|&c| !is_field_byte(c));
                        let mut bad = None;
                        assert_eq!(scan_line(&v, &mut bad), lf, "{v:?}");
                        assert_eq!(bad, first_bad, "{v:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn status_lines() {
    let mut p = ResponseParser::new(Limits::default());
    let Ok(Parsed::Complete { head, consumed }) = p.parse(b"HTTP/1.1 404\r\nServer: x\r\n\r\nbody")
    else {
        panic!()
    };
    assert_eq!(
        (head.status.as_u16(), &*head.reason, consumed),
        (404, "", 27)
    );
    let Ok(Parsed::Complete { head, .. }) = p.parse(b"HTTP/1.0 200 OK fine\n\n") else {
        panic!()
    };
    assert_eq!(head.reason, "OK fine");
    assert_eq!(
        p.parse(b"HTTP/1.0 20 OK\r\n\r\n"),
        Err(ProtocolError::BadStatusLine)
    );
    assert_eq!(
        p.parse(b"ICY 200 OK\r\n\r\n"),
        Err(ProtocolError::BadVersion)
    );
}
