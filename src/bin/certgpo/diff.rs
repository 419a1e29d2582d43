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

  # What will the bundle change on the live GPO? (OLD is the live GPO: give only NEW)
  certgpo diff --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --gpo \"Trusted Roots\" ./bundle

OLD and NEW are any inputs `certgpo inspect` reads. Exit code 0 when equal, 1 when
different, 2 on error.")]
pub struct DiffArgs {
    /// The current state (backup, bundle, registry.pol, .reg, certificate files, zip); with --ldap, the proposed state
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The proposed state
    #[arg(
        value_name = "NEW",
        required_unless_present = "ldap",
        conflicts_with = "ldap"
    )]
    pub new: Option<PathBuf>,

    /// The live GPO (--gpo) or domain as OLD; the one PATH given is then NEW
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiffArgs) -> Result<u8, Failure> {
    let opts = inventory::Options::default();
    let (old, new, old_label, new_label) = match (args.live.inventory(opts)?, &args.new) {
        (Some(live), _) => {
            let new = walk::read_inputs(std::slice::from_ref(&args.old), Some("NEW"), opts)?;
            (live, new, args.live.label(), args.old.display().to_string())
        }
        (None, Some(new_path)) => (
            walk::read_inputs(std::slice::from_ref(&args.old), Some("OLD"), opts)?,
            walk::read_inputs(std::slice::from_ref(new_path), Some("NEW"), opts)?,
            args.old.display().to_string(),
            new_path.display().to_string(),
        ),
        (None, None) => return Err(Failure::new("give OLD and NEW, or --ldap and NEW")),
    };
    for w in old.warnings.iter().chain(&new.warnings) {
        eprintln!("warning: {w}");
    }
    let diff = diff::compare(&old, &new, &old_label, &new_label);
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
