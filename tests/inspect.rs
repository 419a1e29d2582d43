//! `certgpo inspect` on the real binary: the real GPMC backups, Samba's registry.pol
//! parser as an independent reader, zips, and every kind of malformed input.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{NSA_BACKUP, certgpo, data, files_in, tree};
use serde_json::Value;

const HORIZON_POL: &str =
    "disa-horizon/{00DF50DE-3118-4401-814A-0D2FBEB33BAB}/DomainSysvol/GPO/Machine/registry.pol";

fn inspect_json(args: &[&std::ffi::OsStr]) -> Value {
    let out = certgpo()
        .arg("inspect")
        .args(args)
        .arg("--json")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "inspect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn thumbs_in(v: &Value, store: &str) -> BTreeSet<String> {
    v["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter(|c| c["store"] == store)
        .map(|c| c["thumbprint"].as_str().expect("thumbprint").to_string())
        .collect()
}

#[test]
fn nsa_backup_lists_exactly_its_4_roots_and_33_cas() {
    if !common::require("openssl", &["version"]) {
        return;
    }
    let v = inspect_json(&[data(NSA_BACKUP).as_os_str()]);
    let roots: BTreeSet<String> = files_in(&data("nsa-cert/root-certs-pem"))
        .iter()
        .map(common::openssl_sha1)
        .collect();
    let cas: BTreeSet<String> = files_in(&data("nsa-cert/derived/ca-certs"))
        .iter()
        .map(common::openssl_sha1)
        .collect();
    assert_eq!(roots.len(), 4);
    assert_eq!(cas.len(), 33);
    assert_eq!(thumbs_in(&v, "Root"), roots);
    assert_eq!(thumbs_in(&v, "CA"), cas);
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 37, "nothing but the 37 entries");
    for c in certs {
        assert_eq!(c["gpo_name"], "DoD Root Certificates");
        assert_eq!(c["gpo_guid"], "{8EF652E3-2AAC-482D-A3C5-09CBB76B8146}");
        assert_eq!(c["format"], "registry-pol");
        let key = c["registry_key"].as_str().unwrap();
        assert!(key.ends_with(c["thumbprint"].as_str().unwrap()), "{key}");
        // Every real GPMC entry is accepted by Windows: no entry problem.
        let kinds: Vec<&str> = c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(
            kinds
                .iter()
                .all(|k| ["expired", "expires-soon", "weak-signature", "weak-key"].contains(k)),
            "{kinds:?}"
        );
    }
    // The real backup is what GPMC writes: sorted, right extension GUIDs, report in step.
    let notes = v["notes"].as_array().unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(v["backups"][0]["machine_version"], 4849738);
}

#[test]
fn nsa_backup_text_output_and_extract() {
    let tmp = tempfile::tempdir().unwrap();
    let out = certgpo()
        .arg("inspect")
        .arg(data(NSA_BACKUP))
        .arg("--extract")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Root (Trusted Root Certification Authorities): 4 certificates"));
    assert!(text.contains("CA (Intermediate Certification Authorities): 33 certificates"));
    assert!(text.contains("machine version 74"), "{text}");
    let extracted = files_in(tmp.path());
    assert_eq!(extracted.len(), 37);
    for p in &extracted {
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let der = std::fs::read(p).unwrap();
        let cert = certgpo::cert::Certificate::from_der(der).unwrap();
        assert_eq!(cert.thumbprint(), name);
    }
}

#[test]
fn csv_has_one_row_per_entry() {
    let out = certgpo()
        .arg("inspect")
        .arg(data(NSA_BACKUP))
        .arg("--csv")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = r.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        certgpo::report::CSV_HEADERS
    );
    let gpo_name = headers.iter().position(|h| h == "gpo_name").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 37);
    assert!(rows.iter().all(|r| &r[gpo_name] == "DoD Root Certificates"));
}

