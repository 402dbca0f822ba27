//! State in Redis (or Valkey): the connection pool every store shares, the
//! Bayes token store, the learned-message books and complaint counters.
//!
//! Keys (after `[state] prefix`):
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `t:<feature, 16 hex>` | `"<spam>:<ham>"` counts | `token_ttl_days`, renewed when learned |
//! | `nspam`, `nham` | messages learned | none (two keys) |
//! | `seen:<digest, 16 hex>` | `s` or `h`: learned as | `seen_ttl_days` |
//! | `c:<sender hash, 16 hex>` | complaints | `complaint_ttl_days`, renewed per complaint |
//!
//! Classifying a message reads its learned totals and all its tokens with
//! one `MGET` (one round trip); learning one is one Lua script call, atomic,
//! so filters learning at once never lose a count and a message learned on
//! two filters counts once.

use super::{StateSettings, Unavailable};
use crate::bayes::{Counts, LearnOutcome, Learned, TokenStore};
use crate::corpus::Label;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Idle connections kept for reuse.
const POOL_SIZE: usize = 32;

/// After a failed request, requests fail at once for this long (so a
/// Redis that is down costs each message nothing), then one is tried.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Tokens sent per `MGET` / script call when pushing a model.
const PUSH_BATCH: usize = 2_000;

/// A connection pool to one Redis, with the settings of every store on it.
pub struct Redis {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    timeout: Duration,
    prefix: String,
    token_ttl: u64,
    seen_ttl: u64,
    complaint_ttl: u64,
    /// When requests may be tried again after a failure.
    retry_at: Mutex<Option<Instant>>,
    /// Requests that failed (Redis down, slow or refusing).
    failures: AtomicU64,
    /// Requests made (round trips).
    requests: AtomicU64,
    learn_script: redis::Script,
    add_script: redis::Script,
    greylist_script: redis::Script,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Lua: the counts a token key holds (`"<spam>:<ham>"`; 0, 0 when absent
/// or malformed).
macro_rules! counts_lua {
    () => {
        r#"
local function counts(key)
  local v = redis.call('GET', key)
  if not v then return 0, 0 end
  local a, b = string.match(v, '^(%d+):(%d+)$')
  return tonumber(a) or 0, tonumber(b) or 0
end
"#
    };
}

/// The learning script: KEYS = nspam, nham, seen key, token keys...;
/// ARGV = label (`s`/`h`), token TTL, seen TTL. Returns 0 when the message
/// was already learned as this class, 1 when learned, 2 when moved from
/// the other class.
const LEARN_LUA: &str = concat!(
    counts_lua!(),
    r#"
local label = ARGV[1]
local prev = redis.call('GET', KEYS[3])
if prev == label then return 0 end
local function bump(key, ds, dh)
  local s, h = counts(key)
  s = math.max(0, s + ds)
  h = math.max(0, h + dh)
  if s == 0 and h == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, s .. ':' .. h, 'EX', ARGV[2])
  end
end
local moved = 0
if prev == 's' or prev == 'h' then
  moved = 1
  local us, uh = 0, 0
  if prev == 's' then us = -1 else uh = -1 end
  for i = 4, #KEYS do bump(KEYS[i], us, uh) end
  if prev == 's' then redis.call('DECR', KEYS[1]) else redis.call('DECR', KEYS[2]) end
end
local ds, dh = 0, 0
if label == 's' then ds = 1 else dh = 1 end
for i = 4, #KEYS do bump(KEYS[i], ds, dh) end
if label == 's' then redis.call('INCR', KEYS[1]) else redis.call('INCR', KEYS[2]) end
redis.call('SET', KEYS[3], label, 'EX', ARGV[3])
return 1 + moved
"#
);

/// Adding counts to tokens (model push): KEYS = token keys; ARGV = TTL,
/// then spam and ham counts per key.
const ADD_LUA: &str = concat!(
    counts_lua!(),
    r#"
for i = 1, #KEYS do
  local s, h = counts(KEYS[i])
  s = s + tonumber(ARGV[2 * i])
  h = h + tonumber(ARGV[2 * i + 1])
  redis.call('SET', KEYS[i], s .. ':' .. h, 'EX', ARGV[1])
end
return #KEYS
"#
);

/// One greylisting attempt of a triple: KEYS = the triple's key; ARGV =
/// now, delay, retry window, expiry. Value `"<time>:<0 waiting|1 passed>"`;
/// returns -1 for pass, else the seconds to wait.
const GREYLIST_LUA: &str = r#"
local now, delay, window, expiry = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('GET', KEYS[1])
if v then
  local t, passed = string.match(v, '^(%-?%d+):(%d)$')
  t = tonumber(t)
  if t and passed == '1' then
    redis.call('SET', KEYS[1], now .. ':1', 'EX', expiry)
    return -1
  end
  if t and now - t >= delay then
    redis.call('SET', KEYS[1], now .. ':1', 'EX', expiry)
    return -1
  end
  if t then return math.max(1, delay - (now - t)) end
end
redis.call('SET', KEYS[1], now .. ':0', 'EX', window)
return math.max(1, delay)
"#;

impl Redis {
    /// A pool for `[state]`; connects lazily, so a filter starts (and
    /// classifies without shared state) while Redis is down.
    pub fn open(settings: &StateSettings) -> Result<Redis, String> {
        settings.validate()?;
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| format!("[state] url = {:?}: {e}", settings.url))?;
        let days = |d: u64| d * 86_400;
        Ok(Redis {
            client,
            idle: Mutex::new(Vec::new()),
            timeout: Duration::from_secs_f64(settings.timeout),
            prefix: settings.prefix.clone(),
            token_ttl: days(settings.token_ttl_days),
            seen_ttl: days(settings.seen_ttl_days),
            complaint_ttl: days(settings.complaint_ttl_days),
            retry_at: Mutex::new(None),
            failures: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            learn_script: redis::Script::new(LEARN_LUA),
            add_script: redis::Script::new(ADD_LUA),
            greylist_script: redis::Script::new(GREYLIST_LUA),
        })
    }

