//! Sending an answer on the blocking runtime: the head and an in-memory
//! body in one write, file bodies with `sendfile` on a non-blocking
//! socket (every wait bounded by core's deadline), or read and encrypted
//! in bounded pieces over TLS.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::Instant;

use pared_core::range::{Piece, Pieces};
use pared_core::ProtocolError;
use pared_host::conn_end::Stop;
use pared_host::listener::sizes::{SENDFILE_CHUNK, TLS_CHUNK};
use pared_host::steps::{Payload, Prepared, Produce, STREAM_PIECE};
use pared_host::wait::wait_for;
use rustix::event::PollFlags;

use super::conn::Conn;

impl Conn<'_> {
    /// Sends a prepared response; returns the body bytes sent.
    pub(super) fn send(&mut self, prepared: Prepared) -> Result<u64, Stop> {
        prepared.write_head(&mut self.conn, &mut self.out)?;
        let mut sent = 0u64;
        match prepared.body {
            Payload::None => self.wire.write_all(&self.out)?,
            Payload::Static(bytes) => sent += self.write_with_head(bytes)?,
            Payload::Bytes(bytes) => sent += self.write_with_head(&bytes)?,
            Payload::Stream(mut source) => sent += self.send_stream(&mut *source)?,
            Payload::File { file, pieces } if self.wire.is_tls() => {
                sent += self.send_pieces_tls(&file, &pieces)?;
            }
            Payload::File { file, pieces } => {
                // Non-blocking while the file goes out, so every wait for
                // the client is bounded by core's deadline (no progress, or
                // slower than the minimum rate, for the body timeout),
                // however much one sendfile would have moved.
                self.wire.socket().set_nonblocking(true)?;
                let r = self.send_pieces(&file, &pieces);
                let _ = self.wire.socket().set_nonblocking(false);
                sent += r?;
            }
        }
        Ok(sent)
    }

    /// A body generated while it is sent: each piece framed by core (a
    /// chunk, or as it is for HTTP/1.0) and written before the next is
    /// made; the head leaves with the first piece.
    fn send_stream(&mut self, source: &mut dyn Produce) -> Result<u64, Stop> {
        let mut piece = Vec::with_capacity(STREAM_PIECE + 4096);
        let mut sent = 0u64;
        loop {
            piece.clear();
            let more = source.produce(&mut piece)?;
            if !piece.is_empty() {
                self.conn
                    .send_chunk(&piece, &mut self.out, Instant::now())?;
                sent += piece.len() as u64;
            }
            if !more {
                self.conn.end_body(&mut self.out)?;
            }
            self.wire.write_all(&self.out)?;
            self.out.clear();
            if !more {
                return Ok(sent);
            }
        }
    }

    /// Over TLS: the head, then the pieces, the file read into a bounded
    /// buffer and encrypted (no sendfile); each write is bounded by the
    /// socket's body timeout.
    fn send_pieces_tls(&mut self, file: &std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        use std::os::unix::fs::FileExt;
        let head = std::mem::take(&mut self.out);
        let r = self.wire.write_all(&head);
        self.out = head;
        r?;
        let mut sent = 0u64;
        let mut chunk = vec![0u8; TLS_CHUNK];
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    self.wire.write_all(b)?;
                    self.count(b.len())?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, TLS_CHUNK);
                        let n = file.read_at(&mut chunk[..want], at)?;
                        if n == 0 {
                            return Err(Stop::FileShrank);
                        }
                        self.wire.write_all(&chunk[..n])?;
                        self.count(n)?;
                        at += n as u64;
                        sent += n as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends the head (already in `out`) with MSG_MORE, then the pieces of
    /// a file body; the socket is non-blocking. Returns the body bytes sent.
    fn send_pieces(&mut self, file: &std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        let head = std::mem::take(&mut self.out);
        let r = self.send_more(&head);
        self.out = head;
        r?;
        let mut sent = 0u64;
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    self.send_more(b)?;
                    self.count(b.len())?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, SENDFILE_CHUNK);
                        match rustix::fs::sendfile(
                            self.wire.socket().as_fd(),
                            file.as_fd(),
                            Some(&mut at),
                            want,
                        ) {
                            // The file shrank under us: the promised length cannot be kept.
                            Ok(0) => return Err(Stop::FileShrank),
                            Ok(n) => {
                                self.count(n)?;
                                sent += n as u64;
                            }
                            Err(rustix::io::Errno::AGAIN) => self.wait_writable()?,
                            Err(rustix::io::Errno::INTR) => {}
                            Err(e) => return Err(Stop::Io(e.into())),
                        }
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends all of `bytes` with MSG_MORE (more follows at once: the
    /// kernel holds a partial segment back for it), on the non-blocking
    /// socket.
    fn send_more(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            match rustix::net::send(self.wire.socket(), bytes, rustix::net::SendFlags::MORE) {
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::AGAIN) => self.wait_writable()?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::Io(e.into())),
            }
        }
        Ok(())
    }

    /// Waits until the socket takes more bytes, at most until core's
    /// deadline; past it, core's error (the body stalled).
    fn wait_writable(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        let left = match self.conn.poll_timeout() {
            Some(at) if at <= now => {
                let e = self.conn.handle_timeout(now).err();
                return Err(Stop::Protocol(e.unwrap_or(ProtocolError::BodyStalled)));
            }
            Some(at) => Some(at - now),
            None => self.shared.opts.connection.body_timeout,
        };
        match wait_for(self.wire.socket(), PollFlags::OUT, left) {
            Ok(_) => Ok(()),
            Err(e) => Err(Stop::Io(e)),
        }
    }

    /// Counts `n` body bytes sent.
    fn count(&mut self, n: usize) -> Result<(), Stop> {
        Ok(self.conn.send_body(n, Instant::now())?)
    }

    /// Sends the head and a small body in one write.
    fn write_with_head(&mut self, body: &[u8]) -> Result<u64, Stop> {
        self.out.extend_from_slice(body);
        self.wire.write_all(&self.out)?;
        self.conn.send_body(body.len(), Instant::now())?;
        Ok(body.len() as u64)
    }
}
