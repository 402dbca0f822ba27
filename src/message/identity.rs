//! Sender identities: the client IP from the Received trail, address helpers.

use std::net::IpAddr;

/// Whether an address is routable on the public internet (not private,
/// loopback, link-local, unspecified, CGNAT).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64) // CGNAT 100.64/10
        }
        IpAddr::V6(v6) => {
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// The client IP of the first Received hop added by a host outside the
/// receiving site.
///
/// `received` lists the `from` IPs of the Received headers top-down (newest
/// first; `None` where a header names no IP). The first `trusted_hops`
/// headers were added by the receiving site itself and are skipped; after
/// them, relays with private addresses are internal too, so the first public
/// address is the client.
pub fn client_ip(
    received: impl IntoIterator<Item = Option<IpAddr>>,
    trusted_hops: usize,
) -> Option<IpAddr> {
    received
        .into_iter()
        .skip(trusted_hops)
        .flatten()
        .find(|ip| is_public(*ip))
}

/// Lower-case the domain of an address and strip angle brackets and spaces.
pub fn normalise_address(addr: &str) -> String {
    let a = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    match a.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_trusted_and_private_hops() {
        let ips: Vec<Option<IpAddr>> = vec![
            Some("198.51.100.7".parse().unwrap()),
            None,
            Some("10.0.0.5".parse().unwrap()),
            Some("203.0.113.9".parse().unwrap()),
        ];
        assert_eq!(
            client_ip(ips.clone(), 0),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            client_ip(ips.clone(), 1),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(ips.clone(), 4), None);
    }

    #[test]
    fn normalises_domain_case() {
        assert_eq!(normalise_address(" <Bob@Example.COM> "), "Bob@example.com");
    }
}
