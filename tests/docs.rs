//! The documentation follows the one definition of the command line (clap's, in
//! `src/bin/certgpo/`): the shell completions and manual pages are generated from it and
//! must work in real shells and in groff; the README's synopses must name exactly the
//! options `--help` shows; the README's module map must name every library module; and
//! comments must cite public specifications or documents that are in the repository.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::certgpo;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// `certgpo ARGS... --help`, as text.
fn help(args: &[&str]) -> String {
    let out = certgpo()
        .args(args)
        .arg("--help")
        .output()
        .expect("certgpo runs");
    assert!(out.status.success(), "certgpo {args:?} --help failed");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The subcommands `certgpo --help` lists (without clap's `help`).
fn subcommands() -> Vec<String> {
    let text = help(&[]);
    section(&text, "Commands:")
        .iter()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The lines of a `--help` section, from its heading to the next unindented line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// Every `--option` in a piece of text.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            found.insert(format!("--{name}"));
        }
    }
    found
}

/// The options a subcommand's `--help` lists in its Options section (an option line is
/// indented at most 6 columns; wrapped descriptions and possible values are deeper),
/// without `--help` itself.
fn help_options(sub: &str) -> BTreeSet<String> {
    let text = help(&[sub]);
    let mut options = BTreeSet::new();
    for line in section(&text, "Options:") {
        let indent = line.len() - line.trim_start().len();
        if indent <= 6 && line.trim_start().starts_with('-') {
            let head = line.trim_start().split("  ").next().unwrap_or_default();
            options.extend(long_options(head));
        }
    }
    assert!(
        options.remove("--help"),
        "no Options section with --help in `certgpo {sub} --help`"
    );
    options
}

/// A README code block: its heading, and its text.
struct Block {
    heading: String,
    text: String,
}

/// The first code block (indented by 4 spaces, or fenced) under each heading of the
/// README, kept when it starts with `certgpo `: the synopses.
fn synopses(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading: Option<String> = None;
    let mut lines = readme.lines().peekable();
    let mut previous_blank = true;
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            heading = Some(line.to_string());
            previous_blank = false;
            continue;
        }
        let fenced = line.starts_with("```");
        let indented = previous_blank && line.starts_with("    ") && !line.trim().is_empty();
        previous_blank = line.trim().is_empty();
        if !(fenced || indented) {
            continue;
        }
        let mut text = String::new();
        if fenced {
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
        } else {
            text.push_str(line.trim_start());
            text.push('\n');
            while let Some(l) = lines.next_if(|l| l.starts_with("    ")) {
                text.push_str(l.trim_start());
                text.push('\n');
            }
        }
        previous_blank = false;
        // Only the first block under a heading can be its synopsis.
        if let Some(heading) = heading.take()
            && text.starts_with("certgpo ")
        {
            blocks.push(Block { heading, text });
        }
    }
    blocks
}

