//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The project's own test data (`tests/data`).
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// True when running under CI, where a missing tool is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Check that an external tool is available. Locally a missing tool skips the test
/// (or the part of it that needs the tool) with a loud message and a line in the skip
/// list that `scripts/test` prints at the end; under `CI=true` it fails the test,
/// because `scripts/test` installs every tool the tests need.
pub fn require(tool: &str, probe: &[&str]) -> bool {
    let reason = match Command::new(tool).args(probe).output() {
        Ok(o) if o.status.success() => return true,
        Ok(o) => format!(
            "`{tool} {}` failed ({}): {}",
            probe.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
        ),
        Err(e) => format!("required tool `{tool}` is not available ({e})"),
    };
    skip(&reason);
    false
}

/// Skip a test that cannot run here unless it runs as root; true when it can run.
pub fn require_root(why: &str) -> bool {
    let root = is_root();
    if !root {
        skip(why);
    }
    root
}

/// The running test, as `<test file>::<test>` (libtest names each test's thread).
pub fn current_test() -> String {
    let thread = std::thread::current();
    let name = match thread.name() {
        Some(n) if n != "main" => n,
        _ => "(unknown test)",
    };
    format!("{}::{name}", env!("CARGO_CRATE_NAME"))
}

/// Say loudly that a test, or part of it, cannot run here; under `CI=true` that is a
/// failure. The skip is also appended to the file `CERTGPO_SKIP_LOG` names (set by
/// `scripts/test`, which lists every skip as the last lines of its output), because
/// the test harness hides what a passing test prints.
pub fn skip(reason: &str) {
    let test = current_test();
    let reason = reason.replace('\n', " ");
    if let Some(log) = std::env::var_os(SKIP_LOG) {
        // One short write in append mode: tests running in parallel do not mix lines.
        let line = format!("{test}: {reason}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!(
                "cannot record the skip in {}: {e}",
                Path::new(&log).display()
            );
        }
    }
    assert!(
        !in_ci(),
        "{test}: {reason} (CI=true: nothing may be skipped; scripts/test installs what the tests need)"
    );
    eprintln!("\n!!!! SKIPPED {test}: {reason} !!!!\n");
}

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG: &str = "CERTGPO_SKIP_LOG";

/// True when the tests run as root (needed to start postfix and a Samba AD DC).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The certgpo binary under test.
pub fn certgpo() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("certgpo").expect("binary built by cargo")
}

/// Run the certgpo binary with `args`; panics unless it succeeds. Returns its stdout.
pub fn certgpo_ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> Vec<u8> {
    let o = certgpo().args(args).output().expect("certgpo runs");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

// ---------------------------------------------------------------------------------------
// The project's inputs, and folders as trees

/// The Exchange 2010 self-signed certificate the README's first command uses.
pub const EXAMPLE: &str = "examples/exch2010-selfsigned.cer";
/// The NSA-CERT GPMC backup, under `tests/data`.
pub const NSA_BACKUP: &str = "nsa-cert/{D1DE50B0-DF95-405B-B2DA-6C16CBB6BF54}";

/// [`EXAMPLE`] as a path.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)
}

/// The entries of `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, by relative path with `/`.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in files_in(&d) {
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("under dir");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    out
}

/// Copy a folder and everything in it.
pub fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("a parent")).expect("create a folder");
        std::fs::write(dest, bytes).expect("write a file");
    }
}

/// The one GPMC backup folder of a bundle (`<bundle>/gpo-backup/{id}`).
pub fn only_backup_dir(bundle: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = files_in(&bundle.join("gpo-backup"))
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{}: one backup folder", bundle.display());
    dirs[0].clone()
}

// ---------------------------------------------------------------------------------------
// Ports

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Wait until something accepts TCP connections on `addr`; false after `limit`.
pub fn wait_port(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------------------------------
// Running tools

/// Run `program args`; panics unless it succeeds. Returns its stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    run_ok_in(Path::new("."), program, args)
}

