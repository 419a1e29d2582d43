//! The Exchange stand-ins of the Autodiscover tests (`cas.py`): a contoso.test PKI, the
//! servers of one scenario and the DNS server naming them, in one Python process.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Issued, Key, free_port, wait_port};
use crate::discover_fixture::{Group, spawn_group};

/// The tools the stand-ins need; a missing one skips (fails under CI).
pub fn have_tools() -> bool {
    common::require(common::SYSTEM_PYTHON, &["-c", "import impacket.ntlm"])
        && common::require("openssl", &["version"])
        && common::require("timeout", &["--version"])
}

/// The test PKI: the enterprise root the clients trust, and certificates it issued.
pub struct Pki {
    pub dir: PathBuf,
    pub root: Issued,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        Pki {
            dir: dir.to_path_buf(),
            root: common::root_ca(dir, "contoso-root", Key::P256, "Contoso Root CA"),
        }
    }

    /// A certificate for `host` from the enterprise root.
    pub fn issue(&self, host: &str) -> Issued {
        let name = host.split('.').next().unwrap_or(host);
        common::server_cert(
            &self.dir,
            &self.root,
            name,
            Key::P256,
            host,
            &format!("DNS:{host}"),
        )
    }

    /// A self-signed RSA certificate for `host`, as Exchange 2010 makes at setup.
    pub fn self_signed(&self, host: &str) -> Issued {
        let name = format!("{}-self", host.split('.').next().unwrap_or(host));
        common::selfsigned(
            &self.dir,
            &name,
            Key::Rsa2048,
            host,
            Some(&format!("DNS:{host}")),
        )
    }
}

/// A running set of stand-ins.
pub struct Cas {
    _group: Group,
    /// `127.0.0.1:PORT` of the DNS server, for --dns-server.
    pub dns: String,
    log: PathBuf,
}

impl Cas {
    /// Every request the servers logged, in order.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON log line"))
            .collect()
    }

    /// The requests server `name` logged.
    pub fn seen_by(&self, name: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["server"] == name)
            .collect()
    }
}

/// A server entry of the configuration: `name` on `port` with `cert` (plain HTTP without).
pub fn server(name: &str, port: u16, cert: Option<&Issued>, extra: Value) -> Value {
    let mut s = json!({ "name": name, "port": port });
    if let Some(c) = cert {
        s["cert"] = json!(c.cert_str());
        s["key"] = json!(c.key_str());
    }
    if let (Some(map), Value::Object(more)) = (s.as_object_mut(), extra) {
        map.extend(more);
    }
    s
}

/// Start the servers, with a DNS server naming each of `names` 127.0.0.1 and the
/// `srv` records (`_autodiscover._tcp.<domain>` -> host, port).
pub fn start(dir: &Path, names: &[&str], srv: &[(&str, &str, u16)], servers: Vec<Value>) -> Cas {
    let named: Vec<(&str, IpAddr)> = names
        .iter()
        .map(|n| (*n, IpAddr::V4(Ipv4Addr::LOCALHOST)))
        .collect();
    start_at(dir, &named, srv, servers)
}

/// [`start`] with an address for each name (a server binds its `host`).
pub fn start_at(
    dir: &Path,
    names: &[(&str, IpAddr)],
    srv: &[(&str, &str, u16)],
    servers: Vec<Value>,
) -> Cas {
    let dns_port = free_port();
    let names: serde_json::Map<String, Value> = names
        .iter()
        .map(|(n, ip)| (n.to_string(), json!(ip.to_string())))
        .collect();
    let srv: serde_json::Map<String, Value> = srv
        .iter()
        .map(|(domain, host, port)| (format!("_autodiscover._tcp.{domain}"), json!([host, port])))
        .collect();
    let ports: Vec<SocketAddr> = servers
        .iter()
        .filter_map(|s| {
            let port = u16::try_from(s["port"].as_u64()?).ok()?;
            let host = s["host"].as_str().unwrap_or("127.0.0.1").parse().ok()?;
            Some(SocketAddr::new(host, port))
        })
        .collect();
    let log = dir.join("requests.log");
    let config = json!({
        "log": log,
        "dns": { "port": dns_port, "names": names, "srv": srv },
        "servers": servers,
    });
    let config_path = dir.join("cas.json");
    std::fs::write(&config_path, config.to_string()).expect("config written");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/autodiscover_fixture/cas.py");
    let group = spawn_group(
        common::SYSTEM_PYTHON,
        &[&script.to_string_lossy(), &config_path.to_string_lossy()],
        Duration::from_secs(300),
        &dir.join("cas.out"),
    );
    // "ready" comes once the DNS socket and every server socket are bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !group.log_text().contains("ready") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for addr in ports {
        assert!(
            wait_port(addr, Duration::from_secs(20)),
            "the stand-in on {addr} did not start: {}",
            group.log_text()
        );
    }
    Cas {
        _group: group,
        dns: format!("127.0.0.1:{dns_port}"),
        log,
    }
}

/// `https://<host>:<port>/Autodiscover/Autodiscover.xml`.
pub fn autodiscover_url(host: &str, port: u16) -> String {
    format!("https://{host}:{port}/Autodiscover/Autodiscover.xml")
}

