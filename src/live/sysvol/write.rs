//! The writing side of [`Sysvol`]: a file replaced whole (written under a temporary
//! name, then renamed over the target, so no reader ever sees part of it), a file
//! created only if absent (the publish lock), a file deleted, a folder made, and a
//! folder's security descriptor set.

use std::io::Cursor;

use smb::binrw_util::prelude::SizedWideString;
use smb::resource::Resource;
use smb::{
    AdditionalInfo, CreateDisposition, CreateOptions, FileAccessMask, FileAttributes,
    FileCreateArgs, FileDispositionInformation, FileRenameInformation, SecurityDescriptor, Status,
};

use super::{Sysvol, SysvolError, close_resource, not_found};

/// Access rights by number (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1.1).
const DELETE: u32 = 0x0001_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const WRITE_OWNER: u32 = 0x0008_0000;
const READ_CONTROL: u32 = 0x0002_0000;
const SYNCHRONIZE: u32 = 0x0010_0000;
const FILE_WRITE_DATA: u32 = 0x0002;
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
/// OWNER | GROUP | DACL | PROTECTED_DACL security information (MS-DTYP 2.4.7).
const SET_OWNER_GROUP_PROTECTED_DACL: u32 = 0x8000_0007;

fn mask(bits: u32) -> FileAccessMask {
    FileAccessMask::from_bytes(bits.to_le_bytes())
}

/// How a create that must not overwrite ended.
pub enum Created {
    Done,
    /// Something of that name is there already.
    Exists,
}

