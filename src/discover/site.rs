//! The client's Active Directory site from its IP address, as the domain controller's
//! site locator finds it (MS-ADTS 6.1.1.2.2.2 "Subnet Object", MS-DRSR
//! IDL_DRSAddressToSiteNames / DsAddressToSiteNamesW): every `subnet` object under
//! `CN=Subnets,CN=Sites,<configuration NC>` is named by its prefix (`10.1.0.0/16`,
//! `2001:db8::/32`) and names its site in `siteObject`; the longest prefix that
//! contains the address wins.

use std::net::IpAddr;

use serde::Serialize;

/// A `subnet` object as read from the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    /// The object's CN, e.g. `10.1.0.0/16`.
    pub prefix: String,
    /// The DN in `siteObject`, if any.
    pub site_dn: Option<String>,
}

/// How `--client-ip` was turned into a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientSite {
    pub ip: String,
    /// The matching subnet with the longest prefix, if any.
    pub subnet: Option<String>,
    /// The site of that subnet (the first RDN value of its `siteObject`).
    pub site: Option<String>,
}

/// Parse a subnet CN into address and prefix length; `None` for anything else
/// (a malformed prefix, bits set beyond the prefix length are tolerated, as the
/// comparison masks them).
pub fn parse_prefix(cn: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = cn.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

/// Whether `ip` lies in `net/len` (same address family only).
fn contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    let masked = |bits: u128, width: u32| {
        let len = u32::from(len);
        if len == 0 { 0 } else { bits >> (width - len) }
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            masked(u32::from(n).into(), 32) == masked(u32::from(a).into(), 32)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => masked(n.into(), 128) == masked(a.into(), 128),
        _ => false,
    }
}

/// The site name of a `siteObject` DN: the value of its first RDN (`CN=Site-A,CN=Sites,...`).
fn site_name(dn: &str) -> Option<String> {
    let first = crate::directory::split_dn(dn).into_iter().next()?;
    let (attr, value) = first.split_once('=')?;
    attr.trim()
        .eq_ignore_ascii_case("CN")
        .then(|| value.trim().to_string())
}

/// The subnet with the longest prefix containing `ip`, and its site. Subnets whose
/// CN is not a prefix are reported in the returned warnings and otherwise ignored.
pub fn locate(ip: IpAddr, subnets: &[Subnet]) -> (ClientSite, Vec<String>) {
    let mut warnings = Vec::new();
    let mut best: Option<(u8, &Subnet)> = None;
    for s in subnets {
        let Some((net, len)) = parse_prefix(&s.prefix) else {
            warnings.push(format!(
                "subnet {:?} is not an address prefix; ignored",
                s.prefix
            ));
            continue;
        };
        // Ties (two spellings of one prefix) go to the lower CN, for deterministic output.
        let better = match best {
            None => true,
            Some((l, b)) => len > l || (len == l && s.prefix < b.prefix),
        };
        if contains(net, len, ip) && better {
            best = Some((len, s));
        }
    }
    let site = ClientSite {
        ip: ip.to_string(),
        subnet: best.map(|(_, s)| s.prefix.clone()),
        site: best.and_then(|(_, s)| s.site_dn.as_deref().and_then(site_name)),
    };
    (site, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(prefix: &str, site: &str) -> Subnet {
        Subnet {
            prefix: prefix.into(),
            site_dn: Some(format!("CN={site},CN=Sites,CN=Configuration,DC=x")),
        }
    }

    fn site_of(ip: &str, subnets: &[Subnet]) -> Option<String> {
        locate(ip.parse().unwrap(), subnets).0.site
    }

    #[test]
    fn ipv4_longest_prefix_wins() {
        let subnets = [
            subnet("10.0.0.0/8", "Wide"),
            subnet("10.1.0.0/16", "Site-A"),
            subnet("10.1.2.0/24", "Site-B"),
            subnet("0.0.0.0/0", "Default"),
        ];
        assert_eq!(site_of("10.1.2.3", &subnets).as_deref(), Some("Site-B"));
        assert_eq!(site_of("10.1.3.3", &subnets).as_deref(), Some("Site-A"));
        assert_eq!(site_of("10.200.0.1", &subnets).as_deref(), Some("Wide"));
        assert_eq!(site_of("192.0.2.1", &subnets).as_deref(), Some("Default"));
        // Order of the objects does not matter.
        let mut reversed = subnets.to_vec();
        reversed.reverse();
        assert_eq!(site_of("10.1.2.3", &reversed).as_deref(), Some("Site-B"));
        let (found, _) = locate("10.1.2.3".parse().unwrap(), &subnets);
        assert_eq!(found.subnet.as_deref(), Some("10.1.2.0/24"));
    }

    #[test]
    fn ipv6_longest_prefix_wins_and_families_do_not_mix() {
        let subnets = [
            subnet("2001:db8::/32", "Site-A"),
            subnet("2001:db8:1::/48", "Site-B"),
            subnet("10.0.0.0/8", "V4"),
            subnet("::/0", "Any6"),
        ];
        assert_eq!(
            site_of("2001:db8:1::5", &subnets).as_deref(),
            Some("Site-B")
        );
        assert_eq!(
            site_of("2001:db8:2::5", &subnets).as_deref(),
            Some("Site-A")
        );
        assert_eq!(site_of("2001:db9::1", &subnets).as_deref(), Some("Any6"));
        // An IPv4 address never matches ::/0, nor an IPv6 one 0.0.0.0/0.
        assert_eq!(site_of("192.0.2.1", &subnets), None);
        assert_eq!(site_of("10.9.9.9", &subnets).as_deref(), Some("V4"));
    }

    #[test]
    fn bad_prefixes_are_reported_and_siteless_subnets_give_no_site() {
        let subnets = [
            Subnet {
                prefix: "10.1.0.0/16".into(),
                site_dn: None,
            },
            subnet("10.0.0.0/33", "Bad"),
            subnet("not-a-prefix", "Bad"),
        ];
        let (found, warnings) = locate("10.1.0.1".parse().unwrap(), &subnets);
        assert_eq!(found.subnet.as_deref(), Some("10.1.0.0/16"));
        assert_eq!(found.site, None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(
            parse_prefix("10.0.0.0/32"),
            Some(("10.0.0.0".parse().unwrap(), 32))
        );
        assert_eq!(parse_prefix("::/129"), None);
        assert_eq!(parse_prefix("10.0.0.0"), None);
    }
}
