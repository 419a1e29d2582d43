//! Exchange virtual directories: the objects Exchange keeps under each server's
//! `CN=HTTP,CN=Protocols,<server object>` (e.g. `CN=EWS (Default Web Site),CN=HTTP,...`),
//! one per IIS virtual directory, with object classes `top`, `msExchVirtualDirectory`
//! and one class per service (Exchange Server Active Directory schema reference,
//! "Exchange Server Active Directory schema changes" on learn.microsoft.com; the
//! classes are the `ObjectClass` that `Get-*VirtualDirectory` shows).
//!
//! The URLs an admin sets with `Set-*VirtualDirectory -InternalUrl/-ExternalUrl` are
//! stored in `msExchInternalHostName` and `msExchExternalHostName`. Outlook Anywhere
//! (`msExchRpcHttpVirtualDirectory`) keeps its `InternalHostname`/`ExternalHostname`
//! in the same two attributes as bare host names, not URLs: both forms are accepted.
//! These are the host names Exchange hands out in Autodiscover responses, so each
//! needs a certificate the client trusts.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ldap::{http_host, server_of};
use crate::directory::split_dn;

/// The service of a virtual directory, by its most specific object class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Autodiscover,
    Ews,
    Oab,
    Owa,
    Ecp,
    Activesync,
    OutlookAnywhere,
    Mapi,
}

/// Each kind with its object class.
pub const CLASSES: [(Kind, &str); 8] = [
    (Kind::Autodiscover, "msExchAutoDiscoverVirtualDirectory"),
    (Kind::Ews, "msExchWebServicesVirtualDirectory"),
    (Kind::Oab, "msExchOABVirtualDirectory"),
    (Kind::Owa, "msExchOWAVirtualDirectory"),
    (Kind::Ecp, "msExchECPVirtualDirectory"),
    (Kind::Activesync, "msExchMobileVirtualDirectory"),
    (Kind::OutlookAnywhere, "msExchRpcHttpVirtualDirectory"),
    (Kind::Mapi, "msExchMapiVirtualDirectory"),
];

pub const INTERNAL: &str = "msExchInternalHostName";
pub const EXTERNAL: &str = "msExchExternalHostName";

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Autodiscover => "Autodiscover",
            Kind::Ews => "EWS",
            Kind::Oab => "OAB",
            Kind::Owa => "OWA",
            Kind::Ecp => "ECP",
            Kind::Activesync => "ActiveSync",
            Kind::OutlookAnywhere => "Outlook Anywhere",
            Kind::Mapi => "MAPI",
        }
    }

    /// The kind named by one of an object's `objectClass` values.
    pub fn of_classes(classes: &[String]) -> Option<Kind> {
        CLASSES.iter().find_map(|(kind, class)| {
            classes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(class))
                .then_some(*kind)
        })
    }
}

/// The LDAP filter for every virtual directory class.
pub fn filter() -> String {
    let classes: String = CLASSES
        .iter()
        .map(|(_, class)| format!("(objectClass={class})"))
        .collect();
    format!("(|{classes})")
}

/// One virtual directory object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualDirectory {
    pub kind: Kind,
    /// The object's DN, e.g. `CN=EWS (Default Web Site),CN=HTTP,CN=Protocols,...`.
    pub dn: String,
    /// `msExchInternalHostName` values, as stored.
    pub internal: Vec<String>,
    /// `msExchExternalHostName` values, as stored.
    pub external: Vec<String>,
}

impl VirtualDirectory {
    /// The value of the first RDN, e.g. `EWS (Default Web Site)`: the server is shown above it.
    pub fn name(&self) -> &str {
        let first = split_dn(&self.dn).into_iter().next().unwrap_or_default();
        first
            .split_once('=')
            .map_or(first, |(_, value)| value.trim())
    }
}

/// The virtual directories of one Exchange server and the host names they hand out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Server {
    /// The server object's DN (the vdir's DN without `CN=<vdir>,CN=HTTP,CN=Protocols`).
    pub server: String,
    /// The directory the objects were read from.
    pub directory: String,
    pub virtual_directories: Vec<VirtualDirectory>,
    /// Every host name in those URLs, lower-case, each once, sorted.
    pub hosts: Vec<String>,
}

/// The host of a stored value: a URL's host, or the value itself when it is a bare
/// host name (Outlook Anywhere); `None` for anything else.
pub fn host_of(value: &str) -> Option<String> {
    if value.contains("://") {
        return http_host(value).map(|(host, _)| host.to_ascii_lowercase());
    }
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    ok.then(|| value.to_ascii_lowercase())
}

