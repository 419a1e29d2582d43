//! Reading the live state: every GPO container (or one, by name or GUID) with its
//! links, `GPT.INI` and Machine `registry.pol` from SYSVOL, and the certificates
//! published forest-wide under `CN=Public Key Services,CN=Services` of the
//! configuration partition (what `certutil -dspublish` writes).
//!
//! A GPO whose SYSVOL folder is missing or unreadable is recorded as such
//! ([`SysvolState`]), never an error: the caller turns it into a finding.

use ldap3::{Scope, SearchEntry};
use serde::Serialize;

use crate::directory::{bin_values, first_value, values};
use crate::gpo::gplink;
use crate::input;

use futures_util::StreamExt;

use super::sysvol::Sysvol;
use super::{Domain, LiveError};

/// GPOs whose SYSVOL files are read at the same time.
pub(super) const IN_FLIGHT: usize = 16;

/// Which GPOs to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every GPO of the domain, and the forest-wide certificates.
    All,
    /// One GPO, by display name or `{GUID}`.
    One(String),
}

/// Where a GPO is linked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkedAt {
    /// The domain, OU or site object holding the gPLink.
    pub container: String,
    /// `domain`, `ou`, `site` (or the object's class otherwise).
    pub kind: String,
    pub enabled: bool,
    pub enforced: bool,
}

/// What became of reading the GPO's SYSVOL folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum SysvolState {
    Read,
    /// The folder `gPCFileSysPath` names is not there.
    Missing,
    /// It could not be read: access denied, a malformed GPT.INI, ...
    Unreadable(String),
}

/// One GPO as the directory and SYSVOL hold it.
#[derive(Clone, Debug, Serialize)]
pub struct LiveGpo {
    pub name: String,
    /// `{GUID}`, upper case.
    pub guid: String,
    pub dn: String,
    /// AD `versionNumber` (user << 16 | computer).
    pub version: u32,
    /// `GPT.INI`'s `Version=`; `None` when the file has none or was not read.
    pub gpt_version: Option<u32>,
    pub machine_extension_names: String,
    /// `flags`: 1 user half disabled, 2 computer half disabled.
    pub flags: u32,
    /// `gPCWQLFilter`, when a WMI filter is set.
    pub wmi_filter: Option<String>,
    /// `gPCFileSysPath`.
    pub file_sys_path: String,
    pub links: Vec<LinkedAt>,
    pub sysvol: SysvolState,
    /// The path of the Machine registry.pol on the share, as messages show it.
    pub machine_pol_path: String,
    #[serde(skip)]
    pub gpt_ini: Option<Vec<u8>>,
    #[serde(skip)]
    pub machine_pol: Option<Vec<u8>>,
}

impl LiveGpo {
    pub fn computer_disabled(&self) -> bool {
        self.flags & 2 != 0
    }
}

/// The containers of the forest-wide channel and the store each feeds on clients.
pub const FOREST_CONTAINERS: [(&str, &str); 3] = [
    ("CN=Certification Authorities", "Root"),
    ("CN=AIA", "CA"),
    ("CN=NTAuthCertificates", "NTAuth"),
];

/// One `cACertificate` value published forest-wide.
#[derive(Clone, Debug)]
pub struct ForestCert {
    /// The object holding it.
    pub dn: String,
    /// The store it reaches on domain members: `Root`, `CA` or `NTAuth`.
    pub store: &'static str,
    pub der: Vec<u8>,
}

/// Everything read from the live domain.
#[derive(Clone, Debug)]
pub struct LiveState {
    /// The LDAP URL read, for messages.
    pub url: String,
    pub domain_dn: String,
    /// The domain's DNS name (from its DN).
    pub domain: String,
    pub gpos: Vec<LiveGpo>,
    /// Empty unless every GPO was read ([`Selection::All`]).
    pub forest: Vec<ForestCert>,
    /// What was skipped while reading (a malformed gPLink), for the user to see.
    pub warnings: Vec<String>,
}

const GPO_ATTRS: [&str; 7] = [
    "cn",
    "displayName",
    "versionNumber",
    "gPCMachineExtensionNames",
    "flags",
    "gPCWQLFilter",
    "gPCFileSysPath",
];

