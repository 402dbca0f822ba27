//! DNS lists (DNSBL/DNSWL for addresses, URIBL/DBL-style for domains): which
//! names a message asks a list about, and which answers mean "listed". The
//! front end makes the queries (they wait on DNS); the engine reads which
//! lists answered as facts.

use crate::Message;
use std::net::{IpAddr, Ipv4Addr};

/// Domains of URL hosts asked about per message, at most.
pub const MAX_URL_DOMAINS: usize = 20;

/// What a DNS list is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsIdentity {
    /// The client address (the connection's, or the first untrusted
    /// Received hop's), octets or nibbles reversed.
    ClientIp,
    /// The client address and the public addresses of the Received hops
    /// below it (the relays before it, which the sender controls or
    /// used), at most [`MAX_RECEIVED_IPS`].
    ReceivedIps,
    /// The From domain's organisation.
    FromDomain,
    /// The Reply-To domain's organisation.
    ReplyToDomain,
    /// The Return-Path domain's organisation.
    ReturnPathDomain,
    /// The organisations of the hosts linked in the text.
    UrlHosts,
    /// The From address, hashed.
    FromAddress,
    /// The Reply-To address, hashed.
    ReplyToAddress,
    /// The Return-Path (envelope sender) address, hashed.
    ReturnPathAddress,
}

impl DnsIdentity {
    /// Parse an identity name.
    pub fn parse(s: &str) -> Result<DnsIdentity, String> {
        Ok(match s {
            "client_ip" => DnsIdentity::ClientIp,
            "received_ips" => DnsIdentity::ReceivedIps,
            "from_address" => DnsIdentity::FromAddress,
            "reply_to_address" => DnsIdentity::ReplyToAddress,
            "return_path_address" => DnsIdentity::ReturnPathAddress,
            "from_domain" => DnsIdentity::FromDomain,
            "reply_to_domain" => DnsIdentity::ReplyToDomain,
            "return_path_domain" => DnsIdentity::ReturnPathDomain,
            "url_hosts" => DnsIdentity::UrlHosts,
            other => {
                return Err(format!(
                    "unknown DNS list identity {other:?} (client_ip, received_ips, from_domain, reply_to_domain, return_path_domain, url_hosts, from_address, reply_to_address, return_path_address)"
                ));
            }
        })
    }

    /// Whether this identity is an email address (asked about hashed).
    pub fn is_address(self) -> bool {
        matches!(
            self,
            DnsIdentity::FromAddress | DnsIdentity::ReplyToAddress | DnsIdentity::ReturnPathAddress
        )
    }
}

/// How a digest is written into a query name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// Lower-case hexadecimal.
    Hex,
    /// RFC 4648 base32, lower-case, unpadded (as Spamhaus' HBL asks).
    Base32,
}

/// How addresses are hashed for a list (hashed-address lists such as
/// Spamhaus' HBL or Rspamd's `emails` lists take digests, not addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressHash {
    /// SHA-1 of the lower-cased address.
    Sha1(HashFormat),
    /// SHA-256 of the lower-cased address.
    Sha256(HashFormat),
}

impl AddressHash {
    /// The label asked for `address` (`local@domain`, lower-cased first).
    pub fn label(self, address: &str) -> String {
        use sha2::Digest as _;
        let a = address.trim().to_lowercase();
        let (digest, format): (Vec<u8>, _) = match self {
            AddressHash::Sha1(f) => (sha1::Sha1::digest(a.as_bytes()).to_vec(), f),
            AddressHash::Sha256(f) => (sha2::Sha256::digest(a.as_bytes()).to_vec(), f),
        };
        match format {
            HashFormat::Hex => digest.iter().map(|b| format!("{b:02x}")).collect(),
            HashFormat::Base32 => data_encoding::BASE32_NOPAD
                .encode(&digest)
                .to_ascii_lowercase(),
        }
    }
}

/// Received-hop addresses asked about per message, at most.
pub const MAX_RECEIVED_IPS: usize = 8;

