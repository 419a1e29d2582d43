//! Certificate inventories as JSON, CSV and a self-contained HTML page: the
//! `report/` folder of a bundle, and the output of `audit`.

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::{Certificate, Finding};
use crate::template::{TemplateError, Templates};

/// One certificate in one place (a bundle store, a GPO, a file).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Where it is: the GPO name, the file, or the bundle.
    pub location: String,
    pub store: String,
    pub subject: String,
    pub issuer: String,
    pub thumbprint: String,
    pub sha256: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub key: String,
    pub signature_algorithm: String,
    pub self_signed: bool,
    pub sans: Vec<String>,
    /// The certificate's own extended key usage (empty: any purpose).
    pub eku: Vec<String>,
    /// Purposes the Blob restricts trust to (property 0x09); empty: no restriction.
    pub trusted_for: Vec<String>,
    pub friendly_name: Option<String>,
    pub findings: Vec<String>,
    /// "bad" (expired), "warn" (any other finding) or "ok".
    pub level: &'static str,
}

impl Row {
    pub fn new(
        cert: &Certificate,
        location: &str,
        store: &str,
        extra_findings: Vec<String>,
        now: OffsetDateTime,
    ) -> Row {
        let findings = cert.findings(now);
        let level = if findings
            .iter()
            .any(|f| matches!(f, Finding::Expired { .. }))
        {
            "bad"
        } else if findings.is_empty() && extra_findings.is_empty() {
            "ok"
        } else {
            "warn"
        };
        let mut texts: Vec<String> = findings.iter().map(ToString::to_string).collect();
        texts.extend(extra_findings);
        let mut sans = cert.dns_names.clone();
        sans.extend(cert.ip_addresses.iter().cloned());
        Row {
            location: location.to_string(),
            store: store.to_string(),
            subject: cert.subject.clone(),
            issuer: cert.issuer.clone(),
            thumbprint: cert.thumbprint(),
            sha256: cert.sha256_hex(),
            serial: cert.serial.clone(),
            not_before: date_time(cert.not_before),
            not_after: date_time(cert.not_after),
            days_left: cert.days_left(now),
            key: if cert.key_bits > 0 {
                format!("{} {}", cert.key_algorithm, cert.key_bits)
            } else {
                cert.key_algorithm.clone()
            },
            signature_algorithm: cert.signature_algorithm.clone(),
            self_signed: cert.self_signed,
            sans,
            eku: cert.eku.clone(),
            trusted_for: Vec::new(),
            friendly_name: None,
            findings: texts,
            level,
        }
    }
}

/// `2029-12-30T18:46:41Z`
pub fn date_time(t: OffsetDateTime) -> String {
    crate::gpo::gpmc_time(t) + "Z"
}

fn date(t: OffsetDateTime) -> String {
    date_time(t)[..10].to_string()
}

#[derive(Serialize)]
struct JsonReport<'a> {
    generator: String,
    as_of: String,
    certificates: &'a [Row],
}

pub fn to_json(rows: &[Row], now: OffsetDateTime) -> Vec<u8> {
    let report = JsonReport {
        generator: format!("certgpo {}", env!("CARGO_PKG_VERSION")),
        as_of: date(now),
        certificates: rows,
    };
    // Serializing plain strings and numbers cannot fail.
    let mut out = serde_json::to_vec_pretty(&report).unwrap_or_default();
    out.push(b'\n');
    out
}

pub const CSV_HEADERS: [&str; 17] = [
    "location",
    "store",
    "subject",
    "issuer",
    "thumbprint",
    "sha256",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "key",
    "signature_algorithm",
    "self_signed",
    "sans",
    "eku",
    "trusted_for",
    "findings",
];

/// RFC 4180 CSV. Cells that a spreadsheet would run as a formula (`= + - @` first)
/// get a leading `'`, the OWASP advice against CSV injection: a certificate subject
/// is attacker-chosen text.
pub fn to_csv(rows: &[Row]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let safe = |s: &str| -> String {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_string()
        }
    };
    // Writing into a Vec cannot fail.
    let _ = w.write_record(CSV_HEADERS);
    for r in rows {
        let _ = w.write_record([
            safe(&r.location),
            safe(&r.store),
            safe(&r.subject),
            safe(&r.issuer),
            r.thumbprint.clone(),
            r.sha256.clone(),
            r.serial.clone(),
            r.not_before.clone(),
            r.not_after.clone(),
            r.days_left.to_string(),
            safe(&r.key),
            safe(&r.signature_algorithm),
            r.self_signed.to_string(),
            safe(&r.sans.join(" ")),
            safe(&r.eku.join(" ")),
            safe(&r.trusted_for.join(" ")),
            safe(&r.findings.join("; ")),
        ]);
    }
    w.into_inner().unwrap_or_default()
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

#[derive(Serialize)]
struct HtmlRow<'a> {
    #[serde(flatten)]
    row: &'a Row,
    subject_short: String,
    days_label: String,
    start_pct: String,
    width_pct: String,
    findings_text: String,
    sans_text: String,
    eku_text: String,
}

/// The self-contained page: no external resource, a sortable table and an expiry
/// timeline drawn with CSS on one axis from the earliest start to the latest end.
pub fn to_html(
    templates: &Templates,
    rows: &[Row],
    certs: &[&Certificate],
    title: &str,
    subtitle: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, TemplateError> {
    let start = certs
        .iter()
        .map(|c| c.not_before)
        .min()
        .unwrap_or(now)
        .min(now);
    let end = certs
        .iter()
        .map(|c| c.not_after)
        .max()
        .unwrap_or(now)
        .max(now);
    let span = (end - start).whole_seconds().max(1) as f64;
    let pct = |t: OffsetDateTime| (t - start).whole_seconds() as f64 / span * 100.0;
    let html_rows: Vec<HtmlRow> = rows
        .iter()
        .zip(certs)
        .map(|(r, c)| HtmlRow {
            row: r,
            subject_short: c.subject_display.clone(),
            days_label: if r.days_left < 0 {
                format!("expired {} days ago", -r.days_left)
            } else {
                format!("{} days left", r.days_left)
            },
            start_pct: format!("{:.2}", pct(c.not_before)),
            width_pct: format!("{:.2}", (pct(c.not_after) - pct(c.not_before)).max(0.5)),
            findings_text: r.findings.join("; "),
            sans_text: r.sans.join(", "),
            eku_text: if r.trusted_for.is_empty() {
                purposes(&r.eku)
            } else {
                format!(
                    "{} (trusted only for: {})",
                    purposes(&r.eku),
                    purposes(&r.trusted_for)
                )
            },
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("title", title);
    ctx.insert("subtitle", subtitle);
    ctx.insert("as_of", &date(now));
    ctx.insert("axis_start", &date(start));
    ctx.insert("axis_end", &date(end));
    ctx.insert("now_pct", &format!("{:.2}", pct(now)));
    ctx.insert("rows", &html_rows);
    ctx.insert(
        "bad_count",
        &rows.iter().filter(|r| r.level == "bad").count(),
    );
    ctx.insert(
        "warn_count",
        &rows.iter().filter(|r| r.level == "warn").count(),
    );
    ctx.insert(
        "headers",
        &[
            "Location",
            "Store",
            "Subject",
            "Issuer",
            "SHA-1 thumbprint",
            "SHA-256",
            "Valid from",
            "Valid to",
            "Days left",
            "Key",
            "Signature",
            "SANs",
            "EKU",
            "Findings",
        ],
    );
    Ok(templates.render("report.html", &ctx)?.into_bytes())
}
