use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = certgpo::cli::Cli::parse();
    match certgpo::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.code)
        }
    }
}
