//! Sender behaviour (ITU-T X.1245, X.1247 Suppl. 12, X.1248): sending rate,
//! fan-out to many recipients, and the same or nearly the same text sent by
//! many senders. Stateful, per engine, behind [`BehaviourStore`]: three
//! storage primitives (a window counter, a distinct counter and the
//! near-duplicate band index, [`store`]) that a backend implements, in
//! memory ([`MemoryBehaviourStore`]) or in Redis, while what their counts
//! mean is worked out in one place.
//!
//! Memory is bounded: at most `capacity` senders are tracked (least recently
//! seen evicted), each with the times of its last `rate_limit + 1` messages
//! and its last `2 * (fanout_limit + 1)` recipient events (at least 64, at
//! most [`MAX_EVENTS`]): enough to tell whether a limit is passed, and no
//! more. The duplicate
//! index keeps at most [`BUCKET`] recent fingerprints per band bucket; every
//! entry older than the window is ignored and dropped when touched.

mod memory;
pub mod store;

pub use memory::MemoryBehaviourStore;
pub use store::{
    BandEntry, BandIndex, BehaviourStore, DistinctCounter, Facts, Observation, Query, StoreLimits,
    Visit, WindowCounter,
};

use crate::message::Message;
use crate::runs::{ByteClass, ByteRuns};
use crate::verdict::Hit;
use crate::wordhash::{finish, fmix64, load16, lower8, mix_block, short_word_hash, word_hash};
use serde::Deserialize;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use xxhash_rust::xxh3::xxh3_64;

/// Most recipient events remembered per sender, whatever the limits.
pub const MAX_EVENTS: usize = 4096;
/// Fingerprints remembered per duplicate-index bucket.
pub const BUCKET: usize = 16;
/// Recipient events kept per sender up to which distinct recipients are
/// counted by scanning them (no hash map per sender); 64 with the defaults.
pub const SCAN_EVENTS: usize = 128;
/// Largest useful `duplicate_senders` (larger values act as this).
pub const MAX_DUPLICATE_SENDERS: usize = 64;
const SHARDS: usize = 16;

/// Thresholds and scores (`[behaviour]` in the configuration).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourConfig {
    /// Turn behaviour analysis on.
    pub enabled: bool,
    /// Sliding window, seconds.
    pub window_secs: i64,
    /// Messages per sender per window above which `BEHAV_RATE` hits.
    pub rate_limit: usize,
    /// Distinct recipients per sender per window above which `BEHAV_FANOUT` hits.
    pub fanout_limit: usize,
    /// Distinct senders of the same or nearly the same text per window at
    /// which `BEHAV_DUPLICATE` hits (at most [`MAX_DUPLICATE_SENDERS`]).
    pub duplicate_senders: usize,
    /// Bits two SimHash fingerprints may differ in and still count as the same text.
    pub near_bits: u32,
    /// Texts with fewer words (runs of letters and digits) are not compared ("ok", "see you at 8" are
    /// sent by everyone).
    pub duplicate_min_words: usize,
    /// Senders tracked at most.
    pub capacity: usize,
    /// Score of `BEHAV_RATE`.
    pub rate_score: f64,
    /// Score of `BEHAV_FANOUT`.
    pub fanout_score: f64,
    /// Score of `BEHAV_DUPLICATE`.
    pub duplicate_score: f64,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            enabled: false,
            window_secs: 3600,
            rate_limit: 60,
            fanout_limit: 30,
            duplicate_senders: 5,
            near_bits: 3,
            duplicate_min_words: 8,
            capacity: 100_000,
            rate_score: 2.5,
            fanout_score: 3.0,
            duplicate_score: 3.0,
        }
    }
}

/// Hash of an identity (sender, recipient) trimmed and lower-cased; no
/// allocation unless it holds non-ASCII upper-case letters.
pub(crate) fn identity_hash(id: &str) -> u64 {
    let id = id.trim();
    if !id.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        return xxh3_64(id.as_bytes());
    }
    if id.is_ascii() {
        let mut buf = [0u8; 128];
        if let Some(dst) = buf.get_mut(..id.len()) {
            dst.copy_from_slice(id.as_bytes());
            dst.make_ascii_lowercase();
            return xxh3_64(dst);
        }
    }
    xxh3_64(id.to_lowercase().as_bytes())
}

