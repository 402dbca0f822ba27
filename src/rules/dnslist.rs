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
    /// The From domain's organisation.
    FromDomain,
    /// The Reply-To domain's organisation.
    ReplyToDomain,
    /// The Return-Path domain's organisation.
    ReturnPathDomain,
    /// The organisations of the hosts linked in the text.
    UrlHosts,
}

impl DnsIdentity {
    /// Parse an identity name.
    pub fn parse(s: &str) -> Result<DnsIdentity, String> {
        Ok(match s {
            "client_ip" => DnsIdentity::ClientIp,
            "from_domain" => DnsIdentity::FromDomain,
            "reply_to_domain" => DnsIdentity::ReplyToDomain,
            "return_path_domain" => DnsIdentity::ReturnPathDomain,
            "url_hosts" => DnsIdentity::UrlHosts,
            other => {
                return Err(format!(
                    "unknown DNS list identity {other:?} (client_ip, from_domain, reply_to_domain, return_path_domain, url_hosts)"
                ));
            }
        })
    }
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
}
