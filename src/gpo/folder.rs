//! A GPMC backup folder (docs/spec/windows-formats.md §4.1): a `{backup id}` folder holding Backup.xml,
//! bkupInfo.xml, gpreport.xml and the GPO's files under `DomainSysvol\GPO`, beside
//! the manifest.xml of its backup set. The names are defined here once, and [`read`]
//! is the one reader of such a folder, for `inspect` and for `build --base`.

use std::collections::BTreeSet;

use super::GpoReadError;
use super::backup_xml::{self, BackupXml};
use super::bkup_info::{self, BackupInst};
use super::gpreport::{self, Report};

pub const BACKUP_XML: &str = "Backup.xml";
pub const BKUP_INFO: &str = "bkupInfo.xml";
pub const GPREPORT: &str = "gpreport.xml";
/// The backup set's list of backups, in the folder above the backups.
pub const MANIFEST: &str = "manifest.xml";
/// The registry.pol of each half of the GPO, which holds the certificates.
pub const MACHINE_POL: &str = "DomainSysvol/GPO/Machine/registry.pol";
pub const USER_POL: &str = "DomainSysvol/GPO/User/registry.pol";

/// A path inside the folder as Backup.xml and Windows spell it (`\` separators).
pub fn windows_path(rel: &str) -> String {
    rel.replace('/', "\\")
}

/// A path as Backup.xml spells it (`bkp:Location`), with `/` separators.
pub fn tree_path(location: &str) -> String {
    location.replace('\\', "/")
}

/// The files of one input (a directory or a zip) that a folder is read from.
pub trait Source {
    type Error: From<GpoReadError>;
    /// Every file, as `/`-separated paths relative to the input, sorted.
    fn files(&self) -> &[String];
    /// A file by path, ignoring case as Windows does.
    fn find(&self, rel: &str) -> Option<&str>;
    fn read(&mut self, rel: &str) -> Result<Vec<u8>, Self::Error>;
    /// How messages name a file of the input.
    fn display(&self, rel: &str) -> String;
}

/// A file of the folder, read, with the name messages give it.
pub struct Part<T> {
    pub value: T,
    pub shown: String,
}

/// One backup folder, read: what is missing is `None`.
pub struct BackupFolder {
    pub backup: Option<Part<BackupXml>>,
    pub info: Option<Part<BackupInst>>,
    pub report: Option<Part<Report>>,
    pub machine_pol: Option<Part<Vec<u8>>>,
    pub user_pol: Option<Part<Vec<u8>>>,
    /// Every other file under the folder, by path relative to it (not read).
    pub others: Vec<String>,
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// The backup folders among `files`: every folder holding a Backup.xml or a
/// bkupInfo.xml (relative paths, "" for the top).
pub fn backup_dirs<'a>(files: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    files
        .into_iter()
        .filter(|f| {
            let n = file_name(f);
            n.eq_ignore_ascii_case(BACKUP_XML) || n.eq_ignore_ascii_case(BKUP_INFO)
        })
        .map(|f| f.rsplit_once('/').map_or("", |(d, _)| d).to_string())
        .collect()
}

/// Read the backup folder `dir` of `src`: parse its XML files, read its registry.pol
/// files, and list the rest. The first unreadable file stops with its error.
pub fn read<S: Source>(src: &mut S, dir: &str) -> Result<BackupFolder, S::Error> {
    fn part<S: Source, T>(
        src: &mut S,
        dir: &str,
        name: &str,
        parse: impl FnOnce(&[u8], &str) -> Result<T, GpoReadError>,
    ) -> Result<Option<Part<T>>, S::Error> {
        let Some(rel) = src.find(&join(dir, name)).map(str::to_string) else {
            return Ok(None);
        };
        let bytes = src.read(&rel)?;
        let shown = src.display(&rel);
        let value = parse(&bytes, &shown)?;
        Ok(Some(Part { value, shown }))
    }
    let raw = |bytes: &[u8], _: &str| Ok(bytes.to_vec());
    let folder = BackupFolder {
        backup: part(src, dir, BACKUP_XML, backup_xml::parse)?,
        info: part(src, dir, BKUP_INFO, bkup_info::parse)?,
        report: part(src, dir, GPREPORT, gpreport::parse)?,
        machine_pol: part(src, dir, MACHINE_POL, raw)?,
        user_pol: part(src, dir, USER_POL, raw)?,
        others: Vec::new(),
    };
    let prefix = join(dir, "");
    let known = [BACKUP_XML, BKUP_INFO, GPREPORT, MACHINE_POL, USER_POL];
    let others = src
        .files()
        .iter()
        .filter_map(|f| f.strip_prefix(&prefix))
        .filter(|inner| !known.iter().any(|k| inner.eq_ignore_ascii_case(k)))
        .map(str::to_string)
        .collect();
    Ok(BackupFolder { others, ..folder })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files in memory.
    struct Files(Vec<(String, Vec<u8>)>, Vec<String>);

    impl Source for Files {
        type Error = GpoReadError;
        fn files(&self) -> &[String] {
            &self.1
        }
        fn find(&self, rel: &str) -> Option<&str> {
            self.1
                .iter()
                .find(|f| f.eq_ignore_ascii_case(rel))
                .map(String::as_str)
        }
        fn read(&mut self, rel: &str) -> Result<Vec<u8>, GpoReadError> {
            Ok(self
                .0
                .iter()
                .find(|(f, _)| f == rel)
                .map(|(_, b)| b.clone())
                .unwrap_or_default())
        }
        fn display(&self, rel: &str) -> String {
            format!("mem!{rel}")
        }
    }

    #[test]
    fn reads_the_known_files_and_lists_the_rest() {
        let files = vec![
            (
                "b/BACKUP.XML".to_string(),
                b"<GroupPolicyBackupScheme/>".to_vec(),
            ),
            (
                "b/DomainSysvol/GPO/Machine/Registry.pol".into(),
                b"PReg".to_vec(),
            ),
            (
                "b/DomainSysvol/GPO/Machine/Scripts/x.cmd".into(),
                b"x".to_vec(),
            ),
            ("other/Backup.xml".into(), b"".to_vec()),
        ];
        let names = files.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>();
        assert_eq!(
            backup_dirs(&names).into_iter().collect::<Vec<_>>(),
            ["b", "other"]
        );
        let mut src = Files(files, names);
        let folder = read(&mut src, "b").unwrap();
        assert_eq!(folder.backup.unwrap().shown, "mem!b/BACKUP.XML");
        assert!(folder.info.is_none() && folder.report.is_none() && folder.user_pol.is_none());
        assert_eq!(folder.machine_pol.unwrap().value, b"PReg");
        assert_eq!(folder.others, ["DomainSysvol/GPO/Machine/Scripts/x.cmd"]);
        // A broken file stops the reader with its own message.
        let e = read(&mut src, "other").err().unwrap();
        assert!(e.to_string().starts_with("mem!other/Backup.xml"), "{e}");
    }
}
