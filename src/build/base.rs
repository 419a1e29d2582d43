//! `certgpo build --base`: update an existing GPO instead of replacing it.
//!
//! The new backup keeps the base GPO's GUID, name, domain, Backup.xml (security
//! groups, descriptor, extensions), every file it carries, and every registry.pol
//! instruction that is not a certificate being removed; new certificates are
//! inserted where GPMC's key order puts them, and the machine version goes up by
//! one, so that `Import-GPO` over the existing GPO updates it.

use std::collections::BTreeSet;
use std::path::Path;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Files, Item, Options, Plan};
use crate::cert::{Certificate, Origin};
use crate::gpo::parse::{self as gpo_read, BackupInst, BackupXml};
use crate::gpo::{EFS_CSE, PKI_TOOL, PKI_TOOL_DEFAULT_DOMAIN, REGISTRY_CSE};
use crate::inspect::InspectError;
use crate::inspect::tree::Tree;
use crate::inspect::walk;
use crate::policy::{self, Entry};
use crate::store::{self, Store};

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    Read(#[from] InspectError),
    #[error("--base {0}: no GPMC backup in it (no Backup.xml)")]
    NoBackup(String),
    #[error("--base {path}: holds {count} GPMC backups ({dirs}); --base takes one")]
    Several {
        path: String,
        count: usize,
        dirs: String,
    },
    #[error(
        "--base {0}: Backup.xml lists no machine registry.pol (DomainSysvol\\GPO\\Machine\\registry.pol)"
    )]
    NoMachinePolicy(String),
    #[error("--base {path}: {what}")]
    Unusable { path: String, what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("--remove {0:?} is not a SHA-1 thumbprint (40 hex digits)")]
    BadThumbprint(String),
    #[error("--remove {thumbprint}: the base {path} holds no such certificate")]
    NotInBase { thumbprint: String, path: String },
    #[error("--base {0}: the machine version is already 65535, the highest a GPO can have")]
    Version(String),
}

impl crate::Diagnostic for BaseError {
    fn hint(&self) -> Option<String> {
        match self {
            // Read errors keep the hints `inspect` gives them.
            BaseError::Read(r) => r.hint(),
            BaseError::Several { .. } => Some("pass the backup's own {GUID} folder".into()),
            BaseError::NotInBase { .. } => {
                Some("run `certgpo inspect` on the base to list its thumbprints".into())
            }
            BaseError::NoBackup(_) => Some(
                "export the GPO with Backup-GPO -Name ... -Path ..., then pass that folder".into(),
            ),
            _ => None,
        }
    }
}

/// The GPO backup a build starts from.
pub struct Base {
    shown: String,
    backup: BackupXml,
    backup_xml: String,
    info: Option<BackupInst>,
    entries: Vec<Entry>,
    policy_file: String,
    /// Files of the base backup carried into the new one, by path inside the backup.
    carried: Vec<(String, Vec<u8>)>,
}

const MACHINE_POL: &str = "DomainSysvol/GPO/Machine/registry.pol";

