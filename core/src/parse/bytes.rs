//! Byte classes and the word-at-a-time line scan: the parser's inner loop.

use crate::error::ProtocolError;

/// tchar from RFC 9110 §5.6.2.
pub(super) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

pub(super) const TCHAR: [bool; 256] = {
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
pub(super) fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

pub(super) const LO: u64 = 0x0101_0101_0101_0101;
pub(super) const HI: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as a word, if there are eight.
pub(super) fn word(s: &[u8]) -> Option<u64> {
    s.get(..8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map(u64::from_le_bytes)
}

/// The high bit of each byte of `x` below `n` (n ≤ 128) is set; a byte
/// above the lowest flagged one may be flagged falsely, the lowest never.
pub(super) fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// The first LF in `s`, in one pass that also notes in `bad` the first
/// byte that may not appear in a line (CR included: the caller excuses
/// the one that ends the line). Eight bytes at a time: a word's special
/// bytes (below 0x20, or DEL) are found by bit tricks, and the scan jumps
/// straight to the first of them.
pub(super) fn scan_line(s: &[u8], bad: &mut Option<usize>) -> Option<usize> {
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
pub(super) fn control_error(b: u8) -> ProtocolError {
    match b {
        b'\r' => ProtocolError::BareCr,
        _ => ProtocolError::ControlCharacter,
    }
}
