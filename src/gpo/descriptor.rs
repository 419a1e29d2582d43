//! A self-relative security descriptor (MS-DTYP 2.4.6) read from Active Directory,
//! and the file-system descriptor a GPO's SYSVOL folder gets from its container's.
//!
//! The folder mirrors the container (docs/spec/live-domain.md, SYSVOL): the owner,
//! group and control flags are kept; of the DACL, every access-allowed ACE (plain or
//! object, MS-DTYP 2.4.4.1 and 2.4.4.3) except the one for Pre-Windows 2000
//! Compatible Access, made inheritable by files and folders (the one for Creator
//! Owner inherit-only, since it means something only to children), with its
//! directory-service rights mapped to file rights. This is the conversion
//! `samba-tool gpo create` applies and `samba-tool gpo aclcheck` checks.

use crate::codec::{Reader, Short};

/// Why a security descriptor cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the security descriptor is malformed {0}")]
pub struct DescriptorError(#[from] Short);

const ACCESS_ALLOWED: u8 = 0x00;
const ACCESS_ALLOWED_OBJECT: u8 = 0x05;
const OBJECT_INHERIT: u8 = 0x01;
const CONTAINER_INHERIT: u8 = 0x02;
const INHERIT_ONLY: u8 = 0x08;
/// SE_DACL_PRESENT (MS-DTYP 2.4.6).
const DACL_PRESENT: u16 = 0x0004;
/// ACL_REVISION and ACL_REVISION_DS (MS-DTYP 2.4.5): the latter once an object ACE is in.
const ACL_REVISION: u8 = 2;
const ACL_REVISION_DS: u8 = 4;

/// S-1-5-32-554, BUILTIN\Pre-Windows 2000 Compatible Access.
const SID_PREW2K: &[u8] = &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x2a, 2, 0, 0];
/// S-1-3-0, Creator Owner.
const SID_CREATOR_OWNER: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];

/// One ACE, its body after the header kept as it is apart from the mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    pub kind: u8,
    pub flags: u8,
    pub mask: u32,
    /// Everything after the mask: object type GUIDs (object ACEs) and the SID.
    pub rest: Vec<u8>,
    /// The trustee SID's bytes, found inside `rest`.
    pub sid: Vec<u8>,
}

/// A parsed security descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub revision: u8,
    pub control: u16,
    pub owner: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    /// `None` without a DACL.
    pub dacl: Option<Vec<Ace>>,
}

impl Descriptor {
    /// Read a self-relative descriptor. The SACL, if any, is not kept.
    pub fn parse(bytes: &[u8]) -> Result<Descriptor, DescriptorError> {
        let mut r = Reader::new(bytes);
        let revision = r.take(1, "revision")?[0];
        r.take(1, "Sbz1")?;
        let control = r.u16_le("control")?;
        let owner_at = r.u32_le("owner offset")?;
        let group_at = r.u32_le("group offset")?;
        let _sacl_at = r.u32_le("SACL offset")?;
        let dacl_at = r.u32_le("DACL offset")?;
        let owner = sid_at(bytes, owner_at)?;
        let group = sid_at(bytes, group_at)?;
        let dacl = if dacl_at == 0 {
            None
        } else {
            Some(acl_at(bytes, dacl_at)?)
        };
        Ok(Descriptor {
            revision,
            control,
            owner,
            group,
            dacl,
        })
    }

