//! SYSVOL over SMB 2/3, through the pure-Rust `smb` crate: NTLM with the `--user`
//! password, every message signed (MS-SMB2 3.2.4.1.1; the crate signs an
//! authenticated session and checks the server's signatures), encrypted when the
//! server offers it (`EncryptionMode::Allowed`).
//!
//! Reading: [`Sysvol::read`] reads one whole file within a limit of `src/input.rs`
//! (the size is checked from the open response, before a byte is read), and
//! [`Sysvol::list`] lists a folder; both take `&self`, so that many run at once on one
//! session (the crate's sockets have no TCP_NODELAY: each request waits out the
//! server's delayed ACK, which only requests in flight together hide). A missing file or folder is `Ok(None)`, not an
//! error: the caller decides whether that is a finding.
//!
//! Writing (the publishing side adds it here, beside the reads, on the same
//! [`Sysvol`]): write to a temporary name then rename over the target, make a folder,
//! set a security descriptor. [`Sysvol::client`] and [`Sysvol::unc`] give it the
//! crate's handle and the paths; [`SysvolError::from_smb`] maps the crate's errors.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use smb::connection::EncryptionMode;
use smb::resource::Resource;
use smb::{
    Client, ClientConfig, ConnectionConfig, DirAccessMask, Directory, FileAccessMask,
    FileCreateArgs, FileDirectoryInformation, Status, UncPath,
};

use crate::input::Limit;

mod write;
pub use write::Created;

/// The SMB port.
pub const PORT: u16 = 445;

/// Where SYSVOL is and who reads it.
#[derive(Clone)]
pub struct SmbOptions {
    /// The server as it is named in messages (the DC's host name or address).
    pub host: String,
    /// The address connected to.
    pub addr: SocketAddr,
    /// `user@domain` (UPN) or `DOMAIN\user`.
    pub user: String,
    pub password: String,
    /// The share connected at once: `SysVol`.
    pub share: String,
    /// The deadline of each SMB request (and of connecting).
    pub timeout: Duration,
}

impl std::fmt::Debug for SmbOptions {
    // The password never reaches a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SmbOptions {{ host: {:?}, addr: {}, user: {:?} }}",
            self.host, self.addr, self.user
        )
    }
}

/// What can go wrong on SYSVOL, each naming the server and the path.
#[derive(Debug, thiserror::Error)]
pub enum SysvolError {
    #[error("SYSVOL on {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("SYSVOL on {host} refused the login as {user}: {detail}")]
    Logon {
        host: String,
        user: String,
        detail: String,
    },
    #[error(
        "SYSVOL on {host} requires a user and password: --bind kerberos and anonymous binds do not reach SMB"
    )]
    NoCredentials { host: String },
    #[error("--smb-host {given}: {detail}")]
    BadHost { given: String, detail: String },
    #[error("{path} on {host}: {detail}")]
    Io {
        host: String,
        path: String,
        detail: String,
    },
    #[error("{path} on {host}: access denied")]
    Denied { host: String, path: String },
    #[error("{path} on {host}: {size} bytes; {} is at most {} bytes", .limit.kind, .limit.max)]
    TooLarge {
        host: String,
        path: String,
        size: u64,
        limit: Limit,
    },
    #[error("{path} on {host}: a folder, not a file")]
    NotAFile { host: String, path: String },
    #[error("{path} on {host}: no answer within {} s", .timeout.as_secs())]
    Timeout {
        host: String,
        path: String,
        timeout: Duration,
    },
}

impl crate::Diagnostic for SysvolError {
    fn hint(&self) -> Option<String> {
        let hint = match self {
            SysvolError::Connect { .. } => {
                "the DC serves SYSVOL on TCP port 445; --smb-host names another server (a DC of the same domain)"
            }
            SysvolError::Logon { .. } => {
                "check --user and the password; SMB takes the same account as LDAP"
            }
            SysvolError::NoCredentials { .. } => "pass --user user@domain and a password",
            SysvolError::Denied { .. } => {
                "reading a GPO's files needs the Read right on them (Authenticated Users has it by default)"
            }
            _ => return None,
        };
        Some(hint.into())
    }
}

