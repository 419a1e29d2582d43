//! Text for people: certificate names, GPO names and file contents are chosen by
//! whoever made the certificate or the file, and may carry control characters (an
//! ANSI escape sequence can rewrite what a terminal shows, e.g. a thumbprint). Every
//! human-readable output goes through here, CSV cells and HTML text included; JSON
//! escapes them itself.

use std::io::{self, Write};

/// A single value for a terminal or a text file: every control character becomes U+FFFD.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The characters of Unicode's Bidi_Control property (UAX #9, section 2): invisible,
/// they change the order in which the text around them is shown.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// At most `max` characters of `s`, for a message that echoes input (a target, a file
/// name, a value read from a file): a longer one is cut, saying how much was left out.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!(
            "{}… ({} more characters)",
            &s[..at],
            s[at..].chars().count()
        ),
    }
}

/// XML 1.0 `Char` (the W3C XML 1.0 recommendation, section 2.2). Rust strings hold no surrogates, so what is left out are
/// the C0 controls other than tab, LF and CR, and U+FFFE and U+FFFF.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `s` with every character XML 1.0 cannot carry replaced by U+FFFD, the replacement
/// character certgpo uses for control characters in every human-readable output.
pub fn xml_chars(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        return s.into();
    }
    s.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect::<String>()
        .into()
}

/// Whole lines of human output: as [`printable`], but newlines and tabs stay.
pub fn lines(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A writer that passes human output through [`lines`], one line at a time, so that a
/// long listing is never held in memory whole. Call [`Write::flush`] at the end.
pub struct Terminal<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Terminal<W> {
    pub fn new(inner: W) -> Terminal<W> {
        Terminal {
            inner,
            line: Vec::new(),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        // A line ends at '\n', which never falls inside a UTF-8 sequence.
        let text = lines(&String::from_utf8_lossy(&self.line));
        self.line.clear();
        self.inner.write_all(text.as_bytes())
    }
}

impl<W: Write> Write for Terminal<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for part in buf.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(part);
            if part.ends_with(b"\n") {
                self.emit()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdefé", 3), "abc… (4 more characters)");
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(printable("a\u{1b}[31mb\nc"), "a\u{FFFD}[31mb\u{FFFD}c");
        assert_eq!(lines("a\u{1b}b\tc\n\u{9b}d"), "a\u{FFFD}b\tc\n\u{FFFD}d");
        let mut out = Terminal::new(Vec::new());
        write!(out, "x\u{1b}[2J").unwrap();
        writeln!(out, "y").unwrap();
        write!(out, "tail\u{7}").unwrap();
        out.flush().unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "x\u{FFFD}[2Jy\ntail\u{FFFD}"
        );
    }
}
