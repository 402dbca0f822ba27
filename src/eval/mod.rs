//! Benchmarking rule sets against labelled corpora: metrics, per-rule
//! statistics, throughput, comparisons and reports (terminal, JSON,
//! Markdown, SVG plots).

pub mod fit;
pub mod metrics;
pub mod online;
#[cfg(feature = "plots")]
pub mod plot;
pub mod report;

use crate::corpus::{Item, Label};
use crate::message::Channel;
use crate::rules::RuleSet;
use crate::verdict::Verdict;
use metrics::{
    AtThreshold, Scored, at_threshold, auc, threshold_for_fpr, threshold_for_fpr_continuous,
};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// One classified corpus message.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Where it came from.
    pub origin: String,
    /// Channel.
    pub channel: Channel,
    /// Ground truth.
    pub label: Label,
    /// What the engine said.
    pub verdict: Verdict,
    /// Raw size.
    pub bytes: usize,
    /// Time spent parsing.
    pub parse: Duration,
    /// Time spent classifying.
    pub classify: Duration,
}

impl Sample {
    /// Classify a corpus item with `engine`, timing parse and classification.
    pub fn classify(engine: &crate::Engine, item: &Item) -> Sample {
        let t0 = std::time::Instant::now();
        let msg = item.message(&engine.config().email);
        let t1 = std::time::Instant::now();
        let verdict = engine.classify(&msg);
        let t2 = std::time::Instant::now();
        engine.observe(&msg, &verdict);
        Sample {
            origin: item.origin.clone(),
            channel: item.channel,
            label: item.label,
            verdict,
            bytes: item.size(),
            parse: t1 - t0,
            classify: t2 - t1,
        }
    }
}

/// How one rule did on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    /// Rule id.
    pub id: String,
    /// Its score.
    pub score: f64,
    /// Spam messages it hit.
    pub spam_hits: usize,
    /// Ham messages it hit.
    pub ham_hits: usize,
    /// Share of spam hit, percent.
    pub spam_pct: f64,
    /// Share of ham hit, percent.
    pub ham_pct: f64,
    /// spam% / (spam% + ham%): 1.0 hits only spam, 0.0 only ham.
    pub s_o: f64,
    /// 1 = most useful: ranked by how well the rule separates in the
    /// direction its score points, then by how much it hits.
    pub rank: usize,
    /// Time the rule costs alone over this channel's messages (with `--profile`).
    pub time_ms: Option<f64>,
}

/// Speed of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Messages classified.
    pub messages: usize,
    /// Raw bytes.
    pub bytes: usize,
    /// Wall-clock seconds for parsing and classifying (all threads).
    pub wall_s: f64,
    /// Messages per wall-clock second.
    pub msgs_per_s: f64,
    /// Megabytes per wall-clock second.
    pub mb_per_s: f64,
    /// CPU seconds spent parsing, summed over threads.
    pub parse_cpu_s: f64,
    /// CPU seconds spent classifying, summed over threads.
    pub classify_cpu_s: f64,
    /// Worker threads.
    pub jobs: usize,
}

/// The statistical classifier on its own (its probability as the score).
#[derive(Debug, Clone, Serialize)]
pub struct BayesReport {
    /// Messages the classifier spoke on.
    pub classified: usize,
    /// Metrics with spam at probability 0.5 or more.
    pub at_half: AtThreshold,
    /// Metrics at the lowest probability cut meeting the target FPR.
    pub at_target_fpr: AtThreshold,
    /// ROC area of the probability.
    pub auc: f64,
}

/// Everything measured for one channel.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    /// Channel.
    pub channel: Channel,
    /// Spam messages.
    pub spam: usize,
    /// Ham messages.
    pub ham: usize,
    /// Metrics at the configured threshold.
    pub at_threshold: AtThreshold,
    /// The false-positive rate aimed for in [`Self::at_target_fpr`].
    pub target_fpr: f64,
    /// Metrics at the lowest threshold meeting the target FPR.
    pub at_target_fpr: AtThreshold,
    /// ROC area.
    pub auc: f64,
    /// (1 - AUC) in percent, the TREC spam-track figure.
    pub one_minus_auc_pct: f64,
    /// Per-rule statistics, by rank.
    pub rules: Vec<RuleRow>,
    /// The statistical classifier alone, when a model is loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bayes: Option<BayesReport>,
    /// Speed.
    pub throughput: Throughput,
}

