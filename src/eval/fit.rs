//! Fitting rule scores to labelled mail, as SpamAssassin sites run their
//! perceptron, but so that a score cannot learn the wrong sign: each rule
//! declares what it is evidence of ([`Evidence`]), and its fitted score
//! stays on that side of zero.
//!
//! The model is the filter's own: a message's score is the sum of its
//! rules' scores, and P(spam) = sigmoid((score - threshold) / 2). The fit
//! minimises the cost-weighted log loss (a false positive costs
//! `ham_cost` misses) plus an L2 pull toward each rule's hand-set score,
//! by projected gradient descent: after each step every score goes back
//! into its side's range. The pull is what shrinks a rule with few hits
//! toward its hand-set score: its share of the loss is small, so the pull
//! wins, while a rule hit by thousands of messages moves as the data says.
//! Fit on all the corpora of a channel together, never on a test half.

use crate::rules::Evidence;

/// How scores are fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The threshold the scores are fitted to (the channel's `tag`).
    pub threshold: f64,
    /// What a false positive costs, in missed spam.
    pub ham_cost: f64,
    /// Pull toward the hand-set scores (per message of the corpus).
    pub l2: f64,
    /// Largest score of a spam sign.
    pub max_score: f64,
    /// Lowest score of a ham sign: a sign a spammer can forge must not buy
    /// much.
    pub min_score: f64,
    /// Gradient steps.
    pub steps: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            threshold: 5.0,
            ham_cost: 20.0,
            l2: 0.005,
            max_score: 4.5,
            min_score: -2.0,
            steps: 3000,
        }
    }
}

/// A rule as the fit sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FitRule {
    /// Its id.
    pub id: String,
    /// Its hand-set score (the starting point and the pull's target).
    pub score: f64,
    /// What it is evidence of.
    pub evidence: Evidence,
}

/// A labelled message: the rules it hit (indexes into the rule list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Rules hit.
    pub hits: Vec<usize>,
    /// Labelled spam.
    pub spam: bool,
}

/// A rule's fitted score and what it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    /// The rule's id.
    pub id: String,
    /// Its hand-set score.
    pub before: f64,
    /// Its fitted score (rounded to 0.1; on the side of its evidence).
    pub after: f64,
    /// Spam messages it hit.
    pub spam_hits: usize,
    /// Ham messages it hit.
    pub ham_hits: usize,
}

/// The range a score of this evidence may take.
fn range(e: Evidence, o: &FitOptions) -> (f64, f64) {
    match e {
        Evidence::Spam => (0.0, o.max_score),
        Evidence::Ham => (o.min_score, 0.0),
        Evidence::None => (0.0, 0.0),
    }
}

/// Fit the scores of `rules` to `examples`. Rules no example hits keep
/// their score, as do those of evidence `none` (at 0).
pub fn fit(rules: &[FitRule], examples: &[Example], o: &FitOptions) -> Vec<Fitted> {
    let n = examples.len().max(1) as f64;
    let start: Vec<f64> = rules
        .iter()
        .map(|r| {
            let (lo, hi) = range(r.evidence, o);
            r.score.clamp(lo, hi)
        })
        .collect();
    let mut w = start.clone();
    let mut hits = vec![(0usize, 0usize); rules.len()];
    for e in examples {
        for &i in &e.hits {
            if let Some(h) = hits.get_mut(i) {
                if e.spam { h.0 += 1 } else { h.1 += 1 }
            }
        }
    }
    let fitted: Vec<bool> = rules
        .iter()
        .zip(&hits)
        .map(|(r, h)| r.evidence != Evidence::None && h.0 + h.1 > 0)
        .collect();
    let mut grad = vec![0.0; rules.len()];
    // A step size that is stable for the logistic loss on sums of scores.
    let lr = 0.5;
    for _ in 0..o.steps {
        grad.iter_mut().for_each(|g| *g = 0.0);
        for e in examples {
            let s: f64 = e.hits.iter().filter_map(|&i| w.get(i)).sum();
            let p = 1.0 / (1.0 + (-(s - o.threshold) / 2.0).exp());
            let (y, cost) = if e.spam {
                (1.0, 1.0)
            } else {
                (0.0, o.ham_cost)
            };
            let g = (p - y) * cost / 2.0 / n;
            for &i in &e.hits {
                if let Some(x) = grad.get_mut(i) {
                    *x += g;
                }
            }
        }
        for (i, r) in rules.iter().enumerate() {
            if !fitted[i] {
                continue;
            }
            let (lo, hi) = range(r.evidence, o);
            let g = grad[i] + o.l2 * (w[i] - start[i]);
            w[i] = (w[i] - lr * 10.0 * g).clamp(lo, hi);
        }
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| Fitted {
            id: r.id.clone(),
            before: r.score,
            after: if fitted[i] {
                (w[i] * 10.0).round() / 10.0 + 0.0
            } else {
                r.score
            },
            spam_hits: hits[i].0,
            ham_hits: hits[i].1,
        })
        .collect()
}

