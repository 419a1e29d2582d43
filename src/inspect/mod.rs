//! `certgpo inspect`: every certificate in any input, where it was found, its
//! details and findings, and what is wrong with the containers that hold it.

pub mod inventory;
pub mod tree;
pub mod walk;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use crate::finding::HasCode;
use crate::report::{CertView, Entry};
use inventory::{Inventory, Item};

/// Everything that stops `inspect` (and the commands built on its walker).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(transparent)]
    Pkcs12(#[from] crate::cert::Pkcs12Refused),
    #[error("{file}: unreadable zip: {what}")]
    Zip { file: String, what: String },
    #[error("{path}: {what}; certgpo stops there")]
    Limit { path: String, what: String },
    #[error("{file}: {source}")]
    Policy {
        file: String,
        source: crate::policy::PolicyError,
    },
    #[error("{file}: malformed .reg file: {source}")]
    Reg {
        file: String,
        source: crate::reg::parse::RegError,
    },
    #[error(transparent)]
    Gpo(#[from] crate::gpo::GpoReadError),
    #[error("{file}: malformed Blob: {source}")]
    Blob {
        file: String,
        source: crate::blob::BlobError,
    },
    #[error(
        "{file}: not a format certgpo reads (certificate file, registry.pol, .reg, Blob, gpreport.xml, GPMC backup, bundle or zip): {detail}"
    )]
    NotCertificate { file: String, detail: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] crate::atomic::OutputError),
}

impl crate::Diagnostic for InspectError {
    fn hint(&self) -> Option<String> {
        match self {
            InspectError::Input(e) => e.hint(),
            InspectError::Pkcs12(e) => Some(e.hint()),
            InspectError::Zip { .. } | InspectError::Limit { .. } => {
                Some("unpack the archive yourself and pass the folder, if you trust it".into())
            }
            InspectError::Policy { .. } => Some(
                "registry.pol is [key;value;type;size;data] in UTF-16LE after the 8-byte header PReg 01 00 00 00".into(),
            ),
            InspectError::Output(e) => e.hint(),
            _ => None,
        }
    }
}

/// An entry as every report shows it: its own problems, then its certificate's findings.
pub fn view(item: &Item, now: OffsetDateTime) -> CertView {
    CertView::new(
        Entry {
            label: item.location.label(),
            location: &item.location,
            store: item.store_label(),
            store_name: item.known_store().map(|s| s.console_name()),
            thumbprint: item.thumbprint(),
            cert: item.cert.as_ref(),
            blob: item.blob.as_ref(),
            problems: item.problems.iter().map(HasCode::coded).collect(),
            ignored_by_windows: item
                .problems
                .iter()
                .any(inventory::Problem::windows_ignores),
        },
        now,
    )
}

#[derive(Serialize)]
struct Report<'a> {
    /// Live GPOs (directory and SYSVOL), when the input was the live domain.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    gpos: &'a [inventory::GpoSummary],
    certificates: Vec<CertView>,
    notes: &'a [inventory::Note],
    removals: &'a [inventory::Removal],
    backups: &'a [inventory::BackupSummary],
    files: &'a [inventory::FileSummary],
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<&'a [inventory::Setting]>,
    warnings: &'a [String],
}

impl<'a> Report<'a> {
    fn new(inv: &'a Inventory, now: OffsetDateTime, settings: bool) -> Report<'a> {
        Report {
            gpos: &inv.gpos,
            certificates: inv.items.iter().map(|i| view(i, now)).collect(),
            notes: &inv.notes,
            removals: &inv.removals,
            backups: &inv.backups,
            files: &inv.files,
            settings: settings.then_some(inv.settings.as_slice()),
            warnings: &inv.warnings,
        }
    }
}

/// `inspect --json`: the inventory, its findings and (with `settings`) every instruction.
pub fn write_json(
    out: &mut dyn Write,
    inv: &Inventory,
    now: OffsetDateTime,
    settings: bool,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Report::new(inv, now, settings))
        .map_err(std::io::Error::other)?;
    writeln!(out)
}