/// The settings of the KB scenario's 2010 mailbox: EXCH, EXPR and WEB sections whose
/// URLs name `ex2010` and the service hosts (host, port).
pub fn settings(ex2010: (&str, u16), services: &[(&str, u16)]) -> Value {
    let (cas, cas_port) = ex2010;
    let url = |(h, p): (&str, u16), path: &str| format!("https://{h}:{p}{path}");
    let service = |i: usize| services.get(i).copied().unwrap_or(ex2010);
    json!([
        { "type": "EXCH", "entries": [
            ["Server", "EX2010.contoso.test"],
            ["ASUrl", url((cas, cas_port), "/EWS/Exchange.asmx")],
            ["EwsUrl", url((cas, cas_port), "/EWS/Exchange.asmx")],
            ["OOFUrl", url((cas, cas_port), "/EWS/Exchange.asmx")],
            ["UMUrl", url((cas, cas_port), "/EWS/UM2007Legacy.asmx")],
            ["OABUrl", url(service(0), "/OAB/0b0f/")],
            ["EcpUrl", url(service(1), "/ecp/")],
        ]},
        { "type": "EXPR", "entries": [
            ["Server", "mail.contoso.test"],
            ["EwsUrl", url(service(2), "/EWS/Exchange.asmx")],
        ]},
        { "type": "WEB", "Internal": [url(service(3), "/owa/")] },
    ])
}

/// The KB 2006728 pair: ex2007 (a certificate from the enterprise root, NTLM) answers
/// ann's mailbox with `first` (by default a redirectUrl to ex2010); ex2010 (self-signed
/// RSA, TLS 1.0 only, NTLM) has her settings, naming `services`. Returns the two server
/// entries and the SHA-1 thumbprint of ex2010's certificate.
pub fn kb_servers(
    pki: &Pki,
    (p2007, p2010): (u16, u16),
    users: &Value,
    first: Option<Value>,
    services: &[(&str, u16)],
) -> (Vec<Value>, String) {
    let self_signed = pki.self_signed("ex2010.contoso.test");
    let sha = common::openssl_sha1(&self_signed.cert);
    let first = first.unwrap_or_else(
        || json!({ "redirectUrl": autodiscover_url("ex2010.contoso.test", p2010) }),
    );
    let servers = vec![
        server(
            "ex2007",
            p2007,
            Some(&pki.issue("ex2007.contoso.test")),
            json!({ "auth": ["ntlm", "basic"], "users": users,
                    "mailboxes": { "ann@contoso.test": first } }),
        ),
        server(
            "ex2010",
            p2010,
            Some(&self_signed),
            // Windows authentication with Negotiate alone, as an admin may leave it.
            json!({ "tls": "tls1", "auth": ["negotiate"], "users": users, "mailboxes": {
                "ann@contoso.test": { "display": "Ann Example",
                    "settings": settings(("ex2010.contoso.test", p2010), services) } } }),
        ),
    ];
    (servers, sha)
}

/// True when server `name` accepted an NTLMv2 answer (checked by impacket).
pub fn ntlm_accepted(cas: &Cas, name: &str) -> bool {
    cas.seen_by(name)
        .iter()
        .any(|r| r["ntlm"] == "authenticate" && r["ok"] == true)
}

/// `certgpo build --discover` on `report` (the stdout of `discover --email --json`) with
/// `--expect pin`, which must succeed: the thumbprints of the bundle's certificates.
pub fn build_thumbprints(dir: &Path, report: &[u8], pin: &str) -> Vec<String> {
    let path = dir.join("path.json");
    std::fs::write(&path, report).expect("report written");
    let out = common::certgpo()
        .args(["build", "--discover"])
        .arg(&path)
        .arg("--out")
        .arg(dir.join("bundle"))
        .args([
            "--domain",
            "contoso.test",
            "--timestamp",
            "2024-01-01T00:00:00Z",
        ])
        .args(["--json", "--expect", pin])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("certgpo runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    summary["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(|c| c["thumbprint"].as_str().map(str::to_string))
        .collect()
}

/// `certgpo discover ARGS` with the mailbox password in the environment (none for ""),
/// two minutes at most.
pub fn discover_email(args: &[&str], password: &str) -> std::process::Output {
    let mut cmd = common::certgpo();
    cmd.arg("discover").args(args);
    if password.is_empty() {
        cmd.env_remove("CERTGPO_MAIL_PASSWORD");
    } else {
        cmd.env("CERTGPO_MAIL_PASSWORD", password);
    }
    cmd.timeout(Duration::from_secs(120))
        .output()
        .expect("certgpo runs")
}

/// Assert the exit code of `out`; its standard error, for more checks.
pub fn exited(out: &std::process::Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

/// The arguments every test gives `discover --email`: ann's mailbox as `user`, the
/// stand-ins' DNS server, the enterprise root the clients trust.
pub fn ann(dns: &str, root: &Issued, user: &str) -> Vec<String> {
    [
        "--dns-server",
        dns,
        "--email",
        "ann@contoso.test",
        "--mail-user",
        user,
        "--client-roots",
        &root.cert_str(),
        "--timeout",
        "5s",
    ]
    .map(str::to_string)
    .to_vec()
}
