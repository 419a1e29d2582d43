//! The hop engine: POST the request to each candidate in Outlook's order until one
//! answers (MS-OXDISCO 3.1.5), follow `redirectUrl` (HTTPS only) and `redirectAddr`
//! (start over with the new address) at most [`MAX_REDIRECTS`] times, refuse loops;
//! then capture the certificate of every host the settings name.
//!
//! Credentials go only over TLS, only to hosts of the allowed domains, and only to a
//! server whose certificate the clients trust, that is pinned, or that the admin
//! accepted for this run; the check comes before the first byte of HTTP.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;

use super::conn::{self, ConnError, Opened};
use super::http::{Conn, Response};
use super::pox::{self, Answer};
use super::{
    AuthMethod, AutodiscoverError, Candidate, CertInfo, Hop, Host, MAX_REDIRECTS, Options, Report,
    ntlm, verdict,
};
use crate::cert::Certificate;

type B64 = base64::engine::GeneralPurpose;
const BASE64: B64 = base64::engine::general_purpose::STANDARD;

/// What came of Kerberos under Negotiate.
enum Kerberos {
    /// It was used: the response, or `None` when the hop says why there is none.
    Done(Option<Response>),
    /// The server refused the ticket.
    Refused(String),
    /// No ticket to send (no cache, no KDC, no such principal, or no `kerberos` feature).
    Unavailable(String),
}

/// What became of one POST.
enum Step {
    Answer(Answer),
    /// No answer here: try the next candidate.
    Next,
}

struct Engine<'a> {
    opts: &'a Options,
    report: Report,
    on_hop: &'a dyn Fn(&Hop),
}

/// Run the exchange from `start` (Outlook's order); `scps` are the SCP candidates,
/// which a `redirectAddr` asks again next to the new domain's DNS candidates. The
/// report holds the path so far even when the exchange stopped with an error.
/// `on_hop` sees each attempt as it happens (the command shows them at once).
pub fn run(
    opts: &Options,
    start: Vec<Candidate>,
    scps: &[Candidate],
    on_hop: &dyn Fn(&Hop),
) -> (Report, Option<AutodiscoverError>) {
    let mut engine = Engine {
        opts,
        report: Report {
            email: opts.email.clone(),
            ..Report::default()
        },
        on_hop,
    };
    let result = engine.walk(start, scps);
    let error = match result {
        Ok(()) => None,
        Err(e) => {
            engine.report.stopped = Some(e.to_string());
            Some(e)
        }
    };
    (engine.report, error)
}

