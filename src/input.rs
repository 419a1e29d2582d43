//! Every file certgpo reads comes through here, so that no input costs more memory
//! than it is worth and none can hang a command (issue 9, items 1 and 2):
//!
//! - only regular files are read. A device (`/dev/zero`), a socket, a folder where a
//!   file is expected, or a named pipe given by name is refused by name before a byte is
//!   read; a named pipe is opened without waiting for a writer (`O_NONBLOCK`), so the
//!   refusal is immediate. A pipe the shell handed over (`<(command)`, seen as
//!   `/dev/fd/N`) is read, under the same limit, and given up after [`PIPE_IDLE`]
//!   without data;
//! - each kind of input has its own [`Limit`]: a regular file larger than it is refused
//!   from its size alone, and at most one byte more than the limit is ever read (a file
//!   growing while read, a pipe);
//! - a format with a magic number has it read and checked first ([`Input::read_all`]),
//!   so a 2 GB file that is not a registry.pol costs 8 bytes to refuse.
//!
//! README.md, section "Input limits", lists these limits with the reasons for each;
//! keep the two in step.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What a file is expected to be, and the most certgpo reads of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The kind of file with its article, as messages name it ("a registry.pol").
    pub kind: &'static str,
    pub max: u64,
}

impl Limit {
    const fn new(kind: &'static str, max: u64) -> Limit {
        Limit { kind, max }
    }
}

// Sizes are those of what certgpo itself writes for 5,000 certificates (about 1.8 KB of
// registry.pol, 9.6 KB of .reg and 6.6 KB of gpreport.xml per certificate, measured on
// the NSA bundle), with room to spare; the largest real GPOs carry a few hundred.

/// PEM, DER or PKCS#7 (`--cert`, `--ldap-ca`, `inspect`): 5,000 PEM certificates are
/// about 9.5 MB.
pub const CERTIFICATE: Limit = Limit::new("a certificate file", 16 * MIB);
/// A bare Blob file. Windows keeps a Blob in one registry value, and registry.pol holds
/// a certificate's in at most 65,535 bytes; a megabyte is generous.
pub const BLOB: Limit = Limit::new("a Blob", MIB);
/// 5,000 certificates are about 9 MB; the benchmark's 50 MB file of 307,144 mixed
/// settings (benches/inspect.sh) still fits.
pub const POLICY: Limit = Limit::new("a registry.pol", 64 * MIB);
/// regedit's UTF-16 hex text: 5,000 certificates are about 48 MB.
pub const REG: Limit = Limit::new("a .reg file", 64 * MIB);
/// Backup.xml, bkupInfo.xml, manifest.xml, gpreport.xml: the report of 5,000
/// certificates is about 33 MB.
pub const GPO_XML: Limit = Limit::new("a GPMC XML file", 64 * MIB);
/// Any other file of a GPO backup, which `build --base` carries into the new one
/// (GptTmpl.inf, Group Policy Preferences XML, scripts).
pub const BACKUP_FILE: Limit = Limit::new("a file of a GPO backup", 64 * MIB);
/// certgpo.lock: about 400 bytes a pin.
pub const LOCK: Limit = Limit::new("a lock file", 16 * MIB);
/// `fetch --targets-file`: one target a line.
pub const TARGETS: Limit = Limit::new("a targets file", 4 * MIB);
/// `build --discover`: the JSON of `certgpo discover --json`.
pub const DISCOVER_REPORT: Limit = Limit::new("a discover report", 16 * MIB);
/// `discover --password-file`: Active Directory passwords are at most 256 characters.
pub const PASSWORD: Limit = Limit::new("a password file", 4 * KIB);
/// The owner marker certgpo leaves in its temporary folders (process id and host).
pub const MARKER: Limit = Limit::new("an owner marker", 4 * KIB);
/// `build --templates`: one tera template.
pub const TEMPLATE: Limit = Limit::new("a template", MIB);

/// Entries of one zip: a bundle of 10,000 certificates holds 20,017 files (a `.cer` and
/// a `.pem` each), a `Backup-GPO -All` of 2,000 GPOs about as many.
pub const MAX_ZIP_ENTRIES: usize = 50_000;
/// Uncompressed bytes read from one zip, all entries together (each entry also stays
/// within its own kind's limit).
pub const MAX_ZIP_TOTAL: u64 = 256 * MIB;
/// Bytes of one live GPO's SYSVOL folder that `backup` copies, all files together
/// (each file also within [`BACKUP_FILE`]), as for a zip.
pub const MAX_GPO_FOLDER_TOTAL: u64 = MAX_ZIP_TOTAL;
/// Files listed from one folder tree (or one `--cert` folder), and how deep it is walked.
pub const MAX_DIR_FILES: usize = 100_000;
pub const MAX_DIR_DEPTH: usize = 32;

/// How long a pipe may stay silent before certgpo stops waiting for it.
pub const PIPE_IDLE: Duration = Duration::from_secs(30);

