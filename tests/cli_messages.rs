//! The refusals and hints users read, checked as exact text, so that a change of
//! wording is a reviewed change (issue 8, item 6).
//!
//! `tests/cmd/*.toml` are trycmd cases: each runs the real `certgpo` binary in
//! `tests/cmd/fixtures/` (see its SOURCES.md) and compares stdout, stderr and the exit
//! code with the `.stdout` and `.stderr` files beside it. After a deliberate change of
//! wording, regenerate them with `TRYCMD=overwrite cargo test --test cli_messages` and
//! review the diff.
//!
//! The messages that need a live server (a pin mismatch, the LDAP TLS refusals) cannot
//! be trycmd cases: the tests below start `openssl s_server` on loopback, as
//! tests/fetch.rs does, and compare stderr with `tests/cmd/<name>.stderr` after
//! replacing the random port and the fingerprints of the throwaway certificates with
//! placeholders (`[PORT]`, `[SHA1]`, `[ROOT-SHA256]`...). `TRYCMD=overwrite` rewrites
//! those files too.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[test]
fn cli_messages() {
    trycmd::TestCases::new()
        .default_bin_name("certgpo")
        // clap colours its errors when told to; snapshots are plain text.
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "0")
        .timeout(Duration::from_secs(60))
        .case("tests/cmd/*.toml");
}

// ---------------------------------------------------------------------------------
// Live servers: openssl s_server on loopback.

/// `openssl s_server` presenting `cert` (and `chain` after it).
fn s_server(cert: &Path, key: &Path, chain: Option<&Path>) -> (common::Server, u16) {
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let chain = chain.map(|c| c.display().to_string());
    let mut args = vec!["-cert", cert.as_str(), "-key", key.as_str()];
    if let Some(chain) = &chain {
        args.extend_from_slice(&["-cert_chain", chain.as_str()]);
    }
    common::s_server(&args)
}

fn tools() -> bool {
    common::require("openssl", &["version"]) && common::require("timeout", &["--version"])
}

/// A pin no test certificate has.
const WRONG_PIN: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

/// The SHA-1 and SHA-256 fingerprints of a PEM certificate, as openssl computes them,
/// upper case without colons.
fn fingerprints(cert: &Path) -> (String, String) {
    let fingerprint = |alg: &str| {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", alg, "-in"])
            .arg(cert)
            .output()
            .expect("run openssl x509");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let fp = text.trim().rsplit('=').next().unwrap_or_default();
        fp.replace(':', "").to_ascii_uppercase()
    };
    (fingerprint("-sha1"), fingerprint("-sha256"))
}

/// A throwaway self-signed CA certificate for `cn` in `dir`: (cert, key, SHA-1, SHA-256).
fn selfsigned(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf, String, String) {
    let ca = common::root_ca(dir, name, common::Key::Rsa2048, cn);
    let (sha1, sha256) = fingerprints(&ca.cert);
    (ca.cert, ca.key, sha1, sha256)
}

/// A throwaway server certificate for `cn` issued by `ca`: (cert, key, SHA-1, SHA-256).
fn issued(
    dir: &Path,
    name: &str,
    cn: &str,
    ca: &Path,
    ca_key: &Path,
) -> (PathBuf, PathBuf, String, String) {
    let ca = common::Issued {
        cert: ca.to_path_buf(),
        key: ca_key.to_path_buf(),
    };
    let san = format!("DNS:{cn}");
    let leaf = common::server_cert(dir, &ca, name, common::Key::Rsa2048, cn, &san);
    let (sha1, sha256) = fingerprints(&leaf.cert);
    (leaf.cert, leaf.key, sha1, sha256)
}

/// Run certgpo in `dir` (stdin not a terminal); returns (exit code, stderr).
fn certgpo(dir: &Path, args: &[&str]) -> (i32, String) {
    certgpo_env(dir, args, &[])
}

