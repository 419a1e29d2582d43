//! The writes of a publish, in the order that keeps the GPO safe for clients and for
//! another publisher (docs/spec/live-domain.md, SYSVOL):
//!
//! 1. take the GPO's lock file (created only if absent: a second publish stops here);
//! 2. read the version and registry.pol again: if either changed since the plan was
//!    made, stop, having written nothing;
//! 3. registry.pol, written whole under a temporary name and renamed over the old one;
//! 4. GPT.INI, the same way, with the new version;
//! 5. `versionNumber` and `gPCMachineExtensionNames` in one LDAP modify that deletes
//!    the old version by value: if anyone changed it meanwhile, the modify fails and
//!    changes nothing;
//! 6. read back registry.pol, GPT.INI and the container, and compare;
//! 7. the links (`gPLink` swapped by value the same way), then drop the lock.
//!
//! A client reads the version first: until step 5 it sees the old version and keeps
//! what it applied; after it, it finds the new file. A failure before step 3 leaves the
//! GPO untouched; a failure after it says what the GPO holds and how to finish, and
//! running the same publish again finishes it (the versions then disagree, which a
//! publish repairs), except after step 3 alone, which `--raise-version` finishes. A
//! connection to SYSVOL lost part way also leaves the lock file (and perhaps a
//! temporary file): the error then names it and says how to delete it.

use super::ad::{self, WriteError};
use super::plan::{LinkPlan, PublishPlan};
use super::{PublishError, gpt_version, gpt_with_version};
use crate::directory::Connection;
use crate::live::sysvol::{Created, Sysvol, SysvolError};

/// The lock file of a GPO folder while a publish writes it.
pub const LOCK_FILE: &str = "certgpo-publish.lock";

/// Where the GPO lives.
pub struct Paths {
    /// The container's DN.
    pub dn: String,
    /// The GPO folder inside the SYSVOL share, `SysVol\<domain>\Policies\{GUID}`.
    pub folder: String,
}

impl Paths {
    pub fn policy(&self) -> String {
        format!(r"{}\Machine\registry.pol", self.folder)
    }

    pub fn gpt(&self) -> String {
        format!(r"{}\GPT.INI", self.folder)
    }

    pub fn lock(&self) -> String {
        format!(r"{}\{LOCK_FILE}", self.folder)
    }
}

/// What a publish wrote, as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub version: u32,
    pub links_added: Vec<String>,
    /// Things that went wrong after the GPO was complete (a lock file left behind).
    pub warnings: Vec<String>,
}

/// Take the lock, check nothing moved, write, commit, read back, link, unlock.
pub async fn apply(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    paths: &Paths,
    plan: &PublishPlan,
    holder: &str,
) -> Result<Applied, PublishError> {
    let gpo = shown(plan);
    let lock = paths.lock();
    let created = match sysvol.create_new(&lock, holder.as_bytes()).await {
        Ok(c) => c,
        Err(e @ SysvolError::Denied { .. }) => return Err(e.into()),
        // The connection may have been lost after the server made the file: say so
        // (docs/spec/live-domain.md, SYSVOL: a failure says what it left).
        Err(e) => {
            return Err(PublishError::Stopped {
                gpo,
                step: "taking the lock".into(),
                cause: e.to_string(),
                state: format!(
                    "nothing was changed in the GPO, but {}",
                    lock_left(sysvol, paths, "the run stopped while creating it")
                ),
            });
        }
    };
    match created {
        Created::Done => {}
        Created::Exists => {
            let held = sysvol
                .read(&lock, crate::input::LOCK)
                .await
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_else(|| "its content is unreadable".into());
            return Err(PublishError::Locked {
                gpo,
                lock: unc(sysvol, &lock),
                holder: crate::text::printable(&crate::text::cut(&held, 200)),
            });
        }
    }
    let mut swept = sweep(sysvol, paths).await;
    let result = locked(conn, sysvol, paths, plan).await;
    // The lock goes whatever happened; a lock left behind is said, not hidden.
    let unlocked = sysvol.delete(&lock).await;
    let left = unlocked
        .err()
        .map(|e| lock_left(sysvol, paths, &format!("deleting it failed: {e}")));
    let mut applied = match (result, &left) {
        (Ok(applied), _) => applied,
        (Err(e), None) => return Err(e),
        (Err(e), Some(note)) => return Err(e.with_note(&gpo, "writing the GPO", note)),
    };
    applied.warnings.append(&mut swept);
    applied.warnings.extend(left);
    Ok(applied)
}

