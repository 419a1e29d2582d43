//! End-to-end tests of `certgpo build` on the real binary: golden files (ours, and
//! GPMC's own), determinism, every refusal, escaping, and the input formats.

mod common;

use std::path::{Path, PathBuf};

use common::{NSA_BACKUP, certgpo, data, example, tree};
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, IsCa, Issuer, KeyPair};

fn only_file(dir: &Path, suffix: &str) -> Vec<u8> {
    let t = tree(dir);
    let hits: Vec<_> = t.iter().filter(|(k, _)| k.ends_with(suffix)).collect();
    assert_eq!(hits.len(), 1, "exactly one {suffix} in {}", dir.display());
    hits[0].1.clone()
}

fn utf16(bytes: &[u8]) -> String {
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "UTF-16LE BOM");
    certgpo::codec::from_utf16le(&bytes[2..]).expect("valid UTF-16")
}

/// The NSA GPO's 4 roots: our registry.pol must equal the Root section GPMC wrote.
#[test]
fn golden_root_section_matches_gpmc() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    certgpo()
        .args(["build", "--domain", "shb.gov", "--allow-expired", "--cert"])
        .arg(data("nsa-cert/root-certs-pem"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let expected = std::fs::read(data("nsa-cert/derived/root-section-instructions.bin")).unwrap();
    assert_eq!(
        std::fs::read(out.join("policy/registry.pol")).unwrap(),
        expected
    );
}

/// All 37 certificates with --all-stores: the whole real GPMC registry.pol, byte for
/// byte, and the certificate sections of GPMC's own gpreport.xml.
#[test]
fn golden_whole_gpo_matches_gpmc() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    certgpo()
        .args([
            "build",
            "--domain",
            "SHB.GOV",
            "--gpo-name",
            "DoD Root Certificates",
        ])
        .args(["--all-stores", "--allow-expired", "--cert"])
        .arg(data("nsa-cert/root-certs-pem"))
        .arg("--cert")
        .arg(data("nsa-cert/derived/ca-certs"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let real_dir = data(NSA_BACKUP);
    let real_pol = std::fs::read(real_dir.join("DomainSysvol/GPO/Machine/registry.pol")).unwrap();
    let ours = std::fs::read(out.join("policy/registry.pol")).unwrap();
    assert_eq!(ours.len(), 66_792);
    assert_eq!(ours, real_pol);
    assert_eq!(
        only_file(&out, "/DomainSysvol/GPO/Machine/registry.pol"),
        real_pol
    );

    // gpreport.xml: from the first ExtensionData to </Computer>, GPMC's text exactly.
    let section = |s: &str| {
        let i = s.find("    <ExtensionData>").expect("extension data");
        let j = s.find("  </Computer>").expect("computer end");
        s[i..j].to_string()
    };
    let ours = utf16(&only_file(&out, "/gpreport.xml"));
    let real = utf16(&std::fs::read(real_dir.join("gpreport.xml")).unwrap());
    assert_eq!(section(&ours), section(&real));
    assert!(!ours.ends_with('\n') && !real.ends_with('\n'));

    // Backup.xml and bkupInfo.xml: GPMC's layout with our identity in place of theirs.
    let ours = String::from_utf8(only_file(&out, "/Backup.xml")).unwrap();
    let real = String::from_utf8(std::fs::read(real_dir.join("Backup.xml")).unwrap()).unwrap();
    let first_line = |s: &str| s.split("\r\n").next().unwrap_or_default().to_string();
    assert_eq!(first_line(&ours), first_line(&real));
    assert!(ours.contains("<MachineExtensionGuids><![CDATA[[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}][{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]]]></MachineExtensionGuids><UserExtensionGuids/><WMIFilter/></GroupPolicyCoreSettings> \r\n"));
    assert!(ours.contains("<MachineVersionNumber><![CDATA[65537]]></MachineVersionNumber>"));
    assert!(ours.contains("<Options><![CDATA[1]]></Options>"));
    assert!(ours.ends_with("</GroupPolicyBackupScheme>\r\n"));
    assert_eq!(ours.matches("\r\n").count(), ours.matches('\n').count());
    let info = String::from_utf8(only_file(&out, "/bkupInfo.xml")).unwrap();
    assert!(info.starts_with(
        "<BackupInst xmlns=\"http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest\"><GPOGuid><![CDATA[{"
    ));
    assert!(info.ends_with(
        "<GPODisplayName><![CDATA[DoD Root Certificates]]></GPODisplayName></BackupInst>\r\n"
    ));
}

/// Every file of the example bundle, byte for byte against tests/golden/.
/// `UPDATE_GOLDEN=1 cargo test --test build` rewrites them after a deliberate change.
#[test]
fn golden_example_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let zip = tmp.path().join("bundle.zip");
    certgpo()
        .args([
            "build",
            "--purpose",
            "server-auth",
            "--friendly-name",
            "Exchange 2010 (EXCH2010)",
        ])
        .args(["--timestamp", "2026-12-01T00:00:00Z", "--cert"])
        .arg(example())
        .arg("--out")
        .arg(&out)
        .arg("--zip")
        .arg(&zip)
        .assert()
        .success();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/exch2010");
    let mut ours = tree(&out);
    ours.insert("../bundle.zip".into(), std::fs::read(&zip).unwrap());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        for (rel, bytes) in &ours {
            let p = golden.join("bundle").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let mut expected = tree(&golden.join("bundle"));
    if let Ok(z) = std::fs::read(golden.join("bundle.zip")) {
        expected.insert("../bundle.zip".into(), z);
    }
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "file list differs from tests/golden/exch2010"
    );
    for (rel, bytes) in &ours {
        assert!(
            &expected[rel] == bytes,
            "{rel} differs from tests/golden/exch2010 (UPDATE_GOLDEN=1 to accept)"
        );
    }
}

/// Same inputs, same options: byte-identical trees and zips, in different directories.
#[test]
fn two_builds_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |n: &str| {
        let out = tmp.path().join(n);
        let zip = tmp.path().join(format!("{n}.zip"));
        certgpo()
            .env_remove("SOURCE_DATE_EPOCH")
            .args(["build", "--allow-expired", "--domain", "shb.gov", "--cert"])
            .arg(example())
            .arg("--cert")
            .arg(data("nsa-cert/derived/ca-certs"))
            .arg("--out")
            .arg(&out)
            .arg("--zip")
            .arg(&zip)
            .assert()
            .success();
        (tree(&out), std::fs::read(zip).unwrap())
    };
    let (a, za) = run("one");
    let (b, zb) = run("two");
    assert_eq!(a, b);
    assert_eq!(za, zb);
    // SOURCE_DATE_EPOCH changes the time, and with it the backup id.
    let out = tmp.path().join("three");
    certgpo()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["build", "--cert"])
        .arg(example())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let info = String::from_utf8(only_file(&out, "/bkupInfo.xml")).unwrap();
    assert!(info.contains("<BackupTime><![CDATA[2023-11-14T22:13:20]]></BackupTime>"));
}

