//! `certgpo fetch`: capture the certificate chain a server presents, TLS 1.0 to 1.3,
//! directly or after STARTTLS, for many targets concurrently.
//!
//! Per target: connect ([`transport`]), run the STARTTLS dialogue if the scheme has
//! one ([`starttls`]), then the raw TLS ≤ 1.2 engine ([`raw`]); only if the server
//! refuses TLS ≤ 1.2 (alert or reset right after our hello) a new connection tries
//! rustls for TLS 1.3 ([`rustls_engine`]). A timeout or a garbage reply is final: a
//! second engine would only double the wait. One deadline (`--timeout`) bounds the
//! whole target, both engines included.

pub mod names;
pub mod output;
pub mod raw;
pub mod rustls_engine;
pub mod starttls;
pub mod target;
pub mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cert::Certificate;
pub use names::{FetchCode, FetchFinding};
pub use target::Target;
pub use transport::Proxy;

/// Everything that can go wrong in `fetch`. Per-target failures name the target.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    // Targets come from files too (--targets-file, --discover): a line may be long.
    #[error("{:?} is not a valid target: {reason}", crate::text::cut(.input, 100))]
    BadTarget { input: String, reason: String },
    #[error("{target}: {detail}")]
    Target {
        target: String,
        stage: Stage,
        detail: String,
    },
    #[error(
        "{target}: the server presented {sha1} (SHA-256 {sha256}), which matches no --expect fingerprint; nothing was written"
    )]
    PinMismatch {
        target: String,
        sha1: String,
        sha256: String,
    },
    #[error(
        "--expect {:?} is not a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) fingerprint",
        crate::text::cut(.0, 100)
    )]
    BadFingerprint(String),
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("--targets-file {path}: {detail}")]
    TargetsFile { path: String, detail: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] crate::atomic::OutputError),
    #[error("{0}")]
    Usage(String),
}

impl crate::Diagnostic for FetchError {
    fn kind(&self) -> crate::Kind {
        match self {
            FetchError::PinMismatch { .. } => crate::Kind::PinMismatch,
            _ => crate::Kind::Error,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            FetchError::Output(e) => return e.hint(),
            FetchError::Input(e) => return e.hint(),
            FetchError::PinMismatch { .. } => Some(
                "compare with `Get-ExchangeCertificate | fl Thumbprint` on the server; a different certificate may mean a TLS-inspecting proxy or a man in the middle",
            ),
            FetchError::BadTarget { .. } => Some(
                "targets look like mail.contoso.com, host:port, https://host/path, smtp://host, submission://host, imap://host, pop3://host, [::1]:993",
            ),
            FetchError::Target {
                stage: Stage::Connect,
                ..
            } => {
                return Some(format!(
                    "check the host name, the port (defaults: {}) and the firewall",
                    target::default_ports()
                ));
            }
            FetchError::Target {
                stage: Stage::Proxy,
                ..
            } => Some(
                "check --proxy (http://HOST:PORT of a running HTTP CONNECT proxy) and that it allows CONNECT to the target",
            ),
            _ => None,
        };
        hint.map(Into::into)
    }
}

/// Where a target failed; decides whether the rustls fallback runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Connect,
    Proxy,
    Starttls,
    /// The reply was not TLS at all (HTTP, a banner, garbage).
    NotTls,
    /// The server refused TLS ≤ 1.2: try TLS 1.3.
    Refused,
    /// The server hung up mid-handshake.
    Closed,
    Tls,
    Certificate,
    Timeout,
}

impl Target {
    fn fail(&self, (stage, detail): (Stage, String)) -> FetchError {
        FetchError::Target {
            target: self.input.clone(),
            stage,
            detail,
        }
    }
}

/// How to connect; shared by `fetch` and `build --fetch`.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub sni: Option<String>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
    pub proxy: Option<Proxy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Raw,
    Rustls,
}

/// What one target presented.
#[derive(Debug, Clone)]
pub struct Capture {
    pub target: Target,
    pub engine: Engine,
    pub protocol: String,
    pub cipher: String,
    pub sni: Option<String>,
    /// Leaf first, in the order the server sent them.
    pub chain: Vec<Certificate>,
    pub notes: Vec<String>,
}

impl Capture {
    pub fn leaf(&self) -> &Certificate {
        // `grab` never builds a Capture with an empty chain.
        &self.chain[0]
    }

    pub fn findings(&self) -> Vec<FetchFinding> {
        names::findings(self.leaf(), &self.target, self.sni.as_deref())
    }
}

