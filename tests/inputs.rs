//! Every input is read within a limit, and none can hang a command (issue 9, items 1
//! and 2). For each kind of input and each command that reads it: a device
//! (`/dev/zero`), a named pipe (`mkfifo`), a file one byte over its kind's limit (sparse,
//! so the test costs no disk), and the sparse 2 GB registry.pol of the issue. Each must
//! fail at once with a message naming the path and exit code 2, in little memory: every
//! run is under `ulimit -v` (1 GiB), killed after 30 s, and its peak resident set is
//! measured with GNU time. Before the fix, `/dev/zero` grew until the OOM killer came and
//! a named pipe waited forever; here either fails the test instead.
//!
//! Process substitution, `<(cat file)`, keeps working, under the same limits, and a
//! pipe that stays silent is given up after 30 s.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Bounded, certgpo_bounded};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A refusal may use this much memory (the debug binary alone is about 13 MiB); the
/// runaway reads of the issue took gigabytes.
const REFUSAL_PEAK_KIB: u64 = 64 * 1024;

fn tools() -> bool {
    common::require("/usr/bin/time", &["--version"])
        && common::require("timeout", &["--version"])
        && common::require("bash", &["--version"])
}

/// A throwaway folder with the inputs every case uses.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    /// None when a tool the tests need is missing (see `common::require`).
    fn new() -> Option<Scene> {
        if !tools() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let s = Scene { dir };
        let status = std::process::Command::new("mkfifo")
            .arg(s.path("fifo"))
            .status()
            .expect("run mkfifo");
        assert!(status.success(), "mkfifo");
        std::fs::copy(common::example(), s.path("good.cer")).expect("copy a certificate");
        Some(s)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A file of `len` bytes starting with `head`, the rest a hole.
    fn sparse(&self, rel: &str, head: &[u8], len: u64) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, head).expect("write");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_len(len))
            .expect("extend");
        p
    }

    fn run(&self, script: &str) -> Bounded {
        certgpo_bounded(self.dir.path(), script, 30)
    }
}

/// `run` ended with `code`, saying `needle` on standard error.
fn said(run: &Bounded, code: i32, needle: &str) {
    assert_eq!(
        run.code,
        Some(code),
        "{}: exit code (None: killed after the time limit); stderr: {}",
        run.script,
        run.stderr
    );
    assert!(
        run.stderr.contains(needle),
        "{}: {needle:?} not in stderr: {}",
        run.script,
        run.stderr
    );
}

/// `script` fails at once, with exit code 2, in little memory, saying `needle`.
fn refused(scene: &Scene, script: &str, needle: &str) {
    let run = scene.run(script);
    said(&run, 2, needle);
    assert!(
        run.peak_kib > 0 && run.peak_kib < REFUSAL_PEAK_KIB,
        "{script}: peak memory {} KiB",
        run.peak_kib
    );
    assert!(
        run.elapsed < Duration::from_secs(15),
        "{script}: took {:?}",
        run.elapsed
    );
}

/// Every command line that reads `PATH` as the given kind of input, with the option
/// (or argument name) its messages use for it.
const READERS: &[(&str, &str)] = &[
    ("certgpo inspect PATH", ""),
    ("certgpo audit PATH", ""),
    ("certgpo diff PATH good.cer", "OLD "),
    ("certgpo diff good.cer PATH", "NEW "),
    (
        "certgpo build --cert PATH --domain contoso.local --out out",
        "--cert ",
    ),
    ("certgpo build --base PATH --out out", "--base "),
    (
        "certgpo build --discover PATH --expect 0123456789ABCDEF0123456789ABCDEF01234567 --domain contoso.local --out out",
        "--discover ",
    ),
    ("certgpo fetch --targets-file PATH", "--targets-file "),
    (
        "certgpo discover --ldap ldaps://127.0.0.1:1 --ldap-ca PATH",
        "--ldap-ca ",
    ),
    (
        "certgpo discover --ldap ldaps://127.0.0.1:1 --user admin@contoso.com --password-file PATH",
        "--password-file ",
    ),
    // No option name: the lock file may be the default one beside --out.
    (
        "certgpo build --fetch 127.0.0.1:1 --lock PATH --domain contoso.local --out out",
        "",
    ),
];

/// Every reader refuses `path`, saying it is `what`.
fn every_reader_refuses(scene: &Scene, path: &str, what: &str) {
    for (command, option) in READERS {
        refused(
            scene,
            &command.replace("PATH", path),
            &format!("{option}{path}: {what}, not a file"),
        );
    }
}

