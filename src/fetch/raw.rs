//! The raw TLS 1.0–1.2 engine.
//!
//! Why it exists: the servers this tool is for (Exchange 2010 on Windows 2008 R2, old
//! Schannel) speak only TLS 1.0, or TLS 1.2 with RSA key exchange and CBC suites.
//! OpenSSL 3 refuses those without SECLEVEL=0 and rustls refuses them outright. But in
//! TLS ≤ 1.2 the server's Certificate message travels in plaintext before any key
//! exchange, so we send our own ClientHello offering every legacy suite, read the
//! server's first flight up to the Certificate message, and hang up. We never complete
//! a handshake, so we need no cipher at all.
//!
//! tls-parser parses single messages only; a Certificate message over 16 KiB spans
//! records, so the record framing and handshake reassembly are ours, with hard caps on
//! record size, flight size and chain length so a hostile server cannot make us
//! allocate more than [`MAX_FLIGHT`] plus one record.

use std::time::Duration;

use tls_parser::{TlsCipherSuiteID, TlsMessage, TlsMessageHandshake, parse_tls_message_handshake};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::Stage;

/// The most handshake bytes we buffer before giving up. Real chains are a few KiB; the
/// 21-certificate test chain is about 24 KiB.
pub const MAX_FLIGHT: usize = 256 * 1024;
/// Longest record payload accepted: 2^14 plus the expansion RFC 5246 allows for
/// compressed/encrypted records, which a plaintext handshake never needs.
pub const MAX_RECORD: usize = 16384 + 2048;
/// Most certificates accepted in one chain.
pub const MAX_CERTS: usize = 32;

/// What the engine returns: the version and suite the server chose, and the DER chain
/// exactly as sent (leaf first).
#[derive(Debug, Clone)]
pub struct RawCapture {
    pub version: u16,
    pub cipher: u16,
    pub chain: Vec<Vec<u8>>,
}

/// An engine failure: the stage (which decides whether to fall back) and a message.
pub type Step<T> = Result<T, (Stage, String)>;

/// Suites offered, modern first so that a current server picks what it would pick for
/// a browser, then everything old Schannel may be limited to: ECDHE/DHE-CBC, RSA key
/// exchange (GCM and CBC), 3DES and RC4, then the renegotiation SCSV.
const CIPHERS: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0xc023, 0xc027,
    0xc024, 0xc028, 0x009e, 0x009f, 0x0033, 0x0039, 0x0067, 0x006b, 0x009c, 0x009d, 0x002f, 0x0035,
    0x003c, 0x003d, 0x000a, 0x0016, 0xc012, 0xc008, 0x0005, 0x0004, 0xc011, 0xc007, 0x00ff,
];
/// x25519, P-256, P-384, P-521.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019];
/// ECDSA and RSA with SHA-2, RSA-PSS, and the SHA-1 forms old servers need.
const SIGALGS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203,
];

/// Build a ClientHello record offering TLS 1.0 to 1.2 (record version 0x0301 because
/// some old stacks reject a higher one there; client_version 0x0303).
pub fn client_hello(sni: Option<&str>, random: &[u8; 32]) -> Vec<u8> {
    fn u16s(out: &mut Vec<u8>, v: &[u16]) {
        push_u16(out, (v.len() * 2) as u16);
        for x in v {
            push_u16(out, *x);
        }
    }
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.as_bytes();
        push_u16(&mut ext, 0x0000);
        push_u16(&mut ext, (n.len() + 5) as u16);
        push_u16(&mut ext, (n.len() + 3) as u16);
        ext.push(0); // host_name
        push_u16(&mut ext, n.len() as u16);
        ext.extend_from_slice(n);
    }
    push_u16(&mut ext, 0x000a);
    push_u16(&mut ext, (GROUPS.len() * 2 + 2) as u16);
    u16s(&mut ext, GROUPS);
    push_u16(&mut ext, 0x000b);
    ext.extend_from_slice(&[0, 2, 1, 0]); // ec_point_formats: uncompressed
    push_u16(&mut ext, 0x000d);
    push_u16(&mut ext, (SIGALGS.len() * 2 + 2) as u16);
    u16s(&mut ext, SIGALGS);

    let mut body = Vec::with_capacity(256);
    push_u16(&mut body, 0x0303);
    body.extend_from_slice(random);
    body.push(0); // no session id: we never resume
    u16s(&mut body, CIPHERS);
    body.extend_from_slice(&[1, 0]); // compression: null
    push_u16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);

    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(&[22, 3, 1]);
    push_u16(&mut out, (body.len() + 4) as u16);
    out.push(1);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&body);
    out
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Check a record header; returns (content type, payload length).
fn check_header(h: &[u8; 5], first: bool) -> Step<(u8, usize)> {
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    if !(20..=24).contains(&h[0]) || h[1] != 3 {
        let detail = if first {
            "the server's reply is not TLS"
        } else {
            "the server sent a malformed TLS record"
        };
        return Err((Stage::NotTls, detail.to_string()));
    }
    if len > MAX_RECORD {
        return Err((
            Stage::Tls,
            format!("the server sent a {len}-byte TLS record (the limit is {MAX_RECORD})"),
        ));
    }
    Ok((h[0], len))
}

