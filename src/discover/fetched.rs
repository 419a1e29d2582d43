//! `discover --fetch`: capture the certificate each discovered endpoint presents,
//! with the `fetch` engine, once per distinct host and port.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::fetch::{self, Capture, FetchError, FetchOptions, Target};

use super::{DiscoverError, Discovery, Endpoint};

/// One endpoint per host and port, in Outlook's order, leaving out the names that do
/// not resolve: Outlook cannot reach them either.
fn distinct(endpoints: &[Endpoint]) -> Vec<&Endpoint> {
    let mut seen = std::collections::HashSet::new();
    endpoints
        .iter()
        .filter(|e| e.addresses.as_ref().is_none_or(|a| !a.is_empty()))
        .filter(|e| seen.insert(format!("{}:{}", e.host.to_ascii_lowercase(), e.port)))
        .collect()
}

/// The URLs to fetch from a saved `certgpo discover --json` report, for `build --discover`.
pub fn report_targets(path: &std::path::Path) -> Result<Vec<String>, DiscoverError> {
    #[derive(serde::Deserialize)]
    struct Report {
        endpoints: Vec<Endpoint>,
    }
    let err = |detail: String| DiscoverError::Report {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = crate::input::read(path, crate::input::DISCOVER_REPORT)
        .map_err(|e| e.given_as("--discover"))?;
    let report: Report = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not the JSON of `certgpo discover --json`: {e}")))?;
    if let Ok(path) = serde_json::from_slice::<PathReport>(&bytes) {
        return path_targets(path.autodiscover).map_err(err);
    }
    let urls: Vec<String> = distinct(&report.endpoints)
        .into_iter()
        .map(|e| e.url.clone())
        .collect();
    if urls.is_empty() {
        return Err(err("lists no endpoint that resolves".into()));
    }
    Ok(urls)
}

/// The part of a `discover --email --json` report `build --discover` reads: the
/// hosts of the Autodiscover path with their verdicts (`autodiscover::Report`).
#[derive(serde::Deserialize)]
struct PathReport {
    autodiscover: PathHosts,
}

#[derive(serde::Deserialize)]
struct PathHosts {
    hosts: Vec<PathHost>,
}

#[derive(serde::Deserialize)]
struct PathHost {
    name: String,
    port: u16,
    address: Option<String>,
    verdict: Option<PathVerdict>,
}

#[derive(serde::Deserialize)]
struct PathVerdict {
    trusted: bool,
    fixable_by_trust: bool,
}

/// The hosts of an Autodiscover path whose root the clients lack: a host they trust
/// already needs nothing, and one with a problem trust cannot fix (a name not
/// covered, an expired certificate) is left out with a warning. A name this machine
/// cannot resolve is reached at the address `discover` used.
fn path_targets(path: PathHosts) -> Result<Vec<String>, String> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for h in path.hosts {
        let Some(v) = h.verdict else { continue };
        if v.trusted {
            continue;
        }
        if !v.fixable_by_trust {
            eprintln!(
                "warning: {}:{}: distributing a root would not make its certificate trusted (see the report); left out",
                crate::text::printable(&h.name),
                h.port
            );
            continue;
        }
        let resolves = (h.name.as_str(), h.port)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.next().is_some());
        let authority = match h.address {
            Some(a) if !resolves && a.contains(':') => format!("[{a}]:{}", h.port),
            Some(a) if !resolves => format!("{a}:{}", h.port),
            _ => format!("{}:{}", h.name, h.port),
        };
        out.push(format!("https://{authority}"));
    }
    if out.is_empty() {
        return Err(
            "no host on the Autodiscover path needs a root distributed: each is trusted already, or has a problem trust cannot fix"
                .into(),
        );
    }
    Ok(out)
}

/// One certificate to capture: where to connect, the name to send, and the URL it
/// stands for in the report.
pub struct Planned {
    target: Target,
    sni: Option<String>,
    url: String,
}

/// The distinct endpoints worth fetching, in Outlook's order. A host that
/// certgpo resolved itself (through --dns-server) is reached at that address, with
/// its name as SNI, so the fetch sees the server the DC's DNS names.
pub fn plan(found: &Discovery, user_sni: Option<&str>) -> Result<Vec<Planned>, FetchError> {
    let mut out = Vec::new();
    for e in distinct(&found.endpoints) {
        let planned = match e.addresses.as_deref() {
            Some([address, ..]) => {
                let authority = if address.contains(':') {
                    format!("[{address}]:{}", e.port)
                } else {
                    format!("{address}:{}", e.port)
                };
                let host_is_ip = e.host.parse::<std::net::IpAddr>().is_ok();
                Planned {
                    target: Target::parse(&format!("https://{authority}"))?,
                    sni: user_sni
                        .map(str::to_string)
                        .or_else(|| (!host_is_ip).then(|| e.host.clone())),
                    url: e.url.clone(),
                }
            }
            _ => Planned {
                target: Target::parse(&e.url)?,
                sni: user_sni.map(str::to_string),
                url: e.url.clone(),
            },
        };
        out.push(planned);
    }
    Ok(out)
}

/// Fetch every planned endpoint, at most `--concurrency` at a time; one failure never
/// stops the others. Results come back in the plan's order, named by their URL.
pub fn fetch_all(
    plan: Vec<Planned>,
    opts: &FetchOptions,
) -> Result<Vec<Result<Capture, FetchError>>, FetchError> {
    let count = plan.len();
    let sem = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    fetch::block_on(async move {
        let mut set = JoinSet::new();
        for (i, p) in plan.into_iter().enumerate() {
            let sem = sem.clone();
            let mut o = opts.clone();
            o.sni = p.sni;
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let result = match fetch::grab(&p.target, &o).await {
                    Ok(mut capture) => {
                        capture.target.input = p.url;
                        Ok(capture)
                    }
                    Err(FetchError::Target { stage, detail, .. }) => Err(FetchError::Target {
                        target: p.url,
                        stage,
                        detail,
                    }),
                    Err(other) => Err(other),
                };
                (i, result)
            });
        }
        let mut out: Vec<Option<Result<Capture, FetchError>>> = (0..count).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((i, r)) = joined
                && let Some(slot) = out.get_mut(i)
            {
                *slot = Some(r);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(FetchError::Usage(
                        "internal error: a fetch task stopped unexpectedly".into(),
                    ))
                })
            })
            .collect()
    })
}
