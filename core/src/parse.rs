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

use crate::error::ProtocolError;
use crate::head::{Headers, Method, RequestHead, ResponseHead, StatusCode, Version};

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

/// tchar from RFC 9110 §5.6.2.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_tchar(i as u8);
        i += 1;
    }
    t
};

/// True when every byte of `s` may appear in a field value or reason
/// phrase (HTAB, SP, VCHAR, obs-text); eight bytes at a time, byte by
/// byte only in a word that holds a control or DEL.
pub(crate) fn all_field_bytes(s: &[u8]) -> bool {
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        if less_mask(x, 0x20) | less_mask(x ^ (LO * 0x7f), 1) != 0
            && !w.iter().all(|&c| is_field_byte(c))
        {
            return false;
        }
    }
    words.remainder().iter().all(|&c| is_field_byte(c))
}

/// True for a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TCHAR[b as usize])
}

/// Bytes allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as a word, if there are eight.
fn word(s: &[u8]) -> Option<u64> {
    s.get(..8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
}

/// The high bit of each byte of `x` below `n` (n ≤ 128) is set; a byte
/// above the lowest flagged one may be flagged falsely, the lowest never.
fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// The first LF in `s`, in one pass that also notes in `bad` the first
/// byte that may not appear in a line (CR included: the caller excuses
/// the one that ends the line). Eight bytes at a time: a word's special
/// bytes (below 0x20, or DEL) are found by bit tricks, and the scan jumps
/// straight to the first of them.
fn scan_line(s: &[u8], bad: &mut Option<usize>) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w);
        let special = less_mask(x, 0x20) | less_mask(x ^ (LO * 0x7f), 1);
        if special == 0 {
            i += 8;
            continue;
        }
        // The lowest flagged byte is exact (borrows only run upward).
        let at = i + (special.trailing_zeros() / 8) as usize;
        match s[at] {
            b'\n' => return Some(at),
            b'\r' if s.get(at + 1) == Some(&b'\n') => {
                if bad.is_none() {
                    *bad = Some(at);
                }
                return Some(at + 1);
            }
            b'\t' => {}
            _ => {
                if bad.is_none() {
                    *bad = Some(at);
                }
            }
        }
        i = at + 1;
    }
    while i < s.len() {
        let b = s[i];
        if b == b'\n' {
            return Some(i);
        }
        if !is_field_byte(b) && bad.is_none() {
            *bad = Some(i);
        }
        i += 1;
    }
    None
}

/// The error for a line's forbidden byte.
fn control_error(b: u8) -> ProtocolError {
    match b {
        b'\r' => ProtocolError::BareCr,
        _ => ProtocolError::ControlCharacter,
    }
}

fn parse_version(v: &[u8]) -> Result<Version, ProtocolError> {
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
fn parse_request_line(
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

fn parse_status_line(line: &[u8], bad: Option<(usize, u8)>) -> Result<Start, ProtocolError> {
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
fn name_end(line: &[u8]) -> usize {
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
fn parse_field(line: &[u8], bad: Option<(usize, u8)>) -> Result<[usize; 4], ProtocolError> {
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

#[cfg(test)]
mod tests {
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
        let big =
            b"GET / HTTP/1.0\r\nA: 1234567890123456789012\r\nB: 1234567890123456789012\r\n\r\n";
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
        let Ok(Parsed::Complete { head, consumed }) =
            p.parse(b"HTTP/1.1 404\r\nServer: x\r\n\r\nbody")
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
}
