//! certgpo: distribute certificates to Windows domain clients through Group Policy.
//!
//! One module per concern: `cert` loads and analyses certificates, `blob` writes the
//! registry Blob, `policy` registry.pol, `regfile` .reg files, `gpo` the GPMC backup
//! XML and report, `audit` the JSON/CSV/HTML reports, `bundle` puts a bundle together.

pub mod atomic;
pub mod audit;
pub mod base;
pub mod blob;
pub mod bundle;
pub mod cert;
pub mod cli;
pub mod codec;
pub mod diff;
pub mod discover;
pub mod exit;
pub mod fetch;
pub mod fuzz_entry;
pub mod gpo;
pub mod hex;
pub mod inspect;
pub mod pin;
pub mod pkcs7;
pub mod policy;
pub mod regfile;
pub mod store;
pub mod template;
pub mod text;

use cli::{Cli, Command};
pub use exit::Failure;

/// Run one command; `Ok` carries the exit code (0, or 1 for "differences found").
pub fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Build(args) => bundle::run(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Audit(args) => audit::inventory::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Discover(args) => discover::run(args),
    }
}
