//! The progress line of long transfers, on stderr when it is a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use pared_core::fetch::{self};

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
        let line = fetch::progress_line(self.done, self.total, (now - self.start).as_secs_f64());
        let _ = write!(io::stderr(), "\r{line}\x1b[K");
    }

    /// Ends the line, if one was drawn.
    pub fn finish(&mut self) {
        if self.last.is_some() {
            self.last = None;
            let line =
                fetch::progress_line(self.done, self.total, self.start.elapsed().as_secs_f64());
            let _ = writeln!(io::stderr(), "\r{line}\x1b[K");
        }
    }
}