/// [`run_ok`] in `dir`.
pub fn run_ok_in(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
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

/// The parse errors html5lib reports for the HTML page at `path` (`line:column: code`),
/// or `None` after a skip when html5lib is missing. html5lib implements the HTML Living
/// Standard's parsing algorithm and shares no code with certgpo; xmllint's HTML parser
/// is HTML 4's and calls `header`, `details` or `summary` invalid.
pub fn html5_errors(path: &Path) -> Option<Vec<String>> {
    if !require(SYSTEM_PYTHON, &["-c", "import html5lib"]) {
        return None;
    }
    let script = "import sys, html5lib\n\
        p = html5lib.HTMLParser()\n\
        p.parse(open(sys.argv[1], 'rb'))\n\
        for (line, col), code, data in p.errors: print(f'{line}:{col}: {code} {data}')\n";
    let out = run_ok(SYSTEM_PYTHON, &["-c", script, &path.to_string_lossy()]);
    Some(out.lines().map(String::from).collect())
}

/// Debian's python3, which python3-samba (and the other python3- packages of
/// .ci/apt-packages) install into; a pyenv python3 earlier on PATH has none of them.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// registry.pol files as Samba's PReg parser reads them (`samba.dcerpc.preg`, through
/// tests/oracles/preg_dump.py): its JSON, one object with the file's `entries` per file.
/// Panics when Samba refuses one.
pub fn samba_preg(files: &[&Path]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracles/preg_dump.py");
    let out = Command::new(SYSTEM_PYTHON)
        .arg(script)
        .args(files)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Samba's PReg parser refused {files:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("preg_dump.py writes JSON")
}

/// Run `openssl args` in `dir`; panics unless it succeeds. Returns its stdout.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    run_ok_in(dir, "openssl", args)
}

/// Run `openssl args` with `input` on stdin; panics unless it succeeds. Returns stdout.
pub fn openssl_stdin(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("wait for openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The SHA-1 thumbprint (upper-case hex) openssl computes for the certificate in
/// `input`, `inform` "PEM" or "DER", independently of certgpo.
pub fn openssl_sha1_of(input: &[u8], inform: &str) -> String {
    let out = openssl_stdin(
        &["x509", "-noout", "-fingerprint", "-sha1", "-inform", inform],
        input,
    );
    // "SHA1 Fingerprint=AB:CD:..." (the label's case varies across versions)
    String::from_utf8_lossy(&out)
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
        .to_ascii_uppercase()
}

/// [`openssl_sha1_of`] the first certificate of a PEM or DER file.
pub fn openssl_sha1(path: impl AsRef<Path>) -> String {
    let bytes =
        std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()));
    let pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    openssl_sha1_of(&bytes, if pem { "PEM" } else { "DER" })
}

// ---------------------------------------------------------------------------------------
// Certificates made with openssl, keys included, in a test's temporary directory

/// The key a certificate is made with.
#[derive(Clone, Copy)]
pub enum Key {
    Rsa2048,
    P256,
}

impl Key {
    fn args(self) -> &'static [&'static str] {
        match self {
            Key::Rsa2048 => &["-newkey", "rsa:2048"],
            Key::P256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        }
    }
}

/// A certificate `<dir>/<name>.pem` and its key `<dir>/<name>.key`.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    pub fn cert_str(&self) -> String {
        self.cert.to_string_lossy().into_owned()
    }

    pub fn key_str(&self) -> String {
        self.key.to_string_lossy().into_owned()
    }
}

