//! `registry.pol` (PReg) reading and writing (spec §1, MS-GPREG 2.2.1).
//!
//! Hand-written: the only crates for this format are unmaintained or Windows-only,
//! and the format is a few dozen lines with a reader that checks every length.

use std::cmp::Ordering;

use crate::codec::{self, Reader, Short};

pub const SIGNATURE: &[u8; 8] = b"PReg\x01\x00\x00\x00";

pub const REG_NONE: u32 = 0;
pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;
pub const REG_BINARY: u32 = 3;
pub const REG_DWORD: u32 = 4;
pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
pub const REG_MULTI_SZ: u32 = 7;
pub const REG_QWORD: u32 = 11;

/// One instruction: `[key;value;type;size;data]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// Empty for a key-only entry; `**del.x`, `**delvals.` etc. are control codes.
    pub value: String,
    pub kind: u32,
    pub data: Vec<u8>,
}

impl Entry {
    /// A key-only entry as GPMC writes it: empty name, REG_NONE, no data.
    pub fn key_only(key: impl Into<String>) -> Entry {
        Entry {
            key: key.into(),
            value: String::new(),
            kind: REG_NONE,
            data: Vec::new(),
        }
    }

    pub fn binary(key: impl Into<String>, value: impl Into<String>, data: Vec<u8>) -> Entry {
        Entry {
            key: key.into(),
            value: value.into(),
            kind: REG_BINARY,
            data,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "not a registry.pol file: it must start with \"PReg\" version 1 (50 52 65 67 01 00 00 00)"
    )]
    Signature,
    #[error("truncated registry.pol {0}")]
    Truncated(Short),
    #[error("registry.pol entry at byte offset {offset}: {what}")]
    Malformed { offset: usize, what: String },
}

impl From<Short> for PolicyError {
    fn from(s: Short) -> PolicyError {
        PolicyError::Truncated(s)
    }
}

/// Serialize entries in the order given (use [`sort_gpmc`] first to match GPMC).
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    for e in entries {
        write_entry(&mut out, e);
    }
    out
}

fn write_entry(out: &mut Vec<u8>, e: &Entry) {
    const SEMI: [u8; 2] = [b';', 0];
    out.extend_from_slice(&[b'[', 0]);
    out.extend_from_slice(&codec::utf16le_nul(&e.key));
    out.extend_from_slice(&SEMI);
    out.extend_from_slice(&codec::utf16le_nul(&e.value));
    out.extend_from_slice(&SEMI);
    out.extend_from_slice(&e.kind.to_le_bytes());
    out.extend_from_slice(&SEMI);
    // Callers keep data within the 65,535-byte limit (checked when a Blob is built).
    out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&SEMI);
    out.extend_from_slice(&e.data);
    out.extend_from_slice(&[b']', 0]);
}

/// Compare keys as GPMC orders them: path component by component, ignoring case
/// (spec §1.6; a plain string comparison fails on 5 of the 73 real files).
pub fn key_order(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('\\');
    let mut ib = b.split('\\');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = x
                    .chars()
                    .flat_map(char::to_uppercase)
                    .cmp(y.chars().flat_map(char::to_uppercase));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Sort by key the way GPMC does; values keep their order inside a key (stable sort).
pub fn sort_gpmc(entries: &mut [Entry]) {
    entries.sort_by(|a, b| key_order(&a.key, &b.key));
}

/// True when the entries are in GPMC's order.
pub fn is_gpmc_sorted(entries: &[Entry]) -> bool {
    entries
        .windows(2)
        .all(|w| key_order(&w[0].key, &w[1].key) != Ordering::Greater)
}

/// Parse a whole registry.pol. An 8-byte file (header only) is valid and empty.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, PolicyError> {
    let mut r = Reader::new(bytes);
    if bytes.len() < SIGNATURE.len() || &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(PolicyError::Signature);
    }
    r.take(SIGNATURE.len(), "header")?;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(parse_entry(&mut r)?);
    }
    Ok(out)
}

fn parse_entry(r: &mut Reader) -> Result<Entry, PolicyError> {
    let start = r.offset();
    let malformed = |offset: usize, what: &str| PolicyError::Malformed {
        offset,
        what: what.to_string(),
    };
    r.expect(&[b'[', 0], "'[' opening an entry")
        .map_err(|s| malformed(s.offset, "expected '[' (5B 00) opening an entry"))?;
    let key = read_string(r, "key path")?;
    // "If value, type, size, or data are missing ... only the registry key will be
    // created" (spec §1.5): accept `[key]` and `[key;value]` as key-only entries.
    if r.peek2() == Some([b']', 0]) {
        r.take(2, "']'")?;
        return Ok(Entry::key_only(key));
    }
    r.expect(&[b';', 0], "';' after the key")?;
    let value = read_string(r, "value name")?;
    if r.peek2() == Some([b']', 0]) {
        r.take(2, "']'")?;
        return Ok(Entry {
            value,
            ..Entry::key_only(key)
        });
    }
    r.expect(&[b';', 0], "';' after the value name")?;
    let kind = r.u32_le("value type")?;
    r.expect(&[b';', 0], "';' after the type")?;
    let size = r.u32_le("data size")? as usize;
    r.expect(&[b';', 0], "';' after the size")?;
    let data = r
        .take(size, "value data")
        .map_err(|s| {
            malformed(
                start,
                &format!("data size {size} runs past the end of the file ({s})"),
            )
        })?
        .to_vec();
    r.expect(&[b']', 0], "']' closing the entry")
        .map_err(|s| malformed(s.offset, "expected ']' (5D 00) after the data"))?;
    Ok(Entry {
        key,
        value,
        kind,
        data,
    })
}

/// Read a NUL-terminated UTF-16LE string.
fn read_string(r: &mut Reader, what: &str) -> Result<String, PolicyError> {
    let start = r.offset();
    let mut units = Vec::new();
    loop {
        let u = r.u16_le(what)?;
        if u == 0 {
            break;
        }
        units.push(u);
    }
    String::from_utf16(&units).map_err(|_| PolicyError::Malformed {
        offset: start,
        what: format!("{what} is not valid UTF-16"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let entries = vec![
            Entry::binary(r"A\B", "Blob", vec![1, 2, 3]),
            Entry::key_only(r"A\C"),
        ];
        let bytes = write(&entries);
        assert_eq!(&bytes[..8], SIGNATURE);
        assert_eq!(parse(&bytes).unwrap(), entries);
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(parse(b"PReg"), Err(PolicyError::Signature));
        assert_eq!(parse(SIGNATURE).unwrap(), vec![]);
        let mut bytes = write(&[Entry::binary("K", "V", vec![0; 4])]);
        bytes.truncate(bytes.len() - 3);
        assert!(parse(&bytes).is_err());
    }

    #[test]
    fn sorts_by_component() {
        assert_eq!(
            key_order(r"a\Windows\x", r"a\Windows Defender"),
            Ordering::Less
        );
        assert_eq!(key_order(r"A\ROOT", r"a\root"), Ordering::Equal);
        assert_eq!(key_order(r"x\CA", r"x\Disallowed"), Ordering::Less);
    }
}