/// For each byte value, +1 for each set bit and -1 for each clear one,
/// lowest bit first (16-bit lanes: one vector add per byte).
const BYTE_SIGNS: [[i16; 8]; 256] = {
    let mut table = [[0i16; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            table[byte][bit] = if (byte >> bit) & 1 == 1 { 1 } else { -1 };
            bit += 1;
        }
        byte += 1;
    }
    table
};

/// Words of a text SimHash reads at most (so the 16-bit votes cannot overflow).
const SIMHASH_WORDS: usize = 512;

/// 64-bit SimHash of the text's word 3-shingles (lower-cased, digits folded
/// to `0` so changed numbers do not hide a campaign).
pub fn simhash(text: &str) -> u64 {
    simhash_with_words(text).0
}

/// [`simhash`] and the number of words it read (runs of letters and digits,
/// at most 512).
pub fn simhash_with_words(text: &str) -> (u64, usize) {
    let mut acc = SimHasher::default();
    if text.is_ascii() {
        // Words found 64 bytes at a time; a word of up to 16 bytes is
        // folded (lower case, digits as `0`) and hashed in registers.
        let bytes = text.as_bytes();
        for (start, end) in ByteRuns::new(bytes, &ALNUM) {
            let len = end - start;
            let h = if len <= 16 {
                let (w0, w1) = load16(bytes, start, len);
                short_word_hash(fold8(w0), fold8(w1), len, 0)
            } else {
                // Longer words: the same hash, 8 folded bytes at a time
                // (no folded copy of the word).
                let word = &bytes[start..end];
                let h = word.chunks(8).fold(0, |h, c| {
                    let mut block = [0u8; 8];
                    block[..c.len()].copy_from_slice(c);
                    mix_block(h, fold8(u64::from_le_bytes(block)))
                });
                finish(h, len.div_ceil(8), len)
            };
            acc.word(h);
            if acc.words >= SIMHASH_WORDS {
                break;
            }
        }
        return (acc.finish(), acc.words);
    }
    let mut buf = String::with_capacity(32);
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(SIMHASH_WORDS)
    {
        buf.clear();
        for c in word.chars() {
            if c.is_ascii_digit() {
                buf.push('0');
            } else {
                buf.extend(c.to_lowercase());
            }
        }
        acc.word(word_hash(buf.as_bytes(), 0));
    }
    (acc.finish(), acc.words)
}

/// The bytes of SimHash words (in ASCII text): letters and digits.
const ALNUM: ByteClass = ByteClass::new(b"", false);

/// 8 bytes of ASCII letters and digits folded at once: letters lower-cased,
/// digits turned to `0`.
fn fold8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 7 of a byte is set by the first add when it is >= b'0', by the
    // second when it is > b'9' (ASCII bytes: no add carries out of a byte).
    let ge_0 = x.wrapping_add(ONES * (0x80 - u64::from(b'0')));
    let gt_9 = x.wrapping_add(ONES * (0x7f - u64::from(b'9')));
    let digits = (ge_0 & !gt_9 & (ONES * 0x80)) >> 7;
    lower8(x & !(digits * 0x0f))
}

/// The hash of a 3-shingle from its words' hashes: order-sensitive, every
/// input bit spread over the output by a 64-bit finaliser (MurmurHash3's
/// fmix64), a few cycles instead of hashing 24 bytes.
fn shingle_hash(a: u64, b: u64, c: u64) -> u64 {
    fmix64(
        a ^ b.rotate_left(21).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ c.rotate_left(42).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
    )
}

/// SimHash over word hashes as they come: each 3-shingle (or each word of a
/// text shorter than three words) adds +1/-1 per bit.
struct SimHasher {
    v: [i16; 64],
    last: [u64; 3],
    words: usize,
}

impl Default for SimHasher {
    fn default() -> Self {
        SimHasher {
            v: [0; 64],
            last: [0; 3],
            words: 0,
        }
    }
}

impl SimHasher {
    fn add(&mut self, h: u64) {
        // A byte at a time from a table: eight 8-lane adds instead of 64 shifts.
        for (lanes, byte) in self.v.chunks_exact_mut(8).zip(h.to_le_bytes()) {
            for (slot, sign) in lanes.iter_mut().zip(&BYTE_SIGNS[byte as usize]) {
                *slot += sign;
            }
        }
    }

    fn word(&mut self, h: u64) {
        self.last = [self.last[1], self.last[2], h];
        self.words += 1;
        if self.words >= 3 {
            self.add(shingle_hash(self.last[0], self.last[1], self.last[2]));
        }
    }

