//! `certgpo discover --email`: Outlook's Autodiscover exchange against Exchange
//! stand-ins (tests/autodiscover_fixture/cas.py) that speak POX, check NTLMv2 with
//! impacket and Basic, and log what they saw. The path starts at the SRV record of
//! contoso.test (the DNS candidates on port 443 do not answer here); the KB 2006728
//! scenario through the directory's SCP is in tests/discover.rs.

mod autodiscover_fixture;
mod common;
mod discover_fixture;

use std::process::Output;

use autodiscover_fixture::{
    Cas, Pki, ann, autodiscover_url, build_thumbprints, discover_email, exited, have_tools,
    kb_servers, ntlm_accepted, server, settings, start, start_at,
};
use serde_json::{Value, json};
use tempfile::TempDir;

const PASSWORD: &str = "Passw0rd!";

/// The common topology: ex2007 (enterprise certificate, NTLM and Basic) answers
/// `ann`'s mailbox as `first`; ex2010 (self-signed, TLS 1.0 only) has the settings;
/// oab/ecp/owa are service hosts with enterprise certificates.
struct World {
    tmp: TempDir,
    pki: Pki,
    cas: Cas,
    ex2010_sha1: String,
    ports: Ports,
}

#[derive(Clone, Copy)]
struct Ports {
    ex2007: u16,
    ex2010: u16,
    other: u16,
}

fn world(first: impl FnOnce(&Ports) -> Value, extra: Vec<Value>) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let ports = Ports {
        ex2007: common::free_port(),
        ex2010: common::free_port(),
        other: common::free_port(),
    };
    let fabrikam = pki.issue("ex.fabrikam.test");
    let users = json!({ "CONTOSO\\ann": PASSWORD, "ann@contoso.test": PASSWORD });
    let (mut servers, ex2010_sha1) = kb_servers(
        &pki,
        (ports.ex2007, ports.ex2010),
        &users,
        Some(first(&ports)),
        &[],
    );
    servers.extend([
        // A server of another domain, with a certificate from the same root.
        server(
            "fabrikam",
            ports.other,
            Some(&fabrikam),
            json!({ "auth": ["ntlm"], "users": users,
                    "mailboxes": { "ann@contoso.test": {
                        "settings": settings(("ex.fabrikam.test", ports.other), &[]) } } }),
        ),
    ]);
    servers.extend(extra);
    let cas = start(
        tmp.path(),
        &[
            "ex2007.contoso.test",
            "ex2010.contoso.test",
            "ex.fabrikam.test",
        ],
        &[("contoso.test", "ex2007.contoso.test", ports.ex2007)],
        servers,
    );
    World {
        tmp,
        pki,
        cas,
        ex2010_sha1,
        ports,
    }
}

impl World {
    fn discover(&self, extra: &[&str]) -> Output {
        self.discover_as("CONTOSO\\ann", extra)
    }

    fn discover_as(&self, user: &str, extra: &[&str]) -> Output {
        self.discover_with(user, PASSWORD, extra)
    }

