//! The plaintext dialogues that switch SMTP, IMAP and POP3 to TLS
//! (docs/spec/fetching.md §2), and the bounded line reader they share with the HTTP CONNECT
//! proxy client.
//!
//! Lines are read through the connection's `BufReader`, so nothing the server sends
//! after its last line is lost: the TLS engines read from the same buffer.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::Stage;
use super::raw::Step;
use super::target::Starttls;

/// Longest line accepted from a server.
const MAX_LINE: usize = 4096;
/// Most lines accepted in one dialogue (multi-line EHLO replies, IMAP untagged lines).
const MAX_LINES: usize = 100;

/// Read one line (without CRLF), at most [`MAX_LINE`] bytes.
pub async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
    stage: Stage,
) -> Step<String> {
    let mut line = Vec::new();
    loop {
        let buf = stream
            .fill_buf()
            .await
            .map_err(|e| (stage, format!("reading from the server failed: {e}")))?;
        if buf.is_empty() {
            return Err((
                stage,
                if line.is_empty() {
                    "the server closed the connection".to_string()
                } else {
                    format!(
                        "the server closed the connection mid-line: {}",
                        super::show_text(&line)
                    )
                },
            ));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        stream.consume(take);
        if line.len() > MAX_LINE {
            return Err((
                stage,
                format!("the server sent a line longer than {MAX_LINE} bytes"),
            ));
        }
        if done {
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
) -> Step<()> {
    stream
        .get_mut()
        .write_all(line.as_bytes())
        .await
        .map_err(|e| {
            (
                Stage::Starttls,
                format!("sending {:?} failed: {e}", line.trim_end()),
            )
        })
}

/// An SMTP reply: the code and the text of every line.
async fn smtp_reply<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
) -> Step<(String, Vec<String>)> {
    let mut lines = Vec::new();
    for _ in 0..MAX_LINES {
        let line = read_line(stream, Stage::Starttls).await?;
        let (Some(code), sep) = (line.get(..3), line.as_bytes().get(3)) else {
            return Err((
                Stage::Starttls,
                format!("not an SMTP reply: {}", super::show_text(line.as_bytes())),
            ));
        };
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err((
                Stage::Starttls,
                format!("not an SMTP reply: {}", super::show_text(line.as_bytes())),
            ));
        }
        let code = code.to_string();
        lines.push(line.get(4..).unwrap_or_default().to_string());
        if sep != Some(&b'-') {
            return Ok((code, lines));
        }
    }
    Err((
        Stage::Starttls,
        format!("SMTP reply longer than {MAX_LINES} lines"),
    ))
}

/// Run the dialogue; on success the next bytes on the wire are the TLS handshake.
pub async fn negotiate<S>(stream: &mut BufReader<S>, kind: Starttls) -> Step<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let refused = |what: &str, line: &str| {
        (
            Stage::Starttls,
            format!("{what}: {}", super::show_text(line.as_bytes())),
        )
    };
    match kind {
        Starttls::Smtp => {
            let (code, lines) = smtp_reply(stream).await?;
            if code != "220" {
                return Err(refused(
                    "SMTP greeting refused",
                    &format!("{code} {}", lines.join(" ")),
                ));
            }
            send(stream, "EHLO certgpo.invalid\r\n").await?;
            let (code, lines) = smtp_reply(stream).await?;
            if code != "250" {
                return Err(refused(
                    "EHLO refused",
                    &format!("{code} {}", lines.join(" ")),
                ));
            }
            if !lines
                .iter()
                .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"))
            {
                return Err((
                    Stage::Starttls,
                    "the SMTP server does not offer STARTTLS (on Exchange: no certificate matches the receive connector's FQDN, or TLS is off on the connector)".into(),
                ));
            }
            send(stream, "STARTTLS\r\n").await?;
            let (code, lines) = smtp_reply(stream).await?;
            if code != "220" {
                return Err(refused(
                    "STARTTLS refused",
                    &format!("{code} {}", lines.join(" ")),
                ));
            }
        }
        Starttls::Imap => {
            let greeting = read_line(stream, Stage::Starttls).await?;
            if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
                return Err(refused("not an IMAP greeting", &greeting));
            }
            send(stream, "a1 STARTTLS\r\n").await?;
            for _ in 0..MAX_LINES {
                let line = read_line(stream, Stage::Starttls).await?;
                if line.starts_with("* ") {
                    continue;
                }
                if line.starts_with("a1 OK") {
                    return Ok(());
                }
                return Err(refused("STARTTLS refused", &line));
            }
            return Err((
                Stage::Starttls,
                format!("no answer to STARTTLS within {MAX_LINES} lines"),
            ));
        }
        Starttls::Pop3 => {
            let greeting = read_line(stream, Stage::Starttls).await?;
            if !greeting.starts_with("+OK") {
                return Err(refused("not a POP3 greeting", &greeting));
            }
            send(stream, "STLS\r\n").await?;
            let line = read_line(stream, Stage::Starttls).await?;
            if !line.starts_with("+OK") {
                return Err(refused("STLS refused", &line));
            }
        }
    }
    Ok(())
}
