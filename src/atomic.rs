//! Outputs written whole or not at all, and never over an input.
//!
//! Every output is first staged beside its destination (a temporary file or folder in
//! the same directory, so that the final rename stays within one file system and is
//! atomic), then [`commit`] puts all of a command's outputs in place together: a bundle
//! and its zip succeed or fail as one. What a destination held before is moved aside
//! and deleted only once everything is in place, so a failure restores it.
//!
//! Temporary paths are recorded while they exist, so that the command layer's SIGINT and
//! SIGTERM handler can remove them ([`interrupted`]); a folder also holds an owner
//! marker (process id and host), so that a later run can recognise and remove what a
//! SIGKILL left behind ([`remove_stale`]).

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Prefix of a bundle folder being written.
const NEW_DIR: &str = ".certgpo-build-";
/// Prefix of the folder an earlier output waits in until the new one is in place.
const OLD_DIR: &str = ".certgpo-old-";
/// Prefix of a file being written.
const NEW_FILE: &str = ".certgpo-tmp-";
/// The owner marker inside a temporary folder: `<pid> <host>`.
const OWNER: &str = ".certgpo-owner";
/// A temporary folder older than this is stale even when its process id is in use
/// again: no certgpo run keeps one longer than it takes to write a bundle.
const STALE_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {}: the folder {} does not exist", path.display(), folder.display())]
    NoFolder {
        option: &'static str,
        path: PathBuf,
        folder: PathBuf,
    },
    #[error("{option} {} already exists", path.display())]
    Exists { option: &'static str, path: PathBuf },
    #[error("{option} {} is a folder; {option} names a file", path.display())]
    IsFolder { option: &'static str, path: PathBuf },
    #[error(
        "{option} {} is the input {input}; writing it would destroy what certgpo reads",
        path.display()
    )]
    IsInput {
        option: &'static str,
        path: PathBuf,
        /// The input as it was given: `--cert in.pem`, or a bare path for an argument.
        input: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::Diagnostic for OutputError {
    fn hint(&self) -> Option<String> {
        match self {
            OutputError::NoFolder { option, .. } => {
                Some(format!("create it, or choose another {option}"))
            }
            OutputError::Exists { option, .. } => Some(format!(
                "pass --force to replace it, or choose another {option}"
            )),
            OutputError::IsFolder { option, .. } | OutputError::IsInput { option, .. } => {
                Some(format!("choose another {option}"))
            }
            OutputError::Io { .. } => None,
        }
    }
}

/// The directory a relative or bare file name lives in.
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` made absolute with every symbolic link resolved, also when its last
/// components do not exist yet (an output about to be created): the longest existing
/// ancestor is resolved and the rest appended.
pub fn resolved(path: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Ok(rest.iter().rev().fold(real, |p, name| p.join(name)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return Ok(abs),
        }
    }
}

/// True when `a` and `b` name the same file: the same inode (a hard link counts), or
/// the same path once resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!((resolved(a), resolved(b)), (Ok(x), Ok(y)) if x == y)
}

/// Refuse a file output (`--zip`, `--output`) that is one of the `inputs` (each with
/// its option, empty for an argument), is a folder, lies in a folder that does not
/// exist, or exists while `force` is off.
pub fn check_file_output(
    option: &'static str,
    path: &Path,
    force: bool,
    inputs: &[(&'static str, &Path)],
) -> Result<(), OutputError> {
    if let Some((input_option, input)) = inputs.iter().find(|(_, i)| same_file(path, i)) {
        return Err(OutputError::IsInput {
            option,
            path: path.to_path_buf(),
            input: format!("{input_option} {}", input.display())
                .trim_start()
                .to_string(),
        });
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(OutputError::IsFolder {
            option,
            path: path.to_path_buf(),
        }),
        Ok(_) if !force => Err(OutputError::Exists {
            option,
            path: path.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(_) => check_folder(option, path),
    }
}

/// The folder `path` is to be written into must exist: say so by name rather than
/// with the error of a temporary file inside it.
pub fn check_folder(option: &'static str, path: &Path) -> Result<(), OutputError> {
    let folder = parent_dir(path);
    match std::fs::metadata(&folder) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(OutputError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("{} is not a folder", folder.display())),
        }),
        Err(_) => Err(OutputError::NoFolder {
            option,
            path: path.to_path_buf(),
            folder,
        }),
    }
}

/// Write `bytes` to `path` atomically (for `option`, named in messages).
pub fn write_file(option: &'static str, path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    commit(vec![stage_file(option, path, bytes)?])
}

// ---------------------------------------------------------------------------------
// Temporary paths, removed on SIGINT/SIGTERM.

/// Temporary paths that exist now. The lock is also held while outputs are put in
/// place, so an interruption never sees half of a commit.
static PENDING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn pending() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn forget(pending: &mut BTreeSet<PathBuf>, path: &Path) {
    pending.remove(path);
}

fn remove(path: &Path) {
    // A folder may still be filled by the main thread for a moment: retry.
    for _ in 0..3 {
        let gone = match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).is_ok(),
            Ok(_) => std::fs::remove_file(path).is_ok(),
            Err(_) => true,
        };
        if gone {
            return;
        }
    }
}

/// For the command layer's SIGINT/SIGTERM handler: remove every temporary path of this
/// process, then call `exit` while still holding the lock, so that no output is put in
/// place after the clean-up.
pub fn interrupted(exit: impl FnOnce() -> Infallible) -> Infallible {
    let mut pending = pending();
    for path in std::mem::take(&mut *pending) {
        remove(&path);
    }
    exit()
}

// ---------------------------------------------------------------------------------
// Owner markers, and what a SIGKILL left behind.

fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
    }
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

fn write_owner(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join(OWNER),
        format!("{} {}\n", std::process::id(), host_name()),
    )
}

/// True when process `pid` runs on this machine.
fn alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

fn older_than_any_run(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_AFTER)
}

/// A temporary folder certgpo left: it carries the owner marker, and its process is
/// gone (same host), or it is older than any run keeps one. A folder killed between
/// its creation and its marker is empty: removed once it is that old.
fn stale(dir: &Path) -> bool {
    let marker = dir.join(OWNER);
    // Through the input reader: whatever sits in the folder, it is not waited on.
    let text = crate::input::read(&marker, crate::input::MARKER).map(String::from_utf8);
    let (Ok(Ok(text)), Ok(meta)) = (text, std::fs::symlink_metadata(&marker)) else {
        let empty = std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_none());
        return empty && std::fs::symlink_metadata(dir).is_ok_and(|m| older_than_any_run(&m));
    };
    let old = older_than_any_run(&meta);
    let mut words = text.split_whitespace();
    let dead = match (words.next().and_then(|p| p.parse().ok()), words.next()) {
        (Some(pid), Some(host)) => host == host_name() && !alive(pid),
        _ => false,
    };
    old || dead
}

/// Remove the temporary folders an interrupted certgpo left in `dir`, recognised by
/// their name and owner marker; returns their paths.
pub fn remove_stale(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name.starts_with(NEW_DIR) || name.starts_with(OLD_DIR);
        let path = entry.path();
        if ours
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && stale(&path)
            && std::fs::remove_dir_all(&path).is_ok()
        {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

// ---------------------------------------------------------------------------------
// Staging and committing.

/// An output written beside its destination, waiting for [`commit`]. Dropped without
/// a commit, it is removed.
pub struct Staged {
    option: &'static str,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let mut pending = pending();
            remove(&self.tmp);
            forget(&mut pending, &self.tmp);
        }
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    // tempfile's errors name the temporary path; the user knows only the destination.
    move |e| OutputError::Io {
        path: path.to_path_buf(),
        source: match e.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(e.kind(), e.kind().to_string()),
        },
    }
}

/// A staged file gets the permissions of any new file (0666 less the umask), not
/// tempfile's 0600: a bundle is meant to be read by whoever deploys it. An admin who
/// wants it private sets a stricter umask. (Folders already get 0777 less the umask.)
fn new_file_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(NEW_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b
}

/// Write `bytes` into a temporary file beside `dest`.
pub fn stage_file(option: &'static str, dest: &Path, bytes: &[u8]) -> Result<Staged, OutputError> {
    check_folder(option, dest)?;
    let err = io_error(dest);
    let staged = {
        let mut pending = pending();
        let file = new_file_builder()
            .tempfile_in(parent_dir(dest))
            .map_err(&err)?;
        let (file, tmp) = file.keep().map_err(|e| err(e.error))?;
        pending.insert(tmp.clone());
        (file, tmp)
    };
    let (mut file, tmp) = staged;
    let staged = Staged {
        option,
        tmp,
        dest: dest.to_path_buf(),
        committed: false,
    };
    file.write_all(bytes).map_err(&err)?;
    Ok(staged)
}

/// Write `files` (relative paths with `/`) into a temporary folder beside `dest`,
/// created if need be with its parents.
pub fn stage_dir(
    option: &'static str,
    dest: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Staged, OutputError> {
    let err = io_error(dest);
    let parent = parent_dir(dest);
    std::fs::create_dir_all(&parent).map_err(&err)?;
    let tmp = {
        let mut pending = pending();
        let tmp = tempfile::Builder::new()
            .prefix(NEW_DIR)
            .tempdir_in(&parent)
            .map_err(&err)?
            .keep();
        pending.insert(tmp.clone());
        tmp
    };
    let staged = Staged {
        option,
        tmp,
        dest: dest.to_path_buf(),
        committed: false,
    };
    write_owner(&staged.tmp).map_err(&err)?;
    for (rel, bytes) in files {
        let path = staged.tmp.join(rel);
        // One file at a time under the lock: an interruption removing the folder
        // meanwhile must not see it created again by create_dir_all.
        let _pending = pending();
        if !staged.tmp.exists() {
            return Err(err(std::io::ErrorKind::NotFound.into()));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(&err)?;
        }
        std::fs::write(&path, bytes).map_err(&err)?;
    }
    Ok(staged)
}

/// One output moved into place, and where what it replaced waits.
struct Placed {
    index: usize,
    aside: Option<PathBuf>,
}

/// Put every staged output in place, in order; if one fails, undo the others and
/// restore what they replaced. Nothing is deleted before all are in place.
pub fn commit(mut staged: Vec<Staged>) -> Result<(), OutputError> {
    let mut pending = pending();
    let mut placed: Vec<Placed> = Vec::new();
    let mut failure = None;
    for (index, s) in staged.iter().enumerate() {
        match put_in_place(s, &mut pending) {
            Ok(aside) => placed.push(Placed { index, aside }),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failure {
        for p in placed.iter().rev() {
            undo(&staged[p.index], p.aside.as_deref());
        }
        for p in &placed {
            if let Some(aside) = &p.aside {
                remove(aside);
                forget(&mut pending, aside);
            }
        }
        return Err(e);
    }
    for p in &placed {
        if let Some(aside) = &p.aside {
            remove(aside);
            forget(&mut pending, aside);
        }
    }
    for s in &mut staged {
        forget(&mut pending, &s.tmp);
        s.committed = true;
    }
    Ok(())
}

/// Move what `s.dest` holds aside (into a marked folder beside it), then the staged
/// output into place; on failure put the old one back.
fn put_in_place(
    s: &Staged,
    pending: &mut BTreeSet<PathBuf>,
) -> Result<Option<PathBuf>, OutputError> {
    let err = io_error(&s.dest);
    if s.tmp.is_dir() {
        std::fs::remove_file(s.tmp.join(OWNER)).map_err(&err)?;
    }
    let aside = match std::fs::symlink_metadata(&s.dest) {
        Ok(_) => {
            let aside = tempfile::Builder::new()
                .prefix(OLD_DIR)
                .tempdir_in(parent_dir(&s.dest))
                .map_err(&err)?
                .keep();
            pending.insert(aside.clone());
            let moved =
                write_owner(&aside).and_then(|()| std::fs::rename(&s.dest, aside.join("old")));
            if let Err(e) = moved {
                remove(&aside);
                forget(pending, &aside);
                return Err(err(e));
            }
            Some(aside)
        }
        Err(_) => None,
    };
    if let Err(e) = std::fs::rename(&s.tmp, &s.dest) {
        if let Some(a) = &aside {
            let _ = std::fs::rename(a.join("old"), &s.dest);
            remove(a);
            forget(pending, a);
        }
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound => OutputError::NoFolder {
                option: s.option,
                path: s.dest.clone(),
                folder: parent_dir(&s.dest),
            },
            _ => err(e),
        });
    }
    Ok(aside)
}

/// Take a placed output out again and put back what it replaced.
fn undo(s: &Staged, aside: Option<&Path>) {
    remove(&s.dest);
    if let Some(a) = aside {
        let _ = std::fs::rename(a.join("old"), &s.dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_missing_tails_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            assert_eq!(
                resolved(&link.join("a/b")).unwrap(),
                real.canonicalize().unwrap().join("a/b")
            );
        }
    }

    #[test]
    fn a_failed_commit_restores_what_was_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("old.txt"), "old").unwrap();
        let files = BTreeMap::from([("new.txt".to_string(), b"new".to_vec())]);
        let a = stage_dir("--out", &dir, &files).unwrap();
        let b = stage_file("--zip", &tmp.path().join("z.zip"), b"zip").unwrap();
        // The zip's folder disappears between staging and commit.
        let gone = tmp.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let c = stage_file("--zip", &gone.join("z.zip"), b"zip").unwrap();
        std::fs::remove_dir_all(&gone).unwrap();
        assert!(commit(vec![a, b, c]).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("old.txt")).unwrap(), "old");
        assert!(!dir.join("new.txt").exists());
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("out")], "{left:?}");
    }
}
