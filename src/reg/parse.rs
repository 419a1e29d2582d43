//! Reading regedit `.reg` files (docs/spec/windows-formats.md §6): "Windows Registry Editor
//! Version 5.00" in UTF-16LE with a BOM (what regedit writes) or UTF-8, and "REGEDIT4".
//!
//! Hand-written: the format is line based and small, and the crates that read it
//! either need Windows or accept much less (no `hex(N):`, no continuation lines).

use super::{HEADER_V4, HEADER_V5, RegKey, RegValue, ValueData};
use crate::codec::{TextEncoding, TextError};
use crate::policy::{REG_BINARY, REG_DWORD, REG_SZ};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegError {
    #[error("the file is empty")]
    Empty,
    #[error("bad text encoding {0}")]
    Utf16(crate::codec::Short),
    #[error(
        "not UTF-8 text at byte offset {offset} (a .reg file is UTF-16LE with a BOM, or UTF-8)"
    )]
    Utf8 { offset: usize },
    #[error("line {line}: expected the header {HEADER_V5:?} (or {HEADER_V4:?}), found {found:?}")]
    Header { line: usize, found: String },
    #[error("line {line}: {what}")]
    Syntax { line: usize, what: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegFile {
    pub encoding: TextEncoding,
    /// True for "REGEDIT4", false for version 5.00.
    pub version4: bool,
    pub keys: Vec<RegKey>,
}

/// Parse a whole `.reg` file.
pub fn parse(bytes: &[u8]) -> Result<RegFile, RegError> {
    let (encoding, text) = decode(bytes)?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .peekable();

    let (line, first) = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some(found) => break found,
            None => return Err(RegError::Empty),
        }
    };
    let version4 = match first.trim_end() {
        HEADER_V5 => false,
        HEADER_V4 => true,
        other => {
            return Err(RegError::Header {
                line,
                found: crate::text::cut(other, 60),
            });
        }
    };

    let mut keys: Vec<RegKey> = Vec::new();
    while let Some((line, raw)) = lines.next() {
        let text = raw.trim_start();
        if text.is_empty() || text.starts_with(';') {
            continue;
        }
        let syntax = |what: String| RegError::Syntax { line, what };
        if let Some(rest) = text.strip_prefix('[') {
            let Some(end) = rest.rfind(']') else {
                return Err(syntax("a key line must end with ']'".into()));
            };
            let (delete, path) = match rest[..end].strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, &rest[..end]),
            };
            if path.trim().is_empty() {
                return Err(syntax("empty key path between '[' and ']'".into()));
            }
            keys.push(RegKey {
                line,
                path: path.to_string(),
                delete,
                values: Vec::new(),
            });
            continue;
        }
        let Some(key) = keys.last_mut() else {
            return Err(syntax(
                "a value line before any [key] line (expected '[HKEY_...\\path]')".into(),
            ));
        };
        let (name, after) = value_name(text).map_err(syntax)?;
        let after = after.trim_start();
        let Some(data) = after.strip_prefix('=') else {
            return Err(syntax("expected '=' after the value name".into()));
        };
        let data = data.trim_start();
        let value = if let Some(body) = hex_body(data) {
            let (kind, first) = body.map_err(syntax)?;
            // Continuation lines: regedit ends every wrapped hex line with '\'.
            let mut joined = first.trim_end().to_string();
            while let Some(stripped) = joined.strip_suffix('\\') {
                joined.truncate(stripped.len());
                match lines.next() {
                    Some((_, next)) if !next.trim().is_empty() => joined.push_str(next.trim()),
                    _ => {
                        return Err(syntax(
                            "the hex data ends with '\\' but no continuation line follows".into(),
                        ));
                    }
                }
            }
            ValueData::Set {
                kind,
                bytes: hex_bytes(&joined).map_err(syntax)?,
            }
        } else {
            scalar(data).map_err(syntax)?
        };
        key.values.push(RegValue {
            line,
            name,
            data: value,
        });
    }
    Ok(RegFile {
        encoding,
        version4,
        keys,
    })
}

