//! `certgpo inspect`: every certificate in any input, and what is wrong with it.

use std::path::PathBuf;

use clap::Args;

use certgpo::inspect::{self, inventory, walk};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # What does this GPO backup push, and would Windows accept it?
  certgpo inspect ./Backups/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}

  # A whole Backup-GPO -All folder, as CSV for a spreadsheet:
  certgpo inspect ./Backups --csv > inventory.csv

  # Every registry.pol instruction, control codes (**del., **delvals.) explained:
  certgpo inspect registry.pol --settings

  # Take the certificates out of a bundle zip as <THUMB>.cer files:
  certgpo inspect bundle.zip --extract ./certs

  # The live GPO: its versions, links, and the certificates of its registry.pol on SYSVOL:
  certgpo inspect --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --gpo \"Trusted Roots\"

Inputs: certificate files (PEM, DER, PKCS#7), registry.pol, .reg, Blob files, gpreport.xml,
a GPMC backup folder, a folder of backups (with or without manifest.xml), a certgpo bundle
folder, or a zip of any of these. Exit code 0 when every input was read, 2 otherwise.")]
pub struct InspectArgs {
    /// Files, folders or zips to read
    #[arg(
        value_name = "PATH",
        required_unless_present = "ldap",
        conflicts_with = "ldap"
    )]
    pub paths: Vec<PathBuf>,

    /// Read the live domain instead: the GPOs in the directory, their files on SYSVOL
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// Print JSON (certificates, container findings, backups, files)
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// Print one CSV row per certificate entry
    #[arg(long)]
    pub csv: bool,

    /// Also list every registry.pol and .reg instruction, with control codes interpreted
    #[arg(long)]
    pub settings: bool,

    /// Write each certificate found as DIR/<THUMBPRINT>.cer (DER)
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
}

pub fn run(args: InspectArgs) -> Result<u8, Failure> {
    let opts = inventory::Options {
        settings: args.settings,
    };
    let inv = match args.live.inventory(opts)? {
        Some(inv) => inv,
        None => walk::read_inputs(&args.paths, None, opts)?,
    };
    let now = time::OffsetDateTime::now_utc();
    for w in &inv.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        crate::output::raw(|out| inspect::write_json(out, &inv, now, args.settings))?;
    } else if args.csv {
        crate::output::raw(|out| inspect::write_csv(out, &inv, now))?;
    } else {
        crate::output::text(|out| inspect::write_text(out, &inv, now, args.settings))?;
    }
    if let Some(dir) = &args.extract {
        let n = inspect::extract(&inv, dir)?;
        eprintln!("extracted {n} certificates to {}", dir.display());
    }
    Ok(code::OK)
}
