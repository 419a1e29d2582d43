//! Extended key usages ("purposes", RFC 5280 §4.2.1.12): the one table behind
//! `--purpose` parsing, its `--help`, and the names reports and diffs show.

use der::asn1::ObjectIdentifier;

/// One purpose people name: how `--purpose` spells it, its OID, and the name the
/// Windows certificate console shows for it.
pub struct Purpose {
    pub name: &'static str,
    /// Other spellings `--purpose` accepts.
    pub aliases: &'static [&'static str],
    pub oid: &'static str,
    pub windows_name: &'static str,
}

pub const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
pub const CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
pub const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub const EMAIL: &str = "1.3.6.1.5.5.7.3.4";
pub const TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
pub const OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
/// anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
pub const ANY: &str = "2.5.29.37.0";

/// Every named purpose, in the order `--help` lists them.
pub const PURPOSES: &[Purpose] = &[
    Purpose {
        name: "server-auth",
        aliases: &["serverauth"],
        oid: SERVER_AUTH,
        windows_name: "Server Authentication",
    },
    Purpose {
        name: "client-auth",
        aliases: &["clientauth"],
        oid: CLIENT_AUTH,
        windows_name: "Client Authentication",
    },
    Purpose {
        name: "code-signing",
        aliases: &["codesigning"],
        oid: CODE_SIGNING,
        windows_name: "Code Signing",
    },
    Purpose {
        name: "email",
        aliases: &["email-protection", "secure-email"],
        oid: EMAIL,
        windows_name: "Secure Email",
    },
    Purpose {
        name: "time-stamping",
        aliases: &["timestamping"],
        oid: TIME_STAMPING,
        windows_name: "Time Stamping",
    },
    Purpose {
        name: "ocsp-signing",
        aliases: &[],
        oid: OCSP_SIGNING,
        windows_name: "OCSP Signing",
    },
    Purpose {
        name: "smartcard-logon",
        aliases: &[],
        oid: "1.3.6.1.4.1.311.20.2.2",
        windows_name: "Smart Card Logon",
    },
    Purpose {
        name: "document-signing",
        aliases: &[],
        oid: "1.3.6.1.4.1.311.10.3.12",
        windows_name: "Document Signing",
    },
    Purpose {
        name: "any-purpose",
        aliases: &[],
        oid: ANY,
        windows_name: "Any Purpose",
    },
];

fn by_oid(oid: &str) -> Option<&'static Purpose> {
    PURPOSES.iter().find(|p| p.oid == oid)
}

/// A `--purpose` value (a name from [`PURPOSES`], or a dotted OID) as an OID.
pub fn parse(value: &str) -> Result<ObjectIdentifier, String> {
    let wanted = value.trim().to_ascii_lowercase();
    let dotted = PURPOSES
        .iter()
        .find(|p| p.name == wanted || p.aliases.contains(&wanted.as_str()))
        .map_or(value.trim(), |p| p.oid);
    ObjectIdentifier::new(dotted)
        .map_err(|_| format!("unknown purpose {value:?}: use {}", names_or_oid()))
}

/// "server-auth, client-auth, ..., or a dotted OID": for messages and `--help`.
pub fn names_or_oid() -> String {
    let names: Vec<&str> = PURPOSES.iter().map(|p| p.name).collect();
    format!("{}, or a dotted OID", names.join(", "))
}

/// The name the Windows certificate console shows for a well-known OID.
pub fn windows_name(oid: &str) -> Option<&'static str> {
    by_oid(oid).map(|p| p.windows_name)
}

/// `server-auth (1.3.6.1.5.5.7.3.1)` for a named purpose, else the OID alone.
pub fn cli_label(oid: &str) -> String {
    match by_oid(oid) {
        Some(p) => format!("{} ({oid})", p.name),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_parses_to_its_oid() {
        for p in PURPOSES {
            for spelling in std::iter::once(&p.name).chain(p.aliases) {
                assert_eq!(
                    parse(spelling).map(|o| o.to_string()),
                    Ok(p.oid.to_string())
                );
                assert_eq!(
                    parse(&spelling.to_ascii_uppercase()).map(|o| o.to_string()),
                    Ok(p.oid.to_string())
                );
            }
        }
    }

    #[test]
    fn oids_pass_and_nonsense_is_refused_with_every_name() {
        assert_eq!(
            parse("1.2.3.4").map(|o| o.to_string()),
            Ok("1.2.3.4".into())
        );
        let e = parse("no such").unwrap_err();
        for p in PURPOSES {
            assert!(e.contains(p.name), "{e}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(windows_name(SERVER_AUTH), Some("Server Authentication"));
        assert_eq!(cli_label(EMAIL), "email (1.3.6.1.5.5.7.3.4)");
        assert_eq!(cli_label("1.2.3"), "1.2.3");
    }
}
