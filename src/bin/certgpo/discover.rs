//! `certgpo discover`: the Autodiscover endpoints Outlook reaches, from AD and DNS.

use std::path::PathBuf;

use clap::Args;

use certgpo::autodiscover::{self, AuthMethod};
use certgpo::discover::{self, Request, fetched, output};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("fetch_or_email").args(["fetch", "email"]).multiple(true))]
#[command(after_help = "Examples:
  # Every Autodiscover SCP in the forest, in the order an Outlook in site Site-A tries them:
  certgpo discover --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --site Site-A

  # The same for a client at 10.1.2.3, its site found from the directory's subnets; the
  # listing also shows every Exchange virtual directory URL, per server:
  certgpo discover --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --client-ip 10.1.2.3

  # StartTLS on port 389 (certgpo never binds in plaintext), password from the environment,
  # plus the DNS candidates for contoso.com:
  CERTGPO_LDAP_PASSWORD=... certgpo discover --ldap ldap://dc1.contoso.com \\
      --user admin@contoso.com --site Site-A --domain contoso.com

  # The DNS candidates a non-domain-joined Outlook tries, asking a domain controller:
  certgpo discover --domain contoso.com --dns-server 10.0.0.10 --json

  # The DC's certificate comes from the domain's own CA: trust that CA for this run only:
  certgpo discover --ldap ldaps://dc1.contoso.com --ldap-ca contoso-root.cer \\
      --user admin@contoso.com

  # Kerberos with the current ticket (build with --features kerberos; run kinit first):
  certgpo discover --ldap ldaps://dc1.contoso.com --bind kerberos

  # Outlook's whole Autodiscover exchange for one mailbox (Kerberos with --features kerberos
  # and a ticket, else NTLM or Basic, password from CERTGPO_MAIL_PASSWORD): every hop, every host of the settings, each certificate and
  # whether Windows trusts it; the enterprise root the clients already trust:
  CERTGPO_MAIL_PASSWORD=... certgpo discover --ldap ldaps://dc1.contoso.com --bind kerberos \\
      --email ann@contoso.com --mail-user CONTOSO\\ann --client-roots contoso-root.cer --json > path.json

  # ...and the certificate each endpoint presents, saved for `certgpo build --cert`:
  certgpo discover --ldap ldaps://dc1.contoso.com --bind kerberos --domain contoso.com \\
      --fetch --out certs

Password sources, first found wins: --password-file, the CERTGPO_LDAP_PASSWORD environment
variable, a prompt on the terminal. It is never taken on the command line. The mailbox password
(--email) likewise: --mail-password-file, CERTGPO_MAIL_PASSWORD, a prompt.

With --email, credentials go only over TLS, only to hosts of the --email and --domain domains
(and --allow-domain), and only to a server whose certificate the clients trust (system store,
--client-roots), that is pinned (--expect) or accepted for this run (--accept-untrusted).")]
pub struct DiscoverArgs {
    /// The domain controller to search for Autodiscover SCP objects, and how to bind
    #[command(flatten)]
    pub ldap: crate::ldap::LdapArgs,

    /// Email/DNS domain: the DNS candidates are derived from it, and SCP pointers with Domain=<it> are followed
    #[arg(long, value_name = "FQDN")]
    pub domain: Option<String>,

    /// DNS server to ask instead of the system resolver, e.g. a domain controller; the --ldap host and the SCP hosts are resolved there too
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,

    /// Skip the DNS candidates even when --domain is given
    #[arg(long, requires = "domain")]
    pub no_dns: bool,

    /// The client's Active Directory site: its SCPs come first, as Outlook orders them
    #[arg(long, value_name = "NAME", requires = "ldap")]
    pub site: Option<String>,

    /// The client's IP address: its site is the one of the longest subnet prefix (CN=Subnets,CN=Sites) that contains it, as the DC's site locator finds it
    #[arg(long, value_name = "IP", requires = "ldap", conflicts_with = "site")]
    pub client_ip: Option<std::net::IpAddr>,

