//! The live state as the inventory `inspect`, `diff` and `audit` read: each GPO's
//! Machine registry.pol through the same reader as a backup's, the GPO-level findings
//! (versions, extension GUIDs, computer half disabled, SYSVOL), and the forest-wide
//! certificates as entries of their own stores.

use crate::gpo::extension_guids;
use crate::inspect::InspectError;
use crate::inspect::inventory::{GpoLink, GpoSummary, Inventory, NoteCode, Options};
use crate::inspect::walk;
use crate::report::GpoRef;

use super::read::{LiveGpo, LiveState, SysvolState};

/// The inventory of `state`.
pub fn inventory(state: &LiveState, opts: Options) -> Result<Inventory, InspectError> {
    let mut inv = Inventory::default();
    inv.warnings.extend(state.warnings.iter().cloned());
    for gpo in &state.gpos {
        add_gpo(&mut inv, gpo, &state.domain, opts)?;
    }
    let mut index = std::collections::HashMap::new();
    for c in &state.forest {
        let n = index.entry(c.dn.clone()).or_insert(0usize);
        *n += 1;
        walk::read_directory_certificate(&c.der, &c.dn, c.store, *n, &mut inv);
    }
    Ok(inv)
}

fn add_gpo(
    inv: &mut Inventory,
    gpo: &LiveGpo,
    domain: &str,
    opts: Options,
) -> Result<(), InspectError> {
    let shown = format!("GPO {:?} {}", gpo.name, gpo.guid);
    let gpo_ref = GpoRef {
        name: gpo.name.clone(),
        guid: gpo.guid.clone(),
        backup_id: String::new(),
        domain: domain.to_string(),
    };
    let before = inv.items.len();
    match &gpo.sysvol {
        SysvolState::Read => {
            if let Some(pol) = &gpo.machine_pol {
                walk::read_gpo_policy(pol, &gpo.machine_pol_path, &gpo_ref, opts, inv)?;
            }
        }
        SysvolState::Missing => inv.note(
            &shown,
            NoteCode::SysvolMissing,
            format!(
                "its SYSVOL folder {} is missing: clients fail to apply the GPO",
                gpo.file_sys_path
            ),
        ),
        SysvolState::Unreadable(detail) => inv.note(
            &shown,
            NoteCode::SysvolUnreadable,
            format!("its SYSVOL folder cannot be read: {detail}"),
        ),
    }
    if let Some(v) = gpo.gpt_version
        && v != gpo.version
    {
        inv.note(
            &shown,
            NoteCode::VersionMismatch,
            format!(
                "versionNumber in the directory is {} but GPT.INI says {v}: clients compare the two and may not apply the GPO (replication incomplete, or an interrupted edit)",
                gpo.version
            ),
        );
    }
    let carries_certificates = inv.items.len() > before;
    if carries_certificates {
        for p in extension_guids::problems(&gpo.machine_extension_names) {
            inv.note(
                &shown,
                NoteCode::ExtensionGuids,
                format!("gPCMachineExtensionNames {p}"),
            );
        }
        if gpo.computer_disabled() {
            inv.note(
                &shown,
                NoteCode::HalfDisabled,
                format!(
                    "the GPO's computer settings are disabled (flags = {}): its certificates do not apply",
                    gpo.flags
                ),
            );
        }
    }
    inv.gpos.push(GpoSummary {
        name: gpo.name.clone(),
        guid: gpo.guid.clone(),
        dn: gpo.dn.clone(),
        version: gpo.version,
        sysvol_version: gpo.gpt_version,
        machine_extension_guids: gpo.machine_extension_names.clone(),
        flags: gpo.flags,
        computer_disabled: gpo.computer_disabled(),
        wmi_filter: gpo.wmi_filter.clone(),
        links: gpo
            .links
            .iter()
            .map(|l| GpoLink {
                container: l.container.clone(),
                kind: l.kind.clone(),
                enabled: l.enabled,
                enforced: l.enforced,
            })
            .collect(),
        sysvol: match gpo.sysvol {
            SysvolState::Read => "read",
            SysvolState::Missing => "missing",
            SysvolState::Unreadable(_) => "unreadable",
        }
        .into(),
    });
    Ok(())
}
