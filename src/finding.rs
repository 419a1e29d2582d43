//! Findings as every report shows them: a stable kebab-case code a script can match
//! on, and a sentence for the admin. Each kind of finding (a certificate's, an entry's,
//! a container's, an audit's, a fetched server's) is an enum in its own module, with a
//! fieldless code enum declared by [`codes!`]; README.md's "Finding codes" table
//! explains every code, and `tests/finding_codes.rs` fails when one is missing there.

use std::fmt;

use serde::Serialize;

/// How serious an entry is, from its worst finding: `bad` entries are shown red and
/// are what `audit --fail-days` counts (expired, ignored by Windows, inside the
/// deadline); `warn` entries are worth a look; `ok` entries have no finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Bad,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Bad => "bad",
        }
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A closed set of finding codes (declared with [`codes!`]).
pub trait Code: Copy + 'static {
    /// Every code of the set, so that tests and documentation can enumerate them.
    const ALL: &'static [Self];
    /// The stable kebab-case text, as JSON and CSV show it.
    fn as_str(self) -> &'static str;
    /// What an entry with this finding is at worst.
    fn level(self) -> Level;
}

/// Declares a fieldless enum of finding codes with its text and level, and implements
/// [`Code`] for it. `ALL` and `as_str` come from the same list, so a code cannot be
/// left out of `ALL` (nor, through `tests/finding_codes.rs`, out of README.md).
///
/// With `for Finding` and a pattern of `Finding` before each code, it also implements
/// [`HasCode`] for `Finding` from that list: the `match` is exhaustive, so a new kind of
/// finding does not compile until the list gives it a code.
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident for $finding:ty {
            $( $pat:pat => $variant:ident = $text:literal => $level:ident, )+
        }
    ) => {
        $crate::finding::codes! {
            $(#[$meta])*
            pub enum $name {
                $( $variant = $text => $level, )+
            }
        }

        impl $crate::finding::HasCode for $finding {
            type Code = $name;

            fn code(&self) -> $name {
                match self {
                    $( $pat => $name::$variant, )+
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $variant:ident = $text:literal => $level:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $variant, )+
        }

        impl $crate::finding::Code for $name {
            const ALL: &'static [$name] = &[$( $name::$variant, )+];

            fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            fn level(self) -> $crate::finding::Level {
                match self {
                    $( $name::$variant => $crate::finding::Level::$level, )+
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::finding::Code::as_str(*self))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::finding::Code::as_str(*self))
            }
        }
    };
}
pub(crate) use codes;

/// A finding with data (days, names, ...) whose kind is one of a set of codes.
pub trait HasCode: fmt::Display + Sized {
    type Code: Code;
    fn code(&self) -> Self::Code;
    /// The finding as reports show it.
    fn coded(&self) -> Coded {
        Coded::new(self.code(), self)
    }
}

/// One finding as reports show it: `{"code": "expired", "message": "expired 3 days ago"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coded {
    pub code: &'static str,
    pub message: String,
    #[serde(skip)]
    pub level: Level,
}

impl Coded {
    pub fn new<C: Code>(code: C, message: &dyn fmt::Display) -> Coded {
        Coded {
            code: code.as_str(),
            message: message.to_string(),
            level: code.level(),
        }
    }
}

impl fmt::Display for Coded {
    /// `code: message`, the form of a CSV cell.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
