//! `certgpo discover`: the Autodiscover endpoints Outlook reaches, from AD and DNS.

use std::path::PathBuf;

use clap::Args;

use certgpo::discover::{self, Request, fetched, output};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
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

  # ...and the certificate each endpoint presents, saved for `certgpo build --cert`:
  certgpo discover --ldap ldaps://dc1.contoso.com --bind kerberos --domain contoso.com \\
      --fetch --out certs

Password sources, first found wins: --password-file, the CERTGPO_LDAP_PASSWORD environment
variable, a prompt on the terminal. It is never taken on the command line.")]
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

    /// With --fetch: required fingerprint (SHA-1 thumbprint or SHA-256) of each server certificate; repeatable
    #[arg(long, value_name = "FINGERPRINT", requires = "fetch")]
    pub expect: Vec<String>,

    /// With --fetch: save each chain as PEM and DER into DIR
    #[arg(long, value_name = "DIR", requires = "fetch")]
    pub out: Option<PathBuf>,

    /// --timeout also bounds each LDAP and DNS step; the other options apply to --fetch
    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
}

pub fn run(args: DiscoverArgs) -> Result<u8, Failure> {
    let opts = discover::options(&Request {
        ldap: args.ldap.request(),
        domain: args.domain.clone(),
        dns_server: args.dns_server.clone(),
        no_dns: args.no_dns,
        site: args.site.clone(),
        client_ip: args.client_ip,
        timeout: args.connect.timeout,
    })?;
    for w in &opts.warnings {
        eprintln!("warning: {}", certgpo::text::printable(w));
    }
    let found = discover::discover(&opts)?;
    for w in &found.warnings {
        eprintln!("warning: {}", certgpo::text::printable(w));
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
