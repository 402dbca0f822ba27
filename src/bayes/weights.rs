//! Precomputed clue weights: the classifier's fast path.
//!
//! Classifying with the store alone costs a hash lookup, Robinson's formula
//! and two logarithms per feature. A [`ClueTable`] does that work once per
//! model version: it keeps only the features strong enough to count (the
//! clues, `|f(w) - 0.5| >= min_deviation`) with their logarithms, in an
//! open-addressing table. Classifying then looks each feature up and sums.

use super::store::{Counts, Learned, TokenStore};

/// Robinson's parameters a table is built for (they differ by channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClueParams {
    /// Strength of the prior (s).
    pub strength: f64,
    /// Prior probability (x).
    pub prior: f64,
    /// Features closer than this to 0.5 are not clues.
    pub min_deviation: f64,
}

impl ClueParams {
    /// Robinson's f(w) of a feature, clamped away from 0 and 1; `None` for
    /// unseen features and for features too weak to be clues.
    pub fn clue(&self, c: Counts, learned: Learned) -> Option<f64> {
        let n = f64::from(c.spam) + f64::from(c.ham);
        if n == 0.0 {
            return None;
        }
        let (ns, nh) = (learned.spam.max(1) as f64, learned.ham.max(1) as f64);
        let sr = f64::from(c.spam) / ns;
        let hr = f64::from(c.ham) / nh;
        let p = sr / (sr + hr);
        let fw = (self.strength * self.prior + n * p) / (self.strength + n);
        ((fw - 0.5).abs() >= self.min_deviation).then(|| fw.clamp(1e-6, 1.0 - 1e-6))
    }
}

/// One clue's precomputed terms.
#[derive(Debug, Clone, Copy)]
pub struct Clue {
    /// `ln f(w)`.
    pub ln_fw: f64,
    /// `ln (1 - f(w))`.
    pub ln_not_fw: f64,
    /// How strong the clue is, to keep the strongest ones:
    /// `-ln min(f(w), 1 - f(w))`, which grows with `|f(w) - 0.5|` and comes
    /// from the two logarithms without another one.
    pub strength: f64,
}

impl Clue {
    /// The terms of a clue with probability `fw`.
    pub fn of(fw: f64) -> Clue {
        Clue::from_logs(fw.ln(), (1.0 - fw).ln())
    }

    /// A clue from `ln f(w)` and `ln (1 - f(w))`.
    fn from_logs(ln_fw: f64, ln_not_fw: f64) -> Clue {
        Clue {
            ln_fw,
            ln_not_fw,
            strength: -ln_fw.min(ln_not_fw),
        }
    }
}

/// One slot of the table: a clue's feature (0: empty) and its logarithms,
/// side by side, so finding a clue also brings its terms into the cache.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    ln_fw: f64,
    ln_not_fw: f64,
}

/// The clues of one model version for one set of parameters.
pub struct ClueTable {
    /// The store version it was built from.
    pub version: u64,
    /// Parameters it was built with.
    pub params: ClueParams,
    mask: usize,
    /// A one-word Bloom filter of the clues (two bits per clue in one of
    /// `filter.len()` words, 13 to 26 bits per clue): small enough to stay
    /// in the L2 cache, it turns most features away (most are not clues)
    /// before the larger slot array is read.
    filter: Vec<u64>,
    /// Open addressing; key 0 marks an empty slot (feature 0 lives in `zero`).
    slots: Vec<Slot>,
    zero: Option<Clue>,
    /// The model's other features (seen, but not clues), to tell exactly
    /// how much of a message the model knows.
    others: FeatureSet,
}

/// An exact set of features: open addressing behind a one-word Bloom
/// filter like the clue table's, which turns most absent features away.
struct FeatureSet {
    filter: Vec<u64>,
    mask: usize,
    /// Key 0 marks an empty slot; feature 0 is `zero`.
    keys: Vec<u64>,
    zero: bool,
}

