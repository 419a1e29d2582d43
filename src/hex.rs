//! Hex formatting shared by every writer (thumbprints, reports, `.reg`, gpreport).

/// Upper-case hex without separators, the form Windows uses for thumbprints.
pub fn upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parse a fingerprint typed by a person: colons, spaces and case are ignored.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'-' | b'\t'))
        .collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_forms() {
        assert_eq!(
            super::parse_fingerprint("ab:CD 01"),
            Some(vec![0xAB, 0xCD, 0x01])
        );
        assert_eq!(super::parse_fingerprint("abc"), None);
        assert_eq!(super::parse_fingerprint("zz"), None);
        assert_eq!(super::upper(&[0x0f, 0xa0]), "0FA0");
    }
}
