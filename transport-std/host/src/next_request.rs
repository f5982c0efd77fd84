//! Between requests, for every driver: what the bytes received so far
//! give (a head, the end of the connection, or a need to read), with the
//! connection's idle mark kept and a shutdown or eviction honoured.

use std::time::Instant;

use pared_core::server::{Connection, Event};
use pared_core::{ProtocolError, RequestHead};

use crate::conn_slots::{Slot, SlotPhase};
use crate::recv_buf::RecvBuf;
use crate::shutdown::Shutdown;

/// What to do next while waiting for a request.
#[derive(Debug)]
pub enum Between {
    /// A request head arrived.
    Head(RequestHead),
    /// The connection ends (the client left, or a shutdown or eviction
    /// closes it between requests).
    Close,
    /// Read more; `idle` is true when nothing of a request is pending.
    Read {
        /// No byte of a next request has arrived.
        idle: bool,
    },
}

/// Feeds the unconsumed bytes of `buf` to `conn` and says what follows.
pub fn next(
    conn: &mut Connection,
    buf: &mut RecvBuf,
    slot: &Slot,
    stop: &Shutdown,
) -> Result<Between, ProtocolError> {
    let (used, event) = conn.handle_input(buf.data(), Instant::now())?;
    Ok(match event {
        Event::Head(head) => {
            buf.consume(used);
            slot.mark(SlotPhase::Serving);
            Between::Head(head)
        }
        Event::NeedData => {
            buf.consume(used);
            let idle = conn.is_idle();
            // Shutting down: close between requests, as if the client had
            // left. Told to make room (idle, or a head that has been
            // arriving the longest at the global limit): close, and the
            // head's bytes so far are dropped (no request had begun).
            if (idle && stop.requested()) || slot.evicted() {
                return Ok(Between::Close);
            }
            slot.mark(if idle {
                SlotPhase::Idle
            } else {
                SlotPhase::Head
            });
            Between::Read { idle }
        }
        // Body events are not reachable between requests; treat as the end.
        Event::Closed | Event::Body(_) | Event::End | Event::Paused => Between::Close,
    })
}
