//! `certgpo audit`: an inventory across many GPO backups and files, in the same
//! JSON/CSV/HTML shapes as a bundle's `report/` (see `crate::report`): which GPO
//! distributes which certificate to which store, duplicates across GPOs, expiry
//! against `--warn-days`/`--fail-days`, weak keys and signatures, Root entries that
//! are not self-signed, entries Windows ignores. Exit 1 when anything falls inside
//! `--fail-days`, so a nightly pipeline can alarm.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::finding::{HasCode, codes};
use crate::inspect::{self, inventory::Inventory, inventory::Note};
use crate::report::{CertView, Counts, Page, date_time, distinct};
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

/// What the audit finds beyond `inspect`: deadlines and duplicates across GPOs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditFinding {
    /// Expires within `--warn-days` (the 60-day window is `expires-soon`'s).
    WithinWarnDays { days: i64, warn_days: i64 },
    /// Expires within `--fail-days`.
    WithinFailDays { days: i64, fail_days: i64 },
    /// The same certificate in the same store of other GPOs or files.
    Duplicate { others: Vec<String> },
}

codes! {
    /// The codes of [`AuditFinding`] (README.md, "Finding codes").
    pub enum AuditCode for AuditFinding {
        AuditFinding::WithinWarnDays { .. } => WithinWarnDays = "within-warn-days" => Warn,
        AuditFinding::WithinFailDays { .. } => WithinFailDays = "within-fail-days" => Bad,
        AuditFinding::Duplicate { .. } => Duplicate = "duplicate" => Warn,
    }
}

impl std::fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditFinding::WithinWarnDays { days, warn_days } => {
                write!(f, "expires in {days} days (within --warn-days {warn_days})")
            }
            AuditFinding::WithinFailDays { days, fail_days } => {
                write!(f, "expires in {days} days (within --fail-days {fail_days})")
            }
            AuditFinding::Duplicate { others } => {
                write!(f, "duplicate: also in {}", others.join(", "))
            }
        }
    }
}

/// The view of every readable entry, with the audit's own findings added.
pub fn views(
    inv: &Inventory,
    now: OffsetDateTime,
    warn_days: i64,
    fail_days: Option<i64>,
) -> Vec<CertView> {
    // thumbprint+store → every location holding it, for the duplicate finding.
    let mut places: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for item in &inv.items {
        if let Some(c) = &item.cert {
            places
                .entry((c.thumbprint(), item.store_label()))
                .or_default()
                .push(item.location.label());
        }
    }
    let mut views = Vec::new();
    for item in &inv.items {
        let Some(cert) = &item.cert else { continue };
        let days = cert.days_left(now);
        let mut found = Vec::new();
        let fails = fail_days.is_some_and(|f| days <= f);
        if !fails && (0..=warn_days).contains(&days) && days >= crate::cert::EXPIRY_WARNING_DAYS {
            found.push(AuditFinding::WithinWarnDays { days, warn_days });
        }
        if let Some(fail_days) = fail_days
            && fails
            && days >= 0
        {
            found.push(AuditFinding::WithinFailDays { days, fail_days });
        }
        let here = item.location.label();
        let mut others: Vec<String> = places
            .get(&(cert.thumbprint(), item.store_label()))
            .map(|v| v.iter().filter(|p| **p != here).cloned().collect())
            .unwrap_or_default();
        if !others.is_empty() {
            others.dedup();
            found.push(AuditFinding::Duplicate { others });
        }
        let mut view = inspect::view(item, now);
        for f in &found {
            view.push(f.coded());
        }
        views.push(view);
    }
    views
}

#[derive(Serialize)]
struct Summary {
    certificate_entries: usize,
    /// By distinct certificate, the counts the HTML page shows (`crate::report::Counts`).
    #[serde(flatten)]
    counts: Counts,
    gpo_backups: usize,
    /// GPOs read from the live domain (absent when the inputs were files).
    #[serde(skip_serializing_if = "Option::is_none")]
    live_gpos: Option<usize>,
    /// Entries: what `--fail-days` makes the exit code 1 for.
    within_fail_days: usize,
    with_findings: usize,
    unreadable_entries: usize,
    container_findings: usize,
}

impl Summary {
    /// What was audited, in a few words: the GPO backups, or the live domain's GPOs.
    fn sources(&self) -> String {
        match self.live_gpos {
            Some(n) => format!("{n} live GPO(s)"),
            None => format!("{} GPO backup(s)", self.gpo_backups),
        }
    }
}

#[derive(Serialize)]
struct JsonAudit<'a> {
    generator: String,
    as_of: String,
    warn_days: i64,
    fail_days: Option<i64>,
    summary: Summary,
    certificates: &'a [CertView],
    /// Entries without a readable certificate (Windows ignores them).
    unreadable: &'a [CertView],
    notes: &'a [Note],
    /// The live GPOs audited (versions, links, SYSVOL state); absent for files.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    gpos: &'a [crate::inspect::inventory::GpoSummary],
}