#[test]
fn disa_control_codes_are_interpreted() {
    let v = inspect_json(&[data(HORIZON_POL).as_os_str(), "--settings".as_ref()]);
    let settings = v["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 29);
    let actions: Vec<(&str, &str)> = settings
        .iter()
        .filter(|s| s["value"].as_str().unwrap().starts_with("**"))
        .map(|s| (s["value"].as_str().unwrap(), s["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (
                "**del.pcoip.server_clipboard_state",
                "delete value \"pcoip.server_clipboard_state\""
            ),
            ("**del.ClipboardState", "delete value \"ClipboardState\""),
            ("**delvals.", "delete every value of the key first"),
            ("**delvals.", "delete every value of the key first"),
            ("**delvals.", "delete every value of the key first"),
        ]
    );
    assert_eq!(v["files"][0]["control_codes"], 5);
    assert_eq!(v["files"][0]["entries"], 29);
    // The whole backup folder with its manifest.xml reads too, without findings.
    let v = inspect_json(&[data("disa-horizon").as_os_str()]);
    assert_eq!(v["backups"][0]["name"], "DoD - Horizon Agent");
    assert!(v["notes"].as_array().unwrap().is_empty(), "{}", v["notes"]);
    // The user-side IE11 GPO and the header-only file.
    let v = inspect_json(&[data("disa-ie11").as_os_str()]);
    assert_eq!(v["backups"][0]["options"], 2);
    let v = inspect_json(&[data("empty-registry-pol/registry.pol").as_os_str()]);
    assert_eq!(v["files"][0]["entries"], 0);
}

/// Every registry.pol under `dir`.
fn pol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in files_in(dir) {
        if p.is_dir() {
            pol_files(&p, out);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("pol")) {
            out.push(p);
        }
    }
}

/// Samba's NDR parser, with its data normalised: strings (cut at the first NUL),
/// integers, hex bytes, or null where Samba drops the data (REG_NONE).
const SAMBA_DUMP: &str = r#"
import sys, json, samba.ndr as n, samba.dcerpc.preg as p
f = n.ndr_unpack(p.file, open(sys.argv[1], 'rb').read())
out = []
for e in f.entries:
    d = e.data
    if isinstance(d, bytes): d = {'hex': d.hex().upper()}
    elif isinstance(d, list): d = {'list': d}
    out.append({'key': e.keyname, 'value': e.valuename, 'type': e.type, 'size': e.size, 'data': d})
print(json.dumps({'num_entries': f.num_entries, 'entries': out}))
"#;

/// Our entry in Samba's normalised form.
fn normalise(kind: u64, hex: &str) -> Value {
    let bytes = certgpo::hex::parse_fingerprint(hex).unwrap_or_default();
    match kind {
        0 => Value::Null,
        1 | 2 => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|u| *u != 0)
                .collect();
            Value::String(String::from_utf16(&units).unwrap())
        }
        4 => u32::from_le_bytes(bytes[..4].try_into().unwrap()).into(),
        5 => u32::from_be_bytes(bytes[..4].try_into().unwrap()).into(),
        11 => u64::from_le_bytes(bytes[..8].try_into().unwrap()).into(),
        _ => serde_json::json!({ "hex": hex }),
    }
}

