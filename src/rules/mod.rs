//! Rule sets: loading TOML rule files, compiling them into per-channel
//! matchers, and running them.
//!
//! See [`format`](mod@format) for the file format. A [`RuleSet`] is immutable once built.

pub mod brands;
pub mod compile;
pub mod dnslist;
mod embedded_dfa;
pub mod eval;
pub mod field;
pub mod format;
mod forward;
mod grouped;
pub mod matcher;
pub mod meta;
pub mod obfuscated;
pub mod pattern;
mod phrase_table;
mod plan;
pub mod prefixed;
mod profile;
mod regex_prep;
pub mod reputation;
mod spelling;

use crate::message::{Channel, Message};
use eval::EvalTest;
use matcher::{FieldMatcher, HitSet};
use meta::Expr;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use compile::{
    load_dir, load_dir_compiling, load_sources, load_sources_checked, load_sources_compiling,
    read_dir_sources,
};
pub use matcher::BuildFor;

/// The default rule files, embedded in the binary so an installed
/// `spamsift` works from any directory. A `static`, not a `const`: one copy
/// of each text, so the loader knows the embedded text by its address
/// (each use of a `const` may get its own copy, and was then hashed).
pub static DEFAULT_RULE_FILES: &[(&str, &str)] = &[
    (
        "email-content.toml",
        include_str!("../../rules/email-content.toml"),
    ),
    (
        "email-headers.toml",
        include_str!("../../rules/email-headers.toml"),
    ),
    (
        "email-html.toml",
        include_str!("../../rules/email-html.toml"),
    ),
    ("email-uri.toml", include_str!("../../rules/email-uri.toml")),
    (
        "email-attachments.toml",
        include_str!("../../rules/email-attachments.toml"),
    ),
    (
        "email-scams.toml",
        include_str!("../../rules/email-scams.toml"),
    ),
    ("brands.toml", include_str!("../../rules/brands.toml")),
    (
        "email-auth.toml",
        include_str!("../../rules/email-auth.toml"),
    ),
    ("email-cjk.toml", include_str!("../../rules/email-cjk.toml")),
    (
        "email-classic.toml",
        include_str!("../../rules/email-classic.toml"),
    ),
    (
        "email-european.toml",
        include_str!("../../rules/email-european.toml"),
    ),
    ("sms.toml", include_str!("../../rules/sms.toml")),
    ("sms-world.toml", include_str!("../../rules/sms-world.toml")),
    ("im.toml", include_str!("../../rules/im.toml")),
];

/// One compiled rule's identity and score.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule id.
    pub id: Arc<str>,
    /// What it detects.
    pub description: Arc<str>,
    /// Points it adds.
    pub score: f64,
    /// What a hit is evidence of; its score never takes the other side.
    pub evidence: Evidence,
    /// Channels it applies to.
    pub channels: Vec<Channel>,
    /// Where it was defined (`file:line`).
    pub origin: String,
    /// `false` for `__` helper rules, which only feed meta rules.
    pub reported: bool,
    /// What it matches with (kept for profiling and listing).
    pub(crate) spec: RuleSpec,
}

/// What a rule's hit is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Spam: its score is 0 or more.
    Spam,
    /// Ham: its score is 0 or less.
    Ham,
    /// Nothing: a fact shown with the verdict, scored 0.
    None,
}

impl Evidence {
    /// As written in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Spam => "spam",
            Evidence::Ham => "ham",
            Evidence::None => "none",
        }
    }

    /// Whether `score` is on this side (0 is on every side).
    pub fn allows(self, score: f64) -> bool {
        match self {
            Evidence::Spam => score >= 0.0,
            Evidence::Ham => score <= 0.0,
            Evidence::None => score == 0.0,
        }
    }

    /// What a rule file says (`evidence`), else what its score's sign says.
    pub fn of(written: Option<&str>, score: f64) -> Result<Evidence, String> {
        match written {
            Some("spam") => Ok(Evidence::Spam),
            Some("ham") => Ok(Evidence::Ham),
            Some("none") => Ok(Evidence::None),
            Some(other) => Err(format!(
                "evidence = {other:?}: one of \"spam\", \"ham\", \"none\""
            )),
            None if score > 0.0 => Ok(Evidence::Spam),
            None if score < 0.0 => Ok(Evidence::Ham),
            None => Ok(Evidence::None),
        }
    }
}

