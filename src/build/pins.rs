//! Pinning for `build --fetch`: whatever a server presents becomes a trusted root on
//! every machine in the domain, so a man in the middle on that one connection could
//! plant his own CA. Each fetched certificate therefore needs, per target, one of: an
//! `--expect` fingerprint, the admin's confirmation on a terminal after comparing the
//! fingerprints with the server, or an explicit `--trust-on-first-use`. The pins used
//! are written to `certgpo.lock`; a later run that meets a different certificate fails
//! (exit code 3) until `--update-pins`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

use crate::cert::{Certificate, Loaded, Origin};
use crate::fetch::{self, Capture, FetchError, FetchOptions};

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(
        "{target}: the server's certificate {thumbprint} ({subject}) is not self-signed and the server sent no self-signed root; it was issued by {issuer}"
    )]
    NoTrustAnchor {
        target: String,
        thumbprint: String,
        subject: String,
        issuer: String,
    },
    #[error(
        "{target}: no pin for the certificate to trust ({thumbprint}); this run is not interactive, so nothing was written"
    )]
    Unpinned { target: String, thumbprint: String },
    #[error("{target}: certificate {thumbprint} was not confirmed; nothing was written")]
    Declined { target: String, thumbprint: String },
    #[error(
        "{target}: the server presented {sha1} (SHA-256 {sha256}), which matches no --expect fingerprint; nothing was written"
    )]
    ExpectMismatch {
        target: String,
        sha1: String,
        sha256: String,
    },
    #[error(
        "{target}: the server certificate {leaf} and its root {root} match no --expect fingerprint; nothing was written"
    )]
    ExpectMismatchChain {
        target: String,
        /// `SHA1 (subject, SHA-256 ...)`, the leaf's as `Get-ExchangeCertificate` shows it.
        leaf: String,
        root: String,
    },
    #[error(
        "{target}: the certificate changed since {lock}: pinned {pinned}, now {now} ({subject}); nothing was written"
    )]
    Changed {
        target: String,
        lock: String,
        pinned: String,
        now: String,
        subject: String,
    },
    // serde_json and the pin checks quote what they found, which may be long.
    #[error("{path}: not a certgpo lock file ({})", crate::text::cut(.detail, 300))]
    BadLock { path: String, detail: String },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl crate::Diagnostic for PinError {
    fn kind(&self) -> crate::Kind {
        match self {
            PinError::Fetch(f) => f.kind(),
            PinError::ExpectMismatch { .. }
            | PinError::ExpectMismatchChain { .. }
            | PinError::Changed { .. } => crate::Kind::PinMismatch,
            _ => crate::Kind::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            PinError::Fetch(f) => f.hint(),
            PinError::Input(e) => e.hint(),
            PinError::NoTrustAnchor { issuer, .. } => Some(format!(
                "distribute the issuer's root instead (the certificate of {issuer}) with --cert"
            )),
            PinError::Unpinned { .. } => Some(
                "pass --expect <SHA-1 or SHA-256> as shown by `Get-ExchangeCertificate | fl Thumbprint` on the server, run in a terminal to confirm it, or pass --trust-on-first-use"
                    .into(),
            ),
            PinError::ExpectMismatch { .. } | PinError::ExpectMismatchChain { .. } => Some("compare with `Get-ExchangeCertificate | fl Thumbprint` on the server; a different certificate may mean a TLS-inspecting proxy or a man in the middle".into()),
            PinError::Changed { .. } => Some("if the server's certificate was renewed on purpose, check the new fingerprint on the server and run again with --update-pins".into()),
            PinError::BadLock { .. } => Some(
                "point --lock at the lock file, or move this one away to start again".into(),
            ),
            _ => None,
        }
    }
}

/// One pinned certificate in `certgpo.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockEntry {
    pub sha1: String,
    pub sha256: String,
    pub subject: String,
    /// How it was approved: `expect`, `confirmed` or `trust-on-first-use`.
    pub pinned_by: String,
}

/// `certgpo.lock`: pins by endpoint, sorted so the file is deterministic.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    pub pins: BTreeMap<String, LockEntry>,
}

