//! Finding every certificate in any input: a certificate file, a registry.pol, a
//! `.reg`, a Blob, a gpreport.xml, a GPMC backup, a folder of backups (with or
//! without manifest.xml), a certgpo bundle, or a zip of any of these.
//!
//! The result is an [`Inventory`] (see `inventory.rs`): each certificate entry with where it was found,
//! the problems of the entry itself, and notes about the containers. `inspect`,
//! `diff`, `audit` and `build --base` all read their inputs through [`read_inputs`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::InspectError;
use super::inventory::{
    BackupSummary, FileSummary, Format, GpoRef, Half, Inventory, Item, Location, NoteCode, Options,
    Problem, Removal, Setting,
};
use super::tree::Tree;
use crate::blob;
use crate::bundle;
use crate::cert::{Pkcs12Refused, Undecodable};
use crate::gpo::folder::{self, BackupFolder};
use crate::gpo::gpreport::{self, Report};
use crate::gpo::{extension_guids, manifest};
use crate::input::{self, InputError};
use crate::policy::{self, Action, REG_BINARY};
use crate::reg::{self, ValueData};
use crate::store::{self, CertKey, Store};

/// Read every input; the first unreadable one stops with an error naming it, and
/// naming `option` when the input itself cannot be read (`diff`'s `OLD`, `NEW`).
pub fn read_inputs(
    paths: &[PathBuf],
    option: Option<&str>,
    opts: Options,
) -> Result<Inventory, InspectError> {
    let mut inv = Inventory::default();
    for path in paths {
        read_path(path, option, opts, &mut inv)?;
    }
    Ok(inv)
}

/// Enough of a file's start to tell its format (see [`sniff`]).
const SNIFF_BYTES: usize = 64;

fn read_path(
    path: &Path,
    option: Option<&str>,
    opts: Options,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    let given = |e: InputError| match option {
        Some(o) => e.given_as(o),
        None => e,
    };
    let shown = path.display().to_string();
    if input::is_dir(path).map_err(given)? {
        let mut tree = Tree::dir(path)?;
        return walk_tree(&mut tree, opts, inv, true);
    }
    // A file of a backup stands for the whole backup (or backup set).
    let name = file_name(&shown);
    if [folder::BACKUP_XML, folder::BKUP_INFO, folder::MANIFEST]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
        && let Some(parent) = path.parent()
    {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let mut tree = Tree::dir(parent)?;
        return walk_tree(&mut tree, opts, inv, true);
    }
    let mut file = input::open(path).map_err(given)?;
    let head = file.head(SNIFF_BYTES).map_err(given)?;
    if Tree::is_zip(head) {
        let mut tree = Tree::zip(file)?;
        return walk_tree(&mut tree, opts, inv, false);
    }
    let sniffed = sniff(head, &shown);
    let (limit, magic): (_, &[u8]) = match sniffed {
        Sniffed::Policy => (input::POLICY, policy::SIGNATURE),
        Sniffed::Reg => (input::REG, b""),
        Sniffed::Report => (input::GPO_XML, b""),
        Sniffed::Blob => (input::BLOB, b""),
        Sniffed::Other => (input::CERTIFICATE, b""),
    };
    let bytes = file.read_all(limit, magic).map_err(given)?;
    match sniffed {
        Sniffed::Policy => read_policy(&bytes, &shown, None, None, opts, inv),
        Sniffed::Reg => read_reg(&bytes, &shown, opts, inv),
        Sniffed::Report => read_report_file(&bytes, &shown, inv),
        Sniffed::Blob => read_blob_file(&bytes, &shown, inv),
        Sniffed::Other => read_cert_file(&bytes, &shown, inv),
    }
}

/// A file given on its own: recognised by its start, whatever its name.
enum Sniffed {
    Policy,
    Reg,
    Report,
    Blob,
    Other,
}

