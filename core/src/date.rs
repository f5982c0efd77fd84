//! HTTP dates as pared writes them: IMF-fixdate (RFC 9110 §5.6.7),
//! formatted into a stack buffer with no allocation per response.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::head::Headers;

/// Appends an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted into a stack buffer: no allocation per response.
pub(crate) fn append_date(headers: &mut Headers, name: &str, t: SystemTime) {
    headers.append(name, imf_fixdate(t));
}

/// IMF-fixdate (RFC 9110 §5.6.7) of `t`, clamped to the epoch.
pub fn imf_fixdate(t: SystemTime) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let secs = secs(t).unwrap_or(0);
    let days = secs / 86_400;
    let (year, month, day) = crate::log::civil(days as i64);
    let rem = secs % 86_400;
    let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[5..7].copy_from_slice(&two(u64::from(day)));
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let y = year.clamp(0, 9999) as u64;
    out[12..14].copy_from_slice(&two(y / 100));
    out[14..16].copy_from_slice(&two(y % 100));
    out[17..19].copy_from_slice(&two(rem / 3600));
    out[20..22].copy_from_slice(&two(rem / 60 % 60));
    out[23..25].copy_from_slice(&two(rem % 60));
    out
}

/// Whole seconds since the epoch (HTTP dates have no finer resolution).
fn secs(t: SystemTime) -> Option<u64> {
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
