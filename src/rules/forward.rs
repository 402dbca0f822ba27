//! A rule regex compiled for one message per process: only what a yes/no
//! search needs.
//!
//! A rule asks one question of a regex: is there a match (anchored where a
//! literal was found, or anywhere in a text)? `regex_automata::meta::Regex`
//! answers more, and builds for it: besides the forward NFA it compiles a
//! reverse NFA, used only to find where a match starts. For the rule set's
//! 142 regexes that is 38% of the compile time (all compiled, meta 33 ms,
//! forward only 21 ms; `check` compiles the few a message's text calls
//! for). This builds the forward NFA alone, searches it with a lazy DFA,
//! and falls back to the PikeVM on the same NFA where the lazy DFA gives up
//! (a Unicode word boundary next to a non-ASCII byte, or a cache that keeps
//! filling) — what `meta` does for the same search, without the reverse
//! half.
//!
//! Only `check` uses it (`BuildFor::StartUp`); the bulk front ends, which
//! compile every regex once and run each many times, keep `meta`, whose
//! prefilters and extra engines pay off there.

use regex_automata::hybrid;
use regex_automata::nfa::thompson::{self, WhichCaptures, pikevm};
use regex_automata::util::pool::Pool;
use regex_automata::{Input, MatchKind};

thread_local! {
    /// One NFA compiler a thread, reused: a fresh compiler allocates and
    /// fills a 10,000-entry table (about 400 kB) the first time a pattern
    /// holds a Unicode class (`\w`, `\s`, `(?i)` letters), which was 7% of
    /// a `check`; a reused one only bumps the table's version.
    static COMPILER: std::cell::RefCell<thompson::Compiler> =
        std::cell::RefCell::new(thompson::Compiler::new());
}

/// Run `f` with this thread's NFA compiler (configure it first: it keeps
/// the last caller's configuration).
pub(crate) fn with_nfa_compiler<T>(f: impl FnOnce(&mut thompson::Compiler) -> T) -> T {
    COMPILER.with_borrow_mut(f)
}

/// The per-thread search state of a [`ForwardRegex`].
#[derive(Debug, Clone)]
struct Caches {
    dfa: Option<hybrid::dfa::Cache>,
    pikevm: pikevm::Cache,
}

type CachePool = Pool<Caches, Box<dyn Fn() -> Caches + Send + Sync>>;

/// A regex that says whether it matches: forward NFA, lazy DFA, PikeVM.
pub(crate) struct ForwardRegex {
    /// `None` when the lazy DFA cannot be built for this NFA (its cache
    /// would be too small): the PikeVM answers alone.
    dfa: Option<hybrid::dfa::DFA>,
    pikevm: pikevm::PikeVM,
    caches: CachePool,
}

impl std::fmt::Debug for ForwardRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardRegex")
            .field("lazy_dfa", &self.dfa.is_some())
            .finish_non_exhaustive()
    }
}