fn params(cn: &str, ca: bool) -> CertificateParams {
    let mut p = CertificateParams::new(vec![format!("{}.contoso.local", cn.to_lowercase())])
        .expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    p
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Run a build that must be refused: exit 2, the message on stderr, nothing written
/// (no output directory, no zip, no temporary directory left beside them).
fn refused(args: &[&std::ffi::OsStr], message: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let zip = tmp.path().join("out.zip");
    let assert = certgpo()
        .arg("build")
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--zip")
        .arg(&zip)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert!(
        errors.len() == 1 && errors[0].contains(message),
        "one error line containing {message:?}, stderr was: {stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing may be written, found {left:?}");
}

#[test]
fn refuses_expired_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = params("OLD", true);
    p.not_before = rcgen::date_time_ymd(2010, 1, 1);
    p.not_after = rcgen::date_time_ymd(2012, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = write(tmp.path(), "old.pem", p.self_signed(&key).unwrap().pem());
    refused(
        &["--cert".as_ref(), cert.as_os_str()],
        "expired on 2012-01-01T00:00:00Z",
    );
    let out = tmp.path().join("b");
    certgpo()
        .args(["build", "--allow-expired", "--cert"])
        .arg(&cert)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains("expired"));
    let json = std::fs::read_to_string(out.join("report/certificates.json")).unwrap();
    assert!(json.contains("expired"), "the finding is recorded: {json}");
}

