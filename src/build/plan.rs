//! What a build decides: the store of each certificate, its Blob, the registry.pol
//! entries and the GPO identity, all derived from the inputs.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::base::Base;
use super::{BuildError, PipelineError};
use crate::blob::{self, BlobStyle, Extras};
use crate::cert::{Certificate, Loaded, Origin};
use crate::gpo::GpoMeta;
use crate::gpo::backup_xml::BackupXml;
use crate::policy::{self, Entry};
use crate::report;
use crate::store::{self, CertKey, Container, Store, StoreChoice};
use crate::text::printable;

/// Namespace of every GUID certgpo derives (UUID v5), so that the same inputs give the
/// same GPO and backup ids on every run and machine.
const GUID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_9a52_3b7e_4d0a_9c1e_52a4_7e0b_c3d1);

/// Everything `build` needs besides the certificates.
#[derive(Debug, Clone)]
pub struct Options {
    pub gpo_name: String,
    pub domain: Option<String>,
    pub store: StoreChoice,
    pub blob: BlobStyle,
    pub extras: Extras,
    pub all_stores: bool,
    pub allow_expired: bool,
    /// `--timestamp` or SOURCE_DATE_EPOCH; also the clock the reports are evaluated at.
    pub timestamp: Option<OffsetDateTime>,
    /// The channels written besides the GPO (`--channel`).
    pub channels: crate::channel::Selection,
}

/// One certificate placed in a store.
#[derive(Debug, Clone)]
pub struct Item {
    pub cert: Certificate,
    pub store: Store,
    pub blob: Vec<u8>,
    pub origins: Vec<Origin>,
}

impl Item {
    /// The certificate's key in its store.
    pub fn key(&self) -> CertKey {
        CertKey::new(self.store, self.cert.thumbprint())
    }
}

/// The decisions of a build, before anything is rendered.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In registry.pol order (store, then thumbprint).
    pub items: Vec<Item>,
    pub entries: Vec<Entry>,
    pub meta: GpoMeta,
    /// Backup.xml: GPMC's for a new GPO, or the base's one version up.
    pub backup: BackupXml,
    /// Files of the base backup that go into the new one unchanged, by path inside
    /// the backup folder.
    pub carried: Vec<(String, Vec<u8>)>,
    /// The clock the findings were evaluated at.
    pub as_of: OffsetDateTime,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub options: Options,
}

/// Decide stores, Blobs, registry.pol and the GPO identity; with a `base`, merge
/// the certificates into it and keep its GPO.
///
/// `now` is the real clock: expiry refusals always use it, so an old
/// SOURCE_DATE_EPOCH cannot sneak an expired certificate through.
pub fn plan(
    loaded: Vec<Loaded>,
    opts: Options,
    base: Option<&Base>,
    now: OffsetDateTime,
) -> Result<Plan, PipelineError> {
    plan_with(loaded, Vec::new(), opts, base, now)
}

