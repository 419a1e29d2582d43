//! A live GPO as a GPMC backup folder (docs/spec/windows-formats.md §4): what
//! `Backup-GPO -Path DIR` writes, so that `inspect`, `diff`, `build --base` and
//! `Import-GPO` read it. The files come from the writers of `crate::gpo`:
//! `manifest.xml`, and under `{BACKUP-ID}/` Backup.xml, bkupInfo.xml, gpreport.xml and
//! the Machine registry.pol read from SYSVOL, byte for byte.
//!
//! Only the Registry extension's Machine registry.pol is carried: the GPO's other
//! SYSVOL files (scripts, security templates, preferences, the User half) are listed
//! in [`Backup::left_out`], never silently dropped. The security descriptor written is
//! the default one GPMC gives a new GPO, not the live container's.

use std::collections::BTreeMap;

use ldap3::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cert::Certificate;
use crate::directory::bin_values;
use crate::gpo::backup_xml::BackupXml;
use crate::gpo::bkup_info::BackupInst;
use crate::gpo::{self, GpoMeta, folder, gpreport, gpt_ini};
use crate::policy::{self, Action};
use crate::store::{CertKey, Store};

use super::read::{self, LiveGpo, Selection};
use super::{Domain, LiveError, Target};

/// The backup's files (relative paths with `/`) and what it leaves out.
pub struct Backup {
    pub files: BTreeMap<String, Vec<u8>>,
    /// `{BACKUP-ID}`, the folder holding the backup.
    pub backup_id: String,
    pub gpo: LiveGpo,
    /// Files of the GPO's SYSVOL folder the backup does not carry.
    pub left_out: Vec<String>,
}

/// Read the GPO `gpo` (name or `{GUID}`) and make its backup as of `now`.
pub fn backup(target: &Target, gpo: &str, now: OffsetDateTime) -> Result<Backup, LiveError> {
    crate::directory::runtime()?.block_on(async {
        let mut domain = Domain::open(target).await?;
        let made = read_backup(&mut domain, gpo, now).await;
        domain.close().await;
        made
    })
}

async fn read_backup(
    domain: &mut Domain,
    name: &str,
    now: OffsetDateTime,
) -> Result<Backup, LiveError> {
    let state = read::read(domain, &Selection::One(name.to_string())).await?;
    let Some(gpo) = state.gpos.into_iter().next() else {
        return Err(LiveError::NoSuchGpo {
            url: state.url,
            gpo: name.into(),
        });
    };
    match &gpo.sysvol {
        read::SysvolState::Read => {}
        read::SysvolState::Missing => {
            return Err(LiveError::NotBackedUp {
                gpo: gpo.name.clone(),
                detail: format!("its SYSVOL folder {} is missing", gpo.file_sys_path),
            });
        }
        read::SysvolState::Unreadable(detail) => {
            return Err(LiveError::NotBackedUp {
                gpo: gpo.name.clone(),
                detail: detail.clone(),
            });
        }
    }
    let found = domain
        .ldap
        .search(
            &domain.domain_dn,
            Scope::Base,
            "(objectClass=*)",
            &["objectGUID"],
            false,
        )
        .await?
        .unwrap_or_default();
    let domain_guid = found
        .first()
        .and_then(|e| bin_values(e, "objectGUID").first())
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Uuid::from_bytes_le)
        .unwrap_or_default();
    let left_out = other_files(domain, &gpo).await?;
    let files = files(&gpo, &state.domain, domain_guid, now)?;
    let backup_id = files
        .keys()
        .find_map(|k| k.strip_suffix(&format!("/{}", folder::BACKUP_XML)))
        .unwrap_or_default()
        .to_string();
    Ok(Backup {
        files,
        backup_id,
        gpo,
        left_out,
    })
}

