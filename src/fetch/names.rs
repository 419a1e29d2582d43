//! Findings that depend on how the certificate was reached: self-signed, the name the
//! client used not covered by the certificate (RFC 6125), and the Autodiscover name
//! missing for an Exchange host.

use std::fmt;
use std::net::IpAddr;

use crate::cert::Certificate;
use crate::finding::codes;

use super::target::{Host, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFinding {
    SelfSigned,
    NameMismatch { name: String },
    MissingAutodiscover { name: String },
}

codes! {
    /// The codes of [`FetchFinding`] (README.md, "Finding codes").
    pub enum FetchCode for FetchFinding {
        FetchFinding::SelfSigned => SelfSigned = "self-signed" => Warn,
        FetchFinding::NameMismatch { .. } => NameMismatch = "name-mismatch" => Bad,
        FetchFinding::MissingAutodiscover { .. } => MissingAutodiscover = "missing-autodiscover" => Warn,
    }
}

impl fmt::Display for FetchFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchFinding::SelfSigned => write!(
                f,
                "self-signed: clients trust it only once this exact certificate is in their Trusted Root store"
            ),
            FetchFinding::NameMismatch { name } => write!(
                f,
                "the certificate does not cover {name} (RFC 6125): clients will show a name-mismatch \
                 warning, and trusting the root will NOT cure that; connect by a name in the \
                 certificate or reissue it with {name}"
            ),
            FetchFinding::MissingAutodiscover { name } => write!(
                f,
                "{name} is not in the subject alternative names: Outlook's Autodiscover lookup of \
                 {name} will show a certificate warning"
            ),
        }
    }
}

/// The findings for a leaf reached as `target` with `sni` (the name sent, if any).
pub fn findings(leaf: &Certificate, target: &Target, sni: Option<&str>) -> Vec<FetchFinding> {
    let mut out = Vec::new();
    if leaf.self_signed {
        out.push(FetchFinding::SelfSigned);
    }
    let uncovered = match (sni, &target.host) {
        (Some(name), _) => (!covers(leaf, name)).then(|| name.to_string()),
        (None, Host::Ip(ip)) => (!covers_ip(leaf, *ip)).then(|| ip.to_string()),
        (None, Host::Name(name)) => (!covers(leaf, name)).then(|| name.clone()),
    };
    if let Some(name) = uncovered {
        out.push(FetchFinding::NameMismatch { name });
    }
    // Autodiscover matters for the HTTPS endpoints Outlook uses, reached by a name like
    // mail.contoso.com: Outlook will also ask autodiscover.contoso.com.
    if target.scheme == "https"
        && let Some(name) = sni.or(target.dns_name())
        && let Some((first, domain)) = name.split_once('.')
        && domain.contains('.')
        && !first.eq_ignore_ascii_case("autodiscover")
    {
        let auto = format!("autodiscover.{domain}");
        if !covers(leaf, &auto) {
            out.push(FetchFinding::MissingAutodiscover { name: auto });
        }
    }
    out
}

/// RFC 6125 §6.4: the DNS SANs when there are any, else the subject CN; a wildcard
/// only as the whole left-most label and never directly above a top-level label.
pub fn covers(cert: &Certificate, name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if cert.dns_names.is_empty() && cert.ip_addresses.is_empty() {
        return matches_pattern(&cert.subject_display, &name);
    }
    cert.dns_names.iter().any(|p| matches_pattern(p, &name))
}

fn covers_ip(cert: &Certificate, ip: IpAddr) -> bool {
    cert.ip_addresses
        .iter()
        .any(|a| a.parse::<IpAddr>().is_ok_and(|a| a == ip))
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(base) => {
            base.contains('.')
                && name
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == base)
        }
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches_pattern("*.contoso.com", "mail.contoso.com"));
        assert!(matches_pattern("*.Contoso.com.", "mail.contoso.com"));
        assert!(!matches_pattern("*.contoso.com", "contoso.com"));
        assert!(!matches_pattern("*.contoso.com", "a.mail.contoso.com"));
        assert!(!matches_pattern("*.com", "contoso.com"));
        assert!(!matches_pattern("m*.contoso.com", "mail.contoso.com"));
        assert!(matches_pattern("mail.contoso.com", "mail.contoso.com"));
    }
}
