//! What can go wrong reading the live domain.

use crate::directory::DirectoryError;

use super::sysvol::SysvolError;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Sysvol(#[from] SysvolError),
    #[error(
        "the rootDSE of {url} has no defaultNamingContext or configurationNamingContext (is it an Active Directory domain controller?)"
    )]
    NotAd { url: String },
    #[error("{url} has no GPO named {gpo:?} (display name or {{GUID}})")]
    NoSuchGpo { url: String, gpo: String },
    #[error("{count} GPOs are named {gpo:?}: {guids}")]
    Ambiguous {
        gpo: String,
        count: usize,
        guids: String,
    },
    #[error("{url}: {base} is not there (is it an Active Directory domain?)")]
    NoPolicies { url: String, base: String },
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),
    #[error("GPO {gpo:?} cannot be backed up: {detail}")]
    NotBackedUp { gpo: String, detail: String },
}

impl crate::Diagnostic for LiveError {
    fn hint(&self) -> Option<String> {
        match self {
            LiveError::Directory(e) => e.hint(),
            LiveError::Sysvol(e) => e.hint(),
            LiveError::Inspect(e) => e.hint(),
            LiveError::NoSuchGpo { .. } => Some(
                "samba-tool gpo listall or Get-GPO -All lists the GPOs; names are compared as the directory compares them (case-insensitive)".into(),
            ),
            LiveError::Ambiguous { .. } => Some("name the GPO by its {GUID}".into()),
            _ => None,
        }
    }
}
