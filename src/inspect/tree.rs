//! The files of one input, whatever it is: a directory (walked without following
//! links), a zip archive (read with entry-count and size limits, so a zip bomb is
//! refused before it is inflated), or a single file. Every file is read within the
//! limit of its kind (`crate::input`), chosen from its name.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::InspectError;
use crate::input::{
    self, Input, Limit, MAX_DIR_DEPTH, MAX_DIR_FILES, MAX_ZIP_ENTRIES, MAX_ZIP_TOTAL,
};

/// One input as a sorted list of relative paths (`/`-separated) that can be read.
pub struct Tree {
    /// How messages name the input: the directory, or the zip file.
    root: String,
    kind: Kind,
    files: Vec<String>,
}

enum Kind {
    Dir(PathBuf),
    Zip {
        archive: Box<zip::ZipArchive<File>>,
        /// Relative path → (entry index, declared size).
        index: BTreeMap<String, (usize, u64)>,
        /// Bytes still allowed to be inflated.
        budget: u64,
    },
}

/// The limit of a file inside a folder or zip, by its name: the kinds the walker and
/// `build --base` read, and [`input::BACKUP_FILE`] for what `--base` carries over.
fn limit_for(rel: &str) -> Limit {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "pol" => input::POLICY,
        "reg" => input::REG,
        "xml" => input::GPO_XML,
        "cer" | "crt" | "pem" | "der" | "p7b" | "p7c" => input::CERTIFICATE,
        "bin" | "blob" => input::BLOB,
        _ => input::BACKUP_FILE,
    }
}

/// What a file of that name must start with, checked before the rest is read.
fn magic_for(rel: &str) -> &'static [u8] {
    if limit_for(rel) == input::POLICY {
        crate::policy::SIGNATURE
    } else {
        b""
    }
}

impl Tree {
    /// True when `bytes` start like a zip archive (local file header or empty archive).
    pub fn is_zip(bytes: &[u8]) -> bool {
        bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
    }

    /// A folder or a zip, as `build --base` takes it; errors about `path` itself name
    /// `option`.
    pub fn open(path: &Path, option: &str) -> Result<Tree, InspectError> {
        let given = |e: input::InputError| InspectError::from(e.given_as(option));
        if input::is_dir(path).map_err(given)? {
            Tree::dir(path)
        } else {
            Tree::zip(input::open(path).map_err(given)?)
        }
    }

    pub fn dir(path: &Path) -> Result<Tree, InspectError> {
        let mut files = Vec::new();
        list_dir(path, path, 0, &mut files)?;
        files.sort();
        Ok(Tree {
            root: path.display().to_string(),
            kind: Kind::Dir(path.to_path_buf()),
            files,
        })
    }

