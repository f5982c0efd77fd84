//! Property tests of the parsers, serializers and body framing.

use pared_core::body::{BodyEvent, BodyReader};
use pared_core::{
    write_request, write_response, Framing, Headers, Limits, Method, Parsed, ProtocolError,
    RequestHead, RequestParser, ResponseHead, ResponseParser, StatusCode, Version,
};
use proptest::prelude::*;

type ReqResult = Result<Parsed<RequestHead>, ProtocolError>;

/// Parses `input` fed in pieces ending at `cuts` (sorted, deduplicated),
/// re-presenting the unconsumed bytes each time, as a driver does.
fn parse_split(limits: Limits, input: &[u8], cuts: &[usize]) -> ReqResult {
    let mut p = RequestParser::new(limits);
    for &c in cuts.iter().filter(|&&c| c < input.len()) {
        match p.parse(&input[..c])? {
            Parsed::Partial => {}
            done => return Ok(done),
        }
    }
    p.parse(input)
}

fn byte_by_byte(limits: Limits, input: &[u8]) -> ReqResult {
    let cuts: Vec<usize> = (1..input.len()).collect();
    parse_split(limits, input, &cuts)
}

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Field content: visible ASCII and obs-text, inner spaces, no edge whitespace.
    prop::collection::vec(prop_oneof![0x21u8..0x7f, 0x80u8..=0xff, Just(b' ')], 0..24).prop_map(
        |mut v| {
            while v.first() == Some(&b' ') {
                v.remove(0);
            }
            while v.last() == Some(&b' ') {
                v.pop();
            }
            v
        },
    )
}

fn headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec((token(), value()), 0..12).prop_map(|fields| {
        let mut h = Headers::new();
        for (n, v) in fields {
            h.append(&n, v);
        }
        h
    })
}

fn request_head() -> impl Strategy<Value = RequestHead> {
    (
        prop_oneof![
            Just(Method::Get),
            Just(Method::Head),
            Just(Method::Put),
            Just(Method::Delete),
            token().prop_map(|t| Method::from_token(&t)),
        ],
        "/[!-~]{0,40}",
        prop_oneof![Just(Version::Http10), Just(Version::Http11)],
        headers(),
    )
        .prop_map(|(method, target, version, headers)| RequestHead {
            method,
            target,
            version,
            headers,
        })
}

fn response_head() -> impl Strategy<Value = ResponseHead> {
    (
        100u16..1000,
        "[ -~]{0,20}",
        prop_oneof![Just(Version::Http10), Just(Version::Http11)],
        headers(),
    )
        .prop_map(|(code, reason, version, headers)| ResponseHead {
            version,
            status: StatusCode::new(code).unwrap(),
            reason: reason.trim_start().to_owned().into(),
            headers,
        })
}

