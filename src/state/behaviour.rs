//! Sender behaviour in Redis: the three behaviour primitives (window
//! counter, distinct counter, band index) in sorted sets scored by time,
//! each with a TTL of the window, so a fleet counts each sender's rate,
//! fan-out and duplicated texts together. What the counts mean is worked
//! out in [`crate::behaviour::store`], as for the in-memory store.
//!
//! | key | members | kept |
//! |---|---|---|
//! | `bm:<sender>` | one per message | the newest `keep` (rate limit + 1) |
//! | `br:<sender>` | recipient hashes, scored by last time | the newest `keep` (2 (fan-out limit + 1), 64 to 4,096) |
//! | `bd:<band>:<value>` | `<fingerprint>:<sender>` | the newest 16 per band value |
//!
//! Each primitive is one round trip; a message's batch of them is one too
//! (read: a pipeline; record: one atomic transaction). Records made after
//! a verdict, which nobody waits for, are queued and sent by a writer
//! thread in batches of up to [`WRITE_BATCH`] messages per round trip, so
//! classifying a message costs one round trip, not two; a full queue makes
//! the recording message wait (and send its own), so nothing is dropped
//! while Redis answers.

use super::Unavailable;
use super::redis::Redis;
use crate::behaviour::store::{
    BandIndex, BehaviourStore, DistinctCounter, Facts, Query, StoreLimits, Visit, WindowCounter,
};
use crate::behaviour::{BUCKET, BehaviourConfig};
use redis::{Pipeline, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Records a writer thread sends per round trip at most.
pub const WRITE_BATCH: usize = 256;
/// Records queued at most before recording waits.
const QUEUE: usize = 8_192;

/// Sender behaviour in Redis.
#[derive(Debug)]
pub struct RedisBehaviourStore {
    inner: Arc<Inner>,
    /// The queue of records for the writer thread.
    queue: Option<std::sync::mpsc::SyncSender<Query>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// What the store and its writer thread share.
#[derive(Debug)]
struct Inner {
    redis: Arc<Redis>,
    limits: StoreLimits,
    /// Makes message members unique across filters and messages.
    nonce: AtomicU64,
    process: u64,
}

impl Drop for RedisBehaviourStore {
    /// Send what is queued before going.
    fn drop(&mut self) {
        self.queue = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer thread: queued records, in batches, until the store goes.
fn write_queued(inner: Arc<Inner>, queue: std::sync::mpsc::Receiver<Query>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let mut p = redis::pipe();
        for q in &batch {
            inner.ask_record(&mut p, q, false);
        }
        if let Err(e) = inner.redis.with(|c| p.query::<()>(c)) {
            tracing::warn!(
                "sender behaviour of {} messages not recorded: {e}",
                batch.len()
            );
        }
    }
}

/// Replies of a pipeline, taken in order.
type Replies = std::vec::IntoIter<Value>;

fn next<T: redis::FromRedisValue>(r: &mut Replies) -> redis::RedisResult<T> {
    let v = r.next().unwrap_or(Value::Nil);
    Ok(redis::from_redis_value(v)?)
}

impl RedisBehaviourStore {
    /// A store with the configured window and limits, and its writer
    /// thread.
    pub fn new(redis: Arc<Redis>, cfg: &BehaviourConfig) -> RedisBehaviourStore {
        let inner = Arc::new(Inner {
            redis,
            limits: StoreLimits::of(cfg),
            nonce: AtomicU64::new(0),
            process: xxhash_rust::xxh3::xxh3_64(
                format!("{}:{:?}", std::process::id(), std::time::SystemTime::now()).as_bytes(),
            ),
        });
        let (queue, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("behaviour-writer".into())
                .spawn(move || write_queued(inner, rx))
                .ok()
        };
        RedisBehaviourStore {
            inner,
            queue: writer.as_ref().map(|_| queue),
            writer,
        }
    }
}

impl Inner {
    fn ttl(&self) -> i64 {
        self.limits.window + 60
    }

    fn band_keys(&self, fp: u64) -> Vec<String> {
        (0..4)
            .map(|b| {
                self.redis
                    .key(&format!("bd:{b}"), u64::from((fp >> (b * 16)) as u16))
            })
            .collect()
    }

    /// Run one batch of commands; its replies in order.
    fn run(&self, p: &Pipeline) -> Result<Replies, Unavailable> {
        self.redis
            .with(|c| p.query::<Vec<Value>>(c))
            .map(Vec::into_iter)
    }

    // Each primitive as commands added to a batch, and its reply read
    // from the batch's replies: alone or with the others, the same.

    fn ask_window_count(&self, p: &mut Pipeline, key: u64, since: i64) {
        p.zcount(self.redis.key("bm", key), since, "+inf");
    }

    fn ask_window_add(&self, p: &mut Pipeline, key: u64, now: i64, since: i64, keep: usize) {
        let k = self.redis.key("bm", key);
        let member = format!(
            "{now}:{:x}:{:x}",
            self.process,
            self.nonce.fetch_add(1, Ordering::Relaxed)
        );
        p.zrembyscore(&k, "-inf", format!("({since}"))
            .ignore()
            .zadd(&k, member, now)
            .ignore()
            .zremrangebyrank(&k, 0, -(keep.max(1) as isize) - 1)
            .ignore()
            .expire(&k, self.ttl())
            .ignore()
            .zcard(&k);
    }

    fn ask_distinct_with(&self, p: &mut Pipeline, key: u64, since: i64, new: &[String]) {
        let k = self.redis.key("br", key);
        p.zcount(&k, since, "+inf");
        // ZMSCORE takes at least one member.
        if new.is_empty() {
            p.cmd("ZMSCORE").arg(&k).arg("-");
        } else {
            p.cmd("ZMSCORE").arg(&k).arg(new);
        }
    }

    fn read_distinct_with(
        r: &mut Replies,
        since: i64,
        new: &[String],
        keep: usize,
    ) -> redis::RedisResult<usize> {
        let live: u64 = next(r)?;
        let scores: Vec<Option<f64>> = next(r)?;
        // The new ones not among the recipients in the window.
        let fresh = if new.is_empty() {
            0
        } else {
            scores
                .iter()
                .filter(|s| s.is_none_or(|t| (t as i64) < since))
                .count()
        };
        Ok((live as usize + fresh).min(keep))
    }

    fn ask_distinct_add(
        &self,
        p: &mut Pipeline,
        key: u64,
        now: i64,
        since: i64,
        new: &[String],
        keep: usize,
    ) {
        let k = self.redis.key("br", key);
        p.zrembyscore(&k, "-inf", format!("({since}")).ignore();
        for r in new {
            p.zadd(&k, r, now).ignore();
        }
        p.zremrangebyrank(&k, 0, -(keep.max(1) as isize) - 1)
            .ignore()
            .expire(&k, self.ttl())
            .ignore()
            .zcard(&k);
    }

    fn ask_band_entries(&self, p: &mut Pipeline, fp: u64, since: i64) {
        for band in self.band_keys(fp) {
            p.zrangebyscore_withscores(band, since, "+inf");
        }
    }

    /// Band inserts; with `read`, each band's entries are read first.
    fn ask_band_insert(
        &self,
        p: &mut Pipeline,
        (fp, sender, now, since): (u64, u64, i64, i64),
        read: bool,
    ) {
        let m = format!("{fp:x}:{sender:x}");
        for band in self.band_keys(fp) {
            // In a transaction the entries are read before this one is
            // added; the sender's own copy of the text is renewed (ZADD of
            // the same member).
            p.zrembyscore(&band, "-inf", format!("({since}")).ignore();
            if read {
                p.zrangebyscore_withscores(&band, since, "+inf");
            }
            p.zadd(&band, &m, now)
                .ignore()
                .zremrangebyrank(&band, 0, -(BUCKET as isize) - 1)
                .ignore()
                .expire(&band, self.ttl())
                .ignore();
        }
    }

    /// A message's record: window, distinct and band updates (the bands'
    /// entries read first with `read`).
    fn ask_record(&self, p: &mut Pipeline, q: &Query, read: bool) {
        let l = self.limits;
        self.ask_window_add(p, q.sender, q.now, q.since, l.max_messages);
        self.ask_distinct_add(
            p,
            q.sender,
            q.now,
            q.since,
            &members(&q.recipients),
            l.max_events,
        );
        if let Some(fp) = q.fingerprint {
            self.ask_band_insert(p, (fp, q.sender, q.now, q.since), read);
        }
    }

    /// The four bands' entries, each given to `visit` while it wants more.
    fn read_bands(r: &mut Replies, visit: Visit<'_>) -> redis::RedisResult<()> {
        let mut wanted = true;
        for _ in 0..4 {
            let band: Vec<(String, f64)> = next(r)?;
            for (member, t) in band {
                if !wanted {
                    break;
                }
                let Some((f, s)) = member.split_once(':') else {
                    continue;
                };
                if let (Ok(f), Ok(s)) = (u64::from_str_radix(f, 16), u64::from_str_radix(s, 16)) {
                    wanted = visit((t as i64, f, s));
                }
            }
        }
        Ok(())
    }
}

/// Recipient hashes as members, each once.
fn members(recipients: &[u32]) -> Vec<String> {
    let mut ids: Vec<String> = recipients.iter().map(|r| format!("{r:08x}")).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A reply that did not parse is Redis misbehaving: the state is unavailable.
fn parsed<T>(r: redis::RedisResult<T>) -> Result<T, Unavailable> {
    r.map_err(|e| Unavailable(e.to_string()))
}

impl WindowCounter for RedisBehaviourStore {
    fn window_count(&self, key: u64, since: i64) -> Result<usize, Unavailable> {
        let mut p = redis::pipe();
        self.inner.ask_window_count(&mut p, key, since);
        parsed(next::<u64>(&mut self.inner.run(&p)?)).map(|n| n as usize)
    }

    fn window_add(
        &self,
        key: u64,
        now: i64,
        since: i64,
        keep: usize,
    ) -> Result<usize, Unavailable> {
        let mut p = redis::pipe();
        p.atomic();
        self.inner.ask_window_add(&mut p, key, now, since, keep);
        parsed(next::<u64>(&mut self.inner.run(&p)?)).map(|n| n as usize)
    }
}

impl DistinctCounter for RedisBehaviourStore {
    fn distinct_with(
        &self,
        key: u64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable> {
        let new = members(new);
        let mut p = redis::pipe();
        self.inner.ask_distinct_with(&mut p, key, since, &new);
        parsed(Inner::read_distinct_with(
            &mut self.inner.run(&p)?,
            since,
            &new,
            keep,
        ))
    }

    fn distinct_add(
        &self,
        key: u64,
        now: i64,
        since: i64,
        new: &[u32],
        keep: usize,
    ) -> Result<usize, Unavailable> {
        let mut p = redis::pipe();
        p.atomic();
        self.inner
            .ask_distinct_add(&mut p, key, now, since, &members(new), keep);
        parsed(next::<u64>(&mut self.inner.run(&p)?)).map(|n| n as usize)
    }
}

impl BandIndex for RedisBehaviourStore {
    fn band_entries(&self, fp: u64, since: i64, visit: Visit<'_>) -> Result<(), Unavailable> {
        let mut p = redis::pipe();
        self.inner.ask_band_entries(&mut p, fp, since);
        parsed(Inner::read_bands(&mut self.inner.run(&p)?, visit))
    }

    fn band_insert(
        &self,
        fp: u64,
        sender: u64,
        now: i64,
        since: i64,
        visit: Visit<'_>,
    ) -> Result<(), Unavailable> {
        let mut p = redis::pipe();
        p.atomic();
        self.inner
            .ask_band_insert(&mut p, (fp, sender, now, since), true);
        parsed(Inner::read_bands(&mut self.inner.run(&p)?, visit))
    }
}

impl BehaviourStore for RedisBehaviourStore {
    fn limits(&self) -> StoreLimits {
        self.inner.limits
    }

    /// The three reads in one pipeline: one round trip.
    fn read(&self, q: &Query, visit: Visit<'_>) -> Result<Facts, Unavailable> {
        let new = members(&q.recipients);
        let mut p = redis::pipe();
        self.inner.ask_window_count(&mut p, q.sender, q.since);
        self.inner
            .ask_distinct_with(&mut p, q.sender, q.since, &new);
        if let Some(fp) = q.fingerprint {
            self.inner.ask_band_entries(&mut p, fp, q.since);
        }
        let mut r = self.inner.run(&p)?;
        parsed((|| {
            let f = Facts {
                sent: next::<u64>(&mut r)? as usize,
                recipients: Inner::read_distinct_with(
                    &mut r,
                    q.since,
                    &new,
                    self.inner.limits.max_events,
                )?,
            };
            if q.fingerprint.is_some() {
                Inner::read_bands(&mut r, visit)?;
            }
            Ok(f)
        })())
    }

    /// The three updates in one transaction: one round trip, atomic.
    fn record(&self, q: &Query, visit: Visit<'_>) -> Result<Facts, Unavailable> {
        let mut p = redis::pipe();
        p.atomic();
        self.inner.ask_record(&mut p, q, true);
        let mut r = self.inner.run(&p)?;
        parsed((|| {
            let f = Facts {
                sent: next::<u64>(&mut r)? as usize,
                recipients: next::<u64>(&mut r)? as usize,
            };
            if q.fingerprint.is_some() {
                Inner::read_bands(&mut r, visit)?;
            }
            Ok(f)
        })())
    }

    /// Queued for the writer thread; when the queue is full (Redis slower
    /// than the mail), recorded at once.
    fn record_later(&self, q: &Query) -> Result<(), Unavailable> {
        use std::sync::mpsc::TrySendError;
        let q = match self.queue.as_ref().map(|t| t.try_send(q.clone())) {
            Some(Ok(())) => return Ok(()),
            Some(Err(TrySendError::Full(q) | TrySendError::Disconnected(q))) => q,
            None => q.clone(),
        };
        self.record(&q, &mut |_| false).map(drop)
    }
}
