//! A client and a server connection paired in memory, on a fake clock.

use std::time::{Duration, Instant};

use pared_core::server::{self, Reuse};
use pared_core::{client, Method, ProtocolError, RequestHead, ResponseHead, StatusCode, Version};

/// One side of a connection, as the paired harness drives it.
trait Side {
    /// Feeds `buf`; the bytes used, the event as text, and whether the
    /// side now waits (for data, for its response, or for good).
    fn step(&mut self, buf: &[u8], now: Instant) -> Result<(usize, String, bool), ProtocolError>;
}

impl Side for server::Connection {
    fn step(&mut self, buf: &[u8], now: Instant) -> Result<(usize, String, bool), ProtocolError> {
        let (used, ev) = self.handle_input(buf, now)?;
        let stop = matches!(
            ev,
            server::Event::NeedData | server::Event::Paused | server::Event::Closed
        );
        let text = match ev {
            server::Event::Head(h) => format!("head {} {}", h.method, h.target),
            server::Event::Body(b) => format!("body {}", String::from_utf8_lossy(b)),
            other => format!("{other:?}"),
        };
        Ok((used, text, stop))
    }
}

impl Side for client::Connection {
    fn step(&mut self, buf: &[u8], now: Instant) -> Result<(usize, String, bool), ProtocolError> {
        let (used, ev) = self.handle_input(buf, now)?;
        let stop = matches!(ev, client::Event::NeedData | client::Event::End);
        let text = match ev {
            client::Event::Head(h) => format!("head {}", h.status),
            client::Event::Body(b) => format!("body {}", String::from_utf8_lossy(b)),
            other => format!("{other:?}"),
        };
        Ok((used, text, stop))
    }
}

/// Drains every event `side` has for `buf`, consuming from its front.
fn events(side: &mut impl Side, buf: &mut Vec<u8>, now: Instant) -> Vec<String> {
    let mut events = Vec::new();
    for _ in 0..10_000 {
        match side.step(buf, now) {
            Ok((used, text, stop)) => {
                events.push(text);
                buf.drain(..used);
                if stop {
                    return events;
                }
            }
            Err(e) => {
                events.push(format!("error {e:?}"));
                return events;
            }
        }
    }
    panic!("the connection never asked for data");
}

fn server_events(conn: &mut server::Connection, buf: &mut Vec<u8>, now: Instant) -> Vec<String> {
    events(conn, buf, now)
}

fn client_events(conn: &mut client::Connection, buf: &mut Vec<u8>, now: Instant) -> Vec<String> {
    events(conn, buf, now)
}

fn put(body: &str, version: Version, keep_alive: bool) -> RequestHead {
    let mut h = RequestHead::new(Method::Put, "/f.txt", version);
    h.headers.append("Host", "localhost");
    h.headers.append("Content-Length", body.len().to_string());
    if keep_alive && version == Version::Http10 {
        h.headers.append("Connection", "keep-alive");
    }
    h
}

fn ok_with(body: &str) -> ResponseHead {
    let mut h = ResponseHead::new(StatusCode::OK);
    h.headers.append("Content-Length", body.len().to_string());
    h
}

#[test]
fn request_and_response_in_memory() {
    let t0 = Instant::now();
    let mut cl = client::Connection::new(client::Config::default());
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut wire = Vec::new();
    cl.send_request(&put("hello", Version::Http10, true), &mut wire, t0)
        .unwrap();
    wire.extend_from_slice(b"hello");
    cl.send_body(5, t0).unwrap();
    cl.finish_request().unwrap();
    // The server sees the same request, body split as it came.
    let mut sbuf = wire[..wire.len() - 2].to_vec();
    assert_eq!(
        server_events(&mut sv, &mut sbuf, t0),
        ["head PUT /f.txt", "body hel", "NeedData"]
    );
    sbuf.extend_from_slice(b"lo");
    assert_eq!(
        server_events(&mut sv, &mut sbuf, t0),
        ["body lo", "End", "Paused"]
    );
    let mut back = Vec::new();
    sv.send_response(&ok_with("done"), &mut back, t0).unwrap();
    assert!(back.windows(24).any(|w| w == b"Connection: keep-alive\r\n"));
    back.extend_from_slice(b"done");
    sv.send_body(4, t0).unwrap();
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::KeepAlive);
    assert_eq!(
        client_events(&mut cl, &mut back, t0),
        ["head 200", "body done", "End"]
    );
    assert!(cl.is_reusable());
    // The next request on the same connection works, and the clock is idle.
    let mut next = b"GET /a HTTP/1.0\r\n\r\n".to_vec();
    assert_eq!(
        server_events(&mut sv, &mut next, t0),
        ["head GET /a", "End", "Paused"]
    );
}

