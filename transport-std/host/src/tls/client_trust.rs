//! How the client trusts servers: Mozilla's roots (webpki-roots), a CA
//! file (`--cacert`), a pinned certificate (`--pin`), or nothing (`-k`).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore};

use super::TlsFailure;

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
    let provider = super::provider();
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
