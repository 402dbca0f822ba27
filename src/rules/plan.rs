//! The embedded default rules' regexes, worked out when spamsift was built:
//! `build.rs` runs [`super::regex_prep`] over every regex of `rules/*.toml`
//! and writes what it found into tables that are compiled into the binary.
//! A process that starts for one message (`spamsift check`) then parses no
//! regex of its channel just to find their leading literals; it parses only
//! the few whose literals the message holds. Patterns that are not in the
//! tables (local rule files, a `--rules` directory) are worked out at start.

use super::regex_prep::{Literal, RegexPlan};

// `RULE_FILES: &[(&str, u64, fn() -> LinedFile)]`: see `embedded_rule_file`.
// `RUNNING: &[(&str, &str)]`: (pattern as written, as it runs), sorted by
// the first; `PLANS: &[Plan]`: (pattern as it runs, its leading literals,
// whether it starts at a word boundary, whether a branch matches only at
// the start of a text, whether every branch starts at a line start, the
// literals a text must hold for it to match),
// sorted by the first.
include!(concat!(env!("OUT_DIR"), "/embedded_regex_plan.rs"));

/// One row of `RULE_FILES`: a file's name, the xxh3 of its TOML text, and
/// the function that builds its entries.
type EmbeddedFile = (&'static str, u64, fn() -> super::format::LinedFile);

/// One row of `PLANS`.
type Plan = (
    &'static str,
    Option<&'static [&'static str]>,
    bool,
    bool,
    bool,
    &'static [&'static [&'static str]],
);

/// An embedded rule file, parsed when spamsift was built: `(name, xxh3 of
/// its TOML text, the function that builds its entries)` in `RULE_FILES`.
/// `None` for any other file, or if the text differs. The build writes
/// each file as Rust code: reading JSON of the same entries at start was a
/// fifth of `spamsift check` on an SMS.
pub(super) fn embedded_rule_file(name: &str, text: &str) -> Option<super::format::LinedFile> {
    let (_, hash, build) = RULE_FILES.iter().find(|(n, ..)| *n == name)?;
    // The embedded text itself (the same bytes `build.rs` read) needs no
    // hashing; any other text with the name must hash alike.
    let embedded = super::DEFAULT_RULE_FILES
        .iter()
        .any(|(n, t)| *n == name && std::ptr::eq(*t, text));
    (embedded || *hash == xxhash_rust::xxh3::xxh3_64(text.as_bytes())).then(build)
}

/// The DFAs of the embedded body and HTML regexes, serialised by
/// `build.rs` one after another; `DFAS` says where each one is.
static DFA_BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/embedded_dfas.bin"));

/// The serialised sparse DFA of an embedded body or HTML pattern (as it
/// runs), if `build.rs` compiled one (see `super::embedded_dfa`).
pub(super) fn dfa_bytes(running: &str) -> Option<&'static [u8]> {
    let i = DFAS.binary_search_by(|(r, ..)| (*r).cmp(running)).ok()?;
    let (_, at, len) = DFAS[i];
    DFA_BYTES.get(at..at + len)
}

/// Every embedded DFA, with its pattern (for the test that validates them).
#[cfg(test)]
pub(super) fn all_dfas() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    DFAS.iter()
        .map(|&(r, at, len)| (r, &DFA_BYTES[at..at + len]))
}

/// An embedded rule's pattern as it runs, from the pattern as written.
pub(super) fn running(written: &str) -> Option<&'static str> {
    RUNNING
        .binary_search_by(|(w, _)| (*w).cmp(written))
        .ok()
        .map(|i| RUNNING[i].1)
}