/// Reassembles the server's flight and stops at the Certificate message.
#[derive(Default)]
pub struct Flight {
    handshake: Vec<u8>,
    hello: Option<(u16, u16)>,
    total: usize,
}

impl Flight {
    /// Feed one record's payload. `Ok(Some(_))` once the Certificate message is complete.
    pub fn record(&mut self, content_type: u8, payload: &[u8]) -> Step<Option<RawCapture>> {
        self.total += payload.len();
        if self.total > MAX_FLIGHT {
            return Err((
                Stage::Tls,
                format!(
                    "the server's handshake exceeded {MAX_FLIGHT} bytes without a complete Certificate message"
                ),
            ));
        }
        match content_type {
            21 => Err(alert(payload)),
            22 => {
                self.handshake.extend_from_slice(payload);
                self.messages()
            }
            20 => Err((
                Stage::Tls,
                "the server sent ChangeCipherSpec before any certificate".into(),
            )),
            _ => Err((
                Stage::Tls,
                format!("the server sent a record of type {content_type} before any certificate"),
            )),
        }
    }

    fn messages(&mut self) -> Step<Option<RawCapture>> {
        loop {
            let Some(head) = self.handshake.get(..4) else {
                return Ok(None);
            };
            let kind = head[0];
            let len = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
            if len > MAX_FLIGHT {
                return Err((
                    Stage::Tls,
                    format!(
                        "the server announced a {len}-byte handshake message (type {kind}); the limit is {MAX_FLIGHT}"
                    ),
                ));
            }
            match (self.hello.is_some(), kind) {
                (false, 2) | (true, 11) => {}
                (false, _) => {
                    return Err((
                        Stage::Tls,
                        format!("expected ServerHello, got handshake message type {kind}"),
                    ));
                }
                (true, 14 | 12) => {
                    return Err((
                        Stage::Tls,
                        "the server chose an anonymous suite and sent no certificate".into(),
                    ));
                }
                (true, _) => {
                    return Err((
                        Stage::Tls,
                        format!(
                            "expected the Certificate message, got handshake message type {kind}"
                        ),
                    ));
                }
            }
            let Some(msg) = self.handshake.get(..4 + len) else {
                return Ok(None);
            };
            let parsed = match parse_tls_message_handshake(msg) {
                Ok((_, TlsMessage::Handshake(m))) => m,
                _ => {
                    return Err((
                        Stage::Tls,
                        format!("the server's handshake message type {kind} is malformed"),
                    ));
                }
            };
            match parsed {
                TlsMessageHandshake::ServerHello(sh) => {
                    let v = sh.version.0;
                    if !(0x0300..=0x0303).contains(&v) {
                        return Err((
                            Stage::Tls,
                            format!("the server chose an unknown protocol version 0x{v:04X}"),
                        ));
                    }
                    self.hello = Some((v, sh.cipher.0));
                }
                TlsMessageHandshake::Certificate(c) => {
                    let (version, cipher) = self.hello.unwrap_or_default();
                    let listed: usize = c.cert_chain.iter().map(|x| x.data.len() + 3).sum();
                    if listed + 3 != len {
                        return Err((
                            Stage::Tls,
                            "the server's Certificate message is truncated or has trailing bytes"
                                .into(),
                        ));
                    }
                    if c.cert_chain.is_empty() {
                        return Err((
                            Stage::Tls,
                            "the server sent an empty certificate chain".into(),
                        ));
                    }
                    if c.cert_chain.len() > MAX_CERTS {
                        return Err((
                            Stage::Tls,
                            format!(
                                "the server sent {} certificates; the limit is {MAX_CERTS}",
                                c.cert_chain.len()
                            ),
                        ));
                    }
                    let chain = c.cert_chain.iter().map(|x| x.data.to_vec()).collect();
                    return Ok(Some(RawCapture {
                        version,
                        cipher,
                        chain,
                    }));
                }
                _ => {
                    return Err((
                        Stage::Tls,
                        format!("the server's handshake message type {kind} is malformed"),
                    ));
                }
            }
            self.handshake.drain(..4 + len);
        }
    }
}

