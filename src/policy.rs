//! `registry.pol` (PReg) reading and writing (docs/spec/windows-formats.md §1, MS-GPREG 2.2.1).
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
/// (docs/spec/windows-formats.md §1.6; a plain string comparison fails on 5 of the 73 real
/// files).
pub fn key_order(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('\\');
    let mut ib = b.split('\\');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                // Key names are nearly always ASCII, where a byte comparison gives the
                // same order as the Unicode upper-casing at a fraction of the cost.
                let ord = if x.is_ascii() && y.is_ascii() {
                    x.bytes()
                        .map(|b| b.to_ascii_uppercase())
                        .cmp(y.bytes().map(|b| b.to_ascii_uppercase()))
                } else {
                    x.chars()
                        .flat_map(char::to_uppercase)
                        .cmp(y.chars().flat_map(char::to_uppercase))
                };
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
    entries(bytes)?.map(|e| e.map(|e| e.to_owned())).collect()
}

/// One instruction read in place: strings decoded, data borrowed from the file, so a
/// caller that keeps only some entries (inspect on a 50 MB file) copies only those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry<'a> {
    /// Byte offset of the entry's `[`, for messages.
    pub offset: usize,
    pub key: String,
    pub value: String,
    pub kind: u32,
    pub data: &'a [u8],
}

impl RawEntry<'_> {
    pub fn to_owned(&self) -> Entry {
        Entry {
            key: self.key.clone(),
            value: self.value.clone(),
            kind: self.kind,
            data: self.data.to_vec(),
        }
    }
}

/// Iterate over the instructions of a registry.pol after checking its header.
/// The iterator stops after the first error.
pub fn entries(bytes: &[u8]) -> Result<Entries<'_>, PolicyError> {
    if bytes.len() < SIGNATURE.len() || &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(PolicyError::Signature);
    }
    let mut r = Reader::new(bytes);
    r.take(SIGNATURE.len(), "header")?;
    Ok(Entries { r, failed: false })
}

pub struct Entries<'a> {
    r: Reader<'a>,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<RawEntry<'a>, PolicyError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let item = parse_entry(&mut self.r);
        self.failed = item.is_err();
        Some(item)
    }
}

fn parse_entry<'a>(r: &mut Reader<'a>) -> Result<RawEntry<'a>, PolicyError> {
    let start = r.offset();
    let malformed = |offset: usize, what: &str| PolicyError::Malformed {
        offset,
        what: what.to_string(),
    };
    r.expect(&[b'[', 0], "'[' opening an entry")
        .map_err(|s| malformed(s.offset, "expected '[' (5B 00) opening an entry"))?;
    let key = read_string(r, "key path")?;
    let key_only = |key: String, value: String| RawEntry {
        offset: start,
        key,
        value,
        kind: REG_NONE,
        data: &[],
    };
    // "If value, type, size, or data are missing ... only the registry key will be created"
    // (docs/spec/windows-formats.md §1.5): accept `[key]` and `[key;value]` as key-only
    // entries.
    if r.peek2() == Some([b']', 0]) {
        r.take(2, "']'")?;
        return Ok(key_only(key, String::new()));
    }
    r.expect(&[b';', 0], "';' after the key")
        .map_err(|s| malformed(s.offset, "expected ';' (3B 00) after the key path"))?;
    let value = read_string(r, "value name")?;
    if r.peek2() == Some([b']', 0]) {
        r.take(2, "']'")?;
        return Ok(key_only(key, value));
    }
    r.expect(&[b';', 0], "';' after the value name")
        .map_err(|s| malformed(s.offset, "expected ';' (3B 00) after the value name"))?;
    let kind = r.u32_le("value type")?;
    r.expect(&[b';', 0], "';' after the type")
        .map_err(|s| malformed(s.offset, "expected ';' (3B 00) after the value type"))?;
    let size_at = r.offset();
    let size = r.u32_le("data size")? as usize;
    r.expect(&[b';', 0], "';' after the size")
        .map_err(|s| malformed(s.offset, "expected ';' (3B 00) after the data size"))?;
    let data = r.take(size, "value data").map_err(|_| {
        malformed(
            size_at,
            &format!(
                "data size {size} is larger than the {} bytes left in the file",
                r.remaining()
            ),
        )
    })?;
    r.expect(&[b']', 0], "']' closing the entry").map_err(|s| {
        malformed(
            s.offset,
            "expected ']' (5D 00) right after the data (is the data size wrong?)",
        )
    })?;
    Ok(RawEntry {
        offset: start,
        key,
        value,
        kind,
        data,
    })
}