impl Base {
    /// Read the base, and align the build options with it (its domain).
    pub fn read(path: &Path, opts: &mut Options) -> Result<Base, BaseError> {
        let shown = path.display().to_string();
        if opts.all_stores {
            return Err(BaseError::Conflict(
                "--all-stores has no effect with --base: the base's registry.pol keeps its own store keys"
                    .into(),
            ));
        }
        let mut tree = if path.is_dir() {
            Tree::dir(path)?
        } else {
            Tree::zip(path)?
        };
        let dirs: BTreeSet<String> = tree
            .files()
            .iter()
            .filter(|f| {
                f.rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case("Backup.xml"))
            })
            .map(|f| f.rsplit_once('/').map_or("", |(d, _)| d).to_string())
            .collect();
        let dir = match dirs.len() {
            0 => return Err(BaseError::NoBackup(shown)),
            1 => dirs.into_iter().next().unwrap_or_default(),
            n => {
                return Err(BaseError::Several {
                    path: shown,
                    count: n,
                    dirs: dirs.into_iter().collect::<Vec<_>>().join(", "),
                });
            }
        };
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut carried = Vec::new();
        let mut backup_bytes = None;
        let mut info_bytes = None;
        let mut pol = None;
        let files: Vec<String> = tree
            .files()
            .iter()
            .filter(|f| f.starts_with(&prefix))
            .cloned()
            .collect();
        for rel in files {
            let inner = rel[prefix.len()..].to_string();
            let bytes = tree.read(&rel)?;
            let shown_file = tree.display(&rel);
            match inner.to_ascii_lowercase().as_str() {
                "backup.xml" => backup_bytes = Some((bytes, shown_file)),
                "bkupinfo.xml" => info_bytes = Some((bytes, shown_file)),
                // Rewritten for the new content.
                "gpreport.xml" => {}
                p if p == MACHINE_POL.to_ascii_lowercase() => pol = Some((bytes, shown_file)),
                _ => carried.push((inner, bytes)),
            }
        }
        let (backup_bytes, backup_file) =
            backup_bytes.ok_or_else(|| BaseError::NoBackup(shown.clone()))?;
        let backup =
            gpo_read::parse_backup_xml(&backup_bytes, &backup_file).map_err(InspectError::from)?;
        let backup_xml = String::from_utf8(backup_bytes).map_err(|_| BaseError::Unusable {
            path: backup_file.clone(),
            what: "Backup.xml is not UTF-8 (GPMC writes UTF-8)".into(),
        })?;
        let lists_machine_pol = backup.extensions.iter().any(|e| {
            e.objects.iter().any(|o| {
                o.location
                    .as_deref()
                    .is_some_and(|l| l.replace('\\', "/").eq_ignore_ascii_case(MACHINE_POL))
            })
        });
        if !lists_machine_pol {
            return Err(BaseError::NoMachinePolicy(shown));
        }
        let info = match info_bytes {
            Some((b, f)) => Some(gpo_read::parse_bkup_info(&b, &f).map_err(InspectError::from)?),
            None => None,
        };
        let (entries, policy_file) = match pol {
            Some((bytes, file)) => (
                policy::parse(&bytes).map_err(|source| InspectError::Policy {
                    file: file.clone(),
                    source,
                })?,
                file,
            ),
            None => (Vec::new(), format!("{shown}/{MACHINE_POL}")),
        };
        if let Some(d) = &opts.domain
            && !d.eq_ignore_ascii_case(&backup.domain)
        {
            return Err(BaseError::Conflict(format!(
                "--domain {d} differs from the base GPO's domain {}",
                backup.domain
            )));
        }
        opts.domain = Some(backup.domain.clone());
        opts.gpo_name = backup.display_name.clone();
        Ok(Base {
            shown,
            backup,
            backup_xml,
            info,
            entries,
            policy_file,
            carried,
        })
    }

    /// Merge the base into a plan made from the new certificates.
    pub fn apply(
        &self,
        plan: &mut Plan,
        remove: &[String],
        drop_expired: bool,
        now: OffsetDateTime,
    ) -> Result<(), BaseError> {
        let mut to_remove = BTreeSet::new();
        for r in remove {
            match crate::hex::parse_fingerprint(r) {
                Some(b) if b.len() == 20 => {
                    to_remove.insert(crate::hex::upper(&b));
                }
                _ => return Err(BaseError::BadThumbprint(r.clone())),
            }
        }
        let mut removed = BTreeSet::new();
        let mut entries = Vec::with_capacity(self.entries.len() + plan.items.len() * 3);
        let mut items = Vec::new();
        for (index, e) in self.entries.iter().enumerate() {
            let Some((store_name, thumb)) = cert_entry(e) else {
                entries.push(e.clone());
                continue;
            };
            let thumb = thumb.to_ascii_uppercase();
            let cert = crate::blob::parse(&e.data)
                .ok()
                .and_then(|b| Certificate::from_der(b.der).ok());
            if to_remove.contains(&thumb) {
                removed.insert(thumb);
                continue;
            }
            if let Some(c) = &cert
                && c.not_after < now
            {
                if drop_expired {
                    plan.notes.push(format!(
                        "{thumb} ({}) in the base expired on {}: dropped (--drop-expired)",
                        crate::text::printable(&c.subject_display),
                        c.not_after.date()
                    ));
                    removed.insert(thumb);
                    continue;
                }
                plan.warnings.push(format!(
                    "{thumb} ({}) in the base expired on {}: kept as it is (--remove {thumb} or --drop-expired takes it out)",
                    crate::text::printable(&c.subject_display),
                    c.not_after.date()
                ));
            }
            entries.push(e.clone());
            match (cert, Store::from_registry_name(&store_name)) {
                (Some(cert), Some(store)) => items.push(Item {
                    cert,
                    store,
                    blob: e.data.clone(),
                    origins: vec![Origin {
                        file: self.policy_file.clone(),
                        index: index + 1,
                    }],
                }),
                _ => plan.warnings.push(format!(
                    "{} in the base is kept in registry.pol but left out of the reports (unreadable, or store {store_name} is not one certgpo lists)",
                    e.key
                )),
            }
        }
        if let Some(missing) = to_remove.difference(&removed).next() {
            return Err(BaseError::NotInBase {
                thumbprint: missing.clone(),
                path: self.shown.clone(),
            });
        }
        let kept: BTreeSet<(Store, String)> = items
            .iter()
            .map(|i| (i.store, i.cert.thumbprint()))
            .collect();
        for item in std::mem::take(&mut plan.items) {
            let thumb = item.cert.thumbprint();
            if to_remove.contains(&thumb) {
                return Err(BaseError::Conflict(format!(
                    "{thumb} is both given with --cert and taken out with --remove"
                )));
            }
            if kept.contains(&(item.store, thumb.clone())) {
                plan.notes.push(format!(
                    "{thumb} is already in the base's {} store: kept as it is",
                    item.store.registry_name()
                ));
                continue;
            }
            insert_sorted(
                &mut entries,
                Entry::binary(item.policy_key(), "Blob", item.blob.clone()),
            );
            let root = format!(r"{}\{}", store::POLICY_ROOT, item.store.registry_name());
            // GPMC writes a store's `Certificates` key alone only while it is empty.
            entries.retain(|e| {
                !(is_key_only(e) && e.key.eq_ignore_ascii_case(&format!(r"{root}\Certificates")))
            });
            for sub in ["CRLs", "CTLs"] {
                let key = format!(r"{root}\{sub}");
                if !entries.iter().any(|e| e.key.eq_ignore_ascii_case(&key)) {
                    insert_sorted(&mut entries, Entry::key_only(key));
                }
            }
            items.push(item);
        }
        // A store emptied by --remove gets back the empty `Certificates` key GPMC writes.
        for store_name in self
            .entries
            .iter()
            .filter_map(cert_entry)
            .map(|(s, _)| s)
            .collect::<BTreeSet<_>>()
        {
            let root = format!(r"{}\{store_name}", store::POLICY_ROOT);
            let certs_key = format!(r"{root}\Certificates");
            let still = entries
                .iter()
                .any(|e| cert_entry(e).is_some_and(|(s, _)| s.eq_ignore_ascii_case(&store_name)));
            if !still
                && !entries
                    .iter()
                    .any(|e| e.key.eq_ignore_ascii_case(&certs_key))
            {
                insert_sorted(&mut entries, Entry::key_only(certs_key));
            }
        }
        items.sort_by(|a, b| policy::key_order(&a.policy_key(), &b.policy_key()));

        let meta = &mut plan.meta;
        meta.gpo_guid = parse_guid(&self.backup.gpo_id).ok_or_else(|| BaseError::Unusable {
            path: self.shown.clone(),
            what: format!("Backup.xml's GPO ID {:?} is not a GUID", self.backup.gpo_id),
        })?;
        meta.display_name = self.backup.display_name.clone();
        meta.domain = self.backup.domain.clone();
        if let Some(info) = &self.info {
            if let Some(g) = parse_guid(&info.gpo_domain_guid) {
                meta.domain_guid = g;
            }
            if !info.gpo_domain_controller.is_empty() {
                meta.domain_controller = info.gpo_domain_controller.clone();
            }
        }
        meta.comment = format!(
            "certgpo {} update of backup {}",
            env!("CARGO_PKG_VERSION"),
            self.info.as_ref().map_or("", |i| i.id.as_str())
        );
        let v = self.backup.machine_version;
        let current = (v & 0xFFFF).max(v >> 16);
        meta.machine_version =
            u16::try_from(current + 1).map_err(|_| BaseError::Version(self.shown.clone()))?;
        if plan.options.timestamp.is_none() {
            // Deterministic, and after both the base backup and every certificate.
            let base_time = self
                .info
                .as_ref()
                .and_then(|i| parse_gpmc_time(&i.backup_time))
                .map(|t| t + time::Duration::seconds(1));
            meta.time = items
                .iter()
                .map(|i| i.cert.not_before)
                .chain(base_time)
                .max()
                .unwrap_or(meta.time);
        }
        meta.backup_id = super::backup_id(&meta.gpo_guid, meta.time, &policy::write(&entries));
        if self.backup.options & 2 != 0 {
            plan.warnings.push(format!(
                "the base GPO's computer settings are disabled (Options = {}): its certificates do not apply until they are enabled",
                self.backup.options
            ));
        }
        plan.entries = entries;
        plan.items = items;
        Ok(())
    }

    /// Put the base's Backup.xml (new version, extension GUIDs made complete) and
    /// every other file of the base backup into the new bundle.
    pub fn carry_over(&self, files: &mut Files, plan: &Plan) {
        let dir = format!(
            "gpo-backup/{}",
            crate::gpo::braced_upper(&plan.meta.backup_id)
        );
        let mut xml = replace_element(
            &self.backup_xml,
            "MachineVersionNumber",
            &plan.meta.machine_version_number().to_string(),
        );
        xml = replace_element(
            &xml,
            "MachineExtensionGuids",
            &complete_extension_guids(&self.backup.machine_extension_guids),
        );
        files.insert(format!("{dir}/Backup.xml"), xml.into_bytes());
        for (rel, bytes) in &self.carried {
            files.insert(format!("{dir}/{rel}"), bytes.clone());
        }
        super::seal(files);
    }
}

