//! The deadline logic both connection roles share: a sticky error, a next
//! deadline, and which error an expired deadline becomes.
//!
//! Invariant: once a connection has failed, every timeout query answers
//! with that failure; an expired deadline becomes the connection's failure.

use std::time::{Duration, Instant};

use crate::error::ProtocolError;

/// What a connection exposes for its deadlines.
pub(crate) trait Timed {
    /// The sticky error, if any.
    fn failure(&self) -> Option<ProtocolError>;
    /// The next deadline, if one runs.
    fn next_deadline(&self) -> Option<Instant>;
    /// The error an expired deadline means in the current state.
    fn expired(&self) -> ProtocolError;
    /// Records a sticky error.
    fn set_failure(&mut self, e: ProtocolError);
}

/// Checks the deadline at `now`; see `handle_timeout` on the connections.
pub(crate) fn check<T: Timed>(t: &mut T, now: Instant) -> Result<(), ProtocolError> {
    if let Some(e) = t.failure() {
        return Err(e);
    }
    match t.next_deadline() {
        Some(deadline) if deadline <= now => {
            let e = t.expired();
            t.set_failure(e);
            Err(e)
        }
        _ => Ok(()),
    }
}

/// The time left until the deadline; see `time_left` on the connections.
pub(crate) fn left<T: Timed>(t: &mut T, now: Instant) -> Result<Option<Duration>, ProtocolError> {
    if let Some(e) = t.failure() {
        return Err(e);
    }
    match t.next_deadline() {
        None => Ok(None),
        Some(deadline) if deadline > now => Ok(Some(deadline - now)),
        Some(_) => check(t, now).map(|()| Some(Duration::ZERO)),
    }
}
