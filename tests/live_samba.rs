//! The live domain against a real Samba AD DC with its file server (tests/samba_dc):
//! the LDAP connection and SYSVOL over SMB 2/3, judged by the files Samba keeps on
//! disk and by `smbclient`.

mod common;
mod discover_fixture;
mod samba_dc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use certgpo::directory::{self, BindMethod};
use certgpo::live::{Domain, Target};
use samba_dc::{ADMIN, CONFIG_DN, DOMAIN_DN, Services, path};
use serde_json::Value;

/// The Default Domain Policy, which every domain has.
const DEFAULT_POLICY: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";

fn target(dc: &samba_dc::Dc) -> Target {
    let (ldap, _) = directory::options(&directory::Request {
        url: dc.ldaps(),
        insecure: false,
        ca: Some(dc.ca.clone()),
        bind: BindMethod::Simple,
        user: Some(ADMIN.into()),
        password_file: Some(dc.password_file.clone()),
    })
    .expect("options");
    Target {
        ldap,
        smb_host: None,
        dns_server: None,
        timeout: Duration::from_secs(20),
    }
}

#[test]
fn live_domain_against_samba() {
    let services = Services { smb: true };
    if !samba_dc::available(services) {
        return;
    }
    let dc = samba_dc::provision(services);
    sysvol_reads(&dc);
    let gpos = populate(&dc);
    audit_of_the_domain(&dc, &gpos);
    plain_user(&dc, &gpos);
    one_gpo(&dc, &gpos);
    backups(&dc, &gpos);
    errors(&dc);
    // Last: it changes the DC's configuration.
    signed_only(&dc);
}

/// The GPOs the test makes, by role.
struct Gpos {
    /// The NSA-CERT registry.pol (4 roots, 33 CAs), the extension GUIDs GPMC writes,
    /// linked to the domain.
    nsa: String,
    /// The example certificate, without extension GUIDs; linked (enforced) to an OU.
    example: String,
    /// versionNumber raised in the directory only.
    mismatch: String,
    /// Its SYSVOL folder deleted.
    no_folder: String,
    /// Its SYSVOL folder readable by Domain Admins and SYSTEM only.
    locked: String,
    dir: tempfile::TempDir,
}

/// `samba-tool gpo create NAME`: the new GPO's {GUID}.
fn create_gpo(dc: &samba_dc::Dc, name: &str) -> String {
    let out = dc.samba_tool(&["gpo", "create", name]);
    let start = out.find('{').expect("samba-tool prints the GUID");
    let end = out[start..].find('}').expect("closing brace") + start;
    out[start..=end].to_ascii_uppercase()
}

/// `ldapmodify` of one LDIF text, written to a file in `dir`.
fn modify(dc: &samba_dc::Dc, dir: &Path, name: &str, ldif: &str) {
    let file = dir.join(name);
    std::fs::write(&file, ldif).unwrap();
    dc.ldapmodify(&file);
}

fn gpo_dn(guid: &str) -> String {
    format!("CN={guid},CN=Policies,CN=System,{DOMAIN_DN}")
}

/// Put `local` at `Policies\{guid}\Machine\Registry.pol` with smbclient.
fn put_policy(dc: &samba_dc::Dc, guid: &str, local: &Path) {
    let out = dc.smbclient(
        "sysvol",
        &format!(
            r#"cd contoso.test\Policies\{guid}\Machine; put "{}" Registry.pol"#,
            path(local)
        ),
    );
    assert!(!out.contains("NT_STATUS"), "{out}");
}

fn nsa_pol() -> PathBuf {
    common::data(common::NSA_BACKUP).join("DomainSysvol/GPO/Machine/registry.pol")
}

