//! The connections of the exchange: TCP with a deadline, then TLS 1.3/1.2 through
//! rustls, or, for a server that speaks only TLS 1.0/1.1 (Exchange 2010 on Windows
//! 2008 R2), OpenSSL with its security level lowered for that one connection (the
//! `legacy-tls` feature). Neither engine decides trust: each records the chain the
//! server presented, which the caller judges before it sends any credential.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A byte stream the HTTP client can use.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// An open connection and what its handshake showed.
pub struct Opened {
    pub stream: Box<dyn Stream>,
    /// DER, leaf first; empty on plain HTTP.
    pub chain: Vec<Vec<u8>>,
    /// "TLS 1.3", "TLS 1.0", or "" on plain HTTP.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    Connect(String),
    Tls(String),
    /// Only TLS 1.0/1.1 would do, and this build has no engine for it.
    LegacyOnly(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Connect(d) | ConnError::Tls(d) | ConnError::LegacyOnly(d) => f.write_str(d),
        }
    }
}

fn tcp(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ConnError> {
    let s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| ConnError::Connect(format!("cannot connect to {addr}: {e}")))?;
    let io = |e: std::io::Error| ConnError::Connect(e.to_string());
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    // Requests and handshake flights go out whole: no wait for a delayed ACK.
    s.set_nodelay(true).map_err(io)?;
    Ok(s)
}

/// Plain TCP, for the unauthenticated GET of the HTTP redirect method.
pub fn plain(addr: SocketAddr, timeout: Duration) -> Result<Opened, ConnError> {
    Ok(Opened {
        stream: Box::new(tcp(addr, timeout)?),
        chain: Vec::new(),
        protocol: String::new(),
    })
}

/// TLS to `host` (the name sent as SNI) at `addr`.
pub fn tls(host: &str, addr: SocketAddr, timeout: Duration) -> Result<Opened, ConnError> {
    match modern(host, addr, timeout) {
        Ok(o) => Ok(o),
        Err(ConnError::Tls(first)) if refused_version(&first) => legacy(host, addr, timeout, first),
        Err(e) => Err(e),
    }
}

/// The alerts and hang-ups of a server that knows no TLS 1.2.
fn refused_version(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "protocolversion",
        "handshakefailure",
        "unexpected eof",
        "reset",
        "peer",
        "closed",
    ]
    .iter()
    .any(|w| d.contains(w))
}

fn modern(host: &str, addr: SocketAddr, timeout: Duration) -> Result<Opened, ConnError> {
    let client = crate::tls::Client::new(crate::tls::Trust::Nothing)
        .map_err(|e| ConnError::Tls(e.to_string()))?;
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
        Err(_) => rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| ConnError::Tls(format!("{host:?} cannot be sent as a TLS server name")))?,
    };
    let mut sock = tcp(addr, timeout)?;
    let mut conn = rustls::ClientConnection::new(Arc::clone(&client.config), name)
        .map_err(|e| ConnError::Tls(e.to_string()))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| ConnError::Tls(format!("TLS handshake: {e}")))?;
    }
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    };
    Ok(Opened {
        chain: client.take_chain().unwrap_or_default(),
        stream: Box::new(rustls::StreamOwned::new(conn, sock)),
        protocol: protocol.into(),
    })
}

#[cfg(feature = "legacy-tls")]
fn legacy(
    host: &str,
    addr: SocketAddr,
    timeout: Duration,
    first: String,
) -> Result<Opened, ConnError> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
    let fail = |e: &dyn std::fmt::Display| {
        ConnError::Tls(format!("{first}; then TLS 1.0/1.1 through OpenSSL: {e}"))
    };
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| fail(&e))?;
    // For this connection only: TLS 1.0 and the ciphers of 2008 R2, which OpenSSL's
    // default security level refuses. Trust is decided from the recorded chain.
    b.set_security_level(0);
    b.set_cipher_list("DEFAULT:@SECLEVEL=0")
        .map_err(|e| fail(&e))?;
    b.set_min_proto_version(Some(SslVersion::TLS1))
        .map_err(|e| fail(&e))?;
    b.set_verify(SslVerifyMode::NONE);
    let connector = b.build();
    let mut config = connector.configure().map_err(|e| fail(&e))?;
    config.set_verify_hostname(false);
    let sni = host.parse::<std::net::IpAddr>().is_err();
    config.set_use_server_name_indication(sni);
    let sock = tcp(addr, timeout)?;
    let stream = config.connect(host, sock).map_err(|e| fail(&e))?;
    let chain = stream
        .ssl()
        .peer_cert_chain()
        .map(|c| c.iter().filter_map(|x| x.to_der().ok()).collect())
        .unwrap_or_default();
    // The names the fetch engine uses.
    let protocol = match stream.ssl().version_str() {
        "TLSv1" => "TLS 1.0".to_string(),
        "TLSv1.1" => "TLS 1.1".to_string(),
        "TLSv1.2" => "TLS 1.2".to_string(),
        other => other.to_string(),
    };
    Ok(Opened {
        stream: Box::new(stream),
        chain,
        protocol,
    })
}

#[cfg(not(feature = "legacy-tls"))]
fn legacy(_: &str, _: SocketAddr, _: Duration, first: String) -> Result<Opened, ConnError> {
    Err(ConnError::LegacyOnly(format!(
        "{first}: the server seems to speak only TLS 1.0/1.1, and this certgpo was built without the `legacy-tls` feature (OpenSSL) that the exchange needs for it; its certificate is still captured"
    )))
}
