//! One publish from start to end: load and approve the certificates, connect to the
//! directory and SYSVOL, find the GPO (refusing an ambiguous name), read what it holds,
//! plan, and unless `--what-if`, create it if asked, then apply.

use std::path::PathBuf;

use ldap3::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PublishError;
use super::apply::{self, Applied, Paths};
use super::create::{self, NewGpo};
use super::forest::{self, ForestPlan};
use super::plan::{self, Changes, Current, LinkPlan, PublishPlan};
use crate::build::{self, FetchRequest};
use crate::directory::{self, Auth, Connection, first_value};
use crate::gpo::braced_upper;
use crate::live::LiveError;
use crate::live::read::{self, Selection, SysvolState};
use crate::live::sysvol::SysvolError;
use crate::live::{self, Domain};
use crate::text::printable;

/// Everything a publish needs, as plain values.
pub struct Request {
    /// The domain controller, SYSVOL's server and the account (`--ldap`, `--smb-host`).
    pub target: live::Target,
    /// Who publishes, for the lock file.
    pub user: String,
    /// `--gpo`: display name or `{GUID}`; with `create`, the new GPO's name.
    pub gpo: String,
    pub create: bool,
    /// `--link`: DNs of the containers to link the GPO to.
    pub links: Vec<String>,
    pub enforced: bool,
    pub certs: Vec<PathBuf>,
    /// `--bundle`: a bundle, GPO backup or zip whose certificates to apply as they are.
    pub bundle: Option<PathBuf>,
    pub fetch: Option<FetchRequest>,
    pub options: build::Options,
    pub remove: Vec<String>,
    pub drop_expired: bool,
    pub raise_version: bool,
    pub what_if: bool,
}

/// What a publish decided and did.
pub struct Outcome {
    pub plan: PublishPlan,
    /// `None` with `--what-if` or when there was nothing to do.
    pub applied: Option<Applied>,
    pub warnings: Vec<String>,
}

/// What `--forest-roots` decided and did.
pub struct ForestOutcome {
    pub plan: ForestPlan,
    /// The changes were made and read back.
    pub applied: bool,
    pub warnings: Vec<String>,
}

/// The certificates of the request (files, then fetched ones), the fetch's pins, and
/// the warnings of loading them. Done before the network, so a bad certificate or pin
/// is refused before anything is connected.
fn load(
    req: &Request,
    warnings: &mut Vec<String>,
) -> Result<(Vec<crate::cert::Loaded>, Option<build::pins::Fetched>), PublishError> {
    let mut loaded = crate::cert::load_paths(&req.certs).map_err(build::PipelineError::from)?;
    let fetched = build::fetched_certs(req.fetch.as_ref(), std::path::Path::new("."))?;
    if let Some(f) = &fetched {
        loaded.certs.extend(f.loaded.iter().cloned());
    }
    warnings.extend(loaded.warnings.iter().map(|w| printable(w)));
    Ok((loaded.certs, fetched))
}

/// `--bundle`: the certificates of the bundle's (or backup's) Machine registry.pol, each
/// in its store with its Blob.
fn bundle_items(req: &Request) -> Result<Vec<build::Item>, PublishError> {
    let Some(path) = &req.bundle else {
        return Ok(Vec::new());
    };
    let request = build::BaseRequest {
        path: path.clone(),
        remove: Vec::new(),
        drop_expired: false,
    };
    // The backup reader names its option --base; here it is --bundle.
    let base = build::base::Base::read(&request, &req.options)
        .map_err(|e| PublishError::Refused(e.to_string().replacen("--base ", "--bundle ", 1)))?;
    let items = base.items();
    if items.is_empty() {
        return Err(PublishError::Refused(format!(
            "--bundle {}: its registry.pol holds no certificate",
            path.display()
        )));
    }
    Ok(items)
}

/// Record the pins of `--fetch` once the change is made.
fn save_pins(fetched: Option<&build::pins::Fetched>) -> Result<(), PublishError> {
    if let Some(f) = fetched {
        crate::atomic::write_file("--lock", f.lock_path(), &f.lock_bytes())
            .map_err(|e| PublishError::Pipeline(build::BuildError::from(e).into()))?;
    }
    Ok(())
}