/// `inspect --csv`: one row per certificate entry.
pub fn write_csv(out: &mut dyn Write, inv: &Inventory, now: OffsetDateTime) -> std::io::Result<()> {
    let views: Vec<CertView> = inv.items.iter().map(|i| view(i, now)).collect();
    crate::report::write_csv(out, &views)
}

/// Both halves of a GPMC version number hold the same 16-bit version
/// (docs/spec/windows-formats.md §4.2).
pub fn version_text(v: u32) -> String {
    let (high, low) = crate::gpo::gpt_ini::split_version(v);
    if high == low {
        low.to_string()
    } else {
        format!("{v} (0x{v:08X})")
    }
}

/// A live GPO: identity, versions, state of its halves, links, WMI filter.
pub fn write_gpo(out: &mut dyn Write, g: &inventory::GpoSummary) -> std::io::Result<()> {
    let (user, machine) = crate::gpo::gpt_ini::split_version(g.version);
    let sysvol = match (g.sysvol.as_str(), g.sysvol_version) {
        ("read", Some(v)) if v == g.version => "the same in GPT.INI".to_string(),
        ("read", Some(v)) => {
            let (u, m) = crate::gpo::gpt_ini::split_version(v);
            format!("GPT.INI has {v} (user {u}, computer {m})")
        }
        (state, _) => format!("SYSVOL folder {state}"),
    };
    writeln!(
        out,
        "GPO {:?} {}
  version {} (user {user}, computer {machine}), {sysvol}
  computer settings {}, WMI filter {}",
        g.name,
        g.guid,
        g.version,
        if g.computer_disabled {
            "disabled"
        } else {
            "enabled"
        },
        g.wmi_filter.as_deref().unwrap_or("none"),
    )?;
    if g.links.is_empty() {
        writeln!(out, "  not linked")?;
    }
    for l in &g.links {
        writeln!(
            out,
            "  linked to {} {}{}{}",
            l.kind,
            l.container,
            if l.enabled { "" } else { " (link disabled)" },
            if l.enforced { " (enforced)" } else { "" },
        )?;
    }
    Ok(())
}

