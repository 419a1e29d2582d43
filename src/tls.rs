//! The TLS client set-up that `fetch` and `discover` share: one crypto provider (ring)
//! and one certificate verifier, which records the chain the server presented and
//! then either accepts it (the chain is what `fetch` captures, and what
//! `discover --ldap-insecure` ignores) or checks it against CA certificates or the
//! system trust store. Either way the handshake signatures are checked with the
//! provider's algorithms: they prove the server holds the key of the certificate it
//! presented. The recorded chain survives a failed handshake, so a refusal can name
//! the certificate that was refused.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error("CA certificate #{index} cannot be a trust anchor: {detail}")]
    Anchor { index: usize, detail: String },
    #[error("the system trust store holds no CA certificate certgpo can use{detail}")]
    NoSystemRoots { detail: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// No hint of its own: what to do instead depends on the command (its options).
impl crate::Diagnostic for TlsError {}

/// The one crypto provider. Named explicitly: the process default is ambiguous when
/// another crate enables aws-lc-rs.
pub fn provider() -> &'static Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// What the server's certificate is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Nothing: the chain is recorded and accepted.
    Nothing,
    /// These CA certificates (DER) only.
    Cas(&'a [Vec<u8>]),
    /// The operating system's trust store.
    System,
}

/// A client configuration (TLS 1.3 and 1.2) and the chain its last handshake saw.
pub struct Client {
    pub config: Arc<ClientConfig>,
    recorder: Arc<Recorder>,
}

impl Client {
    pub fn new(trust: Trust<'_>) -> Result<Client, TlsError> {
        let verify = match trust {
            Trust::Nothing => None,
            Trust::Cas(ders) => {
                let mut roots = RootCertStore::empty();
                for (n, der) in ders.iter().enumerate() {
                    roots
                        .add(CertificateDer::from(der.as_slice()))
                        .map_err(|e| TlsError::Anchor {
                            index: n + 1,
                            detail: e.to_string(),
                        })?;
                }
                Some(verifier(Arc::new(roots))?)
            }
            Trust::System => Some(verifier(system_roots()?)?),
        };
        let recorder = Arc::new(Recorder {
            chain: Mutex::new(None),
            verify,
        });
        let config = ClientConfig::builder_with_provider(provider().clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        Ok(Client {
            config: Arc::new(config),
            recorder,
        })
    }

    /// The DER chain the server presented in the last handshake, leaf first, even
    /// when the certificate was then refused; `None` before a certificate arrived.
    pub fn take_chain(&self) -> Option<Vec<Vec<u8>>> {
        self.recorder.chain.lock().ok().and_then(|mut c| c.take())
    }
}

fn verifier(roots: Arc<RootCertStore>) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    WebPkiServerVerifier::builder_with_provider(roots, provider().clone())
        .build()
        .map_err(|e| TlsError::Setup(e.to_string()))
}

/// The system trust store, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, TlsError>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            // A store with one unreadable file still holds the others: use what parses.
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots {
                    detail: found
                        .errors
                        .first()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default(),
                });
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

#[derive(Debug)]
struct Recorder {
    chain: Mutex<Option<Vec<Vec<u8>>>>,
    /// `None`: accept any certificate (the admin decides trust: pins, confirmation).
    verify: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = Some(chain);
        }
        match &self.verify {
            None => Ok(ServerCertVerified::assertion()),
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
        }
    }

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

/// Check a chain a server presented (leaf first) for `name`, now, against `cas` and,
/// with `system`, the system trust store: what a client trusting those roots would
/// say about it.
pub fn verify_chain(
    chain: &[Vec<u8>],
    name: &str,
    cas: &[Vec<u8>],
    system: bool,
) -> Result<(), rustls::Error> {
    let mut roots = if system {
        system_roots()
            .map(|r| (*r).clone())
            .unwrap_or_else(|_| RootCertStore::empty())
    } else {
        RootCertStore::empty()
    };
    roots.add_parsable_certificates(cas.iter().map(|d| CertificateDer::from(d.clone())));
    if roots.is_empty() {
        return Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
    }
    let (leaf, rest) = chain
        .split_first()
        .ok_or(rustls::Error::NoCertificatesPresented)?;
    let intermediates: Vec<CertificateDer<'_>> = rest
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let server = ServerName::try_from(name.to_string())
        .map_err(|_| rustls::Error::General(format!("{name:?} is not a server name")))?;
    verifier(Arc::new(roots))
        .map_err(|e| rustls::Error::General(e.to_string()))?
        .verify_server_cert(
            &CertificateDer::from(leaf.as_slice()),
            &intermediates,
            &server,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}