fn decode(bytes: &[u8]) -> Result<(TextEncoding, String), RegError> {
    if bytes.is_empty() {
        return Err(RegError::Empty);
    }
    match crate::codec::decode_text(bytes) {
        Ok(t) => Ok((t.encoding, t.text)),
        Err(TextError::Utf16(short)) => Err(RegError::Utf16(short)),
        Err(TextError::Utf8 { offset }) => Err(RegError::Utf8 { offset }),
    }
}

/// `"name"` (with `\\` and `\"` escapes) or `@`; returns the name and the rest.
fn value_name(text: &str) -> Result<(Option<String>, &str), String> {
    if let Some(rest) = text.strip_prefix('@') {
        return Ok((None, rest));
    }
    let Some(rest) = text.strip_prefix('"') else {
        return Err(format!(
            "expected a value line (\"name\"=... or @=...), a [key] line or a ; comment, found {:?}",
            crate::text::cut(text, 40)
        ));
    };
    let (name, after) = quoted(rest).ok_or("the value name has no closing '\"'")?;
    Ok((Some(name), after))
}

/// The body of a quoted string whose opening quote is already consumed.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '"'))) => out.push(e),
                // regedit writes only \\ and \"; keep any other pair as it stands.
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// `hex:` or `hex(N):` followed by the first line of the body; `None` if the data
/// is not hex at all.
fn hex_body(data: &str) -> Option<Result<(u32, &str), String>> {
    let rest = data.strip_prefix("hex")?;
    if let Some(body) = rest.strip_prefix(':') {
        return Some(Ok((REG_BINARY, body)));
    }
    let inner = rest.strip_prefix('(')?;
    Some((|| {
        let close = inner
            .find(')')
            .ok_or("hex( without a closing ')' (expected hex(N): with N in hex)")?;
        let kind = u32::from_str_radix(&inner[..close], 16).map_err(|_| {
            format!(
                "hex({}) is not a hex type number (expected e.g. hex(7): for REG_MULTI_SZ)",
                &inner[..close]
            )
        })?;
        let body = inner[close + 1..]
            .strip_prefix(':')
            .ok_or("expected ':' after hex(N)")?;
        Ok((kind, body))
    })())
}

/// Comma-separated two-digit hex bytes; whitespace is ignored, a trailing comment
/// after `;` too.
fn hex_bytes(body: &str) -> Result<Vec<u8>, String> {
    let body = body.split(';').next().unwrap_or("");
    let body = body.trim();
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(body.len() / 3 + 1);
    for (i, tok) in body.split(',').enumerate() {
        let tok = tok.trim();
        if tok.is_empty() && i > 0 && body.ends_with(',') {
            continue;
        }
        if tok.len() != 2 {
            return Err(format!(
                "hex byte #{} is {tok:?}: expected two hex digits between commas",
                i + 1
            ));
        }
        out.push(
            u8::from_str_radix(tok, 16)
                .map_err(|_| format!("hex byte #{} is {tok:?}: not hex digits", i + 1))?,
        );
    }
    Ok(out)
}