#[test]
fn pipelined_request_waits_for_the_response() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf =
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".to_vec();
    assert_eq!(
        server_events(&mut sv, &mut buf, t0),
        ["head GET /1", "End", "Paused"]
    );
    let mut out = Vec::new();
    sv.send_response(&ok_with(""), &mut out, t0).unwrap();
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::KeepAlive);
    assert_eq!(
        server_events(&mut sv, &mut buf, t0),
        ["head GET /2", "End", "Paused"]
    );
    out.clear();
    sv.send_response(&ok_with(""), &mut out, t0).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("Connection: close\r\n"));
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::Close);
}

#[test]
fn keep_alive_needs_a_known_length_and_a_request_for_it() {
    let t0 = Instant::now();
    for (request, response_len, want) in [
        (&b"GET / HTTP/1.0\r\n\r\n"[..], Some(0), Reuse::Close),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            Some(0),
            Reuse::KeepAlive,
        ),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            None,
            Reuse::Close,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Some(0),
            Reuse::KeepAlive,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Some(0),
            Reuse::Close,
        ),
    ] {
        let mut sv = server::Connection::new(server::Config::default(), t0);
        let mut buf = request.to_vec();
        server_events(&mut sv, &mut buf, t0);
        let mut head = ResponseHead::new(StatusCode::OK);
        if let Some(n) = response_len {
            head.headers.append("Content-Length", n.to_string());
        }
        sv.send_response(&head, &mut Vec::new(), t0).unwrap();
        assert_eq!(
            sv.finish_response(t0).unwrap(),
            want,
            "{}",
            String::from_utf8_lossy(request)
        );
    }
}

#[test]
fn unread_request_body_forces_close() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf = b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n".to_vec();
    assert_eq!(
        server_events(&mut sv, &mut buf, t0),
        ["head PUT /a", "NeedData"]
    );
    sv.send_response(&ok_with(""), &mut Vec::new(), t0).unwrap();
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::Close);
}

#[test]
fn protocol_errors_are_sticky_but_answerable() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf =
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec();
    let err = sv.handle_input(&buf, t0).unwrap_err();
    assert_eq!(err, ProtocolError::ConflictingContentLength);
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(sv.handle_input(&buf, t0).unwrap_err(), err);
    assert!(sv.can_respond());
    let mut out = Vec::new();
    sv.send_response(&ok_with(""), &mut out, t0).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("Connection: close"));
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::Close);
    assert!(sv.send_response(&ok_with(""), &mut out, t0).is_err());
    buf.clear();
}

#[test]
fn http11_needs_one_host_and_limits_apply() {
    let t0 = Instant::now();
    let cfg = server::Config {
        max_body: Some(4),
        ..server::Config::default()
    };
    for (req, want) in [
        (&b"GET / HTTP/1.1\r\n\r\n"[..], ProtocolError::BadHost),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            ProtocolError::BadHost,
        ),
        (
            b"PUT / HTTP/1.0\r\nContent-Length: 5\r\n\r\n",
            ProtocolError::BodyTooLarge {
                length: 5,
                limit: 4,
            },
        ),
        (
            b"PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            ProtocolError::TransferEncodingOnHttp10,
        ),
        (
            b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            ProtocolError::UnsupportedTransferEncoding,
        ),
    ] {
        let mut sv = server::Connection::new(cfg, t0);
        assert_eq!(sv.handle_input(req, t0).unwrap_err(), want);
    }
}

