//! Reading the XML files of a GPMC backup (docs/spec/windows-formats.md §4): Backup.xml,
//! bkupInfo.xml, manifest.xml and gpreport.xml (UTF-16LE with a BOM, or UTF-8).
//!
//! Built on quick-xml's pull parser: no DTD processing and no custom entities, so a
//! hostile file cannot expand; every value is read by its element path.

use quick_xml::events::Event;

use crate::codec::Short;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpoReadError {
    #[error("{file}: bad text encoding {source}")]
    Encoding { file: String, source: Short },
    #[error("{file}: malformed XML at byte offset {offset}: {what}")]
    Xml {
        file: String,
        offset: usize,
        what: String,
    },
    #[error("{file}: expected the root element <{expected}>, found <{found}>")]
    Root {
        file: String,
        expected: &'static str,
        found: String,
    },
    #[error("{file}: <{element}> holds {found:?}, expected {expected}")]
    Value {
        file: String,
        element: String,
        found: String,
        expected: &'static str,
    },
}

/// One `GroupPolicyExtension` of Backup.xml and the files it lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackupExtension {
    pub id: String,
    pub desc_name: String,
    pub objects: Vec<FsObject>,
}

/// An `FSObjectFile` or `FSObjectDir` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FsObject {
    pub dir: bool,
    pub path: String,
    pub source_expanded_path: String,
    /// Where the backup holds it (`DomainSysvol\GPO\...`); absent for `Adm\*.*`.
    pub location: Option<String>,
}

/// A `SecurityGroups/Group` of Backup.xml.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SecurityGroup {
    pub source: String,
    pub sid: String,
    pub sam_account_name: String,
    pub kind: String,
    pub netbios_domain_name: String,
    pub dns_domain_name: String,
    pub upn: String,
}

/// Backup.xml (docs/spec/windows-formats.md §4.2). Empty strings where the file has empty
/// elements.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackupXml {
    pub gpo_id: String,
    pub domain: String,
    /// Lower-case hex bytes separated by spaces, as in the file.
    pub security_descriptor: String,
    pub display_name: String,
    /// GPO flags: 0 enabled, 1 user half disabled, 2 computer half disabled, 3 both.
    pub options: u32,
    /// `(v << 16) | v` in every real sample (docs/spec/windows-formats.md §4.2).
    pub user_version: u32,
    pub machine_version: u32,
    pub machine_extension_guids: String,
    pub user_extension_guids: String,
    pub wmi_filter: String,
    pub security_groups: Vec<SecurityGroup>,
    pub extensions: Vec<BackupExtension>,
}

/// bkupInfo.xml, and each `BackupInst` of manifest.xml
/// (docs/spec/windows-formats.md §4.3, §4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackupInst {
    pub gpo_guid: String,
    pub gpo_domain: String,
    pub gpo_domain_guid: String,
    pub gpo_domain_controller: String,
    pub backup_time: String,
    /// The backup id, which is also the name of its folder.
    pub id: String,
    pub comment: String,
    pub gpo_display_name: String,
}

/// One half (Computer or User) of gpreport.xml.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportHalf {
    pub version_directory: Option<u32>,
    pub version_sysvol: Option<u32>,
    pub enabled: Option<bool>,
}

/// A certificate listed in gpreport.xml's Public Key extension
/// (docs/spec/windows-formats.md §4.5).
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

/// gpreport.xml (docs/spec/windows-formats.md §4.5): identity, versions, and the
/// certificates it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub identifier: String,
    pub domain: String,
    pub name: String,
    pub computer: ReportHalf,
    pub user: ReportHalf,
    pub certificates: Vec<ReportCertificate>,
}

/// Decode an XML file's bytes: UTF-16LE (gpreport.xml) or UTF-8.
fn decode(bytes: &[u8], file: &str) -> Result<crate::codec::Text, GpoReadError> {
    crate::codec::decode_text(bytes).map_err(|e| GpoReadError::Encoding {
        file: file.to_string(),
        source: match e {
            crate::codec::TextError::Utf16(short) => short,
            crate::codec::TextError::Utf8 { offset } => Short {
                offset,
                expected: "UTF-8 text (or UTF-16LE with a BOM)".into(),
            },
        },
    })
}