fn sniff(bytes: &[u8], file: &str) -> Sniffed {
    let lower = file.to_ascii_lowercase();
    if bytes.starts_with(b"PReg") || lower.ends_with(".pol") {
        return Sniffed::Policy;
    }
    if lower.ends_with(".reg")
        || crate::codec::text_starts_with(bytes, "Windows Registry Editor")
        || crate::codec::text_starts_with(bytes, "REGEDIT4")
    {
        return Sniffed::Reg;
    }
    if file_name(&lower).eq_ignore_ascii_case(folder::GPREPORT) {
        return Sniffed::Report;
    }
    // A Blob starts with a property id and the reserved field 1; no certificate
    // encoding (PEM text, DER SEQUENCE) can start that way.
    if bytes.len() >= 12 && bytes[4..8] == [1, 0, 0, 0] && bytes[0] != 0x30 {
        return Sniffed::Blob;
    }
    Sniffed::Other
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The directory part of a relative tree path ("" at the top).
fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn under(rel: &str, dir: &str) -> bool {
    dir.is_empty()
        || (rel.len() > dir.len()
            && rel.as_bytes()[dir.len()] == b'/'
            && rel[..dir.len()].eq_ignore_ascii_case(dir))
}

const CERT_EXTENSIONS: &[&str] = &["cer", "crt", "pem", "der", "p7b", "p7c"];

fn extension(rel: &str) -> String {
    let name = file_name(rel);
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Walk a directory or zip: bundles, backups and backup sets first, then loose files.
fn walk_tree(
    tree: &mut Tree,
    opts: Options,
    inv: &mut Inventory,
    nested_zips: bool,
) -> Result<(), InspectError> {
    let files: Vec<String> = tree.files().to_vec();
    let named = |name: &str| -> BTreeSet<String> {
        files
            .iter()
            .filter(|f| file_name(f).eq_ignore_ascii_case(name))
            .map(|f| parent(f).to_string())
            .collect()
    };
    // A certgpo bundle: its policy file beside its GPO backup folder.
    let bundles: BTreeSet<String> = files
        .iter()
        .filter_map(|f| bundle_root(f))
        .filter(|root| {
            let gb = join(root, bundle::GPO_BACKUP);
            files.iter().any(|f| under(f, &gb))
        })
        .collect();
    let backups = folder::backup_dirs(&files);
    let manifests = named(folder::MANIFEST);

    for root in &bundles {
        read_bundle(tree, root, opts, inv)?;
    }
    let in_bundle = |rel: &str| bundles.iter().any(|b| under(rel, b) || rel == b);
    for dir in backups.iter().filter(|d| !in_bundle(d)) {
        read_backup(tree, dir, opts, inv)?;
    }
    for dir in manifests.iter().filter(|d| !in_bundle(d)) {
        if !backups.contains(dir.as_str()) {
            check_manifest(tree, dir, &backups, inv)?;
        }
    }

    let files_before = inv.files.len();
    for rel in &files {
        let claimed = in_bundle(rel) || backups.iter().any(|b| under(rel, b));
        if claimed {
            continue;
        }
        let ext = extension(rel);
        let lower = file_name(rel).to_ascii_lowercase();
        let shown = tree.display(rel);
        if ext == "pol" {
            let bytes = tree.read(rel)?;
            read_policy(&bytes, &shown, None, None, opts, inv)?;
        } else if ext == "reg" {
            let bytes = tree.read(rel)?;
            read_reg(&bytes, &shown, opts, inv)?;
        } else if lower.eq_ignore_ascii_case(folder::GPREPORT) {
            let bytes = tree.read(rel)?;
            read_report_file(&bytes, &shown, inv)?;
        } else if CERT_EXTENSIONS.contains(&ext.as_str()) {
            let bytes = tree.read(rel)?;
            read_cert_file(&bytes, &shown, inv)?;
        } else if (ext == "bin" || ext == "blob")
            // Larger files cannot be a Blob, and are not read just to find out.
            && tree.size(rel).is_some_and(|n| n <= input::BLOB.max)
        {
            let bytes = tree.read(rel)?;
            // Only files that are Blobs; other binary files are not ours to judge.
            if matches!(sniff(&bytes, &shown), Sniffed::Blob) && blob::parse(&bytes).is_ok() {
                read_blob_file(&bytes, &shown, inv)?;
            }
        } else if ext == "zip" {
            match tree.disk_path(rel) {
                Some(path) if nested_zips => {
                    let mut inner = Tree::zip(input::open(&path)?)?;
                    walk_tree(&mut inner, opts, inv, false)?;
                }
                _ => inv.warnings.push(format!(
                    "{shown}: skipped (a zip inside a zip is not opened)"
                )),
            }
        }
    }
    // Every loose file read adds its summary; a folder that gave none is worth a word.
    if bundles.is_empty()
        && backups.is_empty()
        && manifests.is_empty()
        && inv.files.len() == files_before
        && !files.iter().any(|f| extension(f) == "zip")
    {
        inv.warnings.push(format!(
            "{}: no certificate file, registry.pol, .reg, backup or zip found",
            tree.root()
        ));
    }
    Ok(())
}

/// The root of the bundle whose policy file `rel` is (`<root>/policy/registry.pol`).
fn bundle_root(rel: &str) -> Option<String> {
    let at = rel.len().checked_sub(bundle::POLICY_FILE.len())?;
    let (root, tail) = (rel.get(..at)?, rel.get(at..)?);
    if !tail.eq_ignore_ascii_case(bundle::POLICY_FILE) {
        return None;
    }
    match root.strip_suffix('/') {
        Some(r) => Some(r.to_string()),
        None => root.is_empty().then(String::new),
    }
}

/// Analyse one Blob found under a certificate key (or on its own).
fn blob_item(
    inv: &mut Inventory,
    bytes: &[u8],
    location: Location,
    store: Option<String>,
    key_thumb: Option<String>,
) -> Item {
    let mut item = Item {
        location,
        store,
        key_thumbprint: key_thumb,
        blob: None,
        cert: None,
        problems: Vec::new(),
    };
    let parsed = match blob::parse(bytes) {
        Ok(p) => p,
        Err(e) => {
            item.problems.push(Problem::UnreadableBlob {
                detail: e.to_string(),
            });
            return item;
        }
    };
    match inv.certificate(parsed.der.clone()) {
        Ok(cert) => item.cert = Some(cert),
        Err(detail) => item
            .problems
            .push(Problem::UnreadableCertificate { detail }),
    }
    if let Some(cert) = &item.cert {
        let sha1 = cert.thumbprint();
        if let Some(key) = &item.key_thumbprint {
            if !key.eq_ignore_ascii_case(&sha1) {
                item.problems.push(Problem::KeyMismatch {
                    key: key.clone(),
                    sha1: sha1.clone(),
                });
            } else if *key != sha1 {
                item.problems
                    .push(Problem::KeyNotUpperCase { key: key.clone() });
            }
        }
        if let Some(p) = parsed.property(blob::SHA1_HASH)
            && p != cert.sha1
        {
            item.problems.push(Problem::Sha1PropertyMismatch {
                property: crate::hex::upper(p),
            });
        }
        if item.known_store() == Some(Store::Root) && !cert.self_signed {
            item.problems.push(Problem::RootNotSelfSigned {
                issuer: cert.issuer_display.clone(),
            });
        }
    }
    item.blob = Some(parsed);
    item
}

fn read_blob_file(bytes: &[u8], file: &str, inv: &mut Inventory) -> Result<(), InspectError> {
    // A Blob file on its own must be readable: there is no container to report on.
    blob::parse(bytes).map_err(|source| InspectError::Blob {
        file: file.to_string(),
        source,
    })?;
    let item = blob_item(
        inv,
        bytes,
        Location {
            file: file.to_string(),
            format: Format::Blob,
            gpo: None,
            half: None,
            key: None,
            offset: None,
            line: None,
            index: None,
        },
        None,
        None,
    );
    if let Some(Problem::UnreadableCertificate { detail }) = item.problems.first() {
        return Err(InspectError::NotCertificate {
            file: file.to_string(),
            detail: detail.clone(),
        });
    }
    inv.items.push(item);
    inv.files.push(FileSummary {
        file: file.to_string(),
        format: "Blob",
        entries: 1,
        control_codes: 0,
        certificates: 1,
    });
    Ok(())
}

fn read_cert_file(bytes: &[u8], file: &str, inv: &mut Inventory) -> Result<(), InspectError> {
    let not_cert = |detail: String| InspectError::NotCertificate {
        file: file.to_string(),
        detail,
    };
    let mut warnings = Vec::new();
    let ders = crate::cert::decode_container(bytes, &mut |w| warnings.push(format!("{file}: {w}")))
        .map_err(|e| match e {
            Undecodable::Pkcs12 => InspectError::from(Pkcs12Refused {
                path: file.to_string(),
            }),
            Undecodable::Other(detail) => not_cert(detail),
        })?;
    inv.warnings.extend(warnings);
    if ders.is_empty() {
        return Err(not_cert("no certificate in it".into()));
    }
    let count = ders.len();
    for (i, der) in ders.into_iter().enumerate() {
        let cert = inv
            .certificate(der)
            .map_err(|d| not_cert(format!("certificate #{}: {d}", i + 1)))?;
        inv.items.push(Item {
            location: Location {
                file: file.to_string(),
                format: Format::CertificateFile,
                gpo: None,
                half: None,
                key: None,
                offset: None,
                line: None,
                index: Some(i + 1),
            },
            store: None,
            key_thumbprint: None,
            blob: None,
            cert: Some(cert),
            problems: Vec::new(),
        });
    }
    inv.files.push(FileSummary {
        file: file.to_string(),
        format: "certificate file",
        entries: count,
        control_codes: 0,
        certificates: count,
    });
    Ok(())
}

/// The Machine registry.pol of a live GPO, read from SYSVOL (`file` is its path there).
pub fn read_gpo_policy(
    bytes: &[u8],
    file: &str,
    gpo: &GpoRef,
    opts: Options,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    read_policy(bytes, file, Some(gpo), Some(Half::Machine), opts, inv)
}

/// A certificate published in the directory: `der` is the `cACertificate` value
/// number `index` (1-based) of the object `dn`, which reaches `store` on clients.
pub fn read_directory_certificate(
    der: &[u8],
    dn: &str,
    store: &str,
    index: usize,
    inv: &mut Inventory,
) {
    let location = Location {
        file: dn.to_string(),
        format: Format::Directory,
        gpo: None,
        half: Some(Half::Machine),
        key: Some("cACertificate".into()),
        offset: None,
        line: None,
        index: Some(index),
    };
    let (cert, problems) = match inv.certificate(der.to_vec()) {
        Ok(c) => (Some(c), Vec::new()),
        Err(detail) => (None, vec![Problem::UnreadableCertificate { detail }]),
    };
    inv.items.push(Item {
        location,
        store: Some(store.to_string()),
        key_thumbprint: None,
        blob: None,
        cert,
        problems,
    });
}

/// Read a registry.pol: certificate entries, removals, order, and (optionally) settings.
fn read_policy(
    bytes: &[u8],
    file: &str,
    gpo: Option<&GpoRef>,
    half: Option<Half>,
    opts: Options,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    let policy_error = |source| InspectError::Policy {
        file: file.to_string(),
        source,
    };
    let mut entries = 0;
    let mut control_codes = 0;
    let mut certificates = 0;
    let mut unsorted: Option<(usize, String, String)> = None;
    let mut previous: Option<String> = None;
    for entry in policy::entries(bytes).map_err(policy_error)? {
        let e = entry.map_err(policy_error)?;
        entries += 1;
        if let Some(prev) = &previous
            && unsorted.is_none()
            && *prev != e.key
            && policy::key_order(prev, &e.key) == std::cmp::Ordering::Greater
        {
            unsorted = Some((e.offset, prev.clone(), e.key.clone()));
        }
        let action = e.action();
        if e.value.starts_with("**") {
            control_codes += 1;
        }
        if opts.settings {
            inv.settings.push(Setting {
                file: file.to_string(),
                offset: Some(e.offset),
                line: None,
                key: e.key.clone(),
                value: Some(e.value.clone()),
                kind: e.kind,
                type_name: policy::type_name(e.kind),
                size: e.data.len(),
                data_hex: crate::hex::upper(e.data),
                data: policy::display_data(e.kind, e.data),
                action: action.to_string(),
            });
        }
        if let Action::DeleteKeys(keys) = &action
            && let Some(store) = store::certificates_store_of(&e.key)
        {
            for thumb in keys {
                inv.removals.push(Removal {
                    file: file.to_string(),
                    store: store.clone(),
                    thumbprint: thumb.to_ascii_uppercase(),
                    key: format!("{}\\{thumb}", e.key),
                });
            }
        }
        if action == Action::Set
            && e.value.eq_ignore_ascii_case("Blob")
            && let Some(CertKey { store, thumbprint }) = CertKey::parse(&e.key)
        {
            certificates += 1;
            let location = Location {
                file: file.to_string(),
                format: Format::RegistryPol,
                gpo: gpo.cloned(),
                half,
                key: Some(e.key.clone()),
                offset: Some(e.offset),
                line: None,
                index: None,
            };
            let mut item = blob_item(inv, e.data, location, Some(store), Some(thumbprint));
            if e.kind != REG_BINARY {
                item.problems.push(Problem::BlobNotBinary {
                    type_name: policy::type_name(e.kind),
                });
            }
            inv.items.push(item);
        }
        previous = Some(e.key);
    }
    if let Some((offset, prev, key)) = unsorted {
        inv.note(
            file,
            NoteCode::RegistryPolUnsorted,
            format!(
                "not sorted as GPMC sorts (key by key, ignoring case): the entry at byte offset {offset} ({key}) comes after {prev}; Windows applies it, but GPMC would rewrite the file"
            ),
        );
    }
    inv.files.push(FileSummary {
        file: file.to_string(),
        format: "registry.pol",
        entries,
        control_codes,
        certificates,
    });
    Ok(())
}

fn read_reg(
    bytes: &[u8],
    file: &str,
    opts: Options,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    let parsed = reg::parse::parse(bytes).map_err(|source| InspectError::Reg {
        file: file.to_string(),
        source,
    })?;
    let mut entries = 0;
    let mut certificates = 0;
    for key in &parsed.keys {
        let half = hive_half(&key.path);
        if key.delete {
            if let Some(CertKey { store, thumbprint }) = CertKey::parse(&key.path) {
                inv.removals.push(Removal {
                    file: file.to_string(),
                    store,
                    thumbprint: thumbprint.to_ascii_uppercase(),
                    key: key.path.clone(),
                });
            }
            if opts.settings {
                inv.settings.push(Setting {
                    file: file.to_string(),
                    offset: None,
                    line: Some(key.line),
                    key: key.path.clone(),
                    value: None,
                    kind: policy::REG_NONE,
                    type_name: policy::type_name(policy::REG_NONE),
                    size: 0,
                    data_hex: String::new(),
                    data: String::new(),
                    action: "delete the key and all its subkeys".into(),
                });
            }
            continue;
        }
        for v in &key.values {
            entries += 1;
            let (kind, data, action) = match &v.data {
                ValueData::Delete => (policy::REG_NONE, &[][..], "delete the value"),
                ValueData::Set { kind, bytes } => (*kind, bytes.as_slice(), "set"),
            };
            if opts.settings {
                inv.settings.push(Setting {
                    file: file.to_string(),
                    offset: None,
                    line: Some(v.line),
                    key: key.path.clone(),
                    value: v.name.clone(),
                    kind,
                    type_name: policy::type_name(kind),
                    size: data.len(),
                    data_hex: crate::hex::upper(data),
                    data: policy::display_data(kind, data),
                    action: action.into(),
                });
            }
            let is_blob = v
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("Blob"));
            if let (true, ValueData::Set { kind, bytes }) = (is_blob, &v.data)
                && let Some(CertKey { store, thumbprint }) = CertKey::parse(&key.path)
            {
                certificates += 1;
                let location = Location {
                    file: file.to_string(),
                    format: Format::Reg,
                    gpo: None,
                    half,
                    key: Some(key.path.clone()),
                    offset: None,
                    line: Some(v.line),
                    index: None,
                };
                let mut item = blob_item(inv, bytes, location, Some(store), Some(thumbprint));
                if *kind != REG_BINARY {
                    item.problems.push(Problem::BlobNotBinary {
                        type_name: policy::type_name(*kind),
                    });
                }
                inv.items.push(item);
            }
        }
    }
    inv.files.push(FileSummary {
        file: file.to_string(),
        format: ".reg",
        entries,
        control_codes: 0,
        certificates,
    });
    Ok(())
}

fn hive_half(path: &str) -> Option<Half> {
    let hive = path.split('\\').next().unwrap_or("").to_ascii_uppercase();
    match hive.as_str() {
        "HKEY_LOCAL_MACHINE" | "HKLM" => Some(Half::Machine),
        "HKEY_CURRENT_USER" | "HKCU" | "HKEY_USERS" | "HKU" => Some(Half::User),
        _ => None,
    }
}

/// The store a gpreport.xml certificate element stands for.
fn report_store(element: &str) -> Option<String> {
    Store::ALL
        .into_iter()
        .find(|s| s.report_element() == element)
        .map(|s| s.registry_name().to_string())
        .or_else(|| (element == "EFSRecoveryAgent").then(|| "EFS".to_string()))
}

fn report_items(
    inv: &mut Inventory,
    report: &Report,
    file: &str,
    gpo: Option<&GpoRef>,
) -> Vec<Item> {
    report
        .certificates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let location = Location {
                file: file.to_string(),
                format: Format::GpReport,
                gpo: gpo.cloned(),
                half: Some(if c.user { Half::User } else { Half::Machine }),
                key: None,
                offset: None,
                line: None,
                index: Some(i + 1),
            };
            blob_item(inv, &c.blob, location, report_store(&c.element), None)
        })
        .collect()
}

