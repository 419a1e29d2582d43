//! "Independent parsers agree" (issue 2): tools that share no code with certgpo read
//! the bundles `certgpo build` writes.
//!
//! - Samba's registry.pol parser (`samba.dcerpc.preg`, tests/oracles/preg_dump.py);
//! - Wine's crypt32 and regedit (tests/oracles/wincert.c, built with mingw-w64);
//! - openssl (`pkcs7 -print_certs`, `x509 -fingerprint`, key identifiers, key sizes);
//! - xmllint (every XML file) and html5lib (report.html);
//! - sha256sum -c and unzip.
//!
//! Every test builds real bundles with the real binary from real inputs: the Exchange 2010
//! example, the NSA-CERT roots and (expired) intermediate CAs, and certificates generated
//! here with openssl (no Subject Key Identifier, ECDSA, a root + intermediate chain).
//! Expected values come from the input files, decoded and hashed in this file, never from
//! certgpo's own certificate code.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{files_in, only_backup_dir, openssl, openssl_sha1_of, openssl_stdin, tree};
use md5::Md5;
use sha1::{Digest, Sha1};

const POLICY_ROOT: &str = r"Software\Policies\Microsoft\SystemCertificates";
const MACHINE_ROOT: &str = r"HKLM\SOFTWARE\Microsoft\SystemCertificates";
/// Every store key GPMC writes (docs/spec/windows-formats.md §2.2), for `--all-stores`.
const GPMC_STORES: [&str; 10] = [
    "ACRS",
    "CA",
    "Disallowed",
    "DPNGRA",
    "FVE",
    "FVE_NKP",
    "Root",
    "Trust",
    "TrustedPeople",
    "TrustedPublisher",
];
const OID_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const OID_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
/// A GPO name that breaks every language it is not escaped for (issue 2).
const HOSTILE_GPO_NAME: &str = r#"Tom's "GPO" ]]> <&> $(calc) %PATH%"#;

// ---------------------------------------------------------------------------------------
// Inputs and the bundles built from them

/// A certificate the bundle must hold, as read from its input file.
#[derive(Clone)]
struct Expected {
    der: Vec<u8>,
    thumb: String,
    /// Policy store key name: "Root" or "CA".
    store: &'static str,
}

impl Expected {
    fn from_file(path: &Path, store: &'static str) -> Vec<Expected> {
        ders_in(path)
            .into_iter()
            .map(|der| Expected {
                thumb: upper_hex(&Sha1::digest(&der)),
                der,
                store,
            })
            .collect()
    }
}

/// Certificates in a PEM or DER file, or in every file of a directory.
fn ders_in(path: &Path) -> Vec<Vec<u8>> {
    if path.is_dir() {
        return files_in(path).iter().flat_map(|f| ders_in(f)).collect();
    }
    let bytes = fs::read(path).unwrap();
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => pem_blocks(text),
        _ => vec![bytes],
    }
}

/// The DER of every `CERTIFICATE` block of a PEM text.
fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|rest| {
            let body = rest.split("-----END CERTIFICATE-----").next().unwrap();
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .collect()
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A Windows chain check to run under Wine once the bundle's machine-store `.reg` is
/// imported.
struct ChainCheck {
    /// DER certificate the "server" presents.
    leaf: PathBuf,
    /// Names it must verify for.
    good_hosts: Vec<&'static str>,
    /// A name it must fail for with CERT_E_CN_NO_MATCH.
    bad_host: &'static str,
    /// The SSL policy error once the bundle's keys are removed again, when Wine reports
    /// one (a self-signed leaf: CERT_E_UNTRUSTEDROOT; a leaf whose issuer is gone gives a
    /// partial chain, which Wine's SSL policy does not flag, so only the chain status is
    /// checked then).
    ssl_error_after_removal: Option<u32>,
}

/// One `certgpo build` invocation and what its bundle must contain.
struct Case {
    name: &'static str,
    args: Vec<String>,
    certs: Vec<Expected>,
    /// `--blob gpmc` (true) or `--blob minimal`.
    gpmc: bool,
    friendly_name: Option<String>,
    /// Dotted OIDs of `--purpose`, in order.
    purposes: Vec<&'static str>,
    all_stores: bool,
    chain: Option<ChainCheck>,
}

/// A bundle on disk.
struct Built {
    case: Case,
    out: PathBuf,
    zip: PathBuf,
}

impl Built {
    fn file(&self, rel: &str) -> PathBuf {
        self.out.join(rel)
    }

    /// The registry.pol copy inside the GPMC backup folder.
    fn backup_policy(&self) -> PathBuf {
        only_backup_dir(&self.out).join("DomainSysvol/GPO/Machine/registry.pol")
    }

    /// Blob bytes by thumbprint, read from policy/registry.pol. certgpo's own PReg reader
    /// is good enough here: the Samba test proves those bytes independently.
    fn blobs(&self) -> BTreeMap<String, Vec<u8>> {
        let pol = fs::read(self.file("policy/registry.pol")).unwrap();
        certgpo::policy::parse(&pol)
            .unwrap()
            .into_iter()
            .filter(|e| e.value == "Blob")
            .map(|e| (e.key.rsplit('\\').next().unwrap().to_string(), e.data))
            .collect()
    }

    /// Every file of the bundle, relative path with `/`, sorted.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        tree(&self.out)
    }
}

