//! The one view of a certificate entry that every report shows (`build`'s `report/`
//! and `--json`, `inspect --json/--csv`, `audit`), and its JSON, CSV and
//! self-contained HTML forms. A JSON certificate object has exactly the CSV columns
//! as keys ([`CSV_HEADERS`]), lists where CSV joins them.

use std::io::Write;

use serde::Serialize;
use time::OffsetDateTime;

use crate::blob::ParsedBlob;
use crate::cert::Certificate;
use crate::finding::{Coded, HasCode, Level};
use crate::text::printable;

mod html;
mod summary;

pub use html::{Page, to_html};
pub use summary::{Counts, Distinct, Status, distinct};

/// The format a certificate entry was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    RegistryPol,
    Reg,
    GpReport,
    Blob,
    CertificateFile,
    /// A `cACertificate` value read from the directory.
    Directory,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::RegistryPol => "registry-pol",
            Format::Reg => "reg",
            Format::GpReport => "gp-report",
            Format::Blob => "blob",
            Format::CertificateFile => "certificate-file",
            Format::Directory => "directory",
        }
    }
}

/// Which half of a GPO (or which hive of a .reg) an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Half {
    Machine,
    User,
}

impl Half {
    pub fn as_str(self) -> &'static str {
        match self {
            Half::Machine => "machine",
            Half::User => "user",
        }
    }
}

/// The GPO a backup holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GpoRef {
    pub name: String,
    pub guid: String,
    pub backup_id: String,
    pub domain: String,
}

/// Where a certificate entry was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub format: Format,
    pub gpo: Option<GpoRef>,
    pub half: Option<Half>,
    /// Registry key of the entry (registry.pol, .reg).
    pub key: Option<String>,
    /// Byte offset (registry.pol) of the entry.
    pub offset: Option<usize>,
    /// Line (.reg) of the value.
    pub line: Option<usize>,
    /// 1-based position in a certificate file or report.
    pub index: Option<usize>,
}

impl Location {
    /// Where, in a few words: the GPO by name and GUID when known, else the file.
    pub fn label(&self) -> String {
        match &self.gpo {
            Some(g) if !g.name.is_empty() => format!("GPO {} {}", g.name, g.guid),
            _ => self.file.clone(),
        }
    }
}

/// What a view is made of; each command fills it from its own model.
pub struct Entry<'a> {
    /// The view's `location` text.
    pub label: String,
    pub location: &'a Location,
    /// Store label (`Root`, `Root (user)`, `(no store)` for certificate files).
    pub store: String,
    /// The store's node in the certificate console, when certgpo knows the store.
    pub store_name: Option<&'static str>,
    /// The certificate's SHA-1, else the one its registry key is named after.
    pub thumbprint: Option<String>,
    /// `None` when the entry's certificate could not be read.
    pub cert: Option<&'a Certificate>,
    pub blob: Option<&'a ParsedBlob>,
    /// What is wrong with the entry itself, listed before the certificate's findings.
    pub problems: Vec<Coded>,
    /// One of the problems makes Windows ignore the entry.
    pub ignored_by_windows: bool,
}

