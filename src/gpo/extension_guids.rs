//! `MachineExtensionGuids` and `UserExtensionGuids` (MS-GPOL 2.2.4): the client-side
//! extensions a GPO's half needs, as `[{CSE}{tool}...][...]` groups of braced GUIDs.

use super::{EFS_CSE, PKI_TOOL, PKI_TOOL_DEFAULT_DOMAIN, REGISTRY_CSE};

/// Check a `MachineExtensionGuids` / `UserExtensionGuids` value for a GPO that
/// carries certificates; each string returned is one problem.
pub fn problems(value: &str) -> Vec<String> {
    let groups = match parse(value) {
        Ok(g) => g,
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    let has_tool = |g: &Vec<String>| {
        g[1..].iter().any(|t| {
            t.eq_ignore_ascii_case(PKI_TOOL) || t.eq_ignore_ascii_case(PKI_TOOL_DEFAULT_DOMAIN)
        })
    };
    match groups.iter().find(|g| g[0].eq_ignore_ascii_case(REGISTRY_CSE)) {
        None => out.push(format!(
            "lacks the Registry extension pair [{REGISTRY_CSE}{PKI_TOOL}]: Group Policy does not apply registry.pol, so no certificate reaches the clients"
        )),
        Some(g) if !has_tool(g) => out.push(format!(
            "the Registry extension {REGISTRY_CSE} lacks the Public Key Policies tool {PKI_TOOL} (GPMC writes [{REGISTRY_CSE}{PKI_TOOL}])"
        )),
        Some(_) => {}
    }
    match groups.iter().find(|g| g[0].eq_ignore_ascii_case(EFS_CSE)) {
        None => out.push(format!(
            "lacks the Public Key Policies pair [{EFS_CSE}{PKI_TOOL}] that GPMC writes for certificates"
        )),
        Some(g) if !has_tool(g) => out.push(format!(
            "the Public Key extension {EFS_CSE} lacks the tool {PKI_TOOL}"
        )),
        Some(_) => {}
    }
    let upper: Vec<String> = groups.iter().map(|g| g[0].to_ascii_uppercase()).collect();
    if upper.windows(2).any(|w| w[0] > w[1]) {
        out.push(
            "is not sorted by extension GUID: Group Policy stops at the first GUID out of order and skips the extensions after it"
                .into(),
        );
    }
    for g in &groups {
        let tools: Vec<String> = g[1..].iter().map(|t| t.to_ascii_uppercase()).collect();
        if tools.windows(2).any(|w| w[0] > w[1]) {
            out.push(format!("the tool GUIDs of {} are not sorted", g[0]));
        }
    }
    out
}

/// `[{CSE}{TOOL}...][...]` into groups of braced GUIDs, CSE first.
pub fn parse(value: &str) -> Result<Vec<Vec<String>>, String> {
    let mut groups = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return Err(format!(
                "is malformed: expected '[' at {:?}",
                crate::text::cut(rest, 20)
            ));
        };
        let close = inner
            .find(']')
            .ok_or("is malformed: a '[' group is never closed")?;
        let mut group = Vec::new();
        let mut g = &inner[..close];
        while !g.is_empty() {
            let end = g.find('}').ok_or("is malformed: a GUID without '}'")?;
            let guid = &g[..=end];
            if guid.len() != 38 || !guid.starts_with('{') {
                return Err(format!(
                    "is malformed: {:?} is not a braced GUID",
                    crate::text::cut(guid, 40)
                ));
            }
            group.push(guid.to_string());
            g = &g[end + 1..];
        }
        if group.len() < 2 {
            return Err(format!(
                "is malformed: the group [{}] needs an extension GUID and at least one tool GUID",
                crate::text::cut(&inner[..close], 100)
            ));
        }
        groups.push(group);
        rest = &inner[close + 1..];
    }
    Ok(groups)
}

/// The base's extension list with the Registry and Public Key pairs present and the
/// whole list sorted as MS-GPOL requires.
pub fn complete(value: &str) -> String {
    let mut groups = parse(value).unwrap_or_default();
    for cse in [REGISTRY_CSE, EFS_CSE] {
        match groups.iter_mut().find(|g| g[0].eq_ignore_ascii_case(cse)) {
            Some(g) => {
                let has = g[1..].iter().any(|t| {
                    t.eq_ignore_ascii_case(PKI_TOOL)
                        || t.eq_ignore_ascii_case(PKI_TOOL_DEFAULT_DOMAIN)
                });
                if !has {
                    g.push(PKI_TOOL.to_string());
                }
            }
            None => groups.push(vec![cse.to_string(), PKI_TOOL.to_string()]),
        }
    }
    for g in &mut groups {
        g[1..].sort_by_key(|t| t.to_ascii_uppercase());
    }
    groups.sort_by_key(|g| g[0].to_ascii_uppercase());
    groups.iter().map(|g| format!("[{}]", g.concat())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpo::MACHINE_EXTENSION_GUIDS;

    #[test]
    fn extension_guids_are_completed_and_sorted() {
        let full = MACHINE_EXTENSION_GUIDS;
        assert_eq!(complete(full), full);
        assert_eq!(complete(""), full);
        let with_other = format!(
            "[{{0ACDD40C-75AC-47AB-BAA0-BF6DE7E7FE63}}{{2A8FDC61-2347-4C87-92F6-B05EB91A201A}}]{}",
            &full[..78]
        );
        let done = complete(&with_other);
        assert!(done.starts_with("[{0ACDD40C"), "{done}");
        assert!(done.ends_with(&full[78..]), "{done}");
        assert!(problems(&done).is_empty());
    }
}