/// The plan of an embedded rule's pattern as it runs.
pub(super) fn of(running: &str) -> Option<RegexPlan> {
    let i = PLANS.binary_search_by(|(r, ..)| (*r).cmp(running)).ok()?;
    let (_, literals, starts_at_boundary, at_start, line_start, required) = PLANS[i];
    Some(RegexPlan {
        literals: literals.map(|l| l.iter().map(|&s| Literal::Borrowed(s)).collect()),
        starts_at_boundary,
        at_start,
        line_start,
        required: required
            .iter()
            .map(|c| c.iter().map(|&s| Literal::Borrowed(s)).collect())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables are what the code in this binary works out (the build
    /// script includes the same file, so they can differ only if a table
    /// was written by another build).
    #[test]
    fn embedded_plans_are_what_the_code_works_out() {
        assert!(
            RUNNING.len() > 100,
            "the rule files' regexes are in the table"
        );
        assert!(RUNNING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(PLANS.windows(2).all(|w| w[0].0 < w[1].0));
        for (written, running) in RUNNING {
            assert_eq!(
                super::super::regex_prep::ascii_perl_classes(written),
                *running
            );
        }
        for (pattern, ..) in PLANS {
            let live = super::super::regex_prep::plan(pattern).expect("valid pattern");
            assert_eq!(of(pattern), Some(live), "{pattern}");
        }
        assert_eq!(running("(?i)no such rule pattern here"), None);
    }

    /// A random string along `hir`'s syntax: often one the regex matches
    /// (look-arounds are not honoured, so not always).
    fn sample(hir: &regex_syntax::hir::Hir, rng: &mut u64, out: &mut String) {
        use regex_syntax::hir::{Class, HirKind};
        let mut next = |n: u64| {
            // xorshift64
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng % n.max(1)
        };
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(std::str::from_utf8(&l.0).expect("UTF-8 literal")),
            HirKind::Class(Class::Unicode(c)) => {
                let r = c.ranges()[next(c.ranges().len() as u64) as usize];
                let span = u64::from(u32::from(r.end()) - u32::from(r.start())) + 1;
                // Mostly the range's ends: case variants, KELVIN SIGN.
                let offset = match next(4) {
                    0 => 0,
                    1 => span - 1,
                    _ => next(span.min(300)),
                };
                let c = char::from_u32(u32::from(r.start()) + offset as u32).unwrap_or(r.start());
                out.push(c);
            }
            HirKind::Class(Class::Bytes(c)) => {
                let ascii: Vec<u8> = c
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .filter(u8::is_ascii)
                    .collect();
                if !ascii.is_empty() {
                    out.push(char::from(ascii[next(ascii.len() as u64) as usize]));
                }
            }
            HirKind::Repetition(r) => {
                let most = r.max.unwrap_or(r.min + 3).min(r.min + 3);
                let n = r.min + next(u64::from(most - r.min) + 1) as u32;
                for _ in 0..n {
                    sample(&r.sub, rng, out);
                }
            }
            HirKind::Capture(c) => sample(&c.sub, rng, out),
            HirKind::Concat(subs) => subs.iter().for_each(|h| sample(h, rng, out)),
            HirKind::Alternation(subs) => {
                let i = next(subs.len() as u64) as usize;
                sample(&subs[i], rng, out);
            }
        }
    }

    /// Every text an embedded regex matches holds one literal of each of
    /// its required clauses: a process that classifies one message may
    /// skip the regex on a text without them. Texts are drawn along each
    /// pattern's syntax (case variants, KELVIN SIGN and LONG S included)
    /// and kept when the regex matches.
    #[test]
    fn required_literals_are_in_every_match() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut with_clauses, mut matched_some) = (0, 0);
        for (pattern, _, _, _, _, required) in PLANS {
            if required.is_empty() {
                continue;
            }
            with_clauses += 1;
            let hir = super::super::regex_prep::parse(pattern).expect("valid pattern");
            let re = regex::Regex::new(pattern).expect("valid pattern");
            let mut matched = 0;
            for round in 0..400 {
                let mut text = String::new();
                if round % 2 == 1 {
                    text.push_str("Dear friend, ");
                }
                sample(&hir, &mut rng, &mut text);
                if round % 4 == 3 {
                    text.push_str(" today.");
                }
                if !re.is_match(&text) {
                    continue;
                }
                matched += 1;
                let lowered = text.to_ascii_lowercase();
                for clause in *required {
                    assert!(
                        clause.iter().any(|l| lowered.contains(l)),
                        "{pattern} matches {text:?}, which holds none of {clause:?}"
                    );
                }
            }
            if matched > 0 {
                matched_some += 1;
            }
        }
        assert!(
            with_clauses >= 40,
            "{with_clauses} regexes with required literals"
        );
        assert!(
            matched_some * 10 >= with_clauses * 9,
            "only {matched_some} of {with_clauses} regexes were matched by a sample"
        );
    }

    /// Each embedded rule file built by its build-time code has the
    /// entries, values and lines that parsing its TOML gives.
    #[test]
    fn embedded_rule_files_read_as_their_toml() {
        assert_eq!(RULE_FILES.len(), super::super::DEFAULT_RULE_FILES.len());
        for (name, text) in super::super::DEFAULT_RULE_FILES {
            let fast = embedded_rule_file(name, text).expect("built with this text");
            let toml: super::super::format::RuleFile = toml::from_str(text).expect("valid TOML");
            let lines = super::super::compile::LineIndex::of(text);
            let slow = toml.lined(|o| lines.line(o));
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{name}");
        }
        assert!(embedded_rule_file("email-content.toml", "[[rule]]").is_none());
        // A copy of the embedded text (found by its hash, not its address).
        let (name, text) = super::super::DEFAULT_RULE_FILES[0];
        let copy = String::from(text);
        assert!(!std::ptr::eq(copy.as_str(), text));
        assert!(embedded_rule_file(name, &copy).is_some());
        let mut changed = text.to_string();
        changed.push('\n');
        assert!(embedded_rule_file(name, &changed).is_none());
    }
}