impl Engine<'_> {
    fn walk(&mut self, start: Vec<Candidate>, scps: &[Candidate]) -> Result<(), AutodiscoverError> {
        let mut address = self.opts.email.clone();
        let mut addresses: HashSet<String> = HashSet::from([address.to_ascii_lowercase()]);
        let mut asked: HashSet<(String, String)> = HashSet::new();
        let mut queue: VecDeque<Candidate> = start.into();
        let mut redirects = 0usize;
        let mut tried = 0usize;
        while let Some(c) = queue.pop_front() {
            if c.url.starts_with("http://") && c.source == "http-redirect" {
                if let Some(next) = self.http_redirect(&c, &address) {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(AutodiscoverError::TooManyRedirects { max: MAX_REDIRECTS });
                    }
                    queue.push_front(next);
                }
                continue;
            }
            let key = (address.to_ascii_lowercase(), c.url.to_ascii_lowercase());
            if !asked.insert(key) {
                if c.source == "redirect-url" {
                    return Err(AutodiscoverError::Loop {
                        url: c.url.clone(),
                        address: address.clone(),
                    });
                }
                continue;
            }
            tried += 1;
            let answer = match self.post(&c, &address)? {
                Step::Next => continue,
                Step::Answer(a) => a,
            };
            match answer {
                Answer::Settings {
                    display_name,
                    protocols,
                } => {
                    self.report.display_name = display_name;
                    self.report.protocols = protocols;
                    self.service_hosts();
                    return Ok(());
                }
                Answer::RedirectUrl { url } => {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(AutodiscoverError::TooManyRedirects { max: MAX_REDIRECTS });
                    }
                    if !url.to_ascii_lowercase().starts_with("https://") {
                        return Err(AutodiscoverError::PlainHttp { from: c.url, url });
                    }
                    if asked.contains(&(address.to_ascii_lowercase(), url.to_ascii_lowercase())) {
                        return Err(AutodiscoverError::Loop { url, address });
                    }
                    // Outlook goes where it is sent, and only there.
                    queue = VecDeque::from([Candidate {
                        url,
                        source: "redirect-url".into(),
                        address: None,
                    }]);
                }
                Answer::RedirectAddr { address: next } => {
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(AutodiscoverError::TooManyRedirects { max: MAX_REDIRECTS });
                    }
                    if !addresses.insert(next.to_ascii_lowercase()) {
                        return Err(AutodiscoverError::Loop {
                            url: c.url,
                            address: next,
                        });
                    }
                    let domain = super::email_domain(&next)?;
                    address = next;
                    queue = scps.iter().cloned().collect();
                    queue.extend(self.dns_candidates(&domain));
                }
                Answer::Error { .. } => {}
            }
        }
        Err(AutodiscoverError::NoAnswer { address, tried })
    }

    /// The DNS candidates of `domain` and its HTTP redirect method, in Outlook's order.
    fn dns_candidates(&mut self, domain: &str) -> Vec<Candidate> {
        match crate::discover::dns_candidates(domain, self.opts.dns_server, self.opts.timeout) {
            Ok((endpoints, warnings)) => {
                self.report.notes.extend(warnings);
                let found = crate::discover::Discovery {
                    endpoints,
                    ..Default::default()
                };
                super::candidates(&found, domain)
            }
            Err(e) => {
                self.report.notes.push(e.to_string());
                Vec::new()
            }
        }
    }

    fn record(&mut self, hop: Hop) {
        (self.on_hop)(&hop);
        self.report.hops.push(hop);
    }

    fn new_hop(&self, c: &Candidate, address: &str, method: &'static str) -> Hop {
        Hop {
            n: self.report.hops.len() + 1,
            address: address.to_string(),
            url: c.url.clone(),
            source: c.source.clone(),
            method,
            auth: None,
            auth_note: None,
            status: None,
            result: String::new(),
            redirect: None,
            protocol: None,
            certificate: None,
        }
    }

    fn resolve(&self, host: &str, port: u16, known: Option<IpAddr>) -> Result<SocketAddr, String> {
        if let Some(ip) = known.or_else(|| host.parse().ok()) {
            return Ok(SocketAddr::new(ip, port));
        }
        if let Some(server) = self.opts.dns_server {
            return match crate::discover::resolve_at(host, server, self.opts.timeout) {
                Ok(list) => list
                    .first()
                    .map(|ip| SocketAddr::new(*ip, port))
                    .ok_or_else(|| format!("{host} does not resolve at {server}")),
                Err(e) => Err(e.to_string()),
            };
        }
        use std::net::ToSocketAddrs;
        (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} does not resolve"))
    }

    fn in_domains(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.opts
            .domains
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
    }

    /// The HTTP redirect method: an unauthenticated GET on plain HTTP; a redirect to
    /// HTTPS becomes the next candidate, shown (as a hop) before it is followed.
    fn http_redirect(&mut self, c: &Candidate, address: &str) -> Option<Candidate> {
        let mut hop = self.new_hop(c, address, "GET");
        let Ok(url) = url::Url::parse(&c.url) else {
            return None;
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let outcome = self
            .resolve(&host, port, c.address)
            .and_then(|addr| conn::plain(addr, self.opts.timeout).map_err(|e| e.to_string()))
            .and_then(|opened| {
                Conn::with_limit(opened.stream, self.opts.timeout)
                    .exchange("GET", &authority(&host, port, 80), url.path(), &[], b"")
                    .map_err(|e| e.to_string())
            });
        let mut next = None;
        match outcome {
            Err(e) => hop.result = format!("unreachable: {e}"),
            Ok(r) => {
                hop.status = Some(r.status);
                let location = r.header("Location").map(str::to_string);
                match (r.status, location) {
                    (301 | 302 | 303 | 307 | 308, Some(target)) => {
                        hop.redirect = Some(target.clone());
                        if target.to_ascii_lowercase().starts_with("https://") {
                            hop.result = "redirect: followed to HTTPS, as Outlook does once the user allows it".into();
                            next = Some(Candidate {
                                url: target,
                                source: "http-redirect-target".into(),
                                address: None,
                            });
                        } else {
                            hop.result = "redirect to plain HTTP: not followed".into();
                        }
                    }
                    (status, _) => hop.result = format!("no redirect (HTTP {status})"),
                }
            }
        }
        self.record(hop);
        next
    }

    fn post(&mut self, c: &Candidate, address: &str) -> Result<Step, AutodiscoverError> {
        let mut hop = self.new_hop(c, address, "POST");
        let url = match url::Url::parse(&c.url) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => u,
            Ok(u) if u.scheme() == "http" => {
                hop.result = "plain HTTP: not asked".into();
                self.record(hop);
                return Err(AutodiscoverError::PlainHttp {
                    from: c.source.clone(),
                    url: c.url.clone(),
                });
            }
            _ => {
                hop.result = "not an https:// URL: skipped".into();
                self.record(hop);
                return Ok(Step::Next);
            }
        };
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        if !self.in_domains(&host) {
            hop.result = "not contacted: outside the allowed domains".into();
            self.record(hop);
            return Err(AutodiscoverError::OtherDomain {
                url: c.url.clone(),
                host,
                domains: self.opts.domains.join(", "),
            });
        }
        let addr = match self.resolve(&host, port, c.address) {
            Ok(a) => a,
            Err(e) => {
                hop.result = format!("unreachable: {e}");
                self.record(hop);
                return Ok(Step::Next);
            }
        };
        let from = format!("hop {} ({})", hop.n, c.source);
        let opened = match conn::tls(&host, addr, self.opts.timeout) {
            Ok(o) => o,
            Err(ConnError::LegacyOnly(detail)) => {
                // The exchange cannot go on, but the certificate can still be shown.
                self.capture_host(&host, port, addr, &from, &c.url);
                hop.result = "TLS 1.0/1.1 only: certificate captured, exchange not possible".into();
                self.record(hop);
                return Err(AutodiscoverError::LegacyTls {
                    url: c.url.clone(),
                    detail,
                });
            }
            Err(e) => {
                hop.result = format!("unreachable: {e}");
                self.record(hop);
                return Ok(Step::Next);
            }
        };
        hop.protocol = Some(opened.protocol.clone());
        let chain = parse_chain(&opened.chain);
        let judged = verdict::judge(&chain, &host, &self.opts.roots);
        let leaf = CertInfo::of(&chain);
        hop.certificate = leaf.as_ref().map(|l| l.thumbprint.clone());
        let pinned = chain
            .iter()
            .any(|cert| crate::fetch::pinned(cert, &self.opts.pins));
        let may_send = judged.trusted || pinned || self.opts.accept_untrusted;
        let summary = judged.summary();
        self.add_host(Host {
            name: host.clone(),
            port,
            from: vec![from],
            url: c.url.clone(),
            address: Some(addr.ip().to_string()),
            protocol: Some(opened.protocol.clone()),
            certificate: leaf.clone(),
            verdict: Some(judged),
            error: None,
        });
        if !may_send {
            hop.result = "stopped before any request: certificate not trusted".into();
            self.record(hop);
            return Err(AutodiscoverError::Untrusted {
                host,
                thumbprint: leaf.map(|l| l.thumbprint).unwrap_or_default(),
                verdict: summary,
            });
        }
        let leaf_sha = chain.first().map(|c| c.sha256);
        let mut session = Session {
            conn: Conn::with_limit(opened.stream, self.opts.timeout),
            host: host.clone(),
            port,
            addr,
            path: path_and_query(&url),
            body: pox::request(address).into_bytes(),
            timeout: self.opts.timeout,
            leaf: leaf_sha,
        };
        let result = self.authenticate(&mut session, &mut hop, &c.url);
        let response = match result {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.record(hop);
                return Ok(Step::Next);
            }
            Err(e) => {
                self.record(hop);
                return Err(e);
            }
        };
        hop.status = Some(response.status);
        if response.status != 200 {
            hop.result = format!("HTTP {} {}", response.status, response.reason);
            self.record(hop);
            return Ok(Step::Next);
        }
        match pox::parse(&response.body) {
            Ok(answer) => {
                hop.result = match &answer {
                    Answer::Settings { .. } => "settings".into(),
                    Answer::RedirectUrl { url } => {
                        hop.redirect = Some(url.clone());
                        "redirectUrl".into()
                    }
                    Answer::RedirectAddr { address } => {
                        hop.redirect = Some(address.clone());
                        "redirectAddr".into()
                    }
                    Answer::Error { code, message } => format!(
                        "error {}: {}",
                        crate::text::printable(code),
                        crate::text::printable(message)
                    ),
                };
                self.record(hop);
                Ok(Step::Answer(answer))
            }
            Err(e) => {
                hop.result = format!("not an Autodiscover answer: {e}");
                self.record(hop);
                Ok(Step::Next)
            }
        }
    }

    /// POST without credentials; on 401, with NTLM or Basic as offered and allowed.
    /// `Ok(None)`: this candidate gave nothing usable (the hop says why).
    fn authenticate(
        &mut self,
        s: &mut Session,
        hop: &mut Hop,
        url: &str,
    ) -> Result<Option<Response>, AutodiscoverError> {
        hop.auth = Some("none");
        let first = match s.post(None) {
            Ok(r) => r,
            Err(e) => {
                hop.result = e;
                return Ok(None);
            }
        };
        if first.status != 401 {
            return Ok(Some(first));
        }
        hop.status = Some(401);
        let offered: Vec<String> = first
            .all("WWW-Authenticate")
            .flat_map(|v| v.split(','))
            .filter_map(|v| v.split_whitespace().next())
            .filter(|w| !w.contains('='))
            .map(str::to_ascii_lowercase)
            .collect();
        // Kerberos first where the server offers Negotiate, as Windows does; the ticket
        // goes only where a password may go (checked before this function).
        let kerberos_wanted = offered.iter().any(|o| o == "negotiate")
            && (self.opts.auth == AuthMethod::Negotiate
                || (self.opts.auth == AuthMethod::Auto && super::kerberos::AVAILABLE));
        if kerberos_wanted {
            match self.kerberos(s, hop, first.closes) {
                Kerberos::Done(r) => return Ok(r),
                Kerberos::Refused(detail) => {
                    return Err(AutodiscoverError::Kerberos {
                        url: url.into(),
                        detail,
                    });
                }
                Kerberos::Unavailable(why) if self.opts.auth == AuthMethod::Negotiate => {
                    hop.result = format!("Kerberos not possible: {why}");
                    return Err(AutodiscoverError::Kerberos {
                        url: url.into(),
                        detail: why,
                    });
                }
                Kerberos::Unavailable(why) => {
                    hop.auth_note = Some(format!("Kerberos not used: {why}"));
                }
            }
        } else if self.opts.auth == AuthMethod::Negotiate {
            hop.result = "HTTP 401: Negotiate not offered".into();
            return Err(AutodiscoverError::NoScheme {
                url: url.into(),
                offered: offered_list(&offered),
            });
        }
        let Some(creds) = self.opts.credentials.clone() else {
            hop.result = "HTTP 401: credentials needed".into();
            return Err(AutodiscoverError::NoCredentials { url: url.into() });
        };
        let wants = |m: AuthMethod, scheme: &str| {
            (self.opts.auth == m || self.opts.auth == AuthMethod::Auto)
                && offered.iter().any(|o| o == scheme)
        };
        // NTLM, or NTLM's messages under Negotiate (what IIS accepts there from a client
        // without Kerberos), before Basic.
        let ntlm_scheme = if wants(AuthMethod::Ntlm, "ntlm") {
            Some("NTLM")
        } else if wants(AuthMethod::Ntlm, "negotiate") {
            Some("Negotiate")
        } else {
            None
        };
        if ntlm_scheme.is_none() && !wants(AuthMethod::Basic, "basic") {
            hop.result = "HTTP 401: no supported authentication offered".into();
            return Err(AutodiscoverError::NoScheme {
                url: url.into(),
                offered: offered_list(&offered),
            });
        }
        if first.closes
            && let Err(e) = s.reopen()
        {
            hop.result = e;
            return Ok(None);
        }
        let (method, response) = if let Some(scheme) = ntlm_scheme {
            ("NTLM", self.ntlm(s, &creds, hop, scheme))
        } else {
            let token = BASE64.encode(format!("{}:{}", creds.account, creds.password));
            ("Basic", s.post(Some(format!("Basic {token}"))))
        };
        if method == "Basic" {
            hop.auth = Some("basic");
        }
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                hop.result = e;
                return Ok(None);
            }
        };
        if response.status == 401 {
            hop.status = Some(401);
            hop.result = format!("HTTP 401: {method} credentials refused");
            return Err(AutodiscoverError::AuthRefused {
                url: url.into(),
                method,
                account: creds.account,
                status: 401,
            });
        }
        Ok(Some(response))
    }

    /// Kerberos under Negotiate (RFC 4559): the ticket for `HTTP/<host>`, then the
    /// server's final token checked (mutual authentication) when it sends one.
    fn kerberos(&mut self, s: &mut Session, hop: &mut Hop, closes: bool) -> Kerberos {
        let (ctx, token) = match super::kerberos::Context::start(&s.host) {
            Ok(started) => started,
            Err(why) => return Kerberos::Unavailable(why),
        };
        if closes && let Err(e) = s.reopen() {
            hop.result = e;
            return Kerberos::Done(None);
        }
        hop.auth = Some("kerberos");
        let response = match s.post(Some(format!("Negotiate {}", BASE64.encode(token)))) {
            Ok(r) => r,
            Err(e) => {
                hop.result = e;
                return Kerberos::Done(None);
            }
        };
        if response.status == 401 {
            hop.status = Some(401);
            hop.result = "HTTP 401: Kerberos ticket refused".into();
            return Kerberos::Refused(format!(
                "the server refused the ticket for HTTP/{} (HTTP 401)",
                s.host
            ));
        }
        let last = response.all("WWW-Authenticate").find_map(|v| {
            let (name, token) = v.trim().split_once(' ')?;
            name.eq_ignore_ascii_case("Negotiate")
                .then(|| BASE64.decode(token.trim()))
        });
        let last = match last.transpose() {
            Ok(t) => t,
            Err(e) => {
                hop.result = format!("the server's Negotiate token is not base64: {e}");
                return Kerberos::Done(None);
            }
        };
        match ctx.finish(last.as_deref()) {
            Ok(super::kerberos::Mutual::Verified) => {
                hop.auth_note = Some("Kerberos mutual authentication verified".into());
            }
            Ok(super::kerberos::Mutual::NotSent) => {
                hop.auth_note = Some(
                    "no final Negotiate token: the server did not prove itself by Kerberos".into(),
                );
            }
            Err(e) => {
                // An answer from a server that cannot prove it holds the service key
                // is not taken.
                hop.status = Some(response.status);
                hop.result = e;
                return Kerberos::Done(None);
            }
        }
        Kerberos::Done(Some(response))
    }

    fn ntlm(
        &mut self,
        s: &mut Session,
        creds: &super::Credentials,
        hop: &mut Hop,
        scheme: &str,
    ) -> Result<Response, String> {
        let first = s.post(Some(format!(
            "{scheme} {}",
            BASE64.encode(ntlm::negotiate())
        )))?;
        let token = first
            .all("WWW-Authenticate")
            .find_map(|v| {
                let (name, token) = v.trim().split_once(' ')?;
                name.eq_ignore_ascii_case(scheme).then_some(token.trim())
            })
            .ok_or_else(|| format!("HTTP {}: no NTLM challenge", first.status))?;
        let bytes = BASE64
            .decode(token)
            .map_err(|e| format!("the NTLM challenge is not base64: {e}"))?;
        let challenge =
            ntlm::parse_challenge(&bytes).map_err(|e| format!("a bad NTLM challenge: {e}"))?;
        let mut client_challenge = [0u8; 8];
        crate::tls::provider()
            .secure_random
            .fill(&mut client_challenge)
            .map_err(|_| "no system randomness".to_string())?;
        let answer = ntlm::authenticate(
            &challenge,
            &creds.account,
            &creds.password,
            client_challenge,
            ntlm::filetime_now(),
        );
        hop.auth = Some(if scheme == "NTLM" {
            "ntlm"
        } else {
            "ntlm-in-negotiate"
        });
        s.post(Some(format!("{scheme} {}", BASE64.encode(answer))))
    }

    fn add_host(&mut self, host: Host) {
        let found = self
            .report
            .hosts
            .iter_mut()
            .find(|h| h.name.eq_ignore_ascii_case(&host.name) && h.port == host.port);
        match found {
            Some(h) => {
                for f in host.from {
                    if !h.from.contains(&f) {
                        h.from.push(f);
                    }
                }
                if h.certificate.is_none() && host.certificate.is_some() {
                    h.certificate = host.certificate;
                    h.verdict = host.verdict;
                    h.protocol = host.protocol;
                    h.error = None;
                }
            }
            None => self.report.hosts.push(host),
        }
    }

    /// Capture one host's certificate with the fetch engine (TLS 1.0 to 1.3).
    fn capture_host(&mut self, name: &str, port: u16, addr: SocketAddr, from: &str, url: &str) {
        let host = self.fetch_host(name, port, Some(addr), from, url);
        self.add_host(host);
    }

    fn fetch_host(
        &self,
        name: &str,
        port: u16,
        addr: Option<SocketAddr>,
        from: &str,
        url: &str,
    ) -> Host {
        let mut host = bare_host(name, port, from, url);
        host.address = addr.map(|a| a.ip().to_string());
        let mut captured = self.capture_all(vec![(name.to_string(), port, addr)]);
        self.fill(
            &mut host,
            captured.pop().unwrap_or_else(|| Err(String::new())),
        );
        host
    }

    fn fill(&self, host: &mut Host, captured: Result<crate::fetch::Capture, String>) {
        match captured {
            Ok(capture) => {
                host.protocol = Some(capture.protocol.clone());
                host.verdict = Some(verdict::judge(&capture.chain, &host.name, &self.opts.roots));
                host.certificate = CertInfo::of(&capture.chain);
            }
            Err(e) => host.error = Some(e),
        }
    }

    /// Capture the certificates of `hosts` (name, port, address) with the fetch engine,
    /// at most `--concurrency` at a time; results in the same order.
    fn capture_all(
        &self,
        hosts: Vec<(String, u16, Option<SocketAddr>)>,
    ) -> Vec<Result<crate::fetch::Capture, String>> {
        use std::sync::Arc;
        let count = hosts.len();
        let sem = Arc::new(tokio::sync::Semaphore::new(
            self.opts.fetch.concurrency.max(1),
        ));
        let opts = &self.opts.fetch;
        let run = crate::fetch::block_on(async move {
            let mut set = tokio::task::JoinSet::new();
            for (i, (name, port, addr)) in hosts.into_iter().enumerate() {
                let mut o = opts.clone();
                if name.parse::<IpAddr>().is_err() {
                    o.sni = Some(name.clone());
                }
                let sem = sem.clone();
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    let target = match addr {
                        Some(a) => crate::fetch::Target::parse(&format!("https://{a}")),
                        None => crate::fetch::Target::parse(&format!(
                            "https://{}",
                            authority(&name, port, 0)
                        )),
                    };
                    let result = match target {
                        Ok(t) => crate::fetch::grab(&t, &o).await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    (i, result)
                });
            }
            let mut out: Vec<Result<crate::fetch::Capture, String>> = (0..count)
                .map(|_| Err("not captured".to_string()))
                .collect();
            while let Some(joined) = set.join_next().await {
                if let Ok((i, r)) = joined
                    && let Some(slot) = out.get_mut(i)
                {
                    *slot = r;
                }
            }
            out
        });
        run.unwrap_or_else(|e| vec![Err(e.to_string()); count])
    }

    /// Every HTTPS host the settings name, each once, with its certificate.
    fn service_hosts(&mut self) {
        let mut wanted: Vec<(String, u16, String, String)> = Vec::new();
        for p in &self.report.protocols {
            for e in &p.entries {
                let from = format!("{} {}", p.kind, e.name);
                if let Ok(u) = url::Url::parse(&e.value)
                    && u.scheme() == "https"
                    && let Some(h) = u.host_str()
                {
                    let port = u.port_or_known_default().unwrap_or(443);
                    wanted.push((
                        h.trim_matches(['[', ']']).to_string(),
                        port,
                        from,
                        e.value.clone(),
                    ));
                } else if p.kind.eq_ignore_ascii_case("EXPR")
                    && e.name == "Server"
                    && !e.value.contains('/')
                {
                    // Outlook Anywhere: RPC over HTTPS to this host, port 443.
                    let url = format!("https://{}/rpc/rpcproxy.dll", e.value);
                    wanted.push((e.value.clone(), 443, from, url));
                }
            }
        }
        // Each host once: listed in the settings' order, captured all at once.
        let mut fetch = Vec::new();
        for (name, port, from, url) in wanted {
            let known = self
                .report
                .hosts
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(&name) && h.port == port);
            let mut host = bare_host(&name, port, &from, &url);
            if !known {
                match self.resolve(&name, port, None) {
                    Ok(a) => {
                        host.address = Some(a.ip().to_string());
                        fetch.push((name, port, Some(a)));
                    }
                    Err(e) => host.error = Some(e),
                }
            }
            self.add_host(host);
        }
        let keys: Vec<(String, u16)> = fetch.iter().map(|(n, p, _)| (n.clone(), *p)).collect();
        let captured = self.capture_all(fetch);
        for ((name, port), result) in keys.into_iter().zip(captured) {
            let Some(i) = self
                .report
                .hosts
                .iter()
                .position(|h| h.name.eq_ignore_ascii_case(&name) && h.port == port)
            else {
                continue;
            };
            let mut host = self.report.hosts[i].clone();
            self.fill(&mut host, result);
            self.report.hosts[i] = host;
        }
    }
}

