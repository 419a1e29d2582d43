//! What every library error tells the person who ran certgpo: a message naming the
//! file or target (`Display`) and, where there is something to do about it, a hint
//! (in the style of `rage`). The command layer turns these into exit codes.

/// How an error ends the command; the command layer maps each to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad input, refused input, bad usage or an I/O error; nothing was written.
    Error,
    /// A certificate did not match its pin (`--expect` or the lock file); nothing was written.
    PinMismatch,
    /// `publish`: someone else changed the GPO meanwhile, or another publish holds it.
    Conflict,
    /// `publish`: a step failed after an earlier one changed the GPO; the message says
    /// what it holds now and how to finish.
    Incomplete,
}

/// An error a user reads: the message is its `Display`.
pub trait Diagnostic: std::fmt::Display {
    /// What the user can do about it, if anything.
    fn hint(&self) -> Option<String> {
        None
    }

    fn kind(&self) -> Kind {
        Kind::Error
    }
}

impl Diagnostic for std::io::Error {}
