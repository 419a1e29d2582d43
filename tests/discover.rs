//! `certgpo discover` against OpenLDAP slapd on loopback, loaded with the AD schema
//! subset for service connection points: the fast tests of SCP ordering, pointers,
//! TLS validation, binds and error messages. tests/discover_samba.rs runs against a
//! real Samba AD DC.

mod autodiscover_fixture;
mod common;
mod discover_fixture;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use common::{free_port, run_ok};
use discover_fixture::{
    Certs, Group, discover_json, endpoints, make_certs, read_fixture, spawn_group,
};
use serde_json::Value;
use tempfile::TempDir;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const URL_GUID: &str = "77378F46-2C66-4aa9-A6A6-3E7A48B19596";
const POINTER_GUID: &str = "67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68";

struct Slapd {
    /// `ldap://` (StartTLS when TLS is configured).
    ldap: String,
    /// `ldaps://`, when TLS is configured.
    ldaps: Option<String>,
    ca: PathBuf,
    _group: Group,
    _dir: TempDir,
}

fn have_tools() -> bool {
    common::require("slapd", &["-VV"])
        && common::require("openssl", &["version"])
        && common::require("timeout", &["--version"])
}

/// A slapd serving `DC=<org>,DC=test`, with `extra` LDIF (objectClass container is
/// spelled adContainer there), TLS from a throwaway CA unless `tls` is false.
fn slapd(org: &str, extra: &str, tls: bool) -> Slapd {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let path = d.to_string_lossy().into_owned();
    let rename = |text: String| text.replace("contoso", org).replace("/tmp/slapd", &path);
    // The sites, subnets and virtual directory classes come on top of the SCP schema.
    let scp_schema = format!("include {path}/ad-scp.schema");
    let mut conf = rename(read_fixture("slapd.conf")).replace(
        &scp_schema,
        &format!("{scp_schema}\ninclude {path}/ad-vdir.schema"),
    );
    let certs: Option<Certs> =
        tls.then(|| make_certs(d, "ldap.test", &["127.0.0.1"], &["ldap.test"]));
    if let Some(c) = &certs {
        conf = format!(
            "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n{conf}",
            c.ca.display(),
            c.cert.display(),
            c.key.display()
        );
    }
    std::fs::write(d.join("slapd.conf"), conf).unwrap();
    std::fs::write(d.join("ad-scp.schema"), read_fixture("ad-scp.schema")).unwrap();
    std::fs::write(d.join("ad-vdir.schema"), read_fixture("ad-vdir.schema")).unwrap();
    std::fs::write(d.join("rootdse.ldif"), rename(read_fixture("rootdse.ldif"))).unwrap();
    std::fs::write(d.join("base.ldif"), rename(read_fixture("base.ldif"))).unwrap();
    std::fs::write(
        d.join("extra.ldif"),
        extra.replace("objectClass: container", "objectClass: adContainer"),
    )
    .unwrap();
    std::fs::create_dir(d.join("db")).unwrap();
    let conf = d.join("slapd.conf").to_string_lossy().into_owned();
    for ldif in ["base.ldif", "extra.ldif"] {
        let ldif = d.join(ldif).to_string_lossy().into_owned();
        if !std::fs::read_to_string(&ldif).unwrap().trim().is_empty() {
            run_ok("slapadd", &["-f", &conf, "-l", &ldif]);
        }
    }
    let port = free_port();
    let ldap = format!("ldap://127.0.0.1:{port}");
    let mut listen = format!("{ldap}/");
    let mut ldaps = None;
    let tls_port = free_port();
    if tls {
        let url = format!("ldaps://127.0.0.1:{tls_port}");
        listen = format!("{listen} {url}/");
        ldaps = Some(url);
    }
    // -d 0 keeps slapd in the foreground, where its process group can be killed.
    let group = spawn_group(
        "slapd",
        &["-f", &conf, "-h", &listen, "-d", "0"],
        Duration::from_secs(120),
        &d.join("slapd.log"),
    );
    let mut ready = common::wait_port(SocketAddr::new(LOOPBACK, port), Duration::from_secs(10));
    if tls {
        ready &= common::wait_port(SocketAddr::new(LOOPBACK, tls_port), Duration::from_secs(10));
    }
    assert!(ready, "slapd did not start: {}", group.log_text());
    Slapd {
        ldap,
        ldaps,
        ca: d.join("ca.pem"),
        _group: group,
        _dir: dir,
    }
}