/// Why an input could not be read. Each names the path (and the option that gave it,
/// see [`InputError::given_as`]).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {}", describe(.source))]
    Io { path: String, source: io::Error },
    #[error("{path}: {what}, not a file")]
    NotAFile { path: String, what: &'static str },
    #[error("{path}: a pipe; a zip is read from a file (its directory is at the end)")]
    ZipPipe { path: String },
    #[error("{path}: {size} bytes or more; {} is at most {}", .limit.kind, size_text(.limit.max))]
    TooLarge {
        path: String,
        limit: Limit,
        size: u64,
    },
    #[error("{path}: nothing came through the pipe for {} s; certgpo stopped waiting", PIPE_IDLE.as_secs())]
    Stalled { path: String },
}

impl InputError {
    /// An error opening or listing `path`.
    pub fn io(path: &Path, source: io::Error) -> InputError {
        InputError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Name the option that gave the path: `--cert missing.cer: no such file or directory`.
    pub fn given_as(mut self, option: &str) -> InputError {
        let (InputError::Io { path, .. }
        | InputError::NotAFile { path, .. }
        | InputError::ZipPipe { path }
        | InputError::TooLarge { path, .. }
        | InputError::Stalled { path }) = &mut self;
        *path = format!("{option} {path}");
        self
    }
}

impl crate::Diagnostic for InputError {
    fn hint(&self) -> Option<String> {
        match self {
            InputError::NotAFile { what, .. } if *what == FIFO => Some(
                "certgpo does not wait on named pipes: save the content to a file (process substitution, <(command), is read)".into(),
            ),
            InputError::NotAFile { what, .. } if *what == FOLDER => {
                Some("give the path of a file in it".into())
            }
            InputError::NotAFile { .. } => Some("give the path of a file".into()),
            InputError::ZipPipe { .. } => Some("save the zip to a file first".into()),
            InputError::TooLarge { .. } => Some(
                "is it the file you meant? README.md lists certgpo's input limits (\"Input limits\")".into(),
            ),
            InputError::Stalled { .. } => {
                Some("save the command's output to a file and give the file".into())
            }
            InputError::Io { .. } => None,
        }
    }
}

const FIFO: &str = "a named pipe (FIFO)";
const FOLDER: &str = "a folder";

/// An I/O error as a message part: "no such file or directory", without Rust's
/// "(os error 2)" suffix, which tells an admin nothing more.
fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "64 MiB", "4 KiB", or bytes.
fn size_text(n: u64) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// Whether `path` is a folder (links followed); an error names the path.
pub fn is_dir(path: &Path) -> Result<bool, InputError> {
    std::fs::metadata(path)
        .map(|m| m.is_dir())
        .map_err(|e| InputError::io(path, e))
}

/// Read a whole file of the given kind.
pub fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, InputError> {
    open(path)?.read_all(limit, b"")
}

/// An opened input: a regular file, or a pipe the shell handed over.
pub struct Input {
    shown: String,
    source: Source,
    /// The size fstat gave, for a regular file.
    size: Option<u64>,
    /// The bytes read so far by [`Input::head`].
    head: Vec<u8>,
}

enum Source {
    File(File),
    #[cfg(unix)]
    Pipe(File),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            #[cfg(unix)]
            Source::Pipe(f) => read_pipe(f, buf),
        }
    }
}

/// Open `path` for reading, refusing anything but a regular file or a handed-over pipe.
pub fn open(path: &Path) -> Result<Input, InputError> {
    let shown = path.display().to_string();
    // stat before open: a device is refused without being opened (opening some, a tape,
    // has effects), and a socket cannot be opened at all.
    let meta = std::fs::metadata(path).map_err(|e| InputError::io(path, e))?;
    let pipe = refuse_unless_readable(&shown, path, &meta.file_type())?;
    let file = open_nonblocking(path).map_err(|e| InputError::io(path, e))?;
    // fstat again: the path may have been replaced in between.
    let meta = file.metadata().map_err(|e| InputError::io(path, e))?;
    refuse_unless_readable(&shown, path, &meta.file_type())?;
    let source = if pipe {
        #[cfg(unix)]
        {
            Source::Pipe(file)
        }
        #[cfg(not(unix))]
        {
            Source::File(file)
        }
    } else {
        Source::File(file)
    };
    Ok(Input {
        shown,
        source,
        size: (!pipe).then_some(meta.len()),
        head: Vec::new(),
    })
}

