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
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
};

/// Why TLS failed, as one line for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsFailure(pub String);

impl TlsFailure {
    fn from_rustls(e: &rustls::Error, host: &str) -> TlsFailure {
        use rustls::Error as E;
        let reason = match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => "certificate verify failed: unknown issuer (not signed by a trusted CA; --cacert FILE trusts a CA, -k skips the check)".to_owned(),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "certificate verify failed: the certificate has expired".to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "certificate verify failed: the certificate is not valid yet".to_owned()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    format!("certificate verify failed: the certificate is not valid for {host} (name mismatch)")
                }
                CertificateError::Revoked => "certificate verify failed: revoked".to_owned(),
                other => format!("certificate verify failed: {other:?}"),
            },
            E::AlertReceived(a) => format!("the server refused the handshake ({a:?})"),
            E::InvalidMessage(_) => {
                "the server does not speak TLS on this port (is it plain http?)".to_owned()
            }
            other => format!("TLS failed: {other}"),
        };
        TlsFailure(reason)
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
}

/// The rustls client configuration for `trust`.
pub fn client_config(trust: &ClientTrust) -> Result<Arc<ClientConfig>, TlsFailure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFailure(format!("TLS set-up failed: {e}")))?;
    let mut config = if trust.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &trust.cacert {
            Some(path) => {
                for cert in load_certs(path)? {
                    roots
                        .add(cert)
                        .map_err(|e| TlsFailure(format!("{}: {e}", path.display())))?;
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
        .map_err(|e| TlsFailure(format!("{}: {e}", path.display())))?
        .collect();
    let certs = certs.map_err(|e| TlsFailure(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsFailure(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// `-k`: accepts any certificate, but still checks the handshake's
/// signatures, so the connection is encrypted, just not authenticated.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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

/// One TLS session, driven by bytes: the same for every runtime.
#[derive(Debug)]
pub struct Tls {
    conn: ClientConnection,
    host: String,
}

impl Tls {
    /// A client session to `host` (SNI for a name; an IP address is
    /// checked against the certificate's IP SANs and sends no SNI).
    pub fn client(config: Arc<ClientConfig>, host: &str) -> Result<Tls, TlsFailure> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| TlsFailure(format!("{host} is not a valid TLS server name")))?;
        let conn =
            ClientConnection::new(config, name).map_err(|e| TlsFailure::from_rustls(&e, host))?;
        Ok(Tls {
            conn,
            host: host.to_owned(),
        })
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
                .map_err(|e| TlsFailure(format!("TLS failed: {e}")))?;
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
