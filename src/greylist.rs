//! Greylisting (ITU-T X.1240; as Postfix policy servers, Rspamd and
//! Stalwart do it): the first delivery attempt from an unknown (client
//! network, sender, recipient) triple is deferred with a temporary
//! failure; a real MTA retries, and a retry after `delay` passes and is
//! remembered for `expiry`, so later mail of that triple passes at once.
//! Much bulk and botnet spam is never retried.
//!
//! Authenticated clients, clients without an address (local submission),
//! allow-listed networks, senders and recipients are never greylisted.
//! The triples live in this process or in the shared state (Redis), so a
//! fleet greylists as one; when the store cannot be reached, mail passes
//! (greylisting fails open, never deferring mail it cannot remember).

use crate::net::IpNet;
use crate::state::Unavailable;
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// The `[greylist]` section.
///
/// ```toml
/// [greylist]
/// enabled = true
/// delay_secs = 300
/// retry_window_hours = 24
/// expiry_days = 35
/// allow_networks = ["192.0.2.0/24"]
/// allow_senders = ["@partner.example"]
/// allow_recipients = ["postmaster@example.org"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GreylistSettings {
    /// Turn greylisting on (milter, Rspamd protocol).
    pub enabled: bool,
    /// Seconds a first attempt must wait before a retry passes.
    pub delay_secs: u64,
    /// Hours a first attempt is remembered, waiting for its retry.
    pub retry_window_hours: u64,
    /// Days a triple that passed is remembered (renewed by each message).
    pub expiry_days: u64,
    /// Prefix length an IPv4 client is counted by (senders with several
    /// outbound servers in one network retry from another address).
    pub ipv4_prefix: u8,
    /// Prefix length an IPv6 client is counted by.
    pub ipv6_prefix: u8,
    /// Client networks never greylisted (`192.0.2.0/24`, `2001:db8::/32`).
    pub allow_networks: Vec<String>,
    /// Senders never greylisted: `user@domain`, `@domain` or `domain`.
    pub allow_senders: Vec<String>,
    /// Recipients never greylisted: `user@domain`, `@domain` or `domain`.
    pub allow_recipients: Vec<String>,
    /// Triples remembered at most by the in-memory store.
    pub capacity: usize,
}

impl Default for GreylistSettings {
    fn default() -> Self {
        GreylistSettings {
            enabled: false,
            delay_secs: 300,
            retry_window_hours: 24,
            expiry_days: 35,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            allow_networks: Vec::new(),
            allow_senders: Vec::new(),
            allow_recipients: Vec::new(),
            capacity: 1_000_000,
        }
    }
}

impl GreylistSettings {
    /// Check the values; the message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.delay_secs > 86_400 {
            return Err(format!(
                "delay_secs = {}: at most a day (86400)",
                self.delay_secs
            ));
        }
        if self.retry_window_hours == 0 || self.retry_window_hours * 3600 <= self.delay_secs {
            return Err(format!(
                "retry_window_hours = {}: must be longer than delay_secs",
                self.retry_window_hours
            ));
        }
        if self.expiry_days == 0 || self.expiry_days > 3650 {
            return Err(format!("expiry_days = {}: 1 to 3650", self.expiry_days));
        }
        if self.ipv4_prefix > 32 || self.ipv6_prefix > 128 {
            return Err("ipv4_prefix is at most 32, ipv6_prefix at most 128".into());
        }
        for n in &self.allow_networks {
            IpNet::parse(n).map_err(|e| format!("allow_networks: {e}"))?;
        }
        if self.capacity == 0 {
            return Err("capacity must be at least 1".into());
        }
        Ok(())
    }
}

/// What the store says about a triple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Known: passed before, or retried after the delay.
    Pass,
    /// New, or retried too soon: try again in this many seconds.
    Defer(u64),
}

/// How long triples are kept, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A first attempt waits this long.
    pub delay: i64,
    /// A first attempt is remembered this long.
    pub retry_window: i64,
    /// A passed triple is remembered this long.
    pub expiry: i64,
}

/// Where triples live.
pub trait GreylistStore: Send + Sync + std::fmt::Debug {
    /// Look a triple up at `now` (Unix seconds) and record the attempt.
    fn attempt(&self, triple: u64, now: i64, timing: Timing) -> Result<Seen, Unavailable>;
}

