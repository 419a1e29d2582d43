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
}

impl crate::Diagnostic for LiveError {
    fn hint(&self) -> Option<String> {
        match self {
            LiveError::Directory(e) => e.hint(),
            LiveError::Sysvol(e) => e.hint(),
            LiveError::NotAd { .. } => None,
        }
    }
}
