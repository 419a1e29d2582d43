//! `certgpo build`: from certificates to a complete, reproducible bundle.
//!
//! `base.rs` reads the GPO backup of `--base` and checks the request against it,
//! `plan.rs` decides (stores, Blobs, registry.pol entries, GPO identity, merged into
//! the base when there is one), `render.rs` turns the plan into the bundle's files in
//! memory (laid out as `crate::bundle` says), and `write.rs` puts them on disk
//! atomically or into a deterministic zip. This file holds the command itself.
//! Keeping the steps apart lets tests reuse each one without touching the file system.

pub mod base;
pub mod pins;
mod plan;
mod render;
mod write;

pub use plan::{Item, Options, Plan, backup_id, plan, plan_with, policy_entries};
pub use render::render;
pub use write::zip_bytes;
use write::{check_out, check_zip, write_outputs};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert;
use crate::gpo;
use crate::report;
use crate::template::{TemplateError, Templates};
use crate::text::printable;

/// The GPO name used when `--gpo-name` is not given.
pub const DEFAULT_GPO_NAME: &str = "certgpo - Trusted Certificates";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{file}: certificate {thumbprint} ({subject}) expired on {date}")]
    Expired {
        file: String,
        thumbprint: String,
        subject: String,
        date: String,
    },
    #[error(
        "{file}: certificate {thumbprint} ({subject}) is neither self-signed nor a CA certificate; it was issued by {issuer}"
    )]
    NotTrustAnchor {
        file: String,
        thumbprint: String,
        subject: String,
        issuer: String,
    },
    #[error(
        "{file}: certificate {thumbprint} gives a Blob of {size} bytes; a registry.pol value holds at most 65,535"
    )]
    BlobTooLarge {
        file: String,
        thumbprint: String,
        size: usize,
    },
    #[error("--domain is needed: {0}")]
    NoDomain(String),
    #[error("{option} {:?}: {problem}", crate::text::cut(.value, 100))]
    BadOption {
        option: &'static str,
        value: String,
        problem: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("--out {} exists and is not empty", .0.display())]
    OutNotEmpty(PathBuf),
    #[error("--out {} is a file; --out names a directory (created if absent)", .0.display())]
    OutIsFile(PathBuf),
    #[error(
        "--out {} is not a bundle certgpo wrote (it holds {holds}), so --force will not replace it",
        path.display()
    )]
    OutNotBundle { path: PathBuf, holds: String },
    #[error("--zip {} exists and is not a zip file, so --force will not replace it", .0.display())]
    ZipNotZip(PathBuf),
    #[error(transparent)]
    Output(#[from] crate::atomic::OutputError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the zip: {0}")]
    Zip(String),
    #[error(transparent)]
    Channel(#[from] crate::channel::ChannelError),
}

impl crate::Diagnostic for BuildError {
    fn hint(&self) -> Option<String> {
        match self {
            BuildError::Expired { .. } => {
                Some("pass --allow-expired to distribute it anyway (for example to reproduce an existing GPO)".to_string())
            }
            BuildError::NotTrustAnchor { issuer, .. } => Some(format!(
                "distribute the issuer's root instead (the certificate of {issuer}), \
                 or pass --store explicitly (for example --store trusted-people)"
            )),
            BuildError::Template(TemplateError::Input(e)) => e.hint(),
            BuildError::NoDomain(_) => {
                Some("pass the Active Directory DNS domain, e.g. --domain contoso.local".into())
            }
            BuildError::OutNotEmpty(_) => {
                Some("choose a new directory, or pass --force to replace it".into())
            }
            BuildError::OutNotBundle { .. } => Some(
                "--force replaces only an earlier bundle (README.txt, SHA256SUMS and gpo-backup/) or an empty folder; choose another --out"
                    .into(),
            ),
            BuildError::ZipNotZip(_) => Some("choose another --zip".into()),
            BuildError::Output(e) => e.hint(),
            BuildError::Channel(e) => e.hint(),
            _ => None,
        }
    }
}

/// The bundle's files, by relative path with `/` separators, sorted.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Parse `--timestamp` (RFC 3339 or Unix seconds), else SOURCE_DATE_EPOCH.
pub fn timestamp_option(flag: Option<&str>) -> Result<Option<OffsetDateTime>, BuildError> {
    let (option, value) = match (flag, std::env::var("SOURCE_DATE_EPOCH").ok()) {
        (Some(v), _) => ("--timestamp", v.to_string()),
        (None, Some(v)) if !v.is_empty() => ("SOURCE_DATE_EPOCH", v),
        _ => return Ok(None),
    };
    let bad = |problem: &str| BuildError::BadOption {
        option,
        value: value.clone(),
        problem: problem.to_string(),
    };
    let t = if let Ok(secs) = value.trim().parse::<i64>() {
        OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad("out of range"))?
    } else {
        OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad("expected RFC 3339 (2024-05-01T12:00:00Z) or Unix seconds"))?
    };
    // DOS and GPMC times start in 1980; Windows FILETIME in 1601. Keep to a sane range.
    if t.year() < 1980 || t.year() > 9999 {
        return Err(bad("must be between 1980 and 9999"));
    }
    Ok(Some(t))
}