/// Capture one target's chain within `opts.timeout`.
pub async fn grab(target: &Target, opts: &FetchOptions) -> Result<Capture, FetchError> {
    let phase = Mutex::new("connecting");
    match tokio::time::timeout(opts.timeout, grab_inner(target, opts, &phase)).await {
        Ok(r) => r,
        Err(_) => {
            let during = phase.lock().map(|p| *p).unwrap_or("fetching");
            Err(target.fail((
                Stage::Timeout,
                format!(
                    "timed out after {} while {during} (--timeout)",
                    show_duration(opts.timeout)
                ),
            )))
        }
    }
}

fn set(phase: &Mutex<&'static str>, now: &'static str) {
    if let Ok(mut p) = phase.lock() {
        *p = now;
    }
}

async fn grab_inner(
    target: &Target,
    opts: &FetchOptions,
    phase: &Mutex<&'static str>,
) -> Result<Capture, FetchError> {
    let sni = opts
        .sni
        .clone()
        .or_else(|| target.dns_name().map(str::to_string));
    let open = async || -> Result<_, FetchError> {
        set(phase, "connecting");
        let mut s = transport::open(target, opts.proxy.as_ref(), opts.connect_timeout)
            .await
            .map_err(|e| target.fail(e))?;
        if let Some(kind) = target.starttls {
            set(phase, "waiting for the STARTTLS dialogue");
            starttls::negotiate(&mut s, kind)
                .await
                .map_err(|e| target.fail(e))?;
        }
        Ok(s)
    };

    let mut stream = open().await?;
    set(phase, "waiting for the server's certificate");
    let mut random = [0u8; 32];
    crate::tls::provider()
        .secure_random
        .fill(&mut random)
        .map_err(|_| target.fail((Stage::Tls, "no system randomness".into())))?;
    let (engine, protocol, cipher, ders, notes) =
        match raw::grab(&mut stream, sni.as_deref(), &random).await {
            Ok(c) => (
                Engine::Raw,
                raw::version_name(c.version),
                raw::cipher_name(c.cipher),
                c.chain,
                Vec::new(),
            ),
            Err((Stage::Refused, first)) => {
                drop(stream);
                let stream = open().await?;
                set(phase, "waiting for the TLS 1.3 handshake");
                let name = server_name(target, sni.as_deref())?;
                match rustls_engine::grab(stream, name).await {
                    Ok(c) => (
                        Engine::Rustls,
                        c.version,
                        c.cipher,
                        c.chain,
                        c.note.into_iter().collect(),
                    ),
                    Err((stage, second)) => {
                        return Err(target.fail((stage, format!("{first}; then {second}"))));
                    }
                }
            }
            Err(e) => return Err(target.fail(e)),
        };
    let mut chain = Vec::with_capacity(ders.len());
    for (i, der) in ders.into_iter().enumerate() {
        let cert = Certificate::from_der(der).map_err(|e| {
            target.fail((
                Stage::Certificate,
                format!(
                    "certificate #{} of the chain is not valid X.509: {e}",
                    i + 1
                ),
            ))
        })?;
        chain.push(cert);
    }
    Ok(Capture {
        target: target.clone(),
        engine,
        protocol,
        cipher,
        sni,
        chain,
        notes,
    })
}

fn server_name(
    target: &Target,
    sni: Option<&str>,
) -> Result<rustls::pki_types::ServerName<'static>, FetchError> {
    use rustls::pki_types::ServerName;
    match (sni, &target.host) {
        (Some(name), _) => ServerName::try_from(name.to_string()).map_err(|_| {
            target.fail((
                Stage::Tls,
                format!("{name:?} cannot be sent as a TLS server name"),
            ))
        }),
        (None, target::Host::Ip(ip)) => Ok(ServerName::IpAddress((*ip).into())),
        (None, target::Host::Name(n)) => Err(target.fail((
            Stage::Tls,
            format!("{n:?} cannot be sent as a TLS server name"),
        ))),
    }
}

