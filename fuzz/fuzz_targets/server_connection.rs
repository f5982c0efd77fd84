//! Fuzzer-chosen sequences of received chunks and driver actions applied to
//! a `server::Connection` on a fake clock: it never panics, never yields
//! more body bytes than framed, and every error it reports maps to a 4xx or
//! 5xx status (or to closing silently).
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pared_core::server::{Config, Connection, Event};
use pared_core::{Limits, ResponseHead, StatusCode};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let config = Config {
        limits: Limits { max_head_bytes: 512, max_line_bytes: 256, max_headers: 8 },
        head_timeout: Some(Duration::from_secs(5)),
        idle_timeout: Some(Duration::from_secs(3)),
        body_timeout: Some(Duration::from_secs(2)),
        max_body: Some(1000),
        max_requests: Some(3),
        min_send_rate: 100,
    };
    let mut conn = Connection::new(config, now);
    let mut buf: Vec<u8> = Vec::new();
    let mut body_left: Option<u64> = None;
    let mut framing: Option<pared_core::Framing> = None;
    let mut out = Vec::new();
    let mut ops = data;
    while let [op, rest @ ..] = ops {
        ops = rest;
        match op % 8 {
            // Receive up to 32 bytes from the script.
            0..=2 => {
                let n = usize::from(op / 8).min(ops.len());
                buf.extend_from_slice(&ops[..n]);
                ops = &ops[n..];
            }
            3 => conn.handle_eof(),
            4 => {
                now += Duration::from_millis(u64::from(*op) * 20);
                if let Err(e) = conn.handle_timeout(now) {
                    assert!(e.status().map_or(true, |s| s.as_u16() >= 400));
                }
            }
            5 => {
                if conn.can_respond() {
                    let mut head = ResponseHead::new(StatusCode::OK);
                    head.headers.append("Content-Length", (op % 3).to_string());
                    out.clear();
                    conn.send_response(&head, &mut out, now).expect("can_respond was true");
                    assert!(out.ends_with(b"\r\n\r\n"));
                }
            }
            6 => {
                let _ = conn.send_body(usize::from(op % 3), now);
            }
            _ => {
                let _ = conn.finish_response(now);
            }
        }
        // Drain events after every input, as a driver must.
        for _ in 0..64 {
            match conn.handle_input(&buf, now) {
                Ok((used, ev)) => {
                    assert!(used <= buf.len());
                    let stop = matches!(ev, Event::NeedData | Event::Paused | Event::Closed);
                    match ev {
                        Event::Head(h) => {
                            framing = pared_core::body::request_framing(&h).ok();
                            body_left = framing.and_then(|f| f.known_length());
                        }
                        Event::Body(d) => {
                            assert!(!d.is_empty());
                            match body_left.as_mut() {
                                Some(left) => {
                                    *left = left
                                        .checked_sub(d.len() as u64)
                                        .expect("more body than framed");
                                }
                                // A chunked body ends where its chunks say.
                                None => assert_eq!(
                                    framing,
                                    Some(pared_core::Framing::Chunked),
                                    "body without a length"
                                ),
                            }
                        }
                        Event::End => assert_eq!(body_left.take().unwrap_or(0), 0),
                        _ => {}
                    }
                    buf.drain(..used);
                    if stop {
                        break;
                    }
                }
                Err(e) => {
                    assert!(e.status().map_or(true, |s| (400..600).contains(&s.as_u16())));
                    break;
                }
            }
        }
    }
    let _ = conn.poll_timeout();
});
