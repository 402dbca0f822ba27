//! Combining feature statistics into a spam probability and a band hit.

use super::store::TokenStore;
use crate::message::{Channel, Message};
use crate::verdict::Hit;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A probability band and the score its hit adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Hit id, e.g. `BAYES_99`.
    pub id: String,
    /// Lower bound (inclusive) of the probability.
    pub min: f64,
    /// Score added.
    pub score: f64,
}

/// Classifier settings (the `[bayes]` section of the configuration).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BayesConfig {
    /// Spam messages that must be learned before the classifier speaks.
    pub min_spam: u64,
    /// Ham messages that must be learned before the classifier speaks.
    pub min_ham: u64,
    /// Robinson's strength of the prior for rare features (s).
    pub prior_strength: f64,
    /// Robinson's prior probability for unseen features (x).
    pub prior_probability: f64,
    /// Features whose probability is within this of 0.5 are ignored.
    pub min_deviation: f64,
    /// At most this many of the most extreme features are combined.
    pub max_features: usize,
    /// Bands, from the lowest probability up; the highest band whose `min`
    /// the probability reaches is hit.
    pub bands: Vec<Band>,
    /// Add orthogonal sparse bigrams to the words (train and classify alike).
    pub osb: bool,
    /// Tokenize every header field's words (train and classify alike).
    pub all_headers: bool,
    /// Words read per text field.
    pub max_words: usize,
    /// Grade the band's score by where the probability falls inside the band
    /// (linear between this band's score and the next one's), so the total
    /// score keeps the model's confidence instead of a few steps.
    pub interpolate: bool,
    /// When above zero, the hit scores `logit_scale × ln(p / (1 - p))`
    /// (bounded by `logit_cap`) instead of the band scores, so the total keeps
    /// the model's full ranking; the band still names the hit.
    pub logit_scale: f64,
    /// Bound of the logit score, both signs.
    pub logit_cap: f64,
    /// `logit_scale` for SMS and IM, whose short texts give less extreme
    /// probabilities (0 = use the bands).
    pub short_logit_scale: f64,
    /// `min_deviation` for SMS and IM: short texts have few features, so
    /// weaker ones must count.
    pub short_min_deviation: f64,
    /// `prior_strength` for SMS and IM.
    pub short_prior_strength: f64,
}

impl BayesConfig {
    /// The tokenizer settings.
    pub fn tokenizer(&self) -> super::tokenizer::TokenizerOptions {
        super::tokenizer::TokenizerOptions {
            osb: self.osb,
            all_headers: self.all_headers,
            max_words: self.max_words,
        }
    }
}

impl Default for BayesConfig {
    fn default() -> Self {
        let band = |id: &str, min: f64, score: f64| Band {
            id: id.into(),
            min,
            score,
        };
        BayesConfig {
            min_spam: 200,
            min_ham: 200,
            prior_strength: 0.1,
            prior_probability: 0.52,
            min_deviation: 0.375,
            max_features: 150,
            bands: vec![
                band("BAYES_00", 0.0, -3.0),
                band("BAYES_05", 0.01, -1.5),
                band("BAYES_20", 0.05, -0.5),
                band("BAYES_40", 0.20, -0.2),
                band("BAYES_50", 0.40, 0.5),
                band("BAYES_60", 0.60, 1.5),
                band("BAYES_80", 0.80, 2.5),
                band("BAYES_95", 0.95, 3.5),
                band("BAYES_99", 0.99, 4.5),
                band("BAYES_999", 0.999, 5.5),
            ],
            osb: false,
            all_headers: true,
            max_words: super::tokenizer::MAX_WORDS,
            interpolate: true,
            logit_scale: 0.6,
            logit_cap: 25.0,
            short_logit_scale: 1.0,
            short_min_deviation: 0.2,
            short_prior_strength: 0.45,
        }
    }
}

/// A trained model with its settings; immutable, shared by the engine.
#[derive(Debug)]
pub struct Classifier {
    store: std::sync::Arc<dyn TokenStore>,
    config: BayesConfig,
    band_hits: Vec<Hit>,
}

