//! The Windows certificate stores certgpo writes to, and their names in every format.

use serde::Serialize;

/// A store under `Software\Policies\Microsoft\SystemCertificates` (policy) or
/// `SOFTWARE\Microsoft\SystemCertificates` (machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Store {
    Root,
    Ca,
    TrustedPeople,
    TrustedPublisher,
    Disallowed,
}

/// What `--store` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// Self-signed certificates to Root, other CA certificates to CA.
    Auto,
    Root,
    Ca,
    TrustedPeople,
    TrustedPublisher,
    Disallowed,
}

impl crate::named::Named for StoreChoice {
    const ALL: &'static [StoreChoice] = &[
        StoreChoice::Auto,
        StoreChoice::Root,
        StoreChoice::Ca,
        StoreChoice::TrustedPeople,
        StoreChoice::TrustedPublisher,
        StoreChoice::Disallowed,
    ];

    fn name(self) -> &'static str {
        match self.explicit() {
            None => "auto",
            Some(store) => store.cli_name(),
        }
    }

    fn help(self) -> &'static str {
        match self {
            StoreChoice::Auto => "Self-signed certificates to Root, other CA certificates to CA",
            _ => "",
        }
    }
}

impl StoreChoice {
    /// The explicit store, or `None` for `auto`.
    pub fn explicit(self) -> Option<Store> {
        match self {
            StoreChoice::Auto => None,
            StoreChoice::Root => Some(Store::Root),
            StoreChoice::Ca => Some(Store::Ca),
            StoreChoice::TrustedPeople => Some(Store::TrustedPeople),
            StoreChoice::TrustedPublisher => Some(Store::TrustedPublisher),
            StoreChoice::Disallowed => Some(Store::Disallowed),
        }
    }
}

/// Policy registry root of the group-policy physical stores
/// (docs/spec/windows-formats.md §2.1).
pub const POLICY_ROOT: &str = r"Software\Policies\Microsoft\SystemCertificates";
/// Machine registry root of the local-machine physical stores
/// (docs/spec/windows-formats.md §6).
pub const MACHINE_ROOT: &str = r"SOFTWARE\Microsoft\SystemCertificates";

/// Every store key GPMC writes when the Public Key Policies snap-in saves
/// (docs/spec/windows-formats.md §2.2, NSA-CERT), in registry name form.
pub const GPMC_STORE_KEYS: &[&str] = &[
    "ACRS",
    "CA",
    "Disallowed",
    "DPNGRA",
    "FVE",
    "FVE_NKP",
    "Root",
    "Trust",
    "TrustedPeople",
    "TrustedPublisher",
];

impl Store {
    pub const ALL: [Store; 5] = [
        Store::Root,
        Store::Ca,
        Store::TrustedPeople,
        Store::TrustedPublisher,
        Store::Disallowed,
    ];

    /// The key name under the policy root, as GPMC writes it.
    pub fn registry_name(self) -> &'static str {
        match self {
            Store::Root => "Root",
            Store::Ca => "CA",
            Store::TrustedPeople => "TrustedPeople",
            Store::TrustedPublisher => "TrustedPublisher",
            Store::Disallowed => "Disallowed",
        }
    }

    /// The key name under the machine root, as regedit exports show it.
    pub fn machine_name(self) -> &'static str {
        match self {
            Store::Root => "ROOT",
            other => other.registry_name(),
        }
    }

    /// The node of the Group Policy editor and certificate console.
    pub fn console_name(self) -> &'static str {
        match self {
            Store::Root => "Trusted Root Certification Authorities",
            Store::Ca => "Intermediate Certification Authorities",
            Store::TrustedPeople => "Trusted People",
            Store::TrustedPublisher => "Trusted Publishers",
            Store::Disallowed => "Untrusted Certificates",
        }
    }

    /// The gpreport.xml element of the PublicKey extension
    /// (docs/spec/windows-formats.md §4.5; only Root and CA are confirmed by a real report,
    /// the others follow third-party report parsers).
    pub fn report_element(self) -> &'static str {
        match self {
            Store::Root => "RootCertificate",
            Store::Ca => "IntermediateCACertificate",
            Store::TrustedPeople => "TrustedPeopleCertificate",
            Store::TrustedPublisher => "TrustedPublishersCertificate",
            Store::Disallowed => "UntrustedCertificate",
        }
    }

    /// Position in the Public Key Policies node of the GPO editor, which is the order
    /// gpreport.xml lists certificates in (NSA-CERT: Root before CA, although CA sorts
    /// first in registry.pol). The stores after CA follow the editor's node order.
    pub fn report_rank(self) -> u8 {
        match self {
            Store::Root => 0,
            Store::Ca => 1,
            Store::TrustedPublisher => 2,
            Store::Disallowed => 3,
            Store::TrustedPeople => 4,
        }
    }

    /// Short name used on the command line and in reports.
    pub fn cli_name(self) -> &'static str {
        match self {
            Store::Root => "root",
            Store::Ca => "ca",
            Store::TrustedPeople => "trusted-people",
            Store::TrustedPublisher => "trusted-publisher",
            Store::Disallowed => "disallowed",
        }
    }

    /// Parse a registry store name (case-insensitive, as the registry is).
    pub fn from_registry_name(name: &str) -> Option<Store> {
        Store::ALL
            .into_iter()
            .find(|s| s.registry_name().eq_ignore_ascii_case(name))
    }
}
