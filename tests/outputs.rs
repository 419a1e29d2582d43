//! What certgpo writes, and what it must never touch (issue 9, items 4, 6, 7, 8, 9): a
//! bundle and its zip succeed or fail together; no output replaces an input, an existing
//! file without `--force`, or a folder that is not a bundle; pins and lock keys compare
//! by value, not spelling; an interrupted build leaves no temporary folder behind; files
//! are written with the umask's permissions. Everything runs the real binary, except
//! the pin rules, which are driven through the library with certificates made here.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{certgpo, example, tree};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// The names in `dir` that are certgpo's temporary files or folders.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".certgpo-") || n.starts_with(".tmp"))
        .collect()
}

/// `certgpo build --domain contoso.local ARGS` in `dir`: (exit code, stderr).
fn build(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = certgpo()
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .args(["build", "--domain", "contoso.local"])
        .args(args)
        .output()
        .expect("run certgpo");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn build_ok(dir: &Path, args: &[&str]) {
    let (code, stderr) = build(dir, args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
}

fn refused(dir: &Path, args: &[&str], message: &str) {
    let (code, stderr) = build(dir, args);
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(message),
        "{args:?}: wanted {message:?} in {stderr}"
    );
}

/// A temporary folder holding a copy of the example certificate as `in.cer`.
fn workdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::copy(example(), tmp.path().join("in.cer")).expect("copy the example");
    tmp
}

#[test]
fn the_bundle_and_its_zip_succeed_or_fail_together() {
    let tmp = workdir();
    let dir = tmp.path();
    refused(
        dir,
        &["--cert", "in.cer", "--out", "b", "--zip", "missing/b.zip"],
        "cannot write missing/b.zip: the folder missing does not exist",
    );
    assert!(!dir.join("b").exists(), "no bundle without its zip");
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));

    // With --force over an earlier bundle, the earlier bundle stays as it was.
    build_ok(dir, &["--cert", "in.cer", "--out", "b", "--zip", "b.zip"]);
    let (before, zip_before) = (
        tree(&dir.join("b")),
        std::fs::read(dir.join("b.zip")).unwrap(),
    );
    refused(
        dir,
        &[
            "--cert",
            "in.cer",
            "--gpo-name",
            "Other",
            "--out",
            "b",
            "--force",
            "--zip",
            "missing/b.zip",
        ],
        "the folder missing does not exist",
    );
    assert_eq!(
        tree(&dir.join("b")),
        before,
        "the earlier bundle is untouched"
    );
    assert_eq!(std::fs::read(dir.join("b.zip")).unwrap(), zip_before);
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
}

#[test]
fn no_output_replaces_an_input_or_an_existing_file() {
    let tmp = workdir();
    let dir = tmp.path();
    let original = std::fs::read(example()).unwrap();
    let input_intact = || assert_eq!(std::fs::read(dir.join("in.cer")).unwrap(), original);

    for force in [&[][..], &["--force"][..]] {
        let mut args = vec!["--cert", "in.cer", "--out", "b", "--zip", "in.cer"];
        args.extend_from_slice(force);
        refused(dir, &args, "--zip in.cer is the input --cert in.cer");
        input_intact();
    }
    // A hard link is the same file under another name.
    std::fs::hard_link(dir.join("in.cer"), dir.join("link.zip")).unwrap();
    refused(
        dir,
        &[
            "--cert", "in.cer", "--out", "b", "--zip", "link.zip", "--force",
        ],
        "is the input --cert in.cer",
    );
    input_intact();
    assert!(!dir.join("b").exists());

    // An existing zip needs --force, and --force replaces only a zip.
    build_ok(dir, &["--cert", "in.cer", "--out", "b", "--zip", "b.zip"]);
    refused(
        dir,
        &["--cert", "in.cer", "--out", "b2", "--zip", "b.zip"],
        "--zip b.zip already exists",
    );
    build_ok(
        dir,
        &[
            "--cert", "in.cer", "--out", "b2", "--zip", "b.zip", "--force",
        ],
    );
    std::fs::write(dir.join("notes.zip"), "my notes").unwrap();
    refused(
        dir,
        &[
            "--cert",
            "in.cer",
            "--out",
            "b3",
            "--zip",
            "notes.zip",
            "--force",
        ],
        "--zip notes.zip exists and is not a zip file",
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.zip")).unwrap(),
        "my notes"
    );

    // An input reached through a symbolic link into --out is still inside it.
    std::fs::copy(example(), dir.join("b/mine.cer")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("b"), dir.join("link")).unwrap();
        refused(
            dir,
            &["--cert", "link/mine.cer", "--out", "b", "--force"],
            "--cert link/mine.cer is inside --out b, which --force would delete",
        );
        assert!(dir.join("b/mine.cer").exists());
    }

    // --force replaces an earlier bundle or an empty folder, nothing else.
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "secret").unwrap();
    std::fs::write(home.join("notes.txt"), "mine").unwrap();
    refused(
        dir,
        &["--cert", "in.cer", "--out", "home", "--force"],
        "--out home is not a bundle certgpo wrote (it holds .ssh/, notes.txt)",
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/id_ed25519")).unwrap(),
        "secret"
    );
    std::fs::create_dir(dir.join("empty")).unwrap();
    build_ok(dir, &["--cert", "in.cer", "--out", "empty"]);
    build_ok(dir, &["--cert", "in.cer", "--out", "empty", "--force"]);
    assert!(dir.join("empty/SHA256SUMS").exists());
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
}

