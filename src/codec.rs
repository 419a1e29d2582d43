//! A small cursor over a byte slice, in the style of rustls' `codec::Reader`:
//! every read checks the remaining length first and reports the offset it failed at,
//! so a parser built on it cannot index out of bounds or allocate more than the
//! input holds.
//!
//! It also holds the one text-encoding layer every reader and writer of Windows text
//! files uses: UTF-16LE and UTF-8, with or without a byte order mark.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte offset {offset}: {expected}")]
pub struct Short {
    pub offset: usize,
    pub expected: String,
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn offset(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes not read yet, for scanning ahead (for a terminator) without consuming.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn short(&self, expected: impl Into<String>) -> Short {
        Short {
            offset: self.pos,
            expected: expected.into(),
        }
    }

    /// Take exactly `n` bytes, or fail naming `what` was expected there.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Short> {
        if n > self.remaining() {
            return Err(self.short(format!(
                "{what}: needs {n} bytes, only {} left",
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next two bytes, without consuming them.
    pub fn peek2(&self) -> Option<[u8; 2]> {
        let b = self.buf.get(self.pos..self.pos + 2)?;
        Some([b[0], b[1]])
    }

    pub fn u16_le(&mut self, what: &str) -> Result<u16, Short> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32_le(&mut self, what: &str) -> Result<u32, Short> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Consume `expected` exactly.
    pub fn expect(&mut self, expected: &[u8], what: &str) -> Result<(), Short> {
        let at = self.pos;
        let got = self.take(expected.len(), what)?;
        if got != expected {
            return Err(Short {
                offset: at,
                expected: what.to_string(),
            });
        }
        Ok(())
    }
}

/// The byte order mark that starts UTF-16LE text files (regedit's exports, gpreport.xml).
pub const UTF16LE_BOM: [u8; 2] = [0xFF, 0xFE];
/// The UTF-8 byte order mark.
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// How a text file is encoded, as [`decode_text`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf16LeBom,
    /// UTF-16LE without a BOM, recognised by its first character being ASCII.
    Utf16Le,
    Utf8Bom,
    Utf8,
}

impl TextEncoding {
    pub fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16LeBom | TextEncoding::Utf16Le)
    }

    /// Bytes of byte order mark before the text.
    pub fn bom_len(self) -> usize {
        match self {
            TextEncoding::Utf16LeBom => UTF16LE_BOM.len(),
            TextEncoding::Utf8Bom => UTF8_BOM.len(),
            TextEncoding::Utf16Le | TextEncoding::Utf8 => 0,
        }
    }
}

/// Why bytes are not text in the encoding they announce; offsets count from the
/// start of the file, BOM included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{0}")]
    Utf16(Short),
    #[error("not UTF-8 text at byte offset {offset}")]
    Utf8 { offset: usize },
}

/// A text file's contents with the encoding they were read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub encoding: TextEncoding,
    pub text: String,
}

impl Text {
    /// The byte offset in the file of byte `pos` of the decoded text, for messages
    /// that must point into the file as it is on disk.
    pub fn file_offset(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        let bom = self.encoding.bom_len();
        match self.text.get(..pos) {
            Some(prefix) if self.encoding.is_utf16() => bom + 2 * prefix.encode_utf16().count(),
            Some(_) => bom + pos,
            None => pos,
        }
    }
}

/// The encoding of a Windows text file and the bytes after its BOM: a BOM decides;
/// without one, an ASCII first character followed by a zero byte is UTF-16LE (how
/// `reg export` output looks once a tool drops the BOM); anything else is UTF-8.
fn sniff(bytes: &[u8]) -> (TextEncoding, &[u8]) {
    if let Some(rest) = bytes.strip_prefix(&UTF16LE_BOM) {
        (TextEncoding::Utf16LeBom, rest)
    } else if let Some(rest) = bytes.strip_prefix(&UTF8_BOM) {
        (TextEncoding::Utf8Bom, rest)
    } else if bytes.len() >= 2 && bytes[0] != 0 && bytes[1] == 0 {
        (TextEncoding::Utf16Le, bytes)
    } else {
        (TextEncoding::Utf8, bytes)
    }
}

/// Decode a text file: UTF-16LE or UTF-8, each with or without a BOM (see [`sniff`]).
pub fn decode_text(bytes: &[u8]) -> Result<Text, TextError> {
    let (encoding, body) = sniff(bytes);
    let start = encoding.bom_len();
    let text = if encoding.is_utf16() {
        utf16le_text(body, start).map_err(TextError::Utf16)?
    } else {
        std::str::from_utf8(body)
            .map_err(|e| TextError::Utf8 {
                offset: start + e.valid_up_to(),
            })?
            .to_string()
    };
    Ok(Text { encoding, text })
}

/// Whether a text file, in whichever encoding [`decode_text`] would read it, starts
/// with `prefix`; reads only as many bytes as the prefix needs.
pub fn text_starts_with(bytes: &[u8], prefix: &str) -> bool {
    let (encoding, body) = sniff(bytes);
    if encoding.is_utf16() {
        body.starts_with(&utf16le(prefix))
    } else {
        body.starts_with(prefix.as_bytes())
    }
}

