//! Token statistics: the store trait the classifier reads, the in-memory
//! store, and its versioned, checksummed file format.
//!
//! The trait is the seam for a shared store (e.g. Redis, as Rspamd uses) that
//! several engines could read; the default keeps everything in one hash map
//! loaded from a compact binary file.

use crate::corpus::Label;
use rustc_hash::FxHashMap;
use std::fmt;
use std::path::Path;

/// How often a feature was seen in spam and in ham messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Spam messages containing the feature.
    pub spam: u32,
    /// Ham messages containing the feature.
    pub ham: u32,
}

/// Messages learned of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Learned {
    /// Spam messages learned.
    pub spam: u64,
    /// Ham messages learned.
    pub ham: u64,
}

/// Read access to token statistics.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Counts for one feature (zero when unseen).
    fn counts(&self, feature: u64) -> Counts;
    /// Messages learned so far.
    fn learned(&self) -> Learned;
    /// Number of distinct features stored.
    fn len(&self) -> usize;
    /// Whether nothing was learned.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Calls `f` with every stored feature and its counts; returns false
    /// when the store cannot list its features (a remote store, say), and
    /// the classifier then reads counts one feature at a time.
    fn for_each(&self, f: &mut dyn FnMut(u64, Counts)) -> bool {
        let _ = f;
        false
    }
    /// Whether [`for_each`](Self::for_each) lists the features (false for
    /// a remote store: the classifier then reads with
    /// [`lookup`](Self::lookup), never building a clue table).
    fn lists_features(&self) -> bool {
        true
    }
    /// Changes whenever any count changes, so precomputed weights
    /// (see [`ClueTable`](super::weights::ClueTable)) know they are stale.
    fn version(&self) -> u64 {
        0
    }
    /// Messages learned and the counts of these features, read at once (a
    /// remote store answers in one round trip), or why the store cannot be
    /// read now.
    fn lookup(
        &self,
        features: &[u64],
    ) -> Result<(Learned, Vec<Counts>), crate::state::Unavailable> {
        Ok((
            self.learned(),
            features.iter().map(|&f| self.counts(f)).collect(),
        ))
    }
    /// [`lookup`](Self::lookup) for a message delivered to `user`: a store
    /// that keeps a model per user (`[state] per_user`) answers from that
    /// user's model once it is ready; others ignore the user.
    fn lookup_for(
        &self,
        user: Option<&str>,
        features: &[u64],
    ) -> Result<(Learned, Vec<Counts>), crate::state::Unavailable> {
        let _ = user;
        self.lookup(features)
    }
    /// [`learn_shared`](Self::learn_shared) for a message delivered to
    /// `user`: a store that keeps a model per user learns it into that
    /// user's model instead of the site's.
    fn learn_shared_for(
        &self,
        user: Option<&str>,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Option<Result<LearnOutcome, crate::state::Unavailable>> {
        let _ = user;
        self.learn_shared(digest, features, label)
    }
    /// Learn one message in place, with its books (a message learned once
    /// counts once), for stores that learn while engines read them (a
    /// shared store); `None` when this store does not.
    fn learn_shared(
        &self,
        digest: u64,
        features: &[u64],
        label: Label,
    ) -> Option<Result<LearnOutcome, crate::state::Unavailable>> {
        let _ = (digest, features, label);
        None
    }
}

/// Write access: learning and unlearning messages.
pub trait TokenStoreMut: TokenStore {
    /// Add (`sign = 1`) or remove (`sign = -1`) one message's features.
    fn learn(&mut self, features: &[u64], label: Label, sign: i32);
}

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// I/O error.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a model file, truncated or corrupted.
    #[error("{path}: {why}")]
    Corrupt {
        /// File.
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// The default store: a hash map in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    map: FxHashMap<u64, Counts>,
    learned: Learned,
    /// Messages learned, by digest ([`message_digest`]), with the class
    /// each was learned as (like sa-learn's seen database).
    seen: FxHashMap<u64, Label>,
}

/// What identifies a learned message: its Message-ID (if any) and its
/// decoded subject and text, with its channel and sender.
pub fn message_digest(msg: &crate::Message) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [
        msg.channel.as_str(),
        msg.message_id.as_deref().unwrap_or(""),
        &msg.sender,
        &msg.subject,
        &msg.body,
    ] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.digest()
}

/// What learning one message did to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnOutcome {
    /// Learned (or unlearned) as asked.
    Done,
    /// Already learned as this class: nothing changed.
    AlreadyLearned,
    /// Had been learned as the other class: moved (one unlearn, one learn).
    Moved,
    /// An unlearn of a message this model never learned as that class:
    /// refused, nothing changed (`Some` class it was learned as, if any).
    NotLearned(Option<Label>),
}

