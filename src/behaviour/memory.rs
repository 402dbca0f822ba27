//! The default behaviour store: the three primitives in this process,
//! sharded and bounded.
//!
//! At most `capacity` senders are tracked (least recently seen evicted),
//! each with the times of its last `keep` messages (the window counter)
//! and its last `keep` recipient events (the distinct counter), both in
//! one record per sender. The band index keeps at most [`BUCKET`] recent
//! entries per band value; every entry older than the window is ignored
//! and dropped when touched.

use super::store::{
    BandEntry, BandIndex, BehaviourStore, DistinctCounter, StoreLimits, Visit, WindowCounter,
};
use super::{BUCKET, BehaviourConfig, SCAN_EVENTS};
use crate::state::Unavailable;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// What is remembered of one sender: times as seconds from the first
/// message seen (4 bytes instead of 8) and recipients as 32-bit hashes.
#[derive(Debug, Default)]
struct SenderState {
    /// Time of the first message seen; the times below count from it.
    base: i64,
    /// (time, recipient hash) per recipient reached, oldest first.
    events: VecDeque<(i32, u32)>,
    /// Distinct recipients among `events` (the fan-out) when at most
    /// [`SCAN_EVENTS`] are kept, counted by scanning them.
    distinct: u32,
    /// Events per recipient still in the window, when more than
    /// [`SCAN_EVENTS`] events are kept (its length is then the fan-out;
    /// empty otherwise, and unallocated).
    recipients: rustc_hash::FxHashMap<u32, u32>,
    /// Time of each message, oldest first.
    messages: VecDeque<i32>,
}

impl SenderState {
    fn new(now: i64) -> SenderState {
        SenderState {
            base: now,
            ..SenderState::default()
        }
    }