fn serialized(head: &RequestHead) -> Vec<u8> {
    let mut out = Vec::new();
    write_request(head, &mut out).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_roundtrip(head in request_head(), trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut wire = serialized(&head);
        let len = wire.len();
        wire.extend_from_slice(&trailing);
        let got = RequestParser::new(Limits::default()).parse(&wire).unwrap();
        prop_assert_eq!(got, Parsed::Complete { head, consumed: len });
    }

    #[test]
    fn one_parser_reads_pipelined_heads_by_index(
        first in request_head(),
        second in request_head(),
        cuts in prop::collection::vec(0usize..400, 0..6),
    ) {
        // One parser, reused as a server does: the first head by index,
        // then the second fed in pieces; each index reads back as the
        // owned head, and the parser's state never leaks between heads.
        let (a, b) = (serialized(&first), serialized(&second));
        let mut wire = a.clone();
        wire.extend_from_slice(&b);
        let mut p = RequestParser::new(Limits::default());
        match p.parse_index(&wire).unwrap() {
            Parsed::Complete { head, consumed } => {
                prop_assert_eq!(consumed, a.len());
                prop_assert_eq!(head.method(), &first.method);
                prop_assert_eq!(head.target(&wire), first.target.as_str());
                prop_assert_eq!(head.field_count(), first.headers.len());
                prop_assert_eq!(head.to_head(&wire), first.clone());
            }
            Parsed::Partial => prop_assert!(false, "first head incomplete"),
        }
        prop_assert!(!p.in_progress());
        let rest = &wire[a.len()..];
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut got = None;
        for end in cuts.into_iter().filter(|&c| c < rest.len()).chain([rest.len()]) {
            if let Parsed::Complete { head, consumed } = p.parse_index(&rest[..end]).unwrap() {
                prop_assert_eq!(consumed, b.len());
                got = Some(head.to_head(rest));
                break;
            }
        }
        prop_assert_eq!(got, Some(second));
    }

    #[test]
    fn response_roundtrip(head in response_head()) {
        let mut wire = Vec::new();
        write_response(&head, &mut wire).unwrap();
        let got = ResponseParser::new(Limits::default()).parse(&wire).unwrap();
        prop_assert_eq!(got, Parsed::Complete { head, consumed: wire.len() });
    }

    #[test]
    fn every_prefix_is_partial(head in request_head()) {
        let wire = serialized(&head);
        for end in 0..wire.len() {
            let r = RequestParser::new(Limits::default()).parse(&wire[..end]);
            prop_assert_eq!(r, Ok(Parsed::Partial), "prefix of {} bytes", end);
        }
    }

    #[test]
    fn valid_heads_split_invariant(head in request_head(), cuts in prop::collection::vec(0usize..400, 0..8)) {
        let wire = serialized(&head);
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let whole = RequestParser::new(Limits::default()).parse(&wire);
        prop_assert_eq!(&parse_split(Limits::default(), &wire, &cuts), &whole);
        prop_assert_eq!(&byte_by_byte(Limits::default(), &wire), &whole);
    }

    #[test]
    fn arbitrary_bytes_split_invariant(
        input in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' ')], 0..300),
        cuts in prop::collection::vec(0usize..300, 0..6),
        max_head in 8usize..200,
        max_line in 4usize..100,
        max_headers in 0usize..6,
    ) {
        let limits = Limits { max_head_bytes: max_head, max_line_bytes: max_line, max_headers };
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let whole = RequestParser::new(limits).parse(&input);
        prop_assert_eq!(&parse_split(limits, &input, &cuts), &whole);
        prop_assert_eq!(&byte_by_byte(limits, &input), &whole);
        if let Ok(Parsed::Complete { head, consumed }) = whole {
            prop_assert!(consumed <= max_head);
            prop_assert!(head.headers.len() <= max_headers);
            prop_assert!(head.target.len() < max_line);
        }
    }

    #[test]
    fn oversized_heads_refused_however_split(head in request_head(), cuts in prop::collection::vec(0usize..400, 0..8)) {
        let wire = serialized(&head);
        let limits = Limits { max_head_bytes: wire.len() - 1, ..Limits::default() };
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let whole = RequestParser::new(limits).parse(&wire);
        prop_assert!(whole.is_err());
        prop_assert_eq!(parse_split(limits, &wire, &cuts), whole);
    }

    #[test]
    fn chunked_writer_round_trips_however_split(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        step in 1usize..64,
        trailing in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for p in &pieces {
            pared_core::chunked::write_chunk(p, &mut wire);
        }
        wire.extend_from_slice(pared_core::chunked::LAST_CHUNK);
        let end = wire.len();
        wire.extend_from_slice(&trailing);
        // Fed `step` bytes more each time, as a socket would deliver them.
        let mut reader = BodyReader::new(pared_core::Framing::Chunked);
        let (mut at, mut avail, mut body) = (0usize, 0usize, Vec::new());
        loop {
            match reader.read(&wire[at..avail]).unwrap() {
                (n, BodyEvent::Data(d)) => { body.extend_from_slice(d); at += n; }
                (n, BodyEvent::End) => { at += n; break; }
                (n, BodyEvent::NeedData) => {
                    at += n;
                    prop_assert!(avail < wire.len(), "needs data past the end");
                    avail = (avail + step).min(wire.len());
                }
            }
        }
        prop_assert_eq!(at, end, "the trailing bytes are left alone");
        prop_assert_eq!(body, pieces.concat());
    }

    #[test]
    fn length_body_never_exceeds_length(len in 0u64..64, input in prop::collection::vec(any::<u8>(), 0..128), step in 1usize..16) {
        let mut r = BodyReader::new(Framing::Length(len));
        let mut got = 0u64;
        let mut pos = 0;
        loop {
            let avail = (pos + step).min(input.len());
            let (n, ev) = r.read(&input[pos..avail]).unwrap();
            pos += n;
            match ev {
                BodyEvent::Data(d) => got += d.len() as u64,
                BodyEvent::End => break,
                BodyEvent::NeedData if avail == input.len() => break,
                BodyEvent::NeedData => {}
            }
            prop_assert!(got <= len);
        }
        prop_assert_eq!(got, len.min(input.len() as u64));
        prop_assert_eq!(pos as u64, got);
    }

    #[test]
    fn chunked_decoding_split_invariant(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..6), step in 1usize..20) {
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for c in &chunks {
            wire.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            wire.extend_from_slice(c);
            wire.extend_from_slice(b"\r\n");
            want.extend_from_slice(c);
        }
        wire.extend_from_slice(b"0\r\n\r\nGET / HTTP/1.1");
        let mut r = BodyReader::new(Framing::Chunked);
        let (mut pos, mut got) = (0, Vec::new());
        loop {
            let avail = (pos + step).min(wire.len());
            let (n, ev) = r.read(&wire[pos..avail]).unwrap();
            pos += n;
            match ev {
                BodyEvent::Data(d) => got.extend_from_slice(d),
                BodyEvent::End => break,
                BodyEvent::NeedData => prop_assert!(avail < wire.len(), "ran out of input"),
            }
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(&wire[pos..], b"GET / HTTP/1.1");
    }
}

