//! Sending an answer on the async runtime: the head and an in-memory body
//! in one write; file bodies with `sendfile` on the blocking pool (a page
//! that is not cached must never stall the executor), or read and
//! encrypted in bounded pieces over TLS; generated bodies piece by piece.
//!
//! Every write is paced by core's deadline, as on the blocking runtime:
//! each byte the socket takes counts as progress at once, and a wait for
//! the socket that reaches the deadline tries once more before giving up,
//! so a slow reader that keeps taking bytes is never cut (the kernel only
//! reports a socket writable when a third of its buffer is free, which a
//! slow reader may take longer than the body timeout to drain), and one
//! that stops is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use pared_core::range::{Piece, Pieces};
use pared_core::ProtocolError;
use pared_host::conn_end::Stop;
use pared_host::fs::Cached;
use pared_host::listener::sizes::TLS_CHUNK;
use pared_host::steps::{self, Payload, Prepared, Produce, STREAM_PIECE};
use rustix::net::SendFlags;
use smol::Timer;

use super::conn::Conn;

/// The most one sendfile on the blocking pool is asked to move: as much
/// as the socket takes, so each trip to the pool moves a socket buffer
/// full (the blocking runtime's smaller pieces would cost a trip each).
const POOL_SENDFILE: usize = 1 << 30;

/// The chunk a generated body is framed and written in.
const STREAM_CHUNK: usize = 4 * 1024;

/// Plaintext encrypted per TLS write: one record, so progress is counted
/// (and a stalled reader noticed) a record at a time.
const TLS_RECORD: usize = 16 * 1024;