#[test]
fn devices_are_refused_by_name() {
    let Some(scene) = Scene::new() else { return };
    every_reader_refuses(&scene, "/dev/zero", "a character device");
}

#[test]
fn named_pipes_are_refused_not_waited_on() {
    let Some(scene) = Scene::new() else { return };
    every_reader_refuses(&scene, "fifo", "a named pipe (FIFO)");
    // The issue's case: a registry.pol inside a backup that is a named pipe.
    std::fs::create_dir(scene.path("gpo")).unwrap();
    std::fs::rename(scene.path("fifo"), scene.path("gpo/registry.pol")).unwrap();
    refused(
        &scene,
        "certgpo inspect gpo/registry.pol",
        "gpo/registry.pol: a named pipe (FIFO), not a file",
    );
    // Walking the folder skips it (only regular files are listed).
    let run = scene.run("certgpo inspect gpo");
    said(
        &run,
        0,
        "gpo: no certificate file, registry.pol, .reg, backup or zip found",
    );
}

/// The issue's 2 GB sparse registry.pol costs 8 bytes to refuse when it is not one,
/// and nothing but its size when it is.
#[test]
fn a_2_gb_registry_pol_is_refused_from_its_first_bytes() {
    let Some(scene) = Scene::new() else { return };
    scene.sparse("not.pol", b"", 2 << 30);
    refused(
        &scene,
        "certgpo inspect not.pol",
        "not.pol: not a registry.pol file: it must start with \"PReg\" version 1",
    );
    scene.sparse("huge.pol", b"PReg\x01\x00\x00\x00", 2 << 30);
    refused(
        &scene,
        "certgpo inspect huge.pol",
        "huge.pol: 2147483648 bytes or more; a registry.pol is at most 64 MiB",
    );
    // Inside a backup folder, read by name.
    scene.sparse("backup/DomainSysvol/GPO/Machine/registry.pol", b"", 2 << 30);
    std::fs::write(scene.path("backup/bkupInfo.xml"), BKUP_INFO).unwrap();
    refused(
        &scene,
        "certgpo inspect backup",
        "registry.pol: not a registry.pol file",
    );
}

const BKUP_INFO: &str = r#"<BackupInst xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"><GPOGuid><![CDATA[{00000000-0000-0000-0000-000000000001}]]></GPOGuid><GPODomain><![CDATA[contoso.local]]></GPODomain><GPODomainGuid><![CDATA[{00000000-0000-0000-0000-000000000002}]]></GPODomainGuid><GPODomainController><![CDATA[dc1.contoso.local]]></GPODomainController><BackupTime><![CDATA[2025-01-01T00:00:00]]></BackupTime><ID><![CDATA[{00000000-0000-0000-0000-000000000003}]]></ID><Comment><![CDATA[]]></Comment><GPODisplayName><![CDATA[test]]></GPODisplayName></BackupInst>"#;

