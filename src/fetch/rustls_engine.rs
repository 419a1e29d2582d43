//! The rustls engine: the fallback for servers that refuse TLS ≤ 1.2 (TLS 1.3-only).
//! In TLS 1.3 the Certificate message is encrypted, so a real handshake is needed.
//! [`crate::tls`]'s verifier records the chain (instead of judging it); it keeps the
//! chain even if the handshake fails afterwards.

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::Stage;
use super::raw::Step;
use crate::tls::{Client, Trust};

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
    // Trust is decided by the admin (pins, confirmation), not by a CA store.
    let client = Client::new(Trust::Nothing).map_err(|e| (Stage::Tls, e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(client.config.clone());
    let result = connector.connect(name, stream).await;
    let recorded = client.take_chain();
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
