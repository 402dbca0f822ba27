//! Running compiled matchers over a message: per (channel, field) one
//! Aho-Corasick DFA for the phrases (and, on long texts, the regexes'
//! leading literals), a RegexSet for the other regexes, and the set of
//! rules that hit.

use super::field::Field;
use super::obfuscated::ObfuscatedWords;
use super::phrase_table::PhraseTable;
use super::prefixed::PrefixedRegexes;
use crate::message::Message;
use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, OverlappingState, StateID};
use aho_corasick::dfa::DFA;
use regex::RegexSet;

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
    /// The bits of rules `64 × w` to `64 × w + 63` (0 past the end).
    #[inline]
    pub fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
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

/// What rule matchers are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildFor {
    /// Many messages: phrase automata are DFAs, slower to build and
    /// fastest to run.
    #[default]
    Throughput,
    /// One message per process (`spamsift check`): phrases are found with
    /// a [`PhraseTable`](super::phrase_table::PhraseTable), built in tens of
    /// microseconds instead of milliseconds, slower to run.
    StartUp,
}

/// A phrase automaton, or a table for one message.
#[derive(Debug)]
enum Phrases {
    Dfa(DFA),
    Table(PhraseTable),
}

/// Build the automaton for lower-cased phrases (as compiled for rule sets).
fn phrase_automaton(patterns: &[&str], build: BuildFor) -> Result<Phrases, String> {
    let e = |e: aho_corasick::BuildError| e.to_string();
    Ok(match build {
        BuildFor::Throughput => Phrases::Dfa(
            DFA::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(patterns)
                .map_err(e)?,
        ),
        // Case-sensitive, over a lower-cased copy of the text (an ASCII
        // case-insensitive table would compare each candidate twice over).
        BuildFor::StartUp => Phrases::Table(PhraseTable::new(patterns)),
    })
}

/// All literal phrases of the rules on one field in one automaton, and
/// with them the leading literals of the field's long-text regexes
/// ([`PrefixedRegexes`]): one pass over the text serves both.
#[derive(Debug)]
pub struct PhraseMatcher {
    automaton: Phrases,
    /// Rule index of each phrase (the first patterns of the automaton).
    pattern_rule: Vec<u32>,
    /// Whether each phrase must match whole words.
    whole_word: Vec<bool>,
    /// Some phrase holds a non-ASCII cased letter, so non-ASCII text must
    /// be lower-cased before matching (ASCII case is folded by the automaton).
    fold_unicode: bool,
    /// Regexes whose leading literals follow the phrases in the automaton.
    regexes: Option<PrefixedRegexes>,
}

/// Why a field's matchers could not be built, with the rule (by index)
/// to blame when one is.
#[derive(Debug)]
pub struct BuildError {
    /// The rule whose regex could not be built, if one could be singled out.
    pub rule: Option<u32>,
    /// What went wrong.
    pub message: String,
}

impl From<String> for BuildError {
    fn from(message: String) -> Self {
        BuildError {
            rule: None,
            message,
        }
    }
}

/// Most regexes in one [`RegexSet`]. Building a set costs more than linear
/// time in its number of regexes (the literal prefilter of 10,000 regexes
/// took minutes), so a field's regexes are built in sets of this many:
/// building grows linearly with the rule count, and matching costs one
/// pass per set (one for every default rule set).
const SET_CHUNK: usize = 128;

/// Regexes matched together, in sets of at most [`SET_CHUNK`].
#[derive(Debug)]
pub struct RegexSets {
    sets: Vec<(SetEngine, Vec<u32>)>,
}

/// One set of regexes, built for many messages or for one.
#[derive(Debug)]
enum SetEngine {
    /// The `regex` crate's set: every engine it judges fastest, including
    /// a full DFA for a small set, which takes longest to build.
    Many(RegexSet),
    /// For one message: only the lazy DFA and the PikeVM, which cost
    /// little to build (with the full DFA, one-pass DFA and backtracker,
    /// a set of `\S` alone took about 120 µs instead of 25, and an email's
    /// first classify in `spamsift check` 7.0 ms instead of 6.0).
    One(regex_automata::meta::Regex),
}