/// Everything a build needs, as plain values (the command line's words, checked).
pub struct Request {
    /// Certificate files or folders (`--cert`).
    pub certs: Vec<PathBuf>,
    /// Certificates to fetch from servers (`--fetch`, `--discover`).
    pub fetch: Option<FetchRequest>,
    pub plan: Options,
    /// Start from this GPO backup (`--base`), taking these thumbprints out.
    pub base: Option<BaseRequest>,
    pub templates: Option<PathBuf>,
    pub out: PathBuf,
    pub zip: Option<PathBuf>,
    pub force: bool,
}

/// Servers whose certificate to trust.
pub struct FetchRequest {
    /// `--fetch` targets.
    pub targets: Vec<String>,
    /// A `certgpo discover --json` report whose endpoints to fetch (`--discover`).
    pub discover: Option<PathBuf>,
    pub connect: crate::fetch::FetchOptions,
    /// How fetched certificates are approved and recorded.
    pub pins: PinRequest,
}

/// The pin rules of `--fetch` (see `pins`).
pub struct PinRequest {
    /// `--expect` fingerprints, as typed.
    pub expect: Vec<String>,
    pub trust_on_first_use: bool,
    pub update_pins: bool,
    /// `--lock`; default `certgpo.lock` beside the output.
    pub lock: Option<PathBuf>,
}

/// `--base` and what to change in it.
pub struct BaseRequest {
    pub path: PathBuf,
    pub remove: Vec<String>,
    pub drop_expired: bool,
}

/// A bundle that was written.
pub struct Built {
    pub plan: Plan,
    pub files: Files,
    /// Warnings of loading and planning, as printed on the way.
    pub warnings: Vec<String>,
}

