//! Incremental head parsers for requests and responses, and their limits.
//!
//! Invariants:
//! - The verdict is a function of the bytes alone, never of how they were
//!   split: a parser scans each byte once, validates each line as soon as its
//!   line end arrives, and checks a limit at the exact byte that exceeds it
//!   (so an oversized head is refused even when it arrives in one piece).
//! - The caller re-presents the unconsumed bytes each time, with more
//!   appended; the parser remembers how far it scanned, so parsing a head
//!   that arrives one byte at a time stays linear.
//! - Nothing is consumed until a head is complete; then exactly the head's
//!   bytes are, and anything after them (a body, a pipelined request) is left
//!   untouched.

mod bytes;
mod lines;
#[cfg(test)]
mod tests;

use crate::error::ProtocolError;
use crate::head::{Headers, Method, RequestHead, ResponseHead, StatusCode, Version};
use bytes::*;
pub(crate) use bytes::{all_field_bytes, is_token};
use lines::*;

/// Bounds on what a parser accepts; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole head, start line to the empty line, line ends included.
    /// Default 16 KiB; exceeding it answers 431.
    pub max_head_bytes: usize,
    /// One line, its line end included. Default 8 KiB; a request line over
    /// it answers 414, a header line 431.
    pub max_line_bytes: usize,
    /// The number of header fields. Default 100; more answers 431.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_bytes: 16 * 1024,
            max_line_bytes: 8 * 1024,
            max_headers: 100,
        }
    }
}

/// The result of feeding bytes to a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole head, and how many bytes of the input it took.
    Complete {
        /// The head.
        head: T,
        /// Bytes of the input that belonged to it.
        consumed: usize,
    },
    /// The head is not complete yet: call again with more bytes appended.
    Partial,
}

/// What the first line of a head turned into (the request target as a
/// span of the caller's buffer).
#[derive(Debug, Clone)]
enum Start {
    Request(Method, [u32; 2], Version),
    Response(Version, StatusCode, std::borrow::Cow<'static, str>),
}

/// Which kind of head a parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
}

/// The shared line scanner behind both parsers.
#[derive(Debug, Clone)]
struct Scanner {
    kind: Kind,
    limits: Limits,
    /// Where the scan for the next LF resumes.
    pos: usize,
    /// Where the current line starts.
    line_start: usize,
    start: Option<Start>,
    /// Field spans (name start, name end, value start, value end), as
    /// offsets into the caller's buffer.
    fields: Vec<[u32; 4]>,
    /// A head was completed and handed out as an index: the next call
    /// starts a new head.
    done: bool,
    /// The first byte of the current line, so far, that may not appear in
    /// a line (a control other than HTAB, DEL, or a CR, which is excused
    /// when it ends the line).
    bad: Option<usize>,
}

impl Scanner {
    fn new(kind: Kind, limits: Limits) -> Scanner {
        Scanner {
            kind,
            limits,
            pos: 0,
            line_start: 0,
            start: None,
            fields: Vec::new(),
            done: false,
            bad: None,
        }
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.line_start = 0;
        self.start = None;
        self.fields = Vec::new();
        self.done = false;
        self.bad = None;
    }

    /// Starts the next head, keeping the field list's capacity.
    fn next_head(&mut self) {
        self.pos = 0;
        self.line_start = 0;
        self.start = None;
        self.fields.clear();
        self.done = false;
        self.bad = None;
    }

    /// True while a head is partly scanned.
    fn in_progress(&self) -> bool {
        self.pos > 0 && !self.done
    }

