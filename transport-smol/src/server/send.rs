//! Sending an answer on the async runtime: the head and an in-memory body
//! in one write; file bodies with `sendfile` on the blocking pool (a page
//! that is not cached must never stall the executor), or read and
//! encrypted in bounded pieces over TLS. Every wait is bounded by core's
//! deadline.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::AsyncWriteExt;
use pared_core::range::{Piece, Pieces};
use pared_core::ProtocolError;
use pared_host::conn_end::Stop;
use pared_host::fs::Cached;
use pared_host::listener::sizes::TLS_CHUNK;
use pared_host::steps::{self, Payload, Prepared};

use super::conn::{timed, Conn};
use crate::wire::tls_write_all;

/// The most one sendfile on the blocking pool is asked to move: as much
/// as the socket takes, so each trip to the pool moves a socket buffer
/// full (the blocking runtime's smaller pieces would cost a trip each).
const POOL_SENDFILE: usize = 1 << 30;

impl Conn<'_> {
    pub(super) async fn send(&mut self, prepared: Prepared) -> Result<u64, Stop> {
        prepared.write_head(&mut self.conn, &mut self.out)?;
        let mut sent = 0u64;
        match prepared.body {
            Payload::None => {
                self.write_timed(None).await?;
            }
            Payload::Static(bytes) => sent += self.write_timed(Some(bytes)).await?,
            Payload::Bytes(bytes) => sent += self.write_timed(Some(&bytes)).await?,
            Payload::File { file, pieces } if self.tls.is_some() => {
                sent += self.send_pieces_tls(file, &pieces).await?;
            }
            Payload::File { file, pieces } => {
                let file = Arc::new(file);
                // MSG_MORE: the head waits for the file's first bytes, so a
                // small file leaves in one segment with its head.
                let head = std::mem::take(&mut self.out);
                let r = self.send_more(&head).await;
                self.out = head;
                r?;
                for piece in pieces.iter() {
                    match piece {
                        Piece::Bytes(b) => {
                            self.send_more(b).await?;
                            self.conn.send_body(b.len(), Instant::now())?;
                            sent += b.len() as u64;
                        }
                        Piece::File { offset, len } => {
                            sent += self.sendfile(&file, offset, len).await?;
                        }
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Sends `len` bytes of `file` from `offset` with sendfile on the
    /// blocking pool, never on the executor: a page-cache miss inside
    /// sendfile would stall every connection of this thread. Each call
    /// sends what the socket buffer takes; in between, the task waits for
    /// the socket to drain, within core's deadline.
    async fn sendfile(
        &mut self,
        file: &Arc<std::fs::File>,
        offset: u64,
        len: u64,
    ) -> Result<u64, Stop> {
        let end = offset + len;
        let mut at = offset;
        while at < end {
            let want = pared_core::range::next_chunk(at, end, POOL_SENDFILE);
            let (raw, f) = (self.raw.clone(), file.clone());
            let (r, moved) = smol::unblock(move || {
                let mut pos = at;
                let r = rustix::fs::sendfile(raw.get_ref(), &*f, Some(&mut pos), want);
                (r, pos)
            })
            .await;
            match r {
                Ok(0) => return Err(Stop::FileShrank),
                Ok(n) => {
                    at = moved;
                    self.conn.send_body(n, Instant::now())?;
                    if n < want {
                        self.drained().await?;
                    }
                }
                Err(rustix::io::Errno::AGAIN) => self.drained().await?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::Io(e.into())),
            }
        }
        Ok(len)
    }

    /// Waits until the socket takes more bytes, within core's deadline.
    async fn drained(&mut self) -> Result<(), Stop> {
        let limit = self.send_limit()?;
        timed(limit, self.raw.writable()).await
    }

    /// Sends all of `bytes` with MSG_MORE, each wait within the body timeout.
    async fn send_more(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let mut written = 0;
        while written < bytes.len() {
            let rest = &bytes[written..];
            let limit = self.send_limit()?;
            let send = self.raw.write_with(|s| {
                rustix::net::send(s, rest, rustix::net::SendFlags::MORE).map_err(io::Error::from)
            });
            written += timed(limit, send).await?;
        }
        Ok(())
    }

    /// Writes the head (and a small body) within the body timeout.
    async fn write_timed(&mut self, body: Option<&[u8]>) -> Result<u64, Stop> {
        let n = body.map_or(0, <[u8]>::len);
        if let Some(b) = body {
            self.out.extend_from_slice(b);
        }
        let out = std::mem::take(&mut self.out);
        let limit = self.send_limit();
        let r = match limit {
            Ok(limit) => timed(limit, self.write_out(&out)).await,
            Err(e) => Err(e),
        };
        self.out = out;
        r?;
        if n > 0 {
            self.conn.send_body(n, Instant::now())?;
        }
        Ok(n as u64)
    }

    /// Writes all of `data` to the client (encrypted on an https port).
    pub(super) async fn write_out(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => tls_write_all(&mut &*self.raw, tls, data).await,
            None => (&*self.raw).write_all(data).await,
        }
    }

    /// Over TLS: the head, then the pieces, the file read on the blocking
    /// pool into a bounded buffer and encrypted (no sendfile); each write
    /// is bounded by core's deadline.
    async fn send_pieces_tls(&mut self, file: std::fs::File, pieces: &Pieces) -> Result<u64, Stop> {
        let head = std::mem::take(&mut self.out);
        let limit = self.send_limit()?;
        let r = timed(limit, self.write_out(&head)).await;
        self.out = head;
        r?;
        let file = Arc::new(file);
        let mut sent = 0u64;
        let mut chunk = vec![0u8; TLS_CHUNK];
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    let limit = self.send_limit()?;
                    timed(limit, self.write_out(b)).await?;
                    self.conn.send_body(b.len(), Instant::now())?;
                    sent += b.len() as u64;
                }
                Piece::File { offset, len } => {
                    let mut at = offset;
                    while at < offset + len {
                        let want = pared_core::range::next_chunk(at, offset + len, TLS_CHUNK);
                        // What the page cache holds is read here; a read
                        // that would wait on the disk runs on the pool.
                        let n = match steps::read_cached_at(&file, &mut chunk[..want], at) {
                            Cached::Done(read) => read?,
                            Cached::Miss => {
                                let f = file.clone();
                                let (buf, read) = smol::unblock(move || {
                                    use std::os::unix::fs::FileExt;
                                    let mut buf = chunk;
                                    let r = f.read_at(&mut buf[..want], at);
                                    (buf, r)
                                })
                                .await;
                                chunk = buf;
                                read?
                            }
                        };
                        if n == 0 {
                            return Err(Stop::FileShrank);
                        }
                        let limit = self.send_limit()?;
                        timed(limit, self.write_out(&chunk[..n])).await?;
                        self.conn.send_body(n, Instant::now())?;
                        at += n as u64;
                        sent += n as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// How long the next write may wait: until core's deadline (no
    /// progress, or slower than the minimum rate, for the body timeout).
    /// (An answer to a protocol error has no deadline of core's: it gets
    /// the plain body timeout.)
    fn send_limit(&mut self) -> Result<Option<Duration>, Stop> {
        let now = Instant::now();
        match self.conn.poll_timeout() {
            Some(at) if at <= now => Err(Stop::Protocol(
                self.conn
                    .handle_timeout(now)
                    .err()
                    .unwrap_or(ProtocolError::BodyStalled),
            )),
            Some(at) => Ok(Some(at - now)),
            None => Ok(self.shared.opts.connection.body_timeout),
        }
    }
}
