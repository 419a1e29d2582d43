//! bkupInfo.xml (docs/spec/windows-formats.md §4.3): which GPO a backup folder holds, when and from where.
//! Its one `BackupInst` is also what manifest.xml lists per backup (`manifest`).

use super::xml::{self, Node, cdata};
use super::{GpoMeta, GpoReadError, braced_lower, braced_upper, gpmc_time};

/// The namespace of bkupInfo.xml and manifest.xml.
pub(super) const MANIFEST_NS: &str = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest";

/// bkupInfo.xml, and each `BackupInst` of manifest.xml (docs/spec/windows-formats.md §4.3, §4.4).
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

impl BackupInst {
    /// The backup of the GPO `meta` describes, in GPMC's spelling of each value.
    pub fn of(meta: &GpoMeta) -> BackupInst {
        BackupInst {
            gpo_guid: braced_upper(&meta.gpo_guid),
            gpo_domain: meta.domain.clone(),
            gpo_domain_guid: braced_lower(&meta.domain_guid),
            gpo_domain_controller: meta.domain_controller.clone(),
            backup_time: gpmc_time(meta.time),
            id: braced_upper(&meta.backup_id),
            comment: meta.comment.clone(),
            gpo_display_name: meta.display_name.clone(),
        }
    }

    /// Set the field a child element of `<BackupInst>` holds.
    pub(super) fn set(&mut self, element: &str, text: &str) {
        let text = text.trim().to_string();
        match element {
            "GPOGuid" => self.gpo_guid = text,
            "GPODomain" => self.gpo_domain = text,
            "GPODomainGuid" => self.gpo_domain_guid = text,
            "GPODomainController" => self.gpo_domain_controller = text,
            "BackupTime" => self.backup_time = text,
            "ID" => self.id = text,
            "Comment" => self.comment = text,
            "GPODisplayName" => self.gpo_display_name = text,
            _ => {}
        }
    }

    /// The children of `<BackupInst>`, each value in CDATA as GPMC writes them.
    pub(super) fn body(&self) -> String {
        [
            ("GPOGuid", &self.gpo_guid),
            ("GPODomain", &self.gpo_domain),
            ("GPODomainGuid", &self.gpo_domain_guid),
            ("GPODomainController", &self.gpo_domain_controller),
            ("BackupTime", &self.backup_time),
            ("ID", &self.id),
            ("Comment", &self.comment),
            ("GPODisplayName", &self.gpo_display_name),
        ]
        .iter()
        .map(|(name, value)| format!("<{name}>{}</{name}>", cdata(value)))
        .collect()
    }
}

/// Parse bkupInfo.xml.
pub fn parse(bytes: &[u8], file: &str) -> Result<BackupInst, GpoReadError> {
    let mut out = BackupInst::default();
    xml::walk(bytes, file, "BackupInst", |node| {
        if let Node::Close { path, text } = node
            && path.len() == 2
        {
            out.set(&path[1], text);
        }
        Ok(())
    })?;
    Ok(out)
}

/// bkupInfo.xml: one line, no declaration, CRLF at the end.
pub fn write(inst: &BackupInst) -> Vec<u8> {
    format!(
        "<BackupInst xmlns=\"{MANIFEST_NS}\">{}</BackupInst>\r\n",
        inst.body()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_from_cdata_and_text() {
        let b = br#"<BackupInst xmlns="x"><GPOGuid><![CDATA[{A}]]></GPOGuid><ID><![CDATA[{B}]]></ID><GPODisplayName><![CDATA[Tom's &lt;GPO&gt;]]></GPODisplayName><Comment>a &amp; b&#33;</Comment></BackupInst>"#;
        let i = parse(b, "bkupInfo.xml").unwrap();
        assert_eq!(i.gpo_guid, "{A}");
        assert_eq!(i.id, "{B}");
        assert_eq!(i.gpo_display_name, "Tom's &lt;GPO&gt;");
        assert_eq!(i.comment, "a & b!");
        assert_eq!(parse(&write(&i), "again").unwrap(), i);
    }

    #[test]
    fn malformed_xml_is_refused_with_offsets() {
        let e = parse(b"<BackupInst><ID>x</BackupInst>", "f").unwrap_err();
        assert!(matches!(e, GpoReadError::Xml { .. }), "{e}");
        let e = parse(b"<BackupInst><ID>x</ID>", "f").unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse(
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><BackupInst>&a;</BackupInst>",
            "f",
        )
        .unwrap_err();
        assert!(e.to_string().contains("DOCTYPE"), "{e}");
        assert!(parse(b"", "f").is_err());
        assert!(parse(&[0xC3, 0x28], "f").is_err());
    }
}
