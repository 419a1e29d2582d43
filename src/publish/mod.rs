//! `certgpo publish`: certificates into a live GPO, over LDAP and SMB.
//!
//! `plan.rs` decides everything before anything is written (the merged registry.pol,
//! the certificates added and removed, the versions, the links); `--what-if` stops
//! there. `apply.rs` then writes in the order that keeps clients safe
//! (docs/spec/live-domain.md, SYSVOL): registry.pol (temporary file renamed over the
//! old one), GPT.INI, and last the container's `versionNumber` with an LDAP modify
//! that deletes the old value and adds the new one, so that a concurrent change makes
//! it fail rather than be overwritten. `create.rs` makes a new GPO (container,
//! children, SYSVOL folder and its ACL) and the links; `forest.rs` is the
//! forest-wide channel (`CN=Certification Authorities`).

pub mod ad;
pub mod apply;
mod create;
pub mod forest;
pub mod plan;
mod session;

pub use plan::{Changes, Current, LinkPlan, PublishPlan};
pub use session::{ForestOutcome, Outcome, Request, publish, publish_forest};

use crate::build::PipelineError;

/// What can go wrong while publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(
        "{gpo}: the computer version is already {}, the highest a GPO can have (versionNumber {version})",
        plan::machine_half(*.version)
    )]
    VersionExhausted { gpo: String, version: u32 },
    /// Someone else changed the GPO between this run's read and its write.
    #[error("{gpo} changed while this publish ran: {what}")]
    Conflict {
        gpo: String,
        what: String,
        /// What this run left, and how to finish.
        state: String,
    },
    /// Another publish holds the GPO's lock file.
    #[error("{gpo} is being published by another run: {lock} exists ({holder})")]
    Locked {
        gpo: String,
        lock: String,
        holder: String,
    },
    /// A step failed after an earlier one changed the GPO.
    #[error("{gpo}: the publish stopped at {step}: {cause}")]
    Incomplete {
        gpo: String,
        step: String,
        cause: String,
        /// What the GPO holds now, and how to finish.
        state: String,
    },
    /// A step failed before the GPO was changed (a connection lost while taking the
    /// lock or reading the GPO again): what clients read is as it was.
    #[error("{gpo}: the publish stopped at {step}: {cause}")]
    Stopped {
        gpo: String,
        step: String,
        cause: String,
        /// What is left (nothing, or the lock file), and what to do.
        state: String,
    },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Live(#[from] crate::live::LiveError),
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
    #[error(transparent)]
    Sysvol(#[from] crate::live::sysvol::SysvolError),
}

impl crate::Diagnostic for PublishError {
    fn hint(&self) -> Option<String> {
        match self {
            PublishError::Pipeline(e) => e.hint(),
            PublishError::Live(e) => e.hint(),
            PublishError::Directory(e) => e.hint(),
            PublishError::Sysvol(crate::live::sysvol::SysvolError::Denied { .. }) => Some(
                "publishing needs the Modify right on the GPO's SYSVOL folder and Write on its container (GPMC's \"Edit settings\" delegation)".into(),
            ),
            PublishError::Sysvol(e) => e.hint(),
            PublishError::Conflict { state, .. }
            | PublishError::Incomplete { state, .. }
            | PublishError::Stopped { state, .. } => Some(state.clone()),
            PublishError::Locked { lock, .. } => Some(format!(
                "wait for the other run to finish and publish again; if no publish is running (an earlier run was killed), delete {lock}"
            )),
            _ => None,
        }
    }

    fn kind(&self) -> crate::Kind {
        match self {
            PublishError::Pipeline(e) => e.kind(),
            PublishError::Conflict { .. } | PublishError::Locked { .. } => crate::Kind::Conflict,
            PublishError::Incomplete { .. } => crate::Kind::Incomplete,
            _ => crate::Kind::Error,
        }
    }
}

impl PublishError {
    /// The error with `note` (what else the failed run left) added to the state it
    /// reports; an error without one becomes [`PublishError::Stopped`] at `step`.
    pub fn with_note(self, gpo: &str, step: &str, note: &str) -> PublishError {
        match self {
            PublishError::Conflict { gpo, what, state } => PublishError::Conflict {
                gpo,
                what,
                state: format!("{state}. Also, {note}"),
            },
            PublishError::Incomplete {
                gpo,
                step,
                cause,
                state,
            } => PublishError::Incomplete {
                gpo,
                step,
                cause,
                state: format!("{state}. Also, {note}"),
            },
            PublishError::Stopped {
                gpo,
                step,
                cause,
                state,
            } => PublishError::Stopped {
                gpo,
                step,
                cause,
                state: format!("{state}. Also, {note}"),
            },
            other => PublishError::Stopped {
                gpo: gpo.to_string(),
                step: step.to_string(),
                cause: other.to_string(),
                state: note.to_string(),
            },
        }
    }
}

/// `gPLink` with the GPO `gpo_dn` linked (prepended, the lowest precedence, where
/// GPMC puts a new link; MS-GPOL 2.2.2): whether it was linked already, and the new
/// value. Every existing link is kept as it was written.
pub fn link_with(
    before: &str,
    owner: &str,
    gpo_dn: &str,
    guid: &str,
    enforced: bool,
) -> Result<(bool, String), PublishError> {
    let mut links = crate::gpo::gplink::parse(before, owner)
        .map_err(|e| PublishError::Refused(e.to_string()))?;
    if links
        .iter()
        .any(|l| l.guid().is_some_and(|g| g.eq_ignore_ascii_case(guid)))
    {
        return Ok((true, before.to_string()));
    }
    let options = if enforced {
        crate::gpo::gplink::LINK_ENFORCED
    } else {
        0
    };
    links.insert(
        0,
        crate::gpo::gplink::Link {
            dn: gpo_dn.to_string(),
            options,
        },
    );
    Ok((false, crate::gpo::gplink::write(&links)))
}

/// The version in a GPT.INI's bytes (`None`: no `Version=`, which clients read as 0).
pub fn gpt_version(bytes: &[u8], file: &str) -> Result<Option<u32>, PublishError> {
    crate::gpo::gpt_ini::parse(bytes, file)
        .map(|g| g.version())
        .map_err(|e| PublishError::Refused(e.to_string()))
}

/// GPT.INI with `Version=` set to `version`, every other line kept (a new one without `old`).
pub fn gpt_with_version(
    old: Option<&[u8]>,
    file: &str,
    version: u32,
) -> Result<Vec<u8>, PublishError> {
    let mut gpt = match old {
        Some(bytes) => crate::gpo::gpt_ini::parse(bytes, file)
            .map_err(|e| PublishError::Refused(e.to_string()))?,
        None => crate::gpo::gpt_ini::new(version, None),
    };
    gpt.set_version(version);
    Ok(gpt.write())
}
