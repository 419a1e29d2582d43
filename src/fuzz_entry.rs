//! One entry point per reader, shared by the cargo-fuzz targets (`fuzz/`) and the
//! replay of their committed corpora (`tests/fuzz_corpus.rs`), so that CI exercises
//! exactly what the fuzzer exercised. Each runs the parser and everything `inspect`
//! derives from its output; none may panic on any input.

/// registry.pol: entries, control codes, data display.
pub fn registry_pol(data: &[u8]) {
    if let Ok(entries) = crate::policy::entries(data) {
        for e in entries.flatten() {
            let _ = e.action().to_string();
            let _ = crate::policy::display_data(e.kind, e.data);
            let _ = crate::store::CertKey::parse(&e.key);
        }
    }
}

/// The certificate Blob: elements, then the properties inspect shows.
pub fn blob(data: &[u8]) {
    if let Ok(b) = crate::blob::parse(data) {
        let _ = b.friendly_name();
        let _ = b.eku();
        let _ = crate::cert::Certificate::from_der(b.der);
    }
}

/// `.reg` files in any encoding.
pub fn reg(data: &[u8]) {
    let _ = crate::reg::parse::parse(data);
}

/// Backup.xml, bkupInfo.xml, manifest.xml and gpreport.xml readers on the same bytes,
/// and the Backup.xml writer on what its reader read.
pub fn backup_xml(data: &[u8]) {
    use crate::gpo::{backup_xml, bkup_info, extension_guids, gpreport, manifest};
    if let Ok(b) = backup_xml::parse(data, "Backup.xml") {
        let _ = extension_guids::problems(&b.machine_extension_guids);
        let _ = extension_guids::complete(&b.machine_extension_guids);
        let _ = backup_xml::write(&b);
    }
    let _ = bkup_info::parse(data, "bkupInfo.xml");
    let _ = manifest::parse(data, "manifest.xml");
    if let Ok(r) = gpreport::parse(data, "gpreport.xml") {
        for c in r.certificates {
            blob(&c.blob);
        }
    }
}

/// Certificate files: PEM, DER, PKCS#7, then the analysis of each certificate.
pub fn cert_file(data: &[u8]) {
    if let Ok(ders) = crate::cert::decode_container(data, &mut |_| {}) {
        for der in ders {
            let _ = crate::cert::Certificate::from_der(der);
        }
    }
}

/// A TLS server flight as the raw fetch engine reads it (record reassembly, handshake
/// messages, the Certificate message), then the analysis of each certificate.
pub fn tls_flight(data: &[u8]) {
    if let Ok(capture) = crate::fetch::raw::parse_server_flight(data) {
        for der in capture.chain {
            let _ = crate::cert::Certificate::from_der(der);
        }
    }
}

/// The Autodiscover POX response reader (and the request reader of the stand-ins' side).
pub fn pox(data: &[u8]) {
    let _ = crate::autodiscover::pox::parse(data);
    let _ = crate::autodiscover::pox::requested_address(data);
}

/// An NTLM CHALLENGE message, the AUTHENTICATE message answering it, and the HTTP
/// response head that carries it.
pub fn ntlm_challenge(data: &[u8]) {
    use crate::autodiscover::{http, ntlm};
    if let Ok(c) = ntlm::parse_challenge(data) {
        let _ = ntlm::authenticate(&c, "CONTOSO\\ann", "Passw0rd!", [0; 8], 0);
    }
    let _ = http::parse_head(data);
}
