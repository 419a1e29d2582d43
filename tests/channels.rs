//! The channels a bundle carries besides the GPO (`build --channel`), each read by tools
//! that share no code with certgpo: Python's plistlib, json and PyYAML
//! (`tests/oracles/channels.py`), openssl for every embedded certificate, xmllint,
//! `ansible-playbook --syntax-check` and ansible-lint, shellcheck, sh and bash, and the
//! Linux script run against a throwaway root with Debian's update-ca-certificates, after
//! which `openssl verify` trusts a server certificate the distributed root issued. Also:
//! golden files, determinism, refusals, and hostile names in every format.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Issued, Key, certgpo, example, openssl, openssl_sha1, tree};
use serde_json::Value;

/// 2026-12-01T00:00:00Z, the time of the golden example bundle.
const EPOCH: &str = "1796083200";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `certgpo build` with SOURCE_DATE_EPOCH set; panics unless it succeeds.
fn build(out: &Path, args: &[&str]) {
    certgpo()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("build")
        .args(args)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

fn example_arg() -> String {
    example().to_string_lossy().into_owned()
}

/// Run `program args` in `dir`; the output, whatever the exit status.
fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn assert_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the Python oracle reads from a bundle's channel folders.
fn oracle(bundle: &Path) -> Value {
    let script = manifest_dir().join("tests/oracles/channels.py");
    let out = Command::new(common::SYSTEM_PYTHON)
        .arg(script)
        .arg(bundle)
        .output()
        .expect("run python3");
    let text = assert_ok(&out, "tests/oracles/channels.py");
    serde_json::from_str(&text).expect("oracle JSON")
}

fn python_ready() -> bool {
    common::require(common::SYSTEM_PYTHON, &["-c", "import plistlib, yaml"])
}

/// A certificate's DER as openssl writes it, in lowercase hex.
fn der_hex(cert: &Issued) -> String {
    let dir = cert.cert.parent().expect("folder");
    let der = dir.join("der.tmp");
    openssl(
        dir,
        &[
            "x509",
            "-in",
            &cert.cert_str(),
            "-outform",
            "DER",
            "-out",
            &der.to_string_lossy(),
        ],
    );
    let bytes = std::fs::read(&der).expect("DER written");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-1 thumbprint openssl computes for DER given as hex.
fn openssl_thumbprint_of_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    common::openssl_sha1_of(&bytes, "DER")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// A throwaway root CA, an intermediate it issued, and a server certificate the root issued.
struct Pki {
    root: Issued,
    intermediate: Issued,
    server: Issued,
}

fn pki(dir: &Path) -> Pki {
    let root = common::root_ca(dir, "root", Key::Rsa2048, "certgpo channels root");
    let intermediate = common::intermediate_ca(
        dir,
        &root,
        "int",
        Key::P256,
        "certgpo channels intermediate",
    );
    let server = common::server_cert(
        dir,
        &root,
        "server",
        Key::P256,
        "mail.channels.test",
        "DNS:mail.channels.test",
    );
    Pki {
        root,
        intermediate,
        server,
    }
}

/// A bundle of the root and the intermediate with `args`.
fn pki_bundle(dir: &Path, pki: &Pki, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut all = vec![
        "--domain",
        "channels.test",
        "--cert",
        pki.root.cert.to_str().expect("path"),
        "--cert",
        pki.intermediate.cert.to_str().expect("path"),
    ];
    all.extend_from_slice(args);
    build(&out, &all);
    out
}

// ---------------------------------------------------------------------------------
// Golden files and determinism

/// The channel folders and README.txt of the example bundle with `--channel all`, byte
/// for byte against tests/golden/channels/; every other file equals the GPO-only build.
/// `UPDATE_GOLDEN=1 cargo test --test channels` rewrites them after a deliberate change.
#[test]
fn golden_example_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let (all, gpo) = (tmp.path().join("all"), tmp.path().join("gpo"));
    build(&all, &["--cert", &example_arg(), "--channel", "all"]);
    build(&gpo, &["--cert", &example_arg()]);
    let ours = tree(&all);
    let gpo_only = tree(&gpo);
    for (rel, bytes) in &gpo_only {
        if rel != "README.txt" && rel != "SHA256SUMS" {
            assert!(ours.get(rel) == Some(bytes), "{rel} changes with --channel");
        }
    }
    let channel_files: std::collections::BTreeMap<String, Vec<u8>> = ours
        .iter()
        .filter(|(rel, _)| !gpo_only.contains_key(*rel) || *rel == "README.txt")
        .map(|(rel, bytes)| (rel.clone(), bytes.clone()))
        .collect();
    let dirs: BTreeSet<&str> = channel_files
        .keys()
        .filter_map(|rel| rel.split_once('/').map(|(d, _)| d))
        .collect();
    assert_eq!(
        dirs,
        BTreeSet::from(["ansible", "intune", "linux", "macos"])
    );

    let golden = manifest_dir().join("tests/golden/channels");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden);
        for (rel, bytes) in &channel_files {
            let p = golden.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let expected = tree(&golden);
    assert_eq!(
        channel_files.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "file list differs from tests/golden/channels"
    );
    for (rel, bytes) in &channel_files {
        assert!(
            &expected[rel] == bytes,
            "{rel} differs from tests/golden/channels (UPDATE_GOLDEN=1 to accept)"
        );
    }
    // SHA256SUMS covers the channel files too.
    if common::require("sha256sum", &["--version"]) {
        assert_ok(
            &run_in(&all, "sha256sum", &["--quiet", "-c", "SHA256SUMS"], &[]),
            "sha256sum -c",
        );
    }
}

/// Same inputs: byte-identical channel files and zips, with roots and intermediates
/// (the NSA-CERT CAs) and the time derived from the certificates.
#[test]
fn two_builds_with_every_channel_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |n: &str| {
        let out = tmp.path().join(n);
        let zip = tmp.path().join(format!("{n}.zip"));
        certgpo()
            .env_remove("SOURCE_DATE_EPOCH")
            .args(["build", "--allow-expired", "--domain", "shb.gov"])
            .args(["--channel", "intune,macos", "--channel", "linux,ansible"])
            .arg("--cert")
            .arg(example())
            .arg("--cert")
            .arg(common::data("nsa-cert/derived/ca-certs"))
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
    assert!(a.contains_key("macos/trust.mobileconfig") && a.contains_key("ansible/trust.yml"));
    assert_eq!(a, b);
    assert_eq!(za, zb);
}

// ---------------------------------------------------------------------------------
// macOS

#[test]
fn macos_profile_reads_in_plistlib_and_each_certificate_in_openssl() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let locked = pki_bundle(
        tmp.path(),
        &pki,
        "locked",
        &["--channel", "macos", "--macos-locked"],
    );
    let open = pki_bundle(tmp.path(), &pki, "open", &["--channel", "macos"]);
    let profile = |bundle: &Path| oracle(bundle)["macos"].clone();
    let (locked_p, open_p) = (profile(&locked), profile(&open));

    let top = &locked_p["top"];
    assert_eq!(top["PayloadType"], "Configuration");
    assert_eq!(top["PayloadVersion"], 1);
    assert_eq!(top["PayloadScope"], "System");
    assert_eq!(top["PayloadRemovalDisallowed"], true);
    assert_eq!(open_p["top"]["PayloadRemovalDisallowed"], false);
    // The same GPO keeps its identifier; the changed profile gets a new UUID.
    assert_eq!(top["PayloadIdentifier"], open_p["top"]["PayloadIdentifier"]);
    assert_ne!(top["PayloadUUID"], open_p["top"]["PayloadUUID"]);

    let payloads = locked_p["payloads"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 2);
    let mut uuids = BTreeSet::from([str_of(top, "PayloadUUID").to_string()]);
    for (cert, payload_type) in [
        (&pki.root, "com.apple.security.root"),
        (&pki.intermediate, "com.apple.security.pkcs1"),
    ] {
        let thumbprint = openssl_sha1(&cert.cert);
        let p = payloads
            .iter()
            .find(|p| openssl_thumbprint_of_hex(str_of(p, "PayloadContent")) == thumbprint)
            .unwrap_or_else(|| panic!("no payload holds {thumbprint}"));
        assert_eq!(str_of(p, "PayloadContent"), der_hex(cert));
        assert_eq!(p["PayloadType"], payload_type);
        assert_eq!(p["PayloadVersion"], 1);
        assert_eq!(p["PayloadCertificateFileName"], format!("{thumbprint}.cer"));
        assert!(str_of(p, "PayloadIdentifier").starts_with(str_of(top, "PayloadIdentifier")));
        let uuid = str_of(p, "PayloadUUID");
        assert!(uuid::Uuid::parse_str(uuid).is_ok() && uuid == uuid.to_ascii_uppercase());
        assert!(uuids.insert(uuid.to_string()), "duplicate UUID {uuid}");
    }
    // Payload UUIDs depend on the certificate and the GPO only.
    let open_uuids: BTreeSet<String> = open_p["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| str_of(p, "PayloadUUID").to_string())
        .collect();
    assert!(open_uuids.is_subset(&uuids));
    if common::require("xmllint", &["--version"]) {
        assert_ok(
            &run_in(
                tmp.path(),
                "xmllint",
                &["--noout", "locked/macos/trust.mobileconfig"],
                &[],
            ),
            "xmllint",
        );
    }
}

// ---------------------------------------------------------------------------------
// Intune

#[test]
fn intune_graph_objects_and_oma_uri_values_decode_to_our_certificates() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let bundle = pki_bundle(tmp.path(), &pki, "b", &["--channel", "intune"]);
    let intune = oracle(&bundle)["intune"].clone();
    let profiles = intune["profiles"].as_array().expect("profiles");
    let settings = intune["custom"]["omaSettings"]
        .as_array()
        .expect("settings");
    assert_eq!(
        intune["custom"]["@odata.type"],
        "#microsoft.graph.windows10CustomConfiguration"
    );
    assert_eq!((profiles.len(), settings.len()), (2, 2));
    for (cert, destination, node) in [
        (&pki.root, "computerCertStoreRoot", "Root"),
        (&pki.intermediate, "computerCertStoreIntermediate", "CA"),
    ] {
        let thumbprint = openssl_sha1(&cert.cert);
        let der = der_hex(cert);
        let p = profiles
            .iter()
            .find(|p| p["file"] == format!("trusted-certificate-{thumbprint}.json"))
            .unwrap_or_else(|| panic!("no Graph object for {thumbprint}"));
        assert_eq!(
            p["@odata.type"],
            "#microsoft.graph.windows81TrustedRootCertificate"
        );
        assert_eq!(p["destinationStore"], destination);
        assert_eq!(p["certFileName"], format!("{thumbprint}.cer"));
        assert_eq!(str_of(p, "trustedRootCertificate"), der);
        let uri = format!(
            "./Device/Vendor/MSFT/RootCATrustedCertificates/{node}/{thumbprint}/EncodedCertificate"
        );
        let s = settings
            .iter()
            .find(|s| s["omaUri"] == uri)
            .unwrap_or_else(|| panic!("no OMA-URI setting {uri}"));
        assert_eq!(s["@odata.type"], "#microsoft.graph.omaSettingString");
        assert_eq!(str_of(s, "value"), der);
        assert_eq!(openssl_thumbprint_of_hex(str_of(s, "value")), thumbprint);
    }
}