/// A compiled rule's matcher, as written (regexes already prepared).
#[derive(Debug, Clone)]
pub(crate) enum RuleSpec {
    Phrases {
        field: field::Field,
        phrases: Vec<format::Text>,
        whole_word: bool,
    },
    Regex {
        field: field::Field,
        pattern: pattern::RulePattern,
    },
    /// Words spelled with look-alikes for letters (lower-case, checked).
    Obfuscated {
        field: field::Field,
        words: Vec<String>,
    },
    Eval(EvalTest),
    Meta(Expr<usize>),
    Reputation(reputation::Source),
    DnsList(dnslist::DnsList),
}

/// One problem found while loading rules, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// File name as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The rule concerned, when known.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(r) = &self.rule {
            write!(f, "rule {r}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found while loading a rule set.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    /// The problems, in file order.
    pub errors: Vec<RuleError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{n} error{} in rule files:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// Text the field matchers may read before [`RuleSet::run_until`] reads
/// the clock again: a few microseconds' work, however slow the rules.
/// Reading the clock before every field was 3% of classifying an SMS,
/// whose dozen fields hold a few hundred bytes in all.
const CLOCK_EVERY_BYTES: usize = 16 * 1024;

/// The compiled checks of one channel.
#[derive(Debug, Default)]
pub(crate) struct ChannelRules {
    pub(crate) fields: Vec<FieldMatcher>,
    pub(crate) evals: Vec<(usize, EvalTest)>,
    /// Reputation sources.
    pub(crate) reputation: Vec<(usize, reputation::Source)>,
    /// DNS lists (answered by the front end).
    pub(crate) dnslists: Vec<(usize, dnslist::DnsList)>,
    /// Meta rules in dependency order.
    pub(crate) metas: Vec<meta::Gated>,
}

/// A compiled, immutable rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Each channel's matchers, built at load or when first needed.
    pub(crate) channels: [std::sync::OnceLock<ChannelRules>; 3],
    /// Meta rules (indices into `rules`) in dependency order.
    pub(crate) meta_order: Vec<usize>,
    /// What the matchers are built for.
    pub(crate) build_for: matcher::BuildFor,
    /// Whether fields' matchers are compiled when first needed.
    pub(crate) defer: bool,
    /// Brands scammers pose as (`[[brand]]` entries).
    pub(crate) brands: brands::BrandTable,
}

impl RuleSet {
    /// The embedded default rules.
    pub fn defaults() -> Result<RuleSet, LoadError> {
        Self::defaults_compiling(&Channel::ALL, BuildFor::Throughput)
    }

