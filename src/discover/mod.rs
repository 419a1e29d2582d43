//! `certgpo discover`: every Autodiscover endpoint an Outlook client will reach, read
//! from Active Directory service connection points (SCP) and derived from DNS, in
//! the order Outlook tries them. `discover()` is the library entry point that other
//! commands reuse; `run()` is the command.

mod dns;
mod error;
mod fetched;
mod ldap;
mod order;
mod output;
mod secret;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::DiscoverArgs;
use crate::exit::{Failure, code};

pub use error::DiscoverError;
pub use fetched::report_targets;

/// `keywords` value of an SCP whose serviceBindingInformation is an Autodiscover URL.
pub const SCP_URL_GUID: &str = "77378F46-2C66-4aa9-A6A6-3E7A48B19596";
/// `keywords` value of an SCP that points to another directory server.
pub const SCP_POINTER_GUID: &str = "67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68";
/// The environment variable a bind password may come from.
pub const PASSWORD_ENV: &str = "CERTGPO_LDAP_PASSWORD";

/// How `discover` authenticates to the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BindMethod {
    /// Simple bind with --user and a password (anonymous without --user), over TLS only
    Simple,
    /// Kerberos (GSSAPI) with the current ticket cache; needs the `kerberos` cargo feature
    Kerberos,
}

/// Where an endpoint came from, in the order Outlook consults the sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// An Autodiscover SCP URL in Active Directory.
    Scp,
    /// `https://<domain>/autodiscover/autodiscover.xml`.
    DnsRoot,
    /// `https://autodiscover.<domain>/autodiscover/autodiscover.xml`.
    DnsAutodiscover,
    /// The target of the `_autodiscover._tcp.<domain>` SRV record.
    Srv,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Scp => "scp",
            Source::DnsRoot => "dns-root",
            Source::DnsAutodiscover => "dns-autodiscover",
            Source::Srv => "srv",
        }
    }
}

/// One URL Outlook may try, with the host and port a certificate fetch connects to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// 1-based position in Outlook's order of attempts.
    pub order: usize,
    pub source: Source,
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The SCP's `Site=` keyword.
    pub site: Option<String>,
    /// Distinguished name of the SCP object.
    pub dn: Option<String>,
    /// Distinguished name of the Exchange server object the SCP belongs to.
    pub server: Option<String>,
    /// The directory the SCP was read from.
    pub directory: Option<String>,
    /// Addresses the host resolved to, for DNS candidates; empty when it does not resolve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
}

/// An SCP pointer: another directory server to search for a given domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pointer {
    pub dn: String,
    /// serviceBindingInformation, e.g. `LDAP://dc1.fabrikam.com`.
    pub target: String,
    /// The `Domain=` keyword.
    pub domain: Option<String>,
    pub site: Option<String>,
    /// The directory the pointer was read from.
    pub directory: String,
    /// Whether certgpo searched the target (its `Domain=` matches --domain).
    pub followed: bool,
}

/// One SCP search certgpo ran, so an empty result says what was searched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Search {
    pub directory: String,
    pub base: String,
    pub filter: String,
    pub urls: usize,
    pub pointers: usize,
}

/// Everything `discover` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Discovery {
    pub site: Option<String>,
    pub domain: Option<String>,
    pub endpoints: Vec<Endpoint>,
    pub pointers: Vec<Pointer>,
    pub searches: Vec<Search>,
    pub warnings: Vec<String>,
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

#[derive(Clone, Debug)]
pub struct LdapOptions {
    pub url: String,
    pub trust: TlsTrust,
    pub auth: Auth,
}

/// What to discover. Build it from the command line with [`options_from_args`].
#[derive(Clone, Debug)]
pub struct Options {
    pub ldap: Option<LdapOptions>,
    /// The email/DNS domain: DNS candidates, and which SCP pointers to follow.
    pub domain: Option<String>,
    /// Derive the DNS candidates of `domain`.
    pub dns: bool,
    pub dns_server: Option<SocketAddr>,
    pub site: Option<String>,
    pub timeout: Duration,
}

/// Turn `discover`'s arguments into [`Options`]: reads --ldap-ca and the password.
pub fn options_from_args(args: &DiscoverArgs) -> Result<Options, DiscoverError> {
    if args.ldap.is_none() && args.domain.is_none() {
        return Err(DiscoverError::NothingToDo);
    }
    let dns_server = args
        .dns_server
        .as_deref()
        .map(dns::parse_server)
        .transpose()?;
    let ldap = match &args.ldap {
        None => None,
        Some(url) => {
            ldap::check_url(url)?;
            let trust = if args.ldap_insecure {
                TlsTrust::Insecure
            } else if let Some(file) = &args.ldap_ca {
                TlsTrust::Cas {
                    file: file.clone(),
                    ders: ldap::read_cas(file)?,
                }
            } else {
                TlsTrust::System
            };
            let auth = match (args.bind, &args.user) {
                (BindMethod::Kerberos, _) => Auth::Kerberos,
                (BindMethod::Simple, None) => Auth::Anonymous,
                (BindMethod::Simple, Some(user)) => Auth::Simple {
                    user: user.clone(),
                    password: secret::password(args.password_file.as_deref(), user)?,
                },
            };
            Some(LdapOptions {
                url: url.clone(),
                trust,
                auth,
            })
        }
    };
    Ok(Options {
        ldap,
        domain: args.domain.clone(),
        dns: args.domain.is_some() && !args.no_dns,
        dns_server,
        site: args.site.clone(),
        timeout: args.connect.timeout,
    })
}

