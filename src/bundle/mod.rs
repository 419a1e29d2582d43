//! `certgpo build`: from certificates to a complete, reproducible bundle.
//!
//! `plan.rs` decides (stores, Blobs, registry.pol entries, GPO identity), `render.rs`
//! turns the plan into the bundle's files in memory, and `write.rs` puts them on disk
//! atomically or into a deterministic zip. This file holds the command itself. Keeping
//! the steps apart lets tests and other commands (`build --base`, `inspect`, `diff`)
//! reuse each one without touching the file system.

mod plan;
mod render;
mod write;

pub use plan::{Item, Options, Plan, backup_id, plan, policy_entries};
pub use render::{pem, render, seal};
use write::check_out;
pub use write::{write_dir, write_file_atomic, zip_bytes};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use crate::audit;
use crate::blob::{self, Extras};
use crate::cert::{self, Finding};
use crate::cli::BuildArgs;
use crate::exit::Failure;
use crate::gpo;
use crate::template::{TemplateError, Templates};
use crate::text::printable;

/// The GPO name used when `--gpo-name` is not given.
pub const DEFAULT_GPO_NAME: &str = "certgpo - Trusted Certificates";

/// Directory and file names inside the bundle (part of the interface).
pub const POLICY_FILE: &str = "policy/registry.pol";
pub const TRUST_REG: &str = "reg/trust-machine-store.reg";
pub const REMOVE_REG: &str = "reg/remove-machine-store.reg";
pub const SUMS_FILE: &str = "SHA256SUMS";

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
    #[error("{option} {value:?}: {problem}")]
    BadOption {
        option: &'static str,
        value: String,
        problem: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("--out {0} exists and is not empty")]
    OutNotEmpty(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot write the zip: {0}")]
    Zip(String),
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Failure {
        let hint = match &e {
            BuildError::Expired { .. } => {
                Some("pass --allow-expired to distribute it anyway (for example to reproduce an existing GPO)".to_string())
            }
            BuildError::NotTrustAnchor { issuer, .. } => Some(format!(
                "distribute the issuer's root instead (the certificate of {issuer}), \
                 or pass --store explicitly (for example --store trusted-people)"
            )),
            BuildError::NoDomain(_) => {
                Some("pass the Active Directory DNS domain, e.g. --domain contoso.local".into())
            }
            BuildError::OutNotEmpty(_) => {
                Some("choose a new directory, or pass --force to replace it".into())
            }
            _ => None,
        };
        let mut f = Failure::new(e.to_string());
        if let Some(h) = hint {
            f = f.hint(h);
        }
        f
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

#[derive(Serialize)]
struct Summary<'a> {
    out: String,
    zip: Option<String>,
    gpo_name: &'a str,
    gpo_guid: String,
    backup_id: String,
    domain: &'a str,
    timestamp: String,
    certificates: Vec<SummaryCert>,
    warnings: &'a [String],
    notes: &'a [String],
    files: Vec<SummaryFile>,
}

#[derive(Serialize)]
struct SummaryCert {
    store: &'static str,
    thumbprint: String,
    sha256: String,
    subject: String,
    not_after: String,
    findings: Vec<Finding>,
}

#[derive(Serialize)]
struct SummaryFile {
    path: String,
    sha256: String,
    size: usize,
}

/// `certgpo build`.
pub fn run(args: BuildArgs) -> Result<u8, Failure> {
    let mut opts = options(&args)?;
    let base = match &args.base {
        Some(path) => Some(crate::base::Base::read(path, &mut opts, args.all_stores)?),
        None => None,
    };
    if let Some(zip) = &args.zip {
        let out_abs = std::path::absolute(&args.out)?;
        if std::path::absolute(zip)?.starts_with(&out_abs) {
            return Err(BuildError::Conflict(format!(
                "--zip {} is inside --out {}; the zip must live outside the bundle",
                zip.display(),
                args.out.display()
            ))
            .into());
        }
    }
    if args.force {
        let out_abs = std::path::absolute(&args.out)?;
        for c in &args.certs {
            if std::path::absolute(c)?.starts_with(&out_abs) {
                return Err(BuildError::Conflict(format!(
                    "--cert {} is inside --out {}, which --force would delete",
                    c.display(),
                    args.out.display()
                ))
                .into());
            }
        }
    }
    // write_dir checks again at the end; checking now refuses before any fetching or
    // rendering is done for nothing.
    check_out(&args.out, args.force)?;
    let templates = Templates::load(args.templates.as_deref()).map_err(BuildError::from)?;
    let mut loaded = cert::load_paths(&args.certs)?;
    let fetched = fetched_certs(&args)?;
    if let Some(f) = &fetched {
        loaded.certs.extend(f.loaded.iter().cloned());
    }
    for w in &loaded.warnings {
        eprintln!("warning: {}", printable(w));
    }
    let now = OffsetDateTime::now_utc();
    let mut plan = plan(loaded.certs, opts, now)?;
    if let Some(base) = &base {
        base.apply(&mut plan, &args.remove, args.drop_expired, now)?;
    }
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let mut files = render(&plan, &templates)?;
    if let Some(base) = &base {
        base.carry_over(&mut files, &plan);
    }
    let zip = match &args.zip {
        Some(_) => Some(zip_bytes(&files)?),
        None => None,
    };
    write_dir(&files, &args.out, args.force)?;
    if let Some(f) = &fetched {
        f.save_lock()?;
        eprintln!("note: pins recorded in {}", f.lock_path().display());
    }
    if let (Some(path), Some(bytes)) = (&args.zip, &zip) {
        write_file_atomic(path, bytes)?;
    }

    let meta = &plan.meta;
    if args.json {
        let mut warnings = loaded.warnings.clone();
        warnings.extend(plan.warnings.iter().cloned());
        let summary = Summary {
            out: args.out.display().to_string(),
            zip: args.zip.as_ref().map(|z| z.display().to_string()),
            gpo_name: &meta.display_name,
            gpo_guid: gpo::braced_upper(&meta.gpo_guid),
            backup_id: gpo::braced_upper(&meta.backup_id),
            domain: &meta.domain,
            timestamp: audit::date_time(meta.time),
            certificates: plan
                .items
                .iter()
                .map(|i| SummaryCert {
                    store: i.store.cli_name(),
                    thumbprint: i.cert.thumbprint(),
                    sha256: i.cert.sha256_hex(),
                    subject: i.cert.subject.clone(),
                    not_after: audit::date_time(i.cert.not_after),
                    findings: i.cert.findings(plan.as_of),
                })
                .collect(),
            warnings: &warnings,
            notes: &plan.notes,
            files: files
                .iter()
                .map(|(p, b)| SummaryFile {
                    path: p.clone(),
                    sha256: render::file_sha256(b),
                    size: b.len(),
                })
                .collect(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
    } else {
        println!(
            "Built {} for GPO \"{}\" ({}) in {}:",
            args.out.display(),
            printable(&meta.display_name),
            gpo::braced_upper(&meta.gpo_guid),
            meta.domain
        );
        for i in &plan.items {
            println!(
                "  {:<16} {}  {}",
                i.store.registry_name(),
                i.cert.thumbprint(),
                printable(&i.cert.subject_display)
            );
        }
        println!(
            "Backup id {}; deploy with scripts/Deploy-CertGpo.ps1 (see README.txt).",
            gpo::braced_upper(&meta.backup_id)
        );
        if let Some(z) = &args.zip {
            println!("Zip: {}", z.display());
        }
    }
    Ok(crate::exit::code::OK)
}

/// `--fetch`: the approved trust anchors, or `None` without `--fetch`.
fn fetched_certs(args: &BuildArgs) -> Result<Option<crate::pin::Fetched>, Failure> {
    let mut targets = args.fetch.clone();
    if let Some(report) = &args.discover {
        targets.extend(crate::discover::report_targets(report)?);
    }
    if targets.is_empty() {
        return Ok(None);
    }
    let policy = crate::pin::Policy {
        expect: crate::fetch::parse_pins(&args.expect)?,
        trust_on_first_use: args.trust_on_first_use,
        update_pins: args.update_pins,
        lock_path: crate::pin::lock_path(args.lock.as_deref(), &args.out),
    };
    let opts = crate::fetch::FetchOptions::from_args(&args.connect)?;
    Ok(Some(crate::pin::fetch_for_build(&targets, opts, policy)?))
}

fn options(args: &BuildArgs) -> Result<Options, BuildError> {
    let purposes = args
        .purpose
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            blob::purpose_oid(p).map_err(|problem| BuildError::BadOption {
                option: "--purpose",
                value: p.clone(),
                problem,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Options {
        gpo_name: args.gpo_name.clone(),
        domain: args.domain.clone(),
        store: args.store,
        blob: args.blob,
        extras: Extras {
            friendly_name: args.friendly_name.clone(),
            purposes,
        },
        all_stores: args.all_stores,
        allow_expired: args.allow_expired,
        timestamp: timestamp_option(args.timestamp.as_deref())?,
    })
}
