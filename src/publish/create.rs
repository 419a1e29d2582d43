//! `publish --create`: a new, empty GPO, made the way GPMC and `samba-tool gpo create`
//! make one (docs/spec/live-domain.md, the group policy container): the container
//! with its `User` and `Machine` children at version 0, then the SYSVOL folder with
//! the file-system ACL mirrored from the container's, its `Machine` and `User`
//! folders and a GPT.INI at version 0. Version 0 tells clients there is nothing to
//! apply yet; the publish that follows fills it in the usual order. A failure undoes
//! what was made, or says what is left.

use super::ad::{self, WriteError};
use super::{PublishError, gpt_with_version};
use crate::directory::Connection;
use crate::gpo::descriptor::Descriptor;
use crate::live::sysvol::{Created, Sysvol};

/// What a new GPO needs.
pub struct NewGpo<'a> {
    pub dn: &'a str,
    pub display_name: &'a str,
    /// `gPCFileSysPath`: `\\<domain>\SysVol\<domain>\Policies\{GUID}`.
    pub file_sys_path: &'a str,
    /// The folder inside the share: `SysVol\<domain>\Policies\{GUID}`.
    pub folder: &'a str,
    /// How messages name it.
    pub shown: &'a str,
}

/// What has been made so far, to undo it on failure.
#[derive(Default)]
struct Made {
    container: Option<String>,
    children: Vec<String>,
    folders: Vec<String>,
    files: Vec<String>,
}

/// Make the empty GPO.
pub async fn create(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    gpo: &NewGpo<'_>,
) -> Result<(), PublishError> {
    let mut made = Made::default();
    match steps(conn, sysvol, gpo, &mut made).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let left = undo(conn, sysvol, &made).await;
            if left.is_empty() {
                Err(e)
            } else {
                Err(PublishError::Incomplete {
                    gpo: gpo.shown.to_string(),
                    step: "creating the GPO".into(),
                    cause: e.to_string(),
                    state: format!(
                        "these parts of the new GPO could not be removed again: {}; delete the GPO in GPMC or with `samba-tool gpo del`",
                        left.join(", ")
                    ),
                })
            }
        }
    }
}

async fn steps(
    conn: &mut Connection,
    sysvol: &mut Sysvol,
    gpo: &NewGpo<'_>,
    made: &mut Made,
) -> Result<(), PublishError> {
    let refused = |what: String| PublishError::Refused(format!("{}: {what}", gpo.shown));
    let attrs = vec![
        ("objectClass", vec!["groupPolicyContainer".to_string()]),
        ("displayName", vec![gpo.display_name.to_string()]),
        ("gPCFileSysPath", vec![gpo.file_sys_path.to_string()]),
        ("gPCFunctionalityVersion", vec!["2".to_string()]),
        ("flags", vec!["0".to_string()]),
        ("versionNumber", vec!["0".to_string()]),
    ];
    write(ad::add(conn, gpo.dn, attrs).await, gpo.dn)?;
    made.container = Some(gpo.dn.to_string());
    for child in ["User", "Machine"] {
        let dn = format!("CN={child},{}", gpo.dn);
        let attrs = vec![("objectClass", vec!["container".to_string()])];
        write(ad::add(conn, &dn, attrs).await, &dn)?;
        made.children.push(dn);
    }
    let sd = conn.security_descriptor(gpo.dn)
        .await?
        .ok_or_else(|| refused("the directory gave no nTSecurityDescriptor for the new container (reading it needs the Read Permissions right)".into()))?;
    let folder_sd = Descriptor::parse(&sd)
        .map_err(|e| refused(format!("the container's nTSecurityDescriptor: {e}")))?
        .for_sysvol_folder()
        .write();
    if let Created::Exists = sysvol.mkdir(gpo.folder).await? {
        return Err(refused(format!(
            "the SYSVOL folder {} exists already",
            gpo.folder
        )));
    }
    made.folders.push(gpo.folder.to_string());
    sysvol.set_descriptor(gpo.folder, &folder_sd).await?;
    for sub in ["Machine", "User"] {
        let path = format!(r"{}\{sub}", gpo.folder);
        sysvol.mkdir(&path).await?;
        made.folders.push(path);
    }
    let gpt = format!(r"{}\GPT.INI", gpo.folder);
    sysvol
        .replace(&gpt, &gpt_with_version(None, &gpt, 0)?)
        .await?;
    made.files.push(gpt);
    Ok(())
}

fn write(result: Result<(), WriteError>, dn: &str) -> Result<(), PublishError> {
    match result {
        Ok(()) => Ok(()),
        Err(WriteError::Exists) => Err(PublishError::Refused(format!("{dn} exists already"))),
        Err(WriteError::Lost) => Err(PublishError::Refused(format!(
            "{dn}: the directory refused the new object"
        ))),
        Err(WriteError::Other(e)) => Err(e.into()),
    }
}

/// Remove what was made, newest first; what could not be removed.
async fn undo(conn: &mut Connection, sysvol: &mut Sysvol, made: &Made) -> Vec<String> {
    let mut left = Vec::new();
    for f in made.files.iter().rev() {
        if sysvol.delete(f).await.is_err() {
            left.push(f.clone());
        }
    }
    for d in made.folders.iter().rev() {
        if sysvol.rmdir(d).await.is_err() {
            left.push(d.clone());
        }
    }
    let dns = made.children.iter().rev().chain(made.container.iter());
    for dn in dns {
        if ad::delete(conn, dn).await.is_err() {
            left.push(dn.clone());
        }
    }
    left
}