/// `Ok(false)` for a regular file, `Ok(true)` for a handed-over pipe, else the refusal.
fn refuse_unless_readable(
    shown: &str,
    path: &Path,
    ft: &std::fs::FileType,
) -> Result<bool, InputError> {
    if ft.is_file() {
        return Ok(false);
    }
    let refuse = |what| {
        Err(InputError::NotAFile {
            path: shown.to_string(),
            what,
        })
    };
    if ft.is_dir() {
        return refuse(FOLDER);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return if handed_over(path) {
                Ok(true)
            } else {
                refuse(FIFO)
            };
        }
        if ft.is_char_device() {
            return refuse("a character device");
        }
        if ft.is_block_device() {
            return refuse("a block device");
        }
        if ft.is_socket() {
            return refuse("a socket");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    refuse("not a regular file")
}

/// A pipe this process already holds open, named through its descriptor: what bash and
/// zsh pass for `<(command)`, and `/dev/stdin`. A FIFO under any other name is someone
/// else's, with perhaps no writer ever.
#[cfg(unix)]
fn handed_over(path: &Path) -> bool {
    path.starts_with("/dev/fd")
        || path.starts_with("/proc/self/fd")
        || path == Path::new("/dev/stdin")
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO does not wait for a writer (POSIX open(2)); it has no
    // effect on a regular file. O_NOCTTY: a terminal never becomes ours.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Read a non-blocking pipe, waiting at most [`PIPE_IDLE`] for data to arrive.
#[cfg(unix)]
fn read_pipe(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut fd = libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = i32::try_from(PIPE_IDLE.as_millis()).unwrap_or(i32::MAX);
                // SAFETY: one valid pollfd, borrowed for the duration of the call.
                let ready = unsafe { libc::poll(&mut fd, 1, ms) };
                match ready {
                    0 => return Err(io::ErrorKind::TimedOut.into()),
                    n if n < 0 => {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::Interrupted {
                            return Err(e);
                        }
                    }
                    _ => {}
                }
            }
            other => return other,
        }
    }
}

impl Input {
    /// How messages name the input.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The first `n` bytes (fewer when the input is shorter), kept for [`Input::read_all`].
    pub fn head(&mut self, n: usize) -> Result<&[u8], InputError> {
        if self.head.len() < n {
            let want = (n - self.head.len()) as u64;
            let result = (&mut self.source).take(want).read_to_end(&mut self.head);
            result.map_err(|e| self.read_error(e))?;
        }
        Ok(&self.head[..n.min(self.head.len())])
    }

    /// The whole input, at most `limit.max` bytes. When `magic` is not empty and the
    /// input does not start with it, only the bytes read to find out are returned: the
    /// format's parser then reports the bad header, and the rest is never read.
    pub fn read_all(mut self, limit: Limit, magic: &[u8]) -> Result<Vec<u8>, InputError> {
        if !magic.is_empty() && self.head(magic.len())? != magic {
            return Ok(self.head);
        }
        if let Some(size) = self.size.filter(|s| *s > limit.max) {
            return Err(self.too_large(limit, size));
        }
        let mut out = std::mem::take(&mut self.head);
        // Sized once from fstat: a Vec doubling its way up would peak at twice the file.
        let expected = self.size.unwrap_or(0).min(limit.max) as usize;
        out.reserve_exact(expected.saturating_sub(out.len()));
        let room = (limit.max + 1).saturating_sub(out.len() as u64);
        let result = (&mut self.source).take(room).read_to_end(&mut out);
        result.map_err(|e| self.read_error(e))?;
        if out.len() as u64 > limit.max {
            return Err(self.too_large(limit, out.len() as u64));
        }
        Ok(out)
    }

    /// The regular file, for a reader that seeks (a zip); a pipe is refused.
    pub fn into_file(self) -> Result<File, InputError> {
        match self.source {
            Source::File(f) => Ok(f),
            #[cfg(unix)]
            Source::Pipe(_) => Err(InputError::ZipPipe { path: self.shown }),
        }
    }

    fn too_large(&self, limit: Limit, size: u64) -> InputError {
        InputError::TooLarge {
            path: self.shown.clone(),
            limit,
            size,
        }
    }

    fn read_error(&self, e: io::Error) -> InputError {
        let path = self.shown.clone();
        if e.kind() == io::ErrorKind::TimedOut {
            InputError::Stalled { path }
        } else {
            InputError::Io { path, source: e }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn messages() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "no such file or directory");
        assert_eq!(size_text(64 * MIB), "64 MiB");
        assert_eq!(size_text(4 * KIB), "4 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
        let e = read(Path::new("/nonexistent/x.cer"), CERTIFICATE).unwrap_err();
        assert_eq!(
            e.given_as("--cert").to_string(),
            "--cert /nonexistent/x.cer: no such file or directory"
        );
    }

    #[test]
    fn bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, [7u8; 4097]).unwrap();
        let e = read(&path, PASSWORD).unwrap_err().to_string();
        assert!(
            e.ends_with(": 4097 bytes or more; a password file is at most 4 KiB"),
            "{e}"
        );
        std::fs::write(&path, [7u8; 4096]).unwrap();
        assert_eq!(read(&path, PASSWORD).unwrap().len(), 4096);
        // A wrong magic: only the bytes needed to see it.
        let got = open(&path).unwrap().read_all(POLICY, b"PReg").unwrap();
        assert_eq!(got, [7u8; 4]);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_folders_are_refused() {
        let e = read(Path::new("/dev/zero"), CERTIFICATE)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "/dev/zero: a character device, not a file");
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path(), CERTIFICATE).unwrap_err().to_string();
        assert!(e.ends_with(": a folder, not a file"), "{e}");
    }
}
