//! macOS: one configuration profile (`.mobileconfig`, an XML property list) with a
//! `com.apple.security.root` payload per Root certificate and a `com.apple.security.pkcs1`
//! payload per CA certificate, each holding the DER certificate as `PayloadContent` data.
//!
//! Keys from Apple's Configuration Profile Reference and Device Management documentation:
//! - top level: `PayloadContent` (array of payloads), `PayloadDisplayName`,
//!   `PayloadDescription`, `PayloadIdentifier` (reverse-DNS; the same identifier replaces
//!   an installed profile), `PayloadType` `Configuration`, `PayloadUUID`, `PayloadVersion`
//!   1, `PayloadRemovalDisallowed`, `PayloadScope` `System` (macOS: the System keychain);
//!   <https://developer.apple.com/documentation/devicemanagement/toplevel>
//! - each certificate: `PayloadCertificateFileName`, `PayloadContent` (data),
//!   `PayloadDescription`, `PayloadDisplayName`, `PayloadIdentifier`, `PayloadType`,
//!   `PayloadUUID`, `PayloadVersion` 1;
//!   <https://developer.apple.com/documentation/devicemanagement/certificateroot>,
//!   <https://developer.apple.com/documentation/devicemanagement/certificatepkcs1>
//!
//! The UUIDs are UUID v5 in the GPO GUID's namespace, from the thumbprints: a rebuild
//! gives the same profile, and a profile of the same GPO replaces the earlier one.
//! The XML is written here (plist DTD 1.0, XML 1.0), escaping every text node.

use uuid::Uuid;

use super::{Channel, ChannelError, TrustSet};
use crate::store::Store;

/// A property-list value, as much of the format as a profile needs.
enum Plist {
    String(String),
    Integer(i64),
    Bool(bool),
    Data(Vec<u8>),
    Array(Vec<Plist>),
    /// Keys are written sorted, as Apple's tools write them.
    Dict(Vec<(&'static str, Plist)>),
}

/// Text content of an element: only characters XML 1.0 allows, and `&`, `<` and `>`
/// escaped (`>` so that `]]>` cannot appear). Quotes need no escape in text, and
/// Apple's parser is spared entities beyond the three.
fn xml_text(s: &str) -> String {
    quick_xml::escape::partial_escape(crate::text::xml_chars(s).as_ref()).into_owned()
}

fn write(value: &Plist, depth: usize, out: &mut String) {
    let indent = "\t".repeat(depth);
    match value {
        Plist::String(s) => {
            out.push_str(&format!("{indent}<string>{}</string>\n", xml_text(s)));
        }
        Plist::Integer(n) => out.push_str(&format!("{indent}<integer>{n}</integer>\n")),
        Plist::Bool(b) => out.push_str(&format!("{indent}<{b}/>\n")),
        Plist::Data(bytes) => {
            out.push_str(&format!("{indent}<data>\n"));
            for line in crate::cert::base64_lines(bytes) {
                out.push_str(&indent);
                out.push_str(&line);
                out.push('\n');
            }
            out.push_str(&format!("{indent}</data>\n"));
        }
        Plist::Array(items) => {
            out.push_str(&format!("{indent}<array>\n"));
            for item in items {
                write(item, depth + 1, out);
            }
            out.push_str(&format!("{indent}</array>\n"));
        }
        Plist::Dict(entries) => {
            let mut sorted: Vec<&(&str, Plist)> = entries.iter().collect();
            sorted.sort_by_key(|(k, _)| *k);
            out.push_str(&format!("{indent}<dict>\n"));
            for (key, item) in sorted {
                out.push_str(&format!("{indent}\t<key>{key}</key>\n"));
                write(item, depth + 1, out);
            }
            out.push_str(&format!("{indent}</dict>\n"));
        }
    }
}

/// The whole document: XML declaration, Apple's plist DTD, the root value.
fn document(root: &Plist) -> Vec<u8> {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n",
    );
    write(root, 0, &mut out);
    out.push_str("</plist>\n");
    out.into_bytes()
}

/// Upper case, as Apple's examples and `uuidgen` write UUIDs.
fn uuid_text(u: Uuid) -> String {
    u.hyphenated().to_string().to_ascii_uppercase()
}

pub(super) fn files(set: &TrustSet, locked: bool) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
    let anchors = set.root_and_ca(Channel::Macos, "a macOS configuration profile")?;
    let gpo = super::label_text(set.gpo_name);
    let identifier = format!("certgpo.trust.{}", set.gpo_guid.hyphenated());
    let mut payloads = Vec::new();
    let mut thumbprints = String::new();
    for a in anchors {
        let thumbprint = a.cert.thumbprint();
        thumbprints.push_str(&thumbprint);
        let (payload_type, kind) = match a.store {
            Store::Ca => ("com.apple.security.pkcs1", "intermediate certificate"),
            _ => ("com.apple.security.root", "root certificate"),
        };
        let uuid = Uuid::new_v5(
            &set.gpo_guid,
            format!("macos\0payload\0{thumbprint}").as_bytes(),
        );
        payloads.push(Plist::Dict(vec![
            (
                "PayloadCertificateFileName",
                Plist::String(format!("{thumbprint}.cer")),
            ),
            ("PayloadContent", Plist::Data(a.cert.der.clone())),
            (
                "PayloadDescription",
                Plist::String(format!(
                    "Trusts the {kind} {} (SHA-1 {thumbprint}, SHA-256 {}).",
                    set.label(a),
                    a.cert.sha256_hex()
                )),
            ),
            ("PayloadDisplayName", Plist::String(set.label(a))),
            (
                "PayloadIdentifier",
                Plist::String(format!("{identifier}.{thumbprint}")),
            ),
            ("PayloadType", Plist::String(payload_type.into())),
            ("PayloadUUID", Plist::String(uuid_text(uuid))),
            ("PayloadVersion", Plist::Integer(1)),
        ]));
    }
    // The profile's UUID follows its content, so a changed set is a new version of the
    // same profile (same identifier).
    let profile_uuid = Uuid::new_v5(
        &set.gpo_guid,
        format!("macos\0profile\0{locked}\0{thumbprints}").as_bytes(),
    );
    let root = Plist::Dict(vec![
        ("PayloadContent", Plist::Array(payloads)),
        (
            "PayloadDescription",
            Plist::String(format!(
                "The certificates the GPO \"{gpo}\" trusts on Windows, for macOS. Built by certgpo {}.",
                set.version
            )),
        ),
        ("PayloadDisplayName", Plist::String(gpo)),
        ("PayloadIdentifier", Plist::String(identifier)),
        ("PayloadRemovalDisallowed", Plist::Bool(locked)),
        ("PayloadScope", Plist::String("System".into())),
        ("PayloadType", Plist::String("Configuration".into())),
        ("PayloadUUID", Plist::String(uuid_text(profile_uuid))),
        ("PayloadVersion", Plist::Integer(1)),
    ]);
    Ok(vec![(
        crate::bundle::MACOS_PROFILE.to_string(),
        document(&root),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_data_wrapped() {
        let mut out = String::new();
        write(
            &Plist::Dict(vec![
                ("B", Plist::Data(vec![0; 60])),
                ("A", Plist::String("a<b>&c ]]> 'q' \"d\"".into())),
            ]),
            0,
            &mut out,
        );
        assert!(out.contains("<string>a&lt;b&gt;&amp;c ]]&gt; 'q' \"d\"</string>"));
        assert!(out.find("<key>A</key>") < out.find("<key>B</key>"));
        assert!(out.lines().all(|l| l.trim().len() <= 64));
    }
}
