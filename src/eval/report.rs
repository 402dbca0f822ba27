//! The eval report as people and machines read it: a terminal table,
//! Markdown, JSON.

use super::metrics::AtThreshold;
use super::{ChannelReport, Flip};
use serde::Serialize;
use std::fmt::Write;

/// A whole eval run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Which half was used.
    pub split: String,
    /// The rule set used (`built-in` or a directory).
    pub rules: String,
    /// Sources read.
    pub sources: Vec<String>,
    /// Entries that could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
    /// One report per channel present.
    pub channels: Vec<ChannelReport>,
    /// With `--compare`: the second rule set's results and what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// A comparison of two rule sets over the same messages.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The second rule set.
    pub rules_b: String,
    /// Its per-channel results.
    pub channels_b: Vec<ChannelReport>,
    /// Messages whose outcome changed.
    pub flips: Vec<Flip>,
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn metrics_row(name: &str, m: &AtThreshold) -> Vec<String> {
    vec![
        name.to_string(),
        format!("{:.1}", m.threshold),
        m.tp.to_string(),
        m.fn_.to_string(),
        m.fp.to_string(),
        m.tn.to_string(),
        pct(m.recall),
        pct(m.fpr),
        pct(m.precision),
        format!("{:.4}", m.f1),
        format!("{:.4}", m.mcc),
        pct(m.accuracy),
    ]
}

const METRIC_HEAD: [&str; 12] = [
    "at",
    "threshold",
    "TP",
    "FN",
    "FP",
    "TN",
    "recall",
    "FPR",
    "precision",
    "F1",
    "MCC",
    "accuracy",
];

/// Render rows as an aligned plain-text table.
fn text_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = w[i])
                } else {
                    format!("{c:>w$}", w = w[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = line(head.to_vec()) + "\n";
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
        out.push('\n');
    }
    out
}

fn md_table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "| {} |\n|{}|\n",
        head.join(" | "),
        head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        out += &format!("| {} |\n", r.join(" | "));
    }
    out
}

fn rule_rows(c: &ChannelReport, top: usize) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let timed = c.rules.iter().any(|r| r.time_ms.is_some());
    let mut head = vec![
        "rank",
        "rule",
        "score",
        "spam hits",
        "ham hits",
        "spam%",
        "ham%",
        "S/O",
    ];
    if timed {
        head.push("time ms");
    }
    let rows = c
        .rules
        .iter()
        .take(top)
        .map(|r| {
            let mut row = vec![
                r.rank.to_string(),
                r.id.clone(),
                format!("{:.1}", r.score),
                r.spam_hits.to_string(),
                r.ham_hits.to_string(),
                format!("{:.2}", r.spam_pct),
                format!("{:.2}", r.ham_pct),
                format!("{:.3}", r.s_o),
            ];
            if timed {
                row.push(r.time_ms.map_or("-".into(), |t| format!("{t:.2}")));
            }
            row
        })
        .collect();
    (head, rows)
}

fn throughput_line(c: &ChannelReport) -> String {
    let t = &c.throughput;
    format!(
        "{} messages, {:.1} MB in {:.2} s on {} thread(s): {:.0} msg/s, {:.1} MB/s; CPU: parse {:.2} s, classify {:.2} s",
        t.messages,
        t.bytes as f64 / 1e6,
        t.wall_s,
        t.jobs,
        t.msgs_per_s,
        t.mb_per_s,
        t.parse_cpu_s,
        t.classify_cpu_s
    )
}

fn delta(a: f64, b: f64) -> String {
    format!("{:+.2} pp", (b - a) * 100.0)
}

