//! Outlook's order of SCP URLs: those of the client's AD site first, then those
//! scoped to no site, then those of other sites (MS-OXDISCO 3.1.5.1 and "Find
//! Autodiscover endpoints by using SCP lookup in Exchange").

use super::Endpoint;

/// Outlook's priority class of an SCP URL for a given client site (lower is tried first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Priority {
    Own = 1,
    Unscoped = 2,
    Other = 3,
}

impl Priority {
    /// Without a client site no SCP can be in "its" site, so scoped ones rank as other sites.
    fn of(scp_site: Option<&str>, client_site: Option<&str>) -> Priority {
        match (scp_site, client_site) {
            (None, _) => Priority::Unscoped,
            (Some(s), Some(c)) if s.eq_ignore_ascii_case(c) => Priority::Own,
            (Some(_), _) => Priority::Other,
        }
    }
}

/// Sort SCP endpoints into Outlook's order. AD returns entries in no defined order,
/// so ties are broken by URL and then DN, which keeps the output deterministic.
pub fn order_scps(scps: &mut [Endpoint], client_site: Option<&str>) {
    scps.sort_by_cached_key(|e| {
        (
            Priority::of(e.site.as_deref(), client_site),
            e.url.to_ascii_lowercase(),
            e.dn.clone().unwrap_or_default().to_ascii_lowercase(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Source;

    fn scp(url: &str, site: Option<&str>) -> Endpoint {
        Endpoint {
            order: 0,
            source: Source::Scp,
            url: url.into(),
            host: String::new(),
            port: 443,
            site: site.map(str::to_string),
            dn: Some(format!("CN={url}")),
            server: None,
            directory: None,
            addresses: None,
        }
    }

    fn urls(list: &[Endpoint]) -> Vec<&str> {
        list.iter().map(|e| e.url.as_str()).collect()
    }

    #[test]
    fn own_site_then_unscoped_then_others() {
        let mut list = vec![
            scp("https://c/", Some("Site-B")),
            scp("https://b/", None),
            scp("https://a/", Some("site-a")),
            scp("https://d/", Some("Site-A")),
        ];
        order_scps(&mut list, Some("Site-A"));
        assert_eq!(
            urls(&list),
            ["https://a/", "https://d/", "https://b/", "https://c/"]
        );
        order_scps(&mut list, Some("Site-B"));
        assert_eq!(
            urls(&list),
            ["https://c/", "https://b/", "https://a/", "https://d/"]
        );
    }

    #[test]
    fn without_a_client_site_unscoped_come_first() {
        let mut list = vec![scp("https://a/", Some("Site-A")), scp("https://z/", None)];
        order_scps(&mut list, None);
        assert_eq!(urls(&list), ["https://z/", "https://a/"]);
    }
}
