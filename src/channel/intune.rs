//! Intune: for each certificate, the Microsoft Graph object of a Windows
//! trusted-certificate profile, and for all of them one custom profile of OMA-URI
//! settings of the RootCATrustedCertificates CSP. Either one is posted to
//! `deviceManagement/deviceConfigurations` and assigned to device groups.
//!
//! - `windows81TrustedRootCertificate` (Graph beta): `trustedRootCertificate` (Edm.Binary,
//!   base64), `certFileName`, `destinationStore` of `computerCertStoreRoot`,
//!   `computerCertStoreIntermediate` or `userCertStoreIntermediate`;
//!   <https://learn.microsoft.com/en-us/graph/api/resources/intune-deviceconfig-windows81trustedrootcertificate?view=graph-rest-beta>
//! - `windows10CustomConfiguration` (Graph v1.0) with `omaSettingString` entries
//!   (`displayName`, `description`, `omaUri`, `value`);
//!   <https://learn.microsoft.com/en-us/graph/api/resources/intune-deviceconfig-windows10customconfiguration?view=graph-rest-1.0>
//! - the CSP nodes `./Device/Vendor/MSFT/RootCATrustedCertificates/{Root|CA}/<SHA-1 as hex>/EncodedCertificate`,
//!   format b64 "without extra formatting characters such as embedded linefeeds";
//!   <https://learn.microsoft.com/en-us/windows/client-management/mdm/rootcacertificates-csp>

use serde::Serialize;

use super::{Anchor, Channel, ChannelError, TrustSet, base64};
use crate::bundle;
use crate::store::Store;

#[derive(Serialize)]
struct TrustedCertificate {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    #[serde(rename = "displayName")]
    display_name: String,
    description: String,
    #[serde(rename = "trustedRootCertificate")]
    trusted_root_certificate: String,
    #[serde(rename = "certFileName")]
    cert_file_name: String,
    #[serde(rename = "destinationStore")]
    destination_store: &'static str,
}

#[derive(Serialize)]
struct CustomConfiguration {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    #[serde(rename = "displayName")]
    display_name: String,
    description: String,
    #[serde(rename = "omaSettings")]
    oma_settings: Vec<OmaSetting>,
}

#[derive(Serialize)]
struct OmaSetting {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    #[serde(rename = "displayName")]
    display_name: String,
    description: String,
    #[serde(rename = "omaUri")]
    oma_uri: String,
    value: String,
}

/// The Graph store of a certificate's Windows store (computer stores: the GPO is a
/// machine policy). Only Root and CA reach here.
fn destination_store(store: Store) -> &'static str {
    match store {
        Store::Ca => "computerCertStoreIntermediate",
        _ => "computerCertStoreRoot",
    }
}

/// The CSP node of a certificate.
pub fn oma_uri(anchor: &Anchor) -> String {
    format!(
        "./Device/Vendor/MSFT/RootCATrustedCertificates/{}/{}/EncodedCertificate",
        anchor.store.registry_name(),
        anchor.cert.thumbprint()
    )
}

fn description(set: &TrustSet, anchor: &Anchor) -> String {
    format!(
        "{} (SHA-1 {}, SHA-256 {}), valid until {}; the {} of GPO \"{}\", built by certgpo {}",
        set.label(anchor),
        anchor.cert.thumbprint(),
        anchor.cert.sha256_hex(),
        crate::report::date_time(anchor.cert.not_after),
        anchor.store.console_name(),
        super::label_text(set.gpo_name),
        set.version
    )
}

fn json(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

pub(super) fn files(set: &TrustSet) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
    let anchors = set.root_and_ca(Channel::Intune, "an Intune trusted-certificate profile")?;
    let gpo = super::label_text(set.gpo_name);
    let mut files = Vec::new();
    for a in anchors {
        let thumbprint = a.cert.thumbprint();
        let profile = TrustedCertificate {
            odata_type: "#microsoft.graph.windows81TrustedRootCertificate",
            display_name: format!("{gpo}: {}", set.label(a)),
            description: description(set, a),
            trusted_root_certificate: base64(&a.cert.der),
            cert_file_name: format!("{thumbprint}.cer"),
            destination_store: destination_store(a.store),
        };
        files.push((bundle::intune_profile(&thumbprint), json(&profile)));
    }
    let custom = CustomConfiguration {
        odata_type: "#microsoft.graph.windows10CustomConfiguration",
        display_name: format!("{gpo} (RootCATrustedCertificates)"),
        description: format!(
            "The certificates of GPO \"{gpo}\" as RootCATrustedCertificates CSP settings, built by certgpo {}",
            set.version
        ),
        oma_settings: anchors
            .iter()
            .map(|a| OmaSetting {
                odata_type: "#microsoft.graph.omaSettingString",
                display_name: format!("{} {}", a.store.registry_name(), a.cert.thumbprint()),
                description: description(set, a),
                oma_uri: oma_uri(a),
                value: base64(&a.cert.der),
            })
            .collect(),
    };
    files.push((bundle::INTUNE_OMA_URI.to_string(), json(&custom)));
    Ok(files)
}