/// The server object of a virtual directory DN: the part after `CN=HTTP,CN=Protocols`.
pub fn server_dn(dn: &str) -> Option<String> {
    server_of(dn, "HTTP")
}

/// Group virtual directories by server, ordered by server DN then kind then DN, with
/// each server's hosts once; values that are neither URL nor host name are warned of.
/// A virtual directory outside a server's `CN=HTTP,CN=Protocols` is grouped under its
/// own parent DN.
pub fn group(found: Vec<VirtualDirectory>, directory: &str) -> (Vec<Server>, Vec<String>) {
    let mut warnings = Vec::new();
    // Keyed by the lower-case DN, as DNs compare case-insensitively; the first spelling is shown.
    let mut by_server: BTreeMap<String, (String, Vec<VirtualDirectory>)> = BTreeMap::new();
    for v in found {
        let server = server_dn(&v.dn).unwrap_or_else(|| split_dn(&v.dn)[1..].join(","));
        by_server
            .entry(server.to_ascii_lowercase())
            .or_insert_with(|| (server, Vec::new()))
            .1
            .push(v);
    }
    let servers = by_server
        .into_values()
        .map(|(server, mut vdirs)| {
            vdirs.sort_by_cached_key(|v| (v.kind, v.dn.to_ascii_lowercase()));
            let mut hosts = Vec::new();
            for v in &vdirs {
                for value in v.internal.iter().chain(&v.external) {
                    match host_of(value) {
                        Some(h) => hosts.push(h),
                        None => warnings.push(format!(
                            "virtual directory {}: {value:?} is neither an http(s) URL nor a host name",
                            v.dn
                        )),
                    }
                }
            }
            hosts.sort();
            hosts.dedup();
            Server {
                server,
                directory: directory.into(),
                virtual_directories: vdirs,
                hosts,
            }
        })
        .collect();
    (servers, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_hosts_and_servers() {
        let classes = |c: &str| vec!["top".into(), "msExchVirtualDirectory".into(), c.into()];
        assert_eq!(
            Kind::of_classes(&classes("msexchrpchttpvirtualdirectory")),
            Some(Kind::OutlookAnywhere)
        );
        assert_eq!(Kind::of_classes(&classes("container")), None);
        assert_eq!(
            host_of("https://Mail.Contoso.com/EWS/Exchange.asmx").as_deref(),
            Some("mail.contoso.com")
        );
        assert_eq!(
            host_of("mail.contoso.com").as_deref(),
            Some("mail.contoso.com")
        );
        assert_eq!(host_of("ftp://x/"), None);
        assert_eq!(host_of("not a host"), None);
        assert_eq!(
            server_dn("CN=EWS (Default Web Site),CN=HTTP,CN=Protocols,CN=EX1,CN=Servers,DC=x")
                .as_deref(),
            Some("CN=EX1,CN=Servers,DC=x")
        );
        assert_eq!(server_dn("CN=EWS,CN=Other,DC=x"), None);
        assert!(filter().starts_with("(|(objectClass=msExchAutoDiscoverVirtualDirectory)"));
    }

    #[test]
    fn grouped_per_server_with_each_host_once() {
        let vdir = |server: &str, kind, name: &str, internal: &[&str], external: &[&str]| {
            VirtualDirectory {
                kind,
                dn: format!("CN={name},CN=HTTP,CN=Protocols,CN={server},CN=Servers,DC=x"),
                internal: internal.iter().map(|s| s.to_string()).collect(),
                external: external.iter().map(|s| s.to_string()).collect(),
            }
        };
        let (servers, warnings) = group(
            vec![
                vdir("EX2", Kind::Owa, "owa", &["https://ex2.local/owa"], &[]),
                vdir(
                    "EX1",
                    Kind::OutlookAnywhere,
                    "Rpc",
                    &["EX1.local"],
                    &["mail.contoso.com"],
                ),
                vdir(
                    "EX1",
                    Kind::Ews,
                    "EWS",
                    &["https://ex1.local/EWS/Exchange.asmx"],
                    &["https://MAIL.contoso.com/EWS/Exchange.asmx", "bad value"],
                ),
            ],
            "ldaps://dc",
        );
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].server, "CN=EX1,CN=Servers,DC=x");
        let kinds: Vec<Kind> = servers[0]
            .virtual_directories
            .iter()
            .map(|v| v.kind)
            .collect();
        assert_eq!(kinds, [Kind::Ews, Kind::OutlookAnywhere]);
        assert_eq!(servers[0].hosts, ["ex1.local", "mail.contoso.com"]);
        assert_eq!(servers[1].hosts, ["ex2.local"]);
        assert_eq!(servers[1].virtual_directories[0].name(), "owa");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
