//! SIGINT/SIGTERM as a flag the accept loops and idle connections poll.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often loops look at the flag; also bounds how long a shutdown waits
/// for a blocked accept or an idle keep-alive connection.
pub const POLL: Duration = Duration::from_millis(100);

/// Set once a shutdown was requested.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag that SIGINT and SIGTERM set.
    pub fn on_signals() -> io::Result<Shutdown> {
        let s = Shutdown::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, s.0.clone())?;
        }
        Ok(s)
    }

    /// Requests a shutdown (as a signal would).
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once a shutdown was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