    /// Runs the scan over `buf`; `Ok(Some(n))` when the head ends at `n`.
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        loop {
            let line_bound = self.line_start.saturating_add(self.limits.max_line_bytes);
            let bound = line_bound.min(self.limits.max_head_bytes);
            let end = buf.len().min(bound);
            let found = if self.pos < end {
                let mut bad = None;
                let found = scan_line(&buf[self.pos..end], &mut bad);
                self.bad = self.bad.or(bad.map(|b| b + self.pos));
                found
            } else {
                None
            };
            let Some(off) = found else {
                if buf.len() >= bound {
                    return Err(if line_bound <= self.limits.max_head_bytes {
                        self.line_too_long()
                    } else {
                        ProtocolError::HeadTooLarge {
                            limit: self.limits.max_head_bytes,
                        }
                    });
                }
                self.pos = buf.len();
                return Ok(None);
            };
            let lf = self.pos + off;
            let start = self.line_start;
            let end = if lf > start && buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            self.line_start = lf + 1;
            self.pos = lf + 1;
            // The CR that ends the line is not part of it.
            let bad = self
                .bad
                .take()
                .filter(|&b| b < end)
                .map(|b| (b - start, buf[b]));
            if self.on_line(buf, start, end, bad)? {
                return Ok(Some(lf + 1));
            }
        }
    }

    /// [`Scanner::scan`], forgetting the partial head when it fails; a
    /// completed head stays readable until the next call.
    fn scan_or_reset(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.done {
            self.next_head();
        }
        let r = self.scan(buf);
        match r {
            Err(_) => self.reset(),
            Ok(Some(_)) => self.done = true,
            Ok(None) => {}
        }
        r
    }

    fn line_too_long(&self) -> ProtocolError {
        let limit = self.limits.max_line_bytes;
        match (self.kind, &self.start) {
            (Kind::Request, None) => ProtocolError::RequestLineTooLong { limit },
            (Kind::Response, None) => ProtocolError::BadStatusLine,
            _ => ProtocolError::HeaderLineTooLong { limit },
        }
    }

    /// Handles the complete line `buf[start..end]` (line end stripped),
    /// whose first forbidden byte, if any, is `bad` (offset in the line,
    /// and the byte); true at the empty line.
    fn on_line(
        &mut self,
        buf: &[u8],
        start: usize,
        end: usize,
        bad: Option<(usize, u8)>,
    ) -> Result<bool, ProtocolError> {
        let line = &buf[start..end];
        if self.start.is_none() {
            if line.is_empty() {
                // RFC 9112 §2.2: ignore empty lines before the start line.
                return Ok(false);
            }
            self.start = Some(match self.kind {
                Kind::Request => parse_request_line(line, start, bad)?,
                Kind::Response => parse_status_line(line, bad)?,
            });
            return Ok(false);
        }
        if line.is_empty() {
            return Ok(true);
        }
        if self.fields.len() >= self.limits.max_headers {
            return Err(ProtocolError::TooManyHeaders {
                limit: self.limits.max_headers,
            });
        }
        let [ns, ne, vs, ve] = parse_field(line, bad)?;
        // The head is bounded by max_head_bytes, far below u32::MAX... unless
        // a caller sets a huge limit; refuse rather than truncate offsets.
        let Ok(base) = u32::try_from(start).and_then(|s| u32::try_from(end).map(|_| s)) else {
            return Err(ProtocolError::HeadTooLarge {
                limit: u32::MAX as usize,
            });
        };
        // Every offset is at most `end`, which fits.
        let off = |x: usize| base + x as u32;
        self.fields.push([off(ns), off(ne), off(vs), off(ve)]);
        Ok(false)
    }

    /// Takes the parsed start line and the fields, copying the head's bytes
    /// (`buf[..end]`) once into the header arena.
    fn take(&mut self, buf: &[u8], end: usize) -> (Option<Start>, Headers) {
        let start = self.start.take();
        let headers = owned_headers(buf, end, &self.fields);
        self.next_head();
        (start, headers)
    }
}

/// The fields of a head as an owned [`Headers`]: exact-size copies of the
/// head's bytes and of the spans.
fn owned_headers(buf: &[u8], end: usize, fields: &[[u32; 4]]) -> Headers {
    if fields.is_empty() {
        Headers::new()
    } else {
        Headers::from_parts(buf[..end].to_vec(), fields.to_vec())
    }
}

/// A parsed request head as positions in the caller's buffer: nothing is
/// copied or allocated (but for an unknown method's name). Read it with
/// the same buffer it was parsed from; [`RequestIndex::to_head`] makes
/// the owned [`RequestHead`].
#[derive(Debug, Clone, Copy)]
pub struct RequestIndex<'p> {
    method: &'p Method,
    target: [u32; 2],
    version: Version,
    fields: &'p [[u32; 4]],
    end: usize,
}

