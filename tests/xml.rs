//! The XML certgpo reads and writes stays within XML 1.0 (issue 9, items 3 and 5):
//! control characters in a certificate or GPO name never reach an XML file, and a
//! deeply nested file is refused quickly instead of costing time quadratic in its depth.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{certgpo, data, openssl};

/// A self-signed certificate made by openssl whose subject holds ESC, NUL and U+0001.
/// A NUL cannot pass through a command line, so openssl writes a request with `~` in
/// its place, that byte is set to 0, and openssl signs the certificate from the
/// request (`req -x509` does not check the request's own signature).
fn control_character_certificate(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ctl.key",
            "-subj",
            "/CN=esc\u{1b}[31m nul~one\u{1} end",
            "-outform",
            "DER",
            "-out",
            "ctl.csr",
        ],
    );
    let mut csr = std::fs::read(dir.join("ctl.csr")).unwrap();
    let at = csr
        .windows(7)
        .position(|w| w == b"nul~one")
        .expect("the subject in the request");
    csr[at + 3] = 0;
    std::fs::write(dir.join("ctl0.csr"), csr).unwrap();
    openssl(
        dir,
        &[
            "req", "-x509", "-in", "ctl0.csr", "-inform", "DER", "-key", "ctl.key", "-days",
            "3650", "-out", "ctl.pem",
        ],
    );
    dir.join("ctl.pem")
}

fn xmllint_accepts(file: &Path) {
    let o = Command::new("xmllint")
        .arg("--noout")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xmllint rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn control_characters_never_reach_an_xml_file() {
    if !common::require("openssl", &["version"]) || !common::require("xmllint", &["--version"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cert = control_character_certificate(tmp.path());
    let subject = String::from_utf8(
        Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-nameopt", "esc_ctrl", "-in"])
            .arg(&cert)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        subject.contains(r"esc\1B[31m nul\00one\01 end"),
        "openssl made the subject certgpo is tested with: {subject}"
    );
    let out = tmp.path().join("bundle");
    // U+FFFE is no control character, so a GPO name may hold it, but XML 1.0 may not.
    let o = certgpo()
        .args([
            "build",
            "--domain",
            "contoso.local",
            "--gpo-name",
            "GPO \u{FFFE} name",
        ])
        .arg("--cert")
        .arg(&cert)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let backup = std::fs::read_dir(out.join("gpo-backup"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    for file in [
        out.join("gpo-backup/manifest.xml"),
        backup.join("Backup.xml"),
        backup.join("bkupInfo.xml"),
        backup.join("gpreport.xml"),
    ] {
        xmllint_accepts(&file);
    }
    // The report shows what it replaced, as certgpo's terminal output does.
    let report = std::fs::read(backup.join("gpreport.xml")).unwrap();
    let report = certgpo::codec::from_utf16le(&report[2..]).unwrap();
    assert!(
        report.contains("<q1:IssuedTo>esc\u{FFFD}[31m nul\u{FFFD}one\u{FFFD} end</q1:IssuedTo>"),
        "{report}"
    );
    // certgpo reads back what it wrote.
    let o = certgpo().arg("inspect").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_report_xml_rejects_is_refused_by_certgpo_too() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("gpreport.xml");
    std::fs::write(&file, "<GPO><Name>a\u{1b}b</Name></GPO>").unwrap();
    if common::require("xmllint", &["--version"]) {
        let o = Command::new("xmllint")
            .arg("--noout")
            .arg(&file)
            .output()
            .unwrap();
        assert!(!o.status.success(), "xmllint accepts ESC");
    }
    let o = certgpo().arg("inspect").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("U+001B, which XML 1.0 does not allow"),
        "{err}"
    );
}

/// Backup.xml with `depth` nested elements below its root: 1.4 MB at 200,000.
fn nested_backup_xml(depth: usize) -> Vec<u8> {
    let mut xml =
        String::from(r#"<?xml version="1.0" encoding="utf-8"?><GroupPolicyBackupScheme>"#);
    xml.push_str(&"<a>".repeat(depth));
    xml.push_str(&"</a>".repeat(depth));
    xml.push_str("</GroupPolicyBackupScheme>");
    xml.into_bytes()
}

/// Runs certgpo and checks it refuses quickly, naming the file.
fn refused_quickly(args: &[&std::ffi::OsStr], file: &str) {
    let started = Instant::now();
    let o = certgpo().args(args).output().unwrap();
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(2), "{args:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(file) && err.contains("nested more than 64 deep"),
        "{err}"
    );
    // Unbounded, 200,000 levels ran for minutes; bounded, the refusal is immediate.
    assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
}

#[test]
fn deeply_nested_xml_is_refused_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp
        .path()
        .join("set/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}");
    std::fs::create_dir_all(&backup).unwrap();
    let xml = nested_backup_xml(200_000);
    assert!(xml.len() > 1_400_000);
    std::fs::write(backup.join("Backup.xml"), &xml).unwrap();
    let zip_path = tmp.path().join("set.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file(
        "{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}/Backup.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(&xml).unwrap();
    zip.finish().unwrap();

    let set = tmp.path().join("set");
    refused_quickly(&["inspect".as_ref(), set.as_os_str()], "Backup.xml");
    refused_quickly(
        &["inspect".as_ref(), zip_path.as_os_str()],
        "set.zip!{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}/Backup.xml",
    );
    let out = tmp.path().join("out");
    refused_quickly(
        &[
            "build".as_ref(),
            "--base".as_ref(),
            zip_path.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        "Backup.xml",
    );
    assert!(!out.exists());
}

/// GPMC's own files nest far less than the limit: every real one reads.
#[test]
fn real_gpmc_files_are_within_the_limit() {
    for set in ["nsa-cert", "disa-horizon", "disa-ie11"] {
        let o = certgpo().arg("inspect").arg(data(set)).output().unwrap();
        assert!(
            o.status.success(),
            "{set}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
