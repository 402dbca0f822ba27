//! Reputation sources in rule sets: which identities of a message are looked
//! up in which filter.

use crate::message::{Channel, Message};
use crate::reputation::identity::{normalise_domain, normalise_email, normalise_item};
use crate::reputation::{Kind, ReputationFilter};
use std::sync::Arc;

/// An identity of a message that can be looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Client IP (first untrusted Received hop, or the milter's connection).
    ClientIp,
    /// From address domain.
    FromDomain,
    /// Reply-To domain.
    ReplyToDomain,
    /// Return-Path domain.
    ReturnPathDomain,
    /// Hosts of URLs in the text.
    UrlHosts,
    /// From address.
    FromAddress,
    /// Sender identity: SMS number, IM account or email address.
    Sender,
}

impl Identity {
    /// Parse an identity name and check it suits `kind`.
    pub fn parse(s: &str, kind: Kind) -> Result<Identity, String> {
        let id = match s {
            "client_ip" => Identity::ClientIp,
            "from_domain" => Identity::FromDomain,
            "reply_to_domain" => Identity::ReplyToDomain,
            "return_path_domain" => Identity::ReturnPathDomain,
            "url_hosts" => Identity::UrlHosts,
            "from_address" => Identity::FromAddress,
            "sender" => Identity::Sender,
            other => {
                return Err(format!(
                    "unknown identity {other:?} (client_ip, from_domain, reply_to_domain, return_path_domain, url_hosts, from_address, sender)"
                ));
            }
        };
        let fits = match id {
            Identity::ClientIp => matches!(kind, Kind::Ip | Kind::UrlHost),
            Identity::FromDomain | Identity::ReplyToDomain | Identity::ReturnPathDomain => {
                matches!(kind, Kind::Domain | Kind::UrlHost)
            }
            Identity::UrlHosts => matches!(kind, Kind::Domain | Kind::UrlHost | Kind::Ip),
            Identity::FromAddress => kind == Kind::Email,
            Identity::Sender => matches!(kind, Kind::Email | Kind::Phone | Kind::ImAccount),
        };
        if fits {
            Ok(id)
        } else {
            Err(format!(
                "identity {s} cannot be looked up in a {kind} filter"
            ))
        }
    }
}

/// A compiled reputation source.
#[derive(Debug, Clone)]
pub struct Source {
    /// The filter (shared).
    pub filter: Arc<ReputationFilter>,
    /// Identities looked up.
    pub identities: Vec<Identity>,
    /// Allow list: a match decides ham.
    pub allow: bool,
    /// Calling code for national phone numbers.
    pub default_country: String,
}

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

impl Source {
    /// Whether any of the message's identities is listed.
    pub fn matches(&self, msg: &Message) -> bool {
        let f = &self.filter;
        let domain = |d: Option<&str>| {
            d.and_then(|d| normalise_domain(d).ok())
                .is_some_and(|d| f.contains_domain(&d))
        };
        self.identities.iter().any(|id| match id {
            Identity::ClientIp => msg.client_ip.is_some_and(|ip| f.contains_ip(ip)),
            Identity::FromDomain => domain(msg.sender_domain()),
            Identity::ReplyToDomain => domain(msg.reply_to.as_ref().and_then(|r| r.domain())),
            Identity::ReturnPathDomain => domain(msg.return_path.as_deref().and_then(domain_of)),
            Identity::UrlHosts => {
                // Mail often links the same host many times: look each up once.
                let mut seen: Vec<&str> = Vec::new();
                msg.uris.iter().take(64).any(|u| {
                    if seen.contains(&u.host.as_str()) {
                        return false;
                    }
                    seen.push(&u.host);
                    match u.host_ip() {
                        Some(ip) => {
                            matches!(f.kind(), Kind::Ip | Kind::UrlHost) && f.contains_ip(ip)
                        }
                        None => f.kind() != Kind::Ip && domain(Some(&u.host)),
                    }
                })
            }
            Identity::FromAddress => msg
                .from
                .as_ref()
                .and_then(|m| m.address.as_deref())
                .and_then(|a| normalise_email(a).ok())
                .is_some_and(|a| f.contains_item(&a)),
            Identity::Sender => {
                !msg.sender.is_empty()
                    && match (f.kind(), msg.channel) {
                        (Kind::Email, Channel::Email)
                        | (Kind::Phone, Channel::Sms)
                        | (Kind::ImAccount, Channel::Im) => {
                            normalise_item(f.kind(), &msg.sender, &self.default_country)
                                .is_ok_and(|s| f.contains_item(&s))
                        }
                        _ => false,
                    }
            }
        })
    }
}
