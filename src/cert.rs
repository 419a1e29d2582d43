//! Loading certificate files (PEM, DER, PKCS#7) and analysing certificates.
//!
//! Everything downstream (Blob, registry.pol, reports, fetch output) works from
//! [`Certificate`], an owned summary computed once from the DER bytes, so that the
//! x509 parser's borrowed structures never leak out of this module.

use std::fmt;
use std::path::{Path, PathBuf};

use ::time::OffsetDateTime;
use md5::Md5;
use serde::Serialize;
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha384, Sha512};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::hex;
use crate::input::{self, InputError, MAX_DIR_FILES};
use crate::purpose;

/// Problems reading certificate files. Each names the file so an admin can find it.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Pkcs12(#[from] Pkcs12Refused),
    #[error("{path}: not a certificate file (expected PEM, DER or PKCS#7): {detail}")]
    NotCertificate { path: PathBuf, detail: String },
    #[error("{path}: certificate #{index} is malformed: {detail}")]
    Malformed {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    #[error("{path}: holds no certificate")]
    Empty { path: PathBuf },
    #[error("{path}: directory holds no certificate file (.cer .crt .pem .der .p7b .p7c)")]
    EmptyDir { path: PathBuf },
    #[error("{path}: more than {MAX_DIR_FILES} files; certgpo stops there")]
    TooManyFiles { path: PathBuf },
}

impl crate::Diagnostic for CertError {
    fn hint(&self) -> Option<String> {
        match self {
            CertError::Input(e) => e.hint(),
            CertError::Pkcs12(e) => Some(e.hint()),
            _ => None,
        }
    }
}

/// Why a file holds no certificate certgpo can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undecodable {
    /// A `.pfx`/`.p12`: it usually carries the private key, which certgpo never handles.
    #[error("PKCS#12 is not accepted: export the certificate without its key")]
    Pkcs12,
    #[error("{0}")]
    Other(String),
}

/// A PKCS#12 file given where a certificate file was expected.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {}", Undecodable::Pkcs12)]
pub struct Pkcs12Refused {
    pub path: String,
}

impl Pkcs12Refused {
    /// The openssl command that takes the certificates out, keys left behind.
    pub fn hint(&self) -> String {
        let input = Path::new(&self.path);
        let mut out = input.with_extension("pem");
        if out == input {
            out = input.with_extension("certs.pem");
        }
        format!(
            "openssl pkcs12 -in {} -nokeys -out {}",
            shell_word(&self.path),
            shell_word(&out.display().to_string())
        )
    }
}

/// A path as one word for a POSIX shell (quoted when it needs to be).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Where a certificate was read from, for messages and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: String,
    /// 1-based position inside the file (PEM block or PKCS#7 member).
    pub index: usize,
}

/// The hash algorithm of a certificate's signature; it also decides how Windows
/// computes the SIGNATURE_HASH property (docs/spec/windows-formats.md §3.2, 0x0F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SigHash {
    Md2,
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    /// Ed25519, RSASSA-PSS with parameters, or an algorithm we do not know.
    Other,
}

#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    #[serde(skip)]
    pub der: Vec<u8>,
    #[serde(serialize_with = "ser_hex")]
    pub sha1: [u8; 20],
    #[serde(serialize_with = "ser_hex")]
    pub sha256: [u8; 32],
    #[serde(skip)]
    pub md5: [u8; 16],
    pub subject: String,
    pub issuer: String,
    /// Display name in the style of the Windows console's "Issued To".
    pub subject_display: String,
    pub issuer_display: String,
    pub serial: String,
    #[serde(with = "::time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "::time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub self_signed: bool,
    pub is_ca: bool,
    pub key_algorithm: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    #[serde(skip)]
    pub sig_hash: SigHash,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    /// Extended key usage OIDs; empty means "no EKU extension" (any purpose).
    pub eku: Vec<String>,
    /// Hash of the DER TBSCertificate with the signature's own hash (property 0x0F).
    #[serde(skip)]
    pub signature_hash: Option<Vec<u8>>,
    /// Subject Key Identifier extension value (property 0x14).
    #[serde(skip)]
    pub ski: Option<Vec<u8>>,
    /// MD5 of the subjectPublicKey BIT STRING contents (property 0x19).
    #[serde(skip)]
    pub public_key_md5: [u8; 16],
    /// SHA-1 of the whole encoded SubjectPublicKeyInfo, Microsoft's documented
    /// fallback for the key identifier when there is no SKI (docs/spec/windows-formats.md §10).
    #[serde(skip)]
    pub spki_sha1: [u8; 20],
}

