//! What `build` writes, `inspect` reads back to the same certificates and properties;
//! `diff` of a bundle against itself is empty, against a bundle with one certificate
//! more shows exactly that one; and a real GPMC backup equals our rebuild of it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{NSA_BACKUP, certgpo, data, example, only_backup_dir};
use serde_json::Value;

fn build(out: &Path, extra: &[&str], certs: &[PathBuf]) {
    let mut cmd = certgpo();
    cmd.args([
        "build",
        "--domain",
        "shb.gov",
        "--allow-expired",
        "--timestamp",
        "2024-01-01T00:00:00Z",
    ])
    .args(extra)
    .arg("--out")
    .arg(out);
    for c in certs {
        cmd.arg("--cert").arg(c);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "build: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn json(args: &[&std::ffi::OsStr]) -> (Option<i32>, Value) {
    let o = certgpo().args(args).arg("--json").output().unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "JSON expected; stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

/// (store, thumbprint, friendly name, EKU restriction) of every entry.
fn entries(v: &Value) -> BTreeSet<(String, String, String, String)> {
    v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["store"].as_str().unwrap().to_string(),
                c["thumbprint"].as_str().unwrap().to_string(),
                c["friendly_name"].to_string(),
                c["trusted_for"].to_string(),
            )
        })
        .collect()
}

fn thumbprint(path: &Path) -> String {
    let der = std::fs::read(path).unwrap();
    let mut w = Vec::new();
    let ders = certgpo::cert::decode_container(&der, &mut |x| w.push(x)).unwrap();
    certgpo::cert::Certificate::from_der(ders[0].clone())
        .unwrap()
        .thumbprint()
}

#[test]
fn inspect_reads_back_what_build_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let zip = tmp.path().join("b.zip");
    build(
        &out,
        &[
            "--friendly-name",
            "Exchange CAS",
            "--purpose",
            "server-auth,client-auth",
            "--zip",
            zip.to_str().unwrap(),
        ],
        &[example(), data("nsa-cert/root-certs-pem")],
    );
    let mut expected = BTreeSet::new();
    let purposes = serde_json::json!(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    let mut certs = vec![example()];
    certs.extend(
        std::fs::read_dir(data("nsa-cert/root-certs-pem"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for c in &certs {
        expected.insert((
            "Root".to_string(),
            thumbprint(c),
            Value::String("Exchange CAS".into()).to_string(),
            purposes.to_string(),
        ));
    }
    assert_eq!(expected.len(), 5);

    // The bundle folder: the GPO backup is listed once, the copies are checked against it.
    let (code, v) = json(&["inspect".as_ref(), out.as_os_str()]);
    assert_eq!(code, Some(0));
    assert_eq!(entries(&v), expected);
    assert_eq!(v["certificates"].as_array().unwrap().len(), 5);
    assert!(v["notes"].as_array().unwrap().is_empty(), "{}", v["notes"]);
    assert_eq!(v["backups"][0]["name"], "certgpo - Trusted Certificates");

    // Each file of the bundle on its own reads back the same.
    for rel in ["policy/registry.pol", "reg/trust-machine-store.reg"] {
        let (code, v) = json(&["inspect".as_ref(), out.join(rel).as_os_str()]);
        assert_eq!(code, Some(0), "{rel}");
        assert_eq!(entries(&v), expected, "{rel}");
    }
    let backup = only_backup_dir(&out);
    let (_, v) = json(&["inspect".as_ref(), backup.join("gpreport.xml").as_os_str()]);
    assert_eq!(entries(&v), expected, "gpreport.xml");
    let (_, v) = json(&[
        "inspect".as_ref(),
        out.join("reg/remove-machine-store.reg").as_os_str(),
    ]);
    let removed: BTreeSet<String> = v["removals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["thumbprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(removed, expected.iter().map(|e| e.1.clone()).collect());
    let (_, v) = json(&[
        "inspect".as_ref(),
        out.join("certs/certificates.p7b").as_os_str(),
    ]);
    let in_p7b: BTreeSet<String> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["thumbprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_p7b, removed);

    // The zip reads back the same, and diff finds it equal to the folder.
    let (code, v) = json(&["inspect".as_ref(), zip.as_os_str()]);
    assert_eq!(code, Some(0));
    assert_eq!(entries(&v), expected);
    let (code, d) = json(&["diff".as_ref(), out.as_os_str(), zip.as_os_str()]);
    assert_eq!(code, Some(0), "{d}");
}

#[test]
fn tampered_bundle_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    build(&out, &[], &[example()]);
    std::fs::remove_file(out.join("reg/trust-machine-store.reg")).unwrap();
    std::fs::write(
        out.join("reg/trust-machine-store.reg"),
        "Windows Registry Editor Version 5.00\r\n\r\n",
    )
    .unwrap();
    std::fs::write(out.join("policy/registry.pol"), b"PReg\x01\x00\x00\x00").unwrap();
    let (code, v) = json(&["inspect".as_ref(), out.as_os_str()]);
    assert_eq!(code, Some(0));
    let kinds: Vec<(&str, &str)> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["code"].as_str().unwrap(), n["file"].as_str().unwrap()))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(k, f)| *k == "bundle-inconsistent" && f.ends_with("registry.pol")),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(k, f)| *k == "bundle-inconsistent" && f.ends_with(".reg")),
        "{kinds:?}"
    );
}