/// Triples in this process: bounded (least recently used forgotten first).
#[derive(Debug)]
pub struct MemoryGreylist {
    triples: Mutex<lru::LruCache<u64, (i64, bool)>>,
}

impl MemoryGreylist {
    /// A store for up to `capacity` triples.
    pub fn new(capacity: usize) -> MemoryGreylist {
        MemoryGreylist {
            triples: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl GreylistStore for MemoryGreylist {
    fn attempt(&self, triple: u64, now: i64, t: Timing) -> Result<Seen, Unavailable> {
        let mut triples = self.triples.lock().unwrap_or_else(|e| e.into_inner());
        // (first attempt, or last pass; passed)
        let seen = match triples.get(&triple).copied() {
            Some((last, true)) if now - last <= t.expiry => Seen::Pass,
            Some((first, false)) if now - first <= t.retry_window => {
                if now - first >= t.delay {
                    Seen::Pass
                } else {
                    return Ok(Seen::Defer((t.delay - (now - first)).max(1) as u64));
                }
            }
            _ => {
                triples.put(triple, (now, false));
                return Ok(Seen::Defer(t.delay.max(1) as u64));
            }
        };
        triples.put(triple, (now, true));
        Ok(seen)
    }
}

/// What greylisting decided for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Deliver: the triple is known, or greylisting does not apply (why).
    Pass(&'static str),
    /// Defer with a temporary failure; retry in this many seconds.
    Defer(u64),
}

/// Greylisting as a front end runs it.
#[derive(Debug, Clone)]
pub struct Greylister {
    settings: GreylistSettings,
    networks: Vec<IpNet>,
    store: Arc<dyn GreylistStore>,
}

impl Greylister {
    /// Greylisting with these settings over a store.
    pub fn new(
        settings: GreylistSettings,
        store: Arc<dyn GreylistStore>,
    ) -> Result<Greylister, String> {
        settings.validate()?;
        let networks = settings
            .allow_networks
            .iter()
            .map(|n| IpNet::parse(n))
            .collect::<Result<_, _>>()?;
        Ok(Greylister {
            settings,
            networks,
            store,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &GreylistSettings {
        &self.settings
    }

    /// Decide for one recipient of a delivery attempt at `now` (Unix
    /// seconds): from `client`, by an SMTP AUTH user or not, envelope
    /// sender `sender`.
    pub fn check(
        &self,
        client: Option<IpAddr>,
        auth_user: Option<&str>,
        sender: &str,
        recipient: &str,
        now: i64,
    ) -> Decision {
        let Some(ip) = client else {
            return Decision::Pass("no client address");
        };
        if auth_user.is_some_and(|u| !u.is_empty()) {
            return Decision::Pass("authenticated");
        }
        if self.networks.iter().any(|n| n.contains(ip)) {
            return Decision::Pass("allow-listed network");
        }
        let sender = crate::message::identity::normalise_address(sender);
        let recipient = crate::message::identity::normalise_address(recipient);
        if listed(&self.settings.allow_senders, &sender) {
            return Decision::Pass("allow-listed sender");
        }
        if listed(&self.settings.allow_recipients, &recipient) {
            return Decision::Pass("allow-listed recipient");
        }
        let network = match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4) & prefix_mask32(self.settings.ipv4_prefix);
                format!(
                    "{}/{}",
                    std::net::Ipv4Addr::from(bits),
                    self.settings.ipv4_prefix
                )
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & prefix_mask128(self.settings.ipv6_prefix);
                format!(
                    "{}/{}",
                    std::net::Ipv6Addr::from(bits),
                    self.settings.ipv6_prefix
                )
            }
        };
        let triple = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for part in [network.as_str(), &sender, &recipient] {
                h.update(part.as_bytes());
                h.update(&[0]);
            }
            h.digest()
        };
        let timing = Timing {
            delay: self.settings.delay_secs as i64,
            retry_window: (self.settings.retry_window_hours * 3600) as i64,
            expiry: (self.settings.expiry_days * 86_400) as i64,
        };
        match self.store.attempt(triple, now, timing) {
            Ok(Seen::Pass) => Decision::Pass("known triple"),
            Ok(Seen::Defer(s)) => Decision::Defer(s),
            Err(e) => {
                tracing::warn!("greylisting skipped: {e}");
                Decision::Pass("greylist store unavailable")
            }
        }
    }
}

/// Whether an address is on a list of `user@domain`, `@domain`, `domain`.
fn listed(list: &[String], address: &str) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    list.iter().any(|e| {
        let e = e.trim().to_ascii_lowercase();
        if let Some(d) = e.strip_prefix('@') {
            d == domain
        } else if e.contains('@') {
            e == address.to_ascii_lowercase()
        } else {
            e == domain
        }
    })
}

fn prefix_mask32(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    }
}