fn ser_hex<S: serde::Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::upper(v))
}

impl Certificate {
    /// Analyse one DER certificate. The error text says what is wrong with it.
    pub fn from_der(der: Vec<u8>) -> Result<Certificate, String> {
        let (rest, x509) = X509Certificate::from_der(&der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes of trailing data after the certificate",
                rest.len()
            ));
        }
        let sha1: [u8; 20] = Sha1::digest(&der).into();
        let sha256: [u8; 32] = Sha256::digest(&der).into();
        let md5: [u8; 16] = Md5::digest(&der).into();

        let spki = x509.public_key();
        let (key_algorithm, key_bits) = describe_key(spki);
        let sig_oid = x509.signature_algorithm.algorithm.to_id_string();
        let (signature_algorithm, sig_hash) = describe_signature(&sig_oid);
        let tbs: &[u8] = x509.tbs_certificate.as_ref();
        let signature_hash = match sig_hash {
            SigHash::Md5 => Some(Md5::digest(tbs).to_vec()),
            SigHash::Sha1 => Some(Sha1::digest(tbs).to_vec()),
            SigHash::Sha256 => Some(Sha256::digest(tbs).to_vec()),
            SigHash::Sha384 => Some(Sha384::digest(tbs).to_vec()),
            SigHash::Sha512 => Some(Sha512::digest(tbs).to_vec()),
            SigHash::Md2 | SigHash::Other => None,
        };

        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut eku = Vec::new();
        let mut ski = None;
        let mut is_ca = false;
        for ext in x509.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => dns_names.push((*d).to_string()),
                            GeneralName::IPAddress(ip) => ip_addresses.push(format_ip(ip)),
                            _ => {}
                        }
                    }
                }
                ParsedExtension::ExtendedKeyUsage(e) => {
                    if e.any {
                        eku.push(purpose::ANY.to_string());
                    }
                    if e.server_auth {
                        eku.push(purpose::SERVER_AUTH.to_string());
                    }
                    if e.client_auth {
                        eku.push(purpose::CLIENT_AUTH.to_string());
                    }
                    if e.code_signing {
                        eku.push(purpose::CODE_SIGNING.to_string());
                    }
                    if e.email_protection {
                        eku.push(purpose::EMAIL.to_string());
                    }
                    if e.time_stamping {
                        eku.push(purpose::TIME_STAMPING.to_string());
                    }
                    if e.ocsp_signing {
                        eku.push(purpose::OCSP_SIGNING.to_string());
                    }
                    eku.extend(e.other.iter().map(|o| o.to_id_string()));
                }
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                _ => {}
            }
        }

        let same_name = x509.subject().as_raw() == x509.issuer().as_raw();
        // A name match alone is what Windows uses to call a certificate self-issued;
        // we also check the signature where ring can, so a forged "self-signed"
        // certificate with someone else's name is not filed under Root by `--store auto`.
        let self_signed = same_name
            && match x509.verify_signature(None) {
                Ok(()) => true,
                Err(X509Error::SignatureUnsupportedAlgorithm) => true,
                Err(_) => false,
            };

        Ok(Certificate {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            subject_display: display_name(x509.subject()),
            issuer_display: display_name(x509.issuer()),
            serial: hex::upper(x509.raw_serial()),
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            self_signed,
            is_ca,
            key_algorithm,
            key_bits,
            signature_algorithm,
            sig_hash,
            dns_names,
            ip_addresses,
            eku,
            signature_hash,
            ski,
            public_key_md5: Md5::digest(&spki.subject_public_key.data).into(),
            spki_sha1: Sha1::digest(spki.raw).into(),
            sha1,
            sha256,
            md5,
            der,
        })
    }

    /// The Windows thumbprint: 40 upper-case hex digits of SHA-1(DER).
    pub fn thumbprint(&self) -> String {
        hex::upper(&self.sha1)
    }

    pub fn sha256_hex(&self) -> String {
        hex::upper(&self.sha256)
    }

    /// Whole days from `now` until expiry (negative when expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// The findings every command reports the same way (`build`, `fetch`, `inspect`).
    pub fn findings(&self, now: OffsetDateTime) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.not_after < now {
            out.push(Finding::Expired {
                days_ago: (now - self.not_after).whole_days(),
            });
        } else if self.days_left(now) < EXPIRY_WARNING_DAYS {
            out.push(Finding::ExpiresSoon {
                days: self.days_left(now),
            });
        }
        if self.not_before > now {
            out.push(Finding::NotYetValid);
        }
        if self.key_algorithm == "RSA" && self.key_bits < 2048 {
            out.push(Finding::WeakKey {
                bits: self.key_bits,
            });
        }
        // A root's own signature is never checked by Windows, but admins and auditors
        // still ask about it, so roots are reported the same way.
        if matches!(self.sig_hash, SigHash::Md2 | SigHash::Md5 | SigHash::Sha1) {
            out.push(Finding::WeakSignature {
                algorithm: self.signature_algorithm.clone(),
            });
        }
        out
    }
}