/// What the walker reports to its caller.
enum Node<'a> {
    /// An element opened; `path` includes it. Attributes by local name.
    Open {
        path: &'a [String],
        attrs: &'a [(String, String)],
    },
    /// An element closed, with the text and CDATA directly inside it.
    Close { path: &'a [String], text: &'a str },
}

/// Walk a whole XML document by local element names, checking it is well formed
/// and that its root is `root`.
fn walk(
    bytes: &[u8],
    file: &str,
    root: &'static str,
    mut visit: impl FnMut(Node) -> Result<(), GpoReadError>,
) -> Result<(), GpoReadError> {
    let decoded = decode(bytes, file)?;
    let text = &decoded.text;
    let xml_error = |pos: usize, what: String| GpoReadError::Xml {
        file: file.to_string(),
        offset: decoded.file_offset(pos),
        what,
    };
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    // The text of each open element (only the innermost one is ever appended to).
    let mut texts: Vec<String> = Vec::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut seen_root = false;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| xml_error(reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Start(e) | Event::Empty(e) if path.is_empty() && seen_root => {
                let _ = e;
                return Err(xml_error(at, "a second root element".into()));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(e.name().as_ref());
                if path.is_empty() {
                    seen_root = true;
                    if name != root {
                        return Err(GpoReadError::Root {
                            file: file.to_string(),
                            expected: root,
                            found: name,
                        });
                    }
                }
                attrs.clear();
                for a in e.attributes() {
                    let a = a.map_err(|err| xml_error(at, err.to_string()))?;
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|err| xml_error(at, err.to_string()))?;
                    attrs.push((local(a.key.as_ref()), value.into_owned()));
                }
                path.push(name);
                texts.push(String::new());
                visit(Node::Open {
                    path: &path,
                    attrs: &attrs,
                })?;
                if empty {
                    visit(Node::Close {
                        path: &path,
                        text: "",
                    })?;
                    path.pop();
                    texts.pop();
                }
            }
            Event::End(_) => {
                let body = texts.pop().unwrap_or_default();
                visit(Node::Close {
                    path: &path,
                    text: &body,
                })?;
                path.pop();
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match texts.last_mut() {
                    Some(buf) => buf.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(xml_error(at, "text outside the root element".into())),
                }
            }
            Event::CData(t) => match texts.last_mut() {
                Some(buf) => buf.push_str(&t.xml10_content()),
                None => return Err(xml_error(at, "CDATA outside the root element".into())),
            },
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.xml10_content().as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(xml_error(
                                at,
                                format!(
                                    "unknown entity &{other}; (only the five XML entities are allowed)"
                                ),
                            ));
                        }
                    },
                    Err(e) => return Err(xml_error(at, e.to_string())),
                };
                if let Some(buf) = texts.last_mut() {
                    buf.push(ch);
                }
            }
            Event::DocType(_) => {
                return Err(xml_error(
                    at,
                    "a DOCTYPE declaration (GPMC files have none; refused so no entity can expand)"
                        .into(),
                ));
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(xml_error(
                        text.len(),
                        format!("the file ends inside <{open}> (truncated?)"),
                    ));
                }
                if !seen_root {
                    return Err(xml_error(text.len(), format!("no <{root}> element")));
                }
                return Ok(());
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
}

/// The local part of a (possibly prefixed) XML name.
fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, l)| l).to_string()
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> &'a str {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn number(file: &str, element: &str, text: &str) -> Result<u32, GpoReadError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(0);
    }
    t.parse().map_err(|_| GpoReadError::Value {
        file: file.to_string(),
        element: element.to_string(),
        found: t.chars().take(40).collect(),
        expected: "a decimal number up to 4294967295",
    })
}

