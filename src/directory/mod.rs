//! The connection to a domain controller's directory, defined once for every command
//! that reads or writes Active Directory (`discover`, the live `inspect`, `diff`,
//! `audit`, `backup`, and `publish`).
//!
//! Every connection is TLS: `ldaps://` directly, `ldap://` through StartTLS. A simple
//! bind never travels in plaintext. Build [`LdapOptions`] from a [`Request`] with
//! [`options`] (this reads the `--ldap-ca` file and the password), then
//! [`Connection::open`] connects and binds; [`Connection::search`] maps every LDAP
//! failure to a [`DirectoryError`] that names the server and what to do.

pub mod dns;
mod error;
mod refused;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, ResultEntry, Scope, SearchEntry, StdStream,
};

use crate::fetch::target::PORT_RANGE;
use crate::fetch::transport::{Unreached, connect_any, connect_first};
use crate::tls::{self, Trust};

pub use error::{DirectoryError, TlsRemedy};

/// LDAP_SERVER_SD_FLAGS_OID (MS-ADTS 3.1.1.3.4.1.11): ask for the owner, group and
/// DACL of `nTSecurityDescriptor` only, which needs no right to read the SACL.
const SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";
/// BER of `SEQUENCE { INTEGER 7 }`: OWNER | GROUP | DACL.
const SD_FLAGS_OWNER_GROUP_DACL: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x07];

/// The environment variable a bind password may come from.
pub const PASSWORD_ENV: &str = "CERTGPO_LDAP_PASSWORD";

/// How to authenticate to the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindMethod {
    /// Simple bind with --user and a password (anonymous without --user), over TLS only
    Simple,
    /// Kerberos (GSSAPI) with the current ticket cache; needs the `kerberos` cargo feature
    Kerberos,
}

impl crate::named::Named for BindMethod {
    const ALL: &'static [BindMethod] = &[BindMethod::Simple, BindMethod::Kerberos];

    fn name(self) -> &'static str {
        match self {
            BindMethod::Simple => "simple",
            BindMethod::Kerberos => "kerberos",
        }
    }

    fn help(self) -> &'static str {
        match self {
            BindMethod::Simple => {
                "Simple bind with --user and a password (anonymous without --user), over TLS only"
            }
            BindMethod::Kerberos => {
                "Kerberos (GSSAPI) with the current ticket cache; needs the `kerberos` cargo feature"
            }
        }
    }
}

/// How the domain controller's TLS certificate is checked.
#[derive(Clone, Debug)]
pub enum TlsTrust {
    /// The operating system's trust store.
    System,
    /// Only these CA certificates (DER), from `--ldap-ca`.
    Cas { file: PathBuf, ders: Vec<Vec<u8>> },
    /// No validation (`--ldap-insecure`).
    Insecure,
}

/// How to authenticate to the directory.
#[derive(Clone)]
pub enum Auth {
    Anonymous,
    Simple { user: String, password: String },
    Kerberos,
}

impl std::fmt::Debug for Auth {
    // The password never reaches a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Simple { user, .. } => write!(f, "Simple {{ user: {user:?} }}"),
            Auth::Kerberos => f.write_str("Kerberos"),
        }
    }
}

/// A checked connection request: where, how the server is trusted, who binds.
#[derive(Clone, Debug)]
pub struct LdapOptions {
    pub url: String,
    pub trust: TlsTrust,
    pub auth: Auth,
}

impl LdapOptions {
    /// The host the URL names (without brackets for an IPv6 address).
    pub fn host(&self) -> String {
        url_host(&self.url)
    }
}