impl ForwardRegex {
    /// Compile `pattern` (default syntax, as `meta::Regex::new` reads it)
    /// with an NFA of at most `nfa_size_limit` bytes and a lazy-DFA cache
    /// of `cache_capacity` bytes.
    pub(crate) fn new(
        pattern: &str,
        nfa_size_limit: Option<usize>,
        cache_capacity: usize,
    ) -> Result<ForwardRegex, String> {
        let nfa = with_nfa_compiler(|compiler| {
            compiler
                .configure(
                    thompson::Config::new()
                        .nfa_size_limit(nfa_size_limit)
                        // The PikeVM reports a match through the
                        // whole-match group; no other group is needed.
                        .which_captures(WhichCaptures::Implicit),
                )
                .build(pattern)
                .map_err(|e| e.to_string())
        })?;
        // The lazy DFA as `meta` configures it: Unicode word boundaries
        // handled by giving up at non-ASCII bytes, and giving up when the
        // cache is cleared too often to be worth it.
        let dfa = hybrid::dfa::Builder::new()
            .configure(
                hybrid::dfa::Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .unicode_word_boundary(true)
                    .cache_capacity(cache_capacity)
                    .skip_cache_capacity_check(false)
                    .minimum_cache_clear_count(Some(3))
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_from_nfa(nfa.clone())
            .ok();
        let pikevm = pikevm::PikeVM::new_from_nfa(nfa).map_err(|e| e.to_string())?;
        let (for_dfa, for_pikevm) = (dfa.clone(), pikevm.clone());
        let create: Box<dyn Fn() -> Caches + Send + Sync> = Box::new(move || Caches {
            dfa: for_dfa.as_ref().map(hybrid::dfa::DFA::create_cache),
            pikevm: for_pikevm.create_cache(),
        });
        Ok(ForwardRegex {
            dfa,
            pikevm,
            caches: Pool::new(create),
        })
    }

    /// Whether the regex matches in `input` (its span, anchoring and
    /// `earliest` are honoured as `meta::Regex::search_half` honours them).
    pub(crate) fn matches(&self, input: &Input<'_>) -> bool {
        let mut caches = self.caches.get();
        if let (Some(dfa), Some(cache)) = (&self.dfa, caches.dfa.as_mut())
            && let Ok(found) = dfa.try_search_fwd(cache, input)
        {
            return found.is_some();
        }
        let mut slots = [None, None];
        self.pikevm
            .search_slots(&mut caches.pikevm, input, &mut slots)
            .is_some()
    }
}

/// Every yes/no search a rule makes of `text`: from each character
/// boundary, anchored and not (for tests that compare engines).
#[cfg(test)]
pub(crate) fn every_search(text: &str) -> impl Iterator<Item = Input<'_>> {
    use regex_automata::Anchored;
    (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .flat_map(move |start| {
            [Anchored::No, Anchored::Yes].map(|anchored| {
                Input::new(text)
                    .range(start..)
                    .earliest(true)
                    .anchored(anchored)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::meta::Regex as MetaRegex;

    /// The same answers as `meta::Regex` on texts that send the lazy DFA
    /// to the PikeVM (a Unicode `\b` beside non-ASCII letters) and on
    /// plain ASCII, anchored and not.
    #[test]
    fn answers_as_meta_does() {
        let table: &[(&str, &str)] = &[
            (r"(?i)\bprize\b", "You won a PRIZE!"),
            (r"(?i)\bprize\b", "the prizes"),
            (r"(?i)\bcafé\b", "un café noir"),
            (r"(?i)\bcafé\b", "cafés"),
            (r"\bnaïve\b", "a naïve plan"),
            (
                r"(?i)\bscan\s+(?:the\s+)?qr\s+code\b(?s:.){0,20}?\bverify",
                "Scan the QR code to verify",
            ),
            (
                r"(?i)\bscan\s+(?:the\s+)?qr\s+code\b(?s:.){0,20}?\bverify",
                "Scan the QR code and then much later on we verify",
            ),
            (r"\d[\d ,.]*\$", "pay 1,000 $ now"),
            (r"\w+@\w+", "mail: ünïcode@exämple"),
            (r"(?i)straße", "STRASSE"),
            (r"(?i)straße", "Straße"),
        ];
        for &(pattern, text) in table {
            let meta = MetaRegex::new(pattern).expect("pattern");
            let forward = ForwardRegex::new(pattern, None, 2 << 20).expect("pattern");
            for input in every_search(text) {
                assert_eq!(
                    forward.matches(&input),
                    meta.search_half(&input).is_some(),
                    "{pattern} on {text:?} from {}, {:?}",
                    input.start(),
                    input.get_anchored()
                );
            }
        }
    }

    /// A cache too small for any lazy DFA leaves the PikeVM to answer.
    #[test]
    fn works_without_a_lazy_dfa() {
        let forward = ForwardRegex::new(r"(?i)\bprize\b", None, 0).expect("pattern");
        assert!(forward.dfa.is_none());
        assert!(forward.matches(&Input::new("a prize").earliest(true)));
        assert!(!forward.matches(&Input::new("prizes").earliest(true)));
    }
}
