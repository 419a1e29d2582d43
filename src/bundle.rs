//! The layout of a certgpo bundle: the folder `build` writes, that `inspect`
//! recognises and that `build --base` can start from (README, "The bundle"). Every
//! path inside it is defined here once; the backup folder's own layout is
//! `gpo::folder`'s.

use uuid::Uuid;

/// The GPMC backup set: [`crate::gpo::folder::MANIFEST`] and one backup folder.
pub const GPO_BACKUP: &str = "gpo-backup";
/// The GPO's machine registry.pol again, for LGPO.exe or a SYSVOL copy.
pub const POLICY_FILE: &str = "policy/registry.pol";
pub const TRUST_REG: &str = "reg/trust-machine-store.reg";
pub const REMOVE_REG: &str = "reg/remove-machine-store.reg";
/// One `<THUMB>.cer` and `<THUMB>.pem` per certificate, and [`P7B`].
pub const CERTS: &str = "certs";
pub const P7B: &str = "certs/certificates.p7b";
pub const SCRIPTS: &str = "scripts";
pub const README: &str = "README.txt";
pub const REPORT_JSON: &str = "report/certificates.json";
pub const REPORT_CSV: &str = "report/certificates.csv";
pub const REPORT_HTML: &str = "report/report.html";
/// `sha256sum -c` format, over every other file.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// The other channels (`build --channel`), one folder each, written by `src/channel/`.
/// Intune: one Graph object per certificate ([`intune_profile`]) and one custom profile.
pub const INTUNE_OMA_URI: &str = "intune/oma-uri.json";
pub const MACOS_PROFILE: &str = "macos/trust.mobileconfig";
/// Linux: the install/remove script, and the anchors of [`linux_anchor`].
pub const LINUX_SCRIPT: &str = "linux/certgpo-trust.sh";
/// Ansible: the playbooks, and the certificates of [`ansible_cert`] they copy.
pub const ANSIBLE_TRUST: &str = "ansible/trust.yml";
pub const ANSIBLE_REMOVE: &str = "ansible/remove.yml";

/// The backup set's manifest.xml.
pub fn manifest() -> String {
    format!("{GPO_BACKUP}/{}", crate::gpo::folder::MANIFEST)
}

/// The backup folder, named after the backup id as GPMC names it.
pub fn backup_dir(backup_id: &Uuid) -> String {
    format!("{GPO_BACKUP}/{}", crate::gpo::braced_upper(backup_id))
}

/// `certs/<THUMB>.<extension>`.
pub fn cert_file(thumbprint: &str, extension: &str) -> String {
    format!("{CERTS}/{thumbprint}.{extension}")
}

/// `intune/trusted-certificate-<THUMB>.json`.
pub fn intune_profile(thumbprint: &str) -> String {
    format!("intune/trusted-certificate-{thumbprint}.json")
}

/// `linux/anchors/<THUMB>.crt`.
pub fn linux_anchor(thumbprint: &str) -> String {
    format!("linux/anchors/{thumbprint}.crt")
}

/// `ansible/files/<THUMB>.cer`: `files/` beside the playbooks, where their `src:` looks.
pub fn ansible_cert(thumbprint: &str) -> String {
    format!("ansible/files/{thumbprint}.cer")
}