#[test]
fn chunked_bodies_are_bounded_as_they_arrive() {
    let t0 = Instant::now();
    let chunked = b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\nX-T: 1\r\n\r\n";
    // Within the limit: the body arrives de-chunked, trailers ignored.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let (used, ev) = sv.handle_input(chunked, t0).unwrap();
    assert!(matches!(ev, server::Event::Head(_)));
    sv.limit_body(Some(6));
    let mut rest = &chunked[used..];
    let mut body = Vec::new();
    loop {
        let (n, ev) = sv.handle_input(rest, t0).unwrap();
        match ev {
            server::Event::Body(d) => body.extend_from_slice(d),
            server::Event::End => break,
            other => panic!("{other:?}"),
        }
        rest = &rest[n..];
    }
    assert_eq!(body, b"abcdef");
    // Over it: 413 as soon as the seventh byte would be taken.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let (used, _) = sv.handle_input(chunked, t0).unwrap();
    sv.limit_body(Some(5));
    let mut rest = &chunked[used..];
    let err = loop {
        match sv.handle_input(rest, t0) {
            Ok((n, _)) => rest = &rest[n..],
            Err(e) => break e,
        }
    };
    assert_eq!(
        err,
        ProtocolError::BodyTooLarge {
            length: 6,
            limit: 5
        }
    );
    assert_eq!(
        err.status(),
        Some(pared_core::StatusCode::PAYLOAD_TOO_LARGE)
    );
}

#[test]
fn expect_continue_is_answered_once() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf =
        b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".to_vec();
    server_events(&mut sv, &mut buf, t0);
    let mut out = Vec::new();
    sv.accept_body(&mut out);
    sv.accept_body(&mut out);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    // An HTTP/1.0 client never gets one.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf = b"PUT /a HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n".to_vec();
    server_events(&mut sv, &mut buf, t0);
    let mut out = Vec::new();
    sv.accept_body(&mut out);
    assert!(out.is_empty());
}

#[test]
fn server_deadlines_on_a_fake_clock() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let cfg = server::Config {
        head_timeout: Some(10 * s),
        idle_timeout: Some(5 * s),
        body_timeout: Some(3 * s),
        ..server::Config::default()
    };
    // Slowloris: bytes keep coming but the head never completes.
    let mut sv = server::Connection::new(cfg, t0);
    let mut buf = b"GET / HTTP/1.0\r\n".to_vec();
    server_events(&mut sv, &mut buf, t0 + s);
    assert_eq!(sv.poll_timeout(), Some(t0 + 10 * s));
    buf.extend_from_slice(b"X-A: 1\r\n");
    server_events(&mut sv, &mut buf, t0 + 9 * s);
    assert_eq!(sv.handle_timeout(t0 + 9 * s), Ok(()));
    assert_eq!(sv.time_left(t0 + 9 * s), Ok(Some(s)));
    assert_eq!(
        sv.handle_timeout(t0 + 10 * s),
        Err(ProtocolError::HeadTimeout)
    );
    assert_eq!(
        ProtocolError::HeadTimeout.status(),
        Some(StatusCode::REQUEST_TIMEOUT)
    );

    // A stalled body, then an idle keep-alive connection.
    let mut sv = server::Connection::new(cfg, t0);
    let mut buf =
        b"PUT /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nab".to_vec();
    server_events(&mut sv, &mut buf, t0);
    assert_eq!(sv.poll_timeout(), Some(t0 + 3 * s));
    buf.extend_from_slice(b"cd");
    server_events(&mut sv, &mut buf, t0 + 2 * s);
    sv.send_response(&ok_with(""), &mut Vec::new(), t0 + 2 * s)
        .unwrap();
    assert_eq!(sv.finish_response(t0 + 2 * s).unwrap(), Reuse::KeepAlive);
    assert_eq!(sv.poll_timeout(), Some(t0 + 7 * s));
    let err = sv.handle_timeout(t0 + 7 * s).unwrap_err();
    assert_eq!(err, ProtocolError::IdleTimeout);
    assert_eq!(err.status(), None);

    let mut sv = server::Connection::new(cfg, t0);
    let mut buf = b"PUT /a HTTP/1.0\r\nContent-Length: 4\r\n\r\nab".to_vec();
    server_events(&mut sv, &mut buf, t0);
    assert_eq!(
        sv.handle_timeout(t0 + 3 * s),
        Err(ProtocolError::BodyStalled)
    );
}

#[test]
fn eof_handling() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    sv.handle_eof();
    assert_eq!(server_events(&mut sv, &mut Vec::new(), t0), ["Closed"]);
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf = b"PUT /a HTTP/1.0\r\nContent-Length: 4\r\n\r\nab".to_vec();
    server_events(&mut sv, &mut buf, t0);
    sv.handle_eof();
    assert_eq!(
        server_events(&mut sv, &mut buf, t0),
        ["error IncompleteBody { expected: 4, received: 2 }"]
    );
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut buf = b"GET / HT".to_vec();
    server_events(&mut sv, &mut buf, t0);
    sv.handle_eof();
    assert_eq!(
        server_events(&mut sv, &mut buf, t0),
        ["error IncompleteHead"]
    );
}