/// Delete the temporary files a killed publish left (`*.certgpo-*.tmp` beside GPT.INI
/// and registry.pol): with the lock held, no other publish is writing them. What could
/// not be deleted is returned as warnings.
async fn sweep(sysvol: &mut Sysvol, paths: &Paths) -> Vec<String> {
    let mut warnings = Vec::new();
    for dir in [paths.folder.clone(), format!(r"{}\Machine", paths.folder)] {
        let Ok(Some(entries)) = sysvol.list(&dir).await else {
            continue;
        };
        for e in entries {
            if e.is_dir || !(e.name.contains(".certgpo-") && e.name.ends_with(".tmp")) {
                continue;
            }
            let path = format!(r"{dir}\{}", e.name);
            if let Err(err) = sysvol.delete(&path).await {
                warnings.push(format!(
                    "{} is left from an earlier run and could not be deleted ({err})",
                    unc(sysvol, &path)
                ));
            }
        }
    }
    warnings
}

async fn locked(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    paths: &Paths,
    plan: &PublishPlan,
) -> Result<Applied, PublishError> {
    let gpo = shown(plan);
    let untouched = "nothing was written; the GPO is as it was".to_string();
    // 2. Nothing moved since the plan was made.
    let stopped = |step: &str, e: &dyn std::fmt::Display| PublishError::Stopped {
        gpo: gpo.clone(),
        step: step.into(),
        cause: e.to_string(),
        state: "nothing was changed: the GPO is as it was; publish again".into(),
    };
    let state = ad::container_state(conn, &paths.dn)
        .await
        .map_err(|e| stopped("reading the version again", &e))?;
    let version_now = state.as_ref().and_then(|s| s.version_number);
    if version_now != Some(plan.version_before) {
        return Err(PublishError::Conflict {
            gpo,
            what: format!(
                "versionNumber is now {}, it was {} when this run read the GPO",
                version_now.map_or_else(|| "absent".into(), |v| v.to_string()),
                plan.version_before
            ),
            state: format!("{untouched}: publish again to merge into the current GPO"),
        });
    }
    let policy_now = sysvol
        .read(&paths.policy(), crate::input::POLICY)
        .await
        .map_err(|e| stopped("reading Machine\\registry.pol again", &e))?;
    if policy_now != plan.registry_pol_before {
        return Err(PublishError::Conflict {
            gpo,
            what: "Machine\\registry.pol changed since this run read it".into(),
            state: format!("{untouched}: publish again to merge into the current GPO"),
        });
    }
    // 3. registry.pol. A failure here may come after the server renamed the file (the
    // connection lost before its answer): the file is then the old one or the new one,
    // never part of one, and the versions are untouched (docs/spec/live-domain.md,
    // SYSVOL); a rerun with --raise-version makes either state whole.
    if plan.writes_policy()
        && let Err(e) = sysvol.replace(&paths.policy(), &plan.registry_pol).await
    {
        if matches!(e, SysvolError::Denied { .. }) {
            return Err(e.into());
        }
        return Err(incomplete(
            &gpo,
            "writing Machine\\registry.pol",
            e,
            &format!(
                "Machine\\registry.pol holds either the old file or the new one (never part of one), and GPT.INI and versionNumber still say {}, so clients do not apply a change yet: run this publish again with --raise-version added to finish; it merges what is missing and raises both versions to agree",
                plan.version_before
            ),
        ));
    }
    let finish_raise = format!(
        "Machine\\registry.pol holds the new certificates, but versionNumber still says {}, so clients do not apply them yet: run `certgpo publish --gpo {} --raise-version` (same connection options) to finish",
        plan.version_before, plan.gpo_guid
    );
    // 4. GPT.INI.
    if plan.writes_gpt() {
        let old = sysvol
            .read(&paths.gpt(), crate::input::BACKUP_FILE)
            .await
            .map_err(|e| incomplete(&gpo, "reading GPT.INI", e, &finish_raise))?;
        let new = gpt_with_version(
            old.as_deref(),
            &unc(sysvol, &paths.gpt()),
            plan.version_after,
        )
        .map_err(|e| incomplete(&gpo, "reading GPT.INI", e, &finish_raise))?;
        sysvol
            .replace(&paths.gpt(), &new)
            .await
            .map_err(|e| incomplete(&gpo, "writing GPT.INI", e, &finish_raise))?;
    }
    // 5. The commit.
    let finish_rerun = format!(
        "registry.pol and GPT.INI (version {}) hold the new certificates, but versionNumber may still be {} (the directory did not confirm the change), so clients may not apply them yet: run `certgpo publish --gpo {} --raise-version` (same connection options) to finish; it raises both versions to agree",
        plan.version_after, plan.version_before, plan.gpo_guid
    );
    if plan.version_after != plan.version_before
        || plan.extension_names_after != plan.extension_names_before
    {
        let names = (plan.extension_names_after != plan.extension_names_before)
            .then_some(plan.extension_names_after.as_str());
        match ad::commit_version(
            conn,
            &paths.dn,
            plan.version_before,
            plan.version_after,
            names,
        )
        .await
        {
            Ok(()) => {}
            Err(WriteError::Lost) => {
                let now = ad::container_state(conn, &paths.dn)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| s.version_number);
                return Err(PublishError::Conflict {
                    gpo,
                    what: format!(
                        "versionNumber was changed to {} by someone else while this run wrote the files",
                        now.map_or_else(|| "an unknown value".into(), |v| v.to_string())
                    ),
                    state: format!(
                        "registry.pol and GPT.INI (version {}) hold this run's certificates merged into the GPO as it was read; the other change may have written them too. Check the GPO (certgpo inspect) and publish again: the rerun merges into what is there and raises both versions to agree",
                        plan.version_after
                    ),
                });
            }
            Err(WriteError::Exists) => {
                return Err(PublishError::Refused(format!(
                    "{gpo}: the directory refused the version change"
                )));
            }
            Err(WriteError::Other(e)) => {
                return Err(incomplete(&gpo, "raising versionNumber", e, &finish_rerun));
            }
        }
    }
    // 6. Read back.
    read_back(conn, sysvol, paths, plan, &gpo, &finish_rerun).await?;
    // 7. Links.
    let mut links_added = Vec::new();
    for link in plan.links.iter().filter(|l| !l.already) {
        add_link(conn, link, &gpo).await?;
        links_added.push(link.container.clone());
    }
    Ok(Applied {
        version: plan.version_after,
        links_added,
        warnings: Vec::new(),
    })
}

