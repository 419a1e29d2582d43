//! A real Samba AD DC for the tests that talk to Active Directory (`discover`, the
//! live `inspect`/`diff`/`audit`/`backup`, `publish`), provisioned on a loopback
//! address of its own (recipe: docs/spec/fetching.md §5.6): realm CONTOSO.TEST, an
//! LDAPS/StartTLS certificate from a throwaway CA, and, with [`Services::smb`], the
//! file server (SYSVOL and NETLOGON on port 445 of the same address).
//!
//! Provisioning takes seconds and the DC needs the well-known ports, so each test
//! binary provisions one DC once and runs every case against it; the DC runs in its
//! own process group under `timeout`, killed when the [`Dc`] is dropped however the
//! test ends. Samba needs root; the DNS forwarder line is deleted so no query leaves
//! loopback. A test binary using this module declares `mod common; mod
//! discover_fixture; mod samba_dc;`.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{self, run_ok, wait_port};
use crate::discover_fixture::{Group, make_certs, spawn_group};

pub const PASSWORD: &str = "Passw0rd!Test123";
/// The administrator's UPN, for `--user`.
pub const ADMIN: &str = "Administrator@contoso.test";
pub const REALM: &str = "CONTOSO.TEST";
pub const DOMAIN_DN: &str = "DC=contoso,DC=test";
pub const CONFIG_DN: &str = "CN=Configuration,DC=contoso,DC=test";

/// Which of Samba's services besides LDAP, CLDAP, the KDC, RPC, DNS and winbindd.
#[derive(Clone, Copy, Debug, Default)]
pub struct Services {
    /// The file server: SYSVOL over SMB 2/3 on port 445.
    pub smb: bool,
}

/// A running DC. Dropping it stops Samba and deletes its files.
pub struct Dc {
    pub ip: IpAddr,
    /// The CA that issued the DC's LDAPS certificate (PEM).
    pub ca: PathBuf,
    /// A file holding [`PASSWORD`], for `--password-file`.
    pub password_file: PathBuf,
    /// The DC's smb.conf.
    pub conf: PathBuf,
    /// The provisioning's target directory (`private/`, `state/sysvol/`, ...).
    pub target: PathBuf,
    pub group: Group,
    pub dir: tempfile::TempDir,
}

/// Whether this machine can run the DC (the tools, root); records the skip otherwise.
pub fn available(services: Services) -> bool {
    let mut ok = common::require("samba", &["--version"])
        && common::require("samba-tool", &["--version"])
        && common::require("ldapmodify", &["-VV"])
        && common::require("openssl", &["version"])
        && common::require("timeout", &["--version"])
        && common::require("unshare", &["--version"]);
    if services.smb {
        ok = ok && common::require("smbclient", &["--version"]);
    }
    ok && common::require_root("the Samba AD DC test needs root")
}

/// A 127.x.y.z address whose DC ports are free, so the test never meets another
/// service (or another developer's DC) on 127.0.0.1.
fn free_loopback_ip(services: Services) -> IpAddr {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id();
    let mut ports = vec![53u16, 88, 135, 389, 464, 636, 3268, 3269];
    if services.smb {
        ports.push(445);
    }
    for attempt in 0..50u32 {
        let n = seed
            .wrapping_mul(2_654_435_761)
            .wrapping_add(attempt.wrapping_mul(40_503));
        let ip = IpAddr::V4(Ipv4Addr::new(
            127,
            100 + (n % 100) as u8,
            (n >> 8) as u8,
            2 + ((n >> 16) % 250) as u8,
        ));
        let free = ports
            .iter()
            .all(|p| TcpListener::bind(SocketAddr::new(ip, *p)).is_ok());
        if free {
            return ip;
        }
    }
    panic!(
        "no 127.x address with ports {ports:?} free: is a DC or LDAP server listening on 0.0.0.0?"
    );
}

