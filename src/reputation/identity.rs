//! Identity kinds and their normalisation, so that what an operator lists
//! and what a message carries compare equal.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// What a reputation filter lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// IPv4/IPv6 addresses and CIDR prefixes.
    Ip,
    /// Domains (matched at the registrable domain and every parent below it).
    Domain,
    /// Hosts of URLs in message bodies (domains or IPs).
    UrlHost,
    /// Email addresses.
    Email,
    /// Phone numbers (E.164).
    Phone,
    /// Instant-messaging account ids.
    ImAccount,
}

impl Kind {
    /// All kinds.
    pub const ALL: [Kind; 6] = [
        Kind::Ip,
        Kind::Domain,
        Kind::UrlHost,
        Kind::Email,
        Kind::Phone,
        Kind::ImAccount,
    ];

    /// Name as written in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::UrlHost => "url-host",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::ImAccount => "im-account",
        }
    }

    /// Code stored in filter files.
    pub fn code(self) -> u8 {
        Kind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    /// Kind from its stored code.
    pub fn from_code(c: u8) -> Option<Kind> {
        Kind::ALL.get(c as usize).copied()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    /// Parse a kind name (`ip`, `domain`, `url-host`, `email`, `phone`, `im-account`).
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kind {s:?} (ip, domain, url-host, email, phone, im-account)")
            })
    }
}

/// An IP network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Net {
    /// The network of `ip` with `prefix` bits.
    pub fn of(ip: IpAddr, prefix: u8) -> Net {
        let addr = match ip {
            IpAddr::V4(v4) => {
                let p = prefix.min(32);
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let p = prefix.min(128);
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Net { addr, prefix }
    }

    /// The canonical item string (`203.0.113.0/24`).
    pub fn item(&self) -> String {
        format!("{}/{}", self.addr, self.prefix)
    }
}

/// Parse `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32`.
pub fn parse_net(s: &str) -> Result<Net, String> {
    let s = s.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (
            ip,
            Some(
                p.parse::<u8>()
                    .map_err(|_| format!("bad prefix length in {s:?}"))?,
            ),
        ),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("not an IP address: {s:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    if prefix > max {
        return Err(format!("prefix /{prefix} too long for {ip}"));
    }
    Ok(Net::of(ip, prefix))
}

/// Lower-case, IDNA-to-ASCII, no trailing dot.
pub fn normalise_domain(s: &str) -> Result<Cow<'_, str>, String> {
    let s = s.trim().trim_end_matches('.');
    // Plain lower-case ASCII host names (the common case: URI hosts are
    // lower-cased) need no copy and no IDNA processing.
    if is_lower_ascii_host(s.as_bytes()) && s.contains('.') {
        return Ok(Cow::Borrowed(s));
    }
    if s.is_empty() || s.contains(char::is_whitespace) || s.contains('/') || s.contains('@') {
        return Err(format!("not a domain: {s:?}"));
    }
    let ascii: Cow<'_, str> = if s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Owned(
            idna::domain_to_ascii(s).map_err(|_| format!("not a valid domain (IDNA): {s:?}"))?,
        )
    };
    if ascii.is_empty() || !ascii.contains('.') && ascii != "localhost" {
        return Err(format!("not a domain: {s:?}"));
    }
    Ok(ascii)
}