    /// The embedded default rules, with only the matchers of `channels`
    /// compiled now, built for `build` (see [`load_sources_compiling`]).
    pub fn defaults_compiling(channels: &[Channel], build: BuildFor) -> Result<RuleSet, LoadError> {
        load_sources_compiling(
            DEFAULT_RULE_FILES
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string())),
            channels,
            build,
        )
    }

    /// Load every `*.toml` file of a directory.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<RuleSet, LoadError> {
        load_dir(dir.as_ref())
    }

    /// All rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The brands of the rule files' `[[brand]]` entries.
    pub fn brands(&self) -> &brands::BrandTable {
        &self.brands
    }

    /// The matchers of `channel`, built now if they were left for first use.
    /// Every rule was validated at load; a field whose matchers still cannot
    /// be built is logged and skipped, so messages still get the other rules.
    fn channel(&self, channel: Channel) -> &ChannelRules {
        self.channels[channel.index()].get_or_init(|| {
            let (matchers, errors) = compile::build_channel(
                channel,
                &self.rules,
                &self.meta_order,
                self.build_for,
                self.defer,
            );
            for e in errors {
                tracing::error!("{e}");
            }
            matchers
        })
    }

    /// The reputation sources checked on messages of `channel`, with their rules.
    pub fn reputation_sources(
        &self,
        channel: Channel,
    ) -> impl Iterator<Item = (&Rule, &reputation::Source)> {
        self.channel(channel)
            .reputation
            .iter()
            .map(|(i, s)| (&self.rules[*i], s))
    }

    /// Whether any DNS list applies to `channel`.
    pub fn has_dns_lists(&self, channel: Channel) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.spec, RuleSpec::DnsList(_)) && r.channels.contains(&channel))
    }

    /// The DNS queries to make for a message (its channel's DNS lists, each
    /// identity of the message), for the front end to ask before
    /// classifying; the rules of those that answer "listed" go in
    /// `Message::dns_listed`.
    pub fn dns_queries(&self, msg: &Message) -> Vec<dnslist::DnsQuery> {
        self.channel(msg.channel)
            .dnslists
            .iter()
            .flat_map(|(i, list)| {
                list.queries(msg).into_iter().map(|name| dnslist::DnsQuery {
                    rule: self.rules[*i].id.clone(),
                    name,
                    list: list.clone(),
                })
            })
            .collect()
    }

    /// Whether rule `i` is an allow-list reputation source.
    pub fn is_allow_list(&self, i: usize) -> bool {
        matches!(&self.rules[i].spec, RuleSpec::Reputation(s) if s.allow)
    }

    /// Number of rules that apply to a channel.
    pub fn count_for(&self, channel: Channel) -> usize {
        self.rules
            .iter()
            .filter(|r| r.reported && r.channels.contains(&channel))
            .count()
    }

    /// Run every rule of the message's channel; returns the hit set.
    pub fn run(&self, msg: &Message) -> HitSet {
        self.run_until(msg, None).0
    }

    /// Run the rules of the message's channel until `deadline`: the clock
    /// is read at the start, then before a field's matchers, the eval
    /// tests and the reputation lookups once the fields matched since the
    /// last reading have read [`CLOCK_EVERY_BYTES`] of text, and what is
    /// left is skipped once the deadline has passed (each stage is linear
    /// in the message size, so none runs long). Meta rules always run,
    /// over the hits found. Returns the hit set and whether every rule ran.
    pub fn run_until(&self, msg: &Message, deadline: Option<std::time::Instant>) -> (HitSet, bool) {
        let rules = self.channel(msg.channel);
        let mut hits = HitSet::new(self.rules.len());
        let out_of_time = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
        let mut complete = !out_of_time();
        if complete {
            // Bytes read since the clock was last read.
            let mut unclocked = 0;
            for fm in &rules.fields {
                if unclocked >= CLOCK_EVERY_BYTES {
                    unclocked = 0;
                    if out_of_time() {
                        complete = false;
                        break;
                    }
                }
                unclocked += fm.run(msg, &mut hits);
            }
            if complete && unclocked >= CLOCK_EVERY_BYTES && out_of_time() {
                complete = false;
            }
        }
        if complete {
            for (i, test) in &rules.evals {
                if test.check(msg, &self.brands) {
                    hits.set(*i);
                }
            }
            for (i, source) in &rules.reputation {
                if source.matches(msg) {
                    hits.set(*i);
                }
            }
            for (i, _) in &rules.dnslists {
                if msg.dns_listed.iter().any(|r| **r == *self.rules[*i].id) {
                    hits.set(*i);
                }
            }
        }
        for m in &rules.metas {
            if m.holds(&hits) {
                hits.set(m.rule);
            }
        }
        (hits, complete)
    }
}
