//! A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for driving Chromium
//! through chromedriver: HTTP/1.1 over a TcpStream and serde_json, the few commands the
//! browser tests need. A crate like fantoccini would bring an async stack for that.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Server};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The first `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or a skip (a failure under CI=true) naming what is missing.
pub fn available() -> bool {
    common::require("chromium", &["--version"]) && common::require("chromedriver", &["--version"])
}

/// One Chromium session, closed (and chromedriver stopped) when dropped.
pub struct Browser {
    port: u16,
    session: String,
    // Dropped after the session is deleted: chromedriver, then Chromium's profile.
    _driver: Server,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Headless Chromium with a `width` x `height` window; `javascript: false` turns
    /// scripts off, as an admin's hardened browser might.
    pub fn start(width: u32, height: u32, javascript: bool) -> Browser {
        let port = common::free_port();
        let driver = common::serve(&["chromedriver", &format!("--port={port}")], port, None);
        let profile = tempfile::tempdir().expect("a profile directory");
        let binary = on_path("chromium").expect("chromium on PATH");
        // Headless, and without the background connections (updates, sync, field
        // trials) that this machine's closed network refuses.
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": binary, "args": args });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let v = request(port, "POST", "/session", Some(&caps));
        let session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        let b = Browser {
            port,
            session,
            _driver: driver,
            _profile: profile,
        };
        // --window-size includes the window's frame: grow the window until the
        // viewport, what a page lays out in and a screenshot shows, has the size asked.
        let inner = b.js("return [window.innerWidth, window.innerHeight];", json!([]));
        let frame = |i: usize, want: u32| want as i64 * 2 - inner[i].as_i64().unwrap_or(0);
        b.call(
            "POST",
            "/window/rect",
            Some(&json!({ "width": frame(0, width), "height": frame(1, height) })),
        );
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        request(self.port, method, &path, body)
    }

    /// Open a local file.
    pub fn open(&self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Run `script` (a function body; `arguments` holds `args`) and return its value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(&json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_string()
    }

    /// Click the element `css` finds, as a user would (it must be visible).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    /// Type `text` into the element `css` finds.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({ "text": text })),
        );
    }

    /// Lay the page out for print (CSS `@media print`), through chromedriver's
    /// DevTools command endpoint (Emulation.setEmulatedMedia).
    pub fn print_media(&self) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "media": "print" } })),
        );
    }

    /// The viewport as PNG bytes.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .expect("valid base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends Chromium; failures do not matter, chromedriver is stopped next.
        let _ = send(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// A WebDriver command; panics on an error response, with WebDriver's message.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, v) =
        send(port, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert!(
        status == 200,
        "{method} {path}: HTTP {status}: {}",
        v["value"]
    );
    v["value"].clone()
}

/// One HTTP/1.1 exchange (RFC 9112) on its own connection.
fn send(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // Read by Content-Length, not to the end: Chromium, started while chromedriver
    // answers New Session, inherits the connection and keeps it open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let bad = |what: &str, raw: &[u8]| {
        std::io::Error::other(format!("{what}: {}", String::from_utf8_lossy(raw)))
    };
    loop {
        let n = s.read(&mut buf)?;
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            if n == 0 {
                return Err(bad("no end of headers", &raw));
            }
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status", &raw))?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("no Content-Length", &raw))?;
        let end = split + 4 + length;
        while raw.len() < end {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Err(bad("body shorter than Content-Length", &raw));
            }
            raw.extend_from_slice(&buf[..n]);
        }
        let v =
            serde_json::from_slice(&raw[split + 4..end]).map_err(|e| bad(&e.to_string(), &raw))?;
        return Ok((status, v));
    }
}
