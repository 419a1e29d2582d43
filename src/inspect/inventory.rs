//! What reading inputs produces: each certificate entry with where it was found and
//! what is wrong with it, plus notes and summaries about the containers.

use std::collections::HashMap;

use serde::Serialize;

use crate::blob::ParsedBlob;
use crate::cert::Certificate;
use crate::finding::codes;
pub use crate::report::{Format, GpoRef, Half, Location};
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Also list every registry.pol / .reg instruction (`inspect --settings`).
    pub settings: bool,
}

/// Something wrong with one certificate entry, beyond the certificate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The Blob does not parse (no 0x20 element, bad sizes...): Windows ignores it.
    UnreadableBlob {
        detail: String,
    },
    UnreadableCertificate {
        detail: String,
    },
    /// The key is not named after the SHA-1 of the certificate: Windows ignores it.
    KeyMismatch {
        key: String,
        sha1: String,
    },
    /// Right digits, lower case; GPMC writes upper case and Wine compares exactly.
    KeyNotUpperCase {
        key: String,
    },
    /// Property 0x03 (SHA1_HASH) disagrees with the certificate.
    Sha1PropertyMismatch {
        property: String,
    },
    /// The Blob value is not REG_BINARY.
    BlobNotBinary {
        type_name: String,
    },
    /// In Root but not self-signed.
    RootNotSelfSigned {
        issuer: String,
    },
}

codes! {
    /// The codes of [`Problem`] (README.md, "Finding codes").
    pub enum ProblemCode for Problem {
        Problem::UnreadableBlob { .. } => UnreadableBlob = "unreadable-blob" => Bad,
        Problem::UnreadableCertificate { .. } => UnreadableCertificate = "unreadable-certificate" => Bad,
        Problem::KeyMismatch { .. } => KeyMismatch = "key-mismatch" => Bad,
        Problem::KeyNotUpperCase { .. } => KeyNotUpperCase = "key-not-upper-case" => Warn,
        Problem::Sha1PropertyMismatch { .. } => Sha1PropertyMismatch = "sha1-property-mismatch" => Warn,
        Problem::BlobNotBinary { .. } => BlobNotBinary = "blob-not-binary" => Bad,
        Problem::RootNotSelfSigned { .. } => RootNotSelfSigned = "root-not-self-signed" => Warn,
    }
}

impl Problem {
    /// Windows skips the entry: the certificate it carries is not installed.
    pub fn windows_ignores(&self) -> bool {
        match self {
            Problem::UnreadableBlob { .. }
            | Problem::UnreadableCertificate { .. }
            | Problem::KeyMismatch { .. }
            | Problem::BlobNotBinary { .. } => true,
            Problem::KeyNotUpperCase { .. }
            | Problem::Sha1PropertyMismatch { .. }
            | Problem::RootNotSelfSigned { .. } => false,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::UnreadableBlob { detail } => {
                write!(
                    f,
                    "the Blob is unreadable ({detail}): Windows ignores this entry"
                )
            }
            Problem::UnreadableCertificate { detail } => write!(
                f,
                "the certificate inside is malformed ({detail}): Windows ignores this entry"
            ),
            Problem::KeyMismatch { key, sha1 } => write!(
                f,
                "the key is named {key} but the certificate's SHA-1 is {sha1}: Windows ignores this entry"
            ),
            Problem::KeyNotUpperCase { key } => write!(
                f,
                "the key name {key} is not upper-case hex (GPMC writes upper case; Wine ignores this entry)"
            ),
            Problem::Sha1PropertyMismatch { property } => write!(
                f,
                "property 0x03 (SHA1_HASH) is {property}, not the certificate's SHA-1"
            ),
            Problem::BlobNotBinary { type_name: kind } => write!(
                f,
                "the Blob value has type {kind}, not REG_BINARY: Windows ignores this entry"
            ),
            Problem::RootNotSelfSigned { issuer } => write!(
                f,
                "in Root but not self-signed (issued by {issuer}): it belongs in CA (Intermediate Certification Authorities)"
            ),
        }
    }
}

/// One certificate entry found in an input.
#[derive(Debug, Clone)]
pub struct Item {
    pub location: Location,
    /// The registry store name as written (`Root`, `CA`, `TrustedPeople`, ...);
    /// `None` for certificate files, which name no store.
    pub store: Option<String>,
    /// The thumbprint the key is named after, for registry entries.
    pub key_thumbprint: Option<String>,
    pub blob: Option<ParsedBlob>,
    /// `None` when the entry could not be read (see `problems`).
    pub cert: Option<Certificate>,
    pub problems: Vec<Problem>,
}

impl Item {
    /// The store as certgpo names it, when it is one of those certgpo writes.
    pub fn known_store(&self) -> Option<Store> {
        self.store.as_deref().and_then(Store::from_registry_name)
    }