/// Audit an inventory (read with `inspect::walk::read_inputs`) at `now`.
pub fn audit(inv: &Inventory, opts: &Options, now: OffsetDateTime) -> Result<Audit, AuditError> {
    let warn_days = opts.warn_days;
    let views = views(inv, now, warn_days, opts.fail_days);
    let unreadable: Vec<CertView> = inv
        .items
        .iter()
        .filter(|i| i.cert.is_none())
        .map(|i| inspect::view(i, now))
        .collect();
    // Every entry, readable or not, as the page lists it and the summary counts it.
    let all: Vec<CertView> = views.iter().chain(&unreadable).cloned().collect();
    // Every view here has a certificate, hence a number of days.
    let failing = opts.fail_days.map_or(0, |f| {
        views
            .iter()
            .filter_map(|v| v.days_left)
            .filter(|d| *d <= f)
            .count()
    });
    let summary = Summary {
        certificate_entries: inv.items.len(),
        counts: Counts::of(&distinct(&all, warn_days)),
        gpo_backups: inv.backups.len(),
        live_gpos: (!inv.gpos.is_empty()).then_some(inv.gpos.len()),
        within_fail_days: failing,
        with_findings: views.iter().filter(|v| !v.findings.is_empty()).count(),
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
                certificates: &views,
                unreadable: &unreadable,
                notes: &inv.notes,
                gpos: &inv.gpos,
            };
            let mut v = serde_json::to_vec_pretty(&report)?;
            v.push(b'\n');
            v
        }
        Format::Csv => crate::report::to_csv(&views),
        Format::Html => {
            let templates = Templates::load(None)?;
            let subtitle = format!(
                "{}, {} certificate entries, {} distinct certificates{}.",
                summary.sources(),
                summary.certificate_entries,
                summary.counts.distinct_certificates,
                opts.fail_days
                    .map(|f| format!("; fail within {f} days"))
                    .unwrap_or_default()
            );
            let notes: Vec<String> = inv
                .notes
                .iter()
                .map(|n| format!("{}: {}", n.file, n.message))
                .collect();
            let page = Page {
                title: "certgpo audit",
                subtitle: &subtitle,
                notes: &notes,
                warn_days,
                now,
            };
            crate::report::to_html(&templates, &all, &page)?
        }
        Format::Text => {
            // Live GPOs first: versions, links, WMI filter, as `inspect` lists them.
            let mut all = Vec::new();
            for g in &inv.gpos {
                // Writing into a Vec cannot fail.
                let _ = inspect::write_gpo(&mut all, g);
            }
            if !all.is_empty() {
                all.push(b'\n');
            }
            all.extend(text(
                &views,
                &unreadable,
                &inv.notes,
                &summary,
                opts.fail_days,
            ));
            crate::text::lines(&String::from_utf8_lossy(&all)).into_bytes()
        }
    };
    Ok(Audit { report, failing })
}

/// An entry's findings as one sentence list.
fn messages(v: &CertView) -> String {
    v.findings
        .iter()
        .map(|f| f.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn text(
    views: &[CertView],
    unreadable: &[CertView],
    notes: &[Note],
    s: &Summary,
    fail_days: Option<i64>,
) -> Vec<u8> {
    let mut out = String::new();
    for v in views {
        out.push_str(&format!(
            "{:<5} {}  {:<12} {:>6}d  {}  [{}]\n",
            v.level.as_str(),
            v.thumbprint.as_deref().unwrap_or_default(),
            v.store,
            v.days_left.unwrap_or_default(),
            v.subject.as_deref().unwrap_or_default(),
            v.location
        ));
        for f in &v.findings {
            out.push_str(&format!("        ! {}\n", f.message));
        }
    }
    for u in unreadable {
        out.push_str(&format!(
            "bad   (unreadable) {} [{}]: {}\n",
            u.registry_key.as_deref().unwrap_or(&u.file),
            u.location,
            messages(u)
        ));
    }
    for n in notes {
        out.push_str(&format!("note  {}: {}\n", n.file, n.message));
    }
    let c = &s.counts;
    out.push_str(&format!(
        "\n{} entries ({} distinct certificates) in {}: {} expired, {} within --warn-days, {} weak, {} with other findings, {} OK; {} entries with findings, {} unreadable, {} ignored by Windows{}\n",
        s.certificate_entries,
        c.distinct_certificates,
        s.sources(),
        c.expired,
        c.within_warn_days,
        c.weak,
        c.other_findings,
        c.ok,
        s.with_findings,
        s.unreadable_entries,
        c.ignored_by_windows,
        fail_days
            .map(|f| format!(", {} inside --fail-days {f}", s.within_fail_days))
            .unwrap_or_default()
    ));
    out.into_bytes()
}