impl SysvolError {
    /// Whether the error concerns one file or folder (access denied, too large, not a
    /// file), so that the session is still good for the next one.
    pub fn is_per_file(&self) -> bool {
        matches!(
            self,
            SysvolError::Denied { .. }
                | SysvolError::TooLarge { .. }
                | SysvolError::NotAFile { .. }
                | SysvolError::Io { .. }
        )
    }

    /// The error for `e`, met while working on `path` (empty: the connection).
    pub fn from_smb(host: &str, path: &str, e: smb::Error) -> SysvolError {
        let status = match &e {
            smb::Error::UnexpectedMessageStatus(s) | smb::Error::ReceivedErrorMessage(s, _) => {
                Some(*s)
            }
            _ => None,
        };
        match status {
            Some(Status::U32_ACCESS_DENIED) => SysvolError::Denied {
                host: host.into(),
                path: path.into(),
            },
            _ if path.is_empty() => SysvolError::Connect {
                host: host.into(),
                detail: e.to_string(),
            },
            _ => SysvolError::Io {
                host: host.into(),
                path: path.into(),
                detail: e.to_string(),
            },
        }
    }
}

/// Whether `e` says the file or folder is not there.
fn not_found(e: &smb::Error) -> bool {
    let status = match e {
        smb::Error::UnexpectedMessageStatus(s) | smb::Error::ReceivedErrorMessage(s, _) => *s,
        _ => return false,
    };
    matches!(
        status,
        Status::U32_OBJECT_NAME_NOT_FOUND | Status::U32_OBJECT_PATH_NOT_FOUND
    )
}

/// `HOST` or `HOST:PORT` of `--smb-host`; an IPv6 address in brackets.
pub fn parse_host(given: &str) -> Result<(String, u16), SysvolError> {
    let bad = |detail: &str| SysvolError::BadHost {
        given: given.into(),
        detail: detail.into(),
    };
    if let Ok(addr) = given.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    if let Ok(ip) = given.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok((ip.to_string(), PORT));
    }
    let (host, port) = match given.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be 1-65535"))?,
        ),
        None => (given, PORT),
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(bad("expected HOST or HOST:PORT"));
    }
    Ok((host.to_string(), port))
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
}

/// A signed-in SMB session to one server's shares.
pub struct Sysvol {
    client: Client,
    opts: SmbOptions,
    /// The shares connected so far, by lower-case name.
    shares: Vec<String>,
    encrypted: bool,
}

impl Sysvol {
    /// Connect to `opts.addr`, sign in (NTLM) and connect the share `opts.share`;
    /// other shares are connected on first use. Encryption is asked for first; a
    /// server that cannot encrypt gets a signed session instead.
    pub async fn connect(opts: SmbOptions) -> Result<Sysvol, SysvolError> {
        match Sysvol::open(opts.clone(), EncryptionMode::Required).await {
            Err(SysvolError::Connect { detail, .. } | SysvolError::Io { detail, .. })
                if detail.contains("ncryption") =>
            {
                Sysvol::open(opts, EncryptionMode::Allowed).await
            }
            other => other,
        }
    }

    async fn open(opts: SmbOptions, encryption: EncryptionMode) -> Result<Sysvol, SysvolError> {
        let config = ClientConfig {
            // SYSVOL is reached on the named DC itself, never through a referral.
            dfs: false,
            connection: ConnectionConfig {
                port: Some(opts.addr.port()),
                timeout: Some(opts.timeout),
                encryption_mode: encryption,
                allow_unsigned_guest_access: false,
                ..ConnectionConfig::default()
            },
            ..ClientConfig::default()
        };
        let client = Client::new(config);
        let host = opts.host.clone();
        let server = opts.addr.ip().to_string();
        let connected =
            tokio::time::timeout(opts.timeout, client.connect_to_address(&server, opts.addr)).await;
        match connected {
            Err(_) => {
                return Err(SysvolError::Connect {
                    host,
                    detail: format!("no answer within {} s", opts.timeout.as_secs()),
                });
            }
            Ok(Err(e)) => return Err(SysvolError::from_smb(&host, "", e)),
            Ok(Ok(_)) => {}
        }
        let share = opts.share.clone();
        let mut sysvol = Sysvol {
            client,
            opts,
            shares: Vec::new(),
            encrypted: encryption == EncryptionMode::Required,
        };
        sysvol.share(&share).await?;
        Ok(sysvol)
    }

