//! Timing each rule on its own, so operators see what a rule costs.
//!
//! The compiled rule set matches all phrases of a field in one automaton and
//! all regexes in one set, so a single rule's share cannot be read off a
//! normal run. Profiling compiles each rule alone and times it over the
//! same field values, which measures what the rule would cost by itself.

use super::matcher::{BuildFor, HitSet, PhraseMatcher};
use super::obfuscated::ObfuscatedWords;
use super::{RuleSet, RuleSpec};
use crate::message::Message;
use std::time::{Duration, Instant};

impl RuleSet {
    /// Time every rule alone over `msgs` (only messages of the rule's
    /// channels). Returns one duration per rule, in [`RuleSet::rules`] order.
    pub fn profile(&self, msgs: &[Message]) -> Vec<Duration> {
        let full: Vec<HitSet> = msgs.iter().map(|m| self.run(m)).collect();
        self.rules
            .iter()
            .map(|rule| {
                let applies = |m: &Message| rule.channels.contains(&m.channel);
                match &rule.spec {
                    RuleSpec::Phrases {
                        field,
                        phrases,
                        whole_word,
                    } => {
                        let pats: Vec<&str> = phrases.iter().map(|p| &**p).collect();
                        let built = PhraseMatcher::new(
                            &pats,
                            vec![0; pats.len()],
                            vec![*whole_word; pats.len()],
                            None,
                            BuildFor::Throughput,
                        );
                        let Ok(pm) = built else {
                            return Duration::ZERO;
                        };
                        let start = Instant::now();
                        for m in msgs.iter().filter(|m| applies(m)) {
                            let mut hits = HitSet::new(1);
                            field.for_each_value(m, |v| {
                                pm.run(v, &mut hits);
                                true
                            });
                            std::hint::black_box(&hits);
                        }
                        start.elapsed()
                    }
                    RuleSpec::Regex { field, pattern } => {
                        let Ok(re) = regex::Regex::new(pattern.running()) else {
                            return Duration::ZERO;
                        };
                        let start = Instant::now();
                        for m in msgs.iter().filter(|m| applies(m)) {
                            let mut hit = false;
                            field.for_each_value(m, |v| {
                                hit = re.is_match(v);
                                !hit
                            });
                            std::hint::black_box(hit);
                        }
                        start.elapsed()
                    }
                    RuleSpec::Obfuscated { field, words } => {
                        let m = ObfuscatedWords::new(words.iter().map(|w| (w.as_str(), 0)));
                        let start = Instant::now();
                        for msg in msgs.iter().filter(|m| applies(m)) {
                            let mut hits = HitSet::new(1);
                            field.for_each_value(msg, |v| {
                                m.run(v, &mut hits);
                                !hits.get(0)
                            });
                            std::hint::black_box(&hits);
                        }
                        start.elapsed()
                    }
                    RuleSpec::Eval(test) => {
                        let start = Instant::now();
                        for m in msgs.iter().filter(|m| applies(m)) {
                            std::hint::black_box(test.check(m, &self.brands));
                        }
                        start.elapsed()
                    }
                    RuleSpec::Reputation(source) => {
                        let start = Instant::now();
                        for m in msgs.iter().filter(|m| applies(m)) {
                            std::hint::black_box(source.matches(m));
                        }
                        start.elapsed()
                    }
                    // Answered by the front end; nothing to time here.
                    RuleSpec::DnsList(_) => Duration::ZERO,
                    RuleSpec::Meta(expr) => {
                        let start = Instant::now();
                        for (m, hits) in msgs.iter().zip(&full).filter(|(m, _)| applies(m)) {
                            let _ = m;
                            std::hint::black_box(expr.eval(&|r: &usize| hits.get(*r)));
                        }
                        start.elapsed()
                    }
                }
            })
            .collect()
    }
}