/// Read a NUL-terminated UTF-16LE string.
fn read_string(r: &mut Reader, what: &str) -> Result<String, PolicyError> {
    let start = r.offset();
    let len = r
        .rest()
        .chunks_exact(2)
        .position(|c| c == [0, 0])
        .ok_or_else(|| {
            PolicyError::Truncated(Short {
                offset: start,
                expected: format!("{what}: no UTF-16 NUL terminator before the end of the file"),
            })
        })?;
    let units = r.take(len * 2, what)?;
    r.take(2, "NUL terminator")?;
    codec::from_utf16le(units).ok_or_else(|| PolicyError::Malformed {
        offset: start,
        what: format!("{what} is not valid UTF-16LE (unpaired surrogate)"),
    })
}

/// What an instruction does on the client, with the `**` control codes interpreted
/// (docs/spec/windows-formats.md §1.4: MS-GPREG 3.2.5.1 and the NT4 System Policy control
/// codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the key only.
    CreateKey,
    /// Set the value (the key's default value when the name is empty).
    Set,
    /// `**del.NAME`: delete one value.
    DeleteValue(String),
    /// `**delvals.`: delete every value of the key before the following ones apply.
    DeleteAllValues,
    /// `**DeleteValues`: delete the `;`-separated values in the data.
    DeleteValues(Vec<String>),
    /// `**DeleteKeys`: delete the `;`-separated subkeys in the data.
    DeleteKeys(Vec<String>),
    /// `**SecureKey`: 1 secures the key (administrators and SYSTEM full control,
    /// users read), 0 resets its security.
    SecureKey(bool),
    /// `**soft.NAME`: set the value only if it does not already exist.
    SetIfAbsent(String),
    /// A control code Windows does not know; the client skips it.
    UnknownControl(String),
}

impl RawEntry<'_> {
    pub fn action(&self) -> Action {
        action(&self.value, self.kind, self.data)
    }
}

impl Entry {
    pub fn action(&self) -> Action {
        action(&self.value, self.kind, &self.data)
    }
}

