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

use super::grouped::Grouped;
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
    /// Phrases of four bytes or more, by their first four bytes: a group
    /// of `groups`.
    long: FxHashMap<u32, u32>,
    /// Phrases of one to three bytes, by their first byte: a group of
    /// `groups` (`NONE` when no phrase is that short).
    short: Box<[u32; 256]>,
    /// Pattern indexes by group, in pattern order.
    groups: Grouped,
    /// Whether some phrase starts with each byte.
    first_byte: [bool; 256],
}

/// No group.
const NONE: u32 = u32::MAX;

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
        // Each pattern's group: by its first four bytes, or its first byte
        // when shorter.
        let mut long: FxHashMap<u32, u32> =
            FxHashMap::with_capacity_and_hasher(patterns.len(), Default::default());
        let mut short = Box::new([NONE; 256]);
        let mut first_byte = [false; 256];
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(patterns.len());
        let mut groups = 0u32;
        for (i, p) in patterns.iter().enumerate() {
            let p = p.as_bytes();
            let Some(&first) = p.first() else {
                continue;
            };
            first_byte[usize::from(first)] = true;
            let group = if p.len() >= 4 {
                long.entry(key(p)).or_insert(groups)
            } else {
                let slot = &mut short[usize::from(first)];
                if *slot == NONE {
                    *slot = groups;
                }
                slot
            };
            if *group == groups {
                groups += 1;
            }
            pairs.push((*group, i as u32));
        }
        PhraseTable {
            bytes,
            ends,
            long,
            short,
            groups: Grouped::new(&pairs, groups as usize),
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
            let short = self.short[usize::from(b)];
            let short = if short == NONE {
                &[][..]
            } else {
                self.groups.get(short as usize)
            };
            for &p in short {
                let pattern = self.pattern(p as usize);
                if rest.starts_with(pattern) {
                    found(p as usize, i, i + pattern.len());
                }
            }
            if rest.len() >= 4
                && let Some(&group) = self.long.get(&key(rest))
            {
                for &p in self.groups.get(group as usize) {
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
