//! Exit codes, and the error a command reports: one line saying what went wrong,
//! naming the file or target, and optionally a `hint:` line (in the style of `rage`).

use std::fmt;

use certgpo::{Diagnostic, Kind};

/// Every exit code certgpo uses; README.md documents them.
pub mod code {
    /// Success. For `diff`: the inputs are equal.
    pub const OK: u8 = 0;
    /// `diff`: the inputs differ. `audit`: something falls inside `--fail-days`.
    /// `fetch`: at least one target failed (the others were still reported).
    pub const DIFFERENT: u8 = 1;
    /// Bad input, refused input, bad usage or an I/O error; nothing was written.
    pub const ERROR: u8 = 2;
    /// A certificate did not match its pin (`--expect` or `certgpo.lock`); nothing was written.
    pub const PIN_MISMATCH: u8 = 3;
    /// `publish`: the GPO changed while the run was writing it, or another publish
    /// holds it; the GPO is consistent (the message says what it holds).
    pub const CONFLICT: u8 = 4;
    /// `publish`: a step failed after the GPO was partly changed; the message says
    /// what it holds now and how to finish.
    pub const INCOMPLETE: u8 = 5;
}

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            code: code::ERROR,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// Every library error becomes a failure with its own message, hint and kind.
impl<E: Diagnostic> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            code: match e.kind() {
                Kind::Error => code::ERROR,
                Kind::PinMismatch => code::PIN_MISMATCH,
                Kind::Conflict => code::CONFLICT,
                Kind::Incomplete => code::INCOMPLETE,
            },
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}