fn populate(dc: &samba_dc::Dc) -> Gpos {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nsa = create_gpo(dc, "NSA Roots");
    let example = create_gpo(dc, "Example Root");
    let mismatch = create_gpo(dc, "Version Mismatch");
    let no_folder = create_gpo(dc, "No Folder");
    let locked = create_gpo(dc, "Locked");
    put_policy(dc, &nsa, &nsa_pol());
    // The example certificate's registry.pol, as certgpo build writes it.
    let bundle = d.join("bundle");
    common::certgpo_ok(&[
        "build".as_ref(),
        "--cert".as_ref(),
        common::example().as_os_str(),
        "--domain".as_ref(),
        "contoso.test".as_ref(),
        "--allow-expired".as_ref(),
        "--out".as_ref(),
        bundle.as_os_str(),
    ]);
    put_policy(dc, &example, &bundle.join("policy/registry.pol"));
    modify(
        dc,
        d,
        "ext.ldif",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: gPCMachineExtensionNames\ngPCMachineExtensionNames: {}\n",
            gpo_dn(&nsa),
            certgpo::gpo::MACHINE_EXTENSION_GUIDS
        ),
    );
    // The example GPO's computer half disabled, and a WMI filter set on it, as GPMC
    // stores them.
    modify(
        dc,
        d,
        "flags.ldif",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: flags\nflags: 2\n-\nreplace: gPCWQLFilter\ngPCWQLFilter: {WMI_FILTER}\n",
            gpo_dn(&example)
        ),
    );
    modify(
        dc,
        d,
        "version.ldif",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: versionNumber\nversionNumber: 5\n",
            gpo_dn(&mismatch)
        ),
    );
    std::fs::remove_dir_all(dc.sysvol_dir().join("Policies").join(&no_folder))
        .expect("the GPO's folder is on the DC's disk");
    // Authenticated Users lose Read on the folder and its GPT.INI (samba-tool ntacl
    // writes the NT ACL Samba checks).
    let locked_dir = dc.sysvol_dir().join("Policies").join(&locked);
    for p in [locked_dir.clone(), locked_dir.join("GPT.INI")] {
        common::run_ok(
            "samba-tool",
            &[
                "ntacl",
                "set",
                "O:DAG:DAD:PAI(A;OICI;FA;;;DA)(A;OICI;FA;;;SY)",
                &path(&p),
                "-s",
                &path(&dc.conf),
            ],
        );
    }
    dc.samba_tool(&["user", "create", "auditor", AUDITOR_PASSWORD]);
    dc.samba_tool(&["gpo", "setlink", DOMAIN_DN, &nsa]);
    dc.samba_tool(&["ou", "create", &format!("OU=Workstations,{DOMAIN_DN}")]);
    dc.samba_tool(&[
        "gpo",
        "setlink",
        &format!("OU=Workstations,{DOMAIN_DN}"),
        &example,
        "--enforce",
    ]);
    // An OU whose gPLink no tool wrote: skipped with a warning, never fatal.
    dc.samba_tool(&["ou", "create", &format!("OU=Broken,{DOMAIN_DN}")]);
    modify(
        dc,
        d,
        "broken.ldif",
        &format!(
            "dn: OU=Broken,{DOMAIN_DN}\nchangetype: modify\nreplace: gPLink\ngPLink: not a link\n"
        ),
    );
    // What `certutil -dspublish -f root.cer RootCA` writes.
    let der = d.join("root.der");
    std::fs::copy(common::example(), &der).unwrap();
    modify(
        dc,
        d,
        "root.ldif",
        &format!(
            "dn: CN=Example Root,CN=Certification Authorities,CN=Public Key Services,CN=Services,{CONFIG_DN}\n\
             objectClass: certificationAuthority\n\
             cACertificate:< file://{}\n\
             authorityRevocationList:: AA==\n\
             certificateRevocationList:: AA==\n",
            path(&der)
        ),
    );
    // ... `-dspublish ... SubCA` (one object per CA under CN=AIA) and `NTAuthCA` (the
    // values of CN=NTAuthCertificates itself, which certutil creates on first use).
    for (rdn, file) in [
        ("CN=Example Root,CN=AIA", "aia.ldif"),
        ("CN=NTAuthCertificates", "ntauth.ldif"),
    ] {
        modify(
            dc,
            d,
            file,
            &format!(
                "dn: {rdn},CN=Public Key Services,CN=Services,{CONFIG_DN}\n\
                 objectClass: certificationAuthority\n\
                 cACertificate:< file://{}\n\
                 authorityRevocationList:: AA==\n\
                 certificateRevocationList:: AA==\n",
                path(&der)
            ),
        );
    }
    Gpos {
        nsa,
        example,
        mismatch,
        no_folder,
        locked,
        dir,
    }
}

const AUDITOR_PASSWORD: &str = "Audit0r!Pass123";
const WMI_FILTER: &str = "[contoso.test;{0F6D1A74-77C9-4B3B-9E0D-6A55A3A0C1B5};0]";

