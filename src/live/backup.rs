//! A live GPO as a GPMC backup folder (docs/spec/windows-formats.md §4): what
//! `Backup-GPO -Path DIR` writes, so that `inspect`, `diff`, `build --base` and
//! `Import-GPO` read it. The files come from the writers of `crate::gpo`:
//! `manifest.xml`, and under `{BACKUP-ID}/` Backup.xml, bkupInfo.xml, gpreport.xml and
//! every file of the GPO's SYSVOL folder under `DomainSysvol/GPO/`, byte for byte, as
//! GPMC lays them out ([`crate::gpo::backup_xml::location`]: the two registry.pol files
//! in lower case, GPT.INI left out, its versions being in Backup.xml).
//!
//! Backup.xml carries the live container's DACL (read with the owner and group, written
//! as GPMC writes it: DACL only), `flags`, versions, extension names and WMI filter
//! link. The whole folder is read within the limits of `crate::input` (each file
//! [`input::BACKUP_FILE`], all together [`input::MAX_GPO_FOLDER_TOTAL`], at most
//! [`input::MAX_DIR_FILES`] entries, [`input::MAX_DIR_DEPTH`] levels) before anything is
//! written: a GPO over a limit, or with a file that cannot be read, is an error naming
//! it, never a partial backup.

use std::collections::BTreeMap;

use ldap3::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cert::Certificate;
use futures_util::StreamExt;

use crate::directory::{bin_values, first_value};
use crate::gpo::backup_xml::{self, BackupXml};
use crate::gpo::bkup_info::BackupInst;
use crate::gpo::descriptor::Descriptor;
use crate::gpo::{self, GpoMeta, folder, gpreport, gpt_ini};
use crate::input;
use crate::policy::{self, Action};
use crate::store::{CertKey, Store};

use super::read::{self, IN_FLIGHT, LiveGpo, Selection};
use super::sysvol::SysvolError;
use super::{Domain, LiveError, Target};

/// The backup's files (relative paths with `/`) and what it leaves out.
pub struct Backup {
    pub files: BTreeMap<String, Vec<u8>>,
    /// `{BACKUP-ID}`, the folder holding the backup.
    pub backup_id: String,
    pub gpo: LiveGpo,
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
    let container = domain
        .ldap
        .search(
            &gpo.dn,
            Scope::Base,
            "(objectClass=*)",
            &["gPCUserExtensionNames"],
            false,
        )
        .await?
        .unwrap_or_default();
    let user_extension_names = container
        .first()
        .and_then(|e| first_value(e, "gPCUserExtensionNames"))
        .unwrap_or_default()
        .to_string();
    let descriptor = container_dacl(domain, &gpo).await?;
    let tree = read_tree(domain, &gpo).await?;
    let live = LiveParts {
        tree,
        descriptor,
        user_extension_names,
    };
    let files = files(&gpo, &live, &state.domain, domain_guid, now)?;
    let backup_id = files
        .keys()
        .find_map(|k| k.strip_suffix(&format!("/{}", folder::BACKUP_XML)))
        .unwrap_or_default()
        .to_string();
    Ok(Backup {
        files,
        backup_id,
        gpo,
    })
}

/// The container's `nTSecurityDescriptor` as Backup.xml holds it: the DACL alone, with
/// the container's control flags (docs/spec/windows-formats.md §4.2).
async fn container_dacl(domain: &mut Domain, gpo: &LiveGpo) -> Result<Vec<u8>, LiveError> {
    let not_backed_up = |detail: String| LiveError::NotBackedUp {
        gpo: gpo.name.clone(),
        detail,
    };
    let sd = domain.ldap.security_descriptor(&gpo.dn).await?.ok_or_else(|| {
        not_backed_up(format!(
            "the directory gave no nTSecurityDescriptor for {} (reading it needs the Read Permissions right)",
            gpo.dn
        ))
    })?;
    let read = Descriptor::parse(&sd)
        .map_err(|e| not_backed_up(format!("its nTSecurityDescriptor: {e}")))?;
    Ok(Descriptor {
        owner: None,
        group: None,
        ..read
    }
    .write())
}

/// One file or folder of the GPO's SYSVOL folder.
pub struct TreeEntry {
    /// The path relative to the GPO's folder, `\`-separated.
    pub rel: String,
    /// The file's bytes; `None` for a folder.
    pub bytes: Option<Vec<u8>>,
}

/// What the backup takes from the live GPO besides [`LiveGpo`].
pub struct LiveParts {
    /// Every file and folder of its SYSVOL folder, in GPMC's order: the files of a
    /// folder, then each of its folders followed by what it holds.
    pub tree: Vec<TreeEntry>,
    /// The container's DACL, self-relative ([`container_dacl`]).
    pub descriptor: Vec<u8>,
    pub user_extension_names: String,
}

