//! TLS for every runtime, on rustls, whose connection is itself a sans-IO
//! state machine. This layer has one calling convention for both
//! runtimes: ciphertext from the socket goes in with [`Tls::feed`],
//! plaintext comes out of [`Tls::read_plain`]; plaintext goes in with
//! [`Tls::write_plain`], ciphertext for the socket comes out of
//! [`Tls::take_output`]. The drivers only move bytes between it and their
//! sockets (blocking or async); no TLS logic is written twice.
//!
//! Client side: TLS 1.2 and 1.3 (rustls offers nothing older), ALPN
//! `http/1.1` and `http/1.0`, the ring crypto provider (it builds with a
//! C compiler alone; aws-lc-rs wants cmake), and Mozilla's root store as
//! bundled by webpki-roots, so verification works the same on a minimal
//! container without a system CA bundle (`--cacert` replaces it, as in
//! curl).
//!
//! The session lives here; how the client trusts servers is
//! [`client_trust`], the server's certificate [`server_cert`].

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ClientConnection, ServerConfig};

/// The server configuration type the runtimes take (rustls's).
pub use rustls::ServerConfig as TlsServerConfig;

pub mod client_trust;
pub mod server_cert;

pub use client_trust::{client_config, load_certs, parse_pin, ClientTrust};
pub use server_cert::{load_pair, self_signed, server_config, ServerCert};

/// Why TLS failed: each cause its own variant, with one line for the
/// user as its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate is not signed by a trusted CA.
    #[error("certificate verify failed: unknown issuer (not signed by a trusted CA; --cacert FILE trusts a CA, -k skips the check)")]
    UnknownIssuer,
    /// The server's certificate has expired.
    #[error("certificate verify failed: the certificate has expired")]
    Expired,
    /// The server's certificate is not valid yet.
    #[error("certificate verify failed: the certificate is not valid yet")]
    NotValidYet,
    /// The server's certificate does not name the host asked for.
    #[error("certificate verify failed: the certificate is not valid for {host} (name mismatch)")]
    NameMismatch {
        /// The host the client asked for.
        host: String,
    },
    /// The server's certificate was revoked.
    #[error("certificate verify failed: revoked")]
    Revoked,
    /// Any other certificate problem, as rustls names it.
    #[error("certificate verify failed: {0}")]
    BadCertificate(String),
    /// The peer sent an alert and ended the handshake.
    #[error("the server refused the handshake ({0})")]
    Refused(String),
    /// The peer does not speak TLS (plain http on the port, say).
    #[error("the server does not speak TLS on this port (is it plain http?)")]
    NotTls,
    /// The TLS protocol failed otherwise.
    #[error("TLS failed: {0}")]
    Protocol(rustls::Error),
    /// Ciphertext could not be taken in (rustls's buffer refused it).
    #[error("TLS failed: {0}")]
    Buffer(String),
    /// The host cannot be a TLS server name.
    #[error("{host} is not a valid TLS server name")]
    BadServerName {
        /// The host given.
        host: String,
    },
    /// A certificate or key file could not be used.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Setting up TLS (configuration, keys, the self-signed certificate)
    /// failed.
    #[error("{what}: {reason}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl TlsFailure {
    fn from_rustls(e: &rustls::Error, host: &str) -> TlsFailure {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsFailure::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsFailure::NotValidYet
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsFailure::NameMismatch {
                    host: host.to_owned(),
                },
                CertificateError::Revoked => TlsFailure::Revoked,
                other => TlsFailure::BadCertificate(format!("{other:?}")),
            },
            E::AlertReceived(a) => TlsFailure::Refused(format!("{a:?}")),
            E::InvalidMessage(_) => TlsFailure::NotTls,
            other => TlsFailure::Protocol(other.clone()),
        }
    }

    fn file(path: &Path, e: impl std::fmt::Display) -> TlsFailure {
        TlsFailure::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn setup(what: &'static str, e: impl std::fmt::Display) -> TlsFailure {
        TlsFailure::Setup {
            what,
            reason: e.to_string(),
        }
    }
}

/// The crypto provider both sides use (ring).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// True when the first byte a client sent starts a TLS handshake record
/// (content type 22); anything else on a TLS port is most likely plain
/// http, which gets a 400 saying so.
pub fn looks_like_tls(first: u8) -> bool {
    first == 0x16
}

/// Ciphertext read from the socket at a time.
const CIPHER_READ: usize = 16 * 1024;

/// Room for the ciphertext of `plain` bytes: every record of up to 16 KiB
/// adds a header, a content type and a tag (22 bytes in TLS 1.3, up to
/// 29 in 1.2), so 64 bytes a record is ample. Sizing it exactly matters:
/// a buffer that has to grow past glibc's mmap threshold (128 KiB) is
/// mapped and unmapped, and its pages faulted in, on every write.
pub const fn sealed_len(plain: usize) -> usize {
    plain + (plain / (16 * 1024) + 1) * 64
}