fn read_report_file(bytes: &[u8], file: &str, inv: &mut Inventory) -> Result<(), InspectError> {
    let report = gpreport::parse(bytes, file)?;
    let gpo = GpoRef {
        name: report.name.clone(),
        guid: report.identifier.clone(),
        backup_id: String::new(),
        domain: report.domain.clone(),
    };
    let items = report_items(inv, &report, file, Some(&gpo));
    inv.files.push(FileSummary {
        file: file.to_string(),
        format: "gpreport.xml",
        entries: items.len(),
        control_codes: 0,
        certificates: items.len(),
    });
    inv.items.extend(items);
    Ok(())
}

/// Read one GPMC backup folder.
fn read_backup(
    tree: &mut Tree,
    dir: &str,
    opts: Options,
    inv: &mut Inventory,
) -> Result<Option<BackupSummary>, InspectError> {
    let shown_dir = if dir.is_empty() {
        tree.root().to_string()
    } else {
        tree.display(dir)
    };
    let BackupFolder {
        backup,
        info,
        report,
        machine_pol,
        user_pol,
        others: _,
    } = folder::read(tree, dir)?;
    let backup = backup.map(|b| b.value);
    let info = info.map(|i| i.value);
    let folder = file_name(dir).to_string();
    let pick = |a: Option<&str>, b: Option<&str>| {
        a.filter(|s| !s.is_empty())
            .or(b.filter(|s| !s.is_empty()))
            .unwrap_or("")
            .to_string()
    };
    let gpo = GpoRef {
        name: pick(
            backup.as_ref().map(|b| b.display_name.as_str()),
            info.as_ref()
                .map(|i| i.gpo_display_name.as_str())
                .or(report.as_ref().map(|r| r.value.name.as_str())),
        ),
        guid: pick(
            backup.as_ref().map(|b| b.gpo_id.as_str()),
            info.as_ref().map(|i| i.gpo_guid.as_str()),
        ),
        backup_id: pick(info.as_ref().map(|i| i.id.as_str()), Some(folder.as_str())),
        domain: pick(
            backup.as_ref().map(|b| b.domain.as_str()),
            info.as_ref().map(|i| i.gpo_domain.as_str()),
        ),
    };
    if backup.is_none() {
        inv.note(
            &shown_dir,
            NoteCode::BackupXmlMissing,
            "no Backup.xml: Import-GPO cannot import this backup",
        );
    }
    if let Some(i) = &info {
        if !folder.is_empty() && !i.id.eq_ignore_ascii_case(&folder) {
            inv.note(
                &shown_dir,
                NoteCode::BackupIdMismatch,
                format!(
                    "bkupInfo.xml gives the backup id {} but the folder is named {folder}: Import-GPO -BackupId looks for the folder",
                    i.id
                ),
            );
        }
        if let Some(b) = &backup
            && !b.gpo_id.eq_ignore_ascii_case(&i.gpo_guid)
        {
            inv.note(
                &shown_dir,
                NoteCode::GpoGuidMismatch,
                format!(
                    "Backup.xml names the GPO {} but bkupInfo.xml names {}",
                    b.gpo_id, i.gpo_guid
                ),
            );
        }
    }

    let before = inv.items.len();
    let mut halves = Vec::new();
    for (half, pol) in [(Half::Machine, machine_pol), (Half::User, user_pol)] {
        if let Some(pol) = pol {
            read_policy(&pol.value, &pol.shown, Some(&gpo), Some(half), opts, inv)?;
            halves.push(half);
        }
    }
    if let Some(b) = &backup {
        for ext in &b.extensions {
            // Only files: git and zip tools drop empty folders, which Import-GPO recreates.
            for obj in ext.objects.iter().filter(|o| !o.dir) {
                let Some(loc) = &obj.location else { continue };
                let rel = join(dir, &folder::tree_path(loc));
                if tree.find(&rel).is_none() {
                    inv.note(
                        &shown_dir,
                        NoteCode::BackupFileMissing,
                        format!("Backup.xml lists {loc} but the backup does not hold it"),
                    );
                }
            }
        }
    }
    let found: Vec<Item> = inv.items[before..].to_vec();
    if let Some(b) = &backup {
        for (half, guids, disabled_bit, label, element) in [
            (
                Half::Machine,
                &b.machine_extension_guids,
                2,
                "computer",
                "MachineExtensionGuids",
            ),
            (
                Half::User,
                &b.user_extension_guids,
                1,
                "user",
                "UserExtensionGuids",
            ),
        ] {
            if !found.iter().any(|i| i.location.half == Some(half)) {
                continue;
            }
            for p in extension_guids::problems(guids) {
                inv.note(
                    &shown_dir,
                    NoteCode::ExtensionGuids,
                    format!("{element} {p}"),
                );
            }
            if b.options & disabled_bit != 0 {
                inv.note(
                    &shown_dir,
                    NoteCode::HalfDisabled,
                    format!(
                        "the GPO's {label} settings are disabled (Options = {}): its certificates do not apply",
                        b.options
                    ),
                );
            }
        }
    }
    if let Some(folder::Part {
        value: report,
        shown: report_file,
    }) = &report
    {
        let in_report: BTreeSet<(String, String)> = report_items(inv, report, report_file, None)
            .iter()
            .filter_map(|i| Some((i.store_label(), i.thumbprint()?)))
            .collect();
        let in_policy: BTreeSet<(String, String)> = found
            .iter()
            .filter(|i| i.known_store().is_some())
            .filter_map(|i| Some((i.store_label(), i.thumbprint()?)))
            .collect();
        let missing: Vec<_> = in_policy.difference(&in_report).collect();
        let extra: Vec<_> = in_report.difference(&in_policy).collect();
        if !missing.is_empty() || !extra.is_empty() {
            let show = |v: &[&(String, String)]| {
                v.iter()
                    .map(|(s, t)| format!("{s}\\{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            inv.note(
                report_file,
                NoteCode::ReportStale,
                format!(
                    "gpreport.xml does not match registry.pol (the report is informational; registry.pol is what applies): {}{}",
                    if missing.is_empty() { String::new() } else { format!("not in the report: {}", show(&missing)) },
                    if extra.is_empty() { String::new() } else { format!("{}only in the report: {}", if missing.is_empty() { "" } else { "; " }, show(&extra)) },
                ),
            );
        }
    }
    let summary = BackupSummary {
        dir: shown_dir,
        gpo,
        backup_time: info
            .as_ref()
            .map(|i| i.backup_time.clone())
            .unwrap_or_default(),
        options: backup.as_ref().map_or(0, |b| b.options),
        machine_version: backup.as_ref().map_or(0, |b| b.machine_version),
        user_version: backup.as_ref().map_or(0, |b| b.user_version),
        machine_extension_guids: backup
            .as_ref()
            .map(|b| b.machine_extension_guids.clone())
            .unwrap_or_default(),
    };
    inv.backups.push(summary.clone());
    Ok(Some(summary))
}

/// A manifest.xml lists the backups of its folder; say where it and the folder disagree.
fn check_manifest(
    tree: &mut Tree,
    dir: &str,
    backups: &BTreeSet<String>,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    let Some(rel) = tree.find(&join(dir, folder::MANIFEST)).map(str::to_string) else {
        return Ok(());
    };
    let bytes = tree.read(&rel)?;
    let shown = tree.display(&rel);
    let listed = manifest::parse(&bytes, &shown)?;
    let present: BTreeMap<String, &String> = backups
        .iter()
        .filter(|b| parent(b).eq_ignore_ascii_case(dir))
        .map(|b| (file_name(b).to_ascii_uppercase(), b))
        .collect();
    for inst in &listed {
        if !present.contains_key(&inst.id.to_ascii_uppercase()) {
            inv.note(
                &shown,
                NoteCode::ManifestMissingBackup,
                format!(
                    "lists the backup {} of {:?}, but its folder is not there",
                    inst.id, inst.gpo_display_name
                ),
            );
        }
    }
    let ids: BTreeSet<String> = listed.iter().map(|i| i.id.to_ascii_uppercase()).collect();
    for (id, _) in present.iter().filter(|(id, _)| !ids.contains(*id)) {
        inv.note(
            &shown,
            NoteCode::ManifestUnlistedBackup,
            format!(
                "does not list the backup folder {id} (Import-GPO -BackupGpoName will not find it)"
            ),
        );
    }
    Ok(())
}

/// A certgpo bundle: the GPO backup is what gets deployed; the other copies must agree.
fn read_bundle(
    tree: &mut Tree,
    root: &str,
    opts: Options,
    inv: &mut Inventory,
) -> Result<(), InspectError> {
    let gb = join(root, bundle::GPO_BACKUP);
    let backup_dirs = folder::backup_dirs(tree.files().iter().filter(|f| under(f, &gb)));
    let before = inv.items.len();
    let mut machine_pols = Vec::new();
    for dir in &backup_dirs {
        read_backup(tree, dir, opts, inv)?;
        if let Some(rel) = tree
            .find(&join(dir, folder::MACHINE_POL))
            .map(str::to_string)
        {
            machine_pols.push(tree.read(&rel)?);
        }
    }
    check_manifest(tree, &gb, &backup_dirs, inv)?;
    let shown_root = if root.is_empty() {
        tree.root().to_string()
    } else {
        tree.display(root)
    };
    let deployed: BTreeSet<(String, String)> = inv.items[before..]
        .iter()
        .filter_map(|i| Some((i.store_label(), i.thumbprint()?)))
        .collect();
    let thumbs: BTreeSet<String> = deployed.iter().map(|(_, t)| t.clone()).collect();

    if let Some(rel) = tree
        .find(&join(root, bundle::POLICY_FILE))
        .map(str::to_string)
    {
        let bytes = tree.read(&rel)?;
        if !machine_pols.contains(&bytes) {
            inv.note(
                tree.display(&rel),
                NoteCode::BundleInconsistent,
                "differs from the registry.pol inside the GPO backup",
            );
        }
    }
    // The .reg files and certificate files are read into a scratch inventory: they
    // are copies of the backup, checked against it rather than listed again.
    let mut scratch = Inventory::default();
    let reg_rel = join(root, bundle::TRUST_REG);
    if let Some(rel) = tree.find(&reg_rel).map(str::to_string) {
        let bytes = tree.read(&rel)?;
        let shown = tree.display(&rel);
        read_reg(&bytes, &shown, Options::default(), &mut scratch)?;
        let in_reg: BTreeSet<(String, String)> = scratch
            .items
            .iter()
            .filter_map(|i| Some((i.store_label(), i.thumbprint()?)))
            .collect();
        if in_reg != deployed {
            inv.note(
                shown,
                NoteCode::BundleInconsistent,
                "does not hold the same certificates in the same stores as the GPO backup",
            );
        }
    }
    let cert_files: Vec<String> = tree
        .files()
        .iter()
        .filter(|f| under(f, &join(root, bundle::CERTS)) && extension(f) == "cer")
        .cloned()
        .collect();
    let mut in_certs = BTreeSet::new();
    for rel in &cert_files {
        let bytes = tree.read(rel)?;
        let shown = tree.display(rel);
        let mut one = Inventory::default();
        read_cert_file(&bytes, &shown, &mut one)?;
        for item in one.items {
            if let Some(t) = item.thumbprint() {
                if !file_name(rel).eq_ignore_ascii_case(&format!("{t}.cer")) {
                    inv.note(
                        &shown,
                        NoteCode::BundleInconsistent,
                        format!("is named after another thumbprint than its own ({t})"),
                    );
                }
                in_certs.insert(t);
            }
        }
    }
    if !cert_files.is_empty() && in_certs != thumbs {
        inv.note(
            shown_root,
            NoteCode::BundleInconsistent,
            "certs/ does not hold exactly the certificates of the GPO backup",
        );
    }
    Ok(())
}