/// The human-readable listing.
pub fn write_text(
    out: &mut dyn Write,
    inv: &Inventory,
    now: OffsetDateTime,
    settings: bool,
) -> std::io::Result<()> {
    for g in &inv.gpos {
        write_gpo(out, g)?;
    }
    for b in &inv.backups {
        writeln!(
            out,
            "GPO backup {}\n  GPO {:?} {} in {}, backup {}{}, machine version {}, user version {}",
            b.dir,
            b.gpo.name,
            b.gpo.guid,
            if b.gpo.domain.is_empty() {
                "?"
            } else {
                &b.gpo.domain
            },
            b.gpo.backup_id,
            if b.backup_time.is_empty() {
                String::new()
            } else {
                format!(" of {}", b.backup_time)
            },
            version_text(b.machine_version),
            version_text(b.user_version),
        )?;
    }
    for f in &inv.files {
        write!(out, "{}: {}, ", f.file, f.format)?;
        match f.format {
            "registry.pol" => writeln!(
                out,
                "{} instructions ({} control codes), {} certificates",
                f.entries, f.control_codes, f.certificates
            )?,
            ".reg" => writeln!(out, "{} values, {} certificates", f.entries, f.certificates)?,
            _ => writeln!(out, "{} certificates", f.certificates)?,
        }
    }
    if settings && !inv.settings.is_empty() {
        writeln!(out, "\nSettings:")?;
        for s in &inv.settings {
            let at = match (s.offset, s.line) {
                (Some(o), _) => format!("@{o}"),
                (_, Some(l)) => format!("line {l}"),
                _ => String::new(),
            };
            let value = match &s.value {
                Some(v) if v.is_empty() => "(default)".to_string(),
                Some(v) => v.clone(),
                None => "@".to_string(),
            };
            writeln!(
                out,
                "  {at} [{}] {value} {} = {}  -> {}",
                s.key, s.type_name, s.data, s.action
            )?;
        }
    }

    let mut stores: Vec<String> = inv.items.iter().map(Item::store_label).collect();
    stores.sort();
    stores.dedup();
    for store in &stores {
        let items: Vec<&Item> = inv
            .items
            .iter()
            .filter(|i| i.store_label() == *store)
            .collect();
        let console = items
            .first()
            .and_then(|i| i.known_store())
            .map(|s| format!(" ({})", s.console_name()))
            .unwrap_or_default();
        writeln!(out, "\n{store}{console}: {} certificates", items.len())?;
        for item in items {
            let v = view(item, now);
            writeln!(
                out,
                "  {}  {}",
                v.thumbprint.as_deref().unwrap_or("(unreadable)"),
                v.issued_to.as_deref().unwrap_or("")
            )?;
            if let Some(c) = &item.cert {
                writeln!(
                    out,
                    "      issued by {}, valid {} to {} ({} days left), {} {} bits, {}",
                    c.issuer_display,
                    c.not_before.date(),
                    c.not_after.date(),
                    c.days_left(now),
                    c.key_algorithm,
                    c.key_bits,
                    c.signature_algorithm
                )?;
            }
            let loc = &item.location;
            let mut place = loc.file.clone();
            if let Some(k) = &loc.key {
                place.push_str(&format!(", key {k}"));
            }
            if let Some(l) = loc.line {
                place.push_str(&format!(", line {l}"));
            }
            if let Some(i) = loc.index {
                place.push_str(&format!(", #{i}"));
            }
            if let Some(g) = &loc.gpo {
                place.push_str(&format!(", GPO {:?} {}", g.name, g.guid));
            }
            writeln!(out, "      in {place}")?;
            if !v.blob_properties.is_empty() {
                writeln!(out, "      Blob: {}", v.blob_properties.join(" "))?;
            }
            if let Some(n) = &v.friendly_name {
                writeln!(out, "      friendly name: {n:?}")?;
            }
            if let Some(e) = &v.trusted_for {
                writeln!(out, "      trusted only for: {}", e.join(", "))?;
            }
            for f in &v.findings {
                writeln!(out, "      ! {}", f.message)?;
            }
        }
    }
    if !inv.removals.is_empty() {
        writeln!(out, "\nRemovals:")?;
        for r in &inv.removals {
            writeln!(out, "  {} {} (in {})", r.store, r.thumbprint, r.file)?;
        }
    }
    if !inv.notes.is_empty() {
        writeln!(out, "\nContainer findings:")?;
        for n in &inv.notes {
            writeln!(out, "  ! {}: {}", n.file, n.message)?;
        }
    }
    let mut per_store: Vec<String> = stores
        .iter()
        .map(|s| {
            let n = inv.items.iter().filter(|i| i.store_label() == *s).count();
            format!("{n} {s}")
        })
        .collect();
    if per_store.is_empty() {
        per_store.push("none".into());
    }
    writeln!(
        out,
        "\n{} certificate entries ({}), {} container findings",
        inv.items.len(),
        per_store.join(", "),
        inv.notes.len()
    )
}

/// `--extract DIR`: each distinct certificate as DIR/<THUMBPRINT>.cer (DER); returns how many.
pub fn extract(inv: &Inventory, dir: &Path) -> Result<usize, InspectError> {
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| InspectError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    let mut done = std::collections::BTreeSet::new();
    for cert in inv.items.iter().filter_map(|i| i.cert.as_ref()) {
        let thumb = cert.thumbprint();
        if !done.insert(thumb.clone()) {
            continue;
        }
        let path: PathBuf = dir.join(format!("{thumb}.cer"));
        crate::atomic::write_file("--extract", &path, &cert.der)?;
    }
    Ok(done.len())
}
