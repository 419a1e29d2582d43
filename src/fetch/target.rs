//! TARGET parsing: `host`, `host:port`, `[v6]:port` and `scheme://host[:port][/path]`
//! for the services an Exchange server runs.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::FetchError;

/// The plaintext dialogue to run before the TLS ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Starttls {
    Smtp,
    Imap,
    Pop3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// One endpoint to fetch from, as the user named it plus what we derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Exactly what the user typed, for messages.
    pub input: String,
    pub scheme: &'static str,
    pub host: Host,
    pub port: u16,
    pub starttls: Option<Starttls>,
}

/// scheme, default port, STARTTLS dialogue.
const SCHEMES: &[(&str, u16, Option<Starttls>)] = &[
    ("https", 443, None),
    ("smtp", 25, Some(Starttls::Smtp)),
    ("submission", 587, Some(Starttls::Smtp)),
    ("smtps", 465, None),
    ("imap", 143, Some(Starttls::Imap)),
    ("imaps", 993, None),
    ("pop3", 110, Some(Starttls::Pop3)),
    ("pop3s", 995, None),
];

/// Why a port number is refused, in the same words wherever a port is given.
pub const PORT_RANGE: &str = "port must be a number from 1 to 65535";

/// Each scheme with its default port (`https 443, smtp 25, ...`), for hints.
pub fn default_ports() -> String {
    SCHEMES
        .iter()
        .map(|(name, port, _)| format!("{name} {port}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Target {
    pub fn parse(input: &str) -> Result<Target, FetchError> {
        let bad = |reason: &str| FetchError::BadTarget {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) => {
                let lower = s.to_ascii_lowercase();
                let Some(&(name, _, _)) = SCHEMES.iter().find(|(n, _, _)| *n == lower) else {
                    return Err(bad(
                        "unknown scheme; use https, smtp, submission, smtps, imap, imaps, pop3 or pop3s",
                    ));
                };
                (name, rest)
            }
            None => ("https", text),
        };
        let Some(&(_, default_port, starttls)) = SCHEMES.iter().find(|(n, _, _)| *n == scheme)
        else {
            return Err(bad("unknown scheme"));
        };
        // Everything after the authority (an Autodiscover URL path, a query) is irrelevant
        // to which certificate the server presents.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad("user names in targets are not supported"));
        }
        let (host, port) = split_host_port(authority).map_err(|r| bad(&r))?;
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(bad(PORT_RANGE)),
            },
        };
        let host = parse_host(host).map_err(|r| bad(&r))?;
        Ok(Target {
            input: input.to_string(),
            scheme,
            host,
            port,
            starttls,
        })
    }

    /// The host without brackets, for DNS lookups and HTTP CONNECT's Host.
    pub fn host_str(&self) -> String {
        match &self.host {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    /// `host:port`, with brackets around an IPv6 literal.
    pub fn authority(&self) -> String {
        match &self.host {
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ => format!("{}:{}", self.host_str(), self.port),
        }
    }

    /// The normalised form used in reports and lock files: `scheme://host:port`.
    pub fn canonical(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }

    /// A file-name stem that is safe on every OS whatever the user typed: only
    /// `[A-Za-z0-9.-]` plus `_` separators, never a Windows device name (it always
    /// starts with the scheme), and bounded in length.
    pub fn file_stem(&self) -> String {
        let host: String = self
            .host_str()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        format!("{}_{}_{}", self.scheme, host, self.port)
    }

    /// The name the certificate should cover (the SNI, else the host).
    pub fn dns_name(&self) -> Option<&str> {
        match &self.host {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }
}

/// Split `host[:port]` / `[v6][:port]` / a bare IPv6 literal.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("missing ']' after the IPv6 address".into());
        };
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, Some(p))),
                None => Err("unexpected text after ']'".into()),
            },
        };
    }
    if authority.matches(':').count() > 1 {
        // An IPv6 literal without brackets cannot carry a port.
        return Ok((authority, None));
    }
    match authority.split_once(':') {
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((authority, None)),
    }
}

fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("no host name".into());
    }
    // One address, one spelling: an IPv4-mapped IPv6 address is the IPv4 address
    // (RFC 4291, 2.5.5.2), so that the lock file knows it under one key.
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Host::Ip(ip.to_canonical()));
    }
    if host.contains(':') {
        return Err("not a valid IPv6 address".into());
    }
    let name = host.trim_end_matches('.');
    if let Some(v4) = ipv4_numbers(name)? {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    if name.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    if !name.is_ascii() {
        return Err("host name is not ASCII; give the punycode (xn--) form".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("host name has an empty or over-long label".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("host name may hold only letters, digits, '-', '_' and '.'".into());
        }
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// A host name that ends in a number is an IPv4 address written in one to four
/// decimal, octal (leading 0) or hexadecimal (0x) parts: `127.000.000.001`,
/// `2130706433` and `0x7f.1` are all 127.0.0.1. The WHATWG URL Standard's IPv4 parser
/// (<https://url.spec.whatwg.org/#concept-ipv4-parser>), which matches what inet_aton(3)
/// and so getaddrinfo do with such a name before any DNS lookup. `None` for a DNS name.
fn ipv4_numbers(name: &str) -> Result<Option<Ipv4Addr>, String> {
    let parts: Vec<&str> = name.split('.').collect();
    let last = parts.last().copied().unwrap_or_default();
    let ends_in_number = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit()) || ipv4_number(last).is_some());
    if !ends_in_number {
        return Ok(None);
    }
    let bad = || "ends in a number but is not an IPv4 address".to_string();
    let numbers: Vec<u64> = parts
        .iter()
        .map(|p| ipv4_number(p))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let Some((&last, init)) = numbers.split_last() else {
        return Err(bad());
    };
    // Each leading part is one byte; the last fills the bytes that remain.
    if numbers.len() > 4 || init.iter().any(|n| *n > 255) || last >= 1 << (8 * (5 - numbers.len()))
    {
        return Err(bad());
    }
    let mut address = last;
    for (i, n) in init.iter().enumerate() {
        address += n << (8 * (3 - i));
    }
    u32::try_from(address)
        .map(|a| Some(Ipv4Addr::from(a)))
        .map_err(|_| bad())
}

/// One part of [`ipv4_numbers`]: decimal, 0-prefixed octal or 0x-prefixed hex.
fn ipv4_number(part: &str) -> Option<u64> {
    let (radix, digits) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (16, hex)
        } else if part.len() > 1 && part.starts_with('0') {
            (8, &part[1..])
        } else {
            (10, part)
        };
    if part.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Target {
        Target::parse(s).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(
            t("mail.contoso.com").canonical(),
            "https://mail.contoso.com:443"
        );
        assert_eq!(t("mail.contoso.com:8443").port, 8443);
        assert_eq!(
            t("https://Mail.Contoso.com/Autodiscover/Autodiscover.xml").canonical(),
            "https://mail.contoso.com:443"
        );
        let s = t("smtp://mail.contoso.com");
        assert_eq!((s.port, s.starttls), (25, Some(Starttls::Smtp)));
        assert_eq!(t("submission://m").port, 587);
        assert_eq!(t("smtps://m").starttls, None);
        assert_eq!(t("imap://m").starttls, Some(Starttls::Imap));
        assert_eq!(t("imaps://m").port, 993);
        assert_eq!(t("pop3://m").port, 110);
        assert_eq!(t("pop3s://m").port, 995);
        assert_eq!(t("127.0.0.1:10443").authority(), "127.0.0.1:10443");
        assert_eq!(t("[::1]:8443").authority(), "[::1]:8443");
        assert_eq!(t("imaps://[::1]").authority(), "[::1]:993");
        assert_eq!(t("::1").port, 443);
        assert_eq!(t("127.0.0.1").dns_name(), None);
    }

    #[test]
    fn one_address_one_spelling() {
        for same in [
            "127.0.0.1:19500",
            "127.000.000.001:19500",
            "2130706433:19500",
            "0x7f.1:19500",
            "127.1:19500",
            "[::ffff:127.0.0.1]:19500",
            "https://127.0.0.1.:19500/x",
        ] {
            assert_eq!(t(same).canonical(), "https://127.0.0.1:19500", "{same}");
            assert_eq!(t(same).dns_name(), None, "{same}");
        }
        // Octal, as inet_aton reads it.
        assert_eq!(t("010.0.0.1").host_str(), "8.0.0.1");
        assert_eq!(t("mail.contoso.com").dns_name(), Some("mail.contoso.com"));
        assert_eq!(t("0xmail.com").dns_name(), Some("0xmail.com"));
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "ftp://x",
            "x:0",
            "x:70000",
            "x:abc",
            "[::1",
            "[::1]x",
            "a..b",
            "bad name",
            "user@host",
            "héllo.com",
            "https://",
            "256.1.1.1",
            "1.2.3.4.5",
            "09.1.1.1",
            "4294967296",
            "1.2.65536",
            "host.123",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(t("[::1]:993").file_stem(), "https___1_993");
        assert_eq!(t("smtp://con").file_stem(), "smtp_con_25");
        assert_eq!(t("x_y.example").file_stem(), "https_x_y.example_443");
    }
}
