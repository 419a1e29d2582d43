//! The `certgpo` command: parse the command line, run one subcommand, turn its
//! outcome into an exit code. One file per subcommand, each turning its arguments
//! into the library's plain option structs; the work itself is in the library.

mod audit;
mod backup;
mod build;
mod certs;
mod completions;
mod connect;
mod diff;
mod discover;
mod exit;
mod fetch;
mod inspect;
mod ldap;
mod man;
mod named;
mod output;
mod publish;

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
    /// Publish certificates into a live GPO over LDAP and SMB (update, create, link; --what-if plans only)
    Publish(Box<publish::PublishArgs>),
    /// Write a live GPO (directory and SYSVOL) as a GPMC backup folder
    Backup(backup::BackupArgs),
    /// Capture the certificate chain a server presents (TLS 1.0 to 1.3, STARTTLS too)
    Fetch(fetch::FetchArgs),
    /// List every Autodiscover endpoint Outlook will reach, from Active Directory (SCP) and DNS
    Discover(Box<discover::DiscoverArgs>),
    /// Print the shell completion script for bash, zsh, fish, PowerShell or elvish
    Completions(completions::CompletionsArgs),
    /// Write the manual pages (certgpo.1 and one per command) into a directory
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    restore_sigpipe();
    clean_up_on_signals();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Build(args) => build::run(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Publish(args) => publish::run(*args),
        Command::Backup(args) => backup::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Discover(args) => discover::run(*args),
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

/// On SIGINT (Ctrl-C) or SIGTERM, remove the temporary files and folders being written
/// (a bundle's can be 20 MB) before ending. The two signals are blocked in every thread
/// (threads started later inherit the mask) and taken by one thread with sigwait(3), so
/// the clean-up runs as ordinary code, not in a signal handler. The process then ends
/// by the same signal, as the shell expects of an interrupted command (exit status
/// 130 or 143): see <https://www.cons.org/cracauer/sigint.html>.
fn clean_up_on_signals() {
    #[cfg(unix)]
    {
        // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; the
        // mask is changed before any other thread exists.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            set
        };
        let waiter = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut signal = 0;
                // SAFETY: set is a valid signal set; signal receives the number.
                while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
                match certgpo::atomic::interrupted(|| end_by(signal)) {}
            });
        if waiter.is_err() {
            // Without the thread nobody would take the signals: leave them deliverable.
            // SAFETY: as above.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        }
    }
}

/// End the process by `signal`'s default action, else with exit status 128 + signal.
#[cfg(unix)]
fn end_by(signal: libc::c_int) -> std::convert::Infallible {
    // SAFETY: restoring the default action and unblocking the signal in this thread,
    // then raising it: the process ends as if it had never been caught.
    unsafe {
        let mut only: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut only);
        libc::sigaddset(&mut only, signal);
        libc::signal(signal, libc::SIG_DFL);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
