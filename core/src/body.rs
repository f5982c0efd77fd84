//! Body framing: how long a body is (RFC 9112 §6.3), and an incremental
//! reader that finds its end without copying it.
//!
//! Invariants: a [`BodyReader`] never yields more bytes than the framing
//! allows, never consumes bytes past the end of the body, and reaches
//! [`BodyEvent::End`] at the same byte however the input is split.
//! Ambiguous framing (differing or malformed lengths, a length beside a
//! transfer coding on a request) is an error, never a guess.

use crate::error::ProtocolError;
use crate::head::{trim, Headers, Method, RequestHead, ResponseHead, StatusCode, Version};

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding (HTTP/1.1 only).
    Chunked,
    /// Everything until the peer closes (responses only).
    UntilClose,
}

impl Framing {
    /// The exact length, where the framing states one.
    pub fn known_length(self) -> Option<u64> {
        match self {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::UntilClose => None,
        }
    }
}

/// Parses all Content-Length fields: digits only, overflow-checked, and
/// every value (including comma-separated repeats) equal.
pub fn content_length(headers: &Headers) -> Result<Option<u64>, ProtocolError> {
    let mut found: Option<u64> = None;
    for value in headers.get_all("content-length") {
        for part in value.split(|&b| b == b',') {
            let n = parse_digits(trim(part)).ok_or(ProtocolError::BadContentLength)?;
            match found {
                Some(m) if m != n => return Err(ProtocolError::ConflictingContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// A non-empty run of ASCII digits as a u64; `None` on anything else or overflow.
pub(crate) fn parse_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// True when the last transfer coding listed is `chunked`.
pub(crate) fn ends_chunked(headers: &Headers) -> bool {
    let last = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|t| !t.is_empty())
        .last();
    last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
}

/// The framing of a request body as a server reads it: Content-Length,
/// or the chunked coding alone on an HTTP/1.1 request (its trailers are
/// read and ignored). Any other transfer coding is 501; a coding beside a
/// Content-Length, or on HTTP/1.0, is 400 (RFC 9112 §6.1, §6.3).
pub fn request_framing(head: &RequestHead) -> Result<Framing, ProtocolError> {
    if head.headers.contains("transfer-encoding") {
        if head.version == Version::Http10 {
            return Err(ProtocolError::TransferEncodingOnHttp10);
        }
        if head.headers.contains("content-length") {
            return Err(ProtocolError::LengthWithTransferEncoding);
        }
        return if only_chunked(&head.headers) {
            Ok(Framing::Chunked)
        } else {
            Err(ProtocolError::UnsupportedTransferEncoding)
        };
    }
    Ok(match content_length(&head.headers)? {
        None | Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
    })
}

/// True when `chunked` is the one transfer coding listed.
fn only_chunked(headers: &Headers) -> bool {
    let mut codings = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|t| !t.is_empty());
    matches!(
        (codings.next(), codings.next()),
        (Some(t), None) if t.eq_ignore_ascii_case(b"chunked")
    )
}

/// The framing of a response to a request with `method`.
///
/// HEAD answers, 1xx, 204 and 304 have no body; a transfer coding that ends
/// in chunked wins over Content-Length (RFC 9112 §6.3 rule 3); any other
/// transfer coding, or no length at all, reads until close.
pub fn response_framing(method: &Method, head: &ResponseHead) -> Result<Framing, ProtocolError> {
    let status = head.status;
    if *method == Method::Head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if head.headers.contains("transfer-encoding") {
        return Ok(if ends_chunked(&head.headers) {
            Framing::Chunked
        } else {
            Framing::UntilClose
        });
    }
    Ok(match content_length(&head.headers)? {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// What a [`BodyReader`] found in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEvent<'b> {
    /// Body bytes, borrowed from the input.
    Data(&'b [u8]),
    /// The body is complete.
    End,
    /// More input is needed.
    NeedData,
}

/// Where a chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of a size; `digits` counted to bound the size.
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension up to LF.
    Extension { size: u64, len: usize },
    /// Saw CR after the size line; LF must follow.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { left: u64 },
    /// After data: CR or LF expected.
    DataCr,
    /// After data and CR: LF expected.
    DataLf,
    /// In the trailer section; `len` bytes of the current line seen.
    Trailer { len: usize },
}

/// Longest chunk-size line extension or trailer line accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Finds the body's bytes in the input according to a [`Framing`].
#[derive(Debug, Clone)]
pub struct BodyReader {
    framing: Framing,
    /// Bytes left for `Length`; unused otherwise.
    left: u64,
    received: u64,
    chunk: Chunk,
    done: bool,
}

impl BodyReader {
    /// A reader for one body.
    pub fn new(framing: Framing) -> BodyReader {
        let left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        BodyReader {
            framing,
            left,
            received: 0,
            chunk: Chunk::Size { size: 0, digits: 0 },
            done: framing == Framing::Empty,
        }
    }

    /// The framing this reader follows.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Body bytes yielded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// True once the end of the body was found.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reads from `input`: returns bytes consumed and what they held.
    pub fn read<'b>(&mut self, input: &'b [u8]) -> Result<(usize, BodyEvent<'b>), ProtocolError> {
        if self.done {
            return Ok((0, BodyEvent::End));
        }
        match self.framing {
            Framing::Empty => Ok((0, BodyEvent::End)),
            Framing::Length(_) => {
                if self.left == 0 {
                    self.done = true;
                    return Ok((0, BodyEvent::End));
                }
                if input.is_empty() {
                    return Ok((0, BodyEvent::NeedData));
                }
                let n = usize::try_from(self.left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                self.left -= n as u64;
                self.received += n as u64;
                Ok((n, BodyEvent::Data(&input[..n])))
            }
            Framing::UntilClose => {
                if input.is_empty() {
                    return Ok((0, BodyEvent::NeedData));
                }
                self.received += input.len() as u64;
                Ok((input.len(), BodyEvent::Data(input)))
            }
            Framing::Chunked => self.read_chunked(input),
        }
    }

    /// Tells the reader the peer closed: `Ok(true)` when that ends the body
    /// cleanly (close-delimited or already complete), an error otherwise.
    pub fn eof(&mut self) -> Result<(), ProtocolError> {
        if self.done {
            return Ok(());
        }
        match self.framing {
            Framing::UntilClose | Framing::Empty => {
                self.done = true;
                Ok(())
            }
            Framing::Length(n) => Err(ProtocolError::IncompleteBody {
                expected: n,
                received: self.received,
            }),
            Framing::Chunked => Err(ProtocolError::IncompleteBody {
                expected: u64::MAX,
                received: self.received,
            }),
        }
    }

    fn read_chunked<'b>(
        &mut self,
        input: &'b [u8],
    ) -> Result<(usize, BodyEvent<'b>), ProtocolError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.chunk {
                Chunk::Size { size, digits } => {
                    let hex = (b as char).to_digit(16);
                    match (hex, b) {
                        (Some(d), _) => {
                            if digits >= 15 {
                                return Err(ProtocolError::BadChunk);
                            }
                            self.chunk = Chunk::Size {
                                size: size * 16 + u64::from(d),
                                digits: digits + 1,
                            };
                        }
                        (None, b';' | b' ' | b'\t') if digits > 0 => {
                            self.chunk = Chunk::Extension { size, len: 0 }
                        }
                        (None, b'\r') if digits > 0 => self.chunk = Chunk::SizeLf { size },
                        (None, b'\n') if digits > 0 => self.chunk = self.after_size(size),
                        _ => return Err(ProtocolError::BadChunk),
                    }
                    i += 1;
                }
                Chunk::Extension { size, len } => {
                    match b {
                        b'\n' => self.chunk = self.after_size(size),
                        b'\r' => self.chunk = Chunk::SizeLf { size },
                        _ if len >= MAX_CHUNK_LINE || (b < 0x20 && b != b'\t') || b == 0x7f => {
                            return Err(ProtocolError::BadChunk)
                        }
                        _ => self.chunk = Chunk::Extension { size, len: len + 1 },
                    }
                    i += 1;
                }
                Chunk::SizeLf { size } => {
                    if b != b'\n' {
                        return Err(ProtocolError::BadChunk);
                    }
                    self.chunk = self.after_size(size);
                    i += 1;
                }
                Chunk::Data { left } => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    let left = left - n as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { left }
                    };
                    self.received += n as u64;
                    return Ok((i + n, BodyEvent::Data(&input[i..i + n])));
                }
                Chunk::DataCr => {
                    self.chunk = match b {
                        b'\r' => Chunk::DataLf,
                        b'\n' => Chunk::Size { size: 0, digits: 0 },
                        _ => return Err(ProtocolError::BadChunk),
                    };
                    i += 1;
                }
                Chunk::DataLf => {
                    if b != b'\n' {
                        return Err(ProtocolError::BadChunk);
                    }
                    self.chunk = Chunk::Size { size: 0, digits: 0 };
                    i += 1;
                }
                Chunk::Trailer { len } => {
                    i += 1;
                    match b {
                        b'\n' if len == 0 => {
                            self.done = true;
                            return Ok((i, BodyEvent::End));
                        }
                        b'\n' => self.chunk = Chunk::Trailer { len: 0 },
                        // A CR that ends an empty line does not start a field.
                        b'\r' if len == 0 => {}
                        _ if len >= MAX_CHUNK_LINE => return Err(ProtocolError::BadChunk),
                        _ => self.chunk = Chunk::Trailer { len: len + 1 },
                    }
                }
            }
        }
        Ok((i, BodyEvent::NeedData))
    }

    fn after_size(&self, size: u64) -> Chunk {
        if size == 0 {
            Chunk::Trailer { len: 0 }
        } else {
            Chunk::Data { left: size }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(
        framing: Framing,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize), ProtocolError> {
        let mut r = BodyReader::new(framing);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut avail = step.min(input.len());
        loop {
            let (n, ev) = r.read(&input[pos..avail])?;
            pos += n;
            match ev {
                BodyEvent::Data(d) => out.extend_from_slice(d),
                BodyEvent::End => return Ok((out, pos)),
                BodyEvent::NeedData => {
                    if avail == input.len() {
                        r.eof()?;
                        return Ok((out, pos));
                    }
                    avail = (avail + step).min(input.len());
                }
            }
        }
    }

    #[test]
    fn chunked_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for step in 1..wire.len() {
            let (body, used) = drain(Framing::Chunked, wire, step).unwrap();
            assert_eq!(body, b"hello world");
            assert_eq!(&wire[used..], b"NEXT");
        }
    }

    #[test]
    fn chunked_lf_only_and_errors() {
        assert_eq!(
            drain(Framing::Chunked, b"3\nabc\n0\n\n", 4).unwrap().0,
            b"abc"
        );
        assert_eq!(
            drain(Framing::Chunked, b"x\r\n", 4),
            Err(ProtocolError::BadChunk)
        );
        assert_eq!(
            drain(Framing::Chunked, b"3\r\nabcX", 9),
            Err(ProtocolError::BadChunk)
        );
        assert_eq!(
            drain(Framing::Chunked, b"ffffffffffffffffff\r\n", 9),
            Err(ProtocolError::BadChunk)
        );
        assert!(matches!(
            drain(Framing::Chunked, b"3\r\nab", 9),
            Err(ProtocolError::IncompleteBody { received: 2, .. })
        ));
    }

    #[test]
    fn length_stops_at_the_end() {
        let (body, used) = drain(Framing::Length(3), b"abcdef", 2).unwrap();
        assert_eq!((body.as_slice(), used), (&b"abc"[..], 3));
        assert_eq!(
            drain(Framing::Length(5), b"abc", 2),
            Err(ProtocolError::IncompleteBody {
                expected: 5,
                received: 3
            })
        );
    }

    #[test]
    fn content_length_rules() {
        let mut h = Headers::new();
        h.append("Content-Length", "5");
        h.append("content-length", "5, 5");
        assert_eq!(content_length(&h), Ok(Some(5)));
        h.append("Content-Length", "6");
        assert_eq!(
            content_length(&h),
            Err(ProtocolError::ConflictingContentLength)
        );
        for bad in ["+5", "-1", "0x5", "", "5 5", "99999999999999999999"] {
            let mut h = Headers::new();
            h.append("Content-Length", bad);
            assert_eq!(
                content_length(&h),
                Err(ProtocolError::BadContentLength),
                "{bad}"
            );
        }
    }

    #[test]
    fn request_framing_rules() {
        let mut r = RequestHead::new(Method::Put, "/a", Version::Http11);
        r.headers.append("Transfer-Encoding", "chunked");
        assert_eq!(request_framing(&r), Ok(Framing::Chunked));
        r.headers.append("Content-Length", "3");
        assert_eq!(
            request_framing(&r),
            Err(ProtocolError::LengthWithTransferEncoding)
        );
        r.version = Version::Http10;
        assert_eq!(
            request_framing(&r),
            Err(ProtocolError::TransferEncodingOnHttp10)
        );
        let mut r = RequestHead::new(Method::Put, "/a", Version::Http11);
        r.headers.append("Transfer-Encoding", "gzip");
        assert_eq!(
            request_framing(&r),
            Err(ProtocolError::UnsupportedTransferEncoding)
        );
        for te in ["gzip, chunked", "chunked, chunked", "chunked;q=1"] {
            let mut r = RequestHead::new(Method::Put, "/a", Version::Http11);
            r.headers.append("Transfer-Encoding", te);
            assert_eq!(
                request_framing(&r),
                Err(ProtocolError::UnsupportedTransferEncoding),
                "{te}"
            );
        }
    }

    #[test]
    fn response_framing_rules() {
        let mut h = ResponseHead::new(StatusCode::OK);
        assert_eq!(response_framing(&Method::Get, &h), Ok(Framing::UntilClose));
        h.headers.append("Content-Length", "10");
        assert_eq!(response_framing(&Method::Get, &h), Ok(Framing::Length(10)));
        assert_eq!(response_framing(&Method::Head, &h), Ok(Framing::Empty));
        h.headers.append("Transfer-Encoding", "chunked");
        assert_eq!(response_framing(&Method::Get, &h), Ok(Framing::Chunked));
        let h = ResponseHead::new(StatusCode::NOT_MODIFIED);
        assert_eq!(response_framing(&Method::Get, &h), Ok(Framing::Empty));
    }
}