impl Sysvol {
    /// Open or create `path` with `args`; `Ok(None)` when the create disposition says the
    /// name must be new and it is not (or when opening a missing one).
    async fn open_with(
        &mut self,
        path: &str,
        args: FileCreateArgs,
    ) -> Result<Option<Resource>, SysvolError> {
        self.share(path).await?;
        let host = self.opts.host.clone();
        let unc = self.unc(path)?;
        match self
            .timed(path, self.client.create_file(&unc, &args))
            .await?
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if collision(&e) || not_found(&e) => Ok(None),
            Err(e) => Err(SysvolError::from_smb(&host, path, e)),
        }
    }

    /// Create the file `path` holding `bytes`, only if nothing of that name exists.
    pub async fn create_new(&mut self, path: &str, bytes: &[u8]) -> Result<Created, SysvolError> {
        let args = FileCreateArgs {
            disposition: CreateDisposition::Create,
            attributes: FileAttributes::new(),
            options: CreateOptions::new().with_non_directory_file(true),
            desired_access: mask(
                FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE | READ_CONTROL | DELETE,
            ),
        };
        let Some(resource) = self.open_with(path, args).await? else {
            return Ok(Created::Exists);
        };
        self.fill(path, resource, bytes).await?;
        Ok(Created::Done)
    }

    /// Write `bytes` into a newly created file and close it; on failure the partial
    /// file is deleted.
    async fn fill(
        &mut self,
        path: &str,
        resource: Resource,
        bytes: &[u8],
    ) -> Result<(), SysvolError> {
        let host = self.opts.host.clone();
        let Resource::File(file) = resource else {
            let _ = close_resource(resource).await;
            return Err(SysvolError::NotAFile {
                host,
                path: path.into(),
            });
        };
        let mut at = 0usize;
        let mut failure = None;
        while at < bytes.len() {
            let end = bytes.len().min(at + 1024 * 1024);
            let chunk = bytes.get(at..end).unwrap_or_default();
            match self
                .timed(path, file.write_block(chunk, at as u64, None))
                .await
            {
                Ok(Ok(0)) => {
                    failure = Some(io(&host, path, "the server accepted no bytes"));
                    break;
                }
                Ok(Ok(n)) => at += n,
                Ok(Err(e)) => {
                    failure = Some(io(&host, path, &e.to_string()));
                    break;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none()
            && let Err(e) = self
                .timed(path, file.flush())
                .await
                .and_then(|r| r.map_err(|e| io(&host, path, &e.to_string())))
        {
            failure = Some(e);
        }
        if let Some(e) = failure {
            let _ = file.set_info(FileDispositionInformation::default()).await;
            let _ = file.close().await;
            return Err(e);
        }
        file.close()
            .await
            .map_err(|e| SysvolError::from_smb(&host, path, e))
    }

    /// Replace the file `path` with `bytes` (creating it if absent): written whole under
    /// a temporary name in the same folder, then renamed over `path`. A reader sees the
    /// old file or the new one, never part of one; on failure the old file is intact
    /// and the temporary one is deleted.
    pub async fn replace(&mut self, path: &str, bytes: &[u8]) -> Result<(), SysvolError> {
        let host = self.opts.host.clone();
        let temp = format!("{path}.certgpo-{}.tmp", uuid::Uuid::new_v4().simple());
        let args = FileCreateArgs {
            disposition: CreateDisposition::Create,
            attributes: FileAttributes::new(),
            options: CreateOptions::new().with_non_directory_file(true),
            desired_access: mask(
                FILE_WRITE_DATA
                    | FILE_READ_ATTRIBUTES
                    | FILE_WRITE_ATTRIBUTES
                    | SYNCHRONIZE
                    | READ_CONTROL
                    | DELETE,
            ),
        };
        let Some(resource) = self.open_with(&temp, args).await? else {
            return Err(io(&host, &temp, "cannot create the temporary file"));
        };
        self.fill(&temp, resource, bytes).await?;
        // The rename takes the target's path inside the share.
        let inside = path.split_once('\\').map_or("", |(_, rest)| rest);
        let reopen =
            FileCreateArgs::make_open_existing(mask(DELETE | SYNCHRONIZE | FILE_READ_ATTRIBUTES));
        let Some(Resource::File(file)) = self.open_with(&temp, reopen).await? else {
            return Err(io(
                &host,
                &temp,
                "the temporary file vanished before the rename",
            ));
        };
        let rename = FileRenameInformation {
            replace_if_exists: true.into(),
            root_directory: 0,
            file_name: SizedWideString::from(inside),
        };
        let renamed = self.timed(path, file.set_info(rename)).await;
        let failure = match renamed {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(SysvolError::from_smb(&host, path, e)),
            Err(e) => Some(e),
        };
        if failure.is_some() {
            let _ = file.set_info(FileDispositionInformation::default()).await;
        }
        let _ = file.close().await;
        failure.map_or(Ok(()), Err)
    }

    /// Delete the file `path`; `Ok(false)` if it was not there.
    pub async fn delete(&mut self, path: &str) -> Result<bool, SysvolError> {
        let host = self.opts.host.clone();
        let args = FileCreateArgs::make_open_existing(mask(DELETE | SYNCHRONIZE));
        let Some(resource) = self.open_with(path, args).await? else {
            return Ok(false);
        };
        let Resource::File(file) = resource else {
            let _ = close_resource(resource).await;
            return Err(SysvolError::NotAFile {
                host,
                path: path.into(),
            });
        };
        let deleted = self
            .timed(path, file.set_info(FileDispositionInformation::default()))
            .await;
        let _ = file.close().await;
        match deleted? {
            Ok(()) => Ok(true),
            Err(e) => Err(SysvolError::from_smb(&host, path, e)),
        }
    }

    /// Make the folder `path`; `Created::Exists` if something of that name is there.
    pub async fn mkdir(&mut self, path: &str) -> Result<Created, SysvolError> {
        let args = FileCreateArgs {
            disposition: CreateDisposition::Create,
            attributes: FileAttributes::new().with_directory(true),
            options: CreateOptions::new().with_directory_file(true),
            desired_access: mask(FILE_READ_ATTRIBUTES | SYNCHRONIZE),
        };
        let Some(resource) = self.open_with(path, args).await? else {
            return Ok(Created::Exists);
        };
        let host = self.opts.host.clone();
        close_resource(resource)
            .await
            .map_err(|e| SysvolError::from_smb(&host, path, e))?;
        Ok(Created::Done)
    }

    /// Remove the empty folder `path` (best effort, for undoing a `mkdir`).
    pub async fn rmdir(&mut self, path: &str) -> Result<(), SysvolError> {
        let args = FileCreateArgs {
            disposition: CreateDisposition::Open,
            attributes: FileAttributes::new(),
            options: CreateOptions::new().with_directory_file(true),
            desired_access: mask(DELETE | SYNCHRONIZE),
        };
        let host = self.opts.host.clone();
        let Some(resource) = self.open_with(path, args).await? else {
            return Ok(());
        };
        let Resource::Directory(dir) = resource else {
            let _ = close_resource(resource).await;
            return Err(io(&host, path, "a file, not a folder"));
        };
        let deleted = dir.set_info(FileDispositionInformation::default()).await;
        let _ = dir.close().await;
        deleted.map_err(|e| SysvolError::from_smb(&host, path, e))
    }

    /// Set the owner, group and protected DACL of `path` to those of the
    /// self-relative descriptor `descriptor` (MS-DTYP 2.4.6).
    pub async fn set_descriptor(
        &mut self,
        path: &str,
        descriptor: &[u8],
    ) -> Result<(), SysvolError> {
        use binrw::BinRead;
        let host = self.opts.host.clone();
        let sd = SecurityDescriptor::read_le(&mut Cursor::new(descriptor))
            .map_err(|e| io(&host, path, &format!("cannot encode the descriptor: {e}")))?;
        let args = FileCreateArgs::make_open_existing(mask(
            WRITE_DAC | WRITE_OWNER | READ_CONTROL | SYNCHRONIZE,
        ));
        let Some(resource) = self.open_with(path, args).await? else {
            return Err(io(&host, path, "not found"));
        };
        let info = AdditionalInfo::from_bytes(SET_OWNER_GROUP_PROTECTED_DACL.to_le_bytes());
        let set = match &resource {
            Resource::File(f) => self.timed(path, f.set_security_info(sd, info)).await,
            Resource::Directory(d) => self.timed(path, d.set_security_info(sd, info)).await,
            Resource::Pipe(_) => Ok(Ok(())),
        };
        let _ = close_resource(resource).await;
        match set? {
            Ok(()) => Ok(()),
            Err(e) => Err(SysvolError::from_smb(&host, path, e)),
        }
    }
}

fn io(host: &str, path: &str, detail: &str) -> SysvolError {
    SysvolError::Io {
        host: host.into(),
        path: path.into(),
        detail: detail.into(),
    }
}

/// The name is taken (a create with disposition Create).
fn collision(e: &smb::Error) -> bool {
    matches!(
        e,
        smb::Error::UnexpectedMessageStatus(s) | smb::Error::ReceivedErrorMessage(s, _)
            if *s == Status::U32_OBJECT_NAME_COLLISION
    )
}
