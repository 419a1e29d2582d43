//! gpreport.xml: the settings report GPMC stores in a backup and shows in its
//! Settings tab (docs/spec/windows-formats.md §4.5). [`parse`] reads the identity, versions and certificates
//! of any report (UTF-16LE with a BOM, or UTF-8); [`write`] writes certgpo's in
//! UTF-16LE with BOM, CRLF, two-space indentation, no final newline, in the element
//! order of the real NSA-CERT report.

use super::security::SECURITY_DESCRIPTOR_SDDL;
use super::xml::{self, Node, number, text};
use super::{GpoMeta, GpoReadError, braced_upper, gpmc_time};
use crate::cert::Certificate;
use crate::hex;
use crate::store::Store;

/// One certificate as [`write`] lists it.
pub struct ReportCert<'a> {
    pub store: Store,
    pub cert: &'a Certificate,
    pub blob: &'a [u8],
}

/// Stores the PublicKey section of the report does not show; GPMC lists their empty
/// keys under the Registry extension instead (NSA-CERT gpreport.xml).
const UNRECOGNISED_STORES: &[&str] = &["DPNGRA", "FVE", "FVE_NKP"];

/// True for a key under one of [`UNRECOGNISED_STORES`].
pub fn is_unrecognised_store_key(key: &str) -> bool {
    crate::store::policy_store_of(key).is_some_and(|s| {
        UNRECOGNISED_STORES
            .iter()
            .any(|u| u.eq_ignore_ascii_case(s))
    })
}

/// One half (Computer or User) of gpreport.xml.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportHalf {
    pub version_directory: Option<u32>,
    pub version_sysvol: Option<u32>,
    pub enabled: Option<bool>,
}

/// A certificate listed in gpreport.xml's Public Key extension (docs/spec/windows-formats.md §4.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportCertificate {
    /// The element name: `RootCertificate`, `IntermediateCACertificate`, ...
    pub element: String,
    /// True under `<User>`, false under `<Computer>`.
    pub user: bool,
    pub issued_to: String,
    pub issued_by: String,
    pub expiration_date: String,
    /// The whole Blob (`Data`, upper-case hex in the file).
    #[serde(skip)]
    pub blob: Vec<u8>,
}

/// gpreport.xml (docs/spec/windows-formats.md §4.5): identity, versions, and the certificates it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub identifier: String,
    pub domain: String,
    pub name: String,
    pub computer: ReportHalf,
    pub user: ReportHalf,
    pub certificates: Vec<ReportCertificate>,
}

/// True for the element names under which gpreport.xml lists a certificate.
fn is_certificate_element(name: &str) -> bool {
    name.ends_with("Certificate") || name == "EFSRecoveryAgent"
}

