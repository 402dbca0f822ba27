//! Learning measured as it is used (the TREC spam track's immediate
//! feedback task): the corpus is read in order, each message is classified
//! by a model that has learned every message before it, then learned with
//! its true label (or only when it was misclassified: train on error). The
//! result is (1-ROCA)% over the whole run and its learning curve.

use super::metrics::{Scored, auc};
use crate::bayes::{Counts, Learned, MemoryStore, TokenStore, TokenStoreMut, features};
use crate::corpus::{Item, Label};
use crate::message::Channel;
use std::sync::{Arc, RwLock};

/// A model that learns while it is read: a [`MemoryStore`] behind a lock,
/// read feature by feature (no clue table to rebuild after every message).
#[derive(Debug, Default)]
pub struct LearningStore(RwLock<MemoryStore>);

impl LearningStore {
    /// Start from a trained model (or an empty one).
    pub fn new(base: MemoryStore) -> LearningStore {
        LearningStore(RwLock::new(base))
    }

    /// Learn one message's features.
    pub fn learn(&self, features: &[u64], label: Label) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .learn(features, label, 1);
    }
}

impl TokenStore for LearningStore {
    fn counts(&self, feature: u64) -> Counts {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .counts(feature)
    }
    fn learned(&self) -> Learned {
        self.0.read().unwrap_or_else(|e| e.into_inner()).learned()
    }
    fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }
    fn lists_features(&self) -> bool {
        false
    }
    fn lookup(
        &self,
        features: &[u64],
    ) -> Result<(Learned, Vec<Counts>), crate::state::Unavailable> {
        let s = self.0.read().unwrap_or_else(|e| e.into_inner());
        Ok((s.learned(), features.iter().map(|&f| s.counts(f)).collect()))
    }
}

/// One point of a learning curve: after `seen` messages, (1-ROCA)% of the
/// last window of messages.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// Messages classified so far.
    pub seen: usize,
    /// (1 - area under the ROC curve) × 100 over the window ending here.
    pub one_minus_roca_pct: f64,
}

/// The result of an online run of one channel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OnlineReport {
    /// Channel.
    pub channel: Channel,
    /// Messages classified.
    pub messages: usize,
    /// Messages learned (all, or the misclassified ones).
    pub learned: usize,
    /// (1-ROCA)% of the engine's score (rules and model) over the run.
    pub one_minus_roca_pct: f64,
    /// (1-ROCA)% of the model's probability alone, over the messages it
    /// spoke on.
    pub bayes_one_minus_roca_pct: Option<f64>,
    /// Misclassified at the configured threshold: spam missed, ham flagged.
    pub errors: (usize, usize),
    /// The learning curve, ten windows.
    pub curve: Vec<CurvePoint>,
}

/// Run `items` (of one channel) in order through `engine`, whose model is
/// `store`; learn each message after classifying it (every message, or only
/// misclassified ones with `train_on_error`).
pub fn run(
    engine: &crate::Engine,
    store: &Arc<LearningStore>,
    items: &[&Item],
    channel: Channel,
    train_on_error: bool,
) -> OnlineReport {
    let opts = engine.config().bayes.tokenizer();
    let mut scored: Vec<Scored> = Vec::with_capacity(items.len());
    let mut bayes: Vec<Scored> = Vec::new();
    let (mut learned, mut missed, mut flagged) = (0, 0, 0);
    for item in items {
        let msg = item.message(&engine.config().email);
        let v = engine.classify(&msg);
        let spam = item.label == Label::Spam;
        scored.push(Scored {
            spam,
            score: v.score,
        });
        if let Some(p) = v.bayes {
            bayes.push(Scored { spam, score: p });
        }
        let wrong = v.is_spam() != spam;
        missed += usize::from(wrong && spam);
        flagged += usize::from(wrong && !spam);
        if !train_on_error || wrong {
            store.learn(&features(&msg, &opts), item.label);
            learned += 1;
        }
    }
    let window = scored.len().div_ceil(10).max(1);
    let curve = scored
        .chunks(window)
        .enumerate()
        .filter(|(_, w)| w.iter().any(|s| s.spam) && w.iter().any(|s| !s.spam))
        .map(|(i, w)| CurvePoint {
            seen: (i * window + w.len()).min(scored.len()),
            one_minus_roca_pct: (1.0 - auc(w)) * 100.0,
        })
        .collect();
    let both = |s: &[Scored]| s.iter().any(|x| x.spam) && s.iter().any(|x| !x.spam);
    OnlineReport {
        channel,
        messages: scored.len(),
        learned,
        one_minus_roca_pct: if both(&scored) {
            (1.0 - auc(&scored)) * 100.0
        } else {
            f64::NAN
        },
        bayes_one_minus_roca_pct: both(&bayes).then(|| (1.0 - auc(&bayes)) * 100.0),
        errors: (missed, flagged),
        curve,
    }
}

impl OnlineReport {
    /// The report as text.
    pub fn to_text(&self, train_on_error: bool) -> String {
        let mut out = format!(
            "== {} online ({}): {} messages, {} learned\n(1-ROCA)% {:.4} (rules and model){}\nat the threshold: {} spam missed, {} ham flagged\nlearning curve, (1-ROCA)% per tenth of the run:\n",
            self.channel,
            if train_on_error {
                "train on error"
            } else {
                "train on everything"
            },
            self.messages,
            self.learned,
            self.one_minus_roca_pct,
            self.bayes_one_minus_roca_pct
                .map(|b| format!(", model alone {b:.4}"))
                .unwrap_or_default(),
            self.errors.0,
            self.errors.1
        );
        for p in &self.curve {
            out += &format!("  after {:>7}: {:.4}\n", p.seen, p.one_minus_roca_pct);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Payload;

    #[test]
    fn a_model_learning_online_gets_better() {
        // Two kinds of text, alternating; the model speaks after 5 of each.
        let items: Vec<Item> = (0..200)
            .map(|i| {
                let spam = i % 2 == 0;
                let text = if spam {
                    format!("win cash prize now claim reward {i}")
                } else {
                    format!("meeting notes for the project review {i}")
                };
                Item {
                    origin: format!("t:{i}"),
                    channel: Channel::Sms,
                    label: if spam { Label::Spam } else { Label::Ham },
                    payload: Payload::Text { text, from: None },
                }
            })
            .collect();
        let refs: Vec<&Item> = items.iter().collect();
        let fresh = || {
            let store = Arc::new(LearningStore::default());
            let mut config = crate::Config::default();
            config.bayes.min_spam = 5;
            config.bayes.min_ham = 5;
            let engine = crate::Engine::builder()
                .config(config)
                .token_store(Arc::clone(&store) as Arc<dyn TokenStore>)
                .build()
                .expect("engine");
            (store, engine)
        };
        let (store, engine) = fresh();
        let r = run(&engine, &store, &refs, Channel::Sms, false);
        assert_eq!((r.messages, r.learned), (200, 200));
        assert_eq!(r.curve.len(), 10);
        // Once it has learned, it separates the two kinds perfectly.
        assert_eq!(r.curve.last().expect("curve").one_minus_roca_pct, 0.0);
        assert!(r.bayes_one_minus_roca_pct.is_some());
        // Train on error learns only what it got wrong.
        let (store, engine) = fresh();
        let r = run(&engine, &store, &refs, Channel::Sms, true);
        assert!(r.learned < 200, "{}", r.learned);
    }
}
