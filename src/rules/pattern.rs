//! Preparing rule regexes for the fast matching path.
//!
//! In rule files `\b`, `\B`, `\d`, `\w` and `\s` mean their **ASCII**
//! versions, as they do in SpamAssassin's Perl rules. Unicode word boundaries
//! make the lazy DFA give up on any non-ASCII byte and fall back to a much
//! slower engine, and Unicode `\w` multiplies DFA states; mail is full of
//! non-ASCII bytes, so the difference is several-fold in throughput. Rules
//! that need Unicode-aware words use `phrases` with `whole_word = true`, or
//! say so explicitly with classes such as `\p{L}`.

/// A rule's regex as written, and as it runs (see
/// [`ascii_perl_classes`]): rewritten when first needed, so a process that
/// never matches a channel's regexes (one `spamsift check` of one field's
/// worth of rules) never rewrites them.
#[derive(Debug, Clone)]
pub(crate) struct RulePattern {
    written: super::format::Text,
    running: std::sync::OnceLock<super::format::Text>,
}

impl RulePattern {
    /// A pattern as written in a rule file.
    pub(crate) fn new(written: super::format::Text) -> RulePattern {
        RulePattern {
            written,
            running: std::sync::OnceLock::new(),
        }
    }

    /// The pattern as it runs: ASCII word boundaries and Perl classes
    /// (worked out when spamsift was built for the embedded rules).
    pub(crate) fn running(&self) -> &str {
        self.running
            .get_or_init(|| match super::plan::running(&self.written) {
                Some(running) => running.into(),
                None => ascii_perl_classes(&self.written).into(),
            })
    }
}

pub use super::regex_prep::ascii_perl_classes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_boundaries_and_classes() {
        assert_eq!(ascii_perl_classes(r"\bfoo\b"), r"(?-u:\b)foo(?-u:\b)");
        assert_eq!(
            ascii_perl_classes(r"(?i)\d+\s?p\b"),
            r"(?i)(?-u:\d)+(?-u:\s)?p(?-u:\b)"
        );
        // negated classes would match invalid UTF-8 in ASCII mode: left alone
        assert_eq!(ascii_perl_classes(r"\W\D\S"), r"\W\D\S");
        // classes inside brackets stay
        assert_eq!(ascii_perl_classes(r"[\w.]+"), r"[\w.]+");
        assert_eq!(ascii_perl_classes(r"(a(\b|x))*"), r"(a((?-u:\b)|x))*");
    }

    #[test]
    fn same_matches_on_ascii_text() {
        for (p, t) in [
            (r"(?i)\bwin\b", "You WIN now"),
            (r"\d{5}", "text 87121"),
            (r"\bfoo", "xfoo"),
        ] {
            let a = regex::Regex::new(p).expect("valid regex");
            let b = regex::Regex::new(&ascii_perl_classes(p)).expect("valid regex");
            assert_eq!(a.is_match(t), b.is_match(t), "{p}");
        }
    }

    #[test]
    fn invalid_pattern_returned_unchanged() {
        assert_eq!(ascii_perl_classes("a(b"), "a(b");
    }
}
