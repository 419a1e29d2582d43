//! The security descriptor certgpo gives a new GPO: binary for Backup.xml, SDDL for
//! gpreport.xml (MS-DTYP 2.4.6 SECURITY_DESCRIPTOR, 2.5.1 SDDL).

/// One ACE of the GPO's DACL.
struct Ace {
    flags: u8,
    mask: u32,
    /// The "Apply Group Policy" extended right is an object ACE with this GUID.
    object: Option<[u8; 16]>,
    sid: &'static [u8],
}

// Well-known SIDs in binary form (revision, count, authority, sub-authorities).
const SID_AUTHENTICATED_USERS: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0];
const SID_ENTERPRISE_DCS: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 5, 9, 0, 0, 0];
const SID_SYSTEM: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
const SID_CREATOR_OWNER: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
const SID_BUILTIN_ADMINS: &[u8] = &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0];

/// edacfd8f-ffb3-11d1-b41d-00a0c968f939, "Apply Group Policy", in GUID byte order.
const APPLY_GROUP_POLICY: [u8; 16] = [
    0x8f, 0xfd, 0xac, 0xed, 0xb3, 0xff, 0xd1, 0x11, 0xb4, 0x1d, 0x00, 0xa0, 0xc9, 0x68, 0xf9, 0x39,
];

const FULL_CONTROL: u32 = 0x000F_00FF;
const READ: u32 = 0x0002_0094;
const CONTROL_ACCESS: u32 = 0x0000_0100;
const CONTAINER_INHERIT: u8 = 0x02;
const INHERIT_ONLY: u8 = 0x08;

/// The DACL GPMC gives a new GPO, in the shape of the real NSA-CERT descriptor (DACL
/// only, control 0x9C04), with the domain-specific Domain/Enterprise Admins replaced by
/// BUILTIN\Administrators because we do not know the domain SID. Import-GPO does not
/// copy a backup's security by default (docs/spec/windows-formats.md §4.6), so this is informational; the
/// SDDL in gpreport.xml describes the same ACEs.
pub fn security_descriptor() -> Vec<u8> {
    let aces = [
        Ace {
            flags: CONTAINER_INHERIT,
            mask: CONTROL_ACCESS,
            object: Some(APPLY_GROUP_POLICY),
            sid: SID_AUTHENTICATED_USERS,
        },
        Ace {
            flags: CONTAINER_INHERIT,
            mask: FULL_CONTROL,
            object: None,
            sid: SID_BUILTIN_ADMINS,
        },
        Ace {
            flags: CONTAINER_INHERIT,
            mask: READ,
            object: None,
            sid: SID_ENTERPRISE_DCS,
        },
        Ace {
            flags: CONTAINER_INHERIT,
            mask: READ,
            object: None,
            sid: SID_AUTHENTICATED_USERS,
        },
        Ace {
            flags: CONTAINER_INHERIT,
            mask: FULL_CONTROL,
            object: None,
            sid: SID_SYSTEM,
        },
        Ace {
            flags: CONTAINER_INHERIT | INHERIT_ONLY,
            mask: FULL_CONTROL,
            object: None,
            sid: SID_CREATOR_OWNER,
        },
    ];
    let mut body = Vec::new();
    for ace in &aces {
        let mut a = Vec::new();
        let (kind, extra) = match ace.object {
            Some(_) => (0x05u8, 4 + 16), // ACCESS_ALLOWED_OBJECT_ACE
            None => (0x00u8, 0),
        };
        let size = 8 + extra + ace.sid.len();
        a.push(kind);
        a.push(ace.flags);
        a.extend_from_slice(&(size as u16).to_le_bytes());
        a.extend_from_slice(&ace.mask.to_le_bytes());
        if let Some(guid) = ace.object {
            a.extend_from_slice(&1u32.to_le_bytes()); // ACE_OBJECT_TYPE_PRESENT
            a.extend_from_slice(&guid);
        }
        a.extend_from_slice(ace.sid);
        body.extend_from_slice(&a);
    }
    let acl_size = 8 + body.len();
    let mut sd = vec![1, 0, 0x04, 0x9c];
    sd.extend_from_slice(&[0; 12]); // no owner, group or SACL
    sd.extend_from_slice(&20u32.to_le_bytes()); // DACL right after the header
    sd.extend_from_slice(&[4, 0]); // ACL_REVISION_DS: the DACL holds an object ACE
    sd.extend_from_slice(&(acl_size as u16).to_le_bytes());
    sd.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    sd.extend_from_slice(&[0, 0]);
    sd.extend_from_slice(&body);
    sd
}

/// The same DACL in SDDL, for gpreport.xml.
pub const SECURITY_DESCRIPTOR_SDDL: &str = "D:PAI(OA;CI;CR;edacfd8f-ffb3-11d1-b41d-00a0c968f939;;AU)(A;CI;CCDCLCSWRPWPDTLOSDRCWDWO;;;BA)(A;CI;LCRPLORC;;;ED)(A;CI;LCRPLORC;;;AU)(A;CI;CCDCLCSWRPWPDTLOSDRCWDWO;;;SY)(A;CIIO;CCDCLCSWRPWPDTLOSDRCWDWO;;;CO)";

/// Lower-case hex bytes separated by spaces, as Backup.xml holds the descriptor.
pub fn security_descriptor_hex() -> String {
    hex_spaced(&security_descriptor())
}

/// A security descriptor as Backup.xml writes it: lower-case hex bytes separated by
/// spaces (docs/spec/windows-formats.md §4.2).
pub fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_is_self_consistent() {
        let sd = security_descriptor();
        let acl_size = u16::from_le_bytes([sd[22], sd[23]]) as usize;
        assert_eq!(sd.len(), 20 + acl_size);
        // Walk the ACEs by their sizes: they must add up to the ACL exactly.
        let mut off = 28;
        for _ in 0..u16::from_le_bytes([sd[24], sd[25]]) {
            off += u16::from_le_bytes([sd[off + 2], sd[off + 3]]) as usize;
        }
        assert_eq!(off, sd.len());
    }
}
