//! report.html as an admin opens it: Chromium at 1280x800, driven through chromedriver
//! (W3C WebDriver). An audit of a real GPO backup plus its certificate files, the
//! Exchange example, a certificate whose subject is `<img src=x onerror=...>` and a
//! registry.pol with two entries Windows ignores, and a bundle of the two certificates
//! under a GPO name of markup: no horizontal scrolling (details open or closed), the counts
//! at the top equal the JSON report's and each links to exactly the rows it counts, one
//! row and one timeline bar per distinct certificate, a click on a header sorts, the
//! filter box narrows the rows, the hostile subject shows as text and runs nothing, and
//! without scripts the page still reads and its count links still filter.
//!
//! The screenshot of the audit page is checked on every run (a 1280x800 PNG) and written
//! to docs/report.png, which README.md shows, only with UPDATE_SCREENSHOT=1.

mod common;
mod webdriver;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{Key, NSA_BACKUP, certgpo_ok as run, data, example};
use serde_json::{Value, json};
use webdriver::Browser;

const XSS: &str = "<img src=x onerror=window.__xss=1>";

/// The page's count keys and the JSON summary's names for them.
const COUNTS: [(&str, &str); 6] = [
    ("expired", "expired"),
    ("expiring", "within_warn_days"),
    ("weak", "weak"),
    ("ignored", "ignored_by_windows"),
    ("other", "other_findings"),
    ("ok", "ok"),
];

