//! The forest-wide channel: root certificates in `CN=Certification Authorities,CN=Public
//! Key Services,CN=Services` of the configuration partition, where `certutil -dspublish
//! -f FILE RootCA` puts them and every machine of the forest copies them into its
//! enterprise Root store (docs/spec/live-domain.md, the forest-wide channel).
//!
//! One `certificationAuthority` object per CA name (the certificate's subject CN, made
//! safe for a DN), the certificate in its multi-valued `cACertificate`. The class also
//! requires `authorityRevocationList` and `certificateRevocationList`; a new object gets
//! a single zero byte in each, as a placeholder (UNCONFIRMED that it is byte for byte
//! what certutil writes; clients read only `cACertificate`). A certificate whose object
//! holds others is added to or taken from that object's values; an object left with
//! none is deleted.

use std::collections::HashSet;
use std::fmt::Write as _;

use ldap3::{Mod, Scope};
use serde::Serialize;
use sha1::{Digest, Sha1};

use super::PublishError;
use super::ad::{self, WriteError};
use crate::cert::Certificate;
use crate::directory::Connection;
use crate::text::printable;

/// Where the roots live, under the configuration partition.
pub const CONTAINER: &str = "CN=Certification Authorities,CN=Public Key Services,CN=Services";

/// One root the plan adds or takes out.
#[derive(Debug, Clone, Serialize)]
pub struct ForestChange {
    pub dn: String,
    pub thumbprint: String,
    pub subject: Option<String>,
    /// Adding: the object is new. Removing: the object goes (it holds nothing else).
    pub whole_object: bool,
    #[serde(skip)]
    der: Vec<u8>,
}

/// What `--forest-roots` changes.
#[derive(Debug, Clone, Serialize)]
pub struct ForestPlan {
    pub container: String,
    pub added: Vec<ForestChange>,
    pub removed: Vec<ForestChange>,
    /// Thumbprints of the given roots that are published already.
    pub already: Vec<String>,
}