fn cert_entry(e: &Entry) -> Option<(String, String)> {
    if e.value.eq_ignore_ascii_case("Blob") {
        walk::certificate_key(&e.key)
    } else {
        None
    }
}

fn is_key_only(e: &Entry) -> bool {
    e.value.is_empty() && e.data.is_empty()
}

/// Insert after the last entry whose key sorts at or before the new one: the GPMC
/// position in a sorted file, and no reordering of anything else in an unsorted one.
fn insert_sorted(entries: &mut Vec<Entry>, entry: Entry) {
    let at = entries
        .iter()
        .rposition(|e| policy::key_order(&e.key, &entry.key) != std::cmp::Ordering::Greater)
        .map_or(0, |i| i + 1);
    entries.insert(at, entry);
}

fn parse_guid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s.trim().trim_start_matches('{').trim_end_matches('}')).ok()
}

fn parse_gpmc_time(s: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s.trim(), format)
        .ok()
        .map(|t| t.assume_utc())
}

/// Replace the content of `<name>...</name>` (or `<name/>`) with a CDATA value.
fn replace_element(xml: &str, name: &str, value: &str) -> String {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let empty = format!("<{name}/>");
    let replacement = format!("<{name}>{}</{name}>", crate::gpo::cdata(value));
    if let Some(start) = xml.find(&open)
        && let Some(len) = xml[start..].find(&close)
    {
        let end = start + len + close.len();
        return format!("{}{replacement}{}", &xml[..start], &xml[end..]);
    }
    xml.replacen(&empty, &replacement, 1)
}

