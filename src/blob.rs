//! The registry `Blob` value: a serialized certificate store element
//! (docs/spec/windows-formats.md §3).
//!
//! `u32 id, u32 reserved = 1, u32 length, value` elements, the certificate (0x20) last.
//! Hand-written because no crate serializes crypt32 store elements.

use std::fmt;

use der::Encode;
use der::asn1::ObjectIdentifier;

use crate::cert::Certificate;
use crate::codec::{self, Reader, Short};
use crate::store::Store;

pub const SHA1_HASH: u32 = 0x03;
pub const MD5_HASH: u32 = 0x04;
pub const ENHKEY_USAGE: u32 = 0x09;
pub const FRIENDLY_NAME: u32 = 0x0B;
pub const DESCRIPTION: u32 = 0x0D;
pub const SIGNATURE_HASH: u32 = 0x0F;
pub const KEY_IDENTIFIER: u32 = 0x14;
pub const SUBJECT_PUBLIC_KEY_MD5_HASH: u32 = 0x19;
pub const SUBJECT_NAME_MD5_HASH: u32 = 0x1D;
pub const CERT: u32 = 0x20;
pub const SUBJECT_PUB_KEY_BIT_LENGTH: u32 = 0x5C;
pub const SHA256_HASH: u32 = 0x6B;

/// The registry value holds at most this many bytes (MS-GPREG 2.2.1 size field).
pub const MAX_BLOB: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlobStyle {
    /// The properties GPMC writes, in GPMC's order for the store.
    Gpmc,
    /// The certificate element (0x20) alone.
    Minimal,
}

impl crate::named::Named for BlobStyle {
    const ALL: &'static [BlobStyle] = &[BlobStyle::Gpmc, BlobStyle::Minimal];

    fn name(self) -> &'static str {
        match self {
            BlobStyle::Gpmc => "gpmc",
            BlobStyle::Minimal => "minimal",
        }
    }

    fn help(self) -> &'static str {
        match self {
            BlobStyle::Gpmc => "The properties GPMC writes, in GPMC's order for the store",
            BlobStyle::Minimal => "The certificate element (0x20) alone",
        }
    }
}

/// What the admin asked to attach to every certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub friendly_name: Option<String>,
    /// EKU OIDs for property 0x09; empty means no restriction.
    pub purposes: Vec<ObjectIdentifier>,
}

/// Build the Blob for `cert` in `store`.
///
/// `gpmc` reproduces GPMC byte for byte (docs/spec/windows-formats.md §3.4, proven on all
/// 37 NSA Blobs): Root order 04,0F,14,19,03,5C,20 and CA order 04,0F,14,19,5C,03,20. The
/// other stores have no real sample, so they take the Root order. Choices where GPMC's
/// behaviour is unknown, documented in README.md:
/// - a certificate without a Subject Key Identifier gets 0x14 = SHA-1 of its encoded
///   SubjectPublicKeyInfo, Microsoft's documented derivation
///   (docs/spec/windows-formats.md §10);
/// - 0x0F is left out when the signature hash is not one Windows names (PSS, Ed25519);
/// - user-requested 0x09 and 0x0B go just before the certificate element.
pub fn build(cert: &Certificate, store: Store, style: BlobStyle, extras: &Extras) -> Vec<u8> {
    let mut out = Vec::with_capacity(cert.der.len() + 200);
    if style == BlobStyle::Gpmc {
        element(&mut out, MD5_HASH, &cert.md5);
        if let Some(h) = &cert.signature_hash {
            element(&mut out, SIGNATURE_HASH, h);
        }
        element(
            &mut out,
            KEY_IDENTIFIER,
            cert.ski.as_deref().unwrap_or(&cert.spki_sha1),
        );
        element(&mut out, SUBJECT_PUBLIC_KEY_MD5_HASH, &cert.public_key_md5);
        let bits = cert.key_bits.to_le_bytes();
        if store == Store::Ca {
            element(&mut out, SUBJECT_PUB_KEY_BIT_LENGTH, &bits);
            element(&mut out, SHA1_HASH, &cert.sha1);
        } else {
            element(&mut out, SHA1_HASH, &cert.sha1);
            element(&mut out, SUBJECT_PUB_KEY_BIT_LENGTH, &bits);
        }
    }
    if !extras.purposes.is_empty() {
        element(&mut out, ENHKEY_USAGE, &encode_eku(&extras.purposes));
    }
    if let Some(name) = &extras.friendly_name {
        element(&mut out, FRIENDLY_NAME, &codec::utf16le_nul(name));
    }
    element(&mut out, CERT, &cert.der);
    out
}

