//! The self-contained HTML page of a report (a bundle's `report/report.html`, `audit
//! --format html`): the counts that need attention at the top, an expiry timeline and a
//! table with one row per distinct certificate, each listing every entry that
//! distributes it. Every value goes through the HTML templates' escaping
//! (`crate::template`), which also replaces control characters; the page fetches
//! nothing, and its Content-Security-Policy lets only its own script run (by hash, so
//! an inline event handler would not run even if markup got through).

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime};

use super::summary::{Counts, Distinct, Status, distinct};
use super::{CertView, date};
use crate::template::{TemplateError, Templates};

/// What a page says besides its certificates.
pub struct Page<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    /// Findings about the inputs rather than one certificate (audit's notes).
    pub notes: &'a [String],
    /// The warning window: `audit --warn-days`, else the 60 days of `expires-soon`.
    pub warn_days: i64,
    /// When the certificates are evaluated.
    pub now: OffsetDateTime,
}

/// A status as the page shows it: a word and a shape, so that it reads without colour.
#[derive(Serialize)]
struct Badge {
    key: &'static str,
    /// Short, for a row.
    label: &'static str,
    shape: &'static str,
}

fn badge(status: Status) -> Badge {
    let (label, shape) = match status {
        Status::Ignored => ("Ignored by Windows", "\u{2298}"),
        Status::Expired => ("Expired", "\u{2716}"),
        Status::Expiring => ("Expiring", "\u{25B2}"),
        Status::Weak => ("Weak", "\u{25C6}"),
        Status::Other => ("Other findings", "\u{25CF}"),
        Status::Ok => ("OK", "\u{2714}"),
    };
    Badge {
        key: status.as_str(),
        label,
        shape,
    }
}

/// A count at the top of the page, linking to the rows it counts.
#[derive(Serialize)]
struct Card {
    #[serde(flatten)]
    badge: Badge,
    count: usize,
    /// What the number counts, in full.
    title: String,
}

fn card(status: Status, counts: &Counts, warn_days: i64) -> Card {
    let title = match status {
        Status::Ignored => "entries ignored by Windows".into(),
        Status::Expired => "expired".into(),
        Status::Expiring => format!("expire within {warn_days} days"),
        Status::Weak => "with a weak key or signature".into(),
        Status::Other => "with other findings".into(),
        Status::Ok => "OK: no finding".into(),
    };
    Card {
        badge: badge(status),
        count: counts.get(status),
        title,
    }
}

/// One entry of a certificate, in the row's "Distributed to" column and its details.
#[derive(Serialize)]
struct Place {
    /// `Root`, `CA (user)`; `File` for a certificate file.
    store: String,
    /// `GPO <name>`, else the file.
    at: String,
    /// Where exactly and what the entry adds: location, file, registry key, friendly
    /// name, purposes the Blob restricts it to, findings of this entry only.
    details: Vec<String>,
    ignored: bool,
}

/// A detail of a certificate: a term and its value; `mono` for hex.
#[derive(Serialize)]
struct Field {
    term: &'static str,
    value: String,
    mono: bool,
}

#[derive(Serialize)]
struct Bar {
    start_pct: String,
    width_pct: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    badges: Vec<Badge>,
    /// The worst status's position, for sorting.
    rank: usize,
    name: String,
    issued_by: String,
    expires: String,
    expires_sort: String,
    days: String,
    key: String,
    signature: String,
    places: Vec<Place>,
    /// What the folded details line says: thumbprint, SANs, EKU, number of entries.
    summary: String,
    fields: Vec<Field>,
    /// Findings every entry shares (those of the certificate).
    findings: Vec<String>,
    bar: Option<Bar>,
}

#[derive(Serialize)]
struct Tick {
    pct: String,
    label: String,
}

/// The time axis of the timeline.
struct Axis {
    start: OffsetDateTime,
    span: f64,
}

impl Axis {
    fn pct(&self, t: OffsetDateTime) -> f64 {
        (t - self.start).whole_seconds() as f64 / self.span * 100.0
    }