    /// Set Redis' memory ceiling and eviction policy (`[state] max_memory`).
    pub fn set_max_memory(&self, bytes: u64) -> Result<(), Unavailable> {
        self.with(|c| {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("maxmemory")
                .arg(bytes)
                .query::<()>(c)?;
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("maxmemory-policy")
                .arg("volatile-lru")
                .query::<()>(c)
        })
    }

    /// Requests that failed since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Requests (round trips) made since start.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A key with the prefix: `<prefix><kind>:<id, 16 hex>`.
    pub fn key(&self, kind: &str, id: u64) -> String {
        format!("{}{kind}:{id:016x}", self.prefix)
    }

    /// A key of one scope's model: `<prefix><scope><kind>:<id, 16 hex>`.
    fn scoped_key(&self, scope: &str, kind: &str, id: u64) -> String {
        format!("{}{scope}{kind}:{id:016x}", self.prefix)
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Run one request on a pooled connection. A connection that failed is
    /// dropped (the next request opens a new one); after a failure,
    /// requests fail at once for [`RETRY_AFTER`].
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Unavailable> {
        if let Some(at) = *self.retry_at.lock().unwrap_or_else(|e| e.into_inner())
            && Instant::now() < at
        {
            return Err(Unavailable("Redis did not answer; retrying shortly".into()));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => match self.connect() {
                Ok(c) => c,
                Err(e) => return Err(self.failed(&e)),
            },
        };
        match f(&mut conn) {
            Ok(v) => {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < POOL_SIZE {
                    idle.push(conn);
                }
                *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(v)
            }
            Err(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => {
                // Every idle connection is suspect too.
                self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
                Err(self.failed(&e))
            }
            Err(e) => {
                // Redis answered with an error: the connection is fine.
                self.failures.fetch_add(1, Ordering::Relaxed);
                Err(Unavailable(e.to_string()))
            }
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let c = self.client.get_connection_with_timeout(self.timeout)?;
        c.set_read_timeout(Some(self.timeout))?;
        c.set_write_timeout(Some(self.timeout))?;
        Ok(c)
    }

    fn failed(&self, e: &redis::RedisError) -> Unavailable {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + RETRY_AFTER);
        tracing::warn!("shared state (Redis): {e}");
        Unavailable(e.to_string())
    }

    /// Learned totals and the counts of `features`, in one `MGET`.
    pub fn lookup(&self, features: &[u64]) -> Result<(Learned, Vec<Counts>), Unavailable> {
        let asked: Vec<(usize, u64)> = features.iter().map(|&f| (0, f)).collect();
        let (totals, counts) = self.lookup_scopes(&[""], &asked)?;
        Ok((totals.first().copied().unwrap_or_default(), counts))
    }

    /// The learned totals of each scope (`""`: the site's model; see
    /// [`user_scope`]) and the counts of `asked` (scope index, feature),
    /// all in one `MGET`.
    pub fn lookup_scopes(
        &self,
        scopes: &[&str],
        asked: &[(usize, u64)],
    ) -> Result<(Vec<Learned>, Vec<Counts>), Unavailable> {
        let mut keys = Vec::with_capacity(asked.len() + 2 * scopes.len());
        for scope in scopes {
            keys.push(self.name(&format!("{scope}nspam")));
            keys.push(self.name(&format!("{scope}nham")));
        }
        keys.extend(
            asked
                .iter()
                .map(|&(s, f)| self.scoped_key(scopes.get(s).copied().unwrap_or(""), "t", f)),
        );
        let values: Vec<Option<String>> = self.with(|c| redis::cmd("MGET").arg(&keys).query(c))?;
        let number = |v: Option<&Option<String>>| {
            v.and_then(|v| v.as_deref())
                .and_then(|s| s.parse::<i64>().ok())
                .map_or(0, |n| n.max(0) as u64)
        };
        let totals = (0..scopes.len())
            .map(|i| Learned {
                spam: number(values.get(2 * i)),
                ham: number(values.get(2 * i + 1)),
            })
            .collect();
        let counts = values
            .iter()
            .skip(2 * scopes.len())
            .map(|v| v.as_deref().map(parse_counts).unwrap_or_default())
            .collect();
        Ok((totals, counts))
    }

    /// Learn one message (by digest: once, or moved when learned as the
    /// other class before), atomically.
    pub fn learn(
        &self,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Result<LearnOutcome, Unavailable> {
        self.learn_in("", digest, features, label)
    }

    /// [`learn`](Self::learn) into one scope's model and books (`""`: the
    /// site's; see [`user_scope`]).
    pub fn learn_in(
        &self,
        scope: &str,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Result<LearnOutcome, Unavailable> {
        let mut inv = self.learn_script.prepare_invoke();
        inv.key(self.name(&format!("{scope}nspam")))
            .key(self.name(&format!("{scope}nham")))
            .key(self.scoped_key(scope, "seen", digest));
        for &f in features {
            inv.key(self.scoped_key(scope, "t", f));
        }
        inv.arg(if label == Label::Spam { "s" } else { "h" })
            .arg(self.token_ttl)
            .arg(self.seen_ttl);
        let r: i64 = self.with(|c| inv.invoke(c))?;
        Ok(match r {
            0 => LearnOutcome::AlreadyLearned,
            2 => LearnOutcome::Moved,
            _ => LearnOutcome::Done,
        })
    }

    /// Add one complaint about a sender (by its hash); the new count.
    pub fn complain(&self, sender: u64) -> Result<u32, Unavailable> {
        let key = self.key("c", sender);
        let (n,): (i64,) = self.with(|c| {
            redis::pipe()
                .atomic()
                .incr(&key, 1)
                .expire(&key, self.complaint_ttl as i64)
                .ignore()
                .query(c)
        })?;
        Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
    }

    /// Complaints about a sender (by its hash).
    pub fn complaints(&self, sender: u64) -> Result<u32, Unavailable> {
        let key = self.key("c", sender);
        let n: Option<i64> = self.with(|c| redis::cmd("GET").arg(&key).query(c))?;
        Ok(n.map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)))
    }

    /// One greylisting attempt of a triple (atomic): see
    /// [`crate::greylist::MemoryGreylist`] for the rules it keeps.
    pub fn greylist(
        &self,
        triple: u64,
        now: i64,
        t: crate::greylist::Timing,
    ) -> Result<crate::greylist::Seen, Unavailable> {
        // Value: "<time>:<0 waiting|1 passed>"; TTL: the retry window for a
        // first attempt, the expiry once passed. Returns -1 for pass, else
        // the seconds to wait.
        let mut inv = self.greylist_script.prepare_invoke();
        inv.key(self.key("g", triple))
            .arg(now)
            .arg(t.delay)
            .arg(t.retry_window)
            .arg(t.expiry);
        let r: i64 = self.with(|c| inv.invoke(c))?;
        Ok(if r < 0 {
            crate::greylist::Seen::Pass
        } else {
            crate::greylist::Seen::Defer(r as u64)
        })
    }

    /// Load a model into Redis: its counts are added to what is there (an
    /// empty Redis then holds exactly the model), with fresh TTLs; its
    /// learned-message books are added too.
    pub fn push(&self, model: &crate::bayes::MemoryStore) -> Result<usize, Unavailable> {
        let mut batch: Vec<(u64, Counts)> = Vec::with_capacity(PUSH_BATCH);
        let mut pushed = 0usize;
        let mut result = Ok(());
        model.for_each(&mut |f, c| {
            if result.is_err() {
                return;
            }
            batch.push((f, c));
            if batch.len() == PUSH_BATCH {
                result = self.add_counts(&batch);
                pushed += batch.len();
                batch.clear();
            }
        });
        result?;
        self.add_counts(&batch)?;
        pushed += batch.len();
        let learned = model.learned();
        let seen: Vec<(u64, Label)> = model.seen_entries().collect();
        for chunk in seen.chunks(PUSH_BATCH) {
            self.with(|c| {
                let mut p = redis::pipe();
                for (d, l) in chunk {
                    p.set_ex(
                        self.key("seen", *d),
                        if *l == Label::Spam { "s" } else { "h" },
                        self.seen_ttl,
                    )
                    .ignore();
                }
                p.query::<()>(c)
            })?;
        }
        self.with(|c| {
            redis::pipe()
                .atomic()
                .incr(self.name("nspam"), learned.spam)
                .ignore()
                .incr(self.name("nham"), learned.ham)
                .ignore()
                .query::<()>(c)
        })?;
        Ok(pushed)
    }

    /// Add counts to tokens (one script call per batch, atomic).
    fn add_counts(&self, batch: &[(u64, Counts)]) -> Result<(), Unavailable> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut inv = self.add_script.prepare_invoke();
        inv.arg(self.token_ttl);
        for (f, c) in batch {
            inv.key(self.key("t", *f)).arg(c.spam).arg(c.ham);
        }
        self.with(|c| inv.invoke::<i64>(c)).map(drop)
    }

    /// Read every token back into a model (for `model pull`).
    pub fn pull(&self) -> Result<crate::bayes::MemoryStore, Unavailable> {
        let pattern = format!("{}t:*", self.prefix);
        let mut cursor: u64 = 0;
        let mut counts: Vec<(u64, Counts)> = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = self.with(|c| {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(PUSH_BATCH)
                    .query(c)
            })?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> =
                    self.with(|c| redis::cmd("MGET").arg(&keys).query(c))?;
                for (k, v) in keys.iter().zip(values) {
                    let id = k
                        .rsplit(':')
                        .next()
                        .and_then(|h| u64::from_str_radix(h, 16).ok());
                    if let (Some(id), Some(v)) = (id, v) {
                        counts.push((id, parse_counts(&v)));
                    }
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let (learned, _) = self.lookup(&[])?;
        let mut model = crate::bayes::MemoryStore::new();
        model.add_counts(counts, learned);
        Ok(model)
    }
}

/// `"<spam>:<ham>"` as counts (zero when malformed).
fn parse_counts(v: &str) -> Counts {
    let (s, h) = v.split_once(':').unwrap_or(("0", "0"));
    Counts {
        spam: s.parse().unwrap_or(0),
        ham: h.parse().unwrap_or(0),
    }
}

/// The key scope of one user's own Bayes model (`[state] per_user`):
/// `u:<hash of the address, lower-cased>:`, with that hash (never 0, the
/// site model's).
pub fn user_scope(user: &str) -> (u64, String) {
    let h = xxhash_rust::xxh3::xxh3_64(user.trim().to_lowercase().as_bytes()) | 1;
    (h, format!("u:{h:016x}:"))
}

/// Token counts (present or absent) read lately, and the learned totals,
/// per scope (the site's model, scope 0, or a user's): a token of a user's
/// model is kept under its feature xor the user's scope hash.
#[derive(Debug)]
struct TokenCache {
    ttl: Duration,
    shards: Vec<Mutex<lru::LruCache<u64, (Counts, Instant)>>>,
    totals: Mutex<lru::LruCache<u64, (Learned, Instant)>>,
}

/// Tokens the local copy holds at most (about 10 MB).
const CACHE_TOKENS: usize = 262_144;
const CACHE_SHARDS: usize = 16;
/// Scopes (users) whose learned totals the local copy holds at most.
const CACHE_SCOPES: usize = 4_096;

impl TokenCache {
    fn new(ttl: Duration) -> TokenCache {
        let per = std::num::NonZeroUsize::new(CACHE_TOKENS / CACHE_SHARDS)
            .unwrap_or(std::num::NonZeroUsize::MIN);
        TokenCache {
            ttl,
            shards: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(lru::LruCache::new(per)))
                .collect(),
            totals: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(CACHE_SCOPES).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
        }
    }

    fn shard(&self, f: u64) -> std::sync::MutexGuard<'_, lru::LruCache<u64, (Counts, Instant)>> {
        self.shards[(f >> 60) as usize % CACHE_SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, lru::LruCache<u64, (Learned, Instant)>> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget what learning into a scope changed, so this filter sees it
    /// at once.
    fn forget(&self, scope: u64, features: &[u64]) {
        for &f in features {
            self.shard(f ^ scope).pop(&(f ^ scope));
        }
        self.totals().pop(&scope);
    }
}

/// Bayes token counts in Redis, read in one round trip per message and
/// learned atomically: the [`TokenStore`] every filter of a fleet reads and
/// learns into, with a short-lived local copy of what it read
/// (`[state] cache_ms`): with Redis one round trip away, reading every
/// message's tokens from it costs more than classifying the message, and
/// most tokens recur message after message.
///
/// With `[state] per_user`, a message delivered to one user
/// ([`Message::user`](crate::Message::user)) is classified by that user's
/// own model once it has learned the classifier's minimum of spam and ham
/// (by the site's model until then); learning for a user learns into that
/// user's model only.
#[derive(Debug, Clone)]
pub struct RedisTokenStore {
    redis: Arc<Redis>,
    cache: Option<Arc<TokenCache>>,
    /// With per-user models: the messages of each class a user's model
    /// needs before it is used.
    per_user: Option<Learned>,
}

impl RedisTokenStore {
    /// A token store on this pool, keeping what it read for `cache` (zero:
    /// no local copy).
    pub fn new(redis: Arc<Redis>, cache: Duration) -> RedisTokenStore {
        RedisTokenStore {
            redis,
            cache: (!cache.is_zero()).then(|| Arc::new(TokenCache::new(cache))),
            per_user: None,
        }
    }

    /// Keep a model per user too, used once it has learned `min` messages
    /// of each class (`[state] per_user`).
    pub fn per_user(mut self, min: Learned) -> RedisTokenStore {
        self.per_user = Some(min);
        self
    }

    /// The pool.
    pub fn redis(&self) -> &Arc<Redis> {
        &self.redis
    }

    /// Each scope's learned totals and counts of `features`: through the
    /// local copy when there is one, Redis being asked (in one `MGET`)
    /// only for the totals and tokens not read within the TTL.
    fn read(
        &self,
        scopes: &[(u64, &str)],
        features: &[u64],
    ) -> Result<Vec<(Learned, Vec<Counts>)>, Unavailable> {
        let names: Vec<&str> = scopes.iter().map(|s| s.1).collect();
        let Some(cache) = &self.cache else {
            let asked: Vec<(usize, u64)> = (0..scopes.len())
                .flat_map(|s| features.iter().map(move |&f| (s, f)))
                .collect();
            let (totals, counts) = self.redis.lookup_scopes(&names, &asked)?;
            let n = features.len();
            return Ok(totals
                .into_iter()
                .enumerate()
                .map(|(s, t)| (t, counts[s * n..(s + 1) * n].to_vec()))
                .collect());
        };
        let now = Instant::now();
        let fresh = |t: Instant| now.duration_since(t) < cache.ttl;
        let mut out: Vec<(Learned, Vec<Counts>)> = Vec::with_capacity(scopes.len());
        let mut missing: Vec<(usize, usize)> = Vec::new();
        let mut stale_totals = false;
        for (si, &(scope, _)) in scopes.iter().enumerate() {
            let mut counts = vec![Counts::default(); features.len()];
            for (i, &f) in features.iter().enumerate() {
                match cache.shard(f ^ scope).get(&(f ^ scope)) {
                    Some(&(c, t)) if fresh(t) => counts[i] = c,
                    _ => missing.push((si, i)),
                }
            }
            let totals = match cache.totals().get(&scope) {
                Some(&(l, t)) if fresh(t) => l,
                _ => {
                    stale_totals = true;
                    Learned::default()
                }
            };
            out.push((totals, counts));
        }
        if missing.is_empty() && !stale_totals {
            return Ok(out);
        }
        let asked: Vec<(usize, u64)> = missing.iter().map(|&(s, i)| (s, features[i])).collect();
        let (totals, read) = self.redis.lookup_scopes(&names, &asked)?;
        for (&(si, i), c) in missing.iter().zip(read) {
            out[si].1[i] = c;
            let key = features[i] ^ scopes[si].0;
            cache.shard(key).put(key, (c, now));
        }
        for (si, l) in totals.into_iter().enumerate() {
            out[si].0 = l;
            cache.totals().put(scopes[si].0, (l, now));
        }
        Ok(out)
    }

    /// Whether a user's model has learned enough to be used, when its
    /// totals are in the local copy.
    fn cached_user_ready(&self, scope: u64, min: Learned) -> Option<bool> {
        let cache = self.cache.as_ref()?;
        let now = Instant::now();
        match cache.totals().get(&scope) {
            Some(&(l, t)) if now.duration_since(t) < cache.ttl => {
                Some(l.spam >= min.spam && l.ham >= min.ham)
            }
            _ => None,
        }
    }
}

impl TokenStore for RedisTokenStore {
    fn counts(&self, feature: u64) -> Counts {
        self.lookup(&[feature])
            .ok()
            .and_then(|(_, c)| c.first().copied())
            .unwrap_or_default()
    }
    fn learned(&self) -> Learned {
        self.redis.lookup(&[]).map(|(l, _)| l).unwrap_or_default()
    }
    fn len(&self) -> usize {
        self.redis
            .with(|c| redis::cmd("DBSIZE").query::<u64>(c))
            .map_or(0, |n| n as usize)
    }
    fn lists_features(&self) -> bool {
        false
    }
    fn lookup(&self, features: &[u64]) -> Result<(Learned, Vec<Counts>), Unavailable> {
        let mut r = self.read(&[(0, "")], features)?;
        Ok(r.pop().unwrap_or_default())
    }
    fn lookup_for(
        &self,
        user: Option<&str>,
        features: &[u64],
    ) -> Result<(Learned, Vec<Counts>), Unavailable> {
        let (Some(min), Some(user)) = (self.per_user, user) else {
            return self.lookup(features);
        };
        let (hash, scope) = user_scope(user);
        match self.cached_user_ready(hash, min) {
            // A user whose model is not ready costs nothing more.
            Some(false) => self.lookup(features),
            Some(true) => {
                let mut r = self.read(&[(hash, &scope)], features)?;
                Ok(r.pop().unwrap_or_default())
            }
            None => {
                let mut r = self.read(&[(0, ""), (hash, &scope)], features)?;
                let (user_model, site_model) = (r.pop(), r.pop());
                Ok(match user_model {
                    Some(u) if u.0.spam >= min.spam && u.0.ham >= min.ham => u,
                    _ => site_model.unwrap_or_default(),
                })
            }
        }
    }
    fn learn_shared(
        &self,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Option<Result<LearnOutcome, Unavailable>> {
        self.learn_shared_for(None, digest, features, label)
    }
    fn learn_shared_for(
        &self,
        user: Option<&str>,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Option<Result<LearnOutcome, Unavailable>> {
        // With per-user models, a user's learning is that user's own (a
        // preference, not the site's verdict); otherwise the site learns.
        let (scope_hash, scope) = match (self.per_user, user) {
            (Some(_), Some(user)) => user_scope(user),
            _ => (0, String::new()),
        };
        let r = self.redis.learn_in(&scope, digest, features, label);
        if let Some(cache) = &self.cache {
            cache.forget(scope_hash, features);
        }
        Some(r)
    }
}

/// Complaint counts in Redis.
#[derive(Debug, Clone)]
pub struct RedisComplaints {
    redis: Arc<Redis>,
}

impl RedisComplaints {
    /// Complaint counters on this pool.
    pub fn new(redis: Arc<Redis>) -> RedisComplaints {
        RedisComplaints { redis }
    }
}

impl crate::behaviour::ComplaintCounter for RedisComplaints {
    fn add(&self, sender: u64) -> Result<u32, Unavailable> {
        self.redis.complain(sender)
    }
    fn get(&self, sender: u64) -> Result<u32, Unavailable> {
        self.redis.complaints(sender)
    }
}

/// Greylisting triples in Redis: a fleet greylists as one.
#[derive(Debug, Clone)]
pub struct RedisGreylist {
    redis: Arc<Redis>,
}

impl RedisGreylist {
    /// Triples on this pool.
    pub fn new(redis: Arc<Redis>) -> RedisGreylist {
        RedisGreylist { redis }
    }
}

impl crate::greylist::GreylistStore for RedisGreylist {
    fn attempt(
        &self,
        triple: u64,
        now: i64,
        timing: crate::greylist::Timing,
    ) -> Result<crate::greylist::Seen, Unavailable> {
        self.redis.greylist(triple, now, timing)
    }
}

/// Sender reputation counts in Redis: a hash `rep:<source, 16 hex>` with
/// fields `s` and `h`, its TTL renewed by each message; reading a message's
/// sources is one round trip, counting one atomic transaction.
#[derive(Debug, Clone)]
pub struct RedisReputation {
    redis: Arc<Redis>,
    ttl: u64,
}

impl RedisReputation {
    /// Reputation counts on this pool, kept `ttl_days` after a source's
    /// last message.
    pub fn new(redis: Arc<Redis>, ttl_days: u64) -> RedisReputation {
        RedisReputation {
            redis,
            ttl: ttl_days.saturating_mul(86_400),
        }
    }
}

impl crate::reputation::ReputationStore for RedisReputation {
    /// Redis forgets a source by its TTL, so `now` is not needed here.
    fn tallies(
        &self,
        sources: &[u64],
        _now: i64,
    ) -> Result<Vec<crate::reputation::counters::Tally>, Unavailable> {
        let mut p = redis::pipe();
        for &id in sources {
            p.cmd("HMGET")
                .arg(self.redis.key("rep", id))
                .arg("s")
                .arg("h");
        }
        let read: Vec<(Option<u32>, Option<u32>)> = self.redis.with(|c| p.query(c))?;
        Ok(read
            .into_iter()
            .map(|(s, h)| crate::reputation::counters::Tally {
                spam: s.unwrap_or(0),
                ham: h.unwrap_or(0),
            })
            .collect())
    }

    fn count(&self, sources: &[u64], spam: bool, _now: i64) -> Result<(), Unavailable> {
        let mut p = redis::pipe();
        p.atomic();
        for &id in sources {
            let key = self.redis.key("rep", id);
            p.hincr(&key, if spam { "s" } else { "h" }, 1)
                .ignore()
                .expire(&key, self.ttl as i64)
                .ignore();
        }
        self.redis.with(|c| p.query::<()>(c))
    }
}