/// `--forest-roots`: add the roots to (and `--remove` them from) the forest's
/// Certification Authorities container. Only LDAP is used.
pub fn publish_forest(req: Request) -> Result<ForestOutcome, PublishError> {
    let mut warnings = Vec::new();
    let (loaded, fetched) = load(&req, &mut warnings)?;
    let mut roots: Vec<crate::cert::Certificate> = loaded.into_iter().map(|l| l.cert).collect();
    roots.extend(bundle_items(&req)?.into_iter().map(|i| i.cert));
    let opts = &req.target.ldap;
    let runtime = directory::runtime()?;
    let outcome = runtime.block_on(async {
        let mut conn =
            Connection::open(opts, &opts.url, req.target.dns_server, req.target.timeout).await?;
        let result = async {
            let config = conn
                .root_dse("configurationNamingContext")
                .await?
                .ok_or_else(|| {
                    PublishError::Live(crate::live::LiveError::NotAd {
                        url: opts.url.clone(),
                    })
                })?;
            let plan = forest::plan(&mut conn, &config, roots.clone(), &req.remove).await?;
            if req.what_if || !plan.changes_anything() {
                return Ok((plan, false));
            }
            forest::apply(&mut conn, &plan).await?;
            // Read back: every root now published, every removed one gone.
            let kept: Vec<String> = plan.removed.iter().map(|r| r.thumbprint.clone()).collect();
            let after = forest::plan(&mut conn, &config, roots, &[]).await?;
            let gone = forest::plan(&mut conn, &config, Vec::new(), &kept).await;
            if !after.added.is_empty() || (!kept.is_empty() && gone.is_ok()) {
                return Err(PublishError::Incomplete {
                    gpo: plan.container.clone(),
                    step: "reading back".into(),
                    cause: "the container does not hold what was written".into(),
                    state: "run the same command with --what-if to see what is left to do".into(),
                });
            }
            Ok((plan, true))
        }
        .await;
        conn.close().await;
        result
    });
    let (plan, applied) = outcome?;
    if applied {
        save_pins(fetched.as_ref())?;
    }
    Ok(ForestOutcome {
        plan,
        applied,
        warnings,
    })
}

/// The whole publish.
pub fn publish(req: Request) -> Result<Outcome, PublishError> {
    let mut warnings = Vec::new();
    let (loaded, fetched) = load(&req, &mut warnings)?;
    let given = bundle_items(&req)?;
    // SYSVOL needs the account: refused before any connection is made.
    if !matches!(req.target.ldap.auth, Auth::Simple { .. }) {
        return Err(SysvolError::NoCredentials {
            host: req.target.ldap.host(),
        }
        .into());
    }
    let runtime = directory::runtime()?;
    let outcome = runtime.block_on(async {
        let mut domain = Domain::open(&req.target).await?;
        let result = run(&mut domain, &req, loaded, given).await;
        domain.close().await;
        result
    });
    let mut outcome = outcome?;
    if outcome.applied.is_some() {
        save_pins(fetched.as_ref())?;
    }
    warnings.append(&mut outcome.warnings);
    outcome.warnings = warnings;
    Ok(outcome)
}

async fn run(
    domain: &mut Domain,
    req: &Request,
    certs: Vec<crate::cert::Loaded>,
    given: Vec<build::Item>,
) -> Result<Outcome, PublishError> {
    let domain_dn = domain.domain_dn.clone();
    let dns = read::dns_name(&domain_dn);
    let (current, paths) = current(domain, req, &domain_dn, &dns).await?;
    let (conn, sysvol) = (&mut domain.ldap, &mut domain.sysvol);
    let links = link_plans(conn, req, &current, &domain_dn).await?;
    let changes = Changes {
        certs,
        given,
        options: req.options.clone(),
        remove: req.remove.clone(),
        drop_expired: req.drop_expired,
        raise_version: req.raise_version,
    };
    let plan = plan::plan(&current, changes, links, OffsetDateTime::now_utc())?;
    if req.what_if || !plan.changes_anything() {
        return Ok(Outcome {
            plan,
            applied: None,
            warnings: Vec::new(),
        });
    }
    if plan.create {
        let file_sys_path = format!(r"\\{dns}\SysVol\{dns}\Policies\{}", plan.gpo_guid);
        let shown = apply::shown(&plan);
        create::create(
            conn,
            sysvol,
            &NewGpo {
                dn: &paths.dn,
                display_name: &plan.gpo_name,
                file_sys_path: &file_sys_path,
                folder: &paths.folder,
                shown: &shown,
            },
        )
        .await?;
    }
    let holder = format!(
        "certgpo {} publish by {} on {} (process {}) since {}",
        env!("CARGO_PKG_VERSION"),
        req.user,
        std::env::var("HOSTNAME").unwrap_or_else(|_| "an unnamed host".into()),
        std::process::id(),
        crate::report::date_time(OffsetDateTime::now_utc())
    );
    let applied = apply::apply(conn, sysvol, &paths, &plan, &holder).await?;
    Ok(Outcome {
        plan,
        applied: Some(applied),
        warnings: Vec::new(),
    })
}