/// One byte over each kind's limit: refused from the size, before reading. At the
/// limit, the file is read (and then judged on its content).
#[test]
fn each_kind_of_input_has_its_limit() {
    let Some(scene) = Scene::new() else { return };
    let over = |rel: &str, head: &[u8], limit: u64| {
        scene.sparse(rel, head, limit + 1);
    };
    let cases: &[(&str, &[u8], u64, &str, &str)] = &[
        (
            "big.cer",
            b"",
            16 * MIB,
            "certgpo build --cert big.cer --domain contoso.local --out out",
            "--cert big.cer: 16777217 bytes or more; a certificate file is at most 16 MiB",
        ),
        (
            "big.pem",
            b"",
            16 * MIB,
            "certgpo inspect big.pem",
            "big.pem: 16777217 bytes or more; a certificate file is at most 16 MiB",
        ),
        (
            "ca.pem",
            b"",
            16 * MIB,
            "certgpo discover --ldap ldaps://127.0.0.1:1 --ldap-ca ca.pem",
            "--ldap-ca ca.pem: 16777217 bytes or more; a certificate file is at most 16 MiB",
        ),
        (
            "big.pol",
            b"PReg\x01\x00\x00\x00",
            64 * MIB,
            "certgpo inspect big.pol",
            "big.pol: 67108865 bytes or more; a registry.pol is at most 64 MiB",
        ),
        (
            "big.reg",
            b"Windows Registry Editor Version 5.00\r\n",
            64 * MIB,
            "certgpo inspect big.reg",
            "big.reg: 67108865 bytes or more; a .reg file is at most 64 MiB",
        ),
        (
            "big.blob",
            &[0x20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            MIB,
            "certgpo inspect big.blob",
            "big.blob: 1048577 bytes or more; a Blob is at most 1 MiB",
        ),
        (
            "report/gpreport.xml",
            b"",
            64 * MIB,
            "certgpo inspect report/gpreport.xml",
            "gpreport.xml: 67108865 bytes or more; a GPMC XML file is at most 64 MiB",
        ),
        (
            "bk/Backup.xml",
            b"",
            64 * MIB,
            "certgpo inspect bk",
            "Backup.xml: 67108865 bytes or more; a GPMC XML file is at most 64 MiB",
        ),
        (
            "lock.json",
            b"",
            16 * MIB,
            "certgpo build --fetch 127.0.0.1:1 --lock lock.json --domain contoso.local --out out",
            "lock.json: 16777217 bytes or more; a lock file is at most 16 MiB",
        ),
        (
            "targets.txt",
            b"",
            4 * MIB,
            "certgpo fetch --targets-file targets.txt",
            "--targets-file targets.txt: 4194305 bytes or more; a targets file is at most 4 MiB",
        ),
        (
            "discovery.json",
            b"",
            16 * MIB,
            "certgpo build --discover discovery.json --expect 0123456789ABCDEF0123456789ABCDEF01234567 --domain contoso.local --out out",
            "--discover discovery.json: 16777217 bytes or more; a discover report is at most 16 MiB",
        ),
        (
            "password.txt",
            b"",
            4 * KIB,
            "certgpo discover --ldap ldaps://127.0.0.1:1 --user a@contoso.com --password-file password.txt",
            "--password-file password.txt: 4097 bytes or more; a password file is at most 4 KiB",
        ),
        (
            "templates/README.txt",
            b"",
            MIB,
            "certgpo build --cert good.cer --templates templates --domain contoso.local --out out",
            "README.txt: 1048577 bytes or more; a template is at most 1 MiB",
        ),
    ];
    for (rel, head, limit, script, needle) in cases {
        over(rel, head, *limit);
        refused(&scene, script, needle);
    }

    // At the limit: read, then judged on what it holds.
    scene.sparse("password.txt", b"", 4 * KIB);
    let run = scene.run("certgpo discover --ldap ldaps://127.0.0.1:1 --user a@contoso.com --password-file password.txt");
    assert!(
        !run.stderr.contains("bytes or more") && run.code == Some(2),
        "{}",
        run.stderr
    );
    let comments = "# no target on this line\n".repeat((4 * MIB / 25) as usize + 1);
    std::fs::write(scene.path("targets.txt"), &comments[..(4 * MIB) as usize]).unwrap();
    let run = scene.run("certgpo fetch --targets-file targets.txt");
    assert!(run.stderr.contains("no target given"), "{}", run.stderr);
}

/// A file that `build --base` carries over from the backup has its own limit.
#[test]
fn base_files_are_bounded() {
    let Some(scene) = Scene::new() else { return };
    let base = scene.path("base");
    common::copy_tree(&common::data(common::NSA_BACKUP), &base);
    scene.sparse(
        "base/DomainSysvol/GPO/Machine/Scripts/big.bin.ps1",
        b"",
        64 * MIB,
    );
    let run = scene.run("certgpo build --base base --cert good.cer --out out");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    scene.sparse(
        "base/DomainSysvol/GPO/Machine/Scripts/big.bin.ps1",
        b"",
        64 * MIB + 1,
    );
    refused(
        &scene,
        "certgpo build --base base --cert good.cer --out out2",
        "big.bin.ps1: 67108865 bytes or more; a file of a GPO backup is at most 64 MiB",
    );
}

/// A zip entry is held to the limit of its kind before anything is inflated.
#[test]
fn zip_entries_have_the_limit_of_their_kind() {
    use std::io::Write;
    let Some(scene) = Scene::new() else { return };
    let mut z = zip::ZipWriter::new(std::fs::File::create(scene.path("big.zip")).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    z.start_file("registry.pol", opts).unwrap();
    z.write_all(b"PReg\x01\x00\x00\x00").unwrap();
    let zeros = vec![0u8; MIB as usize];
    for _ in 0..64 {
        z.write_all(&zeros).unwrap();
    }
    z.finish().unwrap();
    refused(
        &scene,
        "certgpo inspect big.zip",
        "big.zip!registry.pol: 67108872 bytes or more; a registry.pol is at most 64 MiB",
    );
}

/// `<(command)` is read under the same limits; a zip cannot be (it is read by seeking).
#[test]
fn process_substitution_is_read_within_the_limits() {
    let Some(scene) = Scene::new() else { return };
    let run = scene.run("certgpo inspect <(cat good.cer)");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("1488ABC2B46A2C685EBDB8B67B2335A50CFF7DAE"),
        "{}",
        run.stdout
    );
    let pol = common::data(&format!(
        "{}/DomainSysvol/GPO/Machine/registry.pol",
        common::NSA_BACKUP
    ));
    let run = scene.run(&format!("certgpo inspect <(cat '{}')", pol.display()));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("37 certificate entries"),
        "{}",
        run.stdout
    );
    let run = scene.run("certgpo build --cert <(cat good.cer) --domain contoso.local --out out");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // 16 MiB and one byte of zeros: at most that much is read, then the refusal.
    let run = scene.run("certgpo inspect <(head -c 16777217 /dev/zero)");
    said(
        &run,
        2,
        "16777217 bytes or more; a certificate file is at most 16 MiB",
    );
    assert!(run.peak_kib < 96 * 1024, "peak {} KiB", run.peak_kib);
    // An endless pipe the same.
    let run = scene.run("certgpo build --cert <(cat /dev/zero) --domain contoso.local --out out2");
    said(&run, 2, "a certificate file is at most 16 MiB");
    // A zip through a pipe.
    let zip = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/fixtures/base.zip");
    refused(
        &scene,
        &format!("certgpo inspect <(cat '{}')", zip.display()),
        "a pipe; a zip is read from a file",
    );
}

