//! The Active Directory half of discovery: read configurationNamingContext from the
//! rootDSE, search it for Autodiscover service connection points, and follow SCP
//! pointers whose `Domain=` matches the user's domain.
//!
//! Every connection is TLS: `ldaps://` directly, `ldap://` through StartTLS. A
//! simple bind never travels in plaintext.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, StdStream};

use crate::fetch::target::PORT_RANGE;
use crate::fetch::transport::{Unreached, connect_any, connect_first};
use crate::tls::{self, Trust};

use super::{
    Auth, DiscoverError, Endpoint, LdapOptions, Options, Pointer, SCP_POINTER_GUID, SCP_URL_GUID,
    Search, Source, TlsRemedy, TlsTrust,
    order::order_scps,
    refused,
    site::{self, ClientSite, Subnet},
    vdir::{self, VirtualDirectory},
};

/// Outlook's sample client stops after ten pointer hops; so do we, which also ends loops.
const MAX_HOPS: usize = 10;

/// What the SCP searches found, ordered for Outlook.
#[derive(Default)]
pub struct Lookup {
    pub scps: Vec<Endpoint>,
    pub pointers: Vec<Pointer>,
    pub searches: Vec<Search>,
    pub warnings: Vec<String>,
    /// The Exchange servers' virtual directories, from every directory searched.
    pub servers: Vec<vdir::Server>,
    /// The site `--client-ip` falls in, from the first directory's subnets.
    pub client_site: Option<ClientSite>,
}

pub fn filter() -> String {
    format!(
        "(&(objectClass=serviceConnectionPoint)(|(keywords={SCP_POINTER_GUID})(keywords={SCP_URL_GUID})))"
    )
}

/// Accept only ldap:// and ldaps:// URLs that name a host.
pub fn check_url(url: &str) -> Result<(), DiscoverError> {
    const EXPECTED: &str = "expected ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS)";
    let bad = |detail: &str| DiscoverError::BadUrl {
        url: url.into(),
        detail: detail.into(),
        suggestion: None,
    };
    // A bare HOST[:PORT] is what people type most: say which URL they meant.
    if !url.contains("://")
        && !url.is_empty()
        && url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
    {
        return Err(DiscoverError::BadUrl {
            url: url.into(),
            detail: EXPECTED.into(),
            suggestion: Some(format!("ldaps://{url}")),
        });
    }
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::InvalidPort => bad(PORT_RANGE),
        url::ParseError::RelativeUrlWithoutBase => bad(EXPECTED),
        other => bad(&other.to_string()),
    })?;
    if !matches!(parsed.scheme(), "ldap" | "ldaps") {
        return Err(bad(EXPECTED));
    }
    if parsed.port() == Some(0) {
        return Err(bad(PORT_RANGE));
    }
    match parsed.host_str() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(bad("the URL names no host")),
    }
}

