//! `certgpo discover`: every Autodiscover endpoint an Outlook client will reach, read
//! from Active Directory service connection points (SCP) and derived from DNS, in
//! the order Outlook tries them. `discover()` is the entry point; `fetched` captures
//! the certificate of each endpoint.

mod dns;
mod error;
pub mod fetched;
mod ldap;
mod order;
pub mod output;
pub mod site;
pub mod vdir;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::directory;
pub use crate::directory::{Auth, BindMethod, LdapOptions, PASSWORD_ENV, TlsRemedy, TlsTrust};
pub use error::DiscoverError;
pub use fetched::report_targets;

/// `keywords` value of an SCP whose serviceBindingInformation is an Autodiscover URL.
pub const SCP_URL_GUID: &str = "77378F46-2C66-4aa9-A6A6-3E7A48B19596";
/// `keywords` value of an SCP that points to another directory server.
pub const SCP_POINTER_GUID: &str = "67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68";
/// Where an endpoint came from, in the order Outlook consults the sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// An Autodiscover SCP URL in Active Directory.
    Scp,
    /// `https://<domain>/autodiscover/autodiscover.xml`.
    DnsRoot,
    /// `https://autodiscover.<domain>/autodiscover/autodiscover.xml`.
    DnsAutodiscover,
    /// The target of the `_autodiscover._tcp.<domain>` SRV record.
    Srv,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Scp => "scp",
            Source::DnsRoot => "dns-root",
            Source::DnsAutodiscover => "dns-autodiscover",
            Source::Srv => "srv",
        }
    }
}

/// One URL Outlook may try, with the host and port a certificate fetch connects to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// 1-based position in Outlook's order of attempts.
    pub order: usize,
    pub source: Source,
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The SCP's `Site=` keyword.
    pub site: Option<String>,
    /// Distinguished name of the SCP object.
    pub dn: Option<String>,
    /// Distinguished name of the Exchange server object the SCP belongs to.
    pub server: Option<String>,
    /// The directory the SCP was read from.
    pub directory: Option<String>,
    /// Addresses the host resolved to, for DNS candidates; empty when it does not resolve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
}

/// An SCP pointer: another directory server to search for a given domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pointer {
    pub dn: String,
    /// serviceBindingInformation, e.g. `LDAP://dc1.fabrikam.com`.
    pub target: String,
    /// The `Domain=` keyword.
    pub domain: Option<String>,
    pub site: Option<String>,
    /// The directory the pointer was read from.
    pub directory: String,
    /// Whether certgpo searched the target (its `Domain=` matches --domain).
    pub followed: bool,
}

/// One SCP search certgpo ran, so an empty result says what was searched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Search {
    pub directory: String,
    pub base: String,
    pub filter: String,
    pub urls: usize,
    pub pointers: usize,
}

/// Everything `discover` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Discovery {
    /// The client site the SCPs are ordered for: --site, or the one --client-ip is in.
    pub site: Option<String>,
    /// How --client-ip was mapped to a site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_site: Option<site::ClientSite>,
    pub domain: Option<String>,
    pub endpoints: Vec<Endpoint>,
    pub pointers: Vec<Pointer>,
    pub searches: Vec<Search>,
    /// Exchange servers with their virtual directories (listed, not fetched).
    pub servers: Vec<vdir::Server>,
    /// Every host name of `servers`, each once, sorted.
    pub vdir_hosts: Vec<String>,
    pub warnings: Vec<String>,
}

/// What to discover. Build it from a [`Request`] with [`options`].
#[derive(Clone, Debug)]
pub struct Options {
    pub ldap: Option<LdapOptions>,
    /// The email/DNS domain: DNS candidates, and which SCP pointers to follow.
    pub domain: Option<String>,
    /// Derive the DNS candidates of `domain`.
    pub dns: bool,
    pub dns_server: Option<SocketAddr>,
    pub site: Option<String>,
    /// The client's address: its site comes from the directory's subnet objects.
    pub client_ip: Option<IpAddr>,
    pub timeout: Duration,
    /// What reading the request found worth saying before anything else (a private
    /// key skipped in the `--ldap-ca` file).
    pub warnings: Vec<String>,
}

/// What the user asked for, as given (the command line's words, not yet read or checked).
#[derive(Clone, Debug)]
pub struct Request {
    /// The directory to search for SCPs, and how to connect to it.
    pub ldap: Option<directory::Request>,
    pub domain: Option<String>,
    /// `IP[:PORT]` of a DNS server to ask instead of the system resolver.
    pub dns_server: Option<String>,
    pub no_dns: bool,
    pub site: Option<String>,
    pub client_ip: Option<IpAddr>,
    pub timeout: Duration,
}

