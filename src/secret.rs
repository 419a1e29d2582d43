//! Passwords: the LDAP bind's and the mailbox's. A password is never taken on the
//! command line, where other users of the machine could read it from the process list;
//! it comes from a file, an environment variable or a terminal prompt, first found wins.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Where one password may come from.
pub struct Sources<'a> {
    /// The file given with `option`; the password is its first line.
    pub file: Option<&'a Path>,
    pub option: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The prompt, asked only when standard input is a terminal.
    pub prompt: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{option} {path}: not UTF-8 text")]
    NotText { option: &'static str, path: PathBuf },
    #[error("{var} is not valid UTF-8")]
    EnvNotText { var: &'static str },
    #[error("cannot read the password from the terminal: {0}")]
    Prompt(std::io::Error),
    #[error(transparent)]
    Input(crate::input::InputError),
}

impl crate::Diagnostic for SecretError {
    fn hint(&self) -> Option<String> {
        match self {
            SecretError::Input(e) => e.hint(),
            _ => None,
        }
    }
}

/// The password from the first source that has one; `None` when there is no file, no
/// variable and no terminal to ask. An empty password is returned as it is: what it
/// means is the caller's to say.
pub fn read(sources: &Sources) -> Result<Option<String>, SecretError> {
    if let Some(path) = sources.file {
        let bytes = crate::input::read(path, crate::input::PASSWORD)
            .map_err(|e| SecretError::Input(e.given_as(sources.option)))?;
        let text = String::from_utf8(bytes).map_err(|_| SecretError::NotText {
            option: sources.option,
            path: path.to_path_buf(),
        })?;
        return Ok(Some(first_line(&text).to_string()));
    }
    if let Some(value) = std::env::var_os(sources.env) {
        return value
            .into_string()
            .map(Some)
            .map_err(|_| SecretError::EnvNotText { var: sources.env });
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(&sources.prompt)
            .map(Some)
            .map_err(SecretError::Prompt);
    }
    Ok(None)
}

/// A password file holds the password on its first line; editors add a newline.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn the_first_line_without_its_line_ending() {
        assert_eq!(first_line("Passw0rd!\r\nignored\n"), "Passw0rd!");
        assert_eq!(first_line("x y "), "x y ");
        assert_eq!(first_line(""), "");
    }
}
