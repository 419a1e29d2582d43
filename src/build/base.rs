//! `certgpo build --base`: update an existing GPO instead of replacing it.
//!
//! A step of the build pipeline, in two halves: [`Base::read`] reads the backup
//! and checks the request against it (before any certificate is loaded or fetched),
//! and the planner asks it for the merged registry.pol, the GPO's identity and its
//! Backup.xml. The new backup keeps the base GPO's GUID, name, domain, Backup.xml
//! (security groups, descriptor, extensions), every file it carries, and every
//! registry.pol instruction that is not a certificate being removed; new
//! certificates are inserted where GPMC's key order puts them, and the machine
//! version goes up by one, so that `Import-GPO` over the existing GPO updates it.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{BaseRequest, Item, Options};
use crate::cert::{Certificate, Origin};
use crate::gpo::backup_xml::BackupXml;
use crate::gpo::bkup_info::BackupInst;
use crate::gpo::{GpoMeta, extension_guids, folder};
use crate::inspect::InspectError;
use crate::inspect::tree::Tree;
use crate::policy::{self, Entry};
use crate::store::{self, CertKey, Container, Store};

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
    #[error(
        "--base {path}: Backup.xml holds {what}, which certgpo cannot carry into the new backup"
    )]
    Unknown { path: String, what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("--remove {:?} is not a SHA-1 thumbprint (40 hex digits)", crate::text::cut(.0, 100))]
    BadThumbprint(String),
    #[error("--remove {thumbprint}: {path} holds no such certificate")]
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

/// A live GPO as `publish` reads it, for [`Base::live`].
pub struct LiveGpo<'a> {
    /// How messages name the GPO.
    pub shown: &'a str,
    /// How messages name its Machine registry.pol.
    pub policy_file: &'a str,
    pub guid: Uuid,
    pub display_name: &'a str,
    pub domain: &'a str,
    /// The container's `flags` (2: computer settings disabled).
    pub flags: u32,
    pub version_number: u32,
    pub machine_extension_names: &'a str,
    pub registry_pol: Option<&'a [u8]>,
}

/// The GPO backup a build starts from, and what to take out of it.
pub struct Base {
    shown: String,
    backup: BackupXml,
    gpo_guid: Uuid,
    info: Option<BackupInst>,
    entries: Vec<Entry>,
    policy_file: String,
    /// Files of the base backup carried into the new one, by path inside the backup.
    carried: Vec<(String, Vec<u8>)>,
    /// `--remove`, as upper-case thumbprints, each one in the base.
    remove: BTreeSet<String>,
    /// How messages name the base: "the base" (a backup) or "the GPO" (a live one).
    noun: &'static str,
    drop_expired: bool,
}