/// The connection options as the user gave them (the command line's words).
#[derive(Clone, Debug)]
pub struct Request {
    /// `ldaps://HOST[:PORT]` or `ldap://HOST[:PORT]` (StartTLS).
    pub url: String,
    pub insecure: bool,
    /// CA certificates the domain controller's certificate must chain to.
    pub ca: Option<PathBuf>,
    pub bind: BindMethod,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// Check a [`Request`] and read what it names: the `ca` file and the password.
/// Also returns what is worth a warning (a private key skipped in the CA file).
pub fn options(req: &Request) -> Result<(LdapOptions, Vec<String>), DirectoryError> {
    check_url(&req.url)?;
    // Refused before any connection is made, rather than after TCP and TLS.
    if req.bind == BindMethod::Kerberos && cfg!(not(feature = "kerberos")) {
        return Err(DirectoryError::KerberosNotBuilt);
    }
    let mut warnings = Vec::new();
    let trust = if req.insecure {
        TlsTrust::Insecure
    } else if let Some(file) = &req.ca {
        // The same reader as `build --cert`: PEM, DER or PKCS#7, each certificate checked.
        let mut loaded = crate::cert::LoadReport::default();
        crate::cert::load_file(file, &mut loaded).map_err(|e| match e {
            crate::cert::CertError::Input(e) => DirectoryError::from(e.given_as("--ldap-ca")),
            other => DirectoryError::CaLoad(other),
        })?;
        warnings.extend(loaded.warnings);
        TlsTrust::Cas {
            file: file.clone(),
            ders: loaded.certs.into_iter().map(|l| l.cert.der).collect(),
        }
    } else {
        TlsTrust::System
    };
    let auth = match (req.bind, &req.user) {
        (BindMethod::Kerberos, _) => Auth::Kerberos,
        (BindMethod::Simple, None) => Auth::Anonymous,
        (BindMethod::Simple, Some(user)) => Auth::Simple {
            user: user.clone(),
            password: password(req.password_file.as_deref(), user)?,
        },
    };
    Ok((
        LdapOptions {
            url: req.url.clone(),
            trust,
            auth,
        },
        warnings,
    ))
}

/// Accept only ldap:// and ldaps:// URLs that name a host.
pub fn check_url(url: &str) -> Result<(), DirectoryError> {
    const EXPECTED: &str = "expected ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS)";
    let bad = |detail: &str| DirectoryError::BadUrl {
        url: url.into(),
        detail: detail.into(),
        suggestion: None,
    };
    // A bare HOST[:PORT] is what people type most: say which URL they meant.
    if !url.contains("://")
        && !url.is_empty()
        && url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
    {
        return Err(DirectoryError::BadUrl {
            url: url.into(),
            detail: EXPECTED.into(),
            suggestion: Some(format!("ldaps://{url}")),
        });
    }
    let parsed = url::Url::parse(url).map_err(|e| match e {
        url::ParseError::InvalidPort => bad(PORT_RANGE),
        url::ParseError::RelativeUrlWithoutBase => bad(EXPECTED),
        other => bad(&other.to_string()),
    })?;
    if !matches!(parsed.scheme(), "ldap" | "ldaps") {
        return Err(bad(EXPECTED));
    }
    if parsed.port() == Some(0) {
        return Err(bad(PORT_RANGE));
    }
    match parsed.host_str() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(bad("the URL names no host")),
    }
}

/// The host of an LDAP URL, without the brackets of an IPv6 address; empty if none.
pub fn url_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        .unwrap_or_default()
}

/// A current-thread runtime for the async LDAP and SMB clients.
pub fn runtime() -> Result<tokio::runtime::Runtime, DirectoryError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DirectoryError::Runtime)
}

/// A bound connection to one directory server.
pub struct Connection {
    ldap: Ldap,
    url: String,
    anonymous: bool,
    timeout: Duration,
}

impl Connection {
    /// Connect to `opts.url` (its host resolved at `dns_server` when given) and bind.
    /// `timeout` bounds each step: TCP, TLS, the bind, and every later request.
    pub async fn open(
        opts: &LdapOptions,
        url: &str,
        dns_server: Option<SocketAddr>,
        timeout: Duration,
    ) -> Result<Connection, DirectoryError> {
        let mut ldap = connect(url, &opts.trust, dns_server, timeout).await?;
        bind(&mut ldap, url, &opts.auth, timeout).await?;
        Ok(Connection {
            ldap,
            url: url.into(),
            anonymous: matches!(opts.auth, Auth::Anonymous),
            timeout,
        })
    }

    /// The URL this connection was opened to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The deadline of each request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The ldap3 handle, for operations this module does not wrap (modify, add: the
    /// publishing side). Map its errors with [`Connection::error`].
    pub fn ldap(&mut self) -> &mut Ldap {
        &mut self.ldap
    }