impl ForestPlan {
    pub fn changes_anything(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// The objects of the container: (DN, cn, certificates).
async fn published(
    conn: &mut Connection,
    container: &str,
) -> Result<Vec<(String, String, Vec<Vec<u8>>)>, PublishError> {
    let found = conn
        .search(
            container,
            Scope::OneLevel,
            "(objectClass=certificationAuthority)",
            &["cn", "cACertificate"],
            true,
        )
        .await?
        .ok_or_else(|| {
            PublishError::Refused(format!(
                "{container} does not exist: the forest has no Public Key Services container"
            ))
        })?;
    Ok(found
        .into_iter()
        .map(|e| {
            let cn = crate::directory::first_value(&e, "cn")
                .unwrap_or_default()
                .to_string();
            let certs = crate::directory::bin_values(&e, "cACertificate").to_vec();
            (e.dn, cn, certs)
        })
        .collect())
}

fn thumbprint(der: &[u8]) -> String {
    crate::hex::upper(&Sha1::digest(der))
}

/// Plan adding `roots` and removing the `remove` thumbprints.
pub async fn plan(
    conn: &mut Connection,
    config_dn: &str,
    roots: Vec<Certificate>,
    remove: &[String],
) -> Result<ForestPlan, PublishError> {
    let container = format!("{CONTAINER},{config_dn}");
    let objects = published(conn, &container).await?;
    let held: HashSet<String> = objects
        .iter()
        .flat_map(|(_, _, certs)| certs.iter().map(|c| thumbprint(c)))
        .collect();
    let mut plan = ForestPlan {
        container: container.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        already: Vec::new(),
    };
    for root in roots {
        let thumb = root.thumbprint();
        if !root.self_signed {
            return Err(PublishError::Refused(format!(
                "--forest-roots: {thumb} ({}) is not self-signed; the Certification Authorities container holds roots",
                printable(&root.subject_display)
            )));
        }
        if held.contains(&thumb) || plan.added.iter().any(|a| a.thumbprint == thumb) {
            plan.already.push(thumb);
            continue;
        }
        let cn = sanitized(&root.subject_display);
        let existing = objects
            .iter()
            .find(|(_, name, _)| name.eq_ignore_ascii_case(&cn));
        plan.added.push(ForestChange {
            dn: existing.map_or_else(
                || format!("CN={},{container}", dn_escape(&cn)),
                |(dn, _, _)| dn.clone(),
            ),
            thumbprint: thumb,
            subject: Some(printable(&root.subject_display)),
            whole_object: existing.is_none(),
            der: root.der,
        });
    }
    for r in remove {
        let want = crate::hex::parse_fingerprint(r)
            .filter(|b| b.len() == 20)
            .map(|b| crate::hex::upper(&b))
            .ok_or_else(|| {
                PublishError::Refused(format!(
                    "--remove {:?} is not a SHA-1 thumbprint (40 hex digits)",
                    crate::text::cut(r, 100)
                ))
            })?;
        let found = objects.iter().find_map(|(dn, _, certs)| {
            certs
                .iter()
                .find(|c| thumbprint(c) == want)
                .map(|c| (dn, c, certs.len()))
        });
        let Some((dn, der, count)) = found else {
            return Err(PublishError::Refused(format!(
                "--remove {want}: {container} holds no such certificate"
            )));
        };
        plan.removed.push(ForestChange {
            dn: dn.clone(),
            thumbprint: want,
            subject: Certificate::from_der(der.clone())
                .ok()
                .map(|c| printable(&c.subject_display)),
            whole_object: count == 1,
            der: der.clone(),
        });
    }
    Ok(plan)
}

/// Make the changes, each one LDAP operation.
pub async fn apply(conn: &mut Connection, plan: &ForestPlan) -> Result<(), PublishError> {
    for a in &plan.added {
        let result = if a.whole_object {
            let attrs: Vec<(&str, Vec<Vec<u8>>)> = vec![
                ("objectClass", vec![b"certificationAuthority".to_vec()]),
                ("cACertificate", vec![a.der.clone()]),
                ("authorityRevocationList", vec![vec![0]]),
                ("certificateRevocationList", vec![vec![0]]),
            ];
            ad::add_binary(conn, &a.dn, attrs).await
        } else {
            ad::modify_binary(
                conn,
                &a.dn,
                vec![Mod::Add(
                    b"cACertificate".to_vec(),
                    HashSet::from([a.der.clone()]),
                )],
            )
            .await
        };
        done(result, &a.dn)?;
    }
    for r in &plan.removed {
        let result = if r.whole_object {
            ad::delete(conn, &r.dn).await
        } else {
            ad::modify_binary(
                conn,
                &r.dn,
                vec![Mod::Delete(
                    b"cACertificate".to_vec(),
                    HashSet::from([r.der.clone()]),
                )],
            )
            .await
        };
        done(result, &r.dn)?;
    }
    Ok(())
}

fn done(result: Result<(), WriteError>, dn: &str) -> Result<(), PublishError> {
    match result {
        Ok(()) => Ok(()),
        Err(WriteError::Lost) | Err(WriteError::Exists) => Err(PublishError::Conflict {
            gpo: dn.to_string(),
            what: "the certificates of this object changed while this run wrote them".into(),
            state:
                "the changes listed before this one are made: run the same command again to finish"
                    .into(),
        }),
        Err(WriteError::Other(e)) => Err(e.into()),
    }
}

/// The plan for a terminal.
pub fn text(plan: &ForestPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Forest-wide roots in {}:", plan.container);
    for (verb, list) in [("add", &plan.added), ("remove", &plan.removed)] {
        for c in list {
            let _ = writeln!(
                s,
                "  {verb:<7} {}  {}  ({}{})",
                c.thumbprint,
                c.subject.as_deref().unwrap_or("(unreadable certificate)"),
                printable(&c.dn),
                if c.whole_object {
                    if verb == "add" {
                        ", new object"
                    } else {
                        ", the whole object"
                    }
                } else {
                    ""
                }
            );
        }
    }
    for t in &plan.already {
        let _ = writeln!(s, "  keep    {t}  (published already)");
    }
    s
}

/// A CA name safe as an RDN value: letters, digits, space, `-`, `.` and `_` kept; every
/// other character written as `!` and its four hex digits, the shape of the CA names
/// certutil writes.
fn sanitized(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || " -._".contains(c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "!{u:04x}");
            }
        }
    }
    if out.is_empty() {
        "Root".into()
    } else {
        out.chars().take(64).collect()
    }
}

/// Escape an RDN value (RFC 4514 2.4).
fn dn_escape(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        if ",+\"\\<>;=".contains(c) || (i == 0 && (c == '#' || c == ' ')) {
            out.push('\\');
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        out.pop();
        out.push_str("\\ ");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitized("Contoso Root CA"), "Contoso Root CA");
        assert_eq!(sanitized("A,B"), "A!002cB");
        assert_eq!(dn_escape(" x"), "\\ x");
    }
}