    fn finish(&mut self) -> u64 {
        if self.words < 3 {
            let last = self.last;
            for &h in &last[3 - self.words..] {
                self.add(h);
            }
        }
        self.v
            .iter()
            .enumerate()
            .fold(0u64, |acc, (i, &s)| if s > 0 { acc | 1 << i } else { acc })
    }
}

/// Distinct other senders of the same or nearly the same text, counted on
/// the stack up to the threshold (at most [`MAX_DUPLICATE_SENDERS`]); the
/// message's own sender counts as the first.
pub(crate) struct DuplicateCount {
    seen: [u64; MAX_DUPLICATE_SENDERS],
    n: usize,
    cap: usize,
}

impl DuplicateCount {
    pub(crate) fn new(sender: u64, threshold: usize) -> DuplicateCount {
        let mut seen = [0u64; MAX_DUPLICATE_SENDERS];
        seen[0] = sender;
        DuplicateCount {
            seen,
            n: 1,
            cap: threshold.min(MAX_DUPLICATE_SENDERS),
        }
    }

    /// Distinct senders counted (the message's own included).
    pub(crate) fn count(&self) -> usize {
        self.n
    }

    /// Whether the threshold is reached (no entry can change the count).
    pub(crate) fn full(&self) -> bool {
        self.n >= self.cap
    }

    /// Count a band bucket entry `(time, fingerprint, sender)` if it is
    /// another sender's near copy of `fp` within the window.
    pub(crate) fn consider(
        &mut self,
        (t, other, s): (i64, u64, u64),
        fp: u64,
        since: i64,
        near_bits: u32,
    ) {
        if self.n < self.cap
            && t >= since
            && (other ^ fp).count_ones() <= near_bits
            && !self.seen[..self.n].contains(&s)
        {
            self.seen[self.n] = s;
            self.n += 1;
        }
    }
}

/// Behaviour analysis as the engine runs it.
#[derive(Debug, Clone)]
pub struct Behaviour {
    store: Arc<dyn BehaviourStore>,
    config: BehaviourConfig,
    /// Digests of the messages recorded lately, so one recorded twice
    /// counts once.
    recorded: Arc<Vec<Mutex<lru::LruCache<u64, ()>>>>,
}

/// Recently recorded messages remembered, to count a repeat once.
const RECORDED: usize = 65_536;

