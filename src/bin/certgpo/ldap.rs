//! The directory connection options every command that reads or writes Active
//! Directory shares (`discover`, the live `inspect`, `diff`, `audit`, `backup`).

use std::path::PathBuf;

use clap::Args;

use certgpo::directory::{self, BindMethod};

/// How to reach and bind to a domain controller.
#[derive(Args, Debug, Clone)]
pub struct LdapArgs {
    /// Domain controller: ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS)
    #[arg(long, value_name = "URL")]
    pub ldap: Option<String>,

    /// Do not validate the domain controller's TLS certificate
    #[arg(long, requires = "ldap")]
    pub ldap_insecure: bool,

    /// Validate the domain controller's certificate against these CA certificates (PEM, DER or PKCS#7) instead of the system store
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "ldap_insecure",
        requires = "ldap"
    )]
    pub ldap_ca: Option<PathBuf>,

    /// How to authenticate to the directory
    #[arg(long, value_parser = crate::named::parser::<BindMethod>(), default_value = "simple")]
    pub bind: BindMethod,

    /// Account for a simple bind, as user@domain (UPN) or a DN; without it the search is anonymous
    #[arg(long, value_name = "UPN", requires = "ldap")]
    pub user: Option<String>,

    /// File whose first line is the bind password
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,
}

impl LdapArgs {
    /// The library's connection request, or `None` without `--ldap`.
    pub fn request(&self) -> Option<directory::Request> {
        Some(directory::Request {
            url: self.ldap.clone()?,
            insecure: self.ldap_insecure,
            ca: self.ldap_ca.clone(),
            bind: self.bind,
            user: self.user.clone(),
            password_file: self.password_file.clone(),
        })
    }
}