fn compare_with_samba(pol: &Path) {
    let samba = Command::new(common::SYSTEM_PYTHON)
        .args(["-c", SAMBA_DUMP])
        .arg(pol)
        .output()
        .expect("python3 runs");
    assert!(
        samba.status.success(),
        "samba failed on {}: {}",
        pol.display(),
        String::from_utf8_lossy(&samba.stderr)
    );
    let samba: Value = serde_json::from_slice(&samba.stdout).unwrap();
    let ours = inspect_json(&[pol.as_os_str(), "--settings".as_ref()]);
    let ours = ours["settings"].as_array().unwrap();
    let theirs = samba["entries"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{}: entry count", pol.display());
    assert_eq!(samba["num_entries"], ours.len());
    for (i, (o, t)) in ours.iter().zip(theirs).enumerate() {
        let what = format!("{} entry #{}", pol.display(), i + 1);
        assert_eq!(o["key"], t["key"], "{what}: key");
        assert_eq!(o["value"], t["value"], "{what}: value name");
        assert_eq!(o["type"], t["type"], "{what}: type");
        assert_eq!(o["size"], t["size"], "{what}: size");
        let kind = o["type"].as_u64().unwrap();
        assert_eq!(
            normalise(kind, o["data_hex"].as_str().unwrap()),
            t["data"],
            "{what}: data"
        );
    }
}

#[test]
fn every_registry_pol_equals_samba_entry_by_entry() {
    if !common::require(common::SYSTEM_PYTHON, &["-c", "import samba.dcerpc.preg"]) {
        return;
    }
    let mut pols = Vec::new();
    pol_files(&data(""), &mut pols);
    assert!(pols.len() >= 4, "{pols:?}");
    for pol in &pols {
        compare_with_samba(pol);
    }
    // And a file with every type, control code and a key-only entry.
    use certgpo::policy::*;
    let sz = certgpo::codec::utf16le_nul;
    let e = |k: &str, v: &str, kind: u32, data: Vec<u8>| Entry {
        key: k.into(),
        value: v.into(),
        kind,
        data,
    };
    let entries = vec![
        Entry::key_only(r"Software\A"),
        e(r"Software\B", "**delvals.", REG_SZ, sz(" ")),
        e(r"Software\B", "s", REG_SZ, sz("tls1.2")),
        e(r"Software\B", "x", REG_EXPAND_SZ, sz("%SystemRoot%\\x")),
        e(r"Software\B", "d", REG_DWORD, 7u32.to_le_bytes().to_vec()),
        e(
            r"Software\B",
            "be",
            REG_DWORD_BIG_ENDIAN,
            7u32.to_be_bytes().to_vec(),
        ),
        e(
            r"Software\B",
            "q",
            REG_QWORD,
            (1u64 << 40).to_le_bytes().to_vec(),
        ),
        e(
            r"Software\B",
            "m",
            REG_MULTI_SZ,
            certgpo::codec::utf16le("a\0bc\0\0"),
        ),
        e(r"Software\B", "bin", REG_BINARY, vec![0, 1, 2, 255]),
        e(r"Software\B", "**del.old", REG_SZ, sz(" ")),
        e(r"Software\C", "**DeleteKeys", REG_SZ, sz("X;Y")),
        e(
            r"Software\C",
            "**SecureKey",
            REG_DWORD,
            1u32.to_le_bytes().to_vec(),
        ),
        e(r"Software\C", "ünïcødé ☃", REG_SZ, sz("ẞ")),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mixed.pol");
    std::fs::write(&path, write(&entries)).unwrap();
    compare_with_samba(&path);
}

fn inspect_fails(path: &Path, needles: &[&str]) {
    let out = certgpo().arg("inspect").arg(path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "nothing listed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn malformed_registry_pol_files() {
    let tmp = tempfile::tempdir().unwrap();
    let real = std::fs::read(data(HORIZON_POL)).unwrap();
    // Truncated in the middle of an entry.
    let p = write_file(tmp.path(), "truncated.pol", &real[..real.len() - 7]);
    inspect_fails(&p, &["truncated.pol", "byte offset"]);
    // Header only half there.
    let p = write_file(tmp.path(), "header.pol", b"PReg\x01\x00");
    inspect_fails(&p, &["header.pol", "PReg"]);
    // Size larger than the file (first entry's size field set to 0x7FFFFFFF).
    let mut big = real.clone();
    let first = certgpo::policy::entries(&real)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let size_at = first.offset
        + 2
        + (first.key.encode_utf16().count() + 1) * 2
        + 2
        + (first.value.encode_utf16().count() + 1) * 2
        + 2
        + 4
        + 2;
    assert_eq!(&big[size_at..size_at + 4], &[4, 0, 0, 0]);
    big[size_at..size_at + 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    let p = write_file(tmp.path(), "huge-size.pol", &big);
    inspect_fails(
        &p,
        &[
            "huge-size.pol",
            &format!("byte offset {size_at}"),
            "larger than",
        ],
    );
    // Wrong size: one byte short, so ']' is not where it should be.
    let mut wrong = real.clone();
    wrong[size_at] = 3;
    let p = write_file(tmp.path(), "wrong-size.pol", &wrong);
    inspect_fails(&p, &["wrong-size.pol", "data size"]);
    // Bad UTF-16 in a key (an unpaired low surrogate).
    let mut bad = b"PReg\x01\x00\x00\x00[\x00".to_vec();
    bad.extend_from_slice(&[0x00, 0xDC, 0, 0, b']', 0]);
    let p = write_file(tmp.path(), "bad-utf16.pol", &bad);
    inspect_fails(&p, &["bad-utf16.pol", "byte offset 10", "UTF-16"]);
}

#[test]
fn malformed_blob_reg_and_xml_files() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = std::fs::read(data(
        "nsa-cert/derived/Root-D73CA91102A2204A36459ED32213B467D7CE97FB.Blob.bin",
    ))
    .unwrap();
    // A Blob whose certificate element claims more bytes than there are.
    let p = write_file(tmp.path(), "cut.Blob.bin", &blob[..blob.len() - 100]);
    inspect_fails(&p, &["cut.Blob.bin", "byte offset", "needs"]);
    // A Blob without the certificate element.
    let p = write_file(tmp.path(), "nocert.blob", &blob[..24 + 16 - 4]);
    inspect_fails(&p, &["nocert.blob"]);

    // .reg with bad UTF-16 and with a broken hex line.
    let mut reg = vec![0xFF, 0xFE];
    reg.extend(certgpo::codec::utf16le(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n",
    ));
    let at = reg.len();
    reg.extend_from_slice(&[0x00, 0xD8, b'"', 0]);
    let p = write_file(tmp.path(), "bad.reg", &reg);
    inspect_fails(&p, &["bad.reg", &format!("byte offset {at}"), "surrogate"]);
    let p = write_file(
        tmp.path(),
        "hex.reg",
        b"Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n\"Blob\"=hex:01,zz\r\n",
    );
    inspect_fails(&p, &["hex.reg", "line 4", "hex byte #2"]);

    // A backup whose Backup.xml is cut short.
    let backup = tmp.path().join("{00000000-0000-0000-0000-000000000001}");
    std::fs::create_dir(&backup).unwrap();
    let xml = std::fs::read(data(&format!("{NSA_BACKUP}/Backup.xml"))).unwrap();
    write_file(&backup, "Backup.xml", &xml[..xml.len() / 2]);
    inspect_fails(&backup, &["Backup.xml", "malformed XML at byte offset"]);
    // A gpreport.xml with an odd number of bytes.
    let rep = std::fs::read(data(&format!("{NSA_BACKUP}/gpreport.xml"))).unwrap();
    let p = write_file(tmp.path(), "gpreport.xml", &rep[..1001]);
    inspect_fails(
        &p,
        &["gpreport.xml", "byte offset 1000", "odd number of bytes"],
    );
    // Not any format at all.
    let p = write_file(tmp.path(), "random.cer", b"\x30\x03\x02\x01");
    inspect_fails(&p, &["random.cer"]);
}

/// A zip of the NSA backup folder, as an admin would mail it.
fn zip_dir(dir: &Path, zip_path: &Path) {
    let f = std::fs::File::create(zip_path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let top = dir.file_name().unwrap().to_string_lossy();
    for (rel, bytes) in tree(dir) {
        z.start_file(format!("{top}/{rel}"), opts).unwrap();
        z.write_all(&bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn zip_of_a_backup_reads_like_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("nsa.zip");
    zip_dir(&data(NSA_BACKUP), &zip_path);
    let v = inspect_json(&[zip_path.as_os_str()]);
    assert_eq!(thumbs_in(&v, "Root").len(), 4);
    assert_eq!(thumbs_in(&v, "CA").len(), 33);
    let file = v["certificates"][0]["file"].as_str().unwrap();
    assert!(file.contains("nsa.zip!"), "{file}");
}

#[test]
fn zip_bomb_is_refused_before_inflating() {
    let tmp = tempfile::tempdir().unwrap();
    // One deflated MiB of zeros, copied raw 400 times: 400 MiB declared in a
    // file of a few hundred KiB. Nothing is inflated: the declared sizes refuse it.
    let seed = tmp.path().join("seed.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&seed).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("zeros.cer", opts).unwrap();
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        z.finish().unwrap();
    }
    let bomb = tmp.path().join("bomb.zip");
    {
        let mut src = zip::ZipArchive::new(std::fs::File::open(&seed).unwrap()).unwrap();
        let mut z = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
        for i in 0..400 {
            let entry = src.by_index_raw(0).unwrap();
            z.raw_copy_file_rename(entry, format!("z/{i}.cer")).unwrap();
        }
        z.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 << 20);
    let start = std::time::Instant::now();
    inspect_fails(&bomb, &["bomb.zip", "zip bomb"]);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // Too many entries.
    let many = tmp.path().join("many.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&many).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..50_001 {
            z.start_file(format!("{i}.txt"), opts).unwrap();
        }
        z.finish().unwrap();
    }
    inspect_fails(&many, &["many.zip", "50001 entries"]);
    // A file that only looks like a zip.
    let p = write_file(tmp.path(), "fake.zip", b"PK\x03\x04garbage");
    inspect_fails(&p, &["fake.zip", "zip"]);
}

#[test]
fn container_findings() {
    use certgpo::policy::{Entry, write};
    let tmp = tempfile::tempdir().unwrap();
    let blob = std::fs::read(data(
        "nsa-cert/derived/Root-D73CA91102A2204A36459ED32213B467D7CE97FB.Blob.bin",
    ))
    .unwrap();
    let ca_der = std::fs::read(data(
        "nsa-cert/derived/ca-certs/03611D56F253D39FDB51E192054FA8CE3006A844.cer",
    ))
    .unwrap();
    let root = r"Software\Policies\Microsoft\SystemCertificates\Root\Certificates";
    let mut minimal = vec![0x20, 0, 0, 0, 1, 0, 0, 0];
    minimal.extend_from_slice(&(ca_der.len() as u32).to_le_bytes());
    minimal.extend_from_slice(&ca_der);
    let entries = vec![
        // Named after another thumbprint.
        Entry::binary(
            format!("{root}\\0000000000000000000000000000000000000000"),
            "Blob",
            blob.clone(),
        ),
        // A non-self-signed certificate in Root (and out of order after the next key).
        Entry::binary(
            format!("{root}\\03611D56F253D39FDB51E192054FA8CE3006A844"),
            "Blob",
            minimal,
        ),
        // Properties but no 0x20 element.
        Entry::binary(
            format!("{root}\\D73CA91102A2204A36459ED32213B467D7CE97FB"),
            "Blob",
            blob[..28].to_vec(),
        ),
        Entry::key_only(r"Software\Policies\Microsoft\SystemCertificates\CA\CRLs"),
    ];
    let pol = write_file(tmp.path(), "registry.pol", &write(&entries));
    let v = inspect_json(&[pol.as_os_str()]);
    let kinds: Vec<Vec<String>> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["code"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(kinds[0].contains(&"key-mismatch".to_string()), "{kinds:?}");
    assert!(
        kinds[1].contains(&"root-not-self-signed".to_string()),
        "{kinds:?}"
    );
    assert_eq!(kinds[2][0], "unreadable-blob", "{kinds:?}");
    let msg = v["certificates"][2]["findings"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("0x20") && msg.contains("Windows ignores"),
        "{msg}"
    );
    let msg = v["certificates"][0]["findings"][0]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("Windows ignores"), "{msg}");
    let notes = v["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["code"], "registry-pol-unsorted");

    // A backup whose MachineExtensionGuids lacks the pairs, then one that is unsorted.
    for (guids, needle) in [
        ("", "lacks the Registry extension"),
        (
            "[{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}][{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]",
            "not sorted",
        ),
        (
            "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]",
            "lacks the Public Key Policies pair",
        ),
    ] {
        let dir = tmp.path().join(format!("b{}", guids.len()));
        let backup = dir.join("{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}");
        let src = data(NSA_BACKUP);
        std::fs::create_dir_all(backup.join("DomainSysvol/GPO/Machine")).unwrap();
        for f in [
            "bkupInfo.xml",
            "gpreport.xml",
            "DomainSysvol/GPO/Machine/registry.pol",
        ] {
            std::fs::copy(src.join(f), backup.join(f)).unwrap();
        }
        let xml = std::fs::read_to_string(src.join("Backup.xml")).unwrap();
        let real = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}][{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]";
        let xml = xml.replace(real, guids);
        std::fs::write(backup.join("Backup.xml"), xml).unwrap();
        let v = inspect_json(&[dir.as_os_str()]);
        let notes = v["notes"].as_array().unwrap();
        assert!(
            notes.iter().any(|n| n["code"] == "extension-guids"
                && n["message"].as_str().unwrap().contains(needle)),
            "{needle}: {notes:?}"
        );
    }
}

#[test]
fn reg_files_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = std::fs::read(data(
        "nsa-cert/derived/Root-D73CA91102A2204A36459ED32213B467D7CE97FB.Blob.bin",
    ))
    .unwrap();
    // Written the way regedit wraps hex (22 bytes, then 25 a line), in UTF-8 this time.
    let mut text = String::from(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\D73CA91102A2204A36459ED32213B467D7CE97FB]\r\n\"Blob\"=hex:",
    );
    let hex: Vec<String> = blob.iter().map(|b| format!("{b:02x}")).collect();
    text.push_str(&hex[..22].join(","));
    for chunk in hex[22..].chunks(25) {
        text.push_str(",\\\r\n  ");
        text.push_str(&chunk.join(","));
    }
    text.push_str("\r\n\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\CA\\Certificates\\03611D56F253D39FDB51E192054FA8CE3006A844]\r\n\r\n");
    let p = write_file(tmp.path(), "x.reg", text.as_bytes());
    let v = inspect_json(&[p.as_os_str()]);
    assert_eq!(
        thumbs_in(&v, "Root"),
        BTreeSet::from(["D73CA91102A2204A36459ED32213B467D7CE97FB".to_string()])
    );
    assert_eq!(v["certificates"][0]["line"], 4);
    assert_eq!(v["removals"][0]["store"], "CA");
    assert_eq!(
        v["removals"][0]["thumbprint"],
        "03611D56F253D39FDB51E192054FA8CE3006A844"
    );
}

#[test]
fn zip_entry_larger_than_declared_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("liar.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("big.cer", opts).unwrap();
        z.write_all(&vec![0x30u8; 1 << 20]).unwrap();
        z.finish().unwrap();
    }
    // Declare 100 bytes uncompressed, in the local header and the central directory.
    let mut bytes = std::fs::read(&path).unwrap();
    let patch = |bytes: &mut Vec<u8>, sig: &[u8], field: usize| {
        let at = bytes.windows(4).position(|w| w == sig).unwrap();
        bytes[at + field..at + field + 4].copy_from_slice(&100u32.to_le_bytes());
    };
    patch(&mut bytes, b"PK\x03\x04", 22);
    patch(&mut bytes, b"PK\x01\x02", 24);
    std::fs::write(&path, &bytes).unwrap();
    // The zip crate or our own cap stops it, whichever sees it first.
    inspect_fails(&path, &["liar.zip!big.cer", "declare"]);
}

#[test]
fn folder_of_backups_with_and_without_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let all = tmp.path().join("all");
    common::copy_tree(
        &data(NSA_BACKUP),
        &all.join("{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}"),
    );
    common::copy_tree(
        &data("disa-horizon/{00DF50DE-3118-4401-814A-0D2FBEB33BAB}"),
        &all.join("{00DF50DE-3118-4401-814A-0D2FBEB33BAB}"),
    );
    // Without manifest.xml, as the NSA repository ships its backups.
    let v = inspect_json(&[all.as_os_str()]);
    let names: BTreeSet<String> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "DoD Root Certificates".to_string(),
            "DoD - Horizon Agent".to_string()
        ])
    );
    assert_eq!(v["certificates"].as_array().unwrap().len(), 37);
    assert!(v["notes"].as_array().unwrap().is_empty(), "{}", v["notes"]);
    // With the Horizon manifest.xml, which does not list the NSA backup.
    std::fs::copy(data("disa-horizon/manifest.xml"), all.join("manifest.xml")).unwrap();
    let v = inspect_json(&[all.join("manifest.xml").as_os_str()]);
    let notes = v["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["code"], "manifest-unlisted-backup");
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}")
    );
}