/// [`certgpo`] with these environment variables set.
fn certgpo_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String) {
    let mut cmd = common::certgpo();
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run certgpo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

/// Compare `actual` with `tests/cmd/<name>.stderr` after replacing each `(from, to)`
/// in turn (fingerprints before `127.0.0.1:<port>`, so that the port's digits are never
/// taken from inside a fingerprint); with `TRYCMD=overwrite`, write it instead.
fn assert_snapshot(name: &str, actual: &str, replace: &[(&str, &str)]) {
    let mut text = actual.to_string();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/cmd/{name}.stderr"));
    if std::env::var("TRYCMD").is_ok_and(|v| v == "overwrite") {
        std::fs::write(&path, &text).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("\r\n", "\n");
    assert_eq!(
        text,
        expected,
        "stderr differs from {}; after a deliberate change of wording, run \
         TRYCMD=overwrite cargo test --test cli_messages and review the diff",
        path.display()
    );
}

/// `build --fetch` and `fetch` against a server whose certificate has no pin, or
/// matches no --expect, or differs from certgpo.lock: nothing is written, and the
/// user is told what the server presented and what to do.
#[test]
fn pin_mismatch() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key, sha1, sha256) = selfsigned(dir.path(), "exch", "exch2010.contoso.local");
    let (_server, port) = s_server(&cert, &key, None);
    let target = format!("127.0.0.1:{port}");
    let replace = [
        (sha1.as_str(), "[SHA1]"),
        (sha256.as_str(), "[SHA256]"),
        (target.as_str(), "127.0.0.1:[PORT]"),
    ];
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "--fetch", &target, "--domain", "contoso.local"];
        args.extend_from_slice(extra);
        certgpo(dir.path(), &args)
    };
    let written = || dir.path().join("bundle").exists() || dir.path().join("certgpo.lock").exists();

    // No pin at all, and no terminal to confirm one on.
    let (code, stderr) = build(&["--out", "bundle"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!written(), "nothing written");
    assert_snapshot("pin-missing", &stderr, &replace);

    // A pin that does not match.
    let (code, stderr) = build(&["--out", "bundle", "--expect", WRONG_PIN]);
    assert_eq!(code, 3, "{stderr}");
    assert!(!written(), "nothing written");
    assert_snapshot("pin-mismatch", &stderr, &replace);

    let (code, stderr) = certgpo(dir.path(), &["fetch", &target, "--expect", WRONG_PIN]);
    assert_eq!(code, 3, "{stderr}");
    assert_snapshot("fetch-pin-mismatch", &stderr, &replace);

    // The right pin writes certgpo.lock; then the pinned certificate "changes".
    let (code, stderr) = build(&["--out", "bundle", "--expect", &sha1]);
    assert_eq!(code, 0, "{stderr}");
    let lock = dir.path().join("certgpo.lock");
    let text = std::fs::read_to_string(&lock).expect("certgpo.lock written");
    assert!(text.contains(&sha1), "{text}");
    let text = text
        .replace(&sha1, WRONG_PIN)
        .replace(&sha256, &"AB".repeat(32));
    std::fs::write(&lock, text).expect("rewrite certgpo.lock");
    let (code, stderr) = build(&["--out", "bundle2"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(!dir.path().join("bundle2").exists(), "nothing written");
    assert_snapshot("pin-changed", &stderr, &replace);

    // A lock file that is not one.
    std::fs::write(&lock, "not json\n").expect("write certgpo.lock");
    let (code, stderr) = build(&["--out", "bundle2", "--expect", &sha1]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!dir.path().join("bundle2").exists(), "nothing written");
    assert_snapshot("pin-bad-lock", &stderr, &replace);
}

/// A server presenting a leaf and the root that issued it, pinned with neither: the
/// message shows the fingerprint the pin was compared with.
#[test]
fn pin_mismatch_chain() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, root_key, root_sha1, root_sha256) =
        selfsigned(dir.path(), "root", "Contoso Test Root CA");
    let (leaf, leaf_key, leaf_sha1, leaf_sha256) =
        issued(dir.path(), "leaf", "mail.contoso.com", &root, &root_key);
    let (_server, port) = s_server(&leaf, &leaf_key, Some(&root));
    let target = format!("127.0.0.1:{port}");
    let replace = [
        (root_sha1.as_str(), "[ROOT-SHA1]"),
        (root_sha256.as_str(), "[ROOT-SHA256]"),
        (leaf_sha1.as_str(), "[LEAF-SHA1]"),
        (leaf_sha256.as_str(), "[LEAF-SHA256]"),
        (target.as_str(), "127.0.0.1:[PORT]"),
    ];
    let (code, stderr) = certgpo(
        dir.path(),
        &[
            "build",
            "--fetch",
            &target,
            "--expect",
            WRONG_PIN,
            "--domain",
            "contoso.local",
            "--out",
            "bundle",
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert_snapshot("pin-mismatch-chain", &stderr, &replace);
}

/// `discover` against an ldaps:// port whose certificate is not trusted, or names
/// another host, or that speaks TLS but not LDAP: the refusals and their hints.
#[test]
fn ldap_tls_refusals() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, root_key, root_sha1, root_sha256) =
        selfsigned(dir.path(), "root", "Contoso Test Root CA");
    let (dc, dc_key, dc_sha1, dc_sha256) =
        issued(dir.path(), "dc", "dc1.contoso.local", &root, &root_key);
    let (_server, port) = s_server(&dc, &dc_key, None);
    let url = format!("ldaps://127.0.0.1:{port}");
    let hostport = format!("127.0.0.1:{port}");
    // The port also follows the name a hint suggests (`ldaps://dc1.contoso.local:<port>`).
    let colon_port = format!(":{port}");
    let replace = [
        (root_sha1.as_str(), "[ROOT-SHA1]"),
        (root_sha256.as_str(), "[ROOT-SHA256]"),
        (dc_sha1.as_str(), "[DC-SHA1]"),
        (dc_sha256.as_str(), "[DC-SHA256]"),
        (hostport.as_str(), "127.0.0.1:[PORT]"),
        (colon_port.as_str(), ":[PORT]"),
    ];

    let (code, stderr) = certgpo(dir.path(), &["discover", "--ldap", &url]);
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot("ldap-untrusted", &stderr, &replace);

    // Trusted through --ldap-ca, but the URL names 127.0.0.1, not dc1.contoso.local.
    let (code, stderr) = certgpo(
        dir.path(),
        &["discover", "--ldap", &url, "--ldap-ca", "root.pem"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot("ldap-name-mismatch", &stderr, &replace);

    // The same through the system trust store (SSL_CERT_FILE names it): the CA is
    // trusted there too, so the name is all that is refused.
    let (code, stderr) = certgpo_env(
        dir.path(),
        &["discover", "--ldap", &url],
        &[("SSL_CERT_FILE", &root)],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot("ldap-name-mismatch", &stderr, &replace);

    // Past TLS, the server hangs up at the first LDAP request: it is no directory.
    let (code, stderr) = certgpo(dir.path(), &["discover", "--ldap", &url, "--ldap-insecure"]);
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot("ldap-not-ldap", &stderr, &replace);

    // A certificate with no subjectAltName matches no URL, whatever its CN says.
    let nosan = common::leaf_without_san(
        dir.path(),
        "nosan",
        common::Key::Rsa2048,
        "dc1.contoso.local",
    );
    let (_nosan, nosan_port) = s_server(&nosan.cert, &nosan.key, None);
    let nosan_url = format!("ldaps://127.0.0.1:{nosan_port}");
    let nosan_hostport = format!("127.0.0.1:{nosan_port}");
    let (code, stderr) = certgpo(
        dir.path(),
        &["discover", "--ldap", &nosan_url, "--ldap-ca", "nosan.pem"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot(
        "ldap-no-name",
        &stderr,
        &[(nosan_hostport.as_str(), "127.0.0.1:[PORT]")],
    );

    // A server that sends its CA along: the message names the CA the chain ends at.
    let (_server, port) = s_server(&dc, &dc_key, Some(&root));
    let hostport = format!("127.0.0.1:{port}");
    let colon_port = format!(":{port}");
    let mut replace = replace;
    replace[4].0 = hostport.as_str();
    replace[5].0 = colon_port.as_str();
    let (code, stderr) = certgpo(
        dir.path(),
        &["discover", "--ldap", &format!("ldaps://{hostport}")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot("ldap-untrusted-chain", &stderr, &replace);
}

/// `--bind kerberos` in a build without the feature is refused before any connection:
/// the listener given as --ldap never sees one.
#[test]
fn kerberos_not_built_is_refused_before_connecting() {
    if cfg!(feature = "kerberos") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("its address").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("ldaps://127.0.0.1:{port}");
    let (code, stderr) = certgpo(
        dir.path(),
        &["discover", "--ldap", &url, "--bind", "kerberos"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "certgpo connected before refusing --bind kerberos"
    );
    assert_snapshot("discover-kerberos-not-built", &stderr, &[]);
}
