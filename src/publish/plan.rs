//! What a publish changes, decided before anything is written: the new Machine
//! registry.pol (merged into the GPO's current one exactly as `build --base` does),
//! the certificates added, removed and changed, the version before and after, the
//! extension names, and the links to add. `--what-if` prints this and stops.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PublishError;
use crate::build::base::{Base, LiveGpo};
use crate::build::{self, PipelineError};
use crate::cert::{Certificate, Loaded};
use crate::gpo::gpt_ini::{join_version, split_version};
use crate::gpo::{braced_upper, extension_guids};
use crate::policy::{self, Entry};
use crate::store::CertKey;
use crate::text::printable;

/// The GPO as it is now (or, with `--create`, as it will be made).
#[derive(Debug, Clone)]
pub struct Current {
    pub guid: Uuid,
    /// The group policy container's DN.
    pub dn: String,
    pub display_name: String,
    /// The domain's DNS name.
    pub domain: String,
    /// The container's `flags` (1: user half disabled, 2: computer half disabled).
    pub flags: u32,
    /// The container's `versionNumber` (MS-GPOL 2.2.4: user version in the high 16
    /// bits, computer version in the low 16 bits).
    pub version_number: u32,
    /// `Version=` of GPT.INI; `None` when the file is missing or has none.
    pub gpt_version: Option<u32>,
    pub machine_extension_names: String,
    /// The Machine registry.pol; `None` when the GPO has none yet.
    pub registry_pol: Option<Vec<u8>>,
    /// How messages name the Machine registry.pol (its UNC path).
    pub policy_file: String,
    /// The GPO does not exist yet: `--create` makes it.
    pub create: bool,
}

/// What to change in the certificates of the GPO.
pub struct Changes {
    pub certs: Vec<Loaded>,
    /// Certificates placed already, with their Blobs (`--bundle`).
    pub given: Vec<build::Item>,
    pub options: build::Options,
    /// `--remove`: SHA-1 thumbprints to take out.
    pub remove: Vec<String>,
    pub drop_expired: bool,
    /// `--raise-version`: raise the version even when registry.pol stays the same.
    pub raise_version: bool,
}

/// A link to add (`--link`): `before` and `after` are the container's `gPLink`.
#[derive(Debug, Clone, Serialize)]
pub struct LinkPlan {
    /// The DN of the OU, domain or site the GPO is linked to.
    pub container: String,
    pub enforced: bool,
    /// The GPO is already linked there (with these options): nothing to do.
    pub already: bool,
    pub before: String,
    pub after: String,
}

/// One certificate the publish adds, removes or changes.
#[derive(Debug, Clone, Serialize)]
pub struct CertChange {
    /// The store's registry name (`Root`, `CA`, `TrustedPeople`, ...).
    pub store: String,
    pub thumbprint: String,
    /// `None` when the Blob's certificate is unreadable.
    pub subject: Option<String>,
    pub not_after: Option<String>,
}

/// Everything a publish will do.
#[derive(Debug, Clone, Serialize)]
pub struct PublishPlan {
    pub gpo_name: String,
    pub gpo_guid: String,
    pub gpo_dn: String,
    pub domain: String,
    /// `--create`: the GPO is made by this publish.
    pub create: bool,
    pub added: Vec<CertChange>,
    pub removed: Vec<CertChange>,
    /// Same store and thumbprint, another Blob (friendly name, purposes).
    pub modified: Vec<CertChange>,
    /// Every certificate of the Machine registry.pol afterwards.
    pub certificates: Vec<CertChange>,
    pub version_before: u32,
    /// GPT.INI's version before; differs from `version_before` in a GPO whose two
    /// halves disagree (an earlier run that stopped, or replication under way).
    pub gpt_version_before: Option<u32>,
    pub version_after: u32,
    pub extension_names_before: String,
    pub extension_names_after: String,
    pub links: Vec<LinkPlan>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// The Machine registry.pol to write.
    #[serde(skip)]
    pub registry_pol: Vec<u8>,
    /// registry.pol as it was read, to check that nobody changed it meanwhile.
    #[serde(skip)]
    pub registry_pol_before: Option<Vec<u8>>,
    #[serde(skip)]
    pub guid: Uuid,
}

impl PublishPlan {
    /// The GPO's content changes (registry.pol, its version or its extension names).
    pub fn changes_gpo(&self) -> bool {
        self.create
            || self.version_after != self.version_before
            || self.extension_names_after != self.extension_names_before
    }

    /// The publish changes anything at all (the GPO or a link).
    pub fn changes_anything(&self) -> bool {
        self.changes_gpo() || self.links.iter().any(|l| !l.already)
    }

    /// The new registry.pol differs from the current one.
    pub fn writes_policy(&self) -> bool {
        self.registry_pol_before.as_deref() != Some(self.registry_pol.as_slice())
    }

    /// The new `GPT.INI` differs from the current one.
    pub fn writes_gpt(&self) -> bool {
        self.create || self.gpt_version_before != Some(self.version_after)
    }
}