/// Parse gpreport.xml.
pub fn parse(bytes: &[u8], file: &str) -> Result<Report, GpoReadError> {
    let mut out = Report::default();
    // Path: GPO / Computer|User / ExtensionData / Extension / <cert element> / <field>
    xml::walk(bytes, file, "GPO", |node| {
        match node {
            Node::Open { path, .. } => {
                if path.len() == 5
                    && path[2] == "ExtensionData"
                    && path[3] == "Extension"
                    && is_certificate_element(&path[4])
                {
                    out.certificates.push(ReportCertificate {
                        element: path[4].clone(),
                        user: path[1] == "User",
                        ..ReportCertificate::default()
                    });
                }
            }
            Node::Close { path, text } => {
                let text = text.trim();
                match path
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["GPO", "Identifier", "Identifier"] => out.identifier = text.to_string(),
                    ["GPO", "Identifier", "Domain"] => out.domain = text.to_string(),
                    ["GPO", "Name"] => out.name = text.to_string(),
                    ["GPO", half @ ("Computer" | "User"), field] => {
                        let h = if *half == "User" {
                            &mut out.user
                        } else {
                            &mut out.computer
                        };
                        match *field {
                            "VersionDirectory" => {
                                h.version_directory = Some(number(file, field, text)?)
                            }
                            "VersionSysvol" => h.version_sysvol = Some(number(file, field, text)?),
                            "Enabled" => h.enabled = Some(text.eq_ignore_ascii_case("true")),
                            _ => {}
                        }
                    }
                    ["GPO", _, "ExtensionData", "Extension", cert, field]
                        if is_certificate_element(cert) =>
                    {
                        if let Some(c) = out.certificates.last_mut() {
                            match *field {
                                "IssuedTo" => c.issued_to = text.to_string(),
                                "IssuedBy" => c.issued_by = text.to_string(),
                                "ExpirationDate" => c.expiration_date = text.to_string(),
                                "Data" => {
                                    c.blob =
                                        crate::hex::parse_fingerprint(text).ok_or_else(|| {
                                            GpoReadError::Value {
                                                file: file.to_string(),
                                                element: format!("{cert}/Data"),
                                                found: text.chars().take(40).collect(),
                                                expected: "hex digits (the certificate's Blob)",
                                            }
                                        })?
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Indented line writer; GPMC's report is pretty-printed with two spaces.
struct Lines(Vec<String>);

impl Lines {
    fn line(&mut self, depth: usize, s: impl AsRef<str>) {
        self.0.push(format!("{}{}", "  ".repeat(depth), s.as_ref()));
    }
    fn leaf(&mut self, depth: usize, tag: &str, value: &str) {
        self.line(depth, format!("<{tag}>{}</{tag}>", text(value)));
    }
}

/// `certs` in registry.pol order (the report regroups them by store, keeping that
/// order inside a store); `registry_keys` are key-only entries of stores the
/// Public Key extension does not show (GPMC lists those under "Registry").
pub fn write(meta: &GpoMeta, certs: &[ReportCert], registry_keys: &[String]) -> Vec<u8> {
    let mut l = Lines(Vec::new());
    let types = r#"xmlns="http://www.microsoft.com/GroupPolicy/Types""#;
    let security = r#"xmlns="http://www.microsoft.com/GroupPolicy/Types/Security""#;
    let stamp = gpmc_time(meta.time);
    l.line(0, r#"<?xml version="1.0" encoding="utf-16"?>"#);
    l.line(
        0,
        r#"<GPO xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://www.microsoft.com/GroupPolicy/Settings">"#,
    );
    l.line(1, "<Identifier>");
    l.line(
        2,
        format!(
            "<Identifier {types}>{}</Identifier>",
            braced_upper(&meta.gpo_guid)
        ),
    );
    l.line(
        2,
        format!("<Domain {types}>{}</Domain>", text(&meta.domain)),
    );
    l.line(1, "</Identifier>");
    l.leaf(1, "Name", &meta.display_name);
    l.leaf(1, "IncludeComments", "true");
    l.leaf(1, "CreatedTime", &stamp);
    l.leaf(1, "ModifiedTime", &stamp);
    l.leaf(1, "ReadTime", &format!("{stamp}.0000000Z"));
    l.line(1, "<SecurityDescriptor>");
    l.line(
        2,
        format!("<SDDL {security}>{SECURITY_DESCRIPTOR_SDDL}</SDDL>"),
    );
    l.line(
        2,
        format!("<PermissionsPresent {security}>false</PermissionsPresent>"),
    );
    l.line(1, "</SecurityDescriptor>");
    l.leaf(1, "FilterDataAvailable", "true");
    l.line(1, "<Computer>");
    l.leaf(2, "VersionDirectory", &meta.machine_version.to_string());
    l.leaf(2, "VersionSysvol", &meta.machine_version.to_string());
    l.leaf(2, "Enabled", "true");
    l.line(2, "<ExtensionData>");
    l.line(
        3,
        r#"<Extension xmlns:q1="http://www.microsoft.com/GroupPolicy/Settings/PublicKey" xsi:type="q1:PublicKeySettings">"#,
    );
    l.line(4, "<q1:EFSSettings>");
    l.leaf(5, "q1:AllowEFS", "2");
    l.leaf(5, "q1:Options", "0");
    l.leaf(5, "q1:CacheTimeout", "0");
    l.leaf(5, "q1:KeyLen", "0");
    l.line(4, "</q1:EFSSettings>");
    l.line(4, "<q1:RootCertificateSettings>");
    l.leaf(5, "q1:AllowNewCAs", "true");
    l.leaf(5, "q1:TrustThirdPartyCAs", "true");
    l.leaf(5, "q1:RequireUPNNamingConstraints", "false");
    l.line(4, "</q1:RootCertificateSettings>");
    let mut ordered: Vec<&ReportCert> = certs.iter().collect();
    ordered.sort_by_key(|c| c.store.report_rank());
    for c in ordered {
        let tag = format!("q1:{}", c.store.report_element());
        l.line(4, format!("<{tag}>"));
        l.leaf(5, "q1:IssuedTo", &c.cert.subject_display);
        l.leaf(5, "q1:IssuedBy", &c.cert.issuer_display);
        l.leaf(
            5,
            "q1:ExpirationDate",
            &format!("{}Z", gpmc_time(c.cert.not_after)),
        );
        l.leaf(5, "q1:Data", &hex::upper(c.blob));
        l.line(4, format!("</{tag}>"));
    }
    l.line(3, "</Extension>");
    l.leaf(3, "Name", "Public Key");
    l.line(2, "</ExtensionData>");
    if !registry_keys.is_empty() {
        l.line(2, "<ExtensionData>");
        l.line(
            3,
            r#"<Extension xmlns:q2="http://www.microsoft.com/GroupPolicy/Settings/Registry" xsi:type="q2:RegistrySettings">"#,
        );
        for key in registry_keys {
            l.line(4, "<q2:RegistrySetting>");
            l.leaf(5, "q2:KeyPath", key);
            l.leaf(5, "q2:AdmSetting", "false");
            l.line(4, "</q2:RegistrySetting>");
        }
        l.line(3, "</Extension>");
        l.leaf(3, "Name", "Registry");
        l.line(2, "</ExtensionData>");
    }
    l.line(1, "</Computer>");
    l.line(1, "<User>");
    l.leaf(2, "VersionDirectory", "0");
    l.leaf(2, "VersionSysvol", "0");
    l.leaf(2, "Enabled", "false");
    l.line(1, "</User>");
    l.line(0, "</GPO>");
    let joined = l.0.join("\r\n");
    crate::codec::utf16le_bom(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_in_utf16() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<GPO xmlns:q1=\"p\"><Name>N</Name><Computer><VersionDirectory>3</VersionDirectory><Enabled>true</Enabled><ExtensionData><Extension><q1:RootCertificate><q1:IssuedTo>R</q1:IssuedTo><q1:Data>20000000010000000100000030</q1:Data></q1:RootCertificate></Extension></ExtensionData></Computer></GPO>";
        let r = parse(&crate::codec::utf16le_bom(xml), "gpreport.xml").unwrap();
        assert_eq!(r.name, "N");
        assert_eq!(r.computer.version_directory, Some(3));
        assert_eq!(r.computer.enabled, Some(true));
        assert_eq!(r.certificates.len(), 1);
        assert_eq!(r.certificates[0].element, "RootCertificate");
        assert_eq!(r.certificates[0].issued_to, "R");
        assert_eq!(r.certificates[0].blob.len(), 13);
    }

    #[test]
    fn bad_utf16_is_refused_at_its_offset() {
        let mut bad = crate::codec::utf16le_bom("<GPO>");
        bad.extend_from_slice(&[0x00, 0xDC]);
        let e = parse(&bad, "gpreport.xml").unwrap_err();
        assert!(
            matches!(&e, GpoReadError::Encoding { source, .. } if source.offset == 12),
            "{e}"
        );
    }
}
