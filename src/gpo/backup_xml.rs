//! Backup.xml (docs/spec/windows-formats.md §4.2): the GPO's identity, security, versions, and the files each
//! client-side extension keeps in the backup. [`parse`] reads what GPMC writes;
//! [`write`] writes a [`BackupXml`] in GPMC's layout, for a new GPO
//! ([`BackupXml::new_gpo`]) or for an existing one read back (`build --base`).

use super::xml::{self, Node, attr, cdata, number, text};
use super::{GpoMeta, GpoReadError, braced_upper, folder, security};
use super::{MACHINE_EXTENSION_GUIDS, OPTIONS_USER_DISABLED, REGISTRY_CSE, UNKNOWN_EXTENSION};

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
    /// The check GPMC runs on import (`SecurityValidateSettings` for the Security
    /// extension's GptTmpl.inf, `FRValidateSettings` for Folder Redirection).
    pub re_evaluate_function: Option<String>,
    /// Files listed inside this one (Folder Redirection lists its ini files so).
    pub objects: Vec<FsObject>,
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

/// Backup.xml (docs/spec/windows-formats.md §4.2). Empty strings where the file has empty elements.
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
    /// `FilePaths/Path`: UNC paths the GPO's settings name (a migration table maps them).
    pub file_paths: Vec<String>,
    pub extensions: Vec<BackupExtension>,
    /// The first element or attribute that is none of the above, if any: [`write`]
    /// could not reproduce it, so a caller that rewrites the file must refuse it.
    #[serde(skip)]
    pub first_unknown: Option<String>,
}

/// Where the Registry extension's files are in the GPO (`bkp:Path`).
const MACHINE_POL_PATH: &str = r"%GPO_MACH_FSPATH%\registry.pol";
const USER_POL_PATH: &str = r"%GPO_USER_FSPATH%\registry.pol";
const ADM_PATH: &str = r"%GPO_FSPATH%\Adm\*.*";

/// The GPO's own file GPMC never puts in a backup: its versions are in Backup.xml.
const GPT_INI: &str = "GPT.INI";
/// The GPO folder's halves, which `%GPO_MACH_FSPATH%` and `%GPO_USER_FSPATH%` name.
const MACHINE_DIR: &str = "Machine";
const USER_DIR: &str = "User";

/// `rel` without the folder `dir` it starts with (case-insensitive), if it does.
fn under<'a>(rel: &'a str, dir: &str) -> Option<&'a str> {
    let (first, rest) = rel.split_once('\\')?;
    first.eq_ignore_ascii_case(dir).then_some(rest)
}

/// Whether `rel` is the registry.pol of the half `dir`.
fn is_registry_pol(rel: &str, dir: &str) -> bool {
    under(rel, dir).is_some_and(|r| r.eq_ignore_ascii_case("registry.pol"))
}

/// Where a backup keeps the GPO's file `rel` (`\`-separated, relative to the GPO's
/// SYSVOL folder), as Backup.xml's `bkp:Location` spells it: `DomainSysvol\GPO\rel`,
/// the two registry.pol files in lower case as GPMC names them. `None` for GPT.INI,
/// which no GPMC backup holds (docs/spec/windows-formats.md §4.1).
pub fn location(rel: &str) -> Option<String> {
    if rel.eq_ignore_ascii_case(GPT_INI) {
        return None;
    }
    Some(if is_registry_pol(rel, MACHINE_DIR) {
        folder::windows_path(folder::MACHINE_POL)
    } else if is_registry_pol(rel, USER_DIR) {
        folder::windows_path(folder::USER_POL)
    } else {
        format!(r"DomainSysvol\GPO\{rel}")
    })
}

/// `rel` as `bkp:Path` names it: under the variable of its half, or of the folder.
fn gpo_path(rel: &str) -> String {
    if let Some(rest) = under(rel, MACHINE_DIR) {
        format!(r"%GPO_MACH_FSPATH%\{rest}")
    } else if let Some(rest) = under(rel, USER_DIR) {
        format!(r"%GPO_USER_FSPATH%\{rest}")
    } else {
        format!(r"%GPO_FSPATH%\{rel}")
    }
}