    /// The zip `input` (opened, and perhaps sniffed, by the caller).
    pub fn zip(input: Input) -> Result<Tree, InspectError> {
        let root = input.shown().to_string();
        let zip_error = |what: String| InspectError::Zip {
            file: root.clone(),
            what,
        };
        let file = input.into_file()?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_error(e.to_string()))?;
        if archive.len() > MAX_ZIP_ENTRIES {
            return Err(zip_error(format!(
                "{} entries, more than the {MAX_ZIP_ENTRIES} certgpo reads (zip bomb?)",
                archive.len()
            )));
        }
        let mut index = BTreeMap::new();
        let mut declared: u64 = 0;
        for i in 0..archive.len() {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| zip_error(format!("entry #{}: {e}", i + 1)))?;
            if entry.is_dir() {
                continue;
            }
            let Some(name) = entry.enclosed_name() else {
                return Err(zip_error(format!(
                    "entry #{} has an unsafe name {:?} (absolute, or leaving the archive with ..)",
                    i + 1,
                    crate::text::cut(&String::from_utf8_lossy(entry.name_raw()), 100)
                )));
            };
            declared = declared.saturating_add(entry.size());
            if declared > MAX_ZIP_TOTAL {
                return Err(zip_error(format!(
                    "its entries inflate to more than {} MiB (zip bomb?); certgpo reads at most that",
                    MAX_ZIP_TOTAL / (1024 * 1024)
                )));
            }
            let rel = name
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if index.insert(rel.clone(), (i, entry.size())).is_some() {
                return Err(zip_error(format!(
                    "entry {:?} appears twice",
                    crate::text::cut(&rel, 100)
                )));
            }
        }
        let files = index.keys().cloned().collect();
        Ok(Tree {
            root,
            kind: Kind::Zip {
                archive: Box::new(archive),
                index,
                budget: MAX_ZIP_TOTAL,
            },
            files,
        })
    }

    pub fn files(&self) -> &[String] {
        &self.files
    }

    pub fn is_zip_tree(&self) -> bool {
        matches!(self.kind, Kind::Zip { .. })
    }

    /// How a message names `rel`: a path for a directory, `archive.zip!rel` in a zip.
    pub fn display(&self, rel: &str) -> String {
        match &self.kind {
            Kind::Dir(root) => root.join(rel).display().to_string(),
            Kind::Zip { .. } => format!("{}!{rel}", self.root),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// A path on disk, for files that are read by path (nested zips).
    pub fn disk_path(&self, rel: &str) -> Option<PathBuf> {
        match &self.kind {
            Kind::Dir(root) => Some(root.join(rel)),
            Kind::Zip { .. } => None,
        }
    }

    /// The size of a file without reading it (the declared size inside a zip).
    pub fn size(&self, rel: &str) -> Option<u64> {
        match &self.kind {
            Kind::Dir(root) => std::fs::symlink_metadata(root.join(rel))
                .ok()
                .map(|m| m.len()),
            Kind::Zip { index, .. } => index.get(rel).map(|(_, size)| *size),
        }
    }

    /// Find a file by path, ignoring case as Windows does.
    pub fn find(&self, rel: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.eq_ignore_ascii_case(rel))
            .map(String::as_str)
    }

    /// Read one file, within the limit of its kind.
    pub fn read(&mut self, rel: &str) -> Result<Vec<u8>, InspectError> {
        let shown = self.display(rel);
        let limit = limit_for(rel);
        match &mut self.kind {
            Kind::Dir(root) => Ok(input::open(&root.join(rel))?.read_all(limit, magic_for(rel))?),
            Kind::Zip {
                archive,
                index,
                budget,
            } => {
                let zip_error = |what: String| InspectError::Zip {
                    file: shown.clone(),
                    what,
                };
                let &(i, size) = index
                    .get(rel)
                    .ok_or_else(|| zip_error("no such entry".into()))?;
                if size > limit.max {
                    return Err(input::InputError::TooLarge {
                        path: shown,
                        limit,
                        size,
                    }
                    .into());
                }
                if size > *budget {
                    return Err(zip_error(format!(
                        "reading it would inflate more than {} MiB from this zip (zip bomb?)",
                        MAX_ZIP_TOTAL / (1024 * 1024)
                    )));
                }
                let entry = archive.by_index(i).map_err(|e| zip_error(e.to_string()))?;
                // Never trust the declared size: read at most one byte more than it.
                let mut out = Vec::with_capacity(size.min(1 << 20) as usize);
                entry
                    .take(size + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| zip_error(e.to_string()))?;
                if out.len() as u64 != size {
                    return Err(zip_error(format!(
                        "inflates to {} bytes or more but declares {size} (corrupt, or a zip bomb)",
                        out.len()
                    )));
                }
                *budget -= size;
                Ok(out)
            }
        }
    }
}

/// `gpo::folder` reads backup folders from a tree.
impl crate::gpo::folder::Source for Tree {
    type Error = InspectError;
    fn files(&self) -> &[String] {
        Tree::files(self)
    }
    fn find(&self, rel: &str) -> Option<&str> {
        Tree::find(self, rel)
    }
    fn read(&mut self, rel: &str) -> Result<Vec<u8>, InspectError> {
        Tree::read(self, rel)
    }
    fn display(&self, rel: &str) -> String {
        Tree::display(self, rel)
    }
}

fn list_dir(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<String>,
) -> Result<(), InspectError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InspectError::from(input::InputError::io(&path, source))
    };
    if depth > MAX_DIR_DEPTH {
        return Err(InspectError::Limit {
            path: dir.display().to_string(),
            what: format!("directories nested deeper than {MAX_DIR_DEPTH} levels"),
        });
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        // symlink_metadata: links are neither followed nor listed, so a loop or a
        // link out of the tree cannot be walked.
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            list_dir(root, &path, depth + 1, out)?;
        } else if meta.is_file() {
            if out.len() >= MAX_DIR_FILES {
                return Err(InspectError::Limit {
                    path: root.display().to_string(),
                    what: format!("more than {MAX_DIR_FILES} files"),
                });
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
