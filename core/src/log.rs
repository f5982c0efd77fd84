//! The access-log line: Common Log Format plus the request's duration
//! (the default), or one JSON object per line (`--log-format json`).
//!
//! Invariant: everything that came from the client is escaped (control
//! characters, quotes, backslashes, non-ASCII as `\xNN`), so one request is
//! always exactly one line and cannot forge another.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one finished request looked like, for its log line.
#[derive(Debug, Clone)]
pub struct AccessRecord<'a> {
    /// The client's address.
    pub remote: &'a str,
    /// The authenticated user, if any (never a password).
    pub user: Option<&'a str>,
    /// The request line's method, target and version (`None` when the
    /// request was not parsed at all).
    pub request: Option<(&'a str, &'a str, &'a str)>,
    /// The status sent, if any.
    pub status: Option<u16>,
    /// Body bytes sent.
    pub bytes: u64,
    /// When the request started.
    pub start: SystemTime,
    /// How long it took.
    pub duration: Duration,
}

/// Appends `s` with control bytes, `"`, `\` and non-ASCII escaped.
pub fn escape_log(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `10/Oct/2000:13:55:36 +0000` for a time (UTC).
pub fn clf_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// How access-log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Common Log Format plus the duration in seconds.
    #[default]
    Clf,
    /// One JSON object per line (for log shippers): `time` (RFC 3339,
    /// UTC, to the second), `remote`, `user`, `method`, `target`,
    /// `version` (each `null` when unknown), `status`, `bytes`, `seconds`.
    Json,
}

/// The log line of `r` in `format` (without newline).
pub fn format_line(format: LogFormat, r: &AccessRecord<'_>) -> String {
    match format {
        LogFormat::Clf => access_line(r),
        LogFormat::Json => json_line(r),
    }
}

/// The JSON log line (without newline); client text is escaped as JSON
/// strings, so a request is always one line.
pub fn json_line(r: &AccessRecord<'_>) -> String {
    use crate::listing::push_json_str;
    let mut out = String::with_capacity(160);
    out.push_str("{\"time\":");
    push_json_str(&crate::listing::iso8601(r.start), &mut out);
    out.push_str(",\"remote\":");
    push_json_str(r.remote, &mut out);
    let opt = |v: Option<&str>, out: &mut String| match v {
        Some(s) => push_json_str(s, out),
        None => out.push_str("null"),
    };
    out.push_str(",\"user\":");
    opt(r.user, &mut out);
    let (m, t, v) = match r.request {
        Some((m, t, v)) => (Some(m), Some(t), Some(v)),
        None => (None, None, None),
    };
    out.push_str(",\"method\":");
    opt(m, &mut out);
    out.push_str(",\"target\":");
    opt(t, &mut out);
    out.push_str(",\"version\":");
    opt(v, &mut out);
    out.push_str(",\"status\":");
    match r.status {
        Some(s) => {
            let _ = write!(out, "{s}");
        }
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"bytes\":{},\"seconds\":{:.6}}}",
        r.bytes,
        r.duration.as_secs_f64()
    );
    out
}

/// The log line (without newline):
/// `host - - [date] "METHOD target VERSION" status bytes seconds`.
pub fn access_line(r: &AccessRecord<'_>) -> String {
    let mut out = String::with_capacity(128);
    escape_log(r.remote, &mut out);
    out.push_str(" - ");
    match r.user {
        Some(u) => escape_log(u, &mut out),
        None => out.push('-'),
    }
    out.push_str(" [");
    out.push_str(&clf_date(r.start));
    out.push_str("] \"");
    match r.request {
        Some((m, t, v)) => {
            escape_log(m, &mut out);
            out.push(' ');
            escape_log(t, &mut out);
            out.push(' ');
            escape_log(v, &mut out);
        }
        None => out.push('-'),
    }
    out.push_str("\" ");
    match r.status {
        Some(s) => {
            let _ = write!(out, "{s}");
        }
        None => out.push('-'),
    }
    let _ = write!(out, " {} {:.6}", r.bytes, r.duration.as_secs_f64());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_dates() {
        assert_eq!(clf_date(UNIX_EPOCH), "01/Jan/1970:00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(clf_date(t), "10/Oct/2000:13:55:36 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(clf_date(leap), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn json_lines_read_back() {
        let r = AccessRecord {
            remote: "::1",
            user: Some("ann"),
            request: Some(("GET", "/a\n\"b\"", "HTTP/1.1")),
            status: None,
            bytes: 7,
            start: UNIX_EPOCH + Duration::from_secs(971_186_136),
            duration: Duration::from_millis(250),
        };
        let line = format_line(LogFormat::Json, &r);
        assert!(!line.contains('\n'));
        let v = crate::json::parse(&line).unwrap();
        assert_eq!(
            v.get("time").and_then(|t| t.as_str()),
            Some("2000-10-10T13:55:36Z")
        );
        assert_eq!(v.get("target").and_then(|t| t.as_str()), Some("/a\n\"b\""));
        assert_eq!(v.get("user").and_then(|t| t.as_str()), Some("ann"));
        assert_eq!(v.get("status"), Some(&crate::json::Json::Null));
        assert_eq!(v.get("bytes").and_then(|b| b.as_u128()), Some(7));
        let none = AccessRecord {
            request: None,
            user: None,
            ..r
        };
        let v = crate::json::parse(&json_line(&none)).unwrap();
        assert_eq!(v.get("method"), Some(&crate::json::Json::Null));
        assert_eq!(format_line(LogFormat::Clf, &none), access_line(&none));
    }

    #[test]
    fn one_line_per_request() {
        let line = access_line(&AccessRecord {
            remote: "127.0.0.1",
            user: None,
            request: Some(("GET", "/a\n127.0.0.1 - - \"x\"", "HTTP/1.0")),
            status: Some(200),
            bytes: 5,
            start: UNIX_EPOCH,
            duration: Duration::from_millis(1500),
        });
        assert_eq!(
            line,
            "127.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /a\\x0A127.0.0.1 - - \\\"x\\\" HTTP/1.0\" 200 5 1.500000"
        );
        assert!(!line.contains('\n'));
        let with_user = access_line(&AccessRecord {
            remote: "::1",
            user: Some("ann\"x"),
            request: None,
            status: Some(401),
            bytes: 0,
            start: UNIX_EPOCH,
            duration: Duration::ZERO,
        });
        assert!(with_user.starts_with("::1 - ann\\\"x ["), "{with_user}");
    }
}
