//! Why the Autodiscover exchange stopped, each naming the URL or host concerned, with
//! what the admin can do about it.

use super::PASSWORD_ENV;

#[derive(Debug, thiserror::Error)]
pub enum AutodiscoverError {
    #[error("--email {0:?} is not an email address (user@domain)")]
    BadEmail(String),
    #[error("the mailbox password for {0} is empty")]
    EmptyPassword(String),
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error(
        "{host}: its certificate {thumbprint} is not trusted ({verdict}); certgpo sent it no credentials"
    )]
    Untrusted {
        host: String,
        thumbprint: String,
        verdict: String,
    },
    #[error("{url}: {host} is outside {domains}; certgpo sent it no credentials")]
    OtherDomain {
        url: String,
        host: String,
        domains: String,
    },
    #[error(
        "{from} redirects to {url}, which is not HTTPS; certgpo never sends credentials over plain HTTP"
    )]
    PlainHttp { from: String, url: String },
    #[error("redirect loop: {url} was already asked for {address}")]
    Loop { url: String, address: String },
    #[error("more than {max} redirects; Outlook gives up there too")]
    TooManyRedirects { max: usize },
    #[error("{url} refused the {method} credentials of {account} (HTTP {status})")]
    AuthRefused {
        url: String,
        method: &'static str,
        account: String,
        status: u16,
    },
    #[error("{url}: Kerberos under Negotiate failed: {detail}")]
    Kerberos { url: String, detail: String },
    #[error("--auth negotiate: {}", super::kerberos::WITHOUT)]
    NoKerberos,
    #[error("{url} asks for credentials (HTTP 401) and none were given")]
    NoCredentials { url: String },
    #[error("{url} offers no authentication certgpo speaks ({offered})")]
    NoScheme { url: String, offered: String },
    #[error("{url}: {detail}")]
    LegacyTls { url: String, detail: String },
    #[error("no Autodiscover endpoint answered for {address} ({tried} tried)")]
    NoAnswer { address: String, tried: usize },
    #[error(transparent)]
    Discover(#[from] crate::discover::DiscoverError),
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(transparent)]
    Cert(#[from] crate::cert::CertError),
}

impl crate::Diagnostic for AutodiscoverError {
    fn hint(&self) -> Option<String> {
        use AutodiscoverError as E;
        Some(match self {
            E::Discover(e) => return e.hint(),
            E::Input(e) => return e.hint(),
            E::Secret(e) => return e.hint(),
            E::Cert(e) => return e.hint(),
            E::Untrusted { thumbprint, .. } => format!(
                "this is the Security Alert Outlook shows. To go on for this run only: --expect {thumbprint} \
(after checking it with `Get-ExchangeCertificate | fl Thumbprint` on the server) or --accept-untrusted; \
to fix it for the clients: certgpo build --discover with this report"
            ),
            E::OtherDomain { host, .. } => format!(
                "if {host} is yours, allow its domain for this run: --allow-domain {}",
                host.split_once('.').map_or(host.as_str(), |(_, d)| d)
            ),
            E::PlainHttp { .. } => {
                "fix the Autodiscover configuration: redirect to an https:// URL".into()
            }
            E::Loop { .. } | E::TooManyRedirects { .. } => {
                "check the Autodiscover redirects of the servers on the path above (Get-ClientAccessServer, Get-OutlookProvider)".into()
            }
            E::AuthRefused { .. } => format!(
                "check --mail-user (DOMAIN\\user or user@domain) and the password ({PASSWORD_ENV}, --mail-password-file)"
            ),
            E::NoCredentials { .. } => format!(
                "give the mailbox's password: --mail-password-file FILE, {PASSWORD_ENV}, or the terminal prompt"
            ),
            E::Kerberos { url, .. } => format!(
                "run kinit as the mailbox's user (klist shows the ticket); the KDC must know the service principal HTTP/{} (setspn -S HTTP/<host> <account>); or --auth auto to fall back to NTLM",
                url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_else(|| "<host>".into())
            ),
            E::NoKerberos => {
                "rebuild with --features kerberos (needs libkrb5-dev, libclang-dev), or --auth auto/ntlm/basic".into()
            }
            E::NoScheme { .. } => {
                "certgpo speaks Basic (over TLS), NTLM and (with the `kerberos` feature) Kerberos under Negotiate; enable one of them on the Autodiscover virtual directory".into()
            }
            E::LegacyTls { .. } => {
                "build certgpo with the default `legacy-tls` feature (OpenSSL) to complete the exchange".into()
            }
            E::NoAnswer { .. } => {
                "check the list of attempts above: DNS names, ports and firewalls; give --ldap for the SCPs".into()
            }
            E::EmptyPassword(_) => format!(
                "put the password in --mail-password-file or {PASSWORD_ENV}; without either (and without a terminal) the exchange goes without credentials"
            ),
            E::BadEmail(_) => return None,
        })
    }
}