/// The "expires soon" finding: this many days before notAfter a renewal needs planning
/// (the same number as the default of `audit --warn-days`).
pub const EXPIRY_WARNING_DAYS: i64 = 60;

/// A fact about a certificate that an admin should see before trusting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Expired { days_ago: i64 },
    ExpiresSoon { days: i64 },
    NotYetValid,
    WeakKey { bits: u32 },
    WeakSignature { algorithm: String },
}

crate::finding::codes! {
    /// The codes of [`Finding`] (README.md, "Finding codes").
    pub enum FindingCode for Finding {
        Finding::Expired { .. } => Expired = "expired" => Bad,
        Finding::ExpiresSoon { .. } => ExpiresSoon = "expires-soon" => Warn,
        Finding::NotYetValid => NotYetValid = "not-yet-valid" => Warn,
        Finding::WeakKey { .. } => WeakKey = "weak-key" => Warn,
        Finding::WeakSignature { .. } => WeakSignature = "weak-signature" => Warn,
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Expired { days_ago } => write!(f, "expired {days_ago} days ago"),
            Finding::ExpiresSoon { days } => write!(f, "expires in {days} days"),
            Finding::NotYetValid => write!(f, "not yet valid"),
            Finding::WeakKey { bits } => write!(f, "weak RSA key ({bits} bits, below 2048)"),
            Finding::WeakSignature { algorithm } => {
                write!(f, "weak signature algorithm ({algorithm})")
            }
        }
    }
}

fn describe_key(spki: &SubjectPublicKeyInfo) -> (String, u32) {
    let oid = spki.algorithm.algorithm.to_id_string();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), rsa.key_size() as u32),
        Ok(PublicKey::EC(ec)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| match o.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "unknown curve".into());
            (format!("ECDSA {curve}"), ec.key_size() as u32)
        }
        Ok(PublicKey::DSA(_)) => (
            "DSA".into(),
            spki.parsed().map_or(0, |k| k.key_size() as u32),
        ),
        _ if oid == "1.3.101.112" => ("Ed25519".into(), 256),
        _ if oid == "1.3.101.113" => ("Ed448".into(), 456),
        _ => (oid, 0),
    }
}

