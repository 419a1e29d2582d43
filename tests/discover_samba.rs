//! `certgpo discover` end to end against a real Samba AD DC, provisioned by the test
//! on a loopback address of its own (recipe: docs/spec/fetching.md §5.6), with the
//! Exchange SCP objects of tests/fixtures/discover/scp-samba.ldif (EX2007 in Site-A,
//! EX2010 in Default-First-Site-Name) and an `_autodiscover._tcp` SRV record.
//! Samba's schema has no Exchange classes: exchange-vdir-schema.ldif adds the two
//! msExch*HostName attributes and the virtual directory classes over LDAP (with
//! `dsdb:schema update allowed`), as Exchange's /PrepareSchema would, so that the
//! virtual directories of vdir.ldif can be added. Sites and subnets are made with
//! `samba-tool sites`, for `--client-ip`.
//!
//! Provisioning takes seconds and the DC needs the well-known ports, so one test
//! provisions it once and runs every case against it; the DC runs in its own
//! process group under `timeout`, killed when the test ends however it ends.
//! Samba needs root; the DNS forwarder line is deleted so no query leaves loopback.

mod autodiscover_fixture;
mod common;
mod discover_fixture;
mod samba_dc;

#[cfg(feature = "kerberos")]
use {common::run_ok, std::process::Command};

use discover_fixture::{Group, discover, discover_json, endpoints, fixture};
use samba_dc::{ADMIN, PASSWORD, Services, path, retry};
use serde_json::Value;

const EX2007: &str = "https://ex2007.contoso.test/Autodiscover/Autodiscover.xml";
const EX2010: &str = "https://ex2010.contoso.test/Autodiscover/Autodiscover.xml";

struct Dc {
    dc: samba_dc::Dc,
    /// An `openssl s_server` standing in for the CAS that the SRV record names.
    cas_port: u16,
    cas_sha1: String,
    _cas: Group,
}

fn provision() -> Dc {
    let dc = samba_dc::provision(Services::default());
    let ip_s = dc.ip.to_string();
    // The SCPs, then the Exchange schema extension and the virtual directories of the
    // same servers. ldapmodify -a: the schema LDIF mixes adds with schemaUpdateNow.
    for ldif in ["scp-samba.ldif", "exchange-vdir-schema.ldif", "vdir.ldif"] {
        dc.ldapmodify(&fixture(ldif));
    }
    let (cas, cas_port, cas_sha1) =
        discover_fixture::tls_server(dc.dir.path(), "ex2010.contoso.test");
    let admin_pw = format!("--password={PASSWORD}");
    let srv = format!("ex2010.contoso.test {cas_port} 0 0");
    for record in [
        ["_autodiscover._tcp", "SRV", srv.as_str()],
        ["ex2010", "A", "127.0.0.1"],
    ] {
        let mut args = vec!["dns", "add", &ip_s, "contoso.test"];
        args.extend(record);
        args.extend(["-U", "Administrator", &admin_pw]);
        retry("samba-tool", &args, &[]);
    }
    // Sites and subnets as an admin makes them, for --client-ip: 10.1.2.3 is in both
    // 10.1.0.0/16 (Site-A) and 10.1.2.0/24 (Default-First-Site-Name); the longer wins.
    let sites: [&[&str]; 4] = [
        &["sites", "create", "Site-A"],
        &["sites", "subnet", "create", "10.1.0.0/16", "Site-A"],
        &[
            "sites",
            "subnet",
            "create",
            "10.1.2.0/24",
            "Default-First-Site-Name",
        ],
        &["sites", "subnet", "create", "2001:db8::/32", "Site-A"],
    ];
    for command in sites {
        dc.samba_tool(command);
    }
    Dc {
        dc,
        cas_port,
        cas_sha1,
        _cas: cas,
    }
}

