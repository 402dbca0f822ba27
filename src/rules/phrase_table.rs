//! A matcher of many literal phrases that costs next to nothing to build,
//! for a process that classifies one message (`spamsift check`).
//!
//! Hand-written on purpose: an Aho-Corasick automaton of the email body's
//! ~1,100 phrases and regex literals took 1.0-1.3 ms to build (contiguous
//! NFA, the quickest kind; measured with aho-corasick 1.1), a fifth of what
//! `check` spends on rules, to scan a few kilobytes once. This table is
//! built in tens of microseconds: phrases of four bytes or more are found
//! by a hash of their first four bytes, shorter ones by their first byte,
//! and each candidate is compared in full. A scan costs a few nanoseconds
//! per byte, slower than an automaton, so processes that classify many
//! messages keep the automaton ([`BuildFor::Throughput`](super::BuildFor)).

use rustc_hash::FxHashMap;

/// Phrases by their first bytes, in a few flat allocations (a table built
/// for one message is mostly allocation otherwise: one per phrase and one
/// per distinct first four bytes).
#[derive(Debug)]
pub(crate) struct PhraseTable {
    /// Every phrase's bytes, one after another.
    bytes: Vec<u8>,
    /// Where each phrase starts in `bytes`, by pattern index, and where
    /// the last one ends.
    ends: Vec<u32>,
    /// Phrases of four bytes or more, by their first four bytes: a range
    /// of `ids`.
    long: FxHashMap<u32, (u32, u32)>,
    /// Phrases of one to three bytes, by their first byte: a range of `ids`.
    short: Box<[(u32, u32); 256]>,
    /// Pattern indexes, grouped by key.
    ids: Vec<u32>,
    /// Whether some phrase starts with each byte.
    first_byte: [bool; 256],
}

/// The first four bytes of `b` as one key (`b` holds at least four).
#[inline]
fn key(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl PhraseTable {
    /// A table of `patterns`, each found by its index (empty ones never).
    pub(crate) fn new(patterns: &[&str]) -> PhraseTable {
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        let mut bytes = Vec::with_capacity(total);
        let mut ends = Vec::with_capacity(patterns.len() + 1);
        ends.push(0);
        for p in patterns {
            bytes.extend_from_slice(p.as_bytes());
            ends.push(bytes.len() as u32);
        }
        // Each pattern's group (by first four bytes, or first byte when
        // shorter), counted; then the groups laid out one after another in
        // `ids`, each in pattern order (a counting sort: no sorting, one
        // hash lookup per pattern).
        let mut long_group: FxHashMap<u32, u32> =
            FxHashMap::with_capacity_and_hasher(patterns.len(), Default::default());
        let mut short_group = [u32::MAX; 256];
        let mut first_byte = [false; 256];
        let mut counts: Vec<u32> = Vec::new();
        let mut group_of: Vec<u32> = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_bytes();
            let Some(&first) = p.first() else {
                group_of.push(u32::MAX);
                continue;
            };
            first_byte[usize::from(first)] = true;
            let next = counts.len() as u32;
            let g = if p.len() >= 4 {
                *long_group.entry(key(p)).or_insert(next)
            } else {
                let slot = &mut short_group[usize::from(first)];
                if *slot == u32::MAX {
                    *slot = next;
                }
                *slot
            };
            if g == next {
                counts.push(0);
            }
            counts[g as usize] += 1;
            group_of.push(g);
        }
        let mut starts = Vec::with_capacity(counts.len());
        let mut at = 0u32;
        for &c in &counts {
            starts.push(at);
            at += c;
        }
        let mut ids = vec![0u32; at as usize];
        let mut fill = starts.clone();
        for (i, &g) in group_of.iter().enumerate() {
            if g != u32::MAX {
                ids[fill[g as usize] as usize] = i as u32;
                fill[g as usize] += 1;
            }
        }
        let range = |g: u32| (starts[g as usize], starts[g as usize] + counts[g as usize]);
        let mut short = Box::new([(0, 0); 256]);
        for (b, &g) in short_group.iter().enumerate() {
            if g != u32::MAX {
                short[b] = range(g);
            }
        }
        let long = long_group.into_iter().map(|(k, g)| (k, range(g))).collect();
        PhraseTable {
            bytes,
            ends,
            long,
            short,
            ids,
            first_byte,
        }
    }

    /// The bytes of pattern `p`.
    #[inline]
    fn pattern(&self, p: usize) -> &[u8] {
        &self.bytes[self.ends[p] as usize..self.ends[p + 1] as usize]
    }

    /// Call `found(pattern, start, end)` for every occurrence of every
    /// phrase in `text`, overlapping ones included, by increasing start.
    pub(crate) fn for_each_match(&self, text: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        for (i, &b) in text.iter().enumerate() {
            if !self.first_byte[usize::from(b)] {
                continue;
            }
            let rest = &text[i..];
            let (from, to) = self.short[usize::from(b)];
            for &p in &self.ids[from as usize..to as usize] {
                let pattern = self.pattern(p as usize);
                if rest.starts_with(pattern) {
                    found(p as usize, i, i + pattern.len());
                }
            }
            if rest.len() >= 4
                && let Some(&(from, to)) = self.long.get(&key(rest))
            {
                for &p in &self.ids[from as usize..to as usize] {
                    let pattern = self.pattern(p as usize);
                    if rest.starts_with(pattern) {
                        found(p as usize, i, i + pattern.len());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (pattern, start, end) an overlapping Aho-Corasick search finds.
    fn reference(patterns: &[&str], text: &str) -> Vec<(usize, usize, usize)> {
        let ac = aho_corasick::AhoCorasick::new(patterns).expect("patterns build");
        let mut out: Vec<_> = ac
            .find_overlapping_iter(text)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_what_an_automaton_finds() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["free", "free money", "e", "ee", "money"],
                "free money, freee money!",
            ),
            (&["$", "$$", "$$$"], "win $$$$ now"),
            (
                &["<font", "<form", "<", "href"],
                "<FONT><font><form href=x>",
            ),
            (&["無料", "料金", "無"], "完全無料で料金なし"),
            (&["abc", "abc", "bcd"], "abcd abc"),
            (&["long phrase here"], "a long phrase her"),
            (&["a"], ""),
            (&["x", "xy", "xyz", "xyzw", "xyzwv"], "xyzwvxyzw"),
        ];
        for (patterns, text) in cases {
            let table = PhraseTable::new(patterns);
            let mut got = Vec::new();
            table.for_each_match(text.as_bytes(), |p, s, e| got.push((p, s, e)));
            let starts: Vec<usize> = got.iter().map(|m| m.1).collect();
            assert!(starts.windows(2).all(|w| w[0] <= w[1]), "by start: {got:?}");
            got.sort_unstable();
            assert_eq!(got, reference(patterns, text), "{patterns:?} in {text:?}");
        }
    }

    #[test]
    fn an_empty_phrase_is_never_found() {
        let table = PhraseTable::new(&["", "ok"]);
        let mut got = Vec::new();
        table.for_each_match(b"ok", |p, s, e| got.push((p, s, e)));
        assert_eq!(got, [(1, 0, 2)]);
    }
}
