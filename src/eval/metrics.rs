//! Classification metrics: confusion matrix, recall, false-positive rate,
//! precision, F1, MCC, ROC curve and its area.

use serde::Serialize;

/// One scored, labelled message.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Ground truth: spam.
    pub spam: bool,
    /// The engine's score.
    pub score: f64,
}

/// Metrics at one threshold (spam when score >= threshold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AtThreshold {
    /// The threshold.
    pub threshold: f64,
    /// Spam caught.
    pub tp: usize,
    /// Ham flagged as spam.
    pub fp: usize,
    /// Ham passed.
    pub tn: usize,
    /// Spam missed.
    pub fn_: usize,
    /// tp / (tp + fn).
    pub recall: f64,
    /// fp / (fp + tn).
    pub fpr: f64,
    /// tp / (tp + fp).
    pub precision: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// (tp + tn) / all.
    pub accuracy: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Metrics when messages scoring `threshold` or more are spam.
pub fn at_threshold(samples: &[Scored], threshold: f64) -> AtThreshold {
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for s in samples {
        match (s.spam, s.score >= threshold) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
    }
    let recall = ratio(tp, tp + fn_);
    let precision = ratio(tp, tp + fp);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let (tpf, fpf, tnf, fnf) = (tp as f64, fp as f64, tn as f64, fn_ as f64);
    let denom = ((tpf + fpf) * (tpf + fnf) * (tnf + fpf) * (tnf + fnf)).sqrt();
    let mcc = if denom > 0.0 {
        (tpf * tnf - fpf * fnf) / denom
    } else {
        0.0
    };
    AtThreshold {
        threshold,
        tp,
        fp,
        tn,
        fn_,
        recall,
        fpr: ratio(fp, fp + tn),
        precision,
        f1,
        mcc,
        accuracy: ratio(tp + tn, samples.len()),
    }
}

/// ROC curve points `(fpr, tpr)`, from (0,0) to (1,1), one per distinct score.
pub fn roc(samples: &[Scored]) -> Vec<(f64, f64)> {
    let mut v: Vec<Scored> = samples.to_vec();
    v.sort_by(|a, b| b.score.total_cmp(&a.score));
    let pos = v.iter().filter(|s| s.spam).count().max(1) as f64;
    let neg = v.iter().filter(|s| !s.spam).count().max(1) as f64;
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < v.len() {
        let score = v[i].score;
        while i < v.len() && v[i].score == score {
            if v[i].spam {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        pts.push((fp / neg, tp / pos));
    }
    if pts.last() != Some(&(1.0, 1.0)) {
        pts.push((1.0, 1.0));
    }
    pts
}

/// Area under the ROC curve (ties count half), by the trapezoid rule.
pub fn auc(samples: &[Scored]) -> f64 {
    roc(samples)
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

/// The lowest threshold, in the 0.1 steps scores are reported in, whose
/// false-positive rate is at most `target_fpr`.
pub fn threshold_for_fpr(samples: &[Scored], target_fpr: f64) -> f64 {
    match fpr_boundary(samples, target_fpr) {
        Some(boundary) => ((boundary * 10.0).round() + 1.0) / 10.0,
        None => f64::NEG_INFINITY,
    }
}

/// Like [`threshold_for_fpr`] for continuous values (probabilities): the
/// smallest value seen above the boundary ham value.
pub fn threshold_for_fpr_continuous(samples: &[Scored], target_fpr: f64) -> f64 {
    match fpr_boundary(samples, target_fpr) {
        Some(b) => samples
            .iter()
            .map(|s| s.score)
            .filter(|&v| v > b)
            .fold(f64::INFINITY, f64::min),
        None => f64::NEG_INFINITY,
    }
}

/// The score of the ham message that must fall below the threshold.
fn fpr_boundary(samples: &[Scored], target_fpr: f64) -> Option<f64> {
    let mut ham: Vec<f64> = samples
        .iter()
        .filter(|s| !s.spam)
        .map(|s| s.score)
        .collect();
    ham.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target_fpr * ham.len() as f64).floor() as usize;
    ham.get(allowed).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(spam: bool, score: f64) -> Scored {
        Scored { spam, score }
    }

    #[test]
    fn confusion_and_rates() {
        let v = [
            s(true, 9.0),
            s(true, 6.0),
            s(true, 1.0),
            s(false, 5.5),
            s(false, 0.0),
            s(false, -1.0),
        ];
        let m = at_threshold(&v, 5.0);
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (2, 1, 1, 2));
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.fpr - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.mcc - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn auc_perfect_random_and_ties() {
        assert_eq!(auc(&[s(true, 2.0), s(false, 1.0)]), 1.0);
        assert_eq!(auc(&[s(true, 1.0), s(false, 2.0)]), 0.0);
        assert_eq!(auc(&[s(true, 1.0), s(false, 1.0)]), 0.5);
    }

    #[test]
    fn threshold_meeting_target_fpr() {
        let v = [
            s(false, 1.0),
            s(false, 2.0),
            s(false, 3.0),
            s(false, 4.0),
            s(true, 3.5),
            s(true, 10.0),
        ];
        // no false positive allowed: one step above the highest ham (4.0)
        assert_eq!(threshold_for_fpr(&v, 0.0), 4.1);
        // 1 of 4 ham allowed (25%): one step above the second-highest ham
        let t = threshold_for_fpr(&v, 0.25);
        assert_eq!(t, 3.1);
        assert_eq!(at_threshold(&v, t).fp, 1);
    }
}