/// Names as Windows shows them (certmgr's "Signature algorithm" column).
fn describe_signature(oid: &str) -> (String, SigHash) {
    let (name, hash) = match oid {
        "1.2.840.113549.1.1.2" => ("md2RSA", SigHash::Md2),
        "1.2.840.113549.1.1.4" => ("md5RSA", SigHash::Md5),
        "1.2.840.113549.1.1.5" => ("sha1RSA", SigHash::Sha1),
        "1.2.840.113549.1.1.11" => ("sha256RSA", SigHash::Sha256),
        "1.2.840.113549.1.1.12" => ("sha384RSA", SigHash::Sha384),
        "1.2.840.113549.1.1.13" => ("sha512RSA", SigHash::Sha512),
        "1.2.840.113549.1.1.10" => ("RSASSA-PSS", SigHash::Other),
        "1.2.840.10045.4.1" => ("sha1ECDSA", SigHash::Sha1),
        "1.2.840.10045.4.3.2" => ("sha256ECDSA", SigHash::Sha256),
        "1.2.840.10045.4.3.3" => ("sha384ECDSA", SigHash::Sha384),
        "1.2.840.10045.4.3.4" => ("sha512ECDSA", SigHash::Sha512),
        "1.2.840.10040.4.3" => ("sha1DSA", SigHash::Sha1),
        "1.3.101.112" => ("Ed25519", SigHash::Other),
        other => return (other.to_string(), SigHash::Other),
    };
    (name.to_string(), hash)
}

/// The "Issued To" text of the Windows console: the CN, else the first OU, else O,
/// else the whole name.
fn display_name(name: &X509Name) -> String {
    let first = |it: &mut dyn Iterator<Item = &AttributeTypeAndValue>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .map(|s| s.to_string())
    };
    first(&mut name.iter_common_name())
        .or_else(|| first(&mut name.iter_organizational_unit()))
        .or_else(|| first(&mut name.iter_organization()))
        .unwrap_or_else(|| name.to_string())
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::upper(bytes),
    }
}

/// A certificate together with the place it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub cert: Certificate,
    pub origin: Origin,
}

/// The result of reading one or more paths: certificates plus warnings to show.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub certs: Vec<Loaded>,
    pub warnings: Vec<String>,
    /// What a folder held that was not read (subfolders, other files).
    pub notes: Vec<String>,
}

/// File extensions taken when a directory is given.
const CERT_EXTENSIONS: &[&str] = &["cer", "crt", "pem", "der", "p7b", "p7c"];

/// Read every `--cert` path (files, or folders of certificate files) in a stable order.
pub fn load_paths(paths: &[PathBuf]) -> Result<LoadReport, CertError> {
    let mut report = LoadReport::default();
    for path in paths {
        if input::is_dir(path).map_err(|e| e.given_as("--cert"))? {
            for f in certificate_files(path, &mut report)? {
                load_file(&f, &mut report)?;
            }
        } else {
            let bytes = input::read(path, input::CERTIFICATE).map_err(|e| e.given_as("--cert"))?;
            load_bytes(&bytes, path, &mut report)?;
        }
    }
    Ok(report)
}

