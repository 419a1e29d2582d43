//! Servers for the `discover` tests: each runs in its own process group under
//! `timeout`, so it dies with the guard and, at the latest, when its lifetime ends.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Key, free_port, wait_port};

/// The project's copies of the research fixtures (see tests/fixtures/discover/SOURCES.md).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/discover")
        .join(name)
}

pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture is in the repository")
}

/// A process group started by [`spawn_group`]; dropping it kills the whole group.
pub struct Group {
    child: Child,
    pub log: PathBuf,
}

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}

impl Group {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Start `program args` in a new process group, killed after `lifetime` whatever happens.
pub fn spawn_group(program: &str, args: &[&str], lifetime: Duration, log: &Path) -> Group {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new("timeout")
        .args(["-s", "KILL", &lifetime.as_secs().to_string(), program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Group {
        child,
        log: log.to_path_buf(),
    }
}

/// A throwaway CA and a server certificate it issued, valid for `names` (DNS or IP).
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certs(dir: &Path, cn: &str, ips: &[&str], dns: &[&str]) -> Certs {
    let ca = common::root_ca(dir, "ca", Key::P256, "certgpo discover test CA");
    let san: Vec<String> = ips
        .iter()
        .map(|ip| format!("IP:{ip}"))
        .chain(dns.iter().map(|d| format!("DNS:{d}")))
        .collect();
    let server = common::server_cert(dir, &ca, "server", Key::P256, cn, &san.join(","));
    Certs {
        ca: ca.cert,
        cert: server.cert,
        key: server.key,
    }
}

/// An `openssl s_server` on 127.0.0.1 presenting a fresh self-signed certificate for
/// `cn`; returns the server, its port and the certificate's SHA-1 thumbprint.
pub fn tls_server(dir: &Path, cn: &str) -> (Group, u16, String) {
    let c = common::selfsigned(dir, cn, Key::P256, cn, Some(&format!("DNS:{cn}")));
    let port = free_port();
    let accept = format!("127.0.0.1:{port}");
    let group = spawn_group(
        "openssl",
        &[
            "s_server",
            "-quiet",
            "-accept",
            &accept,
            "-cert",
            &c.cert_str(),
            "-key",
            &c.key_str(),
        ],
        Duration::from_secs(120),
        &dir.join(format!("{cn}.log")),
    );
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    assert!(
        wait_port(addr, Duration::from_secs(10)),
        "s_server did not start"
    );
    (group, port, common::openssl_sha1(&c.cert))
}

/// `certgpo discover ARGS`, with no password in the environment and a minute at most.
pub fn discover(args: &[&str]) -> Output {
    common::certgpo()
        .arg("discover")
        .args(args)
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("certgpo runs")
}

/// [`discover`] with `--json`, which must succeed: its JSON.
pub fn discover_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = discover(&all);
    assert!(
        out.status.success(),
        "certgpo discover {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `field` of every endpoint of a discover report, in order.
pub fn endpoints(v: &Value, field: &str) -> Vec<String> {
    v["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e[field].as_str().unwrap_or("").to_string())
        .collect()
}

/// Run `certgpo discover ARGS` (no password in the environment), expect exit 2 and
/// nothing on stdout, and return what it said on stderr.
pub fn refused(args: &[&str]) -> String {
    let out = discover(args);
    assert_eq!(out.status.code(), Some(2), "discover {args:?}");
    assert!(out.stdout.is_empty(), "discover {args:?} printed a result");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