// ---------------------------------------------------------------------------------
// Ansible

/// `--syntax-check` on both playbooks, and with `lint` ansible-lint where it is installed.
fn check_playbooks(bundle: &Path, lint: bool) -> bool {
    if !common::require("ansible-playbook", &["--version"])
        || !common::require("ansible-doc", &["ansible.windows.win_certificate_store"])
    {
        return false;
    }
    let dir = bundle.join("ansible");
    for playbook in ["trust.yml", "remove.yml"] {
        assert_ok(
            &run_in(&dir, "ansible-playbook", &["--syntax-check", playbook], &[]),
            &format!("ansible-playbook --syntax-check {playbook}"),
        );
    }
    if lint && common::require("ansible-lint", &["--version"]) {
        // ansible-lint 6.13 logs a traceback for `!unsafe` tags while matching skip
        // comments; its verdict is the exit status.
        assert_ok(
            &run_in(
                &dir,
                "ansible-lint",
                &["--offline", "-q", "trust.yml", "remove.yml"],
                &[],
            ),
            "ansible-lint",
        );
    }
    true
}

/// `(thumbprint, store)` of every win_certificate_store task of a play.
fn store_tasks(play: &Value, state: &str) -> BTreeSet<(String, String)> {
    play["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|t| t.get("ansible.windows.win_certificate_store"))
        .map(|m| {
            assert_eq!(m["state"], state);
            assert_eq!(m["store_location"], "LocalMachine");
            let thumbprint = match m.get("thumbprint") {
                Some(t) => str_of_value(t),
                None => {
                    let path = str_of(m, "path");
                    let file = path.rsplit('\\').next().unwrap_or_default();
                    file.trim_end_matches(".cer").to_string()
                }
            };
            (thumbprint, str_of(m, "store_name").to_string())
        })
        .collect()
}

fn str_of_value(v: &Value) -> String {
    v.as_str().expect("a string").to_string()
}

#[test]
fn ansible_playbooks_pass_syntax_check_and_remove_exactly_what_they_add() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let bundle = pki_bundle(tmp.path(), &pki, "b", &["--channel", "ansible"]);
    check_playbooks(&bundle, true);
    let plays = oracle(&bundle)["ansible"].clone();
    let expected = BTreeSet::from([
        (openssl_sha1(&pki.root.cert), "Root".to_string()),
        (openssl_sha1(&pki.intermediate.cert), "CA".to_string()),
    ]);
    assert_eq!(store_tasks(&plays["trust"], "present"), expected);
    assert_eq!(store_tasks(&plays["remove"], "absent"), expected);
    assert_eq!(
        plays["trust"]["hosts"],
        "{{ certgpo_hosts | default('windows') }}"
    );
    // Each copied file is the certificate it is named after.
    for task in plays["trust"]["tasks"].as_array().unwrap() {
        if let Some(copy) = task.get("ansible.windows.win_copy") {
            let src = bundle.join("ansible").join(str_of(copy, "src"));
            let name = src.file_stem().unwrap().to_string_lossy().into_owned();
            assert_eq!(openssl_sha1(&src), name);
        }
    }

    // Every store the GPO can use has its win_certificate_store name.
    let other = pki_bundle(
        tmp.path(),
        &pki,
        "disallowed",
        &["--channel", "ansible", "--store", "disallowed"],
    );
    let plays = oracle(&other)["ansible"].clone();
    assert!(
        store_tasks(&plays["remove"], "absent")
            .iter()
            .all(|(_, store)| store == "Disallowed")
    );
}