/// The certificate files of a `--cert` folder, sorted (directory order is file-system
/// dependent, and builds are reproducible); a note names what was left out.
fn certificate_files(dir: &Path, report: &mut LoadReport) -> Result<Vec<PathBuf>, CertError> {
    let io = |e| CertError::from(InputError::io(dir, e).given_as("--cert"));
    let mut files = Vec::new();
    let (mut subfolders, mut others) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if files.len() + subfolders.len() + others.len() >= MAX_DIR_FILES {
            return Err(CertError::TooManyFiles {
                path: dir.to_path_buf(),
            });
        }
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            subfolders.push(name);
        } else if p.is_file() && ext.is_some_and(|e| CERT_EXTENSIONS.contains(&e.as_str())) {
            files.push(p);
        } else {
            others.push(name);
        }
    }
    if files.is_empty() {
        return Err(CertError::EmptyDir {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    let mut skipped = Vec::new();
    if !subfolders.is_empty() {
        skipped.push(format!(
            "{} ({})",
            plural(subfolders.len(), "subfolder"),
            listing(subfolders)
        ));
    }
    if !others.is_empty() {
        skipped.push(format!(
            "{} that {} not .cer .crt .pem .der .p7b .p7c ({})",
            plural(others.len(), "file"),
            if others.len() == 1 { "is" } else { "are" },
            listing(others)
        ));
    }
    if !skipped.is_empty() {
        report.notes.push(format!(
            "--cert {}: skipped {}",
            dir.display(),
            skipped.join(" and ")
        ));
    }
    Ok(files)
}

/// The first few names, sorted, each cut short: a folder of thousands stays one line.
fn listing(mut names: Vec<String>) -> String {
    const SHOWN: usize = 5;
    names.sort();
    let out: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| crate::text::cut(n, 60))
        .collect();
    let mut text = out.join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Read one certificate file into `report`.
pub fn load_file(path: &Path, report: &mut LoadReport) -> Result<(), CertError> {
    let bytes = input::read(path, input::CERTIFICATE)?;
    load_bytes(&bytes, path, report)
}

fn load_bytes(bytes: &[u8], path: &Path, report: &mut LoadReport) -> Result<(), CertError> {
    let before = report.certs.len();
    let ders = decode_container(bytes, &mut |w| {
        report.warnings.push(format!("{}: {w}", path.display()))
    })
    .map_err(|e| match e {
        Undecodable::Pkcs12 => CertError::from(Pkcs12Refused {
            path: path.display().to_string(),
        }),
        Undecodable::Other(detail) => CertError::NotCertificate {
            path: path.to_path_buf(),
            detail,
        },
    })?;
    for (i, der) in ders.into_iter().enumerate() {
        let cert = Certificate::from_der(der).map_err(|detail| CertError::Malformed {
            path: path.to_path_buf(),
            index: i + 1,
            detail,
        })?;
        report.certs.push(Loaded {
            cert,
            origin: Origin {
                file: path.display().to_string(),
                index: i + 1,
            },
        });
    }
    if report.certs.len() == before {
        return Err(CertError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Split a certificate container into DER certificates, whatever its encoding:
/// PEM (CERTIFICATE, PKCS7 and CMS blocks), a DER certificate, or DER PKCS#7.
/// Private keys found in PEM are dropped, with a warning; their bytes go nowhere.
pub fn decode_container(
    bytes: &[u8],
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Vec<u8>>, Undecodable> {
    if looks_like_pem(bytes) {
        let mut out = Vec::new();
        for (n, block) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
            let block =
                block.map_err(|e| Undecodable::Other(format!("PEM block #{}: {e}", n + 1)))?;
            match block.label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" => out.push(block.contents),
                "PKCS7" | "CMS" | "PKCS #7 SIGNED DATA" => out.extend(
                    crate::pkcs7::certificates(&block.contents).map_err(Undecodable::Other)?,
                ),
                label if label.contains("PRIVATE KEY") => warn(format!(
                    "ignored a {label} block: certgpo never copies private keys"
                )),
                label => warn(format!("ignored a PEM block labelled {label:?}")),
            }
        }
        return Ok(out);
    }
    let other = |s: &str| Err(Undecodable::Other(s.into()));
    match bytes.first() {
        Some(0x30) => {}
        Some(_) => return other("neither PEM text nor DER (first byte is not SEQUENCE)"),
        None => return other("the file is empty"),
    }
    if crate::pkcs7::is_pkcs7(bytes) {
        return crate::pkcs7::certificates(bytes).map_err(Undecodable::Other);
    }
    if crate::pkcs7::is_pkcs12(bytes) {
        return Err(Undecodable::Pkcs12);
    }
    Ok(vec![bytes.to_vec()])
}

/// Standard base64 of `bytes` in lines of 64 characters, as PEM (RFC 7468 §2) and
/// Apple's property lists lay it out.
pub fn base64_lines(bytes: &[u8]) -> Vec<String> {
    use base64::Engine;
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    flat.as_bytes()
        .chunks(64)
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect()
}

/// PEM with 64-column base64 lines, as `openssl x509` writes it.
pub fn to_pem(der: &[u8]) -> String {
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64_lines(der) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_64_columns() {
        let p = to_pem(&[0u8; 100]);
        assert!(p.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(p.lines().nth(1).map(str::len), Some(64));
        assert!(p.ends_with("-----END CERTIFICATE-----\n"));
    }
}