#[test]
fn audit_output_never_replaces_an_input_nor_an_existing_report() {
    let tmp = workdir();
    let dir = tmp.path();
    build_ok(dir, &["--cert", "in.cer", "--out", "b"]);
    let pol = dir.join("b/policy/registry.pol");
    let before = std::fs::read(&pol).unwrap();
    let audit = |args: &[&str]| {
        let o = certgpo()
            .current_dir(dir)
            .arg("audit")
            .args(args)
            .output()
            .expect("run certgpo");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, stderr) = audit(&["b/policy/registry.pol", "--output", "b/policy/registry.pol"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is the input b/policy/registry.pol"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&pol).unwrap(), before);

    let (code, stderr) = audit(&["b", "--output", "audit.html"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = audit(&["b", "--output", "audit.html", "--format", "json"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--output audit.html already exists"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(dir.join("audit.html"))
            .unwrap()
            .contains("<html")
    );
    let (code, stderr) = audit(&["b", "--output", "audit.html", "--format", "json", "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        std::fs::read_to_string(dir.join("audit.html"))
            .unwrap()
            .starts_with('{')
    );
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
}

/// Files get 0666 and folders 0777, less the umask, as any other program's would:
/// tempfile's private 0600 is not for a bundle that others deploy.
#[cfg(unix)]
#[test]
fn files_are_written_with_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = workdir();
    let dir = tmp.path();
    let run = |args: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("umask 027 && exec \"$0\" {args}"))
            .arg(env!("CARGO_BIN_EXE_certgpo"))
            .current_dir(dir)
            .output()
            .expect("run sh");
        assert!(
            o.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run("build --cert in.cer --out b --zip b.zip");
    run("audit b --output audit.html");
    run("inspect b --extract certs");
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    for file in [
        "b.zip",
        "audit.html",
        "b/SHA256SUMS",
        "b/policy/registry.pol",
    ] {
        assert_eq!(mode(file), 0o640, "{file}");
    }
    let extracted = std::fs::read_dir(dir.join("certs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let extracted = format!("certs/{}", extracted.file_name().to_string_lossy());
    assert_eq!(mode(&extracted), 0o640, "{extracted}");
    for folder in ["b", "b/policy"] {
        assert_eq!(mode(folder), 0o750, "{folder}");
    }
}

/// Bidirectional controls reorder what an admin reads: refused in names.
#[test]
fn names_with_bidirectional_controls_are_refused() {
    let tmp = workdir();
    let dir = tmp.path();
    for (option, value) in [
        ("--gpo-name", "Trusted roots \u{202E}txt.exe"),
        ("--friendly-name", "Root\u{2066}CA"),
        ("--gpo-name", "\u{200F}Roots"),
    ] {
        refused(
            dir,
            &["--cert", "in.cer", "--out", "b", option, value],
            "must not contain bidirectional controls",
        );
    }
    assert!(!dir.join("b").exists());
}

// ---------------------------------------------------------------------------------
// Pins and lock keys, through the library.

mod pins {
    use certgpo::build::pins::{Lock, PinError, Policy, approve};
    use certgpo::cert::Certificate;
    use certgpo::fetch::{Capture, Engine, Target};

    use super::*;

    fn ca(cn: &str) -> Certificate {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&KeyPair::generate().unwrap()).unwrap();
        Certificate::from_der(cert.der().to_vec()).unwrap()
    }

    fn capture(target: &str, cert: &Certificate) -> Capture {
        Capture {
            target: Target::parse(target).unwrap(),
            engine: Engine::Raw,
            protocol: "TLSv1.2".into(),
            cipher: "test".into(),
            sni: None,
            chain: vec![cert.clone()],
            notes: Vec::new(),
        }
    }

    /// `certgpo.lock` holding one pin for `key`.
    fn lock_file(dir: &Path, key: &str, sha1: &str, sha256: &str) -> PathBuf {
        let path = dir.join("certgpo.lock");
        let json = serde_json::json!({
            "version": 1,
            "pins": { key: {
                "sha1": sha1, "sha256": sha256, "subject": "CN=x", "pinned_by": "expect"
            }}
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
        path
    }

    fn colons_lower(hex: &str) -> String {
        hex.as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8_lossy(p).to_lowercase())
            .collect::<Vec<_>>()
            .join(":")
    }

    fn policy(lock_path: &Path, trust_on_first_use: bool) -> Policy {
        Policy {
            expect: Vec::new(),
            trust_on_first_use,
            update_pins: false,
            lock_path: lock_path.to_path_buf(),
        }
    }

    #[test]
    fn pins_that_are_not_fingerprints_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let a = ca("Pinned");
        for (sha1, sha256) in [
            ("ZZZZ".to_string(), a.sha256_hex()),
            (String::new(), a.sha256_hex()),
            (a.thumbprint(), a.thumbprint()),
        ] {
            let path = lock_file(tmp.path(), "https://127.0.0.1:19500", &sha1, &sha256);
            let err = Lock::load(&path).expect_err("a bad pin is refused");
            assert!(matches!(err, PinError::BadLock { .. }), "{err}");
            assert!(err.to_string().contains("hex digits"), "{err}");
        }
    }

    #[test]
    fn a_pin_matches_in_any_case_and_with_colons() {
        let tmp = tempfile::tempdir().unwrap();
        let a = ca("Pinned");
        let path = lock_file(
            tmp.path(),
            "https://127.0.0.1:19500",
            &colons_lower(&a.thumbprint()),
            &colons_lower(&a.sha256_hex()),
        );
        let mut lock = Lock::load(&path).unwrap();
        let entry = &lock.pins["https://127.0.0.1:19500"];
        assert_eq!(
            (entry.sha1.clone(), entry.sha256.clone()),
            (a.thumbprint(), a.sha256_hex())
        );
        let approved = approve(
            &[capture("127.0.0.1:19500", &a)],
            &policy(&path, false),
            &mut lock,
            &mut |_, _| panic!("no question: the pin matches"),
        )
        .expect("the pinned certificate is accepted");
        assert_eq!(approved[0].sha1, a.sha1);
    }

    #[test]
    fn another_spelling_of_a_pinned_address_is_the_same_endpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (ca("Pinned"), ca("Impostor"));
        let path = lock_file(
            tmp.path(),
            "https://127.0.0.1:19500",
            &a.thumbprint(),
            &a.sha256_hex(),
        );
        for spelling in [
            "127.000.000.001:19500",
            "2130706433:19500",
            "[::ffff:127.0.0.1]:19500",
            "https://0x7f.0.0.1:19500/owa",
        ] {
            let mut lock = Lock::load(&path).unwrap();
            let err = approve(
                &[capture(spelling, &b)],
                &policy(&path, true),
                &mut lock,
                &mut |_, _| Ok(true),
            )
            .expect_err("a changed certificate is refused, however the address is written");
            assert!(matches!(err, PinError::Changed { .. }), "{spelling}: {err}");
        }
        // Keys written another way in the lock file are the same endpoint too.
        let path = lock_file(
            tmp.path(),
            "HTTPS://2130706433:19500",
            &a.thumbprint(),
            &a.sha256_hex(),
        );
        let lock = Lock::load(&path).unwrap();
        assert_eq!(
            lock.pins.keys().collect::<Vec<_>>(),
            ["https://127.0.0.1:19500"]
        );
    }
}

// ---------------------------------------------------------------------------------
// Interrupted builds.

#[cfg(unix)]
/// A PEM file of `n` self-signed CA certificates: a bundle of thousands of files,
/// slow enough to interrupt while it is being written.
fn many_certificates(dir: &Path, n: usize) -> PathBuf {
    let mut pem = String::new();
    for i in 0..n {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, format!("Root {i}"));
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        pem.push_str(&p.self_signed(&KeyPair::generate().unwrap()).unwrap().pem());
    }
    let path = dir.join("many.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

#[cfg(unix)]
fn send(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{signal} {pid}");
}

/// `certgpo build --domain contoso.local --out out` in `dir`, to add more to.
#[cfg(unix)]
fn build_into_out(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certgpo"));
    cmd.current_dir(dir)
        .args(["build", "--domain", "contoso.local", "--out", "out"]);
    cmd
}

#[cfg(unix)]
/// Start a build of `certs` into `dir/out` and send `signal` as soon as its temporary
/// folder is there; returns how the process ended, or `None` when the build finished
/// before the folder could be seen (the caller tries again).
fn interrupt_build(dir: &Path, certs: &Path, signal: &str) -> Option<std::process::ExitStatus> {
    let mut child = build_into_out(dir)
        .arg("--cert")
        .arg(certs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start certgpo");
    let t0 = Instant::now();
    loop {
        // Once the folder carries its owner marker: a SIGKILL before that leaves an
        // empty folder, recognised only once it is an hour old.
        let marked = leftovers(dir).iter().any(|n| {
            n.starts_with(".certgpo-build-") && dir.join(n).join(".certgpo-owner").exists()
        });
        if marked {
            send(child.id(), signal);
            return Some(child.wait().expect("wait for certgpo"));
        }
        if let Some(status) = child.try_wait().expect("poll certgpo") {
            assert!(status.success(), "the build failed on its own: {status}");
            std::fs::remove_dir_all(dir.join("out")).unwrap();
            return None;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "build never wrote");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(unix)]
#[test]
fn interrupted_builds_leave_no_temporary_folder() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let certs = many_certificates(dir, 500);
    for (signal, number) in [("INT", 2), ("TERM", 15), ("KILL", 9)] {
        let status = (0..5)
            .find_map(|_| interrupt_build(dir, &certs, signal))
            .expect("the temporary folder was seen in five tries");
        assert_eq!(
            status.signal(),
            Some(number),
            "ended by SIG{signal}: {status}"
        );
        assert!(!dir.join("out").exists(), "SIG{signal}: no partial bundle");
        if signal != "KILL" {
            assert!(
                leftovers(dir).is_empty(),
                "SIG{signal}: {:?}",
                leftovers(dir)
            );
        }
    }
    // After SIGKILL nothing could clean up; the next run recognises the folder.
    let left = leftovers(dir);
    assert!(!left.is_empty(), "SIGKILL leaves the temporary folder");
    let o = build_into_out(dir)
        .arg("--cert")
        .arg(&certs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("left by an interrupted certgpo run"),
        "{stderr}"
    );
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));

    // A temporary-looking folder that is not certgpo's (no owner marker) stays.
    std::fs::create_dir(dir.join(".certgpo-build-notmine")).unwrap();
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    build_ok(dir, &["--cert", "many.pem", "--out", "out"]);
    assert!(dir.join(".certgpo-build-notmine").exists());
}

/// SIGTERM while `build --fetch` waits on a server that never answers: the process
/// ends at once, by that signal, with nothing written.
#[cfg(unix)]
#[test]
fn sigterm_during_a_fetch_ends_the_build() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut child = build_into_out(tmp.path())
        .arg("--fetch")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--trust-on-first-use", "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start certgpo");
    std::thread::sleep(Duration::from_millis(500));
    send(child.id(), "TERM");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.signal(), Some(15), "{status}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    drop(listener);
}