/// [`plan`] with certificates already placed in their store with their Blob (`given`,
/// from a bundle), besides the ones to place (`loaded`).
pub fn plan_with(
    loaded: Vec<Loaded>,
    given: Vec<Item>,
    mut opts: Options,
    base: Option<&Base>,
    now: OffsetDateTime,
) -> Result<Plan, PipelineError> {
    if let Some(b) = base {
        opts.gpo_name = b.display_name().to_string();
        opts.domain = Some(b.domain().to_string());
    }
    validate_text("--gpo-name", &opts.gpo_name, 255)?;
    if let Some(f) = &opts.extras.friendly_name {
        validate_text("--friendly-name", f, 255)?;
    }
    let as_of = opts.timestamp.unwrap_or(now);
    let mut warnings = Vec::new();
    let mut notes = Vec::new();

    // Merge duplicates (same SHA-1), keeping every place they came from.
    let mut by_thumb: BTreeMap<[u8; 20], (Certificate, Vec<Origin>)> = BTreeMap::new();
    for l in loaded {
        by_thumb
            .entry(l.cert.sha1)
            .or_insert_with(|| (l.cert, Vec::new()))
            .1
            .push(l.origin);
    }

    let mut items = Vec::new();
    for (cert, origins) in by_thumb.into_values() {
        let file = origins.first().map(|o| o.file.clone()).unwrap_or_default();
        if origins.len() > 1 {
            notes.push(format!(
                "{} appears {} times in the input; it is written once",
                cert.thumbprint(),
                origins.len()
            ));
        }
        if cert.not_after < now && !opts.allow_expired {
            return Err(BuildError::Expired {
                file,
                thumbprint: cert.thumbprint(),
                subject: printable(&cert.subject),
                date: report::date_time(cert.not_after),
            }
            .into());
        }
        let store = match opts.store.explicit() {
            Some(s) => s,
            None if cert.self_signed => Store::Root,
            None if cert.is_ca => Store::Ca,
            None => {
                return Err(BuildError::NotTrustAnchor {
                    file,
                    thumbprint: cert.thumbprint(),
                    subject: printable(&cert.subject),
                    issuer: printable(&cert.issuer),
                }
                .into());
            }
        };
        if store == Store::Root && !cert.self_signed {
            warnings.push(format!(
                "{} ({}) goes to Root but is not self-signed: Windows builds chains to a self-signed root",
                cert.thumbprint(),
                printable(&cert.subject_display)
            ));
        }
        for f in cert.findings(as_of) {
            warnings.push(format!(
                "{} ({}): {f}",
                cert.thumbprint(),
                printable(&cert.subject_display)
            ));
        }
        let blob = blob::build(&cert, store, opts.blob, &opts.extras);
        if blob.len() > blob::MAX_BLOB {
            return Err(BuildError::BlobTooLarge {
                file,
                thumbprint: cert.thumbprint(),
                size: blob.len(),
            }
            .into());
        }
        items.push(Item {
            cert,
            store,
            blob,
            origins,
        });
    }
    for item in given {
        if item.cert.not_after < now && !opts.allow_expired {
            return Err(BuildError::Expired {
                file: item
                    .origins
                    .first()
                    .map(|o| o.file.clone())
                    .unwrap_or_default(),
                thumbprint: item.cert.thumbprint(),
                subject: printable(&item.cert.subject),
                date: report::date_time(item.cert.not_after),
            }
            .into());
        }
        if !items
            .iter()
            .any(|i| i.store == item.store && i.cert.sha1 == item.cert.sha1)
        {
            items.push(item);
        }
    }
    items.sort_by(|a, b| policy::key_order(&a.key().policy_path(), &b.key().policy_path()));

    let domain = match &opts.domain {
        Some(d) => {
            validate_domain(d)?;
            d.clone()
        }
        None => {
            let (domain, from) = derive_domain(&items)?;
            notes.push(format!(
                "--domain not given: using {domain}, the domain of {from}"
            ));
            domain
        }
    };

    let (entries, items) = match base {
        Some(b) => b.merge(items, now, &mut notes, &mut warnings)?,
        None => (policy_entries(&items, opts.all_stores), items),
    };
    let registry_pol = policy::write(&entries);
    let time = match (opts.timestamp, base) {
        (Some(t), _) => t,
        (None, Some(b)) => b.time_after(&items).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        (None, None) => derived_time(&items),
    };
    let domain_key = domain.to_ascii_lowercase();
    let gpo_guid = Uuid::new_v5(
        &GUID_NAMESPACE,
        format!("gpo\0{domain_key}\0{}", opts.gpo_name).as_bytes(),
    );
    let mut meta = GpoMeta {
        gpo_guid,
        backup_id: Uuid::nil(),
        domain_guid: Uuid::new_v5(&GUID_NAMESPACE, format!("domain\0{domain_key}").as_bytes()),
        domain_controller: domain.clone(),
        domain,
        display_name: opts.gpo_name.clone(),
        comment: format!("Built by certgpo {}", env!("CARGO_PKG_VERSION")),
        time,
        machine_version: 1,
    };
    if let Some(b) = base {
        meta = b.identity(meta)?;
    }
    meta.backup_id = backup_id(&meta.gpo_guid, time, &registry_pol);
    let backup = match base {
        Some(b) => b.backup_xml(&meta),
        None => BackupXml::new_gpo(&meta),
    };
    Ok(Plan {
        items,
        entries,
        meta,
        backup,
        carried: base.map(|b| b.carried().to_vec()).unwrap_or_default(),
        as_of,
        warnings,
        notes,
        options: opts,
    })
}

/// The backup id: derived from the GPO, the time and the registry.pol it carries.
pub fn backup_id(gpo_guid: &Uuid, time: OffsetDateTime, registry_pol: &[u8]) -> Uuid {
    let mut seed = format!("backup\0{gpo_guid}\0{}\0", time.unix_timestamp()).into_bytes();
    seed.extend_from_slice(&Sha256::digest(registry_pol));
    Uuid::new_v5(&GUID_NAMESPACE, &seed)
}