/// `certgpo ARGS` signed in to the DC, which must exit with `code`: its stdout and stderr.
fn live(dc: &samba_dc::Dc, args: &[&str], code: i32) -> (String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(dc.signed_in());
    let out = common::certgpo()
        .args(&all)
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "certgpo {all:?}: {stderr}{stdout}"
    );
    (stdout, stderr)
}

fn thumbs(v: &Value, gpo_guid: &str) -> std::collections::BTreeSet<String> {
    v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["location"].as_str().unwrap_or("").contains(gpo_guid))
        .map(|c| c["thumbprint"].as_str().unwrap().to_string())
        .collect()
}

fn codes_for(v: &Value, needle: &str) -> Vec<String> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["file"].as_str().unwrap_or("").contains(needle))
        .map(|n| n["code"].as_str().unwrap().to_string())
        .collect()
}

/// `audit` of the whole domain: every GPO with its findings, the forest-wide root.
fn audit_of_the_domain(dc: &samba_dc::Dc, g: &Gpos) {
    let (out, err) = live(dc, &["audit", "--format", "json"], 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        err.contains(&format!(
            "warning: gPLink of OU=Broken,{DOMAIN_DN}: expected '[' at \"not a link\"; its links are not listed"
        )),
        "{err}"
    );
    let gpos = v["gpos"].as_array().expect("gpos");
    // The two GPOs every domain has, and the test's five.
    assert_eq!(gpos.len(), 7, "{v:#}");
    let by_guid = |guid: &str| {
        gpos.iter()
            .find(|x| x["guid"] == guid)
            .unwrap_or_else(|| panic!("{guid} listed: {v:#}"))
            .clone()
    };
    // The NSA GPO: 37 certificates, exactly those of the registry.pol read as a file.
    let file = common::certgpo_ok(&["inspect".as_ref(), nsa_pol().as_os_str(), "--json".as_ref()]);
    let file: Value = serde_json::from_slice(&file).unwrap();
    let all_file: std::collections::BTreeSet<String> = file["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["thumbprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all_file.len(), 37);
    assert_eq!(thumbs(&v, &g.nsa), all_file);
    let nsa = by_guid(&g.nsa);
    assert_eq!(nsa["name"], "NSA Roots");
    assert_eq!(nsa["links"][0]["container"], DOMAIN_DN);
    assert_eq!(nsa["links"][0]["kind"], "domain");
    assert_eq!(nsa["links"][0]["enforced"], false);
    assert_eq!(nsa["sysvol"], "read");
    assert_eq!(codes_for(&v, &g.nsa), Vec::<String>::new(), "{v:#}");
    let example = by_guid(&g.example);
    assert_eq!(example["links"][0]["kind"], "ou");
    assert_eq!(example["links"][0]["enforced"], true);
    assert_eq!(thumbs(&v, &g.example).len(), 1);
    assert_eq!(
        codes_for(&v, &g.example),
        ["extension-guids", "extension-guids", "half-disabled"]
    );
    assert_eq!(example["computer_disabled"], true);
    assert_eq!(example["wmi_filter"], WMI_FILTER);
    assert_eq!(nsa["wmi_filter"], Value::Null);
    assert_eq!(codes_for(&v, &g.mismatch), ["version-mismatch"]);
    assert_eq!(by_guid(&g.mismatch)["version"], 5);
    assert_eq!(by_guid(&g.mismatch)["sysvol_version"], 0);
    assert_eq!(codes_for(&v, &g.no_folder), ["sysvol-missing"]);
    assert_eq!(by_guid(&g.no_folder)["sysvol"], "missing");
    // The -dspublished root, as an entry of the Root store read from the directory.
    let forest: Vec<&Value> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["format"] == "directory")
        .collect();
    let stores: Vec<&str> = forest
        .iter()
        .map(|c| c["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores.len(), 3, "{v:#}");
    for store in ["Root", "CA", "NTAuth"] {
        assert!(stores.contains(&store), "{stores:?}");
    }
    let forest: Vec<&Value> = forest
        .into_iter()
        .filter(|c| c["store"] == "Root")
        .collect();
    assert!(
        forest[0]["location"]
            .as_str()
            .unwrap()
            .starts_with("CN=Example Root,CN=Certification Authorities,"),
        "{:#}",
        forest[0]
    );
    let example_thumb = thumbs(&v, &g.example).into_iter().next().unwrap();
    assert_eq!(forest[0]["thumbprint"], example_thumb.as_str());
    // The judges: samba-tool reads the same versions and links.
    let shown = dc.samba_tool(&["gpo", "show", &g.mismatch]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("version") && l.trim_end().ends_with(": 5")),
        "{shown}"
    );
    let links = dc.samba_tool(&["gpo", "getlink", &format!("OU=Workstations,{DOMAIN_DN}")]);
    assert!(links.to_ascii_uppercase().contains(&g.example), "{links}");
    assert!(links.contains("GPLINK_OPT_ENFORCE"), "{links}");
    // The judge: samba-tool lists the same GPOs.
    let listed = dc.samba_tool(&["gpo", "listall"]);
    for guid in [&g.nsa, &g.example, &g.mismatch, &g.no_folder, &g.locked] {
        assert!(
            listed.to_ascii_uppercase().contains(guid.as_str()),
            "{listed}"
        );
    }
    // Text: the GPO lines and the findings.
    let (text, _) = live(dc, &["audit"], 0);
    assert!(
        text.contains("versionNumber in the directory is 5 but GPT.INI says 0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "GPO \"No Folder\" {}\n  version 0 (user 0, computer 0), SYSVOL folder missing",
            g.no_folder
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "linked to ou OU=Workstations,{DOMAIN_DN} (enforced)"
        )),
        "{text}"
    );
    assert!(
        text.contains("version 5 (user 0, computer 5), GPT.INI has 0"),
        "{text}"
    );
    assert!(text.contains(" in 7 live GPO(s): "), "{text}");
    assert_eq!(v["summary"]["live_gpos"], 7);
}

