//! What Windows would say about the certificate a host presents, and whether
//! distributing a root certificate (what certgpo builds) would fix it: an unknown root
//! is fixable, a name the certificate does not cover or an expired certificate is not.

use serde::Serialize;

use crate::cert::Certificate;

/// The roots the clients trust: the system store (as a stand-in for Windows') and the
/// CA certificates given with `--client-roots` (an enterprise root already deployed).
#[derive(Clone, Debug, Default)]
pub struct Roots {
    pub system: bool,
    pub cas: Vec<Vec<u8>>,
}

/// One reason a client would warn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// The chain ends in a root the clients do not trust: distributing `distribute`
    /// (when the server sent it) fixes this.
    UntrustedRoot {
        /// SHA-1 thumbprint and subject of the certificate to distribute, when the
        /// server presented it (a self-signed leaf or root).
        distribute: Option<Distribute>,
        /// The issuer the chain stops at, when the server did not send its root.
        missing_root: Option<String>,
    },
    /// The certificate does not cover the name the client connects to.
    NameNotCovered { name: String },
    /// The certificate is outside its validity period.
    Expired { not_after: String },
    /// Anything else the verifier refuses (a bad signature, a wrong key usage).
    Other { detail: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Distribute {
    pub thumbprint: String,
    pub subject: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub trusted: bool,
    /// Trusting a root would make it trusted: the only problem is the root.
    pub fixable_by_trust: bool,
    pub problems: Vec<Problem>,
}

impl Verdict {
    /// One line for the human report.
    pub fn summary(&self) -> String {
        if self.trusted {
            return "trusted".into();
        }
        let parts: Vec<String> = self.problems.iter().map(describe).collect();
        let tail = if self.fixable_by_trust {
            "fixable by distributing the root"
        } else {
            "NOT fixable by trust alone"
        };
        format!("{}; {tail}", parts.join("; "))
    }
}

fn describe(p: &Problem) -> String {
    match p {
        Problem::UntrustedRoot {
            distribute: Some(d),
            ..
        } => format!(
            "untrusted root: distribute {} ({})",
            d.thumbprint,
            crate::text::printable(&d.subject)
        ),
        Problem::UntrustedRoot {
            missing_root: Some(issuer),
            ..
        } => format!(
            "untrusted root: distribute the root of {} (the server does not send it)",
            crate::text::printable(issuer)
        ),
        Problem::UntrustedRoot { .. } => "untrusted root".into(),
        Problem::NameNotCovered { name } => format!(
            "the certificate does not cover {name}: a name mismatch, which trusting a root does not fix"
        ),
        Problem::Expired { not_after } => format!("expired (not after {not_after})"),
        Problem::Other { detail } => crate::text::printable(detail),
    }
}

/// Judge `chain` (leaf first, as presented) for a client connecting to `name`.
pub fn judge(chain: &[Certificate], name: &str, roots: &Roots) -> Verdict {
    let Some(leaf) = chain.first() else {
        return Verdict {
            trusted: false,
            fixable_by_trust: false,
            problems: vec![Problem::Other {
                detail: "no certificate".into(),
            }],
        };
    };
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    // A self-signed leaf (Exchange's own certificate) is its own root: Windows trusts
    // it once it is in the Trusted Root store, whatever its basic constraints say,
    // where webpki would refuse a CA certificate as a server's.
    let checked = if leaf.self_signed {
        if roots.cas.contains(&leaf.der) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    } else {
        crate::tls::verify_chain(&ders, name, &roots.cas, roots.system)
    };
    let mut problems = Vec::new();
    let now = time::OffsetDateTime::now_utc();
    let expired = chain
        .iter()
        .find(|c| now > c.not_after || now < c.not_before);
    if let Some(c) = expired {
        problems.push(Problem::Expired {
            not_after: c
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
    }
    let is_ip = name.parse::<std::net::IpAddr>().is_ok();
    if !is_ip && !crate::fetch::names::covers(leaf, name) {
        problems.push(Problem::NameNotCovered {
            name: name.to_string(),
        });
    }
    use rustls::CertificateError as C;
    match checked {
        Ok(()) => {}
        Err(rustls::Error::InvalidCertificate(C::UnknownIssuer)) => {
            let last = chain.last().unwrap_or(leaf);
            problems.insert(
                0,
                if last.self_signed {
                    Problem::UntrustedRoot {
                        distribute: Some(Distribute {
                            thumbprint: last.thumbprint(),
                            subject: last.subject_display.clone(),
                        }),
                        missing_root: None,
                    }
                } else {
                    Problem::UntrustedRoot {
                        distribute: None,
                        missing_root: Some(last.issuer_display.clone()),
                    }
                },
            );
        }
        // Already said, from the certificates themselves.
        Err(rustls::Error::InvalidCertificate(
            C::Expired | C::NotValidYet | C::ExpiredContext { .. } | C::NotValidYetContext { .. },
        )) if !problems.is_empty() => {}
        Err(rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        )) if problems
            .iter()
            .any(|p| matches!(p, Problem::NameNotCovered { .. })) => {}
        Err(e) => problems.push(Problem::Other {
            detail: e.to_string(),
        }),
    }
    let trusted = problems.is_empty();
    let fixable_by_trust = !trusted
        && problems
            .iter()
            .all(|p| matches!(p, Problem::UntrustedRoot { .. }));
    Verdict {
        trusted,
        fixable_by_trust,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    fn cert(der: &[u8]) -> Certificate {
        Certificate::from_der(der.to_vec()).unwrap()
    }

    struct Pki {
        root: Certificate,
        leaf: Certificate,
        expired: Certificate,
        own: Certificate,
    }

    fn pki() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Contoso Root CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca, &ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["mail.contoso.test".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let mut old = CertificateParams::new(vec!["mail.contoso.test".to_string()]).unwrap();
        old.not_before = rcgen::date_time_ymd(2010, 1, 1);
        old.not_after = rcgen::date_time_ymd(2012, 1, 1);
        let expired = old.signed_by(&leaf_key, &issuer).unwrap();
        let own = CertificateParams::new(vec!["ex2010.contoso.test".to_string()])
            .unwrap()
            .self_signed(&leaf_key)
            .unwrap();
        Pki {
            root: cert(root.der()),
            leaf: cert(leaf.der()),
            expired: cert(expired.der()),
            own: cert(own.der()),
        }
    }

    fn roots(cas: &[&Certificate]) -> Roots {
        Roots {
            system: false,
            cas: cas.iter().map(|c| c.der.clone()).collect(),
        }
    }

    #[test]
    fn trusted_untrusted_root_name_and_expiry() {
        let p = pki();
        let chain = [p.leaf.clone()];
        let trusted = roots(&[&p.root]);
        assert!(judge(&chain, "mail.contoso.test", &trusted).trusted);

        // The root is not trusted and the server does not send it: name the issuer.
        let v = judge(&chain, "mail.contoso.test", &roots(&[]));
        assert!(!v.trusted && v.fixable_by_trust);
        assert_eq!(
            v.problems,
            [Problem::UntrustedRoot {
                distribute: None,
                missing_root: Some("Contoso Root CA".into())
            }]
        );
        // Sent along: that is the certificate to distribute.
        let v = judge(
            &[p.leaf.clone(), p.root.clone()],
            "mail.contoso.test",
            &roots(&[]),
        );
        assert!(
            v.summary().contains(&p.root.thumbprint()),
            "{}",
            v.summary()
        );

        // Another name: trust cannot fix it.
        let v = judge(&chain, "webmail.contoso.test", &trusted);
        assert!(!v.trusted && !v.fixable_by_trust);
        assert!(v.summary().contains("does not cover webmail.contoso.test"));

        let v = judge(
            std::slice::from_ref(&p.expired),
            "mail.contoso.test",
            &trusted,
        );
        assert!(!v.fixable_by_trust);
        assert!(matches!(v.problems[..], [Problem::Expired { .. }]), "{v:?}");
    }

    #[test]
    fn a_self_signed_certificate_is_its_own_root() {
        let p = pki();
        let chain = [p.own.clone()];
        let v = judge(&chain, "ex2010.contoso.test", &roots(&[]));
        assert!(v.fixable_by_trust);
        assert_eq!(
            v.summary(),
            format!(
                "untrusted root: distribute {} (rcgen self signed cert); fixable by distributing the root",
                p.own.thumbprint()
            )
        );
        assert!(judge(&chain, "ex2010.contoso.test", &roots(&[&p.own])).trusted);
    }
}