/// Spam caught and ham flagged at the threshold with these scores.
pub fn confusion(examples: &[Example], scores: &[f64], threshold: f64) -> (usize, usize) {
    let mut tp = 0;
    let mut fp = 0;
    for e in examples {
        let s: f64 = e.hits.iter().filter_map(|&i| scores.get(i)).sum();
        if s >= threshold {
            if e.spam {
                tp += 1;
            } else {
                fp += 1;
            }
        }
    }
    (tp, fp)
}

/// The fitted scores that changed, as a rule file a `[rules] local`
/// directory loads (`[[score]]` entries), with what each was fitted on.
pub fn score_file(fitted: &[Fitted], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for f in fitted.iter().filter(|f| f.after != f.before) {
        out.push_str(&format!(
            "\n[[score]]  # was {}; hit {} spam, {} ham\nid = \"{}\"\nscore = {}\n",
            f.before,
            f.spam_hits,
            f.ham_hits,
            f.id,
            fmt_score(f.after)
        ));
    }
    out
}

/// A score as TOML writes a float (always with a decimal point).
fn fmt_score(s: f64) -> String {
    let t = format!("{s}");
    if t.contains('.') { t } else { format!("{t}.0") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, score: f64, evidence: Evidence) -> FitRule {
        FitRule {
            id: id.into(),
            score,
            evidence,
        }
    }

    #[test]
    fn no_score_crosses_to_the_other_side() {
        // A "spam sign" that the data says is a ham sign (hit by ham only)
        // falls toward 0, never below; a ham sign hit by spam only goes to
        // 0, never above; a none stays 0.
        let rules = [
            rule("SPAMMY", 2.0, Evidence::Spam),
            rule("HAMMY", -1.0, Evidence::Ham),
            rule("BACKWARDS_SPAM", 2.0, Evidence::Spam),
            rule("BACKWARDS_HAM", -1.0, Evidence::Ham),
            rule("FACT", 0.0, Evidence::None),
        ];
        let mut ex = Vec::new();
        for i in 0..400 {
            ex.push(Example {
                hits: vec![0, 3, 4],
                spam: true,
            });
            ex.push(Example {
                hits: if i % 2 == 0 { vec![1, 2, 4] } else { vec![1] },
                spam: false,
            });
        }
        let f = fit(&rules, &ex, &FitOptions::default());
        let by = |id: &str| f.iter().find(|x| x.id == id).map(|x| x.after).unwrap();
        assert!(by("SPAMMY") > 2.0, "{f:?}");
        assert!(by("HAMMY") < -1.0 && by("HAMMY") >= -2.0, "{f:?}");
        let b = by("BACKWARDS_SPAM");
        assert!((0.0..1.0).contains(&b), "{f:?}");
        assert_eq!(by("BACKWARDS_HAM"), 0.0, "{f:?}");
        assert_eq!(by("FACT"), 0.0);
        assert!(f.iter().all(|x| x.after <= 4.5 && x.after >= -2.0));
    }

    #[test]
    fn a_rule_with_few_hits_stays_near_its_hand_set_score() {
        let rules = [
            rule("COMMON", 1.0, Evidence::Spam),
            rule("RARE", 1.0, Evidence::Spam),
        ];
        let mut ex = Vec::new();
        for i in 0..2000 {
            // COMMON hits every spam; RARE hits 3 ham.
            ex.push(Example {
                hits: vec![0],
                spam: true,
            });
            ex.push(Example {
                hits: if i < 3 { vec![1] } else { vec![] },
                spam: false,
            });
        }
        let f = fit(&rules, &ex, &FitOptions::default());
        assert!(f[0].after >= 4.0, "{f:?}");
        assert!(f[1].after >= 0.5 && f[1].after <= 1.0, "{f:?}");
        assert_eq!((f[1].spam_hits, f[1].ham_hits), (0, 3));
    }

    #[test]
    fn the_score_file_lists_what_changed() {
        let f = [
            Fitted {
                id: "A".into(),
                before: 1.0,
                after: 2.0,
                spam_hits: 5,
                ham_hits: 1,
            },
            Fitted {
                id: "B".into(),
                before: 1.0,
                after: 1.0,
                spam_hits: 0,
                ham_hits: 0,
            },
        ];
        let text = score_file(&f, "fitted");
        assert!(
            text.contains("id = \"A\"\nscore = 2.0") && !text.contains("\"B\""),
            "{text}"
        );
        let parsed: toml::Table = toml::from_str(&text).expect("TOML");
        assert_eq!(parsed["score"].as_array().map(Vec::len), Some(1));
    }
}
