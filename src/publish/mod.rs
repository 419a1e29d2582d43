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

mod ad;
pub mod plan;

pub use plan::{Changes, Current, LinkPlan, PublishPlan};

use crate::build::PipelineError;

/// What can go wrong while publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(
        "{gpo}: the computer version is already {}, the highest a GPO can have (versionNumber {version})",
        .version & 0xFFFF
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
    #[error("{0}")]
    Refused(String),
}

impl crate::Diagnostic for PublishError {
    fn hint(&self) -> Option<String> {
        match self {
            PublishError::Pipeline(e) => e.hint(),
            PublishError::Conflict { state, .. } | PublishError::Incomplete { state, .. } => {
                Some(state.clone())
            }
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
