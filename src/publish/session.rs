//! One publish from start to end: load and approve the certificates, connect to the
//! directory and SYSVOL, find the GPO (refusing an ambiguous name), read what it holds,
//! plan, and unless `--what-if`, create it if asked, then apply.

use std::path::PathBuf;
use std::time::Duration;

use ldap3::Scope;
use time::OffsetDateTime;
use uuid::Uuid;

use super::apply::{self, Applied, Paths};
use super::create::{self, NewGpo};
use super::forest::{self, ForestPlan};
use super::plan::{self, Changes, Current, LinkPlan, PublishPlan};
use super::{PublishError, gpt_version};
use crate::build::{self, FetchRequest};
use crate::directory::{self, Auth, Connection, first_value};
use crate::gpo::braced_upper;
use crate::live::sysvol::{Sysvol, SysvolError};
use crate::live::{self, Domain};
use crate::text::printable;

/// Everything a publish needs, as plain values.
pub struct Request {
    pub ldap: directory::Request,
    /// `--smb-host`: the SYSVOL server when it is not the LDAP URL's host.
    pub smb_host: Option<String>,
    pub timeout: Duration,
    /// `--gpo`: display name or `{GUID}`; with `create`, the new GPO's name.
    pub gpo: String,
    pub create: bool,
    /// `--link`: DNs of the containers to link the GPO to.
    pub links: Vec<String>,
    pub enforced: bool,
    pub certs: Vec<PathBuf>,
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
    let (opts, ldap_warnings) = directory::options(&req.ldap)?;
    warnings.extend(ldap_warnings);
    let roots: Vec<crate::cert::Certificate> = loaded.into_iter().map(|l| l.cert).collect();
    let runtime = directory::runtime()?;
    let outcome = runtime.block_on(async {
        let mut conn = Connection::open(&opts, &opts.url, None, req.timeout).await?;
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
    let (opts, ldap_warnings) = directory::options(&req.ldap)?;
    warnings.extend(ldap_warnings);
    // SYSVOL needs the account: refused before any connection is made.
    if !matches!(opts.auth, Auth::Simple { .. }) {
        return Err(SysvolError::NoCredentials { host: opts.host() }.into());
    }
    let target = live::Target {
        ldap: opts,
        smb_host: req.smb_host.clone(),
        dns_server: None,
        timeout: req.timeout,
    };
    let runtime = directory::runtime()?;
    let outcome = runtime.block_on(async {
        let mut domain = Domain::open(&target).await?;
        let domain_dn = domain.domain_dn.clone();
        let result = run(
            &mut domain.ldap,
            &mut domain.sysvol,
            &req,
            &domain_dn,
            loaded,
        )
        .await;
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
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    req: &Request,
    domain_dn: &str,
    certs: Vec<crate::cert::Loaded>,
) -> Result<Outcome, PublishError> {
    let domain = dns_name(domain_dn);
    let (current, paths) = current(conn, sysvol, req, domain_dn, &domain).await?;
    let links = link_plans(conn, req, &current, domain_dn).await?;
    let changes = Changes {
        certs,
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
        let file_sys_path = format!(r"\\{domain}\SysVol\{domain}\Policies\{}", plan.gpo_guid);
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
        req.ldap.user.as_deref().unwrap_or("?"),
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

/// The GPO named by `--gpo`, as it is now (or as `--create` will make it).
async fn current(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    req: &Request,
    domain_dn: &str,
    domain: &str,
) -> Result<(Current, Paths), PublishError> {
    let policies = format!("CN=Policies,CN=System,{domain_dn}");
    let wanted = req.gpo.trim();
    let guid = Uuid::parse_str(wanted.trim_start_matches('{').trim_end_matches('}')).ok();
    let filter = match guid {
        Some(g) => format!(
            "(&(objectClass=groupPolicyContainer)(cn={}))",
            braced_upper(&g)
        ),
        None => format!(
            "(&(objectClass=groupPolicyContainer)(displayName={}))",
            ldap3::ldap_escape(wanted)
        ),
    };
    let found = conn
        .search(
            &policies,
            Scope::OneLevel,
            &filter,
            &[
                "cn",
                "displayName",
                "gPCFileSysPath",
                "versionNumber",
                "flags",
                "gPCMachineExtensionNames",
            ],
            false,
        )
        .await?
        .unwrap_or_default();
    if req.create {
        if let Some(e) = found.first() {
            return Err(PublishError::Refused(format!(
                "--create: a GPO named \"{}\" exists already ({}); publish to it with --gpo {} and without --create",
                printable(wanted),
                first_value(e, "cn").unwrap_or_default(),
                first_value(e, "cn").unwrap_or_default()
            )));
        }
        if guid.is_some() {
            return Err(PublishError::Refused(
                "--create takes the new GPO's display name, not a GUID (the GUID is made new)"
                    .into(),
            ));
        }
        let guid = Uuid::new_v4();
        let name = braced_upper(&guid);
        let paths = Paths {
            dn: format!("CN={name},{policies}"),
            folder: format!(r"SysVol\{domain}\Policies\{name}"),
        };
        let current = Current {
            guid,
            dn: paths.dn.clone(),
            display_name: wanted.to_string(),
            domain: domain.to_string(),
            flags: 0,
            version_number: 0,
            gpt_version: Some(0),
            machine_extension_names: String::new(),
            registry_pol: None,
            policy_file: format!(r"\\{}\{}", sysvol.host(), paths.policy()),
            create: true,
        };
        return Ok((current, paths));
    }
    let entry = match found.len() {
        1 => found.into_iter().next(),
        0 => None,
        n => {
            let guids: Vec<&str> = found.iter().filter_map(|e| first_value(e, "cn")).collect();
            return Err(PublishError::Refused(format!(
                "--gpo \"{}\": {n} GPOs have that name ({}); name one by its GUID",
                printable(wanted),
                guids.join(", ")
            )));
        }
    }
    .ok_or_else(|| PublishError::NotFound {
        gpo: printable(wanted),
        domain: domain.to_string(),
    })?;
    let cn = first_value(&entry, "cn").unwrap_or_default();
    let guid = Uuid::parse_str(cn.trim_start_matches('{').trim_end_matches('}')).map_err(|_| {
        PublishError::Refused(format!("{}: the container's name is not a GUID", entry.dn))
    })?;
    let display_name = first_value(&entry, "displayName")
        .unwrap_or_default()
        .to_string();
    let shown = format!(
        "GPO \"{}\" {}",
        printable(&display_name),
        braced_upper(&guid)
    );
    let version_number = first_value(&entry, "versionNumber")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            PublishError::Refused(format!("{shown}: the container has no versionNumber"))
        })?;
    let folder = first_value(&entry, "gPCFileSysPath")
        .and_then(share_path)
        .ok_or_else(|| {
            PublishError::Refused(format!(
                "{shown}: gPCFileSysPath {:?} is not a \\\\server\\SysVol\\... path",
                first_value(&entry, "gPCFileSysPath").unwrap_or_default()
            ))
        })?;
    let paths = Paths {
        dn: entry.dn.clone(),
        folder,
    };
    let gpt = sysvol.read(&paths.gpt(), crate::input::BACKUP_FILE).await?;
    let registry_pol = sysvol.read(&paths.policy(), crate::input::POLICY).await?;
    let current = Current {
        guid,
        dn: entry.dn.clone(),
        display_name,
        domain: domain.to_string(),
        flags: first_value(&entry, "flags")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        version_number,
        gpt_version: match gpt.as_deref() {
            Some(g) => gpt_version(g, &format!(r"\\{}\{}", sysvol.host(), paths.gpt()))?,
            None => None,
        },
        machine_extension_names: first_value(&entry, "gPCMachineExtensionNames")
            .unwrap_or_default()
            .to_string(),
        registry_pol,
        policy_file: format!(r"\\{}\{}", sysvol.host(), paths.policy()),
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

/// `SysVol\...` inside the share from `\\server\SysVol\...`.
fn share_path(unc: &str) -> Option<String> {
    let rest = unc.strip_prefix(r"\\")?;
    let (_, path) = rest.split_once('\\')?;
    (!path.is_empty()).then(|| path.to_string())
}

/// `contoso.test` from `DC=contoso,DC=test`.
fn dns_name(dn: &str) -> String {
    directory::split_dn(dn)
        .iter()
        .filter_map(|rdn| {
            let (k, v) = rdn.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("DC")
                .then(|| v.trim().to_string())
        })
        .collect::<Vec<_>>()
        .join(".")
}