/// The client address, then the public `from` addresses of the Received
/// hops below the client's own hop (when the client is not in the headers,
/// as when the connection gave it, every hop is below it).
fn received_ips(msg: &Message) -> Vec<IpAddr> {
    use crate::message::identity::{is_public, received_from_ip};
    let hops: Vec<IpAddr> = msg
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Received"))
        .filter_map(|h| received_from_ip(h.value.as_bytes()))
        .collect();
    let below = match msg.client_ip {
        Some(c) => hops.iter().position(|&ip| ip == c).map_or(0, |p| p + 1),
        None => 0,
    };
    let mut out: Vec<IpAddr> = msg.client_ip.into_iter().collect();
    for ip in &hops[below..] {
        if out.len() >= MAX_RECEIVED_IPS {
            break;
        }
        if is_public(*ip) && !out.contains(ip) {
            out.push(*ip);
        }
    }
    out
}

/// One DNS list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsList {
    /// The zone (`bl.example`), lower-case, no trailing dot.
    pub zone: String,
    /// What is looked up.
    pub identities: Vec<DnsIdentity>,
    /// Answers that mean listed; empty: any 127.0.0.0/8 answer.
    pub returns: Vec<Ipv4Addr>,
    /// How addresses are hashed (address identities need it).
    pub hash: Option<AddressHash>,
    /// How long this list's answers are waited for, within the budget.
    pub timeout: Option<std::time::Duration>,
}

impl DnsList {
    /// The names to query for a message (no duplicates).
    pub fn queries(&self, msg: &Message) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |name: String| {
            if !out.contains(&name) {
                out.push(name);
            }
        };
        for id in &self.identities {
            match id {
                DnsIdentity::ClientIp => {
                    if let Some(ip) = msg.client_ip {
                        push(format!("{}.{}", reversed(ip), self.zone));
                    }
                }
                DnsIdentity::ReceivedIps => {
                    for ip in received_ips(msg) {
                        push(format!("{}.{}", reversed(ip), self.zone));
                    }
                }
                DnsIdentity::FromAddress
                | DnsIdentity::ReplyToAddress
                | DnsIdentity::ReturnPathAddress => {
                    let address = match id {
                        DnsIdentity::FromAddress => {
                            msg.from.as_ref().and_then(|m| m.address.as_deref())
                        }
                        DnsIdentity::ReplyToAddress => {
                            msg.reply_to.as_ref().and_then(|m| m.address.as_deref())
                        }
                        _ => msg.return_path.as_deref(),
                    };
                    if let (Some(a), Some(hash)) = (address, self.hash)
                        && a.contains('@')
                    {
                        push(format!("{}.{}", hash.label(a), self.zone));
                    }
                }
                DnsIdentity::FromDomain => {
                    if let Some(h) = &msg.hosts.from {
                        push(format!("{}.{}", h.organisation(), self.zone));
                    }
                }
                DnsIdentity::ReplyToDomain => {
                    if let Some(h) = &msg.hosts.reply_to {
                        push(format!("{}.{}", h.organisation(), self.zone));
                    }
                }
                DnsIdentity::ReturnPathDomain => {
                    if let Some(h) = &msg.hosts.return_path {
                        push(format!("{}.{}", h.organisation(), self.zone));
                    }
                }
                DnsIdentity::UrlHosts => {
                    let mut seen: Vec<String> = Vec::new();
                    for u in &msg.uris {
                        if seen.len() >= MAX_URL_DOMAINS {
                            break;
                        }
                        let Some(h) = crate::message::host::Host::parse(&u.host) else {
                            continue;
                        };
                        let name = match h.ip() {
                            Some(ip) => reversed(ip),
                            None => h.organisation().to_string(),
                        };
                        if !seen.contains(&name) {
                            seen.push(name);
                        }
                    }
                    for name in seen {
                        push(format!("{name}.{}", self.zone));
                    }
                }
            }
        }
        out
    }

    /// Whether these answers (A records) mean listed.
    pub fn listed(&self, answers: &[Ipv4Addr]) -> bool {
        answers.iter().any(|a| {
            if self.returns.is_empty() {
                a.octets()[0] == 127
            } else {
                self.returns.contains(a)
            }
        })
    }
}

