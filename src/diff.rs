//! `certgpo diff OLD NEW`: per store, the certificates added, removed, unchanged,
//! and changed in their properties (friendly name, EKU restriction, Blob layout).
//! Exit 0 when equal, 1 when different, 2 on error, as `diff(1)` does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::Serialize;

use crate::inspect::inventory::{Inventory, Item};

/// What `diff` compares of one certificate in one store.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    issued_to: String,
    not_after: String,
    friendly_name: Option<String>,
    eku_restriction: Option<Vec<String>>,
    blob_properties: Vec<u32>,
}

/// Store label → thumbprint → state.
type Side = BTreeMap<String, BTreeMap<String, State>>;

fn side(inv: &Inventory, label: &str) -> Side {
    let mut out: Side = BTreeMap::new();
    for item in &inv.items {
        let Some(cert) = &item.cert else {
            // Unreadable entries have no certificate to compare; inspect explains them.
            eprintln!(
                "warning: {label}: {} holds an unreadable entry{}, left out of the comparison",
                item.location.file,
                item.key_thumbprint
                    .as_ref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            );
            continue;
        };
        out.entry(item.store_label())
            .or_default()
            .entry(cert.thumbprint())
            .or_insert_with(|| state(item));
    }
    out
}

fn state(item: &Item) -> State {
    let cert = item.cert.as_ref();
    State {
        issued_to: cert.map(|c| c.subject_display.clone()).unwrap_or_default(),
        not_after: cert
            .map(|c| c.not_after.date().to_string())
            .unwrap_or_default(),
        friendly_name: item.blob.as_ref().and_then(|b| b.friendly_name()),
        eku_restriction: item.blob.as_ref().and_then(|b| b.eku()),
        blob_properties: item.blob.as_ref().map(|b| b.ids()).unwrap_or_default(),
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Brief {
    pub thumbprint: String,
    pub issued_to: String,
    pub not_after: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    pub property: &'static str,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Changed {
    pub thumbprint: String,
    pub issued_to: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct StoreDiff {
    pub store: String,
    pub added: Vec<Brief>,
    pub removed: Vec<Brief>,
    pub changed: Vec<Changed>,
    pub unchanged: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Diff {
    pub old: String,
    pub new: String,
    pub equal: bool,
    pub stores: Vec<StoreDiff>,
    pub summary: Summary,
}

/// Compare two inventories store by store.
pub fn compare(old: &Inventory, new: &Inventory, old_name: &str, new_name: &str) -> Diff {
    let a = side(old, old_name);
    let b = side(new, new_name);
    let stores: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let empty = BTreeMap::new();
    let brief = |t: &String, s: &State| Brief {
        thumbprint: t.clone(),
        issued_to: s.issued_to.clone(),
        not_after: s.not_after.clone(),
    };
    let mut out = Vec::new();
    for store in stores {
        let old = a.get(store).unwrap_or(&empty);
        let new = b.get(store).unwrap_or(&empty);
        let mut d = StoreDiff {
            store: store.clone(),
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            unchanged: Vec::new(),
        };
        for (t, s) in new {
            match old.get(t) {
                None => d.added.push(brief(t, s)),
                Some(o) => {
                    let changes = changes(o, s);
                    if changes.is_empty() {
                        d.unchanged.push(t.clone());
                    } else {
                        d.changed.push(Changed {
                            thumbprint: t.clone(),
                            issued_to: s.issued_to.clone(),
                            changes,
                        });
                    }
                }
            }
        }
        for (t, s) in old {
            if !new.contains_key(t) {
                d.removed.push(brief(t, s));
            }
        }
        out.push(d);
    }
    let count = |f: fn(&StoreDiff) -> usize| out.iter().map(f).sum::<usize>();
    let summary = Summary {
        added: count(|d| d.added.len()),
        removed: count(|d| d.removed.len()),
        changed: count(|d| d.changed.len()),
        unchanged: count(|d| d.unchanged.len()),
    };
    Diff {
        old: old_name.to_string(),
        new: new_name.to_string(),
        equal: summary.added + summary.removed + summary.changed == 0,
        stores: out,
        summary,
    }
}

fn changes(old: &State, new: &State) -> Vec<Change> {
    let mut out = Vec::new();
    let name = |n: &Option<String>| {
        n.as_ref()
            .map_or("(none)".to_string(), |n| format!("{n:?}"))
    };
    if old.friendly_name != new.friendly_name {
        out.push(Change {
            property: "friendly name",
            old: name(&old.friendly_name),
            new: name(&new.friendly_name),
        });
    }
    let eku = |e: &Option<Vec<String>>| match e {
        None => "(none: every purpose the certificate allows)".to_string(),
        Some(v) => v
            .iter()
            .map(|o| crate::purpose::cli_label(o))
            .collect::<Vec<_>>()
            .join(", "),
    };
    if old.eku_restriction != new.eku_restriction {
        out.push(Change {
            property: "EKU restriction",
            old: eku(&old.eku_restriction),
            new: eku(&new.eku_restriction),
        });
    }
    let props = |p: &[u32]| {
        p.iter()
            .map(|id| crate::blob::property_name(*id).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Friendly name and EKU are reported above; this catches the rest of the layout.
    let other = |p: &[u32]| -> Vec<u32> {
        p.iter()
            .copied()
            .filter(|id| ![crate::blob::FRIENDLY_NAME, crate::blob::ENHKEY_USAGE].contains(id))
            .collect()
    };
    if other(&old.blob_properties) != other(&new.blob_properties) {
        out.push(Change {
            property: "Blob properties",
            old: props(&old.blob_properties),
            new: props(&new.blob_properties),
        });
    }
    out
}

/// The human-readable diff, store by store.
pub fn write_text(out: &mut dyn Write, diff: &Diff) -> std::io::Result<()> {
    writeln!(out, "--- {}\n+++ {}", diff.old, diff.new)?;
    for s in &diff.stores {
        let console = crate::store::Store::from_registry_name(s.store.trim_end_matches(" (user)"))
            .map(|st| format!(" ({})", st.console_name()))
            .unwrap_or_default();
        writeln!(out, "\n{}{console}:", s.store)?;
        for (sign, list) in [('+', &s.added), ('-', &s.removed)] {
            for b in list {
                let (t, who, end) = (&b.thumbprint, &b.issued_to, &b.not_after);
                writeln!(out, "  {sign} {t}  {who} (expires {end})")?;
            }
        }
        for c in &s.changed {
            writeln!(out, "  ~ {}  {}", c.thumbprint, c.issued_to)?;
            for ch in &c.changes {
                writeln!(out, "      {}: {} -> {}", ch.property, ch.old, ch.new)?;
            }
        }
        writeln!(out, "  = {} unchanged", s.unchanged.len())?;
    }
    let s = &diff.summary;
    writeln!(
        out,
        "\n{}: {} added, {} removed, {} changed, {} unchanged",
        if diff.equal { "equal" } else { "different" },
        s.added,
        s.removed,
        s.changed,
        s.unchanged
    )
}