/// Every file and folder under the GPO's SYSVOL folder, listed whole and checked against
/// the limits before a file is read.
async fn read_tree(domain: &Domain, gpo: &LiveGpo) -> Result<Vec<TreeEntry>, LiveError> {
    let root = read::share_path(&gpo.file_sys_path);
    let sysvol = &domain.sysvol;
    let refuse = |detail: String| LiveError::NotBackedUp {
        gpo: gpo.name.clone(),
        detail,
    };
    let per_file = |e: SysvolError| -> LiveError {
        if e.is_per_file() {
            refuse(e.to_string())
        } else {
            e.into()
        }
    };
    // (relative path, whether a file), depth-first in GPMC's order.
    let mut listed: Vec<(String, bool)> = Vec::new();
    let mut total = 0u64;
    let mut folders = vec![(String::new(), 0usize)];
    while let Some((rel, depth)) = folders.pop() {
        if !rel.is_empty() {
            listed.push((rel.clone(), false));
        }
        let full = if rel.is_empty() {
            root.clone()
        } else {
            format!(r"{root}\{rel}")
        };
        let entries =
            sysvol.list(&full).await.map_err(per_file)?.ok_or_else(|| {
                refuse(format!("{full} disappeared while it was read; run again"))
            })?;
        let join = |name: &str| {
            if rel.is_empty() {
                name.to_string()
            } else {
                format!(r"{rel}\{name}")
            }
        };
        let mut subfolders = Vec::new();
        for entry in entries {
            // A name is one path component: nothing a server sends may lead the copy
            // outside the backup folder.
            let bad = entry.name.is_empty()
                || entry.name == "."
                || entry.name == ".."
                || entry.name.contains(['/', '\\', '\0']);
            if bad {
                return Err(refuse(format!(
                    "{full} lists the entry {:?}, which is not a file name",
                    crate::text::printable(&entry.name)
                )));
            }
            if entry.is_dir {
                subfolders.push(join(&entry.name));
                continue;
            }
            if entry.size > input::BACKUP_FILE.max {
                return Err(refuse(
                    SysvolError::TooLarge {
                        host: sysvol.host().to_string(),
                        path: format!(r"{full}\{}", entry.name),
                        size: entry.size,
                        limit: input::BACKUP_FILE,
                    }
                    .to_string(),
                ));
            }
            total = total.saturating_add(entry.size);
            listed.push((join(&entry.name), true));
        }
        if !subfolders.is_empty() && depth >= input::MAX_DIR_DEPTH {
            return Err(refuse(format!(
                "{full}: folders nested deeper than {} levels",
                input::MAX_DIR_DEPTH
            )));
        }
        folders.extend(subfolders.into_iter().rev().map(|f| (f, depth + 1)));
        if listed.len() > input::MAX_DIR_FILES {
            return Err(refuse(format!(
                "its SYSVOL folder {root} holds more than {} files and folders",
                input::MAX_DIR_FILES
            )));
        }
    }
    if total > input::MAX_GPO_FOLDER_TOTAL {
        return Err(refuse(format!(
            "its SYSVOL folder {root} holds {total} bytes; a backup carries at most {} MiB",
            input::MAX_GPO_FOLDER_TOTAL / (1024 * 1024)
        )));
    }
    let reads = listed.into_iter().map(|(rel, file)| {
        let root = &root;
        let refuse = &refuse;
        let per_file = &per_file;
        async move {
            if !file {
                return Ok(TreeEntry { rel, bytes: None });
            }
            let full = format!(r"{root}\{rel}");
            match sysvol.read(&full, input::BACKUP_FILE).await {
                Ok(Some(bytes)) => Ok(TreeEntry {
                    rel,
                    bytes: Some(bytes),
                }),
                Ok(None) => Err(refuse(format!(
                    "{full} disappeared while it was read; run again"
                ))),
                Err(e) => Err(per_file(e)),
            }
        }
    });
    futures_util::stream::iter(reads)
        .buffered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The backup's files for `gpo` (read from SYSVOL) in domain `domain`.
pub fn files(
    gpo: &LiveGpo,
    live: &LiveParts,
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
    // The Machine registry.pol as the tree holds it: an empty one when the GPO has
    // none, since a backup always lists it (what `build --base` starts from).
    let machine_pol = folder::windows_path(folder::MACHINE_POL);
    let pol = live
        .tree
        .iter()
        .find(|e| {
            e.bytes.is_some()
                && backup_xml::location(&e.rel).as_deref() == Some(machine_pol.as_str())
        })
        .and_then(|e| e.bytes.clone())
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
    backup.machine_version = gpt_ini::join_version(machine_version, machine_version);
    backup.user_version = gpt_ini::join_version(user_version, user_version);
    backup.machine_extension_guids = gpo.machine_extension_names.clone();
    backup.user_extension_guids = live.user_extension_names.clone();
    backup.wmi_filter = gpo.wmi_filter.clone().unwrap_or_default();
    backup.security_descriptor = crate::gpo::security::hex_spaced(&live.descriptor);
    let sysvol = BackupXml::sysvol_path(&meta);
    for entry in &live.tree {
        backup.list(&sysvol, &entry.rel, entry.bytes.is_none());
    }
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
    for entry in &live.tree {
        if let (Some(bytes), Some(location)) = (&entry.bytes, backup_xml::location(&entry.rel)) {
            files.insert(
                format!("{dir}/{}", folder::tree_path(&location)),
                bytes.clone(),
            );
        }
    }
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
