//! Where learned state lives: in this process (the default) or in Redis
//! (or Valkey), shared by every filter of a fleet (`[state]`).
//!
//! With `backend = "redis"`, Bayes token counts, the learned-message books
//! and complaints are kept in Redis, so a message learned or a complaint
//! filed on one filter changes the verdicts of all. Every key spamsift
//! writes (except the two learned-message totals) carries a TTL, so Redis'
//! `volatile-lru` eviction under `max_memory` keeps memory bounded. When
//! Redis cannot be reached, classification goes on without the shared state
//! (a `STATE_UNAVAILABLE` hit at score 0 shows it), learning is refused
//! with an error, and the connection is retried by itself.

#[cfg(feature = "daemons")]
pub mod behaviour;
#[cfg(feature = "daemons")]
pub mod redis;

use serde::Deserialize;

/// The shared state could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state unavailable: {0}")]
pub struct Unavailable(pub String);

/// The id of the hit that shows a verdict was given without shared state.
pub const STATE_UNAVAILABLE: &str = "STATE_UNAVAILABLE";

/// Where state lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// In this process.
    #[default]
    Memory,
    /// In Redis (or Valkey), at `url`.
    Redis,
}

/// The `[state]` section.
///
/// ```toml
/// [state]
/// backend = "redis"
/// url = "redis://127.0.0.1:6379/0"
/// prefix = "spamsift:"
/// timeout = 0.25
/// cache_ms = 1000
/// per_user = false
/// token_ttl_days = 90
/// max_memory = "512mb"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `memory` (default) or `redis`.
    #[serde(default)]
    pub backend: Backend,
    /// The Redis URL (`redis://[:password@]host:port/db`, or
    /// `redis+unix:///path/to.sock`).
    #[serde(default = "default_url")]
    pub url: String,
    /// Prefix of every key, so several sites can share one Redis.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Seconds one Redis request (or connection) may take before the
    /// message is classified without shared state.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Milliseconds a filter reuses token counts it read from Redis (0:
    /// every message reads Redis). What another filter learned changes
    /// this filter's verdicts within this time; what it learned itself,
    /// at once.
    #[serde(default = "default_cache_ms")]
    pub cache_ms: u64,
    /// Keep a Bayes model per user as well as the site's (Rspamd's
    /// `per_user`): a message delivered to one user (the envelope's
    /// `Deliver-To`, its only recipient, or spamd's `User`) is classified
    /// by that user's model once it has learned `[bayes] min_spam` spam and
    /// `min_ham` ham, by the site's until then. Learning for a user (e.g.
    /// `rspamc -d USER learn_spam`, `spamc -u USER -L spam`) learns into
    /// that user's model only; learning for nobody, into the site's. Redis
    /// only.
    #[serde(default)]
    pub per_user: bool,
    /// Days a Bayes token lives after it was last learned.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_days: u64,
    /// Days a learned message is remembered (so it is not learned twice).
    #[serde(default = "default_seen_ttl")]
    pub seen_ttl_days: u64,
    /// Days a complaint about a sender counts.
    #[serde(default = "default_complaint_ttl")]
    pub complaint_ttl_days: u64,
    /// A memory ceiling for Redis (`"512mb"`, `"2gb"`): set as Redis'
    /// `maxmemory` with the `volatile-lru` policy when spamsift connects,
    /// so the least recently used tokens are evicted first. Leave unset
    /// when Redis is managed elsewhere.
    #[serde(default)]
    pub max_memory: Option<String>,
}

fn default_url() -> String {
    "redis://127.0.0.1:6379/0".into()
}
fn default_prefix() -> String {
    "spamsift:".into()
}
fn default_timeout() -> f64 {
    0.25
}
fn default_cache_ms() -> u64 {
    1000
}
fn default_token_ttl() -> u64 {
    90
}
fn default_seen_ttl() -> u64 {
    90
}
fn default_complaint_ttl() -> u64 {
    7
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            backend: Backend::Memory,
            url: default_url(),
            prefix: default_prefix(),
            timeout: default_timeout(),
            cache_ms: default_cache_ms(),
            per_user: false,
            token_ttl_days: default_token_ttl(),
            seen_ttl_days: default_seen_ttl(),
            complaint_ttl_days: default_complaint_ttl(),
            max_memory: None,
        }
    }
}

impl StateSettings {
    /// Check the values; the message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 30.0) {
            return Err(format!(
                "timeout = {}: seconds, above 0 and at most 30",
                self.timeout
            ));
        }
        if self.cache_ms > 60_000 {
            return Err(format!(
                "cache_ms = {}: at most 60000 (a minute)",
                self.cache_ms
            ));
        }
        for (k, v) in [
            ("token_ttl_days", self.token_ttl_days),
            ("seen_ttl_days", self.seen_ttl_days),
            ("complaint_ttl_days", self.complaint_ttl_days),
        ] {
            if v == 0 || v > 3650 {
                return Err(format!("{k} = {v}: 1 to 3650 days"));
            }
        }
        if self.backend == Backend::Redis
            && !(self.url.starts_with("redis://")
                || self.url.starts_with("rediss://")
                || self.url.starts_with("redis+unix://")
                || self.url.starts_with("unix://"))
        {
            return Err(format!(
                "url = {:?}: a redis://, rediss:// or redis+unix:// URL",
                self.url
            ));
        }
        if self.per_user && self.backend != Backend::Redis {
            return Err(
                "per_user = true keeps the users' models in Redis: it needs backend = \"redis\""
                    .into(),
            );
        }
        if let Some(m) = &self.max_memory {
            parse_bytes(m).ok_or_else(|| {
                format!("max_memory = {m:?}: a size such as \"512mb\" or \"2gb\"")
            })?;
        }
        Ok(())
    }
}

/// `"512mb"`, `"2gb"`, `"100000"` as bytes.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().ok()?;
    let mult = match unit.trim() {
        "" | "b" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(StateSettings::default().validate().is_ok());
        let bad = [
            StateSettings {
                timeout: 0.0,
                ..Default::default()
            },
            StateSettings {
                backend: Backend::Redis,
                url: "http://x".into(),
                ..Default::default()
            },
            StateSettings {
                max_memory: Some("lots".into()),
                ..Default::default()
            },
            StateSettings {
                token_ttl_days: 0,
                ..Default::default()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
        assert_eq!(parse_bytes("512mb"), Some(512 << 20));
        assert_eq!(parse_bytes("2 GB"), Some(2 << 30));
        assert_eq!(parse_bytes("12x"), None);
    }
}
