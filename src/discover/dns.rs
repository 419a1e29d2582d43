//! The DNS half of discovery: the URLs a non-domain-joined Outlook derives from the
//! email domain (MS-OXDISCO 3.1.5), with the addresses each name resolves to.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;

use crate::directory::dns::{error as dns_error, lookup, resolver};

use super::{DiscoverError, Endpoint, Source};

/// `https://<domain>/…`, `https://autodiscover.<domain>/…`, then the SRV targets, in
/// Outlook's order. Names that do not resolve stay in the list with no address, so
/// the admin sees every URL Outlook would try; the warnings say which.
pub async fn candidates(
    domain: &str,
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(Vec<Endpoint>, Vec<String>), DiscoverError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let resolver = resolver(server, timeout)?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (source, host) in [
        (Source::DnsRoot, domain.clone()),
        (Source::DnsAutodiscover, format!("autodiscover.{domain}")),
    ] {
        let addresses = addresses(&resolver, &host, server).await?;
        if addresses.is_empty() {
            warnings.push(format!("{host} does not resolve; Outlook skips it"));
        }
        out.push(endpoint(
            source,
            format!("https://{host}/autodiscover/autodiscover.xml"),
            host,
            443,
            addresses,
        ));
    }

    let srv_name = format!("_autodiscover._tcp.{domain}.");
    let mut targets = match resolver.srv_lookup(srv_name.as_str()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some((
                    srv.priority,
                    std::cmp::Reverse(srv.weight),
                    srv.target
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                    srv.port,
                )),
                _ => None,
            })
            .collect::<Vec<_>>(),
        Err(e) if e.is_no_records_found() => {
            warnings.push(format!("no SRV record {}", srv_name.trim_end_matches('.')));
            Vec::new()
        }
        Err(e) => return Err(dns_error(&srv_name, server, e).into()),
    };
    // Lowest priority first, then the heaviest weight (RFC 2782); the rest keeps it stable.
    targets.sort();
    targets.dedup();
    for (_, _, target, port) in targets {
        if target.is_empty() {
            continue;
        }
        let addresses = addresses(&resolver, &target, server).await?;
        let url = if port == 443 {
            format!("https://{target}/Autodiscover/Autodiscover.xml")
        } else {
            format!("https://{target}:{port}/Autodiscover/Autodiscover.xml")
        };
        out.push(endpoint(Source::Srv, url, target, port, addresses));
    }
    Ok((out, warnings))
}

/// Fill in the addresses of endpoints that have none yet (the SCP hosts), asking `server`.
pub async fn resolve_hosts(
    endpoints: &mut [Endpoint],
    server: SocketAddr,
    timeout: Duration,
) -> Result<Vec<String>, DiscoverError> {
    let resolver = resolver(Some(server), timeout)?;
    let mut warnings = Vec::new();
    for e in endpoints.iter_mut().filter(|e| e.addresses.is_none()) {
        if e.host.parse::<IpAddr>().is_ok() {
            e.addresses = Some(vec![e.host.clone()]);
            continue;
        }
        match addresses(&resolver, &e.host, Some(server)).await {
            Ok(list) => {
                if list.is_empty() {
                    warnings.push(format!("{} does not resolve at {server}", e.host));
                }
                e.addresses = Some(list);
            }
            Err(err) => warnings.push(err.to_string()),
        }
    }
    Ok(warnings)
}

fn endpoint(
    source: Source,
    url: String,
    host: String,
    port: u16,
    addresses: Vec<String>,
) -> Endpoint {
    Endpoint {
        order: 0,
        source,
        url,
        host,
        port,
        site: None,
        dn: None,
        server: None,
        directory: None,
        addresses: Some(addresses),
    }
}

/// The addresses `host` resolves to, sorted; empty when the name does not exist.
async fn addresses(
    resolver: &TokioResolver,
    host: &str,
    server: Option<SocketAddr>,
) -> Result<Vec<String>, DiscoverError> {
    let mut list: Vec<String> = lookup(resolver, host, server)
        .await?
        .iter()
        .map(IpAddr::to_string)
        .collect();
    list.sort();
    list.dedup();
    Ok(list)
}
