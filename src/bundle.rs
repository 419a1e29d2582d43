//! `certgpo build`: from certificates to a complete, reproducible bundle.
//!
//! [`plan`] decides (stores, Blobs, registry.pol entries, GPO identity), [`render`]
//! turns the plan into the bundle's files in memory, and [`write_dir`] / [`zip_bytes`]
//! put them on disk atomically. Keeping the three apart lets tests and other commands
//! (`inspect`, `diff`) reuse each step without touching the file system.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{self, Row};
use crate::blob::{self, BlobStyle, Extras};
use crate::cert::{self, Certificate, Finding, Loaded, Origin};
use crate::cli::BuildArgs;
use crate::exit::Failure;
use crate::gpo::{self, GpoMeta};
use crate::policy::{self, Entry};
use crate::regfile::{self, RegKey};
use crate::store::{self, Store, StoreChoice};
use crate::template::{TemplateError, Templates};

/// The GPO name used when `--gpo-name` is not given.
pub const DEFAULT_GPO_NAME: &str = "certgpo - Trusted Certificates";

/// Namespace of every GUID certgpo derives (UUID v5), so that the same inputs give the
/// same GPO and backup ids on every run and machine.
const GUID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_9a52_3b7e_4d0a_9c1e_52a4_7e0b_c3d1);

/// Directory and file names inside the bundle (part of the interface).
pub const POLICY_FILE: &str = "policy/registry.pol";
pub const TRUST_REG: &str = "reg/trust-machine-store.reg";
pub const REMOVE_REG: &str = "reg/remove-machine-store.reg";
pub const SUMS_FILE: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{file}: certificate {thumbprint} ({subject}) expired on {date}")]
    Expired {
        file: String,
        thumbprint: String,
        subject: String,
        date: String,
    },
    #[error(
        "{file}: certificate {thumbprint} ({subject}) is neither self-signed nor a CA certificate; it was issued by {issuer}"
    )]
    NotTrustAnchor {
        file: String,
        thumbprint: String,
        subject: String,
        issuer: String,
    },
    #[error(
        "{file}: certificate {thumbprint} gives a Blob of {size} bytes; a registry.pol value holds at most 65,535"
    )]
    BlobTooLarge {
        file: String,
        thumbprint: String,
        size: usize,
    },
    #[error("--domain is needed: {0}")]
    NoDomain(String),
    #[error("{option} {value:?}: {problem}")]
    BadOption {
        option: &'static str,
        value: String,
        problem: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("--out {0} exists and is not empty")]
    OutNotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the zip: {0}")]
    Zip(String),
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Failure {
        let hint = match &e {
            BuildError::Expired { .. } => {
                Some("pass --allow-expired to distribute it anyway (for example to reproduce an existing GPO)".to_string())
            }
            BuildError::NotTrustAnchor { issuer, .. } => Some(format!(
                "distribute the issuer's root instead (the certificate of {issuer}), \
                 or pass --store explicitly (for example --store trusted-people)"
            )),
            BuildError::NoDomain(_) => {
                Some("pass the Active Directory DNS domain, e.g. --domain contoso.local".into())
            }
            BuildError::OutNotEmpty(_) => {
                Some("choose a new directory, or pass --force to replace it".into())
            }
            _ => None,
        };
        let mut f = Failure::new(e.to_string());
        if let Some(h) = hint {
            f = f.hint(h);
        }
        f
    }
}

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
    pub fn policy_key(&self) -> String {
        format!(
            r"{}\{}\Certificates\{}",
            store::POLICY_ROOT,
            self.store.registry_name(),
            self.cert.thumbprint()
        )
    }
}

/// The decisions of a build, before anything is rendered.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In registry.pol order (store, then thumbprint).
    pub items: Vec<Item>,
    pub entries: Vec<Entry>,
    pub meta: GpoMeta,
    /// The clock the findings were evaluated at.
    pub as_of: OffsetDateTime,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub options: Options,
}

