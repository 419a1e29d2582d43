//! Command-line definitions (clap). Behaviour lives in the modules each command names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "certgpo",
    version,
    about = "Distribute certificates to Windows domain clients through Group Policy",
    long_about = "certgpo captures the certificate an Exchange (or any TLS) server presents, and turns \
certificates into a GPMC backup that Import-GPO accepts, plus registry.pol, .reg files, \
PowerShell scripts and audit reports. It runs on any OS and its output is reproducible.",
    after_help = "Examples:
  certgpo build --cert examples/exch2010-selfsigned.cer --domain contoso.local --out bundle
  certgpo fetch mail.contoso.com smtp://mail.contoso.com imap://mail.contoso.com
  certgpo build --fetch mail.contoso.com --expect <THUMBPRINT from Get-ExchangeCertificate> --out bundle
  certgpo diff ./CurrentGpoBackup ./bundle
  certgpo audit ./AllGpoBackups --fail-days 30 --output audit.html

Exit codes: 0 success; 1 differences found (diff), findings inside --fail-days (audit), or a target failed (fetch); 2 error, nothing written; 3 pin mismatch, nothing written."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a bundle (GPO backup, registry.pol, .reg, scripts, reports) from certificates
    Build(Box<BuildArgs>),
    /// List every certificate in certificate files, registry.pol, .reg, GPO backups, bundles or zips
    Inspect(InspectArgs),
    /// Compare the certificates of two inputs, store by store (exit 0 equal, 1 different, 2 error)
    Diff(DiffArgs),
    /// Inventory certificates across GPO backups and files; exit 1 when any falls inside --fail-days
    Audit(AuditArgs),
    /// Capture the certificate chain a server presents (TLS 1.0 to 1.3, STARTTLS too)
    Fetch(FetchArgs),
    /// List every Autodiscover endpoint Outlook will reach, from Active Directory (SCP) and DNS
    Discover(DiscoverArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # The Exchange 2010 self-signed certificate, trusted for Server Authentication only:
  certgpo build --cert examples/exch2010-selfsigned.cer --purpose server-auth --out bundle

  # A folder of roots and intermediates, as a zip for the change ticket:
  certgpo build --cert ./pki/ --domain corp.example.com --gpo-name 'Corporate PKI' --out bundle --zip bundle.zip

  # Reproduce GPMC byte for byte, including the empty keys of every other store:
  certgpo build --cert roots.p7b --domain corp.example.com --all-stores --allow-expired --out bundle

  # Straight from the Exchange 2010 server, pinned to the thumbprint Get-ExchangeCertificate shows:
  certgpo build --fetch mail.contoso.com --expect 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' --out bundle

  # Later runs compare with certgpo.lock; after a planned certificate renewal:
  certgpo build --fetch mail.contoso.com --expect <new thumbprint> --update-pins --out bundle --force

  # Every Autodiscover endpoint Outlook reaches (see certgpo discover --help), each pinned:
  certgpo discover --ldap ldaps://dc1.contoso.com --user admin@contoso.com --json > discovery.json
  certgpo build --discover discovery.json --expect <thumbprint> --expect <thumbprint> --out bundle

  # Update the GPO exported with Backup-GPO: add a root, remove an old one, keep the rest:
  certgpo build --base ./Backups/{D1DE50B0-...} --cert new-root.cer --remove 8C941B34EA1EA6ED9AE2BC54CF687252B4C9B561 --out bundle")]
#[command(group = clap::ArgGroup::new("remote").multiple(true))]
pub struct BuildArgs {
    /// Certificate file (PEM, DER .cer/.crt, PKCS#7 .p7b/.p7c) or a directory of them; repeatable
    #[arg(long = "cert", value_name = "PATH", required_unless_present_any = ["fetch", "discover", "base"])]
    pub certs: Vec<PathBuf>,

    /// Fetch the certificate to trust from this server (any `certgpo fetch` TARGET); repeatable. Needs a pin: --expect, a confirmation on a terminal, or --trust-on-first-use
    #[arg(long = "fetch", value_name = "TARGET", group = "remote")]
    pub fetch: Vec<String>,

    /// Fetch the certificate of every endpoint listed in FILE, the output of `certgpo discover --json`, under the same pins as --fetch
    #[arg(long, value_name = "FILE", group = "remote")]
    pub discover: Option<PathBuf>,

    /// Fingerprint (SHA-1 thumbprint or SHA-256) the fetched certificate must have: the trusted root, or the server certificate when the chain links to that root; repeatable
    #[arg(long, value_name = "FINGERPRINT", requires = "remote")]
    pub expect: Vec<String>,

    /// Trust fetched certificates that have no pin yet, without asking (records them in the lock file)
    #[arg(long, requires = "remote")]
    pub trust_on_first_use: bool,

    /// Lock file of pinned certificates (default: certgpo.lock beside --out)
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub lock: Option<PathBuf>,

    /// Accept (and re-pin) a certificate that differs from the lock file; it still needs --expect, a confirmation or --trust-on-first-use
    #[arg(long, requires = "remote")]
    pub update_pins: bool,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Output directory (written atomically; must be absent or empty unless --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Target store: auto puts self-signed certificates in Root and other CA certificates in CA
    #[arg(long, value_enum, default_value = "auto")]
    pub store: crate::store::StoreChoice,

    /// Display name of the GPO
    #[arg(long, value_name = "NAME", default_value = crate::bundle::DEFAULT_GPO_NAME)]
    pub gpo_name: String,

    /// AD DNS domain written into the backup; derived from a certificate's FQDN when unambiguous
    #[arg(long, value_name = "FQDN")]
    pub domain: Option<String>,

    /// gpmc: the properties GPMC writes (byte-identical with GPMC); minimal: the certificate alone
    #[arg(long, value_enum, default_value = "gpmc")]
    pub blob: crate::blob::BlobStyle,

    /// Friendly name shown in the certificate console (property 0x0B)
    #[arg(long, value_name = "TEXT")]
    pub friendly_name: Option<String>,

    /// Trust the certificates only for these purposes (property 0x09): server-auth, client-auth, code-signing, email, time-stamping, or an OID
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub purpose: Vec<String>,

    /// Also write the empty Certificates/CRLs/CTLs keys of every other store, as GPMC does
    #[arg(long)]
    pub all_stores: bool,

    /// Accept expired certificates
    #[arg(long)]
    pub allow_expired: bool,

    /// Also write the bundle as a deterministic zip file
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,

    /// Replace a non-empty --out directory
    #[arg(long)]
    pub force: bool,

    /// Print a machine-readable summary on stdout
    #[arg(long)]
    pub json: bool,

    /// Time written into the backup (RFC 3339 or Unix seconds); default SOURCE_DATE_EPOCH, else derived from the certificates
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,

    /// Directory whose templates override the built-in ones (same file names as templates/)
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Start from an existing GPO backup (or bundle, or zip of one): keep its GPO name and
    /// GUID and every other registry.pol setting, add --cert, apply --remove, raise the version
    #[arg(long, value_name = "BACKUP-OR-BUNDLE")]
    pub base: Option<PathBuf>,

    /// With --base: take this certificate (SHA-1 thumbprint) out of the base; repeatable
    #[arg(long, value_name = "THUMBPRINT", requires = "base")]
    pub remove: Vec<String>,

    /// With --base: take the base's expired certificates out
    #[arg(long, requires = "base")]
    pub drop_expired: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # What does this GPO backup push, and would Windows accept it?
  certgpo inspect ./Backups/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}

  # A whole Backup-GPO -All folder, as CSV for a spreadsheet:
  certgpo inspect ./Backups --csv > inventory.csv

  # Every registry.pol instruction, control codes (**del., **delvals.) explained:
  certgpo inspect registry.pol --settings

  # Take the certificates out of a bundle zip as <THUMB>.cer files:
  certgpo inspect bundle.zip --extract ./certs

Inputs: certificate files (PEM, DER, PKCS#7), registry.pol, .reg, Blob files, gpreport.xml,
a GPMC backup folder, a folder of backups (with or without manifest.xml), a certgpo bundle
folder, or a zip of any of these. Exit code 0 when every input was read, 2 otherwise.")]
pub struct InspectArgs {
    /// Files, folders or zips to read
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Print JSON (certificates, container findings, backups, files)
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// Print one CSV row per certificate entry
    #[arg(long)]
    pub csv: bool,

    /// Also list every registry.pol and .reg instruction, with control codes interpreted
    #[arg(long)]
    pub settings: bool,

    /// Write each certificate found as DIR/<THUMBPRINT>.cer (DER)
    #[arg(long, value_name = "DIR")]
    pub extract: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # What will importing the new bundle change on the GPO exported with Backup-GPO?
  certgpo diff ./CurrentGpoBackup ./bundle

  # Gate a pipeline: fail when the bundle no longer matches what is deployed
  certgpo diff deployed.zip bundle.zip --json > change.json || echo \"review the change\"

OLD and NEW are any inputs `certgpo inspect` reads. Exit code 0 when equal, 1 when
different, 2 on error.")]
pub struct DiffArgs {
    /// The current state (backup, bundle, registry.pol, .reg, certificate files, zip)
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The proposed state
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// A line per certificate entry, for a terminal
    Text,
    Json,
    Csv,
    /// One self-contained page: sortable table and expiry timeline
    Html,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Nightly: every GPO backup of the domain, alarm 30 days before anything expires
  certgpo audit ./AllGpoBackups --warn-days 90 --fail-days 30 --output audit.html

  # For a spreadsheet
  certgpo audit ./AllGpoBackups bundle.zip --format csv > inventory.csv

PATHs are anything `certgpo inspect` reads (a Backup-GPO -All folder, bundles, zips,
registry.pol, .reg, certificate files). The format follows --output's extension unless
--format is given. Exit code 1 when a certificate entry has expired or expires within
--fail-days, 2 on error, 0 otherwise.")]
pub struct AuditArgs {
    /// GPO backups, folders of backups, bundles, zips or files
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Flag certificates expiring within this many days
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub warn_days: i64,

    /// Exit 1 when a certificate has expired or expires within this many days
    #[arg(long, value_name = "N")]
    pub fail_days: Option<i64>,

    /// Output format (default: from --output's extension, else text)
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,

    /// Write the report to FILE (atomically) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How `fetch` and `build --fetch` connect to servers.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Server name to send (SNI) instead of the target's host name; also lets an IP target present a name
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,

    /// Deadline for each target as a whole: connect, STARTTLS, TLS 1.0-1.2 and the TLS 1.3 retry (e.g. 5s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::fetch::parse_duration)]
    pub timeout: std::time::Duration,

    /// Deadline for each TCP connection attempt (per resolved address)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::fetch::parse_duration)]
    pub connect_timeout: std::time::Duration,

    /// Targets fetched at the same time
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,

    /// Connect through this HTTP CONNECT proxy (http://host:port); HTTPS_PROXY and friends are never used
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "TARGET forms: host, host:port, [IPv6]:port, https://host[:port][/path] (443),
smtp://host (STARTTLS, 25), submission://host (STARTTLS, 587), smtps://host (465),
imap://host (STARTTLS, 143), imaps://host (993), pop3://host (STLS, 110), pop3s://host (995).

Examples:
  # Which certificate does the Exchange 2010 CAS present (TLS 1.0-only servers work)?
  certgpo fetch mail.contoso.com

  # Every Exchange service, saved as PEM and DER:
  certgpo fetch mail.contoso.com smtp://mail.contoso.com submission://mail.contoso.com imap://mail.contoso.com --out certs

  # Refuse anything but the certificate Get-ExchangeCertificate shows on the server:
  certgpo fetch mail.contoso.com --expect 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' --out certs

  # An IP address, presenting a name; machine-readable output:
  certgpo fetch 10.0.0.5 --sni mail.contoso.com --json

  # Many servers from a file (one target per line, # comments):
  certgpo fetch --targets-file cas-servers.txt --concurrency 32 --json

Exit codes: 0 every target answered; 1 at least one target failed (the others are still
reported); 2 bad usage or a write error; 3 a certificate did not match --expect (nothing written)."
)]
pub struct FetchArgs {
    /// Servers to fetch from (see TARGET forms below)
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read more targets from FILE, one per line; blank lines and # comments are skipped
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,

    /// Save each chain as PEM and DER into DIR (created if needed)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,

    /// Required fingerprint of the server certificate (SHA-1 thumbprint or SHA-256; colons, spaces and case ignored); repeatable, each target must match one
    #[arg(long, value_name = "FINGERPRINT")]
    pub expect: Vec<String>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  # Every Autodiscover SCP in the forest, in the order an Outlook in site Site-A tries them:
  certgpo discover --ldap ldaps://dc1.contoso.com --user admin@contoso.com \\
      --password-file pw.txt --site Site-A

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
    /// Domain controller to search for Autodiscover SCP objects: ldaps://HOST[:PORT] or ldap://HOST[:PORT] (StartTLS)
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
    #[arg(long, value_enum, default_value = "simple")]
    pub bind: crate::discover::BindMethod,

    /// Account for a simple bind, as user@domain (UPN) or a DN; without it the search is anonymous
    #[arg(long, value_name = "UPN", requires = "ldap")]
    pub user: Option<String>,

    /// File whose first line is the bind password
    #[arg(long, value_name = "FILE", requires = "user")]
    pub password_file: Option<PathBuf>,

    /// Email/DNS domain: the DNS candidates are derived from it, and SCP pointers with Domain=<it> are followed
    #[arg(long, value_name = "FQDN")]
    pub domain: Option<String>,

    /// DNS server to ask instead of the system resolver, e.g. a domain controller; SCP hosts are resolved there too
    #[arg(long, value_name = "IP[:PORT]")]
    pub dns_server: Option<String>,

    /// Skip the DNS candidates even when --domain is given
    #[arg(long, requires = "domain")]
    pub no_dns: bool,

    /// The client's Active Directory site: its SCPs come first, as Outlook orders them
    #[arg(long, value_name = "NAME", requires = "ldap")]
    pub site: Option<String>,

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
    pub connect: ConnectArgs,
}
