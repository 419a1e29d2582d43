//! The Active Directory side of a publish: the group policy container's version and
//! extension names (one modify that fails if anyone changed the version meanwhile),
//! a new container with its children, and the
//! `gPLink` of the containers a GPO is linked to.

use std::collections::HashSet;

use ldap3::{LdapError, Mod, Scope};

use crate::directory::{Connection, DirectoryError, first_value};

/// The result code of an LDAP modify that lost a race: noSuchAttribute, the value to
/// delete is not there any more (RFC 4511 4.6).
const NO_SUCH_ATTRIBUTE: u32 = 16;
/// entryAlreadyExists.
const ALREADY_EXISTS: u32 = 68;

/// How a write failed.
#[derive(Debug)]
pub enum WriteError {
    /// The value this run read is gone: someone else changed it.
    Lost,
    /// The object exists already.
    Exists,
    Other(DirectoryError),
}

impl WriteError {
    fn from_ldap(conn: &Connection, dn: &str, e: LdapError) -> WriteError {
        match &e {
            LdapError::LdapResult { result } if result.rc == NO_SUCH_ATTRIBUTE => WriteError::Lost,
            LdapError::LdapResult { result } if result.rc == ALREADY_EXISTS => WriteError::Exists,
            _ => WriteError::Other(conn.error(dn, false, e)),
        }
    }
}

/// The outcome of one write.
fn done(
    conn: &Connection,
    dn: &str,
    result: Result<ldap3::LdapResult, LdapError>,
) -> Result<(), WriteError> {
    result
        .and_then(|r| r.success())
        .map(|_| ())
        .map_err(|e| WriteError::from_ldap(conn, dn, e))
}

/// What the container says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub version_number: Option<u32>,
    pub machine_extension_names: String,
}

/// Read the container's `versionNumber` and `gPCMachineExtensionNames`.
pub async fn container_state(
    conn: &mut Connection,
    dn: &str,
) -> Result<Option<ContainerState>, DirectoryError> {
    let found = conn
        .search(
            dn,
            Scope::Base,
            "(objectClass=groupPolicyContainer)",
            &["versionNumber", "gPCMachineExtensionNames"],
            true,
        )
        .await?;
    Ok(found
        .and_then(|entries| entries.into_iter().next())
        .map(|e| ContainerState {
            version_number: first_value(&e, "versionNumber").and_then(|v| v.trim().parse().ok()),
            machine_extension_names: first_value(&e, "gPCMachineExtensionNames")
                .unwrap_or_default()
                .to_string(),
        }))
}

/// Raise `versionNumber` from `old` to `new` and set `gPCMachineExtensionNames`, in one
/// modify: the old version is deleted by value, so the modify fails (and changes
/// nothing) when someone changed the version since this run read it.
pub async fn commit_version(
    conn: &mut Connection,
    dn: &str,
    old: u32,
    new: u32,
    extension_names: Option<&str>,
) -> Result<(), WriteError> {
    let mut mods = vec![
        Mod::Delete(
            "versionNumber".to_string(),
            HashSet::from([old.to_string()]),
        ),
        Mod::Add(
            "versionNumber".to_string(),
            HashSet::from([new.to_string()]),
        ),
    ];
    if let Some(names) = extension_names {
        mods.push(Mod::Replace(
            "gPCMachineExtensionNames".to_string(),
            HashSet::from([names.to_string()]),
        ));
    }
    let timeout = conn.timeout();
    let result = conn.ldap().with_timeout(timeout).modify(dn, mods).await;
    done(conn, dn, result)
}

/// Replace a single-valued string attribute `old` -> `new` the same way: delete by
/// value and add, or add alone when there was none (fails if one appeared meanwhile).
pub async fn swap_value(
    conn: &mut Connection,
    dn: &str,
    attr: &str,
    old: Option<&str>,
    new: &str,
) -> Result<(), WriteError> {
    let mut mods = Vec::new();
    if let Some(old) = old {
        mods.push(Mod::Delete(
            attr.to_string(),
            HashSet::from([old.to_string()]),
        ));
    }
    mods.push(Mod::Add(attr.to_string(), HashSet::from([new.to_string()])));
    let timeout = conn.timeout();
    let result = conn
        .ldap()
        .with_timeout(timeout)
        .modify(dn, mods)
        .await
        .and_then(|r| r.success());
    match result {
        // Adding a value to a single-valued attribute that has one now: someone else
        // wrote it (attributeOrValueExists 20, or constraintViolation 19).
        Err(LdapError::LdapResult { result }) if old.is_none() && matches!(result.rc, 19 | 20) => {
            Err(WriteError::Lost)
        }
        other => other
            .map(|_| ())
            .map_err(|e| WriteError::from_ldap(conn, dn, e)),
    }
}

/// Add an object with these attributes.
pub async fn add(
    conn: &mut Connection,
    dn: &str,
    attrs: Vec<(&str, Vec<String>)>,
) -> Result<(), WriteError> {
    let attrs = attrs
        .into_iter()
        .map(|(a, v)| (a, v.into_iter().map(String::into_bytes).collect()))
        .collect();
    add_binary(conn, dn, attrs).await
}

/// Add an object with these attributes, their values as bytes.
pub async fn add_binary(
    conn: &mut Connection,
    dn: &str,
    attrs: Vec<(&str, Vec<Vec<u8>>)>,
) -> Result<(), WriteError> {
    let attrs = attrs
        .into_iter()
        .map(|(a, v)| {
            (
                a.as_bytes().to_vec(),
                v.into_iter().collect::<HashSet<Vec<u8>>>(),
            )
        })
        .collect::<Vec<_>>();
    let timeout = conn.timeout();
    let result = conn.ldap().with_timeout(timeout).add(dn, attrs).await;
    done(conn, dn, result)
}

/// One modify whose values are bytes.
pub async fn modify_binary(
    conn: &mut Connection,
    dn: &str,
    mods: Vec<Mod<Vec<u8>>>,
) -> Result<(), WriteError> {
    let timeout = conn.timeout();
    let result = conn.ldap().with_timeout(timeout).modify(dn, mods).await;
    done(conn, dn, result)
}

/// Delete one object (no children).
pub async fn delete(conn: &mut Connection, dn: &str) -> Result<(), WriteError> {
    let timeout = conn.timeout();
    let result = conn.ldap().with_timeout(timeout).delete(dn).await;
    done(conn, dn, result)
}