#[test]
fn refuses_a_leaf_and_names_its_issuer() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let ca_params = params("Contoso Root", true);
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = params("MAIL", false).signed_by(&leaf_key, &issuer).unwrap();
    let path = write(tmp.path(), "leaf.cer", leaf.der());
    refused(
        &["--cert".as_ref(), path.as_os_str()],
        "neither self-signed nor a CA certificate; it was issued by CN=Contoso Root",
    );
    // With an explicit store the admin's choice stands.
    certgpo()
        .args(["build", "--store", "trusted-people", "--cert"])
        .arg(&path)
        .arg("--out")
        .arg(tmp.path().join("b"))
        .assert()
        .success();
    let pol = std::fs::read(tmp.path().join("b/policy/registry.pol")).unwrap();
    let entries = certgpo::policy::parse(&pol).unwrap();
    assert!(entries[0].key.contains(r"\TrustedPeople\Certificates\"));
}

#[test]
fn refuses_a_blob_over_64k() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = params("BIG", true);
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 99999, 1],
        vec![0x04; 70_000],
    ));
    let key = KeyPair::generate().unwrap();
    let cert = write(tmp.path(), "big.cer", p.self_signed(&key).unwrap().der());
    refused(
        &[
            "--cert".as_ref(),
            cert.as_os_str(),
            "--domain".as_ref(),
            "c.local".as_ref(),
        ],
        "a registry.pol value holds at most 65,535",
    );
}

#[test]
fn refuses_unreadable_and_non_certificate_files() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = write(tmp.path(), "notes.cer", "hello, not a certificate\n");
    refused(
        &["--cert".as_ref(), junk.as_os_str()],
        "notes.cer: not a certificate file",
    );
    let missing = tmp.path().join("missing.cer");
    refused(
        &["--cert".as_ref(), missing.as_os_str()],
        "missing.cer: no such file or directory",
    );
    let bad_der = write(tmp.path(), "bad.der", [0x30, 0x03, 0x02, 0x01, 0x01]);
    refused(
        &["--cert".as_ref(), bad_der.as_os_str()],
        "bad.der: certificate #1 is malformed",
    );
    let empty_dir = tmp.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    refused(
        &["--cert".as_ref(), empty_dir.as_os_str()],
        "directory holds no certificate file",
    );
}

