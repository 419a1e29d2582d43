//! `certgpo audit`: an inventory across many GPO backups and files, in the same
//! JSON/CSV/HTML shapes as a bundle's `report/` (see `crate::report`): which GPO
//! distributes which certificate to which store, duplicates across GPOs, expiry
//! against `--warn-days`/`--fail-days`, weak keys and signatures, Root entries that
//! are not self-signed, entries Windows ignores. Exit 1 when anything falls inside
//! `--fail-days`, so a nightly pipeline can alarm.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::inspect::inventory::{self, Inventory, Item, Note};
use crate::report::{Row, date_time};
use crate::template::{TemplateError, Templates};

/// The shapes an audit report takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A line per certificate entry, for a terminal.
    Text,
    Json,
    Csv,
    /// One self-contained page: sortable table and expiry timeline.
    Html,
}

impl crate::named::Named for Format {
    const ALL: &'static [Format] = &[Format::Text, Format::Json, Format::Csv, Format::Html];

    fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Format::Text => "A line per certificate entry, for a terminal",
            Format::Html => "One self-contained page: sortable table and expiry timeline",
            Format::Json | Format::Csv => "",
        }
    }
}

impl Format {
    /// The format a report file's extension asks for (`.json`, `.csv`, `.html`), else text.
    pub fn from_extension(path: &std::path::Path) -> Format {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some("html" | "htm") => Format::Html,
            _ => Format::Text,
        }
    }
}

/// What the audit checks and how it reports.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Flag certificates expiring within this many days.
    pub warn_days: i64,
    /// Count certificates that expired or expire within this many days as failing.
    pub fail_days: Option<i64>,
    pub format: Format,
}