/// An ordinary domain user (no admin rights) audits the domain: read access is all it
/// takes; the one folder that denies it is a finding, the rest is read.
fn plain_user(dc: &samba_dc::Dc, g: &Gpos) {
    let pw = g.dir.path().join("auditor.txt");
    std::fs::write(&pw, format!("{AUDITOR_PASSWORD}\n")).unwrap();
    let out = common::certgpo()
        .args(["audit", "--format", "json", "--ldap", &dc.ldaps()])
        .args(["--ldap-ca", &path(&dc.ca), "--user", "auditor@contoso.test"])
        .args(["--password-file", &path(&pw)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(codes_for(&v, &g.locked), ["sysvol-unreadable"], "{v:#}");
    let note = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["code"] == "sysvol-unreadable")
        .unwrap();
    assert!(
        note["message"].as_str().unwrap().contains("access denied"),
        "{note}"
    );
    assert_eq!(thumbs(&v, &g.nsa).len(), 37, "the other GPOs are read");
    assert_eq!(
        v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["format"] == "directory")
            .count(),
        3
    );
}

/// `inspect --gpo` by name and by GUID, and `diff` of the live GPO against its file.
fn one_gpo(dc: &samba_dc::Dc, g: &Gpos) {
    let (by_name, _) = live(dc, &["inspect", "--gpo", "NSA Roots", "--json"], 0);
    let (by_guid, _) = live(dc, &["inspect", "--gpo", &g.nsa, "--json"], 0);
    let a: Value = serde_json::from_str(&by_name).unwrap();
    let b: Value = serde_json::from_str(&by_guid).unwrap();
    assert_eq!(a["gpos"], b["gpos"]);
    assert_eq!(a["gpos"].as_array().unwrap().len(), 1);
    assert_eq!(a["certificates"].as_array().unwrap().len(), 37);
    let (text, _) = live(dc, &["inspect", "--gpo", "NSA Roots"], 0);
    assert!(
        text.contains(&format!("GPO \"NSA Roots\" {}", g.nsa)),
        "{text}"
    );
    assert!(
        text.contains(&format!("linked to domain {DOMAIN_DN}")),
        "{text}"
    );
    // The DC by the name its certificate holds, which only its own DNS knows: LDAP and
    // SYSVOL both find it through --dns-server; and --smb-host naming it explicitly.
    let dns = format!("{}:53", dc.ip);
    let by_dns = common::certgpo()
        .args(["inspect", "--json", "--gpo", "NSA Roots"])
        .args(["--ldap", "ldaps://dc1.contoso.test", "--dns-server", &dns])
        .args(["--ldap-ca", &path(&dc.ca), "--user", ADMIN])
        .args(["--password-file", &path(&dc.password_file)])
        .args(["--smb-host", "dc1.contoso.test"])
        .output()
        .unwrap();
    assert!(
        by_dns.status.success(),
        "{}",
        String::from_utf8_lossy(&by_dns.stderr)
    );
    let c: Value = serde_json::from_slice(&by_dns.stdout).unwrap();
    assert_eq!(c["certificates"], a["certificates"]);
    let smb_host = format!("{}:445", dc.ip);
    let (explicit, _) = live(
        dc,
        &[
            "inspect",
            "--gpo",
            "NSA Roots",
            "--json",
            "--smb-host",
            &smb_host,
        ],
        0,
    );
    let d: Value = serde_json::from_str(&explicit).unwrap();
    assert_eq!(d["certificates"], a["certificates"]);
    // Nothing listens for SMB there: said so, naming the server.
    let (_, err) = live(
        dc,
        &["inspect", "--gpo", "NSA Roots", "--smb-host", "127.0.0.1:1"],
        2,
    );
    assert!(err.contains("SYSVOL on 127.0.0.1"), "{err}");
    assert!(err.contains("hint:") && err.contains("445"), "{err}");
    // The live GPO against the file it was made from: equal.
    let (same, _) = live(dc, &["diff", "--gpo", "NSA Roots", &path(&nsa_pol())], 0);
    assert!(!same.is_empty());
    // ...and against the example bundle: different.
    let bundle = g.dir.path().join("bundle");
    live(dc, &["diff", "--gpo", "NSA Roots", &path(&bundle)], 1);
}

