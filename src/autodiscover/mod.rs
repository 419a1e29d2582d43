//! `certgpo discover --email`: Outlook's Autodiscover exchange (MS-OXDISCO, POX), hop
//! by hop, from the candidates `discover` found, to the settings and every host they
//! name; each host's certificate captured and judged as Windows would judge it.
//!
//! `pox` writes the request and reads the answer, `http` is the HTTP/1.1 client,
//! `ntlm` the NTLMv2 client, `kerberos` Kerberos under Negotiate (the `kerberos`
//! feature), `conn` the TLS engines, `verdict` the trust verdict,
//! `path` the hop engine.

pub mod conn;
mod error;
pub mod http;
pub mod kerberos;
pub mod ntlm;
pub mod output;
pub mod path;
pub mod pox;
pub mod verdict;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

pub use error::AutodiscoverError;
pub use verdict::{Roots, Verdict};

/// The environment variable the mailbox password may come from.
pub const PASSWORD_ENV: &str = "CERTGPO_MAIL_PASSWORD";
/// Outlook follows at most this many redirects.
pub const MAX_REDIRECTS: usize = 10;

/// How certgpo authenticates to the Autodiscover service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// Kerberos under Negotiate when offered and a ticket is at hand, else NTLM, else Basic
    Auto,
    /// Kerberos under Negotiate only, with the ticket of `kinit`
    Negotiate,
    /// NTLMv2 only
    Ntlm,
    /// Basic only (always inside TLS)
    Basic,
}

impl crate::named::Named for AuthMethod {
    const ALL: &'static [AuthMethod] = &[
        AuthMethod::Auto,
        AuthMethod::Negotiate,
        AuthMethod::Ntlm,
        AuthMethod::Basic,
    ];

    fn name(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::Negotiate => "negotiate",
            AuthMethod::Ntlm => "ntlm",
            AuthMethod::Basic => "basic",
        }
    }

    fn help(self) -> &'static str {
        match self {
            AuthMethod::Auto => {
                "Kerberos under Negotiate when offered and a ticket is at hand (the `kerberos` feature), else NTLM, else Basic"
            }
            AuthMethod::Negotiate => {
                "Kerberos under Negotiate only, with the ticket of kinit (needs the `kerberos` feature)"
            }
            AuthMethod::Ntlm => "NTLMv2 only",
            AuthMethod::Basic => "Basic only (always inside TLS)",
        }
    }
}

/// One URL to POST to, from `discover`'s list or from a redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub url: String,
    /// `scp`, `dns-root`, `dns-autodiscover`, `http-redirect`, `srv`, `redirect-url`.
    pub source: String,
    /// Where the host resolved when `discover` resolved it.
    pub address: Option<std::net::IpAddr>,
}

/// The credentials for the mailbox.
#[derive(Clone)]
pub struct Credentials {
    /// `DOMAIN\user` or `user@domain`.
    pub account: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // The password never reaches a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ account: {:?} }}", self.account)
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub email: String,
    pub credentials: Option<Credentials>,
    pub auth: AuthMethod,
    pub roots: Roots,
    /// `--expect`: certificates (SHA-1 or SHA-256) credentials may go to.
    pub pins: Vec<Vec<u8>>,
    /// Send credentials to any certificate, for this run.
    pub accept_untrusted: bool,
    /// The domains credentials may go to: the email's, and `--allow-domain`.
    pub domains: Vec<String>,
    pub dns_server: Option<SocketAddr>,
    pub timeout: Duration,
    /// How service hosts' certificates are captured.
    pub fetch: crate::fetch::FetchOptions,
}

/// The domain of an email address, lower-case.
pub fn email_domain(email: &str) -> Result<String, AutodiscoverError> {
    match email.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            Ok(domain.trim_end_matches('.').to_ascii_lowercase())
        }
        _ => Err(AutodiscoverError::BadEmail(crate::text::cut(email, 100))),
    }
}

