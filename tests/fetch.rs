//! End-to-end tests of `certgpo fetch` against real servers on loopback: openssl
//! s_server (TLS 1.0, 1.1, 1.2 RSA-kex, 1.3, ECDSA, chains, SNI), postfix (SMTP
//! STARTTLS), dovecot (IMAP/POP3 STARTTLS), stunnel (TLS 1.0 implicit TLS), and
//! hostile servers written here. Every server gets a random free port, runs under
//! `timeout` so it cannot outlive the test by long, and is stopped on drop. Every
//! thumbprint we report is checked against `openssl x509 -fingerprint -sha1`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Key, free_port, s_server, serve, wait_for_port};
use serde_json::Value;

/// Test certificates, made with openssl in a temp dir (docs/spec/fetching.md §5.1).
struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        Fx {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Self-signed RSA certificate `<name>.pem` / `<name>.key`.
    fn selfsigned(&self, name: &str, cn: &str, sans: &str) -> (String, String) {
        let c = common::selfsigned(self.dir.path(), name, Key::Rsa2048, cn, Some(sans));
        (c.cert_str(), c.key_str())
    }

    /// A root CA and a leaf `mail.contoso.com` it issued: (ca.pem, leaf.pem, leaf.key).
    fn ca_and_leaf(&self) -> (String, String, String) {
        let d = self.dir.path();
        let ca = common::root_ca(d, "ca", Key::Rsa2048, "Contoso Test Root CA");
        let leaf = common::server_cert(
            d,
            &ca,
            "leaf",
            Key::Rsa2048,
            "mail.contoso.com",
            "DNS:mail.contoso.com,DNS:autodiscover.contoso.com",
        );
        (ca.cert_str(), leaf.cert_str(), leaf.key_str())
    }

    fn ecdsa(&self) -> (String, String) {
        let c = common::selfsigned(self.dir.path(), "ec", Key::P256, "ecdsa.contoso.test", None);
        (c.cert_str(), c.key_str())
    }
}

struct Run {
    code: i32,
    json: Value,
    stderr: String,
    elapsed: Duration,
}

fn fetch_json(args: &[&str]) -> Run {
    let t0 = Instant::now();
    let out = common::certgpo()
        .arg("fetch")
        .args(args)
        .arg("--json")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run certgpo");
    let elapsed = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON: {e}\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Run {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
        elapsed,
    }
}

/// Fetch one target that must succeed; returns its JSON object.
fn fetch_ok(args: &[&str]) -> Value {
    let run = fetch_json(args);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    run.json[0].clone()
}

