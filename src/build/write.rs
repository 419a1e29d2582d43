//! Putting a bundle on disk: checked against what `--out` holds, written atomically
//! together with its zip and lock file, and the deterministic zip itself.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{BuildError, Files};
use crate::atomic;
use crate::bundle;
use crate::text::printable;

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

/// Put the bundle in `out`, with the other outputs of the build (`--zip`, the lock
/// file), all or nothing: each is staged beside its destination, then all are committed
/// together (`crate::atomic`).
pub(super) fn write_outputs(
    files: &Files,
    out: &Path,
    others: &[(&'static str, PathBuf, Vec<u8>)],
) -> Result<(), BuildError> {
    for stale in atomic::remove_stale(&atomic::parent_dir(out)) {
        eprintln!(
            "note: removed {}, left by an interrupted certgpo run",
            printable(&stale.display().to_string())
        );
    }
    let mut staged = vec![atomic::stage_dir("--out", out, files)?];
    for (option, path, bytes) in others {
        staged.push(atomic::stage_file(option, path, bytes)?);
    }
    atomic::commit(staged)?;
    Ok(())
}

/// `--out` must be absent or an empty folder; `--force` also lets it replace an earlier
/// bundle, and nothing else (a home folder given by mistake stays whole).
pub(super) fn check_out(out: &Path, force: bool) -> Result<(), BuildError> {
    let io = |source| BuildError::Io {
        path: out.to_path_buf(),
        source,
    };
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => return Err(BuildError::OutIsFile(out.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    }
    let mut names: Vec<String> = std::fs::read_dir(out)
        .map_err(io)?
        .flatten()
        .map(|e| {
            let slash = if e.file_type().is_ok_and(|t| t.is_dir()) {
                "/"
            } else {
                ""
            };
            format!("{}{slash}", printable(&e.file_name().to_string_lossy()))
        })
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(BuildError::OutNotEmpty(out.to_path_buf()));
    }
    if is_bundle(out) {
        return Ok(());
    }
    names.sort();
    const SHOWN: usize = 5;
    let more = names.len().saturating_sub(SHOWN);
    names.truncate(SHOWN);
    let mut holds = names.join(", ");
    if more > 0 {
        holds.push_str(&format!(" and {more} more"));
    }
    Err(BuildError::OutNotBundle {
        path: out.to_path_buf(),
        holds,
    })
}

/// A folder certgpo wrote: README.txt, SHA256SUMS and gpo-backup/ (see README.md,
/// "What is in a bundle").
fn is_bundle(dir: &Path) -> bool {
    dir.join(bundle::README).is_file()
        && dir.join(bundle::SUMS_FILE).is_file()
        && dir.join(bundle::GPO_BACKUP).is_dir()
}

/// An existing `--zip` is replaced (with `--force`) only when it is a zip: a local file
/// header or, for an empty archive, the end of central directory (APPNOTE.TXT 4.3.7,
/// 4.3.16).
pub(super) fn check_zip(zip: &Path) -> Result<(), BuildError> {
    // Through the input reader: a named pipe called like the zip is not waited on.
    let is_zip = crate::input::open(zip)
        .and_then(|mut f| f.head(4).map(|m| m == b"PK\x03\x04" || m == b"PK\x05\x06"))
        .unwrap_or(false);
    match std::fs::metadata(zip) {
        Ok(m) if m.is_file() && !is_zip => Err(BuildError::ZipNotZip(zip.to_path_buf())),
        _ => Ok(()),
    }
}