impl Behaviour {
    /// Behaviour analysis over a store.
    pub fn new(store: Arc<dyn BehaviourStore>, config: BehaviourConfig) -> Behaviour {
        let per_shard = NonZeroUsize::new((RECORDED / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        Behaviour {
            store,
            config,
            recorded: Arc::new(
                (0..SHARDS)
                    .map(|_| Mutex::new(lru::LruCache::new(per_shard)))
                    .collect(),
            ),
        }
    }

    /// The hits a message's sender behaviour earns, counting the message
    /// as if recorded, without recording it.
    pub fn check(&self, msg: &Message) -> Vec<Hit> {
        self.try_check(msg).unwrap_or_default()
    }

    /// [`check`](Self::check), or why a shared store could not be read.
    pub fn try_check(&self, msg: &Message) -> Result<Vec<Hit>, crate::state::Unavailable> {
        if msg.sender.is_empty() {
            return Ok(Vec::new());
        }
        let (now, fp) = self.key(msg);
        let o = self.store.try_peek(&msg.sender, &msg.recipients, fp, now)?;
        Ok(self.hits(o))
    }

    /// Record a message in the sender's history, once: the same message
    /// recorded again (a retried request, a re-run) is not counted twice.
    pub fn record(&self, msg: &Message) {
        if msg.sender.is_empty() {
            return;
        }
        let digest = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(&crate::bayes::message_digest(msg).to_le_bytes());
            for r in &msg.recipients {
                h.update(r.as_bytes());
                h.update(&[0]);
            }
            if let Some(t) = msg.time.or(msg.received) {
                h.update(&t.timestamp().to_le_bytes());
            }
            h.digest()
        };
        let shard = &self.recorded[(digest as usize) % SHARDS];
        if let Ok(mut r) = shard.lock()
            && r.put(digest, ()).is_some()
        {
            return;
        }
        let (now, fp) = self.key(msg);
        let q = Query::new(&self.store.limits(), &msg.sender, &msg.recipients, fp, now);
        if let Err(e) = self.store.record_later(&q) {
            // The message was classified; only its place in the sender's
            // history is lost.
            tracing::warn!("sender behaviour not recorded: {e}");
        }
    }

    /// A message's clock (seconds) and text fingerprint (`None` when too short).
    fn key(&self, msg: &Message) -> (i64, Option<u64>) {
        let now = msg.clock().timestamp();
        let (fp, words) = simhash_with_words(&msg.body);
        (
            now,
            (words >= self.config.duplicate_min_words).then_some(fp),
        )
    }

    fn hits(&self, o: Observation) -> Vec<Hit> {
        let c = &self.config;
        let hit = |id: &str, score: f64, why: String| Hit {
            id: Arc::from(id),
            score,
            description: Arc::from(why.as_str()),
        };
        let mut hits = Vec::new();
        if o.sent > c.rate_limit {
            hits.push(hit(
                "BEHAV_RATE",
                c.rate_score,
                format!(
                    "sender sent {} messages within {} s (limit {})",
                    o.sent, c.window_secs, c.rate_limit
                ),
            ));
        }
        if o.recipients > c.fanout_limit {
            hits.push(hit(
                "BEHAV_FANOUT",
                c.fanout_score,
                format!(
                    "sender reached {} recipients within {} s (limit {})",
                    o.recipients, c.window_secs, c.fanout_limit
                ),
            ));
        }
        if o.duplicate_senders >= c.duplicate_senders.min(MAX_DUPLICATE_SENDERS) {
            hits.push(hit(
                "BEHAV_DUPLICATE",
                c.duplicate_score,
                format!(
                    "the same text came from at least {} senders within {} s",
                    o.duplicate_senders, c.window_secs
                ),
            ));
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SimHash as defined: per shingle, +1 for each set bit, -1 for each clear.
    fn simhash_reference(text: &str) -> u64 {
        let words: Vec<u64> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(512)
            .map(|w| {
                let folded: String = w
                    .chars()
                    .flat_map(|c| {
                        if c.is_ascii_digit() {
                            "0".chars().collect::<Vec<_>>()
                        } else {
                            c.to_lowercase().collect()
                        }
                    })
                    .collect();
                word_hash(folded.as_bytes(), 0)
            })
            .collect();
        // 3-shingles, or the words themselves in texts of fewer than three
        let shingles: Vec<u64> = if words.len() < 3 {
            words
        } else {
            words
                .windows(3)
                .map(|w| shingle_hash(w[0], w[1], w[2]))
                .collect()
        };
        let mut votes = [0i32; 64];
        for h in shingles {
            for (i, vote) in votes.iter_mut().enumerate() {
                *vote += if h >> i & 1 == 1 { 1 } else { -1 };
            }
        }
        (0..64)
            .filter(|&i| votes[i] > 0)
            .fold(0, |acc, i| acc | 1 << i)
    }

    #[test]
    fn simhash_matches_its_definition() {
        let long_word = format!("{} end of text", "X".repeat(300));
        let many_words = format!("{} middle {}", "Yy".repeat(50), "w ".repeat(600));
        for text in [
            "Congratulations! You have won a 500 pound voucher, reply YES to 80082 now",
            "see you at the station at 8 tomorrow, bring the tickets please",
            "a b c d e f g h i j k l m n o p",
            "two words",
            "",
            "Gro\u{df}e GEWINNE: \u{d6}lpreis 2024 \u{2014} Jetzt ANRUFEN 0900123",
            &long_word,
            &many_words,
        ] {
            assert_eq!(simhash(text), simhash_reference(text), "{text}");
        }
    }

    #[test]
    fn one_sender_repeating_a_text_does_not_hide_the_others() {
        let store = MemoryBehaviourStore::new(&BehaviourConfig {
            duplicate_senders: 10,
            ..BehaviourConfig::default()
        });
        let fp = simhash("Claim your free prize now, reply WIN to 80082 before midnight tonight");
        let to = ["+447700900001".to_string()];
        for (i, s) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(
                store.observe(s, &to, Some(fp), i as i64).duplicate_senders,
                i + 1
            );
        }
        // More copies from one sender than a bucket holds.
        for t in 0..2 * BUCKET as i64 {
            store.observe("repeater", &to, Some(fp), 10 + t);
        }
        let o = store.observe("e", &to, Some(fp), 100);
        assert_eq!(o.duplicate_senders, 6, "a b c d repeater e");
    }

    #[test]
    fn simhash_matches_its_definition_on_random_texts() {
        let long = "long".repeat(70);
        let pieces: &[&str] = &[
            "a",
            "Win",
            "FREE",
            "exactly8",
            "NineBytes",
            "sixteen_bytes_AB",
            "2024",
            "80082",
            " ",
            "  ",
            "\n",
            ".",
            "!",
            "'",
            "-",
            "\u{a3}500",
            "caf\u{e9}",
            "\u{414}\u{430}",
            "\u{65e5}\u{672c}",
            "\u{212a}",
            "x1y2",
            &long,
        ];
        // Mixed texts, then ASCII-only ones (which take the fast path).
        let ascii: Vec<&str> = pieces.iter().copied().filter(|p| p.is_ascii()).collect();
        let texts = crate::testing::random_texts(0x2545_F491_4F6C_DD1D, 3000, 60, pieces)
            .into_iter()
            .chain(crate::testing::random_texts(0x9E37_79B9, 3000, 60, &ascii));
        for text in texts {
            let words = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .take(512)
                .count();
            assert_eq!(
                simhash_with_words(&text),
                (simhash_reference(&text), words),
                "{text:?}"
            );
        }
    }

    #[test]
    fn fan_out_is_the_distinct_recipients_of_the_kept_events() {
        // 30 keeps 64 events (counted by scanning), 100 keeps 202 (by a map).
        for fanout_limit in [30, 100] {
            let cfg = BehaviourConfig {
                fanout_limit,
                window_secs: 50,
                ..BehaviourConfig::default()
            };
            let store = MemoryBehaviourStore::new(&cfg);
            let keep = store.limits().max_events;
            let mut sent: Vec<(i64, String)> = Vec::new();
            let mut x = 12345u64;
            for t in 0..3000i64 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Mostly a few friends, sometimes a burst of new recipients.
                let r = if (x >> 60) < 4 {
                    format!("n{t}")
                } else {
                    format!("f{}", (x >> 33) % 40)
                };
                let o = store.observe("s", std::slice::from_ref(&r), None, t);
                sent.push((t, r));
                let kept: std::collections::HashSet<&str> = sent
                    .iter()
                    .rev()
                    .take(keep)
                    .filter(|(at, _)| *at >= t - 50)
                    .map(|(_, r)| r.as_str())
                    .collect();
                assert_eq!(o.recipients, kept.len(), "limit {fanout_limit} at {t}");
            }
        }
    }

    #[test]
    fn sender_times_far_apart_or_out_of_order() {
        let store = MemoryBehaviourStore::new(&BehaviourConfig::default());
        let to = ["+447700900001".to_string()];
        assert_eq!(store.observe("s", &to, None, 1_000).sent, 1);
        // Out of order within the window: both count.
        assert_eq!(store.observe("s", &to, None, 500).sent, 2);
        // A century later (past what 32-bit offsets hold): the old ones expired.
        let o = store.observe("s", &to, None, 4_000_000_000);
        assert_eq!((o.sent, o.recipients), (1, 1));
    }

    #[test]
    fn complaints_count_per_sender_whatever_its_spelling() {
        let log = ComplaintLog::new(1000, 2, 4.0);
        assert_eq!(log.count("@Alice"), 0);
        assert!(log.hit("alice").is_none());
        assert_eq!(log.complain("@Alice"), Ok(1));
        assert_eq!(log.complain(" alice "), Ok(2));
        assert_eq!(log.count("ALICE"), 2);
        assert_eq!(log.hit("alice").map(|h| h.score), Some(4.0));
        assert_eq!(log.count("bob"), 0);
        // Bounded: far more senders than the capacity.
        let counts = MemoryComplaints::new(1000);
        for i in 0..10_000u64 {
            let _ = counts.add(i);
        }
        let held: usize = counts
            .shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len()))
            .sum();
        assert!(held <= 1000, "{held}");
    }

    #[test]
    fn simhash_is_near_for_near_texts() {
        let a = simhash(
            "Congratulations! You have won a 1000 pound voucher, reply WIN to 80082 to claim today",
        );
        let b = simhash(
            "Congratulations! You have won a 2000 pound voucher, reply WIN to 80082 to claim today!",
        );
        let c =
            simhash("Are we still meeting for lunch tomorrow at the usual place near the office?");
        assert!((a ^ b).count_ones() <= 3, "{}", (a ^ b).count_ones());
        assert!((a ^ c).count_ones() > 10);
    }
}