#[test]
fn diff_of_a_bundle_with_itself_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    build(&out, &[], &[data("nsa-cert/root-certs-pem")]);
    let (code, d) = json(&["diff".as_ref(), out.as_os_str(), out.as_os_str()]);
    assert_eq!(code, Some(0));
    assert_eq!(d["equal"], true);
    assert_eq!(d["summary"]["unchanged"], 4);
    let o = certgpo().arg("diff").arg(&out).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("equal: 0 added, 0 removed, 0 changed, 4 unchanged")
    );
}

#[test]
fn diff_shows_exactly_the_one_certificate_more() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    build(&a, &[], &[data("nsa-cert/root-certs-pem")]);
    build(&b, &[], &[data("nsa-cert/root-certs-pem"), example()]);
    let (code, d) = json(&["diff".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(code, Some(1));
    assert_eq!(d["equal"], false);
    assert_eq!(
        d["summary"],
        serde_json::json!({"added": 1, "removed": 0, "changed": 0, "unchanged": 4})
    );
    assert_eq!(d["stores"][0]["store"], "Root");
    assert_eq!(
        d["stores"][0]["added"][0]["thumbprint"],
        thumbprint(&example())
    );
    assert_eq!(d["stores"][0]["added"][0]["issued_to"], "EXCH2010");
    // And the other way round, one removed; text output names it with a '-'.
    let o = certgpo().arg("diff").arg(&b).arg(&a).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("  - {}  EXCH2010", thumbprint(&example()))),
        "{text}"
    );
    assert!(text.contains("1 removed"), "{text}");
}

