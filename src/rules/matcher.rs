//! Running compiled matchers over a message: one Aho-Corasick automaton and
//! one RegexSet per (channel, field), and the set of rules that hit.

use super::field::Field;
use crate::message::Message;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, PatternID};
use regex::{Regex, RegexSet};

/// Which rules hit, by rule index.
#[derive(Debug, Clone)]
pub struct HitSet {
    words: Vec<u64>,
}

impl HitSet {
    /// An empty set for `n` rules.
    pub fn new(n: usize) -> HitSet {
        HitSet {
            words: vec![0; n.div_ceil(64)],
        }
    }
    /// Mark rule `i` as hit.
    #[inline]
    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    /// Whether rule `i` hit.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }
    /// Indices of the rules that hit, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &bits)| {
            let mut b = bits;
            std::iter::from_fn(move || {
                if b == 0 {
                    return None;
                }
                let t = b.trailing_zeros() as usize;
                b &= b - 1;
                Some(w * 64 + t)
            })
        })
    }
}

/// Build the automaton for lower-cased phrases (as compiled for rule sets).
pub(crate) fn phrase_automaton(patterns: &[&str]) -> Result<DFA, aho_corasick::BuildError> {
    DFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::Standard)
        .build(patterns)
}

/// All literal phrases of the rules on one field, in one automaton.
#[derive(Debug)]
pub struct PhraseMatcher {
    pub(super) automaton: DFA,
    /// Rule index of each pattern.
    pub(super) pattern_rule: Vec<u32>,
    /// Whether each pattern must match whole words.
    pub(super) whole_word: Vec<bool>,
    /// Some pattern holds a non-ASCII cased letter, so non-ASCII text must
    /// be lower-cased before matching (ASCII case is folded by the automaton).
    pub(super) fold_unicode: bool,
}

/// All regexes of the rules on one field: one RegexSet when there are many,
/// or each regex on its own when there are few, since a lone regex gets
/// a literal prefilter (memchr, memmem, Teddy) of its own and stops at
/// its first match, while a small set pays for an overlapping scan.
#[derive(Debug)]
pub enum RegexMatcher {
    /// Many regexes in one set; `set_rule` maps each to its rule index.
    Set { set: RegexSet, set_rule: Vec<u32> },
    /// Few regexes, each with its rule index.
    Each(Vec<(Regex, u32)>),
}

/// Fields with at most this many regexes run them one by one.
pub(crate) const MAX_SEPARATE_REGEXES: usize = 16;

impl RegexMatcher {
    /// Record which of this matcher's rules hit in `value`.
    fn run(&self, value: &str, hits: &mut HitSet) {
        match self {
            // is_match needs no allocation and stops at the first match;
            // most values match nothing, so only then collect which matched.
            RegexMatcher::Set { set, set_rule } => {
                if set.is_match(value) {
                    for i in set.matches(value).iter() {
                        hits.set(set_rule[i] as usize);
                    }
                }
            }
            RegexMatcher::Each(list) => {
                for (re, rule) in list {
                    let rule = *rule as usize;
                    if !hits.get(rule) && re.is_match(value) {
                        hits.set(rule);
                    }
                }
            }
        }
    }
}

/// The matchers of one field for one channel.
#[derive(Debug)]
pub struct FieldMatcher {
    pub(super) field: Field,
    pub(super) phrases: Option<PhraseMatcher>,
    pub(super) regexes: Option<RegexMatcher>,
}

impl FieldMatcher {
    /// Run every matcher of this field over `msg`, recording hits.
    pub fn run(&self, msg: &Message, hits: &mut HitSet) {
        self.field.for_each_value(msg, |value| {
            if value.is_empty() {
                return true;
            }
            if let Some(p) = &self.phrases {
                p.run(value, hits);
            }
            if let Some(r) = &self.regexes {
                r.run(value, hits);
            }
            true
        });
    }
}

impl PhraseMatcher {
    /// Record which of this matcher's rules hit in `value`.
    pub(crate) fn run(&self, value: &str, hits: &mut HitSet) {
        // Patterns are lower-case and the automaton is ASCII case-insensitive;
        // other scripts need the text lower-cased (only then do we allocate).
        if !self.fold_unicode || value.is_ascii() {
            self.scan(value, hits);
        } else {
            self.scan(&value.to_lowercase(), hits);
        }
    }