    /// The entries of one search (continuation references dropped); a result code other
    /// than success or referral is an error, except noSuchObject under `missing_ok`, which gives
    /// `None`.
    pub async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        missing_ok: bool,
    ) -> Result<Option<Vec<SearchEntry>>, DirectoryError> {
        let found = self
            .ldap
            .with_timeout(self.timeout)
            .search(base, scope, filter, attrs.to_vec())
            .await
            // A referral (Samba returns them beside the entries) is not a failure.
            .and_then(|r| r.non_error());
        match found {
            Ok((entries, _)) => Ok(Some(objects(entries).collect())),
            Err(LdapError::LdapResult { result }) if missing_ok && result.rc == 32 => Ok(None),
            // Without a bind, the first search is the first request.
            Err(e) => Err(self.error(base, false, e)),
        }
    }

    /// Every entry of a subtree or one-level search, in pages of 500 (AD returns at
    /// most 1,000 entries to a search without paging); noSuchObject gives `None`.
    pub async fn search_paged(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<Vec<SearchEntry>>, DirectoryError> {
        use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(500)),
        ];
        let timeout = self.timeout;
        let mut stream = match self
            .ldap
            .with_timeout(timeout)
            .streaming_search_with(adapters, base, scope, filter, attrs.to_vec())
            .await
        {
            Ok(s) => s,
            Err(e) => return Err(self.error(base, false, e)),
        };
        let mut out = Vec::new();
        loop {
            match stream.next().await {
                Ok(Some(entry)) => out.push(SearchEntry::construct(entry)),
                Ok(None) => break,
                Err(e) => return Err(self.error(base, false, e)),
            }
        }
        let done = stream.finish().await;
        match done.non_error() {
            Ok(_) => Ok(Some(out)),
            Err(LdapError::LdapResult { result }) if result.rc == 32 => Ok(None),
            Err(e) => Err(self.error(base, false, e)),
        }
    }

    /// The attribute `name` of the rootDSE (`defaultNamingContext`,
    /// `configurationNamingContext`, ...).
    pub async fn root_dse(&mut self, name: &str) -> Result<Option<String>, DirectoryError> {
        let found = self
            .ldap
            .with_timeout(self.timeout)
            .search("", Scope::Base, "(objectClass=*)", vec![name])
            .await
            .and_then(|r| r.success());
        let entries = match found {
            Ok((entries, _)) => entries,
            Err(e) => return Err(self.error("the rootDSE", self.anonymous, e)),
        };
        Ok(objects(entries).find_map(|e| first_value(&e, name).map(str::to_string)))
    }

    /// The owner, group and DACL of the object `dn`'s `nTSecurityDescriptor`, asked
    /// for with the SD flags control (no right to read the SACL is needed); `None`
    /// when the directory gives none.
    pub async fn security_descriptor(
        &mut self,
        dn: &str,
    ) -> Result<Option<Vec<u8>>, DirectoryError> {
        let control = ldap3::controls::RawControl {
            ctype: SD_FLAGS_OID.to_string(),
            crit: true,
            val: Some(SD_FLAGS_OWNER_GROUP_DACL.to_vec()),
        };
        let found = self
            .ldap
            .with_controls(control)
            .with_timeout(self.timeout)
            .search(
                dn,
                Scope::Base,
                "(objectClass=*)",
                vec!["nTSecurityDescriptor"],
            )
            .await
            .and_then(|r| r.success());
        let entries = match found {
            Ok((entries, _)) => entries,
            Err(e) => return Err(self.error(dn, false, e)),
        };
        Ok(objects(entries).find_map(|e| bin_values(&e, "nTSecurityDescriptor").first().cloned()))
    }

    /// The error for a failed request under `base`; `first`: it was the first request on
    /// the connection (so an early close means the port does not speak LDAP).
    pub fn error(&self, base: &str, first: bool, e: LdapError) -> DirectoryError {
        search_error(&self.url, self.anonymous, self.timeout, base, first, e)
    }

    /// End the session; a failed unbind changes nothing for the caller.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }
}