/// Run `program args` until it succeeds (services come up one after another), or panic.
pub fn retry(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut last = String::new();
    for attempt in 0..30 {
        if attempt > 0 {
            eprintln!("retrying {program} ({attempt}): {last}");
        }
        let out = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{program} {args:?} kept failing: {last}");
}

/// Provision a DC and start it; returns once LDAP, LDAPS, DNS (and SMB) answer.
pub fn provision(services: Services) -> Dc {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_path_buf();
    let ip = free_loopback_ip(services);
    let ip_s = ip.to_string();
    let target = d.join("dc");
    let target_s = target.to_string_lossy().into_owned();
    run_ok(
        "samba-tool",
        &[
            "domain",
            "provision",
            &format!("--realm={REALM}"),
            "--domain=CONTOSO",
            "--server-role=dc",
            "--dns-backend=SAMBA_INTERNAL",
            &format!("--adminpass={PASSWORD}"),
            &format!("--targetdir={target_s}"),
            "--host-name=dc1",
            &format!("--host-ip={ip_s}"),
            &format!("--option=interfaces={ip_s}/8"),
            "--option=bind interfaces only=yes",
        ],
    );
    let certs = make_certs(&d, "dc1.contoso.test", &[&ip_s], &["dc1.contoso.test"]);
    let conf_path = target.join("etc/smb.conf");
    let conf = std::fs::read_to_string(&conf_path).expect("provisioning wrote smb.conf");
    let mut server_services = "ldap cldap kdc rpc dns winbindd".to_string();
    if services.smb {
        server_services.push_str(" s3fs");
    }
    // The forwarder would send every non-local query to the host's resolver: drop it.
    // Everything else Samba writes goes into the temp dir too.
    let mut out = String::new();
    for line in conf.lines() {
        let key = line.trim_start();
        if key.starts_with("dns forwarder") || key.starts_with("log file") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if key == "[global]" {
            for (k, v) in [
                ("log file", format!("{target_s}/log.%m")),
                ("pid directory", target_s.clone()),
                ("ncalrpc dir", format!("{target_s}/ncalrpc")),
                ("winbindd socket directory", format!("{target_s}/winbindd")),
                ("server services", server_services.clone()),
                ("disable netbios", "yes".into()),
                // Windows Server's defaults since 2022: SMB 2.1 at least, signed.
                ("server min protocol", "SMB2_10".into()),
                ("server signing", "mandatory".into()),
                // AD accepts GSSAPI inside TLS; Samba only with this (simple binds are unaffected).
                (
                    "ldap server require strong auth",
                    "allow_sasl_over_tls".into(),
                ),
                // For the Exchange virtual directory classes (fixture exchange-vdir-schema.ldif).
                ("dsdb:schema update allowed", "yes".into()),
                ("tls enabled", "yes".into()),
                ("tls keyfile", certs.key.to_string_lossy().into_owned()),
                ("tls certfile", certs.cert.to_string_lossy().into_owned()),
                ("tls cafile", certs.ca.to_string_lossy().into_owned()),
            ] {
                out.push_str(&format!("\t{k} = {v}\n"));
            }
        }
    }
    assert!(!out.contains("dns forwarder"));
    std::fs::write(&conf_path, out).expect("smb.conf is writable");
    let conf_s = conf_path.to_string_lossy().into_owned();
    // -M single: one process instead of a pre-forked pool; the 2-core CI box thanks us.
    // smbd looks for winbindd in the compiled-in /run/samba/winbindd whatever
    // smb.conf says, and without winbindd every SMB logon fails (INTERNAL_ERROR). So
    // Samba runs in a mount namespace of its own where that folder is this DC's: two
    // DCs on one machine (two test binaries, two developers) never share a winbindd.
    let winbindd_dir = format!("{target_s}/winbindd");
    std::fs::create_dir_all(&winbindd_dir).expect("winbindd folder");
    std::fs::create_dir_all("/run/samba/winbindd").expect("/run/samba/winbindd (root)");
    let script = format!(
        "mount --bind {winbindd_dir} /run/samba/winbindd && exec samba -M single -s {conf_s} \
         -F --no-process-group --debug-stdout -d 1"
    );
    // -M single: one process instead of a pre-forked pool; the 2-core CI box thanks us.
    let group = spawn_group(
        "unshare",
        &["--mount", "--propagation", "private", "sh", "-c", &script],
        Duration::from_secs(900),
        &d.join("samba.out"),
    );
    let mut ports = vec![636, 389, 53];
    if services.smb {
        ports.push(445);
    }
    for port in ports {
        assert!(
            wait_port(SocketAddr::new(ip, port), Duration::from_secs(90)),
            "Samba did not open {ip}:{port}: {}",
            group.log_text()
        );
    }
    let password_file = d.join("password.txt");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("temp dir is writable");
    Dc {
        ip,
        ca: certs.ca,
        password_file,
        conf: conf_path,
        target,
        group,
        dir,
    }
}

impl Dc {
    pub fn ldaps(&self) -> String {
        format!("ldaps://{}", self.ip)
    }

    pub fn starttls(&self) -> String {
        format!("ldap://{}", self.ip)
    }

    /// `--ldap ldaps://IP --ldap-ca CA --user ADMIN --password-file FILE`.
    pub fn signed_in(&self) -> Vec<String> {
        vec![
            "--ldap".into(),
            self.ldaps(),
            "--ldap-ca".into(),
            path(&self.ca),
            "--user".into(),
            ADMIN.into(),
            "--password-file".into(),
            path(&self.password_file),
        ]
    }

    /// `ldapmodify -a` of an LDIF file as the administrator, over validated LDAPS.
    pub fn ldapmodify(&self, ldif: &Path) -> String {
        let ca = path(&self.ca);
        retry(
            "ldapmodify",
            &[
                "-a",
                "-H",
                &self.ldaps(),
                "-x",
                "-D",
                ADMIN,
                "-w",
                PASSWORD,
                "-f",
                &path(ldif),
            ],
            &[
                ("LDAPTLS_CACERT", ca.as_str()),
                ("LDAPTLS_REQCERT", "demand"),
            ],
        )
    }

    /// `samba-tool ARGS -H ldap://IP -U Administrator --password=...` with the DC's
    /// smb.conf (retried while the DC comes up).
    pub fn samba_tool(&self, args: &[&str]) -> String {
        let url = self.starttls();
        let pw = format!("--password={PASSWORD}");
        let conf = path(&self.conf);
        let mut all = args.to_vec();
        all.extend(["-H", &url, "-U", "Administrator", &pw, "-s", &conf]);
        retry("samba-tool", &all, &[])
    }

    /// `samba-tool ARGS` as [`Dc::samba_tool`] but once: its exit status and output.
    pub fn samba_tool_once(&self, args: &[&str]) -> std::process::Output {
        let url = self.starttls();
        let pw = format!("--password={PASSWORD}");
        let conf = path(&self.conf);
        Command::new("samba-tool")
            .args(args)
            .args(["-H", &url, "-U", "Administrator", &pw, "-s", &conf])
            .output()
            .expect("samba-tool runs")
    }

    /// `smbclient //IP/SHARE -c COMMANDS` as the administrator, signing required.
    pub fn smbclient(&self, share: &str, commands: &str) -> String {
        let service = format!("//{}/{share}", self.ip);
        let user = format!("Administrator%{PASSWORD}");
        retry(
            "smbclient",
            &[
                &service,
                "-U",
                &user,
                "--option=client signing=required",
                "--option=client min protocol=SMB2_10",
                "-c",
                commands,
            ],
            &[],
        )
    }

    /// The DC's SYSVOL folder of the domain, as Samba keeps it on disk.
    pub fn sysvol_dir(&self) -> PathBuf {
        self.target.join("state/sysvol/contoso.test")
    }
}

pub fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
