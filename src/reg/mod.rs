//! `.reg` files, regedit's text format (docs/spec/windows-formats.md §6): `parse` reads
//! what regedit and other tools write, `write` writes exactly what regedit exports.

pub mod parse;
pub mod write;

/// The first line of the files regedit writes since Windows 2000.
pub const HEADER_V5: &str = "Windows Registry Editor Version 5.00";
/// The first line of the older ANSI format, still accepted by regedit.
pub const HEADER_V4: &str = "REGEDIT4";