/// One TLS session, driven by bytes: the same for every runtime.
#[derive(Debug)]
pub struct Tls {
    conn: rustls::Connection,
    host: String,
    /// Room for ciphertext read from the socket: on the heap, so neither
    /// a thread's stack nor an async task's state carries it.
    scratch: Vec<u8>,
}

impl Tls {
    /// A client session to `host` (SNI for a name; an IP address is
    /// checked against the certificate's IP SANs and sends no SNI).
    pub fn client(config: Arc<ClientConfig>, host: &str) -> Result<Tls, TlsFailure> {
        let name =
            ServerName::try_from(host.to_owned()).map_err(|_| TlsFailure::BadServerName {
                host: host.to_owned(),
            })?;
        let conn =
            ClientConnection::new(config, name).map_err(|e| TlsFailure::from_rustls(&e, host))?;
        Ok(Tls {
            conn: conn.into(),
            host: host.to_owned(),
            scratch: vec![0; CIPHER_READ],
        })
    }

    /// A server session (the certificate comes from `config`'s resolver).
    pub fn server(config: Arc<ServerConfig>) -> Result<Tls, TlsFailure> {
        let conn =
            rustls::ServerConnection::new(config).map_err(|e| TlsFailure::Buffer(e.to_string()))?;
        Ok(Tls {
            conn: conn.into(),
            host: String::new(),
            scratch: vec![0; CIPHER_READ],
        })
    }

    /// Decrypted bytes if some are ready: `Some(Ok(n))` (0 at the end of
    /// the stream; a close without close_notify counts as one, and core's
    /// framing tells a truncated body), `Some(Err(_))`, or `None` when
    /// ciphertext must be read first (into [`Tls::take_scratch`], then
    /// [`Tls::absorb`]).
    pub fn ready_plain(&mut self, out: &mut [u8]) -> Option<io::Result<usize>> {
        match self.read_plain(out) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Some(Ok(0)),
            r => Some(r),
        }
    }

    /// The buffer to read ciphertext into; give it back with
    /// [`Tls::absorb`].
    pub fn take_scratch(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.scratch);
        v.resize(CIPHER_READ, 0);
        v
    }

    /// Takes the scratch buffer back after a socket read into it and feeds
    /// what was read: `Ok(false)` at the end of the stream.
    pub fn absorb(&mut self, cipher: Vec<u8>, read: io::Result<usize>) -> io::Result<bool> {
        let fed = match read {
            Ok(0) => Ok(false),
            Ok(n) => self.feed(&cipher[..n]).map(|()| true).map_err(io_error),
            Err(e) => Err(e),
        };
        self.scratch = cipher;
        fed
    }

    /// Encrypts as much of `data` as the session takes, appending the
    /// ciphertext for the socket to `out`; returns how much it took.
    pub fn encrypt(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        let n = self.write_plain(data)?;
        self.take_output(out);
        if n == 0 && out.is_empty() && !data.is_empty() {
            return Err(io::Error::other("TLS session takes no more data"));
        }
        Ok(n)
    }

    /// True until the handshake is complete.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Ciphertext received from the socket (an empty slice: the peer
    /// closed). Certificate and protocol failures come out here.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), TlsFailure> {
        if data.is_empty() {
            let _ = self.conn.read_tls(&mut data);
        }
        while !data.is_empty() {
            let n = self
                .conn
                .read_tls(&mut data)
                .map_err(|e| TlsFailure::Buffer(e.to_string()))?;
            if n == 0 {
                break;
            }
            self.conn
                .process_new_packets()
                .map_err(|e| TlsFailure::from_rustls(&e, &self.host))?;
        }
        Ok(())
    }

    /// Decrypted bytes: `Ok(0)` at the peer's close_notify (or its end of
    /// stream), `WouldBlock` when more ciphertext is needed first.
    pub fn read_plain(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.conn.reader().read(out)
    }

    /// Plaintext to send: how much was taken (0 when the ciphertext
    /// waiting for the socket is at rustls's buffer limit: call
    /// [`Tls::take_output`], send it, and offer the rest again).
    pub fn write_plain(&mut self, data: &[u8]) -> io::Result<usize> {
        self.conn.writer().write(data)
    }

    /// Appends the ciphertext waiting to go to the socket to `out`.
    pub fn take_output(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            if self.conn.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Queues a close_notify alert (call [`Tls::take_output`] after).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }
}

/// A TLS failure carried inside an `io::Error` through a driver's I/O
/// path; see [`tls_failure`].
pub fn io_error(f: TlsFailure) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, f)
}

/// The TLS failure inside an `io::Error`, if that is what it carries.
pub fn tls_failure(e: &io::Error) -> Option<TlsFailure> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsFailure>())
        .cloned()
}