/// Build a channel's report from its samples.
pub fn channel_report(
    channel: Channel,
    samples: &[&Sample],
    threshold: f64,
    target_fpr: f64,
    rule_times: Option<&HashMap<String, Duration>>,
    wall: Duration,
    jobs: usize,
) -> ChannelReport {
    let scored: Vec<Scored> = samples
        .iter()
        .map(|s| Scored {
            spam: s.label == Label::Spam,
            score: s.verdict.score,
        })
        .collect();
    let spam = scored.iter().filter(|s| s.spam).count();
    let ham = scored.len() - spam;
    let mut counts: HashMap<&str, (f64, usize, usize)> = HashMap::new();
    for s in samples {
        for h in &s.verdict.hits {
            let e = counts.entry(&h.id).or_insert((h.score, 0, 0));
            if s.label == Label::Spam {
                e.1 += 1
            } else {
                e.2 += 1
            }
        }
    }
    let mut rules: Vec<RuleRow> = counts
        .into_iter()
        .map(|(id, (score, sh, hh))| {
            let spam_pct = pct(sh, spam);
            let ham_pct = pct(hh, ham);
            RuleRow {
                id: id.to_string(),
                score,
                spam_hits: sh,
                ham_hits: hh,
                spam_pct,
                ham_pct,
                s_o: if spam_pct + ham_pct > 0.0 {
                    spam_pct / (spam_pct + ham_pct)
                } else {
                    0.0
                },
                rank: 0,
                time_ms: rule_times
                    .and_then(|t| t.get(id))
                    .map(|d| d.as_secs_f64() * 1e3),
            }
        })
        .collect();
    let usefulness = |r: &RuleRow| if r.score < 0.0 { 1.0 - r.s_o } else { r.s_o };
    rules.sort_by(|a, b| {
        usefulness(b)
            .total_cmp(&usefulness(a))
            .then((b.spam_hits + b.ham_hits).cmp(&(a.spam_hits + a.ham_hits)))
            .then(a.id.cmp(&b.id))
    });
    for (i, r) in rules.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    let bytes = samples.iter().map(|s| s.bytes).sum();
    let auc = auc(&scored);
    let probs: Vec<Scored> = samples
        .iter()
        .filter_map(|s| {
            s.verdict.bayes.map(|p| Scored {
                spam: s.label == Label::Spam,
                score: p,
            })
        })
        .collect();
    let bayes = (!probs.is_empty()).then(|| BayesReport {
        classified: probs.len(),
        at_half: at_threshold(&probs, 0.5),
        at_target_fpr: at_threshold(&probs, threshold_for_fpr_continuous(&probs, target_fpr)),
        auc: metrics::auc(&probs),
    });
    ChannelReport {
        channel,
        spam,
        ham,
        at_threshold: at_threshold(&scored, threshold),
        target_fpr,
        at_target_fpr: at_threshold(&scored, threshold_for_fpr(&scored, target_fpr)),
        auc,
        one_minus_auc_pct: (1.0 - auc) * 100.0,
        rules,
        bayes,
        throughput: Throughput {
            messages: samples.len(),
            bytes,
            wall_s: wall.as_secs_f64(),
            msgs_per_s: samples.len() as f64 / wall.as_secs_f64().max(1e-9),
            mb_per_s: bytes as f64 / 1e6 / wall.as_secs_f64().max(1e-9),
            parse_cpu_s: samples.iter().map(|s| s.parse.as_secs_f64()).sum(),
            classify_cpu_s: samples.iter().map(|s| s.classify.as_secs_f64()).sum(),
            jobs,
        },
    }
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

/// Per-rule time (with `--profile`): each rule alone over the messages.
pub fn profile_rules(rules: &RuleSet, messages: &[crate::Message]) -> HashMap<String, Duration> {
    rules
        .rules()
        .iter()
        .zip(rules.profile(messages))
        .map(|(r, d)| (r.id.to_string(), d))
        .collect()
}

/// A message whose verdict changed between two rule sets.
#[derive(Debug, Clone, Serialize)]
pub struct Flip {
    /// Where it came from.
    pub origin: String,
    /// Ground truth.
    pub label: Label,
    /// Score under rule set A.
    pub score_a: f64,
    /// Score under rule set B.
    pub score_b: f64,
    /// Whether B now calls it spam.
    pub spam_b: bool,
}

/// Messages whose spam/ham outcome differs between two runs over the same items.
pub fn flips(a: &[Sample], b: &[Sample]) -> Vec<Flip> {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x.verdict.is_spam() != y.verdict.is_spam())
        .map(|(x, y)| Flip {
            origin: x.origin.clone(),
            label: x.label,
            score_a: x.verdict.score,
            score_b: y.verdict.score,
            spam_b: y.verdict.is_spam(),
        })
        .collect()
}