fn action(value: &str, kind: u32, data: &[u8]) -> Action {
    let Some(code) = value.strip_prefix("**") else {
        if value.is_empty() && data.is_empty() && kind == REG_NONE {
            return Action::CreateKey;
        }
        return Action::Set;
    };
    // Windows compares control codes without regard to case.
    let lower = code.to_ascii_lowercase();
    let list = || -> Vec<String> {
        string_data(kind, data)
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    if let Some(name) = lower.strip_prefix("del.").map(|_| &code[4..]) {
        Action::DeleteValue(name.to_string())
    } else if lower == "delvals." {
        Action::DeleteAllValues
    } else if lower == "deletevalues" {
        Action::DeleteValues(list())
    } else if lower == "deletekeys" {
        Action::DeleteKeys(list())
    } else if lower == "securekey" {
        Action::SecureKey(dword_data(kind, data).is_some_and(|v| v != 0))
    } else if let Some(name) = lower.strip_prefix("soft.").map(|_| &code[5..]) {
        Action::SetIfAbsent(name.to_string())
    } else {
        Action::UnknownControl(value.to_string())
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CreateKey => f.write_str("create the key"),
            Action::Set => f.write_str("set"),
            Action::DeleteValue(v) => write!(f, "delete value {v:?}"),
            Action::DeleteAllValues => f.write_str("delete every value of the key first"),
            Action::DeleteValues(v) => write!(f, "delete values {}", quoted_list(v)),
            Action::DeleteKeys(v) => write!(f, "delete subkeys {}", quoted_list(v)),
            Action::SecureKey(true) => {
                f.write_str("secure the key (administrators and SYSTEM full control, users read)")
            }
            Action::SecureKey(false) => f.write_str("reset the key's security"),
            Action::SetIfAbsent(v) => write!(f, "set {v:?} only if it does not exist"),
            Action::UnknownControl(v) => {
                write!(f, "unknown control code {v:?} (Windows skips it)")
            }
        }
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The registry type's name, as regedit and the MS-GPREG ABNF spell it.
pub fn type_name(kind: u32) -> String {
    match kind {
        REG_NONE => "REG_NONE".into(),
        REG_SZ => "REG_SZ".into(),
        REG_EXPAND_SZ => "REG_EXPAND_SZ".into(),
        REG_BINARY => "REG_BINARY".into(),
        REG_DWORD => "REG_DWORD".into(),
        REG_DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN".into(),
        6 => "REG_LINK".into(),
        REG_MULTI_SZ => "REG_MULTI_SZ".into(),
        REG_QWORD => "REG_QWORD".into(),
        other => format!("type {other}"),
    }
}

fn string_data(kind: u32, data: &[u8]) -> Option<String> {
    if !matches!(kind, REG_SZ | REG_EXPAND_SZ) {
        return None;
    }
    let s = codec::from_utf16le(data)?;
    Some(s.trim_end_matches('\0').to_string())
}

fn dword_data(kind: u32, data: &[u8]) -> Option<u32> {
    let b: [u8; 4] = data.try_into().ok()?;
    match kind {
        REG_DWORD => Some(u32::from_le_bytes(b)),
        REG_DWORD_BIG_ENDIAN => Some(u32::from_be_bytes(b)),
        _ => None,
    }
}

/// The data as a person reads it: strings decoded, numbers in decimal and hex,
/// anything that does not fit its type shown as hex bytes.
pub fn display_data(kind: u32, data: &[u8]) -> String {
    if let Some(s) = string_data(kind, data) {
        return format!("{s:?}");
    }
    if let Some(v) = dword_data(kind, data) {
        return format!("{v} (0x{v:08X})");
    }
    if kind == REG_QWORD
        && let Ok(b) = <[u8; 8]>::try_from(data)
    {
        let v = u64::from_le_bytes(b);
        return format!("{v} (0x{v:016X})");
    }
    if kind == REG_MULTI_SZ
        && let Some(s) = codec::from_utf16le(data)
    {
        let items: Vec<String> = s
            .trim_end_matches('\0')
            .split('\0')
            .map(|i| format!("{i:?}"))
            .collect();
        return format!("[{}]", items.join(", "));
    }
    if data.is_empty() {
        return String::new();
    }
    const SHOWN: usize = 32;
    if data.len() > SHOWN {
        format!(
            "{}... ({} bytes)",
            crate::hex::upper(&data[..SHOWN]),
            data.len()
        )
    } else {
        crate::hex::upper(data)
    }
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

    #[test]
    fn control_codes() {
        let sz = |s: &str| codec::utf16le_nul(s);
        let e = |value: &str, kind: u32, data: Vec<u8>| Entry {
            key: "K".into(),
            value: value.into(),
            kind,
            data,
        };
        assert_eq!(Entry::key_only("K").action(), Action::CreateKey);
        assert_eq!(e("", REG_SZ, sz("x")).action(), Action::Set);
        assert_eq!(
            e("**del.Foo", REG_SZ, sz(" ")).action(),
            Action::DeleteValue("Foo".into())
        );
        assert_eq!(
            e("**DelVals.", REG_SZ, sz(" ")).action(),
            Action::DeleteAllValues
        );
        assert_eq!(
            e("**DeleteValues", REG_SZ, sz("a;b; c;")).action(),
            Action::DeleteValues(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            e("**DeleteKeys", REG_SZ, sz("Sub1;Sub2")).action(),
            Action::DeleteKeys(vec!["Sub1".into(), "Sub2".into()])
        );
        assert_eq!(
            e("**SecureKey", REG_DWORD, 1u32.to_le_bytes().to_vec()).action(),
            Action::SecureKey(true)
        );
        assert_eq!(
            e("**SecureKey", REG_DWORD, 0u32.to_le_bytes().to_vec()).action(),
            Action::SecureKey(false)
        );
        assert_eq!(
            e("**soft.Bar", REG_SZ, sz("1")).action(),
            Action::SetIfAbsent("Bar".into())
        );
        assert!(matches!(
            e("**what", REG_SZ, sz("1")).action(),
            Action::UnknownControl(_)
        ));
    }

    #[test]
    fn data_for_people() {
        assert_eq!(
            display_data(REG_SZ, &codec::utf16le_nul("tls1.2")),
            "\"tls1.2\""
        );
        assert_eq!(display_data(REG_DWORD, &[1, 0, 0, 0]), "1 (0x00000001)");
        assert_eq!(
            display_data(REG_MULTI_SZ, &codec::utf16le("a\0b\0\0")),
            "[\"a\", \"b\"]"
        );
        assert_eq!(display_data(REG_BINARY, &[0xAB]), "AB");
        assert_eq!(display_data(REG_DWORD, &[1, 0]), "0100");
        assert!(display_data(REG_BINARY, &[0; 40]).ends_with("(40 bytes)"));
    }

    #[test]
    fn malformed_files_report_where() {
        let good = write(&[Entry::binary("K", "V", vec![1, 2, 3, 4])]);
        // Size larger than the file.
        let mut big = good.clone();
        let size_at = big.len() - 2 - 4 - 2 - 4;
        big[size_at] = 0xFF;
        let e = parse(&big).unwrap_err();
        assert!(
            matches!(&e, PolicyError::Malformed { offset, what } if *offset == size_at && what.contains("larger than")),
            "{e}"
        );
        // Size smaller than the data: the ']' is not where the size says.
        let mut small = good.clone();
        small[size_at] = 2;
        assert!(parse(&small).unwrap_err().to_string().contains("data size"));
        // Bad UTF-16 in the key.
        let mut bad = SIGNATURE.to_vec();
        bad.extend_from_slice(&[b'[', 0, 0x00, 0xDC, 0, 0, b']', 0]);
        let e = parse(&bad).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-16"), "{e}");
        // Unterminated string.
        let mut cut = SIGNATURE.to_vec();
        cut.extend_from_slice(&[b'[', 0, b'K', 0]);
        assert!(
            parse(&cut)
                .unwrap_err()
                .to_string()
                .contains("NUL terminator")
        );
    }
}