/// UTF-16LE encoding with no terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2);
    push_utf16le(&mut out, s);
    out
}

/// A UTF-16LE text file: the BOM, then the text (how regedit and GPMC write theirs).
pub fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(UTF16LE_BOM.len() + s.len() * 2);
    out.extend_from_slice(&UTF16LE_BOM);
    push_utf16le(&mut out, s);
    out
}

fn push_utf16le(out: &mut Vec<u8>, s: &str) {
    // Callers size `out` up front: a collected flat_map grows step by step, which
    // showed in the profile of a 1,000-certificate build (multi-megabyte .reg files).
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
}

/// A UTF-8 text file with a BOM.
pub fn utf8_bom(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(UTF8_BOM.len() + s.len());
    out.extend_from_slice(&UTF8_BOM);
    out.extend_from_slice(s.as_bytes());
    out
}

/// UTF-16LE encoding followed by a UTF-16 NUL, the registry's string form.
pub fn utf16le_nul(s: &str) -> Vec<u8> {
    let mut v = utf16le(s);
    v.extend_from_slice(&[0, 0]);
    v
}

/// Decode UTF-16LE; `None` for an odd length or an unpaired surrogate.
pub fn from_utf16le(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    // Registry names are nearly always ASCII: copy those straight across, one pass.
    let mut ascii = String::with_capacity(bytes.len() / 2);
    for c in bytes.chunks_exact(2) {
        if c[1] != 0 || c[0] >= 0x80 {
            break;
        }
        ascii.push(char::from(c[0]));
    }
    if ascii.len() * 2 == bytes.len() {
        return Some(ascii);
    }
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

/// Decode UTF-16LE text whose first byte sits at `start` in its file, naming the
/// byte offset of the first bad code unit.
fn utf16le_text(body: &[u8], start: usize) -> Result<String, Short> {
    if !body.len().is_multiple_of(2) {
        return Err(Short {
            offset: start + body.len() - 1,
            expected:
                "UTF-16LE text, found an odd number of bytes (the last character is cut in half)"
                    .into(),
        });
    }
    let units = body
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let mut out = String::with_capacity(body.len() / 2);
    let mut at = start;
    for ch in char::decode_utf16(units) {
        match ch {
            Ok(c) => {
                at += 2 * c.len_utf16();
                out.push(c);
            }
            Err(e) => {
                return Err(Short {
                    offset: at,
                    expected: format!(
                        "UTF-16LE text, found the unpaired surrogate 0x{:04X}",
                        e.unpaired_surrogate()
                    ),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::new(&[1, 0, 0, 0, 9]);
        assert_eq!(r.u32_le("n").unwrap(), 1);
        let e = r.u32_le("length").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(e.to_string().contains("only 1 left"));
    }

    #[test]
    fn utf16() {
        assert_eq!(utf16le_nul("A"), vec![0x41, 0, 0, 0]);
        assert_eq!(from_utf16le(&[0x41, 0]), Some("A".into()));
        assert_eq!(from_utf16le(&[0x00, 0xD8]), None);
    }

    #[test]
    fn text_in_every_encoding() {
        // With where "l", byte 3 of the decoded text (after the two-byte UTF-8 "é"),
        // sits in the file.
        let cases: [(Vec<u8>, TextEncoding, usize); 4] = [
            (utf16le_bom("Héllo"), TextEncoding::Utf16LeBom, 2 + 2 * 2),
            (utf16le("Héllo"), TextEncoding::Utf16Le, 2 * 2),
            (utf8_bom("Héllo"), TextEncoding::Utf8Bom, 3 + 3),
            ("Héllo".as_bytes().to_vec(), TextEncoding::Utf8, 3),
        ];
        for (bytes, encoding, l_at) in cases {
            let t = decode_text(&bytes).unwrap();
            assert_eq!((t.encoding, t.text.as_str()), (encoding, "Héllo"));
            assert!(text_starts_with(&bytes, "Hé"), "{encoding:?}");
            assert!(!text_starts_with(&bytes, "Ha"), "{encoding:?}");
            assert_eq!(t.file_offset(3), l_at, "{encoding:?}");
        }
        assert_eq!(decode_text(b"").unwrap().text, "");
    }

    #[test]
    fn bad_text_names_the_file_offset() {
        let mut odd = utf16le_bom("ab");
        odd.push(b'c');
        assert!(matches!(decode_text(&odd), Err(TextError::Utf16(s)) if s.offset == 6));
        let mut lone = utf16le_bom("a");
        lone.extend_from_slice(&[0x00, 0xDC]);
        assert!(matches!(decode_text(&lone), Err(TextError::Utf16(s)) if s.offset == 4));
        let mut bad = utf8_bom("ab");
        bad.push(0xFF);
        assert_eq!(decode_text(&bad), Err(TextError::Utf8 { offset: 5 }));
    }
}
