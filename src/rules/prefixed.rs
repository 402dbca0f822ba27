//! Regexes on long texts (body, HTML), found by their leading literals.
//!
//! Each regex alone would scan the whole text once, with a literal
//! prefilter of its own; ten HTML regexes meant ten passes over every
//! HTML part. Here the literals every match of a regex must start with
//! (`<font`, `href`, `javascript:` ...) are extracted with regex-syntax
//! and go into the field's phrase automaton (see
//! [`PhraseMatcher`](super::matcher::PhraseMatcher)), so the one pass that
//! finds the phrases also finds the candidate positions; a regex runs only
//! there, anchored. A regex with no such literals (one that can start with
//! a class or repetition) still scans the whole text alone.

use super::embedded_dfa::EmbeddedDfa;
use super::forward::ForwardRegex;
use super::matcher::{BuildError, BuildFor, HitSet, RegexSets};
use super::regex_prep::Literal;
pub use super::regex_prep::leading_literals;
use regex_automata::meta::{self, Regex as MetaRegex};
use regex_automata::{Anchored, Input};

/// Anchored attempts one regex may make in one text before it is settled
/// by a single unanchored search over the text. An anchored search
/// can read to the end of the text, so without this cap a text of many
/// literal occurrences (40,000 digits for `\d[\d ,.]*\$`) costs time
/// quadratic in its length; with it, at most this many passes plus one.
/// Normal mail rarely needs more than a few attempts per regex.
const MAX_ANCHORED_ATTEMPTS: u16 = 16;

/// An attempt counter that says the regex is settled for this text.
const SETTLED: u16 = u16::MAX;

/// The regexes of one long-text field.
#[derive(Debug)]
pub struct PrefixedRegexes {
    /// Leading literals, lower-case, to match ASCII case-insensitively.
    literals: Vec<Literal>,
    /// For each literal, the regexes (indices into `anchored`) it starts.
    literal_regexes: super::grouped::Grouped,
    /// Regexes run anchored at a literal, with their rule index.
    anchored: Vec<(LazyRegex, u32)>,
    /// For each anchored regex: every match starts at a word boundary
    /// (`\b`), so where a literal that begins with a word character
    /// follows one, the regex cannot match there.
    starts_at_boundary: Vec<bool>,
    /// For each anchored regex: every branch starts at a line start and
    /// its literals are of what follows (see
    /// [`RegexPlan::line_start`](super::regex_prep::RegexPlan::line_start)),
    /// so it is tried from the start of the line a literal is found on.
    from_line_start: Vec<bool>,
    /// For each literal: it begins with an ASCII word character.
    literal_starts_word: Vec<bool>,
    /// Anchored regexes with a branch that matches only at the start of a
    /// text (`^\s*adv\s*:`): tried there once per text, not at every
    /// literal that branch may start with (each space, for `^\s*`).
    at_text_start: Vec<u32>,
    /// Regexes with no leading literals, run over the whole text.
    scanned: Option<Scanned>,
}

/// The regexes that scan a whole text.
#[derive(Debug)]
enum Scanned {
    /// In sets, with the rule index of each.
    Sets(RegexSets),
    /// For one message per process: each alone, with its rule index,
    /// compiled when a text first may hold a match (most texts lack the
    /// required literals of most such regexes: a zero-width character in
    /// a word, say).
    Each(Vec<(LazyRegex, u32)>),
}

/// A regex compiled at once, or (for one message per process, where most
/// regexes never see their literal) when a text first may hold a match:
/// one run anchored at its literals, or one that scans a whole text.
#[derive(Debug)]
struct LazyRegex {
    /// The pattern and configuration, while not yet compiled.
    source: Option<(String, meta::Config)>,
    /// The compiled regex (`None`: it could not be compiled when first
    /// needed, which the build-time check of the embedded rules rules out).
    compiled: std::sync::OnceLock<Option<Compiled>>,
    /// For a deferred regex: literals a text must hold for it to match
    /// (of each clause one, ASCII case-insensitively; see
    /// [`required_literals_of`](super::regex_prep::required_literals_of)).
    /// A text without them is settled without compiling the regex.
    required: Vec<Vec<Literal>>,
}