/// An Exchange-style Autodiscover SCP (parents are created by `containers`).
fn scp(org: &str, server: &str, url: &str, keywords: &[&str]) -> String {
    let mut ldif = containers(org, server);
    ldif.push_str(&format!(
        "dn: CN={server},CN=Autodiscover,CN=Protocols,{}\nobjectClass: serviceConnectionPoint\nserviceBindingInformation: {url}\n",
        server_dn(org, server)
    ));
    for k in keywords {
        ldif.push_str(&format!("keywords: {k}\n"));
    }
    ldif.push('\n');
    ldif
}

fn server_dn(org: &str, server: &str) -> String {
    format!(
        "CN={server},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Org,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC={org},DC=test"
    )
}

/// The containers between CN=Services and one server's SCP, each once per LDIF.
fn containers(org: &str, server: &str) -> String {
    let full = format!("CN=Autodiscover,CN=Protocols,{}", server_dn(org, server));
    let stop = format!(",CN=Services,CN=Configuration,DC={org},DC=test");
    let mut dns = Vec::new();
    let mut rest = full.as_str();
    while let Some(pos) = rest.find(&stop) {
        if pos == 0 {
            break;
        }
        dns.push(rest.to_string());
        match rest.find(",CN=") {
            Some(comma) => rest = &rest[comma + 1..],
            None => break,
        }
    }
    dns.reverse();
    dns.iter()
        .map(|dn| format!("dn: {dn}\nobjectClass: container\n\n"))
        .collect()
}

/// Remove LDIF entries already defined earlier (the shared containers).
fn dedup_ldif(ldif: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    ldif.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .filter(|e| seen.insert(e.trim().lines().next().unwrap_or("").to_string()))
        .map(|e| format!("{}\n\n", e.trim()))
        .collect()
}

/// Contoso: the fixture's two SCPs (Site-A, Default-First-Site-Name), one SCP with
/// no site, and two pointers, one for fabrikam.test (to `fabrikam`) and one for another domain.
fn contoso_ldif(fabrikam: &str) -> String {
    let mut ldif = read_fixture("scp-samba.ldif");
    ldif.push_str("\n\n");
    ldif.push_str(&scp(
        "contoso",
        "EX2016",
        "https://ex2016.contoso.test/Autodiscover/Autodiscover.xml",
        &[URL_GUID],
    ));
    ldif.push_str(&scp(
        "contoso",
        "PTR-FABRIKAM",
        fabrikam,
        &[POINTER_GUID, "Domain=fabrikam.test"],
    ));
    ldif.push_str(&scp(
        "contoso",
        "PTR-OTHER",
        "LDAP://127.0.0.1:9",
        &[POINTER_GUID, "Domain=other.test"],
    ));
    dedup_ldif(&ldif.replace(
        "CN=Contoso,CN=Microsoft Exchange",
        "CN=Org,CN=Microsoft Exchange",
    ))
}

fn urls(v: &Value) -> Vec<String> {
    endpoints(v, "url")
}

const EX2007: &str = "https://ex2007.contoso.test/Autodiscover/Autodiscover.xml";
const EX2010: &str = "https://ex2010.contoso.test/Autodiscover/Autodiscover.xml";
const EX2016: &str = "https://ex2016.contoso.test/Autodiscover/Autodiscover.xml";