#[test]
fn client_reads_real_response_shapes() {
    let t0 = Instant::now();
    let get = RequestHead::new(Method::Get, "/", Version::Http10);
    let cases: &[(&[u8], &[&str])] = &[
        (
            b"HTTP/1.0 200 OK\r\n\r\nuntil close",
            &["head 200", "body until close", "NeedData"],
        ),
        (
            b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
            &["head 200", "body hi", "End"],
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            &["head 204", "End"],
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            &["head 200", "body hi", "End"],
        ),
        (
            b"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhi",
            &["head 200", "body hi", "NeedData"],
        ),
    ];
    for (wire, want) in cases {
        let mut cl = client::Connection::new(client::Config::default());
        cl.send_request(&get, &mut Vec::new(), t0).unwrap();
        let mut buf = wire.to_vec();
        assert_eq!(
            &client_events(&mut cl, &mut buf, t0),
            want,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
    // Close ends a close-delimited body, and truncates a sized one.
    let mut cl = client::Connection::new(client::Config::default());
    cl.send_request(&get, &mut Vec::new(), t0).unwrap();
    let mut buf = b"HTTP/1.0 200 OK\r\n\r\nab".to_vec();
    client_events(&mut cl, &mut buf, t0);
    cl.handle_eof();
    assert_eq!(client_events(&mut cl, &mut buf, t0), ["End"]);
    let mut cl = client::Connection::new(client::Config::default());
    cl.send_request(&get, &mut Vec::new(), t0).unwrap();
    let mut buf = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nab".to_vec();
    client_events(&mut cl, &mut buf, t0);
    cl.handle_eof();
    assert_eq!(
        client_events(&mut cl, &mut buf, t0),
        ["error IncompleteBody { expected: 5, received: 2 }"]
    );
    let mut cl = client::Connection::new(client::Config::default());
    cl.send_request(&get, &mut Vec::new(), t0).unwrap();
    cl.handle_eof();
    assert_eq!(
        client_events(&mut cl, &mut Vec::new(), t0),
        ["error ClosedBeforeResponse"]
    );
}

#[test]
fn client_timeout_and_misuse() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut cl = client::Connection::new(client::Config {
        read_timeout: Some(2 * s),
        ..client::Config::default()
    });
    let mut h = RequestHead::new(Method::Put, "/a", Version::Http10);
    h.headers.append("Content-Length", "3");
    let mut out = Vec::new();
    cl.send_request(&h, &mut out, t0).unwrap();
    assert!(cl.send_request(&h, &mut out, t0).is_err());
    assert!(cl.send_body(4, t0).is_err());
    cl.send_body(2, t0).unwrap();
    assert!(cl.finish_request().is_err());
    cl.send_body(1, t0 + s).unwrap();
    cl.finish_request().unwrap();
    assert_eq!(cl.poll_timeout(), Some(t0 + 3 * s));
    assert_eq!(cl.time_left(t0 + 2 * s), Ok(Some(s)));
    assert_eq!(cl.time_left(t0 + 3 * s), Err(ProtocolError::HeadTimeout));
    assert_eq!(
        cl.handle_timeout(t0 + 3 * s),
        Err(ProtocolError::HeadTimeout)
    );
    // Header injection through a forwarded value is refused.
    let mut h = RequestHead::new(Method::Get, "/a", Version::Http10);
    h.headers.append("X-Forwarded", "a\r\nInjected: 1");
    let mut cl = client::Connection::new(client::Config::default());
    assert!(cl.send_request(&h, &mut Vec::new(), t0).is_err());
}

#[test]
fn server_misuse_is_a_usage_error() {
    let t0 = Instant::now();
    let mut sv = server::Connection::new(server::Config::default(), t0);
    assert!(sv.send_response(&ok_with(""), &mut Vec::new(), t0).is_err());
    assert!(sv.send_body(1, t0).is_err());
    let mut buf = b"GET / HTTP/1.0\r\n\r\n".to_vec();
    server_events(&mut sv, &mut buf, t0);
    sv.send_response(&ok_with("abc"), &mut Vec::new(), t0)
        .unwrap();
    sv.send_body(2, t0).unwrap();
    assert!(sv.send_body(2, t0).is_err());
    assert!(sv.finish_response(t0).is_err());
}

#[test]
fn interim_responses_do_not_extend_the_wait() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut cl = client::Connection::new(client::Config {
        read_timeout: Some(5 * s),
        ..client::Config::default()
    });
    let h = RequestHead::new(Method::Get, "/a", Version::Http10);
    cl.send_request(&h, &mut Vec::new(), t0).unwrap();
    // A 100 Continue every second, forever: the final head is still due
    // five seconds after the request went out.
    let mut now = t0;
    for _ in 0..4 {
        now += s;
        let (used, ev) = cl
            .handle_input(b"HTTP/1.1 100 Continue\r\n\r\n", now)
            .unwrap();
        assert_eq!(used, 25);
        assert!(matches!(ev, client::Event::NeedData));
    }
    assert_eq!(cl.poll_timeout(), Some(t0 + 5 * s));
    assert_eq!(cl.time_left(t0 + 5 * s), Err(ProtocolError::HeadTimeout));
}