/// File magic.
const MAGIC: &[u8; 8] = b"SSBAYES\0";
/// File format version. It also names the features: version 2 tokenizes
/// dotted words whole, version 3 hashes words with the tokenizer's own
/// word hash instead of xxh3, version 4 reads 8 words per header field
/// (not 12) and derives a field's presence feature from its name's hash, so
/// older models are refused with a request to retrain.
pub const FORMAT_VERSION: u32 = 4;
pub(crate) const HEADER: usize = 8 + 4 + 4 + 8 + 8 + 8;
pub(crate) const RECORD: usize = 16;
/// A learned-message record: digest and class (0 ham, 1 spam). Their
/// number is kept in the header's once-reserved word (0 in older files of
/// this version, which therefore still load).
const SEEN_RECORD: usize = 9;

/// Where things are in a checked model file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Feature records.
    pub(crate) n: usize,
    /// Learned-message records.
    pub(crate) n_seen: usize,
    /// End of the feature records (they start at [`HEADER`]).
    pub(crate) records_end: usize,
    /// End of the learned-message records (the checksum follows).
    pub(crate) body_end: usize,
    /// Messages learned.
    pub(crate) learned: Learned,
}

impl Layout {
    /// Check a model file's magic, version, size and checksum.
    pub(crate) fn check(path: &str, b: &[u8]) -> Result<Layout, ModelError> {
        let bad = |why: String| ModelError::Corrupt {
            path: path.to_string(),
            why,
        };
        if b.len() < HEADER + 4 || &b[..8] != MAGIC {
            return Err(bad(
                "not a spamsift model file (bad magic or too short)".into()
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "model format version {version}, this spamsift reads {FORMAT_VERSION}{}",
                if version < FORMAT_VERSION {
                    " (the model's features come from an older tokenizer: retrain it with `spamsift train`)"
                } else {
                    ""
                }
            )));
        }
        let n = u64_at(32);
        let n_seen = u32_at(12) as usize;
        let records_end = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(RECORD))
            .and_then(|x| x.checked_add(HEADER));
        let expected = records_end
            .and_then(|e| {
                n_seen
                    .checked_mul(SEEN_RECORD)
                    .and_then(|s| e.checked_add(s))
            })
            .and_then(|x| x.checked_add(4));
        if expected != Some(b.len()) {
            return Err(bad(format!(
                "truncated or padded: {} bytes for {n} records",
                b.len()
            )));
        }
        let body_end = b.len() - 4;
        if crc32fast::hash(&b[..body_end]) != u32_at(body_end) {
            return Err(bad("checksum mismatch: the file is corrupted".into()));
        }
        Ok(Layout {
            n: n as usize,
            n_seen,
            records_end: records_end.unwrap_or(HEADER),
            body_end,
            learned: Learned {
                spam: u64_at(16),
                ham: u64_at(24),
            },
        })
    }
}

/// One feature record: feature, spam and ham counts (little-endian).
pub(crate) fn record(r: &[u8]) -> (u64, Counts) {
    let mut k = [0u8; 8];
    k.copy_from_slice(&r[..8]);
    let spam = u32::from_le_bytes([r[8], r[9], r[10], r[11]]);
    let ham = u32::from_le_bytes([r[12], r[13], r[14], r[15]]);
    (u64::from_le_bytes(k), Counts { spam, ham })
}