impl FeatureSet {
    fn new(features: &[u64]) -> FeatureSet {
        let slots = (features.len() * 2).next_power_of_two().max(16);
        let mut set = FeatureSet {
            filter: vec![0; (features.len() / 5).next_power_of_two().max(1)],
            mask: slots - 1,
            keys: vec![0; slots],
            zero: false,
        };
        for &f in features {
            if f == 0 {
                set.zero = true;
                continue;
            }
            let (word, bits) = filter_bits(f, set.filter.len() - 1);
            set.filter[word] |= bits;
            let mut i = slot_of(f, set.mask);
            while set.keys[i] != 0 && set.keys[i] != f {
                i = (i + 1) & set.mask;
            }
            set.keys[i] = f;
        }
        set
    }

    fn contains(&self, f: u64) -> bool {
        if f == 0 {
            return self.zero;
        }
        let (word, bits) = filter_bits(f, self.filter.len() - 1);
        if self.filter[word] & bits != bits {
            return false;
        }
        let mut i = slot_of(f, self.mask);
        loop {
            match self.keys[i] {
                k if k == f => return true,
                0 => return false,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

impl std::fmt::Debug for ClueTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClueTable")
            .field("version", &self.version)
            .field("clues", &self.len())
            .finish()
    }
}

/// Spreads feature hashes over slots (they are xxh3 values already, but
/// OSB pair features are mixed by hand).
fn slot_of(feature: u64, mask: usize) -> usize {
    (feature.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

/// The filter word of a feature and its two bits there.
fn filter_bits(feature: u64, filter_mask: usize) -> (usize, u64) {
    let word = (feature >> 40) as usize & filter_mask;
    (word, 1 << (feature & 63) | 1 << ((feature >> 6) & 63))
}

impl ClueTable {
    /// Builds the table from every feature of `store`; `None` when the
    /// store cannot list its features.
    pub fn build(store: &dyn TokenStore, params: ClueParams) -> Option<ClueTable> {
        let version = store.version();
        let learned = store.learned();
        let mut clues: Vec<(u64, f64)> = Vec::new();
        let mut others: Vec<u64> = Vec::new();
        let listed = store.for_each(&mut |f, c| {
            if let Some(fw) = params.clue(c, learned) {
                clues.push((f, fw));
            } else if c.spam + c.ham > 0 {
                others.push(f);
            }
        });
        if !listed {
            return None;
        }
        let others = FeatureSet::new(&others);
        let slots = (clues.len() * 2).next_power_of_two().max(16);
        let mut t = ClueTable {
            version,
            params,
            filter: vec![0; (clues.len() / 5).next_power_of_two().max(1)],
            mask: slots - 1,
            slots: vec![Slot::default(); slots],
            zero: None,
            others,
        };
        for (f, fw) in clues {
            if f == 0 {
                t.zero = Some(Clue::of(fw));
                continue;
            }
            let (word, bits) = filter_bits(f, t.filter.len() - 1);
            t.filter[word] |= bits;
            let mut i = slot_of(f, t.mask);
            while t.slots[i].key != 0 && t.slots[i].key != f {
                i = (i + 1) & t.mask;
            }
            let c = Clue::of(fw);
            t.slots[i] = Slot {
                key: f,
                ln_fw: c.ln_fw,
                ln_not_fw: c.ln_not_fw,
            };
        }
        Some(t)
    }

    /// Number of clues.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.key != 0).count() + usize::from(self.zero.is_some())
    }

    /// Whether no feature is a clue.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slot of a clue feature (`u32::MAX` for feature 0), `None` when
    /// the feature is not a clue.
    pub fn find(&self, feature: u64) -> Option<u32> {
        if feature == 0 {
            return self.zero.map(|_| u32::MAX);
        }
        let (word, bits) = filter_bits(feature, self.filter.len() - 1);
        if self.filter[word] & bits != bits {
            return None;
        }
        let mut i = slot_of(feature, self.mask);
        loop {
            let k = self.slots[i].key;
            if k == feature {
                return Some(i as u32);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The slots of the clues among `features` (at most 64), in order,
    /// pushed to `out`: the filter is read for all of them first, without a
    /// branch per feature, so the reads overlap and most features (not
    /// clues) cost no mispredicted branch.
    pub fn find_batch(&self, features: &[u64], out: &mut Vec<u32>) {
        let filter_mask = self.filter.len() - 1;
        let mut maybe = 0u64;
        for (i, &f) in features.iter().take(64).enumerate() {
            let (word, bits) = filter_bits(f, filter_mask);
            maybe |= u64::from(self.filter[word] & bits == bits) << i;
        }
        while maybe != 0 {
            let i = maybe.trailing_zeros() as usize;
            maybe &= maybe - 1;
            if let Some(slot) = self.find(features[i]) {
                out.push(slot);
            }
        }
    }

    /// Whether the model has seen `feature` in either class.
    pub fn is_known(&self, feature: u64) -> bool {
        self.find(feature).is_some() || self.others.contains(feature)
    }

    /// [`find_batch`](Self::find_batch) that also counts the features the
    /// model has seen (clues or not).
    pub fn find_batch_known(&self, features: &[u64], out: &mut Vec<u32>) -> usize {
        let before = out.len();
        self.find_batch(features, out);
        let clues = out.len() - before;
        // Clues are known; of the rest, look for the model's other features
        // (a feature is one or the other, never both).
        let others = if clues == features.len() {
            0
        } else {
            features
                .iter()
                .filter(|&&f| self.others.contains(f))
                .count()
        };
        clues + others
    }

    /// The clue in a slot [`find`](Self::find) gave.
    pub fn clue(&self, slot: u32) -> Clue {
        match self.zero {
            Some(z) if slot == u32::MAX => z,
            _ => {
                let s = self.slots[slot as usize];
                Clue::from_logs(s.ln_fw, s.ln_not_fw)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bayes::store::{MemoryStore, TokenStoreMut};
    use crate::corpus::Label;

    #[test]
    fn batched_lookups_find_what_single_lookups_find() {
        // Features 1..=400: every third only in spam (a clue), the rest in
        // both (not a clue); 0 is a clue too (it has its own slot).
        let mut store = MemoryStore::new();
        let spam: Vec<u64> = (0..=400).filter(|f| f % 3 == 0).collect();
        let both: Vec<u64> = (1..=400).filter(|f| f % 3 != 0).collect();
        store.learn(&spam, Label::Spam, 10);
        store.learn(&both, Label::Spam, 10);
        store.learn(&both, Label::Ham, 10);
        let params = ClueParams {
            strength: 0.1,
            prior: 0.5,
            min_deviation: 0.4,
        };
        let table = ClueTable::build(&store, params).expect("a memory store lists its features");
        assert_eq!(table.len(), spam.len());
        let features: Vec<u64> = (0..=400).chain(1000..1100).chain([0, 3, 3]).collect();
        let single: Vec<u32> = features.iter().filter_map(|&f| table.find(f)).collect();
        assert_eq!(single.len(), spam.len() + 3);
        for batch in [1, 7, 63, 64] {
            let mut batched = Vec::new();
            for chunk in features.chunks(batch) {
                table.find_batch(chunk, &mut batched);
            }
            assert_eq!(batched, single, "batches of {batch}");
        }
        // Every feature of the model is known, clue or not, and no other.
        assert!((0..=400).all(|f| table.is_known(f)));
        assert!((401..20_000u64).all(|f| !table.is_known(f)));
        let unknown: Vec<u64> = (10_000..10_100).collect();
        let mixed: Vec<u64> = (0..=400).chain(unknown.iter().copied()).collect();
        let mut slots = Vec::new();
        let mut known = 0;
        for chunk in mixed.chunks(64) {
            known += table.find_batch_known(chunk, &mut slots);
        }
        assert_eq!(known, 401);
        assert_eq!(slots, single[..spam.len()]);
    }
}