    /// The self-relative form: header, owner, group, DACL (no SACL).
    pub fn write(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let at = |part: Option<Vec<u8>>, body: &mut Vec<u8>| match part {
            Some(p) => {
                let offset = 20 + body.len() as u32;
                body.extend_from_slice(&p);
                offset
            }
            None => 0,
        };
        let owner = at(self.owner.clone(), &mut body);
        let group = at(self.group.clone(), &mut body);
        let dacl = at(self.dacl.as_ref().map(|aces| write_acl(aces)), &mut body);
        let mut out = vec![self.revision, 0];
        out.extend_from_slice(&self.control.to_le_bytes());
        for offset in [owner, group, 0, dacl] {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        out.extend_from_slice(&body);
        out
    }

    /// The descriptor of a GPO's SYSVOL folder for a container with this one.
    pub fn for_sysvol_folder(&self) -> Descriptor {
        let dacl = self.dacl.as_ref().map(|aces| {
            aces.iter()
                .filter(|a| {
                    matches!(a.kind, ACCESS_ALLOWED | ACCESS_ALLOWED_OBJECT) && a.sid != SID_PREW2K
                })
                .map(|a| {
                    let mut flags = a.flags | OBJECT_INHERIT | CONTAINER_INHERIT;
                    if a.sid == SID_CREATOR_OWNER {
                        flags |= INHERIT_ONLY;
                    }
                    Ace {
                        flags,
                        mask: file_rights(a.mask),
                        ..a.clone()
                    }
                })
                .collect()
        });
        Descriptor {
            control: self.control | if dacl.is_some() { DACL_PRESENT } else { 0 },
            dacl,
            ..self.clone()
        }
    }
}

/// Directory-service rights (MS-ADTS 5.1.3.2) as the file rights they grant
/// (MS-DTYP 2.4.3; file-specific bits as MS-SMB2 2.2.13.1.1 names them).
pub fn file_rights(ds: u32) -> u32 {
    const DS_CREATE_CHILD: u32 = 0x01;
    const DS_DELETE_CHILD: u32 = 0x02;
    const DS_LIST_CONTENTS: u32 = 0x04;
    const DS_READ_PROPERTY: u32 = 0x10;
    const DS_WRITE_PROPERTY: u32 = 0x20;
    const FILE_READ_DATA: u32 = 0x0001;
    const FILE_WRITE_DATA: u32 = 0x0002;
    const FILE_APPEND_DATA: u32 = 0x0004;
    const FILE_READ_EA: u32 = 0x0008;
    const FILE_WRITE_EA: u32 = 0x0010;
    const FILE_EXECUTE: u32 = 0x0020;
    const FILE_DELETE_CHILD: u32 = 0x0040;
    const FILE_READ_ATTRIBUTES: u32 = 0x0080;
    const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
    const SYNCHRONIZE: u32 = 0x0010_0000;
    const STANDARD_RIGHTS_ALL: u32 = 0x001F_0000;
    let mut mask = ds & STANDARD_RIGHTS_ALL;
    if ds & DS_READ_PROPERTY != 0 && ds & DS_LIST_CONTENTS != 0 {
        mask |= SYNCHRONIZE | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA | FILE_EXECUTE;
    }
    if ds & DS_WRITE_PROPERTY != 0 {
        mask |= SYNCHRONIZE
            | FILE_WRITE_DATA
            | FILE_APPEND_DATA
            | FILE_WRITE_EA
            | FILE_WRITE_ATTRIBUTES;
    }
    if ds & DS_CREATE_CHILD != 0 {
        mask |= FILE_WRITE_DATA | FILE_APPEND_DATA;
    }
    if ds & DS_DELETE_CHILD != 0 {
        mask |= FILE_DELETE_CHILD;
    }
    mask
}

/// The SID at `offset` (MS-DTYP 2.4.2.2), `None` for offset 0.
fn sid_at(bytes: &[u8], offset: u32) -> Result<Option<Vec<u8>>, Short> {
    if offset == 0 {
        return Ok(None);
    }
    let mut r = Reader::new(bytes);
    r.take(offset as usize, "the SID's offset")?;
    Ok(Some(read_sid(&mut r)?))
}

fn read_sid(r: &mut Reader<'_>) -> Result<Vec<u8>, Short> {
    let head = r.take(8, "SID header")?;
    let count = usize::from(head[1]);
    let subs = r.take(count * 4, "SID sub-authorities")?;
    let mut sid = head.to_vec();
    sid.extend_from_slice(subs);
    Ok(sid)
}

/// The ACL at `offset` (MS-DTYP 2.4.5).
fn acl_at(bytes: &[u8], offset: u32) -> Result<Vec<Ace>, Short> {
    let mut r = Reader::new(bytes);
    r.take(offset as usize, "the DACL's offset")?;
    let _revision = r.take(1, "ACL revision")?;
    r.take(1, "Sbz1")?;
    let size = usize::from(r.u16_le("ACL size")?);
    let count = r.u16_le("ACE count")?;
    r.take(2, "Sbz2")?;
    let mut body = Reader::new(r.take(size.saturating_sub(8), "the ACL's ACEs")?);
    let mut aces = Vec::with_capacity(usize::from(count).min(body.remaining() / 16));
    for _ in 0..count {
        let kind = body.take(1, "ACE type")?[0];
        let flags = body.take(1, "ACE flags")?[0];
        let ace_size = usize::from(body.u16_le("ACE size")?);
        let mut ace = Reader::new(body.take(ace_size.saturating_sub(4), "ACE body")?);
        let mask = ace.u32_le("ACE mask")?;
        let rest = ace.rest().to_vec();
        let sid = if kind == ACCESS_ALLOWED_OBJECT || (0x05..=0x08).contains(&kind) {
            let object_flags = ace.u32_le("object ACE flags")?;
            if object_flags & 1 != 0 {
                ace.take(16, "object type")?;
            }
            if object_flags & 2 != 0 {
                ace.take(16, "inherited object type")?;
            }
            read_sid(&mut ace)?
        } else {
            read_sid(&mut ace)?
        };
        aces.push(Ace {
            kind,
            flags,
            mask,
            rest,
            sid,
        });
    }
    Ok(aces)
}

fn write_acl(aces: &[Ace]) -> Vec<u8> {
    let revision = if aces.iter().any(|a| a.kind == ACCESS_ALLOWED_OBJECT) {
        ACL_REVISION_DS
    } else {
        ACL_REVISION
    };
    let mut body = Vec::new();
    for a in aces {
        let size = 8 + a.rest.len();
        body.push(a.kind);
        body.push(a.flags);
        body.extend_from_slice(&u16::try_from(size).unwrap_or(u16::MAX).to_le_bytes());
        body.extend_from_slice(&a.mask.to_le_bytes());
        body.extend_from_slice(&a.rest);
    }
    let mut out = vec![revision, 0];
    out.extend_from_slice(
        &u16::try_from(8 + body.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&u16::try_from(aces.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_conversion() {
        // The DACL-only descriptor certgpo writes into new backups.
        let sd = crate::gpo::security::security_descriptor();
        let d = Descriptor::parse(&sd).expect("parse");
        assert_eq!(d.write(), sd, "writes back byte for byte");
        let f = d.for_sysvol_folder();
        let aces = f.dacl.expect("dacl");
        assert!(aces.iter().all(|a| a.flags & 3 == 3));
        assert_eq!(file_rights(0x000F_00FF), 0x001F_01FF);
        assert!(Descriptor::parse(&sd[..30]).is_err());
    }
}
