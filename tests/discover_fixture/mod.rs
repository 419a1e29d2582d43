//! Servers for the `discover` tests: each runs in its own process group under
//! `timeout`, so it dies with the guard and, at the latest, when its lifetime ends.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A port that was free a moment ago on `ip`.
pub fn free_port(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Wait until something accepts TCP connections on `addr`.
pub fn wait_port(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A throwaway CA and a server certificate it issued, valid for `names` (DNS or IP).
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[rustfmt::skip]
pub fn make_certs(dir: &Path, cn: &str, ips: &[&str], dns: &[&str]) -> Certs {
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    run_ok(
        "openssl",
        &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", &p("ca.key"), "-out", &p("ca.pem"), "-days", "2",
            "-subj", "/CN=certgpo discover test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let san: Vec<String> = ips
        .iter()
        .map(|ip| format!("IP:{ip}"))
        .chain(dns.iter().map(|d| format!("DNS:{d}")))
        .collect();
    run_ok(
        "openssl",
        &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", &p("server.key"), "-out", &p("server.pem"), "-days", "2",
            "-subj", &format!("/CN={cn}"),
            "-CA", &p("ca.pem"), "-CAkey", &p("ca.key"),
            "-addext", &format!("subjectAltName={}", san.join(",")),
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "extendedKeyUsage=serverAuth",
        ],
    );
    // Samba refuses a key file that others can read.
    run_ok("chmod", &["600", &p("server.key")]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// An `openssl s_server` on 127.0.0.1 presenting a fresh self-signed certificate for
/// `cn`; returns the server, its port and the certificate's SHA-1 thumbprint.
pub fn tls_server(dir: &Path, cn: &str) -> (Group, u16, String) {
    let key = dir.join(format!("{cn}.key"));
    let cert = dir.join(format!("{cn}.pem"));
    let (k, c) = (key.to_string_lossy(), cert.to_string_lossy());
    run_ok(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &k,
            "-out",
            &c,
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            &format!("subjectAltName=DNS:{cn}"),
        ],
    );
    let sha1 = run_ok(
        "openssl",
        &["x509", "-in", &c, "-noout", "-fingerprint", "-sha1"],
    );
    let sha1 = sha1
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or("")
        .replace(':', "");
    let port = free_port(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let accept = format!("127.0.0.1:{port}");
    let group = spawn_group(
        "openssl",
        &[
            "s_server", "-quiet", "-accept", &accept, "-cert", &c, "-key", &k,
        ],
        Duration::from_secs(120),
        &dir.join(format!("{cn}.log")),
    );
    let addr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port);
    assert!(
        wait_port(addr, Duration::from_secs(10)),
        "s_server did not start"
    );
    (group, port, sha1)
}

/// Run `certgpo discover ARGS` (no password in the environment), expect exit 2 and
/// nothing on stdout, and return what it said on stderr.
pub fn refused(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("certgpo")
        .expect("binary built by cargo")
        .arg("discover")
        .args(args)
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("certgpo runs");
    assert_eq!(out.status.code(), Some(2), "discover {args:?}");
    assert!(out.stdout.is_empty(), "discover {args:?} printed a result");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
