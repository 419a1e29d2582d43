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

/// Policy registry root of the group-policy physical stores (docs/spec/windows-formats.md §2.1).
const POLICY_ROOT: &str = r"Software\Policies\Microsoft\SystemCertificates";
/// Machine registry root of the local-machine physical stores (docs/spec/windows-formats.md §6).
const MACHINE_ROOT: &str = r"SOFTWARE\Microsoft\SystemCertificates";

/// The keys under a store's key (docs/spec/windows-formats.md §2.2): `Certificates` holds one subkey per
/// certificate, `CRLs` and `CTLs` the revocation and trust lists certgpo never writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Certificates,
    Crls,
    Ctls,
}

impl Container {
    pub const ALL: [Container; 3] = [Container::Certificates, Container::Crls, Container::Ctls];
    /// The keys GPMC writes empty beside a store's certificates.
    pub const EMPTY_BESIDE_CERTIFICATES: [Container; 2] = [Container::Crls, Container::Ctls];

    pub fn name(self) -> &'static str {
        match self {
            Container::Certificates => "Certificates",
            Container::Crls => "CRLs",
            Container::Ctls => "CTLs",
        }
    }
}

/// `<policy root>\<store>\<container>`: the key registry.pol creates for a store.
/// `store` is a registry name (GPMC's stores include some [`Store`] does not list).
pub fn policy_container_key(store: &str, container: Container) -> String {
    format!(r"{POLICY_ROOT}\{store}\{}", container.name())
}

/// The store of a key under the policy root (`<policy root>\<store>\...`), as written.
pub fn policy_store_of(key: &str) -> Option<&str> {
    let rest = strip_prefix_ignore_case(key, POLICY_ROOT)?.strip_prefix('\\')?;
    rest.split('\\').next().filter(|s| !s.is_empty())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The key of one certificate in a store: `<root>\<store>\Certificates\<thumbprint>`.
/// Every writer spells the path through here (registry.pol, the `.reg` files) and
/// every reader recognises it through [`CertKey::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKey {
    /// The store's key name as written: GPMC's `Root`, regedit's `ROOT`, or a store
    /// certgpo does not write itself (`FVE`, `ACRS`...).
    pub store: String,
    /// As written (certgpo writes upper-case hex).
    pub thumbprint: String,
}

impl CertKey {
    pub fn new(store: Store, thumbprint: String) -> CertKey {
        CertKey {
            store: store.registry_name().to_string(),
            thumbprint,
        }
    }

    /// The key in registry.pol: under the policy root (docs/spec/windows-formats.md §2.1).
    pub fn policy_path(&self) -> String {
        format!(
            r"{}\{}",
            policy_container_key(&self.store, Container::Certificates),
            self.thumbprint
        )
    }

    /// The key in the local machine's registry, as regedit exports it (docs/spec/windows-formats.md §6).
    pub fn machine_path(&self) -> String {
        let store = self
            .known_store()
            .map_or(self.store.as_str(), |s| s.machine_name());
        format!(
            r"HKEY_LOCAL_MACHINE\{MACHINE_ROOT}\{store}\{}\{}",
            Container::Certificates.name(),
            self.thumbprint
        )
    }

    /// The store, when it is one certgpo knows.
    pub fn known_store(&self) -> Option<Store> {
        Store::from_registry_name(&self.store)
    }

    /// Recognise `...\SystemCertificates\<store>\Certificates\<thumbprint>` in any
    /// hive, under the policy or the machine root (registry.pol and `.reg` files).
    pub fn parse(key: &str) -> Option<CertKey> {
        let (parent, thumb) = key.trim_end_matches('\\').rsplit_once('\\')?;
        Some(CertKey {
            store: certificates_store_of(parent)?,
            thumbprint: thumb.to_string(),
        })
    }
}

/// The store whose `Certificates` key this is (`...\SystemCertificates\<store>\Certificates`).
pub fn certificates_store_of(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('\\').filter(|p| !p.is_empty()).collect();
    let at = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("SystemCertificates"))?;
    match &parts[at + 1..] {
        [store, certs] if certs.eq_ignore_ascii_case(Container::Certificates.name()) => {
            Some(store.to_string())
        }
        _ => None,
    }
}

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

    /// The gpreport.xml element of the PublicKey extension (docs/spec/windows-formats.md §4.5; only Root and
    /// CA are confirmed by a real report, the others follow third-party report parsers).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_keys_are_spelled_and_parsed_in_one_place() {
        let key = CertKey::new(Store::Root, "AB12".into());
        assert_eq!(
            key.policy_path(),
            r"Software\Policies\Microsoft\SystemCertificates\Root\Certificates\AB12"
        );
        assert_eq!(
            key.machine_path(),
            r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\SystemCertificates\ROOT\Certificates\AB12"
        );
        assert_eq!(CertKey::parse(&key.policy_path()), Some(key.clone()));
        let machine = CertKey::parse(&key.machine_path()).unwrap();
        assert_eq!(
            (machine.store.as_str(), machine.known_store()),
            ("ROOT", Some(Store::Root))
        );
        assert_eq!(
            CertKey::parse(r"Software\Policies\Microsoft\SystemCertificates\Root\CRLs"),
            None
        );
        assert_eq!(
            certificates_store_of(r"HKLM\SOFTWARE\Microsoft\SystemCertificates\CA\Certificates"),
            Some("CA".into())
        );
        let crls = policy_container_key("FVE", Container::Crls);
        assert_eq!(
            crls,
            r"Software\Policies\Microsoft\SystemCertificates\FVE\CRLs"
        );
        assert_eq!(policy_store_of(&crls.to_ascii_lowercase()), Some("fve"));
        assert_eq!(policy_store_of(r"Software\Policies\Other\X"), None);
    }
}