#[test]
fn refuses_bad_and_conflicting_options() {
    let ex = example();
    let cert: [&std::ffi::OsStr; 2] = ["--cert".as_ref(), ex.as_os_str()];
    let with = |more: &[&'static str]| {
        let mut v: Vec<&std::ffi::OsStr> = cert.to_vec();
        v.extend(more.iter().map(|s| std::ffi::OsStr::new(*s)));
        v
    };
    refused(
        &with(&["--purpose", "teleport"]),
        "unknown purpose \"teleport\"",
    );
    refused(
        &with(&["--domain=-x.local"]),
        "--domain \"-x.local\": not a DNS domain name",
    );
    refused(
        &with(&["--gpo-name", "a\nb"]),
        "must not contain control characters",
    );
    refused(
        &with(&["--timestamp", "yesterday"]),
        "--timestamp \"yesterday\": expected RFC 3339",
    );
    refused(
        &with(&["--templates", "/nonexistent-dir"]),
        "not a directory",
    );

    // --zip inside --out, and a non-empty --out without --force.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    certgpo()
        .args(["build", "--cert"])
        .arg(&ex)
        .arg("--out")
        .arg(&out)
        .arg("--zip")
        .arg(out.join("x.zip"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is inside --out"));
    assert!(!out.exists());
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    certgpo()
        .args(["build", "--cert"])
        .arg(&ex)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("exists and is not empty"))
        .stderr(predicates::str::contains("hint: "));
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    // --force replaces only an earlier bundle (tests/outputs.rs has the rest).
    certgpo()
        .args(["build", "--force", "--cert"])
        .arg(&ex)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not a bundle certgpo wrote"));
    std::fs::remove_file(out.join("keep.txt")).unwrap();
    for force in [false, true] {
        certgpo()
            .args(["build", "--cert"])
            .arg(&ex)
            .arg("--out")
            .arg(&out)
            .args(force.then_some("--force"))
            .assert()
            .success();
    }
    assert!(out.join("SHA256SUMS").exists());
    // ...but never when an input lives inside it.
    std::fs::copy(&ex, out.join("input.cer")).unwrap();
    certgpo()
        .args(["build", "--force", "--cert"])
        .arg(out.join("input.cer"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("which --force would delete"));
}

/// A hostile GPO name reaches PowerShell, cmd, XML and HTML inert.
#[test]
fn escapes_every_language() {
    let name = r#"Tom's "GPO" ]]> <&> $(calc) %PATH%"#;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    certgpo()
        .args(["build", "--gpo-name", name, "--cert"])
        .arg(example())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let ps =
        String::from_utf8(std::fs::read(out.join("scripts/Deploy-CertGpo.ps1")).unwrap()).unwrap();
    assert!(ps.contains(r#"[string] $GpoName = 'Tom''s "GPO" ]]> <&> $(calc) %PATH%',"#));
    // The name appears nowhere else in the script, in particular not in a comment.
    assert_eq!(ps.matches("$(calc)").count(), 1);
    let rm =
        String::from_utf8(std::fs::read(out.join("scripts/Remove-CertGpo.ps1")).unwrap()).unwrap();
    assert_eq!(rm.matches("$(calc)").count(), 1);
    let cmd = std::fs::read_to_string(out.join("scripts/Publish-ToActiveDirectory.cmd")).unwrap();
    assert!(cmd.contains(r#"echo GPO bundle: Tom's ^"GPO^" ]]^> ^<^&^> $^(calc^) %%PATH%%"#));
    let backup = String::from_utf8(only_file(&out, "/Backup.xml")).unwrap();
    assert!(backup.contains(
        r#"<DisplayName><![CDATA[Tom's "GPO" ]]]]><![CDATA[> <&> $(calc) %PATH%]]></DisplayName>"#
    ));
    let report = utf16(&only_file(&out, "/gpreport.xml"));
    assert!(
        report.contains(
            "<Name>Tom&apos;s &quot;GPO&quot; ]]&gt; &lt;&amp;&gt; $(calc) %PATH%</Name>"
        )
    );
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    assert!(!html.contains("<&>") && html.contains("&lt;&amp;&gt;"));
    // Independent check: an XML parser reads the name back unchanged.
    if common::require("xmllint", &["--version"]) {
        let backup_dir = tree(&out)
            .keys()
            .find(|k| k.ends_with("/bkupInfo.xml"))
            .map(|k| out.join(k))
            .unwrap();
        let o = std::process::Command::new("xmllint")
            .args(["--xpath", "string(//*[local-name()='GPODisplayName'])"])
            .arg(backup_dir)
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), name);
    }
}

#[test]
fn reads_every_input_format_and_merges_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let der = std::fs::read(example()).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let ca = params("Contoso Issuing", true)
        .self_signed(&ca_key)
        .unwrap();
    // PEM bundle with a private key block, which must be dropped with a warning.
    let pem_path = write(
        tmp.path(),
        "bundle.pem",
        format!("{}{}{}", ca.pem(), ca_key.serialize_pem(), ca.pem()),
    );
    let p7 = certgpo::pkcs7::encode(&[&der, ca.der()]);
    let p7_path = write(tmp.path(), "chain.p7b", &p7);
    use base64::Engine;
    let p7_pem = format!(
        "-----BEGIN PKCS7-----\n{}\n-----END PKCS7-----\n",
        base64::engine::general_purpose::STANDARD.encode(&p7)
    );
    let p7_pem_path = write(tmp.path(), "chain-pem.p7c", p7_pem);
    let out = tmp.path().join("b");
    let assert = certgpo()
        .args(["build", "--json", "--domain", "contoso.local"])
        .arg("--cert")
        .arg(&pem_path)
        .arg("--cert")
        .arg(&p7_path)
        .arg("--cert")
        .arg(&p7_pem_path)
        .arg("--cert")
        .arg(example())
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains("ignored a PRIVATE KEY block"));
    let summary: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let certs = summary["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "duplicates merged: {summary}");
    assert!(summary["notes"].to_string().contains("appears"));
    // The key is nowhere in the bundle.
    let key_der = ca_key.serialize_der();
    for (rel, bytes) in tree(&out) {
        assert!(!bytes.windows(11).any(|w| w == b"PRIVATE KEY"), "{rel}");
        assert!(
            !bytes
                .windows(key_der.len())
                .any(|w| w == key_der.as_slice()),
            "{rel}"
        );
    }
}

#[test]
fn derives_the_domain_from_the_exchange_fqdn_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    certgpo()
        .args(["build", "--cert"])
        .arg(example())
        .arg("--out")
        .arg(tmp.path().join("b"))
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "--domain not given: using contoso.local, the domain of exch2010.contoso.local",
        ));
    // No FQDN to derive from: a clear refusal.
    refused(
        &[
            "--cert".as_ref(),
            data("nsa-cert/root-certs-pem").as_os_str(),
        ],
        "--domain is needed: no certificate names a fully qualified host",
    );
}