impl Base {
    /// Read the base and check the request against it: its options (`--all-stores`,
    /// `--domain`) and every `--remove` thumbprint, which must be in the base.
    pub fn read(req: &BaseRequest, opts: &Options) -> Result<Base, BaseError> {
        let shown = req.path.display().to_string();
        if opts.all_stores {
            return Err(BaseError::Conflict(
                "--all-stores has no effect with --base: the base's registry.pol keeps its own store keys"
                    .into(),
            ));
        }
        let mut tree = Tree::open(&req.path, "--base")?;
        let dirs = folder::backup_dirs(tree.files());
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
        let read = folder::read(&mut tree, &dir)?;
        let backup = read
            .backup
            .ok_or_else(|| BaseError::NoBackup(shown.clone()))?
            .value;
        if let Some(what) = &backup.first_unknown {
            return Err(BaseError::Unknown {
                path: shown,
                what: what.clone(),
            });
        }
        let lists_machine_pol = backup.extensions.iter().any(|e| {
            e.objects.iter().any(|o| {
                o.location
                    .as_deref()
                    .is_some_and(|l| folder::tree_path(l).eq_ignore_ascii_case(folder::MACHINE_POL))
            })
        });
        if !lists_machine_pol {
            return Err(BaseError::NoMachinePolicy(shown));
        }
        let gpo_guid = parse_guid(&backup.gpo_id).ok_or_else(|| BaseError::Unusable {
            path: shown.clone(),
            what: format!("Backup.xml's GPO ID {:?} is not a GUID", backup.gpo_id),
        })?;
        let (entries, policy_file) = match read.machine_pol {
            Some(pol) => (
                policy::parse(&pol.value).map_err(|source| InspectError::Policy {
                    file: pol.shown.clone(),
                    source,
                })?,
                pol.shown,
            ),
            None => (Vec::new(), format!("{shown}/{}", folder::MACHINE_POL)),
        };
        if let Some(d) = &opts.domain
            && !d.eq_ignore_ascii_case(&backup.domain)
        {
            return Err(BaseError::Conflict(format!(
                "--domain {d} differs from the base GPO's domain {}",
                backup.domain
            )));
        }
        // gpreport.xml is written anew; the User half's registry.pol and every other
        // file go into the new backup as they are.
        let mut carried = Vec::new();
        if let Some(pol) = read.user_pol {
            carried.push((folder::USER_POL.to_string(), pol.value));
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        for inner in read.others {
            let bytes = tree.read(&format!("{prefix}{inner}"))?;
            carried.push((inner, bytes));
        }
        let mut base = Base {
            shown,
            backup,
            gpo_guid,
            info: read.info.map(|i| i.value),
            entries,
            policy_file,
            carried,
            remove: BTreeSet::new(),
            drop_expired: req.drop_expired,
            noun: "the base",
        };
        base.remove = base.check_removals(&req.remove)?;
        Ok(base)
    }

    /// A live GPO as the base (`publish`): its Machine registry.pol (`None` when it has
    /// none yet) and the attributes of its container. `shown` names it in messages.
    pub fn live(
        gpo: &LiveGpo<'_>,
        remove: &[String],
        drop_expired: bool,
    ) -> Result<Base, BaseError> {
        let entries = match gpo.registry_pol {
            Some(bytes) => policy::parse(bytes).map_err(|source| InspectError::Policy {
                file: gpo.policy_file.to_string(),
                source,
            })?,
            None => Vec::new(),
        };
        let backup = BackupXml {
            gpo_id: crate::gpo::braced_upper(&gpo.guid),
            domain: gpo.domain.to_string(),
            display_name: gpo.display_name.to_string(),
            options: gpo.flags,
            machine_version: gpo.version_number,
            machine_extension_guids: gpo.machine_extension_names.to_string(),
            ..BackupXml::default()
        };
        let mut base = Base {
            shown: gpo.shown.to_string(),
            backup,
            gpo_guid: gpo.guid,
            info: None,
            entries,
            policy_file: gpo.policy_file.to_string(),
            carried: Vec::new(),
            remove: BTreeSet::new(),
            drop_expired,
            noun: "the GPO",
        };
        base.remove = base.check_removals(remove)?;
        Ok(base)
    }

    /// `--remove` as upper-case thumbprints, refused unless each is in the base.
    fn check_removals(&self, remove: &[String]) -> Result<BTreeSet<String>, BaseError> {
        let mut out = BTreeSet::new();
        for r in remove {
            match crate::hex::parse_fingerprint(r) {
                Some(b) if b.len() == 20 => {
                    out.insert(crate::hex::upper(&b));
                }
                _ => return Err(BaseError::BadThumbprint(r.clone())),
            }
        }
        let held: BTreeSet<String> = self
            .entries
            .iter()
            .filter_map(cert_entry)
            .map(|k| k.thumbprint.to_ascii_uppercase())
            .collect();
        match out.difference(&held).next() {
            Some(missing) => Err(BaseError::NotInBase {
                thumbprint: missing.clone(),
                path: if self.noun == "the base" {
                    format!("the base {}", self.shown)
                } else {
                    self.shown.clone()
                },
            }),
            None => Ok(out),
        }
    }

    /// The base GPO's name, which the new backup keeps.
    pub(super) fn display_name(&self) -> &str {
        &self.backup.display_name
    }

    /// The base GPO's domain, which the new backup keeps.
    pub(super) fn domain(&self) -> &str {
        &self.backup.domain
    }

    /// The certificate of the registry.pol entry at `index` (its Blob kept as it is),
    /// when it is readable and in a store certgpo knows.
    fn item(&self, index: usize, e: &Entry, cert: Option<Certificate>) -> Option<Item> {
        let store = cert_entry(e)?.known_store()?;
        Some(Item {
            cert: cert?,
            store,
            blob: e.data.clone(),
            origins: vec![Origin {
                file: self.policy_file.clone(),
                index: index + 1,
            }],
        })
    }

    /// Every certificate of the base's registry.pol that certgpo can carry elsewhere,
    /// each with its Blob as it is (friendly name and purposes kept): what `publish
    /// --bundle` applies.
    pub fn items(&self) -> Vec<Item> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, e)| {
                let cert = crate::blob::parse(&e.data)
                    .ok()
                    .and_then(|b| Certificate::from_der(b.der).ok());
                self.item(index, e, cert)
            })
            .collect()
    }

    /// The base's registry.pol with `new` certificates merged in and the removed ones
    /// taken out, and every certificate the result holds (registry.pol order).
    pub(super) fn merge(
        &self,
        new: Vec<Item>,
        now: OffsetDateTime,
        notes: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<Entry>, Vec<Item>), BaseError> {
        let mut entries = Vec::with_capacity(self.entries.len() + new.len() * 3);
        let mut items = Vec::new();
        for (index, e) in self.entries.iter().enumerate() {
            let Some(key) = cert_entry(e) else {
                entries.push(e.clone());
                continue;
            };
            let thumb = key.thumbprint.to_ascii_uppercase();
            if self.remove.contains(&thumb) {
                continue;
            }
            let cert = crate::blob::parse(&e.data)
                .ok()
                .and_then(|b| Certificate::from_der(b.der).ok());
            if let Some(c) = &cert
                && c.not_after < now
            {
                if self.drop_expired {
                    notes.push(format!(
                        "{thumb} ({}) in {} expired on {}: dropped (--drop-expired)",
                        crate::text::printable(&c.subject_display),
                        self.noun,
                        c.not_after.date()
                    ));
                    continue;
                }
                warnings.push(format!(
                    "{thumb} ({}) in {} expired on {}: kept as it is (--remove {thumb} or --drop-expired takes it out)",
                    crate::text::printable(&c.subject_display),
                    self.noun,
                    c.not_after.date()
                ));
            }
            entries.push(e.clone());
            match self.item(index, e, cert) {
                Some(item) => items.push(item),
                None => warnings.push(format!(
                    "{} in {} is kept in registry.pol but left out of the reports (unreadable, or store {} is not one certgpo lists)",
                    e.key, self.noun, key.store
                )),
            }
        }
        let kept: BTreeSet<(Store, String)> = items
            .iter()
            .map(|i| (i.store, i.cert.thumbprint()))
            .collect();
        for item in new {
            let thumb = item.cert.thumbprint();
            if self.remove.contains(&thumb) {
                return Err(BaseError::Conflict(format!(
                    "{thumb} is both given with --cert and taken out with --remove"
                )));
            }
            if kept.contains(&(item.store, thumb.clone())) {
                notes.push(format!(
                    "{thumb} is already in {}'s {} store: kept as it is",
                    self.noun,
                    item.store.registry_name()
                ));
                continue;
            }
            insert_sorted(
                &mut entries,
                Entry::binary(item.key().policy_path(), "Blob", item.blob.clone()),
            );
            let store_name = item.store.registry_name();
            let certs_key = store::policy_container_key(store_name, Container::Certificates);
            // GPMC writes a store's `Certificates` key alone only while it is empty.
            entries.retain(|e| !(is_key_only(e) && e.key.eq_ignore_ascii_case(&certs_key)));
            for c in Container::EMPTY_BESIDE_CERTIFICATES {
                let key = store::policy_container_key(store_name, c);
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
            .map(|k| k.store)
            .collect::<BTreeSet<_>>()
        {
            let certs_key = store::policy_container_key(&store_name, Container::Certificates);
            let still = entries
                .iter()
                .any(|e| cert_entry(e).is_some_and(|k| k.store.eq_ignore_ascii_case(&store_name)));
            if !still
                && !entries
                    .iter()
                    .any(|e| e.key.eq_ignore_ascii_case(&certs_key))
            {
                insert_sorted(&mut entries, Entry::key_only(certs_key));
            }
        }
        items.sort_by(|a, b| policy::key_order(&a.key().policy_path(), &b.key().policy_path()));
        if self.backup.options & 2 != 0 {
            warnings.push(format!(
                "{} GPO's computer settings are disabled (Options = {}): its certificates do not apply until they are enabled",
                if self.noun == "the base" { "the base" } else { "the" },
                self.backup.options
            ));
        }
        Ok((entries, items))
    }

    /// A time after both the base backup and every certificate of `items`, so that
    /// the new backup is deterministic and newer than the base.
    pub(super) fn time_after(&self, items: &[Item]) -> Option<OffsetDateTime> {
        let base_time = self
            .info
            .as_ref()
            .and_then(|i| parse_gpmc_time(&i.backup_time))
            .map(|t| t + time::Duration::seconds(1));
        items
            .iter()
            .map(|i| i.cert.not_before)
            .chain(base_time)
            .max()
    }

    /// The base GPO's identity, one machine version up: `derived` gives what the base
    /// does not say (its domain GUID and controller without a bkupInfo.xml).
    pub(super) fn identity(&self, derived: GpoMeta) -> Result<GpoMeta, BaseError> {
        let mut meta = GpoMeta {
            gpo_guid: self.gpo_guid,
            display_name: self.backup.display_name.clone(),
            domain: self.backup.domain.clone(),
            comment: format!(
                "certgpo {} update of backup {}",
                env!("CARGO_PKG_VERSION"),
                self.info.as_ref().map_or("", |i| i.id.as_str())
            ),
            ..derived
        };
        if let Some(info) = &self.info {
            if let Some(g) = parse_guid(&info.gpo_domain_guid) {
                meta.domain_guid = g;
            }
            if !info.gpo_domain_controller.is_empty() {
                meta.domain_controller = info.gpo_domain_controller.clone();
            }
        }
        let (high, low) = crate::gpo::gpt_ini::split_version(self.backup.machine_version);
        meta.machine_version = high
            .max(low)
            .checked_add(1)
            .ok_or_else(|| BaseError::Version(self.shown.clone()))?;
        Ok(meta)
    }

    /// The base's Backup.xml for the new backup: the new machine version, and the
    /// extension GUIDs completed with the Registry and Public Key pairs.
    pub(super) fn backup_xml(&self, meta: &GpoMeta) -> BackupXml {
        BackupXml {
            machine_version: meta.machine_version_number(),
            machine_extension_guids: extension_guids::complete(
                &self.backup.machine_extension_guids,
            ),
            ..self.backup.clone()
        }
    }

    /// Every other file of the base backup, by path inside the backup folder.
    pub(super) fn carried(&self) -> &[(String, Vec<u8>)] {
        &self.carried
    }
}

/// The certificate key of a registry.pol entry that sets a certificate's Blob.
fn cert_entry(e: &Entry) -> Option<CertKey> {
    if e.value.eq_ignore_ascii_case("Blob") {
        CertKey::parse(&e.key)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertion_keeps_gpmc_order() {
        let mut e = vec![Entry::key_only(r"A\B"), Entry::key_only(r"A\D")];
        insert_sorted(&mut e, Entry::key_only(r"a\c"));
        insert_sorted(&mut e, Entry::key_only(r"A"));
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec!["A", r"A\B", r"a\c", r"A\D"]);
    }
}
