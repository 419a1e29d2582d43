//! The live domain: Group Policy objects read from Active Directory (LDAP, through
//! [`crate::directory`]) and their files from SYSVOL (SMB, [`sysvol`]).
//!
//! [`Domain::open`] makes both connections from one [`Target`]: the LDAP connection
//! and bind of `discover`, then SYSVOL on the DC the LDAP URL names (or
//! `--smb-host`), signed in with the same account.

pub mod backup;
mod error;
pub mod inventory;
pub mod read;
pub mod sysvol;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::directory::{self, Auth, Connection, LdapOptions};

pub use error::LiveError;
use sysvol::{SmbOptions, Sysvol};

/// The share every GPO's files are in (`gPCFileSysPath` names it).
pub const SYSVOL_SHARE: &str = "SysVol";

/// Where the live domain is and how to reach it.
#[derive(Clone, Debug)]
pub struct Target {
    pub ldap: LdapOptions,
    /// `HOST[:PORT]` serving SYSVOL, when not the DC of the LDAP URL.
    pub smb_host: Option<String>,
    /// The DNS server that resolves the DC's names (`--dns-server`).
    pub dns_server: Option<SocketAddr>,
    /// The deadline of each step and request.
    pub timeout: Duration,
}

/// Both connections to the domain, and its naming contexts.
pub struct Domain {
    pub ldap: Connection,
    pub sysvol: Sysvol,
    /// `defaultNamingContext`: the domain's DN.
    pub domain_dn: String,
    /// `configurationNamingContext`.
    pub config_dn: String,
}

impl Domain {
    /// Connect and bind to the directory, read its naming contexts, then sign in to SYSVOL.
    pub async fn open(target: &Target) -> Result<Domain, LiveError> {
        // SYSVOL's account and address first: a missing password is said before any
        // connection is made.
        let smb = smb_options(target).await?;
        let mut ldap = Connection::open(
            &target.ldap,
            &target.ldap.url,
            target.dns_server,
            target.timeout,
        )
        .await?;
        let url = target.ldap.url.clone();
        let domain_dn = ldap
            .root_dse("defaultNamingContext")
            .await?
            .ok_or_else(|| LiveError::NotAd { url: url.clone() })?;
        let config_dn = ldap
            .root_dse("configurationNamingContext")
            .await?
            .ok_or(LiveError::NotAd { url })?;
        let sysvol = Sysvol::connect(smb).await?;
        Ok(Domain {
            ldap,
            sysvol,
            domain_dn,
            config_dn,
        })
    }

    /// Close both connections.
    pub async fn close(self) {
        self.sysvol.close().await;
        self.ldap.close().await;
    }
}

/// Connect, read `selection` and close: the blocking entry point of the commands.
pub fn read_state(
    target: &Target,
    selection: &read::Selection,
) -> Result<read::LiveState, LiveError> {
    directory::runtime()?.block_on(async {
        let mut domain = Domain::open(target).await?;
        let state = read::read(&mut domain, selection).await;
        domain.close().await;
        state
    })
}

/// SYSVOL's server, address and account: `--smb-host` or the LDAP URL's host, resolved
/// at `--dns-server` when given; the account and password of the simple bind.
pub async fn smb_options(target: &Target) -> Result<SmbOptions, LiveError> {
    let (host, port) = match &target.smb_host {
        Some(given) => sysvol::parse_host(given)?,
        None => (target.ldap.host(), sysvol::PORT),
    };
    let (user, password) = match &target.ldap.auth {
        Auth::Simple { user, password } => (user.clone(), password.clone()),
        Auth::Anonymous | Auth::Kerberos => {
            return Err(sysvol::SysvolError::NoCredentials { host }.into());
        }
    };
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => resolve(&host, target).await?,
    };
    Ok(SmbOptions {
        host: host.clone(),
        addr: SocketAddr::new(ip, port),
        user,
        password,
        share: SYSVOL_SHARE.into(),
        timeout: target.timeout,
    })
}

async fn resolve(host: &str, target: &Target) -> Result<IpAddr, LiveError> {
    let found = match target.dns_server {
        Some(server) => directory::dns::resolve(host, server, target.timeout).await?,
        None => tokio::net::lookup_host((host, 0))
            .await
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .unwrap_or_default(),
    };
    found.into_iter().next().ok_or_else(|| {
        sysvol::SysvolError::Connect {
            host: host.into(),
            detail: "the name does not resolve".into(),
        }
        .into()
    })
}