/// The mailbox password: the file, the environment variable, or a terminal prompt;
/// `None` when none is available (the exchange then goes without credentials).
pub fn password(file: Option<&Path>, account: &str) -> Result<Option<String>, AutodiscoverError> {
    let found = crate::secret::read(&crate::secret::Sources {
        file,
        option: "--mail-password-file",
        env: PASSWORD_ENV,
        prompt: format!("Mailbox password for {account}: "),
    })?;
    if found.as_deref() == Some("") {
        return Err(AutodiscoverError::EmptyPassword(account.to_string()));
    }
    Ok(found)
}

/// The candidates of a discovery in Outlook's order: SCP URLs, the two DNS URLs, the
/// HTTP redirect method (for `domain`), then the SRV targets.
pub fn candidates(found: &crate::discover::Discovery, domain: &str) -> Vec<Candidate> {
    use crate::discover::Source;
    let mut out = Vec::new();
    let redirect = Candidate {
        url: format!("http://autodiscover.{domain}/autodiscover/autodiscover.xml"),
        source: "http-redirect".into(),
        address: None,
    };
    let mut redirect = Some(redirect);
    for e in &found.endpoints {
        if e.source == Source::Srv
            && let Some(r) = redirect.take()
        {
            out.push(r);
        }
        out.push(Candidate {
            url: e.url.clone(),
            source: e.source.label().into(),
            address: e
                .addresses
                .as_ref()
                .and_then(|a| a.first())
                .and_then(|a| a.parse().ok()),
        });
    }
    if let Some(r) = redirect {
        out.push(r);
    }
    out
}

/// One attempt of the exchange.
#[derive(Clone, Debug, Serialize)]
pub struct Hop {
    pub n: usize,
    /// The email address asked for.
    pub address: String,
    pub url: String,
    pub source: String,
    pub method: &'static str,
    /// The authentication that produced `status`: none, kerberos, ntlm,
    /// ntlm-in-negotiate or basic.
    pub auth: Option<&'static str>,
    /// How authentication went beyond its name: whether the server proved itself
    /// (Kerberos mutual authentication), or why Kerberos was not used.
    pub auth_note: Option<String>,
    pub status: Option<u16>,
    /// What came of it: settings, redirectUrl, redirectAddr, error, unreachable...
    pub result: String,
    pub redirect: Option<String>,
    /// The TLS version of the connection.
    pub protocol: Option<String>,
    /// SHA-1 thumbprint of the certificate the host presented.
    pub certificate: Option<String>,
}

/// A certificate as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CertInfo {
    pub thumbprint: String,
    pub sha256: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub self_signed: bool,
    /// SHA-1 thumbprints of the whole chain as presented, leaf first.
    pub chain: Vec<String>,
}

impl CertInfo {
    pub fn of(chain: &[crate::cert::Certificate]) -> Option<CertInfo> {
        let leaf = chain.first()?;
        Some(CertInfo {
            thumbprint: leaf.thumbprint(),
            sha256: leaf.sha256_hex(),
            subject: leaf.subject_display.clone(),
            issuer: leaf.issuer_display.clone(),
            not_after: leaf
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            self_signed: leaf.self_signed,
            chain: chain.iter().map(|c| c.thumbprint()).collect(),
        })
    }
}

/// A host on the path or named by the settings, once per name and port.
#[derive(Clone, Debug, Serialize)]
pub struct Host {
    pub name: String,
    pub port: u16,
    /// Where it came from: `hop 1 (scp)`, `EXCH EwsUrl`, `EXPR Server`...
    pub from: Vec<String>,
    /// The URL `build --discover` fetches its certificate from.
    pub url: String,
    /// The address certgpo connected to, when it resolved the name itself.
    pub address: Option<String>,
    pub protocol: Option<String>,
    pub certificate: Option<CertInfo>,
    pub verdict: Option<Verdict>,
    /// Why no certificate was captured.
    pub error: Option<String>,
}

/// The whole path: every attempt, the settings, every host.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub email: String,
    pub hops: Vec<Hop>,
    /// The protocol sections of the settings, when the exchange got that far.
    pub protocols: Vec<pox::Protocol>,
    pub display_name: Option<String>,
    pub hosts: Vec<Host>,
    /// Why the exchange stopped short of the settings.
    pub stopped: Option<String>,
    pub notes: Vec<String>,
}
