//! The live domain against a real Samba AD DC with its file server (tests/samba_dc):
//! the LDAP connection and SYSVOL over SMB 2/3, judged by the files Samba keeps on
//! disk and by `smbclient`.

mod common;
mod discover_fixture;
mod samba_dc;

use std::time::Duration;

use certgpo::directory::{self, BindMethod};
use certgpo::live::{Domain, Target};
use samba_dc::{ADMIN, Services};

/// The Default Domain Policy, which every domain has.
const DEFAULT_POLICY: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";

fn target(dc: &samba_dc::Dc) -> Target {
    let (ldap, _) = directory::options(&directory::Request {
        url: dc.ldaps(),
        insecure: false,
        ca: Some(dc.ca.clone()),
        bind: BindMethod::Simple,
        user: Some(ADMIN.into()),
        password_file: Some(dc.password_file.clone()),
    })
    .expect("options");
    Target {
        ldap,
        smb_host: None,
        dns_server: None,
        timeout: Duration::from_secs(20),
    }
}

#[test]
fn live_domain_against_samba() {
    let services = Services { smb: true };
    if !samba_dc::available(services) {
        return;
    }
    let dc = samba_dc::provision(services);
    sysvol_reads(&dc);
}

/// The SMB wrapper reads what Samba keeps on disk, byte for byte, and lists folders.
fn sysvol_reads(dc: &samba_dc::Dc) {
    let runtime = directory::runtime().unwrap();
    let target = target(dc);
    runtime.block_on(async {
        let mut domain = Domain::open(&target).await.expect("connects");
        assert_eq!(domain.domain_dn, samba_dc::DOMAIN_DN);
        assert_eq!(domain.config_dn, samba_dc::CONFIG_DN);
        assert!(domain.sysvol.encrypted(), "Samba offers SMB 3 encryption");
        let gpt = format!(r"SysVol\contoso.test\Policies\{DEFAULT_POLICY}\GPT.INI");
        let read = domain
            .sysvol
            .read(&gpt, certgpo::input::GPO_XML)
            .await
            .expect("reads")
            .expect("GPT.INI is there");
        let on_disk = std::fs::read(
            dc.sysvol_dir()
                .join(format!("Policies/{DEFAULT_POLICY}/GPT.INI")),
        )
        .unwrap();
        assert_eq!(read, on_disk);
        let missing = domain
            .sysvol
            .read(
                r"SysVol\contoso.test\Policies\nothing.ini",
                certgpo::input::GPO_XML,
            )
            .await
            .expect("a missing file is no error");
        assert_eq!(missing, None);
        let listed = domain
            .sysvol
            .list(r"SysVol\contoso.test\Policies")
            .await
            .expect("lists")
            .expect("Policies is there");
        assert!(
            listed.iter().any(|e| e.name == DEFAULT_POLICY && e.is_dir),
            "{listed:?}"
        );
        domain.close().await;
    });
    // The judge: smbclient sees the same folder.
    let out = dc.smbclient("sysvol", r"ls contoso.test\Policies\*");
    assert!(out.contains(DEFAULT_POLICY), "{out}");
}