/// The connection of one exchange: plain TCP, or TLS over it (through the
/// shared byte-driven [`Tls`] layer; this only moves the bytes).
#[derive(Debug)]
pub enum Wire {
    /// http.
    Plain(TcpStream),
    /// https.
    Tls(TcpStream, Box<Tls>),
}

impl Wire {
    /// True over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Wire::Tls(..))
    }

    /// The socket underneath.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Wire::Plain(s) | Wire::Tls(s, _) => s,
        }
    }
}

impl Read for Wire {
    /// Plain bytes; over TLS, decrypted ones (reading ciphertext from the
    /// socket as needed; `WouldBlock` when the socket has none yet).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s, tls) => loop {
                if let Some(r) = tls.ready_plain(buf) {
                    return r;
                }
                let mut cipher = tls.take_scratch();
                let read = s.read(&mut cipher);
                if !tls.absorb(cipher, read)? {
                    return Ok(0);
                }
            },
        }
    }
}

impl Write for Wire {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data).map(|()| data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.write_all(data),
            Wire::Tls(s, tls) => {
                let mut rest = data;
                let mut out = Vec::with_capacity(sealed_len(rest.len().min(64 * 1024)));
                while !rest.is_empty() {
                    rest = &rest[tls.encrypt(rest, &mut out)?..];
                    s.write_all(&out)?;
                    out.clear();
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs a TLS handshake on a blocking socket: its timeouts bound each
/// wait, and `deadline` (a server's header timeout) the whole of it. A
/// server passes `give_up`, asked at least every half second: true ends
/// the handshake (its slot is wanted by a waiting connection).
pub fn handshake(
    mut stream: &TcpStream,
    tls: &mut Tls,
    deadline: Option<std::time::Instant>,
    give_up: Option<&dyn Fn() -> bool>,
) -> io::Result<()> {
    const SLICE: std::time::Duration = std::time::Duration::from_millis(500);
    let mut out = Vec::new();
    let mut cipher = vec![0u8; CIPHER_READ];
    loop {
        if give_up.is_some_and(|f| f()) {
            return Err(io::Error::other(
                "closed to make room for a waiting connection",
            ));
        }
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let wait = if give_up.is_some() {
                left.min(SLICE)
            } else {
                left
            };
            stream.set_read_timeout(Some(wait))?;
        }
        tls.take_output(&mut out);
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if !tls.is_handshaking() {
            return Ok(());
        }
        let n = match stream.read(&mut cipher) {
            Ok(n) => n,
            Err(e)
                if give_up.is_some()
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection during the TLS handshake",
            ));
        }
        tls.feed(&cipher[..n]).map_err(io_error)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client and a server session, handshaken in memory.
    fn pair() -> (Tls, Tls) {
        let (key, _) = self_signed(&["localhost".to_owned()]).expect("certificate");
        let server = server_config(ServerCert::new(key)).expect("server config");
        let trust = ClientTrust {
            insecure: true,
            ..ClientTrust::default()
        };
        let client = client_config(&trust).expect("client config");
        let mut c = Tls::client(client, "localhost").expect("client");
        let mut s = Tls::server(server).expect("server");
        let mut bytes = Vec::new();
        for _ in 0..10 {
            c.take_output(&mut bytes);
            s.feed(&bytes).expect("server reads");
            bytes.clear();
            s.take_output(&mut bytes);
            c.feed(&bytes).expect("client reads");
            bytes.clear();
            if !c.is_handshaking() && !s.is_handshaking() {
                return (c, s);
            }
        }
        panic!("no handshake in ten rounds");
    }

    /// The ciphertext of a write fits `sealed_len` without the buffer
    /// growing (a growth past 128 KiB maps memory on every write).
    #[test]
    fn a_write_fits_the_room_made_for_it() {
        let (mut c, mut s) = pair();
        for len in [1, 100, 16 * 1024, 16 * 1024 + 1, 40_000, 64 * 1024] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = Vec::with_capacity(sealed_len(len));
            let room = out.capacity();
            let mut sent = 0;
            while sent < len {
                sent += s.encrypt(&data[sent..], &mut out).expect("encrypt");
            }
            assert!(out.len() <= sealed_len(len), "{len}: {} bytes", out.len());
            assert_eq!(out.capacity(), room, "{len}: the buffer grew");
            // And it is what the client reads back (fed a piece at a
            // time: a session holds a bounded amount of plaintext).
            let mut back = Vec::with_capacity(len);
            let mut piece = vec![0u8; 4096];
            for cipher in out.chunks(4096) {
                c.feed(cipher).expect("client reads");
                loop {
                    match c.read_plain(&mut piece) {
                        Ok(0) => break,
                        Ok(n) => back.extend_from_slice(&piece[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{len}: {e}"),
                    }
                }
            }
            assert_eq!(back, data, "{len}");
        }
    }
}
