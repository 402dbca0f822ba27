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

/// The IP address of the host a Received header says the message came
/// `from`. In order of trust: an address in brackets after the from host
/// (`from mx (mx [203.0.113.5])`, `[IPv6:2001:db8::1]`; the last wins), the
/// first address in a comment (`(203.0.113.5)`, not a HELO argument), the
/// from host itself when it is an address (`from [192.0.2.9]`). The clause
/// ends at `by` outside parentheses. qmail's `invoked from network[IP/host]`
/// is read too.
pub fn received_from_ip(value: &[u8]) -> Option<IpAddr> {
    let mut v = value.trim_ascii_start();
    // Some relays wrap the whole value in brackets.
    v = v.strip_prefix(b"[").unwrap_or(v);
    // qmail: `(qmail 1234 invoked from network[203.0.113.5/host]); date`
    if v.starts_with(b"(qmail ") {
        const MARK: &[u8] = b"network["; // after `invoked from`, maybe folded
        let at = memchr::memmem::find(v, MARK)? + MARK.len();
        let len = v[at..].iter().position(|&b| b == b'/' || b == b']')?;
        return parse_ip(&v[at..at + len]);
    }
    // A leading comment such as `(apparently)`.
    while v.first() == Some(&b'(') {
        let close = memchr::memchr(b')', v)?;
        v = v[close + 1..].trim_ascii_start();
    }
    if !(v.len() > 5 && v[..4].eq_ignore_ascii_case(b"from") && v[4].is_ascii_whitespace()) {
        return None;
    }
    let (mut bracketed, mut commented, mut host) = (None, None, None);
    let mut depth = 0u32;
    let mut first_word = true;
    let mut skip_next_word = false;
    let mut i = 4;
    while i < v.len() {
        match v[i] {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'[' => {
                let Some(len) = v[i + 1..].iter().position(|&b| b == b']') else {
                    break;
                };
                let inner = &v[i + 1..i + 1 + len];
                let inner = match inner.get(..5) {
                    Some(p) if p.eq_ignore_ascii_case(b"ipv6:") => &inner[5..],
                    _ => inner,
                };
                if let Some(ip) = parse_ip(inner) {
                    if first_word && depth == 0 {
                        host = Some(ip);
                    } else {
                        bracketed = Some(ip);
                    }
                }
                first_word = false;
                i += len + 2;
                continue;
            }
            b if b.is_ascii_whitespace() || b == b';' => {}
            _ => {
                // A word runs to the next separator; a stray `]` is a word
                // of one byte, so every step moves on.
                let end = v[i + 1..]
                    .iter()
                    .position(|&b| b.is_ascii_whitespace() || b"()[];".contains(&b))
                    .map_or(v.len(), |n| i + 1 + n);
                let word = &v[i..end];
                i = end;
                if depth == 0 && word.eq_ignore_ascii_case(b"by") {
                    break;
                }
                if std::mem::take(&mut skip_next_word) {
                    continue;
                }
                if word.eq_ignore_ascii_case(b"helo") || word.eq_ignore_ascii_case(b"ehlo") {
                    skip_next_word = true;
                } else if let Some(ip) = parse_ip(word) {
                    if first_word {
                        host = Some(ip);
                    } else if depth > 0 {
                        commented = commented.or(Some(ip));
                    }
                }
                first_word = false;
                continue;
            }
        }
        i += 1;
    }
    bracketed.or(commented).or(host)
}

/// An IPv4 or IPv6 address written as ASCII (an IPv4 port suffix
/// `:1146` is dropped), if `word` is one.
fn parse_ip(word: &[u8]) -> Option<IpAddr> {
    let looks_like = word.len() >= 2
        && word.len() <= 45
        && word
            .iter()
            .all(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':');
    if !looks_like {
        return None;
    }
    let text = std::str::from_utf8(word).ok()?;
    text.parse().ok().or_else(|| {
        let (v4, port) = text.split_once(':')?;
        port.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| v4.parse().ok())
            .flatten()
    })
}

/// Lower-case the domain of an address and strip angle brackets and spaces.
pub fn normalise_address(addr: &str) -> String {
    let a = addr
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            let mut out = String::with_capacity(a.len());
            out.push_str(local);
            out.push('@');
            out.extend(domain.chars().map(|c| c.to_ascii_lowercase()));
            out
        }
        None => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_trusted_and_private_hops() {
        let ips: Vec<Option<IpAddr>> = vec![
            Some("198.51.100.7".parse().expect("valid literal")),
            None,
            Some("10.0.0.5".parse().expect("valid literal")),
            Some("203.0.113.9".parse().expect("valid literal")),
        ];
        assert_eq!(
            client_ip(ips.clone(), 0),
            Some("198.51.100.7".parse().expect("valid literal"))
        );
        assert_eq!(
            client_ip(ips.clone(), 1),
            Some("203.0.113.9".parse().expect("valid literal"))
        );
        assert_eq!(client_ip(ips.clone(), 4), None);
    }

    #[test]
    fn received_from_clause_ips() {
        let ip = |s: &str| received_from_ip(s.as_bytes()).map(|ip| ip.to_string());
        let cases = [
            (
                "from mx.example (mx.example [203.0.113.5]) by mail.example",
                Some("203.0.113.5"),
            ),
            (
                " from x (HELO y) (198.51.100.7)\r\n\tby z with SMTP",
                Some("198.51.100.7"),
            ),
            ("from x ([IPv6:2001:db8::1]) by z", Some("2001:db8::1")),
            ("from [192.0.2.9] by z", Some("192.0.2.9")),
            ("from 192.0.2.10 by z", Some("192.0.2.10")),
            ("from x (1.2.3.4) [5.6.7.8] by z", Some("5.6.7.8")),
            ("from x by z ([203.0.113.9])", None),
            ("by z with local; Mon, 1 Jan 2002", None),
            ("from x (y [10.0.0.1", None),
            ("from", None),
            (
                "from [10.0.1.22] (66.68.99.248) by r.example",
                Some("66.68.99.248"),
            ),
            (
                "from l.example (HELO 192.168.1.16) (64.49.216.101) by s",
                Some("64.49.216.101"),
            ),
            (
                "(apparently) from s.example ([210.83.114.251]) by n",
                Some("210.83.114.251"),
            ),
            (
                "from alabama (192.168.4.195:1146) by h",
                Some("192.168.4.195"),
            ),
            (
                "(qmail 897 invoked from network[194.125.220.79/ts05.example]); 9 Oct 2002",
                Some("194.125.220.79"),
            ),
            ("(qmail 1 invoked by uid 500); 9 Oct 2002", None),
            (
                "[from a (a [129.188.137.101]) by b]",
                Some("129.188.137.101"),
            ),
            ("from x] y]] (z]) by w", None),
        ];
        for (value, want) in cases {
            assert_eq!(ip(value).as_deref(), want, "{value}");
        }
    }

    #[test]
    fn normalises_domain_case() {
        assert_eq!(normalise_address(" <Bob@Example.COM> "), "Bob@example.com");
    }
}
