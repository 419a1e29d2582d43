//! What can go wrong while discovering; the connection's own errors are
//! [`crate::directory::DirectoryError`]'s.

use std::path::PathBuf;

use crate::directory::DirectoryError;

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(
        "nothing to discover: give --ldap URL (Active Directory SCP) and/or --domain FQDN (DNS)"
    )]
    NothingToDo,
    #[error(
        "the rootDSE of {url} has no configurationNamingContext (is it an Active Directory domain controller?)"
    )]
    NoConfigNc { url: String },
    #[error("no Autodiscover SCP found: searched {searched}")]
    NoScp { searched: String },
    // serde_json quotes the offending value, which may be long.
    #[error("--discover {path}: {}", crate::text::cut(.detail, 300))]
    Report { path: PathBuf, detail: String },
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
}

impl crate::Diagnostic for DiscoverError {
    fn hint(&self) -> Option<String> {
        match self {
            DiscoverError::Directory(e) => e.hint(),
            DiscoverError::Input(e) => e.hint(),
            DiscoverError::NoScp { .. } => Some(
                "no Exchange Client Access server has registered in this forest, or the account cannot read CN=Services; \
try --domain to list the DNS candidates"
                    .into(),
            ),
            _ => None,
        }
    }
}