/// A certificate name is chosen by whoever made the certificate: an ANSI escape in it
/// must not reach the admin's terminal through any human-readable listing.
#[test]
fn control_characters_in_names_never_reach_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["evil.contoso.local".to_string()]).unwrap();
    p.distinguished_name.push(
        rcgen::DnType::CommonName,
        rcgen::DnValue::Utf8String("evil\u{1b}[2J\u{1b}[31mFAKE\u{9b}1m".into()),
    );
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = tmp.path().join("evil.cer");
    std::fs::write(&cert, p.self_signed(&key).unwrap().der()).unwrap();
    let bundle = tmp.path().join("b");
    let no_controls = |what: &str, bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{what} printed a control character: {text:?}"
        );
    };
    let mut build = certgpo();
    build.args(["build", "--domain", "c.local", "--cert"]);
    build.arg(&cert).arg("--out").arg(&bundle);
    let mut inspect = certgpo();
    inspect.arg("inspect").arg(&cert);
    let mut audit = certgpo();
    audit.arg("audit").arg(&cert);
    let mut diff = certgpo();
    diff.arg("diff")
        .arg(&bundle)
        .arg(data("nsa-cert/root-certs-pem"));
    for (what, mut cmd) in [
        ("build", build),
        ("inspect", inspect),
        ("audit", audit),
        ("diff", diff),
    ] {
        let out = cmd.output().unwrap();
        no_controls(what, &out.stdout);
        no_controls(what, &out.stderr);
        if what != "build" {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("FAKE"),
                "{what} lists the certificate"
            );
        }
    }
}
