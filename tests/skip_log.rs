//! A skipped test is never hidden: `common::require` and `common::skip` append the test's
//! name and the reason to `$CERTGPO_SKIP_LOG`, which `scripts/test` prints as its last
//! lines, and under `CI=true` the skip fails the test.

mod common;

use std::process::Command;

const PROBE: &str = "CERTGPO_SKIP_PROBE";
const MISSING_TOOL: &str = "certgpo-test-no-such-tool";

/// Does nothing, unless the test below runs it with `CERTGPO_SKIP_PROBE` set: then it
/// needs a tool that does not exist.
#[test]
fn needs_a_missing_tool_when_probed() {
    if std::env::var_os(PROBE).is_none() {
        return;
    }
    if !common::require(MISSING_TOOL, &["--version"]) {
        return;
    }
    unreachable!("{MISSING_TOOL} exists");
}

/// Run `needs_a_missing_tool_when_probed` alone in a child of this test binary, with a
/// skip log of its own; returns whether it passed and what the log holds.
fn probe(ci: bool) -> (bool, String) {
    let log = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = Command::new(std::env::current_exe().expect("test binary"));
    child
        .args([
            "--exact",
            "needs_a_missing_tool_when_probed",
            "--test-threads=1",
        ])
        .env(PROBE, "1")
        .env(common::SKIP_LOG, log.path());
    if ci {
        child.env("CI", "true");
    } else {
        child.env_remove("CI");
    }
    let out = child.output().expect("run the test binary");
    let text = std::fs::read_to_string(log.path()).expect("skip log");
    (out.status.success(), text)
}

#[test]
fn a_skip_names_the_test_and_the_reason_and_fails_under_ci() {
    let expected = format!(
        "skip_log::needs_a_missing_tool_when_probed: required tool `{MISSING_TOOL}` is not available"
    );
    let (passed, log) = probe(false);
    assert!(passed, "locally a skip passes");
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.starts_with(&expected), "{log}");
    let (passed, log) = probe(true);
    assert!(!passed, "under CI=true a skip fails the test");
    assert!(log.starts_with(&expected), "{log}");
}