/// The GPO named by `--gpo` as the live reader finds it (or, with `--create`, as it
/// will be made: refused when one of that name exists).
async fn current(
    domain: &mut Domain,
    req: &Request,
    domain_dn: &str,
    dns: &str,
) -> Result<(Current, Paths), PublishError> {
    let wanted = req.gpo.trim();
    let found = match read::read(domain, &Selection::One(wanted.to_string())).await {
        Ok(state) => state.gpos.into_iter().next(),
        Err(LiveError::NoSuchGpo { .. }) if req.create => None,
        Err(e) => return Err(e.into()),
    };
    let host = domain.sysvol.host().to_string();
    if req.create {
        if let Some(g) = found {
            return Err(PublishError::Refused(format!(
                "--create: a GPO named \"{}\" exists already ({}); publish to it with --gpo {} and without --create",
                printable(wanted),
                g.guid,
                g.guid
            )));
        }
        if read::is_braced_guid(wanted) {
            return Err(PublishError::Refused(
                "--create takes the new GPO's display name, not a GUID (the GUID is made new)"
                    .into(),
            ));
        }
        let guid = Uuid::new_v4();
        let name = braced_upper(&guid);
        let paths = Paths {
            dn: format!("CN={name},CN=Policies,CN=System,{domain_dn}"),
            folder: format!(r"SysVol\{dns}\Policies\{name}"),
        };
        let current = Current {
            guid,
            dn: paths.dn.clone(),
            display_name: wanted.to_string(),
            domain: dns.to_string(),
            flags: 0,
            version_number: 0,
            gpt_version: Some(0),
            machine_extension_names: String::new(),
            registry_pol: None,
            policy_file: format!(r"\\{host}\{}", paths.policy()),
            create: true,
        };
        return Ok((current, paths));
    }
    let Some(g) = found else {
        return Err(PublishError::Refused(format!(
            "--gpo {:?}: no such GPO",
            printable(wanted)
        )));
    };
    let shown = format!("GPO \"{}\" {}", printable(&g.name), g.guid);
    match &g.sysvol {
        SysvolState::Read => {}
        SysvolState::Missing => {
            return Err(PublishError::Refused(format!(
                "{shown}: its SYSVOL folder {} is missing, so clients cannot apply it; certgpo does not publish into a GPO whose files are gone",
                g.file_sys_path
            )));
        }
        SysvolState::Unreadable(why) => {
            return Err(PublishError::Refused(format!(
                "{shown}: its SYSVOL folder cannot be read: {why}"
            )));
        }
    }
    let guid =
        Uuid::parse_str(g.guid.trim_start_matches('{').trim_end_matches('}')).map_err(|_| {
            PublishError::Refused(format!("{}: the container's name is not a GUID", g.dn))
        })?;
    let paths = Paths {
        dn: g.dn.clone(),
        folder: read::share_path(&g.file_sys_path),
    };
    let current = Current {
        guid,
        dn: g.dn.clone(),
        display_name: g.name.clone(),
        domain: dns.to_string(),
        flags: g.flags,
        version_number: g.version,
        gpt_version: g.gpt_version,
        machine_extension_names: g.machine_extension_names.clone(),
        registry_pol: g.machine_pol.clone(),
        policy_file: format!(r"\\{host}\{}", paths.policy()),
        create: false,
    };
    Ok((current, paths))
}

/// `--link`: each container's `gPLink` before and after.
async fn link_plans(
    conn: &mut Connection,
    req: &Request,
    current: &Current,
    domain_dn: &str,
) -> Result<Vec<LinkPlan>, PublishError> {
    let gpo_dn = format!(
        "cn={},cn=policies,cn=system,{domain_dn}",
        braced_upper(&current.guid)
    );
    let mut plans = Vec::new();
    for container in &req.links {
        let exists = conn
            .search(container, Scope::Base, "(objectClass=*)", &["gPLink"], true)
            .await?;
        let Some(entry) = exists.and_then(|e| e.into_iter().next()) else {
            return Err(PublishError::Refused(format!(
                "--link {}: no such object in the directory",
                printable(container)
            )));
        };
        let before = first_value(&entry, "gPLink")
            .unwrap_or_default()
            .to_string();
        let (already, after) = super::link_with(
            &before,
            &entry.dn,
            &gpo_dn,
            &braced_upper(&current.guid),
            req.enforced,
        )?;
        plans.push(LinkPlan {
            container: entry.dn.clone(),
            enforced: req.enforced,
            already,
            before,
            after,
        });
    }
    Ok(plans)
}