/// Where complaint counts live: this process ([`MemoryComplaints`]) or a
/// store a fleet shares. Senders come as hashes.
pub trait ComplaintCounter: Send + Sync + std::fmt::Debug {
    /// Count one complaint; the sender's count now.
    fn add(&self, sender: u64) -> Result<u32, crate::state::Unavailable>;
    /// The sender's count.
    fn get(&self, sender: u64) -> Result<u32, crate::state::Unavailable>;
}

/// Complaint counts in this process: bounded (least recently
/// complained-about senders are forgotten first), in shards so concurrent
/// checks rarely wait on each other; while nobody has complained, a check
/// costs one atomic load.
#[derive(Debug)]
pub struct MemoryComplaints {
    shards: Vec<Mutex<lru::LruCache<u64, u32>>>,
    /// Complaints recorded so far.
    recorded: std::sync::atomic::AtomicU64,
}

impl MemoryComplaints {
    /// Counts for up to `capacity` senders (at least one per shard).
    pub fn new(capacity: usize) -> MemoryComplaints {
        let per_shard = NonZeroUsize::new((capacity / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        MemoryComplaints {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(lru::LruCache::new(per_shard)))
                .collect(),
            recorded: Default::default(),
        }
    }
}

impl ComplaintCounter for MemoryComplaints {
    fn add(&self, key: u64) -> Result<u32, crate::state::Unavailable> {
        self.recorded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.shards[key as usize % SHARDS]
            .lock()
            .map_or(0, |mut c| {
                let n = c.get_or_insert_mut(key, || 0);
                *n = n.saturating_add(1);
                *n
            }))
    }
    fn get(&self, key: u64) -> Result<u32, crate::state::Unavailable> {
        if self.recorded.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return Ok(0);
        }
        Ok(self.shards[key as usize % SHARDS]
            .lock()
            .map_or(0, |c| c.peek(&key).copied().unwrap_or(0)))
    }
}