/// Errors of every step of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Cert(#[from] cert::CertError),
    #[error(transparent)]
    Base(#[from] base::BaseError),
    #[error(transparent)]
    Pin(#[from] pins::PinError),
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    #[error(transparent)]
    Discover(#[from] crate::discover::DiscoverError),
}

impl crate::Diagnostic for PipelineError {
    fn hint(&self) -> Option<String> {
        match self {
            PipelineError::Build(e) => e.hint(),
            PipelineError::Cert(e) => e.hint(),
            PipelineError::Base(e) => e.hint(),
            PipelineError::Pin(e) => e.hint(),
            PipelineError::Fetch(e) => e.hint(),
            PipelineError::Discover(e) => e.hint(),
        }
    }

    fn kind(&self) -> crate::Kind {
        match self {
            PipelineError::Pin(e) => e.kind(),
            PipelineError::Fetch(e) => e.kind(),
            _ => crate::Kind::Error,
        }
    }
}

/// The whole build: inputs -> certificates -> plan -> render -> atomic write of the
/// bundle, its zip and the lock file together.
/// Warnings and notes go to standard error as they arise.
pub fn build(req: Request) -> Result<Built, PipelineError> {
    // The base first: a `--remove` it cannot honour is refused before anything is
    // loaded or fetched.
    let base = match &req.base {
        Some(b) => Some(base::Base::read(b, &req.plan)?),
        None => None,
    };
    check_outputs(&req)?;
    let templates = Templates::load(req.templates.as_deref()).map_err(BuildError::from)?;
    let mut loaded = cert::load_paths(&req.certs)?;
    let fetched = fetched_certs(req.fetch.as_ref(), &req.out)?;
    if let Some(f) = &fetched {
        loaded.certs.extend(f.loaded.iter().cloned());
    }
    for w in &loaded.warnings {
        eprintln!("warning: {}", printable(w));
    }
    for n in &loaded.notes {
        eprintln!("note: {}", printable(n));
    }
    let now = OffsetDateTime::now_utc();
    let plan = plan(loaded.certs, req.plan.clone(), base.as_ref(), now)?;
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let files = render(&plan, &templates)?;
    check_outputs(&req)?;
    let mut others = Vec::new();
    if let Some(path) = &req.zip {
        others.push(("--zip", path.clone(), zip_bytes(&files)?));
    }
    if let Some(f) = &fetched {
        others.push(("--lock", f.lock_path().to_path_buf(), f.lock_bytes()));
    }
    write_outputs(&files, &req.out, &others)?;
    if let Some(f) = &fetched {
        eprintln!("note: pins recorded in {}", f.lock_path().display());
    }
    let mut warnings = loaded.warnings;
    warnings.extend(plan.warnings.iter().cloned());
    Ok(Built {
        plan,
        files,
        warnings,
    })
}

/// Refuse outputs that would destroy an input or something that is not certgpo's,
/// before any fetching or rendering is done for nothing, and again just before writing
/// (a long fetch leaves time for the file system to change). Paths are compared once
/// symbolic links are resolved.
fn check_outputs(req: &Request) -> Result<(), BuildError> {
    let resolved = |p: &Path| {
        crate::atomic::resolved(p).map_err(|source| BuildError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let out = resolved(&req.out)?;
    let lock = req
        .fetch
        .as_ref()
        .map(|f| pins::lock_path(f.pins.lock.as_deref(), &req.out));
    let mut inputs: Vec<(&'static str, &Path)> =
        req.certs.iter().map(|c| ("--cert", c.as_path())).collect();
    inputs.extend(req.templates.as_deref().map(|t| ("--templates", t)));
    inputs.extend(
        req.fetch
            .as_ref()
            .and_then(|f| f.discover.as_deref())
            .map(|d| ("--discover", d)),
    );
    inputs.extend(lock.as_deref().map(|l| ("--lock", l)));
    if let Some(zip) = &req.zip {
        if resolved(zip)?.starts_with(&out) {
            return Err(BuildError::Conflict(format!(
                "--zip {} is inside --out {}; the zip must live outside the bundle",
                zip.display(),
                req.out.display()
            )));
        }
        let mut zip_inputs = inputs.clone();
        zip_inputs.extend(req.base.as_ref().map(|b| ("--base", b.path.as_path())));
        crate::atomic::check_file_output("--zip", zip, req.force, &zip_inputs)?;
        check_zip(zip)?;
    }
    // The default lock file goes beside --out, whose folder the build creates.
    if let Some(lock) = req.fetch.as_ref().and_then(|f| f.pins.lock.as_deref()) {
        crate::atomic::check_folder("--lock", lock)?;
    }
    if let Some(lock) = &lock
        && resolved(lock)?.starts_with(&out)
    {
        return Err(BuildError::Conflict(format!(
            "--lock {} is inside --out {}; the lock file must live outside the bundle",
            lock.display(),
            req.out.display()
        )));
    }
    // --base is left out: it is read whole before anything is written, and updating a
    // bundle in place (`--base b --out b --force`) is what it is for.
    if req.force {
        for (option, input) in &inputs {
            if resolved(input)?.starts_with(&out) {
                return Err(BuildError::Conflict(format!(
                    "{option} {} is inside --out {}, which --force would delete",
                    input.display(),
                    req.out.display()
                )));
            }
        }
    }
    check_out(&req.out, req.force)
}

/// `--fetch` and `--discover`: the approved trust anchors, or `None` without them.
/// The lock file defaults to `certgpo.lock` beside `out`.
pub fn fetched_certs(
    fetch: Option<&FetchRequest>,
    out: &Path,
) -> Result<Option<pins::Fetched>, PipelineError> {
    let Some(fetch) = fetch else {
        return Ok(None);
    };
    let mut targets = fetch.targets.clone();
    if let Some(report) = &fetch.discover {
        targets.extend(crate::discover::fetched::report_targets(report)?);
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let policy = pins::Policy {
        expect: crate::fetch::parse_pins(&fetch.pins.expect)?,
        trust_on_first_use: fetch.pins.trust_on_first_use,
        update_pins: fetch.pins.update_pins,
        lock_path: pins::lock_path(fetch.pins.lock.as_deref(), out),
    };
    Ok(Some(pins::fetch_for_build(
        &targets,
        fetch.connect.clone(),
        policy,
    )?))
}

/// `--purpose` values (names or OIDs) as OIDs.
pub fn purposes(values: &[String]) -> Result<Vec<der::asn1::ObjectIdentifier>, BuildError> {
    values
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            crate::purpose::parse(p).map_err(|problem| BuildError::BadOption {
                option: "--purpose",
                value: p.clone(),
                problem,
            })
        })
        .collect()
}

#[derive(Serialize)]
struct Summary<'a> {
    out: String,
    zip: Option<String>,
    gpo_name: &'a str,
    gpo_guid: String,
    backup_id: String,
    domain: &'a str,
    timestamp: String,
    certificates: Vec<report::CertView>,
    warnings: &'a [String],
    notes: &'a [String],
    files: Vec<SummaryFile>,
}

#[derive(Serialize)]
struct SummaryFile {
    path: String,
    sha256: String,
    size: usize,
}

/// `build --json`: what was built, for a pipeline.
pub fn summary_json(built: &Built, out: &std::path::Path, zip: Option<&std::path::Path>) -> String {
    let plan = &built.plan;
    let meta = &plan.meta;
    let summary = Summary {
        out: out.display().to_string(),
        zip: zip.map(|z| z.display().to_string()),
        gpo_name: &meta.display_name,
        gpo_guid: gpo::braced_upper(&meta.gpo_guid),
        backup_id: gpo::braced_upper(&meta.backup_id),
        domain: &meta.domain,
        timestamp: report::date_time(meta.time),
        certificates: render::views(plan),
        warnings: &built.warnings,
        notes: &plan.notes,
        files: built
            .files
            .iter()
            .map(|(p, b)| SummaryFile {
                path: p.clone(),
                sha256: render::file_sha256(b),
                size: b.len(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&summary).unwrap_or_default()
}

/// What was built, for a terminal.
pub fn summary_text(built: &Built, out: &std::path::Path, zip: Option<&std::path::Path>) -> String {
    use std::fmt::Write as _;
    let meta = &built.plan.meta;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Built {} for GPO \"{}\" ({}) in {}:",
        out.display(),
        printable(&meta.display_name),
        gpo::braced_upper(&meta.gpo_guid),
        meta.domain
    );
    for i in &built.plan.items {
        let _ = writeln!(
            s,
            "  {:<16} {}  {}",
            i.store.registry_name(),
            i.cert.thumbprint(),
            printable(&i.cert.subject_display)
        );
    }
    let _ = writeln!(
        s,
        "Backup id {}; deploy with scripts/Deploy-CertGpo.ps1 (see README.txt).",
        gpo::braced_upper(&meta.backup_id)
    );
    if let Some(z) = zip {
        let _ = writeln!(s, "Zip: {}", z.display());
    }
    s
}