/// Fetch every target with at most `opts.concurrency` in flight. Results come back in
/// the order of `targets`; one target's failure never stops another.
pub async fn fetch_all(
    targets: Vec<Target>,
    opts: Arc<FetchOptions>,
    bar: ProgressBar,
) -> Vec<Result<Capture, FetchError>> {
    let sem = Arc::new(Semaphore::new(opts.concurrency));
    let mut set = JoinSet::new();
    let names: Vec<String> = targets.iter().map(|t| t.input.clone()).collect();
    let mut out: Vec<Option<Result<Capture, FetchError>>> =
        (0..names.len()).map(|_| None).collect();
    let mut store = |joined: Result<(usize, Result<Capture, FetchError>), _>| {
        if let Ok((i, r)) = joined
            && let Some(slot) = out.get_mut(i)
        {
            *slot = Some(r);
        }
    };
    for (i, t) in targets.into_iter().enumerate() {
        // Taking the permit before spawning keeps at most `concurrency` tasks alive, so a
        // targets file of any length costs memory only for its results.
        let permit = sem.clone().acquire_owned().await.ok();
        while let Some(joined) = set.try_join_next() {
            store(joined);
        }
        let opts = opts.clone();
        let bar = bar.clone();
        set.spawn(async move {
            let _permit = permit;
            let r = grab(&t, &opts).await;
            bar.inc(1);
            (i, r)
        });
    }
    while let Some(joined) = set.join_next().await {
        store(joined);
    }
    bar.finish_and_clear();
    out.into_iter()
        .zip(names)
        .map(|(r, target)| {
            r.unwrap_or_else(|| {
                Err(FetchError::Target {
                    target,
                    stage: Stage::Tls,
                    detail: "internal error: the fetch task stopped unexpectedly".into(),
                })
            })
        })
        .collect()
}

/// A progress bar on a terminal, nothing otherwise.
pub fn progress(len: usize) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || len < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} targets {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// Run the async part on a runtime of its own (the rest of certgpo is synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, FetchError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| FetchError::Usage(format!("cannot start the async runtime: {e}")))?;
    Ok(rt.block_on(f))
}

/// Targets from the command line plus `--targets-file` (one per line, `#` comments).
pub fn collect_targets(
    args: &[String],
    file: Option<&std::path::Path>,
) -> Result<Vec<Target>, FetchError> {
    let mut out = Vec::new();
    for a in args {
        out.push(Target::parse(a)?);
    }
    if let Some(path) = file {
        let bytes = crate::input::read(path, crate::input::TARGETS)
            .map_err(|e| e.given_as("--targets-file"))?;
        let text = String::from_utf8(bytes).map_err(|_| FetchError::TargetsFile {
            path: path.display().to_string(),
            detail: "not UTF-8 text".into(),
        })?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(Target::parse(line)?);
        }
    }
    if out.is_empty() {
        return Err(FetchError::Usage(
            "no target given (name them as arguments or with --targets-file)".into(),
        ));
    }
    Ok(out)
}

/// Parse `--expect` values into SHA-1 or SHA-256 digests.
pub fn parse_pins(values: &[String]) -> Result<Vec<Vec<u8>>, FetchError> {
    values
        .iter()
        .map(|v| match crate::hex::parse_fingerprint(v) {
            Some(d) if d.len() == 20 || d.len() == 32 => Ok(d),
            _ => Err(FetchError::BadFingerprint(v.clone())),
        })
        .collect()
}

/// True when `cert` is one of `pins`.
pub fn pinned(cert: &Certificate, pins: &[Vec<u8>]) -> bool {
    pins.iter()
        .any(|p| p.as_slice() == cert.sha1.as_slice() || p.as_slice() == cert.sha256.as_slice())
}

/// `fetch` for `build --fetch`: every target must succeed.
pub fn fetch_for_build(
    targets: Vec<Target>,
    opts: FetchOptions,
) -> Result<Vec<Capture>, FetchError> {
    let bar = progress(targets.len());
    let results = block_on(fetch_all(targets, Arc::new(opts), bar))?;
    let (ok, mut failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    // Report every failing target; the last one becomes the command's error.
    let last = failed.pop();
    for e in failed.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("error: {e}");
    }
    match last {
        Some(Err(e)) => Err(e),
        _ => Ok(ok.into_iter().flatten().collect()),
    }
}

/// Up to 64 bytes as printable text and hex, for "the server sent …" messages.
pub fn show_bytes(b: &[u8]) -> String {
    let b = &b[..b.len().min(64)];
    let hex: Vec<String> = b.iter().take(16).map(|x| format!("{x:02x}")).collect();
    format!("{} ({})", show_text(b), hex.join(" "))
}

/// A server's words, quoted, with control characters escaped and length bounded.
pub fn show_text(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&b[..b.len().min(120)])
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    format!("\"{s}\"")
}

pub fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Parse `5s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 5s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unknown unit (use ms, s or m)")),
    };
    if !(0.001..=3600.0).contains(&secs) {
        return Err(format!("{s:?} is out of range (1ms to 1 hour)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(super::parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(
            super::parse_duration("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(super::parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(super::parse_duration("0s").is_err());
        assert!(super::parse_duration("5h").is_err());
        assert!(super::parse_duration("x").is_err());
    }
}