    /// Store label that tells the user half apart (`Root`, `Root (user)`).
    pub fn store_label(&self) -> String {
        let store = self
            .known_store()
            .map(|s| s.registry_name().to_string())
            .or_else(|| self.store.clone())
            .unwrap_or_else(|| "(no store)".into());
        match self.location.half {
            Some(Half::User) => format!("{store} (user)"),
            _ => store,
        }
    }

    pub fn thumbprint(&self) -> Option<String> {
        self.cert
            .as_ref()
            .map(Certificate::thumbprint)
            .or_else(|| self.key_thumbprint.clone())
    }
}

/// A fact about a container (file, backup, bundle) rather than one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub file: String,
    pub code: NoteCode,
    pub message: String,
}

codes! {
    /// The codes of [`Note`] (README.md, "Finding codes"). `bad`: the GPO's
    /// certificates do not apply, or the backup cannot be imported, as it is.
    pub enum NoteCode {
        RegistryPolUnsorted = "registry-pol-unsorted" => Warn,
        BackupXmlMissing = "backup-xml-missing" => Bad,
        BackupIdMismatch = "backup-id-mismatch" => Bad,
        GpoGuidMismatch = "gpo-guid-mismatch" => Warn,
        BackupFileMissing = "backup-file-missing" => Warn,
        ExtensionGuids = "extension-guids" => Bad,
        HalfDisabled = "half-disabled" => Bad,
        ReportStale = "report-stale" => Warn,
        ManifestMissingBackup = "manifest-missing-backup" => Warn,
        ManifestUnlistedBackup = "manifest-unlisted-backup" => Warn,
        BundleInconsistent = "bundle-inconsistent" => Warn,
        VersionMismatch = "version-mismatch" => Bad,
        SysvolMissing = "sysvol-missing" => Bad,
        SysvolUnreadable = "sysvol-unreadable" => Bad,
    }
}

/// A `[-key]` or `**DeleteKeys` that removes a certificate from a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub file: String,
    pub store: String,
    pub thumbprint: String,
    pub key: String,
}

/// One registry instruction, for `inspect --settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub key: String,
    /// `None` for a .reg default value (`@`) or a `[-key]` deletion.
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: u32,
    pub type_name: String,
    pub size: usize,
    pub data_hex: String,
    pub data: String,
    pub action: String,
}

/// One file read, for the summary line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub format: &'static str,
    /// Instructions (registry.pol), values (.reg), certificates (files, reports).
    pub entries: usize,
    pub control_codes: usize,
    pub certificates: usize,
}

/// A GPMC backup found in the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSummary {
    pub dir: String,
    #[serde(flatten)]
    pub gpo: GpoRef,
    pub backup_time: String,
    pub options: u32,
    pub machine_version: u32,
    pub user_version: u32,
    pub machine_extension_guids: String,
}

/// Where a live GPO is linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpoLink {
    pub container: String,
    /// `domain`, `ou` or `site`.
    pub kind: String,
    pub enabled: bool,
    pub enforced: bool,
}

/// A GPO read from the live domain (directory and SYSVOL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GpoSummary {
    pub name: String,
    pub guid: String,
    pub dn: String,
    /// AD `versionNumber`.
    pub version: u32,
    /// `GPT.INI`'s `Version=`, when it was read.
    pub sysvol_version: Option<u32>,
    pub machine_extension_guids: String,
    /// The container's `flags` (1 user half disabled, 2 computer half disabled).
    pub flags: u32,
    pub computer_disabled: bool,
    pub wmi_filter: Option<String>,
    pub links: Vec<GpoLink>,
    /// `read`, `missing` or `unreadable`.
    pub sysvol: String,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub items: Vec<Item>,
    /// Live GPOs read (directory and SYSVOL); empty for files.
    pub gpos: Vec<GpoSummary>,
    pub notes: Vec<Note>,
    pub removals: Vec<Removal>,
    pub settings: Vec<Setting>,
    pub files: Vec<FileSummary>,
    pub backups: Vec<BackupSummary>,
    pub warnings: Vec<String>,
    /// Certificates already analysed, by DER: the same certificate in many GPOs (or
    /// many times in one file) is parsed and its signature checked once.
    cache: HashMap<Vec<u8>, Result<Certificate, String>>,
}

impl Inventory {
    pub(super) fn certificate(&mut self, der: Vec<u8>) -> Result<Certificate, String> {
        if let Some(hit) = self.cache.get(&der) {
            return hit.clone();
        }
        let analysed = Certificate::from_der(der.clone());
        self.cache.insert(der, analysed.clone());
        analysed
    }

    pub fn note(&mut self, file: impl Into<String>, code: NoteCode, message: impl Into<String>) {
        self.notes.push(Note {
            file: file.into(),
            code,
            message: message.into(),
        });
    }
}
