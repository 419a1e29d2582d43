//! Name resolution at a given DNS server (`--dns-server`, e.g. a domain controller):
//! the DC's name in its certificate may be known only to the domain's DNS.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};

use super::DirectoryError;

/// `--dns-server IP[:PORT]`; a bare IP means port 53.
pub fn parse_server(text: &str) -> Result<SocketAddr, DirectoryError> {
    text.parse::<SocketAddr>()
        .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| DirectoryError::BadDnsServer {
            server: text.into(),
        })
}

/// A resolver asking `server`, or the system's; it caches nothing.
pub fn resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, DirectoryError> {
    let mut builder = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for conn in &mut ns.connections {
                conn.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(|e| DirectoryError::Resolver {
            detail: format!("cannot read the system resolver configuration: {e}"),
        })?,
    };
    let options = builder.options_mut();
    options.timeout = timeout;
    // Asked of a domain controller, a stale negative answer would hide a record just added.
    options.cache_size = 0;
    builder.build().map_err(|e| DirectoryError::Resolver {
        detail: e.to_string(),
    })
}

/// The addresses `host` resolves to at `server`; empty when the name does not exist.
pub async fn resolve(
    host: &str,
    server: SocketAddr,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DirectoryError> {
    lookup(&resolver(Some(server), timeout)?, host, Some(server)).await
}

/// The addresses `host` resolves to; empty when the name does not exist. `server`
/// only names the resolver's server in an error.
pub async fn lookup(
    resolver: &TokioResolver,
    host: &str,
    server: Option<SocketAddr>,
) -> Result<Vec<IpAddr>, DirectoryError> {
    // A trailing dot keeps search domains from being appended.
    let fqdn = format!("{host}.");
    match resolver.lookup_ip(fqdn.as_str()).await {
        Ok(found) => Ok(found.iter().collect()),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(error(host, server, e)),
    }
}

/// A failed lookup of `name`, naming the server asked.
pub fn error(name: &str, server: Option<SocketAddr>, e: NetError) -> DirectoryError {
    let via = server.map_or_else(|| "the system resolver".to_string(), |s| s.to_string());
    DirectoryError::Dns {
        name: name.trim_end_matches('.').into(),
        detail: format!("{e} (asked {via})"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_server;

    #[test]
    fn dns_server_with_and_without_port() {
        assert_eq!(
            parse_server("127.0.0.9").unwrap().to_string(),
            "127.0.0.9:53"
        );
        assert_eq!(
            parse_server("127.0.0.9:5353").unwrap().to_string(),
            "127.0.0.9:5353"
        );
        assert_eq!(parse_server("[::1]:53").unwrap().to_string(), "[::1]:53");
        assert!(parse_server("dc1.contoso.com").is_err());
    }
}
