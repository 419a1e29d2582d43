//! The bundle's files, rendered in memory from a [`Plan`].

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::plan::{Item, Plan};
use super::{BuildError, Files};
use crate::bundle;
use crate::finding::HasCode;
use crate::gpo::bkup_info::BackupInst;
use crate::gpo::{self, folder, gpreport};
use crate::inspect::inventory::Problem;
use crate::policy;
use crate::reg::{self, RegKey, RegValue};
use crate::report::{self, CertView, Entry, Format, GpoRef, Half, Location};
use crate::store::Store;
use crate::template::Templates;
use crate::text::printable;

/// Render every file of the bundle, SHA256SUMS last.
pub fn render(plan: &Plan, templates: &Templates) -> Result<Files, BuildError> {
    let mut files = Files::new();
    let meta = &plan.meta;
    let backup_dir = bundle::backup_dir(&meta.backup_id);
    let in_backup = |name: &str| format!("{backup_dir}/{name}");
    let registry_pol = policy::write(&plan.entries);

    let inst = BackupInst::of(meta);
    files.insert(
        bundle::manifest(),
        gpo::manifest::write(std::slice::from_ref(&inst)),
    );
    files.insert(
        in_backup(folder::BACKUP_XML),
        gpo::backup_xml::write(&plan.backup),
    );
    files.insert(in_backup(folder::BKUP_INFO), gpo::bkup_info::write(&inst));
    let report_certs: Vec<gpreport::ReportCert> = plan
        .items
        .iter()
        .map(|i| gpreport::ReportCert {
            store: i.store,
            cert: &i.cert,
            blob: &i.blob,
        })
        .collect();
    let registry_keys: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.value.is_empty() && gpreport::is_unrecognised_store_key(&e.key))
        .map(|e| e.key.clone())
        .collect();
    files.insert(
        in_backup(folder::GPREPORT),
        gpreport::write(meta, &report_certs, &registry_keys),
    );
    files.insert(gpo_registry_pol(plan), registry_pol.clone());
    for (rel, bytes) in &plan.carried {
        files.insert(in_backup(rel), bytes.clone());
    }
    files.insert(bundle::POLICY_FILE.into(), registry_pol.clone());

    let machine_key = |i: &Item| i.key().machine_path();
    let trust: Vec<RegKey> = plan
        .items
        .iter()
        .map(|i| {
            RegKey::set(
                machine_key(i),
                vec![RegValue::binary("Blob", i.blob.clone())],
            )
        })
        .collect();
    let remove: Vec<RegKey> = plan
        .items
        .iter()
        .map(|i| RegKey::delete(machine_key(i)))
        .collect();
    files.insert(bundle::TRUST_REG.into(), reg::write::write(&trust));
    files.insert(bundle::REMOVE_REG.into(), reg::write::write(&remove));

    for i in &plan.items {
        let t = i.cert.thumbprint();
        files.insert(bundle::cert_file(&t, "cer"), i.cert.der.clone());
        files.insert(
            bundle::cert_file(&t, "pem"),
            crate::cert::to_pem(&i.cert.der).into_bytes(),
        );
    }
    let ders: Vec<&[u8]> = plan.items.iter().map(|i| i.cert.der.as_slice()).collect();
    files.insert(bundle::P7B.into(), crate::pkcs7::encode(&ders));

    let ctx = template_context(plan, &registry_pol);
    for name in ["Deploy-CertGpo.ps1", "Remove-CertGpo.ps1"] {
        // Windows PowerShell 5.1 reads a BOM-less script as the ANSI code page, which
        // would garble a non-ASCII GPO name; a UTF-8 BOM makes it read UTF-8.
        let script = crlf(&templates.render(name, &ctx)?);
        files.insert(
            format!("{}/{name}", bundle::SCRIPTS),
            crate::codec::utf8_bom(&script),
        );
    }
    let name = "Publish-ToActiveDirectory.cmd";
    files.insert(
        format!("{}/{name}", bundle::SCRIPTS),
        crlf(&templates.render(name, &ctx)?).into_bytes(),
    );
    files.insert(
        bundle::README.into(),
        crlf(&templates.render("README.txt", &ctx)?).into_bytes(),
    );

    let views = views(plan);
    files.insert(
        bundle::REPORT_JSON.into(),
        report::to_json(&views, plan.as_of),
    );
    files.insert(bundle::REPORT_CSV.into(), report::to_csv(&views));
    files.insert(
        bundle::REPORT_HTML.into(),
        report::to_html(
            templates,
            &views,
            &report::Page {
                title: &format!("certgpo bundle: {}", meta.display_name),
                subtitle: &format!(
                    "GPO {} in {}, backup {}",
                    gpo::braced_upper(&meta.gpo_guid),
                    meta.domain,
                    gpo::braced_upper(&meta.backup_id)
                ),
                notes: &[],
                warn_days: crate::cert::EXPIRY_WARNING_DAYS,
                now: plan.as_of,
            },
        )?,
    );

    files.extend(crate::channel::render(
        &plan.options.channels,
        &trust_set(plan),
    )?);

    seal(&mut files);
    Ok(files)
}