/// `audit --format json` and `--format html` of `inputs`, run in `dir` (so that files
/// there show by their names); the page is written to `page`.
fn audit(dir: &Path, inputs: &[PathBuf], page: &Path) -> Value {
    let format = |f: &str| {
        let o = common::certgpo()
            .current_dir(dir)
            .arg("audit")
            .args(inputs)
            .args(["--format", f])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    std::fs::write(page, format("html")).unwrap();
    serde_json::from_slice(&format("json")).unwrap()
}

/// The rows a reader sees (not hidden by the filter or a count link).
const VISIBLE_ROWS: &str = "return Array.from(document.querySelectorAll('#certs tbody'))\
     .filter(r => r.getClientRects().length > 0).length;";

fn visible_rows(b: &Browser) -> u64 {
    b.js(VISIBLE_ROWS, json!([])).as_u64().unwrap()
}

/// The page is no wider than the window, with every detail closed and then open.
fn fits(b: &Browser, name: &str) {
    for open in [false, true] {
        let [scroll, client] = [0, 1].map(|i| {
            b.js(
                "document.querySelectorAll('details').forEach(d => d.open = arguments[0]);\
                 const e = document.documentElement; return [e.scrollWidth, e.clientWidth];",
                json!([open]),
            )[i]
                .as_u64()
                .unwrap()
        });
        assert!(
            scroll <= client,
            "{name}, details open: {open}: {scroll} px wide in a {client} px window"
        );
    }
    b.js(
        "document.querySelectorAll('details').forEach(d => d.open = false);",
        json!([]),
    );
}

/// Each count at the top equals the JSON summary's; returns them by page key.
fn counts_match(b: &Browser, summary: &Value, name: &str) -> Vec<(String, u64)> {
    let shown = b.js(
        "return Array.from(document.querySelectorAll('[data-count]'))\
         .map(e => [e.getAttribute('data-count'), e.textContent]);",
        json!([]),
    );
    let shown: Vec<(String, u64)> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().into(),
                p[1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    for (key, json_key) in COUNTS {
        let want = summary[json_key].as_u64().unwrap();
        match shown.iter().find(|(k, _)| k == key) {
            Some((_, n)) => assert_eq!(*n, want, "{name}: {key} on the page, {json_key} in JSON"),
            // Only "other findings" may be left out, and only when there are none.
            None => assert!(key == "other" && want == 0, "{name}: no {key} count"),
        }
    }
    shown
}

/// A certificate, and the places it is distributed from, as JSON lists them.
fn distinct_certificates(report: &Value) -> BTreeSet<String> {
    report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha256"].as_str().unwrap().to_string())
        .collect()
}

/// The hostile text shows in the elements `css` finds (and the details), and no script
/// ran; the page's CSP would also stop an event handler that got through.
fn inert(b: &Browser, name: &str, css: &str) {
    b.js(
        "document.querySelectorAll('details').forEach(d => d.open = true);",
        json!([]),
    );
    let v = b.js(
        "const has = sel => Array.from(document.querySelectorAll(sel))\
           .some(e => e.textContent.includes(arguments[0]));\
         return [typeof window.__xss, document.querySelectorAll('img').length,\
                 has(arguments[1]), has('dd')];",
        json!([XSS, css]),
    );
    assert_eq!(v, json!(["undefined", 0, true, true]), "{name}");
    b.js(
        "const s = document.createElement('span');\
         s.innerHTML = '<img src=x onerror=\"window.__csp=1\">';\
         document.body.appendChild(s);",
        json!([]),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let v = b.js("return typeof window.__csp;", json!([]));
    assert_eq!(
        v, "undefined",
        "{name}: an inline handler ran despite the CSP"
    );
}

/// A registry.pol with two entries Windows ignores: a Blob without its certificate, and
/// DoD Root CA 3's Blob under another thumbprint; out of order, a note about the file.
/// Returns its name in `dir`.
fn ignored_entries(dir: &Path) -> PathBuf {
    use certgpo::policy::{Entry, write};
    let blob = std::fs::read(data(
        "nsa-cert/derived/Root-D73CA91102A2204A36459ED32213B467D7CE97FB.Blob.bin",
    ))
    .unwrap();
    let root = r"Software\Policies\Microsoft\SystemCertificates\Root\Certificates";
    let entries = [
        Entry::binary(
            format!("{root}\\{}", "1".repeat(40)),
            "Blob",
            blob[..28].to_vec(),
        ),
        Entry::binary(format!("{root}\\{}", "0".repeat(40)), "Blob", blob.clone()),
    ];
    std::fs::write(dir.join("registry.pol"), write(&entries)).unwrap();
    "registry.pol".into()
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "a PNG"
    );
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn report_in_chromium() {
    if !common::require("openssl", &["version"]) || !webdriver::available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let xss = common::selfsigned(tmp.path(), "xss", Key::P256, XSS, None).cert;
    let ignored = ignored_entries(tmp.path());

    // An audit of one GPO backup plus the certificate files it was made from, and more.
    let page = tmp.path().join("audit.html");
    let inputs = [
        data(NSA_BACKUP),
        data("nsa-cert/root-certs-pem"),
        example(),
        "xss.pem".into(),
        ignored,
    ];
    let report = audit(tmp.path(), &inputs, &page);
    let summary = &report["summary"];
    let certs = distinct_certificates(&report);
    assert_eq!(summary["distinct_certificates"], certs.len());
    assert_eq!(summary["certificate_entries"], 37 + 4 + 2 + 2);
    assert_eq!(summary["ignored_by_windows"], 2);
    assert_eq!(
        summary["container_findings"], 1,
        "registry.pol out of order"
    );
    if let Some(errors) = common::html5_errors(&page) {
        assert!(errors.is_empty(), "{errors:?}");
    }
    assert_eq!(
        certs.len(),
        37 + 2,
        "the 4 roots are in the GPO and in files"
    );
    // A row per certificate, and one for the entry without a readable certificate.
    let rows = certs.len() + 1;

    let b = Browser::start(1280, 800, true);
    b.open(&page);
    fits(&b, "audit");
    let shown = counts_match(&b, summary, "audit");
    let notes = b.js(
        "return document.querySelectorAll('.notes li').length;",
        json!([]),
    );
    assert_eq!(notes, 1, "the note about registry.pol");

    // One row and one bar per distinct certificate; a root's row lists both places.
    let v = b.js(
        "return [document.querySelectorAll('#certs tbody').length,\
                 document.querySelectorAll('.tl li').length,\
                 Array.from(document.querySelectorAll('#certs tbody'))\
                   .map(r => r.querySelectorAll('.places li').length)];",
        json!([]),
    );
    assert_eq!(v[0], rows, "rows");
    assert_eq!(v[1], certs.len(), "timeline bars");
    let places: Vec<u64> = v[2]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(places.iter().sum::<u64>(), 45, "every entry in some row");
    // DoD Root CA 3 is in the GPO, a file and the registry.pol (ignored there).
    assert_eq!(places.iter().filter(|n| **n == 2).count(), 3, "{places:?}");
    assert_eq!(places.iter().filter(|n| **n == 3).count(), 1, "{places:?}");
    // The timeline in expiry order.
    let ends = b.js(
        "return Array.from(document.querySelectorAll('#certs tbody'))\
         .map(r => r.rows[0].cells[2].getAttribute('data-sort'));",
        json!([]),
    );
    let ends: Vec<&str> = ends
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{ends:?}");
    assert_eq!(
        ends[0], "",
        "the unreadable entry, which has no expiry, first"
    );

    // Each count links to exactly the rows it counts.
    for (key, n) in &shown {
        b.click(&format!("#count-{key}"));
        // The ignored count is of entries: 2 here, in two rows.
        assert_eq!(visible_rows(&b), *n, "{key}");
        b.click(&format!(".showing-{key} a"));
        assert_eq!(visible_rows(&b), rows as u64, "show all after {key}");
    }

    // A click on "Expires" sorts latest first; on "Certificate", by name.
    b.click("#certs th:nth-child(3) button");
    let v = b.js(
        "const rows = Array.from(document.querySelectorAll('#certs tbody'));\
         return [rows.map(r => r.rows[0].cells[2].getAttribute('data-sort')),\
                 document.querySelector('#certs th:nth-child(3)').getAttribute('aria-sort')];",
        json!([]),
    );
    let mut latest_first = ends.clone();
    latest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(v[0], json!(latest_first));
    assert_eq!(v[1], "descending");
    b.click("#certs th:nth-child(2) button");
    let v = b.js(
        "const names = Array.from(document.querySelectorAll('#certs tbody .name'))\
           .map(e => e.textContent);\
         const sorted = names.slice().sort((a, b) =>\
           a.localeCompare(b, undefined, {numeric: true, sensitivity: 'base'}));\
         return [names, sorted, document.querySelectorAll('#certs th[aria-sort]').length,\
                 document.querySelector('#certs th:nth-child(2)').getAttribute('aria-sort')];",
        json!([]),
    );
    assert_eq!(v[0], v[1], "sorted by name");
    assert_eq!(v[2], 1, "one column is sorted");
    assert_eq!(v[3], "ascending");
    assert_ne!(v[0][0], v[0][1], "{v}");

    // The filter box: every word must match, in any column or the details.
    let email: BTreeSet<&str> = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["issued_to"].as_str().unwrap().contains("DOD EMAIL"))
        .map(|c| c["sha256"].as_str().unwrap())
        .collect();
    assert!(email.len() > 1);
    b.type_into("#filter", "dod email");
    assert_eq!(visible_rows(&b), email.len() as u64, "filter: dod email");
    let shown_text = b.js(
        "return document.getElementById('shown').textContent;",
        json!([]),
    );
    assert_eq!(
        shown_text,
        format!("{} of {rows} certificates shown", email.len())
    );
    let sha1 = common::openssl_sha1(&xss);
    b.js(
        "const f = document.getElementById('filter'); f.value = arguments[0];\
         f.dispatchEvent(new Event('input'));",
        json!([sha1]),
    );
    assert_eq!(visible_rows(&b), 1, "filter: a thumbprint");
    b.js(
        "const f = document.getElementById('filter'); f.value = '';\
         f.dispatchEvent(new Event('input')); window.scrollTo(0, 0);",
        json!([]),
    );
    assert_eq!(visible_rows(&b), rows as u64);

    inert(&b, "audit", ".name, .tl-name");

    // The page as the README shows it: the top of the audit.
    b.open(&page);
    let png = b.screenshot();
    assert_eq!(png_size(&png), (1280, 800));
    std::fs::write(tmp.path().join("report.png"), &png).unwrap();
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        std::fs::write(docs, &png).unwrap();
    }

    // On paper: no filter box or count filters, every detail unfolded.
    b.print_media();
    let v = b.js(
        "const shown = sel => Array.from(document.querySelectorAll(sel))\
           .filter(e => e.getClientRects().length > 0).length;\
         return [shown('#tools'), shown('.showing'), shown('details dl'), shown('details summary')];",
        json!([]),
    );
    assert_eq!(v, json!([0, 0, rows, 0]), "print: every row's details");

    // A bundle's report.html against its certificates.json.
    let out = tmp.path().join("bundle");
    run(&[
        OsStr::new("build"),
        OsStr::new("--domain"),
        OsStr::new("contoso.local"),
        OsStr::new("--gpo-name"),
        OsStr::new(XSS),
        OsStr::new("--cert"),
        example().as_os_str(),
        OsStr::new("--cert"),
        xss.as_os_str(),
        OsStr::new("--out"),
        out.as_os_str(),
    ]);
    let json: Value =
        serde_json::from_slice(&std::fs::read(out.join("report/certificates.json")).unwrap())
            .unwrap();
    b.open(&out.join("report/report.html"));
    fits(&b, "bundle");
    counts_match(&b, &json["summary"], "bundle");
    assert_eq!(visible_rows(&b), 2);
    inert(&b, "bundle", "h1, .name, .places");
    drop(b);

    // Scripts off: every row shows, the filter box stays hidden, count links still filter.
    let b = Browser::start(1280, 800, false);
    b.open(&page);
    fits(&b, "audit, scripts off");
    let v = b.js(
        "return [document.getElementById('tools').hidden, document.querySelectorAll('th button').length];",
        json!([]),
    );
    assert_eq!(v, json!([true, 0]), "the page's script did not run");
    assert_eq!(visible_rows(&b), rows as u64);
    let (key, n) = shown.iter().find(|(_, n)| *n > 0).unwrap();
    b.click(&format!("#count-{key}"));
    assert_eq!(visible_rows(&b), *n, "scripts off: {key}");
}
