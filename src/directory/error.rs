//! What can go wrong while connecting to a directory, each naming the server or file
//! concerned, with what to do about it.

use std::path::PathBuf;

use super::PASSWORD_ENV;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("--ldap {url}: {detail}")]
    BadUrl {
        url: String,
        detail: String,
        /// The URL the user probably meant.
        suggestion: Option<String>,
    },
    #[error("--dns-server {server}: expected IP or IP:PORT")]
    BadDnsServer { server: String },
    #[error("--ldap-ca: {0}")]
    CaLoad(crate::cert::CertError),
    #[error("--ldap-ca {path}: {detail}")]
    CaFile { path: PathBuf, detail: String },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error(
        "no password for {user}: stdin is not a terminal and neither --password-file nor {PASSWORD_ENV} is set"
    )]
    NoPassword { user: String },
    #[error("the password for {user} is empty; an empty simple bind would be anonymous")]
    EmptyPassword { user: String },
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("TLS handshake with {url} failed: {detail}")]
    Tls {
        url: String,
        detail: String,
        remedy: TlsRemedy,
    },
    #[error(
        "{url}: the server closed the connection at the first LDAP request; is this a domain controller's LDAP port?"
    )]
    NotLdap { url: String },
    #[error("{url} refused StartTLS: {detail}; certgpo never binds in plaintext")]
    StartTls { url: String, detail: String },
    #[error("{url} refused the bind as {user}: {detail}")]
    BindRefused {
        url: String,
        user: String,
        detail: String,
    },
    #[error("{url} requires stronger authentication: {detail}")]
    StrongAuth { url: String, detail: String },
    #[error("{url} refused an anonymous search of {base}: {detail}")]
    AnonymousRefused {
        url: String,
        base: String,
        detail: String,
    },
    #[error("searching {url} under {base} failed: {detail}")]
    Search {
        url: String,
        base: String,
        detail: String,
    },
    #[error("--bind kerberos: this certgpo was built without the `kerberos` feature")]
    KerberosNotBuilt,
    #[error("Kerberos bind to {url} failed: {detail}")]
    Kerberos { url: String, detail: String },
    #[error("DNS: cannot set up the resolver: {detail}")]
    Resolver { detail: String },
    #[error("DNS lookup of {name} failed: {detail}")]
    Dns { name: String, detail: String },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(transparent)]
    TlsSetup(crate::tls::TlsError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// What to do about a failed TLS handshake with the domain controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRemedy {
    /// Its certificate's CA is not trusted: trust it.
    TrustCa,
    /// The URL names the DC otherwise than its certificate: the URL to use instead,
    /// when the certificate holds a name that can be one.
    Rename(Option<String>),
    /// The certificate holds no name a client can match: no URL will do.
    NoName,
    Other,
}

impl crate::Diagnostic for DirectoryError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            DirectoryError::Input(e) => return e.hint(),
            DirectoryError::Secret(e) => return e.hint(),
            DirectoryError::CaLoad(e) => return e.hint(),
            DirectoryError::BadUrl {
                suggestion: Some(url),
                ..
            } => return Some(format!("did you mean {url}?")),
            DirectoryError::Tls {
                remedy: TlsRemedy::TrustCa,
                ..
            } => Some(
                "export the CA that issued it (on a domain member: certutil -ca.cert ca.cer, or the root in \
the DC's certificate chain) and pass --ldap-ca ca.cer, or add it to the system trust store; \
--ldap-insecure skips the check",
            ),
            DirectoryError::Tls {
                remedy: TlsRemedy::Rename(Some(url)),
                ..
            } => {
                return Some(format!(
                    "use {url} (with --dns-server if it does not resolve here)"
                ));
            }
            DirectoryError::Tls {
                remedy: TlsRemedy::Rename(None),
                ..
            } => Some(
                "use an ldaps:// or ldap:// URL with a name the certificate holds; --ldap-insecure skips the check",
            ),
            DirectoryError::Tls {
                remedy: TlsRemedy::NoName,
                ..
            } => Some(
                "no URL can match it: give the DC a certificate with its DNS name in the subjectAltName \
(AD CS: the Kerberos Authentication template), or use --ldap-insecure",
            ),
            DirectoryError::Tls { .. } => Some(
                "--ldap-insecure skips certificate validation; check that the URL names the DC as its certificate does",
            ),
            DirectoryError::StartTls { .. } => Some("use ldaps://HOST (port 636)"),
            DirectoryError::TlsSetup(crate::tls::TlsError::NoSystemRoots { .. }) => Some(
                "pass --ldap-ca with the CA that issued the domain controller's certificate, or install \
the system's CA certificates (Debian and Ubuntu: ca-certificates)",
            ),
            DirectoryError::BindRefused { .. } => {
                Some("check --user (user@domain or a DN) and the password")
            }
            DirectoryError::StrongAuth { .. } => Some(
                "use ldaps:// or ldap:// (StartTLS), or --bind kerberos; the DC may also require LDAP channel binding",
            ),
            DirectoryError::AnonymousRefused { .. } => {
                Some("pass --user user@domain (and a password) or --bind kerberos")
            }
            DirectoryError::Kerberos { .. } => Some(
                "run kinit first; the URL must name the DC as its ldap/<host> service principal does; \
Samba accepts GSSAPI inside TLS only with 'ldap server require strong auth = allow_sasl_over_tls'",
            ),
            DirectoryError::KerberosNotBuilt => Some(
                "rebuild with --features kerberos (needs libkrb5-dev, libclang-dev), or bind with --user",
            ),
            DirectoryError::NotLdap { .. } => Some(
                "a domain controller answers LDAP on port 636 (ldaps://) and 389 (ldap://, StartTLS)",
            ),
            DirectoryError::Unreachable { .. } => {
                Some("check the host name, the port (636 for ldaps, 389 for ldap) and the firewall")
            }
            _ => None,
        };
        hint.map(Into::into)
    }
}
