//! The embedded default rules' regexes, worked out when spamsift was built:
//! `build.rs` runs [`super::regex_prep`] over every regex of `rules/*.toml`
//! and writes what it found into tables that are compiled into the binary.
//! A process that starts for one message (`spamsift check`) then parses no
//! regex of its channel just to find their leading literals; it parses only
//! the few whose literals the message holds. Patterns that are not in the
//! tables (local rule files, a `--rules` directory) are worked out at start.

use super::regex_prep::RegexPlan;

// `RULE_FILES: &[(&str, u64, &str)]`: see `embedded_rule_file`.
// `RUNNING: &[(&str, &str)]`: (pattern as written, as it runs), sorted by
// the first; `PLANS: &[(&str, Option<&[&str]>, bool)]`: (pattern as it
// runs, its leading literals, whether it starts at a word boundary),
// sorted by the first.
include!(concat!(env!("OUT_DIR"), "/embedded_regex_plan.rs"));

/// An embedded rule file, parsed when spamsift was built: `(name, xxh3 of
/// its TOML text, JSON of its entries with their lines)` in
/// `RULE_FILES`. `None` for any other file, or if the text differs.
pub(super) fn embedded_rule_file(name: &str, text: &str) -> Option<super::format::LinedFile> {
    let (_, hash, json) = RULE_FILES.iter().find(|(n, ..)| *n == name)?;
    if *hash != xxhash_rust::xxh3::xxh3_64(text.as_bytes()) {
        return None;
    }
    serde_json::from_str(json)
        .map_err(|e| tracing::warn!("embedded rule file {name}: {e}; parsing its TOML"))
        .ok()
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
    let (_, literals, starts_at_boundary) = PLANS[i];
    Some(RegexPlan {
        literals: literals.map(|l| l.iter().map(|s| s.to_string()).collect()),
        starts_at_boundary,
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

    /// Each embedded rule file read from its build-time JSON has the
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
    }
}
