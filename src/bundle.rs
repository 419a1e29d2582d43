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