/// Whether `s` is a non-empty run of `a-z 0-9 - .` (already normalised).
fn is_lower_ascii_host(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Calls `f` with the normalised address (as [`normalise_email`] gives it),
/// or returns `None` when `s` is not an address. Plain ASCII addresses are
/// lower-cased on the stack, without allocating.
pub fn with_normalised_email<R>(s: &str, f: impl FnOnce(&str) -> R) -> Option<R> {
    let t = s.trim().trim_start_matches('<').trim_end_matches('>');
    let mut buf = [0u8; 256];
    if let Some((local, domain)) = t.rsplit_once('@') {
        let domain = domain.trim().trim_end_matches('.');
        let ascii_local = local.bytes().all(|b| b.is_ascii_graphic());
        if !local.is_empty() && ascii_local && t.len() <= buf.len() && domain.contains('.') {
            let n = local.len();
            buf[..n].copy_from_slice(local.as_bytes());
            buf[n] = b'@';
            buf[n + 1..n + 1 + domain.len()].copy_from_slice(domain.as_bytes());
            let out = &mut buf[..n + 1 + domain.len()];
            out.make_ascii_lowercase();
            if is_lower_ascii_host(&out[n + 1..]) {
                return std::str::from_utf8(out).ok().map(f);
            }
        }
    }
    normalise_email(s).ok().map(|a| f(&a))
}

/// The domain and its parents down to (and including) the registrable
/// domain from the public suffix list: `a.b.example.co.uk` gives
/// `a.b.example.co.uk`, `b.example.co.uk`, `example.co.uk`.
pub fn domain_and_parents(domain: &str) -> Vec<&str> {
    let registrable = psl::domain_str(domain).unwrap_or(domain);
    let mut out = vec![domain];
    let mut d = domain;
    while d.len() > registrable.len() {
        match d.split_once('.') {
            Some((_, rest)) => {
                out.push(rest);
                d = rest;
            }
            None => break,
        }
    }
    out
}

/// `local@domain` with the domain normalised and the local part lower-cased.
pub fn normalise_email(s: &str) -> Result<String, String> {
    let s = s.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = s
        .rsplit_once('@')
        .ok_or_else(|| format!("not an email address: {s:?}"))?;
    if local.is_empty() {
        return Err(format!("not an email address: {s:?}"));
    }
    Ok(format!(
        "{}@{}",
        local.to_lowercase(),
        normalise_domain(domain)?
    ))
}

/// A phone number in E.164 (`+447700900123`), or a short code (`sc:80082`).
/// Spaces, dashes, dots and parentheses are dropped; `00` becomes `+`; a
/// single leading `0` is the national prefix of `default_country` (a calling
/// code such as `44`).
pub fn normalise_phone(s: &str, default_country: &str) -> Result<String, String> {
    let cleaned: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let (plus, digits) = match cleaned.strip_prefix('+') {
        Some(rest) => (true, rest.to_string()),
        None => match cleaned.strip_prefix("00") {
            Some(rest) => (true, rest.to_string()),
            None => (false, cleaned.clone()),
        },
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a phone number: {s:?}"));
    }
    if plus {
        return if (7..=15).contains(&digits.len()) {
            Ok(format!("+{digits}"))
        } else {
            Err(format!("not an E.164 number: {s:?}"))
        };
    }
    if digits.len() <= 6 {
        return Ok(format!("sc:{digits}"));
    }
    match digits.strip_prefix('0') {
        Some(national) if !default_country.is_empty() => {
            Ok(format!("+{default_country}{national}"))
        }
        _ => Err(format!(
            "cannot make {s:?} international without a default country"
        )),
    }
}

/// IM account ids: trimmed, lower-cased, without a leading `@`.
pub fn normalise_account(s: &str) -> Result<String, String> {
    let a = s.trim().trim_start_matches('@').to_lowercase();
    if a.is_empty() || a.contains(char::is_whitespace) {
        return Err(format!("not an account id: {s:?}"));
    }
    Ok(a)
}

/// Normalise one listed item of `kind` (IP items may be CIDR prefixes).
pub fn normalise_item(kind: Kind, s: &str, default_country: &str) -> Result<String, String> {
    match kind {
        Kind::Ip => parse_net(s).map(|n| n.item()),
        Kind::Domain => normalise_domain(s).map(Cow::into_owned),
        Kind::UrlHost => parse_net(s)
            .map(|n| n.item())
            .or_else(|_| normalise_domain(s).map(Cow::into_owned)),
        Kind::Email => normalise_email(s),
        Kind::Phone => normalise_phone(s, default_country),
        Kind::ImAccount => normalise_account(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_email_normalisation_agrees_with_normalise_email() {
        for a in [
            "Bob@Example.COM",
            "<alice@mail.example.org>",
            " x.y+tag@sub.example.co.uk. ",
            "bad@localhost",
            "@example.com",
            "no-at-sign",
            "J\u{f6}rg@b\u{fc}cher.example",
            "ok@b\u{fc}cher.example",
            "a b@example.com",
        ] {
            assert_eq!(
                with_normalised_email(a, str::to_string),
                normalise_email(a).ok(),
                "{a:?}"
            );
        }
    }

    #[test]
    fn nets() {
        assert_eq!(
            parse_net("203.0.113.77/24").expect("valid network").item(),
            "203.0.113.0/24"
        );
        assert_eq!(
            parse_net("203.0.113.77").expect("valid network").item(),
            "203.0.113.77/32"
        );
        assert_eq!(
            parse_net("2001:db8::1/32").expect("valid network").item(),
            "2001:db8::/32"
        );
        assert!(parse_net("1.2.3.4/33").is_err());
        assert!(parse_net("example.com").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(
            normalise_domain("Example.COM.").expect("valid domain"),
            "example.com"
        );
        assert_eq!(
            normalise_domain("bücher.example").expect("valid domain"),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            domain_and_parents("a.b.example.co.uk"),
            ["a.b.example.co.uk", "b.example.co.uk", "example.co.uk"]
        );
        assert_eq!(domain_and_parents("example.com"), ["example.com"]);
        assert!(normalise_domain("not a domain").is_err());
    }

    #[test]
    fn phones() {
        assert_eq!(
            normalise_phone("07700 900123", "44").expect("valid phone number"),
            "+447700900123"
        );
        assert_eq!(
            normalise_phone("+44 (0)7700-900123".replace("(0)", "").as_str(), "44")
                .expect("valid phone number"),
            "+447700900123"
        );
        assert_eq!(
            normalise_phone("0044 7700 900123", "1").expect("valid phone number"),
            "+447700900123"
        );
        assert_eq!(
            normalise_phone("80082", "44").expect("valid phone number"),
            "sc:80082"
        );
        assert!(normalise_phone("call me", "44").is_err());
        assert!(normalise_phone("07700900123", "").is_err());
    }

    #[test]
    fn emails_and_accounts() {
        assert_eq!(
            normalise_email("<Bob@Example.COM>").expect("valid address"),
            "bob@example.com"
        );
        assert_eq!(
            normalise_account(" @Spam_Bot ").expect("valid account"),
            "spam_bot"
        );
    }
}
