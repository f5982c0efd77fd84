//! Serializers for request and response heads.
//!
//! Invariant: what these write always parses back as the same head. Any
//! name, value, target or reason that could break the framing (CR, LF, NUL,
//! other controls, a non-token name) is refused with a [`UsageError`]
//! before a byte is written, so a caller cannot be tricked into header
//! injection by data it forwards.

use crate::error::UsageError;
use crate::head::{Headers, RequestHead, ResponseHead};
use crate::parse::{all_field_bytes, is_token};

fn check_fields(headers: &Headers) -> Result<(), UsageError> {
    for (name, value) in headers.raw() {
        let value_ok = all_field_bytes(value)
            && value.first().map_or(true, |&b| b != b' ' && b != b'\t')
            && value.last().map_or(true, |&b| b != b' ' && b != b'\t');
        if !is_token(name) || !value_ok {
            return Err(UsageError::InvalidField {
                name: String::from_utf8_lossy(name)
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect(),
            });
        }
    }
    Ok(())
}

fn write_fields(headers: &Headers, out: &mut Vec<u8>) {
    write_fields_except(headers, None, out);
}

/// Writes the fields, leaving out those named `skip`, and the empty line.
fn write_fields_except(headers: &Headers, skip: Option<&str>, out: &mut Vec<u8>) {
    for (name, value) in headers.raw() {
        if skip.is_some_and(|s| name.eq_ignore_ascii_case(s.as_bytes())) {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a request head to `out`; refuses heads that would not parse back.
pub fn write_request(head: &RequestHead, out: &mut Vec<u8>) -> Result<(), UsageError> {
    if head.target.is_empty() || !head.target.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(UsageError::InvalidLine {
            what: "request target",
        });
    }
    if !is_token(head.method.as_str().as_bytes()) {
        return Err(UsageError::InvalidLine { what: "method" });
    }
    check_fields(&head.headers)?;
    out.reserve(64 + head.target.len());
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    write_fields(&head.headers, out);
    Ok(())
}

/// Appends a response head to `out`; refuses heads that would not parse back.
pub fn write_response(head: &ResponseHead, out: &mut Vec<u8>) -> Result<(), UsageError> {
    write_response_with(head, None, false, out)
}

/// Appends a response head whose `Connection` field is `connection`
/// (replacing any the head has), as a server connection sends it; a
/// `chunked` head says `HTTP/1.1` and `Transfer-Encoding: chunked`.
pub(crate) fn write_response_with(
    head: &ResponseHead,
    connection: Option<&str>,
    chunked: bool,
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    if head
        .reason
        .bytes()
        .any(|b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        return Err(UsageError::InvalidLine {
            what: "reason phrase",
        });
    }
    check_fields(&head.headers)?;
    out.reserve(128);
    let version = if chunked {
        crate::head::Version::Http11
    } else {
        head.version
    };
    out.extend_from_slice(version.as_str().as_bytes());
    out.push(b' ');
    let code = head.status.as_u16();
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
    out.push(b' ');
    out.extend_from_slice(head.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(value) = connection {
        out.extend_from_slice(b"Connection: ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    write_fields_except(&head.headers, connection.map(|_| "connection"), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::{Method, StatusCode, Version};

    #[test]
    fn writes_request() {
        let mut h = RequestHead::new(Method::Get, "/a%20b", Version::Http10);
        h.headers.append("Host", "x");
        let mut out = Vec::new();
        write_request(&h, &mut out).unwrap();
        assert_eq!(out, b"GET /a%20b HTTP/1.0\r\nHost: x\r\n\r\n");
    }

    #[test]
    fn refuses_injection() {
        let mut h = ResponseHead::new(StatusCode::OK);
        h.headers.append("Location", "/a\r\nSet-Cookie: x");
        assert!(write_response(&h, &mut Vec::new()).is_err());
        let mut h = ResponseHead::new(StatusCode::OK);
        h.headers.append("Bad Name", "v");
        assert!(write_response(&h, &mut Vec::new()).is_err());
        let h = RequestHead::new(Method::Get, "/a b", Version::Http10);
        assert!(write_request(&h, &mut Vec::new()).is_err());
        let h = RequestHead::new(Method::Other("G T".into()), "/", Version::Http10);
        assert!(write_request(&h, &mut Vec::new()).is_err());
    }
}
