//! The server's certificate: loaded from PEM files (reloaded on SIGHUP)
//! or made in memory (`--tls-self-signed`), and the server configuration
//! that presents it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use super::{load_certs, provider, TlsFailure};

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