/// User complaints per sender (X.1247/X.1248 feedback): `threshold`
/// complaints about a sender make `USER_COMPLAINTS` hit with `score`. The
/// counts live in a [`ComplaintCounter`].
#[derive(Debug)]
pub struct ComplaintLog {
    counter: Arc<dyn ComplaintCounter>,
    threshold: u32,
    score: f64,
}

impl ComplaintLog {
    /// A log in memory remembering up to `capacity` senders.
    pub fn new(capacity: usize, threshold: u32, score: f64) -> ComplaintLog {
        ComplaintLog::with_counter(Arc::new(MemoryComplaints::new(capacity)), threshold, score)
    }

    /// A log whose counts live in `counter` (a shared store, say).
    pub fn with_counter(
        counter: Arc<dyn ComplaintCounter>,
        threshold: u32,
        score: f64,
    ) -> ComplaintLog {
        ComplaintLog {
            counter,
            threshold: threshold.max(1),
            score,
        }
    }

    /// The same threshold and score with counts kept in `counter`.
    pub fn with_counter_of(&self, counter: Arc<dyn ComplaintCounter>) -> ComplaintLog {
        ComplaintLog::with_counter(counter, self.threshold, self.score)
    }

    /// The sender's key: trimmed, without a leading `@`, lower-cased.
    fn key(sender: &str) -> u64 {
        identity_hash(sender.trim().trim_start_matches('@'))
    }

    /// Record a complaint; returns the sender's count.
    pub fn complain(&self, sender: &str) -> Result<u32, crate::state::Unavailable> {
        self.counter.add(Self::key(sender))
    }

    /// Complaints about a sender (0 when the store cannot be read).
    pub fn count(&self, sender: &str) -> u32 {
        self.counter.get(Self::key(sender)).unwrap_or(0)
    }

    /// The hit a sender earns, if complained about often enough; or why
    /// the counts cannot be read.
    pub fn check(&self, sender: &str) -> Result<Option<Hit>, crate::state::Unavailable> {
        let n = self.counter.get(Self::key(sender))?;
        Ok((n >= self.threshold).then(|| Hit {
            id: Arc::from("USER_COMPLAINTS"),
            score: self.score,
            description: Arc::from(format!("users reported this sender {n} times").as_str()),
        }))
    }

    /// [`check`](Self::check), a store that cannot be read giving no hit.
    pub fn hit(&self, sender: &str) -> Option<Hit> {
        self.check(sender).ok().flatten()
    }
}