/// A compiled rule regex: `meta` for a regex compiled once and run on
/// many messages; for one message, the DFA the build compiled (see
/// [`EmbeddedDfa`]) or else one compiled forward-only now (see
/// [`ForwardRegex`]).
#[derive(Debug)]
enum Compiled {
    Meta(MetaRegex),
    Forward(Box<ForwardRegex>),
    /// An embedded DFA, with a regex compiled from the pattern for texts
    /// longer than [`EMBEDDED_DFA_MAX_TEXT`], or should the DFA ever fail
    /// to answer (it is built to answer every search).
    Embedded(Box<(EmbeddedDfa, Fallback)>),
}

/// Longest text an embedded DFA searches. A sparse DFA steps through a
/// text several times slower than a lazy DFA that has its states: on a
/// 4 MB run of digits in a chat message, `check` took 1.23 s instead of
/// 0.33 s. On a longer text the regex is compiled (about 50 µs), which
/// costs less than the slower search.
const EMBEDDED_DFA_MAX_TEXT: usize = 64 * 1024;

/// A regex compiled forward-only from its pattern when first needed.
#[derive(Debug)]
struct Fallback {
    source: (String, meta::Config),
    compiled: std::sync::OnceLock<Option<Box<ForwardRegex>>>,
}

/// `pattern` compiled forward-only for one message (see [`ForwardRegex`]).
fn compile_forward(pattern: &str, config: &meta::Config) -> Option<Box<ForwardRegex>> {
    ForwardRegex::new(
        pattern,
        config.get_nfa_size_limit(),
        config.get_hybrid_cache_capacity(),
    )
    .map(Box::new)
    .map_err(|e| tracing::error!("a rule regex could not be compiled: {e}"))
    .ok()
}

impl Compiled {
    /// Whether the regex matches in `input` (a half search).
    fn matches(&self, input: &Input<'_>) -> bool {
        match self {
            Compiled::Meta(re) => re.search_half(input).is_some(),
            Compiled::Forward(re) => re.matches(input),
            Compiled::Embedded(embedded) => (input.haystack().len() <= EMBEDDED_DFA_MAX_TEXT)
                .then(|| embedded.0.matches(input))
                .flatten()
                .unwrap_or_else(|| {
                    let fallback = &embedded.1;
                    let (pattern, config) = &fallback.source;
                    fallback
                        .compiled
                        .get_or_init(|| compile_forward(pattern, config))
                        .as_ref()
                        .is_some_and(|re| re.matches(input))
                }),
        }
    }
}

impl LazyRegex {
    fn compile(pattern: &str, config: &meta::Config) -> Result<MetaRegex, String> {
        MetaRegex::builder()
            .configure(config.clone())
            .build(pattern)
            .map_err(|e| e.to_string())
    }

    /// The regex, compiled now if it was deferred: the DFA the build
    /// compiled for an embedded pattern, else forward-only (a deferred
    /// regex serves one message).
    fn get(&self) -> Option<&Compiled> {
        self.compiled
            .get_or_init(|| {
                let (pattern, config) = self.source.as_ref()?;
                match EmbeddedDfa::of(pattern) {
                    Some(dfa) => Some(Compiled::Embedded(Box::new((
                        dfa,
                        Fallback {
                            source: (pattern.clone(), config.clone()),
                            compiled: std::sync::OnceLock::new(),
                        },
                    )))),
                    None => compile_forward(pattern, config).map(Compiled::Forward),
                }
            })
            .as_ref()
    }

    /// Whether `lowered` (a text in ASCII lower case) holds a literal of
    /// every required clause, so the regex may match in it.
    fn may_match(&self, lowered: &str) -> bool {
        self.required.iter().all(|clause| {
            clause
                .iter()
                .any(|lit| memchr::memmem::find(lowered.as_bytes(), lit.as_bytes()).is_some())
        })
    }
}

