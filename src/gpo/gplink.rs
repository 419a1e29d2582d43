//! `gPLink`, the attribute of a domain, OU or site that links GPOs to it (MS-GPOL
//! 2.2.2): `[LDAP://<GPO container DN>;<options>]` repeated, where options bit 0
//! disables the link and bit 1 enforces it ("No Override"). [`parse`] and [`write`]
//! keep the links in their order, which sets their precedence.

/// One `[LDAP://dn;options]` of a gPLink.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// The GPO container's DN as written (case kept).
    pub dn: String,
    pub options: u32,
}

/// Link options bit 0: the link is disabled.
pub const LINK_DISABLED: u32 = 1;
/// Link options bit 1: the link is enforced.
pub const LINK_ENFORCED: u32 = 2;

impl Link {
    pub fn enabled(&self) -> bool {
        self.options & LINK_DISABLED == 0
    }

    pub fn enforced(&self) -> bool {
        self.options & LINK_ENFORCED != 0
    }

    /// The GPO's GUID (`{...}`) from the DN's first RDN `CN={GUID}`, upper case.
    pub fn guid(&self) -> Option<String> {
        let first = self.dn.split(',').next()?.trim();
        let (attr, value) = first.split_once('=')?;
        (attr.trim().eq_ignore_ascii_case("cn") && value.starts_with('{') && value.ends_with('}'))
            .then(|| value.to_ascii_uppercase())
    }
}

/// Why a gPLink cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gPLink of {owner}: {detail}")]
pub struct GpLinkError {
    pub owner: String,
    pub detail: String,
}

/// Every link of a gPLink value, in order. `owner` names the object in messages.
/// Whitespace between links (and a single blank value, which AD leaves after the last
/// link is removed) is accepted.
pub fn parse(value: &str, owner: &str) -> Result<Vec<Link>, GpLinkError> {
    let bad = |detail: String| GpLinkError {
        owner: owner.into(),
        detail,
    };
    let mut out = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .ok_or_else(|| bad(format!("expected '[' at {:?}", crate::text::cut(rest, 30))))?;
        let close = inner
            .find(']')
            .ok_or_else(|| bad("a '[' is never closed".into()))?;
        let link = &inner[..close];
        let (path, options) = link.rsplit_once(';').ok_or_else(|| {
            bad(format!(
                "{:?} has no ';options'",
                crate::text::cut(link, 60)
            ))
        })?;
        let dn = path
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("LDAP://"))
            .map(|_| &path[7..])
            .ok_or_else(|| bad(format!("{:?} is not LDAP://DN", crate::text::cut(path, 60))))?;
        let options = options.trim().parse::<u32>().map_err(|_| {
            bad(format!(
                "options {:?} is not a number",
                crate::text::cut(options, 20)
            ))
        })?;
        out.push(Link {
            dn: dn.to_string(),
            options,
        });
        rest = inner[close + 1..].trim_start();
    }
    Ok(out)
}

/// The gPLink value of `links`, as AD stores it (`[LDAP://dn;0][LDAP://dn;2]`).
pub fn write(links: &[Link]) -> String {
    links
        .iter()
        .map(|l| format!("[LDAP://{};{}]", l.dn, l.options))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "[LDAP://cn={31B2F340-016D-11D2-945F-00C04FB984F9},cn=policies,cn=system,DC=contoso,DC=test;0][LDAP://CN={6AC1786C-016F-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=contoso,DC=test;2]";

    #[test]
    fn links_round_trip_in_order() {
        let links = parse(TWO, "DC=contoso,DC=test").unwrap();
        assert_eq!(links.len(), 2);
        assert!(links[0].enabled() && !links[0].enforced());
        assert!(links[1].enforced());
        assert_eq!(
            links[0].guid().as_deref(),
            Some("{31B2F340-016D-11D2-945F-00C04FB984F9}")
        );
        assert_eq!(write(&links), TWO);
        assert_eq!(parse(&write(&links), "x").unwrap(), links);
        assert_eq!(parse(" ", "x").unwrap(), vec![]);
        let disabled = parse("[LDAP://cn={A},cn=x;3]", "x").unwrap();
        assert!(!disabled[0].enabled() && disabled[0].enforced());
    }

    #[test]
    fn malformed_links_are_errors() {
        for bad in [
            "LDAP://x;0",
            "[LDAP://x;0",
            "[ldap:/x;0]",
            "[LDAP://x]",
            "[LDAP://x;y]",
        ] {
            assert!(parse(bad, "OU=x").is_err(), "{bad}");
        }
        assert!(parse("[LDAP://x;0]", "OU=x").is_ok());
    }
}
