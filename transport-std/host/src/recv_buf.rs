//! The receive buffer a driver owns and feeds to pared-core.
//!
//! Invariant: `data()` is exactly the received bytes core has not consumed
//! yet, in order; free space is reclaimed by moving them to the front only
//! when the tail runs out, so each byte is moved at most once per fill.
//!
//! Memory: a server connection's buffer ([`RecvBuf::lazy`]) starts at
//! [`FIRST`] bytes, enough for almost every request head, and grows to its
//! limit only when a head does not fit; an idle connection gives it back
//! entirely ([`RecvBuf::release`]) and takes [`FIRST`] bytes again when
//! its client sends (from a small per-thread stock of such buffers).

use std::cell::RefCell;

/// The size a buffer starts at (and is taken back at after a release).
pub const FIRST: usize = 2048;

/// Buffers of [`FIRST`] bytes kept per thread for reuse.
const SPARE_MAX: usize = 64;

thread_local! {
    /// Buffers of [`FIRST`] bytes that idle connections on this thread gave
    /// back, taken by the next one that reads: a busy keep-alive
    /// connection releases and restores its buffer around every request,
    /// and this makes that neither an allocation nor a zeroing. A reused
    /// buffer's old bytes are never read: only what this connection
    /// received is (`data()`).
    static SPARE: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of [`FIRST`] bytes: a spare one of this thread's, or a new one.
fn take_first() -> Box<[u8]> {
    SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0; FIRST].into_boxed_slice())
}

/// Keeps `buf` for reuse on this thread if it is of [`FIRST`] bytes and
/// there is room; frees it otherwise.
fn give_back(buf: Box<[u8]>) {
    if buf.len() == FIRST {
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_MAX {
                s.push(buf);
            }
        });
    }
}

/// A byte buffer with a consumed front and a filled back, growing up to a
/// limit.
#[derive(Debug)]
pub struct RecvBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The most the buffer grows to.
    limit: usize,
}

impl RecvBuf {
    /// A buffer of `limit` bytes from the start, for a bulk reader (a
    /// client reading a body).
    pub fn new(limit: usize) -> RecvBuf {
        RecvBuf {
            buf: vec![0; limit].into_boxed_slice(),
            start: 0,
            end: 0,
            limit,
        }
    }

    /// A buffer that starts at [`FIRST`] bytes (or `limit`, the smaller)
    /// and grows to `limit` when full of unread bytes: a server
    /// connection's, where `limit` holds the largest head.
    pub fn lazy(limit: usize) -> RecvBuf {
        let mut buf = RecvBuf {
            buf: Box::default(),
            start: 0,
            end: 0,
            limit,
        };
        buf.restore();
        buf
    }

    /// Gives the memory back while nothing is pending, so an idle
    /// keep-alive connection holds no buffer (as nginx does); a buffer
    /// with unconsumed bytes is kept.
    pub fn release(&mut self) {
        if self.start == self.end && !self.buf.is_empty() {
            give_back(std::mem::take(&mut self.buf));
            self.start = 0;
            self.end = 0;
        }
    }

    /// True while the memory is given back.
    pub fn is_released(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the memory again after [`RecvBuf::release`].
    pub fn restore(&mut self) {
        if self.buf.is_empty() {
            self.buf = if self.limit >= FIRST {
                take_first()
            } else {
                vec![0; self.limit.max(1)].into_boxed_slice()
            };
        }
    }

    /// The bytes received and not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space to read into: unconsumed bytes move to the front when
    /// the tail runs out, and a buffer full of them grows to its limit
    /// (empty only when the limit is full of unconsumed bytes).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() && self.buf.len() < self.limit {
            let mut grown = vec![0; self.limit].into_boxed_slice();
            grown[..self.end].copy_from_slice(&self.buf[..self.end]);
            self.buf = grown;
        }
        &mut self.buf[self.end..]
    }

    /// The buffer's size now.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The most the buffer grows to.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Resizes the buffer to `capacity` bytes (at least what it holds), its
    /// new limit, for a phase that wants larger or smaller reads; keeps
    /// the unread bytes.
    pub fn resize(&mut self, capacity: usize) {
        self.limit = capacity;
        let data = self.data();
        let mut buf = vec![0; capacity.max(data.len())].into_boxed_slice();
        buf[..data.len()].copy_from_slice(data);
        self.end = data.len();
        self.start = 0;
        self.buf = buf;
    }

    /// Marks `n` bytes of [`RecvBuf::spare`] as received.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }
}

impl Drop for RecvBuf {
    /// A connection's 2 KiB buffer goes to this thread's stock for the
    /// next connection.
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_compaction() {
        let mut b = RecvBuf::new(8);
        b.spare()[..6].copy_from_slice(b"abcdef");
        b.filled(6);
        b.consume(4);
        assert_eq!(b.data(), b"ef");
        assert_eq!(b.spare().len(), 2);
        b.spare()[..2].copy_from_slice(b"gh");
        b.filled(2);
        assert_eq!(b.spare().len(), 4);
        b.spare()[..1].copy_from_slice(b"i");
        b.filled(1);
        assert_eq!(b.data(), b"efghi");
        b.resize(64);
        assert_eq!(b.spare().len(), 59);
        assert_eq!((b.data(), b.capacity()), (&b"efghi"[..], 64));
        b.consume(3);
        b.resize(2);
        assert_eq!((b.data(), b.capacity()), (&b"hi"[..], 2));
    }

    #[test]
    fn release_and_restore() {
        let mut b = RecvBuf::new(64);
        b.spare()[..3].copy_from_slice(b"abc");
        b.filled(3);
        b.release();
        assert!(!b.is_released(), "unread bytes keep the buffer");
        b.consume(3);
        b.release();
        assert!(b.is_released() && b.capacity() == 0);
        b.restore();
        assert_eq!(b.capacity(), 64);
        assert!(b.data().is_empty());
    }

    #[test]
    fn starts_small_and_grows_to_its_limit_when_full() {
        let mut b = RecvBuf::lazy(3 * FIRST);
        assert_eq!(b.capacity(), FIRST);
        let chunk = vec![7u8; FIRST];
        b.spare().copy_from_slice(&chunk);
        b.filled(FIRST);
        // Full of unread bytes: the next read may use the whole limit.
        assert_eq!(b.spare().len(), 2 * FIRST);
        assert_eq!((b.capacity(), b.data()), (3 * FIRST, &chunk[..]));
        b.filled(2 * FIRST);
        assert!(b.spare().is_empty(), "never past the limit");
        b.consume(3 * FIRST);
        b.release();
        b.restore();
        assert_eq!((b.capacity(), b.limit()), (FIRST, 3 * FIRST));
    }
}
