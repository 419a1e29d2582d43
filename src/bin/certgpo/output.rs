//! Writing a command's result to standard output.

use std::io::Write;

use serde::Serialize;

use crate::exit::Failure;

fn stdout_failure(e: std::io::Error) -> Failure {
    Failure::new(format!("cannot write standard output: {e}"))
}

/// Pretty JSON and a newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::other)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
        .map_err(stdout_failure)
}

/// Human-readable text, through the filter that keeps control characters from
/// certificates and files away from the terminal.
pub fn text(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let mut out = certgpo::text::Terminal::new(&mut stdout);
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(stdout_failure)
}

/// Bytes as they are (a rendered report).
pub fn bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_failure)
}

/// Machine-readable output (JSON, CSV) that escapes its own content.
pub fn raw(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(stdout_failure)
}
