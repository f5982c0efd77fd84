//! Reading a small request body (a WebDAV XML document, bounded by the
//! method table's limit through `Connection::limit_body`) into memory,
//! the same on every runtime: the driver only fills the buffer when this
//! says the bytes so far are not the whole body.

use std::time::Instant;

use pared_core::server::{Connection, Event};
use pared_core::ProtocolError;

use crate::recv_buf::RecvBuf;

/// Moves what `buf` holds of the body into `body`; `Ok(true)` once the
/// body is complete, `Ok(false)` when more bytes must be read first.
pub fn take_document(
    conn: &mut Connection,
    buf: &mut RecvBuf,
    body: &mut Vec<u8>,
) -> Result<bool, ProtocolError> {
    loop {
        let (used, event) = conn.handle_input(buf.data(), Instant::now())?;
        let done = match event {
            Event::Body(data) => {
                body.extend_from_slice(data);
                None
            }
            Event::NeedData => Some(false),
            _ => Some(true),
        };
        buf.consume(used);
        if let Some(done) = done {
            return Ok(done);
        }
    }
}