/// A pipe that never delivers is given up after 30 s, with a message.
#[test]
fn a_silent_pipe_is_given_up() {
    let Some(scene) = Scene::new() else { return };
    let run = certgpo_bounded(
        scene.dir.path(),
        "certgpo inspect <(sleep 45 2>/dev/null)",
        60,
    );
    said(
        &run,
        2,
        "nothing came through the pipe for 30 s; certgpo stopped waiting",
    );
    assert!(
        run.elapsed >= Duration::from_secs(29) && run.elapsed < Duration::from_secs(44),
        "{:?}",
        run.elapsed
    );
}

/// PKCS#12 is recognised by its structure, whatever the file is called.
#[test]
fn pkcs12_is_refused_by_structure() {
    let Some(scene) = Scene::new() else { return };
    let pfx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd/fixtures/leaf.pfx");
    std::fs::copy(&pfx, scene.path("renamed.cer")).unwrap();
    for (script, option) in [
        ("certgpo inspect renamed.cer", ""),
        (
            "certgpo build --cert renamed.cer --domain contoso.local --out out",
            "",
        ),
        (
            "certgpo discover --ldap ldaps://127.0.0.1:1 --ldap-ca renamed.cer",
            "--ldap-ca: ",
        ),
    ] {
        refused(
            &scene,
            script,
            &format!(
                "{option}renamed.cer: PKCS#12 is not accepted: export the certificate without its key"
            ),
        );
    }
    let run = scene.run("certgpo inspect renamed.cer");
    assert!(
        run.stderr
            .contains("hint: openssl pkcs12 -in renamed.cer -nokeys -out renamed.pem"),
        "{}",
        run.stderr
    );
}

/// A `--cert` folder says what it left out, in one bounded line.
#[test]
fn a_cert_folder_notes_what_it_skipped() {
    let Some(scene) = Scene::new() else { return };
    std::fs::create_dir_all(scene.path("certs/old")).unwrap();
    std::fs::copy(scene.path("good.cer"), scene.path("certs/good.cer")).unwrap();
    for i in 0..8 {
        std::fs::write(scene.path(&format!("certs/notes-{i}.txt")), "x").unwrap();
    }
    let run = scene.run("certgpo build --cert certs --domain contoso.local --out out");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "note: --cert certs: skipped 1 subfolder (old) and 8 files that are not .cer .crt .pem .der .p7b .p7c (notes-0.txt, notes-1.txt, notes-2.txt, notes-3.txt, notes-4.txt and 3 more)"
        ),
        "{}",
        run.stderr
    );
}

/// Input echoed in a message is cut: a targets file line of 100,000 characters.
#[test]
fn long_input_is_cut_in_messages() {
    let Some(scene) = Scene::new() else { return };
    std::fs::write(
        scene.path("targets.txt"),
        format!("{}\n", "x:".repeat(50_000)),
    )
    .unwrap();
    let run = scene.run("certgpo fetch --targets-file targets.txt");
    said(&run, 2, "… (99900 more characters)\" is not a valid target");
    assert!(run.stderr.len() < 1000, "{} bytes", run.stderr.len());
}