    /// Print the endpoints as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Also capture the certificate each endpoint presents (as `certgpo fetch` does), once per host and port
    #[arg(long)]
    pub fetch: bool,

    /// With --fetch: required fingerprint (SHA-1 thumbprint or SHA-256) of each server certificate; with --email: a certificate credentials may be sent to although the clients do not trust it; repeatable
    #[arg(long, value_name = "FINGERPRINT", requires = "fetch_or_email")]
    pub expect: Vec<String>,

    /// With --fetch: save each chain as PEM and DER into DIR
    #[arg(long, value_name = "DIR", requires = "fetch")]
    pub out: Option<PathBuf>,

    /// Run Outlook's Autodiscover exchange for this mailbox: POST to each endpoint in Outlook's order, follow the redirects, list every host of the settings with its certificate and the Windows verdict
    #[arg(long, value_name = "ADDRESS", conflicts_with = "fetch")]
    pub email: Option<String>,

    /// With --email: the account to authenticate as, DOMAIN\user or user@domain (default: the --email address)
    #[arg(long, value_name = "ACCOUNT", requires = "email")]
    pub mail_user: Option<String>,

    /// With --email: file whose first line is the mailbox password
    #[arg(long, value_name = "FILE", requires = "email")]
    pub mail_password_file: Option<PathBuf>,

    /// With --email: how to authenticate to the Autodiscover service
    #[arg(long, value_parser = crate::named::parser::<AuthMethod>(), default_value = "auto", requires = "email")]
    pub auth: AuthMethod,

    /// With --email: CA certificates (PEM, DER or PKCS#7) the Windows clients already trust, e.g. the enterprise root, on top of the system store
    #[arg(long, value_name = "FILE", requires = "email")]
    pub client_roots: Option<PathBuf>,

    /// With --email: send credentials even to servers whose certificate the clients would not trust, for this run
    #[arg(long, requires = "email")]
    pub accept_untrusted: bool,

    /// With --email: a domain whose hosts may also receive credentials (besides the --email and --domain domains); repeatable
    #[arg(long, value_name = "FQDN", requires = "email")]
    pub allow_domain: Vec<String>,

    /// --timeout also bounds each LDAP and DNS step; the other options apply to --fetch
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
}

pub fn run(args: DiscoverArgs) -> Result<u8, Failure> {
    let opts = discover::options(&Request {
        ldap: args.ldap.request(),
        domain: match (&args.domain, &args.email) {
            (None, Some(email)) => Some(autodiscover::email_domain(email)?),
            (domain, _) => domain.clone(),
        },
        dns_server: args.dns_server.clone(),
        no_dns: args.no_dns,
        site: args.site.clone(),
        client_ip: args.client_ip,
        timeout: args.connect.timeout,
    })?;
    for w in &opts.warnings {
        eprintln!("warning: {}", certgpo::text::printable(w));
    }
    // Read and checked before any connection: the password, --client-roots, the pins.
    let email = match &args.email {
        Some(address) => Some(email_options(&args, address, &opts)?),
        None => None,
    };
    let found = discover::discover(&opts)?;
    for w in &found.warnings {
        eprintln!("warning: {}", certgpo::text::printable(w));
    }
    if let Some(options) = &email {
        return email_path(&args, options, &found);
    }
    if !args.fetch {
        if args.json {
            crate::output::json(&found)?;
        } else {
            crate::output::text(|out| out.write_all(output::human(&found).as_bytes()))?;
        }
        return Ok(code::OK);
    }

    let pins = certgpo::fetch::parse_pins(&args.expect)?;
    let fetch_opts = args.connect.options()?;
    let plan = fetched::plan(&found, args.connect.sni.as_deref())?;
    let results = fetched::fetch_all(plan, &fetch_opts)?;
    let now = time::OffsetDateTime::now_utc();
    if args.json {
        let mut report = Vec::new();
        certgpo::fetch::output::json(&mut report, &results, &pins, now)
            .map_err(|e| Failure::new(format!("cannot write JSON: {e}")))?;
        let json_failure = |e: serde_json::Error| Failure::new(format!("cannot write JSON: {e}"));
        let mut value = serde_json::to_value(&found).map_err(json_failure)?;
        value["fetched"] = serde_json::from_slice(&report).map_err(json_failure)?;
        crate::output::json(&value)?;
    } else {
        crate::output::text(|out| {
            out.write_all(output::human(&found).as_bytes())?;
            out.write_all(b"\nCertificates:\n")?;
            out.write_all(certgpo::fetch::output::text(&results, now).as_bytes())
        })?;
    }
    crate::fetch::finish(&results, &pins, args.out.as_deref())
}