fn chain_sha1(t: &Value) -> Vec<String> {
    t["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|c| c["sha1"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn tools() -> bool {
    common::require("openssl", &["version"]) && common::require("timeout", &["--version"])
}

/// Fetch from an `s_server` holding one self-signed certificate for `host`, started with
/// `flags`; returns the target's JSON and openssl's SHA-1 of that certificate.
fn fetch_single(host: &str, flags: &[&str]) -> (Value, String) {
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", host, &format!("DNS:{host}"));
    let mut args = vec!["-cert", cert.as_str(), "-key", key.as_str()];
    args.extend_from_slice(flags);
    let (_s, port) = s_server(&args);
    let t = fetch_ok(&[&format!("127.0.0.1:{port}")]);
    (t, common::openssl_sha1(&cert))
}

#[test]
fn tls10_only_server() {
    if !tools() {
        return;
    }
    let (t, sha1) = fetch_single(
        "exch2010.contoso.local",
        &["-tls1", "-cipher", "ALL:@SECLEVEL=0"],
    );
    assert_eq!(t["protocol"], "TLS 1.0");
    assert_eq!(t["engine"], "raw");
    assert_eq!(chain_sha1(&t), vec![sha1]);
    assert_eq!(t["chain"][0]["self_signed"], true);
}

#[test]
fn tls11_only_server() {
    if !tools() {
        return;
    }
    let (t, sha1) = fetch_single(
        "exch2010.contoso.local",
        &["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
    );
    assert_eq!(t["protocol"], "TLS 1.1");
    assert_eq!(chain_sha1(&t), vec![sha1]);
}

#[test]
fn tls12_rsa_key_exchange_cbc_only_server() {
    if !tools() {
        return;
    }
    let (t, sha1) = fetch_single(
        "exch2010.contoso.local",
        &["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],
    );
    assert_eq!(t["protocol"], "TLS 1.2");
    assert_eq!(t["cipher"], "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(chain_sha1(&t), vec![sha1]);
}

#[test]
fn tls13_only_server_falls_back_to_rustls() {
    if !tools() {
        return;
    }
    let (t, sha1) = fetch_single("exch2019.contoso.local", &["-tls1_3"]);
    assert_eq!(t["protocol"], "TLS 1.3");
    assert_eq!(t["engine"], "rustls");
    assert_eq!(chain_sha1(&t), vec![sha1]);
}

#[test]
fn ecdsa_server() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.ecdsa();
    let (_s, port) = s_server(&["-cert", &cert, "-key", &key, "-tls1_2"]);
    let t = fetch_ok(&[&format!("127.0.0.1:{port}")]);
    assert_eq!(t["chain"][0]["key_algorithm"], "ECDSA P-256");
    assert_eq!(chain_sha1(&t), vec![common::openssl_sha1(&cert)]);
}

#[test]
fn two_certificate_chain_with_names_that_match() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (ca, leaf, key) = fx.ca_and_leaf();
    let (_s, port) = s_server(&["-cert", &leaf, "-key", &key, "-cert_chain", &ca]);
    let t = fetch_ok(&[&format!("127.0.0.1:{port}"), "--sni", "mail.contoso.com"]);
    assert_eq!(
        chain_sha1(&t),
        vec![common::openssl_sha1(&leaf), common::openssl_sha1(&ca)]
    );
    assert_eq!(t["sni"], "mail.contoso.com");
    // The leaf covers mail and autodiscover, and is CA-issued: no fetch finding.
    assert_eq!(t["findings"], serde_json::json!([]), "{t}");
}

#[test]
fn twenty_one_certificate_chain_over_16k() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (ca, leaf, key) = fx.ca_and_leaf();
    let ca_pem = std::fs::read_to_string(&ca).expect("ca.pem");
    let big = fx.dir.path().join("bigchain.pem");
    std::fs::write(&big, ca_pem.repeat(20)).expect("bigchain");
    let big = big.display().to_string();
    let (_s, port) = s_server(&["-cert", &leaf, "-key", &key, "-cert_chain", &big]);
    let t = fetch_ok(&[&format!("127.0.0.1:{port}")]);
    let chain = chain_sha1(&t);
    assert_eq!(chain.len(), 21);
    assert_eq!(chain[0], common::openssl_sha1(&leaf));
    assert!(chain[1..].iter().all(|c| *c == common::openssl_sha1(&ca)));
}

#[test]
fn sni_chooses_between_two_certificates() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (_ca, leaf, leaf_key) = fx.ca_and_leaf();
    let (_s, port) = s_server(&[
        "-cert",
        &cert,
        "-key",
        &key,
        "-servername",
        "mail.contoso.com",
        "-cert2",
        &leaf,
        "-key2",
        &leaf_key,
    ]);
    let target = format!("127.0.0.1:{port}");
    let none = fetch_ok(&[&target]);
    assert_eq!(chain_sha1(&none)[0], common::openssl_sha1(&cert));
    let named = fetch_ok(&[&target, "--sni", "mail.contoso.com"]);
    assert_eq!(chain_sha1(&named)[0], common::openssl_sha1(&leaf));
}

#[test]
fn findings_name_mismatch_and_autodiscover() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "EXCH2010", "DNS:exch2010.contoso.local");
    let (_s, port) = s_server(&["-cert", &cert, "-key", &key]);
    let out = common::certgpo()
        .args([
            "fetch",
            &format!("127.0.0.1:{port}"),
            "--sni",
            "mail.contoso.com",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&common::openssl_sha1(&cert)), "{text}");
    assert!(text.contains("self-signed"), "{text}");
    assert!(text.contains("does not cover mail.contoso.com"), "{text}");
    assert!(text.contains("trusting the root will NOT cure"), "{text}");
    assert!(
        text.contains("autodiscover.contoso.com is not in the subject alternative names"),
        "{text}"
    );
}

