//! The tera templates of README.txt, the scripts, report.html and its report.js: embedded
//! in the binary, overridable file by file with `--templates DIR`. Every value a template
//! prints goes through a filter for the target language (`ps`, `cmd`; HTML is
//! autoescaped, control characters included), so a GPO name like
//! `Tom's "GPO" $(calc) %PATH%` stays inert.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tera::{Context, Tera, Value};

/// Built-in templates, by the file name they override.
pub const BUILTIN: &[(&str, &str)] = &[
    ("README.txt", include_str!("../templates/README.txt")),
    (
        "Deploy-CertGpo.ps1",
        include_str!("../templates/Deploy-CertGpo.ps1"),
    ),
    (
        "Remove-CertGpo.ps1",
        include_str!("../templates/Remove-CertGpo.ps1"),
    ),
    (
        "Publish-ToActiveDirectory.cmd",
        include_str!("../templates/Publish-ToActiveDirectory.cmd"),
    ),
    ("report.html", include_str!("../templates/report.html")),
    ("report.js", include_str!("../templates/report.js")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{0}: a template must be UTF-8 text")]
    NotUtf8(PathBuf),
    #[error("--templates {0}: not a directory")]
    NotDir(PathBuf),
    #[error("template {name}: {detail}")]
    Tera { name: String, detail: String },
}

pub struct Templates {
    tera: Tera,
}

impl Templates {
    /// The built-in templates, with any file of the same name in `dir` replacing its twin.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut tera = Tera::default();
        // Autoescaping is per file extension in tera; we turn it on for HTML only and
        // use explicit filters for the script languages.
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(html_text);
        tera.register_filter("ps", ps_filter);
        tera.register_filter("cmd", cmd_filter);
        if let Some(d) = dir
            && !d.is_dir()
        {
            return Err(TemplateError::NotDir(d.to_path_buf()));
        }
        for (name, builtin) in BUILTIN {
            let text = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => {
                    let bytes = crate::input::read(&path, crate::input::TEMPLATE)?;
                    String::from_utf8(bytes).map_err(|_| TemplateError::NotUtf8(path))?
                }
                None => (*builtin).to_string(),
            };
            tera.add_raw_template(name, &text)
                .map_err(|e| tera_error(name, &e))?;
        }
        Ok(Templates { tera })
    }

    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, TemplateError> {
        self.tera
            .render(name, ctx)
            .map_err(|e| tera_error(name, &e))
    }
}

fn tera_error(name: &str, e: &tera::Error) -> TemplateError {
    // tera nests the useful part ("variable x not found") in the source chain.
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    TemplateError::Tera {
        name: name.to_string(),
        detail,
    }
}

/// Text for an HTML page: tera's escaping of `& < > " ' /`, after every control
/// character but tab and newline has become U+FFFD. The HTML Living Standard makes
/// control characters a parse error ("control-character-in-input-stream"), and an ESC
/// or NUL from a certificate subject would otherwise reach the page raw.
fn html_text(s: &str) -> String {
    tera::escape_html(&crate::text::lines(s))
}

fn as_str<'a>(v: &'a Value, filter: &str) -> tera::Result<&'a str> {
    v.as_str()
        .ok_or_else(|| tera::Error::msg(format!("filter {filter} expects a string")))
}

/// A PowerShell single-quoted literal. Inside one, only quote characters are special,
/// and PowerShell treats the typographic quotes U+2018..U+201B as `'` too, so each is
/// doubled; `$(...)`, `` ` `` and `%` are inert.
pub fn ps_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn ps_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(ps_literal(as_str(v, "ps")?)))
}

/// Text for an unquoted `echo` in a batch file: `%` doubles, and the characters cmd
/// parses as operators take a caret. Delayed expansion is off in our scripts, so `!`
/// is literal.
pub fn cmd_echo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%%"),
            '^' | '&' | '|' | '<' | '>' | '(' | ')' | '"' => {
                out.push('^');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn cmd_filter(v: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(cmd_echo(as_str(v, "cmd")?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(ps_literal("Tom's $(calc)"), "'Tom''s $(calc)'");
        assert_eq!(ps_literal("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        assert_eq!(cmd_echo("a&b %PATH% \"x\""), "a^&b %%PATH%% ^\"x^\"");
    }

    #[test]
    fn builtins_parse() {
        assert!(Templates::load(None).is_ok());
    }
}