impl Conn<'_> {
    pub(super) async fn send(&mut self, prepared: Prepared) -> Result<u64, Stop> {
        prepared.write_head(&mut self.conn, &mut self.out)?;
        let body: &[u8] = match &prepared.body {
            Payload::Static(bytes) => bytes,
            Payload::Bytes(bytes) => bytes,
            _ => &[],
        };
        match prepared.body {
            Payload::None | Payload::Static(_) | Payload::Bytes(_) => {
                let head_len = self.out.len();
                self.out.extend_from_slice(body);
                self.write_out(head_len, SendFlags::empty()).await?;
                Ok(body.len() as u64)
            }
            Payload::Stream(source) => self.send_stream(source).await,
            Payload::File { file, pieces } if self.tls.is_some() => {
                self.write_out(self.out.len(), SendFlags::empty()).await?;
                self.send_pieces_tls(file, &pieces).await
            }
            Payload::File { file, pieces } => {
                // MSG_MORE: the head waits for the file's first bytes, so a
                // small file leaves in one segment with its head.
                self.write_out(self.out.len(), SendFlags::MORE).await?;
                let mut sent = 0u64;
                for piece in pieces.iter() {
                    match piece {
                        Piece::Bytes(b) => {
                            self.write_paced(b, 0, SendFlags::MORE).await?;
                            sent += b.len() as u64;
                        }
                        Piece::File { offset, len } => {
                            sent += self.sendfile(&file, offset, len).await?;
                        }
                    }
                }
                Ok(sent)
            }
        }
    }

    /// Writes what `out` holds (its bytes from `body_at` on are body
    /// bytes), keeping the buffer for the next answer.
    pub(super) async fn write_out(&mut self, body_at: usize, flags: SendFlags) -> Result<(), Stop> {
        let out = std::mem::take(&mut self.out);
        let r = self.write_paced(&out, body_at, flags).await;
        self.out = out;
        r
    }

    /// A body generated while it is sent: each piece is made on the
    /// blocking pool (it reads the disk), framed by core (a chunk, or as
    /// it is for HTTP/1.0) and written before the next is made; the head
    /// leaves with the first piece.
    async fn send_stream(&mut self, mut source: Box<dyn Produce>) -> Result<u64, Stop> {
        let mut piece = Vec::with_capacity(STREAM_PIECE + 4096);
        let mut sent = 0u64;
        loop {
            let (s, p, made) = smol::unblock(move || {
                piece.clear();
                let r = source.produce(&mut piece);
                (source, piece, r)
            })
            .await;
            (source, piece) = (s, p);
            let more = made?;
            if self.conn.is_chunked() {
                // Core counts a chunk as it frames it, and the write then
                // waits within the deadline that started: small chunks
                // keep that wait short for a slow reader.
                for chunk in piece.chunks(STREAM_CHUNK) {
                    self.conn.send_chunk(chunk, &mut self.out, Instant::now())?;
                    sent += chunk.len() as u64;
                    self.write_out(self.out.len(), SendFlags::empty()).await?;
                    self.out.clear();
                }
            } else if !piece.is_empty() {
                // A body of known length (or closed by the end of the
                // connection): the bytes go as they are, counted as the
                // socket takes them.
                let body_at = self.out.len();
                self.out.extend_from_slice(&piece);
                sent += piece.len() as u64;
                self.write_out(body_at, SendFlags::empty()).await?;
                self.out.clear();
            }
            if !more {
                self.conn.end_body(&mut self.out)?;
                self.write_out(self.out.len(), SendFlags::empty()).await?;
                self.out.clear();
            }
            if !more {
                return Ok(sent);
            }
        }
    }

    /// Writes all of `data` to the client (encrypted on an https port);
    /// the bytes from `body_at` on are body bytes, counted with core as
    /// the socket takes them.
    async fn write_paced(
        &mut self,
        data: &[u8],
        body_at: usize,
        flags: SendFlags,
    ) -> Result<(), Stop> {
        let mut done = 0;
        let mut cipher = Vec::new();
        while done < data.len() {
            let n = match self.tls.as_mut() {
                Some(tls) => {
                    let end = (done + TLS_RECORD).min(data.len());
                    cipher.clear();
                    let n = tls.encrypt(&data[done..end], &mut cipher)?;
                    self.send_raw(&cipher, flags).await?;
                    n
                }
                None => match rustix::net::send(self.raw.get_ref(), &data[done..], flags) {
                    Ok(n) => n,
                    Err(rustix::io::Errno::AGAIN) => {
                        self.drained().await?;
                        continue;
                    }
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(Stop::Io(e.into())),
                },
            };
            let body = (done + n).saturating_sub(done.max(body_at));
            if body > 0 {
                self.conn.send_body(body, Instant::now())?;
            }
            done += n;
        }
        Ok(())
    }

    /// Sends all of `bytes` as they are (ciphertext), each wait within
    /// core's deadline.
    async fn send_raw(&mut self, mut bytes: &[u8], flags: SendFlags) -> Result<(), Stop> {
        while !bytes.is_empty() {
            match rustix::net::send(self.raw.get_ref(), bytes, flags) {
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::AGAIN) => self.drained().await?,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Stop::Io(e.into())),
            }
        }
        Ok(())
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

    /// Waits until the socket takes more bytes, at most until core's
    /// deadline. Reaching the deadline is not yet a stall: the caller
    /// tries once more, and what the socket takes then counts (the next
    /// wait, past the deadline, is the stall). Without a deadline of
    /// core's (an answer to a protocol error), the plain body timeout
    /// bounds the wait.
    async fn drained(&mut self) -> Result<(), Stop> {
        let (limit, retry) = self.send_limit()?;
        let Some(limit) = limit else {
            return Ok(self.raw.writable().await?);
        };
        let ready = future::or(async { Some(self.raw.writable().await) }, async {
            Timer::after(limit).await;
            None
        })
        .await;
        match ready {
            Some(r) => Ok(r?),
            None if retry => Ok(()),
            None => Err(Stop::Protocol(ProtocolError::BodyStalled)),
        }
    }

    /// Over TLS: the pieces, the file read on the blocking pool into a
    /// bounded buffer and encrypted (no sendfile).
    async fn send_pieces_tls(
        &mut self,
        file: Arc<std::fs::File>,
        pieces: &Pieces,
    ) -> Result<u64, Stop> {
        let mut sent = 0u64;
        let mut chunk = vec![0u8; TLS_CHUNK];
        for piece in pieces.iter() {
            match piece {
                Piece::Bytes(b) => {
                    self.write_paced(b, 0, SendFlags::empty()).await?;
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
                        self.write_paced(&chunk[..n], 0, SendFlags::empty()).await?;
                        at += n as u64;
                        sent += n as u64;
                    }
                }
            }
        }
        Ok(sent)
    }

    /// How long the next wait for the socket may last: until core's
    /// deadline (no progress, or slower than the minimum rate, for the
    /// body timeout), and whether that is core's deadline (so reaching it
    /// earns one more try); without one of core's (an answer to a
    /// protocol error), the plain body timeout.
    fn send_limit(&mut self) -> Result<(Option<Duration>, bool), Stop> {
        let now = Instant::now();
        match self.conn.poll_timeout() {
            Some(at) if at <= now => Err(Stop::Protocol(
                self.conn
                    .handle_timeout(now)
                    .err()
                    .unwrap_or(ProtocolError::BodyStalled),
            )),
            Some(at) => Ok((Some(at - now), true)),
            None => Ok((self.shared.opts.connection.body_timeout, false)),
        }
    }
}
