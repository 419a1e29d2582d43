//! gpreport.xml: the settings report GPMC stores in a backup and shows in its Settings tab
//! (docs/spec/windows-formats.md §4.5). UTF-16LE with BOM, CRLF, two-space indentation, no
//! final newline, in the element order of the real NSA-CERT report.

use super::backup::SECURITY_DESCRIPTOR_SDDL;
use super::{GpoMeta, braced_upper, gpmc_time, text};
use crate::cert::Certificate;
use crate::hex;
use crate::store::Store;

/// One certificate as the report lists it.
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
    let rest = key
        .strip_prefix(crate::store::POLICY_ROOT)
        .and_then(|r| r.strip_prefix('\\'));
    rest.and_then(|r| r.split('\\').next()).is_some_and(|s| {
        UNRECOGNISED_STORES
            .iter()
            .any(|u| u.eq_ignore_ascii_case(s))
    })
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
pub fn gpreport_xml(meta: &GpoMeta, certs: &[ReportCert], registry_keys: &[String]) -> Vec<u8> {
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