#[test]
fn readme_synopses_name_exactly_the_options_of_help() {
    let readme = readme();
    let blocks = synopses(&readme);
    let mut problems = Vec::new();
    for sub in subcommands() {
        let in_help = help_options(&sub);
        let prefix = format!("certgpo {sub} ");
        // A synopsis sits under a heading that names its command (`## build`,
        // `### build --fetch`); other blocks that start with `certgpo` are examples.
        let own: Vec<&Block> = blocks
            .iter()
            .filter(|b| {
                b.text.starts_with(&prefix)
                    && b.heading.trim_start_matches('#').split_whitespace().next() == Some(&sub)
            })
            .collect();
        // `## build` holds the complete synopsis; `## build --base` and the like show
        // the part of it that their section is about.
        let complete = format!("## {sub}");
        match own.iter().find(|b| b.heading == complete) {
            None => problems.push(format!(
                "README.md has no `{complete}` section starting with a `certgpo {sub} ...` synopsis"
            )),
            Some(block) => {
                let named = long_options(&block.text);
                for missing in in_help.difference(&named) {
                    problems.push(format!(
                        "`certgpo {sub} --help` lists {missing}, the README's `{complete}` synopsis does not"
                    ));
                }
            }
        }
        for block in own {
            for unknown in long_options(&block.text).difference(&in_help) {
                problems.push(format!(
                    "the README's `{}` synopsis names {unknown}, which `certgpo {sub} --help` does not list",
                    block.heading
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The parser itself: it must find options, and tell a synopsis from the examples.
#[test]
fn synopsis_parser_finds_options_and_skips_examples() {
    let readme = "# t\n\n## diff\n\n    certgpo diff OLD NEW [--json]\n                 [--x-y N]\n\n\
                  Text --not-this.\n\n    certgpo diff a b --example\n\n## fetch\n\n```\n\
                  certgpo fetch [--sni NAME]\n```\n";
    let blocks = synopses(readme);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].heading, "## diff");
    let want: BTreeSet<String> = ["--json", "--x-y"].map(String::from).into();
    assert_eq!(long_options(&blocks[0].text), want);
    assert_eq!(blocks[1].heading, "## fetch");
    assert!(long_options("a--b x-- --Upper --3").is_empty());
}

#[test]
fn readme_layout_names_every_library_module() {
    let readme = readme();
    let layout: String = readme
        .lines()
        .skip_while(|l| *l != "## Layout")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!layout.is_empty(), "README.md has no `## Layout` section");
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs");
    let mut missing = Vec::new();
    for line in lib.lines() {
        if let Some(module) = line
            .strip_prefix("pub mod ")
            .and_then(|m| m.strip_suffix(';'))
            && !layout.contains(&format!("`{module}`"))
        {
            missing.push(module.to_string());
        }
    }
    let bin = root().join("src/bin/certgpo");
    for entry in std::fs::read_dir(&bin).expect("src/bin/certgpo") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !layout.contains(&format!("`{name}`")) {
            missing.push(format!("src/bin/certgpo/{name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's Layout section does not name {missing:?}; add each where it belongs \
         (the layers of src/lib.rs's doc comment, or the command layer)"
    );
}

// ---------------------------------------------------------------------------------
// Completions and manual pages.

fn completions(shell: &str) -> String {
    let out = certgpo()
        .args(["completions", shell])
        .output()
        .expect("certgpo runs");
    assert!(out.status.success(), "certgpo completions {shell} failed");
    let script = String::from_utf8(out.stdout).expect("UTF-8 script");
    assert!(!script.is_empty());
    script
}

/// The `shell` completion script, written into `dir` once the shell's syntax check
/// (`shell check_flag SCRIPT`) accepted it without a word on stderr.
fn checked_script(dir: &Path, shell: &str, check_flag: &str) -> PathBuf {
    let script = dir.join(format!("certgpo.{shell}"));
    std::fs::write(&script, completions(shell)).expect("write script");
    let out = Command::new(shell)
        .arg(check_flag)
        .arg(&script)
        .output()
        .expect("run the shell");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {check_flag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    script
}

#[test]
fn bash_completion_parses_and_completes_subcommands_and_options() {
    if !common::require("bash", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let script = checked_script(dir.path(), "bash", "-n");
    // Source the script and call the function `complete -p` names, as bash does on
    // <TAB>, with the words typed so far.
    let complete = |words: &[&str]| -> Vec<String> {
        let program = format!(
            r#"source "$1" || exit 9
spec=$(complete -p certgpo) || exit 8
f=${{spec##*-F }}; f=${{f%% *}}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
"$f" certgpo "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            words = words.join(" ")
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "completing {words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(complete(&["certgpo", "bu"]), ["build"]);
    assert_eq!(complete(&["certgpo", "com"]), ["completions"]);
    assert_eq!(complete(&["certgpo", "build", "--dis"]), ["--discover"]);
    assert_eq!(complete(&["certgpo", "completions", "f"]), ["fish"]);
}

#[test]
fn fish_completion_parses() {
    if !common::require("fish", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let script = checked_script(dir.path(), "fish", "--no-execute");
    // Every subcommand is offered.
    let script = std::fs::read_to_string(script).expect("script");
    for sub in subcommands() {
        assert!(
            script.contains(&format!("-a \"{sub}\"")),
            "the fish completion does not offer {sub}"
        );
    }
}

#[test]
fn zsh_and_powershell_completions_name_every_subcommand() {
    for (shell, quoted) in [("zsh", "'{}:"), ("powershell", "'{}'")] {
        let script = completions(shell);
        for sub in subcommands() {
            assert!(
                script.contains(&quoted.replace("{}", &sub)),
                "the {shell} completion does not name {sub}"
            );
        }
    }
}

/// A rendered manual page as plain text (groff's overstrikes and colours removed).
fn plain(rendered: &[u8]) -> String {
    let mut text = String::new();
    let mut in_escape = false;
    for c in String::from_utf8_lossy(rendered).chars() {
        match c {
            '\u{8}' => {
                text.pop();
            }
            '\u{1b}' => in_escape = true,
            'm' if in_escape => in_escape = false,
            _ if in_escape => {}
            _ => text.push(c),
        }
    }
    text
}

#[test]
fn man_pages_render_without_warnings_and_list_every_option() {
    if !common::require("groff", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("man1");
    certgpo()
        .args(["man", "--out"])
        .arg(&out)
        .assert()
        .success();
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .expect("pages written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let subs = subcommands();
    let mut want: Vec<String> = subs.iter().map(|s| format!("certgpo-{s}.1")).collect();
    want.push("certgpo.1".into());
    want.sort();
    assert_eq!(pages, want);

    let render = |page: &Path| -> (String, String) {
        // -ww: every warning; no hyphenation and long lines, so options stay whole.
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-rHY=0", "-rLL=300n"])
            .arg(page)
            .env("GROFF_NO_SGR", "1")
            .output()
            .expect("groff");
        assert!(out.status.success(), "groff failed on {}", page.display());
        (
            plain(&out.stdout),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (main, warnings) = render(&out.join("certgpo.1"));
    assert_eq!(warnings, "", "groff warns about certgpo.1");
    for sub in &subs {
        assert!(
            main.contains(&format!("certgpo-{sub}(1)")),
            "certgpo.1 does not refer to certgpo-{sub}(1)"
        );
    }
    for sub in &subs {
        let page = out.join(format!("certgpo-{sub}.1"));
        let (text, warnings) = render(&page);
        assert_eq!(warnings, "", "groff warns about certgpo-{sub}.1");
        let listed = long_options(&text);
        for option in help_options(sub) {
            assert!(
                listed.contains(&option),
                "certgpo-{sub}.1 does not list {option}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Citations in comments.

/// Files whose comments must cite only public specifications or documents in the
/// repository: the code, the tests and their fixtures, the benches, fuzz targets, CI,
/// scripts and templates. `docs/spec/` (copies of research notes that describe their own
/// origin) and `tests/data/` (third-party data) are not the project's comments.
fn cited_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                if !["target", "data", "corpus"].contains(&name.as_ref()) {
                    walk(&path, out);
                }
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "fuzz",
        ".ci",
        "scripts",
        "templates",
    ] {
        walk(&root().join(dir), &mut files);
    }
    files.push(root().join("Cargo.toml"));
    files.push(root().join("README.md"));
    files
}

/// What is wrong with the section-sign references of one text, one line each.
fn citation_problems(text: &str, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    const SECTION: char = '\u{a7}';
    let outside = [
        concat!("shared", "/"),
        concat!("issue ", "#"),
        concat!("the ", "brief"),
    ];
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for word in outside {
            if line.contains(word) {
                problems.push(format!(
                    "line {}: names `{word}`, which is not in the repository",
                    n + 1
                ));
            }
        }
        for (i, _) in line.match_indices(SECTION) {
            // Walk back over the section numbers of a list (4.3, 4.4 or 4.2 to 4.4, each
            // with its section sign) and an RFC's or specification's number, to the name
            // of the document.
            let mut before = &line[..i];
            loop {
                let trimmed = before.trim_end_matches(|c: char| {
                    c.is_ascii_digit() || " .,-\u{2013}".contains(c) || c == SECTION
                });
                let trimmed = trimmed.strip_suffix(" and").unwrap_or(trimmed);
                if trimmed.len() == before.len() {
                    break;
                }
                before = trimmed;
            }
            let document = before
                .split_whitespace()
                .next_back()
                .unwrap_or_default()
                .trim_start_matches(['(', '`', '[', '"'])
                .trim_end_matches(['`', ':']);
            let ok = document == "RFC"
                || document.starts_with("MS-")
                || (document.ends_with(".md") && exists(document));
            if !ok {
                problems.push(format!(
                    "line {}: `{SECTION}` of `{document}`, which is neither an RFC, an MS- \
                     specification nor a document in the repository (cite e.g. \
                     docs/spec/windows-formats.md {SECTION}6)",
                    n + 1
                ));
            }
        }
    }
    problems
}

#[test]
fn comments_cite_public_specifications_or_documents_in_the_repository() {
    let exists = |p: &str| root().join(p).is_file();
    let mut problems = Vec::new();
    for file in cited_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue; // binary
        };
        let rel = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        problems.extend(
            citation_problems(&text, &exists)
                .into_iter()
                .map(|p| format!("{rel}: {p}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn citation_check_accepts_specifications_and_refuses_other_documents() {
    let exists = |p: &str| p == "docs/spec/windows-formats.md";
    for good in [
        "// (docs/spec/windows-formats.md \u{a7}4.3, \u{a7}4.4)",
        "// `docs/spec/windows-formats.md` \u{a7}4.2–\u{a7}4.4 and \u{a7}6",
        "// RFC 6125 \u{a7}6.4; RFC 5280 \u{a7}4.2.1.12",
        "//! (MS-GPREG 2.2.1 \u{a7}3)",
    ] {
        assert_eq!(
            citation_problems(good, &exists),
            Vec::<String>::new(),
            "{good}"
        );
    }
    for bad in [
        "// (spec \u{a7}6)",
        "// see docs/spec/missing.md \u{a7}2",
        "// \u{a7}3 alone",
        concat!("// recipe: ", "shared", "/spec/fetching.md"),
        concat!("// (issue ", "#2)"),
    ] {
        assert_eq!(citation_problems(bad, &exists).len(), 1, "{bad}");
    }
}
