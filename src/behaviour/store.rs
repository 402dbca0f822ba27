//! Where behaviour state lives, at the depth of its primitives: a sliding
//! window of events per key ([`WindowCounter`]), distinct members per key
//! within a window ([`DistinctCounter`]) and the near-duplicate band index
//! ([`BandIndex`]). A backend only stores (in memory,
//! [`MemoryBehaviourStore`](super::MemoryBehaviourStore); in Redis,
//! [`RedisBehaviourStore`](crate::state::behaviour::RedisBehaviourStore));
//! what a message's facts mean — its sender's rate and fan-out, the
//! distinct senders of its text — is worked out once, here, by
//! [`BehaviourStore::try_peek`] and [`BehaviourStore::try_observe`].

use super::{BehaviourConfig, DuplicateCount, MAX_EVENTS, identity_hash};
use crate::state::Unavailable;

/// A band index entry: when, which fingerprint, from which sender (hash).
pub type BandEntry = (i64, u64, u64);

/// Events per key within a sliding window, the newest `keep` at most.
pub trait WindowCounter {
    /// Events of `key` at or after `since`.
    fn window_count(&self, key: u64, since: i64) -> Result<usize, Unavailable>;
    /// Add an event of `key` at `now`, forget those before `since` and all
    /// but the newest `keep`; the events left.
    fn window_add(&self, key: u64, now: i64, since: i64, keep: usize)
    -> Result<usize, Unavailable>;
}

/// Distinct members (32-bit hashes) per key within a sliding window, over
/// the newest `keep` member events at most.
pub trait DistinctCounter {
    /// Distinct members of `key` at or after `since` together with `new`,
    /// as [`distinct_add`](Self::distinct_add) would leave them, without
    /// adding anything.
    fn distinct_with(
        &self,
        key: u64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable>;
    /// Add the `new` members of `key` at `now`, forget events before
    /// `since` and all but the newest `keep`; the distinct members left.
    fn distinct_add(
        &self,
        key: u64,
        now: i64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable>;
}

/// What a band index reader is given, entry by entry: it answers whether
/// it wants more (false: the store stops reading, though an insert still
/// inserts).
pub type Visit<'a> = &'a mut dyn FnMut(BandEntry) -> bool;

/// The near-duplicate index: entries under each of a fingerprint's four
/// 16-bit bands (a fingerprint within 3 bits of another shares a band).
pub trait BandIndex {
    /// The entries at or after `since` under the four bands of `fp`, each
    /// given to `visit` (an entry under several bands, several times).
    fn band_entries(&self, fp: u64, since: i64, visit: Visit<'_>) -> Result<(), Unavailable>;
    /// [`band_entries`](Self::band_entries), then add `(now, fp, sender)`
    /// under each band: one entry per (sender, fingerprint), renewed when
    /// repeated, the newest [`BUCKET`](super::BUCKET) per band value.
    fn band_insert(
        &self,
        fp: u64,
        sender: u64,
        now: i64,
        since: i64,
        visit: Visit<'_>,
    ) -> Result<(), Unavailable>;
}

/// A message as the store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The sender's hash.
    pub sender: u64,
    /// Its recipients' 32-bit hashes (the first 64).
    pub recipients: Vec<u32>,
    /// The text's fingerprint; `None` for texts too short to compare.
    pub fingerprint: Option<u64>,
    /// When (seconds).
    pub now: i64,
    /// Where the window starts.
    pub since: i64,
}

impl Query {
    /// The query for a message of `sender` to `recipients` at `now`.
    pub fn new(
        limits: &StoreLimits,
        sender: &str,
        recipients: &[String],
        fingerprint: Option<u64>,
        now: i64,
    ) -> Query {
        Query {
            sender: identity_hash(sender),
            recipients: recipients
                .iter()
                .take(64)
                .map(|r| identity_hash(r) as u32)
                .collect(),
            fingerprint,
            now,
            since: now - limits.window,
        }
    }
}

/// What the primitives say of a message's sender (its text's band
/// entries are visited as they are read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The sender's messages in the window (before the message, when
    /// read; with it, when recorded).
    pub sent: usize,
    /// The sender's distinct recipients in the window, the message's
    /// included.
    pub recipients: usize,
}

/// What a store keeps per sender and text, from the configuration: the
/// same for every store, so they count alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// The sliding window, seconds.
    pub window: i64,
    /// Bits two fingerprints may differ in and be the same text.
    pub near_bits: u32,
    /// Distinct duplicate senders counted up to this many.
    pub duplicate_cap: usize,
    /// Message times kept per sender: one more than the rate limit.
    pub max_messages: usize,
    /// Recipient events kept per sender.
    pub max_events: usize,
}

impl StoreLimits {
    /// The limits of a configuration.
    pub fn of(cfg: &BehaviourConfig) -> StoreLimits {
        StoreLimits {
            window: cfg.window_secs.max(1),
            near_bits: cfg.near_bits,
            duplicate_cap: cfg.duplicate_senders.max(1),
            max_messages: cfg.rate_limit.saturating_add(1).clamp(2, MAX_EVENTS),
            max_events: cfg
                .fanout_limit
                .saturating_add(1)
                .saturating_mul(2)
                .clamp(64, MAX_EVENTS),
        }
    }
}

