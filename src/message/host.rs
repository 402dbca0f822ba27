//! One notion of a host: a domain name or an address, and the organisation
//! it belongs to (its registrable domain by the public suffix list:
//! `mail.paypal.co.uk` belongs to `paypal.co.uk`, not to `co.uk`). Every
//! "same sender?" question (From against Reply-To, the display name's
//! address, authentication alignment) is asked through it.

use std::net::IpAddr;

/// A host: a lower-case domain name (Unicode labels in their ASCII form)
/// or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    name: String,
    ip: Option<IpAddr>,
    /// Where the registrable domain starts in `name` (0 for an address,
    /// or a name with no public suffix below it).
    org: usize,
}

impl Host {
    /// The host of a domain name or an address (`[192.0.2.1]`, `IPv6:` and
    /// trailing dots allowed); `None` for what is neither.
    pub fn parse(s: &str) -> Option<Host> {
        let s = s.trim().trim_end_matches('.');
        let literal = s
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(s);
        let literal = literal
            .strip_prefix("IPv6:")
            .or_else(|| literal.strip_prefix("ipv6:"))
            .unwrap_or(literal);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            return Some(Host {
                name: ip.to_string(),
                ip: Some(ip),
                org: 0,
            });
        }
        let name = crate::reputation::identity::normalise_domain(s)
            .ok()?
            .into_owned();
        let org = psl::domain_str(&name).map_or(0, |d| name.len() - d.len());
        Some(Host {
            name,
            ip: None,
            org,
        })
    }

    /// The host of an address's domain (`user@Example.COM`).
    pub fn of_address(address: &str) -> Option<Host> {
        Host::parse(address.rsplit_once('@')?.1)
    }

    /// The name (lower-case, ASCII form), or the address written out.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The organisation: the registrable domain (`paypal.co.uk`), or the
    /// whole name when the public suffix list names none (`localhost`, a
    /// bare suffix such as `co.uk`), or the address.
    pub fn organisation(&self) -> &str {
        &self.name[self.org..]
    }

    /// Whether two hosts belong to the same organisation (relaxed
    /// alignment, as DMARC defines it).
    pub fn same_organisation(&self, other: &Host) -> bool {
        self.organisation() == other.organisation()
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// The hosts a message names, computed once when it is parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hosts {
    /// The From address's domain.
    pub from: Option<Host>,
    /// The Reply-To address's domain.
    pub reply_to: Option<Host>,
    /// The Return-Path (envelope sender as delivered) domain.
    pub return_path: Option<Host>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisations_by_the_public_suffix_list() {
        let table: &[(&str, Option<&str>)] = &[
            ("mail.paypal.co.uk", Some("paypal.co.uk")),
            ("PayPal.co.uk.", Some("paypal.co.uk")),
            ("secure-alerts.co.uk", Some("secure-alerts.co.uk")),
            ("www.commbank.com.au", Some("commbank.com.au")),
            ("a.b.example.com", Some("example.com")),
            ("example.com", Some("example.com")),
            ("co.uk", Some("co.uk")),
            ("localhost", Some("localhost")),
            ("bücher.example", Some("xn--bcher-kva.example")),
            ("[192.0.2.1]", Some("192.0.2.1")),
            ("[IPv6:2001:db8::1]", Some("2001:db8::1")),
            ("", None),
            ("not a host", None),
        ];
        for (s, want) in table {
            assert_eq!(
                Host::parse(s)
                    .map(|h| h.organisation().to_string())
                    .as_deref(),
                *want,
                "{s}"
            );
        }
    }

    #[test]
    fn same_organisation_is_not_the_same_last_two_labels() {
        let h = |s: &str| Host::parse(s).expect(s);
        assert!(!h("paypal.co.uk").same_organisation(&h("secure-alerts.co.uk")));
        assert!(!h("commbank.com.au").same_organisation(&h("claims-team.com.au")));
        assert!(h("mail.shop.co.uk").same_organisation(&h("shop.co.uk")));
        assert!(h("news.example.com").same_organisation(&h("example.com")));
        assert!(!h("example.com").same_organisation(&h("example.net")));
        assert_eq!(
            Host::of_address("Ann@Mail.Example.COM").map(|h| h.name().to_string()),
            Some("mail.example.com".into())
        );
    }
}