#[test]
fn scp_order_follows_the_client_site() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", &contoso_ldif("LDAP://127.0.0.1:9"), true);
    let ca = dc.ca.to_string_lossy().into_owned();
    let base = ["--ldap", dc.ldap.as_str(), "--ldap-ca", ca.as_str()];
    let run = |site: Option<&str>| {
        let mut args = base.to_vec();
        if let Some(s) = site {
            args.extend(["--site", s]);
        }
        discover_json(&args)
    };

    let a = run(Some("Site-A"));
    assert_eq!(urls(&a), [EX2007, EX2016, EX2010]);
    let first = &a["endpoints"][0];
    assert_eq!(first["order"], 1);
    assert_eq!(first["source"], "scp");
    assert_eq!(first["host"], "ex2007.contoso.test");
    assert_eq!(first["port"], 443);
    assert_eq!(first["site"], "Site-A");
    assert_eq!(first["directory"], dc.ldap.as_str());
    assert!(
        first["server"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .starts_with("cn=ex2007,cn=servers,cn=exchange administrative group"),
        "{first}"
    );
    assert_eq!(a["endpoints"][1]["site"], Value::Null);

    // Site names compare case-insensitively, as AD's do.
    assert_eq!(
        urls(&run(Some("default-first-site-name"))),
        [EX2010, EX2016, EX2007]
    );
    // A site with no SCP of its own: unscoped first, then the others.
    assert_eq!(urls(&run(Some("Branch"))), [EX2016, EX2007, EX2010]);
    assert_eq!(urls(&run(None)), [EX2016, EX2007, EX2010]);

    // The pointers are listed, not followed without a matching --domain.
    let pointers = a["pointers"].as_array().unwrap();
    assert_eq!(pointers.len(), 2);
    assert!(pointers.iter().all(|p| p["followed"] == false));
    let search = &a["searches"][0];
    assert_eq!(search["base"], "CN=Configuration,DC=contoso,DC=test");
    assert_eq!(search["urls"], 3);
    assert_eq!(search["pointers"], 2);

    // The human list shows the same order and the site labels.
    let out = common::certgpo()
        .args(["discover", "--site", "Site-A"])
        .args(base)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let pos = |u: &str| text.find(u).unwrap_or(usize::MAX);
    assert!(
        pos(EX2007) < pos(EX2016) && pos(EX2016) < pos(EX2010),
        "{text}"
    );
    assert!(text.contains("site Site-A"), "{text}");
    assert!(text.contains("Domain=fabrikam.test"), "{text}");
}