#[test]
fn postfix_smtp_and_submission_starttls() {
    if !tools() || !common::require("postconf", &["-h", "mail_version"]) {
        return;
    }
    if !common::require_root("postfix needs root to start") {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (smtp, submission) = (free_port(), free_port());
    let dir = fx.dir.path().join("postfix");
    for sub in ["etc", "spool", "data"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let d = dir.display().to_string();
    let main_cf = format!(
        "compatibility_level = 3.6\nqueue_directory = {d}/spool\ndata_directory = {d}/data\n\
         myhostname = exch2010.contoso.local\nmydestination =\ninet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\nalias_maps =\nalias_database =\n\
         smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\nsmtpd_tls_security_level = may\n\
         smtpd_tls_protocols = >=TLSv1\nsmtpd_tls_mandatory_protocols = >=TLSv1\n\
         tls_medium_cipherlist = DEFAULT:@SECLEVEL=0\n\
         maillog_file = {d}/postfix.log\nmaillog_file_prefixes = /var,/dev/stdout,/tmp,{d}\n"
    );
    std::fs::write(dir.join("etc/main.cf"), main_cf).expect("main.cf");
    // The system master.cf gives every internal service; only the listeners change.
    let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("/etc/postfix/master.cf");
    let mut out = String::new();
    for line in master.lines() {
        if line.starts_with("smtp ") && line.contains(" inet ") {
            out.push_str(&format!("127.0.0.1:{smtp} inet n - n - - smtpd\n"));
        } else if line.starts_with("#submission ") {
            out.push_str(&format!("127.0.0.1:{submission} inet n - n - - smtpd\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(dir.join("etc/master.cf"), out).expect("master.cf");
    let _ = Command::new("chown")
        .args(["postfix:postfix", &format!("{d}/data")])
        .output();
    let etc = format!("{d}/etc");
    let _server = serve(
        &["postfix", "-c", &etc, "start-fg"],
        smtp,
        Some(vec![
            "postfix".into(),
            "-c".into(),
            etc.clone(),
            "stop".into(),
        ]),
    );
    wait_for_port(submission);
    let run = fetch_json(&[
        &format!("smtp://127.0.0.1:{smtp}"),
        &format!("submission://127.0.0.1:{submission}"),
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    for t in run.json.as_array().expect("array") {
        assert_eq!(t["starttls"], "smtp");
        assert_eq!(chain_sha1(t), vec![common::openssl_sha1(&cert)]);
    }
}

#[test]
fn dovecot_imap_and_pop3_starttls() {
    if !tools() || !common::require("dovecot", &["--version"]) {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (imap, pop3) = (free_port(), free_port());
    let dir = fx.dir.path().join("dovecot");
    for sub in ["run", "state", "mail"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let conf = include_str!("fixtures/dovecot.conf")
        .replace("@DIR@", &dir.display().to_string())
        .replace("@CERT@", &cert)
        .replace("@KEY@", &key)
        .replace("@IMAP_PORT@", &imap.to_string())
        .replace("@POP3_PORT@", &pop3.to_string());
    let conf_path = dir.join("dovecot.conf");
    std::fs::write(&conf_path, conf).expect("dovecot.conf");
    let _server = serve(
        &["dovecot", "-F", "-c", &conf_path.display().to_string()],
        imap,
        None,
    );
    wait_for_port(pop3);
    let run = fetch_json(&[
        &format!("imap://127.0.0.1:{imap}"),
        &format!("pop3://127.0.0.1:{pop3}"),
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.json, run.stderr);
    assert_eq!(run.json[0]["starttls"], "imap");
    assert_eq!(run.json[1]["starttls"], "pop3");
    for t in run.json.as_array().expect("array") {
        assert_eq!(chain_sha1(t), vec![common::openssl_sha1(&cert)]);
    }
}

#[test]
fn stunnel_tls10_only_implicit_tls() {
    if !tools() || !common::require("stunnel4", &["-version"]) {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let port = free_port();
    let backend = free_port();
    let conf = fx.dir.path().join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\noutput = {}\n[exch-tls10]\naccept = 127.0.0.1:{port}\n\
             connect = 127.0.0.1:{backend}\ncert = {cert}\nkey = {key}\nsslVersionMin = TLSv1\n\
             sslVersionMax = TLSv1\nsecurityLevel = 0\nciphers = DEFAULT:@SECLEVEL=0\n",
            fx.path("stunnel.log")
        ),
    )
    .expect("stunnel.conf");
    let _server = serve(&["stunnel4", &conf.display().to_string()], port, None);
    let t = fetch_ok(&[&format!("smtps://127.0.0.1:{port}")]);
    assert_eq!(t["protocol"], "TLS 1.0");
    assert_eq!(chain_sha1(&t), vec![common::openssl_sha1(&cert)]);
}

/// A hostile server: answers each of up to 8 connections with `reply`.
fn hostile(reply: fn(&mut TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        for conn in listener.incoming().take(8) {
            let Ok(mut c) = conn else { continue };
            thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut hello = [0u8; 4096];
                let _ = c.read(&mut hello);
                reply(&mut c);
            });
        }
    });
    port
}

fn record(ct: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

fn server_hello() -> Vec<u8> {
    let mut b = vec![2, 0, 0, 38, 3, 3];
    b.extend_from_slice(&[7; 32]);
    b.extend_from_slice(&[0, 0x00, 0x2f, 0]);
    b
}

/// Handshake bytes split into records of at most 16 KiB.
fn records(hs: &[u8]) -> Vec<u8> {
    hs.chunks(16384).flat_map(|c| record(22, c)).collect()
}

fn certificate_msg(certs: usize, size: usize) -> Vec<u8> {
    let mut list = Vec::new();
    for _ in 0..certs {
        list.extend_from_slice(&(size as u32).to_be_bytes()[1..]);
        list.extend(std::iter::repeat_n(0x30u8, size));
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    let mut m = vec![11];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

#[test]
fn hostile_servers_fail_with_one_line_each_within_the_timeout() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "good.contoso.local", "DNS:good.contoso.local");
    let (_good, good) = s_server(&["-cert", &cert, "-key", &key]);
    let cases: Vec<(u16, &str)> = vec![
        (
            hostile(|c| {
                let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }),
            "is not TLS; it began with \"HTTP/1.1 400",
        ),
        (
            hostile(|c| {
                let _ = c.write_all(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x13, 0x37].repeat(64));
            }),
            "is not TLS",
        ),
        (
            hostile(|c| {
                // A banner and then silence: still "not TLS", not a timeout.
                let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
                thread::sleep(Duration::from_secs(8));
            }),
            "is not TLS; it began with \"SSH-2.0",
        ),
        (
            hostile(|_| thread::sleep(Duration::from_secs(8))),
            "timed out after 3s while waiting for the server's certificate",
        ),
        (
            hostile(|c| {
                // Unknown handshake messages forever (garbage.py's "endless").
                let mut r = vec![0x16, 3, 3, 0x40, 0x00, 0x17, 0x00, 0x3f, 0xfc];
                r.resize(5 + 0x4000, 0);
                while c.write_all(&r).is_ok() {}
            }),
            "expected ServerHello, got handshake message type 23",
        ),
        (
            hostile(|c| {
                // A ServerHello, then a Certificate message that never ends.
                let mut hs = server_hello();
                hs.extend_from_slice(&[11, 0x03, 0xff, 0x00]);
                let _ = c.write_all(&records(&hs));
                let filler = record(22, &[0u8; 16384]);
                while c.write_all(&filler).is_ok() {}
            }),
            "exceeded 262144 bytes",
        ),
        (
            hostile(|c| {
                let mut r = vec![0x16, 3, 3, 0xff, 0xff];
                r.resize(5 + 65535, 0x42);
                let _ = c.write_all(&r);
            }),
            "65535-byte TLS record",
        ),
        (
            hostile(|c| {
                // 40 certificates of 1 KiB: over 16 KiB and over the chain cap.
                let mut hs = server_hello();
                hs.extend(certificate_msg(40, 1024));
                let _ = c.write_all(&records(&hs));
            }),
            "sent 40 certificates; the limit is 32",
        ),
        (
            hostile(|c| {
                // 24 certificates of 1 KiB that are not X.509 (over 16 KiB, two records).
                let mut hs = server_hello();
                hs.extend(certificate_msg(24, 1024));
                let _ = c.write_all(&records(&hs));
            }),
            "certificate #1 of the chain is not valid X.509",
        ),
        (
            hostile(|c| {
                let mut hs = server_hello();
                hs.extend(certificate_msg(2, 3000));
                let all = records(&hs);
                let _ = c.write_all(&all[..all.len() / 2]);
            }),
            "closed the connection after",
        ),
    ];
    let mut args: Vec<String> = cases
        .iter()
        .map(|(p, _)| format!("127.0.0.1:{p}"))
        .collect();
    args.push(format!("127.0.0.1:{good}"));
    // 3 s leaves the good server time to answer on a loaded machine; the silent
    // servers sleep 8 s, so a run that ends before 7 s was cut by --timeout.
    args.extend(["--timeout".into(), "3s".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = fetch_json(&argv);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.elapsed < Duration::from_secs(7),
        "took {:?}",
        run.elapsed
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    for (port, expected) in &cases {
        let target = format!("127.0.0.1:{port}");
        let mine: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains(&format!("{target}:")))
            .collect();
        assert_eq!(mine.len(), 1, "one line for {target}: {}", run.stderr);
        assert!(
            mine[0].starts_with(&format!("error: {target}: ")),
            "{}",
            mine[0]
        );
        assert!(
            mine[0].contains(expected),
            "{target}: expected {expected:?} in {}",
            mine[0]
        );
    }
    // The one good server among them still answered.
    let good_json = &run.json[cases.len()];
    assert_eq!(good_json["ok"], true);
    assert_eq!(chain_sha1(good_json), vec![common::openssl_sha1(&cert)]);
}

#[test]
fn out_writes_pem_and_der_and_expect_mismatch_writes_nothing() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (ca, leaf, key) = fx.ca_and_leaf();
    let (_s, port) = s_server(&["-cert", &leaf, "-key", &key, "-cert_chain", &ca]);
    let target = format!("https://127.0.0.1:{port}/Autodiscover/Autodiscover.xml");
    let leaf_sha1 = common::openssl_sha1(&leaf);

    // Wrong pin: exit 3, nothing written.
    let out_dir = fx.dir.path().join("out-mismatch");
    let wrong = "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33";
    let out = common::certgpo()
        .args([
            "fetch",
            &target,
            "--expect",
            wrong,
            "--out",
            &out_dir.display().to_string(),
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&leaf_sha1));
    assert!(
        !out_dir.exists(),
        "nothing may be written on a pin mismatch"
    );

    // The right pin, typed the way people copy it (lower case, spaced pairs).
    let spaced: Vec<String> = leaf_sha1
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let out_dir: PathBuf = fx.dir.path().join("out");
    let out = common::certgpo()
        .args([
            "fetch",
            &target,
            "--expect",
            &spaced.join(" "),
            "--out",
            &out_dir.display().to_string(),
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stem = format!("https_127.0.0.1_{port}_{leaf_sha1}");
    let pem = out_dir.join(format!("{stem}.pem"));
    let pem_text = std::fs::read_to_string(&pem).expect("chain PEM written");
    assert_eq!(pem_text.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(common::openssl_sha1(&pem), leaf_sha1);
    let der0 = out_dir.join(format!("{stem}_0.der")).display().to_string();
    let der1 = out_dir.join(format!("{stem}_1.der")).display().to_string();
    assert_eq!(common::openssl_sha1(&der0), leaf_sha1);
    assert_eq!(common::openssl_sha1(&der1), common::openssl_sha1(&ca));
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "no temp files left behind: {names:?}");

    // A SHA-256 pin works too.
    let sha256 = fetch_ok(&[&target])["chain"][0]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    fetch_ok(&[&target, "--expect", &sha256]);
}

#[test]
fn many_targets_bounded_concurrency_and_proxy() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (_s, port) = s_server(&["-cert", &cert, "-key", &key]);
    let target = format!("127.0.0.1:{port}");
    let list = fx.dir.path().join("targets.txt");
    std::fs::write(&list, format!("# CAS servers\n{target}\n\n{target}\n")).expect("targets");
    let mut args = vec![target.as_str(); 10];
    let list_s = list.display().to_string();
    args.extend(["--targets-file", &list_s, "--concurrency", "3"]);
    let run = fetch_json(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json.as_array().map(Vec::len), Some(12));

    // An HTTP CONNECT proxy that remembers what it was asked; HTTPS_PROXY is ignored.
    let proxy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy_port = proxy.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    thread::spawn(move || {
        for conn in proxy.incoming().take(2) {
            let Ok(mut c) = conn else { continue };
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).is_ok_and(|n| n == 1) {
                req.push(b[0]);
            }
            let req = String::from_utf8_lossy(&req).into_owned();
            let dest = req
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            seen2.lock().expect("lock").push(dest.clone());
            let Ok(mut up) = TcpStream::connect(&dest) else {
                continue;
            };
            let _ = c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            let (mut c2, mut up2) = (
                c.try_clone().expect("clone"),
                up.try_clone().expect("clone"),
            );
            thread::spawn(move || std::io::copy(&mut up2, &mut c2));
            let _ = std::io::copy(&mut c, &mut up);
            // s_server serves one client at a time: let it go.
            let _ = up.shutdown(std::net::Shutdown::Both);
        }
    });
    let out = common::certgpo()
        .args([
            "fetch",
            &target,
            "--proxy",
            &format!("http://127.0.0.1:{proxy_port}"),
            "--json",
        ])
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(*seen.lock().expect("lock"), vec![target.clone()]);
    let direct = common::certgpo()
        .args(["fetch", &target])
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("https_proxy", "http://127.0.0.1:9")
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run");
    assert_eq!(
        direct.status.code(),
        Some(0),
        "proxy variables must be ignored: {}",
        String::from_utf8_lossy(&direct.stderr)
    );
}

#[test]
fn bad_targets_and_pins_are_usage_errors() {
    let out = common::certgpo()
        .args(["fetch", "ftp://x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"ftp://x\" is not a valid target"));
    let out = common::certgpo()
        .args(["fetch", "127.0.0.1:1", "--expect", "abcd"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

fn build(args: &[&str]) -> std::process::Output {
    let out = common::certgpo()
        .arg("build")
        .args(args)
        .args([
            "--domain",
            "contoso.local",
            "--timestamp",
            "2024-01-01T00:00:00Z",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run certgpo build");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

#[test]
fn build_fetch_requires_a_pin_and_honours_the_lock() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (a, a_key) = fx.selfsigned("a", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (b, b_key) = fx.selfsigned("b", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (server, port) = s_server(&["-cert", &a, "-key", &a_key]);
    let target = format!("127.0.0.1:{port}");
    let work = fx.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let bundle = work.join("bundle").display().to_string();
    let lock = work.join("certgpo.lock");

    // No pin, not interactive (stdin is not a terminal): refused, nothing written.
    let out = build(&["--fetch", &target, "--out", &bundle]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{target}: no pin")), "{err}");
    assert!(err.contains("Get-ExchangeCertificate"), "{err}");
    assert_eq!(
        std::fs::read_dir(&work).expect("work").count(),
        0,
        "nothing written"
    );

    // A wrong --expect: pin mismatch, nothing written.
    let out = build(&[
        "--fetch",
        &target,
        "--out",
        &bundle,
        "--expect",
        &"AB".repeat(20),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&work).expect("work").count(),
        0,
        "nothing written"
    );

    // The right pin: bundle and lock written, with the certificate openssl saw.
    let a_sha1 = common::openssl_sha1(&a);
    let out = build(&[
        "--fetch", &target, "--out", &bundle, "--expect", &a_sha1, "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("build JSON");
    assert_eq!(summary["certificates"][0]["thumbprint"], a_sha1.as_str());
    assert_eq!(summary["certificates"][0]["store"], "Root");
    let lock_text = std::fs::read_to_string(&lock).expect("lock written");
    assert!(lock_text.contains(&a_sha1), "{lock_text}");

    // The server now presents another certificate: refused against the lock even with
    // --trust-on-first-use, and nothing (bundle or lock) is written.
    drop(server);
    let accept = format!("127.0.0.1:{port}");
    let _server_b = serve(
        &[
            "openssl", "s_server", "-quiet", "-accept", &accept, "-cert", &b, "-key", &b_key,
        ],
        port,
        None,
    );
    let bundle2 = work.join("bundle2").display().to_string();
    let out = build(&[
        "--fetch",
        &target,
        "--out",
        &bundle2,
        "--trust-on-first-use",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("changed since") && err.contains(&a_sha1),
        "{err}"
    );
    assert!(err.contains("--update-pins"), "{err}");
    assert!(!work.join("bundle2").exists());
    assert_eq!(std::fs::read_to_string(&lock).expect("lock"), lock_text);

    // --update-pins alone still needs a pin; with one, the lock moves to the new certificate.
    let out = build(&["--fetch", &target, "--out", &bundle2, "--update-pins"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!work.join("bundle2").exists());
    let b_sha1 = common::openssl_sha1(&b);
    let out = build(&[
        "--fetch",
        &target,
        "--out",
        &bundle2,
        "--update-pins",
        "--expect",
        &b_sha1,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock_text = std::fs::read_to_string(&lock).expect("lock");
    assert!(
        lock_text.contains(&b_sha1) && !lock_text.contains(&a_sha1),
        "{lock_text}"
    );
}

#[test]
fn build_fetch_trusts_the_root_a_server_sends_or_names_the_issuer() {
    if !tools() {
        return;
    }
    let fx = Fx::new();
    let (ca, leaf, key) = fx.ca_and_leaf();
    let (_with_root, port) = s_server(&["-cert", &leaf, "-key", &key, "-cert_chain", &ca]);
    let (_leaf_only, port2) = s_server(&["-cert", &leaf, "-key", &key]);
    let work = fx.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let bundle = work.join("bundle").display().to_string();
    let lock = work.join("pins.json").display().to_string();

    // The admin pins the server certificate (what Get-ExchangeCertificate shows); the
    // chain links it to the root the server sent, and the root is what gets trusted.
    let out = build(&[
        "--fetch",
        &format!("127.0.0.1:{port}"),
        "--sni",
        "mail.contoso.com",
        "--expect",
        &common::openssl_sha1(&leaf),
        "--lock",
        &lock,
        "--out",
        &bundle,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("build JSON");
    assert_eq!(
        summary["certificates"][0]["thumbprint"],
        common::openssl_sha1(&ca).as_str()
    );
    assert!(
        std::fs::read_to_string(&lock)
            .expect("--lock file")
            .contains("sni=mail.contoso.com")
    );

    // Without the root in the chain there is nothing self-signed to trust.
    let bundle2 = work.join("bundle2").display().to_string();
    let out = build(&[
        "--fetch",
        &format!("127.0.0.1:{port2}"),
        "--trust-on-first-use",
        "--out",
        &bundle2,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("issued by CN=Contoso Test Root CA"), "{err}");
    assert!(!work.join("bundle2").exists());
}

#[test]
fn build_fetch_asks_on_a_terminal() {
    if !tools() || !common::require("script", &["--version"]) {
        return;
    }
    let fx = Fx::new();
    let (cert, key) = fx.selfsigned("c", "exch2010.contoso.local", "DNS:exch2010.contoso.local");
    let (_s, port) = s_server(&["-cert", &cert, "-key", &key]);
    let bin = assert_cmd::cargo::cargo_bin("certgpo")
        .display()
        .to_string();
    let work = fx.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    // `script` runs certgpo on a pseudo-terminal and types `answer` into it.
    let ask = |answer: &str, out: &str| {
        let cmd = format!(
            "{bin} build --fetch 127.0.0.1:{port} --out {} --domain contoso.local",
            work.join(out).display()
        );
        let mut child = Command::new("timeout")
            .args(["60", "script", "-qec", &cmd, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script");
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(answer.as_bytes());
        drop(stdin);
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let sha1 = common::openssl_sha1(&cert);

    let (code, screen) = ask("no\n", "declined");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains(&sha1) && screen.contains("SHA-256"),
        "{screen}"
    );
    assert!(screen.contains("Get-ExchangeCertificate"), "{screen}");
    assert!(screen.contains("was not confirmed"), "{screen}");
    assert_eq!(
        std::fs::read_dir(&work).expect("work").count(),
        0,
        "nothing written"
    );

    let (code, screen) = ask("yes\n", "bundle");
    assert_eq!(code, Some(0), "{screen}");
    let lock = std::fs::read_to_string(work.join("certgpo.lock")).expect("lock");
    assert!(
        lock.contains(&sha1) && lock.contains("\"confirmed\""),
        "{lock}"
    );
}
