//! Putting a bundle on disk: atomically, and as a deterministic zip.

use std::io::Write;
use std::path::Path;

use super::{BuildError, Files};

/// A deterministic zip of the bundle: entries sorted, DOS time 1980-01-01 00:00,
/// mode 0644, deflate. The same files always give the same bytes.
pub fn zip_bytes(files: &Files) -> Result<Vec<u8>, BuildError> {
    use zip::write::SimpleFileOptions;
    let zerr = |e: zip::result::ZipError| BuildError::Zip(e.to_string());
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (path, bytes) in files {
        w.start_file(path.as_str(), options).map_err(zerr)?;
        w.write_all(bytes)
            .map_err(|e| BuildError::Zip(e.to_string()))?;
    }
    Ok(w.finish().map_err(zerr)?.into_inner())
}

/// Write `files` under `out` atomically: into a temporary directory beside `out`,
/// renamed into place at the end, so a failure leaves no partial bundle.
pub fn write_dir(files: &Files, out: &Path, force: bool) -> Result<(), BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    check_out(out, force)?;
    let parent = crate::atomic::parent_dir(out);
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".certgpo-build-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    for (rel, bytes) in files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    // Move an existing (empty, or --force) output aside first, and delete it only once
    // the new bundle is in place.
    let old = if out.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".certgpo-old-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let target = aside.path().join("old");
        std::fs::rename(out, &target).map_err(io(out))?;
        Some(aside)
    } else {
        None
    };
    let kept = tmp.keep();
    if let Err(source) = std::fs::rename(&kept, out) {
        if let Some(aside) = &old {
            let _ = std::fs::rename(aside.path().join("old"), out);
        }
        let _ = std::fs::remove_dir_all(&kept);
        return Err(BuildError::Io {
            path: out.to_path_buf(),
            source,
        });
    }
    drop(old);
    Ok(())
}

pub(super) fn check_out(out: &Path, force: bool) -> Result<(), BuildError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(BuildError::OutNotEmpty(out.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BuildError::Io {
            path: out.to_path_buf(),
            source,
        }),
    }
}

/// Write a file atomically (temporary file beside it, then rename).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    crate::atomic::write_file(path, bytes).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })
}