/// Decide the publish: merge the certificates into the GPO's registry.pol as `build
/// --base` does, and raise the computer version when anything in it changes.
pub fn plan(
    current: &Current,
    changes: Changes,
    links: Vec<LinkPlan>,
    now: OffsetDateTime,
) -> Result<PublishPlan, PublishError> {
    let shown = format!(
        "GPO \"{}\" {}",
        printable(&current.display_name),
        braced_upper(&current.guid)
    );
    let live = LiveGpo {
        shown: &shown,
        policy_file: &current.policy_file,
        guid: current.guid,
        display_name: &current.display_name,
        domain: &current.domain,
        flags: current.flags,
        version_number: current.version_number,
        machine_extension_names: &current.machine_extension_names,
        registry_pol: current.registry_pol.as_deref(),
    };
    let base = Base::live(&live, &changes.remove, changes.drop_expired)
        .map_err(|e| PublishError::Pipeline(e.into()))?;
    let decided = build::plan_with(
        changes.certs,
        changes.given,
        changes.options,
        Some(&base),
        now,
    )
    .map_err(PublishError::Pipeline)?;
    let before = current
        .registry_pol
        .as_deref()
        .map(policy::parse)
        .transpose()
        .map_err(|source| {
            PublishError::Pipeline(PipelineError::Base(
                crate::inspect::InspectError::Policy {
                    file: current.policy_file.clone(),
                    source,
                }
                .into(),
            ))
        })?
        .unwrap_or_default();
    let registry_pol = policy::write(&decided.entries);
    let old = blobs(&before);
    let new = blobs(&decided.entries);
    let mut added = Vec::new();
    let mut modified = Vec::new();
    for (key, data) in &new {
        match old.get(key) {
            None => added.push(change(key, data)),
            Some(o) if o != data => modified.push(change(key, data)),
            Some(_) => {}
        }
    }
    let removed = old
        .iter()
        .filter(|(k, _)| !new.contains_key(*k))
        .map(|(k, d)| change(k, d))
        .collect();
    let certificates = new.iter().map(|(k, d)| change(k, d)).collect();

    let extension_names_after = extension_guids::complete(&current.machine_extension_names);
    let policy_changes = current.registry_pol.as_deref() != Some(registry_pol.as_slice());
    let halves_disagree = current.gpt_version != Some(current.version_number);
    let mut notes = decided.notes;
    let mut warnings = decided.warnings;
    if halves_disagree && !current.create {
        warnings.push(format!(
            "the GPO's versions disagree: versionNumber {} in Active Directory, {} in GPT.INI; publishing raises both to the same value",
            current.version_number,
            current
                .gpt_version
                .map_or_else(|| "none".to_string(), |v| v.to_string())
        ));
    }
    let raise = current.create
        || policy_changes
        || halves_disagree
        || changes.raise_version
        || extension_names_after != current.machine_extension_names;
    let version_after = if raise {
        next_version(current.version_number, current.gpt_version).ok_or_else(|| {
            PublishError::VersionExhausted {
                gpo: shown.clone(),
                version: current.version_number,
            }
        })?
    } else {
        notes.push(format!(
            "{shown} already holds these certificates: nothing to publish"
        ));
        current.version_number
    };
    Ok(PublishPlan {
        gpo_name: current.display_name.clone(),
        gpo_guid: braced_upper(&current.guid),
        gpo_dn: current.dn.clone(),
        domain: current.domain.clone(),
        create: current.create,
        added,
        removed,
        modified,
        certificates,
        version_before: current.version_number,
        gpt_version_before: current.gpt_version,
        version_after,
        extension_names_before: current.machine_extension_names.clone(),
        extension_names_after,
        links,
        warnings,
        notes,
        registry_pol,
        registry_pol_before: current.registry_pol.clone(),
        guid: current.guid,
    })
}

/// The version after a change to the computer half (MS-GPOL 2.2.4): the user half as
/// Active Directory has it, the computer half one above the higher of the two the GPO
/// holds, so that it is new to every client. `None` past 65535.
pub fn next_version(version_number: u32, gpt_version: Option<u32>) -> Option<u32> {
    let (user, machine) = split_version(version_number);
    let machine = machine.max(gpt_version.map_or(0, |g| split_version(g).1));
    machine.checked_add(1).map(|next| join_version(user, next))
}

/// The computer half of a version.
pub fn machine_half(version: u32) -> u32 {
    u32::from(split_version(version).1)
}

/// Certificate Blobs of registry.pol entries by (store, thumbprint), upper case.
fn blobs(entries: &[Entry]) -> BTreeMap<(String, String), Vec<u8>> {
    entries
        .iter()
        .filter(|e| e.value.eq_ignore_ascii_case("Blob"))
        .filter_map(|e| {
            let k = CertKey::parse(&e.key)?;
            Some(((k.store, k.thumbprint.to_ascii_uppercase()), e.data.clone()))
        })
        .collect()
}