/// Certificates generated with openssl for cases the committed data does not cover.
struct Generated {
    no_ski: PathBuf,
    ecdsa: PathBuf,
    root: PathBuf,
    intermediate: PathBuf,
    /// Root and intermediate as one DER PKCS#7, written by openssl.
    chain_p7b: PathBuf,
    /// A server certificate issued by the intermediate (not distributed; presented in
    /// the Wine chain check).
    leaf: PathBuf,
}

/// Private keys stay in the test's temporary directory and die with it.
fn generate(dir: &Path) -> Generated {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("int.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:www.chain.test.example\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )
    .unwrap();
    // One command per line (a `\` ends a Rust string line without ending the command);
    // no argument contains a space.
    let script = "
        req -x509 -newkey rsa:2048 -nodes -keyout noski.key -days 3650 -subj /CN=noski.test.example \
            -addext subjectKeyIdentifier=none -addext authorityKeyIdentifier=none \
            -addext subjectAltName=DNS:noski.test.example -out noski.pem
        req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ecdsa.key -days 3650 \
            -subj /CN=ecdsa.test.example -addext subjectAltName=DNS:ecdsa.test.example \
            -outform DER -out ecdsa.cer
        req -x509 -newkey rsa:2048 -nodes -keyout root.key -days 3650 -subj /CN=certgpo-Interop-Root \
            -out root.pem
        req -new -newkey rsa:2048 -nodes -keyout int.key -subj /CN=certgpo-Interop-Intermediate -out int.csr
        x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 2 -days 3650 -extfile int.ext \
            -out int.pem
        req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
            -subj /CN=www.chain.test.example -out leaf.csr
        x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial 3 -days 3650 -extfile leaf.ext \
            -outform DER -out leaf.cer
        crl2pkcs7 -nocrl -certfile root.pem -certfile int.pem -outform DER -out chain.p7b";
    for command in script.lines().filter(|l| !l.trim().is_empty()) {
        openssl(dir, &command.split_whitespace().collect::<Vec<_>>());
    }
    let text = openssl(dir, &["x509", "-noout", "-text", "-in", "noski.pem"]);
    assert!(
        !text.contains("Key Identifier"),
        "openssl added a key identifier to noski.pem"
    );
    Generated {
        no_ski: dir.join("noski.pem"),
        ecdsa: dir.join("ecdsa.cer"),
        root: dir.join("root.pem"),
        intermediate: dir.join("int.pem"),
        chain_p7b: dir.join("chain.p7b"),
        leaf: dir.join("leaf.cer"),
    }
}

fn path_arg(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The bundles every check runs on. The generated cases need openssl; without it they
/// are skipped loudly (and fail under CI).
fn cases(dir: &Path) -> Vec<Case> {
    let exch = common::example();
    let nsa_roots = common::data("nsa-cert/root-certs-pem");
    let nsa_cas = common::data("nsa-cert/derived/ca-certs");
    let exch_friendly = r#"Exchange 2010 CAS <mail> & "Tom's""#;
    let mut cases = vec![
        Case {
            name: "exch2010",
            args: vec![
                "--cert".into(),
                path_arg(&exch),
                "--friendly-name".into(),
                exch_friendly.into(),
                "--purpose".into(),
                "server-auth,client-auth".into(),
            ],
            certs: Expected::from_file(&exch, "Root"),
            gpmc: true,
            friendly_name: Some(exch_friendly.into()),
            purposes: vec![OID_SERVER_AUTH, OID_CLIENT_AUTH],
            all_stores: false,
            chain: None,
        },
        Case {
            name: "exch2010-minimal",
            args: vec![
                "--cert".into(),
                path_arg(&exch),
                "--blob".into(),
                "minimal".into(),
                "--friendly-name".into(),
                "EXCH2010 minimal".into(),
                "--purpose".into(),
                "server-auth".into(),
            ],
            certs: Expected::from_file(&exch, "Root"),
            gpmc: false,
            friendly_name: Some("EXCH2010 minimal".into()),
            purposes: vec![OID_SERVER_AUTH],
            all_stores: false,
            chain: Some(ChainCheck {
                leaf: exch.clone(),
                good_hosts: vec!["exch2010.contoso.local", "EXCH2010"],
                bad_host: "other.example.com",
                ssl_error_after_removal: Some(CERT_E_UNTRUSTEDROOT),
            }),
        },
        Case {
            name: "nsa-all-stores",
            args: vec![
                "--cert".into(),
                path_arg(&nsa_roots),
                "--cert".into(),
                path_arg(&nsa_cas),
                "--allow-expired".into(),
                "--all-stores".into(),
                "--domain".into(),
                "contoso.local".into(),
            ],
            certs: [
                Expected::from_file(&nsa_roots, "Root"),
                Expected::from_file(&nsa_cas, "CA"),
            ]
            .concat(),
            gpmc: true,
            friendly_name: None,
            purposes: vec![],
            all_stores: true,
            chain: None,
        },
    ];
    if !common::require("openssl", &["version"]) {
        return cases;
    }
    let g = generate(&dir.join("openssl-certs"));
    // Latin-1 only: Wine's msvcrt prints wide strings through the "C" locale, which
    // maps U+0000..U+00FF and nothing else.
    let friendly = r#"Prüfung & <Zertifikat> für "Tom's""#;
    cases.push(Case {
        name: "generated",
        args: vec![
            "--cert".into(),
            path_arg(&g.no_ski),
            "--cert".into(),
            path_arg(&g.ecdsa),
            "--cert".into(),
            path_arg(&g.chain_p7b),
            "--gpo-name".into(),
            HOSTILE_GPO_NAME.into(),
            "--domain".into(),
            "test.example".into(),
            "--friendly-name".into(),
            friendly.into(),
            "--purpose".into(),
            "server-auth".into(),
        ],
        certs: [
            Expected::from_file(&g.no_ski, "Root"),
            Expected::from_file(&g.ecdsa, "Root"),
            Expected::from_file(&g.root, "Root"),
            Expected::from_file(&g.intermediate, "CA"),
        ]
        .concat(),
        gpmc: true,
        friendly_name: Some(friendly.into()),
        purposes: vec![OID_SERVER_AUTH],
        all_stores: false,
        chain: None,
    });
    cases.push(Case {
        name: "chain-minimal",
        args: vec![
            "--cert".into(),
            path_arg(&g.chain_p7b),
            "--blob".into(),
            "minimal".into(),
            "--domain".into(),
            "test.example".into(),
        ],
        certs: [
            Expected::from_file(&g.root, "Root"),
            Expected::from_file(&g.intermediate, "CA"),
        ]
        .concat(),
        gpmc: false,
        friendly_name: None,
        purposes: vec![],
        all_stores: false,
        chain: Some(ChainCheck {
            leaf: g.leaf.clone(),
            good_hosts: vec!["www.chain.test.example"],
            bad_host: "other.example.com",
            ssl_error_after_removal: None,
        }),
    });
    cases
}

fn build(case: Case, dir: &Path) -> Built {
    let out = dir.join(case.name);
    let zip = dir.join(format!("{}.zip", case.name));
    let assert = common::certgpo()
        .arg("build")
        .arg("--out")
        .arg(&out)
        .arg("--zip")
        .arg(&zip)
        .args(&case.args)
        .env_remove("SOURCE_DATE_EPOCH")
        .assert();
    let output = assert.get_output();
    assert!(
        output.status.success(),
        "{}: certgpo build failed: {}",
        case.name,
        String::from_utf8_lossy(&output.stderr)
    );
    Built { case, out, zip }
}

fn build_all(dir: &Path) -> Vec<Built> {
    cases(dir).into_iter().map(|c| build(c, dir)).collect()
}

// ---------------------------------------------------------------------------------------
// Blob framing, read here without certgpo's parser

/// `(property id, value)` of every element; panics on a malformed Blob.
fn elements(blob: &[u8]) -> Vec<(u32, &[u8])> {
    let u32_at = |i: usize| u32::from_le_bytes(blob[i..i + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut i = 0;
    while i < blob.len() {
        assert!(i + 12 <= blob.len(), "element header past the end at {i}");
        let (id, reserved, len) = (u32_at(i), u32_at(i + 4), u32_at(i + 8) as usize);
        assert_eq!(reserved, 1, "reserved field of element at {i}");
        assert!(
            i + 12 + len <= blob.len(),
            "element 0x{id:02X} runs past the end"
        );
        out.push((id, &blob[i + 12..i + 12 + len]));
        i += 12 + len;
    }
    out
}

fn property(blob: &[u8], id: u32) -> Option<&[u8]> {
    elements(blob)
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, v)| v)
}

/// The Blob without the elements `drop` names, re-framed.
fn without(blob: &[u8], drop: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, value) in elements(blob) {
        if !drop.contains(&id) {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
    }
    out
}

fn utf16le_nul(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(|u| u.to_le_bytes())
        .collect()
}

/// Check one Blob against the certificate file it came from and the options given.
fn check_blob(case: &Case, cert: &Expected, blob: &[u8]) {
    let ctx = format!("{} / {} ({})", case.name, cert.thumb, cert.store);
    let els = elements(blob);
    let ids: Vec<u32> = els.iter().map(|(id, _)| *id).collect();
    let (last_id, last_value) = *els.last().unwrap();
    assert_eq!(last_id, 0x20, "{ctx}: the certificate element must be last");
    assert!(last_value == cert.der, "{ctx}: 0x20 is not the input DER");

    // GPMC's order for the store (docs/spec/windows-formats.md §3.3); then --purpose,
    // --friendly-name, the cert.
    let mut expected: Vec<u32> = match (case.gpmc, cert.store) {
        (false, _) => vec![],
        (true, "CA") => vec![0x04, 0x0F, 0x14, 0x19, 0x5C, 0x03],
        (true, _) => vec![0x04, 0x0F, 0x14, 0x19, 0x03, 0x5C],
    };
    if !case.purposes.is_empty() {
        expected.push(0x09);
    }
    if case.friendly_name.is_some() {
        expected.push(0x0B);
    }
    expected.push(0x20);
    assert_eq!(ids, expected, "{ctx}: property ids and order");

    if case.gpmc {
        assert_eq!(
            property(blob, 0x03).unwrap(),
            Sha1::digest(&cert.der).as_slice(),
            "{ctx}: SHA1_HASH"
        );
        assert_eq!(
            property(blob, 0x04).unwrap(),
            Md5::digest(&cert.der).as_slice(),
            "{ctx}: MD5_HASH"
        );
    }
    if let Some(name) = &case.friendly_name {
        assert_eq!(
            property(blob, 0x0B).unwrap(),
            utf16le_nul(name).as_slice(),
            "{ctx}: FRIENDLY_NAME is UTF-16LE with its NUL"
        );
    }
    if !case.purposes.is_empty() {
        use der::Decode;
        let oids =
            Vec::<der::asn1::ObjectIdentifier>::from_der(property(blob, 0x09).unwrap()).unwrap();
        let oids: Vec<String> = oids.iter().map(|o| o.to_string()).collect();
        assert_eq!(oids, case.purposes, "{ctx}: ENHKEY_USAGE");
    }
}

// ---------------------------------------------------------------------------------------
// 1. Samba reads every registry.pol

#[derive(serde::Deserialize)]
struct PolFile {
    path: String,
    signature: String,
    version: u32,
    num_entries: u32,
    entries: Vec<PolEntry>,
}

#[derive(serde::Deserialize)]
struct PolEntry {
    key: String,
    value: String,
    #[serde(rename = "type")]
    kind: u32,
    data: Option<String>,
}

fn samba_decode(files: &[&Path]) -> Vec<PolFile> {
    serde_json::from_value(common::samba_preg(files)).unwrap()
}

#[test]
fn samba_reads_every_registry_pol() {
    // The pyenv python3 on PATH has no Samba bindings: use Debian's, which python3-samba
    // gives samba.dcerpc.preg (the skip names the import error).
    if !common::require(
        common::SYSTEM_PYTHON,
        &["-c", "import samba.ndr, samba.dcerpc.preg"],
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for b in build_all(tmp.path()) {
        let case = &b.case;
        let pol = b.file("policy/registry.pol");
        let backup = b.backup_policy();
        assert_eq!(
            fs::read(&pol).unwrap(),
            fs::read(&backup).unwrap(),
            "{}: policy/registry.pol and the backup's copy differ",
            case.name
        );

        let used: BTreeSet<&str> = case.certs.iter().map(|c| c.store).collect();
        let mut empty_keys: BTreeSet<String> = used
            .iter()
            .flat_map(|s| ["CRLs", "CTLs"].map(|sub| format!(r"{POLICY_ROOT}\{s}\{sub}")))
            .collect();
        if case.all_stores {
            for s in GPMC_STORES.iter().filter(|s| !used.contains(*s)) {
                for sub in ["Certificates", "CRLs", "CTLs"] {
                    empty_keys.insert(format!(r"{POLICY_ROOT}\{s}\{sub}"));
                }
            }
        }
        let certs: BTreeMap<String, &Expected> = case
            .certs
            .iter()
            .map(|c| {
                (
                    format!(r"{POLICY_ROOT}\{}\Certificates\{}", c.store, c.thumb),
                    c,
                )
            })
            .collect();

        for file in samba_decode(&[&pol, &backup]) {
            let ctx = format!("{}: {}", case.name, file.path);
            assert_eq!(file.signature, "PReg", "{ctx}");
            assert_eq!(file.version, 1, "{ctx}");
            assert_eq!(file.num_entries as usize, file.entries.len(), "{ctx}");
            assert_eq!(
                file.entries.len(),
                certs.len() + empty_keys.len(),
                "{ctx}: entry count"
            );
            let keys: BTreeSet<String> = file.entries.iter().map(|e| e.key.clone()).collect();
            let want: BTreeSet<String> = certs.keys().cloned().chain(empty_keys.clone()).collect();
            assert_eq!(keys, want, "{ctx}: keys");
            for e in &file.entries {
                if let Some(cert) = certs.get(&e.key) {
                    assert_eq!(e.value, "Blob", "{ctx}: value name of {}", e.key);
                    assert_eq!(e.kind, 3, "{ctx}: {} must be REG_BINARY", e.key);
                    let data = from_hex(e.data.as_deref().unwrap_or_default());
                    check_blob(case, cert, &data);
                } else {
                    // GPMC's empty store keys: no value name, REG_NONE, no data.
                    assert_eq!(e.value, "", "{ctx}: {}", e.key);
                    assert_eq!(e.kind, 0, "{ctx}: {} must be REG_NONE", e.key);
                    assert_eq!(e.data, None, "{ctx}: {} must have no data", e.key);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Wine's crypt32 and regedit

/// Run a command with a deadline, output captured in files (a pipe could fill up, or be
/// held open by a wineserver the command started). Killed after `limit`.
fn run_with_timeout(mut cmd: Command, limit: Duration, scratch: &Path) -> Result<Output, String> {
    let (out_path, err_path) = (scratch.join("cmd.stdout"), scratch.join("cmd.stderr"));
    let files = fs::File::create(&out_path).and_then(|o| Ok((o, fs::File::create(&err_path)?)));
    let (out_file, err_file) = files.map_err(|e| format!("scratch files: {e}"))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {limit:?}; killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: fs::read(out_path).unwrap_or_default(),
        stderr: fs::read(err_path).unwrap_or_default(),
    })
}

const WINE_LIMIT: Duration = Duration::from_secs(120);

/// A private, throw-away Wine prefix; its wineserver is killed when this is dropped,
/// even when a check panics.
struct Wine {
    prefix: tempfile::TempDir,
    scratch: tempfile::TempDir,
    wincert: PathBuf,
}

impl Wine {
    fn new(wincert: PathBuf) -> Wine {
        Wine {
            prefix: tempfile::Builder::new()
                .prefix("certgpo-wine-")
                .tempdir()
                .unwrap(),
            scratch: tempfile::tempdir().unwrap(),
            wincert,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            // No Mono/Gecko install prompts while the prefix is created.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    fn wine(&self, args: &[&str]) -> Output {
        let mut c = self.command("wine");
        c.args(args);
        run_with_timeout(c, WINE_LIMIT, self.scratch.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn wincert(&self, args: &[&str]) -> Output {
        let exe = path_arg(&self.wincert);
        let mut all = vec![exe.as_str()];
        all.extend(args);
        self.wine(&all)
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let mut kill = self.command("wineserver");
        kill.arg("-k");
        if let Err(e) = run_with_timeout(kill, Duration::from_secs(30), self.scratch.path()) {
            eprintln!("wineserver -k: {e}");
        }
    }
}

/// A Unix path as Wine's programs see it (drive Z: is the Unix root).
fn win_path(p: &Path) -> String {
    format!("Z:{}", p.to_str().unwrap().replace('/', "\\"))
}

/// Machine-store key name of a policy store name (docs/spec/windows-formats.md §6).
fn machine_store(store: &str) -> &str {
    match store {
        "Root" => "ROOT",
        other => other,
    }
}

fn stdout(o: &Output) -> String {
    // Wine's msvcrt writes wide strings in the "C" locale: one byte per char, Latin-1.
    o.stdout.iter().map(|&b| b as char).collect()
}

/// `Blob` values under `HKLM\SOFTWARE\Microsoft\SystemCertificates\<store>\Certificates`,
/// by thumbprint, as `wine reg query /s` shows them.
fn reg_blobs(wine: &Wine, store: &str) -> BTreeMap<String, Vec<u8>> {
    let key = format!(r"{MACHINE_ROOT}\{}\Certificates", machine_store(store));
    let out = wine.wine(&["reg", "query", &key, "/s"]);
    let text = stdout(&out);
    let mut blobs = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if line.starts_with("HKEY_") {
            current = line.rsplit('\\').next().map(str::to_string);
        } else if let [name, kind, hex] = line.split_whitespace().collect::<Vec<_>>()[..]
            && name == "Blob"
        {
            assert_eq!(kind, "REG_BINARY", "{line}");
            blobs.insert(current.clone().unwrap(), from_hex(hex));
        }
    }
    blobs
}

/// `(chain trust error status, SSL policy error)` of `wincert chain`.
fn chain(wine: &Wine, leaf: &Path, host: &str) -> (u32, u32) {
    let out = wine.wincert(&["chain", &win_path(leaf), host]);
    let text = stdout(&out);
    let field = |name: &str| {
        let v = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in wincert output: {text}"));
        u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
    };
    (field("trust-error-status="), field("ssl-policy-error="))
}

const CERT_E_UNTRUSTEDROOT: u32 = 0x800B_0109;
const CERT_E_CN_NO_MATCH: u32 = 0x800B_010F;

fn compile_wincert(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/wincert.c");
    let exe = dir.join("wincert.exe");
    let out = Command::new("x86_64-w64-mingw32-gcc")
        .args(["-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .arg("-lcrypt32")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cannot compile wincert.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// All Wine checks share one prefix (creating it takes 10-30 s and ~700 MB), so they
/// live in this one test.
#[test]
fn wine_crypt32_and_regedit_accept_the_bundle() {
    if !common::require("wine", &["--version"])
        || !common::require("wineserver", &["--version"])
        || !common::require("x86_64-w64-mingw32-gcc", &["--version"])
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let built = build_all(tmp.path());
    let wine = Wine::new(compile_wincert(tmp.path()));

    // crypt32 deserializes every Blob and reports what we wrote.
    for b in &built {
        let case = &b.case;
        let blobs = b.blobs();
        for cert in &case.certs {
            // Wine 8 rejects the whole element on a property it does not know, and 0x5C
            // (key bit length, which GPMC writes) is one
            // (docs/spec/windows-formats.md §3.5, §10).
            let blob = without(&blobs[&cert.thumb], &[0x5C]);
            let file = tmp
                .path()
                .join(format!("{}-{}.blob", case.name, cert.thumb));
            fs::write(&file, &blob).unwrap();
            let out = wine.wincert(&["blob", &win_path(&file)]);
            let text = stdout(&out);
            assert!(
                out.status.success(),
                "{}: crypt32 refused the Blob of {}: {text}",
                case.name,
                cert.thumb
            );
            let fields: Vec<&str> = text.trim_end().split('\t').collect();
            let ctx = format!("{} / {}: wincert said {text:?}", case.name, cert.thumb);
            assert_eq!(fields.len(), 5, "{ctx}");
            assert_eq!(fields[0], cert.thumb, "{ctx}: thumbprint");
            assert_eq!(
                fields[2],
                case.friendly_name.as_deref().unwrap_or("-"),
                "{ctx}: friendly name"
            );
            let eku = if case.purposes.is_empty() {
                "-".to_string()
            } else {
                case.purposes.join(",")
            };
            assert_eq!(fields[3], eku, "{ctx}: EKU");
            assert_eq!(fields[4], cert.der.len().to_string(), "{ctx}: DER length");
        }
    }

    // regedit imports the machine-store .reg; reg query returns our Blob bytes; removal
    // deletes exactly those keys. crypt32 copies the host's root certificates into
    // HKLM\...\ROOT the first time a ROOT store is opened: open it once now, so that the
    // before/after comparison sees only what the .reg files do.
    let out = wine.wincert(&["store", "lm", "ROOT"]);
    assert!(
        out.status.success(),
        "wincert store lm ROOT: {}",
        stdout(&out)
    );
    for b in &built {
        let case = &b.case;
        let blobs = b.blobs();
        let stores: BTreeSet<&str> = case.certs.iter().map(|c| c.store).collect();
        let import = |rel: &str| {
            let out = wine.wine(&["regedit", "/S", &win_path(&b.file(rel))]);
            assert!(
                out.status.success(),
                "{}: regedit /S {rel} failed",
                case.name
            );
        };

        let snapshot = || {
            let mut all = BTreeMap::new();
            for s in &stores {
                all.extend(reg_blobs(&wine, s));
            }
            all
        };
        let before = snapshot();
        import("reg/trust-machine-store.reg");
        let in_registry = snapshot();
        for cert in &case.certs {
            let got = in_registry.get(&cert.thumb).unwrap_or_else(|| {
                panic!(
                    "{}: {} missing from {MACHINE_ROOT}\\{}\\Certificates after import",
                    case.name,
                    cert.thumb,
                    machine_store(cert.store)
                )
            });
            assert!(
                *got == blobs[&cert.thumb],
                "{}: the imported Blob of {} differs from registry.pol's",
                case.name,
                cert.thumb
            );
        }

        // Wine's registry store reader, like its Blob reader, drops a Blob holding 0x5C: a
        // GPMC-style Blob is invisible to Wine's chain engine (`store lm ROOT` does not
        // list it; a chain ends in CERT_E_UNTRUSTEDROOT). So the store and chain checks run
        // on `--blob minimal` bundles; Windows itself reads both styles
        // (docs/spec/windows-formats.md §3.6).
        if !case.gpmc {
            for s in &stores {
                let out = wine.wincert(&["store", "lm", machine_store(s)]);
                let text = stdout(&out);
                for cert in case.certs.iter().filter(|c| c.store == *s) {
                    assert!(
                        text.lines()
                            .any(|l| l.starts_with(&format!("{}\t", cert.thumb))),
                        "{}: crypt32's {s} store does not list {}: {text}",
                        case.name,
                        cert.thumb
                    );
                }
            }
        }
        if let Some(check) = &case.chain {
            for host in &check.good_hosts {
                assert_eq!(
                    chain(&wine, &check.leaf, host),
                    (0, 0),
                    "{}: chain for {host} must be trusted and match the name",
                    case.name
                );
            }
            let (_, ssl) = chain(&wine, &check.leaf, check.bad_host);
            assert_eq!(
                ssl, CERT_E_CN_NO_MATCH,
                "{}: chain for {} must fail the name check",
                case.name, check.bad_host
            );
        }

        import("reg/remove-machine-store.reg");
        let after = snapshot();
        for cert in &case.certs {
            assert!(
                !after.contains_key(&cert.thumb),
                "{}: {} still in the registry after remove-machine-store.reg",
                case.name,
                cert.thumb
            );
        }
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "{}: remove-machine-store.reg must leave every other certificate key alone; changed: {changed:?} ({} before, {} after)",
            case.name,
            before.len(),
            after.len()
        );
        if let Some(check) = &case.chain {
            // The trust came from our keys: without them the chain is not trusted.
            let (trust, ssl) = chain(&wine, &check.leaf, check.good_hosts[0]);
            assert!(
                trust != 0,
                "{}: chain still trusted after removal (ssl error 0x{ssl:08X})",
                case.name
            );
            if let Some(want) = check.ssl_error_after_removal {
                assert_eq!(ssl, want, "{}: SSL policy error after removal", case.name);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. openssl

#[test]
fn openssl_reads_the_certificates() {
    if !common::require("openssl", &["version"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for b in build_all(tmp.path()) {
        let case = &b.case;
        let want: BTreeSet<String> = case
            .certs
            .iter()
            .map(|c| {
                let fp = openssl_sha1_of(&c.der, "DER");
                assert_eq!(fp, c.thumb, "openssl and SHA-1 of the input disagree");
                fp
            })
            .collect();

        // certificates.p7b holds exactly our certificates.
        let p7b = b.file("certs/certificates.p7b");
        let out = Command::new("openssl")
            .args(["pkcs7", "-inform", "DER", "-print_certs", "-in"])
            .arg(&p7b)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: openssl pkcs7 refused certificates.p7b: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = String::from_utf8(out.stdout).unwrap();
        let blocks: Vec<&str> = listed
            .split_inclusive("-----END CERTIFICATE-----")
            .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
            .collect();
        assert_eq!(blocks.len(), case.certs.len(), "{}: p7b count", case.name);
        let got: BTreeSet<String> = blocks
            .iter()
            .map(|b| openssl_sha1_of(b.as_bytes(), "PEM"))
            .collect();
        assert_eq!(got, want, "{}: certificates.p7b", case.name);

        // certs/<THUMB>.cer and .pem: named for their fingerprint, the input's bytes.
        let mut names = BTreeSet::new();
        for (rel, bytes) in b.files() {
            let Some(name) = rel.strip_prefix("certs/") else {
                continue;
            };
            if name == "certificates.p7b" {
                continue;
            }
            let (stem, ext) = name.rsplit_once('.').unwrap();
            let inform = match ext {
                "cer" => "DER",
                "pem" => "PEM",
                other => panic!("{}: unexpected file certs/{name} ({other})", case.name),
            };
            assert_eq!(
                openssl_sha1_of(&bytes, inform),
                stem,
                "{}: certs/{name}",
                case.name
            );
            if ext == "cer" {
                let cert = case.certs.iter().find(|c| c.thumb == stem).unwrap();
                assert!(
                    bytes == cert.der,
                    "{}: certs/{name} is not the input",
                    case.name
                );
            }
            names.insert(name.to_string());
        }
        let want_names: BTreeSet<String> = want
            .iter()
            .flat_map(|t| [format!("{t}.cer"), format!("{t}.pem")])
            .collect();
        assert_eq!(names, want_names, "{}: files under certs/", case.name);

        // The key-derived Blob properties agree with openssl's view of the key.
        if case.gpmc {
            let blobs = b.blobs();
            for cert in &case.certs {
                check_key_properties_with_openssl(case.name, cert, &blobs[&cert.thumb]);
            }
        }
    }
}

/// KEY_IDENTIFIER (0x14) is the SKI openssl shows, or, without one, SHA-1 of the
/// SubjectPublicKeyInfo openssl exports (docs/spec/windows-formats.md §10); KEY_BIT_LENGTH
/// (0x5C) is openssl's key size.
fn check_key_properties_with_openssl(case: &str, cert: &Expected, blob: &[u8]) {
    let ctx = format!("{case} / {}", cert.thumb);
    let text = openssl_stdin(&["x509", "-inform", "DER", "-noout", "-text"], &cert.der);
    let text = String::from_utf8_lossy(&text);
    let ski = text
        .lines()
        .skip_while(|l| !l.contains("Subject Key Identifier"))
        .nth(1)
        .map(|l| from_hex(&l.trim().replace(':', "")));
    let key_id = match ski {
        Some(ski) => ski,
        None => {
            let pem = openssl_stdin(&["x509", "-inform", "DER", "-noout", "-pubkey"], &cert.der);
            let spki = openssl_stdin(&["pkey", "-pubin", "-outform", "DER"], &pem);
            assert!(!spki.is_empty(), "{ctx}: openssl pkey gave no SPKI");
            Sha1::digest(&spki).to_vec()
        }
    };
    assert_eq!(
        property(blob, 0x14).unwrap(),
        key_id.as_slice(),
        "{ctx}: KEY_IDENTIFIER"
    );
    let bits: u32 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Public-Key: ("))
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{ctx}: no key size in openssl's text"))
        .parse()
        .unwrap();
    assert_eq!(
        property(blob, 0x5C).unwrap(),
        bits.to_le_bytes().as_slice(),
        "{ctx}: KEY_BIT_LENGTH"
    );
}

// ---------------------------------------------------------------------------------------
// 4. xmllint and html5lib

#[test]
fn xmllint_finds_every_xml_well_formed() {
    if !common::require("xmllint", &["--version"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for b in build_all(tmp.path()) {
        let files = b.files();
        let xml: Vec<&String> = files.keys().filter(|p| p.ends_with(".xml")).collect();
        let names: BTreeSet<&str> = xml.iter().map(|p| p.rsplit('/').next().unwrap()).collect();
        assert_eq!(xml.len(), 4, "{}: XML files {xml:?}", b.case.name);
        assert_eq!(
            names,
            BTreeSet::from(["manifest.xml", "Backup.xml", "bkupInfo.xml", "gpreport.xml"]),
            "{}",
            b.case.name
        );
        for rel in xml {
            if rel.ends_with("gpreport.xml") {
                assert_eq!(
                    &files[rel][..2],
                    &[0xFF, 0xFE],
                    "gpreport.xml has a UTF-16LE BOM"
                );
            }
            let out = Command::new("xmllint")
                .arg("--noout")
                .arg(b.file(rel))
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{}: xmllint {rel}: {}",
                b.case.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // report.html is HTML5, which xmllint's HTML 4 parser does not know.
        if let Some(errors) = common::html5_errors(&b.file("report/report.html")) {
            assert!(
                errors.is_empty(),
                "{}: html5lib report.html: {errors:?}",
                b.case.name
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. sha256sum and unzip

#[test]
fn sha256sum_and_unzip_agree_with_the_bundle() {
    if !common::require("sha256sum", &["--version"]) || !common::require("unzip", &["-v"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for b in build_all(tmp.path()) {
        let name = b.case.name;
        let files = b.files();

        let out = Command::new("sha256sum")
            .args(["--strict", "-c", "SHA256SUMS"])
            .current_dir(&b.out)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: sha256sum -c: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
        let listed: BTreeSet<&str> = sums
            .lines()
            .map(|l| l.split_once("  ").unwrap().1)
            .collect();
        let others: BTreeSet<&str> = files
            .keys()
            .map(String::as_str)
            .filter(|p| *p != "SHA256SUMS")
            .collect();
        assert_eq!(listed, others, "{name}: SHA256SUMS covers every other file");

        let out = Command::new("unzip")
            .arg("-t")
            .arg(&b.zip)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: unzip -t: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let unpacked = tmp.path().join(format!("{name}-unzipped"));
        let out = Command::new("unzip")
            .arg("-q")
            .arg(&b.zip)
            .arg("-d")
            .arg(&unpacked)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: unzip");
        let zipped = tree(&unpacked);
        assert_eq!(
            zipped.keys().collect::<Vec<_>>(),
            files.keys().collect::<Vec<_>>(),
            "{name}: zip entries"
        );
        for (rel, bytes) in &files {
            assert!(zipped[rel] == *bytes, "{name}: {rel} differs in the zip");
        }
    }
}
