//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's own test data (`tests/data`).
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// True when running under CI, where a missing tool is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Check that an external tool is available. Locally a missing tool skips the test
/// with a loud message; under `CI=true` it fails the test, because `.ci/run`
/// installs every tool the tests need.
pub fn require(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(&format!(
            "required tool `{tool}` is not available (run .ci/run to install it)"
        ));
    }
    ok
}

/// Say loudly that a test cannot run here; under `CI=true` that is a failure.
pub fn skip(msg: &str) {
    assert!(!in_ci(), "{msg}");
    eprintln!("\n!!!! SKIPPED: {msg} !!!!\n");
}

/// True when the tests run as root (needed to start postfix and a Samba AD DC).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The certgpo binary under test.
pub fn certgpo() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("certgpo").expect("binary built by cargo")
}