/// The error for a search of `base` at `url` that failed with `e`.
pub fn search_error(
    url: &str,
    anonymous: bool,
    timeout: Duration,
    base: &str,
    first: bool,
    e: LdapError,
) -> DirectoryError {
    match e {
        LdapError::LdapResult { result } if matches!(result.rc, 8 | 13) => {
            DirectoryError::StrongAuth {
                url: url.into(),
                detail: result_text(&result),
            }
        }
        LdapError::LdapResult { result } if anonymous && matches!(result.rc, 1 | 48 | 50) => {
            DirectoryError::AnonymousRefused {
                url: url.into(),
                base: base.into(),
                detail: result_text(&result),
            }
        }
        LdapError::LdapResult { result } => DirectoryError::Search {
            url: url.into(),
            base: base.into(),
            detail: result_text(&result),
        },
        other => op_error(url, timeout, first, other),
    }
}

async fn connect(
    url: &str,
    trust: &TlsTrust,
    dns_server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Ldap, DirectoryError> {
    let starttls = url.to_ascii_lowercase().starts_with("ldap:");
    let client = tls_client(trust)?;
    let tcp = tcp_connect(url, dns_server, timeout).await?;
    let settings = LdapConnSettings::new()
        .set_conn_timeout(timeout)
        .set_starttls(starttls)
        .set_config(client.config.clone())
        .set_std_stream(StdStream::Tcp(tcp));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .map_err(|e| {
            let failed = Failed {
                url,
                starttls,
                timeout,
                trust,
                chain: client.take_chain(),
            };
            connect_error(failed, e)
        })?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// The TLS client for `trust`. Built here rather than left to ldap3, which would load
/// and parse the system trust store even for `--ldap-insecure`, only to ignore it.
fn tls_client(trust: &TlsTrust) -> Result<tls::Client, DirectoryError> {
    let (trust, file) = match trust {
        TlsTrust::System => (Trust::System, None),
        TlsTrust::Insecure => (Trust::Nothing, None),
        TlsTrust::Cas { file, ders } => (Trust::Cas(ders), Some(file)),
    };
    tls::Client::new(trust).map_err(|e| match (e, file) {
        (e @ tls::TlsError::Anchor { .. }, Some(file)) => DirectoryError::CaFile {
            path: file.clone(),
            detail: e.to_string(),
        },
        (e, _) => DirectoryError::TlsSetup(e),
    })
}

/// Our own TCP connection, so that it can have TCP_NODELAY: the TLS handshake's last
/// flight and the first request are separate small writes, and with Nagle the second
/// waits for the server's delayed ACK (40 ms on Linux) before every search.
async fn tcp_connect(
    url: &str,
    dns_server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<std::net::TcpStream, DirectoryError> {
    let unreachable = |detail: String| DirectoryError::Unreachable {
        url: url.into(),
        detail,
    };
    let parsed = url::Url::parse(url).map_err(|e| unreachable(e.to_string()))?;
    let host = url_host(url);
    let default_port = if parsed.scheme() == "ldaps" { 636 } else { 389 };
    let port = parsed.port().unwrap_or(default_port);
    let connected = match (host.parse::<IpAddr>(), dns_server) {
        (Ok(ip), _) => connect_first(&[SocketAddr::new(ip, port)], timeout).await,
        // Asked to use a given DNS server, certgpo finds the DC there too: the name in
        // its certificate may be known only to the domain's DNS.
        (Err(_), Some(server)) => {
            let addrs: Vec<SocketAddr> = dns::resolve(&host, server, timeout)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect();
            if addrs.is_empty() {
                return Err(unreachable(format!("{host} does not resolve at {server}")));
            }
            connect_first(&addrs, timeout).await
        }
        (Err(_), None) => connect_any(&host, port, timeout).await,
    };
    let stream = connected.map_err(|e| match e {
        Unreached::Timeout(..) => unreachable(format!("no answer within {} s", timeout.as_secs())),
        other => unreachable(other.describe(&host)),
    })?;
    stream
        .set_nodelay(true)
        .and_then(|()| stream.into_std())
        .map_err(|e| unreachable(e.to_string()))
}

/// What `connect_error` needs to know about the connection that failed.
struct Failed<'a> {
    url: &'a str,
    starttls: bool,
    timeout: Duration,
    trust: &'a TlsTrust,
    /// The chain the server presented, if the handshake got that far.
    chain: Option<Vec<Vec<u8>>>,
}

fn connect_error(f: Failed, e: LdapError) -> DirectoryError {
    let url = f.url.to_string();
    match e {
        LdapError::Io { source } => {
            let tls = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            match tls {
                Some(rustls::Error::InvalidCertificate(problem)) => {
                    refused::refusal(&url, problem, f.chain.as_deref().unwrap_or(&[]), f.trust)
                }
                Some(other) => DirectoryError::Tls {
                    url,
                    detail: other.to_string(),
                    remedy: TlsRemedy::Other,
                },
                // The TCP connection was made, so an early close is the TLS handshake failing.
                None if matches!(
                    source.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
                {
                    DirectoryError::Tls {
                        url,
                        detail: format!(
                            "{source} during the handshake (does the server speak TLS on this port?)"
                        ),
                        remedy: TlsRemedy::Other,
                    }
                }
                None => DirectoryError::Unreachable {
                    url,
                    detail: source.to_string(),
                },
            }
        }
        LdapError::Timeout { .. } => DirectoryError::Unreachable {
            url,
            detail: format!("no answer within {} s", f.timeout.as_secs()),
        },
        LdapError::LdapResult { result } if f.starttls => DirectoryError::StartTls {
            url,
            detail: result_text(&result),
        },
        LdapError::DNSName { source } => DirectoryError::BadUrl {
            url,
            detail: format!("not a valid TLS server name: {source}"),
            suggestion: None,
        },
        LdapError::UrlParsing { source } => DirectoryError::BadUrl {
            url,
            detail: source.to_string(),
            suggestion: None,
        },
        other => DirectoryError::Unreachable {
            url,
            detail: other.to_string(),
        },
    }
}

async fn bind(
    ldap: &mut Ldap,
    url: &str,
    auth: &Auth,
    timeout: Duration,
) -> Result<(), DirectoryError> {
    match auth {
        Auth::Anonymous => Ok(()),
        Auth::Simple { user, password } => {
            let result = ldap
                .with_timeout(timeout)
                .simple_bind(user, password)
                .await
                .and_then(|r| r.success());
            match result {
                Ok(_) => Ok(()),
                Err(LdapError::LdapResult { result }) if matches!(result.rc, 8 | 13) => {
                    Err(DirectoryError::StrongAuth {
                        url: url.into(),
                        detail: result_text(&result),
                    })
                }
                Err(LdapError::LdapResult { result }) => Err(DirectoryError::BindRefused {
                    url: url.into(),
                    user: user.clone(),
                    detail: result_text(&result),
                }),
                // The simple bind is the first request on the connection.
                Err(e) => Err(op_error(url, timeout, true, e)),
            }
        }
        Auth::Kerberos => kerberos_bind(ldap, url).await,
    }
}

#[cfg(feature = "kerberos")]
async fn kerberos_bind(ldap: &mut Ldap, url: &str) -> Result<(), DirectoryError> {
    ldap.sasl_gssapi_bind(&url_host(url))
        .await
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| DirectoryError::Kerberos {
            url: url.into(),
            detail: match e {
                LdapError::LdapResult { result } => result_text(&result),
                other => other.to_string(),
            },
        })
}

/// `options` refuses `--bind kerberos` in this build before any connection; this
/// keeps [`Auth::Kerberos`] from binding anonymously should it get here all the same.
#[cfg(not(feature = "kerberos"))]
async fn kerberos_bind(_: &mut Ldap, _: &str) -> Result<(), DirectoryError> {
    Err(DirectoryError::KerberosNotBuilt)
}

/// The entries of a search result. Samba returns continuation references alongside
/// the entries; they are not followed.
pub fn objects(entries: Vec<ResultEntry>) -> impl Iterator<Item = SearchEntry> {
    entries
        .into_iter()
        .filter(|e| !e.is_ref() && !e.is_intermediate())
        .map(SearchEntry::construct)
}

/// Every value of the attribute `name` (case-insensitive), empty if absent.
pub fn values<'a>(entry: &'a SearchEntry, name: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

/// The first value of the attribute `name`.
pub fn first_value<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    values(entry, name).first().map(String::as_str)
}

/// Every binary value of the attribute `name` (ldap3 puts non-UTF-8 values there).
pub fn bin_values<'a>(entry: &'a SearchEntry, name: &str) -> &'a [Vec<u8>] {
    entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