impl PrefixedRegexes {
    /// Build from `(pattern, rule index)` pairs, for many messages or one;
    /// patterns must be valid. With `defer`, a regex run at its literals is compiled when its
    /// literal is first found, not now (for patterns checked beforehand:
    /// one that then fails to compile matches nothing, and says so in the
    /// log).
    pub fn new(
        regexes: &[&str],
        rules: &[u32],
        config: &meta::Config,
        (build, defer): (BuildFor, bool),
    ) -> Result<PrefixedRegexes, BuildError> {
        // The embedded rules' plans were worked out when spamsift was
        // built; other patterns are parsed here (once for the literals, the
        // boundary test and the regex).
        let plans = regexes
            .iter()
            .zip(rules)
            .map(|(pattern, &rule)| match super::plan::of(pattern) {
                Some(plan) => Ok(plan),
                None => super::regex_prep::plan(pattern).map_err(|message| BuildError {
                    rule: Some(rule),
                    message,
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Sized for every literal: sized for two per regex, the table was
        // rehashed over and over, a quarter of this build in a process that
        // builds it for one message (a case-folded literal has several
        // spellings, so a field's regexes average far more than two).
        let n_literals: usize = plans
            .iter()
            .map(|p| p.literals.as_ref().map_or(0, Vec::len))
            .sum();
        let mut literal_ids: Vec<Literal> = Vec::with_capacity(n_literals);
        let mut literal_index: rustc_hash::FxHashMap<Literal, u32> =
            rustc_hash::FxHashMap::with_capacity_and_hasher(n_literals, Default::default());
        // (literal, regex) pairs, grouped by literal below.
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n_literals);
        let mut anchored = Vec::new();
        let mut starts_at_boundary = Vec::new();
        let mut from_line_start = Vec::new();
        let mut at_text_start = Vec::new();
        let mut scanned: Vec<(&str, Vec<Vec<Literal>>)> = Vec::new();
        let mut scanned_rules = Vec::new();
        for ((pattern, &rule), plan) in regexes.iter().zip(rules).zip(plans) {
            let blame = |message: String| BuildError {
                rule: Some(rule),
                message,
            };
            match plan.literals {
                Some(lits) => {
                    // Run anchored where a literal was found: a prefilter
                    // would never be used, so none is built. (Dropping the
                    // capture groups too made some anchored searches miss;
                    // the test below caught it.)
                    let anchored_config = config.clone().auto_prefilter(false);
                    let re = if defer {
                        LazyRegex {
                            source: Some((pattern.to_string(), anchored_config)),
                            compiled: std::sync::OnceLock::new(),
                            required: plan.required,
                        }
                    } else {
                        let re = LazyRegex::compile(pattern, &anchored_config).map_err(blame)?;
                        LazyRegex {
                            source: None,
                            compiled: std::sync::OnceLock::from(Some(Compiled::Meta(re))),
                            required: Vec::new(),
                        }
                    };
                    let id = anchored.len() as u32;
                    anchored.push((re, rule));
                    starts_at_boundary.push(plan.starts_at_boundary);
                    from_line_start.push(plan.line_start);
                    if plan.at_start {
                        at_text_start.push(id);
                    }
                    for lit in lits {
                        let next = literal_ids.len() as u32;
                        let i = match literal_index.get(&lit) {
                            Some(&i) => i,
                            None => {
                                literal_index.insert(lit.clone(), next);
                                literal_ids.push(lit);
                                next
                            }
                        };
                        pairs.push((i, id));
                    }
                }
                None => {
                    scanned.push((*pattern, plan.required));
                    scanned_rules.push(rule);
                }
            }
        }
        let scanned = if scanned.is_empty() {
            None
        } else if defer {
            Some(Scanned::Each(
                scanned
                    .into_iter()
                    .zip(scanned_rules)
                    .map(|((pattern, required), rule)| {
                        let re = LazyRegex {
                            source: Some((pattern.to_string(), config.clone())),
                            compiled: std::sync::OnceLock::new(),
                            required,
                        };
                        (re, rule)
                    })
                    .collect(),
            ))
        } else {
            let patterns: Vec<&str> = scanned.iter().map(|(p, _)| *p).collect();
            Some(Scanned::Sets(RegexSets::build(
                &patterns,
                &scanned_rules,
                config.get_nfa_size_limit().unwrap_or(usize::MAX),
                config.get_hybrid_cache_capacity(),
                build,
            )?))
        };
        let literal_regexes = super::grouped::Grouped::new(&pairs, literal_ids.len());
        let literal_starts_word = literal_ids
            .iter()
            .map(|l| l.as_bytes().first().is_some_and(|&b| is_ascii_word_byte(b)))
            .collect();
        Ok(PrefixedRegexes {
            literals: literal_ids,
            literal_regexes,
            anchored,
            starts_at_boundary,
            from_line_start,
            literal_starts_word,
            at_text_start,
            scanned,
        })
    }

    /// The leading literals; a match of literal `i` is passed to [`check`](Self::check).
    pub fn literals(&self) -> &[Literal] {
        &self.literals
    }

    /// Fresh per-text attempt counters, one per anchored regex, for
    /// [`check`](Self::check).
    pub fn attempt_counters(&self) -> Vec<u16> {
        vec![0; self.anchored.len()]
    }

    /// Literal `literal` occurs at `text[start..]`: run its regexes there.
    /// `attempts` (from [`attempt_counters`](Self::attempt_counters), one
    /// set per text) bounds the work per regex: after
    /// [`MAX_ANCHORED_ATTEMPTS`] a regex is settled by one unanchored
    /// search over the whole text, which finds a match iff some literal
    /// occurrence would (every match starts with a literal), in whatever
    /// order the occurrences are reported. `lowered` is `text` in ASCII
    /// lower case, when the caller has it: a deferred regex whose required
    /// literals it lacks is then settled at its first attempt, without
    /// being compiled.
    #[inline]
    pub fn check(
        &self,
        literal: usize,
        (text, lowered): (&str, Option<&str>),
        start: usize,
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        // A word character before a literal that starts with one: no `\b`
        // there (one-letter literals such as `u` of `\b(?:you|u)\b` occur
        // inside most words; this spares a regex search at each).
        let inside_word = self.literal_starts_word[literal]
            && start > 0
            && is_ascii_word_byte(text.as_bytes()[start - 1]);
        for &id in self.literal_regexes.get(literal) {
            if inside_word && self.starts_at_boundary[id as usize] {
                continue;
            }
            self.attempt(id as usize, (text, lowered), start, hits, attempts);
        }
    }

    /// Run anchored regex `id` at `text[start..]`, within its attempts.
    #[inline]
    fn attempt(
        &self,
        id: usize,
        (text, lowered): (&str, Option<&str>),
        start: usize,
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        let (re, rule) = &self.anchored[id];
        let rule = *rule as usize;
        if hits.get(rule) {
            return;
        }
        let tried = &mut attempts[id];
        if *tried == SETTLED {
            return;
        }
        if *tried == 0
            && let Some(lowered) = lowered
            && !re.may_match(lowered)
        {
            *tried = SETTLED;
            return;
        }
        let Some(re) = re.get() else {
            *tried = SETTLED;
            return;
        };
        let input = if *tried < MAX_ANCHORED_ATTEMPTS {
            *tried += 1;
            // From the start of the line, found only for an attempt that
            // is made: a search back for each of a long line's literals
            // would cost time quadratic in its length.
            let start = if self.from_line_start[id] {
                memchr::memrchr(b'\n', &text.as_bytes()[..start]).map_or(0, |nl| nl + 1)
            } else {
                start
            };
            Input::new(text)
                .range(start..)
                .earliest(true)
                .anchored(Anchored::Yes)
        } else {
            // Over the whole text, not from here: literals are not
            // always reported in text order (a long text is scanned
            // as two halves in lock-step), and a search from here
            // missed a match in the first half once the second half
            // had used up the attempts.
            *tried = SETTLED;
            Input::new(text).earliest(true).anchored(Anchored::No)
        };
        if re.matches(&input) {
            hits.set(rule);
        }
    }

    /// Once per text, after its literals: try the regexes that may match
    /// only at its start there, and run the regexes that have no leading
    /// literals over all of `text` (`lowered`, `attempts`: as for
    /// [`check`](Self::check)).
    pub fn run_scanned(
        &self,
        text: &str,
        lowered: Option<&str>,
        hits: &mut HitSet,
        attempts: &mut [u16],
    ) {
        for &id in &self.at_text_start {
            self.attempt(id as usize, (text, lowered), 0, hits, attempts);
        }
        match &self.scanned {
            None => {}
            Some(Scanned::Sets(sets)) => sets.run(text, hits),
            Some(Scanned::Each(regexes)) => {
                for (re, rule) in regexes {
                    let rule = *rule as usize;
                    if hits.get(rule) || lowered.is_some_and(|l| !re.may_match(l)) {
                        continue;
                    }
                    if re
                        .get()
                        .is_some_and(|re| re.matches(&Input::new(text).earliest(true)))
                    {
                        hits.set(rule);
                    }
                }
            }
        }
    }
}

/// An ASCII letter, digit or `_`: a word character for both ASCII and
/// Unicode `\b`.
fn is_ascii_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::super::regex_prep::{parse, starts_with_word_boundary};
    use super::*;

    #[test]
    fn literals_of_common_rule_shapes() {
        assert_eq!(
            leading_literals(r"(?i)<form\b").expect("pattern has leading literals"),
            ["<form"]
        );
        let script =
            leading_literals(r"(?i)<script\b|\bjavascript:").expect("pattern has leading literals");
        assert!(script.iter().any(|l| "<script".starts_with(l.as_str())));
        assert!(script.iter().any(|l| "javascript:".starts_with(l.as_str())));
        assert_eq!(
            leading_literals(r"!{3,}").expect("pattern has leading literals"),
            ["!!!"]
        );
        assert_eq!(
            leading_literals(r"\$\s?\d{4,}").expect("pattern has leading literals"),
            ["$"]
        );
        assert!(leading_literals(r"\s+free").is_none());
        assert!(leading_literals(r"[a-z]+@").is_none());
        assert!(leading_literals(r"x?y*").is_none());
    }

    #[test]
    fn word_boundary_starts() {
        let starts = |p: &str| starts_with_word_boundary(&parse(p).expect("valid pattern"));
        assert!(starts(r"(?i)\b(?:you|u)\b|\bwinner"));
        assert!(starts(r"(\bfoo|\b{start}bar)"));
        assert!(!starts(r"foo|\bbar"));
        assert!(!starts(r"\Bfoo"));
        assert!(!starts(r"x\bfoo"));
    }

    #[test]
    fn case_insensitive_literals_are_not_spelled_out() {
        // 2^10 spellings before folding; one literal after.
        assert_eq!(
            leading_literals(r"(?i)free winner").expect("pattern has leading literals"),
            ["free winner"]
        );
        let k = leading_literals(r"(?i)ok").expect("pattern has leading literals");
        assert!(k.contains(&"ok".to_string()) && k.contains(&"o\u{212a}".to_string()));
    }

    #[test]
    fn finds_what_a_plain_scan_finds() {
        let patterns = [
            r"(?i)<font\b[^>]*\bcolor\s*=\s*[\x22']?(?:#?ffffff|white)",
            r"(?i)<form\b",
            r"\$\s?\d{4,}",
            r"\bdear (?:friend|sir)",
            r"[0-9]{3}-[0-9]{4}",
            // Case-insensitive: letters fold to one literal, but `k` and
            // `s` also match KELVIN SIGN and LONG S, which must still be found.
            r"(?i)\bkelvin scale\b",
            r"(?i)dear (?:valued )?customers?\b",
            // One-letter literals behind `\b`: skipped inside words.
            r"(?i)\b(?:you|u|ur)\s+(?:have\s+)?won\b|\bwinner\b",
            r"(?i)u\s+won",
            // A branch that matches only at the start of the text, beside
            // ones found by their literals; and one with no other branch.
            r"(?i)^\s*(?:adv|ad)\s*[:\-]|\(adv\)|\[adv\]",
            r"^\s*(?:hi|hello)\s+there",
            r"(^\d{3}|x$)",
            // Branches at line starts, found by what follows their runs
            // and tried from the start of that line.
            r"(?m)^[ \t]*>",
            r"(?im)^\s*(?:share\s+|stock\s+)?price\s*[:\-]\s*\$\s*0?\.\d{2,4}\b",
            r"(?m)^-- ?$|(?m)^\s*_{5,}",
        ];
        let rules: Vec<u32> = (0..patterns.len() as u32).collect();
        // Both kinds of phrase automaton (many messages, one message,
        // whose regexes compile when first needed).
        use super::super::matcher::PhraseMatcher;
        let matchers: Vec<PhraseMatcher> =
            [(BuildFor::Throughput, false), (BuildFor::StartUp, true)]
                .into_iter()
                .map(|(build, defer)| {
                    let prefixed = PrefixedRegexes::new(
                        &patterns,
                        &rules,
                        &meta::Config::new(),
                        (build, defer),
                    )
                    .expect("valid regexes");
                    PhraseMatcher::new(&[], vec![], vec![], Some(prefixed), build)
                        .expect("automaton builds")
                })
                .collect();
        // A long text is scanned as two halves in lock-step: a match late
        // in the first half is reported after many literals of the second.
        let halves = format!(
            "{}$12345{}{}{}",
            "a".repeat(680),
            "a".repeat(14),
            "$x ".repeat(30),
            "b".repeat(610)
        );
        let texts = [
            halves.as_str(),
            "<p>hi</p><FONT size=2 COLOR=\"#FFFFFF\">x</FONT>",
            "<font color=red><Form action=x>",
            "price $ 12345 and $12",
            "Dear friend, call 555-1234",
            "endear friend",
            "",
            "the \u{212a}ELVIN SCALE",
            "Kelvin scale",
            "kelvin \u{17f}cale",
            "DEAR VALUED CU\u{17f}TOMERS",
            "dear customer",
            "U won a prize",
            "thank you won",
            "bu won",
            "_u won",
            "\u{e9}u won",
            "(u) won!",
            "awinner",
            "  ADV: buy now",
            "ad- buy now",
            "buy now ADV: (adv)",
            "buy now [ADV]",
            "not an ad: really",
            "hello there",
            " \n hi   there, hi there",
            "oh hi there",
            "123 go",
            "go 123 x",
            "go 123",
            "> quoted",
            "text\n  \t> quoted",
            "a > b\nc >> d",
            "text\n x > y",
            "Price: $0.12",
            "intro\n\n   \n  Stock Price: $ .125 now",
            "the price: $0.12",
            "line\nshare  price - $0.0123",
            "sig\n-- \nme",
            "sig -- \n--x",
            "a\n \n\t______ b",
            "a ______",
        ];
        for (m, text) in matchers
            .iter()
            .flat_map(|m| texts.iter().map(move |t| (m, t)))
        {
            let mut hits = HitSet::new(patterns.len());
            m.run(text, &mut hits);
            for (i, p) in patterns.iter().enumerate() {
                let want = regex::Regex::new(p).expect("valid regex").is_match(text);
                assert_eq!(hits.get(i), want, "{p} on {text:?}");
            }
        }
    }
}