// ---------------------------------------------------------------------------------
// Linux

/// A throwaway Debian-style system tree: update-ca-certificates' configuration, one
/// other CA already trusted (as on a real system, so that a removal rebuilds the bundle).
fn debian_root(dir: &Path) -> PathBuf {
    let root = dir.join("sysroot");
    for d in [
        "etc/ssl/certs",
        "usr/share/ca-certificates/other",
        "usr/local/share/ca-certificates",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let other = common::root_ca(dir, "other", Key::P256, "some other root");
    std::fs::copy(
        &other.cert,
        root.join("usr/share/ca-certificates/other/other.crt"),
    )
    .unwrap();
    std::fs::write(root.join("etc/ca-certificates.conf"), "other/other.crt\n").unwrap();
    root
}

/// `openssl verify` of `cert` against the store under `sysroot`, by hash directory and
/// by bundle file: both must agree.
fn trusted(sysroot: &Path, cert: &Path) -> bool {
    let certs = sysroot.join("etc/ssl/certs");
    let verify = |how: &[&str]| {
        let mut args = vec!["verify", "-no-CAstore"];
        args.extend_from_slice(how);
        args.push(cert.to_str().unwrap());
        run_in(sysroot, "openssl", &args, &[]).status.success()
    };
    let by_path = verify(&["-no-CAfile", "-CApath", certs.to_str().unwrap()]);
    let bundle = certs.join("ca-certificates.crt");
    let by_file = verify(&["-no-CApath", "-CAfile", bundle.to_str().unwrap()]);
    assert_eq!(by_path, by_file, "hash directory and bundle disagree");
    by_path
}

fn shell_checks(script: &Path) {
    let dir = script.parent().unwrap();
    let name = script.file_name().unwrap().to_str().unwrap();
    for shell in ["sh", "bash"] {
        assert_ok(
            &run_in(dir, shell, &["-n", name], &[]),
            &format!("{shell} -n"),
        );
    }
    if common::require("shellcheck", &["--version"]) {
        assert_ok(&run_in(dir, "shellcheck", &[name], &[]), "shellcheck");
    }
}

#[test]
fn linux_script_makes_openssl_trust_the_root_and_remove_undoes_it() {
    if !common::require("update-ca-certificates", &["--help"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let bundle = pki_bundle(tmp.path(), &pki, "b", &["--channel", "linux"]);
    let script = bundle.join("linux/certgpo-trust.sh");
    shell_checks(&script);
    let root_thumbprint = openssl_sha1(&pki.root.cert);
    let int_thumbprint = openssl_sha1(&pki.intermediate.cert);
    // The anchors are the roots only, each the certificate its name says.
    let anchors = common::files_in(&bundle.join("linux/anchors"));
    assert_eq!(anchors.len(), 1);
    assert_eq!(openssl_sha1(&anchors[0]), root_thumbprint);
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(!text.contains(&format!("install_anchor {int_thumbprint}")));

    let sysroot = debian_root(tmp.path());
    let root_env = sysroot.to_str().unwrap();
    update(&sysroot);
    assert!(
        !trusted(&sysroot, &pki.server.cert),
        "trusted before install"
    );

    let script_arg = script.to_str().unwrap();
    let installed = assert_ok(
        &run_in(
            tmp.path(),
            "sh",
            &[script_arg, "install"],
            &[("CERTGPO_ROOT", root_env)],
        ),
        "certgpo-trust.sh install",
    );
    assert!(installed.contains(&root_thumbprint), "{installed}");
    let anchor = sysroot.join(format!(
        "usr/local/share/ca-certificates/certgpo-{root_thumbprint}.crt"
    ));
    assert_eq!(openssl_sha1(&anchor), root_thumbprint);
    assert!(
        trusted(&sysroot, &pki.server.cert),
        "not trusted after install"
    );
    // The other CA is still there; installing twice changes nothing.
    assert!(trusted(&sysroot, &tmp.path().join("other.pem")));
    assert_ok(
        &run_in(
            tmp.path(),
            "sh",
            &[script_arg, "install"],
            &[("CERTGPO_ROOT", root_env)],
        ),
        "second install",
    );
    assert!(trusted(&sysroot, &pki.server.cert));

    assert_ok(
        &run_in(
            tmp.path(),
            "sh",
            &[script_arg, "remove"],
            &[("CERTGPO_ROOT", root_env)],
        ),
        "certgpo-trust.sh remove",
    );
    assert!(!anchor.exists());
    assert!(
        !trusted(&sysroot, &pki.server.cert),
        "still trusted after remove"
    );
    assert!(trusted(&sysroot, &tmp.path().join("other.pem")));

    // No argument, or an unknown one: usage, exit 2, nothing touched.
    for args in [vec![script_arg], vec![script_arg, "purge"]] {
        let out = run_in(tmp.path(), "sh", &args, &[("CERTGPO_ROOT", root_env)]);
        assert_eq!(out.status.code(), Some(2));
    }

    // RHEL and SUSE trees: the anchor lands in their directory and leaves again (their
    // update tools are not on this Debian machine, so the script only names them).
    for (family_dir, tool) in [
        ("etc/pki/ca-trust/source/anchors", "update-ca-trust"),
        ("etc/pki/trust/anchors", "update-ca-certificates"),
    ] {
        let other_root = tmp.path().join(tool).join(family_dir.replace('/', "_"));
        std::fs::create_dir_all(other_root.join(family_dir)).unwrap();
        let env = [("CERTGPO_ROOT", other_root.to_str().unwrap())];
        let said = assert_ok(
            &run_in(tmp.path(), "sh", &[script_arg, "install"], &env),
            "install in another family's tree",
        );
        assert!(said.contains(tool), "{said}");
        let placed = other_root
            .join(family_dir)
            .join(format!("certgpo-{root_thumbprint}.crt"));
        assert_eq!(openssl_sha1(&placed), root_thumbprint);
        assert_ok(
            &run_in(tmp.path(), "sh", &[script_arg, "remove"], &env),
            "remove in another family's tree",
        );
        assert!(!placed.exists());
    }
}

/// update-ca-certificates on the throwaway tree, as a real system has run it.
fn update(sysroot: &Path) {
    let s = |rel: &str| sysroot.join(rel).to_string_lossy().into_owned();
    assert_ok(
        &run_in(
            sysroot,
            "update-ca-certificates",
            &[
                "--certsconf",
                &s("etc/ca-certificates.conf"),
                "--certsdir",
                &s("usr/share/ca-certificates"),
                "--localcertsdir",
                &s("usr/local/share/ca-certificates"),
                "--etccertsdir",
                &s("etc/ssl/certs"),
                "--hooksdir",
                &s("etc/ca-certificates/update.d"),
            ],
            &[],
        ),
        "update-ca-certificates",
    );
}

// ---------------------------------------------------------------------------------
// Refusals

#[test]
fn stores_a_channel_cannot_express_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    for channel in ["intune", "macos", "linux", "all"] {
        let out = tmp.path().join(channel);
        let assert = certgpo()
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .args(["build", "--store", "trusted-people", "--channel", channel])
            .args(["--cert", &example_arg()])
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            stderr.contains("goes to the Trusted People store"),
            "{stderr}"
        );
        assert!(!out.exists(), "{channel}: something was written");
    }
}

// ---------------------------------------------------------------------------------
// Hostile names

/// A subject that is code in every language the channels write, with control
/// characters and a noncharacter XML forbids.
const HOSTILE_CN: &str =
    "x'\"$(touch p)`touch b`<&]]>\u{7}\u{1b}[31m\n\u{fffe}{{lookup('pipe','touch q')}}";
const HOSTILE_GPO: &str = "Tom's \"GPO\" $(touch g) {{ lookup('pipe','touch h') }} <x>&amp;";
const HOSTILE_FRIENDLY: &str = "Fr'iend \"ly\" $(touch f) {{ lookup('pipe','touch k') }} ]]>";
const MARKERS: [&str; 7] = ["p", "b", "q", "g", "h", "f", "k"];

/// What every channel shows for a name: control characters and U+FFFE become U+FFFD.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '\u{fffe}' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[test]
fn hostile_names_stay_text_in_every_format() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Every tool runs in `scratch`: a name that got executed would leave a marker there.
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let subject = format!("/CN={HOSTILE_CN}");
    openssl(
        tmp.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "hostile.key",
            "-out",
            "hostile.pem",
            "-days",
            "30",
            "-utf8",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
    let cert = tmp.path().join("hostile.pem");
    let thumbprint = openssl_sha1(&cert);
    for (n, friendly) in [None, Some(HOSTILE_FRIENDLY)].into_iter().enumerate() {
        let bundle = tmp.path().join(format!("b{n}"));
        let mut args = vec![
            "--channel",
            "all",
            "--domain",
            "hostile.test",
            "--gpo-name",
            HOSTILE_GPO,
            "--cert",
            cert.to_str().unwrap(),
        ];
        if let Some(f) = friendly {
            args.extend(["--friendly-name", f]);
        }
        build(&bundle, &args);
        let label = shown(friendly.unwrap_or(HOSTILE_CN));
        let gpo = HOSTILE_GPO;

        // XML plist: well formed, and the names read back exactly.
        let read = oracle(&bundle);
        let profile = &read["macos"];
        assert_eq!(profile["top"]["PayloadDisplayName"], gpo);
        assert_eq!(profile["payloads"][0]["PayloadDisplayName"], label.as_str());
        assert_eq!(
            openssl_thumbprint_of_hex(str_of(&profile["payloads"][0], "PayloadContent")),
            thumbprint
        );
        if common::require("xmllint", &["--version"]) {
            let file = bundle.join("macos/trust.mobileconfig");
            assert_ok(
                &run_in(
                    &scratch,
                    "xmllint",
                    &["--noout", file.to_str().unwrap()],
                    &[],
                ),
                "xmllint",
            );
        }

        // JSON.
        let intune = &read["intune"];
        assert_eq!(
            intune["profiles"][0]["displayName"],
            format!("{gpo}: {label}")
        );

        // YAML: PyYAML reads the names back exactly; Ansible prints them untemplated.
        let trust = &read["ansible"]["trust"];
        assert_eq!(
            trust["name"],
            format!("Trust the certificates of GPO '{gpo}' (certgpo)")
        );
        assert_eq!(
            trust["tasks"][1]["name"],
            format!("Copy {label} ({thumbprint})")
        );
        // ansible-lint's style rules (`name[template]`, line length) judge names as
        // if a person had written them, so only the parsers judge these playbooks.
        if check_playbooks(&bundle, false) {
            let dir = bundle.join("ansible");
            for playbook in ["trust.yml", "remove.yml"] {
                let path = dir.join(playbook);
                let listed = assert_ok(
                    &run_in(
                        &scratch,
                        "ansible-playbook",
                        &["-i", "localhost,", "--list-tasks", path.to_str().unwrap()],
                        &[],
                    ),
                    "ansible-playbook --list-tasks",
                );
                assert!(
                    listed.contains("{{ lookup('pipe','touch h') }}"),
                    "{listed}"
                );
            }
        }

        // Shell: parses, and run for real it prints the names as text.
        let script = bundle.join("linux/certgpo-trust.sh");
        shell_checks(&script);
        if common::require("update-ca-certificates", &["--help"]) {
            let sysroot = debian_root(&tmp.path().join(format!("root{n}")));
            let env = [("CERTGPO_ROOT", sysroot.to_str().unwrap())];
            let said = assert_ok(
                &run_in(&scratch, "sh", &[script.to_str().unwrap(), "install"], &env),
                "install with hostile names",
            );
            assert!(said.contains(&format!("GPO {gpo}:")), "{said}");
            assert!(
                said.contains(&format!("trusting {label} ({thumbprint})")),
                "{said}"
            );
            assert_ok(
                &run_in(&scratch, "sh", &[script.to_str().unwrap(), "remove"], &env),
                "remove with hostile names",
            );
        }
    }
    let left: Vec<String> = common::files_in(&scratch)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| MARKERS.contains(&name.as_str()))
        .collect();
    assert!(left.is_empty(), "a name was executed: {left:?}");
}
