//! Opening the TCP connection: directly (each resolved address gets its own connect
//! timeout, so a dead AAAA record cannot eat the budget; `discover` connects to its
//! domain controllers the same way) or through an HTTP CONNECT
//! proxy given with `--proxy`. Proxy environment variables are deliberately ignored:
//! sending internal names to an Internet proxy is wrong here, and a TLS-inspecting
//! proxy would hand us its own interception CA to distribute.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
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

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

/// Why no TCP connection was made.
#[derive(Debug)]
pub enum Unreached {
    Resolve(std::io::Error),
    NoAddress,
    /// Refused by this address: nothing listens there, or a firewall rejects.
    Refused(SocketAddr),
    Timeout(SocketAddr, Duration),
    Failed(SocketAddr, std::io::Error),
}

impl Unreached {
    /// In words, for a connection to `host` (a name or an IP address literal).
    pub fn describe(&self, host: &str) -> String {
        match self {
            Unreached::Resolve(e) => format!("cannot resolve {host}: {e}"),
            Unreached::NoAddress => format!("{host} resolved to no address"),
            // The address adds nothing when the user typed it.
            Unreached::Refused(_) if host.parse::<IpAddr>().is_ok() => {
                "connection refused (nothing listens there)".into()
            }
            Unreached::Refused(addr) => {
                format!("connection refused by {addr} (nothing listens there)")
            }
            Unreached::Timeout(addr, after) => format!(
                "connecting to {addr} timed out after {} (--connect-timeout)",
                super::show_duration(*after)
            ),
            Unreached::Failed(addr, e) => format!("connecting to {addr} failed: {e}"),
        }
    }
}

/// Connect to `host` (resolved by the system) on `port`.
pub async fn connect_any(
    host: &str,
    port: u16,
    connect_timeout: Duration,
) -> Result<TcpStream, Unreached> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(Unreached::Resolve)?
        .collect();
    connect_first(&addrs, connect_timeout).await
}

/// Connect to the first of `addrs` that answers, each within its own
/// `connect_timeout` so that a dead address cannot eat the budget of the next.
pub async fn connect_first(
    addrs: &[SocketAddr],
    connect_timeout: Duration,
) -> Result<TcpStream, Unreached> {
    let mut last = Unreached::NoAddress;
    for &addr in addrs {
        match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Unreached::Refused(addr)
            }
            Ok(Err(e)) => last = Unreached::Failed(addr, e),
            Err(_) => last = Unreached::Timeout(addr, connect_timeout),
        }
    }
    Err(last)
}

/// A connected stream positioned where the service's own protocol begins.
pub async fn open(
    target: &Target,
    proxy: Option<&Proxy>,
    connect_timeout: Duration,
) -> Step<BufReader<TcpStream>> {
    let Some(proxy) = proxy else {
        let host = target.host_str();
        let s = connect_any(&host, target.port, connect_timeout)
            .await
            .map_err(|e| (Stage::Connect, e.describe(&host)))?;
        return Ok(BufReader::new(s));
    };
    let s = connect_any(&proxy.host, proxy.port, connect_timeout)
        .await
        .map_err(|e| {
            let detail = match e {
                Unreached::Refused(_) => format!("the proxy {proxy} refused the connection"),
                other => format!("the proxy {proxy}: {}", other.describe(&proxy.host)),
            };
            (Stage::Proxy, detail)
        })?;
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
