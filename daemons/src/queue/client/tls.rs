//! Opportunistic STARTTLS for outbound SMTP (RFC 3207; RFC 7435 for why a
//! failed verification does not stop delivery). The certificate is
//! checked against the system's roots (read after the sandbox is in
//! place; the queue's landlock rules allow the CA directories) and the
//! MX host name, and the verdict is recorded instead of ending the
//! handshake, so the caller decides: deliver anyway, or refuse when a
//! policy (REQUIRETLS, RFC 8689) needs a verified connection. Signatures
//! in the handshake are always checked.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Whether the peer's certificate verified, as recorded in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertVerdict {
    Verified,
    /// Why not (no trust anchors, unknown issuer, name mismatch, …).
    Unverified(String),
}

/// Where a connection's certificate verdict is recorded during the handshake.
pub type VerdictSlot = Arc<Mutex<Option<CertVerdict>>>;

/// Roots and crypto provider, built once per worker.
#[derive(Clone)]
pub struct TlsClient {
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// None: no usable roots; every certificate is then unverified.
    webpki: Option<Arc<WebPkiServerVerifier>>,
}

impl TlsClient {
    /// Loads the system's trust anchors (rustls-native-certs).
    pub fn from_system_roots() -> TlsClient {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "loading system TLS roots");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
        tracing::info!(added, ignored, "outbound TLS roots loaded");
        Self::with_roots(roots)
    }

    pub fn with_roots(roots: RootCertStore) -> TlsClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no TLS roots: certificates cannot verify"))
            .ok();
        TlsClient { provider, webpki }
    }

    /// A configuration for one connection and the slot its verdict lands in.
    pub fn config(&self) -> Result<(Arc<ClientConfig>, VerdictSlot), rustls::Error> {
        let verdict = Arc::new(Mutex::new(None));
        let verifier = Recording {
            webpki: self.webpki.clone(),
            provider: self.provider.clone(),
            verdict: verdict.clone(),
        };
        let cfg = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok((Arc::new(cfg), verdict))
    }
}

/// Verifies like rustls would, records the outcome, and lets the
/// handshake go on either way.
#[derive(Debug)]
struct Recording {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    verdict: VerdictSlot,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let v = match &self.webpki {
            Some(w) => {
                match w.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                    Ok(_) => CertVerdict::Verified,
                    Err(e) => CertVerdict::Unverified(e.to_string()),
                }
            }
            None => CertVerdict::Unverified("no trust anchors".into()),
        };
        *self.verdict.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
