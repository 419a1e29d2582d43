//! Putting a bundle together and writing it atomically.

use crate::cli::BuildArgs;
use crate::exit::Failure;

/// The GPO name used when `--gpo-name` is not given.
pub const DEFAULT_GPO_NAME: &str = "certgpo - Trusted Certificates";

pub fn run(args: BuildArgs) -> Result<u8, Failure> {
    let _ = args;
    Err(Failure::new("build is being written"))
}