/// Search the directory of `ldap_opts`, then the targets of matching SCP pointers.
/// A failure on the first directory is an error; on a pointer's target, a warning,
/// as Outlook then goes on with what it has.
pub async fn lookup(ldap_opts: &LdapOptions, opts: &Options) -> Result<Lookup, DiscoverError> {
    let mut out = Lookup::default();
    let mut visited = HashSet::new();
    // Each directory's SCPs with the hop count that reached it: Outlook uses what a
    // followed pointer leads to before the local SCPs, so deeper hops come first.
    let mut groups: Vec<(usize, Vec<Endpoint>)> = Vec::new();
    let mut queue = VecDeque::from([(ldap_opts.url.clone(), 0usize)]);
    while let Some((url, hops)) = queue.pop_front() {
        if !visited.insert(url.to_ascii_lowercase()) {
            continue;
        }
        let found = match search_directory(&url, ldap_opts, opts, hops == 0).await {
            Ok(found) => found,
            Err(e) if hops > 0 => {
                out.warnings
                    .push(format!("SCP pointer target skipped: {e}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        out.searches.push(found.search);
        out.warnings.extend(found.warnings);
        let (servers, warnings) = vdir::group(found.vdirs, &url);
        out.servers.extend(servers);
        out.warnings.extend(warnings);
        if let (Some(ip), Some(subnets)) = (opts.client_ip, &found.subnets) {
            let (located, warnings) = site::locate(ip, subnets);
            out.warnings.extend(warnings);
            out.client_site = Some(located);
        }
        for mut pointer in found.pointers {
            // A pointer is followed only when its Domain= keyword equals the domain of the
            // user's address ("Find Autodiscover endpoints by using SCP lookup in Exchange",
            // learn.microsoft.com, as order.rs). The published algorithm has no
            // rule for a pointer without Domain=: it matches no domain, so Outlook never
            // follows it, and neither does certgpo; it is listed, marked as such.
            let matches = match (&pointer.domain, &opts.domain) {
                (Some(d), Some(wanted)) => d.eq_ignore_ascii_case(wanted),
                _ => false,
            };
            if matches {
                match pointer_url(&pointer.target, &ldap_opts.url) {
                    Some(next) if hops + 1 < MAX_HOPS => {
                        pointer.followed = true;
                        queue.push_back((next, hops + 1));
                    }
                    Some(_) => out.warnings.push(format!(
                        "SCP pointer {} not followed: more than {MAX_HOPS} hops",
                        pointer.dn
                    )),
                    None => out.warnings.push(format!(
                        "SCP pointer {}: serviceBindingInformation {:?} is not LDAP://HOST[:PORT]",
                        pointer.dn, pointer.target
                    )),
                }
            }
            out.pointers.push(pointer);
        }
        let mut scps = found.scps;
        // --site, or else the site --client-ip falls in (found in the first directory).
        let client_site = opts
            .site
            .as_deref()
            .or(out.client_site.as_ref().and_then(|c| c.site.as_deref()));
        order_scps(&mut scps, client_site);
        groups.push((hops, scps));
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.0));
    out.scps = groups.into_iter().flat_map(|(_, scps)| scps).collect();
    Ok(out)
}

/// Turn a pointer's `LDAP://host[:port][/dn]` into a URL with the scheme the user
/// chose, so a followed pointer is as protected as the first connection.
fn pointer_url(target: &str, first_url: &str) -> Option<String> {
    let prefix = target.get(..7)?;
    if !prefix.eq_ignore_ascii_case("ldap://") {
        return None;
    }
    let hostport = target[7..].split('/').next()?;
    if hostport.is_empty() {
        return None;
    }
    let scheme = if first_url.to_ascii_lowercase().starts_with("ldaps:") {
        "ldaps"
    } else {
        "ldap"
    };
    let url = format!("{scheme}://{hostport}");
    check_url(&url).ok().map(|_| url)
}

struct Directory {
    search: Search,
    scps: Vec<Endpoint>,
    pointers: Vec<Pointer>,
    warnings: Vec<String>,
    vdirs: Vec<VirtualDirectory>,
    /// The subnet objects, read only from the first directory and only with --client-ip.
    subnets: Option<Vec<Subnet>>,
}

async fn search_directory(
    url: &str,
    ldap_opts: &LdapOptions,
    opts: &Options,
    first: bool,
) -> Result<Directory, DiscoverError> {
    let mut ldap = connect(url, &ldap_opts.trust, opts).await?;
    bind(&mut ldap, url, &ldap_opts.auth, opts.timeout).await?;
    let subnets = first && opts.client_ip.is_some();
    let result = search_scps(&mut ldap, url, &ldap_opts.auth, opts.timeout, subnets).await;
    // The search result is what matters; a failed unbind changes nothing.
    let _ = ldap.unbind().await;
    result
}

async fn connect(url: &str, trust: &TlsTrust, opts: &Options) -> Result<Ldap, DiscoverError> {
    let starttls = url.to_ascii_lowercase().starts_with("ldap:");
    let client = tls_client(trust)?;
    let tcp = tcp_connect(url, opts.dns_server, opts.timeout).await?;
    let settings = LdapConnSettings::new()
        .set_conn_timeout(opts.timeout)
        .set_starttls(starttls)
        .set_config(client.config.clone())
        .set_std_stream(StdStream::Tcp(tcp));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .map_err(|e| {
            let failed = Failed {
                url,
                starttls,
                timeout: opts.timeout,
                trust,
                chain: client.take_chain(),
            };
            connect_error(failed, e)
        })?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// The TLS client for `trust`. Built here rather than left to ldap3, which would load
/// and parse the system trust store even for `--ldap-insecure`, only to ignore it.
fn tls_client(trust: &TlsTrust) -> Result<tls::Client, DiscoverError> {
    let (trust, file) = match trust {
        TlsTrust::System => (Trust::System, None),
        TlsTrust::Insecure => (Trust::Nothing, None),
        TlsTrust::Cas { file, ders } => (Trust::Cas(ders), Some(file)),
    };
    tls::Client::new(trust).map_err(|e| match (e, file) {
        (e @ tls::TlsError::Anchor { .. }, Some(file)) => DiscoverError::CaFile {
            path: file.clone(),
            detail: e.to_string(),
        },
        (e, _) => DiscoverError::TlsSetup(e),
    })
}

/// Our own TCP connection, so that it can have TCP_NODELAY: the TLS handshake's last
/// flight and the first request are separate small writes, and with Nagle the second
/// waits for the server's delayed ACK (40 ms on Linux) before every search.
async fn tcp_connect(
    url: &str,
    dns_server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<std::net::TcpStream, DiscoverError> {
    let unreachable = |detail: String| DiscoverError::Unreachable {
        url: url.into(),
        detail,
    };
    let parsed = url::Url::parse(url).map_err(|e| unreachable(e.to_string()))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let default_port = if parsed.scheme() == "ldaps" { 636 } else { 389 };
    let port = parsed.port().unwrap_or(default_port);
    let connected = match (host.parse::<IpAddr>(), dns_server) {
        (Ok(ip), _) => connect_first(&[SocketAddr::new(ip, port)], timeout).await,
        // Asked to use a given DNS server, certgpo finds the DC there too: the name in
        // its certificate may be known only to the domain's DNS.
        (Err(_), Some(server)) => {
            let addrs: Vec<SocketAddr> = super::dns::resolve(&host, server, timeout)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            if addrs.is_empty() {
                return Err(unreachable(format!("{host} does not resolve at {server}")));
            }
            connect_first(&addrs, timeout).await
        }
        (Err(_), None) => connect_any(&host, port, timeout).await,
    };
    let stream = connected.map_err(|e| match e {
        Unreached::Timeout(..) => unreachable(format!("no answer within {} s", timeout.as_secs())),
        other => unreachable(other.describe(&host)),
    })?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.into_std())
        .map_err(|e| unreachable(e.to_string()))
}

/// What `connect_error` needs to know about the connection that failed.
struct Failed<'a> {
    url: &'a str,
    starttls: bool,
    timeout: Duration,
    trust: &'a TlsTrust,
    /// The chain the server presented, if the handshake got that far.
    chain: Option<Vec<Vec<u8>>>,
}

fn connect_error(f: Failed, e: LdapError) -> DiscoverError {
    let url = f.url.to_string();
    match e {
        LdapError::Io { source } => {
            let tls = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            match tls {
                Some(rustls::Error::InvalidCertificate(problem)) => {
                    refused::refusal(&url, problem, f.chain.as_deref().unwrap_or(&[]), f.trust)
                }
                Some(other) => DiscoverError::Tls {
                    url,
                    detail: other.to_string(),
                    remedy: TlsRemedy::Other,
                },
                // The TCP connection was made, so an early close is the TLS handshake failing.
                None if matches!(
                    source.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
                {
                    DiscoverError::Tls {
                        url,
                        detail: format!(
                            "{source} during the handshake (does the server speak TLS on this port?)"
                        ),
                        remedy: TlsRemedy::Other,
                    }
                }
                None => DiscoverError::Unreachable {
                    url,
                    detail: source.to_string(),
                },
            }
        }
        LdapError::Timeout { .. } => DiscoverError::Unreachable {
            url,
            detail: format!("no answer within {} s", f.timeout.as_secs()),
        },
        LdapError::LdapResult { result } if f.starttls => DiscoverError::StartTls {
            url,
            detail: result_text(&result),
        },
        LdapError::DNSName { source } => DiscoverError::BadUrl {
            url,
            detail: format!("not a valid TLS server name: {source}"),
            suggestion: None,
        },
        LdapError::UrlParsing { source } => DiscoverError::BadUrl {
            url,
            detail: source.to_string(),
            suggestion: None,
        },
        other => DiscoverError::Unreachable {
            url,
            detail: other.to_string(),
        },
    }
}

async fn bind(
    ldap: &mut Ldap,
    url: &str,
    auth: &Auth,
    timeout: Duration,
) -> Result<(), DiscoverError> {
    match auth {
        Auth::Anonymous => Ok(()),
        Auth::Simple { user, password } => {
            let result = ldap
                .with_timeout(timeout)
                .simple_bind(user, password)
                .await
                .and_then(|r| r.success());
            match result {
                Ok(_) => Ok(()),
                Err(LdapError::LdapResult { result }) if matches!(result.rc, 8 | 13) => {
                    Err(DiscoverError::StrongAuth {
                        url: url.into(),
                        detail: result_text(&result),
                    })
                }
                Err(LdapError::LdapResult { result }) => Err(DiscoverError::BindRefused {
                    url: url.into(),
                    user: user.clone(),
                    detail: result_text(&result),
                }),
                // The simple bind is the first request on the connection.
                Err(e) => Err(op_error(url, timeout, true, e)),
            }
        }
        Auth::Kerberos => kerberos_bind(ldap, url).await,
    }
}

#[cfg(feature = "kerberos")]
async fn kerberos_bind(ldap: &mut Ldap, url: &str) -> Result<(), DiscoverError> {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    ldap.sasl_gssapi_bind(&host)
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| DiscoverError::Kerberos {
            url: url.into(),
            detail: match e {
                LdapError::LdapResult { result } => result_text(&result),
                other => other.to_string(),
            },
        })
}

/// `options` refuses `--bind kerberos` in this build before any connection; this
/// keeps [`Auth::Kerberos`] from binding anonymously should it get here all the same.
#[cfg(not(feature = "kerberos"))]
async fn kerberos_bind(_: &mut Ldap, _: &str) -> Result<(), DiscoverError> {
    Err(DiscoverError::KerberosNotBuilt)
}

async fn search_scps(
    ldap: &mut Ldap,
    url: &str,
    auth: &Auth,
    timeout: Duration,
    subnets: bool,
) -> Result<Directory, DiscoverError> {
    let search_err = |base: &str, first: bool, e: LdapError| match e {
        LdapError::LdapResult { result } if matches!(result.rc, 8 | 13) => {
            DiscoverError::StrongAuth {
                url: url.into(),
                detail: result_text(&result),
            }
        }
        LdapError::LdapResult { result }
            if matches!(auth, Auth::Anonymous) && matches!(result.rc, 1 | 48 | 50) =>
        {
            DiscoverError::AnonymousRefused {
                url: url.into(),
                base: base.into(),
                detail: result_text(&result),
            }
        }
        LdapError::LdapResult { result } => DiscoverError::Search {
            url: url.into(),
            base: base.into(),
            detail: result_text(&result),
        },
        other => op_error(url, timeout, first, other),
    };

    let (entries, _) = ldap
        .with_timeout(timeout)
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["configurationNamingContext"],
        )
        .await
        .and_then(|r| r.success())
        // Without a bind, reading the rootDSE is the first request.
        .map_err(|e| search_err("the rootDSE", matches!(auth, Auth::Anonymous), e))?;
    let base = objects(entries)
        .find_map(|e| first_value(&e, "configurationNamingContext").map(str::to_string))
        .ok_or_else(|| DiscoverError::NoConfigNc { url: url.into() })?;

    let filter = filter();
    let (entries, _) = ldap
        .with_timeout(timeout)
        .search(
            &base,
            Scope::Subtree,
            &filter,
            vec!["serviceBindingInformation", "keywords"],
        )
        .await
        .and_then(|r| r.non_error())
        .map_err(|e| search_err(&base, false, e))?;

    let vdir_entries = ldap
        .with_timeout(timeout)
        .search(
            &base,
            Scope::Subtree,
            &vdir::filter(),
            vec!["objectClass", vdir::INTERNAL, vdir::EXTERNAL],
        )
        .await
        .and_then(|r| r.non_error());
    let mut warnings = Vec::new();
    let vdir_entries = match vdir_entries {
        Ok((entries, _)) => entries,
        // The SCPs are what this command is for: a directory that refuses this search
        // (one without Exchange's schema may answer so) still gives them.
        Err(LdapError::LdapResult { result }) => {
            warnings.push(format!(
                "{url}: the Exchange virtual directories were not read: {}",
                result_text(&result)
            ));
            Vec::new()
        }
        Err(e) => return Err(search_err(&base, false, e)),
    };
    let vdirs = objects(vdir_entries)
        .filter_map(|e| {
            Some(VirtualDirectory {
                kind: vdir::Kind::of_classes(values(&e, "objectClass"))?,
                internal: values(&e, vdir::INTERNAL).to_vec(),
                external: values(&e, vdir::EXTERNAL).to_vec(),
                dn: e.dn,
            })
        })
        .collect();

    let subnets = if subnets {
        // MS-ADTS 6.1.1.2.2.2: the subnets container of the configuration NC.
        let subnet_base = format!("CN=Subnets,CN=Sites,{base}");
        let found = ldap
            .with_timeout(timeout)
            .search(
                &subnet_base,
                Scope::OneLevel,
                "(objectClass=subnet)",
                vec!["cn", "siteObject"],
            )
            .await
            .and_then(|r| r.non_error());
        let found = match found {
            Ok((entries, _)) => entries,
            // A forest without subnets may lack the container: then no subnet matches.
            Err(LdapError::LdapResult { result }) if result.rc == 32 => Vec::new(),
            Err(e) => return Err(search_err(&subnet_base, false, e)),
        };
        Some(
            objects(found)
                .filter_map(|e| {
                    Some(Subnet {
                        prefix: first_value(&e, "cn")?.to_string(),
                        site_dn: first_value(&e, "siteObject").map(str::to_string),
                    })
                })
                .collect(),
        )
    } else {
        None
    };

    let mut dir = Directory {
        search: Search {
            directory: url.into(),
            base,
            filter,
            urls: 0,
            pointers: 0,
        },
        scps: Vec::new(),
        pointers: Vec::new(),
        warnings,
        vdirs,
        subnets,
    };
    for entry in objects(entries) {
        classify(entry, url, &mut dir);
    }
    dir.search.urls = dir.scps.len();
    dir.search.pointers = dir.pointers.len();
    Ok(dir)
}

/// The entries of a search result. Samba returns continuation references alongside
/// the entries; Outlook ignores them, and so do we.
fn objects(entries: Vec<ldap3::ResultEntry>) -> impl Iterator<Item = SearchEntry> {
    entries
        .into_iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
        .map(SearchEntry::construct)
}

/// Sort one SCP into a URL endpoint or a pointer, by its keywords.
fn classify(entry: SearchEntry, directory: &str, dir: &mut Directory) {
    let keywords = values(&entry, "keywords");
    let keyword = |prefix: &str| {
        keywords.iter().find_map(|k| {
            k.get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .map(|_| k[prefix.len()..].to_string())
        })
    };
    let has = |guid: &str| keywords.iter().any(|k| k.eq_ignore_ascii_case(guid));
    let site = keyword("Site=");
    let bindings = values(&entry, "serviceBindingInformation");
    if has(SCP_POINTER_GUID) {
        for target in bindings {
            dir.pointers.push(Pointer {
                dn: entry.dn.clone(),
                target: target.clone(),
                domain: keyword("Domain="),
                site: site.clone(),
                directory: directory.into(),
                followed: false,
            });
        }
    }
    if has(SCP_URL_GUID) {
        for binding in bindings {
            match http_host(binding) {
                Some((host, port)) => dir.scps.push(Endpoint {
                    order: 0,
                    source: Source::Scp,
                    url: binding.clone(),
                    host,
                    port,
                    site: site.clone(),
                    dn: Some(entry.dn.clone()),
                    server: server_dn(&entry.dn),
                    directory: Some(directory.into()),
                    addresses: None,
                }),
                None => dir.warnings.push(format!(
                    "SCP {}: serviceBindingInformation {binding:?} is not an http(s) URL",
                    entry.dn
                )),
            }
        }
    }
}

/// Host and port a certificate fetch connects to for an Autodiscover URL.
pub fn http_host(url: &str) -> Option<(String, u16)> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let host = parsed.host_str()?.trim_matches(['[', ']']).to_string();
    Some((host, parsed.port_or_known_default()?))
}

/// Exchange puts the SCP at CN=<cas>,CN=Autodiscover,CN=Protocols,<server object>;
/// the server object is what an admin recognises.
fn server_dn(dn: &str) -> Option<String> {
    server_of(dn, "Autodiscover")
}

/// The server object of `CN=<x>,CN=<protocol>,CN=Protocols,<server object>`.
pub(super) fn server_of(dn: &str, protocol: &str) -> Option<String> {
    let rdns = split_dn(dn);
    let is = |i: usize, name: &str| {
        rdns.get(i)
            .is_some_and(|r| r.eq_ignore_ascii_case(&format!("CN={name}")))
    };
    if is(1, protocol) && is(2, "Protocols") && rdns.len() > 3 {
        Some(rdns[3..].join(","))
    } else {
        None
    }
}

/// Split a DN at the commas that separate RDNs, keeping escaped ones (`\,`).
pub(super) fn split_dn(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(dn[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(dn[start..].trim());
    out
}

fn values<'a>(entry: &'a SearchEntry, name: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

fn first_value<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    values(entry, name).first().map(String::as_str)
}

/// A request that got no LDAP result. `first`: it was the first request on the
/// connection, so a connection closed then was made (TCP and TLS are up) to a port
/// that does not speak LDAP.
fn op_error(url: &str, timeout: Duration, first: bool, e: LdapError) -> DiscoverError {
    match e {
        LdapError::Timeout { .. } => DiscoverError::Unreachable {
            url: url.into(),
            detail: format!("no answer within {} s", timeout.as_secs()),
        },
        // The ways ldap3 reports the connection ending under a pending request.
        LdapError::EndOfStream | LdapError::ResultRecv { .. } | LdapError::OpSend { .. }
            if first =>
        {
            DiscoverError::NotLdap { url: url.into() }
        }
        other => DiscoverError::Unreachable {
            url: url.into(),
            detail: format!("connection lost: {other}"),
        },
    }
}

/// An LDAP result as an admin reads it, with AD's "data 52e"-style sub-code explained.
fn result_text(result: &ldap3::LdapResult) -> String {
    let name = match result.rc {
        1 => "operationsError",
        8 => "strongerAuthRequired",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        52 => "unavailable",
        53 => "unwillingToPerform",
        2 => "protocolError",
        _ => "error",
    };
    let mut text = format!("{name} (LDAP {})", result.rc);
    let diag = result.text.trim_end_matches('\0').trim();
    if !diag.is_empty() {
        text.push_str(": ");
        text.push_str(diag);
    }
    if let Some(meaning) = ad_data_code(diag) {
        text.push_str(&format!(" ({meaning})"));
    }
    text
}

/// The `data NNN` code AD appends to bind failures.
fn ad_data_code(diag: &str) -> Option<&'static str> {
    let rest = &diag[diag.find("data ")? + 5..];
    let code: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    Some(match code.to_ascii_lowercase().as_str() {
        "525" => "no such user",
        "52e" => "wrong password",
        "530" => "logon not permitted at this time",
        "531" => "logon not permitted at this workstation",
        "532" => "password expired",
        "533" => "account disabled",
        "701" => "account expired",
        "773" => "password must be reset",
        "775" => "account locked out",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_object_of_an_exchange_scp() {
        let dn = "CN=EX2010,CN=Autodiscover,CN=Protocols,CN=EX2010,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),DC=x";
        assert_eq!(
            server_dn(dn).as_deref(),
            Some("CN=EX2010,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),DC=x")
        );
        assert_eq!(server_dn("CN=a,CN=b"), None);
        assert_eq!(split_dn(r"CN=a\,b,DC=x"), vec![r"CN=a\,b", "DC=x"]);
    }

    #[test]
    fn pointers_keep_the_chosen_transport() {
        assert_eq!(
            pointer_url("LDAP://dc2.fabrikam.com", "ldaps://dc1").as_deref(),
            Some("ldaps://dc2.fabrikam.com")
        );
        assert_eq!(
            pointer_url("ldap://127.0.0.1:1389/CN=x", "ldap://dc1").as_deref(),
            Some("ldap://127.0.0.1:1389")
        );
        assert_eq!(pointer_url("https://x/", "ldap://dc1"), None);
        assert_eq!(pointer_url("LDAP://", "ldap://dc1"), None);
        assert_eq!(pointer_url("LDAP", "ldap://dc1"), None);
    }

    #[test]
    fn autodiscover_urls_give_host_and_port() {
        assert_eq!(
            http_host("https://ex.contoso.com/Autodiscover/Autodiscover.xml"),
            Some(("ex.contoso.com".into(), 443))
        );
        assert_eq!(
            http_host("https://[::1]:8443/a"),
            Some(("::1".into(), 8443))
        );
        assert_eq!(http_host("ldap://x"), None);
        assert_eq!(http_host("not a url"), None);
    }

    #[test]
    fn ad_bind_sub_codes() {
        let diag = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
        assert_eq!(ad_data_code(diag), Some("wrong password"));
        assert_eq!(ad_data_code("data 775, v"), Some("account locked out"));
        assert_eq!(ad_data_code("no code"), None);
    }
}
