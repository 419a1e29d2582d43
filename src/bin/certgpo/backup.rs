//! `certgpo backup`: a live GPO as a GPMC backup folder, the before-image of a change.

use std::path::PathBuf;

use clap::Args;

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(
    mut_arg("ldap", |a| a.required(true)),
    mut_arg("gpo", |a| a.required(true)),
    after_help = "Examples:
  # Keep the before-image of the GPO a pipeline is about to change:
  certgpo backup --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --gpo \"Trusted Roots\" --out ./before

  # ...which inspect, diff and build --base read like any Backup-GPO folder:
  certgpo diff ./before ./bundle

The folder holds manifest.xml and {BACKUP-ID}/ with Backup.xml (the container's DACL,
flags, versions, extension names and WMI filter link), bkupInfo.xml, gpreport.xml and
every file of the GPO's SYSVOL folder under DomainSysvol/GPO/ but GPT.INI, byte for byte.
A GPO whose folder cannot be read whole is not backed up."
)]
pub struct BackupArgs {
    /// The domain controller, and the GPO (--gpo) to back up
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// Folder to write the backup into; it must not exist or be empty
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: BackupArgs) -> Result<u8, Failure> {
    let out = &args.out;
    if let Ok(mut entries) = std::fs::read_dir(out)
        && entries.next().is_some()
    {
        return Err(
            Failure::new(format!("--out {}: the folder is not empty", out.display()))
                .hint("give a new folder: a backup is never written over other files"),
        );
    }
    let Some((target, selection)) = args.live.target()? else {
        return Err(Failure::new("backup needs --ldap"));
    };
    let certgpo::live::read::Selection::One(gpo) = selection else {
        return Err(Failure::new("backup needs --gpo NAME or {GUID}"));
    };
    let made = certgpo::live::backup::backup(&target, &gpo, time::OffsetDateTime::now_utc())?;
    let staged = certgpo::atomic::stage_dir("--out", out, &made.files)?;
    certgpo::atomic::commit(vec![staged])?;
    eprintln!(
        "wrote backup {} of GPO {:?} {} (version {}) to {}",
        made.backup_id,
        certgpo::text::printable(&made.gpo.name),
        made.gpo.guid,
        made.gpo.version,
        out.display()
    );
    Ok(code::OK)
}
