//! Every finding code the program can report is documented in README.md's "Finding
//! codes" table, with its level, and the table names no code the program lacks.
//!
//! Each code enum's `ALL` comes from the same list as its text (`finding::codes!`), and
//! each finding enum maps its variants to codes in an exhaustive `match`, so a new kind
//! of finding cannot be reported without a code that this test sees.

use std::collections::BTreeMap;

use certgpo::finding::{Code, Level};

fn codes<C: Code>() -> Vec<(&'static str, Level)> {
    C::ALL.iter().map(|c| (c.as_str(), c.level())).collect()
}

/// Every code of the program, by family.
fn program_codes() -> Vec<(&'static str, Level)> {
    [
        codes::<certgpo::cert::FindingCode>(),
        codes::<certgpo::inspect::inventory::ProblemCode>(),
        codes::<certgpo::inspect::inventory::NoteCode>(),
        codes::<certgpo::audit::AuditCode>(),
        codes::<certgpo::fetch::FetchCode>(),
    ]
    .concat()
}

/// code -> level of the README's table.
fn documented_codes() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Finding codes\n")
        .nth(1)
        .expect("README.md has a \"## Finding codes\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn every_finding_code_is_documented_with_its_level() {
    let program = program_codes();
    let documented = documented_codes();
    assert!(program.len() > 20, "found the codes: {program:?}");
    let mut seen = BTreeMap::new();
    for (code, level) in &program {
        assert!(
            seen.insert(*code, *level).is_none(),
            "code {code} is used by two kinds of finding"
        );
        assert!(
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{code} is not kebab-case"
        );
        match documented.get(*code) {
            None => panic!("finding code `{code}` is not in README.md's \"Finding codes\" table"),
            Some(doc) => assert_eq!(
                doc,
                level.as_str(),
                "README.md gives `{code}` the level {doc}, the program {}",
                level.as_str()
            ),
        }
    }
    for code in documented.keys() {
        assert!(
            seen.contains_key(code.as_str()),
            "README.md documents `{code}`, which the program does not report"
        );
    }
}