/// An alert from the server. The ones a TLS 1.3-only (or suite-less) server sends make
/// the caller retry with rustls.
fn alert(payload: &[u8]) -> (Stage, String) {
    let Some(&desc) = payload.get(1) else {
        return (Stage::Tls, "the server sent a malformed alert".into());
    };
    let name = match desc {
        0 => "close_notify",
        10 => "unexpected_message",
        40 => "handshake_failure",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        112 => "unrecognized_name",
        _ => "alert",
    };
    let stage = if matches!(desc, 40 | 47 | 70 | 71) {
        Stage::Refused
    } else {
        Stage::Tls
    };
    (
        stage,
        format!("the server refused TLS 1.0-1.2 with alert {name} ({desc})"),
    )
}

/// Parse a whole server flight held in memory (used by the fuzz target and tests; the
/// network path feeds the same [`Flight`] record by record).
pub fn parse_server_flight(mut bytes: &[u8]) -> Step<RawCapture> {
    let mut flight = Flight::default();
    let mut first = true;
    loop {
        let Some(h) = bytes.get(..5) else {
            return Err((
                Stage::Closed,
                "the flight ended before the Certificate message".into(),
            ));
        };
        let mut head = [0u8; 5];
        head.copy_from_slice(h);
        let (ct, len) = check_header(&head, first)?;
        first = false;
        let Some(payload) = bytes.get(5..5 + len) else {
            return Err((Stage::Closed, "the flight ended inside a record".into()));
        };
        if let Some(c) = flight.record(ct, payload)? {
            return Ok(c);
        }
        bytes = &bytes[5 + len..];
    }
}

/// Send the ClientHello and read until the Certificate message.
pub async fn grab<S>(
    stream: &mut BufReader<S>,
    sni: Option<&str>,
    random: &[u8; 32],
) -> Step<RawCapture>
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin,
{
    let hello = client_hello(sni, random);
    stream.get_mut().write_all(&hello).await.map_err(|e| {
        (
            Stage::Refused,
            format!("sending the ClientHello failed: {e}"),
        )
    })?;
    let mut flight = Flight::default();
    let mut payload = Vec::new();
    let mut received = 0usize;
    loop {
        let mut head = [0u8; 5];
        if let Err(e) = stream.read_exact(&mut head).await {
            return Err(closed(e, received));
        }
        let first = received == 0;
        let (ct, len) = match check_header(&head, first) {
            Ok(x) => x,
            Err((Stage::NotTls, detail)) if first => {
                // Show what came instead, which tells "wrong port" or "needs STARTTLS" apart.
                // Briefly: a server that sent a few bytes and went quiet must not turn
                // this clear diagnosis into a timeout.
                let mut seen = head.to_vec();
                let peek = tokio::time::timeout(Duration::from_millis(200), stream.fill_buf());
                if let Ok(Ok(more)) = peek.await {
                    seen.extend_from_slice(&more[..more.len().min(59)]);
                }
                return Err((
                    Stage::NotTls,
                    format!("{detail}; it began with {}", super::show_bytes(&seen)),
                ));
            }
            Err(e) => return Err(e),
        };
        payload.resize(len, 0);
        if let Err(e) = stream.read_exact(&mut payload).await {
            return Err(closed(e, received + 5));
        }
        received += 5 + len;
        if let Some(c) = flight.record(ct, &payload)? {
            // A polite end to the handshake we will never finish: user_canceled, so the
            // server logs a cancel rather than a protocol error. Failure here is harmless.
            // The record version must be the negotiated one or OpenSSL calls it garbage.
            let [major, minor] = c.version.to_be_bytes();
            let _ = stream
                .get_mut()
                .write_all(&[21, major, minor, 0, 2, 1, 90])
                .await;
            let _ = stream.get_mut().shutdown().await;
            return Ok(c);
        }
    }
}

