//! The `certgpo` command: parse the command line, run one subcommand, turn its
//! outcome into an exit code. One file per subcommand, each turning its arguments
//! into the library's plain option structs; the work itself is in the library.

mod audit;
mod build;
mod completions;
mod connect;
mod diff;
mod discover;
mod exit;
mod fetch;
mod inspect;
mod man;
mod named;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "certgpo",
    version,
    about = "Distribute certificates to Windows domain clients through Group Policy",
    long_about = "certgpo captures the certificate an Exchange (or any TLS) server presents, and turns \
certificates into a GPMC backup that Import-GPO accepts, plus registry.pol, .reg files, \
PowerShell scripts and audit reports. It runs on any OS and its output is reproducible.",
    after_help = "Examples:
  certgpo build --cert examples/exch2010-selfsigned.cer --domain contoso.local --out bundle
  certgpo fetch mail.contoso.com smtp://mail.contoso.com imap://mail.contoso.com
  certgpo build --fetch mail.contoso.com --expect <THUMBPRINT from Get-ExchangeCertificate> --out bundle
  certgpo diff ./CurrentGpoBackup ./bundle
  certgpo audit ./AllGpoBackups --fail-days 30 --output audit.html

Exit codes: 0 success; 1 differences found (diff), findings inside --fail-days (audit), or a target failed (fetch); 2 error, nothing written; 3 pin mismatch, nothing written."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a bundle (GPO backup, registry.pol, .reg, scripts, reports) from certificates
    Build(Box<build::BuildArgs>),
    /// List every certificate in certificate files, registry.pol, .reg, GPO backups, bundles or zips
    Inspect(inspect::InspectArgs),
    /// Compare the certificates of two inputs, store by store (exit 0 equal, 1 different, 2 error)
    Diff(diff::DiffArgs),
    /// Inventory certificates across GPO backups and files; exit 1 when any falls inside --fail-days
    Audit(audit::AuditArgs),
    /// Capture the certificate chain a server presents (TLS 1.0 to 1.3, STARTTLS too)
    Fetch(fetch::FetchArgs),
    /// List every Autodiscover endpoint Outlook will reach, from Active Directory (SCP) and DNS
    Discover(discover::DiscoverArgs),
    /// Print the shell completion script for bash, zsh, fish, PowerShell or elvish
    Completions(completions::CompletionsArgs),
    /// Write the manual pages (certgpo.1 and one per command) into a directory
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build(args) => build::run(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.code)
        }
    }
}

/// Rust ignores SIGPIPE, so `certgpo inspect ... | head` would fail on a closed pipe
/// with an error; like every other Unix filter, end quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