/// `P(chi2 >= x2)` for `v` (even) degrees of freedom.
fn chi2q(x2: f64, v: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..v / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

impl Classifier {
    /// A classifier over a store.
    pub fn new(store: std::sync::Arc<dyn TokenStore>, config: BayesConfig) -> Classifier {
        let band_hits = config
            .bands
            .iter()
            .map(|b| Hit {
                id: Arc::from(b.id.as_str()),
                score: b.score,
                description: Arc::from(
                    format!("Bayes spam probability is {:.1}% or more", b.min * 100.0).as_str(),
                ),
            })
            .collect();
        Classifier {
            store,
            config,
            band_hits,
        }
    }

    /// The store read.
    pub fn store(&self) -> &dyn TokenStore {
        self.store.as_ref()
    }

    /// The settings.
    pub fn config(&self) -> &BayesConfig {
        &self.config
    }

    /// Whether enough messages were learned for the classifier to speak.
    pub fn ready(&self) -> bool {
        let l = self.store.learned();
        l.spam >= self.config.min_spam && l.ham >= self.config.min_ham
    }

    /// Spam probability of a feature set of a message of `channel`, `None`
    /// until [`ready`](Self::ready).
    pub fn probability_of(&self, features: &[u64], channel: Channel) -> Option<f64> {
        if !self.ready() {
            return None;
        }
        let l = self.store.learned();
        let (ns, nh) = (l.spam.max(1) as f64, l.ham.max(1) as f64);
        let c = &self.config;
        let (s, x, min_dev) = match channel {
            Channel::Email => (c.prior_strength, c.prior_probability, c.min_deviation),
            _ => (
                c.short_prior_strength,
                c.prior_probability,
                c.short_min_deviation,
            ),
        };
        let mut clues: Vec<f64> = Vec::with_capacity(features.len().min(4096));
        for &f in features {
            let c = self.store.counts(f);
            let n = (c.spam + c.ham) as f64;
            if n == 0.0 {
                continue;
            }
            let sr = c.spam as f64 / ns;
            let hr = c.ham as f64 / nh;
            let p = sr / (sr + hr);
            let fw = (s * x + n * p) / (s + n);
            if (fw - 0.5).abs() >= min_dev {
                clues.push(fw.clamp(1e-6, 1.0 - 1e-6));
            }
        }
        if clues.len() > self.config.max_features {
            let k = self.config.max_features;
            clues.select_nth_unstable_by(k, |a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
            clues.truncate(k);
        }
        if clues.is_empty() {
            return Some(0.5);
        }
        let n = clues.len();
        let ln_h: f64 = clues.iter().map(|p| p.ln()).sum();
        let ln_s: f64 = clues.iter().map(|p| (1.0 - p).ln()).sum();
        let h = 1.0 - chi2q(-2.0 * ln_h, 2 * n);
        let sp = 1.0 - chi2q(-2.0 * ln_s, 2 * n);
        Some(((sp - h + 1.0) / 2.0).clamp(0.0, 1.0))
    }

    /// Spam probability of a message.
    pub fn probability(&self, msg: &Message) -> Option<f64> {
        self.probability_of(
            &super::tokenizer::features(msg, &self.config.tokenizer()),
            msg.channel,
        )
    }

    /// The band hit for a probability of a message of `channel`, with its
    /// (possibly graded) score.
    pub fn band(&self, p: f64, channel: Channel) -> Option<Hit> {
        let scale = match channel {
            Channel::Email => self.config.logit_scale,
            _ => self.config.short_logit_scale,
        };
        let bands = &self.config.bands;
        let i = bands.iter().rposition(|b| p >= b.min)?;
        let mut hit = self.band_hits[i].clone();
        if scale > 0.0 {
            let q = p.clamp(1e-12, 1.0 - 1e-12);
            let v =
                (scale * (q / (1.0 - q)).ln()).clamp(-self.config.logit_cap, self.config.logit_cap);
            hit.score = (v * 100.0).round() / 100.0;
        } else if self.config.interpolate
            && let Some(next) = bands.get(i + 1)
            && next.min > bands[i].min
        {
            let t = ((p - bands[i].min) / (next.min - bands[i].min)).clamp(0.0, 1.0);
            hit.score = bands[i].score + t * (next.score - bands[i].score);
            hit.score = (hit.score * 100.0).round() / 100.0;
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::{MemoryStore, TokenStoreMut};
    use super::*;
    use crate::corpus::Label;

    #[test]
    fn chi2q_known_values() {
        assert!((chi2q(0.0, 2) - 1.0).abs() < 1e-12);
        // P(chi2_2 >= 2 ln 20) = 1/20
        assert!((chi2q(2.0 * 20f64.ln(), 2) - 0.05).abs() < 1e-12);
    }

    #[test]
    fn learns_and_separates() {
        let mut s = MemoryStore::new();
        for _ in 0..5 {
            s.learn(&[1, 2, 3], Label::Spam, 1);
            s.learn(&[7, 8, 9], Label::Ham, 1);
        }
        let cfg = BayesConfig {
            min_spam: 5,
            min_ham: 5,
            ..BayesConfig::default()
        };
        let c = Classifier::new(std::sync::Arc::new(s), cfg);
        assert!(c.probability_of(&[1, 2, 3], Channel::Email).unwrap() > 0.99);
        assert!(c.probability_of(&[7, 8, 9], Channel::Email).unwrap() < 0.01);
        assert_eq!(c.probability_of(&[100], Channel::Email), Some(0.5));
        let email = Channel::Email;
        assert_eq!(&*c.band(0.995, email).unwrap().id, "BAYES_99");
        assert_eq!(&*c.band(0.0, email).unwrap().id, "BAYES_00");
        // logit score: 0.6 × ln(0.99/0.01)
        assert!((c.band(0.99, email).unwrap().score - 2.76).abs() < 0.01);
        assert!(c.band(0.0, email).unwrap().score <= -16.0);
        // bands, graded inside a band: halfway between BAYES_50 (0.4) and BAYES_60 (0.6)
        let cfg = BayesConfig {
            logit_scale: 0.0,
            ..c.config().clone()
        };
        let c = Classifier::new(std::sync::Arc::new(MemoryStore::new()), cfg);
        let mid = c.band(0.5, email).unwrap();
        assert_eq!(&*mid.id, "BAYES_50");
        assert!((mid.score - 1.0).abs() < 1e-9, "{}", mid.score);
    }

    #[test]
    fn silent_until_min_learns() {
        let mut s = MemoryStore::new();
        s.learn(&[1], Label::Spam, 1);
        let c = Classifier::new(std::sync::Arc::new(s), BayesConfig::default());
        assert!(!c.ready());
        assert_eq!(c.probability_of(&[1], Channel::Email), None);
    }
}
