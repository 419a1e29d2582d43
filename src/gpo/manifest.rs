//! manifest.xml (docs/spec/windows-formats.md §4.4): the `BackupInst` of every backup in a backup set's folder,
//! which `Import-GPO -BackupGpoName` searches.

use super::GpoReadError;
use super::bkup_info::{BackupInst, MANIFEST_NS};
use super::xml::{self, Node};

/// Parse manifest.xml: one `BackupInst` per backup in the folder.
pub fn parse(bytes: &[u8], file: &str) -> Result<Vec<BackupInst>, GpoReadError> {
    let mut out: Vec<BackupInst> = Vec::new();
    xml::walk(bytes, file, "Backups", |node| {
        match node {
            Node::Open { path, .. } if path.len() == 2 && path[1] == "BackupInst" => {
                out.push(BackupInst::default());
            }
            Node::Close { path, text } if path.len() == 3 && path[1] == "BackupInst" => {
                if let Some(inst) = out.last_mut() {
                    inst.set(&path[2], text);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// manifest.xml at the backup root: no declaration, no final newline.
pub fn write(insts: &[BackupInst]) -> Vec<u8> {
    let mut out = format!(
        "<Backups xmlns=\"{MANIFEST_NS}\" xmlns:mfst=\"{MANIFEST_NS}\" mfst:version=\"1.0\">"
    );
    for inst in insts {
        out.push_str("<BackupInst>");
        out.push_str(&inst.body());
        out.push_str("</BackupInst>");
    }
    out.push_str("</Backups>");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_inst_per_backup() {
        let m = br#"<Backups><BackupInst><ID>{1}</ID></BackupInst><BackupInst><ID>{2}</ID></BackupInst></Backups>"#;
        let m = parse(m, "manifest.xml").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].id, "{2}");
        assert_eq!(parse(&write(&m), "again").unwrap(), m);
        let e = parse(b"<BackupInst/>", "f").unwrap_err();
        assert!(matches!(e, GpoReadError::Root { .. }), "{e}");
    }
}