/// `-`, `"string"` or `dword:XXXXXXXX`.
fn scalar(data: &str) -> Result<ValueData, String> {
    let strip_comment = |rest: &str| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with(';')
    };
    if let Some(rest) = data.strip_prefix('-')
        && strip_comment(rest)
    {
        return Ok(ValueData::Delete);
    }
    if let Some(rest) = data.strip_prefix('"') {
        let (s, after) = quoted(rest).ok_or("the string value has no closing '\"'")?;
        if !strip_comment(after) {
            return Err(format!(
                "unexpected text after the string: {:?}",
                after.trim()
            ));
        }
        return Ok(ValueData::Set {
            kind: REG_SZ,
            bytes: crate::codec::utf16le_nul(&s),
        });
    }
    if let Some(digits) = data.strip_prefix("dword:") {
        let digits = digits.split(';').next().unwrap_or("").trim();
        if digits.is_empty() || digits.len() > 8 {
            return Err(format!(
                "dword:{digits} is not 1 to 8 hex digits (expected e.g. dword:00000001)"
            ));
        }
        let v = u32::from_str_radix(digits, 16)
            .map_err(|_| format!("dword:{digits} is not hex digits"))?;
        return Ok(ValueData::Set {
            kind: REG_DWORD,
            bytes: v.to_le_bytes().to_vec(),
        });
    }
    Err(format!(
        "expected \"string\", dword:, hex:, hex(N): or - after '=', found {:?}",
        crate::text::cut(data, 40)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regedit_output() {
        let text = "Windows Registry Editor Version 5.00\r\n\r\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\AB]\r\n\
\"Blob\"=hex:03,00,00,00,01,00,\\\r\n  02,ff\r\n\
\"Say \\\"hi\\\"\"=\"C:\\\\dir\\\\\"\r\n\
@=dword:0000002a\r\n\
\"multi\"=hex(7):61,00,00,00,00,00\r\n\
\"gone\"=-\r\n\r\n\
[-HKEY_CURRENT_USER\\Software\\Old]\r\n\r\n";
        let f = parse(&crate::codec::utf16le_bom(text)).unwrap();
        assert_eq!(f.encoding, TextEncoding::Utf16LeBom);
        assert_eq!(f.keys.len(), 2);
        let k = &f.keys[0];
        assert!(!k.delete);
        assert_eq!(
            k.values[0].data,
            ValueData::Set {
                kind: REG_BINARY,
                bytes: vec![3, 0, 0, 0, 1, 0, 2, 0xff]
            }
        );
        assert_eq!(k.values[1].name.as_deref(), Some("Say \"hi\""));
        assert_eq!(
            k.values[1].data,
            ValueData::Set {
                kind: REG_SZ,
                bytes: crate::codec::utf16le_nul("C:\\dir\\")
            }
        );
        assert_eq!(k.values[2].name, None);
        assert_eq!(
            k.values[2].data,
            ValueData::Set {
                kind: REG_DWORD,
                bytes: vec![42, 0, 0, 0]
            }
        );
        assert_eq!(
            k.values[3].data,
            ValueData::Set {
                kind: 7,
                bytes: vec![0x61, 0, 0, 0, 0, 0]
            }
        );
        assert_eq!(k.values[4].data, ValueData::Delete);
        assert!(f.keys[1].delete);
        assert_eq!(f.keys[1].path, "HKEY_CURRENT_USER\\Software\\Old");
    }

    #[test]
    fn utf8_and_regedit4() {
        let f = parse(b"REGEDIT4\n\n[HKEY_CURRENT_USER\\X]\n\"a\"=\"b\"\n").unwrap();
        assert!(f.version4);
        assert_eq!(f.encoding, TextEncoding::Utf8);
        assert_eq!(f.keys[0].values.len(), 1);
    }

    #[test]
    fn errors_name_the_line_or_offset() {
        let e = parse(b"Windows Registry Editor Version 5.00\n[K]\n\"v\"=hex:1,02\n").unwrap_err();
        assert!(matches!(e, RegError::Syntax { line: 3, .. }), "{e}");
        let e = parse(b"Windows Registry Editor Version 5.00\n\"v\"=dword:1\n").unwrap_err();
        assert!(matches!(e, RegError::Syntax { line: 2, .. }), "{e}");
        let e = parse(b"Windows Registry Editor Version 5.00\n[K]\n\"v\"=hex:01,\\\n").unwrap_err();
        assert!(e.to_string().contains("continuation"), "{e}");
        let e = parse(b"hello").unwrap_err();
        assert!(matches!(e, RegError::Header { line: 1, .. }));
        let mut bad = crate::codec::utf16le_bom("Windows Registry Editor Version 5.00\r\n");
        bad.extend_from_slice(&[0x00, 0xD8, 0x41, 0x00]);
        let e = parse(&bad).unwrap_err();
        assert!(
            matches!(&e, RegError::Utf16(s) if s.offset == bad.len() - 4),
            "{e}"
        );
        assert!(e.to_string().contains("0xD800"), "{e}");
        bad.push(0);
        assert!(matches!(parse(&bad), Err(RegError::Utf16(_))));
        assert!(matches!(
            parse(&[0xC3, 0x28]),
            Err(RegError::Utf8 { offset: 0 })
        ));
        assert_eq!(parse(b""), Err(RegError::Empty));
    }
}
