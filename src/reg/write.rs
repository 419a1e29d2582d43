//! Writing `.reg` files in regedit's own export format (docs/spec/windows-formats.md §6):
//! UTF-16LE with BOM, "Windows Registry Editor Version 5.00", CRLF, a blank line before
//! every key, and `hex:` data wrapped exactly where regedit wraps it.

use super::HEADER_V5 as HEADER;
use super::{RegKey, ValueData};
use crate::codec;
use crate::policy::REG_BINARY;

/// Render the whole file, BOM included.
pub fn write(keys: &[RegKey]) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str("\r\n");
    for key in keys {
        s.push_str("\r\n");
        if key.delete {
            s.push_str(&format!("[-{}]\r\n", key.path));
            continue;
        }
        s.push_str(&format!("[{}]\r\n", key.path));
        for v in &key.values {
            let name = match &v.name {
                Some(n) => format!("\"{}\"=", escape_name(n)),
                None => "@=".to_string(),
            };
            match &v.data {
                ValueData::Delete => s.push_str(&format!("{name}-\r\n")),
                ValueData::Set { kind, bytes } => value_line(&mut s, &name, *kind, bytes),
            }
        }
    }
    s.push_str("\r\n");
    codec::utf16le_bom(&s)
}

/// `"name"=hex:..` with regedit's wrapping: a running column starts after
/// `"name"=hex:`; after each `xx,` it grows by 3, and once it reaches 77 the line ends
/// in `\` and continues indented by two spaces (reactos `export_hex_data`, and the
/// 22/25-bytes-per-line layout of real exports). Types other than REG_BINARY are
/// written as `hex(N):`, which regedit reads for any type.
fn value_line(s: &mut String, name: &str, kind: u32, bytes: &[u8]) {
    const MAX_HEX_CHARS: usize = 77;
    let prefix = if kind == REG_BINARY {
        "hex:".to_string()
    } else {
        format!("hex({kind:x}):")
    };
    s.push_str(name);
    s.push_str(&prefix);
    let mut column = name.chars().count() + prefix.len();
    // Hex digits by table: a `format!` per byte was the largest user-space cost of a
    // 1,000-certificate build (benches/build.sh).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.reserve(bytes.len() * 3 + bytes.len() / 5 + 2);
    for (i, &b) in bytes.iter().enumerate() {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
        if i + 1 == bytes.len() {
            break;
        }
        s.push(',');
        column += 3;
        if column >= MAX_HEX_CHARS {
            s.push_str("\\\r\n  ");
            column = 2;
        }
    }
    s.push_str("\r\n");
}

/// Value names escape `\` and `"` (regedit's rule); control characters cannot be
/// represented in a .reg file, so callers never pass them (our names are fixed).
fn escape_name(name: &str) -> String {
    name.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reg::RegValue;

    fn render(bytes: usize) -> String {
        let out = write(&[RegKey::set(
            r"HKEY_LOCAL_MACHINE\X".into(),
            vec![RegValue::binary("Blob", vec![0xAB; bytes])],
        )]);
        let text = codec::decode_text(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text.encoding, codec::TextEncoding::Utf16LeBom);
        text.text
    }

    #[test]
    fn wraps_like_regedit() {
        let text = render(60);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], r"[HKEY_LOCAL_MACHINE\X]");
        // 22 bytes on the first line, 25 on each continuation line.
        assert_eq!(lines[3].matches("ab").count(), 22);
        assert!(lines[3].ends_with(",\\") && lines[3].len() == 11 + 22 * 3 + 1);
        assert_eq!(lines[4].matches("ab").count(), 25);
        assert_eq!(lines[5].trim().matches("ab").count(), 13);
        assert!(!lines[5].ends_with(','));
        assert_eq!(&lines[6..], &["", ""]);
    }

    #[test]
    fn what_the_reader_reads_the_writer_writes() {
        let value = |line, name: Option<&str>, data| RegValue {
            line,
            name: name.map(str::to_string),
            data,
        };
        let mut keys = vec![
            RegKey::set(
                r"HKEY_LOCAL_MACHINE\A".into(),
                vec![
                    value(0, Some(r#"q"uote\"#), ValueData::Delete),
                    value(
                        0,
                        None,
                        ValueData::Set {
                            kind: crate::policy::REG_SZ,
                            bytes: vec![0x61, 0, 0, 0],
                        },
                    ),
                    RegValue::binary("Blob", vec![1, 2, 3]),
                ],
            ),
            RegKey::delete(r"HKEY_LOCAL_MACHINE\B".into()),
        ];
        let read = crate::reg::parse::parse(&write(&keys)).unwrap();
        // The reader adds the line numbers.
        keys[0].line = 3;
        for (v, line) in keys[0].values.iter_mut().zip(4..) {
            v.line = line;
        }
        keys[1].line = 8;
        assert_eq!(read.keys, keys);
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape_name(r#"a"b\c"#), r#"a\"b\\c"#);
    }
}
