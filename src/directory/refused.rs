//! A domain controller certificate that rustls refused, in words that name it. The
//! recording verifier of [`crate::tls`] kept the chain the server presented, so the
//! message can say which certificate, which CA and which names, where rustls only
//! says why.

use rustls::CertificateError as C;

use crate::cert::Certificate;

use super::{DirectoryError, TlsRemedy, TlsTrust};

/// The error for `problem` with the chain the server presented (leaf first).
pub fn refusal(url: &str, problem: &C, chain: &[Vec<u8>], trust: &TlsTrust) -> DirectoryError {
    let parse = |der: Option<&Vec<u8>>| der.and_then(|d| Certificate::from_der(d.clone()).ok());
    let leaf = parse(chain.first());
    let (detail, remedy) = match (problem, &leaf) {
        (C::UnknownIssuer, Some(leaf)) => (
            untrusted(leaf, parse(chain.last()).as_ref(), trust),
            TlsRemedy::TrustCa,
        ),
        (C::NotValidForName | C::NotValidForNameContext { .. }, Some(leaf)) => mismatch(url, leaf),
        (C::Expired | C::ExpiredContext { .. }, Some(leaf)) => (
            format!(
                "its certificate {} expired on {}",
                leaf.subject,
                leaf.not_after.date()
            ),
            TlsRemedy::Other,
        ),
        (C::NotValidYet | C::NotValidYetContext { .. }, Some(leaf)) => (
            format!(
                "its certificate {} is valid only from {}",
                leaf.subject,
                leaf.not_before.date()
            ),
            TlsRemedy::Other,
        ),
        (other, leaf) => {
            // rustls shows an error of its verifier (webpki) as `Other(OtherError(..))`.
            let why = match other {
                C::Other(inner) => inner.to_string(),
                other => other.to_string(),
            };
            let which = leaf
                .as_ref()
                .map_or_else(String::new, |l| format!(" {}", l.subject));
            (
                format!("its certificate{which} was refused: {why}"),
                TlsRemedy::Other,
            )
        }
    };
    DirectoryError::Tls {
        url: url.into(),
        detail,
        remedy,
    }
}

/// No path from `leaf` to a trusted CA: name the CA the presented chain ends at.
fn untrusted(leaf: &Certificate, top: Option<&Certificate>, trust: &TlsTrust) -> String {
    let not_trusted = match trust {
        TlsTrust::Cas { file, .. } => format!("not in --ldap-ca {}", file.display()),
        TlsTrust::System | TlsTrust::Insecure => "not trusted here".into(),
    };
    let subject = &leaf.subject;
    match top {
        _ if leaf.self_signed => {
            format!("its certificate {subject} is self-signed, and {not_trusted}")
        }
        // The server sent CA certificates too: the last one's issuer, or itself when it
        // is the root, is the CA that would have to be trusted.
        Some(top) if top.der != leaf.der => {
            let ca = if top.self_signed {
                &top.subject
            } else {
                &top.issuer
            };
            format!("its certificate {subject} chains up to {ca}, a CA {not_trusted}")
        }
        _ => format!(
            "its certificate {subject} was issued by {}, a CA {not_trusted}",
            leaf.issuer
        ),
    }
}

/// The URL names the DC otherwise than its certificate does.
fn mismatch(url: &str, leaf: &Certificate) -> (String, TlsRemedy) {
    let parsed = url::Url::parse(url).ok();
    let expected = parsed
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or(url)
        .trim_matches(['[', ']'])
        .to_string();
    let names: Vec<String> = leaf
        .dns_names
        .iter()
        .chain(&leaf.ip_addresses)
        .cloned()
        .collect();
    let detail = match names.as_slice() {
        // webpki matches the subjectAltName only, never the CN (RFC 9525 dropped CN-IDs).
        [] => {
            return (
                format!(
                    "the certificate names no host (its subjectAltName holds no DNS name or IP address), so it cannot be valid for {expected}"
                ),
                TlsRemedy::NoName,
            );
        }
        [one] => format!("the certificate names {one}, not {expected}"),
        [rest @ .., last] => format!(
            "the certificate names {} and {last}, not {expected}",
            rest.join(", ")
        ),
    };
    // A wildcard name is no URL to suggest.
    let suggestion = parsed.and_then(|u| {
        let name = leaf.dns_names.iter().find(|n| !n.contains('*'))?;
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        Some(format!("{}://{name}{port}", u.scheme()))
    });
    (detail, TlsRemedy::Rename(suggestion))
}