/// Compare what the GPO holds now with what this run wrote.
async fn read_back(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    paths: &Paths,
    plan: &PublishPlan,
    gpo: &str,
    finish: &str,
) -> Result<(), PublishError> {
    let step = "reading back";
    let policy = sysvol
        .read(&paths.policy(), crate::input::POLICY)
        .await
        .map_err(|e| incomplete(gpo, step, e, finish))?;
    let gpt = sysvol
        .read(&paths.gpt(), crate::input::BACKUP_FILE)
        .await
        .map_err(|e| incomplete(gpo, step, e, finish))?;
    let state = ad::container_state(conn, &paths.dn)
        .await
        .map_err(|e| incomplete(gpo, step, e, finish))?;
    let mut wrong = Vec::new();
    if policy.as_deref() != Some(plan.registry_pol.as_slice()) {
        wrong.push("Machine\\registry.pol differs from what was written".to_string());
    }
    let gpt_now = gpt
        .as_deref()
        .and_then(|g| gpt_version(g, &paths.gpt()).ok().flatten());
    if gpt_now != Some(plan.version_after) {
        wrong.push(format!(
            "GPT.INI says version {}, expected {}",
            gpt_now.map_or_else(|| "none".into(), |v| v.to_string()),
            plan.version_after
        ));
    }
    match state {
        Some(s) => {
            if s.version_number != Some(plan.version_after) {
                wrong.push(format!(
                    "versionNumber is {}, expected {}",
                    s.version_number
                        .map_or_else(|| "absent".into(), |v| v.to_string()),
                    plan.version_after
                ));
            }
            if s.machine_extension_names != plan.extension_names_after {
                wrong.push(format!(
                    "gPCMachineExtensionNames is {:?}, expected {:?}",
                    s.machine_extension_names, plan.extension_names_after
                ));
            }
        }
        None => wrong.push("the container is gone".into()),
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(PublishError::Incomplete {
        gpo: gpo.to_string(),
        step: step.into(),
        cause: wrong.join("; "),
        state: "someone else changed the GPO right after this run wrote it, or a domain controller did not keep what it accepted: check the GPO with certgpo inspect and publish again".into(),
    })
}

/// Add the GPO to the container's `gPLink`, swapping the value this run read for the
/// new one, so that a concurrent change of the links makes it fail, not vanish.
async fn add_link(conn: &mut Connection, link: &LinkPlan, gpo: &str) -> Result<(), PublishError> {
    let old = (!link.before.is_empty()).then_some(link.before.as_str());
    match ad::swap_value(conn, &link.container, "gPLink", old, &link.after).await {
        Ok(()) => Ok(()),
        Err(WriteError::Lost) => Err(PublishError::Conflict {
            gpo: gpo.to_string(),
            what: format!(
                "the links of {} changed while this run wrote them",
                link.container
            ),
            state: "the GPO itself is published; only this link is missing: publish again with the same --link to add it".into(),
        }),
        Err(WriteError::Exists) => Err(PublishError::Refused(format!(
            "--link {}: the directory refused the new gPLink",
            link.container
        ))),
        Err(WriteError::Other(e)) => Err(PublishError::Incomplete {
            gpo: gpo.to_string(),
            step: format!("linking to {}", link.container),
            cause: e.to_string(),
            state: "the GPO itself is published; only this link is missing: publish again with the same --link to add it".into(),
        }),
    }
}

/// What a run that could not delete its lock file says: where it is and how to delete
/// it. A run that lost its connection may also have left a temporary file, which the
/// next publish sweeps.
fn lock_left(sysvol: &Sysvol, paths: &Paths, why: &str) -> String {
    let lock = paths.lock();
    let inside = lock
        .split_once('\\')
        .map_or(lock.as_str(), |(_, rest)| rest);
    format!(
        "the lock file {} may be left behind ({why}), and a temporary file *.certgpo-*.tmp beside GPT.INI or Machine\\registry.pol (clients do not read it; the next publish deletes it). Once no publish is running, delete the lock file before publishing again (from Windows: del {}; from Linux: smbclient //{}/SysVol -U USER -c 'del \"{inside}\"')",
        unc(sysvol, &lock),
        unc(sysvol, &lock),
        sysvol.host()
    )
}

fn incomplete(gpo: &str, step: &str, e: impl std::fmt::Display, state: &str) -> PublishError {
    PublishError::Incomplete {
        gpo: gpo.to_string(),
        step: step.to_string(),
        cause: e.to_string(),
        state: state.to_string(),
    }
}

/// The GPO as messages name it.
pub fn shown(plan: &PublishPlan) -> String {
    format!(
        "GPO \"{}\" {}",
        crate::text::printable(&plan.gpo_name),
        plan.gpo_guid
    )
}

/// `\\host\Share\path` for messages.
pub fn unc(sysvol: &Sysvol, path: &str) -> String {
    format!(r"\\{}\{path}", sysvol.host())
}