#[test]
fn samba_ad_dc_end_to_end() {
    if !samba_dc::available(Services::default()) {
        return;
    }
    let dc = provision();
    let ip = dc.dc.ip.to_string();
    let ca = path(&dc.dc.ca);
    let pw = path(&dc.dc.password_file);
    let ldaps = format!("ldaps://{ip}");
    let starttls = format!("ldap://{ip}");
    let dns = format!("{ip}:53");

    // Both transports, both sites, a validated certificate and a real bind; and the DC
    // by the name its certificate holds, which only the DC's own DNS knows: --dns-server
    // resolves the --ldap host too.
    let by_name: [(&str, &[&str]); 3] = [
        (&ldaps, &[]),
        (&starttls, &[]),
        ("ldaps://dc1.contoso.test", &["--dns-server", &dns]),
    ];
    for (url, extra) in by_name {
        for (site, expected) in [
            ("Site-A", [EX2007, EX2010]),
            ("Default-First-Site-Name", [EX2010, EX2007]),
        ] {
            let mut args = [signed_in(url, &ca, &pw), vec!["--site", site]].concat();
            args.extend(extra);
            let v = discover_json(&args);
            assert_eq!(endpoints(&v, "url"), expected, "{url} --site {site}: {v}");
            assert_eq!(endpoints(&v, "source"), ["scp", "scp"]);
            assert_eq!(
                v["searches"][0]["base"],
                "CN=Configuration,DC=contoso,DC=test"
            );
            assert_eq!(v["endpoints"][0]["site"], site);
            assert!(
                v["endpoints"][0]["server"]
                    .as_str()
                    .unwrap()
                    .contains(",CN=Servers,CN=Exchange Administrative Group"),
                "{v}"
            );
        }
    }

    // --client-ip instead of --site: the site of the longest subnet prefix, IPv4 and IPv6.
    for (client, site, expected) in [
        ("10.1.2.3", "Default-First-Site-Name", [EX2010, EX2007]),
        ("10.1.9.9", "Site-A", [EX2007, EX2010]),
        ("2001:db8:1::1", "Site-A", [EX2007, EX2010]),
    ] {
        let v = discover_json(&[signed_in(&ldaps, &ca, &pw), vec!["--client-ip", client]].concat());
        assert_eq!(v["site"], site, "--client-ip {client}: {v}");
        assert_eq!(endpoints(&v, "url"), expected, "--client-ip {client}: {v}");
        // The virtual directories of both servers, from the extended schema.
        let servers: Vec<&str> = v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["server"].as_str().unwrap())
            .collect();
        assert_eq!(servers.len(), 2, "{v}");
        assert!(servers[0].starts_with("CN=EX2007,CN=Servers,"), "{v}");
        assert_eq!(
            v["servers"][1]["hosts"],
            serde_json::json!(["ex2010.contoso.test", "webmail.contoso.test"])
        );
        assert_eq!(
            v["vdir_hosts"],
            serde_json::json!([
                "ex2007.contoso.test",
                "ex2010.contoso.test",
                "mail.contoso.test",
                "webmail.contoso.test"
            ])
        );
    }

    // The human list, with the password from the environment.
    let out = common::certgpo()
        .args([
            "discover",
            "--ldap",
            &starttls,
            "--ldap-ca",
            &ca,
            "--user",
            ADMIN,
            "--site",
            "Site-A",
        ])
        .env("CERTGPO_LDAP_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.find(EX2007) < text.find(EX2010), "{text}");
    assert!(text.contains("site Default-First-Site-Name"), "{text}");

    // A wrong password: AD's own sub-code, explained.
    let bad = dc.dc.dir.path().join("bad.txt");
    std::fs::write(&bad, "wrong\n").unwrap();
    let err = discover_fixture::refused(&[
        "--ldap",
        &ldaps,
        "--ldap-ca",
        &ca,
        "--user",
        ADMIN,
        "--password-file",
        &path(&bad),
    ]);
    assert!(
        err.contains(&format!("{ldaps} refused the bind as {ADMIN}")),
        "{err}"
    );
    assert!(
        err.contains("invalidCredentials") && err.contains("(wrong password)"),
        "{err}"
    );

    // AD refuses an anonymous search of the configuration NC.
    let err = discover_fixture::refused(&["--ldap", &ldaps, "--ldap-ca", &ca]);
    assert!(
        err.contains("refused an anonymous search of CN=Configuration,DC=contoso,DC=test"),
        "{err}"
    );

    // The DC's certificate is not in the system store: say how to trust it.
    let err =
        discover_fixture::refused(&["--ldap", &ldaps, "--user", ADMIN, "--password-file", &pw]);
    assert!(
        err.contains("TLS handshake with")
            && err.contains("--ldap-ca")
            && err.contains("--ldap-insecure"),
        "{err}"
    );

    // DNS, asking the DC's own server: the SRV record added with samba-tool.
    let v = discover_json(&["--domain", "contoso.test", "--dns-server", &dns]);
    assert_eq!(
        endpoints(&v, "source"),
        ["dns-root", "dns-autodiscover", "srv"],
        "{v}"
    );
    assert_eq!(
        endpoints(&v, "url"),
        [
            "https://contoso.test/autodiscover/autodiscover.xml",
            "https://autodiscover.contoso.test/autodiscover/autodiscover.xml",
            format!(
                "https://ex2010.contoso.test:{}/Autodiscover/Autodiscover.xml",
                dc.cas_port
            )
            .as_str(),
        ]
    );
    let srv = &v["endpoints"][2];
    assert_eq!(srv["host"], "ex2010.contoso.test");
    assert_eq!(srv["port"], dc.cas_port);
    assert_eq!(srv["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(v["endpoints"][0]["addresses"], serde_json::json!([ip]));
    assert_eq!(v["endpoints"][1]["addresses"], serde_json::json!([]));

    // Everything at once, in Outlook's order: SCPs by site, then the DNS candidates.
    let v = discover_json(
        &[
            signed_in(&starttls, &ca, &pw),
            vec![
                "--site",
                "Default-First-Site-Name",
                "--domain",
                "contoso.test",
                "--dns-server",
                &dns,
            ],
        ]
        .concat(),
    );
    assert_eq!(
        endpoints(&v, "source"),
        ["scp", "scp", "dns-root", "dns-autodiscover", "srv"],
        "{v}"
    );
    assert_eq!(endpoints(&v, "url")[..2], [EX2010, EX2007]);
    // --fetch reaches the CAS the DC's DNS names, at the address that DNS gives, with
    // its name as SNI; names that do not resolve there are not tried.
    let out = discover(
        &[
            signed_in(&starttls, &ca, &pw),
            vec![
                "--site",
                "Site-A",
                "--domain",
                "contoso.test",
                "--dns-server",
                &dns,
                "--fetch",
                "--timeout",
                "5s",
                "--json",
            ],
        ]
        .concat(),
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let srv_url = format!(
        "https://ex2010.contoso.test:{}/Autodiscover/Autodiscover.xml",
        dc.cas_port
    );
    let fetched = v["fetched"].as_array().expect("fetched");
    let cas = fetched
        .iter()
        .find(|f| f["target"] == srv_url.as_str())
        .expect("the SRV target was fetched");
    assert_eq!(cas["ok"], true, "{cas}");
    assert_eq!(cas["sni"], "ex2010.contoso.test");
    assert_eq!(cas["chain"][0]["sha1"], dc.cas_sha1.as_str());
    assert!(
        fetched
            .iter()
            .all(|f| !f["target"].as_str().unwrap_or("").contains("ex2007")
                && !f["target"]
                    .as_str()
                    .unwrap_or("")
                    .contains("autodiscover.contoso.test")),
        "names that do not resolve at the DC are not fetched: {fetched:?}"
    );

    #[cfg(feature = "kerberos")]
    kerberos(&dc, &ldaps, &starttls);
    #[cfg(feature = "kerberos")]
    negotiate(&dc);

    let orders: Vec<u64> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["order"].as_u64().unwrap())
        .collect();
    assert_eq!(orders, [1, 2, 3, 4, 5]);

    kb_2006728(&dc, &ldaps, &ca, &pw, &dns);
}

/// The KB 2006728 path with the DC's own SCP: EX2007's SCP now carries the port of an
/// Exchange 2007 stand-in, and the DC's DNS names both CAS hosts; the 2007 CAS
/// redirects the 2010 mailbox to the TLS 1.0-only 2010 CAS with its self-signed
/// certificate, which `discover --email` flags as untrusted and fixable.
fn kb_2006728(dc: &Dc, ldaps: &str, ca: &str, pw: &str, dns: &str) {
    use autodiscover_fixture::{
        Pki, ann, autodiscover_url, discover_email, exited, kb_servers, start,
    };
    use serde_json::json;
    if !autodiscover_fixture::have_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let (p2007, p2010) = (common::free_port(), common::free_port());
    let users = json!({ "CONTOSO\\ann": PASSWORD });
    let (servers, sha_2010) = kb_servers(&pki, (p2007, p2010), &users, None, &[]);
    let _cas = start(tmp.path(), &[], &[], servers);
    let scp = "CN=EX2007,CN=Autodiscover,CN=Protocols,CN=EX2007,CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=test";
    let ldif = tmp.path().join("scp.ldif");
    std::fs::write(
        &ldif,
        format!(
            "dn: {scp}\nchangetype: modify\nreplace: serviceBindingInformation\nserviceBindingInformation: {}\n",
            autodiscover_url("ex2007.contoso.test", p2007)
        ),
    )
    .unwrap();
    dc.dc.ldapmodify(&ldif);
    let ip_s = dc.dc.ip.to_string();
    let admin_pw = format!("--password={PASSWORD}");
    retry(
        "samba-tool",
        &[
            "dns",
            "add",
            &ip_s,
            "contoso.test",
            "ex2007",
            "A",
            "127.0.0.1",
            "-U",
            "Administrator",
            &admin_pw,
        ],
        &[],
    );
    let run = |extra: &[&str]| {
        let args = ann(dns, &pki.root, "CONTOSO\\ann");
        let mut all = signed_in(ldaps, ca, pw);
        all.extend(["--site", "Site-A", "--json"]);
        all.extend(args.iter().map(String::as_str));
        all.extend(extra);
        discover_email(&all, PASSWORD)
    };
    let out = run(&[]);
    exited(&out, 2);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hops = v["autodiscover"]["hops"].as_array().unwrap();
    assert_eq!(hops[0]["source"], "scp");
    assert_eq!(hops[0]["result"], "redirectUrl");
    assert_eq!(
        hops[1]["result"],
        "stopped before any request: certificate not trusted"
    );
    let ex2010 = &v["autodiscover"]["hosts"][1];
    assert_eq!(ex2010["name"], "ex2010.contoso.test");
    assert_eq!(ex2010["verdict"]["fixable_by_trust"], true);
    assert_eq!(ex2010["certificate"]["thumbprint"], sha_2010.as_str());

    let out = run(&["--expect", &sha_2010]);
    exited(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["autodiscover"]["hops"][1]["result"], "settings");
    assert_eq!(v["autodiscover"]["hops"][1]["protocol"], "TLS 1.0");
}

/// `--bind kerberos` with a ticket from `kinit`, kept in the temp dir.
#[cfg(feature = "kerberos")]
fn kerberos(dc: &Dc, ldaps: &str, starttls: &str) {
    if !common::require("klist", &["-V"]) {
        return;
    }
    let d = dc.dc.dir.path();
    let ip_s = dc.dc.ip.to_string();
    // Kerberos to an IP address: give the DC the matching service principal.
    let sam = d.join("dc/private/sam.ldb");
    run_ok(
        "samba-tool",
        &[
            "spn",
            "add",
            &format!("ldap/{ip_s}"),
            "DC1$",
            "-H",
            &sam.to_string_lossy(),
        ],
    );
    let krb = Krb5::new(dc, d);
    krb.kinit("Administrator@CONTOSO.TEST");
    let env = krb.env();
    let ca = path(&dc.dc.ca);
    for url in [ldaps, starttls] {
        let out = common::certgpo()
            .args([
                "discover",
                "--bind",
                "kerberos",
                "--ldap",
                url,
                "--ldap-ca",
                &ca,
                "--site",
                "Site-A",
                "--json",
            ])
            .envs(env)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kerberos over {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(endpoints(&v, "url"), [EX2007, EX2010]);
    }
}

/// A krb5.conf naming the DC as the KDC of CONTOSO.TEST (and of the names under
/// contoso.test), and a credential cache, in `dir`.
#[cfg(feature = "kerberos")]
struct Krb5 {
    conf: String,
    cache: String,
}

#[cfg(feature = "kerberos")]
impl Krb5 {
    fn new(dc: &Dc, dir: &std::path::Path) -> Krb5 {
        let ip_s = dc.dc.ip.to_string();
        std::fs::write(
            dir.join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = CONTOSO.TEST\n dns_lookup_realm = false\n dns_lookup_kdc = false\n \
                 dns_canonicalize_hostname = false\n rdns = false\n[realms]\n CONTOSO.TEST = {{\n  kdc = {ip_s}\n }}\n\
                 [domain_realm]\n {ip_s} = CONTOSO.TEST\n .contoso.test = CONTOSO.TEST\n"
            ),
        )
        .unwrap();
        Krb5 {
            conf: path(&dir.join("krb5.conf")),
            cache: format!("FILE:{}", path(&dir.join("krb5cc"))),
        }
    }

    fn env(&self) -> [(&str, &str); 2] {
        [
            ("KRB5_CONFIG", self.conf.as_str()),
            ("KRB5CCNAME", self.cache.as_str()),
        ]
    }

    /// A ticket-granting ticket for `principal` (its password is [`PASSWORD`]).
    fn kinit(&self, principal: &str) {
        let mut kinit = Command::new("kinit")
            .arg(principal)
            .envs(self.env())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("kinit runs");
        use std::io::Write;
        writeln!(kinit.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(kinit.wait().unwrap().success(), "kinit failed");
    }
}

/// `discover --email` with Kerberos under Negotiate: the DC issues ann a ticket for
/// HTTP/ex2010.contoso.test (the SPN of a service account, its key exported to a
/// keytab), and a stand-in that takes Negotiate alone checks it with MIT GSSAPI
/// (python3-gssapi) and answers with its mutual-authentication token. Without a
/// ticket, `--auth negotiate` stops with the reason and `--auth auto` falls back to
/// NTLM's messages under Negotiate, saying why in the hop.
#[cfg(feature = "kerberos")]
fn negotiate(dc: &Dc) {
    use autodiscover_fixture::{Pki, autodiscover_url, exited, server, start};
    use serde_json::json;
    if !autodiscover_fixture::have_tools()
        || !common::require(common::SYSTEM_PYTHON, &["-c", "import gssapi"])
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for args in [
        vec!["user", "create", "ann", PASSWORD],
        vec!["user", "create", "exsvc", PASSWORD],
        vec!["spn", "add", "HTTP/ex2010.contoso.test", "exsvc"],
    ] {
        dc.dc.samba_tool(&args);
    }
    let keytab = d.join("http.keytab");
    // From the DC's own database (its smb.conf names it).
    run_ok(
        "samba-tool",
        &[
            "domain",
            "exportkeytab",
            &path(&keytab),
            "--principal=HTTP/ex2010.contoso.test",
            "-s",
            &path(&dc.dc.conf),
        ],
    );
    let krb = Krb5::new(dc, d);
    let pki = Pki::new(d);
    let (port, quiet) = (common::free_port(), common::free_port());
    let users = json!({ "CONTOSO\\ann": PASSWORD });
    let ews = json!([{ "type": "EXCH", "entries": [
        ["EwsUrl", autodiscover_url("ex2010.contoso.test", port)]] }]);
    let cert = pki.issue("ex2010.contoso.test");
    let cas = start(
        d,
        &["ex2010.contoso.test"],
        &[("contoso.test", "ex2010.contoso.test", port)],
        vec![
            server(
                "ex2010",
                port,
                Some(&cert),
                json!({ "auth": ["kerberos", "negotiate"], "users": users,
                        "keytab": path(&keytab), "krb5_conf": krb.conf,
                        "mailboxes": {
                            "ann@contoso.test": { "display": "Ann Example", "settings": ews },
                            "bob@contoso.test": { "redirectUrl":
                                autodiscover_url("ex2010.contoso.test", quiet) } } }),
            ),
            // The same service on another port, without the final token.
            server(
                "quiet",
                quiet,
                Some(&cert),
                json!({ "auth": ["kerberos"], "no_final_token": true,
                        "keytab": path(&keytab), "krb5_conf": krb.conf,
                        "mailboxes": { "bob@contoso.test": { "settings": ews } } }),
            ),
        ],
    );
    let root = pki.root.cert_str();
    let run_as = |email: &str, auth: &str, password: &str| {
        let args = [
            "--dns-server",
            &cas.dns,
            "--email",
            email,
            "--mail-user",
            "CONTOSO\\ann",
            "--client-roots",
            &root,
            "--timeout",
            "5s",
            "--auth",
            auth,
            "--json",
        ];
        let mut cmd = common::certgpo();
        cmd.arg("discover").args(args).envs(krb.env());
        match password {
            "" => cmd.env_remove("CERTGPO_MAIL_PASSWORD"),
            p => cmd.env("CERTGPO_MAIL_PASSWORD", p),
        };
        cmd.timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("certgpo runs")
    };
    let run = |auth: &str, password: &str| run_as("ann@contoso.test", auth, password);
    let srv_hop = |out: &std::process::Output| -> Value {
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["autodiscover"]["hops"]
            .as_array()
            .expect("hops")
            .iter()
            .find(|h| h["source"] == "srv")
            .cloned()
            .unwrap_or_else(|| panic!("no SRV hop: {v}"))
    };

    // No ticket yet: --auth negotiate says why and sends nothing else.
    let out = run("negotiate", "");
    let err = exited(&out, 2);
    assert!(
        err.contains("no Kerberos ticket for HTTP/ex2010.contoso.test"),
        "{err}"
    );
    assert!(err.contains("kinit"), "{err}");
    let hop = srv_hop(&out);
    assert!(
        hop["result"]
            .as_str()
            .unwrap()
            .starts_with("Kerberos not possible"),
        "{hop}"
    );
    assert!(
        cas.seen_by("ex2010").iter().all(|r| r["scheme"].is_null()),
        "no token was sent: {:?}",
        cas.requests()
    );
    // ...and --auth auto falls back to NTLM's messages under Negotiate, saying why.
    let out = run("auto", PASSWORD);
    exited(&out, 0);
    let hop = srv_hop(&out);
    assert_eq!(hop["auth"], "ntlm-in-negotiate", "{hop}");
    assert_eq!(hop["result"], "settings");
    assert!(
        hop["auth_note"]
            .as_str()
            .unwrap()
            .starts_with("Kerberos not used: no Kerberos ticket for HTTP/ex2010.contoso.test"),
        "{hop}"
    );
    assert!(autodiscover_fixture::ntlm_accepted(&cas, "ex2010"));

    // With ann's ticket: Kerberos, checked by the stand-in, mutual authentication
    // verified; no password anywhere.
    krb.kinit("ann@CONTOSO.TEST");
    let out = run("negotiate", "");
    exited(&out, 0);
    let hop = srv_hop(&out);
    assert_eq!(hop["auth"], "kerberos", "{hop}");
    assert_eq!(hop["result"], "settings");
    assert_eq!(hop["auth_note"], "Kerberos mutual authentication verified");
    let accepted: Vec<Value> = cas
        .seen_by("ex2010")
        .into_iter()
        .filter(|r| r["kerberos"] == "accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{:?}", cas.requests());
    assert_eq!(accepted[0]["account"], "ann@CONTOSO.TEST");
    assert_eq!(accepted[0]["ok"], true);
    // --auth auto takes Kerberos too once a ticket is at hand.
    let out = run("auto", PASSWORD);
    exited(&out, 0);
    assert_eq!(srv_hop(&out)["auth"], "kerberos");
    // A server that sends no final token: its answer is taken (TLS vouches for it), and
    // the hop says that Kerberos did not prove the server.
    let out = run_as("bob@contoso.test", "negotiate", "");
    exited(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hop = v["autodiscover"]["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .find(|h| h["source"] == "redirect-url")
        .unwrap_or_else(|| panic!("no redirect-url hop: {v}"));
    assert_eq!(
        (&hop["auth"], &hop["result"]),
        (&json!("kerberos"), &json!("settings"))
    );
    assert_eq!(
        hop["auth_note"],
        "no final Negotiate token: the server did not prove itself by Kerberos"
    );
    assert_eq!(
        cas.seen_by("quiet")
            .iter()
            .filter(|r| r["kerberos"] == "accepted" && r["account"] == "ann@CONTOSO.TEST")
            .count(),
        1
    );
}

/// `--ldap URL`, validated against the test CA, bound as the administrator.
fn signed_in<'a>(url: &'a str, ca: &'a str, pw: &'a str) -> Vec<&'a str> {
    vec![
        "--ldap",
        url,
        "--ldap-ca",
        ca,
        "--user",
        ADMIN,
        "--password-file",
        pw,
    ]
}