/// Parse Backup.xml.
pub fn parse_backup_xml(bytes: &[u8], file: &str) -> Result<BackupXml, GpoReadError> {
    let mut out = BackupXml::default();
    walk(bytes, file, "GroupPolicyBackupScheme", |node| {
        match node {
            Node::Open { path, attrs } => match path_str(path).as_str() {
                "GroupPolicyBackupScheme/GroupPolicyObject/GroupPolicyExtension" => {
                    out.extensions.push(BackupExtension {
                        id: attr(attrs, "ID").to_string(),
                        desc_name: attr(attrs, "DescName").to_string(),
                        objects: Vec::new(),
                    });
                }
                "GroupPolicyBackupScheme/GroupPolicyObject/GroupPolicyExtension/FSObjectFile"
                | "GroupPolicyBackupScheme/GroupPolicyObject/GroupPolicyExtension/FSObjectDir" => {
                    if let Some(ext) = out.extensions.last_mut() {
                        let location = attr(attrs, "Location");
                        ext.objects.push(FsObject {
                            dir: path.last().is_some_and(|n| n == "FSObjectDir"),
                            path: attr(attrs, "Path").to_string(),
                            source_expanded_path: attr(attrs, "SourceExpandedPath").to_string(),
                            location: (!location.is_empty()).then(|| location.to_string()),
                        });
                    }
                }
                "GroupPolicyBackupScheme/GroupPolicyObject/SecurityGroups/Group" => {
                    out.security_groups.push(SecurityGroup {
                        source: attr(attrs, "Source").to_string(),
                        ..SecurityGroup::default()
                    });
                }
                _ => {}
            },
            Node::Close { path, text } => {
                let p = path_str(path);
                if let Some(field) = p.strip_prefix(
                    "GroupPolicyBackupScheme/GroupPolicyObject/GroupPolicyCoreSettings/",
                ) {
                    let text = text.trim().to_string();
                    match field {
                        "ID" => out.gpo_id = text,
                        "Domain" => out.domain = text,
                        "SecurityDescriptor" => out.security_descriptor = text,
                        "DisplayName" => out.display_name = text,
                        "Options" => out.options = number(file, field, &text)?,
                        "UserVersionNumber" => out.user_version = number(file, field, &text)?,
                        "MachineVersionNumber" => out.machine_version = number(file, field, &text)?,
                        "MachineExtensionGuids" => out.machine_extension_guids = text,
                        "UserExtensionGuids" => out.user_extension_guids = text,
                        "WMIFilter" => out.wmi_filter = text,
                        _ => {}
                    }
                } else if let Some(field) = p
                    .strip_prefix("GroupPolicyBackupScheme/GroupPolicyObject/SecurityGroups/Group/")
                    && let Some(g) = out.security_groups.last_mut()
                {
                    let text = text.trim().to_string();
                    match field {
                        "Sid" => g.sid = text,
                        "SamAccountName" => g.sam_account_name = text,
                        "Type" => g.kind = text,
                        "NetBIOSDomainName" => g.netbios_domain_name = text,
                        "DnsDomainName" => g.dns_domain_name = text,
                        "UPN" => g.upn = text,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

fn path_str(path: &[String]) -> String {
    path.join("/")
}

fn backup_inst_field(inst: &mut BackupInst, field: &str, text: &str) {
    let text = text.trim().to_string();
    match field {
        "GPOGuid" => inst.gpo_guid = text,
        "GPODomain" => inst.gpo_domain = text,
        "GPODomainGuid" => inst.gpo_domain_guid = text,
        "GPODomainController" => inst.gpo_domain_controller = text,
        "BackupTime" => inst.backup_time = text,
        "ID" => inst.id = text,
        "Comment" => inst.comment = text,
        "GPODisplayName" => inst.gpo_display_name = text,
        _ => {}
    }
}

/// Parse bkupInfo.xml.
pub fn parse_bkup_info(bytes: &[u8], file: &str) -> Result<BackupInst, GpoReadError> {
    let mut out = BackupInst::default();
    walk(bytes, file, "BackupInst", |node| {
        if let Node::Close { path, text } = node
            && path.len() == 2
        {
            backup_inst_field(&mut out, &path[1], text);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Parse manifest.xml: one `BackupInst` per backup in the folder.
pub fn parse_manifest(bytes: &[u8], file: &str) -> Result<Vec<BackupInst>, GpoReadError> {
    let mut out: Vec<BackupInst> = Vec::new();
    walk(bytes, file, "Backups", |node| {
        match node {
            Node::Open { path, .. } if path.len() == 2 && path[1] == "BackupInst" => {
                out.push(BackupInst::default());
            }
            Node::Close { path, text } if path.len() == 3 && path[1] == "BackupInst" => {
                if let Some(inst) = out.last_mut() {
                    backup_inst_field(inst, &path[2], text);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// True for the element names under which gpreport.xml lists a certificate.
fn is_certificate_element(name: &str) -> bool {
    name.ends_with("Certificate") || name == "EFSRecoveryAgent"
}

/// Parse gpreport.xml.
pub fn parse_report(bytes: &[u8], file: &str) -> Result<Report, GpoReadError> {
    let mut out = Report::default();
    // Path: GPO / Computer|User / ExtensionData / Extension / <cert element> / <field>
    walk(bytes, file, "GPO", |node| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16_bom(s: &str) -> Vec<u8> {
        let mut v = vec![0xFF, 0xFE];
        v.extend(crate::codec::utf16le(s));
        v
    }

    #[test]
    fn backup_inst_and_manifest() {
        let b = br#"<BackupInst xmlns="x"><GPOGuid><![CDATA[{A}]]></GPOGuid><ID><![CDATA[{B}]]></ID><GPODisplayName><![CDATA[Tom's &lt;GPO&gt;]]></GPODisplayName><Comment>a &amp; b&#33;</Comment></BackupInst>"#;
        let i = parse_bkup_info(b, "bkupInfo.xml").unwrap();
        assert_eq!(i.gpo_guid, "{A}");
        assert_eq!(i.id, "{B}");
        assert_eq!(i.gpo_display_name, "Tom's &lt;GPO&gt;");
        assert_eq!(i.comment, "a & b!");
        let m = br#"<Backups><BackupInst><ID>{1}</ID></BackupInst><BackupInst><ID>{2}</ID></BackupInst></Backups>"#;
        let m = parse_manifest(m, "manifest.xml").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].id, "{2}");
    }

    #[test]
    fn report_in_utf16() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<GPO xmlns:q1=\"p\"><Name>N</Name><Computer><VersionDirectory>3</VersionDirectory><Enabled>true</Enabled><ExtensionData><Extension><q1:RootCertificate><q1:IssuedTo>R</q1:IssuedTo><q1:Data>20000000010000000100000030</q1:Data></q1:RootCertificate></Extension></ExtensionData></Computer></GPO>";
        let r = parse_report(&utf16_bom(xml), "gpreport.xml").unwrap();
        assert_eq!(r.name, "N");
        assert_eq!(r.computer.version_directory, Some(3));
        assert_eq!(r.computer.enabled, Some(true));
        assert_eq!(r.certificates.len(), 1);
        assert_eq!(r.certificates[0].element, "RootCertificate");
        assert_eq!(r.certificates[0].issued_to, "R");
        assert_eq!(r.certificates[0].blob.len(), 13);
    }

    #[test]
    fn malformed_xml_is_refused_with_offsets() {
        let e = parse_bkup_info(b"<BackupInst><ID>x</BackupInst>", "f").unwrap_err();
        assert!(matches!(e, GpoReadError::Xml { .. }), "{e}");
        let e = parse_bkup_info(b"<BackupInst><ID>x</ID>", "f").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse_manifest(b"<BackupInst/>", "f").unwrap_err();
        assert!(matches!(e, GpoReadError::Root { .. }), "{e}");
        let e = parse_bkup_info(
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><BackupInst>&a;</BackupInst>",
            "f",
        )
        .unwrap_err();
        assert!(e.to_string().contains("DOCTYPE"), "{e}");
        let mut bad = utf16_bom("<GPO>");
        bad.extend_from_slice(&[0x00, 0xDC]);
        let e = parse_report(&bad, "gpreport.xml").unwrap_err();
        assert!(
            matches!(&e, GpoReadError::Encoding { source, .. } if source.offset == 12),
            "{e}"
        );
        let e = parse_backup_xml(
            b"<GroupPolicyBackupScheme><GroupPolicyObject><GroupPolicyCoreSettings><MachineVersionNumber>x</MachineVersionNumber></GroupPolicyCoreSettings></GroupPolicyObject></GroupPolicyBackupScheme>",
            "Backup.xml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("MachineVersionNumber"), "{e}");
        assert!(parse_bkup_info(b"", "f").is_err());
        assert!(parse_bkup_info(&[0xC3, 0x28], "f").is_err());
    }
}
