//! A counting gate for work whose memory grows with input size: at most
//! a few run at once, the rest wait their turn. Reading a big folder for
//! its page holds the whole folder while it is sorted; sixty readers
//! asking at once would otherwise hold sixty folders. The work is CPU and
//! disk bound, so running more at once than there are cores gains nothing.

use std::sync::{Condvar, Mutex};

/// At most `max` holders at once.
#[derive(Debug)]
pub struct Gate {
    held: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// A turn through the gate; dropping it lets the next one in.
#[derive(Debug)]
pub struct Turn<'g> {
    gate: &'g Gate,
}

impl Gate {
    /// A gate letting `max` (at least 1) through at once.
    pub const fn new(max: usize) -> Gate {
        Gate {
            held: Mutex::new(0),
            freed: Condvar::new(),
            max: if max == 0 { 1 } else { max },
        }
    }

    /// Waits for a turn (on a thread that may block).
    pub fn enter(&self) -> Turn<'_> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held >= self.max {
            held = self.freed.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        *held += 1;
        Turn { gate: self }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut held = self.gate.held.lock().unwrap_or_else(|p| p.into_inner());
        *held = held.saturating_sub(1);
        self.gate.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn at_most_max_inside() {
        static GATE: Gate = Gate::new(2);
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (inside, most) = (inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _turn = GATE.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
