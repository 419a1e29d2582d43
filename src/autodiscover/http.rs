//! The little HTTP/1.1 (RFC 9112) the Autodiscover exchange needs: one request at a
//! time on a kept-alive connection (NTLM authenticates the connection, not the
//! request), a bounded response head and body, `Content-Length` or chunked.

use std::io::{Read, Write};

/// A response head larger than this is refused (Exchange sends under 2 KiB).
pub const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// A response body larger than this is refused: an Autodiscover answer is a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Io(String),
    #[error("the connection closed before a complete response")]
    Closed,
    #[error("not an HTTP response: {0}")]
    Malformed(String),
    #[error("{what} larger than {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server will close the connection (or did): no second request on it.
    pub closes: bool,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every value of header `name`, each comma-separated header line counted once.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection with what was read beyond the last response.
pub struct Conn<S> {
    pub stream: S,
    buf: Vec<u8>,
    /// How long one request may take in all: a server that sends a byte now and then
    /// (each within the socket's read timeout) is still cut off.
    limit: Option<std::time::Duration>,
    deadline: Option<std::time::Instant>,
}

impl<S: Read + Write> Conn<S> {
    pub fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::new(),
            limit: None,
            deadline: None,
        }
    }

    /// [`Conn::new`] with a limit on the time of each request and its response.
    pub fn with_limit(stream: S, limit: std::time::Duration) -> Conn<S> {
        Conn {
            limit: Some(limit),
            ..Conn::new(stream)
        }
    }

    /// Send one request and read its response.
    pub fn exchange(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        self.deadline = self.limit.map(|l| std::time::Instant::now() + l);
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" || !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.stream
            .write_all(&bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| HttpError::Io(e.to_string()))?;
        self.read_response(method == "HEAD")
    }

    /// Read more bytes into the buffer; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, HttpError> {
        if let (Some(deadline), Some(limit)) = (self.deadline, self.limit)
            && std::time::Instant::now() > deadline
        {
            return Err(HttpError::Io(format!(
                "no complete response within {}",
                crate::fetch::show_duration(limit)
            )));
        }
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                Ok(true)
            }
            // A TLS peer that hangs up without close_notify: the end, as for TCP.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(HttpError::Io(e.to_string())),
        }
    }

    fn read_response(&mut self, head_only: bool) -> Result<Response, HttpError> {
        let end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::TooLarge {
                    what: "a response head",
                    limit: MAX_HEAD,
                });
            }
            if !self.fill()? {
                return Err(HttpError::Closed);
            }
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let mut response = parse_head(&head)?;
        let no_body =
            head_only || response.status / 100 == 1 || matches!(response.status, 204 | 304);
        if no_body {
            return Ok(response);
        }
        let chunked = response
            .all("Transfer-Encoding")
            .any(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            response.body = self.chunked()?;
        } else if let Some(len) = response.header("Content-Length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| HttpError::Malformed(format!("Content-Length {len:?}")))?;
            if len > MAX_BODY {
                return Err(HttpError::TooLarge {
                    what: "a response body",
                    limit: MAX_BODY,
                });
            }
            while self.buf.len() < len {
                if !self.fill()? {
                    return Err(HttpError::Closed);
                }
            }
            response.body = self.buf.drain(..len).collect();
        } else {
            // Delimited by the end of the connection.
            while self.fill()? {
                if self.buf.len() > MAX_BODY {
                    return Err(HttpError::TooLarge {
                        what: "a response body",
                        limit: MAX_BODY,
                    });
                }
            }
            response.body = std::mem::take(&mut self.buf);
            response.closes = true;
        }
        Ok(response)
    }

    /// A chunked body (RFC 9112 7.1), trailers read and dropped.
    fn chunked(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailer fields up to the empty line.
                while !self.line()?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > MAX_BODY {
                return Err(HttpError::TooLarge {
                    what: "a response body",
                    limit: MAX_BODY,
                });
            }
            while self.buf.len() < size + 2 {
                if !self.fill()? {
                    return Err(HttpError::Closed);
                }
            }
            body.extend(self.buf.drain(..size));
            if self.buf.drain(..2).as_slice() != b"\r\n" {
                return Err(HttpError::Malformed("a chunk not followed by CRLF".into()));
            }
        }
    }

    fn line(&mut self) -> Result<String, HttpError> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                return Ok(String::from_utf8_lossy(line.get(..pos).unwrap_or_default()).into());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::TooLarge {
                    what: "a chunk line",
                    limit: MAX_HEAD,
                });
            }
            if !self.fill()? {
                return Err(HttpError::Closed);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The status line and header fields of a response head (ending in an empty line).
pub fn parse_head(head: &[u8]) -> Result<Response, HttpError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| HttpError::Malformed("a response head that is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!(
            "status line {:?}",
            crate::text::cut(status_line, 80)
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| {
            HttpError::Malformed(format!(
                "status line {:?}",
                crate::text::cut(status_line, 80)
            ))
        })?;
    let reason = crate::text::cut(parts.next().unwrap_or_default(), 80);
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            return Err(HttpError::Malformed(format!(
                "header line {:?}",
                crate::text::cut(line, 80)
            )));
        };
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::TooLarge {
                what: "a response head with more than 100 fields,",
                limit: MAX_HEAD,
            });
        }
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let closes = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("Connection") && v.eq_ignore_ascii_case("close"))
        || version == "HTTP/1.0";
    Ok(Response {
        status,
        reason,
        headers,
        body: Vec::new(),
        closes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte stream: reads from `input`, writes into `output`.
    struct Pipe {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // One byte at a time: every boundary is exercised.
            let n = buf.len().min(1);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn conn(input: &str) -> Conn<Pipe> {
        Conn::new(Pipe {
            input: std::io::Cursor::new(input.as_bytes().to_vec()),
            output: Vec::new(),
        })
    }

    #[test]
    fn two_responses_on_one_connection() {
        let mut c = conn(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc\
             HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n",
        );
        let r = c.exchange("POST", "h", "/a", &[], b"body").unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.all("www-authenticate").count(), 2);
        assert_eq!(r.body, b"abc");
        let r = c.exchange("POST", "h", "/a", &[], b"").unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, b"wikipedia".as_slice())
        );
        let sent = String::from_utf8(c.stream.output).unwrap();
        assert!(sent.starts_with("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"));
    }

    /// A server that drips its answer, each byte within any read timeout.
    struct Drip(Pipe);

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(std::time::Duration::from_millis(5));
            self.0.read(buf)
        }
    }

    impl Write for Drip {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dripping_server_is_cut_off() {
        let body = "x".repeat(100);
        let text = format!("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{body}");
        let pipe = Pipe {
            input: std::io::Cursor::new(text.into_bytes()),
            output: Vec::new(),
        };
        let mut c = Conn::with_limit(Drip(pipe), std::time::Duration::from_millis(100));
        assert_eq!(
            c.exchange("GET", "h", "/", &[], b""),
            Err(HttpError::Io("no complete response within 100ms".into()))
        );
    }

    #[test]
    fn bounded_and_strict() {
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(matches!(
            conn(&big).exchange("GET", "h", "/", &[], b""),
            Err(HttpError::TooLarge { .. })
        ));
        assert_eq!(
            conn("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab").exchange(
                "GET",
                "h",
                "/",
                &[],
                b""
            ),
            Err(HttpError::Closed)
        );
        assert!(matches!(
            conn("SSH-2.0-OpenSSH\r\n\r\n").exchange("GET", "h", "/", &[], b""),
            Err(HttpError::Malformed(_))
        ));
        let r = conn("HTTP/1.0 302 Found\r\nLocation: https://x/\r\n\r\nmoved")
            .exchange("GET", "h", "/", &[], b"")
            .unwrap();
        assert_eq!(
            (r.status, r.closes, r.body.as_slice()),
            (302, true, b"moved".as_slice())
        );
    }
}