/// Find the endpoints, in Outlook's order: SCP URLs (by site), then the DNS candidates.
pub fn discover(opts: &Options) -> Result<Discovery, DiscoverError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DiscoverError::Runtime)?;
    runtime.block_on(discover_async(opts))
}

async fn discover_async(opts: &Options) -> Result<Discovery, DiscoverError> {
    let mut found = Discovery {
        site: opts.site.clone(),
        domain: opts.domain.clone(),
        ..Discovery::default()
    };
    let mut endpoints = Vec::new();
    if let Some(ldap_opts) = &opts.ldap {
        let lookup = ldap::lookup(ldap_opts, opts).await?;
        if lookup.scps.is_empty() {
            let searched = lookup
                .searches
                .iter()
                .map(|s| format!("{} under {} with {}", s.directory, s.base, s.filter))
                .collect::<Vec<_>>()
                .join("; ");
            if !opts.dns {
                return Err(DiscoverError::NoScp { searched });
            }
            found
                .warnings
                .push(format!("no Autodiscover SCP found: searched {searched}"));
        }
        endpoints.extend(lookup.scps);
        // Asked to use a given DNS server, certgpo resolves the SCP hosts there too, so
        // --fetch reaches the servers that DNS names rather than the local resolver's.
        if let Some(server) = opts.dns_server {
            let warnings = dns::resolve_hosts(&mut endpoints, server, opts.timeout).await?;
            found.warnings.extend(warnings);
        }
        found.pointers = lookup.pointers;
        found.searches = lookup.searches;
        found.warnings.extend(lookup.warnings);
        if opts.site.is_none() && endpoints.iter().any(|e| e.site.is_some()) {
            found.warnings.push(
                "no --site given: SCPs without a site are listed first; Outlook puts those of its own site before them"
                    .into(),
            );
        }
    }
    if opts.dns
        && let Some(domain) = &opts.domain
    {
        match dns::candidates(domain, opts.dns_server, opts.timeout).await {
            Ok((candidates, warnings)) => {
                endpoints.extend(candidates);
                found.warnings.extend(warnings);
            }
            // The SCPs are what a domain-joined Outlook uses: report them even so.
            Err(e) if !endpoints.is_empty() => found
                .warnings
                .push(format!("{e}; the DNS candidates are left out")),
            Err(e) => return Err(e),
        }
    }
    for (n, e) in endpoints.iter_mut().enumerate() {
        e.order = n + 1;
    }
    found.endpoints = endpoints;
    Ok(found)
}

/// `certgpo discover`.
pub fn run(args: DiscoverArgs) -> Result<u8, Failure> {
    let opts = options_from_args(&args)?;
    let found = discover(&opts)?;
    for w in &found.warnings {
        eprintln!("warning: {w}");
    }
    if !args.fetch {
        if args.json {
            let text = output::json(&found).map_err(json_failure)?;
            println!("{text}");
        } else {
            print!("{}", crate::text::lines(&output::human(&found)));
        }
        return Ok(code::OK);
    }

    let pins = crate::fetch::parse_pins(&args.expect)?;
    let fetch_opts = crate::fetch::FetchOptions::from_args(&args.connect)?;
    let plan = fetched::plan(&found, args.connect.sni.as_deref())?;
    let results = fetched::fetch_all(plan, &fetch_opts)?;
    let now = time::OffsetDateTime::now_utc();
    if args.json {
        let mut report = Vec::new();
        crate::fetch::output::json(&mut report, &results, &pins, now)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        let mut value = serde_json::to_value(&found).map_err(json_failure)?;
        value["fetched"] = serde_json::from_slice(&report).map_err(json_failure)?;
        let text = serde_json::to_string_pretty(&value).map_err(json_failure)?;
        println!("{text}");
    } else {
        print!("{}", crate::text::lines(&output::human(&found)));
        println!("\nCertificates:");
        print!(
            "{}",
            crate::text::lines(&crate::fetch::output::text(&results, now))
        );
    }
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {e}");
    }
    let mismatches: Vec<crate::fetch::FetchError> = results
        .iter()
        .flatten()
        .filter(|c| !pins.is_empty() && !crate::fetch::pinned(c.leaf(), &pins))
        .map(|c| crate::fetch::FetchError::PinMismatch {
            target: c.target.input.clone(),
            sha1: c.leaf().thumbprint(),
            sha256: c.leaf().sha256_hex(),
        })
        .collect();
    if let Some((last, others)) = mismatches.split_last() {
        for e in others {
            eprintln!("error: {e}");
        }
        return Err(Failure::new(last.to_string())
            .code(code::PIN_MISMATCH)
            .hint("compare with `Get-ExchangeCertificate | fl Thumbprint` on each server; nothing was written"));
    }
    if let Some(dir) = &args.out {
        let captures: Vec<&crate::fetch::Capture> = results.iter().flatten().collect();
        let written = crate::fetch::output::write_chains(dir, &captures)?;
        eprintln!("wrote {written} files to {}", dir.display());
    }
    Ok(if results.iter().any(|r| r.is_err()) {
        code::DIFFERENT
    } else {
        code::OK
    })
}

fn json_failure(e: serde_json::Error) -> Failure {
    Failure::new(format!("cannot write JSON: {e}"))
}
