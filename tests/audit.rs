//! `certgpo audit` on the real binary: an inventory across a real GPMC backup and a
//! bundle of ours, duplicates across GPOs, --warn-days/--fail-days and the exit code,
//! and each output format.

mod common;

use std::path::{Path, PathBuf};

use common::{NSA_BACKUP, certgpo, data, example};
use serde_json::Value;

fn build(out: &Path, certs: &[PathBuf]) {
    let mut cmd = certgpo();
    cmd.args([
        "build",
        "--domain",
        "shb.gov",
        "--gpo-name",
        "Roots again",
        "--out",
    ])
    .arg(out);
    for c in certs {
        cmd.arg("--cert").arg(c);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn inventory_across_gpos_with_duplicates_and_fail_days() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b");
    build(&bundle, &[data("nsa-cert/root-certs-pem")]);
    let o = certgpo()
        .arg("audit")
        .arg(data(NSA_BACKUP))
        .arg(&bundle)
        .args(["--format", "json", "--fail-days", "30"])
        .output()
        .unwrap();
    // The NSA GPO's 33 CA certificates expired years ago: inside --fail-days.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["certificate_entries"], 41);
    assert_eq!(v["summary"]["distinct_certificates"], 37);
    assert_eq!(v["summary"]["gpo_backups"], 2);
    assert_eq!(v["summary"]["expired"], 33);
    assert_eq!(v["summary"]["within_fail_days"], 33);
    // By distinct certificate, as report.html counts them (tests/report_browser.rs):
    // two roots and 30 of the CAs are signed with SHA-1; the other two roots are in
    // Root of both GPOs, a duplicate, so none is without findings.
    assert_eq!(v["summary"]["weak"], 32);
    assert_eq!(v["summary"]["within_warn_days"], 0);
    assert_eq!(v["summary"]["ignored_by_windows"], 0);
    assert_eq!(v["summary"]["other_findings"], 2);
    assert_eq!(v["summary"]["ok"], 0);
    let rows = v["certificates"].as_array().unwrap();
    let root_rows: Vec<&Value> = rows.iter().filter(|r| r["store"] == "Root").collect();
    assert_eq!(root_rows.len(), 8);
    for r in &root_rows {
        let loc = r["location"].as_str().unwrap();
        assert!(
            loc.starts_with("GPO DoD Root Certificates") || loc.starts_with("GPO Roots again"),
            "{loc}"
        );
        let dup = r["findings"].as_array().unwrap().iter().any(|f| {
            f["code"] == "duplicate"
                && f["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("duplicate: also in GPO")
        });
        assert!(dup, "{r}");
    }
    assert!(
        rows.iter()
            .filter(|r| r["store"] == "CA")
            .all(|r| r["level"] == "bad")
    );

    // Without --fail-days nothing fails, whatever is found.
    let o = certgpo()
        .arg("audit")
        .arg(data(NSA_BACKUP))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("37 entries (37 distinct certificates) in 1 GPO backup(s): 33 expired"),
        "{text}"
    );
}

#[test]
fn warn_and_fail_days_on_a_valid_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("b");
    build(&bundle, &[example()]);
    let days = |args: &[&str]| {
        let o = certgpo()
            .arg("audit")
            .arg(&bundle)
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        (o.status.code(), v)
    };
    let (code, v) = days(&["--fail-days", "30"]);
    assert_eq!(code, Some(0));
    let left = v["certificates"][0]["days_left"].as_i64().unwrap();
    assert!(left > 365, "the example is valid for years: {left}");
    let (code, v) = days(&["--warn-days", &(left + 1).to_string()]);
    assert_eq!(code, Some(0));
    let findings = v["certificates"][0]["findings"].to_string();
    assert!(findings.contains("within --warn-days"), "{findings}");
    let (code, _) = days(&["--fail-days", &(left + 1).to_string()]);
    assert_eq!(code, Some(1));
}

#[test]
fn csv_and_html_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let csv_path = tmp.path().join("a.csv");
    let html_path = tmp.path().join("a.html");
    for p in [&csv_path, &html_path] {
        let o = certgpo()
            .arg("audit")
            .arg(data(NSA_BACKUP))
            .arg("--output")
            .arg(p)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty());
    }
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(&r.headers().unwrap()[0], "location");
    assert_eq!(r.records().count(), 37);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("<table id=\"certs\">"));
    assert!(html.contains("Expiry timeline"));
    assert!(html.contains("D73CA91102A2204A36459ED32213B467D7CE97FB"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    if let Some(errors) = common::html5_errors(&html_path) {
        assert!(errors.is_empty(), "{errors:?}");
    }
    // Any --warn-days draws: the window is clamped, never an overflow.
    for days in ["0", "9223372036854775807"] {
        let o = certgpo()
            .arg("audit")
            .arg(data(NSA_BACKUP))
            .args(["--format", "html", "--warn-days", days])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = certgpo()
        .arg("audit")
        .arg(tmp.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
