//! Sender reputation learned from the filter's own verdicts (as Rspamd's
//! reputation module keeps it): for each client network and each
//! authenticated sending domain, how many of its recent messages were spam
//! and how many ham. A source that sent enough mail, nearly all spam, earns
//! a bad-reputation hit; nearly all ham, a good one.
//!
//! Only identities a sender cannot forge are counted: the client network
//! (the connecting address, or the first untrusted Received hop) and
//! domains that authenticated (a DKIM signature that verified, an SPF pass).
//! A From domain is never counted: a phisher would ruin the bank's.
//!
//! A message counts by its score without the reputation hits themselves,
//! so a reputation never feeds on itself. Counts live in this process
//! (bounded, least recently used forgotten) or in the shared state
//! (Redis), so a fleet learns one reputation; each identity's counts are
//! forgotten `ttl_days` after its last message.

use crate::message::Message;
use crate::state::Unavailable;
use crate::verdict::{Hit, Verdict};
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// The `[reputation]` section.
///
/// ```toml
/// [reputation]
/// enabled = true
/// min_messages = 20
/// bad_share = 0.9
/// good_share = 0.98
/// bad_score = 2.0
/// good_score = -1.0
/// ttl_days = 30
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReputationSettings {
    /// Count verdicts and give reputation hits (email).
    pub enabled: bool,
    /// Messages a source must have sent before it has a reputation.
    pub min_messages: u32,
    /// Share of spam at or above which a source's reputation is bad.
    pub bad_share: f64,
    /// Share of ham at or above which a source's reputation is good.
    pub good_share: f64,
    /// Score of a bad reputation (`REP_NET_BAD`, `REP_DOMAIN_BAD`); positive.
    pub bad_score: f64,
    /// Score of a good reputation (`REP_NET_GOOD`, `REP_DOMAIN_GOOD`);
    /// negative, and smaller than the bad score, so a good name never
    /// outweighs what the content says.
    pub good_score: f64,
    /// Days a source's counts are kept after its last message.
    pub ttl_days: u64,
    /// Prefix length an IPv4 client is counted by.
    pub ipv4_prefix: u8,
    /// Prefix length an IPv6 client is counted by.
    pub ipv6_prefix: u8,
    /// Sources remembered at most by the in-memory store.
    pub capacity: usize,
}

impl Default for ReputationSettings {
    fn default() -> Self {
        ReputationSettings {
            enabled: false,
            min_messages: 20,
            bad_share: 0.9,
            good_share: 0.98,
            bad_score: 2.0,
            good_score: -1.0,
            ttl_days: 30,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            capacity: 1_000_000,
        }
    }
}

impl ReputationSettings {
    /// Check the values; the message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        for (k, v) in [
            ("bad_share", self.bad_share),
            ("good_share", self.good_share),
        ] {
            if !(v > 0.5 && v <= 1.0) {
                return Err(format!("{k} = {v}: a share above 0.5 and at most 1"));
            }
        }
        if !(self.bad_score.is_finite() && self.bad_score >= 0.0) {
            return Err(format!(
                "bad_score = {}: a bad reputation is evidence of spam, 0 or more",
                self.bad_score
            ));
        }
        if !(self.good_score.is_finite() && self.good_score <= 0.0) {
            return Err(format!(
                "good_score = {}: a good reputation is evidence of ham, 0 or less",
                self.good_score
            ));
        }
        if self.min_messages == 0 {
            return Err("min_messages = 0: at least 1".into());
        }
        if self.ttl_days == 0 || self.ttl_days > 3650 {
            return Err(format!("ttl_days = {}: 1 to 3650 days", self.ttl_days));
        }
        if self.ipv4_prefix > 32 || self.ipv6_prefix > 128 {
            return Err("ipv4_prefix is at most 32, ipv6_prefix at most 128".into());
        }
        Ok(())
    }
}

/// Messages of a source counted as spam and as ham.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Counted as spam.
    pub spam: u32,
    /// Counted as ham.
    pub ham: u32,
}

