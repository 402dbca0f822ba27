//! Sender behaviour in Redis: a fleet counts each sender's rate, fan-out
//! and duplicated texts together. The same windows and limits as the
//! in-memory store ([`crate::behaviour::MemoryBehaviourStore`]), kept in
//! sorted sets scored by time, each with a TTL of the window:
//!
//! | key | members | kept |
//! |---|---|---|
//! | `bm:<sender>` | one per message | the last `rate_limit + 1` |
//! | `br:<sender>` | recipient hashes, scored by last time | the last `2 (fanout_limit + 1)`, 64 to 4,096 |
//! | `bd:<band>:<value>` | `<fingerprint>:<sender>` | the last 16 per band value |
//!
//! Reading a message's observation is one pipelined round trip; recording
//! one is one atomic transaction.

use super::Unavailable;
use super::redis::Redis;
use crate::behaviour::{
    BUCKET, BehaviourConfig, BehaviourStore, DuplicateCount, Observation, StoreLimits,
    identity_hash,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sender behaviour in Redis.
#[derive(Debug)]
pub struct RedisBehaviourStore {
    redis: Arc<Redis>,
    limits: StoreLimits,
    /// Makes message members unique across filters and messages.
    nonce: AtomicU64,
    process: u64,
}

/// A message's keys and identities in the store.
struct Keys {
    sid: u64,
    since: i64,
    messages: String,
    recipients: String,
    bands: Vec<String>,
    new: Vec<String>,
}

impl RedisBehaviourStore {
    /// A store with the configured window and limits.
    pub fn new(redis: Arc<Redis>, cfg: &BehaviourConfig) -> RedisBehaviourStore {
        RedisBehaviourStore {
            redis,
            limits: StoreLimits::of(cfg),
            nonce: AtomicU64::new(0),
            process: xxhash_rust::xxh3::xxh3_64(
                format!("{}:{:?}", std::process::id(), std::time::SystemTime::now()).as_bytes(),
            ),
        }
    }

    fn keys_of(&self, sender: &str, recipients: &[String], fp: Option<u64>, now: i64) -> Keys {
        let sid = identity_hash(sender);
        let (messages, recipients_key, bands) = self.keys(sid, fp);
        Keys {
            sid,
            since: now - self.limits.window,
            messages,
            recipients: recipients_key,
            bands,
            new: recipient_ids(recipients),
        }
    }

    fn keys(&self, sid: u64, fp: Option<u64>) -> (String, String, Vec<String>) {
        let bands = fp
            .map(|fp| {
                (0..4)
                    .map(|b| {
                        self.redis
                            .key(&format!("bd:{b}"), u64::from((fp >> (b * 16)) as u16))
                    })
                    .collect()
            })
            .unwrap_or_default();
        (self.redis.key("bm", sid), self.redis.key("br", sid), bands)
    }

    /// Distinct near-duplicate senders among band entries.
    fn duplicates(&self, sid: u64, fp: u64, since: i64, bands: Vec<Vec<(String, f64)>>) -> usize {
        let mut dup = DuplicateCount::new(sid, self.limits.duplicate_cap);
        for (member, t) in bands.into_iter().flatten() {
            let Some((f, s)) = member.split_once(':') else {
                continue;
            };
            let (Ok(other), Ok(s)) = (u64::from_str_radix(f, 16), u64::from_str_radix(s, 16))
            else {
                continue;
            };
            if s != sid {
                dup.consider((t as i64, other, s), fp, since, self.limits.near_bits);
            }
        }
        dup.count()
    }
}

fn recipient_ids(recipients: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = recipients
        .iter()
        .take(64)
        .map(|r| format!("{:08x}", identity_hash(r) as u32))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl BehaviourStore for RedisBehaviourStore {
    fn peek(&self, sender: &str, recipients: &[String], fp: Option<u64>, now: i64) -> Observation {
        self.try_peek(sender, recipients, fp, now)
            .unwrap_or_default()
    }

    fn observe(
        &self,
        sender: &str,
        recipients: &[String],
        fp: Option<u64>,
        now: i64,
    ) -> Observation {
        self.try_observe(sender, recipients, fp, now)
            .unwrap_or_default()
    }

    fn try_peek(
        &self,
        sender: &str,
        recipients: &[String],
        fp: Option<u64>,
        now: i64,
    ) -> Result<Observation, Unavailable> {
        let k = self.keys_of(sender, recipients, fp, now);
        type Band = Vec<(String, f64)>;
        let (sent, live, scores, entries) = self.redis.with(|c| {
            let mut p = redis::pipe();
            p.zcount(&k.messages, k.since, "+inf")
                .zcount(&k.recipients, k.since, "+inf");
            // ZMSCORE takes at least one member.
            if k.new.is_empty() {
                p.cmd("ZMSCORE").arg(&k.recipients).arg("-");
            } else {
                p.cmd("ZMSCORE").arg(&k.recipients).arg(&k.new);
            }
            for band in &k.bands {
                p.zrangebyscore_withscores(band, k.since, "+inf");
            }
            // One round trip, with or without the four bands.
            if k.bands.is_empty() {
                let (a, b, s): (u64, u64, Vec<Option<f64>>) = p.query(c)?;
                Ok((a, b, s, Vec::new()))
            } else {
                let (a, b, s, e0, e1, e2, e3): (
                    u64,
                    u64,
                    Vec<Option<f64>>,
                    Band,
                    Band,
                    Band,
                    Band,
                ) = p.query(c)?;
                Ok((a, b, s, vec![e0, e1, e2, e3]))
            }
        })?;
        // Recipients in the window, and the new ones not among them.
        let fresh = if k.new.is_empty() {
            0
        } else {
            scores
                .iter()
                .filter(|s| s.is_none_or(|t| (t as i64) < k.since))
                .count()
        };
        Ok(Observation {
            sent: (sent as usize + 1).min(self.limits.max_messages),
            recipients: (live as usize + fresh).min(self.limits.max_events),
            duplicate_senders: fp.map_or(1, |fp| self.duplicates(k.sid, fp, k.since, entries)),
        })
    }

    fn try_observe(
        &self,
        sender: &str,
        recipients: &[String],
        fp: Option<u64>,
        now: i64,
    ) -> Result<Observation, Unavailable> {
        let k = self.keys_of(sender, recipients, fp, now);
        let ttl = self.limits.window + 60;
        let member = format!(
            "{now}:{:x}:{:x}",
            self.process,
            self.nonce.fetch_add(1, Ordering::Relaxed)
        );
        type Reply = (u64, u64, Vec<Vec<(String, f64)>>);
        let (sent, fanout, entries): Reply = self.redis.with(|c| {
            // Entries of other senders in the bands, read before this
            // message's own are added.
            let mut read = redis::pipe();
            for band in &k.bands {
                read.zrangebyscore_withscores(band, k.since, "+inf");
            }
            let entries: Vec<Vec<(String, f64)>> = if k.bands.is_empty() {
                Vec::new()
            } else {
                read.query(c)?
            };
            let mut p = redis::pipe();
            p.atomic();
            p.zrembyscore(&k.messages, "-inf", format!("({}", k.since))
                .ignore()
                .zadd(&k.messages, &member, now)
                .ignore()
                .zremrangebyrank(&k.messages, 0, -(self.limits.max_messages as isize) - 1)
                .ignore()
                .expire(&k.messages, ttl)
                .ignore()
                .zrembyscore(&k.recipients, "-inf", format!("({}", k.since))
                .ignore();
            for r in &k.new {
                p.zadd(&k.recipients, r, now).ignore();
            }
            p.zremrangebyrank(&k.recipients, 0, -(self.limits.max_events as isize) - 1)
                .ignore()
                .expire(&k.recipients, ttl)
                .ignore();
            if let Some(fp) = fp {
                let m = format!("{fp:x}:{:x}", k.sid);
                for band in &k.bands {
                    p.zrembyscore(band, "-inf", format!("({}", k.since))
                        .ignore()
                        .zadd(band, &m, now)
                        .ignore()
                        .zremrangebyrank(band, 0, -(BUCKET as isize) - 1)
                        .ignore()
                        .expire(band, ttl)
                        .ignore();
                }
            }
            p.zcard(&k.messages).zcard(&k.recipients);
            let (sent, fanout): (u64, u64) = p.query(c)?;
            Ok((sent, fanout, entries))
        })?;
        Ok(Observation {
            sent: sent as usize,
            recipients: fanout as usize,
            duplicate_senders: fp.map_or(0, |fp| self.duplicates(k.sid, fp, k.since, entries)),
        })
    }
}