impl TokenStore for MemoryStore {
    fn counts(&self, feature: u64) -> Counts {
        self.map.get(&feature).copied().unwrap_or_default()
    }
    fn learned(&self) -> Learned {
        self.learned
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn for_each(&self, f: &mut dyn FnMut(u64, Counts)) -> bool {
        for (&k, &c) in &self.map {
            f(k, c);
        }
        true
    }
}

impl TokenStoreMut for MemoryStore {
    fn learn(&mut self, features: &[u64], label: Label, sign: i32) {
        let bump = |v: &mut u32| {
            *v = if sign >= 0 {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            };
        };
        for &f in features {
            let c = self.map.entry(f).or_default();
            match label {
                Label::Spam => bump(&mut c.spam),
                Label::Ham => bump(&mut c.ham),
            }
            if c.spam == 0 && c.ham == 0 {
                self.map.remove(&f);
            }
        }
        let n = match label {
            Label::Spam => &mut self.learned.spam,
            Label::Ham => &mut self.learned.ham,
        };
        *n = if sign >= 0 {
            n.saturating_add(1)
        } else {
            n.saturating_sub(1)
        };
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Learn (`unlearn = false`) or unlearn one message's features,
    /// keeping the books: a message learned once counts once, learning it
    /// as the other class moves it, and unlearning what was never learned
    /// as that class is refused.
    pub fn learn_message(
        &mut self,
        digest: u64,
        features: &[u64],
        label: Label,
        unlearn: bool,
    ) -> LearnOutcome {
        let before = self.seen.get(&digest).copied();
        match (unlearn, before) {
            (false, Some(l)) if l == label => LearnOutcome::AlreadyLearned,
            (false, Some(other)) => {
                self.learn(features, other, -1);
                self.learn(features, label, 1);
                self.seen.insert(digest, label);
                LearnOutcome::Moved
            }
            (false, None) => {
                self.learn(features, label, 1);
                self.seen.insert(digest, label);
                LearnOutcome::Done
            }
            (true, Some(l)) if l == label => {
                self.learn(features, label, -1);
                self.seen.remove(&digest);
                LearnOutcome::Done
            }
            (true, other) => LearnOutcome::NotLearned(other),
        }
    }

    /// Record that a message was learned as `label` (training fills the
    /// books as it counts).
    pub fn note_learned(&mut self, digest: u64, label: Label) {
        self.seen.insert(digest, label);
    }

    /// The books: every learned message's digest and class.
    pub fn seen_entries(&self) -> impl Iterator<Item = (u64, Label)> + '_ {
        self.seen.iter().map(|(k, l)| (*k, *l))
    }

    /// Messages in the books.
    pub fn learned_messages(&self) -> usize {
        self.seen.len()
    }

    /// Merge another store's counts into this one (parallel training).
    pub fn merge(&mut self, other: &MemoryStore) {
        self.seen.extend(other.seen.iter().map(|(k, v)| (*k, *v)));
        for (k, v) in &other.map {
            let c = self.map.entry(*k).or_default();
            c.spam = c.spam.saturating_add(v.spam);
            c.ham = c.ham.saturating_add(v.ham);
        }
        self.learned.spam += other.learned.spam;
        self.learned.ham += other.learned.ham;
    }

    /// Add another store's feature counts, with `learned` message totals
    /// (its own totals count per-feature learns, not messages).
    pub fn merge_counts(&mut self, other: &MemoryStore, learned: Learned) {
        self.add_counts(other.map.iter().map(|(k, v)| (*k, *v)), learned);
    }

    /// Add feature counts and learned messages (another model's, or a
    /// feedback overlay's).
    pub fn add_counts(
        &mut self,
        counts: impl IntoIterator<Item = (u64, Counts)>,
        learned: Learned,
    ) {
        for (k, v) in counts {
            let c = self.map.entry(k).or_default();
            c.spam = c.spam.saturating_add(v.spam);
            c.ham = c.ham.saturating_add(v.ham);
        }
        self.learned.spam += learned.spam;
        self.learned.ham += learned.ham;
    }

    /// Serialise: header, records sorted by feature, CRC-32 of all before it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut keys: Vec<(&u64, &Counts)> = self.map.iter().collect();
        keys.sort_unstable_by_key(|(k, _)| **k);
        let mut out = Vec::with_capacity(HEADER + keys.len() * RECORD + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let seen = u32::try_from(self.seen.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&seen.to_le_bytes());
        out.extend_from_slice(&self.learned.spam.to_le_bytes());
        out.extend_from_slice(&self.learned.ham.to_le_bytes());
        out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
        for (k, c) in keys {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&c.spam.to_le_bytes());
            out.extend_from_slice(&c.ham.to_le_bytes());
        }
        let mut seen: Vec<(&u64, &Label)> = self.seen.iter().take(u32::MAX as usize).collect();
        seen.sort_unstable_by_key(|(k, _)| **k);
        for (k, l) in seen {
            out.extend_from_slice(&k.to_le_bytes());
            out.push(u8::from(*l == Label::Spam));
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parse a model file's bytes; `path` names it in errors.
    pub fn from_bytes(path: &str, b: &[u8]) -> Result<MemoryStore, ModelError> {
        let layout = Layout::check(path, b)?;
        let bad = |why: String| ModelError::Corrupt {
            path: path.to_string(),
            why,
        };
        let mut map = FxHashMap::with_capacity_and_hasher(layout.n, Default::default());
        let mut seen = FxHashMap::with_capacity_and_hasher(layout.n_seen, Default::default());
        for r in b[layout.records_end..layout.body_end].chunks_exact(SEEN_RECORD) {
            let mut k = [0u8; 8];
            k.copy_from_slice(&r[..8]);
            let label = match r[8] {
                0 => Label::Ham,
                1 => Label::Spam,
                x => return Err(bad(format!("learned-message record with class {x}"))),
            };
            seen.insert(u64::from_le_bytes(k), label);
        }
        for r in b[HEADER..layout.records_end].chunks_exact(RECORD) {
            let (k, c) = record(r);
            map.insert(k, c);
        }
        Ok(MemoryStore {
            map,
            learned: layout.learned,
            seen,
        })
    }

    /// Read a model file.
    pub fn load(path: &Path) -> Result<MemoryStore, ModelError> {
        let p = path.display().to_string();
        let b = std::fs::read(path).map_err(|source| ModelError::Io {
            path: p.clone(),
            source,
        })?;
        MemoryStore::from_bytes(&p, &b)
    }

    /// Write atomically: a temporary file in the same folder, synced, then
    /// renamed over the target, so a crash never leaves a broken model.
    /// (Hold the file's [update lock](crate::fsutil::lock_for_update) when
    /// others may update it too.)
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::fsutil::write_atomic(path, &self.to_bytes())
    }