fn prefix_mask128(bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits.min(128)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greylister(settings: GreylistSettings) -> Greylister {
        Greylister::new(settings, Arc::new(MemoryGreylist::new(100))).expect("settings")
    }

    #[test]
    fn first_attempt_deferred_retry_after_the_delay_passes_and_is_remembered() {
        let g = greylister(GreylistSettings {
            enabled: true,
            delay_secs: 60,
            ..Default::default()
        });
        let ip = Some("203.0.113.7".parse().expect("ip"));
        let try_at = |t: i64| g.check(ip, None, "a@sender.example", "b@example.org", t);
        assert_eq!(try_at(1000), Decision::Defer(60));
        assert_eq!(try_at(1030), Decision::Defer(30));
        assert_eq!(try_at(1061), Decision::Pass("known triple"));
        // Remembered: a month later it passes at once.
        assert_eq!(try_at(1061 + 30 * 86_400), Decision::Pass("known triple"));
        // Another server of the same /24 shares the triple.
        let other = Some("203.0.113.200".parse().expect("ip"));
        assert_eq!(
            g.check(other, None, "a@Sender.example", "b@example.org", 2000),
            Decision::Pass("known triple")
        );
        // Another recipient is a new triple.
        assert_eq!(
            g.check(ip, None, "a@sender.example", "c@example.org", 2000),
            Decision::Defer(60)
        );
        // A first attempt never retried within the window is forgotten.
        assert_eq!(
            g.check(ip, None, "x@late.example", "b@example.org", 0),
            Decision::Defer(60)
        );
        assert_eq!(
            g.check(ip, None, "x@late.example", "b@example.org", 2 * 86_400),
            Decision::Defer(60)
        );
    }

    #[test]
    fn who_is_never_greylisted() {
        let g = greylister(GreylistSettings {
            enabled: true,
            allow_networks: vec!["198.51.100.0/24".into()],
            allow_senders: vec!["@partner.example".into(), "boss@corp.example".into()],
            allow_recipients: vec!["postmaster@example.org".into()],
            ..Default::default()
        });
        let ip = Some("203.0.113.7".parse().expect("ip"));
        // (client, SMTP AUTH user, sender, recipient, decision)
        type Case<'a> = (Option<IpAddr>, Option<&'a str>, &'a str, &'a str, Decision);
        let table: &[Case] = &[
            (
                None,
                None,
                "a@x.example",
                "b@example.org",
                Decision::Pass("no client address"),
            ),
            (
                ip,
                Some("alice"),
                "a@x.example",
                "b@example.org",
                Decision::Pass("authenticated"),
            ),
            (
                Some("198.51.100.9".parse().expect("ip")),
                None,
                "a@x.example",
                "b@example.org",
                Decision::Pass("allow-listed network"),
            ),
            (
                ip,
                None,
                "news@partner.example",
                "b@example.org",
                Decision::Pass("allow-listed sender"),
            ),
            (
                ip,
                None,
                "Boss@corp.example",
                "b@example.org",
                Decision::Pass("allow-listed sender"),
            ),
            (
                ip,
                None,
                "a@x.example",
                "<Postmaster@example.org>",
                Decision::Pass("allow-listed recipient"),
            ),
            (
                ip,
                None,
                "a@x.example",
                "b@example.org",
                Decision::Defer(300),
            ),
        ];
        for (client, auth, from, to, want) in table {
            assert_eq!(
                &g.check(*client, *auth, from, to, 100),
                want,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let bad = [
            GreylistSettings {
                retry_window_hours: 0,
                ..Default::default()
            },
            GreylistSettings {
                allow_networks: vec!["10.0.0.0/33".into()],
                ..Default::default()
            },
            GreylistSettings {
                ipv4_prefix: 40,
                ..Default::default()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
    }
}