/// Check a [`Request`] and read what it names: the `--ldap-ca` file and the password.
pub fn options(args: &Request) -> Result<Options, DiscoverError> {
    if args.ldap.is_none() && args.domain.is_none() {
        return Err(DiscoverError::NothingToDo);
    }
    let dns_server = args
        .dns_server
        .as_deref()
        .map(directory::dns::parse_server)
        .transpose()?;
    let mut warnings = Vec::new();
    let ldap = match &args.ldap {
        None => None,
        Some(req) => {
            let (opts, found) = directory::options(req)?;
            warnings.extend(found);
            Some(opts)
        }
    };
    Ok(Options {
        ldap,
        domain: args.domain.clone(),
        dns: args.domain.is_some() && !args.no_dns,
        dns_server,
        site: args.site.clone(),
        client_ip: args.client_ip,
        timeout: args.timeout,
        warnings,
    })
}

/// Find the endpoints, in Outlook's order: SCP URLs (by site), then the DNS candidates.
pub fn discover(opts: &Options) -> Result<Discovery, DiscoverError> {
    let runtime = directory::runtime()?;
    runtime.block_on(discover_async(opts))
}

async fn discover_async(opts: &Options) -> Result<Discovery, DiscoverError> {
    let mut found = Discovery {
        site: opts.site.clone(),
        domain: opts.domain.clone(),
        ..Discovery::default()
    };
    let mut endpoints = Vec::new();
    if let Some(ldap_opts) = &opts.ldap {
        let lookup = ldap::lookup(ldap_opts, opts).await?;
        if lookup.scps.is_empty() {
            let searched = lookup
                .searches
                .iter()
                .map(|s| format!("{} under {} with {}", s.directory, s.base, s.filter))
                .collect::<Vec<_>>()
                .join("; ");
            if !opts.dns {
                return Err(DiscoverError::NoScp { searched });
            }
            found
                .warnings
                .push(format!("no Autodiscover SCP found: searched {searched}"));
        }
        endpoints.extend(lookup.scps);
        // Asked to use a given DNS server, certgpo resolves the SCP hosts there too, so
        // --fetch reaches the servers that DNS names rather than the local resolver's.
        if let Some(server) = opts.dns_server {
            let warnings = dns::resolve_hosts(&mut endpoints, server, opts.timeout).await?;
            found.warnings.extend(warnings);
        }
        found.pointers = lookup.pointers;
        found.searches = lookup.searches;
        found.warnings.extend(lookup.warnings);
        let mut hosts: Vec<String> = lookup
            .servers
            .iter()
            .flat_map(|s| s.hosts.iter().cloned())
            .collect();
        hosts.sort();
        hosts.dedup();
        found.vdir_hosts = hosts;
        found.servers = lookup.servers;
        if let Some(located) = lookup.client_site {
            match (&located.subnet, &located.site) {
                (None, _) => found.warnings.push(format!(
                    "--client-ip {}: no subnet object contains it, so it is in no site; SCPs are ordered as without --site",
                    located.ip
                )),
                (Some(subnet), None) => found.warnings.push(format!(
                    "--client-ip {}: subnet {subnet} names no site (siteObject); SCPs are ordered as without --site",
                    located.ip
                )),
                (Some(_), Some(_)) => {}
            }
            found.site = found.site.clone().or_else(|| located.site.clone());
            found.client_site = Some(located);
        }
        if found.site.is_none()
            && opts.client_ip.is_none()
            && endpoints.iter().any(|e| e.site.is_some())
        {
            found.warnings.push(
                "no --site given: SCPs without a site are listed first; Outlook puts those of its own site before them"
                    .into(),
            );
        }
    }
    if opts.dns
        && let Some(domain) = &opts.domain
    {
        match dns::candidates(domain, opts.dns_server, opts.timeout).await {
            Ok((candidates, warnings)) => {
                endpoints.extend(candidates);
                found.warnings.extend(warnings);
            }
            // The SCPs are what a domain-joined Outlook uses: report them even so.
            Err(e) if !endpoints.is_empty() => found
                .warnings
                .push(format!("{e}; the DNS candidates are left out")),
            Err(e) => return Err(e),
        }
    }
    for (n, e) in endpoints.iter_mut().enumerate() {
        e.order = n + 1;
    }
    found.endpoints = endpoints;
    Ok(found)
}

fn block<T>(
    f: impl std::future::Future<Output = Result<T, DiscoverError>>,
) -> Result<T, DiscoverError> {
    directory::runtime()?.block_on(f)
}

/// The addresses `host` resolves to at `server` (outside an async runtime).
pub fn resolve_at(
    host: &str,
    server: SocketAddr,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DiscoverError> {
    block(async { Ok(crate::directory::dns::resolve(host, server, timeout).await?) })
}

/// The DNS candidates of `domain` in Outlook's order (outside an async runtime), with
/// their warnings.
pub fn dns_candidates(
    domain: &str,
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<(Vec<Endpoint>, Vec<String>), DiscoverError> {
    block(dns::candidates(domain, server, timeout))
}