/// Decide stores, Blobs, registry.pol and the GPO identity.
///
/// `now` is the real clock: expiry refusals always use it, so an old
/// SOURCE_DATE_EPOCH cannot sneak an expired certificate through.
pub fn plan(loaded: Vec<Loaded>, opts: Options, now: OffsetDateTime) -> Result<Plan, BuildError> {
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
                date: audit::date_time(cert.not_after),
            });
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
                });
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
            });
        }
        items.push(Item {
            cert,
            store,
            blob,
            origins,
        });
    }
    items.sort_by(|a, b| policy::key_order(&a.policy_key(), &b.policy_key()));

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

    let entries = policy_entries(&items, opts.all_stores);
    let registry_pol = policy::write(&entries);
    let time = opts.timestamp.unwrap_or_else(|| derived_time(&items));
    let domain_key = domain.to_ascii_lowercase();
    let gpo_guid = Uuid::new_v5(
        &GUID_NAMESPACE,
        format!("gpo\0{domain_key}\0{}", opts.gpo_name).as_bytes(),
    );
    let meta = GpoMeta {
        gpo_guid,
        backup_id: backup_id(&gpo_guid, time, &registry_pol),
        domain_guid: Uuid::new_v5(&GUID_NAMESPACE, format!("domain\0{domain_key}").as_bytes()),
        domain_controller: domain.clone(),
        domain,
        display_name: opts.gpo_name.clone(),
        comment: format!("Built by certgpo {}", env!("CARGO_PKG_VERSION")),
        time,
        machine_version: 1,
    };
    Ok(Plan {
        items,
        entries,
        meta,
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

/// The registry.pol entries GPMC writes for these certificates: each Blob, then the
/// empty `CRLs`/`CTLs` keys of its store; with `all_stores`, also the empty
/// `Certificates`/`CRLs`/`CTLs` keys of every other store GPMC opens (spec §2.2).
pub fn policy_entries(items: &[Item], all_stores: bool) -> Vec<Entry> {
    let mut entries: Vec<Entry> = items
        .iter()
        .map(|i| Entry::binary(i.policy_key(), "Blob", i.blob.clone()))
        .collect();
    let used: BTreeSet<&str> = items.iter().map(|i| i.store.registry_name()).collect();
    for s in &used {
        for sub in ["CRLs", "CTLs"] {
            entries.push(Entry::key_only(format!(
                r"{}\{s}\{sub}",
                store::POLICY_ROOT
            )));
        }
    }
    if all_stores {
        for s in store::GPMC_STORE_KEYS.iter().filter(|s| !used.contains(*s)) {
            for sub in ["Certificates", "CRLs", "CTLs"] {
                entries.push(Entry::key_only(format!(
                    r"{}\{s}\{sub}",
                    store::POLICY_ROOT
                )));
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
/// representation in several of those, so they are refused outright.
fn validate_text(option: &'static str, s: &str, max: usize) -> Result<(), BuildError> {
    let problem = if s.trim().is_empty() {
        "must not be empty"
    } else if s.chars().count() > max {
        "is too long"
    } else if s.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(BuildError::BadOption {
        option,
        value: s.to_string(),
        problem: format!("{problem} (at most {max} characters)"),
    })
}

/// Certificate text for a terminal or a text file: control characters (which a
/// hostile certificate may carry) become U+FFFD.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The bundle's files, by relative path with `/` separators, sorted.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Render every file of the bundle, SHA256SUMS last.
pub fn render(plan: &Plan, templates: &Templates) -> Result<Files, BuildError> {
    let mut files = Files::new();
    let meta = &plan.meta;
    let backup_dir = format!("gpo-backup/{}", gpo::braced_upper(&meta.backup_id));
    let registry_pol = policy::write(&plan.entries);

    files.insert(
        "gpo-backup/manifest.xml".into(),
        gpo::backup::manifest_xml(&[meta]),
    );
    files.insert(
        format!("{backup_dir}/Backup.xml"),
        gpo::backup::backup_xml(meta),
    );
    files.insert(
        format!("{backup_dir}/bkupInfo.xml"),
        gpo::backup::bkup_info_xml(meta),
    );
    let report_certs: Vec<gpo::report::ReportCert> = plan
        .items
        .iter()
        .map(|i| gpo::report::ReportCert {
            store: i.store,
            cert: &i.cert,
            blob: &i.blob,
        })
        .collect();
    let registry_keys: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.value.is_empty() && gpo::report::is_unrecognised_store_key(&e.key))
        .map(|e| e.key.clone())
        .collect();
    files.insert(
        format!("{backup_dir}/gpreport.xml"),
        gpo::report::gpreport_xml(meta, &report_certs, &registry_keys),
    );
    files.insert(
        format!("{backup_dir}/DomainSysvol/GPO/Machine/registry.pol"),
        registry_pol.clone(),
    );
    files.insert(POLICY_FILE.into(), registry_pol.clone());

    let machine_key = |i: &Item| {
        format!(
            r"HKEY_LOCAL_MACHINE\{}\{}\Certificates\{}",
            store::MACHINE_ROOT,
            i.store.machine_name(),
            i.cert.thumbprint()
        )
    };
    let trust: Vec<RegKey> = plan
        .items
        .iter()
        .map(|i| RegKey::Set {
            path: machine_key(i),
            values: vec![("Blob".into(), i.blob.clone())],
        })
        .collect();
    let remove: Vec<RegKey> = plan
        .items
        .iter()
        .map(|i| RegKey::Delete {
            path: machine_key(i),
        })
        .collect();
    files.insert(TRUST_REG.into(), regfile::write(&trust));
    files.insert(REMOVE_REG.into(), regfile::write(&remove));

    for i in &plan.items {
        let t = i.cert.thumbprint();
        files.insert(format!("certs/{t}.cer"), i.cert.der.clone());
        files.insert(format!("certs/{t}.pem"), pem(&i.cert.der).into_bytes());
    }
    let ders: Vec<&[u8]> = plan.items.iter().map(|i| i.cert.der.as_slice()).collect();
    files.insert("certs/certificates.p7b".into(), crate::pkcs7::encode(&ders));

    let ctx = template_context(plan, &backup_dir, &registry_pol);
    for name in ["Deploy-CertGpo.ps1", "Remove-CertGpo.ps1"] {
        // Windows PowerShell 5.1 reads a BOM-less script as the ANSI code page, which
        // would garble a non-ASCII GPO name; a UTF-8 BOM makes it read UTF-8.
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(crlf(&templates.render(name, &ctx)?).into_bytes());
        files.insert(format!("scripts/{name}"), bytes);
    }
    files.insert(
        "scripts/Publish-ToActiveDirectory.cmd".into(),
        crlf(&templates.render("Publish-ToActiveDirectory.cmd", &ctx)?).into_bytes(),
    );
    files.insert(
        "README.txt".into(),
        crlf(&templates.render("README.txt", &ctx)?).into_bytes(),
    );

    let rows = report_rows(plan);
    files.insert(
        "report/certificates.json".into(),
        audit::to_json(&rows, plan.as_of),
    );
    files.insert("report/certificates.csv".into(), audit::to_csv(&rows));
    let certs: Vec<&Certificate> = plan.items.iter().map(|i| &i.cert).collect();
    files.insert(
        "report/report.html".into(),
        audit::to_html(
            templates,
            &rows,
            &certs,
            &format!("certgpo bundle: {}", meta.display_name),
            &format!(
                "GPO {} in {}, backup {}",
                gpo::braced_upper(&meta.gpo_guid),
                meta.domain,
                gpo::braced_upper(&meta.backup_id)
            ),
            plan.as_of,
        )?,
    );

    seal(&mut files);
    Ok(files)
}

/// (Re)write SHA256SUMS over every other file of the bundle.
pub fn seal(files: &mut Files) {
    files.remove(SUMS_FILE);
    let sums: String = files
        .iter()
        .map(|(path, bytes)| {
            format!(
                "{}  {path}\n",
                crate::hex::upper(&Sha256::digest(bytes)).to_ascii_lowercase()
            )
        })
        .collect();
    files.insert(SUMS_FILE.into(), sums.into_bytes());
}

fn report_rows(plan: &Plan) -> Vec<Row> {
    plan.items
        .iter()
        .map(|i| {
            let mut extra = Vec::new();
            if i.store == Store::Root && !i.cert.self_signed {
                extra.push("in Root but not self-signed".to_string());
            }
            let mut row = Row::new(
                &i.cert,
                &plan.meta.display_name,
                i.store.registry_name(),
                extra,
                plan.as_of,
            );
            row.trusted_for = plan
                .options
                .extras
                .purposes
                .iter()
                .map(|o| o.to_string())
                .collect();
            row.friendly_name = plan.options.extras.friendly_name.clone();
            row
        })
        .collect()
}

#[derive(Serialize)]
struct CertContext {
    store_name: &'static str,
    store_console: &'static str,
    subject: String,
    thumbprint: String,
    sha256: String,
    not_before: String,
    not_after: String,
    purposes: String,
    verify_command: String,
    removed_command: String,
    /// certutil -dspublish's type for this store, empty when AD has no equivalent.
    dspublish: &'static str,
}

fn template_context(plan: &Plan, backup_dir: &str, registry_pol: &[u8]) -> tera::Context {
    let certs: Vec<CertContext> = plan
        .items
        .iter()
        .map(|i| {
            let path = format!(
                r"Cert:\LocalMachine\{}\{}",
                i.store.registry_name(),
                i.cert.thumbprint()
            );
            CertContext {
                store_name: i.store.registry_name(),
                store_console: i.store.console_name(),
                subject: printable(&i.cert.subject),
                thumbprint: i.cert.thumbprint(),
                sha256: i.cert.sha256_hex(),
                not_before: audit::date_time(i.cert.not_before),
                not_after: audit::date_time(i.cert.not_after),
                purposes: plan
                    .options
                    .extras
                    .purposes
                    .iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                verify_command: format!("    Get-ChildItem {path}"),
                removed_command: format!("    Test-Path {path}   # expect False"),
                dspublish: match i.store {
                    Store::Root => "RootCA",
                    Store::Ca => "SubCA",
                    _ => "",
                },
            }
        })
        .collect();
    let meta = &plan.meta;
    let mut ctx = tera::Context::new();
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("gpo_name", &meta.display_name);
    ctx.insert("gpo_guid", &gpo::braced_upper(&meta.gpo_guid));
    ctx.insert("backup_id", &gpo::braced_upper(&meta.backup_id));
    ctx.insert("domain", &meta.domain);
    ctx.insert("timestamp", &audit::date_time(meta.time));
    ctx.insert("certs", &certs);
    let rel = backup_dir.trim_start_matches("gpo-backup/");
    ctx.insert(
        "policy_rel",
        &format!(r"{rel}\DomainSysvol\GPO\Machine\registry.pol"),
    );
    ctx.insert(
        "policy_sha256",
        &crate::hex::upper(&Sha256::digest(registry_pol)),
    );
    ctx
}

/// Windows tools expect CRLF in scripts and text files.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// PEM with 64-column base64 lines, as `openssl x509` writes it.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let flat = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in flat.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A deterministic zip of the bundle: entries sorted, DOS time 1980-01-01 00:00,
/// mode 0644, deflate. The same files always give the same bytes.
pub fn zip_bytes(files: &Files) -> Result<Vec<u8>, BuildError> {
    use zip::write::SimpleFileOptions;
    let zerr = |e: zip::result::ZipError| BuildError::Zip(e.to_string());
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (path, bytes) in files {
        w.start_file(path.as_str(), options).map_err(zerr)?;
        w.write_all(bytes)
            .map_err(|e| BuildError::Zip(e.to_string()))?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

/// Write `files` under `out` atomically: into a temporary directory beside `out`,
/// renamed into place at the end, so a failure leaves no partial bundle.
pub fn write_dir(files: &Files, out: &Path, force: bool) -> Result<(), BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    check_out(out, force)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".certgpo-build-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    for (rel, bytes) in files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    // Move an existing (empty, or --force) output aside first, and delete it only once
    // the new bundle is in place.
    let old = if out.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".certgpo-old-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let target = aside.path().join("old");
        std::fs::rename(out, &target).map_err(io(out))?;
        Some(aside)
    } else {
        None
    };
    let kept = tmp.keep();
    if let Err(source) = std::fs::rename(&kept, out) {
        if let Some(aside) = &old {
            let _ = std::fs::rename(aside.path().join("old"), out);
        }
        let _ = std::fs::remove_dir_all(&kept);
        return Err(BuildError::Io {
            path: out.to_path_buf(),
            source,
        });
    }
    drop(old);
    Ok(())
}

fn check_out(out: &Path, force: bool) -> Result<(), BuildError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(BuildError::OutNotEmpty(out.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BuildError::Io {
            path: out.to_path_buf(),
            source,
        }),
    }
}

/// Write a file atomically (temporary file beside it, then rename).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&parent).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Parse `--timestamp` (RFC 3339 or Unix seconds), else SOURCE_DATE_EPOCH.
pub fn timestamp_option(flag: Option<&str>) -> Result<Option<OffsetDateTime>, BuildError> {
    let (option, value) = match (flag, std::env::var("SOURCE_DATE_EPOCH").ok()) {
        (Some(v), _) => ("--timestamp", v.to_string()),
        (None, Some(v)) if !v.is_empty() => ("SOURCE_DATE_EPOCH", v),
        _ => return Ok(None),
    };
    let bad = |problem: &str| BuildError::BadOption {
        option,
        value: value.clone(),
        problem: problem.to_string(),
    };
    let t = if let Ok(secs) = value.trim().parse::<i64>() {
        OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad("out of range"))?
    } else {
        OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad("expected RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds"))?
    };
    // DOS and GPMC times start in 1980; Windows FILETIME in 1601. Keep to a sane range.
    if t.year() < 1980 || t.year() > 9999 {
        return Err(bad("must be between 1980 and 9999"));
    }
    Ok(Some(t))
}

#[derive(Serialize)]
struct Summary<'a> {
    out: String,
    zip: Option<String>,
    gpo_name: &'a str,
    gpo_guid: String,
    backup_id: String,
    domain: &'a str,
    timestamp: String,
    certificates: Vec<SummaryCert>,
    warnings: &'a [String],
    notes: &'a [String],
    files: Vec<SummaryFile>,
}

#[derive(Serialize)]
struct SummaryCert {
    store: &'static str,
    thumbprint: String,
    sha256: String,
    subject: String,
    not_after: String,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct SummaryFile {
    path: String,
    sha256: String,
    size: usize,
}

/// `certgpo build`.
pub fn run(args: BuildArgs) -> Result<u8, Failure> {
    let mut opts = options(&args)?;
    let base = match &args.base {
        Some(path) => Some(crate::base::Base::read(path, &mut opts, args.all_stores)?),
        None => None,
    };
    if let Some(zip) = &args.zip {
        let out_abs = std::path::absolute(&args.out)?;
        if std::path::absolute(zip)?.starts_with(&out_abs) {
            return Err(BuildError::Conflict(format!(
                "--zip {} is inside --out {}; the zip must live outside the bundle",
                zip.display(),
                args.out.display()
            ))
            .into());
        }
    }
    if args.force {
        let out_abs = std::path::absolute(&args.out)?;
        for c in &args.certs {
            if std::path::absolute(c)?.starts_with(&out_abs) {
                return Err(BuildError::Conflict(format!(
                    "--cert {} is inside --out {}, which --force would delete",
                    c.display(),
                    args.out.display()
                ))
                .into());
            }
        }
    }
    check_out(&args.out, args.force)?;
    let templates = Templates::load(args.templates.as_deref()).map_err(BuildError::from)?;
    let mut loaded = cert::load_paths(&args.certs)?;
    let fetched = fetched_certs(&args)?;
    if let Some(f) = &fetched {
        loaded.certs.extend(f.loaded.iter().cloned());
    }
    for w in &loaded.warnings {
        eprintln!("warning: {}", printable(w));
    }
    let now = OffsetDateTime::now_utc();
    let mut plan = plan(loaded.certs, opts, now)?;
    if let Some(base) = &base {
        base.apply(&mut plan, &args.remove, args.drop_expired, now)?;
    }
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let mut files = render(&plan, &templates)?;
    if let Some(base) = &base {
        base.carry_over(&mut files, &plan);
    }
    let zip = match &args.zip {
        Some(_) => Some(zip_bytes(&files)?),
        None => None,
    };
    write_dir(&files, &args.out, args.force)?;
    if let Some(f) = &fetched {
        f.save_lock()?;
        eprintln!("note: pins recorded in {}", f.lock_path().display());
    }
    if let (Some(path), Some(bytes)) = (&args.zip, &zip) {
        write_file_atomic(path, bytes)?;
    }

    let meta = &plan.meta;
    if args.json {
        let mut warnings = loaded.warnings.clone();
        warnings.extend(plan.warnings.iter().cloned());
        let summary = Summary {
            out: args.out.display().to_string(),
            zip: args.zip.as_ref().map(|z| z.display().to_string()),
            gpo_name: &meta.display_name,
            gpo_guid: gpo::braced_upper(&meta.gpo_guid),
            backup_id: gpo::braced_upper(&meta.backup_id),
            domain: &meta.domain,
            timestamp: audit::date_time(meta.time),
            certificates: plan
                .items
                .iter()
                .map(|i| SummaryCert {
                    store: i.store.cli_name(),
                    thumbprint: i.cert.thumbprint(),
                    sha256: i.cert.sha256_hex(),
                    subject: i.cert.subject.clone(),
                    not_after: audit::date_time(i.cert.not_after),
                    findings: i.cert.findings(plan.as_of),
                })
                .collect(),
            warnings: &warnings,
            notes: &plan.notes,
            files: files
                .iter()
                .map(|(p, b)| SummaryFile {
                    path: p.clone(),
                    sha256: crate::hex::upper(&Sha256::digest(b)).to_ascii_lowercase(),
                    size: b.len(),
                })
                .collect(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "Built {} for GPO \"{}\" ({}) in {}:",
            args.out.display(),
            printable(&meta.display_name),
            gpo::braced_upper(&meta.gpo_guid),
            meta.domain
        );
        for i in &plan.items {
            println!(
                "  {:<16} {}  {}",
                i.store.registry_name(),
                i.cert.thumbprint(),
                printable(&i.cert.subject_display)
            );
        }
        println!(
            "Backup id {}; deploy with scripts/Deploy-CertGpo.ps1 (see README.txt).",
            gpo::braced_upper(&meta.backup_id)
        );
        if let Some(z) = &args.zip {
            println!("Zip: {}", z.display());
        }
    }
    Ok(crate::exit::code::OK)
}

/// `--fetch`: the approved trust anchors, or `None` without `--fetch`.
fn fetched_certs(args: &BuildArgs) -> Result<Option<crate::pin::Fetched>, Failure> {
    let mut targets = args.fetch.clone();
    if let Some(report) = &args.discover {
        targets.extend(crate::discover::report_targets(report)?);
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let policy = crate::pin::Policy {
        expect: crate::fetch::parse_pins(&args.expect)?,
        trust_on_first_use: args.trust_on_first_use,
        update_pins: args.update_pins,
        lock_path: crate::pin::lock_path(args.lock.as_deref(), &args.out),
    };
    let opts = crate::fetch::FetchOptions::from_args(&args.connect)?;
    Ok(Some(crate::pin::fetch_for_build(&targets, opts, policy)?))
}

fn options(args: &BuildArgs) -> Result<Options, BuildError> {
    let purposes = args
        .purpose
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            blob::purpose_oid(p).map_err(|problem| BuildError::BadOption {
                option: "--purpose",
                value: p.clone(),
                problem,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Options {
        gpo_name: args.gpo_name.clone(),
        domain: args.domain.clone(),
        store: args.store,
        blob: args.blob,
        extras: Extras {
            friendly_name: args.friendly_name.clone(),
            purposes,
        },
        all_stores: args.all_stores,
        allow_expired: args.allow_expired,
        timestamp: timestamp_option(args.timestamp.as_deref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_64_columns() {
        let p = pem(&[0u8; 100]);
        assert!(p.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(p.lines().nth(1).map(str::len), Some(64));
        assert!(p.ends_with("-----END CERTIFICATE-----\n"));
    }

    #[test]
    fn domain_rules() {
        assert!(validate_domain("contoso.local").is_ok());
        assert!(validate_domain("-bad.local").is_err());
        assert!(validate_domain("a..b").is_err());
        assert!(validate_text("--gpo-name", "a\nb", 10).is_err());
    }
}
