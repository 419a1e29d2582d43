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

/// The live domain as a source of `inspect`, `diff`, `audit`, `backup`: the directory
/// connection, which GPO, and where SYSVOL is.
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    #[command(flatten)]
    pub ldap: LdapArgs,

    /// With --ldap: one GPO, by display name or {GUID}; without it, every GPO of the domain and the certificates published forest-wide
    #[arg(long, value_name = "NAME|GUID", requires = "ldap")]
    pub gpo: Option<String>,

    /// With --ldap: the server to read SYSVOL from over SMB (HOST or HOST:PORT), when not the domain controller --ldap names
    #[arg(long, value_name = "HOST", requires = "ldap")]
    pub smb_host: Option<String>,

    /// With --ldap: DNS server that resolves the domain controller's name, e.g. the DC itself
    #[arg(long, value_name = "IP[:PORT]", requires = "ldap")]
    pub dns_server: Option<String>,

    /// With --ldap: deadline of each LDAP and SMB step (e.g. 30s)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = certgpo::fetch::parse_duration)]
    pub dc_timeout: std::time::Duration,
}

impl LiveArgs {
    /// The live target and what to read, or `None` without `--ldap`; prints the
    /// warnings reading the options gave.
    pub fn target(
        &self,
    ) -> Result<Option<(certgpo::live::Target, certgpo::live::read::Selection)>, crate::exit::Failure>
    {
        let Some(req) = self.ldap.request() else {
            return Ok(None);
        };
        let (ldap, warnings) = directory::options(&req)?;
        for w in &warnings {
            eprintln!("warning: {}", certgpo::text::printable(w));
        }
        let dns_server = self
            .dns_server
            .as_deref()
            .map(directory::dns::parse_server)
            .transpose()?;
        let selection = match &self.gpo {
            Some(g) => certgpo::live::read::Selection::One(g.clone()),
            None => certgpo::live::read::Selection::All,
        };
        Ok(Some((
            certgpo::live::Target {
                ldap,
                smb_host: self.smb_host.clone(),
                dns_server,
                timeout: self.dc_timeout,
            },
            selection,
        )))
    }

    /// The live domain's inventory, or `None` without `--ldap`.
    pub fn inventory(
        &self,
        opts: certgpo::inspect::inventory::Options,
    ) -> Result<Option<certgpo::inspect::inventory::Inventory>, crate::exit::Failure> {
        let Some((target, selection)) = self.target()? else {
            return Ok(None);
        };
        let state = certgpo::live::read_state(&target, &selection)?;
        Ok(Some(certgpo::live::inventory::inventory(&state, opts)?))
    }

    /// How messages name the live source.
    pub fn label(&self) -> String {
        let url = self.ldap.ldap.clone().unwrap_or_default();
        match &self.gpo {
            Some(g) => format!("{url} GPO {g}"),
            None => url,
        }
    }
}