/// The rendered report, and how many entries fall inside `fail_days`.
pub struct Audit {
    pub report: Vec<u8>,
    pub failing: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit report: {0}")]
    Template(#[from] TemplateError),
    #[error("audit report: {0}")]
    Json(#[from] serde_json::Error),
}

impl crate::Diagnostic for AuditError {}

/// Where an entry is, as the Location column shows it.
fn location(item: &Item) -> String {
    match &item.location.gpo {
        Some(g) if !g.name.is_empty() => format!("GPO {} {}", g.name, g.guid),
        _ => item.location.file.clone(),
    }
}

/// Rows for every readable entry, with the audit's own findings added.
pub fn rows(
    inv: &Inventory,
    now: OffsetDateTime,
    warn_days: i64,
    fail_days: Option<i64>,
) -> (Vec<Row>, Vec<&Certificate>) {
    // thumbprint+store → every location holding it, for the duplicate finding.
    let mut places: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for item in &inv.items {
        if let Some(c) = &item.cert {
            places
                .entry((c.thumbprint(), item.store_label()))
                .or_default()
                .push(location(item));
        }
    }
    let mut rows = Vec::new();
    let mut certs = Vec::new();
    for item in &inv.items {
        let Some(cert) = &item.cert else { continue };
        let days = cert.days_left(now);
        let mut extra: Vec<String> = item.problems.iter().map(ToString::to_string).collect();
        let fails = fail_days.is_some_and(|f| days <= f);
        if !fails && (0..=warn_days).contains(&days) && days >= crate::cert::EXPIRY_WARNING_DAYS {
            // cert::findings already reports the 60-day window; this is the wider one.
            extra.push(format!(
                "expires in {days} days (within --warn-days {warn_days})"
            ));
        }
        if let Some(f) = fail_days
            && fails
            && days >= 0
        {
            extra.push(format!("expires in {days} days (within --fail-days {f})"));
        }
        let here = location(item);
        let others: Vec<&String> = places
            .get(&(cert.thumbprint(), item.store_label()))
            .map(|v| v.iter().filter(|p| **p != here).collect())
            .unwrap_or_default();
        if !others.is_empty() {
            let mut o: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
            o.dedup();
            extra.push(format!("duplicate: also in {}", o.join(", ")));
        }
        let mut row = Row::new(cert, &here, &item.store_label(), extra, now);
        row.friendly_name = item.blob.as_ref().and_then(|b| b.friendly_name());
        row.trusted_for = item.blob.as_ref().and_then(|b| b.eku()).unwrap_or_default();
        let ignored = item.problems.iter().any(|p| {
            matches!(
                p,
                inventory::Problem::KeyMismatch { .. } | inventory::Problem::BlobNotBinary { .. }
            )
        });
        if fails || ignored {
            row.level = "bad";
        }
        rows.push(row);
        certs.push(cert);
    }
    (rows, certs)
}

#[derive(Serialize)]
struct Summary {
    certificate_entries: usize,
    distinct_certificates: usize,
    gpo_backups: usize,
    expired: usize,
    within_warn_days: usize,
    within_fail_days: usize,
    with_findings: usize,
    unreadable_entries: usize,
    container_findings: usize,
}

#[derive(Serialize)]
struct JsonAudit<'a> {
    generator: String,
    as_of: String,
    warn_days: i64,
    fail_days: Option<i64>,
    summary: Summary,
    certificates: &'a [Row],
    /// Entries without a readable certificate (Windows ignores them).
    unreadable: Vec<Unreadable>,
    notes: &'a [Note],
}

#[derive(Serialize)]
struct Unreadable {
    location: String,
    file: String,
    key: Option<String>,
    problems: Vec<String>,
}

/// Audit an inventory (read with `inspect::walk::read_inputs`) at `now`.
pub fn audit(inv: &Inventory, opts: &Options, now: OffsetDateTime) -> Result<Audit, AuditError> {
    let warn_days = opts.warn_days;
    let (rows, certs) = rows(inv, now, warn_days, opts.fail_days);
    let unreadable: Vec<Unreadable> = inv
        .items
        .iter()
        .filter(|i| i.cert.is_none())
        .map(|i| Unreadable {
            location: location(i),
            file: i.location.file.clone(),
            key: i.location.key.clone(),
            problems: i.problems.iter().map(ToString::to_string).collect(),
        })
        .collect();
    let within = |limit: i64| {
        rows.iter()
            .filter(|r| (0..=limit).contains(&r.days_left))
            .count()
    };
    let failing = opts
        .fail_days
        .map_or(0, |f| rows.iter().filter(|r| r.days_left <= f).count());
    let mut distinct: Vec<&str> = rows.iter().map(|r| r.thumbprint.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let summary = Summary {
        certificate_entries: inv.items.len(),
        distinct_certificates: distinct.len(),
        gpo_backups: inv.backups.len(),
        expired: rows.iter().filter(|r| r.days_left < 0).count(),
        within_warn_days: within(warn_days),
        within_fail_days: failing,
        with_findings: rows.iter().filter(|r| !r.findings.is_empty()).count(),
        unreadable_entries: unreadable.len(),
        container_findings: inv.notes.len(),
    };

    let report = match opts.format {
        Format::Json => {
            let report = JsonAudit {
                generator: format!("certgpo {}", env!("CARGO_PKG_VERSION")),
                as_of: date_time(now),
                warn_days,
                fail_days: opts.fail_days,
                summary,
                certificates: &rows,
                unreadable,
                notes: &inv.notes,
            };
            let mut v = serde_json::to_vec_pretty(&report)?;
            v.push(b'\n');
            v
        }
        Format::Csv => crate::report::to_csv(&rows),
        Format::Html => {
            let templates = Templates::load(None)?;
            let mut subtitle = format!(
                "{} GPO backup(s), {} certificate entries, {} distinct certificates; warn within {warn_days} days{}.",
                summary.gpo_backups,
                summary.certificate_entries,
                summary.distinct_certificates,
                opts.fail_days
                    .map(|f| format!(", fail within {f} days"))
                    .unwrap_or_default()
            );
            for u in &unreadable {
                subtitle.push_str(&format!(
                    " Ignored by Windows: {} ({}).",
                    u.key.as_deref().unwrap_or(&u.file),
                    u.problems.join("; ")
                ));
            }
            for n in &inv.notes {
                subtitle.push_str(&format!(" {}: {}.", n.file, n.message));
            }
            crate::report::to_html(&templates, &rows, &certs, "certgpo audit", &subtitle, now)?
        }
        Format::Text => crate::text::lines(&String::from_utf8_lossy(&text(
            &rows,
            &unreadable,
            &inv.notes,
            &summary,
            opts.fail_days,
        )))
        .into_bytes(),
    };
    Ok(Audit { report, failing })
}

fn text(
    rows: &[Row],
    unreadable: &[Unreadable],
    notes: &[Note],
    s: &Summary,
    fail_days: Option<i64>,
) -> Vec<u8> {
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "{:<5} {}  {:<12} {:>6}d  {}  [{}]\n",
            r.level, r.thumbprint, r.store, r.days_left, r.subject, r.location
        ));
        for f in &r.findings {
            out.push_str(&format!("        ! {f}\n"));
        }
    }
    for u in unreadable {
        out.push_str(&format!(
            "bad   (unreadable) {} [{}]: {}\n",
            u.key.as_deref().unwrap_or(&u.file),
            u.location,
            u.problems.join("; ")
        ));
    }
    for n in notes {
        out.push_str(&format!("note  {}: {}\n", n.file, n.message));
    }
    out.push_str(&format!(
        "\n{} entries ({} distinct certificates) in {} GPO backup(s): {} expired, {} within --warn-days, {} with findings, {} unreadable{}\n",
        s.certificate_entries,
        s.distinct_certificates,
        s.gpo_backups,
        s.expired,
        s.within_warn_days,
        s.with_findings,
        s.unreadable_entries,
        fail_days
            .map(|f| format!(", {} inside --fail-days {f}", s.within_fail_days))
            .unwrap_or_default()
    ));
    out.into_bytes()
}
