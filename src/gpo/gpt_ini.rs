//! `GPT.INI`, the file at the root of a GPO's SYSVOL folder whose `[General]`
//! `Version=` clients compare with the container's `versionNumber` (MS-GPOL 2.2.4):
//! the user version in the high 16 bits, the computer version in the low 16.
//!
//! [`parse`] keeps every line, so [`GptIni::write`] of a parsed file gives back its
//! bytes and [`GptIni::set_version`] changes only the `Version=` line (what a
//! publisher does when it raises the version).

/// A parsed GPT.INI: its lines as written, and where `Version=` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptIni {
    lines: Vec<String>,
    /// The line ending the file uses (`\r\n` as Windows and Samba write it).
    eol: &'static str,
    /// Whether the last line ended with `eol`.
    final_eol: bool,
}

/// Why a GPT.INI cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GptIniError {
    #[error("{file}: not text ({detail})")]
    Encoding { file: String, detail: String },
    #[error("{file}: Version={} is not a 32-bit number", crate::text::cut(.found, 40))]
    Version { file: String, found: String },
}

/// The user and computer halves of a version number (MS-GPOL 2.2.4).
pub fn split_version(v: u32) -> (u16, u16) {
    ((v >> 16) as u16, (v & 0xFFFF) as u16)
}

/// A version number from its user and computer halves.
pub fn join_version(user: u16, machine: u16) -> u32 {
    (u32::from(user) << 16) | u32::from(machine)
}

/// A new GPT.INI as `samba-tool gpo create` and GPMC write it.
pub fn new(version: u32, display_name: Option<&str>) -> GptIni {
    let mut lines = vec!["[General]".to_string(), format!("Version={version}")];
    if let Some(name) = display_name {
        lines.push(format!("displayName={name}"));
    }
    GptIni {
        lines,
        eol: "\r\n",
        final_eol: true,
    }
}

/// Read a GPT.INI (ANSI or UTF-8, with or without a BOM; UTF-16 with a BOM).
pub fn parse(bytes: &[u8], file: &str) -> Result<GptIni, GptIniError> {
    let text = crate::codec::decode_text(bytes).map_err(|e| GptIniError::Encoding {
        file: file.into(),
        detail: e.to_string(),
    })?;
    let text: &str = &text.text;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let final_eol = text.ends_with('\n');
    let body = text.strip_suffix(eol).unwrap_or(text);
    let lines: Vec<String> = if body.is_empty() {
        Vec::new()
    } else {
        body.split(eol).map(str::to_string).collect()
    };
    let ini = GptIni {
        lines,
        eol,
        final_eol,
    };
    // A Version= that is not a number is an error now, not a silent 0 later.
    ini.version_checked(file)?;
    Ok(ini)
}

impl GptIni {
    /// The index of the `Version=` line of `[General]`, and its value.
    fn version_line(&self) -> Option<(usize, &str)> {
        let mut general = false;
        for (i, line) in self.lines.iter().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                general = t.eq_ignore_ascii_case("[General]");
                continue;
            }
            if !general {
                continue;
            }
            if let Some((k, v)) = t.split_once('=')
                && k.trim().eq_ignore_ascii_case("Version")
            {
                return Some((i, v.trim()));
            }
        }
        None
    }

    fn version_checked(&self, file: &str) -> Result<Option<u32>, GptIniError> {
        match self.version_line() {
            None => Ok(None),
            Some((_, v)) => v
                .parse::<u32>()
                .map(Some)
                .map_err(|_| GptIniError::Version {
                    file: file.into(),
                    found: v.into(),
                }),
        }
    }

    /// `[General] Version=`; `None` when the file has none (clients read 0).
    pub fn version(&self) -> Option<u32> {
        self.version_line().and_then(|(_, v)| v.parse().ok())
    }

    /// `[General] displayName=`, which GPMC writes and clients ignore.
    pub fn display_name(&self) -> Option<&str> {
        let mut general = false;
        for line in &self.lines {
            let t = line.trim();
            if t.starts_with('[') {
                general = t.eq_ignore_ascii_case("[General]");
            } else if general
                && let Some((k, v)) = t.split_once('=')
                && k.trim().eq_ignore_ascii_case("displayName")
            {
                return Some(v.trim());
            }
        }
        None
    }

    /// Set `Version=`, adding `[General]` and the line when missing; every other line
    /// stays as it was.
    pub fn set_version(&mut self, version: u32) {
        if let Some((i, _)) = self.version_line()
            && let Some(line) = self.lines.get_mut(i)
        {
            *line = format!("Version={version}");
            return;
        }
        let general = self
            .lines
            .iter()
            .position(|l| l.trim().eq_ignore_ascii_case("[General]"));
        match general {
            Some(at) => self.lines.insert(at + 1, format!("Version={version}")),
            None => {
                self.lines.insert(0, format!("Version={version}"));
                self.lines.insert(0, "[General]".into());
            }
        }
    }

    /// The file's bytes (ASCII/UTF-8 without a BOM, as Windows and Samba write it).
    pub fn write(&self) -> Vec<u8> {
        let mut out = self.lines.join(self.eol);
        if self.final_eol && !self.lines.is_empty() {
            out.push_str(self.eol);
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samba_and_gpmc_files_round_trip() {
        for text in [
            "[General]\r\nVersion=0\r\n",
            "[General]\r\nVersion=65537\r\ndisplayName=New Group Policy Object\r\n",
            "[General]\nVersion=3",
            "[General]\r\ngPCUserExtensionNames=[{x}]\r\nVersion=2\r\n",
        ] {
            let ini = parse(text.as_bytes(), "GPT.INI").unwrap();
            assert_eq!(ini.write(), text.as_bytes(), "{text:?}");
        }
        let ini = parse(b"[General]\r\nVersion=65537\r\ndisplayName=Certs\r\n", "x").unwrap();
        assert_eq!(ini.version(), Some(65537));
        assert_eq!(split_version(65537), (1, 1));
        assert_eq!(join_version(1, 1), 65537);
        assert_eq!(ini.display_name(), Some("Certs"));
    }

    #[test]
    fn setting_the_version_changes_only_that_line() {
        let mut ini = parse(b"[General]\r\nVersion=65537\r\ndisplayName=Certs\r\n", "x").unwrap();
        ini.set_version(65538);
        assert_eq!(
            ini.write(),
            b"[General]\r\nVersion=65538\r\ndisplayName=Certs\r\n"
        );
        let mut bare = parse(b"", "x").unwrap();
        assert_eq!(bare.version(), None);
        bare.set_version(7);
        assert_eq!(parse(&bare.write(), "x").unwrap().version(), Some(7));
        let fresh = new(0, Some("Certs"));
        assert_eq!(
            parse(&fresh.write(), "x").unwrap(),
            fresh,
            "what new writes reads back the same"
        );
        assert_eq!(
            fresh.write(),
            b"[General]\r\nVersion=0\r\ndisplayName=Certs\r\n"
        );
    }

    #[test]
    fn a_version_that_is_no_number_is_an_error() {
        assert!(matches!(
            parse(b"[General]\r\nVersion=abc\r\n", "GPT.INI"),
            Err(GptIniError::Version { .. })
        ));
        // Version= outside [General] is not the version.
        let ini = parse(b"[Other]\r\nVersion=5\r\n", "x").unwrap();
        assert_eq!(ini.version(), None);
    }
}