#[test]
fn a_body_of_unknown_length_is_chunked_to_http11_and_closes_http10() {
    let t0 = Instant::now();
    // HTTP/1.1: chunked, answered as HTTP/1.1, and the connection lives on.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut cl = client::Connection::new(client::Config::default());
    let mut req = RequestHead::new(Method::Get, "/list/", Version::Http11);
    req.headers.append("Host", "h");
    let mut wire = Vec::new();
    cl.send_request(&req, &mut wire, t0).unwrap();
    cl.finish_request().unwrap();
    assert_eq!(
        server_events(&mut sv, &mut wire, t0),
        ["head GET /list/", "End", "Paused"]
    );
    let mut back = Vec::new();
    sv.send_response(&ResponseHead::new(StatusCode::OK), &mut back, t0)
        .unwrap();
    assert!(sv.is_chunked());
    assert!(back.starts_with(b"HTTP/1.1 200 OK\r\n"), "{back:?}");
    assert!(back
        .windows(28)
        .any(|w| w == b"Transfer-Encoding: chunked\r\n"));
    for piece in ["one ", "", "two"] {
        sv.send_chunk(piece.as_bytes(), &mut back, t0).unwrap();
    }
    sv.end_body(&mut back).unwrap();
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::KeepAlive);
    let body: String = client_events(&mut cl, &mut back, t0)
        .iter()
        .filter_map(|e| e.strip_prefix("body "))
        .collect();
    assert_eq!(body, "one two");
    assert!(back.is_empty(), "nothing left over");
    assert!(cl.is_reusable());

    // Without the last chunk the body cannot be told from a cut one.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut wire = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    server_events(&mut sv, &mut wire, t0);
    let mut back = Vec::new();
    sv.send_response(&ResponseHead::new(StatusCode::OK), &mut back, t0)
        .unwrap();
    sv.send_chunk(b"x", &mut back, t0).unwrap();
    assert!(sv.finish_response(t0).is_err());

    // HTTP/1.0: the same calls give a close-delimited body.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut wire = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec();
    server_events(&mut sv, &mut wire, t0);
    let mut back = Vec::new();
    sv.send_response(&ResponseHead::new(StatusCode::OK), &mut back, t0)
        .unwrap();
    assert!(!sv.is_chunked());
    assert!(back.starts_with(b"HTTP/1.0 200 OK\r\n"));
    assert!(back.windows(17).any(|w| w == b"Connection: close"));
    let head_len = back.len();
    sv.send_chunk(b"raw", &mut back, t0).unwrap();
    sv.end_body(&mut back).unwrap();
    assert_eq!(&back[head_len..], b"raw");
    assert_eq!(sv.finish_response(t0).unwrap(), Reuse::Close);

    // A caller's own Transfer-Encoding is refused: the connection chooses.
    let mut sv = server::Connection::new(server::Config::default(), t0);
    let mut wire = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    server_events(&mut sv, &mut wire, t0);
    let mut h = ResponseHead::new(StatusCode::OK);
    h.headers.append("Transfer-Encoding", "chunked");
    assert!(sv.send_response(&h, &mut Vec::new(), t0).is_err());
}
