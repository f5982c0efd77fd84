//! Counters for operators, in Prometheus' text format, on a listener of
//! their own (`--metrics ADDR`, off by default): requests by method and
//! status, bytes out and in, open connections, refusals by the
//! per-client limit, and request and upload durations as histograms.
//! `/health` answers `ok` while the process serves.
//!
//! Every runtime feeds the same counters from the same places (the access
//! log's hook, the connection slots), so the numbers mean the same on
//! both. Nothing is counted unless `--metrics` is on (one relaxed load per
//! request otherwise); counting is lock-free except for the (method,
//! status) table, which a request touches once, allocating only for a
//! pair it has not seen.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

#[derive(Debug)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum in microseconds (an integer, so it can be atomic).
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            counts: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bound, c) in BUCKETS.iter().zip(&self.counts) {
            if secs <= *bound {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, c) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// The process's counters.
#[derive(Debug)]
struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    open: AtomicI64,
    refused: AtomicU64,
    request_seconds: Histogram,
    upload_seconds: Histogram,
}

/// True once [`serve`] runs: only then are requests counted.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

static METRICS: Metrics = Metrics {
    requests: Mutex::new(BTreeMap::new()),
    bytes_out: AtomicU64::new(0),
    bytes_in: AtomicU64::new(0),
    open: AtomicI64::new(0),
    refused: AtomicU64::new(0),
    request_seconds: Histogram::new(),
    upload_seconds: Histogram::new(),
};

/// True when `--metrics` is on: only then are requests counted.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Counts one answered request: its method (a token of core's table, or
/// `OTHER`, so a client cannot grow the table), status, body bytes sent,
/// upload bytes received, and duration.
pub fn request(method: &str, status: u16, sent: u64, received: u64, took: Duration) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let known = pared_core::methods::Methods::standard()
        .effect(&pared_core::Method::from_token(method))
        .is_some();
    let method = if known { method } else { "OTHER" };
    if let Ok(mut r) = METRICS.requests.lock() {
        let key = (method.to_owned(), status);
        match r.get_mut(&key) {
            Some(n) => *n += 1,
            None => {
                r.insert(key, 1);
            }
        }
    }
    METRICS.bytes_out.fetch_add(sent, Ordering::Relaxed);
    METRICS.bytes_in.fetch_add(received, Ordering::Relaxed);
    METRICS.request_seconds.observe(took);
    if method == "PUT" {
        METRICS.upload_seconds.observe(took);
    }
}

/// A connection was admitted (`+1`) or ended (`-1`) (always counted: the
/// gauge must be right from the start).
pub fn connection(delta: i64) {
    METRICS.open.fetch_add(delta, Ordering::Relaxed);
}

/// A connection was refused by the per-client limit.
pub fn refused() {
    METRICS.refused.fetch_add(1, Ordering::Relaxed);
}

/// The counters in Prometheus' text format (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP pared_http_requests_total Requests answered, by method and status.\n\
         # TYPE pared_http_requests_total counter\n",
    );
    if let Ok(r) = METRICS.requests.lock() {
        for ((m, s), n) in r.iter() {
            let _ = writeln!(
                out,
                "pared_http_requests_total{{method=\"{m}\",code=\"{s}\"}} {n}"
            );
        }
    }
    let counters = [
        (
            "pared_http_response_bytes_total",
            "Response body bytes sent.",
            METRICS.bytes_out.load(Ordering::Relaxed),
        ),
        (
            "pared_http_request_bytes_total",
            "Upload bytes received in requests that were answered.",
            METRICS.bytes_in.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP pared_open_connections Connections open now.\n# TYPE pared_open_connections gauge\n\
         pared_open_connections {}",
        METRICS.open.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP pared_connections_refused_total Connections refused, by the limit that refused them.\n\
         # TYPE pared_connections_refused_total counter\n\
         pared_connections_refused_total{{limit=\"per_client\"}} {}",
        METRICS.refused.load(Ordering::Relaxed)
    );
    METRICS.request_seconds.render(
        "pared_http_request_duration_seconds",
        "Time from a request's start to its answer's end.",
        &mut out,
    );
    METRICS.upload_seconds.render(
        "pared_upload_duration_seconds",
        "Time of PUT requests, body included.",
        &mut out,
    );
    out
}

/// Serves `/metrics` and `/health` on `addr` from a thread of its own,
/// one short connection at a time (a scraper, not the public); returns
/// the address bound.
pub fn serve(addr: SocketAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    ENABLED.store(true, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("pared-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = answer(stream);
            }
        })?;
    Ok(bound)
}

fn answer(mut s: std::net::TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, ctype, body) = match (method, target.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(),
        ),
        ("GET", "/health") => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
        ("GET", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "404 Not Found\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "405 Method Not Allowed\n".to_owned(),
        ),
    };
    let reply = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(reply.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render() {
        ENABLED.store(true, Ordering::Relaxed);
        request("GET", 200, 10, 0, Duration::from_millis(3));
        request("PUT", 201, 0, 5, Duration::from_millis(30));
        request("BREW", 501, 0, 0, Duration::from_millis(1));
        let text = render();
        assert!(
            text.contains("pared_http_requests_total{method=\"GET\",code=\"200\"}"),
            "{text}"
        );
        assert!(
            text.contains("pared_http_requests_total{method=\"OTHER\",code=\"501\"}"),
            "{text}"
        );
        assert!(!text.contains("BREW"));
        assert!(text.contains("pared_upload_duration_seconds_bucket{le=\"0.05\"}"));
        assert!(text.contains("# TYPE pared_http_request_duration_seconds histogram"));
    }
}