/// `backup` of a live GPO: `inspect` reads it, `diff` against the live GPO finds them
/// equal, and `build --base` takes the live GPO directly as it takes the backup.
fn backups(dc: &samba_dc::Dc, g: &Gpos) {
    more_files(dc, g);
    let out = g.dir.path().join("before");
    let (_, err) = live(
        dc,
        &["backup", "--gpo", "NSA Roots", "--out", &path(&out)],
        0,
    );
    assert!(
        err.contains(&format!("of GPO \"NSA Roots\" {}", g.nsa)),
        "{err}"
    );
    let inspected: Value = serde_json::from_slice(&common::certgpo_ok(&[
        "inspect".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]))
    .unwrap();
    assert_eq!(
        inspected["backups"][0]["guid"],
        g.nsa.as_str(),
        "{inspected:#}"
    );
    assert_eq!(inspected["backups"][0]["name"], "NSA Roots");
    assert_eq!(inspected["certificates"].as_array().unwrap().len(), 37);
    // A correct backup: no container finding (Backup.xml, bkupInfo.xml, the files it lists).
    assert_eq!(inspected["notes"], serde_json::json!([]), "{inspected:#}");
    // The registry.pol is SYSVOL's, byte for byte.
    let dirs: Vec<PathBuf> = common::files_in(&out)
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one backup folder beside manifest.xml");
    assert!(out.join("manifest.xml").is_file());
    let backup_dir = dirs[0].clone();
    assert_eq!(
        std::fs::read(backup_dir.join("DomainSysvol/GPO/Machine/registry.pol")).unwrap(),
        std::fs::read(nsa_pol()).unwrap()
    );
    the_whole_gpo(dc, g, &backup_dir);
    let (same, _) = live(dc, &["diff", "--gpo", &g.nsa, &path(&out)], 0);
    assert!(same.contains("equal") || !same.is_empty(), "{same}");
    // A second backup into the same folder is refused; the first stays.
    let (_, err) = live(
        dc,
        &["backup", "--gpo", "NSA Roots", "--out", &path(&out)],
        2,
    );
    assert!(err.contains("not empty"), "{err}");
    // No backup of a GPO without its SYSVOL folder.
    let (_, err) = live(
        dc,
        &[
            "backup",
            "--gpo",
            &g.no_folder,
            "--out",
            &path(&g.dir.path().join("x")),
        ],
        2,
    );
    assert!(
        err.contains("cannot be backed up") && err.contains("missing"),
        "{err}"
    );
    // A GPO holding a file over the limit of a backup's file (a sparse one on the DC's
    // disk): refused from the listed size, naming the GPO and the file; nothing written.
    let big = dc
        .sysvol_dir()
        .join("Policies")
        .join(&g.example)
        .join("Machine/big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(certgpo::input::BACKUP_FILE.max + 1)
        .unwrap();
    let refused = g.dir.path().join("refused");
    let (_, err) = live(
        dc,
        &["backup", "--gpo", &g.example, "--out", &path(&refused)],
        2,
    );
    assert!(
        err.contains("GPO \"Example Root\" cannot be backed up")
            && err.contains(r"Machine\big.bin")
            && err.contains("a file of a GPO backup is at most"),
        "{err}"
    );
    assert!(!refused.exists(), "no partial backup");
    std::fs::remove_file(&big).unwrap();
    // The container's flags and WMI filter link, as the directory holds them.
    let example = g.dir.path().join("example-backup");
    live(
        dc,
        &["backup", "--gpo", &g.example, "--out", &path(&example)],
        0,
    );
    let dir = common::files_in(&example)
        .into_iter()
        .find(|p| p.is_dir())
        .expect("a backup folder");
    let xml = std::fs::read_to_string(dir.join("Backup.xml")).unwrap();
    assert!(
        xml.contains(&format!("<WMIFilter><![CDATA[{WMI_FILTER}]]></WMIFilter>")),
        "{xml}"
    );
    assert!(xml.contains("<Options><![CDATA[2]]></Options>"), "{xml}");
    // build --base with the live GPO, and with its backup: the same registry.pol.
    let from_live = g.dir.path().join("from-live");
    let from_backup = g.dir.path().join("from-backup");
    let common_args = |o: &Path| {
        vec![
            "build".to_string(),
            "--cert".into(),
            path(&common::example()),
            "--allow-expired".into(),
            "--timestamp".into(),
            "2026-01-01T00:00:00Z".into(),
            "--out".into(),
            path(o),
        ]
    };
    let mut args = common_args(&from_live);
    args.extend(["--gpo".into(), "NSA Roots".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    live(dc, &args, 0);
    let mut args = common_args(&from_backup);
    args.extend(["--base".into(), path(&backup_dir)]);
    common::certgpo_ok(&args);
    assert_eq!(
        std::fs::read(from_live.join("policy/registry.pol")).unwrap(),
        std::fs::read(from_backup.join("policy/registry.pol")).unwrap()
    );
}

/// The files a GPO holds besides its Machine registry.pol, put on SYSVOL with smbclient:
/// a User registry.pol (DISA's IE 11, no certificate), a security template, a startup
/// script, a comment, and an empty folder.
fn more_files(dc: &samba_dc::Dc, g: &Gpos) {
    let ie11 = common::data("disa-ie11/{A0BC1714-C6A6-411E-8383-34182EDB6149}/DomainSysvol/GPO");
    let nsa = common::data(common::NSA_BACKUP).join("DomainSysvol/GPO");
    let script = g.dir.path().join("hello.cmd");
    std::fs::write(&script, b"@echo hello\r\n").unwrap();
    let put = |local: &Path, remote: &str| format!(r#"put "{}" "{remote}""#, path(local));
    let commands = [
        format!(r"cd contoso.test\Policies\{}", g.nsa),
        put(&ie11.join("User/registry.pol"), r"User\Registry.pol"),
        put(&ie11.join("GPO.cmt"), "GPO.cmt"),
        r#"mkdir "Machine\Microsoft""#.to_string(),
        r#"mkdir "Machine\Microsoft\Windows NT""#.to_string(),
        r#"mkdir "Machine\Microsoft\Windows NT\SecEdit""#.to_string(),
        put(
            &nsa.join("Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf"),
            r"Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf",
        ),
        r#"mkdir "Machine\Scripts""#.to_string(),
        r#"mkdir "Machine\Scripts\Startup""#.to_string(),
        r#"mkdir "Machine\Scripts\Shutdown""#.to_string(),
        put(&script, r"Machine\Scripts\Startup\hello.cmd"),
    ];
    let out = dc.smbclient("sysvol", &commands.join("; "));
    assert!(!out.contains("NT_STATUS"), "{out}");
}

/// The backup against Samba's own view of the GPO: `samba-tool gpo fetch` gives the same
/// files byte for byte (GPT.INI aside, which GPMC never backs up, and the registry.pol
/// files named in lower case as GPMC names them), Backup.xml lists every folder, and
/// its security descriptor is the DACL `samba-tool gpo show` reports.
fn the_whole_gpo(dc: &samba_dc::Dc, g: &Gpos, backup_dir: &Path) {
    let fetched = g.dir.path().join("fetched");
    std::fs::create_dir(&fetched).unwrap();
    dc.samba_tool(&["gpo", "fetch", &g.nsa, "--tmpdir", &path(&fetched)]);
    let gpo_dir = fetched.join("policy").join(&g.nsa);
    let expected: std::collections::BTreeMap<String, Vec<u8>> = common::tree(&gpo_dir)
        .into_iter()
        .filter(|(rel, _)| !rel.eq_ignore_ascii_case("GPT.INI"))
        .map(|(rel, bytes)| {
            let rel = match rel.as_str() {
                "Machine/Registry.pol" => "Machine/registry.pol".to_string(),
                "User/Registry.pol" => "User/registry.pol".to_string(),
                _ => rel,
            };
            (rel, bytes)
        })
        .collect();
    assert!(
        expected.contains_key("User/registry.pol"),
        "{:?}",
        expected.keys()
    );
    assert!(expected.contains_key("Machine/Scripts/Startup/hello.cmd"));
    let held = common::tree(&backup_dir.join("DomainSysvol/GPO"));
    assert_eq!(
        held.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(held == expected, "the same bytes");
    // Backup.xml lists every file with its place in the backup, and every folder
    // (the empty Shutdown one too, which Import-GPO recreates).
    let xml = String::from_utf8(std::fs::read(backup_dir.join("Backup.xml")).unwrap()).unwrap();
    for rel in expected.keys() {
        let location = format!(
            r#"bkp:Location="DomainSysvol\GPO\{}""#,
            rel.replace('/', "\\")
        );
        assert!(xml.contains(&location), "{location} in {xml}");
    }
    let mut folders = vec![gpo_dir.clone()];
    let mut seen = 0;
    while let Some(d) = folders.pop() {
        for p in common::files_in(&d).into_iter().filter(|p| p.is_dir()) {
            let rel = p
                .strip_prefix(&gpo_dir)
                .unwrap()
                .to_string_lossy()
                .replace('/', "\\");
            if rel != "Machine" && rel != "User" {
                let location = format!(r#"bkp:Location="DomainSysvol\GPO\{rel}"/>"#);
                let at = xml
                    .find(&location)
                    .unwrap_or_else(|| panic!("{location}: {xml}"));
                let element = &xml[xml[..at].rfind('<').unwrap()..at];
                assert!(element.starts_with("<FSObjectDir "), "{element}");
                seen += 1;
            }
            folders.push(p);
        }
    }
    assert_eq!(
        seen, 6,
        "Microsoft, Windows NT, SecEdit, Scripts, Startup, Shutdown"
    );
    assert!(
        xml.contains(r#"bkp:Path="%GPO_USER_FSPATH%\registry.pol""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"bkp:Path="%GPO_MACH_FSPATH%\Scripts\Startup\hello.cmd""#),
        "{xml}"
    );
    // The security descriptor, read by Samba's own NDR code, against samba-tool's SDDL.
    let hex = xml
        .split("<SecurityDescriptor>")
        .nth(1)
        .and_then(|r| r.split("</SecurityDescriptor>").next())
        .expect("a SecurityDescriptor")
        .replace(' ', "");
    let sddl = Command::new(common::SYSTEM_PYTHON)
        .args([
            "-c",
            "import sys\nfrom samba.dcerpc import security\nfrom samba.ndr import ndr_unpack\nprint(ndr_unpack(security.descriptor, bytes.fromhex(sys.argv[1])).as_sddl())",
            &hex,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        sddl.status.success(),
        "{}",
        String::from_utf8_lossy(&sddl.stderr)
    );
    let ours = String::from_utf8(sddl.stdout).unwrap().trim().to_string();
    let shown = dc.samba_tool(&["gpo", "show", &g.nsa]);
    let acl = shown
        .lines()
        .find_map(|l| {
            l.strip_prefix("ACL")
                .map(|r| r.trim_start_matches([' ', ':']).trim())
        })
        .unwrap_or_else(|| panic!("an ACL line: {shown}"));
    // The DACL part of the SDDL: from `D:` to the SACL's `S:`, if any.
    let dacl = &acl[acl.find("D:").expect("a DACL")..];
    let dacl = dacl.split("S:").next().unwrap_or(dacl);
    assert!(dacl.len() > 20, "{acl}");
    // As GPMC writes it: the DACL alone.
    assert_eq!(ours, dacl, "samba-tool gpo show: {acl}");
}

/// Unknown GPO, wrong password: clear errors, exit 2.
fn errors(dc: &samba_dc::Dc) {
    let (_, err) = live(dc, &["inspect", "--gpo", "No Such GPO"], 2);
    assert!(err.contains("has no GPO named \"No Such GPO\""), "{err}");
    let bad = dc.dir.path().join("bad.txt");
    std::fs::write(&bad, "wrong\n").unwrap();
    let out = common::certgpo()
        .args(["audit", "--ldap", &dc.ldaps(), "--ldap-ca", &path(&dc.ca)])
        .args(["--user", ADMIN, "--password-file", &path(&bad)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the bind") && err.contains("wrong password"),
        "{err}"
    );
}

/// The SMB wrapper reads what Samba keeps on disk, byte for byte, and lists folders.
fn sysvol_reads(dc: &samba_dc::Dc) {
    let runtime = directory::runtime().unwrap();
    let target = target(dc);
    runtime.block_on(async {
        let domain = Domain::open(&target).await.expect("connects");
        assert_eq!(domain.domain_dn, samba_dc::DOMAIN_DN);
        assert_eq!(domain.config_dn, samba_dc::CONFIG_DN);
        assert!(domain.sysvol.encrypted(), "Samba offers SMB 3 encryption");
        let gpt = format!(r"SysVol\contoso.test\Policies\{DEFAULT_POLICY}\GPT.INI");
        let read = domain
            .sysvol
            .read(&gpt, certgpo::input::GPO_XML)
            .await
            .expect("reads")
            .expect("GPT.INI is there");
        let on_disk = std::fs::read(
            dc.sysvol_dir()
                .join(format!("Policies/{DEFAULT_POLICY}/GPT.INI")),
        )
        .unwrap();
        assert_eq!(read, on_disk);
        let missing = domain
            .sysvol
            .read(
                r"SysVol\contoso.test\Policies\nothing.ini",
                certgpo::input::GPO_XML,
            )
            .await
            .expect("a missing file is no error");
        assert_eq!(missing, None);
        let listed = domain
            .sysvol
            .list(r"SysVol\contoso.test\Policies")
            .await
            .expect("lists")
            .expect("Policies is there");
        assert!(
            listed.iter().any(|e| e.name == DEFAULT_POLICY && e.is_dir),
            "{listed:?}"
        );
        domain.close().await;
    });
    // The judge: smbclient sees the same folder.
    let out = dc.smbclient("sysvol", r"ls contoso.test\Policies\*");
    assert!(out.contains(DEFAULT_POLICY), "{out}");
}

/// A server that does not encrypt (`server smb encrypt = off`): certgpo asks for
/// encryption, is refused, and reads over a signed session instead.
fn signed_only(dc: &samba_dc::Dc) {
    let conf = std::fs::read_to_string(&dc.conf).unwrap();
    let conf = conf.replacen("[global]\n", "[global]\n\tserver smb encrypt = off\n", 1);
    std::fs::write(&dc.conf, conf).unwrap();
    common::run_ok(
        "smbcontrol",
        &["-s", &path(&dc.conf), "smbd", "reload-config"],
    );
    let runtime = directory::runtime().unwrap();
    let target = target(dc);
    runtime.block_on(async {
        let domain = Domain::open(&target).await.expect("connects");
        assert!(!domain.sysvol.encrypted(), "the server does not encrypt");
        let gpt = format!(r"SysVol\contoso.test\Policies\{DEFAULT_POLICY}\GPT.INI");
        let read = domain
            .sysvol
            .read(&gpt, certgpo::input::GPO_XML)
            .await
            .expect("reads, signed")
            .expect("GPT.INI is there");
        assert!(read.starts_with(b"[General]"));
        domain.close().await;
    });
}