/// `--client-ip` picks the site of the longest matching subnet prefix (IPv4 and IPv6),
/// and the virtual directories are listed per server with each host once.
#[test]
fn client_ip_site_and_virtual_directories() {
    if !have_tools() {
        return;
    }
    let mut ldif = contoso_ldif("LDAP://127.0.0.1:9");
    ldif.push_str("\n\n");
    for fixture in ["vdir.ldif", "subnets.ldif"] {
        // contoso_ldif renames the Exchange organisation.
        ldif.push_str(&read_fixture(fixture).replace("CN=Contoso,", "CN=Org,"));
        ldif.push_str("\n\n");
    }
    let dc = slapd("contoso", &dedup_ldif(&ldif), true);
    let ca = dc.ca.to_string_lossy().into_owned();
    let run = |ip: &str| {
        discover_json(&[
            "--ldap",
            dc.ldap.as_str(),
            "--ldap-ca",
            ca.as_str(),
            "--client-ip",
            ip,
        ])
    };
    // 10.1.2.3 is in 10.1.0.0/16 (Site-A) and 10.1.2.0/24 (Default-First-Site-Name).
    let v = run("10.1.2.3");
    assert_eq!(v["site"], "Default-First-Site-Name");
    assert_eq!(v["client_site"]["subnet"], "10.1.2.0/24");
    assert_eq!(urls(&v), [EX2010, EX2016, EX2007]);
    let v = run("10.1.9.9");
    assert_eq!(v["site"], "Site-A");
    assert_eq!(urls(&v), [EX2007, EX2016, EX2010]);
    let v = run("2001:db8:5::1");
    assert_eq!(v["site"], "Site-A");
    assert_eq!(v["client_site"]["subnet"], "2001:db8::/32");
    // No subnet: no site, said in a warning, ordered as without --site.
    let out = common::certgpo()
        .args(["discover", "--ldap", &dc.ldap, "--ldap-ca", &ca])
        .args(["--client-ip", "192.0.2.1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no subnet object contains it"), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client site: none, no subnet contains 192.0.2.1"),
        "{text}"
    );

    // Virtual directories, per server, with each host once.
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{v}");
    let ex2007 = &servers[0];
    assert!(
        ex2007["server"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .starts_with("cn=ex2007,cn=servers"),
        "{ex2007}"
    );
    let kinds: Vec<&str> = ex2007["virtual_directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "autodiscover",
            "ews",
            "oab",
            "owa",
            "activesync",
            "outlook-anywhere"
        ]
    );
    assert_eq!(
        ex2007["hosts"],
        serde_json::json!(["ex2007.contoso.test", "mail.contoso.test"])
    );
    let ex2010 = &servers[1];
    let rpc = &ex2010["virtual_directories"][1];
    assert_eq!(rpc["kind"], "outlook-anywhere");
    assert_eq!(rpc["internal"], serde_json::json!(["ex2010.contoso.test"]));
    assert_eq!(rpc["external"], serde_json::json!(["webmail.contoso.test"]));
    assert_eq!(
        v["vdir_hosts"],
        serde_json::json!([
            "ex2007.contoso.test",
            "ex2010.contoso.test",
            "mail.contoso.test",
            "webmail.contoso.test"
        ])
    );
    // The endpoints `build --discover` fetches are still the SCP URLs alone.
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 3);

    // The text lists them per server with internal and external URLs.
    let out = common::certgpo()
        .args(["discover", "--ldap", &dc.ldap, "--ldap-ca", &ca])
        .args(["--client-ip", "10.1.9.9"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("client site: Site-A, subnet 10.1.0.0/16 of 10.1.9.9"),
        "{text}"
    );
    assert!(text.contains("listed, not fetched"), "{text}");
    assert!(
        text.contains("      external https://mail.contoso.test/EWS/Exchange.asmx"),
        "{text}"
    );
    assert!(
        text.contains(
            "    Outlook Anywhere Rpc (Default Web Site)\n      external mail.contoso.test\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("    hosts: ex2007.contoso.test mail.contoso.test"),
        "{text}"
    );
}

#[test]
fn a_pointer_for_the_users_domain_is_followed() {
    if !have_tools() {
        return;
    }
    let fabrikam_scp = scp(
        "fabrikam",
        "FAB1",
        "https://mail.fabrikam.test:8443/Autodiscover/Autodiscover.xml",
        &[URL_GUID, "Site=Site-A"],
    );
    let fabrikam = slapd("fabrikam", &dedup_ldif(&fabrikam_scp), true);
    let target = fabrikam.ldap.replace("ldap://", "LDAP://");
    let contoso = slapd("contoso", &contoso_ldif(&target), true);
    // Both throwaway CAs differ, so validation is off here; other tests cover it.
    let v = discover_json(&[
        "--ldap",
        &contoso.ldap,
        "--ldap-insecure",
        "--domain",
        "fabrikam.test",
        "--no-dns",
        "--site",
        "Site-A",
    ]);
    let list = urls(&v);
    assert_eq!(
        list,
        [
            "https://mail.fabrikam.test:8443/Autodiscover/Autodiscover.xml",
            EX2007,
            EX2016,
            EX2010
        ]
    );
    assert_eq!(v["endpoints"][0]["port"], 8443);
    assert_eq!(v["endpoints"][0]["directory"], fabrikam.ldap.as_str());
    let pointers = v["pointers"].as_array().unwrap();
    let followed: Vec<_> = pointers.iter().filter(|p| p["followed"] == true).collect();
    assert_eq!(followed.len(), 1, "{pointers:?}");
    assert_eq!(followed[0]["domain"], "fabrikam.test");
    assert_eq!(followed[0]["target"], target.as_str());
    assert_eq!(v["searches"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["searches"][1]["base"],
        "CN=Configuration,DC=fabrikam,DC=test"
    );
}

#[test]
fn ldaps_with_a_simple_bind_and_a_wrong_password() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", &contoso_ldif("LDAP://127.0.0.1:9"), true);
    let ldaps = dc.ldaps.clone().unwrap();
    let ca = dc.ca.to_string_lossy().into_owned();
    let user = "CN=admin,DC=contoso,DC=test";
    let out = common::certgpo()
        .args([
            "discover",
            "--ldap",
            &ldaps,
            "--ldap-ca",
            &ca,
            "--user",
            user,
            "--site",
            "Site-A",
            "--json",
        ])
        .env("CERTGPO_LDAP_PASSWORD", "test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(urls(&v), [EX2007, EX2016, EX2010]);

    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), "not-the-password\n").unwrap();
    let out = common::certgpo()
        .args([
            "discover",
            "--ldap",
            &ldaps,
            "--ldap-ca",
            &ca,
            "--user",
            user,
        ])
        .arg("--password-file")
        .arg(pw.path())
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{ldaps} refused the bind as {user}")),
        "{err}"
    );
    assert!(err.contains("invalidCredentials (LDAP 49)"), "{err}");

    // No password source and no terminal: say where a password may come from.
    let err = discover_fixture::refused(&["--ldap", &ldaps, "--ldap-ca", &ca, "--user", user]);
    assert!(
        err.contains("--password-file") && err.contains("CERTGPO_LDAP_PASSWORD"),
        "{err}"
    );
}

