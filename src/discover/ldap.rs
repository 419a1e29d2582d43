//! The Active Directory half of discovery: read configurationNamingContext from the
//! rootDSE, search it for Autodiscover service connection points, and follow SCP
//! pointers whose `Domain=` matches the user's domain.
//!
//! The connection itself (TLS only, the bind) is [`crate::directory`]'s.

use std::collections::{HashSet, VecDeque};

use ldap3::{LdapError, Scope, SearchEntry};

use crate::directory::{Connection, check_url, first_value, objects, result_text, values};

use super::{
    DiscoverError, Endpoint, LdapOptions, Options, Pointer, SCP_POINTER_GUID, SCP_URL_GUID, Search,
    Source,
    order::order_scps,
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
    let mut conn = Connection::open(ldap_opts, url, opts.dns_server, opts.timeout).await?;
    let subnets = first && opts.client_ip.is_some();
    let result = search_scps(&mut conn, url, subnets).await;
    conn.close().await;
    result
}

async fn search_scps(
    conn: &mut Connection,
    url: &str,
    subnets: bool,
) -> Result<Directory, DiscoverError> {
    let base = conn
        .root_dse("configurationNamingContext")
        .await?
        .ok_or_else(|| DiscoverError::NoConfigNc { url: url.into() })?;

    let filter = filter();
    let entries = conn
        .search(
            &base,
            Scope::Subtree,
            &filter,
            &["serviceBindingInformation", "keywords"],
            false,
        )
        .await?
        .unwrap_or_default();

    let timeout = conn.timeout();
    let vdir_entries = conn
        .ldap()
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
        Err(e) => return Err(conn.error(&base, false, e).into()),
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
        // A forest without subnets may lack the container: then no subnet matches.
        let found = conn
            .search(
                &subnet_base,
                Scope::OneLevel,
                "(objectClass=subnet)",
                &["cn", "siteObject"],
                true,
            )
            .await?
            .unwrap_or_default();
        Some(
            found
                .into_iter()
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
    for entry in entries {
        classify(entry, url, &mut dir);
    }
    dir.search.urls = dir.scps.len();
    dir.search.pointers = dir.pointers.len();
    Ok(dir)
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
    let rdns = crate::directory::split_dn(dn);
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
}
