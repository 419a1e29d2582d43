//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::io::Write;
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
/// (or the part of it that needs the tool) with a loud message and a line in the skip
/// list that `scripts/test` prints at the end; under `CI=true` it fails the test,
/// because `scripts/test` installs every tool the tests need.
pub fn require(tool: &str, probe: &[&str]) -> bool {
    let reason = match Command::new(tool).args(probe).output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "`{tool} {}` failed ({}): {}",
            probe.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
        ),
        Err(e) => format!("required tool `{tool}` is not available ({e})"),
    };
    skip(&reason);
    false
}

/// Skip a test that cannot run here unless it runs as root; true when it can run.
pub fn require_root(why: &str) -> bool {
    let root = is_root();
    if !root {
        skip(why);
    }
    root
}

/// The running test, as `<test file>::<test>` (libtest names each test's thread).
pub fn current_test() -> String {
    let thread = std::thread::current();
    let name = match thread.name() {
        Some(n) if n != "main" => n,
        _ => "(unknown test)",
    };
    format!("{}::{name}", env!("CARGO_CRATE_NAME"))
}

/// Say loudly that a test, or part of it, cannot run here; under `CI=true` that is a
/// failure. The skip is also appended to the file `CERTGPO_SKIP_LOG` names (set by
/// `scripts/test`, which lists every skip as the last lines of its output), because
/// the test harness hides what a passing test prints.
pub fn skip(reason: &str) {
    let test = current_test();
    let reason = reason.replace('\n', " ");
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        // One short write in append mode: tests running in parallel do not mix lines.
        let line = format!("{test}: {reason}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!("cannot record the skip in {}: {e}", Path::new(&log).display());
        }
    }
    assert!(
        !in_ci(),
        "{test}: {reason} (CI=true: nothing may be skipped; scripts/test installs what the tests need)"
    );
    eprintln!("\n!!!! SKIPPED {test}: {reason} !!!!\n");
}

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG: &str = "CERTGPO_SKIP_LOG";

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
