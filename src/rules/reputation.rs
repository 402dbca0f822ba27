//! Reputation sources in rule sets: which identities of a message are looked
//! up in which filter.

use crate::message::{Channel, Message};
use crate::reputation::identity::{normalise_domain, normalise_item, with_normalised_email};
use crate::reputation::{Kind, Lookup, ReputationFilter};
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

/// URIs of a message whose hosts are looked up.
const MAX_URIS: usize = 64;

fn domain_of(addr: &str) -> Option<&str> {
    addr.rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
}

impl Source {
    /// Whether any of the message's identities is listed.
    pub fn matches(&self, msg: &Message) -> bool {
        let kind = self.filter.kind();
        let look = |what: Lookup<'_>| self.filter.lookup(what);
        let domain = |d: Option<&str>| {
            d.and_then(|d| normalise_domain(d).ok())
                .is_some_and(|d| look(Lookup::Domain(&d)))
        };
        self.identities.iter().any(|id| match id {
            Identity::ClientIp => msg.client_ip.is_some_and(|ip| look(Lookup::Ip(ip))),
            Identity::FromDomain => domain(msg.sender_domain()),
            Identity::ReplyToDomain => domain(msg.reply_to.as_ref().and_then(|r| r.domain())),
            Identity::ReturnPathDomain => domain(msg.return_path.as_deref().and_then(domain_of)),
            Identity::UrlHosts => {
                // Mail often links the same host many times: look each up once.
                let uris = &msg.uris[..msg.uris.len().min(MAX_URIS)];
                uris.iter().enumerate().any(|(i, u)| {
                    if uris[..i].iter().any(|v| v.host == u.host) {
                        return false;
                    }
                    match u.host_ip() {
                        Some(ip) => {
                            matches!(kind, Kind::Ip | Kind::UrlHost) && look(Lookup::Ip(ip))
                        }
                        None => kind != Kind::Ip && domain(Some(&u.host)),
                    }
                })
            }
            Identity::FromAddress => msg
                .from
                .as_ref()
                .and_then(|m| m.address.as_deref())
                .and_then(|a| with_normalised_email(a, |a| look(Lookup::Item(a))))
                .unwrap_or(false),
            Identity::Sender => {
                !msg.sender.is_empty()
                    && match (kind, msg.channel) {
                        (Kind::Email, Channel::Email)
                        | (Kind::Phone, Channel::Sms)
                        | (Kind::ImAccount, Channel::Im) => {
                            normalise_item(kind, &msg.sender, &self.default_country)
                                .is_ok_and(|s| look(Lookup::Item(&s)))
                        }
                        _ => false,
                    }
            }
        })
    }
}