fn bare_host(name: &str, port: u16, from: &str, url: &str) -> Host {
    Host {
        name: name.to_string(),
        port,
        from: vec![from.to_string()],
        url: url.to_string(),
        address: None,
        protocol: None,
        certificate: None,
        verdict: None,
        error: None,
    }
}

/// One POST's connection, reopened (and its certificate checked again) when the
/// server closes it between the rounds of authentication.
struct Session {
    conn: Conn<Box<dyn conn::Stream>>,
    host: String,
    port: u16,
    addr: SocketAddr,
    path: String,
    body: Vec<u8>,
    timeout: std::time::Duration,
    leaf: Option<[u8; 32]>,
}

impl Session {
    fn post(&mut self, authorization: Option<String>) -> Result<Response, String> {
        let mut headers = vec![
            ("Content-Type", "text/xml; charset=utf-8".to_string()),
            (
                "User-Agent",
                format!("certgpo/{}", env!("CARGO_PKG_VERSION")),
            ),
        ];
        if let Some(a) = authorization {
            headers.push(("Authorization", a));
        }
        self.conn
            .exchange(
                "POST",
                &authority(&self.host, self.port, 443),
                &self.path,
                &headers,
                &self.body,
            )
            .map_err(|e| format!("HTTP: {e}"))
    }

    fn reopen(&mut self) -> Result<(), String> {
        let Opened { stream, chain, .. } =
            conn::tls(&self.host, self.addr, self.timeout).map_err(|e| e.to_string())?;
        let leaf = parse_chain(&chain).first().map(|c| c.sha256);
        if leaf != self.leaf {
            return Err("the server presented another certificate on the second connection".into());
        }
        self.conn = Conn::with_limit(stream, self.timeout);
        Ok(())
    }
}

fn parse_chain(ders: &[Vec<u8>]) -> Vec<Certificate> {
    ders.iter()
        .map_while(|d| Certificate::from_der(d.clone()).ok())
        .collect()
}

fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// `host[:port]` as the Host header writes it (the port only when not the default).
fn authority(host: &str, port: u16, default: u16) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == default {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// The schemes a 401 offered, for a message: `none` when it offered none.
fn offered_list(offered: &[String]) -> String {
    if offered.is_empty() {
        "none".into()
    } else {
        offered.join(", ")
    }
}