impl BackupXml {
    /// The UNC path of the GPO's SYSVOL folder as `bkp:SourceExpandedPath` starts.
    pub fn sysvol_path(meta: &GpoMeta) -> String {
        format!(
            r"\\{dc}\sysvol\{domain}\Policies\{gpo}",
            dc = meta.domain_controller,
            domain = meta.domain,
            gpo = braced_upper(&meta.gpo_guid)
        )
    }

    /// List the GPO's file or folder `rel` (`\`-separated, relative to its SYSVOL folder
    /// `sysvol`) as GPMC does: a registry.pol in its slot of the Registry extension,
    /// anything else under "Unknown Extension", with the `bkp:Location` of
    /// [`location`]. GPT.INI, the folders `Machine` and `User` themselves, and a file
    /// listed already are left out.
    pub fn list(&mut self, sysvol: &str, rel: &str, dir: bool) {
        let Some(location) = location(rel) else {
            return;
        };
        let top = dir && !rel.contains('\\');
        if top && (rel.eq_ignore_ascii_case(MACHINE_DIR) || rel.eq_ignore_ascii_case(USER_DIR)) {
            return;
        }
        let registry =
            !dir && (is_registry_pol(rel, MACHINE_DIR) || is_registry_pol(rel, USER_DIR));
        let path = if registry {
            let half = rel.split_once('\\').map_or("", |(h, _)| h);
            gpo_path(&format!(r"{half}\registry.pol"))
        } else {
            gpo_path(rel)
        };
        let listed = self
            .extensions
            .iter()
            .flat_map(|e| &e.objects)
            .any(|o| o.dir == dir && o.path.eq_ignore_ascii_case(&path));
        if listed {
            return;
        }
        let source = if registry {
            format!(
                r"{sysvol}\{}",
                location.trim_start_matches(r"DomainSysvol\GPO\")
            )
        } else {
            format!(r"{sysvol}\{rel}")
        };
        let object = FsObject {
            dir,
            path,
            source_expanded_path: source,
            location: Some(location),
            re_evaluate_function: None,
            objects: Vec::new(),
        };
        let id = if registry {
            REGISTRY_CSE
        } else {
            UNKNOWN_EXTENSION
        };
        match self
            .extensions
            .iter_mut()
            .find(|e| e.id.eq_ignore_ascii_case(id))
        {
            Some(ext) => ext.objects.push(object),
            None => self.extensions.push(BackupExtension {
                id: id.to_string(),
                desc_name: if registry {
                    "Registry"
                } else {
                    "Unknown Extension"
                }
                .to_string(),
                objects: vec![object],
            }),
        }
    }

    /// What GPMC writes for a new GPO that holds only Public Key Policies: the
    /// default DACL, the user half disabled, the Registry extension's files.
    pub fn new_gpo(meta: &GpoMeta) -> BackupXml {
        let gpo = braced_upper(&meta.gpo_guid);
        let sysvol = BackupXml::sysvol_path(meta);
        let file = |path: &str, source: String, location: Option<String>| FsObject {
            dir: false,
            path: path.to_string(),
            source_expanded_path: source,
            location,
            re_evaluate_function: None,
            objects: Vec::new(),
        };
        BackupXml {
            gpo_id: gpo.clone(),
            domain: meta.domain.clone(),
            security_descriptor: security::security_descriptor_hex(),
            display_name: meta.display_name.clone(),
            options: OPTIONS_USER_DISABLED,
            user_version: 0,
            machine_version: meta.machine_version_number(),
            machine_extension_guids: MACHINE_EXTENSION_GUIDS.to_string(),
            user_extension_guids: String::new(),
            wmi_filter: String::new(),
            security_groups: Vec::new(),
            file_paths: Vec::new(),
            extensions: vec![
                BackupExtension {
                    id: REGISTRY_CSE.to_string(),
                    desc_name: "Registry".to_string(),
                    objects: vec![
                        file(
                            MACHINE_POL_PATH,
                            format!(r"{sysvol}\Machine\registry.pol"),
                            Some(folder::windows_path(folder::MACHINE_POL)),
                        ),
                        file(ADM_PATH, format!(r"{sysvol}\Adm\*.*"), None),
                    ],
                },
                BackupExtension {
                    id: UNKNOWN_EXTENSION.to_string(),
                    desc_name: "Unknown Extension".to_string(),
                    objects: Vec::new(),
                },
            ],
            first_unknown: None,
        }
    }
}

/// The child elements of `GroupPolicyCoreSettings`, in GPMC's order.
const CORE_SETTINGS: [&str; 10] = [
    "ID",
    "Domain",
    "SecurityDescriptor",
    "DisplayName",
    "Options",
    "UserVersionNumber",
    "MachineVersionNumber",
    "MachineExtensionGuids",
    "UserExtensionGuids",
    "WMIFilter",
];

/// The child elements of `SecurityGroups/Group`, in GPMC's order.
const GROUP_FIELDS: [&str; 6] = [
    "Sid",
    "SamAccountName",
    "Type",
    "NetBIOSDomainName",
    "DnsDomainName",
    "UPN",
];

fn is_fs_object(name: &str) -> bool {
    name == "FSObjectFile" || name == "FSObjectDir"
}

/// Parse Backup.xml.
pub fn parse(bytes: &[u8], file: &str) -> Result<BackupXml, GpoReadError> {
    let mut out = BackupXml::default();
    // FSObjects still open, innermost last: nested ones attach to their parent.
    let mut open: Vec<FsObject> = Vec::new();
    xml::walk(bytes, file, "GroupPolicyBackupScheme", |node| {
        match node {
            Node::Open { path, attrs } => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let known_attrs: &[&str] = match p.as_slice() {
                    [_] => &["version", "type"],
                    [_, "GroupPolicyObject"]
                    | [
                        _,
                        "GroupPolicyObject",
                        "SecurityGroups" | "FilePaths" | "GroupPolicyCoreSettings",
                    ]
                    | [_, "GroupPolicyObject", "FilePaths", "Path"] => &[],
                    [_, "GroupPolicyObject", "GroupPolicyCoreSettings", f]
                        if CORE_SETTINGS.contains(f) =>
                    {
                        &[]
                    }
                    [_, "GroupPolicyObject", "SecurityGroups", "Group", f]
                        if GROUP_FIELDS.contains(f) =>
                    {
                        &[]
                    }
                    [_, "GroupPolicyObject", "SecurityGroups", "Group"] => {
                        out.security_groups.push(SecurityGroup {
                            source: attr(attrs, "Source").to_string(),
                            ..SecurityGroup::default()
                        });
                        &["Source"]
                    }
                    [_, "GroupPolicyObject", "GroupPolicyExtension"] => {
                        out.extensions.push(BackupExtension {
                            id: attr(attrs, "ID").to_string(),
                            desc_name: attr(attrs, "DescName").to_string(),
                            objects: Vec::new(),
                        });
                        &["ID", "DescName"]
                    }
                    [_, "GroupPolicyObject", "GroupPolicyExtension", objects @ ..]
                        if objects.iter().all(|n| is_fs_object(n)) =>
                    {
                        let location = attr(attrs, "Location");
                        let function = attr(attrs, "ReEvaluateFunction");
                        open.push(FsObject {
                            dir: p.last() == Some(&"FSObjectDir"),
                            path: attr(attrs, "Path").to_string(),
                            source_expanded_path: attr(attrs, "SourceExpandedPath").to_string(),
                            location: (!location.is_empty()).then(|| location.to_string()),
                            re_evaluate_function: (!function.is_empty())
                                .then(|| function.to_string()),
                            objects: Vec::new(),
                        });
                        &[
                            "Path",
                            "SourceExpandedPath",
                            "Location",
                            "ReEvaluateFunction",
                        ]
                    }
                    _ => {
                        out.first_unknown
                            .get_or_insert_with(|| format!("<{}>", p.join("/")));
                        &[]
                    }
                };
                let unknown_attr = attrs.iter().find(|(k, _)| {
                    !xml::is_namespace_declaration(k) && !known_attrs.contains(&xml::local(k))
                });
                if let Some((k, _)) = unknown_attr {
                    out.first_unknown
                        .get_or_insert_with(|| format!("the attribute {k} of <{}>", p.join("/")));
                }
            }
            Node::Close { path, text } => {
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let text = text.trim().to_string();
                match p.as_slice() {
                    [_, "GroupPolicyObject", "GroupPolicyCoreSettings", field] => match *field {
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
                    },
                    [_, "GroupPolicyObject", "SecurityGroups", "Group", field] => {
                        if let Some(g) = out.security_groups.last_mut() {
                            match *field {
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
                    [_, "GroupPolicyObject", "FilePaths", "Path"] => out.file_paths.push(text),
                    [_, "GroupPolicyObject", "GroupPolicyExtension", objects @ ..]
                        if !objects.is_empty() && objects.iter().all(|n| is_fs_object(n)) =>
                    {
                        if let Some(done) = open.pop() {
                            match open.last_mut() {
                                Some(parent) => parent.objects.push(done),
                                None => {
                                    if let Some(ext) = out.extensions.last_mut() {
                                        ext.objects.push(done);
                                    }
                                }
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

/// The XML declaration, GPMC's comment and the root start tag, on one line as GPMC
/// writes them.
const HEADER: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8"?><!-- Copyright (c) Microsoft Corporation.  All rights reserved. -->"#,
    r#"<GroupPolicyBackupScheme bkp:version="2.0" bkp:type="GroupPolicyBackupTemplate" xmlns:bkp="http://www.microsoft.com/GroupPolicy/GPOOperations" xmlns="http://www.microsoft.com/GroupPolicy/GPOOperations">"#
);

/// Backup.xml: UTF-8 without BOM, CRLF, in GPMC's layout: the declaration, comment
/// and root start tag on one line; the GPO's settings on the next; each extension
/// but the last pretty-printed, followed by a blank line; the last one (GPMC's
/// "Unknown Extension") on the line that closes the GPO. The Registry extension
/// keeps GPMC's two slots for the machine and user registry.pol, blank when absent.
pub fn write(b: &BackupXml) -> Vec<u8> {
    let mut lines = vec![HEADER.to_string()];
    let mut gpo = String::from("    <GroupPolicyObject>");
    if b.security_groups.is_empty() {
        gpo.push_str("<SecurityGroups/>");
    } else {
        gpo.push_str("<SecurityGroups>");
        for g in &b.security_groups {
            match g.source.as_str() {
                "" => gpo.push_str("<Group>"),
                s => gpo.push_str(&format!(r#"<Group bkp:Source="{}">"#, text(s))),
            }
            let values = [
                &g.sid,
                &g.sam_account_name,
                &g.kind,
                &g.netbios_domain_name,
                &g.dns_domain_name,
                &g.upn,
            ];
            for (name, value) in GROUP_FIELDS.iter().zip(values) {
                gpo.push_str(&element(name, value));
            }
            gpo.push_str("</Group>");
        }
        gpo.push_str("</SecurityGroups>");
    }
    if b.file_paths.is_empty() {
        gpo.push_str("<FilePaths/>");
    } else {
        gpo.push_str("<FilePaths>");
        for p in &b.file_paths {
            gpo.push_str(&element("Path", p));
        }
        gpo.push_str("</FilePaths>");
    }
    gpo.push_str("<GroupPolicyCoreSettings>");
    let descriptor = match b.security_descriptor.as_str() {
        "" => "<SecurityDescriptor/>".to_string(),
        sd => format!("<SecurityDescriptor>{}</SecurityDescriptor>", text(sd)),
    };
    for name in CORE_SETTINGS {
        gpo.push_str(&match name {
            "ID" => element(name, &b.gpo_id),
            "Domain" => element(name, &b.domain),
            "SecurityDescriptor" => descriptor.clone(),
            "DisplayName" => element(name, &b.display_name),
            "Options" => element(name, &b.options.to_string()),
            "UserVersionNumber" => element(name, &b.user_version.to_string()),
            "MachineVersionNumber" => element(name, &b.machine_version.to_string()),
            "MachineExtensionGuids" => element(name, &b.machine_extension_guids),
            "UserExtensionGuids" => element(name, &b.user_extension_guids),
            _ => element(name, &b.wmi_filter),
        });
    }
    gpo.push_str("</GroupPolicyCoreSettings> ");
    lines.push(gpo);
    match b.extensions.split_last() {
        Some((last, pretty)) => {
            for ext in pretty {
                lines.push(format!("        {}", extension_start(ext)));
                for object in extension_lines(ext) {
                    lines.push(format!("            {object}"));
                }
                lines.push("        </GroupPolicyExtension>".to_string());
                lines.push("        ".to_string());
            }
            let objects: String = last.objects.iter().map(fs_object).collect();
            lines.push(format!(
                "    {}{objects}</GroupPolicyExtension></GroupPolicyObject>",
                extension_start(last)
            ));
        }
        None => lines.push("    </GroupPolicyObject>".to_string()),
    }
    lines.push("</GroupPolicyBackupScheme>".to_string());
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out.into_bytes()
}

/// `<name>value</name>` in CDATA, or `<name/>` when empty, as GPMC writes values.
fn element(name: &str, value: &str) -> String {
    if value.is_empty() {
        format!("<{name}/>")
    } else {
        format!("<{name}>{}</{name}>", cdata(value))
    }
}

fn extension_start(ext: &BackupExtension) -> String {
    format!(
        r#"<GroupPolicyExtension bkp:ID="{}" bkp:DescName="{}">"#,
        text(&ext.id),
        text(&ext.desc_name)
    )
}

/// One line per object; the Registry extension starts with its registry.pol slots.
fn extension_lines(ext: &BackupExtension) -> Vec<String> {
    if !ext.id.eq_ignore_ascii_case(REGISTRY_CSE) {
        return ext.objects.iter().map(fs_object).collect();
    }
    let is = |o: &FsObject, path: &str| !o.dir && o.path.eq_ignore_ascii_case(path);
    let slot = |path: &str| {
        ext.objects
            .iter()
            .find(|o| is(o, path))
            .map(fs_object)
            .unwrap_or_default()
    };
    let mut lines = vec![slot(MACHINE_POL_PATH), slot(USER_POL_PATH)];
    lines.extend(
        ext.objects
            .iter()
            .filter(|o| !is(o, MACHINE_POL_PATH) && !is(o, USER_POL_PATH))
            .map(fs_object),
    );
    lines
}

fn fs_object(o: &FsObject) -> String {
    let name = if o.dir { "FSObjectDir" } else { "FSObjectFile" };
    let mut s = format!(r#"<{name} bkp:Path="{}""#, text(&o.path));
    if !o.source_expanded_path.is_empty() {
        s.push_str(&format!(
            r#" bkp:SourceExpandedPath="{}""#,
            text(&o.source_expanded_path)
        ));
    }
    if let Some(f) = &o.re_evaluate_function {
        s.push_str(&format!(r#" bkp:ReEvaluateFunction="{}""#, text(f)));
    }
    if let Some(l) = &o.location {
        s.push_str(&format!(r#" bkp:Location="{}""#, text(l)));
    }
    if o.objects.is_empty() {
        s.push_str("/>");
    } else {
        s.push('>');
        s.extend(o.objects.iter().map(fs_object));
        s.push_str(&format!("</{name}>"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_that_is_not_one_is_refused() {
        let e = parse(
            b"<GroupPolicyBackupScheme><GroupPolicyObject><GroupPolicyCoreSettings><MachineVersionNumber>x</MachineVersionNumber></GroupPolicyCoreSettings></GroupPolicyObject></GroupPolicyBackupScheme>",
            "Backup.xml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("MachineVersionNumber"), "{e}");
    }

    /// Every real Backup.xml in tests/data reads back to itself after `write`, and
    /// holds nothing `write` would drop.
    #[test]
    fn real_backups_survive_a_rewrite() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut seen = 0;
        for set in ["nsa-cert", "disa-horizon", "disa-ie11"] {
            for entry in std::fs::read_dir(data.join(set)).unwrap() {
                let path = entry.unwrap().path().join("Backup.xml");
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let read = parse(&bytes, "Backup.xml").unwrap();
                assert_eq!(read.first_unknown, None, "{}", path.display());
                assert_eq!(parse(&write(&read), "again").unwrap(), read);
                seen += 1;
            }
        }
        assert_eq!(seen, 3);
    }

    /// [`BackupXml::list`] of a GPO's folder, walked as `certgpo backup` walks it, gives
    /// the entries of the real GPMC backups of that folder, in their order.
    #[test]
    fn listing_a_folder_gives_what_gpmc_wrote() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let cases: [(&str, &[(&str, bool)]); 2] = [
            (
                "disa-ie11/{A0BC1714-C6A6-411E-8383-34182EDB6149}",
                &[
                    ("GPO.cmt", false),
                    ("GPT.INI", false),
                    ("User", true),
                    (r"User\comment.cmtx", false),
                    (r"User\Registry.pol", false),
                    (r"User\Preferences", true),
                    (r"User\Preferences\Registry", true),
                    (r"User\Preferences\Registry\Registry.xml", false),
                ],
            ),
            (
                "nsa-cert/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}",
                &[
                    ("GPT.INI", false),
                    ("Machine", true),
                    (r"Machine\Registry.pol", false),
                    (r"Machine\Microsoft", true),
                    (r"Machine\Microsoft\Windows NT", true),
                    (r"Machine\Microsoft\Windows NT\SecEdit", true),
                    (r"Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf", false),
                    (r"Machine\Scripts", true),
                    (r"Machine\Scripts\Shutdown", true),
                    (r"Machine\Scripts\Startup", true),
                    ("User", true),
                ],
            ),
        ];
        for (dir, tree) in cases {
            let real = parse(
                &std::fs::read(data.join(dir).join("Backup.xml")).unwrap(),
                "Backup.xml",
            )
            .unwrap();
            let sysvol = real.extensions[0].objects[0]
                .source_expanded_path
                .rsplit_once(r"\Machine\")
                .or_else(|| {
                    real.extensions[0].objects[0]
                        .source_expanded_path
                        .rsplit_once(r"\User\")
                })
                .unwrap()
                .0
                .to_string();
            // Only the Adm line to start with.
            let mut made = real.clone();
            made.extensions[0]
                .objects
                .retain(|o| o.path.contains("Adm"));
            made.extensions[1].objects.clear();
            for (rel, is_dir) in tree {
                made.list(&sysvol, rel, *is_dir);
            }
            let mut expected = real.extensions.clone();
            expected[0].objects.sort_by(|a, b| a.path.cmp(&b.path));
            made.extensions[0]
                .objects
                .sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(made.extensions, expected, "{dir}");
        }
        assert_eq!(location("GPT.INI"), None);
        assert_eq!(
            location(r"Machine\Registry.pol").as_deref(),
            Some(r"DomainSysvol\GPO\Machine\registry.pol")
        );
    }

    #[test]
    fn what_write_cannot_reproduce_is_named() {
        let doc = |inner: &str| {
            format!(
                "<GroupPolicyBackupScheme><GroupPolicyObject>{inner}</GroupPolicyObject></GroupPolicyBackupScheme>"
            )
        };
        let nested = doc(
            r#"<GroupPolicyExtension bkp:ID="{X}" xmlns:bkp="b"><FSObjectFile bkp:Path="a" bkp:ReEvaluateFunction="F"><FSObjectFile bkp:Path="a\b" bkp:Location="L"/></FSObjectFile></GroupPolicyExtension><FilePaths><Path>\\s\p</Path></FilePaths>"#,
        );
        let read = parse(nested.as_bytes(), "Backup.xml").unwrap();
        assert_eq!(read.first_unknown, None);
        assert_eq!(read.file_paths, [r"\\s\p"]);
        let outer = &read.extensions[0].objects[0];
        assert_eq!(outer.re_evaluate_function.as_deref(), Some("F"));
        assert_eq!(outer.objects[0].location.as_deref(), Some("L"));
        assert_eq!(parse(&write(&read), "again").unwrap(), read);

        let odd = parse(doc("<Other><Deeper/></Other>").as_bytes(), "Backup.xml").unwrap();
        assert_eq!(
            odd.first_unknown.as_deref(),
            Some("<GroupPolicyBackupScheme/GroupPolicyObject/Other>")
        );
        let odd = parse(
            doc(r#"<GroupPolicyExtension bkp:ID="x" bkp:Extra="y"/>"#).as_bytes(),
            "Backup.xml",
        )
        .unwrap();
        assert!(odd.first_unknown.unwrap().contains("bkp:Extra"));
    }
}