/// Every file of the GPO's folder but GPT.INI and Machine\Registry.pol (two levels
/// deep at most is enough to name what is there: `Machine\Scripts`, `User\...`).
async fn other_files(domain: &mut Domain, gpo: &LiveGpo) -> Result<Vec<String>, LiveError> {
    let root = read::share_path(&gpo.file_sys_path);
    let mut out = Vec::new();
    let mut folders = vec![(root.clone(), 0usize)];
    while let Some((dir, depth)) = folders.pop() {
        let listed = match domain.sysvol.list(&dir).await {
            Ok(l) => l.unwrap_or_default(),
            Err(e) if e.is_per_file() => {
                out.push(format!("{dir} (unreadable: {e})"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for entry in listed {
            let full = format!(r"{dir}\{}", entry.name);
            let rel = full[root.len()..].trim_start_matches('\\').to_string();
            if entry.is_dir {
                if depth < 3 {
                    folders.push((full, depth + 1));
                } else {
                    out.push(format!(r"{rel}\"));
                }
            } else if !rel.eq_ignore_ascii_case("GPT.INI")
                && !rel.eq_ignore_ascii_case(r"Machine\Registry.pol")
            {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The backup's files for `gpo` (read from SYSVOL) in domain `domain`.
pub fn files(
    gpo: &LiveGpo,
    domain: &str,
    domain_guid: Uuid,
    now: OffsetDateTime,
) -> Result<BTreeMap<String, Vec<u8>>, LiveError> {
    let gpo_guid = gpo
        .guid
        .trim_matches(['{', '}'])
        .parse::<Uuid>()
        .map_err(|_| LiveError::NotBackedUp {
            gpo: gpo.name.clone(),
            detail: format!("its cn {} is not a GUID", gpo.guid),
        })?;
    let pol = gpo
        .machine_pol
        .clone()
        .unwrap_or_else(|| policy::write(&[]));
    // Deterministic: the same GPO at the same time gives the same backup id.
    let mut seed = gpo::gpmc_time(now).into_bytes();
    seed.extend(crate::hex::upper(&sha256(&pol)).into_bytes());
    let backup_id = Uuid::new_v5(&gpo_guid, &seed);
    let (user_version, machine_version) = gpt_ini::split_version(gpo.version);
    let meta = GpoMeta {
        gpo_guid,
        backup_id,
        domain: domain.to_string(),
        domain_guid,
        domain_controller: domain.to_string(),
        display_name: gpo.name.clone(),
        comment: String::new(),
        time: now,
        machine_version,
    };
    let mut backup = BackupXml::new_gpo(&meta);
    // The live GPO's own values where Backup.xml repeats them: both 16-bit halves hold
    // the version, as in every real sample (docs/spec/windows-formats.md §4.2).
    backup.options = gpo.flags;
    backup.machine_version = (u32::from(machine_version) << 16) | u32::from(machine_version);
    backup.user_version = (u32::from(user_version) << 16) | u32::from(user_version);
    backup.machine_extension_guids = gpo.machine_extension_names.clone();
    let dir = gpo::braced_upper(&backup_id);
    let inst = BackupInst::of(&meta);
    let (certs, registry_keys) = report_certs(&pol);
    let report: Vec<gpreport::ReportCert> = certs
        .iter()
        .map(|(store, cert, blob)| gpreport::ReportCert {
            store: *store,
            cert,
            blob,
        })
        .collect();
    let mut files = BTreeMap::new();
    files.insert(
        folder::MANIFEST.to_string(),
        gpo::manifest::write(std::slice::from_ref(&inst)),
    );
    files.insert(
        format!("{dir}/{}", folder::BACKUP_XML),
        gpo::backup_xml::write(&backup),
    );
    files.insert(
        format!("{dir}/{}", folder::BKUP_INFO),
        gpo::bkup_info::write(&inst),
    );
    files.insert(
        format!("{dir}/{}", folder::GPREPORT),
        gpreport::write(&meta, &report, &registry_keys),
    );
    files.insert(format!("{dir}/{}", folder::MACHINE_POL), pol);
    Ok(files)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// The certificates gpreport.xml lists (store, certificate, Blob) in registry.pol
/// order, and the key-only entries of stores it shows under "Registry".
type ReportParts = (Vec<(Store, Certificate, Vec<u8>)>, Vec<String>);

fn report_certs(pol: &[u8]) -> ReportParts {
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    // The registry.pol was read by `inspect` already; an unreadable one lists nothing.
    let entries = policy::parse(pol).unwrap_or_default();
    for e in entries {
        if e.value.is_empty() && gpreport::is_unrecognised_store_key(&e.key) {
            keys.push(e.key.clone());
        }
        if e.action() != Action::Set || !e.value.eq_ignore_ascii_case("Blob") {
            continue;
        }
        let Some(CertKey { store, .. }) = CertKey::parse(&e.key) else {
            continue;
        };
        let Some(store) = Store::from_registry_name(&store) else {
            continue;
        };
        let Ok(blob) = crate::blob::parse(&e.data) else {
            continue;
        };
        if let Ok(cert) = Certificate::from_der(blob.der) {
            certs.push((store, cert, e.data.clone()));
        }
    }
    (certs, keys)
}