/// The certificates and GPO identity every other channel is written from.
fn trust_set(plan: &Plan) -> crate::channel::TrustSet<'_> {
    crate::channel::TrustSet {
        anchors: plan
            .items
            .iter()
            .map(|i| crate::channel::Anchor {
                cert: &i.cert,
                store: i.store,
            })
            .collect(),
        gpo_name: &plan.meta.display_name,
        gpo_guid: plan.meta.gpo_guid,
        friendly_name: plan.options.extras.friendly_name.as_deref(),
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// A file's SHA-256 as `sha256sum` prints it (lower-case hex).
pub fn file_sha256(bytes: &[u8]) -> String {
    crate::hex::upper(&Sha256::digest(bytes)).to_ascii_lowercase()
}

/// Write SHA256SUMS over every other file of the bundle.
fn seal(files: &mut Files) {
    let sums: String = files
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", file_sha256(bytes)))
        .collect();
    files.insert(bundle::SUMS_FILE.into(), sums.into_bytes());
}

/// The registry.pol inside the GPO backup: the one Group Policy applies.
fn gpo_registry_pol(plan: &Plan) -> String {
    format!(
        "{}/{}",
        bundle::backup_dir(&plan.meta.backup_id),
        folder::MACHINE_POL
    )
}

/// Every certificate of the bundle as the reports (and `build --json`) show it: an
/// entry of the GPO's registry.pol, its Blob read back as `inspect` reads it.
pub fn views(plan: &Plan) -> Vec<CertView> {
    let meta = &plan.meta;
    let gpo = GpoRef {
        name: meta.display_name.clone(),
        guid: gpo::braced_upper(&meta.gpo_guid),
        backup_id: gpo::braced_upper(&meta.backup_id),
        domain: meta.domain.clone(),
    };
    let file = gpo_registry_pol(plan);
    // Byte offsets as `inspect` reports them, read back from the registry.pol written.
    let pol = policy::write(&plan.entries);
    let offsets: std::collections::HashMap<String, usize> = policy::entries(&pol)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.value == "Blob")
        .map(|e| (e.key, e.offset))
        .collect();
    plan.items
        .iter()
        .map(|i| {
            let location = Location {
                file: file.clone(),
                format: Format::RegistryPol,
                gpo: Some(gpo.clone()),
                half: Some(Half::Machine),
                key: Some(i.key().policy_path()),
                offset: offsets.get(&i.key().policy_path()).copied(),
                line: None,
                index: None,
            };
            // The Blob was built here, so it parses; `None` would only hide its properties.
            let blob = crate::blob::parse(&i.blob).ok();
            let mut problems = Vec::new();
            if i.store == Store::Root && !i.cert.self_signed {
                problems.push(
                    Problem::RootNotSelfSigned {
                        issuer: i.cert.issuer_display.clone(),
                    }
                    .coded(),
                );
            }
            CertView::new(
                Entry {
                    // The page's title names the bundle's one GPO; the column names it too.
                    label: meta.display_name.clone(),
                    location: &location,
                    store: i.store.registry_name().to_string(),
                    store_name: Some(i.store.console_name()),
                    thumbprint: Some(i.cert.thumbprint()),
                    cert: Some(&i.cert),
                    blob: blob.as_ref(),
                    problems,
                    ignored_by_windows: false,
                },
                plan.as_of,
            )
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

fn template_context(plan: &Plan, registry_pol: &[u8]) -> tera::Context {
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
                not_before: report::date_time(i.cert.not_before),
                not_after: report::date_time(i.cert.not_after),
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
    ctx.insert("timestamp", &report::date_time(meta.time));
    ctx.insert("certs", &certs);
    ctx.insert(
        "channels",
        &crate::channel::Summary::new(&plan.options.channels, &trust_set(plan)),
    );
    ctx.insert(
        "policy_rel",
        &format!(
            r"{}\{}",
            gpo::braced_upper(&meta.backup_id),
            folder::windows_path(folder::MACHINE_POL)
        ),
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
