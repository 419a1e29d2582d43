//! certgpo: distribute certificates to Windows domain clients through Group Policy.
//!
//! The library knows nothing of the command line (`src/bin/certgpo/` is the command
//! layer, one file per subcommand). Its modules form layers that only point down;
//! `tests/architecture.rs` fails when a module imports one of a higher layer.
//!
//! 1. Foundations: `codec` (bounded byte reader; UTF-16LE, UTF-8 and BOMs of text
//!    files), `hex`, `text`, `named` (values picked by name), `atomic` (outputs written
//!    whole or not at all, together, never over an input), `input` (every file read
//!    within the limit of its kind, never a device or a pipe given by name), `error`
//!    (message + hint), `finding` (finding codes and levels), `tls` (the TLS client
//!    set-up and chain-recording verifier of `fetch` and `discover`).
//! 2. Formats, each reading and writing its own bytes: `cert` (certificate files),
//!    `pkcs7`, `purpose` (extended key usages), `store` (certificate stores and their
//!    registry keys: `CertKey`), `blob` (the registry Blob), `policy` (registry.pol),
//!    `reg` (.reg: `parse` and `write` over one `RegKey`), `gpo` (a GPMC backup: one
//!    module per file with its `parse` and `write`, `folder` the backup folder's layout
//!    and its one reader), `bundle` (the layout of a certgpo bundle), `report` (the one
//!    certificate view, as JSON/CSV/HTML), `template`, `channel` (the same trust set for
//!    Intune, macOS, Linux and Ansible).
//! 3. Engines: `inspect` (reads any input into an inventory), `fetch` (TLS capture),
//!    `directory` (the LDAP connection: TLS only, bind, password sources),
//!    `discover` (Autodiscover endpoints from AD and DNS), `live` (the live domain:
//!    GPOs from LDAP, their files from SYSVOL over SMB).
//! 4. Pipelines behind the commands: `build` (base -> certificates -> plan -> render ->
//!    write, with its `--base` and pin steps), `diff`, `audit`, `publish` (plan ->
//!    ordered writes to a live GPO).

pub mod atomic;
pub mod audit;
pub mod autodiscover;
pub mod blob;
pub mod build;
pub mod bundle;
pub mod cert;
pub mod channel;
pub mod codec;
pub mod diff;
pub mod directory;
pub mod discover;
pub mod error;
pub mod fetch;
pub mod finding;
pub mod fuzz_entry;
pub mod gpo;
pub mod hex;
pub mod input;
pub mod inspect;
pub mod live;
pub mod named;
pub mod pkcs7;
pub mod policy;
pub mod publish;
pub mod purpose;
pub mod reg;
pub mod report;
pub mod secret;
pub mod store;
pub mod template;
pub mod text;
pub mod tls;

pub use error::{Diagnostic, Kind};