    /// Whether every message is encrypted (else signed only).
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// The crate's client, for the operations this wrapper does not have yet.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server as messages name it.
    pub fn host(&self) -> &str {
        &self.opts.host
    }

    /// The UNC path of `path` (`Share\dir\file`) on the connected server.
    pub fn unc(&self, path: &str) -> Result<UncPath, SysvolError> {
        let (share, rest) = path.split_once('\\').unwrap_or((path, ""));
        let server = self.opts.addr.ip().to_string();
        let io = |detail: String| SysvolError::Io {
            host: self.opts.host.clone(),
            path: path.into(),
            detail,
        };
        let unc =
            UncPath::from_str(&format!(r"\\{server}\{share}")).map_err(|e| io(e.to_string()))?;
        Ok(if rest.is_empty() {
            unc
        } else {
            unc.with_path(rest)
        })
    }

    /// Connect the share `path` starts with (`SysVol\...`), once per share.
    pub async fn share(&mut self, path: &str) -> Result<(), SysvolError> {
        let share = share_of(path);
        if self.shares.contains(&share) {
            return Ok(());
        }
        let unc = self.unc(&share)?;
        let host = self.opts.host.clone();
        let connected = self.timed(path, async {
            self.client
                .share_connect(&unc, &self.opts.user, self.opts.password.clone())
                .await
        });
        if let Err(e) = connected.await? {
            return Err(match logon_refused(&e) {
                Some(detail) => SysvolError::Logon {
                    host,
                    user: self.opts.user.clone(),
                    detail,
                },
                None => SysvolError::from_smb(&host, "", e),
            });
        }
        self.shares.push(share);
        Ok(())
    }

    /// The share `path` starts with must have been connected ([`Sysvol::share`]).
    fn connected(&self, path: &str) -> Result<(), SysvolError> {
        let share = share_of(path);
        if self.shares.contains(&share) {
            return Ok(());
        }
        Err(SysvolError::Io {
            host: self.opts.host.clone(),
            path: path.into(),
            detail: format!("the share {share} is not connected"),
        })
    }

