//! A small cursor over a byte slice, in the style of rustls' `codec::Reader`:
//! every read checks the remaining length first and reports the offset it failed at,
//! so a parser built on it cannot index out of bounds or allocate more than the
//! input holds.

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

/// UTF-16LE encoding with no terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    // Sized up front: a collected flat_map grows step by step, which showed in the
    // profile of a 1,000-certificate build (multi-megabyte .reg files).
    let mut out = Vec::with_capacity(s.len() * 2);
    for unit in s.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
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
pub fn utf16le_text(body: &[u8], start: usize) -> Result<String, Short> {
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
}
