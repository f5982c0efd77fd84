//! Request heads that httparse and pared judge differently must be one of
//! the intended differences written down in `fuzz/DIFFERENCES.md` (pared is
//! stricter, or accepts what RFC 9112 asks a server to accept); anything
//! else fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pared_core::{Limits, Parsed, ProtocolError, RequestParser, Version};

/// The documented differences, each named as in DIFFERENCES.md.
fn intended(input: &[u8], pared: &Result<Parsed<pared_core::RequestHead>, ProtocolError>) -> Option<&'static str> {
    let head_end = find_head_end(input);
    let head = &input[..head_end.unwrap_or(input.len())];
    match pared {
        // 1. Limits: pared refuses heads over 16 KiB, lines over 8 KiB, more than 100 fields.
        Err(ProtocolError::HeadTooLarge { .. } | ProtocolError::RequestLineTooLong { .. }
            | ProtocolError::HeaderLineTooLong { .. } | ProtocolError::TooManyHeaders { .. }) => Some("limits"),
        // 2. HTTP/1.2..1.9 read as 1.1, and 2.0+ / 0.x refused with 505 (httparse: not 1.0/1.1 is an error).
        Ok(Parsed::Complete { head: h, .. })
            if h.version == Version::Http11 && raw_version(head) != Some(&b"HTTP/1.1"[..]) =>
        {
            Some("minor versions")
        }
        // 3. pared allows only visible ASCII in the target; httparse also allows obs-text bytes.
        Err(ProtocolError::BadTarget) => Some("target bytes"),
        // 4. pared refuses DEL and other controls anywhere in a line; httparse allows some in values.
        Err(ProtocolError::ControlCharacter | ProtocolError::BareCr) => Some("control bytes"),
        // Anything else is undocumented. (Difference 5, the timing of a verdict
        // on an incomplete line, is accepted by the caller before this point.)
        _ => None,
    }
}

/// The version token of the first non-empty line.
fn raw_version(head: &[u8]) -> Option<&[u8]> {
    let line = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty())?;
    line.rsplit(|&b| b == b' ').next()
}

fn find_head_end(input: &[u8]) -> Option<usize> {
    // The end of the head as pared sees it: the first empty line after the start line.
    let mut p = RequestParser::new(Limits { max_head_bytes: usize::MAX, max_line_bytes: usize::MAX, max_headers: usize::MAX });
    match p.parse(input) {
        Ok(Parsed::Complete { consumed, .. }) => Some(consumed),
        _ => None,
    }
}

fuzz_target!(|input: &[u8]| {
    let pared = RequestParser::new(Limits::default()).parse(input);
    let mut fields = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut fields);
    let theirs = req.parse(input);
    match (&pared, &theirs) {
        (Ok(Parsed::Complete { head, consumed }), Ok(httparse::Status::Complete(n))) => {
            assert_eq!(consumed, n, "head length differs");
            assert_eq!(Some(head.method.as_str()), req.method);
            assert_eq!(Some(head.target.as_str()), req.path);
            let theirs: Vec<(String, Vec<u8>)> = req
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), trim(h.value).to_vec()))
                .collect();
            let ours: Vec<(String, Vec<u8>)> =
                head.headers.iter().map(|f| (f.name.to_owned(), f.value.to_vec())).collect();
            assert_eq!(ours, theirs, "fields differ");
        }
        (Ok(Parsed::Partial), Ok(httparse::Status::Partial)) => {}
        (Err(_), Err(_)) => {}
        // pared is still waiting where httparse already failed: pared judges
        // lines only once they end, httparse byte by byte. Same verdict later.
        (Ok(Parsed::Partial), Err(_)) => {}
        _ => {
            if let Some(_why) = intended(input, &pared) {
                return;
            }
            panic!(
                "undocumented difference: pared {:?}, httparse {:?} on {:?}",
                pared,
                theirs,
                String::from_utf8_lossy(input)
            );
        }
    }
});

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(v.len());
    let end = v.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |i| i + 1);
    &v[start..end]
}