#[test]
fn an_untrusted_directory_certificate_is_refused_with_a_hint() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", &contoso_ldif("LDAP://127.0.0.1:9"), true);
    for url in [dc.ldap.clone(), dc.ldaps.clone().unwrap()] {
        let err = discover_fixture::refused(&["--ldap", &url]);
        assert!(
            err.contains(&format!("TLS handshake with {url} failed")),
            "{err}"
        );
        assert!(
            err.contains("--ldap-ca") && err.contains("--ldap-insecure"),
            "{err}"
        );
        let v = discover_json(&["--ldap", &url, "--ldap-insecure", "--site", "Site-A"]);
        assert_eq!(urls(&v), [EX2007, EX2016, EX2010]);
    }
    // A trusted CA, but the URL names the server differently from its certificate.
    let by_name = dc.ldaps.clone().unwrap().replace("127.0.0.1", "localhost");
    let ca = dc.ca.to_string_lossy().into_owned();
    let err = discover_fixture::refused(&["--ldap", &by_name, "--ldap-ca", &ca]);
    assert!(
        err.contains("the certificate names ldap.test and 127.0.0.1, not localhost"),
        "{err}"
    );
    let port = by_name.rsplit(':').next().unwrap_or_default();
    assert!(
        err.contains(&format!(
            "hint: use ldaps://ldap.test:{port} (with --dns-server"
        )),
        "{err}"
    );
}

#[test]
fn no_starttls_means_no_search() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", &contoso_ldif("LDAP://127.0.0.1:9"), false);
    let err = discover_fixture::refused(&["--ldap", &dc.ldap, "--ldap-insecure"]);
    assert!(
        err.contains("refused StartTLS") && err.contains("never binds in plaintext"),
        "{err}"
    );
}

#[test]
fn an_empty_directory_says_what_was_searched() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", "", true);
    let err = discover_fixture::refused(&["--ldap", &dc.ldap, "--ldap-insecure"]);
    assert!(err.contains("no Autodiscover SCP found"), "{err}");
    assert!(
        err.contains("under CN=Configuration,DC=contoso,DC=test"),
        "{err}"
    );
    assert!(err.contains(&format!("(keywords={URL_GUID})")), "{err}");
}

