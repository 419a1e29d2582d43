//! `certgpo publish`: certificates into a live GPO, over LDAP and SMB.

use clap::Args;
use serde::Serialize;

use certgpo::channel::Selection;
use certgpo::publish::{self, PublishPlan, Request};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # What would publishing the new root change? (exit 0: nothing, 1: something)
  certgpo publish --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --gpo 'Corporate PKI' --cert new-root.cer --what-if

  # Publish it, and take the old root out in the same change:
  certgpo publish --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --gpo 'Corporate PKI' --cert new-root.cer --remove 8C941B34EA1EA6ED9AE2BC54CF687252B4C9B561

  # A new GPO, linked to the Workstations OU:
  certgpo publish --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --gpo 'Exchange trust' --create --link OU=Workstations,DC=contoso,DC=com \\
      --fetch mail.contoso.com --expect <thumbprint>

The password comes from --password-file, CERTGPO_LDAP_PASSWORD or a prompt; SYSVOL is
reached over SMB with the same account. Exit codes: 0 published (or, with --what-if,
nothing would change), 1 --what-if: something would change, 2 error (nothing written),
3 pin mismatch, 4 the GPO changed meanwhile or another publish holds it, 5 the publish
stopped part way (the message says what the GPO holds and how to finish).")]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(["certs", "bundle", "fetch", "discover", "remove", "drop_expired", "raise_version", "link"]))]
#[command(mut_arg("gpo", |a| a.help("The GPO to change: its display name or {GUID}; with --create, the new GPO's display name")))]
pub struct PublishArgs {
    // The directory, --gpo, SYSVOL's server and the deadline of each step.
    #[command(flatten)]
    pub live: crate::ldap::LiveArgs,

    /// Instead of a GPO: add the --cert roots to (and --remove them from) the forest's Certification Authorities container, as certutil -dspublish RootCA does; every machine of the forest trusts them
    #[arg(long, conflicts_with_all = ["gpo", "create", "link", "raise_version", "drop_expired", "smb_host"])]
    pub forest_roots: bool,

    #[command(flatten)]
    pub inputs: crate::certs::CertArgs,

    /// Apply the certificates of this bundle (or GPO backup, or zip of either) as they are: each in its store with its Blob, as `build` made them
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<std::path::PathBuf>,

    /// Take this certificate (SHA-1 thumbprint) out of the GPO; repeatable
    #[arg(long, value_name = "THUMBPRINT")]
    pub remove: Vec<String>,

    /// Take the GPO's expired certificates out
    #[arg(long)]
    pub drop_expired: bool,

    /// Raise the computer version even when registry.pol stays the same (finishes a publish that stopped after writing registry.pol)
    #[arg(long)]
    pub raise_version: bool,

    /// Create the GPO named by --gpo (refused if one of that name exists): container, SYSVOL folder and ACL as GPMC makes them
    #[arg(long)]
    pub create: bool,

    /// Link the GPO to this OU, the domain or a site (its DN), keeping the existing links; repeatable
    #[arg(long, value_name = "DN")]
    pub link: Vec<String>,

    /// With --link: the new links are enforced
    #[arg(long, requires = "link")]
    pub enforced: bool,

    /// Print what would change (certificates, versions, links) and change nothing
    #[arg(long)]
    pub what_if: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    what_if: bool,
    /// The publish changed (or, with --what-if, would change) the GPO or a link.
    changed: bool,
    #[serde(flatten)]
    plan: &'a PublishPlan,
    /// The version the GPO has now, as read back (absent with --what-if).
    published_version: Option<u32>,
    /// The containers the GPO was linked to by this run.
    links_added: Vec<String>,
}

pub fn run(args: PublishArgs) -> Result<u8, Failure> {
    let Some((target, _)) = args.live.target()? else {
        return Err(
            Failure::new("publish needs --ldap: the domain controller to write to").hint(
                "pass --ldap ldaps://dc1.contoso.com (or ldap://... for StartTLS) and --user",
            ),
        );
    };
    let gpo = match (&args.live.gpo, args.forest_roots) {
        (Some(g), _) => g.clone(),
        (None, true) => String::new(),
        (None, false) => {
            return Err(Failure::new("publish needs --gpo: the GPO to change (or to make, with --create)")
                .hint("name it by its display name or {GUID}; --forest-roots publishes roots forest-wide instead"));
        }
    };
    let request = Request {
        target,
        user: args.live.ldap.user.clone().unwrap_or_default(),
        gpo: gpo.clone(),
        create: args.create,
        links: args.link,
        enforced: args.enforced,
        fetch: args.inputs.fetch_request()?,
        options: args
            .inputs
            .options(gpo, None, false, None, Selection::new(&[], false)?)?,
        certs: args.inputs.certs,
        bundle: args.bundle,
        remove: args.remove,
        drop_expired: args.drop_expired,
        raise_version: args.raise_version,
        what_if: args.what_if,
    };
    if args.forest_roots {
        return forest(request, args.json);
    }
    let outcome = publish::publish(request)?;
    let plan = &outcome.plan;
    for w in outcome.warnings.iter().chain(&plan.warnings) {
        eprintln!("warning: {w}");
    }
    for n in &plan.notes {
        eprintln!("note: {n}");
    }
    let changed = plan.changes_anything();
    if args.json {
        crate::output::json(&Report {
            what_if: args.what_if,
            changed,
            plan,
            published_version: outcome.applied.as_ref().map(|a| a.version),
            links_added: outcome
                .applied
                .as_ref()
                .map(|a| a.links_added.clone())
                .unwrap_or_default(),
        })?;
    } else {
        let mut shown = publish::plan::text(plan);
        if let Some(applied) = &outcome.applied {
            for w in &applied.warnings {
                eprintln!("warning: {w}");
            }
            shown.push_str(&format!(
                "Published: version {} read back from the GPO in Active Directory and on SYSVOL.\n",
                applied.version
            ));
        } else if args.what_if {
            shown.push_str("What-if: nothing was changed.\n");
        }
        crate::output::text(|out| out.write_all(shown.as_bytes()))?;
    }
    Ok(if args.what_if && changed {
        code::DIFFERENT
    } else {
        code::OK
    })
}

#[derive(Serialize)]
struct ForestReport<'a> {
    what_if: bool,
    changed: bool,
    #[serde(flatten)]
    plan: &'a publish::forest::ForestPlan,
}

/// `--forest-roots`.
fn forest(request: Request, json: bool) -> Result<u8, Failure> {
    let what_if = request.what_if;
    let outcome = publish::publish_forest(request)?;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    let changed = outcome.plan.changes_anything();
    if json {
        crate::output::json(&ForestReport {
            what_if,
            changed,
            plan: &outcome.plan,
        })?;
    } else {
        let mut shown = publish::forest::text(&outcome.plan);
        if outcome.applied {
            shown.push_str("Published: read back from the configuration partition.\n");
        } else if what_if {
            shown.push_str("What-if: nothing was changed.\n");
        }
        crate::output::text(|out| out.write_all(shown.as_bytes()))?;
    }
    Ok(if what_if && changed {
        code::DIFFERENT
    } else {
        code::OK
    })
}