fn element(out: &mut Vec<u8>, id: u32, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    // Values are certificates and hashes; the caller refuses Blobs over 64 KiB.
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

/// CERT_ENHKEY_USAGE as crypt32 stores it: DER `SEQUENCE OF OBJECT IDENTIFIER`.
pub fn encode_eku(oids: &[ObjectIdentifier]) -> Vec<u8> {
    // Encoding a Vec of OIDs cannot fail: the lengths are tiny and known.
    oids.to_vec().to_der().unwrap_or_default()
}

/// Decode property 0x09 back into dotted OIDs.
pub fn decode_eku(value: &[u8]) -> Option<Vec<String>> {
    use der::Decode;
    let oids = Vec::<ObjectIdentifier>::from_der(value).ok()?;
    Some(oids.iter().map(|o| o.to_string()).collect())
}

/// One element of a parsed Blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub id: u32,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("truncated Blob {0}")]
    Truncated(Short),
    #[error("Blob element at byte offset {offset} has reserved field {found}, expected 1")]
    Reserved { offset: usize, found: u32 },
    #[error("Blob holds no certificate element (0x20)")]
    NoCertificate,
    #[error("Blob has {extra} bytes after the certificate element (0x20 must be last)")]
    AfterCertificate { extra: usize },
}

impl From<Short> for BlobError {
    fn from(s: Short) -> BlobError {
        BlobError::Truncated(s)
    }
}

/// A parsed Blob: its properties in order (unknown ids kept) and the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBlob {
    pub properties: Vec<Element>,
    pub der: Vec<u8>,
}

impl ParsedBlob {
    pub fn property(&self, id: u32) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.value.as_slice())
    }

    pub fn friendly_name(&self) -> Option<String> {
        let v = self.property(FRIENDLY_NAME)?;
        let s = codec::from_utf16le(v)?;
        Some(s.trim_end_matches('\0').to_string())
    }

    pub fn eku(&self) -> Option<Vec<String>> {
        decode_eku(self.property(ENHKEY_USAGE)?)
    }

    pub fn ids(&self) -> Vec<u32> {
        self.properties.iter().map(|e| e.id).collect()
    }
}

/// Parse a Blob. Stops at the certificate element, which must be the last.
pub fn parse(bytes: &[u8]) -> Result<ParsedBlob, BlobError> {
    let mut r = Reader::new(bytes);
    let mut properties = Vec::new();
    while !r.is_empty() {
        let at = r.offset();
        let id = r.u32_le("property id")?;
        let reserved = r.u32_le("reserved field")?;
        if reserved != 1 {
            return Err(BlobError::Reserved {
                offset: at + 4,
                found: reserved,
            });
        }
        let len = r.u32_le("element length")? as usize;
        let value = r.take(len, &format!("value of property 0x{id:02X}"))?;
        if id == CERT {
            if !r.is_empty() {
                return Err(BlobError::AfterCertificate {
                    extra: r.remaining(),
                });
            }
            return Ok(ParsedBlob {
                properties,
                der: value.to_vec(),
            });
        }
        properties.push(Element {
            id,
            value: value.to_vec(),
        });
    }
    Err(BlobError::NoCertificate)
}

/// Human name of a property id, for `inspect`.
pub fn property_name(id: u32) -> PropertyName {
    PropertyName(id)
}

pub struct PropertyName(u32);

impl fmt::Display for PropertyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            SHA1_HASH => "SHA1_HASH",
            MD5_HASH => "MD5_HASH",
            ENHKEY_USAGE => "ENHKEY_USAGE",
            FRIENDLY_NAME => "FRIENDLY_NAME",
            DESCRIPTION => "DESCRIPTION",
            SIGNATURE_HASH => "SIGNATURE_HASH",
            KEY_IDENTIFIER => "KEY_IDENTIFIER",
            SUBJECT_PUBLIC_KEY_MD5_HASH => "SUBJECT_PUBLIC_KEY_MD5_HASH",
            SUBJECT_NAME_MD5_HASH => "SUBJECT_NAME_MD5_HASH",
            CERT => "CERT",
            SUBJECT_PUB_KEY_BIT_LENGTH => "SUBJECT_PUB_KEY_BIT_LENGTH",
            SHA256_HASH => "SHA256_HASH",
            other => return write!(f, "0x{other:02X}"),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(parse(&[]), Err(BlobError::NoCertificate));
        let mut b = vec![0x20, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            parse(&b),
            Err(BlobError::Reserved {
                offset: 4,
                found: 2
            })
        ));
        b[4] = 1;
        b[8] = 9; // length 9, no bytes
        assert!(matches!(parse(&b), Err(BlobError::Truncated(_))));
        b[8] = 0;
        b.push(7);
        assert_eq!(parse(&b), Err(BlobError::AfterCertificate { extra: 1 }));
    }

    #[test]
    fn eku_round_trip() {
        let oids = vec![
            crate::purpose::parse("server-auth").unwrap(),
            crate::purpose::parse("1.2.3.4").unwrap(),
        ];
        let enc = encode_eku(&oids);
        assert_eq!(
            decode_eku(&enc).unwrap(),
            vec!["1.3.6.1.5.5.7.3.1".to_string(), "1.2.3.4".to_string()]
        );
    }
}
