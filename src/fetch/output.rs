//! What `fetch` shows (text or JSON) and saves (`--out`: PEM and DER per chain).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::finding::{Coded, HasCode};

use super::{Capture, Engine, FetchError, Stage, pinned, target::Starttls};

#[derive(Serialize)]
struct JsonCert<'a> {
    #[serde(flatten)]
    cert: &'a Certificate,
    days_left: i64,
    findings: Vec<Coded>,
}

#[derive(Serialize)]
struct JsonTarget<'a> {
    target: &'a str,
    endpoint: String,
    starttls: Option<Starttls>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine: Option<Engine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pin_matched: Option<bool>,
    findings: Vec<Coded>,
    notes: &'a [String],
    chain: Vec<JsonCert<'a>>,
}

/// Write the JSON report to `w` as it is serialised (thousands of targets never sit in
/// memory as one string).
pub fn json(
    w: &mut dyn std::io::Write,
    results: &[Result<Capture, FetchError>],
    pins: &[Vec<u8>],
    now: OffsetDateTime,
) -> std::io::Result<()> {
    let items: Vec<JsonTarget> = results
        .iter()
        .map(|r| match r {
            Ok(c) => JsonTarget {
                target: &c.target.input,
                endpoint: c.target.canonical(),
                starttls: c.target.starttls,
                ok: true,
                error: None,
                stage: None,
                sni: c.sni.as_deref(),
                engine: Some(c.engine),
                protocol: Some(&c.protocol),
                cipher: Some(&c.cipher),
                pin_matched: (!pins.is_empty()).then(|| pinned(c.leaf(), pins)),
                findings: c.findings().iter().map(HasCode::coded).collect(),
                notes: &c.notes,
                chain: c
                    .chain
                    .iter()
                    .map(|cert| JsonCert {
                        cert,
                        days_left: cert.days_left(now),
                        findings: cert.findings(now).iter().map(HasCode::coded).collect(),
                    })
                    .collect(),
            },
            Err(e) => {
                let (target, stage) = match e {
                    FetchError::Target { target, stage, .. } => (target.as_str(), Some(*stage)),
                    _ => ("", None),
                };
                JsonTarget {
                    target,
                    endpoint: super::Target::parse(target)
                        .map(|t| t.canonical())
                        .unwrap_or_default(),
                    starttls: None,
                    ok: false,
                    error: Some(e.to_string()),
                    stage,
                    sni: None,
                    engine: None,
                    protocol: None,
                    cipher: None,
                    pin_matched: None,
                    findings: Vec::new(),
                    notes: &[],
                    chain: Vec::new(),
                }
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *w, &items)?;
    writeln!(w)
}

pub fn text(results: &[Result<Capture, FetchError>], now: OffsetDateTime) -> String {
    let mut s = String::new();
    for r in results {
        let Ok(c) = r else { continue };
        let via = match c.target.starttls {
            Some(k) => format!(" via STARTTLS ({k:?})"),
            None => String::new(),
        };
        let sni = match &c.sni {
            Some(n) => format!("SNI {n}"),
            None => "no SNI".to_string(),
        };
        let _ = writeln!(
            s,
            "{} ({}{via}, {sni}): {}, {} [{} engine]",
            c.target.input,
            c.target.canonical(),
            c.protocol,
            c.cipher,
            match c.engine {
                Engine::Raw => "raw",
                Engine::Rustls => "rustls",
            }
        );
        for note in &c.notes {
            let _ = writeln!(s, "  note: {note}");
        }
        for (i, cert) in c.chain.iter().enumerate() {
            let role = match (i, cert.self_signed) {
                (0, true) => "server certificate, self-signed",
                (0, false) => "server certificate",
                (_, true) => "self-signed root",
                _ => "intermediate",
            };
            let _ = writeln!(s, "  [{i}] {} ({role})", cert.subject);
            let _ = writeln!(s, "      Issuer:     {}", cert.issuer);
            let _ = writeln!(s, "      Thumbprint: {} (SHA-1)", cert.thumbprint());
            let _ = writeln!(s, "      SHA-256:    {}", cert.sha256_hex());
            let _ = writeln!(s, "      Serial:     {}", cert.serial);
            let fmt = |t: OffsetDateTime| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "      Valid:      {} to {} ({} days left)",
                fmt(cert.not_before),
                fmt(cert.not_after),
                cert.days_left(now)
            );
            if !cert.dns_names.is_empty() || !cert.ip_addresses.is_empty() {
                let mut sans = cert.dns_names.clone();
                sans.extend(cert.ip_addresses.iter().cloned());
                let _ = writeln!(s, "      SANs:       {}", sans.join(", "));
            }
            let bits = if cert.key_bits > 0 {
                format!(" {}", cert.key_bits)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "      Key:        {}{bits}, signed {}",
                cert.key_algorithm, cert.signature_algorithm
            );
            for f in cert.findings(now) {
                let _ = writeln!(s, "      ! {f}");
            }
        }
        for f in c.findings() {
            let _ = writeln!(s, "  ! {f}");
        }
        s.push('\n');
    }
    s
}

/// Save each chain as `<stem>_<LEAF-SHA1>.pem` (the chain, leaf first) and
/// `<stem>_<LEAF-SHA1>_<n>.der` (one per certificate). Every file is staged beside its
/// destination and all are put in place together (`crate::atomic`), so no file is ever
/// partial and a failure leaves nothing behind. Returns the number of files written.
pub fn write_chains(dir: &Path, captures: &[&Capture]) -> Result<usize, FetchError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for c in captures {
        let stem = format!("{}_{}", c.target.file_stem(), c.leaf().thumbprint());
        if files.iter().any(|(n, _)| *n == format!("{stem}.pem")) {
            continue;
        }
        let mut pem = String::new();
        for cert in &c.chain {
            pem.push_str(&crate::cert::to_pem(&cert.der));
        }
        files.push((format!("{stem}.pem"), pem.into_bytes()));
        for (i, cert) in c.chain.iter().enumerate() {
            files.push((format!("{stem}_{i}.der"), cert.der.clone()));
        }
    }
    if files.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dir).map_err(|source| FetchError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let staged = files
        .iter()
        .map(|(name, bytes)| crate::atomic::stage_file("--out", &dir.join(name), bytes))
        .collect::<Result<Vec<_>, _>>()?;
    crate::atomic::commit(staged)?;
    Ok(files.len())
}