#[test]
fn blob_styles_and_properties() {
    use certgpo::blob;
    let tmp = tempfile::tempdir().unwrap();
    let der = std::fs::read(example()).unwrap();
    let build = |extra: &[&str]| {
        let out = tmp
            .path()
            .join(format!("b{}", extra.join("_").replace(['-', ','], "")));
        certgpo()
            .args(["build", "--cert"])
            .arg(example())
            .args(extra)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        let pol = std::fs::read(out.join("policy/registry.pol")).unwrap();
        certgpo::policy::parse(&pol).unwrap()
    };
    let minimal = build(&["--blob", "minimal"]);
    let parsed = blob::parse(&minimal[0].data).unwrap();
    assert!(parsed.properties.is_empty());
    assert_eq!(parsed.der, der);
    let gpmc = build(&[
        "--purpose",
        "server-auth,client-auth",
        "--friendly-name",
        "Exchange",
    ]);
    let parsed = blob::parse(&gpmc[0].data).unwrap();
    assert_eq!(
        parsed.ids(),
        vec![0x04, 0x0F, 0x14, 0x19, 0x03, 0x5C, 0x09, 0x0B]
    );
    assert_eq!(parsed.friendly_name().as_deref(), Some("Exchange"));
    assert_eq!(
        parsed.eku().unwrap(),
        vec![
            "1.3.6.1.5.5.7.3.1".to_string(),
            "1.3.6.1.5.5.7.3.2".to_string()
        ]
    );
    // Root section only: the Blob, then the store's CRLs and CTLs keys.
    let keys: Vec<_> = gpmc
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str(), e.kind))
        .collect();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys[1],
        (
            r"Software\Policies\Microsoft\SystemCertificates\Root\CRLs",
            "",
            0
        )
    );
    assert_eq!(
        keys[2],
        (
            r"Software\Policies\Microsoft\SystemCertificates\Root\CTLs",
            "",
            0
        )
    );
}