    /// Every January 1st on the axis, thinned to at most 12 labels.
    fn ticks(&self, end: OffsetDateTime) -> Vec<Tick> {
        let (first, last) = (self.start.year() + 1, end.year());
        let years = (last - first + 1).max(1);
        let step = [1, 2, 5, 10, 20, 50, 100]
            .into_iter()
            .find(|s| years / s <= 12)
            .unwrap_or(200);
        (first..=last)
            .filter(|y| y % step == 0)
            .filter_map(|y| Date::from_calendar_date(y, Month::January, 1).ok())
            .map(|d| Tick {
                pct: format!("{:.2}", self.pct(d.midnight().assume_utc())),
                label: d.year().to_string(),
            })
            .collect()
    }
}

/// OIDs as the certificate console names them, the OID kept for the unusual ones.
fn purposes(oids: &[String]) -> String {
    oids.iter()
        .map(|o| match crate::purpose::windows_name(o) {
            Some(name) => name.to_string(),
            None => o.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn days_label(v: &CertView, expired: bool) -> String {
    match v.days_left {
        None => String::new(),
        Some(0) if expired => "expired today".into(),
        Some(d) if expired => format!("expired {} days ago", -d),
        Some(1) => "1 day left".into(),
        Some(d) => format!("{d} days left"),
    }
}

fn place(v: &CertView, all: &[&CertView]) -> Place {
    let file = v.format == super::Format::CertificateFile.as_str();
    let gpo = v.gpo_name.as_deref().filter(|n| !n.is_empty());
    let mut details = vec![v.location.clone()];
    if gpo.is_some() || v.location != v.file {
        details.push(format!("file {}", v.file));
    }
    if let Some(k) = &v.registry_key {
        details.push(format!("registry key {k}"));
    }
    if let Some(n) = &v.friendly_name {
        details.push(format!("friendly name \"{n}\""));
    }
    if let Some(t) = v.trusted_for.as_deref().filter(|t| !t.is_empty()) {
        details.push(format!("clients trust it only for: {}", purposes(t)));
    }
    // A finding not every entry has is about this entry, not the certificate.
    details.extend(
        v.findings
            .iter()
            .filter(|f| !all.iter().all(|o| o.findings.contains(f)))
            .map(|f| f.message.clone()),
    );
    Place {
        store: if file { "File".into() } else { v.store.clone() },
        at: match gpo {
            Some(name) => format!("GPO {name}"),
            None => v.file.clone(),
        },
        details,
        ignored: v.ignored_by_windows,
    }
}

fn row(n: usize, d: &Distinct, axis: &Axis) -> Row {
    let v = d.view();
    let expired = d.statuses.contains(&Status::Expired);
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let field = |term, value, mono| Field { term, value, mono };
    let mut fields = vec![
        field("Subject", text(&v.subject), false),
        field("Issuer", text(&v.issuer), false),
        field(
            "Valid",
            match (&v.not_before, &v.not_after) {
                (Some(from), Some(to)) => format!("{from} to {to}"),
                _ => String::new(),
            },
            false,
        ),
        field("SANs", v.sans.join(", "), false),
        field(
            "EKU",
            match (&v.subject, v.eku.is_empty()) {
                (None, _) => String::new(),
                (Some(_), true) => "any purpose".into(),
                (Some(_), false) => purposes(&v.eku),
            },
            false,
        ),
        field("Signature", text(&v.signature_algorithm), false),
        field("SHA-1 thumbprint", text(&v.thumbprint), true),
        field("SHA-256", text(&v.sha256), true),
        field("Serial", text(&v.serial), true),
    ];
    fields.retain(|f| !f.value.is_empty());
    let mut summary: Vec<String> = ["SHA-1 thumbprint", "SANs", "EKU"]
        .iter()
        .filter_map(|t| fields.iter().find(|f| f.term == *t))
        .map(|f| format!("{} {}", f.term, f.value))
        .collect();
    if d.entries.len() > 1 {
        summary.push(format!("{} entries", d.entries.len()));
    }
    let name = match (&v.issued_to, &v.thumbprint) {
        (Some(name), _) => name.clone(),
        (None, Some(t)) => format!("Unreadable entry {t}"),
        (None, None) => "Unreadable entry".into(),
    };
    let issued_by = match (&v.issued_by, v.self_signed) {
        (_, Some(true)) => "self-signed".into(),
        (Some(by), _) => format!("issued by {by}"),
        (None, _) => String::new(),
    };
    Row {
        id: format!("cert-{n}"),
        badges: d.statuses.iter().map(|s| badge(*s)).collect(),
        rank: d.statuses[0] as usize,
        name,
        issued_by,
        expires: v
            .not_after
            .as_deref()
            .map(|t| t[..10].to_string())
            .unwrap_or_default(),
        expires_sort: text(&v.not_after),
        days: days_label(v, expired),
        key: text(&v.key),
        signature: text(&v.signature_algorithm),
        places: d.entries.iter().map(|e| place(e, &d.entries)).collect(),
        summary: summary.join(" \u{b7} "),
        fields,
        findings: v
            .findings
            .iter()
            .filter(|f| d.entries.iter().all(|o| o.findings.contains(f)))
            .map(|f| f.message.clone())
            .collect(),
        bar: v.validity.map(|(from, to)| Bar {
            start_pct: format!("{:.2}", axis.pct(from)),
            width_pct: format!("{:.2}", (axis.pct(to) - axis.pct(from)).max(0.4)),
        }),
    }
}

/// The page's script and the CSP source that lets exactly it run (CSP Level 3, "hash-source").
fn script(templates: &Templates) -> Result<(String, String), TemplateError> {
    let js = templates.render("report.js", &tera::Context::new())?;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(js.as_bytes()));
    Ok((js, format!("'sha256-{hash}'")))
}

/// The page for `views` (every entry, readable or not).
pub fn to_html(
    templates: &Templates,
    views: &[CertView],
    page: &Page,
) -> Result<Vec<u8>, TemplateError> {
    let now = page.now;
    let groups = distinct(views, page.warn_days);
    let counts = Counts::of(&groups);
    // `--warn-days` is the user's number: a window past a century draws as a century,
    // and adding it never overflows.
    let warn_end = now
        .checked_add(time::Duration::days(page.warn_days.clamp(0, 36_525)))
        .unwrap_or(now);
    let periods = groups.iter().filter_map(|g| g.view().validity);
    let start = periods.clone().map(|p| p.0).min().unwrap_or(now).min(now);
    let end = periods.map(|p| p.1).max().unwrap_or(now).max(warn_end);
    let axis = Axis {
        start,
        span: (end - start).whole_seconds().max(1) as f64,
    };
    let rows: Vec<Row> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| row(i + 1, g, &axis))
        .collect();
    let cards: Vec<Card> = Status::ALL
        .into_iter()
        // "Other findings" only when there are some: the five the admin asks for stay put.
        .filter(|s| *s != Status::Other || counts.other_findings > 0)
        .map(|s| card(s, &counts, page.warn_days))
        .collect();
    let (script, script_hash) = script(templates)?;
    let mut ctx = tera::Context::new();
    ctx.insert("title", page.title);
    ctx.insert("subtitle", page.subtitle);
    ctx.insert("notes", page.notes);
    ctx.insert("as_of", &date(now));
    ctx.insert("warn_days", &page.warn_days);
    ctx.insert("counts", &counts);
    ctx.insert("cards", &cards);
    ctx.insert("rows", &rows);
    ctx.insert("axis_start", &date(start));
    ctx.insert("axis_end", &date(end));
    ctx.insert("ticks", &axis.ticks(end));
    ctx.insert("now_pct", &format!("{:.2}", axis.pct(now)));
    ctx.insert(
        "warn_pct",
        &format!("{:.2}", axis.pct(warn_end) - axis.pct(now)),
    );
    ctx.insert("script", &script);
    ctx.insert("script_hash", &script_hash);
    Ok(templates.render("report.html", &ctx)?.into_bytes())
}