impl Lock {
    /// Read and check the lock file (a missing one is an empty lock). Fingerprints and
    /// endpoints are brought to one spelling, so that a pin written by hand in lower
    /// case or with colons still matches, and one address written another way
    /// (`2130706433`, `[::ffff:127.0.0.1]`) is still the same endpoint.
    pub fn load(path: &Path) -> Result<Lock, PinError> {
        let bad = |detail: String| PinError::BadLock {
            path: path.display().to_string(),
            detail,
        };
        let lock: Lock = match crate::input::read(path, crate::input::LOCK) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| bad(json_problem(&e)))?,
            Err(crate::input::InputError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Lock {
                    version: 1,
                    pins: BTreeMap::new(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if lock.version != 1 {
            return Err(bad(format!("unknown version {}", lock.version)));
        }
        let mut pins = BTreeMap::new();
        for (key, entry) in lock.pins {
            let pin = |why: String| bad(format!("the pin for {key:?} {why}"));
            let normal = normal_key(&key).map_err(&pin)?;
            let entry = LockEntry {
                sha1: normal_fingerprint(&entry.sha1, 20)
                    .ok_or_else(|| pin(format!("has sha1 {:?}, not 40 hex digits", entry.sha1)))?,
                sha256: normal_fingerprint(&entry.sha256, 32).ok_or_else(|| {
                    pin(format!("has sha256 {:?}, not 64 hex digits", entry.sha256))
                })?,
                ..entry
            };
            if let Some(other) = pins.insert(normal.clone(), entry.clone())
                && other.sha256 != entry.sha256
            {
                return Err(bad(format!(
                    "two different pins for {normal}, one of them under {key:?}"
                )));
            }
        }
        Ok(Lock { version: 1, pins })
    }

    /// The file's bytes: pretty JSON, keys sorted, a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text.into_bytes()
    }
}

/// Why a lock file is not one, without serde's words for a person who never saw JSON.
fn json_problem(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not JSON: line {} column {}", e.line(), e.column())
        }
        _ => e.to_string(),
    }
}

/// A fingerprint of `len` bytes, as upper-case hex without separators.
fn normal_fingerprint(text: &str, len: usize) -> Option<String> {
    crate::hex::parse_fingerprint(text)
        .filter(|d| d.len() == len)
        .map(|d| crate::hex::upper(&d))
}

/// A lock key (`scheme://host:port`, then ` sni=NAME` when the name sent differs from
/// the host) in the form [`key`] writes.
fn normal_key(text: &str) -> Result<String, String> {
    let (endpoint, sni) = match text.split_once(" sni=") {
        Some((e, s)) => (e, Some(s)),
        None => (text, None),
    };
    let target = fetch::Target::parse(endpoint).map_err(|e| format!("names no endpoint: {e}"))?;
    Ok(key_of(&target, sni))
}

/// How the admin approves what was fetched.
pub struct Policy {
    pub expect: Vec<Vec<u8>>,
    pub trust_on_first_use: bool,
    pub update_pins: bool,
    pub lock_path: PathBuf,
}

/// The lock file: `--lock`, else `certgpo.lock` beside the `--out` directory.
pub fn lock_path(lock: Option<&Path>, out: &Path) -> PathBuf {
    match lock {
        Some(p) => p.to_path_buf(),
        None => match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("certgpo.lock"),
            _ => PathBuf::from("certgpo.lock"),
        },
    }
}

/// The certificate build would trust for this chain: the self-signed root the server
/// sent (last in the chain), else the leaf when it is self-signed.
pub fn trust_anchor(c: &Capture) -> Result<&Certificate, PinError> {
    let leaf = c.leaf();
    match c.chain.last() {
        Some(root) if root.self_signed && links(&c.chain) => Ok(root),
        _ if leaf.self_signed => Ok(leaf),
        _ => Err(PinError::NoTrustAnchor {
            target: c.target.input.clone(),
            thumbprint: leaf.thumbprint(),
            subject: crate::text::printable(&leaf.subject),
            issuer: crate::text::printable(&leaf.issuer),
        }),
    }
}

/// True when every certificate of the chain is signed by the next one. Only then does
/// a pin on the leaf (what `Get-ExchangeCertificate` shows) also vouch for the root:
/// the raw engine never proves the server holds the leaf's key, so without this check
/// a man in the middle could replay the real leaf next to a root of his own.
fn links(chain: &[Certificate]) -> bool {
    chain.windows(2).all(|pair| {
        let (Ok((_, child)), Ok((_, parent))) = (
            X509Certificate::from_der(&pair[0].der),
            X509Certificate::from_der(&pair[1].der),
        ) else {
            return false;
        };
        child.verify_signature(Some(parent.public_key())).is_ok()
    })
}

/// The lock key of a capture: the endpoint, plus the SNI when it differs from the host.
fn key(c: &Capture) -> String {
    key_of(&c.target, c.sni.as_deref())
}

/// A DNS name compares case-insensitively and without its final dot (RFC 4343).
fn key_of(target: &fetch::Target, sni: Option<&str>) -> String {
    let sni = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase());
    match (sni, target.dns_name()) {
        (Some(sni), Some(host)) if sni == host => target.canonical(),
        (Some(sni), _) => format!("{} sni={sni}", target.canonical()),
        (None, _) => target.canonical(),
    }
}