/// One certificate entry in one place (a bundle's GPO, a GPO backup, a file). The
/// certificate's fields are `null` only for an entry whose certificate is unreadable.
#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    /// Where, for people: the GPO (name and GUID) or the file.
    pub location: String,
    pub store: String,
    pub store_name: Option<&'static str>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// The console's "Issued To" and "Issued By": the CN, else the first OU, else O.
    pub issued_to: Option<String>,
    pub issued_by: Option<String>,
    /// SHA-1 of the certificate, as Windows names it (else the key's name).
    pub thumbprint: Option<String>,
    pub sha256: Option<String>,
    pub serial: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub self_signed: Option<bool>,
    pub is_ca: Option<bool>,
    /// `RSA 2048`, `ECDSA P-256 256`, `Ed25519 256`.
    pub key: Option<String>,
    pub signature_algorithm: Option<String>,
    /// DNS names and IP addresses of the subject alternative name extension.
    pub sans: Vec<String>,
    /// The certificate's own extended key usage (empty: any purpose).
    pub eku: Vec<String>,
    /// Blob property 0x09: clients trust the certificate only for these purposes.
    pub trusted_for: Option<Vec<String>>,
    /// Blob property 0x0B.
    pub friendly_name: Option<String>,
    /// Blob property ids in order, by name.
    pub blob_properties: Vec<String>,
    pub file: String,
    pub format: &'static str,
    pub gpo_name: Option<String>,
    pub gpo_guid: Option<String>,
    pub backup_id: Option<String>,
    pub gpo_domain: Option<String>,
    pub half: Option<&'static str>,
    pub registry_key: Option<String>,
    pub offset: Option<usize>,
    pub line: Option<usize>,
    pub index: Option<usize>,
    /// The worst of the findings' levels.
    pub level: Level,
    pub findings: Vec<Coded>,
    /// Validity period, for the HTML timeline.
    #[serde(skip)]
    validity: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Windows ignores the entry (the summary's `ignored_by_windows`).
    #[serde(skip)]
    ignored_by_windows: bool,
}

impl CertView {
    /// The view of `entry`, its certificate's findings evaluated at `now`.
    pub fn new(entry: Entry<'_>, now: OffsetDateTime) -> CertView {
        let c = entry.cert;
        let loc = entry.location;
        let gpo = loc.gpo.as_ref();
        let mut view = CertView {
            location: entry.label,
            store: entry.store,
            store_name: entry.store_name,
            subject: c.map(|c| c.subject.clone()),
            issuer: c.map(|c| c.issuer.clone()),
            issued_to: c.map(|c| c.subject_display.clone()),
            issued_by: c.map(|c| c.issuer_display.clone()),
            thumbprint: entry.thumbprint,
            sha256: c.map(Certificate::sha256_hex),
            serial: c.map(|c| c.serial.clone()),
            not_before: c.map(|c| date_time(c.not_before)),
            not_after: c.map(|c| date_time(c.not_after)),
            days_left: c.map(|c| c.days_left(now)),
            self_signed: c.map(|c| c.self_signed),
            is_ca: c.map(|c| c.is_ca),
            key: c.map(|c| {
                if c.key_bits > 0 {
                    format!("{} {}", c.key_algorithm, c.key_bits)
                } else {
                    c.key_algorithm.clone()
                }
            }),
            signature_algorithm: c.map(|c| c.signature_algorithm.clone()),
            sans: c
                .map(|c| c.dns_names.iter().chain(&c.ip_addresses).cloned().collect())
                .unwrap_or_default(),
            eku: c.map(|c| c.eku.clone()).unwrap_or_default(),
            trusted_for: entry.blob.and_then(ParsedBlob::eku),
            friendly_name: entry.blob.and_then(ParsedBlob::friendly_name),
            blob_properties: entry
                .blob
                .map(|b| {
                    b.ids()
                        .into_iter()
                        .chain([crate::blob::CERT])
                        .map(|id| crate::blob::property_name(id).to_string())
                        .collect()
                })
                .unwrap_or_default(),
            file: loc.file.clone(),
            format: loc.format.as_str(),
            gpo_name: gpo.map(|g| g.name.clone()),
            gpo_guid: gpo.map(|g| g.guid.clone()),
            backup_id: gpo.map(|g| g.backup_id.clone()),
            gpo_domain: gpo.map(|g| g.domain.clone()),
            half: loc.half.map(Half::as_str),
            registry_key: loc.key.clone(),
            offset: loc.offset,
            line: loc.line,
            index: loc.index,
            level: Level::Ok,
            findings: Vec::new(),
            validity: c.map(|c| (c.not_before, c.not_after)),
            ignored_by_windows: entry.ignored_by_windows,
        };
        for f in entry.problems {
            view.push(f);
        }
        for f in c.map(|c| c.findings(now)).unwrap_or_default() {
            view.push(f.coded());
        }
        view
    }

