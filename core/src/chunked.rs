//! The chunked transfer coding as a writer (RFC 9112 §7.1), beside the
//! reader in [`crate::body`]: a body whose length is not known up front
//! goes out as chunks, each `SIZE-IN-HEX CRLF data CRLF`, ended by a zero
//! chunk and an empty trailer section.
//!
//! Invariants: an empty piece is never written as a chunk (a zero-size
//! chunk ends the body); what these write reads back, through
//! [`crate::body::BodyReader`], as exactly the bytes given, however the
//! pieces were cut.

/// The end of a chunked body: the last chunk and an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends `data` to `out` as one chunk (nothing for an empty `data`).
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    write_chunk_size(data.len(), out);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes (`len` > 0); the caller
/// then sends the `len` bytes and `\r\n`.
pub fn write_chunk_size(len: usize, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{BodyEvent, BodyReader};
    use crate::Framing;

    fn decode(wire: &[u8]) -> Vec<u8> {
        let mut r = BodyReader::new(Framing::Chunked);
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            match r.read(&wire[at..]).expect("valid chunked body") {
                (n, BodyEvent::Data(d)) => {
                    body.extend_from_slice(d);
                    at += n;
                }
                (n, BodyEvent::End) => {
                    assert_eq!(at + n, wire.len(), "nothing after the end");
                    return body;
                }
                (_, BodyEvent::NeedData) => panic!("incomplete"),
            }
        }
    }

    #[test]
    fn round_trips_through_the_reader() {
        for pieces in [
            vec![&b"hello"[..], b" ", b"world"],
            vec![&b""[..], b"x", b""],
            vec![&[7u8; 300][..], &[9u8; 4096][..]],
            vec![],
        ] {
            let mut wire = Vec::new();
            for p in &pieces {
                write_chunk(p, &mut wire);
            }
            wire.extend_from_slice(LAST_CHUNK);
            assert_eq!(decode(&wire), pieces.concat());
        }
        let mut line = Vec::new();
        write_chunk_size(0x1f4, &mut line);
        assert_eq!(line, b"1f4\r\n");
    }
}