/// The registry.pol entries GPMC writes for these certificates: each Blob, then the empty
/// `CRLs`/`CTLs` keys of its store; with `all_stores`, also the empty
/// `Certificates`/`CRLs`/`CTLs` keys of every other store GPMC opens
/// (docs/spec/windows-formats.md §2.2).
pub fn policy_entries(items: &[Item], all_stores: bool) -> Vec<Entry> {
    let mut entries: Vec<Entry> = items
        .iter()
        .map(|i| Entry::binary(i.key().policy_path(), "Blob", i.blob.clone()))
        .collect();
    let used: BTreeSet<&str> = items.iter().map(|i| i.store.registry_name()).collect();
    for s in &used {
        for c in Container::EMPTY_BESIDE_CERTIFICATES {
            entries.push(Entry::key_only(store::policy_container_key(s, c)));
        }
    }
    if all_stores {
        for s in store::GPMC_STORE_KEYS.iter().filter(|s| !used.contains(*s)) {
            for c in Container::ALL {
                entries.push(Entry::key_only(store::policy_container_key(s, c)));
            }
        }
    }
    policy::sort_gpmc(&mut entries);
    entries
}

/// Without `--timestamp`, the bundle's time is the newest `notBefore` among the
/// certificates: it changes only when the input does, so rebuilds are identical.
fn derived_time(items: &[Item]) -> OffsetDateTime {
    items
        .iter()
        .map(|i| i.cert.not_before)
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Derive the AD domain from the certificates' FQDNs (an Exchange certificate names
/// `exch.contoso.local`): usable only when every FQDN points at the same parent.
fn derive_domain(items: &[Item]) -> Result<(String, String), BuildError> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for i in items {
        for name in &i.cert.dns_names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            // A host's parent is a domain only when it has two labels or more
            // (`mail.contoso.com` gives contoso.com; `contoso.com` gives nothing).
            if let Some((host, parent)) = name.split_once('.')
                && host != "*"
                && parent.contains('.')
                && validate_domain(parent).is_ok()
            {
                found.entry(parent.to_string()).or_insert(name.clone());
            }
        }
    }
    match found.len() {
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        0 => Err(BuildError::NoDomain(
            "no certificate names a fully qualified host to derive it from".into(),
        )),
        _ => Err(BuildError::NoDomain(format!(
            "the certificates name several domains ({})",
            found.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn validate_domain(d: &str) -> Result<(), BuildError> {
    let bad = |problem: &str| BuildError::BadOption {
        option: "--domain",
        value: d.to_string(),
        problem: problem.to_string(),
    };
    if d.is_empty() || d.len() > 253 {
        return Err(bad("must be 1 to 253 characters"));
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each label must be 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(bad(
                "not a DNS domain name (letters, digits and inner hyphens only)",
            ));
        }
    }
    Ok(())
}

/// Names end up in XML, scripts and the registry: control characters have no safe
/// representation in several of those, so they are refused outright. So are the
/// bidirectional controls: they reorder what an admin reads in GPMC or a report
/// (U+202E shows `exe.txt` as `txt.exe`).
fn validate_text(option: &'static str, s: &str, max: usize) -> Result<(), BuildError> {
    let problem = if s.trim().is_empty() {
        format!("must not be empty (at most {max} characters)")
    } else if s.chars().count() > max {
        format!("is too long (at most {max} characters)")
    } else if s.chars().any(char::is_control) {
        format!("must not contain control characters (at most {max} characters)")
    } else if s.chars().any(crate::text::is_bidi_control) {
        "must not contain bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C)".into()
    } else {
        return Ok(());
    };
    Err(BuildError::BadOption {
        option,
        value: s.to_string(),
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_rules() {
        assert!(validate_domain("contoso.local").is_ok());
        assert!(validate_domain("-bad.local").is_err());
        assert!(validate_domain("a..b").is_err());
        assert!(validate_text("--gpo-name", "a\nb", 10).is_err());
        assert!(validate_text("--gpo-name", "Roots \u{202E}lmx.exe", 30).is_err());
        assert!(validate_text("--friendly-name", "a\u{2067}b", 10).is_err());
        assert!(validate_text("--gpo-name", "Zertifikate für Ämter", 30).is_ok());
    }
}
