//! How `discover` prints what it found: a list for people, JSON for scripts.

use std::fmt::Write;

use super::{Discovery, Source};

pub fn human(found: &Discovery) -> String {
    let mut out = String::new();
    let mut site = found.site.as_deref().unwrap_or("not given").to_string();
    if let Some(c) = &found.client_site {
        site = match (&c.subnet, &c.site) {
            (Some(subnet), Some(s)) => format!("{s}, subnet {subnet} of {}", c.ip),
            (Some(subnet), None) => format!("none, subnet {subnet} of {} names no site", c.ip),
            (None, _) => format!("none, no subnet contains {}", c.ip),
        };
    }
    let _ = writeln!(
        out,
        "Autodiscover endpoints in the order Outlook tries them (client site: {site}):"
    );
    if found.endpoints.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for e in &found.endpoints {
        let _ = writeln!(out, "{:>3}. {}", e.order, e.url);
        let mut facts = format!(
            "host {} port {}, source {}",
            e.host,
            e.port,
            e.source.label()
        );
        if e.source == Source::Scp {
            let _ = write!(facts, ", site {}", e.site.as_deref().unwrap_or("(none)"));
        }
        if let Some(addresses) = &e.addresses {
            if addresses.is_empty() {
                facts.push_str(", does not resolve");
            } else {
                let _ = write!(facts, ", resolves to {}", addresses.join(" "));
            }
        }
        let _ = writeln!(out, "     {facts}");
        if let Some(dn) = e.server.as_ref().or(e.dn.as_ref()) {
            let _ = writeln!(out, "     server {dn}");
        }
        if let Some(dir) = &e.directory {
            let _ = writeln!(out, "     from {dir}");
        }
    }
    if !found.pointers.is_empty() {
        let _ = writeln!(out, "\nSCP pointers:");
        for p in &found.pointers {
            let domain = p
                .domain
                .as_deref()
                .map_or_else(|| "no Domain=".to_string(), |d| format!("Domain={d}"));
            let state = match (p.followed, &p.domain) {
                (true, _) => "followed",
                // See `ldap::lookup`: Outlook matches Domain= against the user's domain.
                (false, None) => "not followed (no Domain=: Outlook follows none)",
                (false, Some(_)) => "not followed (Domain= does not match --domain)",
            };
            let _ = writeln!(out, "  {}  {domain}  {state}", p.target);
            let _ = writeln!(out, "     {} (from {})", p.dn, p.directory);
        }
    }
    if !found.servers.is_empty() {
        let _ = writeln!(
            out,
            "\nExchange virtual directories (host names Exchange hands out; listed, not fetched):"
        );
    }
    for server in &found.servers {
        let _ = writeln!(out, "  server {}", server.server);
        for v in &server.virtual_directories {
            let _ = writeln!(out, "    {} {}", v.kind.label(), v.name());
            for (side, urls) in [("internal", &v.internal), ("external", &v.external)] {
                for url in urls {
                    let _ = writeln!(out, "      {side} {url}");
                }
            }
        }
        let _ = writeln!(out, "    hosts: {}", server.hosts.join(" "));
    }
    if !found.vdir_hosts.is_empty() {
        let _ = writeln!(out, "  all hosts: {}", found.vdir_hosts.join(" "));
    }
    for s in &found.searches {
        let _ = writeln!(
            out,
            "\nSearched {} under {}: {} URL SCP(s), {} pointer(s)",
            s.directory, s.base, s.urls, s.pointers
        );
    }
    out
}