/// The base's extension list with the Registry and Public Key pairs present and the
/// whole list sorted as MS-GPOL requires.
fn complete_extension_guids(value: &str) -> String {
    let mut groups = walk::parse_extension_guids(value).unwrap_or_default();
    for cse in [REGISTRY_CSE, EFS_CSE] {
        match groups.iter_mut().find(|g| g[0].eq_ignore_ascii_case(cse)) {
            Some(g) => {
                let has = g[1..].iter().any(|t| {
                    t.eq_ignore_ascii_case(PKI_TOOL)
                        || t.eq_ignore_ascii_case(PKI_TOOL_DEFAULT_DOMAIN)
                });
                if !has {
                    g.push(PKI_TOOL.to_string());
                }
            }
            None => groups.push(vec![cse.to_string(), PKI_TOOL.to_string()]),
        }
    }
    for g in &mut groups {
        g[1..].sort_by_key(|t| t.to_ascii_uppercase());
    }
    groups.sort_by_key(|g| g[0].to_ascii_uppercase());
    groups.iter().map(|g| format!("[{}]", g.concat())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_guids_are_completed_and_sorted() {
        let full = crate::gpo::MACHINE_EXTENSION_GUIDS;
        assert_eq!(complete_extension_guids(full), full);
        assert_eq!(complete_extension_guids(""), full);
        let with_other = format!(
            "[{{0ACDD40C-75AC-47AB-BAA0-BF6DE7E7FE63}}{{2A8FDC61-2347-4C87-92F6-B05EB91A201A}}]{}",
            &full[..78]
        );
        let done = complete_extension_guids(&with_other);
        assert!(done.starts_with("[{0ACDD40C"), "{done}");
        assert!(done.ends_with(&full[78..]), "{done}");
        assert!(walk::extension_guid_problems(&done).is_empty());
    }

    #[test]
    fn elements_are_replaced() {
        assert_eq!(
            replace_element("<a><V><![CDATA[1]]></V></a>", "V", "2"),
            "<a><V><![CDATA[2]]></V></a>"
        );
        assert_eq!(
            replace_element("<a><V/></a>", "V", "x"),
            "<a><V><![CDATA[x]]></V></a>"
        );
    }

    #[test]
    fn insertion_keeps_gpmc_order() {
        let mut e = vec![Entry::key_only(r"A\B"), Entry::key_only(r"A\D")];
        insert_sorted(&mut e, Entry::key_only(r"a\c"));
        insert_sorted(&mut e, Entry::key_only(r"A"));
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["A", r"A\B", r"a\c", r"A\D"]);
    }
}