/// Decide, per capture, whether its trust anchor is approved; updates `lock`.
/// `confirm` asks the admin (only called when interactive).
pub fn approve(
    captures: &[Capture],
    policy: &Policy,
    lock: &mut Lock,
    confirm: &mut dyn FnMut(&Capture, &Certificate) -> Result<bool, PinError>,
) -> Result<Vec<Certificate>, PinError> {
    let mut out = Vec::new();
    for c in captures {
        let anchor = trust_anchor(c)?;
        let k = key(c);
        let by_expect = fetch::pinned(anchor, &policy.expect)
            || (fetch::pinned(c.leaf(), &policy.expect) && links(&c.chain));
        if !policy.expect.is_empty() && !by_expect {
            return Err(expect_mismatch(c, anchor));
        }
        if let Some(entry) = lock.pins.get(&k) {
            if entry.sha256 == anchor.sha256_hex() {
                out.push(anchor.clone());
                continue;
            }
            if !policy.update_pins {
                return Err(PinError::Changed {
                    target: c.target.input.clone(),
                    lock: policy.lock_path.display().to_string(),
                    pinned: entry.sha1.clone(),
                    now: anchor.thumbprint(),
                    subject: crate::text::printable(&anchor.subject),
                });
            }
        }
        let pinned_by = if by_expect {
            "expect"
        } else if policy.trust_on_first_use {
            eprintln!(
                "warning: {}: trusting {} ({}) on first use, without a pin",
                c.target.input,
                anchor.thumbprint(),
                crate::text::printable(&anchor.subject_display)
            );
            "trust-on-first-use"
        } else if interactive() {
            if !confirm(c, anchor)? {
                return Err(PinError::Declined {
                    target: c.target.input.clone(),
                    thumbprint: anchor.thumbprint(),
                });
            }
            "confirmed"
        } else {
            return Err(PinError::Unpinned {
                target: c.target.input.clone(),
                thumbprint: anchor.thumbprint(),
            });
        };
        lock.pins.insert(
            k,
            LockEntry {
                sha1: anchor.thumbprint(),
                sha256: anchor.sha256_hex(),
                subject: anchor.subject.clone(),
                pinned_by: pinned_by.into(),
            },
        );
        out.push(anchor.clone());
    }
    Ok(out)
}

/// What matched no `--expect`: the server certificate (what `Get-ExchangeCertificate`
/// shows) and, when it is another certificate, the root that would be trusted.
fn expect_mismatch(c: &Capture, anchor: &Certificate) -> PinError {
    let leaf = c.leaf();
    if leaf.sha256 == anchor.sha256 {
        return PinError::ExpectMismatch {
            target: c.target.input.clone(),
            sha1: anchor.thumbprint(),
            sha256: anchor.sha256_hex(),
        };
    }
    let describe = |cert: &Certificate| {
        format!(
            "{} ({}, SHA-256 {})",
            cert.thumbprint(),
            crate::text::printable(&cert.subject),
            cert.sha256_hex()
        )
    };
    PinError::ExpectMismatchChain {
        target: c.target.input.clone(),
        leaf: describe(leaf),
        root: describe(anchor),
    }
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask on the terminal, showing both fingerprints and where to compare them.
pub fn ask(c: &Capture, anchor: &Certificate) -> Result<bool, PinError> {
    let p = crate::text::printable;
    let leaf = c.leaf();
    eprintln!("\n{} presented:", c.target.input);
    eprintln!("  Subject:    {}", p(&leaf.subject));
    eprintln!("  Issuer:     {}", p(&leaf.issuer));
    eprintln!("  SANs:       {}", p(&leaf.dns_names.join(", ")));
    eprintln!("  Thumbprint: {} (SHA-1)", leaf.thumbprint());
    eprintln!("  SHA-256:    {}", leaf.sha256_hex());
    if anchor.sha1 != leaf.sha1 {
        eprintln!("and the root it chains to, which is what will be trusted:");
        eprintln!("  Subject:    {}", p(&anchor.subject));
        eprintln!("  Thumbprint: {} (SHA-1)", anchor.thumbprint());
        eprintln!("  SHA-256:    {}", anchor.sha256_hex());
    }
    eprintln!(
        "Every machine in the domain will trust this. Compare the thumbprint with\n\
         `Get-ExchangeCertificate | fl Thumbprint,Subject` run on the Exchange server itself."
    );
    eprint!("Is it the same certificate? Type yes to trust it: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| PinError::Io {
            path: "stdin".into(),
            source,
        })?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// What `build --fetch` hands back: the approved certificates, ready for `plan`, and
/// the lock to write together with the bundle.
pub struct Fetched {
    pub loaded: Vec<Loaded>,
    lock: Lock,
    lock_path: PathBuf,
}

impl Fetched {
    /// The lock file as it is to be written with the bundle.
    pub fn lock_bytes(&self) -> Vec<u8> {
        self.lock.to_bytes()
    }

    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

/// Fetch `targets`, approve each trust anchor, and return them with the updated lock.
/// Nothing is written: the lock file is written with the bundle.
pub fn fetch_for_build(
    targets: &[String],
    opts: FetchOptions,
    policy: Policy,
) -> Result<Fetched, PinError> {
    let parsed = fetch::collect_targets(targets, None)?;
    // A bad lock file is found before the network is touched.
    let mut lock = Lock::load(&policy.lock_path)?;
    let captures = fetch::fetch_for_build(parsed, opts)?;
    let certs = approve(&captures, &policy, &mut lock, &mut ask)?;
    let loaded = captures
        .iter()
        .zip(certs)
        .map(|(c, cert)| Loaded {
            cert,
            origin: Origin {
                file: c.target.canonical(),
                index: 1,
            },
        })
        .collect();
    Ok(Fetched {
        loaded,
        lock,
        lock_path: policy.lock_path,
    })
}
