//! How the Autodiscover path prints for people: the hops, the settings' protocol
//! sections, then every host with its certificate and the Windows verdict.

use std::fmt::Write;

use super::Report;

pub fn human(r: &Report) -> String {
    let p = crate::text::printable;
    let mut out = String::new();
    let _ = writeln!(out, "Autodiscover path for {}:", p(&r.email));
    if r.hops.is_empty() {
        let _ = writeln!(out, "  (no attempt)");
    }
    for h in &r.hops {
        let _ = writeln!(
            out,
            "{:>3}. {} {}  [{}]",
            h.n,
            h.method,
            p(&h.url),
            h.source
        );
        let mut facts = Vec::new();
        if h.address != r.email {
            facts.push(format!("for {}", p(&h.address)));
        }
        if let Some(s) = h.status {
            facts.push(format!("HTTP {s}"));
        }
        if let Some(a) = h.auth {
            facts.push(format!("auth {a}"));
        }
        if let Some(note) = &h.auth_note {
            facts.push(p(note));
        }
        if let Some(proto) = &h.protocol {
            facts.push(proto.clone());
        }
        if let Some(c) = &h.certificate {
            facts.push(format!("certificate {c}"));
        }
        if !facts.is_empty() {
            let _ = writeln!(out, "     {}", facts.join(", "));
        }
        let _ = write!(out, "     -> {}", p(&h.result));
        if let Some(to) = &h.redirect {
            let _ = write!(out, " {}", p(to));
        }
        out.push('\n');
    }
    if !r.protocols.is_empty() {
        let who = r
            .display_name
            .as_deref()
            .map(|d| format!(" ({})", p(d)))
            .unwrap_or_default();
        let _ = writeln!(out, "\nSettings{who}:");
        for proto in &r.protocols {
            let _ = writeln!(out, "  {}", p(&proto.kind));
            for e in &proto.entries {
                let _ = writeln!(out, "    {:<18} {}", p(&e.name), p(&e.value));
            }
        }
    }
    if !r.hosts.is_empty() {
        let _ = writeln!(out, "\nHosts Outlook contacts, each once:");
    }
    for h in &r.hosts {
        let _ = writeln!(
            out,
            "  {}:{}  from {}",
            p(&h.name),
            h.port,
            p(&h.from.join(", "))
        );
        if let Some(c) = &h.certificate {
            let _ = writeln!(
                out,
                "    certificate {} {} (issuer {}), until {}{}",
                c.thumbprint,
                p(&c.subject),
                p(&c.issuer),
                c.not_after,
                h.protocol
                    .as_deref()
                    .map(|v| format!(", {v}"))
                    .unwrap_or_default()
            );
        }
        if let Some(v) = &h.verdict {
            let _ = writeln!(out, "    Windows: {}", v.summary());
        }
        if let Some(e) = &h.error {
            let _ = writeln!(out, "    no certificate: {}", p(e));
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", p(n));
    }
    out
}
