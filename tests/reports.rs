//! The one certificate view on the real binary: build's report/ and --json, inspect and
//! audit show the same fields for the same certificate, every CSV has the same columns
//! (the JSON keys), and a hostile subject (ESC, NUL, a spreadsheet formula, an HTML tag)
//! reaches no HTML page or CSV file raw.

mod common;

use std::path::{Path, PathBuf};

use common::{certgpo_ok as run, example};
use serde_json::Value;

fn build(out: &Path, cert: &Path) -> Value {
    let stdout = run(&[
        "build".as_ref(),
        "--json".as_ref(),
        "--domain".as_ref(),
        "contoso.local".as_ref(),
        "--purpose".as_ref(),
        "server-auth".as_ref(),
        "--friendly-name".as_ref(),
        "Exchange".as_ref(),
        "--cert".as_ref(),
        cert.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    serde_json::from_slice(&stdout).unwrap()
}

fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let headers = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (headers, rows)
}

/// A JSON value as its CSV cell shows it.
fn as_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_object) => items
            .iter()
            .map(|f| format!("{}: {}", as_cell(&f["code"]), as_cell(&f["message"])))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Array(items) => items.iter().map(as_cell).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// The view without where it was found, which differs by command (file paths, labels).
fn without_place(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("location");
    o.remove("file");
    v
}

#[test]
fn build_inspect_and_audit_show_the_same_view_and_csv_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let summary = build(&out, &example());
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report/certificates.json")).unwrap())
            .unwrap();
    let built = &report["certificates"][0];
    assert_eq!(&summary["certificates"][0], built, "build --json = report/");

    let inspected: Value = serde_json::from_slice(&run(&[
        "inspect".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]))
    .unwrap();
    let audited: Value = serde_json::from_slice(&run(&[
        "audit".as_ref(),
        out.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]))
    .unwrap();
    for (name, v) in [("inspect", &inspected), ("audit", &audited)] {
        let certs = v["certificates"].as_array().unwrap();
        assert_eq!(certs.len(), 1, "{name}: {v}");
        assert_eq!(without_place(&certs[0]), without_place(built), "{name}");
        assert!(
            certs[0]["file"]
                .as_str()
                .unwrap()
                .ends_with(built["file"].as_str().unwrap()),
            "{name}: {}",
            certs[0]["file"]
        );
    }
    assert_eq!(built["findings"][0]["code"], "weak-signature");
    assert_eq!(built["level"], "warn");
    assert_eq!(built["trusted_for"][0], "1.3.6.1.5.5.7.3.1");
    assert_eq!(built["offset"], 8, "the Blob is registry.pol's first entry");

    // One CSV schema: the JSON keys, cell by cell.
    let csvs = [
        std::fs::read(out.join("report/certificates.csv")).unwrap(),
        run(&["inspect".as_ref(), out.as_os_str(), "--csv".as_ref()]),
        run(&[
            "audit".as_ref(),
            out.as_os_str(),
            "--format".as_ref(),
            "csv".as_ref(),
        ]),
    ];
    for (csv, json) in csvs
        .iter()
        .zip([built, &inspected["certificates"][0], built])
    {
        let (headers, rows) = csv_rows(csv);
        assert_eq!(headers, certgpo::report::CSV_HEADERS);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), headers.len(), "{keys:?}");
        for (h, cell) in headers.iter().zip(&rows[0]) {
            if h != "location" && h != "file" {
                assert_eq!(*cell, as_cell(&json[h]), "column {h}");
            }
        }
    }
}

/// A self-signed certificate whose CN starts with a spreadsheet formula and holds an HTML
/// tag, an ESC sequence and a NUL. openssl cannot take a NUL on its command line, so
/// the CN gets a 0x01 that is patched to 0x00 in the DER, and openssl signs it again.
fn hostile_certificate(dir: &Path) -> PathBuf {
    let cn = "=cmd|' \\/C calc'!A0 <img src=x onerror=alert(1)> \u{1b}[31mred \u{1}nul";
    let subject = format!("/CN={cn}");
    common::openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.der",
            "-outform", "DER", "-days", "365", "-utf8", "-subj", &subject,
        ],
    );
    let mut patched = std::fs::read(dir.join("c.der")).unwrap();
    let at: Vec<usize> = patched
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"\x01nul")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 2, "the CN of subject and issuer");
    for i in at {
        patched[i] = 0;
    }
    std::fs::write(dir.join("patched.der"), patched).unwrap();
    common::openssl(
        dir,
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "patched.der",
            "-key",
            "k.pem",
            "-out",
            "hostile.pem",
        ],
    );
    dir.join("hostile.pem")
}

fn control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t' && c != '\r'
}

fn check_html(name: &str, bytes: &[u8]) {
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(!html.chars().any(control), "{name}: a control character");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"),
        "{name}: the tag is shown as text"
    );
    assert!(html.contains("\u{FFFD}[31mred \u{FFFD}nul"), "{name}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.html");
    std::fs::write(&path, bytes).unwrap();
    if let Some(errors) = common::html5_errors(&path) {
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

fn check_csv(name: &str, bytes: &[u8]) {
    let (headers, rows) = csv_rows(bytes);
    assert!(!rows.is_empty(), "{name}");
    for row in &rows {
        for (h, cell) in headers.iter().zip(row) {
            assert!(!cell.chars().any(char::is_control), "{name} {h}: {cell:?}");
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "{name} {h}: a formula cell {cell:?}"
            );
        }
    }
    let issued_to = headers.iter().position(|h| h == "issued_to").unwrap();
    assert_eq!(
        rows[0][issued_to],
        "'=cmd|' /C calc'!A0 <img src=x onerror=alert(1)> \u{FFFD}[31mred \u{FFFD}nul",
        "{name}"
    );
}

#[test]
fn hostile_subject_reaches_no_page_or_csv_raw() {
    if !common::require("openssl", &["version"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cert = hostile_certificate(tmp.path());
    let out = tmp.path().join("b");
    let summary = build(&out, &cert);
    // JSON keeps the true name, escaped as JSON escapes it.
    let subject = summary["certificates"][0]["issued_to"].as_str().unwrap();
    assert!(subject.contains("\u{1b}[31mred \u{0}nul"), "{subject:?}");

    check_html(
        "report.html",
        &std::fs::read(out.join("report/report.html")).unwrap(),
    );
    check_csv(
        "certificates.csv",
        &std::fs::read(out.join("report/certificates.csv")).unwrap(),
    );
    let audit = |format: &str| {
        run(&[
            "audit".as_ref(),
            out.as_os_str(),
            "--format".as_ref(),
            format.as_ref(),
        ])
    };
    check_html("audit --format html", &audit("html"));
    check_csv("audit --format csv", &audit("csv"));
    check_csv(
        "inspect --csv",
        &run(&["inspect".as_ref(), out.as_os_str(), "--csv".as_ref()]),
    );
}
