//! The GPMC backup of a GPO (docs/spec/windows-formats.md §4), one module per file, each with the `parse`
//! and `write` of its format, byte for byte in the shape of real GPMC output:
//! `backup_xml` (Backup.xml), `bkup_info` (bkupInfo.xml), `manifest` (manifest.xml
//! of a backup set), `gpreport` (the settings report gpreport.xml). `xml` is the
//! reader and escaping they share, `security` the GPO's default DACL, `descriptor` a
//! security descriptor read from AD and the SYSVOL folder's made from it,
//! `extension_guids` the CSE/tool GUID lists, `gpt_ini` (GPT.INI) and `gplink` (the
//! gPLink attribute) of the live GPO, and `folder` the layout of a backup
//! folder and its one reader.

pub mod backup_xml;
pub mod bkup_info;
pub mod descriptor;
pub mod extension_guids;
pub mod folder;
pub mod gplink;
pub mod gpreport;
pub mod gpt_ini;
pub mod manifest;
pub mod security;
pub mod xml;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::Short;

/// Why a GPMC XML file cannot be read.
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
    #[error(
        "{file}: elements nested more than {limit} deep at byte offset {offset}; GPMC's files are far shallower, so certgpo stops there"
    )]
    TooDeep {
        file: String,
        offset: usize,
        limit: usize,
    },
    #[error("{file}: expected the root element <{expected}>, found <{}>", crate::text::cut(.found, 100))]
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

/// Registry client-side extension (MS-GPREG 1.9).
pub const REGISTRY_CSE: &str = "{35378EAC-683F-11D2-A89A-00C04FBBCFA2}";
/// EFS Recovery client-side extension, which GPMC pairs with Public Key Policies (MS-GPEF 1.9).
pub const EFS_CSE: &str = "{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}";
/// The Public Key Policies snap-in's tool GUID for computer settings (MS-GPEF 1.9).
pub const PKI_TOOL: &str = "{53D6AB1D-2488-11D1-A28C-00C04FB94F17}";
/// The tool GUID the Default Domain Policy uses instead (docs/spec/windows-formats.md §2.4).
pub const PKI_TOOL_DEFAULT_DOMAIN: &str = "{53D6AB1B-2488-11D1-A28C-00C04FB94F17}";
/// GPMC's catch-all for files no extension claims.
pub const UNKNOWN_EXTENSION: &str = "{F15C46CD-82A0-4C2D-A210-5D0D3182A418}";
/// Exactly what GPMC registers when Public Key Policies are saved (docs/spec/windows-formats.md §2.4): the
/// (Registry CSE, Public Key tool) and (EFS recovery CSE, Public Key tool) pairs,
/// sorted by CSE GUID, as MS-GPOL requires.
pub const MACHINE_EXTENSION_GUIDS: &str = "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}][{B1BE8D72-6EAC-11D2-A4EA-00C04F79F83A}{53D6AB1D-2488-11D1-A28C-00C04FB94F17}]";

/// GPO flags (MS-GPOD): the user half is disabled because the GPO carries only
/// computer settings, which also spares clients a user-side pass.
pub const OPTIONS_USER_DISABLED: u32 = 1;

/// Everything about the GPO that the backup files repeat.
#[derive(Debug, Clone)]
pub struct GpoMeta {
    pub gpo_guid: Uuid,
    pub backup_id: Uuid,
    pub domain: String,
    pub domain_guid: Uuid,
    /// The server named in `GPODomainController` and SYSVOL paths. We do not know the
    /// real DC, so the domain name is used: it resolves to a DC in every AD domain.
    pub domain_controller: String,
    pub display_name: String,
    pub comment: String,
    pub time: OffsetDateTime,
    /// The 16-bit machine version (1 for a new GPO).
    pub machine_version: u16,
}

impl GpoMeta {
    /// `MachineVersionNumber` of Backup.xml: the version in both 16-bit halves, as in
    /// every real sample (docs/spec/windows-formats.md §4.2).
    pub fn machine_version_number(&self) -> u32 {
        gpt_ini::join_version(self.machine_version, self.machine_version)
    }
}

/// `{XXXXXXXX-...}` upper case, as GPMC writes GPO and backup ids.
pub fn braced_upper(u: &Uuid) -> String {
    format!("{{{}}}", u.hyphenated().to_string().to_ascii_uppercase())
}

/// `{xxxxxxxx-...}` lower case, as GPMC writes the domain GUID.
pub fn braced_lower(u: &Uuid) -> String {
    format!("{{{}}}", u.hyphenated())
}

/// `2016-08-05T16:52:16`: GPMC's local-time form without a zone. We write UTC.
pub fn gpmc_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_list_is_built_from_the_guids() {
        assert_eq!(
            MACHINE_EXTENSION_GUIDS,
            format!("[{REGISTRY_CSE}{PKI_TOOL}][{EFS_CSE}{PKI_TOOL}]")
        );
    }
}