    /// Add a finding; the view's level becomes the worse of the two.
    pub fn push(&mut self, finding: Coded) {
        self.level = self.level.max(finding.level);
        self.findings.push(finding);
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
    warn_days: i64,
    /// The counts report.html shows at its top.
    summary: Counts,
    certificates: &'a [CertView],
}

/// A bundle's `report/certificates.json`, its warning window that of `expires-soon`.
pub fn to_json(views: &[CertView], now: OffsetDateTime) -> Vec<u8> {
    let warn_days = crate::cert::EXPIRY_WARNING_DAYS;
    let report = JsonReport {
        generator: format!("certgpo {}", env!("CARGO_PKG_VERSION")),
        as_of: date(now),
        warn_days,
        summary: Counts::of(&distinct(views, warn_days)),
        certificates: views,
    };
    // Serializing plain strings and numbers cannot fail.
    let mut out = serde_json::to_vec_pretty(&report).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The columns of every certificate CSV (`inspect --csv`, `audit --format csv`, a
/// bundle's `report/certificates.csv`): the fields of [`CertView`], in order.
pub const CSV_HEADERS: [&str; 35] = [
    "location",
    "store",
    "store_name",
    "subject",
    "issuer",
    "issued_to",
    "issued_by",
    "thumbprint",
    "sha256",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "self_signed",
    "is_ca",
    "key",
    "signature_algorithm",
    "sans",
    "eku",
    "trusted_for",
    "friendly_name",
    "blob_properties",
    "file",
    "format",
    "gpo_name",
    "gpo_guid",
    "backup_id",
    "gpo_domain",
    "half",
    "registry_key",
    "offset",
    "line",
    "index",
    "level",
    "findings",
];

/// A text cell. A certificate subject is attacker-chosen text: control characters
/// become U+FFFD (a spreadsheet or terminal showing the file cannot be steered by an
/// escape sequence or cut by a NUL), and a cell that a spreadsheet would run as a
/// formula (`=`, `+`, `-` or `@` first) gets a leading `'`, the OWASP advice against
/// CSV injection.
fn csv_text(s: &str) -> String {
    let s = printable(s);
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s
    }
}

fn csv_list(items: &[String]) -> String {
    csv_text(&items.join(" "))
}

fn csv_number<T: ToString>(n: Option<T>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

fn csv_record(v: &CertView) -> [String; CSV_HEADERS.len()] {
    let text = |s: &Option<String>| csv_text(s.as_deref().unwrap_or_default());
    [
        csv_text(&v.location),
        csv_text(&v.store),
        csv_text(v.store_name.unwrap_or_default()),
        text(&v.subject),
        text(&v.issuer),
        text(&v.issued_to),
        text(&v.issued_by),
        text(&v.thumbprint),
        text(&v.sha256),
        text(&v.serial),
        text(&v.not_before),
        text(&v.not_after),
        csv_number(v.days_left),
        csv_number(v.self_signed),
        csv_number(v.is_ca),
        text(&v.key),
        text(&v.signature_algorithm),
        csv_list(&v.sans),
        csv_list(&v.eku),
        csv_list(v.trusted_for.as_deref().unwrap_or_default()),
        text(&v.friendly_name),
        csv_list(&v.blob_properties),
        csv_text(&v.file),
        v.format.to_string(),
        text(&v.gpo_name),
        text(&v.gpo_guid),
        text(&v.backup_id),
        text(&v.gpo_domain),
        v.half.unwrap_or_default().to_string(),
        text(&v.registry_key),
        csv_number(v.offset),
        csv_number(v.line),
        csv_number(v.index),
        v.level.as_str().to_string(),
        csv_text(
            &v.findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    ]
}

/// RFC 4180 CSV (CRLF line ends), a header and one row per view.
pub fn write_csv(out: &mut dyn Write, views: &[CertView]) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(CSV_HEADERS)?;
    for v in views {
        w.write_record(csv_record(v))?;
    }
    w.flush()
}

/// [`write_csv`] into memory.
pub fn to_csv(views: &[CertView]) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_csv(&mut out, views);
    out
}
