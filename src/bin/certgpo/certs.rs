//! The certificate inputs `build` and `publish` share: certificate files, servers to
//! fetch from and their pins, and how each certificate is written into the GPO.

use std::path::PathBuf;

use clap::Args;
use time::OffsetDateTime;

use certgpo::blob::{BlobStyle, Extras};
use certgpo::build::{self, FetchRequest, PinRequest};
use certgpo::channel::Selection;
use certgpo::store::StoreChoice;

use crate::exit::Failure;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("remote").multiple(true))]
pub struct CertArgs {
    /// Certificate file (PEM, DER .cer/.crt, PKCS#7 .p7b/.p7c) or a directory of them; repeatable
    #[arg(long = "cert", value_name = "PATH")]
    pub certs: Vec<PathBuf>,

    /// Fetch the certificate to trust from this server (any `certgpo fetch` TARGET); repeatable. Needs a pin: --expect, a confirmation on a terminal, or --trust-on-first-use
    #[arg(long = "fetch", value_name = "TARGET", group = "remote")]
    pub fetch: Vec<String>,

    /// Fetch the certificate of every endpoint listed in FILE, the output of `certgpo discover --json`, under the same pins as --fetch
    #[arg(long, value_name = "FILE", group = "remote")]
    pub discover: Option<PathBuf>,

    /// Fingerprint (SHA-1 thumbprint or SHA-256) the fetched certificate must have: the trusted root, or the server certificate when the chain links to that root; repeatable
    #[arg(long, value_name = "FINGERPRINT", requires = "remote")]
    pub expect: Vec<String>,

    /// Trust fetched certificates that have no pin yet, without asking (records them in the lock file)
    #[arg(long, requires = "remote")]
    pub trust_on_first_use: bool,

    /// Lock file of pinned certificates (default: certgpo.lock beside --out, or in the current directory)
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub lock: Option<PathBuf>,

    /// Accept (and re-pin) a certificate that differs from the lock file; it still needs --expect, a confirmation or --trust-on-first-use
    #[arg(long, requires = "remote")]
    pub update_pins: bool,

    #[command(flatten)]
    pub connect: crate::connect::ConnectArgs,

    /// Target store: auto puts self-signed certificates in Root and other CA certificates in CA
    #[arg(long, value_parser = crate::named::parser::<StoreChoice>(), default_value = "auto")]
    pub store: StoreChoice,

    /// gpmc: the properties GPMC writes (byte-identical with GPMC); minimal: the certificate alone
    #[arg(long, value_parser = crate::named::parser::<BlobStyle>(), default_value = "gpmc")]
    pub blob: BlobStyle,

    /// Friendly name shown in the certificate console (property 0x0B)
    #[arg(long, value_name = "TEXT")]
    pub friendly_name: Option<String>,

    #[arg(long, value_name = "LIST", value_delimiter = ',', help = purpose_help())]
    pub purpose: Vec<String>,

    /// Accept expired certificates
    #[arg(long)]
    pub allow_expired: bool,
}

/// `--purpose`'s help lists every name the library's purpose table accepts.
fn purpose_help() -> String {
    format!(
        "Trust the certificates only for these purposes (property 0x09): {}",
        certgpo::purpose::names_or_oid()
    )
}

impl CertArgs {
    /// `--fetch` and `--discover` with their pins, or `None` without them.
    pub fn fetch_request(&self) -> Result<Option<FetchRequest>, Failure> {
        if self.fetch.is_empty() && self.discover.is_none() {
            return Ok(None);
        }
        Ok(Some(FetchRequest {
            targets: self.fetch.clone(),
            discover: self.discover.clone(),
            connect: self.connect.options()?,
            pins: PinRequest {
                expect: self.expect.clone(),
                trust_on_first_use: self.trust_on_first_use,
                update_pins: self.update_pins,
                lock: self.lock.clone(),
            },
        }))
    }

    /// The planner's options: these arguments and what the command adds.
    pub fn options(
        &self,
        gpo_name: String,
        domain: Option<String>,
        all_stores: bool,
        timestamp: Option<OffsetDateTime>,
        channels: Selection,
    ) -> Result<build::Options, Failure> {
        Ok(build::Options {
            gpo_name,
            domain,
            store: self.store,
            blob: self.blob,
            extras: Extras {
                friendly_name: self.friendly_name.clone(),
                purposes: build::purposes(&self.purpose)?,
            },
            all_stores,
            allow_expired: self.allow_expired,
            timestamp,
            channels,
        })
    }
}
