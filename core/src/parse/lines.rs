//! Start lines (request and status) and header fields, each validated
//! as soon as its line end arrives.

use super::bytes::*;
use super::Start;
use crate::error::ProtocolError;
use crate::head::{Method, StatusCode, Version};

pub(super) fn parse_version(v: &[u8]) -> Result<Version, ProtocolError> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            match (major - b'0', minor - b'0') {
                (1, 0) => Ok(Version::Http10),
                (1, _) => Ok(Version::Http11),
                (major, minor) => Err(ProtocolError::UnsupportedVersion { major, minor }),
            }
        }
        _ => Err(ProtocolError::BadVersion),
    }
}

/// The request line `line`, which starts at `at` in the caller's buffer.
pub(super) fn parse_request_line(
    line: &[u8],
    at: usize,
    bad: Option<(usize, u8)>,
) -> Result<Start, ProtocolError> {
    if let Some((_, b)) = bad {
        return Err(control_error(b));
    }
    // method SP target SP version: exactly two spaces.
    let sp1 = line.iter().position(|&b| b == b' ');
    let sp2 = sp1.and_then(|a| {
        line[a + 1..]
            .iter()
            .position(|&b| b == b' ')
            .map(|b| a + 1 + b)
    });
    let (Some(sp1), Some(sp2)) = (sp1, sp2) else {
        return Err(ProtocolError::BadRequestLine);
    };
    let (method, target, version) = (&line[..sp1], &line[sp1 + 1..sp2], &line[sp2 + 1..]);
    // A version is eight bytes; only a longer tail may hide a third space.
    if version.len() != 8 && version.contains(&b' ') {
        return Err(ProtocolError::BadRequestLine);
    }
    if !is_token(method) {
        return Err(ProtocolError::BadMethod);
    }
    let version = parse_version(version)?;
    if target.is_empty() || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err(ProtocolError::BadTarget);
    }
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        // A token is ASCII.
        other => {
            Method::from_token(std::str::from_utf8(other).map_err(|_| ProtocolError::BadMethod)?)
        }
    };
    let span = |x: usize| {
        u32::try_from(x).map_err(|_| ProtocolError::HeadTooLarge {
            limit: u32::MAX as usize,
        })
    };
    Ok(Start::Request(
        method,
        [span(at + sp1 + 1)?, span(at + sp2)?],
        version,
    ))
}

pub(super) fn parse_status_line(
    line: &[u8],
    bad: Option<(usize, u8)>,
) -> Result<Start, ProtocolError> {
    if let Some((_, b)) = bad {
        return Err(control_error(b));
    }
    let (version, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => return Err(ProtocolError::BadStatusLine),
    };
    let version = parse_version(version)?;
    let (code, reason) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let status = match code {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => StatusCode::new(
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
        )
        .ok_or(ProtocolError::BadStatusLine)?,
        _ => return Err(ProtocolError::BadStatusLine),
    };
    Ok(Start::Response(
        version,
        status,
        std::borrow::Cow::Owned(String::from_utf8_lossy(reason).into_owned()),
    ))
}

/// Where the field name of `line` ends: at its first byte that is not a
/// tchar. The usual case (a colon after an all-tchar name) is found a
/// word at a time and checked without a branch per byte.
pub(super) fn name_end(line: &[u8]) -> usize {
    let mut i = 0;
    while let Some(x) = word(&line[i..]) {
        let colon = less_mask(x ^ (LO * u64::from(b':')), 1);
        if colon != 0 {
            let at = i + (colon.trailing_zeros() / 8) as usize;
            if line[..at]
                .iter()
                .fold(true, |ok, &b| ok & TCHAR[b as usize])
            {
                return at;
            }
            break;
        }
        i += 8;
    }
    line.iter()
        .position(|&b| !TCHAR[b as usize])
        .unwrap_or(line.len())
}

/// Checks a field line, whose first forbidden byte is `bad`; returns the
/// spans of name and trimmed value within the line.
pub(super) fn parse_field(
    line: &[u8],
    bad: Option<(usize, u8)>,
) -> Result<[usize; 4], ProtocolError> {
    if matches!(line[0], b' ' | b'\t') {
        return Err(ProtocolError::ObsFold);
    }
    let i = name_end(line);
    if i == line.len() {
        return Err(ProtocolError::MissingColon);
    }
    match line[i] {
        b':' if i > 0 => {}
        b' ' | b'\t' if i > 0 => return Err(ProtocolError::WhitespaceBeforeColon),
        b'\r' => return Err(ProtocolError::BareCr),
        b if b < 0x20 || b == 0x7f => return Err(ProtocolError::ControlCharacter),
        _ => return Err(ProtocolError::BadHeaderName),
    }
    // The name is all tchar, so a forbidden byte lies in the value.
    if let Some((_, b)) = bad {
        return Err(control_error(b));
    }
    let mut vs = i + 1;
    let mut ve = line.len();
    while vs < ve && matches!(line[vs], b' ' | b'\t') {
        vs += 1;
    }
    while ve > vs && matches!(line[ve - 1], b' ' | b'\t') {
        ve -= 1;
    }
    Ok([0, i, vs, ve])
}