/// Where the counts live.
pub trait ReputationStore: Send + Sync + std::fmt::Debug {
    /// The counts of each source (by its hash) as of `now`, at once (a
    /// remote store answers in one round trip).
    fn tallies(&self, sources: &[u64], now: i64) -> Result<Vec<Tally>, Unavailable>;
    /// Count one message for each source: as spam or as ham.
    fn count(&self, sources: &[u64], spam: bool, now: i64) -> Result<(), Unavailable>;
}

const SHARDS: usize = 16;

/// Counts in this process: bounded, least recently used forgotten, and
/// each source forgotten `ttl` seconds after its last message.
#[derive(Debug)]
pub struct MemoryReputation {
    ttl: i64,
    shards: Vec<Mutex<lru::LruCache<u64, (Tally, i64)>>>,
}

impl MemoryReputation {
    /// A store for `settings`.
    pub fn new(settings: &ReputationSettings) -> MemoryReputation {
        let per =
            NonZeroUsize::new((settings.capacity / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        MemoryReputation {
            ttl: settings.ttl_days.saturating_mul(86_400) as i64,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(lru::LruCache::new(per)))
                .collect(),
        }
    }

    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, lru::LruCache<u64, (Tally, i64)>> {
        self.shards[(id >> 60) as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl ReputationStore for MemoryReputation {
    fn tallies(&self, sources: &[u64], now: i64) -> Result<Vec<Tally>, Unavailable> {
        Ok(sources
            .iter()
            .map(|&id| match self.shard(id).peek(&id) {
                Some(&(t, last)) if now - last <= self.ttl => t,
                _ => Tally::default(),
            })
            .collect())
    }

    fn count(&self, sources: &[u64], spam: bool, now: i64) -> Result<(), Unavailable> {
        for &id in sources {
            let mut shard = self.shard(id);
            let entry = shard.get_or_insert_mut(id, || (Tally::default(), now));
            if now - entry.1 > self.ttl {
                entry.0 = Tally::default();
            }
            if spam {
                entry.0.spam = entry.0.spam.saturating_add(1);
            } else {
                entry.0.ham = entry.0.ham.saturating_add(1);
            }
            entry.1 = entry.1.max(now);
        }
        Ok(())
    }
}

/// What kind of source a reputation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The client's network (`/24`, `/64` by default).
    Network,
    /// A domain that authenticated the message (DKIM, SPF).
    Domain,
}

/// One source of a message: what it is, as written in hits, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Network or domain.
    pub kind: SourceKind,
    /// `192.0.2.0/24`, `example.com`.
    pub name: String,
    /// The key it is counted under.
    pub id: u64,
}

/// Hit names per source kind: (bad, good).
const NAMES: [(SourceKind, &str, &str); 2] = [
    (SourceKind::Network, "REP_NET_BAD", "REP_NET_GOOD"),
    (SourceKind::Domain, "REP_DOMAIN_BAD", "REP_DOMAIN_GOOD"),
];

/// Reputation as the engine runs it.
#[derive(Debug, Clone)]
pub struct Reputation {
    settings: ReputationSettings,
    store: Arc<dyn ReputationStore>,
}

impl Reputation {
    /// Reputation over a store.
    pub fn new(settings: ReputationSettings, store: Arc<dyn ReputationStore>) -> Reputation {
        Reputation { settings, store }
    }

    /// The sources of a message that cannot be forged: its client network
    /// (public addresses only) and the domains that authenticated it (at
    /// most four).
    pub fn sources(&self, msg: &Message) -> Vec<Source> {
        let mut out = Vec::new();
        if let Some(ip) = msg
            .client_ip
            .filter(|ip| crate::message::identity::is_public(*ip))
        {
            let prefix = match ip {
                IpAddr::V4(_) => self.settings.ipv4_prefix,
                IpAddr::V6(_) => self.settings.ipv6_prefix,
            };
            let name = super::identity::Net::of(ip, prefix).item();
            out.push(Source {
                kind: SourceKind::Network,
                id: xxhash_rust::xxh3::xxh3_64(format!("net:{name}").as_bytes()),
                name,
            });
        }
        if let Some(auth) = &msg.auth {
            let mut domains: Vec<String> = auth
                .dkim_domains
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .collect();
            if auth.spf == crate::auth::Outcome::Pass && !auth.spf_domain.is_empty() {
                domains.push(auth.spf_domain.trim_end_matches('.').to_ascii_lowercase());
            }
            domains.sort();
            domains.dedup();
            for name in domains.into_iter().filter(|d| !d.is_empty()).take(4) {
                out.push(Source {
                    kind: SourceKind::Domain,
                    id: xxhash_rust::xxh3::xxh3_64(format!("domain:{name}").as_bytes()),
                    name,
                });
            }
        }
        out
    }

    /// The reputation hits of a message's sources (at most one bad and one
    /// good per kind), or why the shared store could not be read.
    pub fn check(&self, msg: &Message) -> Result<Vec<Hit>, Unavailable> {
        let sources = self.sources(msg);
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<u64> = sources.iter().map(|s| s.id).collect();
        // The message's clock (when the front end received it), as when
        // it is counted.
        let tallies = self.store.tallies(&ids, msg.clock().timestamp())?;
        let s = &self.settings;
        let mut hits: Vec<Hit> = Vec::new();
        for (source, t) in sources.iter().zip(tallies) {
            let n = t.spam.saturating_add(t.ham);
            if n < s.min_messages {
                continue;
            }
            let Some(&(_, bad, good)) = NAMES.iter().find(|(k, _, _)| *k == source.kind) else {
                continue;
            };
            let spam_share = f64::from(t.spam) / f64::from(n);
            let (id, score, what) = if spam_share >= s.bad_share {
                (bad, s.bad_score, "spam")
            } else if 1.0 - spam_share >= s.good_share {
                (good, s.good_score, "ham")
            } else {
                continue;
            };
            if hits.iter().any(|h| &*h.id == id) {
                continue;
            }
            hits.push(Hit {
                id: Arc::from(id),
                score,
                description: Arc::from(
                    format!(
                        "{} sent {} of its last {n} messages as {what} ({} spam, {} ham)",
                        source.name,
                        if what == "spam" { t.spam } else { t.ham },
                        t.spam,
                        t.ham
                    )
                    .as_str(),
                ),
            });
        }
        Ok(hits)
    }

    /// Count a classified message for its sources: as spam when its score,
    /// less the reputation hits, reached the threshold; as ham when it
    /// stayed under half of it; not at all in between.
    pub fn record(&self, msg: &Message, verdict: &Verdict) {
        let sources = self.sources(msg);
        if sources.is_empty() {
            return;
        }
        let own: f64 = verdict
            .hits
            .iter()
            .filter(|h| NAMES.iter().any(|(_, b, g)| *b == &*h.id || *g == &*h.id))
            .map(|h| h.score)
            .sum();
        let score = verdict.score - own;
        let spam = if score >= verdict.threshold {
            true
        } else if score < verdict.threshold / 2.0 {
            false
        } else {
            return;
        };
        let ids: Vec<u64> = sources.iter().map(|s| s.id).collect();
        if let Err(e) = self.store.count(&ids, spam, msg.clock().timestamp()) {
            tracing::warn!("sender reputation not recorded: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_expire_after_the_ttl() {
        let s = ReputationSettings {
            ttl_days: 1,
            ..ReputationSettings::default()
        };
        let m = MemoryReputation::new(&s);
        let now = chrono::Utc::now().timestamp();
        m.count(&[7], true, now - 3 * 86_400).unwrap();
        m.count(&[7], true, now - 3 * 86_400).unwrap();
        m.count(&[7], false, now).unwrap();
        assert_eq!(
            m.tallies(&[7, 8], now).unwrap(),
            [Tally { spam: 0, ham: 1 }, Tally::default()]
        );
        // A day and a half on, nothing counts.
        assert_eq!(m.tallies(&[7], now + 129_600).unwrap(), [Tally::default()]);
    }

    #[test]
    fn settings_keep_each_score_on_its_side() {
        for bad in [
            ReputationSettings {
                bad_score: -1.0,
                ..ReputationSettings::default()
            },
            ReputationSettings {
                good_score: 0.5,
                ..ReputationSettings::default()
            },
            ReputationSettings {
                bad_share: 0.4,
                ..ReputationSettings::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(ReputationSettings::default().validate().is_ok());
    }
}