/// Heads that real clients send, and what real servers answer.
#[test]
fn real_world_heads() {
    let requests: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        b"GET /file.bin HTTP/1.1\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\nAccept-Encoding: identity\r\nHost: 127.0.0.1:8080\r\nConnection: Keep-Alive\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept-Encoding: identity\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\nsec-ch-ua-mobile: ?0\r\nUpgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: a=b; c=d\r\n\r\n",
        b"PUT /up.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 52428800\r\nExpect: 100-continue\r\n\r\n",
        b"GET /index.html HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
    ];
    for r in requests {
        for split in [r.len(), 1, 7] {
            let cuts: Vec<usize> = (split..r.len()).step_by(split).collect();
            let got = parse_split(Limits::default(), r, &cuts);
            assert!(
                matches!(got, Ok(Parsed::Complete { consumed, .. }) if consumed == r.len()),
                "{}",
                String::from_utf8_lossy(r)
            );
        }
    }
    let responses: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 10:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 615\r\nLast-Modified: Tue, 24 Nov 2026 10:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"6565-267\"\r\nAccept-Ranges: bytes\r\n\r\n",
        b"HTTP/1.1 301 Moved Permanently\r\nDate: Wed, 25 Nov 2026 10:00:00 GMT\r\nServer: Apache/2.4.57 (Debian)\r\nLocation: http://127.0.0.1/dir/\r\nContent-Length: 233\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nDate: Wed, 25 Nov 2026 10:00:00 GMT\r\nContent-type: application/octet-stream\r\nContent-Length: 3\r\nLast-Modified: Wed, 25 Nov 2026 09:00:00 GMT\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: chunked\n\n",
    ];
    for r in responses {
        let got = ResponseParser::new(Limits::default()).parse(r);
        assert!(
            matches!(got, Ok(Parsed::Complete { consumed, .. }) if consumed == r.len()),
            "{}",
            String::from_utf8_lossy(r)
        );
    }
}