    fn discover_with(&self, user: &str, password: &str, extra: &[&str]) -> Output {
        let args = ann(&self.cas.dns, &self.pki.root, user);
        let mut all: Vec<&str> = vec!["--domain", "contoso.test"];
        all.extend(args.iter().map(String::as_str));
        all.extend(extra);
        discover_email(&all, password)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// The hops that POSTed: (source, result).
fn posts(v: &Value) -> Vec<(String, String)> {
    v["autodiscover"]["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["method"] == "POST" && h["status"].is_u64())
        .map(|h| {
            (
                h["source"].as_str().unwrap().to_string(),
                h["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn host<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["autodiscover"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {v}"))
}

fn redirect_to_2010(p: &Ports) -> Value {
    json!({ "redirectUrl": autodiscover_url("ex2010.contoso.test", p.ex2010) })
}

#[test]
fn ntlm_through_a_tls10_cas_with_a_pinned_certificate() {
    if !have_tools() {
        return;
    }
    let w = world(redirect_to_2010, vec![]);
    let out = w.discover(&["--expect", &w.ex2010_sha1, "--json"]);
    if cfg!(not(feature = "legacy-tls")) {
        // Without OpenSSL: the 2010 CAS's certificate is captured, and the reason given.
        let err = exited(&out, 2);
        assert!(
            err.contains("built without the `legacy-tls` feature")
                && err.contains("hint: build certgpo with the default `legacy-tls` feature"),
            "{err}"
        );
        let v = json_of(&out);
        let ex2010 = host(&v, "ex2010.contoso.test");
        assert_eq!(ex2010["certificate"]["thumbprint"], w.ex2010_sha1.as_str());
        assert_eq!(ex2010["verdict"]["fixable_by_trust"], true);
        assert!(w.cas.seen_by("ex2010").is_empty());
        return;
    }
    exited(&out, 0);
    let v = json_of(&out);
    assert_eq!(
        posts(&v),
        [
            ("srv".to_string(), "redirectUrl".to_string()),
            ("redirect-url".to_string(), "settings".to_string())
        ]
    );
    let hops = v["autodiscover"]["hops"].as_array().unwrap();
    let last = hops.last().unwrap();
    assert_eq!(last["protocol"], "TLS 1.0", "{last}");
    assert_eq!(last["auth"], "ntlm-in-negotiate");
    // impacket checked the NTLMv2 proof on both servers: under NTLM on the 2007 CAS,
    // under Negotiate (the only scheme it offers) on the 2010 CAS.
    for (name, scheme) in [("ex2007", "NTLM"), ("ex2010", "Negotiate")] {
        let seen = w.cas.seen_by(name);
        assert!(
            seen.iter().any(|r| r["ntlm"] == "authenticate"
                && r["scheme"] == scheme
                && r["ok"] == true
                && r["account"] == "CONTOSO\\ann"),
            "{name}: {seen:?}"
        );
    }
    let kinds: Vec<&str> = v["autodiscover"]["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["EXCH", "EXPR", "WEB"]);
    let ex2010 = host(&v, "ex2010.contoso.test");
    assert_eq!(ex2010["certificate"]["thumbprint"], w.ex2010_sha1.as_str());
    assert_eq!(ex2010["verdict"]["fixable_by_trust"], true);
    assert_eq!(
        ex2010["verdict"]["problems"][0]["distribute"]["thumbprint"],
        w.ex2010_sha1.as_str()
    );
    let from: Vec<&str> = ex2010["from"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        from.contains(&"hop 5 (redirect-url)") && from.contains(&"EXCH EwsUrl"),
        "{from:?}"
    );
    assert_eq!(host(&v, "ex2007.contoso.test")["verdict"]["trusted"], true);
    // Outlook Anywhere's host is listed though nothing answers on its port 443 here.
    assert!(host(&v, "mail.contoso.test")["error"].is_string());

    // The human report says the same.
    let out = w.discover(&["--expect", &w.ex2010_sha1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "Windows: untrusted root: distribute {} (ex2010.contoso.test); fixable by distributing the root",
            w.ex2010_sha1
        )),
        "{text}"
    );
    assert!(text.contains("Windows: trusted"), "{text}");
}

#[test]
fn an_untrusted_certificate_gets_no_credentials_and_build_takes_it() {
    if !have_tools() {
        return;
    }
    let w = world(redirect_to_2010, vec![]);
    let out = w.discover(&["--json"]);
    exited(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: ex2010.contoso.test: its certificate {} is not trusted (untrusted root: distribute {} (ex2010.contoso.test); fixable by distributing the root); certgpo sent it no credentials",
            w.ex2010_sha1, w.ex2010_sha1
        )),
        "{err}"
    );
    assert!(err.contains(&format!("hint: this is the Security Alert Outlook shows. To go on for this run only: --expect {}", w.ex2010_sha1)), "{err}");
    // The server saw a TLS handshake and nothing else: no request, no credential.
    assert_eq!(w.cas.seen_by("ex2010"), Vec::<Value>::new());
    let v = json_of(&out);
    assert!(v["autodiscover"]["stopped"].is_string());
    assert_eq!(
        host(&v, "ex2010.contoso.test")["verdict"]["fixable_by_trust"],
        true
    );

    // build --discover on that report: exactly the certificate to distribute.
    assert_eq!(
        build_thumbprints(w.tmp.path(), &out.stdout, &w.ex2010_sha1),
        [w.ex2010_sha1.as_str()]
    );
}

#[test]
fn a_wrong_password_is_refused_with_ntlm_and_basic() {
    if !have_tools() {
        return;
    }
    let w = world(redirect_to_2010, vec![]);
    let base = |auth: &str, user: &str| w.discover_with(user, "wrong", &["--auth", auth]);
    let out = base("ntlm", "CONTOSO\\ann");
    assert_eq!(out.status.code(), Some(2));
    let url = autodiscover_url("ex2007.contoso.test", w.ports.ex2007);
    assert!(
        stderr(&out).contains(&format!(
            "error: {url} refused the NTLM credentials of CONTOSO\\ann (HTTP 401)\nhint: check --mail-user"
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        w.cas
            .seen_by("ex2007")
            .iter()
            .any(|r| r["ntlm"] == "authenticate" && r["ok"] == false)
    );
    let out = base("basic", "ann@contoso.test");
    assert!(
        stderr(&out).contains("refused the Basic credentials of ann@contoso.test"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_password_and_no_common_scheme_stop_with_a_hint() {
    if !have_tools() {
        return;
    }
    let w = world(redirect_to_2010, vec![]);
    let url = autodiscover_url("ex2007.contoso.test", w.ports.ex2007);
    // No password anywhere and no terminal: the 401 ends it, nothing was sent but the
    // anonymous request.
    let err = exited(&w.discover_with("CONTOSO\\ann", "", &[]), 2);
    assert!(
        err.contains(&format!(
            "error: {url} asks for credentials (HTTP 401) and none were given\nhint: give the mailbox's password"
        )),
        "{err}"
    );
    assert!(
        w.cas
            .seen_by("ex2007")
            .iter()
            .all(|r| r["authorization"].is_null())
    );
    // Basic only, where the 2010 CAS offers Negotiate and NTLM.
    let err = exited(
        &w.discover(&["--auth", "basic", "--expect", &w.ex2010_sha1]),
        2,
    );
    let url = autodiscover_url("ex2010.contoso.test", w.ports.ex2010);
    assert!(
        err.contains(&format!(
            "error: {url} offers no authentication certgpo speaks (negotiate)"
        )),
        "{err}"
    );
}

#[test]
fn basic_over_tls_with_a_upn() {
    if !have_tools() {
        return;
    }
    // ex2007 answers with the settings itself; Basic with the UPN.
    let w = world(
        |p| json!({ "settings": settings(("ex2007.contoso.test", p.ex2007), &[]) }),
        vec![],
    );
    let out = w.discover_as("ann@contoso.test", &["--auth", "basic", "--json"]);
    exited(&out, 0);
    assert_eq!(posts(&json_of(&out)), [("srv".into(), "settings".into())]);
    assert!(
        w.cas
            .seen_by("ex2007")
            .iter()
            .any(|r| r["authorization"] == "Basic" && r["ok"] == true)
    );
}

#[test]
fn redirect_loops_plain_http_and_other_domains_are_refused() {
    if !have_tools() {
        return;
    }
    // A loop: ex2007 sends ann back to itself.
    let w = world(
        |p| json!({ "redirectUrl": autodiscover_url("ex2007.contoso.test", p.ex2007) }),
        vec![],
    );
    let err = exited(&w.discover(&[]), 2);
    let url = autodiscover_url("ex2007.contoso.test", w.ports.ex2007);
    assert!(
        err.contains(&format!(
            "error: redirect loop: {url} was already asked for ann@contoso.test"
        )),
        "{err}"
    );

    // A new URL at every hop: Outlook's limit of 10 redirects.
    let w = world(
        |p| json!({ "redirectForever": autodiscover_url("ex2007.contoso.test", p.ex2007) }),
        vec![],
    );
    let out = w.discover(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error: more than 10 redirects; Outlook gives up there too"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        w.cas
            .seen_by("ex2007")
            .iter()
            .filter(|r| r["asked"].is_string())
            .count(),
        11
    );

    // Plain HTTP: refused, and the target never contacted.
    let w = world(
        |p| json!({ "redirectUrl": format!("http://ex2010.contoso.test:{}/Autodiscover/Autodiscover.xml", p.ex2010) }),
        vec![],
    );
    let out = w.discover(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("which is not HTTPS; certgpo never sends credentials over plain HTTP"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.cas.seen_by("ex2010"), Vec::<Value>::new());

    // Another domain: refused, the server not even contacted; allowed, it answers.
    let w = world(
        |p| json!({ "redirectUrl": autodiscover_url("ex.fabrikam.test", p.other) }),
        vec![],
    );
    let out = w.discover(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("ex.fabrikam.test is outside contoso.test; certgpo sent it no credentials")
            && err.contains("hint: if ex.fabrikam.test is yours, allow its domain for this run: --allow-domain fabrikam.test"),
        "{err}"
    );
    assert_eq!(w.cas.seen_by("fabrikam"), Vec::<Value>::new());
    let out = w.discover(&["--allow-domain", "fabrikam.test", "--json"]);
    exited(&out, 0);
    assert_eq!(
        posts(&json_of(&out)),
        [
            ("srv".to_string(), "redirectUrl".to_string()),
            ("redirect-url".to_string(), "settings".to_string())
        ]
    );
    assert!(ntlm_accepted(&w.cas, "fabrikam"));
}

#[test]
fn redirect_addr_starts_over_with_the_new_address() {
    if !have_tools() {
        return;
    }
    let w = world(
        |_| json!({ "redirectAddr": "ann.new@contoso.test" }),
        vec![],
    );
    // ex2007 has no mailbox ann.new: the SRV target, asked again for the new address,
    // answers "not found", and nothing else answers.
    let out = w.discover(&["--json"]);
    exited(&out, 2);
    assert!(
        stderr(&out).contains("error: no Autodiscover endpoint answered for ann.new@contoso.test"),
        "{}",
        stderr(&out)
    );
    let asked: Vec<String> = w
        .cas
        .seen_by("ex2007")
        .iter()
        .filter_map(|r| r["asked"].as_str().map(str::to_string))
        .collect();
    assert_eq!(asked, ["ann@contoso.test", "ann.new@contoso.test"]);
}

/// The HTTP redirect method, in its place in Outlook's order: after the two DNS URLs
/// fail, an unauthenticated GET on http://autodiscover.contoso.test/ (port 80, so root,
/// on an address of its own) answers 302; the HTTPS target is shown, then asked. A 302
/// to plain HTTP is shown and not followed.
#[test]
fn the_http_redirect_method_is_shown_then_followed_to_https_only() {
    if !have_tools() || !common::require_root("the HTTP redirect method needs port 80") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let ex2007 = pki.issue("ex2007.contoso.test");
    let port = common::free_port();
    // A loopback address no other test uses, so port 80 is free there.
    let pid = std::process::id();
    let ip: std::net::IpAddr = format!("127.80.{}.{}", (pid >> 8) & 0xff, (pid & 0xfe) + 1)
        .parse()
        .unwrap();
    let target = autodiscover_url("ex2007.contoso.test", port);
    let run = |redirect: &str| {
        let dir = tempfile::tempdir().unwrap();
        let cas = start_at(
            dir.path(),
            &[
                ("ex2007.contoso.test", "127.0.0.1".parse().unwrap()),
                ("autodiscover.contoso.test", ip),
            ],
            &[],
            vec![
                server(
                    "ex2007",
                    port,
                    Some(&ex2007),
                    json!({ "auth": ["ntlm"], "users": { "CONTOSO\\ann": PASSWORD },
                            "mailboxes": { "ann@contoso.test": {
                                "settings": settings(("ex2007.contoso.test", port), &[]) } } }),
                ),
                server(
                    "redirector",
                    80,
                    None,
                    json!({ "host": ip.to_string(), "http_redirect": redirect }),
                ),
            ],
        );
        let args = ann(&cas.dns, &pki.root, "CONTOSO\\ann");
        let mut all: Vec<&str> = vec!["--domain", "contoso.test", "--json"];
        all.extend(args.iter().map(String::as_str));
        let out = discover_email(&all, PASSWORD);
        let seen = cas.seen_by("redirector");
        (out, seen, dir)
    };
    let (out, seen, _dir) = run(&target);
    exited(&out, 0);
    assert_eq!(seen.len(), 1);
    assert!(seen[0]["authorization"].is_null(), "{seen:?}");
    let v = json_of(&out);
    let hops = v["autodiscover"]["hops"].as_array().unwrap();
    let sources: Vec<&str> = hops.iter().map(|h| h["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        [
            "dns-root",
            "dns-autodiscover",
            "http-redirect",
            "http-redirect-target"
        ]
    );
    assert_eq!(hops[2]["method"], "GET");
    assert_eq!(hops[2]["status"], 302);
    assert_eq!(hops[2]["redirect"], target.as_str());
    assert_eq!(hops[3]["result"], "settings");
    let err = stderr(&out);
    let shown = err.find(&format!("hop 3: GET http://autodiscover.contoso.test/autodiscover/autodiscover.xml -> redirect: followed to HTTPS, as Outlook does once the user allows it {target}"));
    let asked = err.find("hop 4: POST");
    assert!(shown.is_some() && shown < asked, "{err}");

    // To plain HTTP: shown, not followed; nothing else answers.
    let plain = target.replace("https://", "http://");
    let (out, _, _dir) = run(&plain);
    exited(&out, 2);
    let v = json_of(&out);
    let hop = &v["autodiscover"]["hops"][2];
    assert_eq!(hop["result"], "redirect to plain HTTP: not followed");
    assert_eq!(hop["redirect"], plain.as_str());
}

/// Without the `kerberos` feature, `--auth negotiate` is refused before anything is
/// asked or contacted, with how to rebuild.
#[cfg(not(feature = "kerberos"))]
#[test]
fn auth_negotiate_needs_the_kerberos_feature() {
    let out = common::certgpo()
        .args(["discover", "--domain", "contoso.test", "--no-dns"])
        .args(["--email", "ann@contoso.test", "--auth", "negotiate"])
        .env("CERTGPO_MAIL_PASSWORD", PASSWORD)
        .output()
        .expect("certgpo runs");
    let err = exited(&out, 2);
    assert_eq!(
        err,
        "error: --auth negotiate: this certgpo was built without the `kerberos` feature\n\
         hint: rebuild with --features kerberos (needs libkrb5-dev, libclang-dev), or --auth auto/ntlm/basic\n"
    );
    assert!(out.stdout.is_empty());
}
