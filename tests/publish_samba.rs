//! `certgpo publish` end to end against a real Samba AD DC with SYSVOL (tests/samba_dc),
//! Samba's own tools as the judges: `samba-tool gpo show/list/aclcheck`, `smbclient`
//! for the files, Samba's PReg parser (tests/oracles/preg_dump.py) for registry.pol,
//! and `ldapsearch` for the container's attributes. Connections lost part way go
//! through tests/cut_proxy.
//!
//! One DC for the whole binary: the cases run one after another in one test.

mod common;
mod cut_proxy;
mod discover_fixture;
mod samba_dc;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::{Issued, Key, openssl_sha1, root_ca};
use samba_dc::{ADMIN, DOMAIN_DN, PASSWORD, Services, path};

const MACHINE_EXTENSIONS: &str = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}][{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]";
const ROOT_KEY: &str = r"Software\Policies\Microsoft\SystemCertificates\Root";

struct World {
    dc: samba_dc::Dc,
    tmp: tempfile::TempDir,
}

impl World {
    fn publish(&self, args: &[&str]) -> Output {
        self.publish_as(&self.dc.signed_in(), args)
    }

    fn publish_as(&self, signed_in: &[String], args: &[&str]) -> Output {
        let mut cmd = common::certgpo();
        cmd.arg("publish").args(signed_in).args(args);
        cmd.output().expect("certgpo runs")
    }

    fn publish_ok(&self, args: &[&str]) -> String {
        let o = self.publish(args);
        assert!(
            o.status.success(),
            "publish {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A GPO made by `samba-tool gpo create`; its `{GUID}`.
    fn samba_gpo(&self, name: &str) -> String {
        let out = self.dc.samba_tool(&["gpo", "create", name]);
        let start = out.find('{').expect("samba-tool names the GUID");
        out[start..start + 38].to_string()
    }

    /// `ldapsearch` of the GPO container: (versionNumber, gPCMachineExtensionNames).
    fn container(&self, guid: &str) -> (u32, String) {
        let dn = format!("CN={guid},CN=Policies,CN=System,{DOMAIN_DN}");
        let attrs = self.ldap_attrs(&dn, &["versionNumber", "gPCMachineExtensionNames"]);
        (
            attrs
                .get("versionNumber")
                .and_then(|v| v.parse().ok())
                .expect("versionNumber"),
            attrs
                .get("gPCMachineExtensionNames")
                .cloned()
                .unwrap_or_default(),
        )
    }

    /// `ldapsearch` of `attrs` under `base` with `scope`, as the administrator: its LDIF.
    fn ldapsearch(&self, base: &str, scope: &str, attrs: &[&str]) -> String {
        let url = self.dc.ldaps();
        let out = Command::new("ldapsearch")
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-H",
                &url,
                "-x",
                "-D",
                ADMIN,
                "-w",
                PASSWORD,
                "-s",
                scope,
                "-b",
                base,
            ])
            .args(attrs)
            .env("LDAPTLS_CACERT", path(&self.dc.ca))
            .output()
            .expect("ldapsearch runs");
        assert!(out.status.success(), "ldapsearch {base}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ldap_attrs(&self, dn: &str, attrs: &[&str]) -> BTreeMap<String, String> {
        self.ldapsearch(dn, "base", attrs)
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `ldapsearch -s one` under `base`: each object's `attr: value` lines by DN.
    fn ldap_list(&self, base: &str) -> BTreeMap<String, Vec<String>> {
        let ldif = self.ldapsearch(base, "one", &["objectClass", "cACertificate"]);
        let mut objects = BTreeMap::new();
        let mut current = String::new();
        for line in ldif.lines() {
            if let Some(dn) = line.strip_prefix("dn: ") {
                current = dn.to_string();
                objects.insert(current.clone(), Vec::new());
            } else if !line.is_empty() {
                objects
                    .entry(current.clone())
                    .or_insert_with(Vec::new)
                    .push(line.to_string());
            }
        }
        objects
    }

    /// A file of the GPO fetched with smbclient; `None` if it is not there.
    fn fetch(&self, guid: &str, file: &str) -> Option<Vec<u8>> {
        let local = self.tmp.path().join("fetched");
        let _ = std::fs::remove_file(&local);
        let remote = format!(r"contoso.test\Policies\{guid}\{file}");
        let service = format!("//{}/sysvol", self.dc.ip);
        let user = format!("Administrator%{PASSWORD}");
        let _ = Command::new("smbclient")
            .args([
                &service,
                "-U",
                &user,
                "--option=client signing=required",
                "-c",
                &format!("get \"{remote}\" \"{}\"", path(&local)),
            ])
            .output()
            .expect("smbclient runs");
        std::fs::read(&local).ok()
    }

    /// GPT.INI's Version, fetched with smbclient.
    fn gpt_version(&self, guid: &str) -> u32 {
        let gpt = self.fetch(guid, "GPT.INI").expect("GPT.INI is there");
        String::from_utf8_lossy(&gpt)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Version="))
            .and_then(|v| v.trim().parse().ok())
            .expect("GPT.INI has a Version")
    }

    /// registry.pol as Samba's PReg parser reads it: (key, value, data hex) in order.
    fn policy(&self, guid: &str) -> Vec<(String, String, Option<String>)> {
        let Some(bytes) = self.fetch(guid, r"Machine\registry.pol") else {
            return Vec::new();
        };
        let file = self.tmp.path().join("registry.pol");
        std::fs::write(&file, bytes).unwrap();
        self.policy_file(&file)
    }

    /// A registry.pol file as Samba's PReg parser reads it.
    fn policy_file(&self, file: &Path) -> Vec<(String, String, Option<String>)> {
        common::samba_preg(&[file])[0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["key"].as_str().unwrap().to_string(),
                    e["value"].as_str().unwrap().to_string(),
                    e["data"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    /// The certificate thumbprints of registry.pol's Root store, in file order.
    fn roots(&self, guid: &str) -> Vec<String> {
        self.policy(guid)
            .into_iter()
            .filter(|(_, v, _)| v == "Blob")
            .filter_map(|(k, _, _)| {
                k.strip_prefix(&format!(r"{ROOT_KEY}\Certificates\"))
                    .map(str::to_string)
            })
            .collect()
    }

    /// GPT.INI, registry.pol and the container agree.
    fn assert_consistent(&self, guid: &str) -> u32 {
        let (version, _) = self.container(guid);
        assert_eq!(self.gpt_version(guid), version, "GPT.INI and versionNumber");
        let _ = self.policy(guid);
        version
    }

    fn aclcheck(&self) {
        let o = self.dc.samba_tool_once(&["gpo", "aclcheck"]);
        assert!(
            o.status.success(),
            "samba-tool gpo aclcheck: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Every file of the GPO folder on the DC's disk, and the container's attributes.
    fn snapshot(&self, guid: &str) -> (BTreeMap<String, Vec<u8>>, (u32, String)) {
        let dir = self.dc.sysvol_dir().join("Policies").join(guid);
        (common::tree(&dir), self.container(guid))
    }
}

fn cert(dir: &Path, name: &str) -> (Issued, String) {
    let c = root_ca(dir, name, Key::P256, &format!("Publish Test {name}"));
    let sha1 = openssl_sha1(&c.cert);
    (c, sha1)
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn publish_against_samba_ad_dc() {
    let services = Services { smb: true };
    if !samba_dc::available(services)
        || !common::require(
            common::SYSTEM_PYTHON,
            &["-c", "import samba.ndr, samba.dcerpc.preg"],
        )
        || !common::require("ldapsearch", &["-VV"])
    {
        return;
    }
    let w = World {
        dc: samba_dc::provision(services),
        tmp: tempfile::tempdir().unwrap(),
    };
    let d = w.tmp.path().to_path_buf();
    let (r1, t1) = cert(&d, "r1");
    let (r2, t2) = cert(&d, "r2");
    let (r3, t3) = cert(&d, "r3");

    // --- Update a GPO that samba-tool made: two certificates.
    let guid = w.samba_gpo("Certs A");
    assert_eq!(w.container(&guid).0, 0);
    let out = w.publish_ok(&[
        "--gpo",
        "Certs A",
        "--cert",
        &r1.cert_str(),
        "--cert",
        &r2.cert_str(),
    ]);
    assert!(
        out.contains(&format!("add     Root           {t1}")),
        "{out}"
    );
    assert!(out.contains("version 0 -> 1 (computer 0 -> 1)"), "{out}");
    let show = w.dc.samba_tool(&["gpo", "show", &guid]);
    assert!(
        show.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["version", ":", "1"]),
        "samba-tool gpo show reports the raised version:\n{show}"
    );
    let mut want = vec![t1.clone(), t2.clone()];
    want.sort();
    assert_eq!(w.roots(&guid), want);
    let keys: Vec<String> = w
        .policy(&guid)
        .into_iter()
        .map(|(k, v, _)| format!("{k}|{v}"))
        .collect();
    let expected: Vec<String> = want
        .iter()
        .map(|t| format!(r"{ROOT_KEY}\Certificates\{t}|Blob"))
        .chain([format!(r"{ROOT_KEY}\CRLs|"), format!(r"{ROOT_KEY}\CTLs|")])
        .collect();
    assert_eq!(keys, expected, "exactly the expected registry.pol entries");
    let der_hex = {
        let der = common::openssl_stdin(
            &["x509", "-outform", "DER"],
            &std::fs::read(&r1.cert).unwrap(),
        );
        der.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(
        w.policy(&guid).iter().any(|(k, _, data)| k.ends_with(&t1)
            && data.as_deref().is_some_and(|h| h.contains(&der_hex))),
        "the Blob carries the certificate"
    );
    assert_eq!(w.assert_consistent(&guid), 1);
    assert_eq!(w.container(&guid).1, MACHINE_EXTENSIONS);
    w.aclcheck();

    // --- The same again: nothing to do, nothing written.
    let before = w.snapshot(&guid);
    let o = w.publish(&["--gpo", "Certs A", "--cert", &r1.cert_str()]);
    assert!(o.status.success());
    assert!(
        text(&o)
            .1
            .contains("already holds these certificates: nothing to publish"),
        "{:?}",
        text(&o)
    );
    assert_eq!(w.snapshot(&guid), before);

    // --- --what-if changes nothing and exits 1 when something would change.
    let o = w.publish(&[
        "--gpo",
        &guid,
        "--cert",
        &r3.cert_str(),
        "--remove",
        &t1,
        "--what-if",
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("add     Root           {t3}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("remove  Root           {t1}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("version 1 -> 2 (computer 1 -> 2)"),
        "{stdout}"
    );
    assert!(stdout.contains("What-if: nothing was changed."), "{stdout}");
    assert_eq!(w.snapshot(&guid), before, "--what-if changed the GPO");
    let o = w.publish(&[
        "--gpo",
        &guid,
        "--cert",
        &r2.cert_str(),
        "--what-if",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["changed"], false);
    assert_eq!(plan["version_before"], 1);
    assert_eq!(plan["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(w.snapshot(&guid), before);

    // --- Remove one, add one.
    w.publish_ok(&["--gpo", &guid, "--cert", &r3.cert_str(), "--remove", &t1]);
    let mut want = vec![t2.clone(), t3.clone()];
    want.sort();
    assert_eq!(w.roots(&guid), want);
    assert_eq!(w.assert_consistent(&guid), 2);
    w.aclcheck();

    // --- --create --what-if: the plan, and no GPO made.
    let o = w.publish(&[
        "--gpo",
        "Not made",
        "--create",
        "--cert",
        &r1.cert_str(),
        "--what-if",
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("Create GPO \"Not made\" {"), "{stdout}");
    assert!(
        stdout.contains("version 0 -> 1 (computer 0 -> 1)"),
        "{stdout}"
    );
    assert!(!w.dc.samba_tool(&["gpo", "listall"]).contains("Not made"));

    // --- Create and link, with a computer in the OU.
    w.dc.samba_tool(&["ou", "create", &format!("OU=Workstations,{DOMAIN_DN}")]);
    w.dc.samba_tool(&["computer", "create", "WS01", "--computerou=OU=Workstations"]);
    let ou = format!("OU=Workstations,{DOMAIN_DN}");
    let o = w.publish(&[
        "--gpo",
        "Workstation trust",
        "--create",
        "--link",
        &ou,
        "--cert",
        &r1.cert_str(),
        "--json",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let created: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let new_guid = created["gpo_guid"].as_str().unwrap().to_string();
    assert_eq!(created["published_version"], 1);
    assert_eq!(created["links_added"], serde_json::json!([ou]));
    let list = w.dc.samba_tool(&["gpo", "list", "WS01$"]);
    assert!(
        list.contains("Workstation trust"),
        "samba-tool gpo list WS01$:\n{list}"
    );
    assert!(list.contains(&new_guid), "{list}");
    assert_eq!(w.roots(&new_guid), vec![t1.clone()]);
    assert_eq!(w.assert_consistent(&new_guid), 1);
    w.aclcheck();
    let getlink = w.dc.samba_tool(&["gpo", "getlink", &ou]);
    assert!(getlink.contains(&new_guid), "{getlink}");
    // --create of a name that exists is refused; so is a second link (already there).
    let o = w.publish(&[
        "--gpo",
        "Workstation trust",
        "--create",
        "--cert",
        &r2.cert_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("exists already"), "{:?}", text(&o));
    let o = w.publish(&["--gpo", "Workstation trust", "--link", &ou, "--what-if"]);
    assert!(
        text(&o).0.contains(": already linked"),
        "{:?} {:?}",
        text(&o),
        w.ldap_attrs(&ou, &["gPLink"])
    );

    // --- A bundle made by `build` is applied as it is: the Blob (friendly name,
    // purposes) in the GPO equals the bundle's byte for byte.
    let bundle = d.join("bundle");
    common::certgpo_ok(&[
        "build",
        "--cert",
        &r2.cert_str(),
        "--purpose",
        "server-auth",
        "--friendly-name",
        "Bundle root",
        "--domain",
        "contoso.test",
        "--out",
        &path(&bundle),
    ]);
    let out = w.publish_ok(&["--gpo", &new_guid, "--bundle", &path(&bundle)]);
    assert!(
        out.contains(&format!("add     Root           {t2}")),
        "{out}"
    );
    let blob_of = |entries: Vec<(String, String, Option<String>)>| {
        entries
            .into_iter()
            .find(|(k, v, _)| v == "Blob" && k.ends_with(&t2))
            .and_then(|(_, _, d)| d)
            .expect("the Blob of r2")
    };
    let bundle_pol = common::files_in(&bundle.join("policy"))
        .into_iter()
        .find(|p| p.ends_with("registry.pol"))
        .expect("the bundle's registry.pol");
    let bundle_entries = w.policy_file(&bundle_pol);
    assert_eq!(blob_of(w.policy(&new_guid)), blob_of(bundle_entries));
    assert_eq!(w.assert_consistent(&new_guid), 2);

    // --- Two publishes at once: never a silent lost update.
    let (r4, t4) = cert(&d, "r4");
    let (r5, t5) = cert(&d, "r5");
    let start = |c: &Issued| {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("certgpo"));
        cmd.arg("publish")
            .args(w.dc.signed_in())
            .args(["--gpo", &guid, "--cert", &c.cert_str()]);
        cmd.spawn().expect("certgpo starts")
    };
    for _ in 0..3 {
        let (a, b) = (start(&r4), start(&r5));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let roots = w.roots(&guid);
        for (o, t) in [(&a, &t4), (&b, &t5)] {
            match o.status.code() {
                Some(0) => assert!(
                    roots.contains(t),
                    "a publish that succeeded lost its certificate"
                ),
                Some(4) => {}
                other => panic!("unexpected exit {other:?}"),
            }
        }
        assert!(a.status.success() || b.status.success() || roots.contains(&t4));
        w.assert_consistent(&guid);
        if roots.contains(&t4) && roots.contains(&t5) {
            break;
        }
    }
    // Whatever the race gave, both end up in after a rerun.
    w.publish_ok(&[
        "--gpo",
        &guid,
        "--cert",
        &r4.cert_str(),
        "--cert",
        &r5.cert_str(),
    ]);
    let roots = w.roots(&guid);
    assert!(roots.contains(&t4) && roots.contains(&t5));
    w.assert_consistent(&guid);

    // --- The commit is a compare-and-swap: a version change by anyone else (a stale
    // `old` value) makes Samba refuse the modify with noSuchAttribute, which certgpo
    // reports as a conflict (exit 4), and nothing changes.
    {
        use certgpo::directory::{self, BindMethod, Connection};
        use certgpo::publish::ad::{self, WriteError};
        let dn = format!("CN={guid},CN=Policies,CN=System,{DOMAIN_DN}");
        let (version, names) = w.container(&guid);
        let (opts, _) = directory::options(&directory::Request {
            url: w.dc.ldaps(),
            insecure: false,
            ca: Some(w.dc.ca.clone()),
            bind: BindMethod::Simple,
            user: Some(ADMIN.into()),
            password_file: Some(w.dc.password_file.clone()),
        })
        .expect("options");
        let rt = directory::runtime().expect("runtime");
        let stale = rt.block_on(async {
            let mut conn = Connection::open(
                &opts,
                &opts.url,
                None,
                std::time::Duration::from_secs(30),
            )
            .await
            .expect("bind");
            let r = ad::commit_version(
                &mut conn,
                &dn,
                version.wrapping_sub(1),
                version + 1,
                Some("[{00000000-0000-0000-0000-000000000000}{00000000-0000-0000-0000-000000000000}]"),
            )
            .await;
            conn.close().await;
            r
        });
        assert!(matches!(stale, Err(WriteError::Lost)), "{stale:?}");
        assert_eq!(
            w.container(&guid),
            (version, names),
            "the refused modify changed nothing"
        );
    }

    // --- A temporary file left by a killed run is swept by the next publish.
    let tmp = d.join("left.tmp");
    std::fs::write(&tmp, "partial").unwrap();
    w.dc.smbclient(
        "sysvol",
        &format!(
            r#"put "{}" "contoso.test\Policies\{guid}\Machine\registry.pol.certgpo-0123.tmp""#,
            path(&tmp)
        ),
    );
    w.publish_ok(&["--gpo", &guid, "--raise-version"]);
    let left: Vec<String> = common::tree(&w.dc.sysvol_dir().join("Policies").join(&guid))
        .into_keys()
        .filter(|k| k.contains("certgpo"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    w.assert_consistent(&guid);

    // --- A lock file left by a killed run: a clear refusal, nothing written.
    let lock = d.join("lock");
    std::fs::write(&lock, "certgpo publish by someone\r\n").unwrap();
    w.dc.smbclient(
        "sysvol",
        &format!(
            r#"put "{}" "contoso.test\Policies\{guid}\certgpo-publish.lock""#,
            path(&lock)
        ),
    );
    let before = w.snapshot(&guid);
    let o = w.publish(&["--gpo", &guid, "--remove", &t4]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("is being published by another run"),
        "{stderr}"
    );
    assert!(stderr.contains("certgpo publish by someone"), "{stderr}");
    assert!(
        stderr.contains("hint: wait for the other run to finish"),
        "{stderr}"
    );
    assert_eq!(w.snapshot(&guid), before);
    w.dc.smbclient(
        "sysvol",
        &format!(r#"del "contoso.test\Policies\{guid}\certgpo-publish.lock""#),
    );

    // --- A step failing after registry.pol is written: GPT.INI made immutable on the
    // DC's disk (chattr +i), so it cannot be replaced. Exit 5, the state and the
    // finishing command named, no lock or temporary file left; the command finishes it.
    let folder = w.dc.sysvol_dir().join("Policies").join(&guid);
    let gpt = folder.join("GPT.INI");
    // chattr comes with lsattr (e2fsprogs); lsattr has a probe that succeeds.
    if common::require("lsattr", &["-d", "/"]) {
        common::run_ok("chattr", &["+i", &path(&gpt)]);
        let (version, _) = w.container(&guid);
        let o = w.publish(&["--gpo", &guid, "--remove", &t4]);
        common::run_ok("chattr", &["-i", &path(&gpt)]);
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(5), "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: GPO \"Certs A\" {guid}: the publish stopped at writing GPT.INI: "
            )),
            "{stderr}"
        );
        assert!(
            stderr.ends_with(&format!(
                "hint: Machine\\registry.pol holds the new certificates, but versionNumber still says {version}, so clients do not apply them yet: run `certgpo publish --gpo {guid} --raise-version` (same connection options) to finish\n"
            )),
            "{stderr}"
        );
        assert!(!w.roots(&guid).contains(&t4), "registry.pol was written");
        assert_eq!(w.container(&guid).0, version, "versionNumber untouched");
        assert_eq!(w.gpt_version(&guid), version, "GPT.INI untouched");
        let left: Vec<String> = common::tree(&folder)
            .into_keys()
            .filter(|k| k.contains("certgpo"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        w.publish_ok(&["--gpo", &guid, "--raise-version"]);
        assert_eq!(w.assert_consistent(&guid), version + 1);
        assert!(!w.roots(&guid).contains(&t4));
        w.publish_ok(&["--gpo", &guid, "--cert", &r4.cert_str()]);
    }

    // --- The forest-wide channel: --what-if, add, again, remove.
    let container = format!(
        "CN=Certification Authorities,CN=Public Key Services,CN=Services,{}",
        samba_dc::CONFIG_DN
    );
    let der = |c: &Issued| {
        use base64::Engine as _;
        let der = common::openssl_stdin(
            &["x509", "-outform", "DER"],
            &std::fs::read(&c.cert).unwrap(),
        );
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    let before = w.ldap_list(&container);
    let o = w.publish(&["--forest-roots", "--cert", &r2.cert_str(), "--what-if"]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "add     {t2}  Publish Test r2  (CN=Publish Test r2,{container}, new object)"
        )),
        "{stdout}"
    );
    assert_eq!(
        w.ldap_list(&container),
        before,
        "--what-if changed the container"
    );
    w.publish_ok(&["--forest-roots", "--cert", &r2.cert_str()]);
    let after = w.ldap_list(&container);
    let object = format!("CN=Publish Test r2,{container}");
    let values = after.get(&object).expect("the root's object");
    assert!(
        values.contains(&format!("cACertificate:: {}", der(&r2))),
        "{values:?}"
    );
    assert!(
        values.contains(&"objectClass: certificationAuthority".to_string()),
        "{values:?}"
    );
    let o = w.publish(&["--forest-roots", "--cert", &r2.cert_str(), "--what-if"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        text(&o)
            .0
            .contains(&format!("keep    {t2}  (published already)")),
        "{:?}",
        text(&o)
    );
    w.publish_ok(&["--forest-roots", "--remove", &t2]);
    assert_eq!(w.ldap_list(&container), before, "--remove left the object");
    let o = w.publish(&["--forest-roots", "--remove", &t2]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("holds no such certificate"),
        "{:?}",
        text(&o)
    );

    // --- Errors: unknown GPO, wrong password, a user without rights.
    let o = w.publish(&["--gpo", "No such GPO", "--cert", &r1.cert_str()]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: {} has no GPO named \"No such GPO\" (display name or {{GUID}})\nhint: samba-tool gpo listall or Get-GPO -All lists the GPOs; names are compared as the directory compares them (case-insensitive)\n",
            w.dc.ldaps()
        )
    );
    let wrong = d.join("wrong-password");
    std::fs::write(&wrong, "not the password\n").unwrap();
    let mut signed = w.dc.signed_in();
    let last = signed.len() - 1;
    signed[last] = path(&wrong);
    let before = w.snapshot(&guid);
    let o = w.publish_as(&signed, &["--gpo", &guid, "--remove", &t4]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalidCredentials"), "{stderr}");
    w.dc.samba_tool(&["user", "create", "bob", "Passw0rd!Bob123"]);
    let bob_pw = d.join("bob-password");
    std::fs::write(&bob_pw, "Passw0rd!Bob123\n").unwrap();
    let bob: Vec<String> = vec![
        "--ldap".into(),
        w.dc.ldaps(),
        "--ldap-ca".into(),
        path(&w.dc.ca),
        "--user".into(),
        "bob@contoso.test".into(),
        "--password-file".into(),
        path(&bob_pw),
    ];
    let o = w.publish_as(&bob, &["--gpo", &guid, "--remove", &t4]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "certgpo-publish.lock on {}: access denied\nhint: publishing needs the Modify right on the GPO's SYSVOL folder and Write on its container (GPMC's \"Edit settings\" delegation)\n",
            w.dc.ip
        )),
        "{stderr}"
    );
    assert_eq!(
        w.snapshot(&guid),
        before,
        "a refused publish changed the GPO"
    );
    w.assert_consistent(&guid);
    w.aclcheck();

    // --- The connection lost part way, at each step that matters.
    let started = std::time::Instant::now();
    midrun(&w);
    eprintln!("the lost connections took {:?}", started.elapsed());
    w.aclcheck();
}

/// A publish of `cert` into a new GPO made by samba-tool, through proxies to SMB and
/// LDAPS that cut the connection where told (the LDAP cut counted from the SMB request
/// whose label is given with it); the GPO's `{GUID}`, the output, and the SMB proxy's
/// log.
fn cut_publish(
    w: &World,
    name: &str,
    cert: &Issued,
    smb_cut: Option<cut_proxy::Cut>,
    ldap_cut: Option<(cut_proxy::Cut, &str)>,
) -> (String, Output, Vec<String>) {
    use cut_proxy::{Framing, Proxy};
    use std::net::SocketAddr;
    let guid = w.samba_gpo(name);
    let smb_cut_wanted = smb_cut.is_some();
    let proxy = |port: u16, framing: Framing, cut: Option<cut_proxy::Cut>, armed: bool| {
        Proxy::start(w.dc.ip, SocketAddr::new(w.dc.ip, port), framing, cut, armed)
    };
    let smb = proxy(445, Framing::Smb, smb_cut, true);
    // The LDAP cut counts from the SMB request named with it.
    let (ldap_cut, arm) = ldap_cut.unzip();
    let ldap = proxy(636, Framing::Tls, ldap_cut, arm.is_none());
    if let Some(label) = arm {
        smb.arm_on(label, &ldap);
    }
    let args = [
        "--ldap".to_string(),
        format!("ldaps://{}:{}", w.dc.ip, ldap.addr.port()),
        "--ldap-ca".into(),
        path(&w.dc.ca),
        "--user".into(),
        ADMIN.into(),
        "--password-file".into(),
        path(&w.dc.password_file),
        "--smb-host".into(),
        format!("{}:{}", w.dc.ip, smb.addr.port()),
        "--dc-timeout".into(),
        "10s".into(),
        "--gpo".into(),
        guid.clone(),
        "--cert".into(),
        cert.cert_str(),
    ];
    let o = common::certgpo()
        .arg("publish")
        .args(&args)
        .output()
        .unwrap();
    if arm.is_some() || smb_cut_wanted {
        assert!(
            smb.cut() || ldap.cut(),
            "the cut never happened: {:?}",
            smb.log()
        );
    }
    (guid, o, smb.log())
}

/// A file of the GPO as the SMB requests name it inside the share.
fn gpo_file(guid: &str, file: &str) -> String {
    format!(r"contoso.test\Policies\{guid}\{file}")
}

/// The size of the plain SMB 2 SET_INFO that renames a file to `name`: the header (64),
/// the SET_INFO body (32), FileRenameInformation's head (20) and the name in UTF-16
/// (MS-SMB2 2.2.39, MS-FSCC 2.4.37.2). Encrypted, that size is what still shows.
fn rename_size(name: &str) -> usize {
    64 + 32 + 20 + 2 * name.len()
}

/// Publishes whose connection to the DC is cut part way (tests/cut_proxy), each into
/// a new GPO: the exact message, what the GPO holds right after, and the GPO
/// consistent for clients (registry.pol, GPT.INI and versionNumber agree, no lock or
/// temporary file left) once the command the message names has run.
fn midrun(w: &World) {
    use cut_proxy::Cut;
    let d = w.tmp.path().join("midrun");
    std::fs::create_dir_all(&d).unwrap();
    let (c1, t1) = cert(&d, "c1");
    let host = w.dc.ip.to_string();
    // The SMB requests by the size of their plain message (sessions are encrypted):
    // a CREATE of `Machine\registry.pol` or of the lock file (names of one length) is
    // 336 bytes; the second is the lock (the first reads registry.pol); the delete of
    // the lock is a 97-byte SET_INFO; the renames are named by rename_size.
    let lock_create = "encrypted 336";
    let lock_delete = "encrypted 97";
    let pol_rename = |guid: &str| {
        format!(
            "encrypted {}",
            rename_size(&gpo_file(guid, r"Machine\registry.pol"))
        )
    };
    let gpt_rename = |guid: &str| format!("encrypted {}", rename_size(&gpo_file(guid, "GPT.INI")));
    // Every new GPO has a GUID of the same length, so the sizes are known beforehand.
    let any = "{00000000-0000-0000-0000-000000000000}";
    let stopped = "Client connection is stopped";
    let lock_unc = |guid: &str| {
        format!(
            r"\\{host}\sysvol\{}",
            gpo_file(guid, "certgpo-publish.lock")
        )
    };
    let file = |guid: &str, f: &str| format!(r"sysvol\{} on {host}", gpo_file(guid, f));
    let note = |guid: &str, why: &str| {
        format!(
            "the lock file {} may be left behind ({why}), and a temporary file *.certgpo-*.tmp beside GPT.INI or Machine\\registry.pol (clients do not read it; the next publish deletes it). Once no publish is running, delete the lock file before publishing again (from Windows: del {}; from Linux: smbclient //{host}/SysVol -U USER -c 'del \"{}\"')",
            lock_unc(guid),
            lock_unc(guid),
            gpo_file(guid, "certgpo-publish.lock")
        )
    };
    let left = |guid: &str| -> Vec<String> {
        common::tree(&w.dc.sysvol_dir().join("Policies").join(guid))
            .into_keys()
            .filter(|k| k.contains("certgpo"))
            .collect()
    };
    let unlock = |guid: &str| {
        w.dc.smbclient(
            "sysvol",
            &format!(r#"del "{}""#, gpo_file(guid, "certgpo-publish.lock")),
        );
    };
    let untouched = |guid: &str| {
        assert_eq!(w.container(guid).0, 0, "versionNumber");
        assert_eq!(w.gpt_version(guid), 0, "GPT.INI");
        assert!(w.fetch(guid, r"Machine\registry.pol").is_none());
    };
    let finished = |guid: &str, version: u32| {
        // assert_consistent without its second parse of registry.pol (roots parses it).
        assert_eq!(w.container(guid).0, version, "versionNumber");
        assert_eq!(w.gpt_version(guid), version, "GPT.INI");
        assert_eq!(w.roots(guid), vec![t1.clone()]);
        assert!(left(guid).is_empty(), "left behind: {:?}", left(guid));
    };
    let error = |o: &Output, code: i32| -> String {
        let (stdout, stderr) = text(o);
        assert_eq!(o.status.code(), Some(code), "{stdout}{stderr}");
        stderr
    };

    // Before the lock is made: nothing changed, and the message says the lock may be
    // there (it cannot know).
    let (guid, o, _) = cut_publish(w, "Cut 1", &c1, Some(Cut::before(lock_create, 2)), None);
    let lock_msg = |name: &str, guid: &str| {
        format!(
            "error: GPO \"{name}\" {guid}: the publish stopped at taking the lock: {}: {stopped}\nhint: nothing was changed in the GPO, but {}\n",
            file(guid, "certgpo-publish.lock"),
            note(guid, "the run stopped while creating it")
        )
    };
    assert_eq!(error(&o, 2), lock_msg("Cut 1", &guid));
    untouched(&guid);
    assert!(left(&guid).is_empty());

    // Right after the server made the lock: it is left, empty; deleting it as told
    // leaves the GPO as it was.
    let (guid, o, _) = cut_publish(w, "Cut 2", &c1, Some(Cut::after(lock_create, 2)), None);
    assert_eq!(error(&o, 2), lock_msg("Cut 2", &guid));
    assert_eq!(left(&guid), vec!["certgpo-publish.lock".to_string()]);
    untouched(&guid);
    unlock(&guid);
    assert!(left(&guid).is_empty());

    // registry.pol: the temporary file written, the rename never made (or made, its
    // answer lost). Either way exit 5, the same message, and rerunning with
    // --raise-version after deleting the lock makes the GPO whole.
    let pol_msg = |name: &str, guid: &str| {
        format!(
            "error: GPO \"{name}\" {guid}: the publish stopped at writing Machine\\registry.pol: {}: {stopped}\nhint: Machine\\registry.pol holds either the old file or the new one (never part of one), and GPT.INI and versionNumber still say 0, so clients do not apply a change yet: run this publish again with --raise-version added to finish; it merges what is missing and raises both versions to agree. Also, {}\n",
            file(guid, r"Machine\registry.pol"),
            note(
                guid,
                &format!(
                    "deleting it failed: {}: Message processing failed. Failed to send message to worker!",
                    file(guid, "certgpo-publish.lock")
                )
            )
        )
    };
    for (n, deliver) in [(3, false), (4, true)] {
        let name = format!("Cut {n}");
        let at = pol_rename(any);
        let cut = if deliver {
            Cut::after(&at, 1)
        } else {
            Cut::before(&at, 1)
        };
        let (guid, o, _) = cut_publish(w, &name, &c1, Some(cut), None);
        assert_eq!(error(&o, 5), pol_msg(&name, &guid));
        assert_eq!(w.container(&guid).0, 0);
        assert_eq!(w.gpt_version(&guid), 0);
        let files = left(&guid);
        assert!(
            files.contains(&"certgpo-publish.lock".to_string()),
            "{files:?}"
        );
        if deliver {
            assert_eq!(w.roots(&guid), vec![t1.clone()], "the rename was made");
            assert_eq!(files.len(), 1, "{files:?}");
        } else {
            assert!(w.fetch(&guid, r"Machine\registry.pol").is_none());
            assert_eq!(files.len(), 2, "the temporary file is left: {files:?}");
        }
        unlock(&guid);
        w.publish_ok(&["--gpo", &guid, "--cert", &c1.cert_str(), "--raise-version"]);
        finished(&guid, 1);
    }

    // GPT.INI renamed, its answer lost: GPT.INI says 1, versionNumber 0.
    let (guid, o, _) = cut_publish(w, "Cut 5", &c1, Some(Cut::after(&gpt_rename(any), 1)), None);
    assert_eq!(
        error(&o, 5),
        format!(
            "error: GPO \"Cut 5\" {guid}: the publish stopped at writing GPT.INI: {}: {stopped}\nhint: Machine\\registry.pol holds the new certificates, but versionNumber still says 0, so clients do not apply them yet: run `certgpo publish --gpo {guid} --raise-version` (same connection options) to finish. Also, {}\n",
            file(&guid, "GPT.INI"),
            note(
                &guid,
                &format!(
                    "deleting it failed: {}: Message processing failed. Failed to send message to worker!",
                    file(&guid, "certgpo-publish.lock")
                )
            )
        )
    );
    assert_eq!((w.container(&guid).0, w.gpt_version(&guid)), (0, 1));
    unlock(&guid);
    w.publish_ok(&["--gpo", &guid, "--raise-version"]);
    finished(&guid, 2);

    // LDAP lost at the modify of versionNumber: before the DC gets it, and after (the
    // DC made the change, the answer is lost). SMB still works: the lock is gone.
    for (n, deliver) in [(6, false), (7, true)] {
        let name = format!("Cut {n}");
        let cut = if deliver {
            Cut::after("", 1)
        } else {
            Cut::before("", 1)
        };
        let (guid, o, _) = cut_publish(w, &name, &c1, None, Some((cut, &gpt_rename(any))));
        let stderr = error(&o, 5);
        let head = format!(
            "error: GPO \"{name}\" {guid}: the publish stopped at raising versionNumber: cannot reach ldaps://{host}:"
        );
        assert!(stderr.starts_with(&head), "{stderr}");
        assert!(
            stderr.ends_with(&format!(
                ": connection lost: result recv error: channel closed\nhint: registry.pol and GPT.INI (version 1) hold the new certificates, but versionNumber may still be 0 (the directory did not confirm the change), so clients may not apply them yet: run `certgpo publish --gpo {guid} --raise-version` (same connection options) to finish; it raises both versions to agree\n"
            )),
            "{stderr}"
        );
        assert!(left(&guid).is_empty(), "{:?}", left(&guid));
        assert_eq!(
            (w.container(&guid).0, w.gpt_version(&guid)),
            (u32::from(deliver), 1)
        );
        w.publish_ok(&["--gpo", &guid, "--raise-version"]);
        finished(&guid, 2);
    }

    // LDAP lost at the search that checks the version again, right after the lock is
    // taken and the folder swept (a 288-byte CREATE of the GPO folder): nothing was
    // written, and the lock is deleted over SMB.
    let (guid, o, _) = cut_publish(
        w,
        "Cut 9",
        &c1,
        None,
        Some((Cut::before("", 1), "encrypted 288")),
    );
    let stderr = error(&o, 2);
    let head = format!(
        "error: GPO \"Cut 9\" {guid}: the publish stopped at reading the version again: cannot reach ldaps://{host}:"
    );
    assert!(stderr.starts_with(&head), "{stderr}");
    assert!(
        stderr.ends_with(": connection lost: premature end of search stream\nhint: nothing was changed: the GPO is as it was; publish again\n"),
        "{stderr}"
    );
    untouched(&guid);
    assert!(left(&guid).is_empty(), "{:?}", left(&guid));

    // The lock's delete made, its answer lost: the publish is complete and says the
    // lock may be left (it is not).
    let (guid, o, _) = cut_publish(w, "Cut 8", &c1, Some(Cut::after(lock_delete, 1)), None);
    let (_, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "\nwarning: {}\n",
            note(
                &guid,
                &format!(
                    "deleting it failed: {}: {stopped}",
                    file(&guid, "certgpo-publish.lock")
                )
            )
        )),
        "{stderr}"
    );
    finished(&guid, 1);
}
