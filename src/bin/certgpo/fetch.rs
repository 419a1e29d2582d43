//! `certgpo fetch`: capture the certificate chain servers present.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use certgpo::Diagnostic;
use certgpo::fetch::{self, Capture, FetchError, output};

use crate::exit::{Failure, code};

#[derive(Args, Debug)]
#[command(
    after_help = "TARGET forms: host, host:port, [IPv6]:port, https://host[:port][/path] (443),
smtp://host (STARTTLS, 25), submission://host (STARTTLS, 587), smtps://host (465),
imap://host (STARTTLS, 143), imaps://host (993), pop3://host (STLS, 110), pop3s://host (995).

Examples:
  # Which certificate does the Exchange 2010 CAS present (TLS 1.0-only servers work)?
  certgpo fetch mail.contoso.com

  # Every Exchange service, saved as PEM and DER:
  certgpo fetch mail.contoso.com smtp://mail.contoso.com submission://mail.contoso.com imap://mail.contoso.com --out certs

  # Refuse anything but the certificate Get-ExchangeCertificate shows on the server:
  certgpo fetch mail.contoso.com --expect 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' --out certs

  # An IP address, presenting a name; machine-readable output:
  certgpo fetch 10.0.0.5 --sni mail.contoso.com --json

  # Many servers from a file (one target per line, # comments):
  certgpo fetch --targets-file cas-servers.txt --concurrency 32 --json

Exit codes: 0 every target answered; 1 at least one target failed (the others are still
reported); 2 bad usage or a write error; 3 a certificate did not match --expect (nothing written)."
)]
pub struct FetchArgs {
    /// Servers to fetch from (see TARGET forms below)
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read more targets from FILE, one per line; blank lines and # comments are skipped
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,

    /// Save each chain as PEM and DER into DIR (created if needed)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,

    /// Required fingerprint of the server certificate (SHA-1 thumbprint or SHA-256; colons, spaces and case ignored); repeatable, each target must match one
    #[arg(long, value_name = "FINGERPRINT")]
    pub expect: Vec<String>,

    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,
}

pub fn run(args: FetchArgs) -> Result<u8, Failure> {
    let targets = fetch::collect_targets(&args.targets, args.targets_file.as_deref())?;
    let pins = fetch::parse_pins(&args.expect)?;
    let opts = Arc::new(args.connect.options()?);
    let bar = fetch::progress(targets.len());
    let results = fetch::block_on(fetch::fetch_all(targets, opts, bar))?;
    let now = time::OffsetDateTime::now_utc();
    if args.json {
        let mut report = Vec::new();
        output::json(&mut report, &results, &pins, now).map_err(|source| FetchError::Write {
            path: "standard output".into(),
            source,
        })?;
        crate::output::bytes(&report)?;
    } else {
        crate::output::text(|out| out.write_all(output::text(&results, now).as_bytes()))?;
    }
    finish(&results, &pins, args.out.as_deref())
}

/// What `fetch` and `discover --fetch` do once the report is out: name every failed
/// target, refuse the lot when a certificate misses its pin (exit 3, nothing
/// written), else save the chains; exit 1 when some target failed.
pub fn finish(
    results: &[Result<Capture, FetchError>],
    pins: &[Vec<u8>],
    out: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let failures: Vec<&FetchError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    for e in &failures {
        eprintln!("error: {}", certgpo::text::printable(&e.to_string()));
    }
    // Each hint once, after the errors it explains: many targets often fail alike.
    let mut hints: Vec<String> = Vec::new();
    for hint in failures.iter().filter_map(|e| e.hint()) {
        if !hints.contains(&hint) {
            eprintln!("hint: {hint}");
            hints.push(hint);
        }
    }
    let mut mismatches: Vec<FetchError> = results
        .iter()
        .flatten()
        .filter(|c| !pins.is_empty() && !fetch::pinned(c.leaf(), pins))
        .map(|c| FetchError::PinMismatch {
            target: c.target.input.clone(),
            sha1: c.leaf().thumbprint(),
            sha256: c.leaf().sha256_hex(),
        })
        .collect();
    if let Some(last) = mismatches.pop() {
        for e in &mismatches {
            eprintln!("error: {e}");
        }
        return Err(last.into());
    }
    if let Some(dir) = out {
        let captures: Vec<&Capture> = results.iter().flatten().collect();
        let written = output::write_chains(dir, &captures)?;
        eprintln!("wrote {written} files to {}", dir.display());
    }
    Ok(if results.iter().any(|r| r.is_err()) {
        code::DIFFERENT
    } else {
        code::OK
    })
}