    /// Every match of every phrase in `text`, overlapping ones included.
    ///
    /// A big phrase DFA does not fit in the CPU cache, so a scan waits on
    /// memory at each byte. Long texts are therefore cut in two halves
    /// scanned in lock-step: two independent chains of lookups keep two
    /// cache misses in flight at once. The first half runs on past the
    /// middle by the longest phrase, so no match across the cut is lost.
    fn scan(&self, text: &str, hits: &mut HitSet) {
        const TWO_STREAMS_FROM: usize = 512;
        let dfa = &self.automaton;
        let Ok(start) = dfa.start_state(Anchored::No) else {
            return;
        };
        let bytes = text.as_bytes();
        let mut on_match = |sid: StateID, end: usize| {
            for i in 0..dfa.match_len(sid) {
                let p = dfa.match_pattern(sid, i);
                self.report(text, p, end - dfa.pattern_len(p), end, hits);
            }
        };
        let (mut a, mut b) = (start, start);
        let mut done = 0;
        if bytes.len() >= TWO_STREAMS_FROM {
            let mid = bytes.len() / 2;
            let overlap = dfa.max_pattern_len().saturating_sub(1);
            let (first, second) = (&bytes[..mid], &bytes[mid..]);
            for (i, (&x, &y)) in first.iter().zip(second).enumerate() {
                a = dfa.next_state(Anchored::No, a, x);
                b = dfa.next_state(Anchored::No, b, y);
                if dfa.is_match(a) {
                    on_match(a, i + 1);
                }
                if dfa.is_match(b) {
                    on_match(b, mid + i + 1);
                }
            }
            // The first half's run-on over the cut, then the second's tail.
            for (i, &x) in bytes[mid..(mid + overlap).min(bytes.len())]
                .iter()
                .enumerate()
            {
                a = dfa.next_state(Anchored::No, a, x);
                if dfa.is_match(a) {
                    on_match(a, mid + i + 1);
                }
            }
            done = mid + first.len();
            a = b;
        }
        for (i, &x) in bytes[done..].iter().enumerate() {
            a = dfa.next_state(Anchored::No, a, x);
            if dfa.is_match(a) {
                on_match(a, done + i + 1);
            }
        }
    }

    /// Record pattern `p` matched at `text[start..end]`.
    #[inline]
    fn report(&self, text: &str, p: PatternID, start: usize, end: usize, hits: &mut HitSet) {
        let p = p.as_usize();
        let rule = self.pattern_rule[p] as usize;
        if hits.get(rule) {
            return;
        }
        if self.whole_word[p] && !at_word_boundaries(text, start, end) {
            return;
        }
        hits.set(rule);
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `text[start..end]` is not glued to word characters on either side.
/// Boundaries are only checked where the phrase itself begins or ends with a
/// word character, so phrases like `$$$` or `!!!` still work.
fn at_word_boundaries(text: &str, start: usize, end: usize) -> bool {
    let inner = &text[start..end];
    let first_is_word = inner.chars().next().is_some_and(is_word_char);
    let last_is_word = inner.chars().next_back().is_some_and(is_word_char);
    let before_ok = !first_is_word || !text[..start].chars().next_back().is_some_and(is_word_char);
    let after_ok = !last_is_word || !text[end..].chars().next().is_some_and(is_word_char);
    before_ok && after_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hitset_iterates_in_order() {
        let mut h = HitSet::new(130);
        for i in [129, 0, 64, 3] {
            h.set(i);
        }
        assert_eq!(h.iter().collect::<Vec<_>>(), [0, 3, 64, 129]);
        assert!(h.get(64) && !h.get(65));
    }

    #[test]
    fn word_boundaries() {
        assert!(at_word_boundaries("free money", 0, 4));
        assert!(!at_word_boundaries("carefree money", 4, 8));
        assert!(at_word_boundaries("win $$$ now", 4, 7));
        assert!(at_word_boundaries("cash!", 0, 4));
    }
}