/// Split a DN at the commas that separate RDNs, keeping escaped ones (`\,`).
pub fn split_dn(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(dn[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(dn[start..].trim());
    out
}

/// A request that got no LDAP result. `first`: it was the first request on the
/// connection, so a connection closed then was made (TCP and TLS are up) to a port
/// that does not speak LDAP.
fn op_error(url: &str, timeout: Duration, first: bool, e: LdapError) -> DirectoryError {
    match e {
        LdapError::Timeout { .. } => DirectoryError::Unreachable {
            url: url.into(),
            detail: format!("no answer within {} s", timeout.as_secs()),
        },
        // The ways ldap3 reports the connection ending under a pending request.
        LdapError::EndOfStream | LdapError::ResultRecv { .. } | LdapError::OpSend { .. }
            if first =>
        {
            DirectoryError::NotLdap { url: url.into() }
        }
        other => DirectoryError::Unreachable {
            url: url.into(),
            detail: format!("connection lost: {other}"),
        },
    }
}

/// An LDAP result as an admin reads it, with AD's "data 52e"-style sub-code explained.
pub fn result_text(result: &ldap3::LdapResult) -> String {
    let name = match result.rc {
        1 => "operationsError",
        8 => "strongerAuthRequired",
        13 => "confidentialityRequired",
        19 => "constraintViolation",
        32 => "noSuchObject",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        52 => "unavailable",
        53 => "unwillingToPerform",
        68 => "entryAlreadyExists",
        2 => "protocolError",
        _ => "error",
    };
    let mut text = format!("{name} (LDAP {})", result.rc);
    let diag = result.text.trim_end_matches('\0').trim();
    if !diag.is_empty() {
        text.push_str(": ");
        text.push_str(diag);
    }
    if let Some(meaning) = ad_data_code(diag) {
        text.push_str(&format!(" ({meaning})"));
    }
    text
}

/// The `data NNN` code AD appends to bind failures.
fn ad_data_code(diag: &str) -> Option<&'static str> {
    let rest = &diag[diag.find("data ")? + 5..];
    let code: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    Some(match code.to_ascii_lowercase().as_str() {
        "525" => "no such user",
        "52e" => "wrong password",
        "530" => "logon not permitted at this time",
        "531" => "logon not permitted at this workstation",
        "532" => "password expired",
        "533" => "account disabled",
        "701" => "account expired",
        "773" => "password must be reset",
        "775" => "account locked out",
        _ => return None,
    })
}

/// The bind password for `user`, from `--password-file`, the environment or a prompt.
fn password(file: Option<&std::path::Path>, user: &str) -> Result<String, DirectoryError> {
    let password = crate::secret::read(&crate::secret::Sources {
        file,
        option: "--password-file",
        env: PASSWORD_ENV,
        prompt: format!("LDAP password for {user}: "),
    })?
    .ok_or_else(|| DirectoryError::NoPassword { user: user.into() })?;
    if password.is_empty() {
        return Err(DirectoryError::EmptyPassword { user: user.into() });
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_split_keeps_escaped_commas() {
        assert_eq!(split_dn(r"CN=a\,b,DC=x"), vec![r"CN=a\,b", "DC=x"]);
    }

    #[test]
    fn ad_bind_sub_codes() {
        let diag = "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
        assert_eq!(ad_data_code(diag), Some("wrong password"));
        assert_eq!(ad_data_code("data 775, v"), Some("account locked out"));
        assert_eq!(ad_data_code("no code"), None);
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("ldaps://dc1.contoso.com:636"), "dc1.contoso.com");
        assert_eq!(url_host("ldap://[::1]"), "::1");
        assert_eq!(url_host("nonsense"), "");
    }
}