/// The DNS name of a domain DN (`DC=contoso,DC=test` -> `contoso.test`).
pub fn dns_name(domain_dn: &str) -> String {
    crate::directory::split_dn(domain_dn)
        .iter()
        .filter_map(|rdn| {
            let (k, v) = rdn.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| v.trim().to_string())
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether `s` is a braced GUID.
pub fn is_braced_guid(s: &str) -> bool {
    s.len() == 38
        && s.starts_with('{')
        && s.ends_with('}')
        && uuid::Uuid::parse_str(&s[1..37]).is_ok()
}

/// Read the GPOs of `selection`, their links and files, and (for every GPO) the
/// forest-wide certificates.
pub async fn read(domain: &mut Domain, selection: &Selection) -> Result<LiveState, LiveError> {
    let policies = format!("CN=Policies,CN=System,{}", domain.domain_dn);
    let filter = match selection {
        Selection::All => "(objectClass=groupPolicyContainer)".to_string(),
        Selection::One(id) if is_braced_guid(id) => format!(
            "(&(objectClass=groupPolicyContainer)(cn={}))",
            ldap3::ldap_escape(id)
        ),
        Selection::One(name) => format!(
            "(&(objectClass=groupPolicyContainer)(displayName={}))",
            ldap3::ldap_escape(name)
        ),
    };
    let entries = domain
        .ldap
        .search_paged(&policies, Scope::OneLevel, &filter, &GPO_ATTRS)
        .await?
        .ok_or_else(|| LiveError::NoPolicies {
            url: domain.ldap.url().to_string(),
            base: policies.clone(),
        })?;
    if let Selection::One(id) = selection {
        match entries.len() {
            0 => {
                return Err(LiveError::NoSuchGpo {
                    url: domain.ldap.url().to_string(),
                    gpo: id.clone(),
                });
            }
            1 => {}
            n => {
                return Err(LiveError::Ambiguous {
                    gpo: id.clone(),
                    count: n,
                    guids: entries
                        .iter()
                        .filter_map(|e| first_value(e, "cn"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    let mut warnings = Vec::new();
    let links = read_links(domain, &mut warnings).await?;
    let mut gpos = Vec::new();
    for entry in &entries {
        let mut gpo = container(entry);
        gpo.links = links
            .iter()
            .filter(|(guid, _)| guid.eq_ignore_ascii_case(&gpo.guid))
            .map(|(_, l)| l.clone())
            .collect();
        gpos.push(gpo);
    }
    // The GPOs' files, IN_FLIGHT at a time on the one SMB session.
    let sysvol = &domain.sysvol;
    let read: Vec<Result<(), LiveError>> =
        futures_util::stream::iter(gpos.iter_mut().map(|gpo| read_files(sysvol, gpo)))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    read.into_iter().collect::<Result<(), _>>()?;
    gpos.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.guid.cmp(&b.guid))
    });
    let forest = match selection {
        // A directory that refuses the configuration partition's PKI containers to this
        // account still gives the GPOs: say what is left out.
        Selection::All => match read_forest(domain).await {
            Ok(found) => found,
            Err(LiveError::Directory(e @ crate::directory::DirectoryError::Search { .. })) => {
                warnings.push(format!(
                    "{e}; the certificates published forest-wide are not listed"
                ));
                Vec::new()
            }
            Err(e) => return Err(e),
        },
        Selection::One(_) => Vec::new(),
    };
    Ok(LiveState {
        url: domain.ldap.url().to_string(),
        domain: dns_name(&domain.domain_dn),
        domain_dn: domain.domain_dn.clone(),
        gpos,
        forest,
        warnings,
    })
}

fn container(entry: &SearchEntry) -> LiveGpo {
    let number = |name: &str| {
        first_value(entry, name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            // AD keeps these as 32-bit integers, which LDAP shows signed.
            .map_or(0, |v| v as u32)
    };
    let guid = first_value(entry, "cn")
        .unwrap_or_default()
        .to_ascii_uppercase();
    let file_sys_path = first_value(entry, "gPCFileSysPath")
        .unwrap_or_default()
        .to_string();
    LiveGpo {
        name: first_value(entry, "displayName")
            .unwrap_or_default()
            .to_string(),
        machine_pol_path: format!(r"{}\Machine\Registry.pol", share_path(&file_sys_path)),
        guid,
        dn: entry.dn.clone(),
        version: number("versionNumber"),
        gpt_version: None,
        machine_extension_names: first_value(entry, "gPCMachineExtensionNames")
            .unwrap_or_default()
            .to_string(),
        flags: number("flags"),
        wmi_filter: first_value(entry, "gPCWQLFilter")
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string),
        file_sys_path,
        links: Vec::new(),
        sysvol: SysvolState::Missing,
        gpt_ini: None,
        machine_pol: None,
    }
}

/// `\\server\SysVol\dom\Policies\{G}` -> `SysVol\dom\Policies\{G}`: the share and path
/// on whichever DC certgpo reads SYSVOL from.
pub fn share_path(file_sys_path: &str) -> String {
    let rest = file_sys_path.trim_start_matches('\\');
    match rest.split_once('\\') {
        Some((_server, path)) => path.trim_end_matches('\\').to_string(),
        None => String::new(),
    }
}

/// Every gPLink of the domain (domain object, OUs) and of the sites: (GPO GUID, link).
/// A malformed gPLink is skipped with a warning: the other links still count.
async fn read_links(
    domain: &mut Domain,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, LinkedAt)>, LiveError> {
    let mut out = Vec::new();
    let sites = format!("CN=Sites,{}", domain.config_dn);
    for base in [domain.domain_dn.clone(), sites] {
        let found = domain
            .ldap
            .search_paged(
                &base,
                Scope::Subtree,
                "(gPLink=*)",
                &["gPLink", "objectClass"],
            )
            .await?
            .unwrap_or_default();
        for entry in found {
            let classes = values(&entry, "objectClass");
            let has = |c: &str| classes.iter().any(|x| x.eq_ignore_ascii_case(c));
            let kind = if has("domainDNS") {
                "domain"
            } else if has("organizationalUnit") {
                "ou"
            } else if has("site") {
                "site"
            } else {
                classes.last().map_or("object", String::as_str)
            };
            for value in values(&entry, "gPLink") {
                let links = match gplink::parse(value, &entry.dn) {
                    Ok(links) => links,
                    Err(e) => {
                        warnings.push(format!("{e}; its links are not listed"));
                        continue;
                    }
                };
                for link in links {
                    if let Some(guid) = link.guid() {
                        out.push((
                            guid,
                            LinkedAt {
                                container: entry.dn.clone(),
                                kind: kind.to_string(),
                                enabled: link.enabled(),
                                enforced: link.enforced(),
                            },
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// GPT.INI and Machine\Registry.pol of one GPO; a missing folder or file, or one that
/// cannot be read, is recorded in `gpo.sysvol`.
async fn read_files(sysvol: &Sysvol, gpo: &mut LiveGpo) -> Result<(), LiveError> {
    let path = share_path(&gpo.file_sys_path);
    if path.is_empty() {
        gpo.sysvol = SysvolState::Unreadable(format!(
            "gPCFileSysPath {:?} names no SYSVOL folder",
            gpo.file_sys_path
        ));
        return Ok(());
    }
    let gpt = match sysvol
        .read(&format!(r"{path}\GPT.INI"), input::BACKUP_FILE)
        .await
    {
        Ok(found) => found,
        Err(e) if e.is_per_file() => {
            gpo.sysvol = SysvolState::Unreadable(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let Some(gpt) = gpt else {
        // No GPT.INI: is the whole folder gone?
        gpo.sysvol = match sysvol.list(&path).await {
            Ok(None) => SysvolState::Missing,
            Ok(Some(_)) => SysvolState::Unreadable(format!(r"{path}\GPT.INI is missing")),
            Err(e) if e.is_per_file() => SysvolState::Unreadable(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        return Ok(());
    };
    match crate::gpo::gpt_ini::parse(&gpt, &format!(r"{path}\GPT.INI")) {
        Ok(ini) => gpo.gpt_version = Some(ini.version().unwrap_or(0)),
        Err(e) => {
            gpo.sysvol = SysvolState::Unreadable(e.to_string());
            return Ok(());
        }
    }
    gpo.gpt_ini = Some(gpt);
    match sysvol.read(&gpo.machine_pol_path, input::POLICY).await {
        Ok(pol) => gpo.machine_pol = pol,
        Err(e) if e.is_per_file() => {
            gpo.sysvol = SysvolState::Unreadable(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    gpo.sysvol = SysvolState::Read;
    Ok(())
}

/// The `cACertificate` values of the forest-wide containers.
async fn read_forest(domain: &mut Domain) -> Result<Vec<ForestCert>, LiveError> {
    let pks = format!("CN=Public Key Services,CN=Services,{}", domain.config_dn);
    let mut out = Vec::new();
    for (rdn, store) in FOREST_CONTAINERS {
        let base = format!("{rdn},{pks}");
        // NTAuthCertificates holds the values itself; the other two, one object per CA.
        let scope = if store == "NTAuth" {
            Scope::Base
        } else {
            Scope::OneLevel
        };
        let found = domain
            .ldap
            .search_paged(&base, scope, "(objectClass=*)", &["cACertificate"])
            .await?
            .unwrap_or_default();
        for entry in found {
            for der in bin_values(&entry, "cACertificate") {
                out.push(ForestCert {
                    dn: entry.dn.clone(),
                    store,
                    der: der.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(dns_name("DC=contoso,DC=test"), "contoso.test");
        assert_eq!(
            share_path(r"\\contoso.test\SysVol\contoso.test\Policies\{A}"),
            r"SysVol\contoso.test\Policies\{A}"
        );
        assert_eq!(share_path("nonsense"), "");
        assert!(is_braced_guid("{31B2F340-016D-11D2-945F-00C04FB984F9}"));
        assert!(!is_braced_guid("Default Domain Policy"));
    }
}