    async fn timed<T>(
        &self,
        path: &str,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, SysvolError> {
        tokio::time::timeout(self.opts.timeout, work)
            .await
            .map_err(|_| SysvolError::Timeout {
                host: self.opts.host.clone(),
                path: path.into(),
                timeout: self.opts.timeout,
            })
    }

    /// The whole file at `path` (`Share\dir\file`), or `None` if it is not there.
    /// A file larger than `limit` is refused from its size, before it is read.
    /// Many reads may run at once on one session (the GPOs of an audit are read so).
    pub async fn read(&self, path: &str, limit: Limit) -> Result<Option<Vec<u8>>, SysvolError> {
        self.connected(path)?;
        let host = self.opts.host.clone();
        let unc = self.unc(path)?;
        let args =
            FileCreateArgs::make_open_existing(FileAccessMask::new().with_generic_read(true));
        let opened = self
            .timed(path, self.client.create_file(&unc, &args))
            .await?;
        let resource = match opened {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(SysvolError::from_smb(&host, path, e)),
        };
        let file = match resource {
            Resource::File(f) => f,
            other => {
                let _ = close_resource(other).await;
                return Err(SysvolError::NotAFile {
                    host,
                    path: path.into(),
                });
            }
        };
        let size = smb::GetLen::get_len(&file)
            .await
            .map_err(|e| SysvolError::from_smb(&host, path, e))?;
        if size > limit.max {
            let _ = file.close().await;
            return Err(SysvolError::TooLarge {
                host,
                path: path.into(),
                size,
                limit,
            });
        }
        // `size` is at most `limit.max`, which fits in memory by the limit's definition.
        let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
        let mut at = 0usize;
        let mut failure = None;
        while at < data.len() {
            let end = data.len().min(at + 1024 * 1024);
            let Some(chunk) = data.get_mut(at..end) else {
                break;
            };
            match self
                .timed(path, file.read_block(chunk, at as u64, None, false))
                .await
            {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => at += n,
                Ok(Err(e)) => {
                    failure = Some(SysvolError::Io {
                        host: host.clone(),
                        path: path.into(),
                        detail: e.to_string(),
                    });
                    break;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let _ = file.close().await;
        if let Some(e) = failure {
            return Err(e);
        }
        data.truncate(at);
        Ok(Some(data))
    }

    /// The entries of the folder `path` (without `.` and `..`), or `None` if it is not there.
    pub async fn list(&self, path: &str) -> Result<Option<Vec<Entry>>, SysvolError> {
        self.connected(path)?;
        let host = self.opts.host.clone();
        let unc = self.unc(path)?;
        let args = FileCreateArgs::make_open_existing(
            DirAccessMask::new()
                .with_list_directory(true)
                .with_synchronize(true)
                .into(),
        );
        let opened = self
            .timed(path, self.client.create_file(&unc, &args))
            .await?;
        let dir = match opened {
            Ok(Resource::Directory(d)) => Arc::new(d),
            Ok(other) => {
                let _ = close_resource(other).await;
                return Err(SysvolError::Io {
                    host,
                    path: path.into(),
                    detail: "a file, not a folder".into(),
                });
            }
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(SysvolError::from_smb(&host, path, e)),
        };
        let listed = self
            .timed(path, async {
                let mut out = Vec::new();
                let mut stream = Directory::query::<FileDirectoryInformation>(&dir, "*").await?;
                while let Some(item) = stream.next().await {
                    let item = item?;
                    let name = item.file_name.to_string();
                    if name == "." || name == ".." {
                        continue;
                    }
                    out.push(Entry {
                        name,
                        is_dir: item.file_attributes.directory(),
                        size: item.end_of_file,
                    });
                    if out.len() > crate::input::MAX_DIR_FILES {
                        return Ok(Err(crate::input::MAX_DIR_FILES));
                    }
                }
                Ok::<_, smb::Error>(Ok(out))
            })
            .await;
        let _ = dir.close().await;
        let mut entries = listed?
            .map_err(|e| SysvolError::from_smb(&host, path, e))?
            .map_err(|max| SysvolError::Io {
                host: host.clone(),
                path: path.into(),
                detail: format!("more than {max} entries; certgpo stops there"),
            })?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(entries))
    }

    /// Log off and close the connection; a failure here changes nothing for the caller.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// The share a path inside the SYSVOL connection starts with (`SysVol\...`), in lower
/// case, as share names compare.
fn share_of(path: &str) -> String {
    path.split('\\')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Why the account was refused, when it was: the SSPI layer's own error, or the server's
/// STATUS_LOGON_FAILURE.
fn logon_refused(e: &smb::Error) -> Option<String> {
    match e {
        smb::Error::SspiError(inner) => Some(inner.to_string()),
        smb::Error::UnexpectedMessageStatus(s) | smb::Error::ReceivedErrorMessage(s, _)
            if *s == Status::U32_LOGON_FAILURE =>
        {
            Some(e.to_string())
        }
        _ => None,
    }
}

async fn close_resource(r: Resource) -> smb::Result<()> {
    match r {
        Resource::File(f) => f.close().await,
        Resource::Directory(d) => d.close().await,
        Resource::Pipe(p) => p.close().await,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_host;

    #[test]
    fn smb_hosts() {
        assert_eq!(parse_host("dc1").unwrap(), ("dc1".into(), 445));
        assert_eq!(
            parse_host("dc1.contoso.com:1445").unwrap(),
            ("dc1.contoso.com".into(), 1445)
        );
        assert_eq!(parse_host("127.0.0.2").unwrap(), ("127.0.0.2".into(), 445));
        assert_eq!(parse_host("[::1]:446").unwrap(), ("::1".into(), 446));
        assert!(parse_host("dc1:0").is_err());
        assert!(parse_host("a b").is_err());
    }
}
