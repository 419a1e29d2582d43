//! Replays every committed fuzz corpus file through the entry point its cargo-fuzz
//! target calls, so CI catches a regression without running the fuzzer.

use std::path::Path;

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("registry_pol", certgpo::fuzz_entry::registry_pol),
    ("blob", certgpo::fuzz_entry::blob),
    ("reg", certgpo::fuzz_entry::reg),
    ("backup_xml", certgpo::fuzz_entry::backup_xml),
    ("cert_file", certgpo::fuzz_entry::cert_file),
    ("tls_flight", certgpo::fuzz_entry::tls_flight),
    ("pox", certgpo::fuzz_entry::pox),
    ("ntlm_challenge", certgpo::fuzz_entry::ntlm_challenge),
];

#[test]
fn every_corpus_file_replays_without_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, entry) in TARGETS {
        assert!(
            fuzz.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "fuzz target {name} exists"
        );
        let dir = fuzz.join("corpus").join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{name}: empty corpus");
        for f in files {
            let data = std::fs::read(&f).expect("readable corpus file");
            entry(&data);
            // Every prefix too: truncation is the commonest corruption.
            for cut in [0, 1, 7, 8, 9, data.len() / 2, data.len().saturating_sub(1)] {
                entry(&data[..cut.min(data.len())]);
            }
        }
    }
    let targets = std::fs::read_dir(fuzz.join("fuzz_targets"))
        .expect("fuzz_targets")
        .count();
    assert_eq!(targets, TARGETS.len(), "every fuzz target is replayed here");
}
