//! The receive buffer a driver owns and feeds to pared-core.
//!
//! Invariant: `data()` is exactly the received bytes core has not consumed
//! yet, in order; free space is reclaimed by moving them to the front only
//! when the tail runs out, so each byte is moved at most once per fill.

/// A fixed-capacity byte buffer with a consumed front and a filled back.
#[derive(Debug)]
pub struct RecvBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The capacity to take back after [`RecvBuf::release`].
    want: usize,
}

impl RecvBuf {
    /// A buffer of `capacity` bytes; it must hold a whole head.
    pub fn new(capacity: usize) -> RecvBuf {
        RecvBuf {
            buf: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            want: capacity,
        }
    }

    /// Gives the memory back while nothing is pending, so an idle
    /// keep-alive connection holds no buffer (as nginx does); a buffer
    /// with unconsumed bytes is kept.
    pub fn release(&mut self) {
        if self.start == self.end && !self.buf.is_empty() {
            self.want = self.buf.len();
            self.buf = Box::default();
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
            self.buf = vec![0; self.want.max(1)].into_boxed_slice();
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

    /// Free space to read into (empty only when the buffer is full of
    /// unconsumed bytes).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Resizes the buffer to `capacity` bytes (at least what it holds), for
    /// a phase that wants larger or smaller reads; keeps the unread bytes.
    pub fn resize(&mut self, capacity: usize) {
        self.want = capacity;
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
}
