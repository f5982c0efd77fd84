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

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    ServerConfig,
};

/// The server configuration type the runtimes take (rustls's).
pub use rustls::ServerConfig as TlsServerConfig;

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

/// How the client verifies servers.
#[derive(Debug, Clone, Default)]
pub struct ClientTrust {
    /// Trust only the CA certificates in this PEM file (`--cacert`).
    pub cacert: Option<std::path::PathBuf>,
    /// Skip verification altogether (`-k`): encrypted, but not
    /// authenticated.
    pub insecure: bool,
    /// Trust exactly the certificate with this SHA-256 fingerprint
    /// (`--pin`, as `pared server --tls-self-signed` prints it), whatever
    /// signed it and whatever names it carries.
    pub pin: Option<String>,
}

/// The 32 bytes of a fingerprint as the server prints it (`AB:CD:…`),
/// also without colons, in either case, or after `sha256:`.
pub fn parse_pin(text: &str) -> Result<[u8; 32], TlsFailure> {
    let t = text.trim();
    let t = t
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .map_or(t, |_| &t[7..]);
    let hex: String = t.chars().filter(|c| *c != ':').collect();
    let bad = || {
        TlsFailure::setup(
            "--pin",
            "expected the SHA-256 fingerprint the server printed (64 hex digits, colons allowed)",
        )
    };
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The rustls client configuration for `trust`.
pub fn client_config(trust: &ClientTrust) -> Result<Arc<ClientConfig>, TlsFailure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFailure::setup("TLS set-up failed", e))?;
    let pin = trust.pin.as_deref().map(parse_pin).transpose()?;
    let mut config = if trust.insecure || pin.is_some() {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider, pin)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &trust.cacert {
            Some(path) => {
                for cert in load_certs(path)? {
                    roots.add(cert).map_err(|e| TlsFailure::file(path, e))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(Arc::new(config))
}

/// The certificates of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFailure> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsFailure::file(path, e))?
        .collect();
    let certs = certs.map_err(|e| TlsFailure::file(path, e))?;
    if certs.is_empty() {
        return Err(TlsFailure::file(path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// `-k`: accepts any certificate; `--pin`: exactly the one with that
/// SHA-256 fingerprint. Either way the handshake's signatures are
/// checked, so the connection is encrypted (and with a pin, authenticated
/// by the certificate itself rather than by a CA and a name).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>, Option<[u8; 32]>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pin) = self.1 else {
            return Ok(ServerCertVerified::assertion());
        };
        let seen = pared_core::digest::sha256_hex_colons(end_entity.as_ref());
        let wanted: Vec<String> = pin.iter().map(|b| format!("{b:02X}")).collect();
        if seen == wanted.join(":") {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate is not the pinned one (its fingerprint is {seen})"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The server's certificate and key, replaceable while it runs (SIGHUP
/// reloads them for certificate renewal; connections keep the pair they
/// started with).
#[derive(Debug)]
pub struct ServerCert {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl ServerCert {
    /// A holder of `key`.
    pub fn new(key: CertifiedKey) -> Arc<ServerCert> {
        Arc::new(ServerCert {
            current: std::sync::RwLock::new(Arc::new(key)),
        })
    }

    /// Replaces the pair (a bad new pair never reaches here: see
    /// [`load_pair`]).
    pub fn replace(&self, key: CertifiedKey) {
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(key);
        }
    }
}

/// Reloads the certificate and key from their files on SIGHUP (renewal
/// without dropping connections); a pair that fails to load or does not
/// match keeps the old one, and one line on stderr says why.
pub fn reload_on_sighup(
    holder: Arc<ServerCert>,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
) -> io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("pared-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                match load_pair(&cert, &key) {
                    Ok(pair) => {
                        holder.replace(pair);
                        eprintln!("pared: SIGHUP: certificate and key reloaded");
                    }
                    Err(e) => eprintln!("pared: SIGHUP: kept the old certificate: {e}"),
                }
            }
        })?;
    Ok(())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain (PEM) and its private key (PEM: PKCS#8, PKCS#1 or
/// SEC1), checked to belong together.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsFailure> {
    use rustls::pki_types::PrivateKeyDer;
    let chain = load_certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsFailure::file(key, e))?;
    pair_from_der(chain, key_der)
}

fn pair_from_der(
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<CertifiedKey, TlsFailure> {
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsFailure::setup("private key", e))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match()
        .map_err(|e| TlsFailure::setup("the key does not belong to the certificate", e))?;
    Ok(pair)
}

/// An in-memory self-signed certificate for `names` (host names and IP
/// addresses) and the SHA-256 fingerprint of its DER, to compare with what
/// a client shows.
pub fn self_signed(names: &[String]) -> Result<(CertifiedKey, String), TlsFailure> {
    let cert = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| TlsFailure::setup("self-signed certificate", e))?;
    let der = cert.cert.der().clone();
    let fingerprint = pared_core::digest::sha256_hex_colons(der.as_ref());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    Ok((pair_from_der(vec![der], key)?, fingerprint))
}

/// The rustls server configuration: TLS 1.2 and 1.3, ALPN http/1.1 and
/// http/1.0, the certificate from `cert` (so it can be replaced).
pub fn server_config(cert: Arc<ServerCert>) -> Result<Arc<ServerConfig>, TlsFailure> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFailure::setup("TLS set-up failed", e))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()];
    Ok(Arc::new(config))
}

/// True when the first byte a client sent starts a TLS handshake record
/// (content type 22); anything else on a TLS port is most likely plain
/// http, which gets a 400 saying so.
pub fn looks_like_tls(first: u8) -> bool {
    first == 0x16
}

/// Ciphertext read from the socket at a time.
const CIPHER_READ: usize = 16 * 1024;

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
                let mut out = Vec::with_capacity(rest.len().min(64 * 1024) + 64);
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
