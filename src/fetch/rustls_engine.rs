//! The rustls engine: the fallback for servers that refuse TLS ≤ 1.2 (TLS 1.3-only).
//! In TLS 1.3 the Certificate message is encrypted, so a real handshake is needed. A
//! verifier that records the chain (instead of judging it) captures the certificate;
//! it keeps the chain even if the handshake fails afterwards.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Stage;
use super::raw::Step;

pub fn provider() -> &'static Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
}

#[derive(Debug)]
struct Recorder {
    chain: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = Some(chain);
        }
        // Trust is decided by the admin (pins, confirmation), not by a CA store.
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signature is still checked: it proves the server holds the key of
    // the certificate it presented.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What rustls captured: version name, suite name, DER chain, and a note when the
/// handshake failed after the certificate arrived.
pub struct Captured {
    pub version: String,
    pub cipher: String,
    pub chain: Vec<Vec<u8>>,
    pub note: Option<String>,
}

pub async fn grab<S>(stream: S, name: ServerName<'static>) -> Step<Captured>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider().clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| (Stage::Tls, format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let result = connector.connect(name, stream).await;
    let recorded = recorder.chain.lock().ok().and_then(|mut c| c.take());
    match (result, recorded) {
        (Ok(mut tls), Some(chain)) => {
            let (_, conn) = tls.get_ref();
            let version = match conn.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
                Some(other) => format!("{other:?}"),
                None => "unknown".to_string(),
            };
            let cipher = conn
                .negotiated_cipher_suite()
                .map(|s| {
                    let id = s.suite();
                    id.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("0x{:04X}", u16::from(id)))
                })
                .unwrap_or_else(|| "unknown".to_string());
            let _ = tls.shutdown().await;
            Ok(Captured {
                version,
                cipher,
                chain,
                note: None,
            })
        }
        (Ok(_), None) => Err((
            Stage::Tls,
            "TLS handshake finished without a certificate".into(),
        )),
        (Err(e), Some(chain)) => Ok(Captured {
            version: "TLS 1.2 or 1.3".into(),
            cipher: "unknown".into(),
            chain,
            note: Some(format!(
                "the handshake failed after the certificate arrived: {e}"
            )),
        }),
        (Err(e), None) => Err((Stage::Tls, format!("TLS 1.2/1.3 handshake failed: {e}"))),
    }
}
