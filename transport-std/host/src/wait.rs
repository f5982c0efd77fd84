//! Waiting on one socket with a timeout (`poll`), for the blocking
//! drivers: a read or write that would block waits here, bounded by the
//! deadline pared-core gives.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

/// Waits until `fd` is ready for `flags`, at most `wait` (`None`: as long
/// as it takes). `Ok(true)` when ready; `Ok(false)` when the time ran out
/// or a signal interrupted the wait (the caller re-checks its deadline).
pub fn wait_for(fd: impl AsFd, flags: PollFlags, wait: Option<Duration>) -> io::Result<bool> {
    let timeout = wait.map(|d| Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    let mut fds = [PollFd::new(&fd, flags)];
    match rustix::event::poll(&mut fds, timeout.as_ref()) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
