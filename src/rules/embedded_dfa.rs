//! The regexes of the embedded rules, compiled to DFAs when spamsift was
//! built.
//!
//! `spamsift check` compiles a regex when a message first may match it
//! (its leading literal found, or a field with a value). For an email that
//! was about 20 regexes, and compiling them (NFA, then the lazy DFA's
//! states as the search needs them) was a fifth of the process's
//! instructions. `build.rs` compiles each regex of `rules/*.toml` to a
//! sparse DFA and embeds the bytes; here one is taken as it is, in constant
//! time, and searched. Regexes whose DFA would be large (windows such as
//! `.{0,60}` between words) are not embedded and are compiled at run time
//! as before ([`super::forward::ForwardRegex`]).

use regex_automata::Input;
use regex_automata::dfa::{Automaton, sparse};

/// A DFA compiled when spamsift was built, read in place from the binary.
#[derive(Debug)]
pub(crate) struct EmbeddedDfa(sparse::DFA<&'static [u8]>);

impl EmbeddedDfa {
    /// The DFA of `running` (an embedded pattern as it runs), if the
    /// build compiled one.
    pub(crate) fn of(running: &str) -> Option<EmbeddedDfa> {
        let bytes = super::plan::dfa_bytes(running)?;
        // SAFETY: the bytes are what `build.rs` wrote with
        // `sparse::DFA::to_bytes_*_endian` of this regex-automata version,
        // in the target's byte order (Cargo builds the build script's
        // regex-automata from the same locked version), and embedded
        // unchanged; sparse DFAs need no alignment. The test
        // `embedded_dfas_are_valid` reads every one with the validating
        // `from_bytes`. Validating here instead cost about 50 µs a regex,
        // as much as compiling it.
        let (dfa, _) = unsafe { sparse::DFA::from_bytes_unchecked(bytes) }.ok()?;
        Some(EmbeddedDfa(dfa))
    }

    /// Whether the regex matches in `input` (span, anchoring and
    /// `earliest` honoured); `None` if the DFA could not answer, for the
    /// caller to ask a regex compiled now.
    pub(crate) fn matches(&self, input: &Input<'_>) -> Option<bool> {
        self.0.try_search_fwd(input).ok().map(|m| m.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::forward::{ForwardRegex, every_search};

    /// Every embedded DFA reads back with the validating `from_bytes`, and
    /// the build compiled most of the long-text regexes (a build that
    /// silently compiled none would only be slower).
    #[test]
    fn embedded_dfas_are_valid() {
        let mut n = 0;
        for (pattern, bytes) in super::super::plan::all_dfas() {
            sparse::DFA::from_bytes(bytes).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            n += 1;
        }
        assert!(n > 50, "only {n} embedded DFAs");
    }

    /// Each embedded DFA answers as the regex compiled at run time does, at
    /// every start of texts written to reach into the rules (spam phrases,
    /// HTML, digits, non-ASCII letters), anchored and not.
    #[test]
    fn embedded_dfas_answer_as_compiled_regexes_do() {
        let texts = [
            "Dear friend, CLICK HERE to claim your FREE prize of $1,000,000.00 now!!!",
            "<font size=1 color=\"#ffffff\">hidden</font><a href=\"http://1.2.3.4/x?ref=abc\">Verify your account</a>",
            "Mon café est très naïve: straße 12, +44 7700 900123, call 0800 123 4567.",
            "Your package could not be delivered: pay the 1,99 EUR fee at https://bit.ly/x",
            "viagra cialis replica rolex watches 80% off, unsubscribe at remove@list.com",
            "My name is Mrs Ruth, a widow with $7.5 million. Reply urgently, God bless.",
            "Scan the QR code below to verify your Microsoft 365 password before it expires.",
        ];
        let mut checked = 0;
        for (pattern, _) in super::super::plan::all_dfas() {
            let dfa = EmbeddedDfa::of(pattern).expect("embedded");
            let compiled = ForwardRegex::new(pattern, None, 2 << 20).expect("pattern");
            for text in texts {
                for input in every_search(text) {
                    assert_eq!(
                        dfa.matches(&input),
                        Some(compiled.matches(&input)),
                        "{pattern} on {text:?} from {}, {:?}",
                        input.start(),
                        input.get_anchored()
                    );
                }
            }
            checked += 1;
        }
        assert!(checked > 50);
    }
}
