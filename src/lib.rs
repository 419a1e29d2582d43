//! certgpo: distribute certificates to Windows domain clients through Group Policy.
//!
//! One module per concern: `cert` loads and analyses certificates, `blob` writes the
//! registry Blob, `policy` registry.pol, `regfile` .reg files, `gpo` the GPMC backup
//! XML and report, `audit` the JSON/CSV/HTML reports, `bundle` puts a bundle together.

pub mod blob;
pub mod bundle;
pub mod cert;
pub mod cli;
pub mod codec;
pub mod exit;
/// The GPMC backup; the writers land in `gpo/mod.rs` (main), the readers are `read`.
pub mod gpo {
    pub mod read;
}
pub mod hex;
pub mod inspect;
pub mod pkcs7;
pub mod policy;
/// `.reg` files; the writer lands in `regfile/mod.rs` (main), the reader is `parse`.
pub mod regfile {
    pub mod parse;
}
pub mod store;

use cli::{Cli, Command};
pub use exit::Failure;

/// Run one command; `Ok` carries the exit code (0, or 1 for "differences found").
pub fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Build(args) => bundle::run(args),
        Command::Inspect(args) => inspect::run(args),
    }
}
