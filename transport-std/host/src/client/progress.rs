//! The progress line of long transfers, on stderr when it is a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// A progress line on stderr for transfers over 1 MiB, only when stderr
/// is a terminal; at most five updates a second.
#[derive(Debug)]
pub struct Progress {
    on: bool,
    total: Option<u64>,
    done: u64,
    start: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// A progress line for a body of `total` bytes, if known.
    pub fn new(total: Option<u64>) -> Progress {
        Progress {
            on: io::stderr().is_terminal(),
            total,
            done: 0,
            start: Instant::now(),
            last: None,
        }
    }

    /// A progress line for part of a transfer: `done` of `total` bytes
    /// went before this part.
    pub fn starting_at(done: u64, total: u64) -> Progress {
        let mut p = Progress::new(Some(total));
        p.done = done;
        p
    }

    /// Counts `n` more bytes.
    pub fn add(&mut self, n: usize) {
        self.done += n as u64;
        if !self.on || self.done < (1 << 20) || self.total.is_some_and(|t| t < (1 << 20)) {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now - l < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(now);
        let line = progress_line(self.done, self.total, (now - self.start).as_secs_f64());
        let _ = write!(io::stderr(), "\r{line}\x1b[K");
    }

    /// Ends the line, if one was drawn.
    pub fn finish(&mut self) {
        if self.last.is_some() {
            self.last = None;
            let line = progress_line(self.done, self.total, self.start.elapsed().as_secs_f64());
            let _ = writeln!(io::stderr(), "\r{line}\x1b[K");
        }
    }
}

/// A progress line: bytes so far, total if known, rate and ETA.
pub fn progress_line(done: u64, total: Option<u64>, elapsed_secs: f64) -> String {
    fn human(n: f64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = n;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < units.len() {
            v /= 1024.0;
            u += 1;
        }
        format!("{v:.1} {}", units[u])
    }
    let rate = if elapsed_secs > 0.0 {
        done as f64 / elapsed_secs
    } else {
        0.0
    };
    match total {
        Some(t) if t > 0 => {
            let pct = (done as f64 / t as f64 * 100.0).min(100.0);
            let width = 24;
            let filled = ((pct / 100.0) * width as f64) as usize;
            let eta = if rate > 0.0 {
                format!("{:.0}s", (t.saturating_sub(done)) as f64 / rate)
            } else {
                "--".into()
            };
            format!(
                "[{}{}] {pct:5.1}% {} / {} {}/s ETA {eta}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                human(done as f64),
                human(t as f64),
                human(rate)
            )
        }
        _ => format!("{} {}/s", human(done as f64), human(rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::progress_line;

    #[test]
    fn lines() {
        assert!(progress_line(512, Some(1024), 1.0).contains("50.0%"));
        assert!(progress_line(3 << 20, None, 2.0).starts_with("3.0 MiB 1.5 MiB/s"));
        assert!(progress_line(10, Some(100), 0.0).ends_with("ETA --"));
    }
}
