//! `.reg` files, regedit's text format (docs/spec/windows-formats.md §6): `parse` reads
//! what regedit and other tools write, `write` writes exactly what regedit exports.
//! Both speak the vocabulary below: a file is a list of [`RegKey`]s.

pub mod parse;
pub mod write;

/// The first line of the files regedit writes since Windows 2000.
pub const HEADER_V5: &str = "Windows Registry Editor Version 5.00";
/// The first line of the older ANSI format, still accepted by regedit.
pub const HEADER_V4: &str = "REGEDIT4";

/// One `[key]` or `[-key]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegKey {
    /// 1-based line of the `[` in a file that was read; 0 in a key built to be written.
    pub line: usize,
    /// The full path, hive included (`HKEY_LOCAL_MACHINE\...`).
    pub path: String,
    /// `[-key]`: delete the key and everything below it.
    pub delete: bool,
    pub values: Vec<RegValue>,
}

impl RegKey {
    /// `[path]` setting these values.
    pub fn set(path: String, values: Vec<RegValue>) -> RegKey {
        RegKey {
            line: 0,
            path,
            delete: false,
            values,
        }
    }

    /// `[-path]`.
    pub fn delete(path: String) -> RegKey {
        RegKey {
            line: 0,
            path,
            delete: true,
            values: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegValue {
    /// 1-based line of the value in a file that was read; 0 in a value to be written.
    pub line: usize,
    /// `None` for the default value (`@=`).
    pub name: Option<String>,
    pub data: ValueData,
}

impl RegValue {
    /// A REG_BINARY value to be written.
    pub fn binary(name: &str, bytes: Vec<u8>) -> RegValue {
        RegValue {
            line: 0,
            name: Some(name.to_string()),
            data: ValueData::Set {
                kind: crate::policy::REG_BINARY,
                bytes,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueData {
    /// `"name"=-`: delete the value.
    Delete,
    /// A registry type (REG_SZ for a quoted string, REG_DWORD for `dword:`,
    /// REG_BINARY for `hex:`, N for `hex(N):`) and its raw bytes.
    Set { kind: u32, bytes: Vec<u8> },
}