/// What the store saw for a message, including it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// Messages from this sender in the window.
    pub sent: usize,
    /// Distinct recipients of this sender in the window.
    pub recipients: usize,
    /// Distinct senders of the same or nearly the same text in the window
    /// (counted up to the `duplicate_senders` threshold).
    pub duplicate_senders: usize,
}

/// Where behaviour state lives: the three primitives, and the batches a
/// message needs of them (a remote store overrides
/// [`read`](Self::read) and [`record`](Self::record) to send each batch in
/// one round trip; what the facts mean is not its business).
pub trait BehaviourStore:
    WindowCounter + DistinctCounter + BandIndex + Send + Sync + std::fmt::Debug
{
    /// The limits this store was made with.
    fn limits(&self) -> StoreLimits;

    /// A message's facts, read without recording it; its text's band
    /// entries given to `visit`.
    fn read(&self, q: &Query, visit: Visit<'_>) -> Result<Facts, Unavailable> {
        let l = self.limits();
        if let Some(fp) = q.fingerprint {
            self.band_entries(fp, q.since, visit)?;
        }
        Ok(Facts {
            sent: self.window_count(q.sender, q.since)?,
            recipients: self.distinct_with(q.sender, q.since, &q.recipients, l.max_events)?,
        })
    }

    /// Record a message; its facts with it, and its text's band entries
    /// (before its own) given to `visit`.
    fn record(&self, q: &Query, visit: Visit<'_>) -> Result<Facts, Unavailable> {
        let l = self.limits();
        if let Some(fp) = q.fingerprint {
            self.band_insert(fp, q.sender, q.now, q.since, visit)?;
        }
        Ok(Facts {
            sent: self.window_add(q.sender, q.now, q.since, l.max_messages)?,
            recipients: self.distinct_add(q.sender, q.now, q.since, &q.recipients, l.max_events)?,
        })
    }

    /// Record a message whose facts nobody waits for (the step after a
    /// verdict): a remote store may queue it and send records in batches.
    fn record_later(&self, q: &Query) -> Result<(), Unavailable> {
        self.record(q, &mut |_| false).map(drop)
    }

    /// What [`try_observe`](Self::try_observe) would report for this
    /// message, without recording it (classifying is read-only), or why a
    /// shared store could not be read.
    fn try_peek(
        &self,
        sender: &str,
        recipients: &[String],
        fingerprint: Option<u64>,
        now: i64,
    ) -> Result<Observation, Unavailable> {
        let l = self.limits();
        let q = Query::new(&l, sender, recipients, fingerprint, now);
        let mut dup = Duplicates::new(&l, &q);
        let f = self.read(&q, &mut |e| dup.visit(e))?;
        Ok(Observation {
            sent: (f.sent + 1).min(l.max_messages),
            recipients: f.recipients,
            duplicate_senders: dup.count(),
        })
    }

    /// Record a message and report what is known about its sender and
    /// text, or why a shared store could not be written.
    fn try_observe(
        &self,
        sender: &str,
        recipients: &[String],
        fingerprint: Option<u64>,
        now: i64,
    ) -> Result<Observation, Unavailable> {
        let l = self.limits();
        let q = Query::new(&l, sender, recipients, fingerprint, now);
        let mut dup = Duplicates::new(&l, &q);
        let f = self.record(&q, &mut |e| dup.visit(e))?;
        Ok(Observation {
            sent: f.sent,
            recipients: f.recipients,
            duplicate_senders: dup.count(),
        })
    }

    /// [`try_peek`](Self::try_peek); nothing known when the store cannot
    /// be read.
    fn peek(
        &self,
        sender: &str,
        recipients: &[String],
        fingerprint: Option<u64>,
        now: i64,
    ) -> Observation {
        self.try_peek(sender, recipients, fingerprint, now)
            .unwrap_or_default()
    }

    /// [`try_observe`](Self::try_observe); nothing known when the store
    /// cannot be written.
    fn observe(
        &self,
        sender: &str,
        recipients: &[String],
        fingerprint: Option<u64>,
        now: i64,
    ) -> Observation {
        self.try_observe(sender, recipients, fingerprint, now)
            .unwrap_or_default()
    }
}

/// The distinct other senders of the same or a near text within the
/// window, counted from band entries as they are read (the message's own
/// sender counts as the first; reading stops at the threshold).
struct Duplicates {
    dup: DuplicateCount,
    sender: u64,
    fp: u64,
    since: i64,
    near_bits: u32,
}

impl Duplicates {
    fn new(l: &StoreLimits, q: &Query) -> Duplicates {
        Duplicates {
            dup: DuplicateCount::new(q.sender, l.duplicate_cap),
            sender: q.sender,
            fp: q.fingerprint.unwrap_or_default(),
            since: q.since,
            near_bits: l.near_bits,
        }
    }

    /// Count one entry; whether more are wanted.
    fn visit(&mut self, e: BandEntry) -> bool {
        if e.2 != self.sender {
            self.dup.consider(e, self.fp, self.since, self.near_bits);
        }
        !self.dup.full()
    }

    fn count(&self) -> usize {
        self.dup.count()
    }
}
