//! What needs attention, by distinct certificate: the groups the HTML page shows as
//! rows and timeline bars, and the counts of its summary, of audit's JSON `summary` and
//! of a bundle's `certificates.json`. Counted here once, so the page and the JSON cannot
//! disagree.

use std::collections::BTreeMap;

use serde::Serialize;

use super::CertView;
use crate::cert::FindingCode;
use crate::finding::Code;

/// Why a certificate is on the report's list of things to look at. A certificate can be
/// several of the first four (expired and weak); `Other` and `Ok` only when it is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// An entry of it that Windows ignores (see `inspect::inventory::Problem`).
    Ignored,
    Expired,
    /// Expires within the warning window (`audit --warn-days`, else 60 days).
    Expiring,
    /// A weak key or signature.
    Weak,
    /// Another finding (not yet valid, a Root entry not self-signed, a duplicate...).
    Other,
    /// No finding at all.
    Ok,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Expired,
        Status::Expiring,
        Status::Weak,
        Status::Ignored,
        Status::Other,
        Status::Ok,
    ];

    /// The page's CSS class and link target, and the key of the JSON count.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ignored => "ignored",
            Status::Expired => "expired",
            Status::Expiring => "expiring",
            Status::Weak => "weak",
            Status::Other => "other",
            Status::Ok => "ok",
        }
    }
}

/// One certificate and every entry (GPO, store, file) that distributes it.
pub struct Distinct<'a> {
    /// In the order of the views; all hold the same certificate (or are one entry
    /// whose certificate is unreadable).
    pub entries: Vec<&'a CertView>,
    /// Worst first; never empty.
    pub statuses: Vec<Status>,
}

impl Distinct<'_> {
    /// The first entry: every entry shows the same certificate.
    pub fn view(&self) -> &CertView {
        self.entries[0]
    }
}

/// The views by certificate (its SHA-256; an entry without a readable certificate stands
/// alone): unreadable entries first, then by expiry, soonest (or longest expired) first.
pub fn distinct(views: &[CertView], warn_days: i64) -> Vec<Distinct<'_>> {
    let mut by_cert: BTreeMap<&str, Vec<&CertView>> = BTreeMap::new();
    let mut alone = Vec::new();
    for v in views {
        match &v.sha256 {
            Some(sha256) => by_cert.entry(sha256).or_default().push(v),
            None => alone.push(vec![v]),
        }
    }
    let mut groups: Vec<Distinct> = alone
        .into_iter()
        .chain(by_cert.into_values())
        .map(|entries| Distinct {
            statuses: statuses(&entries, warn_days),
            entries,
        })
        .collect();
    // Stable: unreadable entries keep the order they were read in.
    groups.sort_by(|a, b| {
        let key = |d: &Distinct| {
            let v = d.view();
            (
                v.validity.map(|p| p.1),
                v.issued_to.clone(),
                v.sha256.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    groups
}

fn statuses(entries: &[&CertView], warn_days: i64) -> Vec<Status> {
    let findings = || entries.iter().flat_map(|v| &v.findings);
    let has =
        |codes: &[FindingCode]| findings().any(|f| codes.iter().any(|c| f.code == c.as_str()));
    let expired = has(&[FindingCode::Expired]);
    let mut out = Vec::new();
    if entries.iter().any(|v| v.ignored_by_windows) {
        out.push(Status::Ignored);
    }
    if expired {
        out.push(Status::Expired);
    }
    if !expired && entries[0].days_left.is_some_and(|d| d <= warn_days) {
        out.push(Status::Expiring);
    }
    if has(&[FindingCode::WeakKey, FindingCode::WeakSignature]) {
        out.push(Status::Weak);
    }
    if out.is_empty() {
        out.push(if findings().next().is_some() {
            Status::Other
        } else {
            Status::Ok
        });
    }
    out
}

/// The counts at the top of every report: distinct certificates in each [`Status`],
/// except `ignored_by_windows`, which counts entries (one certificate can be ignored in
/// one GPO and applied from another).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Distinct readable certificates.
    pub distinct_certificates: usize,
    pub expired: usize,
    /// Not expired, and expiring within the warning window.
    pub within_warn_days: usize,
    /// With a weak key or signature.
    pub weak: usize,
    pub ignored_by_windows: usize,
    /// With findings, none of the kinds above.
    pub other_findings: usize,
    /// Without any finding.
    pub ok: usize,
}

impl Counts {
    pub fn of(groups: &[Distinct]) -> Counts {
        let count = |s: Status| groups.iter().filter(|g| g.statuses.contains(&s)).count();
        Counts {
            distinct_certificates: groups.iter().filter(|g| g.view().sha256.is_some()).count(),
            expired: count(Status::Expired),
            within_warn_days: count(Status::Expiring),
            weak: count(Status::Weak),
            ignored_by_windows: groups
                .iter()
                .flat_map(|g| &g.entries)
                .filter(|v| v.ignored_by_windows)
                .count(),
            other_findings: count(Status::Other),
            ok: count(Status::Ok),
        }
    }

    /// The count of a status, as the page's summary shows it.
    pub fn get(&self, status: Status) -> usize {
        match status {
            Status::Ignored => self.ignored_by_windows,
            Status::Expired => self.expired,
            Status::Expiring => self.within_warn_days,
            Status::Weak => self.weak,
            Status::Other => self.other_findings,
            Status::Ok => self.ok,
        }
    }
}