impl<'p> RequestIndex<'p> {
    /// The method.
    pub fn method(&self) -> &'p Method {
        self.method
    }

    /// The version the client speaks.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target, exactly as received.
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b str {
        let [s, e] = self.target;
        // Checked to be visible ASCII when it was parsed.
        std::str::from_utf8(&buf[s as usize..e as usize]).unwrap_or("")
    }

    /// The number of header fields.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The `i`th field's name and value.
    pub fn field<'b>(&self, buf: &'b [u8], i: usize) -> Option<(&'b str, &'b [u8])> {
        let [ns, ne, vs, ve] = *self.fields.get(i)?;
        // Names were checked to be tokens (ASCII) when parsed.
        let name = std::str::from_utf8(&buf[ns as usize..ne as usize]).unwrap_or("");
        Some((name, &buf[vs as usize..ve as usize]))
    }

    /// The owned head: the head's bytes copied once into the header arena.
    pub fn to_head(&self, buf: &[u8]) -> RequestHead {
        RequestHead {
            method: self.method.clone(),
            target: self.target(buf).to_owned(),
            version: self.version,
            headers: owned_headers(buf, self.end, self.fields),
        }
    }
}

/// An incremental parser for request heads.
///
/// ```
/// use pared_core::{Limits, Parsed, RequestParser, Method};
/// let mut p = RequestParser::new(Limits::default());
/// assert_eq!(p.parse(b"GET /a HTTP/1.0\r\n").unwrap(), Parsed::Partial);
/// let Parsed::Complete { head, consumed } = p.parse(b"GET /a HTTP/1.0\r\n\r\nrest").unwrap()
/// else { panic!() };
/// assert_eq!((head.method, consumed), (Method::Get, 19));
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser(Scanner);

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser(Scanner::new(Kind::Request, limits))
    }

    /// Parses the unconsumed bytes (the same prefix as last time, plus more).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed<RequestHead>, ProtocolError> {
        Ok(match self.parse_index(buf)? {
            Parsed::Partial => Parsed::Partial,
            Parsed::Complete { head, consumed } => Parsed::Complete {
                head: head.to_head(buf),
                consumed,
            },
        })
    }

    /// [`RequestParser::parse`] without copying: a complete head comes
    /// back as positions in `buf`, valid until the next call.
    pub fn parse_index(&mut self, buf: &[u8]) -> Result<Parsed<RequestIndex<'_>>, ProtocolError> {
        let Some(consumed) = self.0.scan_or_reset(buf)? else {
            return Ok(Parsed::Partial);
        };
        match &self.0.start {
            Some(Start::Request(method, target, version)) => Ok(Parsed::Complete {
                head: RequestIndex {
                    method,
                    target: *target,
                    version: *version,
                    fields: &self.0.fields,
                    end: consumed,
                },
                consumed,
            }),
            _ => Err(ProtocolError::BadRequestLine),
        }
    }

    /// True when some bytes of a head have been scanned.
    pub fn in_progress(&self) -> bool {
        self.0.in_progress()
    }

    /// Forgets a partial head, to parse a new one from the start.
    pub fn reset(&mut self) {
        self.0.reset();
    }
}

/// An incremental parser for response heads.
#[derive(Debug, Clone)]
pub struct ResponseParser(Scanner);

impl ResponseParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> ResponseParser {
        ResponseParser(Scanner::new(Kind::Response, limits))
    }

    /// Parses the unconsumed bytes (the same prefix as last time, plus more).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed<ResponseHead>, ProtocolError> {
        match self.0.scan_or_reset(buf)? {
            None => Ok(Parsed::Partial),
            Some(consumed) => match self.0.take(buf, consumed) {
                (Some(Start::Response(version, status, reason)), headers) => Ok(Parsed::Complete {
                    head: ResponseHead {
                        version,
                        status,
                        reason,
                        headers,
                    },
                    consumed,
                }),
                _ => Err(ProtocolError::BadStatusLine),
            },
        }
    }

    /// True when some bytes of a head have been scanned.
    pub fn in_progress(&self) -> bool {
        self.0.in_progress()
    }

    /// Forgets a partial head, to parse a new one from the start.
    pub fn reset(&mut self) {
        self.0.reset();
    }
}