/// An address as DNS lists are asked about it: IPv4 octets reversed
/// (`2.0.0.127`), IPv6 nibbles reversed.
pub fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut parts: Vec<String> = Vec::with_capacity(32);
            for b in v6.octets().iter().rev() {
                parts.push(format!("{:x}", b & 0xf));
                parts.push(format!("{:x}", b >> 4));
            }
            parts.join(".")
        }
    }
}

/// A query a front end makes for a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// The rule that hits when the answer means listed.
    pub rule: std::sync::Arc<str>,
    /// The name to ask for A records.
    pub name: String,
    /// The list (for its `returns`).
    pub list: DnsList,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_asked_for_a_message() {
        let list = DnsList {
            zone: "bl.test".into(),
            identities: vec![
                DnsIdentity::ClientIp,
                DnsIdentity::FromDomain,
                DnsIdentity::UrlHosts,
            ],
            returns: vec![],
            hash: None,
            timeout: None,
        };
        let mut msg = Message::from_email(
            b"From: a@mail.shop.co.uk\nSubject: s\n\nsee http://www.evil.example/x and http://evil.example/y and http://192.0.2.5/\n",
        );
        msg.client_ip = Some("203.0.113.9".parse().expect("ip"));
        assert_eq!(
            list.queries(&msg),
            vec![
                "9.113.0.203.bl.test",
                "shop.co.uk.bl.test",
                "evil.example.bl.test",
                "5.2.0.192.bl.test"
            ]
        );
        assert_eq!(
            reversed("2001:db8::1".parse().expect("ip")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert!(list.listed(&["127.0.0.2".parse().expect("ip")]));
        assert!(!list.listed(&["10.0.0.1".parse().expect("ip")]));
        let strict = DnsList {
            returns: vec!["127.0.0.4".parse().expect("ip")],
            ..list
        };
        assert!(!strict.listed(&["127.0.0.2".parse().expect("ip")]));
    }

    #[test]
    fn hashed_addresses_and_received_hops() {
        // Known digests of "spammer@example.com".
        let a = "Spammer@Example.com";
        assert_eq!(
            AddressHash::Sha1(HashFormat::Hex).label(a),
            "d9c4e5fcae5df5131ec53f86d04a544c4f65f245"
        );
        assert_eq!(
            AddressHash::Sha1(HashFormat::Base32).label(a),
            "3hcol7folx2rghwfh6dnassujrhwl4sf"
        );
        assert_eq!(AddressHash::Sha256(HashFormat::Hex).label(a).len(), 64);
        let list = DnsList {
            zone: "hbl.test".into(),
            identities: vec![DnsIdentity::FromAddress, DnsIdentity::ReturnPathAddress],
            returns: vec![],
            hash: Some(AddressHash::Sha1(HashFormat::Hex)),
            timeout: None,
        };
        let msg = Message::from_email(
            b"From: <spammer@example.com>\nReturn-Path: <>\nSubject: s\n\nhi\n",
        );
        assert_eq!(
            list.queries(&msg),
            vec!["d9c4e5fcae5df5131ec53f86d04a544c4f65f245.hbl.test"]
        );
        // The trusted hop at the top is not asked about; the client and the
        // public relays below it are, private ones are not.
        let relays = DnsList {
            zone: "bl.test".into(),
            identities: vec![DnsIdentity::ReceivedIps],
            returns: vec![],
            hash: None,
            timeout: None,
        };
        let msg = Message::from_email(
            b"Received: from mx.example.org (mx.example.org [192.0.2.1]) by in.example.org\n\
Received: from relay.example.net (relay.example.net [198.51.100.7]) by mx.example.org\n\
Received: from lan (lan [10.1.2.3]) by relay.example.net\n\
Received: from pc (pc [203.0.113.44]) by lan\n\
From: a@example.net\nSubject: s\n\nhi\n",
        );
        let mut msg = msg;
        msg.client_ip = Some("198.51.100.7".parse().expect("ip"));
        assert_eq!(
            relays.queries(&msg),
            vec!["7.100.51.198.bl.test", "44.113.0.203.bl.test"]
        );
    }
}
