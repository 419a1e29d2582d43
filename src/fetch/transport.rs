//! Opening the TCP connection: directly (each resolved address gets its own connect
//! timeout, so a dead AAAA record cannot eat the budget) or through an HTTP CONNECT
//! proxy given with `--proxy`. Proxy environment variables are deliberately ignored:
//! sending internal names to an Internet proxy is wrong here, and a TLS-inspecting
//! proxy would hand us its own interception CA to distribute.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::raw::Step;
use super::starttls::read_line;
use super::target::Target;
use super::{FetchError, Stage};

/// An HTTP CONNECT proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
}

impl Proxy {
    pub fn parse(url: &str) -> Result<Proxy, FetchError> {
        let bad = |why: &str| FetchError::Usage(format!("--proxy {url:?}: {why}"));
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(bad("only http:// (HTTP CONNECT) proxies are supported"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('@') {
            return Err(bad("proxy authentication is not supported"));
        }
        // Reuse target parsing for host/port syntax; the scheme's port is meaningless here.
        let t = Target::parse(authority).map_err(|e| bad(&e.to_string()))?;
        if !authority.contains(':') || authority.ends_with(']') {
            return Err(bad("give the proxy port, e.g. http://proxy.example:3128"));
        }
        Ok(Proxy {
            host: t.host_str(),
            port: t.port,
        })
    }
}

async fn connect_any(host: &str, port: u16, connect_timeout: Duration) -> Step<TcpStream> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| (Stage::Connect, format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = format!("{host} resolved to no address");
    for addr in addrs {
        match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = format!("connecting to {addr} failed: {e}"),
            Err(_) => {
                last = format!(
                    "connecting to {addr} timed out after {} (--connect-timeout)",
                    super::show_duration(connect_timeout)
                )
            }
        }
    }
    Err((Stage::Connect, last))
}

/// A connected stream positioned where the service's own protocol begins.
pub async fn open(
    target: &Target,
    proxy: Option<&Proxy>,
    connect_timeout: Duration,
) -> Step<BufReader<TcpStream>> {
    let Some(proxy) = proxy else {
        let s = connect_any(&target.host_str(), target.port, connect_timeout).await?;
        return Ok(BufReader::new(s));
    };
    let s = connect_any(&proxy.host, proxy.port, connect_timeout)
        .await
        .map_err(|(_, d)| (Stage::Proxy, format!("proxy: {d}")))?;
    let mut s = BufReader::new(s);
    // The host name, not an address, goes to the proxy so that it resolves internal names.
    let authority = target.authority();
    let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    s.get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(|e| {
            (
                Stage::Proxy,
                format!("sending CONNECT to the proxy failed: {e}"),
            )
        })?;
    let status = read_line(&mut s, Stage::Proxy).await?;
    let ok = status
        .split_whitespace()
        .nth(1)
        .is_some_and(|c| c.starts_with('2'));
    for _ in 0..100 {
        if read_line(&mut s, Stage::Proxy).await?.is_empty() {
            if !ok {
                let hint = if target.port != 443 {
                    " (proxies often allow CONNECT to port 443 only)"
                } else {
                    ""
                };
                return Err((
                    Stage::Proxy,
                    format!(
                        "the proxy refused CONNECT {authority}: {}{hint}",
                        super::show_text(status.as_bytes())
                    ),
                ));
            }
            return Ok(s);
        }
    }
    Err((
        Stage::Proxy,
        "the proxy's reply has too many header lines".into(),
    ))
}
