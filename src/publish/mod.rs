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
pub mod apply;
mod create;
pub mod plan;
mod session;

pub use plan::{Changes, Current, LinkPlan, PublishPlan};
pub use session::{Outcome, Request, publish};

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
    #[error("--gpo \"{gpo}\": no such GPO in {domain}")]
    NotFound { gpo: String, domain: String },
    #[error(transparent)]
    Directory(#[from] crate::directory::DirectoryError),
    #[error(transparent)]
    Sysvol(#[from] crate::live::sysvol::SysvolError),
}

impl crate::Diagnostic for PublishError {
    fn hint(&self) -> Option<String> {
        match self {
            PublishError::Pipeline(e) => e.hint(),
            PublishError::Directory(e) => e.hint(),
            PublishError::Sysvol(e) => e.hint(),
            PublishError::Conflict { state, .. } | PublishError::Incomplete { state, .. } => {
                Some(state.clone())
            }
            PublishError::Locked { lock, .. } => Some(format!(
                "wait for the other run to finish and publish again; if no publish is running (an earlier run was killed), delete {lock}"
            )),
            PublishError::NotFound { .. } => Some(
                "name the GPO by its display name or {GUID} as `certgpo inspect` or GPMC shows it, or pass --create to make it".into(),
            ),
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

/// `Version=` of GPT.INI's `[General]` section.
// TODO(rebase): the GPT.INI module of the live foundation replaces these two.
pub fn gpt_version(bytes: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(bytes);
    let mut general = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            general = line.eq_ignore_ascii_case("[General]");
        } else if general
            && let Some((k, v)) = line.split_once('=')
            && k.trim().eq_ignore_ascii_case("Version")
        {
            return v.trim().parse().ok();
        }
    }
    None
}

/// GPT.INI with `Version=` set to `version`, every other line kept.
pub fn gpt_with_version(old: Option<&[u8]>, version: u32) -> Vec<u8> {
    let text = old.map(String::from_utf8_lossy).unwrap_or_default();
    let mut out = String::new();
    let mut done = false;
    let mut general = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            general = t.eq_ignore_ascii_case("[General]");
        } else if general
            && !done
            && t.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("Version"))
        {
            out.push_str(&format!("Version={version}\r\n"));
            done = true;
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if !done {
        out = format!("[General]\r\nVersion={version}\r\n{out}");
    }
    out.into_bytes()
}

/// `gPLink` with the GPO `gpo_dn` linked (prepended, the lowest precedence, where
/// GPMC puts a new link): whether it was linked already, and the new value.
// TODO(rebase): the gPLink module of the live foundation replaces this.
pub fn link_with(before: &str, gpo_dn: &str, enforced: bool) -> (bool, String) {
    let needle = format!("[ldap://{};", gpo_dn.to_ascii_lowercase());
    if before.to_ascii_lowercase().contains(&needle) {
        return (true, before.to_string());
    }
    let options = if enforced { 2 } else { 0 };
    (false, format!("[LDAP://{gpo_dn};{options}]{before}"))
}
