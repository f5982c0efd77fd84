//! What may reach a terminal: server text escaped, binary bodies held back.

/// `s` with every character a terminal could act on (C0 and C1 controls,
/// DEL, bidirectional overrides and isolates) shown as an escape: for
/// server-supplied text the client prints itself. Tab is kept.
pub fn escape_for_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\t' || !crate::listing::is_deceptive(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

/// True when body bytes must not reach a terminal: any control byte other
/// than tab, CR and LF (NUL, ESC and the rest of C0, DEL), or a C1 control
/// in UTF-8 (U+0080–U+009F, which some terminals obey like ESC sequences).
/// Checked on every chunk, not only the first.
pub fn looks_binary(data: &[u8]) -> bool {
    data.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
            || b == 0x7f
            || (b == 0xc2 && data.get(i + 1).is_some_and(|n| (0x80..0xa0).contains(n)))
    })
}