#[test]
fn diff_reports_property_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    build(&a, &["--friendly-name", "Old"], &[example()]);
    build(
        &b,
        &["--friendly-name", "New", "--purpose", "server-auth"],
        &[example()],
    );
    let (code, d) = json(&["diff".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(code, Some(1));
    let changes = &d["stores"][0]["changed"][0]["changes"];
    assert_eq!(changes[0]["property"], "friendly name");
    assert_eq!(changes[0]["old"], "\"Old\"");
    assert_eq!(changes[0]["new"], "\"New\"");
    assert_eq!(changes[1]["property"], "EKU restriction");
    assert_eq!(changes[1]["new"], "server-auth (1.3.6.1.5.5.7.3.1)");
    assert_eq!(changes.as_array().unwrap().len(), 2);
}

#[test]
fn real_gpmc_backup_equals_our_rebuild_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    build(
        &out,
        &["--all-stores"],
        &[
            data("nsa-cert/root-certs-pem"),
            data("nsa-cert/derived/ca-certs"),
        ],
    );
    let (code, d) = json(&[
        "diff".as_ref(),
        data(NSA_BACKUP).as_os_str(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{d}");
    assert_eq!(d["summary"]["unchanged"], 37);
}

#[test]
fn diff_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.pol");
    std::fs::write(&bad, b"PReg\x01\x00\x00\x00[\x00").unwrap();
    let o = certgpo()
        .arg("diff")
        .arg(&bad)
        .arg(data(NSA_BACKUP))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.pol"));
    let o = certgpo()
        .arg("diff")
        .arg(tmp.path().join("missing"))
        .arg(data(NSA_BACKUP))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

fn base_build(out: &Path, extra: &[&str]) -> std::process::Output {
    certgpo()
        .arg("build")
        .arg("--base")
        .arg(data(NSA_BACKUP))
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn build_base_changes_exactly_the_two_entries_and_raises_the_version() {
    use certgpo::policy::{Entry, parse};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    const REMOVED: &str = "03611D56F253D39FDB51E192054FA8CE3006A844";
    let o = base_build(
        &out,
        &[
            "--cert",
            example().to_str().unwrap(),
            "--remove",
            &REMOVED.to_ascii_lowercase(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let base_dir = data(NSA_BACKUP);
    let old =
        parse(&std::fs::read(base_dir.join("DomainSysvol/GPO/Machine/registry.pol")).unwrap())
            .unwrap();
    let new_dir = only_backup_dir(&out);
    let new_bytes = std::fs::read(new_dir.join("DomainSysvol/GPO/Machine/registry.pol")).unwrap();
    assert_eq!(
        std::fs::read(out.join("policy/registry.pol")).unwrap(),
        new_bytes
    );
    let new = parse(&new_bytes).unwrap();
    let gone: Vec<&Entry> = old.iter().filter(|e| !new.contains(e)).collect();
    let added: Vec<&Entry> = new.iter().filter(|e| !old.contains(e)).collect();
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(added.len(), 1);
    assert_eq!(
        gone[0].key,
        format!(r"Software\Policies\Microsoft\SystemCertificates\CA\Certificates\{REMOVED}")
    );
    assert_eq!(
        added[0].key,
        format!(
            r"Software\Policies\Microsoft\SystemCertificates\Root\Certificates\{}",
            thumbprint(&example())
        )
    );
    assert_eq!(added[0].value, "Blob");
    assert_eq!(new.len(), old.len());
    // Everything else is untouched and in the same order, and the file is still GPMC-sorted.
    let rest_old: Vec<&Entry> = old.iter().filter(|e| *e != gone[0]).collect();
    let rest_new: Vec<&Entry> = new.iter().filter(|e| *e != added[0]).collect();
    assert_eq!(rest_old, rest_new);
    assert!(certgpo::policy::is_gpmc_sorted(&new));

    // Same GPO, higher version, the base's other files and Backup.xml carried over.
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    let b_old = certgpo::gpo::backup_xml::parse(&read(&base_dir, "Backup.xml"), "old").unwrap();
    let b_new = certgpo::gpo::backup_xml::parse(&read(&new_dir, "Backup.xml"), "new").unwrap();
    assert_eq!(b_new.gpo_id, b_old.gpo_id);
    assert_eq!(b_new.display_name, "DoD Root Certificates");
    assert_eq!(b_new.domain, b_old.domain);
    assert_eq!(b_new.security_groups, b_old.security_groups);
    assert_eq!(b_new.security_descriptor, b_old.security_descriptor);
    assert_eq!(b_new.extensions, b_old.extensions);
    assert_eq!(b_old.machine_version, 74 << 16 | 74);
    assert_eq!(b_new.machine_version, 75 << 16 | 75);
    assert!(b_new.machine_version > b_old.machine_version);
    let info = certgpo::gpo::bkup_info::parse(&read(&new_dir, "bkupInfo.xml"), "i").unwrap();
    assert_eq!(info.gpo_guid, b_old.gpo_id);
    assert_eq!(info.gpo_domain_controller, "SRV.SHB.GOV");
    assert_ne!(
        info.id, "{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}",
        "a new backup id"
    );
    assert_eq!(
        read(
            &new_dir,
            "DomainSysvol/GPO/Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf"
        ),
        read(
            &base_dir,
            "DomainSysvol/GPO/Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf"
        )
    );
    // The bundle is consistent (copies agree) and diff shows exactly the change.
    let (_, v) = json(&["inspect".as_ref(), out.as_os_str()]);
    assert!(v["notes"].as_array().unwrap().is_empty(), "{}", v["notes"]);
    let (code, d) = json(&["diff".as_ref(), base_dir.as_os_str(), out.as_os_str()]);
    assert_eq!(code, Some(1));
    assert_eq!(
        d["summary"],
        serde_json::json!({"added": 1, "removed": 1, "changed": 0, "unchanged": 36})
    );
    // SHA256SUMS covers the carried files too.
    if common::require("sha256sum", &["--version"]) {
        let s = std::process::Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(&out)
            .status()
            .unwrap();
        assert!(s.success());
    }
}

#[test]
fn build_base_drop_expired_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    // Only removals: no --cert needed. Every CA of the NSA GPO expired years ago.
    let o = base_build(&out, &["--drop-expired"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, v) = json(&["inspect".as_ref(), out.as_os_str(), "--settings".as_ref()]);
    let stores: BTreeSet<String> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["store"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stores, BTreeSet::from(["Root".to_string()]));
    assert!(
        v["settings"].as_array().unwrap().iter().any(|s| s["key"]
            == r"Software\Policies\Microsoft\SystemCertificates\CA\Certificates"
            && s["action"] == "create the key"),
        "the emptied CA store keeps its empty Certificates key, as GPMC writes it"
    );
    // Without --drop-expired the expired base certificates stay, with a warning.
    let out2 = tmp.path().join("c");
    let o = base_build(&out2, &["--cert", example().to_str().unwrap()]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("in the base expired") && err.contains("--drop-expired"),
        "{err}"
    );

    let refused = |extra: &[&str], needle: &str| {
        let dir = tmp.path().join("refused");
        let o = base_build(&dir, extra);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(!dir.exists(), "nothing written");
    };
    refused(
        &["--remove", "0000000000000000000000000000000000000000"],
        "holds no such certificate",
    );
    refused(&["--remove", "nothex"], "not a SHA-1 thumbprint");
    refused(&["--drop-expired", "--all-stores"], "--all-stores");
    refused(
        &["--drop-expired", "--domain", "other.example"],
        "differs from the base",
    );
    let o = certgpo()
        .args(["build", "--drop-expired", "--out"])
        .arg(tmp.path().join("x"))
        .arg("--base")
        .arg(data("nsa-cert/derived"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no GPMC backup"));
}