#[test]
fn weak_keys_are_warned_and_reported() {
    if !common::require("openssl", &["version"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("weak.pem");
    common::openssl(
        tmp.path(),
        &[
            "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-sha1", "-days", "30", "-subj",
            "/CN=WEAK", "-keyout", "k.pem", "-out", "weak.pem",
        ],
    );
    let out = tmp.path().join("b");
    certgpo()
        .args(["build", "--domain", "c.local", "--cert"])
        .arg(&cert)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains("weak RSA key (1024 bits"))
        .stderr(predicates::str::contains("expires in 29 days"));
    let csv = std::fs::read_to_string(out.join("report/certificates.csv")).unwrap();
    assert!(csv.contains("weak RSA key (1024 bits, below 2048)"));
    assert!(csv.contains("weak signature algorithm (sha1RSA)"));
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    assert!(html.contains("Expiry timeline") && html.contains("29 days left"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
}

#[test]
fn help_shows_examples() {
    let top = certgpo().arg("--help").assert().success();
    let text = String::from_utf8_lossy(&top.get_output().stdout).to_string();
    assert!(text.contains("Examples:") && text.contains("Exit codes:"));
    let sub = certgpo().args(["build", "--help"]).assert().success();
    let text = String::from_utf8_lossy(&sub.get_output().stdout).to_string();
    assert!(text.contains("certgpo build --cert examples/exch2010-selfsigned.cer"));
    assert!(text.contains(certgpo::build::DEFAULT_GPO_NAME));
}

/// `--templates DIR` replaces a template by file name; a broken template is an error
/// that names it, and leaves nothing behind.
#[test]
fn templates_can_be_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tpl");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("README.txt"),
        "Contoso change {{ gpo_name }}: {{ certs | length }}\n",
    )
    .unwrap();
    let out = tmp.path().join("b");
    certgpo()
        .args(["build", "--gpo-name", "CHG-1234", "--templates"])
        .arg(&dir)
        .arg("--cert")
        .arg(example())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(out.join("README.txt")).unwrap(),
        "Contoso change CHG-1234: 1\r\n"
    );
    // The other templates are still the built-in ones.
    assert!(
        std::fs::read_to_string(out.join("scripts/Publish-ToActiveDirectory.cmd"))
            .unwrap()
            .contains("FOREST-WIDE")
    );

    std::fs::write(dir.join("Deploy-CertGpo.ps1"), "{{ no_such_value }}").unwrap();
    refused(
        &[
            "--templates".as_ref(),
            dir.as_os_str(),
            "--cert".as_ref(),
            example().as_os_str(),
        ],
        "template Deploy-CertGpo.ps1",
    );
}

/// `--remove` of a thumbprint the base does not hold is refused before anything
/// touches the network: the server named by `--fetch` sees no connection.
#[test]
fn remove_is_checked_against_the_base_before_fetching() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b");
    let build = |remove: &[&str]| {
        certgpo()
            .args(["build", "--base"])
            .arg(data("nsa-cert"))
            .args(remove)
            .args([
                "--fetch",
                &target,
                "--trust-on-first-use",
                "--timeout",
                "2s",
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = build(&["--remove", "0000000000000000000000000000000000000000"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("holds no such certificate"), "{err}");
    assert!(!out.exists());
    // A connection would wait in the listener's backlog, accepted or not.
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("certgpo connected to {target}: {other:?}"),
    }
    // The same listener does see a build that gets as far as fetching.
    assert_eq!(build(&[]).status.code(), Some(2));
    assert!(listener.accept().is_ok(), "the fetch reached the listener");
}