/// What `--email` needs, read from the command line and the files it names.
fn email_options(
    args: &DiscoverArgs,
    email: &str,
    opts: &discover::Options,
) -> Result<autodiscover::Options, Failure> {
    let email_domain = autodiscover::email_domain(email)?;
    let account = args.mail_user.clone().unwrap_or_else(|| email.to_string());
    // Kerberos takes the ticket of kinit: no password is asked for.
    let credentials = if args.auth == AuthMethod::Negotiate {
        if !autodiscover::kerberos::AVAILABLE {
            return Err(autodiscover::AutodiscoverError::NoKerberos.into());
        }
        None
    } else {
        autodiscover::password(args.mail_password_file.as_deref(), &account)?.map(|password| {
            autodiscover::Credentials {
                account: account.clone(),
                password,
            }
        })
    };
    let mut cas = Vec::new();
    if let Some(file) = &args.client_roots {
        let mut loaded = certgpo::cert::LoadReport::default();
        certgpo::cert::load_file(file, &mut loaded).map_err(|e| match e {
            certgpo::cert::CertError::Input(e) => Failure::from(e.given_as("--client-roots")),
            other => Failure::from(other),
        })?;
        cas.extend(loaded.certs.into_iter().map(|l| l.cert.der));
    }
    let mut domains = vec![email_domain.clone()];
    domains.extend(args.domain.iter().cloned());
    domains.extend(args.allow_domain.iter().cloned());
    let mut domains: Vec<String> = domains
        .into_iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    domains.sort();
    domains.dedup();
    let options = autodiscover::Options {
        email: email.to_string(),
        credentials,
        auth: args.auth,
        roots: autodiscover::Roots { system: true, cas },
        pins: certgpo::fetch::parse_pins(&args.expect)?,
        accept_untrusted: args.accept_untrusted,
        domains,
        dns_server: opts.dns_server,
        timeout: args.connect.timeout,
        fetch: args.connect.options()?,
    };
    Ok(options)
}

/// `discover --email`: the Autodiscover exchange from the candidates just found.
fn email_path(
    args: &DiscoverArgs,
    options: &autodiscover::Options,
    found: &discover::Discovery,
) -> Result<u8, Failure> {
    let email_domain = autodiscover::email_domain(&options.email)?;
    let start = autodiscover::candidates(found, &email_domain);
    let scps: Vec<_> = start
        .iter()
        .filter(|c| c.source == "scp")
        .cloned()
        .collect();
    let show = |hop: &autodiscover::Hop| {
        let to = hop
            .redirect
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        eprintln!(
            "hop {}: {} {} -> {}{}",
            hop.n,
            hop.method,
            certgpo::text::printable(&hop.url),
            certgpo::text::printable(&hop.result),
            certgpo::text::printable(&to)
        );
    };
    let (report, error) = autodiscover::path::run(options, start, &scps, &show);
    if args.json {
        let json_failure = |e: serde_json::Error| Failure::new(format!("cannot write JSON: {e}"));
        let mut value = serde_json::to_value(found).map_err(json_failure)?;
        value["autodiscover"] = serde_json::to_value(&report).map_err(json_failure)?;
        crate::output::json(&value)?;
    } else {
        crate::output::text(|out| {
            out.write_all(output::human(found).as_bytes())?;
            out.write_all(b"\n")?;
            out.write_all(autodiscover::output::human(&report).as_bytes())
        })?;
    }
    match error {
        Some(e) => Err(e.into()),
        None => Ok(code::OK),
    }
}
