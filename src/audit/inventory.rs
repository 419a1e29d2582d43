//! `certgpo audit`: an inventory across many GPO backups and files, in the same
//! JSON/CSV/HTML shapes as a bundle's `report/` (see the parent module): which GPO
//! distributes which certificate to which store, duplicates across GPOs, expiry
//! against `--warn-days`/`--fail-days`, weak keys and signatures, Root entries that
//! are not self-signed, entries Windows ignores. Exit 1 when anything falls inside
//! `--fail-days`, so a nightly pipeline can alarm.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Row, date_time};
use crate::cert::Certificate;
use crate::cli::{AuditArgs, AuditFormat};
use crate::exit::{Failure, code};
use crate::inspect::inventory::{self, Inventory, Item, Note};
use crate::inspect::walk;
use crate::template::Templates;

/// What `--format` and `--output` choose between.
fn format(args: &AuditArgs) -> AuditFormat {
    if let Some(f) = args.format {
        return f;
    }
    let ext = args
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => AuditFormat::Json,
        Some("csv") => AuditFormat::Csv,
        Some("html" | "htm") => AuditFormat::Html,
        _ => AuditFormat::Text,
    }
}

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

pub fn run(args: AuditArgs) -> Result<u8, Failure> {
    let inv = walk::read_inputs(&args.paths, inventory::Options::default())?;
    for w in &inv.warnings {
        eprintln!("warning: {w}");
    }
    let now = OffsetDateTime::now_utc();
    let warn_days = args.warn_days;
    let (rows, certs) = rows(&inv, now, warn_days, args.fail_days);
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
    let failing = args
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

    let bytes = match format(&args) {
        AuditFormat::Json => {
            let report = JsonAudit {
                generator: format!("certgpo {}", env!("CARGO_PKG_VERSION")),
                as_of: date_time(now),
                warn_days,
                fail_days: args.fail_days,
                summary,
                certificates: &rows,
                unreadable,
                notes: &inv.notes,
            };
            let mut v = serde_json::to_vec_pretty(&report).map_err(std::io::Error::other)?;
            v.push(b'\n');
            v
        }
        AuditFormat::Csv => super::to_csv(&rows),
        AuditFormat::Html => {
            let templates = Templates::load(None)
                .map_err(|e| Failure::new(format!("built-in templates: {e}")))?;
            let mut subtitle = format!(
                "{} GPO backup(s), {} certificate entries, {} distinct certificates; warn within {warn_days} days{}.",
                summary.gpo_backups,
                summary.certificate_entries,
                summary.distinct_certificates,
                args.fail_days
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
            super::to_html(&templates, &rows, &certs, "certgpo audit", &subtitle, now)
                .map_err(|e| Failure::new(format!("audit report: {e}")))?
        }
        AuditFormat::Text => crate::text::lines(&String::from_utf8_lossy(&text(
            &rows,
            &unreadable,
            &inv.notes,
            &summary,
            args.fail_days,
        )))
        .into_bytes(),
    };
    match &args.output {
        Some(path) => {
            crate::bundle::write_file_atomic(path, &bytes)?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
        }
    }
    if failing > 0 {
        eprintln!(
            "audit: {failing} certificate entr{} expired or expire within --fail-days {}",
            if failing == 1 { "y has" } else { "ies have" },
            args.fail_days.unwrap_or_default()
        );
        return Ok(code::DIFFERENT);
    }
    Ok(code::OK)
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
