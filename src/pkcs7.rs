//! PKCS#7 / CMS "certs-only" SignedData, the `.p7b` format of certmgr and `certutil`.
//!
//! Written by hand on top of `der`'s reader: the `cms` crate would decode and
//! re-encode each certificate, and a thumbprint must be taken over the exact bytes
//! the file holds, so we keep every certificate as its raw TLV slice.

use der::{Decode, Reader, SliceReader, Tag, TagNumber, asn1::ObjectIdentifier};

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

/// True when `bytes` start like a ContentInfo holding SignedData.
pub fn is_pkcs7(bytes: &[u8]) -> bool {
    // Only the outer SEQUENCE header and the content type are read, so a truncated
    // SignedData is still recognised and then reported as malformed by `certificates`.
    let probe = || -> der::Result<bool> {
        let mut r = SliceReader::new(bytes)?;
        let header = der::Header::decode(&mut r)?;
        if header.tag != Tag::Sequence {
            return Ok(false);
        }
        Ok(ObjectIdentifier::decode(&mut r)? == SIGNED_DATA)
    };
    probe().unwrap_or(false)
}

/// True when `bytes` start like a PKCS#12 file (`.pfx`, `.p12`; RFC 7292 §4):
/// `PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo SEQUENCE { contentType
/// id-data or id-signedData, ... } ... }`. Read by hand rather than with `der`, because
/// PKCS#12 exports (Windows, Java) may use BER's indefinite lengths.
pub fn is_pkcs12(bytes: &[u8]) -> bool {
    let mut r = crate::codec::Reader::new(bytes);
    let mut probe = || -> Option<bool> {
        sequence_header(&mut r)?;
        if r.take(3, "version").ok()? != [0x02, 0x01, 0x03] {
            return Some(false);
        }
        sequence_header(&mut r)?;
        let content_type = r.take(oid(&DATA).len(), "contentType").ok()?;
        Some(content_type == oid(&DATA) || content_type == oid(&SIGNED_DATA))
    };
    probe().unwrap_or(false)
}

/// A SEQUENCE tag and its length, definite or indefinite, skipped.
fn sequence_header(r: &mut crate::codec::Reader<'_>) -> Option<()> {
    let head = r.take(2, "SEQUENCE").ok()?;
    if head[0] != 0x30 {
        return None;
    }
    // 0x80 is the indefinite length; 0x81..0x84 give the number of length bytes.
    if head[1] > 0x80 {
        r.take(usize::from(head[1] & 0x7F), "length").ok()?;
    }
    Some(())
}

/// The raw DER of every certificate in a SignedData, in file order.
pub fn certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    parse(bytes).map_err(|e| format!("malformed PKCS#7: {e}"))
}

fn parse(bytes: &[u8]) -> der::Result<Vec<Vec<u8>>> {
    let mut outer = SliceReader::new(bytes)?;
    let certs = outer.sequence(|ci| {
        let oid = ObjectIdentifier::decode(ci)?;
        if oid != SIGNED_DATA {
            return Err(der::Tag::ObjectIdentifier.value_error());
        }
        let explicit = der::Header::decode(ci)?;
        expect_context(explicit.tag, 0)?;
        ci.read_nested(explicit.length, |sd_outer| {
            sd_outer.sequence(|sd| {
                let _version = der::asn1::AnyRef::decode(sd)?;
                let _digest_algorithms = der::asn1::AnyRef::decode(sd)?;
                let _encap = der::asn1::AnyRef::decode(sd)?;
                let mut certs = Vec::new();
                while !sd.is_finished() {
                    let header = der::Header::decode(sd)?;
                    let is_certs = header.tag
                        == Tag::ContextSpecific {
                            constructed: true,
                            number: TagNumber::N0,
                        };
                    sd.read_nested(header.length, |set| {
                        while !set.is_finished() {
                            let tlv = set.tlv_bytes()?;
                            // Only plain certificates (a SEQUENCE); attribute and
                            // other-format choices carry no X.509 certificate.
                            if is_certs && tlv.first() == Some(&0x30) {
                                certs.push(tlv.to_vec());
                            }
                        }
                        Ok(())
                    })?;
                }
                Ok(certs)
            })
        })
    })?;
    outer.finish(certs)
}

fn expect_context(tag: Tag, n: u8) -> der::Result<()> {
    match tag {
        Tag::ContextSpecific {
            constructed: true,
            number,
        } if number.value() == n => Ok(()),
        other => Err(other.value_error()),
    }
}

/// Encode a degenerate ("certs-only") SignedData, as `certutil -dump` and
/// `openssl pkcs7 -print_certs` read it. The certificates keep the caller's order.
pub fn encode(certs: &[&[u8]]) -> Vec<u8> {
    let mut cert_set = Vec::new();
    for c in certs {
        cert_set.extend_from_slice(c);
    }
    let signed_data = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),        // version 1
            tlv(0x31, &[]),         // no digest algorithms
            tlv(0x30, &oid(&DATA)), // encapContentInfo: id-data, no content
            tlv(0xA0, &cert_set),   // [0] IMPLICIT certificates
            tlv(0x31, &[]),         // no signerInfos
        ]
        .concat(),
    );
    tlv(0x30, &[oid(&SIGNED_DATA), tlv(0xA0, &signed_data)].concat())
}

fn oid(o: &ObjectIdentifier) -> Vec<u8> {
    tlv(0x06, o.as_bytes())
}

/// One DER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_parse() {
        let fake_a = tlv(0x30, &[0x02, 0x01, 0x01]);
        let fake_b = tlv(0x30, &vec![0x04; 300]);
        let p7 = encode(&[&fake_a, &fake_b]);
        assert!(is_pkcs7(&p7));
        assert_eq!(certificates(&p7).unwrap(), vec![fake_a, fake_b]);
    }

    #[test]
    fn pkcs12_is_recognised_by_structure() {
        // openssl pkcs12 -export: 30 82 LL LL 02 01 03 30 82 LL LL 06 09 <id-data>.
        let pfx = tlv(
            0x30,
            &[
                tlv(0x02, &[3]),
                tlv(0x30, &[oid(&DATA), tlv(0xA0, &[0; 300])].concat()),
            ]
            .concat(),
        );
        assert!(is_pkcs12(&pfx));
        // BER, indefinite lengths.
        let ber = [&[0x30, 0x80, 0x02, 0x01, 0x03, 0x30, 0x80][..], &oid(&DATA)].concat();
        assert!(is_pkcs12(&ber));
        assert!(!is_pkcs12(&encode(&[])));
        let v2 = [&[0x30, 0x80, 0x02, 0x01, 0x02, 0x30, 0x80][..], &oid(&DATA)].concat();
        assert!(!is_pkcs12(&v2));
        assert!(!is_pkcs12(&[0x30]));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(certificates(&[0x30, 0x82, 0xff]).is_err());
        assert!(!is_pkcs7(&[0x30, 0x00]));
    }
}