impl Report {
    /// Plain-text report for the terminal; `top` rules per channel.
    pub fn to_text(&self, top: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "split: {}   rules: {}   sources: {}",
            self.split,
            self.rules,
            self.sources.len()
        );
        if !self.unreadable.is_empty() {
            let _ = writeln!(
                out,
                "unreadable: {} (listed on stderr)",
                self.unreadable.len()
            );
        }
        for c in &self.channels {
            let _ = writeln!(out, "\n== {}: {} spam, {} ham", c.channel, c.spam, c.ham);
            let rows = vec![
                metrics_row("config", &c.at_threshold),
                metrics_row(&format!("FPR<={}", pct(c.target_fpr)), &c.at_target_fpr),
            ];
            out += &text_table(&METRIC_HEAD, &rows);
            let _ = writeln!(
                out,
                "ROC AUC {:.5}   (1-AUC) {:.3}%",
                c.auc, c.one_minus_auc_pct
            );
            if let Some(b) = &c.bayes {
                let _ = writeln!(
                    out,
                    "Bayes alone ({} classified): AUC {:.5}",
                    b.classified, b.auc
                );
                let rows = vec![
                    metrics_row("p>=0.5", &b.at_half),
                    metrics_row("FPR target", &b.at_target_fpr),
                ];
                out += &text_table(&METRIC_HEAD, &rows);
            }
            let _ = writeln!(out, "{}", throughput_line(c));
            if top > 0 && !c.rules.is_empty() {
                let (head, rows) = rule_rows(c, top);
                out.push('\n');
                out += &text_table(&head, &rows);
            }
        }
        if let Some(cmp) = &self.comparison {
            out += &self.comparison_text(cmp, false);
        }
        out
    }

    fn comparison_text(&self, cmp: &Comparison, markdown: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{} compare: {} (A) vs {} (B)",
            if markdown { "##" } else { "==" },
            self.rules,
            cmp.rules_b
        );
        let head = [
            "channel",
            "recall A",
            "recall B",
            "Δ recall",
            "FPR A",
            "FPR B",
            "Δ FPR",
            "AUC A",
            "AUC B",
        ];
        let rows: Vec<Vec<String>> = self
            .channels
            .iter()
            .zip(&cmp.channels_b)
            .map(|(a, b)| {
                vec![
                    a.channel.to_string(),
                    pct(a.at_threshold.recall),
                    pct(b.at_threshold.recall),
                    delta(a.at_threshold.recall, b.at_threshold.recall),
                    pct(a.at_threshold.fpr),
                    pct(b.at_threshold.fpr),
                    delta(a.at_threshold.fpr, b.at_threshold.fpr),
                    format!("{:.5}", a.auc),
                    format!("{:.5}", b.auc),
                ]
            })
            .collect();
        out += &if markdown {
            md_table(&head, &rows)
        } else {
            text_table(&head, &rows)
        };
        let _ = writeln!(out, "\n{} message(s) flipped:", cmp.flips.len());
        for f in cmp.flips.iter().take(50) {
            let _ = writeln!(
                out,
                "{}{} {} ({}): {:.1} -> {:.1}, now {}",
                if markdown { "- " } else { "  " },
                if f.spam_b == (f.label == crate::corpus::Label::Spam) {
                    "FIXED "
                } else {
                    "BROKEN"
                },
                f.origin,
                f.label,
                f.score_a,
                f.score_b,
                if f.spam_b { "spam" } else { "ham" }
            );
        }
        out
    }

    /// Markdown report for people; `top` rules per channel; `plots` is the
    /// plot folder as the report file reaches it (relative to the report's
    /// folder), when plots are written.
    pub fn to_markdown(&self, top: usize, plots: Option<&str>) -> String {
        let mut out = String::from("# spamsift eval report\n\n");
        let _ = writeln!(out, "- split: `{}`\n- rules: `{}`", self.split, self.rules);
        for s in &self.sources {
            let _ = writeln!(out, "- source: `{s}`");
        }
        if !self.unreadable.is_empty() {
            let _ = writeln!(out, "- unreadable entries: {}", self.unreadable.len());
        }
        for c in &self.channels {
            let _ = writeln!(out, "\n## {} — {} spam, {} ham\n", c.channel, c.spam, c.ham);
            let rows = vec![
                metrics_row("configured threshold", &c.at_threshold),
                metrics_row(&format!("FPR ≤ {}", pct(c.target_fpr)), &c.at_target_fpr),
            ];
            out += &md_table(&METRIC_HEAD, &rows);
            let _ = writeln!(
                out,
                "\nROC AUC **{:.5}**, (1-AUC) {:.3}%.\n",
                c.auc, c.one_minus_auc_pct
            );
            if let Some(b) = &c.bayes {
                let _ = writeln!(
                    out,
                    "Bayes alone ({} classified): ROC AUC **{:.5}**\n",
                    b.classified, b.auc
                );
                let rows = vec![
                    metrics_row("p ≥ 0.5", &b.at_half),
                    metrics_row("FPR target", &b.at_target_fpr),
                ];
                out += &md_table(&METRIC_HEAD, &rows);
                out.push('\n');
            }
            let _ = writeln!(out, "Throughput: {}.\n", throughput_line(c));
            if let Some(dir) = plots {
                let dir = if dir.is_empty() || dir.ends_with('/') {
                    dir.to_string()
                } else {
                    format!("{dir}/")
                };
                let _ = writeln!(
                    out,
                    "![ROC]({dir}{0}-roc.svg) ![scores]({dir}{0}-scores.svg)\n",
                    c.channel
                );
            }
            if top > 0 && !c.rules.is_empty() {
                let (head, rows) = rule_rows(c, top);
                out += &md_table(&head, &rows);
            }
        }
        if let Some(cmp) = &self.comparison {
            out += &self.comparison_text(cmp, true);
        }
        out
    }
}