impl SetEngine {
    fn build(
        patterns: &[&str],
        (size_limit, dfa_size_limit): (usize, usize),
        build: BuildFor,
    ) -> Result<SetEngine, String> {
        match build {
            BuildFor::Throughput => regex::RegexSetBuilder::new(patterns)
                .size_limit(size_limit)
                .dfa_size_limit(dfa_size_limit)
                .build()
                .map(SetEngine::Many)
                .map_err(|e| e.to_string()),
            BuildFor::StartUp => {
                use regex_automata::meta::{Config, Regex};
                use regex_automata::{MatchKind, nfa::thompson::WhichCaptures};
                Regex::builder()
                    .configure(
                        Config::new()
                            .match_kind(MatchKind::All)
                            .which_captures(WhichCaptures::None)
                            .utf8_empty(true)
                            .nfa_size_limit(Some(size_limit))
                            .hybrid_cache_capacity(dfa_size_limit)
                            .dfa(false)
                            .onepass(false)
                            .backtrack(false),
                    )
                    .build_many(patterns)
                    .map(SetEngine::One)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

impl RegexSets {
    /// Build sets of `patterns` (each with its rule index) within the size
    /// limits, for many messages or one. A set over a limit is split; a
    /// single regex over it is blamed by its rule.
    pub fn build(
        patterns: &[&str],
        rules: &[u32],
        size_limit: usize,
        dfa_size_limit: usize,
        build: BuildFor,
    ) -> Result<RegexSets, BuildError> {
        fn chunk(
            patterns: &[&str],
            rules: &[u32],
            limits: (usize, usize),
            build: BuildFor,
            out: &mut Vec<(SetEngine, Vec<u32>)>,
        ) -> Result<(), BuildError> {
            match SetEngine::build(patterns, limits, build) {
                Ok(set) => {
                    out.push((set, rules.to_vec()));
                    Ok(())
                }
                Err(message) if patterns.len() == 1 => Err(BuildError {
                    rule: rules.first().copied(),
                    message,
                }),
                Err(_) => {
                    let mid = patterns.len() / 2;
                    chunk(&patterns[..mid], &rules[..mid], limits, build, out)?;
                    chunk(&patterns[mid..], &rules[mid..], limits, build, out)
                }
            }
        }
        let mut sets = Vec::new();
        for (p, r) in patterns.chunks(SET_CHUNK).zip(rules.chunks(SET_CHUNK)) {
            chunk(p, r, (size_limit, dfa_size_limit), build, &mut sets)?;
        }
        Ok(RegexSets { sets })
    }

    /// Record which rules' regexes match `value`.
    pub fn run(&self, value: &str, hits: &mut HitSet) {
        for (set, set_rule) in &self.sets {
            match set {
                // is_match needs no allocation and stops at the first
                // match; most values match nothing, so only then collect
                // which matched.
                SetEngine::Many(set) => {
                    if set.is_match(value) {
                        for i in set.matches(value).iter() {
                            hits.set(set_rule[i] as usize);
                        }
                    }
                }
                SetEngine::One(re) => {
                    if re.is_match(value) {
                        let mut which = regex_automata::PatternSet::new(re.pattern_len());
                        re.which_overlapping_matches(
                            &regex_automata::Input::new(value),
                            &mut which,
                        );
                        for p in which.iter() {
                            hits.set(set_rule[p.as_usize()] as usize);
                        }
                    }
                }
            }
        }
    }
}

/// All regexes of the rules on one field: on the long texts (body, HTML)
/// found by their leading literals in one pass, else one RegexSet, so each
/// value of a many-valued field (URIs, headers) is searched once.
#[derive(Debug)]
pub enum RegexMatcher {
    /// Many regexes in a few sets.
    Sets(RegexSets),
    /// Regexes on a long text, run where their leading literals occur
    /// (when the field's phrases need Unicode lower-casing and so cannot
    /// share their automaton).
    Prefixed(Box<PhraseMatcher>),
}

impl RegexMatcher {
    /// Record which of this matcher's rules hit in `value`.
    fn run(&self, value: &str, hits: &mut HitSet) {
        match self {
            RegexMatcher::Sets(sets) => sets.run(value, hits),
            RegexMatcher::Prefixed(p) => p.run(value, hits),
        }
    }
}

/// A field's compiled matchers: its phrases (with any regexes found by
/// their leading literals) and its other regexes.
pub(crate) type Matchers = (Option<PhraseMatcher>, Option<RegexMatcher>);

/// How to compile a field's matchers later.
pub(crate) struct Deferred(pub(crate) Box<dyn Fn() -> Result<Matchers, BuildError> + Send + Sync>);

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deferred")
    }
}

/// The matchers of one field for one channel: compiled at once, or (for
/// one message per process) when the field first has a value, so a
/// message pays only for the fields it has.
#[derive(Debug)]
pub struct FieldMatcher {
    pub(super) field: Field,
    matchers: std::sync::OnceLock<Matchers>,
    deferred: Option<Deferred>,
    /// Words of `obfuscated` rules (nothing to compile).
    obfuscated: ObfuscatedWords,
}

impl FieldMatcher {
    /// A field with its matchers compiled.
    pub(crate) fn compiled(field: Field, matchers: Matchers) -> FieldMatcher {
        FieldMatcher {
            field,
            matchers: std::sync::OnceLock::from(matchers),
            deferred: None,
            obfuscated: ObfuscatedWords::default(),
        }
    }

    /// The same, also matching the words of `obfuscated` rules.
    pub(crate) fn with_obfuscated(self, obfuscated: ObfuscatedWords) -> FieldMatcher {
        FieldMatcher { obfuscated, ..self }
    }

    /// A field whose matchers are compiled by `build` when first needed
    /// (for rules checked beforehand: matchers that then fail to compile
    /// match nothing, and say so in the log).
    pub(crate) fn deferred(field: Field, build: Deferred) -> FieldMatcher {
        FieldMatcher {
            field,
            matchers: std::sync::OnceLock::new(),
            deferred: Some(build),
            obfuscated: ObfuscatedWords::default(),
        }
    }

    fn matchers(&self) -> &Matchers {
        self.matchers.get_or_init(|| match &self.deferred {
            Some(Deferred(build)) => build().unwrap_or_else(|e| {
                tracing::error!(
                    "the matchers of field {} could not be compiled: {}",
                    self.field,
                    e.message
                );
                (None, None)
            }),
            None => (None, None),
        })
    }

    /// Run every matcher of this field over `msg`, recording hits; returns
    /// how many bytes of text the matchers read.
    pub fn run(&self, msg: &Message, hits: &mut HitSet) -> usize {
        let mut read = 0;
        self.field.for_each_value(msg, |value| {
            if value.is_empty() {
                return true;
            }
            read += value.len();
            let (phrases, regexes) = self.matchers();
            if let Some(p) = phrases {
                p.run(value, hits);
            }
            if let Some(r) = regexes {
                r.run(value, hits);
            }
            if !self.obfuscated.is_empty() {
                self.obfuscated.run(value, hits);
            }
            true
        });
        read
    }
}

impl PhraseMatcher {
    /// Compile lower-case `phrases` (with each one's rule index and
    /// whole-word flag) and the leading literals of `regexes`. Regexes need
    /// the text as it is, so they cannot share an automaton with phrases
    /// that need Unicode lower-casing: that is an error.
    pub fn new(
        phrases: &[&str],
        pattern_rule: Vec<u32>,
        whole_word: Vec<bool>,
        regexes: Option<PrefixedRegexes>,
        build: BuildFor,
    ) -> Result<PhraseMatcher, String> {
        let fold_unicode = needs_unicode_folding(phrases);
        if fold_unicode && regexes.is_some() {
            return Err("regex literals cannot share a Unicode-folded phrase automaton".into());
        }
        let mut patterns: Vec<&str> = phrases.to_vec();
        if let Some(r) = &regexes {
            patterns.extend(r.literals().iter().map(|l| &**l));
        }
        let automaton = phrase_automaton(&patterns, build)?;
        Ok(PhraseMatcher {
            automaton,
            pattern_rule,
            whole_word,
            fold_unicode,
            regexes,
        })
    }

    /// Record which of this matcher's rules hit in `value`.
    pub(crate) fn run(&self, value: &str, hits: &mut HitSet) {
        // Patterns are lower-case and the DFA is ASCII case-insensitive (the
        // table scans an ASCII lower-cased copy, at the same offsets); other
        // scripts need the text lower-cased (only then do we allocate).
        let mut attempts = self
            .regexes
            .as_ref()
            .map_or_else(Vec::new, PrefixedRegexes::attempt_counters);
        if !self.fold_unicode || value.is_ascii() {
            match &self.automaton {
                Phrases::Dfa(_) => {
                    self.scan(value, (value, None), hits, &mut attempts);
                    if let Some(r) = &self.regexes {
                        r.run_scanned(value, None, hits, &mut attempts);
                    }
                }
                Phrases::Table(_) => {
                    let lowered = value.to_ascii_lowercase();
                    self.scan(&lowered, (value, Some(&lowered)), hits, &mut attempts);
                    if let Some(r) = &self.regexes {
                        r.run_scanned(value, Some(&lowered), hits, &mut attempts);
                    }
                }
            }
        } else {
            // Unicode-folded phrases share no automaton with regexes.
            let lower = value.to_lowercase();
            self.scan(&lower, (&lower, None), hits, &mut attempts);
            if let Some(r) = &self.regexes {
                r.run_scanned(value, None, hits, &mut attempts);
            }
        }
    }

    /// Every match of every phrase in `text`, overlapping ones included.
    ///
    /// A big phrase DFA does not fit in the CPU cache, so a scan waits on
    /// memory at each byte. Long texts are therefore cut in two halves
    /// scanned in lock-step: two independent chains of lookups keep two
    /// cache misses in flight at once. The first half runs on past the
    /// middle by the longest phrase, so no match across the cut is lost.
    /// `text` is what the automaton reads; matches are reported in
    /// `original`, the text as it came (the same length and offsets), with
    /// its ASCII lower-cased copy when there is one.
    fn scan(
        &self,
        text: &str,
        original: (&str, Option<&str>),
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        match &self.automaton {
            Phrases::Dfa(a) => self.scan_in(a, text, original, hits, attempts),
            Phrases::Table(t) => t.for_each_match(text.as_bytes(), |p, start, end| {
                self.report(original, p, start, end, hits, attempts)
            }),
        }
    }

    /// [`scan`](Self::scan) with one kind of automaton.
    #[inline(always)]
    fn scan_in<A: Automaton>(
        &self,
        automaton: &A,
        text: &str,
        original: (&str, Option<&str>),
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        const TWO_STREAMS_FROM: usize = 512;
        if automaton.prefilter().is_some() {
            // Few distinct first bytes (say, HTML regex literals that all
            // start with `<`): the automaton's own memchr/Teddy prefilter
            // skips between candidates far faster than stepping the DFA.
            self.scan_prefiltered(automaton, text, original, hits, attempts);
            return;
        }
        let Ok(start) = automaton.start_state(Anchored::No) else {
            return;
        };
        let bytes = text.as_bytes();
        let mut on_match = |sid: StateID, end: usize| {
            for i in 0..automaton.match_len(sid) {
                let p = automaton.match_pattern(sid, i);
                self.report(
                    original,
                    p.as_usize(),
                    end - automaton.pattern_len(p),
                    end,
                    hits,
                    attempts,
                );
            }
        };
        let (mut a, mut b) = (start, start);
        let mut done = 0;
        if bytes.len() >= TWO_STREAMS_FROM {
            let mid = bytes.len() / 2;
            let overlap = automaton.max_pattern_len().saturating_sub(1);
            let (first, second) = (&bytes[..mid], &bytes[mid..]);
            for (i, (&x, &y)) in first.iter().zip(second).enumerate() {
                a = automaton.next_state(Anchored::No, a, x);
                b = automaton.next_state(Anchored::No, b, y);
                if automaton.is_match(a) {
                    on_match(a, i + 1);
                }
                if automaton.is_match(b) {
                    on_match(b, mid + i + 1);
                }
            }
            // The first half's run-on over the cut, then the second's tail.
            for (i, &x) in bytes[mid..(mid + overlap).min(bytes.len())]
                .iter()
                .enumerate()
            {
                a = automaton.next_state(Anchored::No, a, x);
                if automaton.is_match(a) {
                    on_match(a, mid + i + 1);
                }
            }
            done = mid + first.len();
            a = b;
        }
        for (i, &x) in bytes[done..].iter().enumerate() {
            a = automaton.next_state(Anchored::No, a, x);
            if automaton.is_match(a) {
                on_match(a, done + i + 1);
            }
        }
    }

    /// Every match, found with the automaton's prefilter.
    fn scan_prefiltered<A: Automaton>(
        &self,
        automaton: &A,
        text: &str,
        original: (&str, Option<&str>),
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        let input = aho_corasick::Input::new(text);
        let mut state = OverlappingState::start();
        loop {
            if automaton.try_find_overlapping(&input, &mut state).is_err() {
                return;
            }
            let Some(m) = state.get_match() else {
                return;
            };
            self.report(
                original,
                m.pattern().as_usize(),
                m.start(),
                m.end(),
                hits,
                attempts,
            );
        }
    }

    /// Record pattern `p` matched at `text[start..end]`.
    #[inline]
    fn report(
        &self,
        (text, lowered): (&str, Option<&str>),
        p: usize,
        start: usize,
        end: usize,
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        if p >= self.pattern_rule.len() {
            if let Some(r) = &self.regexes {
                r.check(
                    p - self.pattern_rule.len(),
                    (text, lowered),
                    start,
                    hits,
                    attempts,
                );
            }
            return;
        }
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

/// Whether some phrase holds a non-ASCII cased letter.
pub(crate) fn needs_unicode_folding(phrases: &[&str]) -> bool {
    phrases
        .iter()
        .any(|p| p.chars().any(|c| !c.is_ascii() && c.is_alphabetic()))
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