fn closed(e: std::io::Error, received: usize) -> (Stage, String) {
    use std::io::ErrorKind::*;
    match (e.kind(), received) {
        // Some stacks reset a connection on a hello they do not like instead of alerting.
        (UnexpectedEof | ConnectionReset, 0) => (
            Stage::Refused,
            "the server closed the connection right after our ClientHello".into(),
        ),
        (UnexpectedEof | ConnectionReset, n) => (
            Stage::Closed,
            format!("the server closed the connection after {n} bytes, before its certificate"),
        ),
        _ => (
            Stage::Tls,
            format!("reading the server's handshake failed: {e}"),
        ),
    }
}

/// "TLS 1.2" etc.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04X}"),
    }
}

/// The IANA name of a suite, e.g. `TLS_RSA_WITH_AES_128_CBC_SHA`.
pub fn cipher_name(c: u16) -> String {
    TlsCipherSuiteID(c)
        .get_ciphersuite()
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| format!("0x{c:04X}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ct: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 3, 3];
        r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    }

    fn hs(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    fn server_hello() -> Vec<u8> {
        let mut b = vec![3, 1];
        b.extend_from_slice(&[7; 32]);
        b.push(0);
        b.extend_from_slice(&[0x00, 0x2f, 0]);
        hs(2, &b)
    }

    fn certificate(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        hs(11, &body)
    }

    #[test]
    fn hello_parses_with_tls_parser() {
        let h = client_hello(Some("mail.contoso.com"), &[0; 32]);
        let (_, rec) = tls_parser::parse_tls_plaintext(&h).unwrap();
        match &rec.msg[0] {
            TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => {
                assert_eq!(ch.version.0, 0x0303);
                assert_eq!(ch.ciphers.len(), CIPHERS.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reassembles_a_certificate_across_records() {
        let cert = vec![0x30; 20000];
        let mut hsbytes = server_hello();
        hsbytes.extend(certificate(&[&cert, b"abc"]));
        let mut flight = Vec::new();
        for chunk in hsbytes.chunks(16384) {
            flight.extend(record(22, chunk));
        }
        let c = parse_server_flight(&flight).unwrap();
        assert_eq!((c.version, c.cipher), (0x0301, 0x002f));
        assert_eq!(c.chain.len(), 2);
        assert_eq!(c.chain[0].len(), 20000);
    }

    #[test]
    fn hostile_flights_fail_cleanly() {
        // plaintext HTTP
        let e = parse_server_flight(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap_err();
        assert_eq!(e.0, Stage::NotTls);
        // a 65535-byte record
        let mut big = vec![22, 3, 3, 0xff, 0xff];
        big.resize(5 + 65535, 0);
        assert!(
            parse_server_flight(&big)
                .unwrap_err()
                .1
                .contains("65535-byte")
        );
        // unknown handshake messages instead of a ServerHello
        let e = parse_server_flight(&record(22, &hs(23, &[0; 100]))).unwrap_err();
        assert!(e.1.contains("expected ServerHello"));
        // a Certificate message that announces 16 MiB
        let mut f = record(22, &server_hello());
        f.extend(record(22, &[11, 0xff, 0xff, 0xff]));
        assert!(parse_server_flight(&f).unwrap_err().1.contains("limit"));
        // too many certificates
        let many: Vec<&[u8]> = vec![b"x"; MAX_CERTS + 1];
        let mut hsb = server_hello();
        hsb.extend(certificate(&many));
        assert!(
            parse_server_flight(&record(22, &hsb))
                .unwrap_err()
                .1
                .contains("limit")
        );
        // protocol_version alert -> fall back
        let e = parse_server_flight(&record(21, &[2, 70])).unwrap_err();
        assert_eq!(e.0, Stage::Refused);
        // truncated
        let e = parse_server_flight(&record(22, &server_hello())).unwrap_err();
        assert_eq!(e.0, Stage::Closed);
        // empty chain
        let mut hsb = server_hello();
        hsb.extend(certificate(&[]));
        assert!(parse_server_flight(&record(22, &hsb)).is_err());
    }

    #[test]
    fn endless_messages_hit_the_cap() {
        let mut flight = Flight::default();
        let mut sh = server_hello();
        // A Certificate message announced at just under the cap, then never finished.
        sh.extend_from_slice(&[11, 0x03, 0xff, 0x00]);
        assert!(flight.record(22, &sh).unwrap().is_none());
        let chunk = vec![0u8; 16384];
        let mut err = None;
        for _ in 0..100 {
            match flight.record(22, &chunk) {
                Ok(None) => {}
                Ok(Some(_)) => panic!("captured garbage"),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert!(err.unwrap().1.contains("exceeded"));
    }
}
