//! `certgpo build`: certificates in, a complete reproducible bundle out.

use std::path::PathBuf;

use clap::Args;

use certgpo::build::{self, BaseRequest, Request};
use certgpo::channel::{ChannelChoice, Selection};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # The Exchange 2010 self-signed certificate, trusted for Server Authentication only:
  certgpo build --cert examples/exch2010-selfsigned.cer --purpose server-auth --out bundle

  # A folder of roots and intermediates, as a zip for the change ticket:
  certgpo build --cert ./pki/ --domain corp.example.com --gpo-name 'Corporate PKI' --out bundle --zip bundle.zip

  # Reproduce GPMC byte for byte, including the empty keys of every other store:
  certgpo build --cert roots.p7b --domain corp.example.com --all-stores --allow-expired --out bundle

  # Straight from the Exchange 2010 server, pinned to the thumbprint Get-ExchangeCertificate shows:
  certgpo build --fetch mail.contoso.com --expect 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' --out bundle

  # Later runs compare with certgpo.lock; after a planned certificate renewal:
  certgpo build --fetch mail.contoso.com --expect <new thumbprint> --update-pins --out bundle --force

  # Every Autodiscover endpoint Outlook reaches (see certgpo discover --help), each pinned:
  certgpo discover --ldap ldaps://dc1.contoso.com --user admin@contoso.com --json > discovery.json
  certgpo build --discover discovery.json --expect <thumbprint> --expect <thumbprint> --out bundle

  # The same trust for Intune, Macs, Linux servers and Ansible-managed Windows hosts:
  certgpo build --cert examples/exch2010-selfsigned.cer --channel all --out bundle

  # Update the GPO exported with Backup-GPO: add a root, remove an old one, keep the rest:
  certgpo build --base ./Backups/{D1DE50B0-...} --cert new-root.cer --remove 8C941B34EA1EA6ED9AE2BC54CF687252B4C9B561 --out bundle")]
#[command(group = clap::ArgGroup::new("inputs").required(true).multiple(true).args(["certs", "fetch", "discover", "base", "ldap"]))]
#[command(group = clap::ArgGroup::new("base_source").args(["base", "ldap"]))]
pub struct BuildArgs {
    #[command(flatten)]
    pub inputs: crate::certs::CertArgs,

    /// Output directory (written atomically; must be absent or empty, or an earlier bundle with --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Display name of the GPO
    #[arg(long, value_name = "NAME", default_value = build::DEFAULT_GPO_NAME)]
    pub gpo_name: String,

    /// AD DNS domain written into the backup; derived from a certificate's FQDN when unambiguous
    #[arg(long, value_name = "FQDN")]
    pub domain: Option<String>,

    /// Also write the empty Certificates/CRLs/CTLs keys of every other store, as GPMC does
    #[arg(long)]
    pub all_stores: bool,

    /// Also write the same certificates for channels other than Group Policy, each in its folder of the bundle (default: the GPO alone)
    #[arg(long = "channel", value_name = "LIST", value_delimiter = ',', value_parser = crate::named::parser::<ChannelChoice>())]
    pub channels: Vec<ChannelChoice>,

    /// The macOS profile cannot be removed by the user (PayloadRemovalDisallowed; with --channel macos)
    #[arg(long)]
    pub macos_locked: bool,

    /// Also write the bundle as a deterministic zip file
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,

    /// Replace an earlier bundle in --out, and an earlier --zip (nothing else)
    #[arg(long)]
    pub force: bool,

    /// Print a machine-readable summary on stdout
    #[arg(long)]
    pub json: bool,

    /// Time written into the backup (RFC 3339 or Unix seconds); default SOURCE_DATE_EPOCH, else derived from the certificates
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,

    /// Directory whose templates override the built-in ones (same file names as templates/)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Start from an existing GPO backup (or bundle, or zip of one): keep its GPO name and
    /// GUID and every other registry.pol setting, add --cert, apply --remove, raise the version
    #[arg(long, value_name = "BACKUP-OR-BUNDLE")]
    pub base: Option<PathBuf>,

    /// Start from the live GPO --gpo instead of --base, read from the directory and SYSVOL
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// With --base (or a live base): take this certificate (SHA-1 thumbprint) out of the base; repeatable
    #[arg(long, value_name = "THUMBPRINT", requires = "base_source")]
    pub remove: Vec<String>,

    /// With --base (or a live base): take the base's expired certificates out
    #[arg(long, requires = "base_source")]
    pub drop_expired: bool,
}

/// With --ldap: the live GPO --gpo as a backup in a temporary folder, the path of its
/// backup, and the folder (removed when dropped).
fn live_base(
    live: &crate::ldap::LiveArgs,
) -> Result<Option<(PathBuf, tempfile::TempDir)>, Failure> {
    let Some((target, selection)) = live.target()? else {
        return Ok(None);
    };
    let certgpo::live::read::Selection::One(gpo) = selection else {
        return Err(Failure::new(
            "--ldap as the base of build needs --gpo NAME or {GUID}",
        ));
    };
    let made = certgpo::live::backup::backup(&target, &gpo, time::OffsetDateTime::now_utc())?;
    let dir = tempfile::tempdir().map_err(|e| Failure::new(format!("temporary folder: {e}")))?;
    for (rel, bytes) in &made.files {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::new(format!("temporary folder: {e}")))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Failure::new(format!("temporary folder: {e}")))?;
    }
    eprintln!(
        "base: live GPO {:?} {} (version {})",
        certgpo::text::printable(&made.gpo.name),
        made.gpo.guid,
        made.gpo.version
    );
    Ok(Some((dir.path().join(&made.backup_id), dir)))
}

pub fn run(args: BuildArgs) -> Result<u8, Failure> {
    let live = live_base(&args.live)?;
    let base = live.as_ref().map(|(path, _)| path.clone()).or(args.base);
    let request = Request {
        fetch: args.inputs.fetch_request()?,
        plan: args.inputs.options(
            args.gpo_name,
            args.domain,
            args.all_stores,
            build::timestamp_option(args.timestamp.as_deref())?,
            Selection::new(&args.channels, args.macos_locked)?,
        )?,
        certs: args.inputs.certs,
        base: base.map(|path| BaseRequest {
            path,
            remove: args.remove,
            drop_expired: args.drop_expired,
        }),
        templates: args.templates,
        out: args.out.clone(),
        zip: args.zip.clone(),
        force: args.force,
    };
    let built = build::build(request)?;
    if args.json {
        println!(
            "{}",
            build::summary_json(&built, &args.out, args.zip.as_deref())
        );
    } else {
        print!(
            "{}",
            build::summary_text(&built, &args.out, args.zip.as_deref())
        );
    }
    Ok(code::OK)
}