    /// Update the model file at `path` in place: under its update lock,
    /// read it (or start from `if_missing` when there is no file), apply
    /// `change`, and write it back atomically. Concurrent updates (several
    /// `spamsift learn` runs, a server saving feedback) all count.
    pub fn update(
        path: &Path,
        if_missing: impl FnOnce() -> MemoryStore,
        change: impl FnOnce(&mut MemoryStore),
    ) -> Result<MemoryStore, ModelError> {
        let io = |source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let _lock = crate::fsutil::lock_for_update(path).map_err(io)?;
        let mut store = if path.exists() {
            MemoryStore::load(path)?
        } else {
            if_missing()
        };
        change(&mut store);
        store.save(path).map_err(io)?;
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut s = MemoryStore::new();
        s.learn(&[1, 2, 3], Label::Spam, 1);
        s.learn(&[2, 4], Label::Ham, 1);
        let b = s.to_bytes();
        let t = MemoryStore::from_bytes("m", &b).expect("valid bytes");
        assert_eq!(t.counts(2), Counts { spam: 1, ham: 1 });
        assert_eq!(t.learned(), Learned { spam: 1, ham: 1 });
        let mut flipped = b.clone();
        flipped[HEADER + 3] ^= 1;
        assert!(
            MemoryStore::from_bytes("m", &flipped)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        assert!(
            MemoryStore::from_bytes("m", &b[..b.len() - 5])
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(
            MemoryStore::from_bytes("m", b"hello")
                .unwrap_err()
                .to_string()
                .contains("not a spamsift model")
        );
        // a model of the previous format (older tokenizer) asks to be retrained
        let mut old = b.clone();
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        let e = MemoryStore::from_bytes("m", &old).unwrap_err().to_string();
        assert!(e.contains("version 1") && e.contains("retrain"), "{e}");
    }

    #[test]
    fn the_books_count_each_message_once() {
        let mut s = MemoryStore::new();
        let f = [10, 11];
        assert_eq!(
            s.learn_message(1, &f, Label::Spam, false),
            LearnOutcome::Done
        );
        assert_eq!(
            s.learn_message(1, &f, Label::Spam, false),
            LearnOutcome::AlreadyLearned
        );
        assert_eq!(s.learned(), Learned { spam: 1, ham: 0 });
        assert_eq!(
            s.learn_message(1, &f, Label::Ham, false),
            LearnOutcome::Moved
        );
        assert_eq!(s.learned(), Learned { spam: 0, ham: 1 });
        assert_eq!(s.counts(10), Counts { spam: 0, ham: 1 });
        assert_eq!(
            s.learn_message(2, &f, Label::Ham, true),
            LearnOutcome::NotLearned(None)
        );
        assert_eq!(
            s.learn_message(1, &f, Label::Spam, true),
            LearnOutcome::NotLearned(Some(Label::Ham))
        );
        // The books survive the file.
        let t = MemoryStore::from_bytes("m", &s.to_bytes()).expect("valid bytes");
        assert_eq!(t.learned_messages(), 1);
        let mut t = t;
        assert_eq!(t.learn_message(1, &f, Label::Ham, true), LearnOutcome::Done);
        assert_eq!(t.learned(), Learned { spam: 0, ham: 0 });
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn unlearn_removes_counts() {
        let mut s = MemoryStore::new();
        s.learn(&[7], Label::Spam, 1);
        s.learn(&[7], Label::Spam, -1);
        assert_eq!(s.len(), 0);
        assert_eq!(s.learned().spam, 0);
    }
}