#[test]
fn usage_errors_are_specific() {
    let closed = free_port();
    let cases: [(&[&str], &str); 5] = [
        (&[], "give --ldap URL"),
        (
            &["--ldap", "https://dc1.contoso.test"],
            "expected ldaps://HOST",
        ),
        (
            &["--domain", "contoso.test", "--dns-server", "dc1"],
            "--dns-server dc1: expected IP",
        ),
        (
            &["--ldap", &format!("ldaps://127.0.0.1:{closed}")],
            "cannot reach ldaps://127.0.0.1",
        ),
        (
            &["--ldap", "ldaps://127.0.0.1:9", "--password", "x"],
            "unexpected argument '--password'",
        ),
    ];
    for (args, expected) in cases {
        let err = discover_fixture::refused(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn a_dns_failure_keeps_the_scps_and_is_an_error_alone() {
    if !have_tools() {
        return;
    }
    let dc = slapd("contoso", &contoso_ldif("LDAP://127.0.0.1:9"), true);
    let ca = dc.ca.to_string_lossy().into_owned();
    // Nothing answers DNS on this port.
    let dns = format!("127.0.0.1:{}", free_port());
    let out = common::certgpo()
        .args([
            "discover",
            "--ldap",
            &dc.ldap,
            "--ldap-ca",
            &ca,
            "--site",
            "Site-A",
        ])
        .args([
            "--domain",
            "contoso.test",
            "--dns-server",
            &dns,
            "--timeout",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(urls(&v), [EX2007, EX2016, EX2010]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("(asked {dns}); the DNS candidates are left out")),
        "{err}"
    );

    let err = discover_fixture::refused(&[
        "--domain",
        "contoso.test",
        "--dns-server",
        &dns,
        "--timeout",
        "1",
    ]);
    assert!(err.contains("DNS lookup of contoso.test failed"), "{err}");
}

#[test]
fn fetch_captures_the_certificate_of_every_endpoint() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_s1, p1, sha_a) = discover_fixture::tls_server(tmp.path(), "cas-a.contoso.test");
    let (_s2, p2, sha_b) = discover_fixture::tls_server(tmp.path(), "cas-b.contoso.test");
    let dead = free_port();
    let url_a = format!("https://127.0.0.1:{p1}/Autodiscover/Autodiscover.xml");
    let url_b = format!("https://127.0.0.1:{p2}/Autodiscover/Autodiscover.xml");
    let url_dead = format!("https://127.0.0.1:{dead}/Autodiscover/Autodiscover.xml");
    let mut ldif = scp("contoso", "CASA", &url_a, &[URL_GUID, "Site=Site-A"]);
    ldif.push_str(&scp("contoso", "CASB", &url_b, &[URL_GUID]));
    ldif.push_str(&scp(
        "contoso",
        "CASDEAD",
        &url_dead,
        &[URL_GUID, "Site=Site-B"],
    ));
    // The same server twice: fetched once.
    ldif.push_str(&scp(
        "contoso",
        "CASA2",
        &url_a.replace(
            "/Autodiscover/Autodiscover.xml",
            "/autodiscover/autodiscover.xml",
        ),
        &[URL_GUID, "Site=Site-A"],
    ));
    let dc = slapd("contoso", &dedup_ldif(&ldif), true);
    let ca = dc.ca.to_string_lossy().into_owned();
    let base = [
        "discover",
        "--ldap",
        dc.ldap.as_str(),
        "--ldap-ca",
        ca.as_str(),
        "--site",
        "Site-A",
        "--fetch",
        "--timeout",
        "5s",
    ];

    let out = common::certgpo().args(base).arg("--json").output().unwrap();
    // One endpoint is down: reported, the others still fetched, exit 1 as `fetch` does.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 4);
    let fetched = v["fetched"].as_array().unwrap();
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    assert_eq!(fetched[0]["target"], url_a.as_str());
    assert_eq!(fetched[0]["ok"], true);
    assert_eq!(fetched[0]["chain"][0]["sha1"], sha_a.as_str());
    assert_eq!(fetched[1]["ok"], true);
    assert_eq!(fetched[1]["chain"][0]["sha1"], sha_b.as_str());
    assert_eq!(fetched[2]["ok"], false);
    assert_eq!(fetched[2]["target"], url_dead.as_str());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&url_dead), "{err}");

    // The human report, and the chains saved when every pin matches.
    let certs = tmp.path().join("certs");
    let out = common::certgpo()
        .args(base)
        .args(["--expect", &sha_a, "--expect", &sha_b, "--out"])
        .arg(&certs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Certificates:") && text.contains(&sha_a) && text.contains(&sha_b),
        "{text}"
    );
    assert!(std::fs::read_dir(&certs).unwrap().count() >= 2);

    // A pin that matches nothing: exit 3, nothing written.
    let other = tmp.path().join("other");
    let out = common::certgpo()
        .args(base)
        .args(["--expect", &"00".repeat(20), "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!other.exists());
}

#[test]
fn build_from_a_discover_report_uses_the_fetch_pins() {
    if !have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_s1, p1, sha_a) = discover_fixture::tls_server(tmp.path(), "cas-a.contoso.test");
    let (_s2, p2, sha_b) = discover_fixture::tls_server(tmp.path(), "cas-b.contoso.test");
    let url_a = format!("https://127.0.0.1:{p1}/Autodiscover/Autodiscover.xml");
    let url_b = format!("https://127.0.0.1:{p2}/Autodiscover/Autodiscover.xml");
    let mut ldif = scp("contoso", "CASA", &url_a, &[URL_GUID, "Site=Site-A"]);
    ldif.push_str(&scp("contoso", "CASB", &url_b, &[URL_GUID]));
    let dc = slapd("contoso", &dedup_ldif(&ldif), true);
    let ca = dc.ca.to_string_lossy().into_owned();
    let report = tmp.path().join("discovery.json");
    let out = common::certgpo()
        .args([
            "discover",
            "--ldap",
            &dc.ldap,
            "--ldap-ca",
            &ca,
            "--site",
            "Site-A",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&report, &out.stdout).unwrap();

    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let bundle = work.join("bundle");
    let build = |extra: &[&str]| {
        common::certgpo()
            .args(["build", "--discover"])
            .arg(&report)
            .arg("--out")
            .arg(&bundle)
            .args([
                "--domain",
                "contoso.test",
                "--timestamp",
                "2024-01-01T00:00:00Z",
                "--json",
            ])
            .args(extra)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap()
    };
    // No pin and no terminal: refused as `build --fetch` refuses, nothing written.
    let out = build(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pin"));
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);

    // Both servers pinned: both certificates in the bundle.
    let out = build(&["--expect", &sha_a, "--expect", &sha_b]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let thumbprints: Vec<&str> = summary["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["thumbprint"].as_str())
        .collect();
    assert!(
        thumbprints.contains(&sha_a.as_str()) && thumbprints.contains(&sha_b.as_str()),
        "{summary}"
    );

    // A file that is not a discover report.
    let out = common::certgpo()
        .args(["build", "--discover"])
        .arg(&ca)
        .args(["--out", "x", "--trust-on-first-use"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not the JSON of `certgpo discover --json`"),
        "{err}"
    );
}

/// Microsoft KB 2006728 end to end: the directory's SCP names the Exchange 2007 CAS,
/// which answers the 2010 mailbox with a redirectUrl to the Exchange 2010 CAS, whose
/// self-signed certificate on TLS 1.0 is what Outlook's Security Alert is about.
/// `discover --email` shows both hops and flags that certificate as untrusted and
/// fixable; `build --discover` builds a bundle with exactly it.
#[test]
fn kb_2006728_the_2007_cas_redirects_to_the_self_signed_2010_cas() {
    use autodiscover_fixture::{
        Pki, ann, autodiscover_url, build_thumbprints, discover_email, exited, kb_servers, server,
        start,
    };
    use serde_json::json;
    if !have_tools() || !autodiscover_fixture::have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let ex2007 = free_port();
    let ex2010 = free_port();
    let services: Vec<(&str, u16)> = [
        "oab.contoso.test",
        "ecp.contoso.test",
        "ews.contoso.test",
        "owa.contoso.test",
    ]
    .into_iter()
    .map(|h| (h, free_port()))
    .collect();
    let users = json!({ "CONTOSO\\ann": "Passw0rd!" });
    let (mut servers, sha_2010) = kb_servers(&pki, (ex2007, ex2010), &users, None, &services);
    for (h, port) in &services {
        servers.push(server(h, *port, Some(&pki.issue(h)), json!({})));
    }
    let mut names = vec![
        "ex2007.contoso.test",
        "ex2010.contoso.test",
        "mail.contoso.test",
    ];
    names.extend(services.iter().map(|(h, _)| *h));
    let cas = start(tmp.path(), &names, &[], servers);
    let url_2007 = autodiscover_url("ex2007.contoso.test", ex2007);
    let dc = slapd(
        "contoso",
        &dedup_ldif(&scp(
            "contoso",
            "EX2007",
            &url_2007,
            &[URL_GUID, "Site=Site-A"],
        )),
        true,
    );
    let ca = dc.ca.to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let args = ann(&cas.dns, &pki.root, "CONTOSO\\ann");
        let mut all: Vec<&str> = vec!["--ldap", &dc.ldap, "--ldap-ca", &ca, "--site", "Site-A"];
        all.extend(args.iter().map(String::as_str));
        all.extend(extra);
        discover_email(&all, "Passw0rd!")
    };

    // As Outlook meets it: the 2010 certificate stops the exchange, no credential sent.
    let out = run(&[]);
    exited(&out, 2);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&format!("  1. POST {url_2007}  [scp]")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "-> redirectUrl {}",
            autodiscover_url("ex2010.contoso.test", ex2010)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "Windows: untrusted root: distribute {sha_2010} (ex2010.contoso.test); fixable by distributing the root"
        )),
        "{text}"
    );
    assert!(err.contains("certgpo sent it no credentials"), "{err}");
    assert!(cas.seen_by("ex2010").is_empty());

    // The admin pins it for this run: the whole path, every service host.
    let out = run(&["--expect", &sha_2010, "--json"]);
    exited(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hosts = v["autodiscover"]["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "ex2007.contoso.test",
            "ex2010.contoso.test",
            "oab.contoso.test",
            "ecp.contoso.test",
            "mail.contoso.test",
            "ews.contoso.test",
            "owa.contoso.test"
        ]
    );
    for h in hosts {
        let name = h["name"].as_str().unwrap();
        match name {
            "ex2010.contoso.test" => assert_eq!(h["verdict"]["fixable_by_trust"], true),
            "mail.contoso.test" => assert!(h["error"].is_string(), "{h}"),
            _ => assert_eq!(h["verdict"]["trusted"], true, "{h}"),
        }
    }
    assert_eq!(
        build_thumbprints(tmp.path(), &out.stdout, &sha_2010),
        [sha_2010.as_str()]
    );
    if std::env::var_os("CERTGPO_PRINT_SESSION").is_some() {
        let out = run(&["--expect", &sha_2010]);
        println!(
            "$ CERTGPO_MAIL_PASSWORD=... certgpo discover --ldap {} --ldap-ca ca.pem --site Site-A --dns-server {} --email ann@contoso.test --mail-user 'CONTOSO\\ann' --client-roots contoso-root.pem --timeout 5s --expect {sha_2010}",
            dc.ldap, cas.dns
        );
        println!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