fn change(key: &(String, String), blob: &[u8]) -> CertChange {
    let cert = crate::blob::parse(blob)
        .ok()
        .and_then(|b| Certificate::from_der(b.der).ok());
    CertChange {
        store: key.0.clone(),
        thumbprint: key.1.clone(),
        subject: cert.as_ref().map(|c| printable(&c.subject_display)),
        not_after: cert.as_ref().map(|c| crate::report::date_time(c.not_after)),
    }
}

/// The plan for a terminal.
pub fn text(plan: &PublishPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} GPO \"{}\" {} in {}:",
        if plan.create { "Create" } else { "Update" },
        printable(&plan.gpo_name),
        plan.gpo_guid,
        plan.domain
    );
    for (verb, list) in [
        ("add", &plan.added),
        ("remove", &plan.removed),
        ("change", &plan.modified),
    ] {
        for c in list {
            let _ = writeln!(
                s,
                "  {verb:<7} {:<14} {}  {}{}",
                c.store,
                c.thumbprint,
                c.subject.as_deref().unwrap_or("(unreadable certificate)"),
                c.not_after
                    .as_deref()
                    .map(|d| format!(" (expires {d})"))
                    .unwrap_or_default()
            );
        }
    }
    if plan.version_after != plan.version_before
        || plan.gpt_version_before != Some(plan.version_after)
    {
        let gpt = match plan.gpt_version_before {
            Some(g) if g != plan.version_before => format!(", GPT.INI {g}"),
            None if !plan.create => ", no GPT.INI version".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  version {} -> {} (computer {} -> {}{gpt})",
            plan.version_before,
            plan.version_after,
            machine_half(plan.version_before),
            machine_half(plan.version_after),
        );
    } else {
        let _ = writeln!(s, "  version {} (unchanged)", plan.version_before);
    }
    if plan.extension_names_after != plan.extension_names_before {
        let _ = writeln!(
            s,
            "  gPCMachineExtensionNames {} -> {}",
            if plan.extension_names_before.is_empty() {
                "(none)"
            } else {
                &plan.extension_names_before
            },
            plan.extension_names_after
        );
    }
    for l in &plan.links {
        let _ = writeln!(
            s,
            "  link    {}{}{}",
            printable(&l.container),
            if l.enforced { " (enforced)" } else { "" },
            if l.already { ": already linked" } else { "" }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_computer_half_goes_up_past_both_halves() {
        assert_eq!(next_version(0, Some(0)), Some(1));
        // The user half is kept; the computer half passes GPT.INI's when that is ahead.
        assert_eq!(
            next_version(0x0003_0007, Some(0x0003_0009)),
            Some(0x0003_000A)
        );
        assert_eq!(next_version(0x0003_0007, None), Some(0x0003_0008));
        assert_eq!(next_version(0x0000_FFFF, Some(0xFFFF)), None);
        assert_eq!(machine_half(0x0003_0007), 7);
    }

    #[test]
    fn a_plan_merges_and_raises_once() {
        let current = Current {
            guid: Uuid::nil(),
            dn: "CN={00000000-0000-0000-0000-000000000000},CN=Policies,CN=System,DC=x".into(),
            display_name: "Roots".into(),
            domain: "contoso.test".into(),
            flags: 0,
            version_number: 0x0002_0004,
            gpt_version: Some(0x0002_0005),
            machine_extension_names: String::new(),
            registry_pol: None,
            policy_file: "registry.pol".into(),
            create: false,
        };
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/exch2010-selfsigned.cer"
        ))
        .expect("example");
        let cert = Certificate::from_der(der).expect("certificate");
        let changes = Changes {
            certs: vec![Loaded {
                cert,
                origin: crate::cert::Origin {
                    file: "x.cer".into(),
                    index: 1,
                },
            }],
            given: vec![],
            options: build::Options {
                gpo_name: String::new(),
                domain: None,
                store: crate::store::StoreChoice::Auto,
                blob: crate::blob::BlobStyle::Gpmc,
                extras: crate::blob::Extras::default(),
                all_stores: false,
                allow_expired: true,
                timestamp: None,
                channels: crate::channel::Selection::default(),
            },
            remove: vec![],
            drop_expired: false,
            raise_version: false,
        };
        let p = plan(&current, changes, vec![], OffsetDateTime::now_utc()).expect("plan");
        assert_eq!(p.added.len(), 1);
        assert_eq!(p.version_after, 0x0002_0006);
        assert_eq!(p.extension_names_after, crate::gpo::MACHINE_EXTENSION_GUIDS);
        assert!(p.warnings.iter().any(|w| w.contains("versions disagree")));
        let t = text(&p);
        assert!(
            t.contains("version 131076 -> 131078 (computer 4 -> 6, GPT.INI 131077)"),
            "{t}"
        );
        assert!(p.changes_gpo() && p.writes_policy() && p.writes_gpt());
    }
}
