//! Bytes over TLS on an async socket, for the smol client and server: the
//! same byte-driven layer as the std runtime ([`pared_host::tls::Tls`]), with
//! async reads and writes around it. No TLS logic of its own.

use std::io;

use async_net::TcpStream;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use pared_host::tls::{io_error, Tls};

/// Decrypted bytes, reading ciphertext from `s` as needed; `Ok(0)` at the
/// end of the stream (a close without close_notify included: core's
/// framing tells a truncated body).
pub(crate) async fn tls_read<S: AsyncRead + Unpin>(
    s: &mut S,
    tls: &mut Tls,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        if let Some(r) = tls.ready_plain(buf) {
            return r;
        }
        // The buffer lives in the session, not in this future's state.
        let mut cipher = tls.take_scratch();
        let read = s.read(&mut cipher).await;
        if !tls.absorb(cipher, read)? {
            return Ok(0);
        }
    }
}

/// Encrypts all of `data` and writes it to `s`.
pub(crate) async fn tls_write_all<S: AsyncWrite + Unpin>(
    s: &mut S,
    tls: &mut Tls,
    data: &[u8],
) -> io::Result<()> {
    let mut rest = data;
    let mut out = Vec::with_capacity(pared_host::tls::sealed_len(rest.len().min(64 * 1024)));
    while !rest.is_empty() {
        rest = &rest[tls.encrypt(rest, &mut out)?..];
        s.write_all(&out).await?;
        out.clear();
    }
    Ok(())
}

/// Runs a TLS handshake on the socket (the caller bounds it in time).
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    tls: &mut Tls,
) -> io::Result<()> {
    let mut out = Vec::new();
    let mut cipher = vec![0u8; 16 * 1024];
    loop {
        tls.take_output(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if !tls.is_handshaking() {
            return Ok(());
        }
        let n = stream.read(&mut cipher).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection during the TLS handshake",
            ));
        }
        tls.feed(&cipher[..n]).map_err(io_error)?;
    }
}

/// The client's connection for one exchange: plain TCP, or TLS over it.
pub(crate) enum Wire {
    Plain(TcpStream),
    Tls(TcpStream, Box<Tls>),
}

impl Wire {
    /// Plain bytes; over TLS, decrypted ones.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf).await,
            Wire::Tls(s, tls) => tls_read(s, tls, buf).await,
        }
    }

    /// Writes all of `data` (encrypted over TLS).
    pub(crate) async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.write_all(data).await,
            Wire::Tls(s, tls) => tls_write_all(s, tls, data).await,
        }
    }
}