/// `openssl req -x509` for `<name>` valid 30 days, with `extra` arguments.
fn req_x509(dir: &Path, name: &str, key: Key, cn: &str, extra: &[&str]) -> Issued {
    let (cert, keyfile) = (format!("{name}.pem"), format!("{name}.key"));
    let subject = format!("/CN={cn}");
    let mut args = vec!["req", "-x509"];
    args.extend_from_slice(key.args());
    args.extend_from_slice(&[
        "-nodes", "-keyout", &keyfile, "-out", &cert, "-days", "30", "-subj", &subject,
    ]);
    args.extend_from_slice(extra);
    openssl(dir, &args);
    // Samba refuses a key file that others can read.
    std::fs::set_permissions(dir.join(&keyfile), std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600 the key");
    Issued {
        cert: dir.join(cert),
        key: dir.join(keyfile),
    }
}

/// A self-signed certificate for `cn`, with `san` (`DNS:a,IP:b`) when given.
pub fn selfsigned(dir: &Path, name: &str, key: Key, cn: &str, san: Option<&str>) -> Issued {
    let san = san.map(|s| format!("subjectAltName={s}"));
    let extra = match &san {
        Some(s) => vec!["-addext", s.as_str()],
        None => vec![],
    };
    req_x509(dir, name, key, cn, &extra)
}

/// A self-signed server certificate for `cn` without a subjectAltName, so that TLS
/// clients match it to no name (they ignore the CN). Not a CA, or webpki would refuse
/// that first: openssl's default extensions make one.
pub fn leaf_without_san(dir: &Path, name: &str, key: Key, cn: &str) -> Issued {
    req_x509(
        dir,
        name,
        key,
        cn,
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    )
}

/// What makes a certificate a CA (RFC 5280 §4.2.1.9, §4.2.1.3).
const CA_EXTENSIONS: &[&str] = &[
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
];

/// A throwaway root CA.
pub fn root_ca(dir: &Path, name: &str, key: Key, cn: &str) -> Issued {
    req_x509(dir, name, key, cn, CA_EXTENSIONS)
}

/// A TLS server certificate for `cn` and `san` (`DNS:a,IP:b`) that `ca` issued.
pub fn server_cert(dir: &Path, ca: &Issued, name: &str, key: Key, cn: &str, san: &str) -> Issued {
    let san = format!("subjectAltName={san}");
    issued_by(
        dir,
        ca,
        name,
        key,
        cn,
        &[
            "-addext",
            &san,
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ],
    )
}

/// An intermediate CA certificate for `cn` that `ca` issued.
pub fn intermediate_ca(dir: &Path, ca: &Issued, name: &str, key: Key, cn: &str) -> Issued {
    issued_by(dir, ca, name, key, cn, CA_EXTENSIONS)
}

/// A certificate for `cn` that `ca` signed, with `extensions` (`-addext` arguments).
fn issued_by(
    dir: &Path,
    ca: &Issued,
    name: &str,
    key: Key,
    cn: &str,
    extensions: &[&str],
) -> Issued {
    let (ca_cert, ca_key) = (ca.cert_str(), ca.key_str());
    let mut extra = vec!["-CA", ca_cert.as_str(), "-CAkey", ca_key.as_str()];
    extra.extend_from_slice(extensions);
    req_x509(dir, name, key, cn, &extra)
}

// ---------------------------------------------------------------------------------------
// Servers on loopback

/// Longest any test server may live.
const SERVER_LIFETIME: &str = "180";

/// A test server, stopped (and its `stop` command run) when dropped.
pub struct Server {
    child: Child,
    stop: Option<Vec<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(cmd) = self.stop.take() {
            let _ = Command::new(&cmd[0]).args(&cmd[1..]).output();
        }
        // `timeout` passes TERM on to the server it runs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .output();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until a loopback `port` accepts connections (15 s at most).
pub fn wait_for_port(port: u16) {
    assert!(
        wait_port((Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(15)),
        "server on port {port} did not start"
    );
}

/// Start `args` under `timeout`, wait until `port` accepts connections.
pub fn serve(args: &[&str], port: u16, stop: Option<Vec<String>>) -> Server {
    let child = Command::new("timeout")
        .args(["-k", "5", SERVER_LIFETIME])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a test server");
    let server = Server { child, stop };
    wait_for_port(port);
    server
}

/// `openssl s_server` with `extra` arguments on a free loopback port.
pub fn s_server(extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let accept = format!("127.0.0.1:{port}");
    let mut args = vec!["openssl", "s_server", "-quiet", "-accept", &accept];
    args.extend_from_slice(extra);
    (serve(&args, port, None), port)
}
/// What a run of [`certgpo_bounded`] did.
pub struct Bounded {
    /// What ran, for messages.
    pub script: String,
    /// None when `timeout` had to kill it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set of the certgpo process (GNU time's %M).
    pub peak_kib: u64,
    pub elapsed: std::time::Duration,
}

/// Virtual memory allowed to a [`certgpo_bounded`] run: a reader that is not bounded
/// fails against it at once instead of driving the machine into its OOM killer.
pub const BOUNDED_VMEM_KIB: u64 = 1 << 20;

/// Run `script`, a bash command line in `dir` in which `certgpo` runs the binary under
/// test (so that it may use process substitution, `<(cat file)`), with `ulimit -v`
/// of [`BOUNDED_VMEM_KIB`], killed after `limit_secs`, and its peak memory measured by
/// GNU time (`/usr/bin/time`).
pub fn certgpo_bounded(dir: &Path, script: &str, limit_secs: u64) -> Bounded {
    let bin = assert_cmd::cargo::cargo_bin("certgpo");
    let times = tempfile::NamedTempFile::new().expect("a temporary file");
    let prelude = format!(
        "ulimit -v {BOUNDED_VMEM_KIB}\n\
         certgpo() {{ timeout -k 5 {limit_secs} /usr/bin/time -o \"$TIMES\" -f %M \"$CERTGPO\" \"$@\"; }}\n"
    );
    let t0 = std::time::Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(dir)
        .env("CERTGPO", &bin)
        .env("TIMES", times.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("CERTGPO_LDAP_PASSWORD")
        .output()
        .expect("run bash");
    let elapsed = t0.elapsed();
    // GNU time writes "Command exited with non-zero status N" before the figure.
    let peak_kib = std::fs::read_to_string(times.path())
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let code = out.status.code().filter(|c| *c != 124 && *c != 137);
    Bounded {
        script: script.to_string(),
        code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        peak_kib,
        elapsed,
    }
}
