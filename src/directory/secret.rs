//! The bind password. It is never taken on the command line, where other users of
//! the machine could read it from the process list.

use std::io::IsTerminal;
use std::path::Path;

use super::{DirectoryError, PASSWORD_ENV};

/// First source found wins: the file, the environment variable, a terminal prompt.
pub fn password(file: Option<&Path>, user: &str) -> Result<String, DirectoryError> {
    let password = if let Some(path) = file {
        let bytes = crate::input::read(path, crate::input::PASSWORD)
            .map_err(|e| e.given_as("--password-file"))?;
        let text = String::from_utf8(bytes).map_err(|_| DirectoryError::PasswordFile {
            path: path.to_path_buf(),
            detail: "not UTF-8 text".into(),
        })?;
        first_line(&text).to_string()
    } else if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        value
            .into_string()
            .map_err(|_| DirectoryError::PasswordEnv)?
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("LDAP password for {user}: "))
            .map_err(DirectoryError::Prompt)?
    } else {
        return Err(DirectoryError::NoPassword { user: user.into() });
    };
    if password.is_empty() {
        return Err(DirectoryError::EmptyPassword { user: user.into() });
    }
    Ok(password)
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
