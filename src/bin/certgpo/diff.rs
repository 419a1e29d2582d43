//! `certgpo diff OLD NEW`: what changes, store by store.

use std::path::PathBuf;

use clap::Args;

use certgpo::diff;
use certgpo::inspect::{inventory, walk};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # What will importing the new bundle change on the GPO exported with Backup-GPO?
  certgpo diff ./CurrentGpoBackup ./bundle

  # Gate a pipeline: fail when the bundle no longer matches what is deployed
  certgpo diff deployed.zip bundle.zip --json > change.json || echo \"review the change\"

OLD and NEW are any inputs `certgpo inspect` reads. Exit code 0 when equal, 1 when
different, 2 on error.")]
pub struct DiffArgs {
    /// The current state (backup, bundle, registry.pol, .reg, certificate files, zip)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The proposed state
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> Result<u8, Failure> {
    let opts = inventory::Options::default();
    let old = walk::read_inputs(std::slice::from_ref(&args.old), Some("OLD"), opts)?;
    let new = walk::read_inputs(std::slice::from_ref(&args.new), Some("NEW"), opts)?;
    for w in old.warnings.iter().chain(&new.warnings) {
        eprintln!("warning: {w}");
    }
    let diff = diff::compare(
        &old,
        &new,
        &args.old.display().to_string(),
        &args.new.display().to_string(),
    );
    if args.json {
        crate::output::json(&diff)?;
    } else {
        crate::output::text(|out| diff::write_text(out, &diff))?;
    }
    Ok(if diff.equal {
        code::OK
    } else {
        code::DIFFERENT
    })
}
