//! `certgpo audit`: an inventory across GPO backups and files, for a nightly alarm.

use std::path::PathBuf;

use clap::Args;

use certgpo::audit::{self, Format};
use certgpo::inspect::{inventory, walk};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Nightly: every GPO backup of the domain, alarm 30 days before anything expires
  certgpo audit ./AllGpoBackups --warn-days 90 --fail-days 30 --output audit.html --force

  # For a spreadsheet
  certgpo audit ./AllGpoBackups bundle.zip --format csv > inventory.csv

  # The live domain: every GPO's registry.pol on SYSVOL and the certificates published
  # forest-wide (certutil -dspublish), from Linux:
  certgpo audit --ldap ldaps://dc1.contoso.com --user auditor@contoso.com \\
      --password-file pw.txt --fail-days 30

PATHs are anything `certgpo inspect` reads (a Backup-GPO -All folder, bundles, zips,
registry.pol, .reg, certificate files). The format follows --output's extension unless
--format is given. Exit code 1 when a certificate entry has expired or expires within
--fail-days, 2 on error, 0 otherwise.")]
pub struct AuditArgs {
    /// GPO backups, folders of backups, bundles, zips or files
    #[arg(
        value_name = "PATH",
        required_unless_present = "ldap",
        conflicts_with = "ldap"
    )]
    pub paths: Vec<PathBuf>,

    /// Audit the live domain instead: every GPO (or --gpo), and the forest-wide certificates
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// Flag certificates expiring within this many days
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub warn_days: i64,

    /// Exit 1 when a certificate has expired or expires within this many days
    #[arg(long, value_name = "N")]
    pub fail_days: Option<i64>,

    /// Output format (default: from --output's extension, else text)
    #[arg(long, value_parser = crate::named::parser::<Format>())]
    pub format: Option<Format>,

    /// Write the report to FILE (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace an existing --output file
    #[arg(long, requires = "output")]
    pub force: bool,
}

pub fn run(args: AuditArgs) -> Result<u8, Failure> {
    if let Some(path) = &args.output {
        let inputs: Vec<(&'static str, &std::path::Path)> =
            args.paths.iter().map(|p| ("", p.as_path())).collect();
        certgpo::atomic::check_file_output("--output", path, args.force, &inputs)?;
    }
    let inv = match args.live.inventory(inventory::Options::default())? {
        Some(inv) => inv,
        None => walk::read_inputs(&args.paths, None, inventory::Options::default())?,
    };
    for w in &inv.warnings {
        eprintln!("warning: {w}");
    }
    let format = match (args.format, &args.output) {
        (Some(f), _) => f,
        (None, Some(path)) => Format::from_extension(path),
        (None, None) => Format::Text,
    };
    let opts = audit::Options {
        warn_days: args.warn_days,
        fail_days: args.fail_days,
        format,
    };
    let done = audit::audit(&inv, &opts, time::OffsetDateTime::now_utc())?;
    match &args.output {
        Some(path) => {
            certgpo::atomic::write_file("--output", path, &done.report)?;
            eprintln!("wrote {}", path.display());
        }
        None => crate::output::bytes(&done.report)?,
    }
    if done.failing > 0 {
        eprintln!(
            "audit: {} certificate entr{} expired or expire within --fail-days {}",
            done.failing,
            if done.failing == 1 {
                "y has"
            } else {
                "ies have"
            },
            args.fail_days.unwrap_or_default()
        );
        return Ok(code::DIFFERENT);
    }
    Ok(code::OK)
}