    /// A time as seconds from `base` (clamped 68 years either way).
    fn offset(&self, t: i64) -> i32 {
        t.saturating_sub(self.base)
            .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// Whether `events` holds recipient `r`.
    fn reached(&self, r: u32) -> bool {
        let (a, b) = self.events.as_slices();
        a.iter().chain(b).any(|&(_, x)| x == r)
    }

    fn drop_event(&mut self, scan: bool) {
        let Some((_, r)) = self.events.pop_front() else {
            return;
        };
        if scan {
            if !self.reached(r) {
                self.distinct -= 1;
            }
        } else if let Some(n) = self.recipients.get_mut(&r) {
            *n -= 1;
            if *n == 0 {
                self.recipients.remove(&r);
            }
        }
    }

    fn add_event(&mut self, t: i32, r: u32, scan: bool) {
        if scan {
            if !self.reached(r) {
                self.distinct += 1;
            }
        } else {
            *self.recipients.entry(r).or_insert(0) += 1;
        }
        self.events.push_back((t, r));
    }
}

/// One shard of the sender table, keyed by the sender's hash (hashed again
/// with Fx: one multiply).
type SenderCache = lru::LruCache<u64, SenderState, rustc_hash::FxBuildHasher>;

/// One shard of one band of the near-duplicate index: 16-bit band value
/// to recent (time, fingerprint, sender) entries.
type Bands = rustc_hash::FxHashMap<u16, VecDeque<BandEntry>>;

/// The default store: sharded, bounded, in memory.
#[derive(Debug)]
pub struct MemoryBehaviourStore {
    limits: StoreLimits,
    senders: Vec<Mutex<SenderCache>>,
    /// `SHARDS` shards for each of the four bands, so concurrent messages
    /// rarely wait on the same lock.
    bands: Vec<Mutex<Bands>>,
}

impl MemoryBehaviourStore {
    /// A store with the configured window and capacity.
    pub fn new(cfg: &BehaviourConfig) -> MemoryBehaviourStore {
        let per_shard =
            NonZeroUsize::new((cfg.capacity / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        MemoryBehaviourStore {
            limits: StoreLimits::of(cfg),
            senders: (0..SHARDS)
                .map(|_| Mutex::new(SenderCache::with_hasher(per_shard, Default::default())))
                .collect(),
            bands: (0..4 * SHARDS)
                .map(|_| Mutex::new(Bands::default()))
                .collect(),
        }
    }

    /// Senders currently tracked (bounded by the configured capacity).
    pub fn tracked_senders(&self) -> usize {
        self.senders
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum()
    }

    /// Run `f` on a sender's record, if it has one.
    fn with_sender<T>(&self, key: u64, f: impl FnOnce(&SenderState) -> T) -> Option<T> {
        let mut shard = self.senders[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard.peek_mut(&key).map(|s| f(s))
    }

    /// Run `f` on a sender's record, made at `now` if it has none.
    fn with_sender_mut<T>(&self, key: u64, now: i64, f: impl FnOnce(&mut SenderState) -> T) -> T {
        let mut shard = self.senders[(key as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(shard.get_or_insert_mut(key, || SenderState::new(now)))
    }

    /// The shard of one band value.
    fn band(&self, b: usize, value: u16) -> std::sync::MutexGuard<'_, Bands> {
        self.bands[b * SHARDS + value as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

/// The four 16-bit band values of a fingerprint.
fn band_values(fp: u64) -> [u16; 4] {
    [0, 1, 2, 3].map(|b| (fp >> (b * 16)) as u16)
}

impl WindowCounter for MemoryBehaviourStore {
    fn window_count(&self, key: u64, since: i64) -> Result<usize, Unavailable> {
        Ok(self
            .with_sender(key, |s| {
                let since = s.offset(since);
                s.messages.iter().filter(|t| **t >= since).count()
            })
            .unwrap_or(0))
    }

    fn window_add(
        &self,
        key: u64,
        now: i64,
        since: i64,
        keep: usize,
    ) -> Result<usize, Unavailable> {
        Ok(self.with_sender_mut(key, now, |s| {
            let (now, since) = (s.offset(now), s.offset(since));
            while s.messages.front().is_some_and(|t| *t < since) {
                s.messages.pop_front();
            }
            if s.messages.len() >= keep.max(1) {
                s.messages.pop_front();
            }
            s.messages.push_back(now);
            s.messages.len()
        }))
    }
}

impl DistinctCounter for MemoryBehaviourStore {
    fn distinct_with(
        &self,
        key: u64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable> {
        // The kept events in the window, less those the new ones would push
        // out, and the new ones.
        let mut all: Vec<u32> = self
            .with_sender(key, |s| {
                let since = s.offset(since);
                let live: Vec<u32> = s
                    .events
                    .iter()
                    .filter(|(t, _)| *t >= since)
                    .map(|&(_, r)| r)
                    .collect();
                let room = keep.saturating_sub(new.len().min(keep));
                live[live.len().saturating_sub(room)..].to_vec()
            })
            .unwrap_or_default();
        all.extend_from_slice(&new[new.len().saturating_sub(keep)..]);
        all.sort_unstable();
        all.dedup();
        Ok(all.len())
    }

    fn distinct_add(
        &self,
        key: u64,
        now: i64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable> {
        let keep = keep.max(1);
        Ok(self.with_sender_mut(key, now, |s| {
            let (now, since) = (s.offset(now), s.offset(since));
            let scan = keep <= SCAN_EVENTS;
            while s.events.front().is_some_and(|(t, _)| *t < since) {
                s.drop_event(scan);
            }
            for &r in new {
                if s.events.len() >= keep {
                    s.drop_event(scan);
                }
                s.add_event(now, r, scan);
            }
            if scan {
                s.distinct as usize
            } else {
                s.recipients.len()
            }
        }))
    }
}

impl BandIndex for MemoryBehaviourStore {
    fn band_entries(&self, fp: u64, since: i64, visit: Visit<'_>) -> Result<(), Unavailable> {
        for (b, value) in band_values(fp).into_iter().enumerate() {
            if let Some(bucket) = self.band(b, value).get(&value) {
                for &e in bucket.iter().filter(|e| e.0 >= since) {
                    if !visit(e) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn band_insert(
        &self,
        fp: u64,
        sender: u64,
        now: i64,
        since: i64,
        visit: Visit<'_>,
    ) -> Result<(), Unavailable> {
        let mut wanted = true;
        for (b, value) in band_values(fp).into_iter().enumerate() {
            let mut idx = self.band(b, value);
            let bucket = idx.entry(value).or_default();
            while bucket.front().is_some_and(|e| e.0 < since) {
                bucket.pop_front();
            }
            // This sender's earlier copy of the same text, if any, is
            // renewed rather than repeated: a bucket holds distinct
            // (sender, text) pairs, so one sender repeating itself does
            // not push other senders out.
            let mut renewed = None;
            for (i, &e) in bucket.iter().enumerate() {
                if e.2 == sender && e.1 == fp {
                    renewed = Some(i);
                }
                if wanted && e.0 >= since {
                    wanted = visit(e);
                }
            }
            match renewed {
                Some(i) => {
                    bucket.remove(i);
                }
                None if bucket.len() >= BUCKET => {
                    bucket.pop_front();
                }
                None => {}
            }
            bucket.push_back((now, fp, sender));
        }
        Ok(())
    }
}

impl BehaviourStore for MemoryBehaviourStore {
    fn limits(&self) -> StoreLimits {
        self.limits
    }
}
