//! Hits, scores and the action taken: the one currency every check reports in.

use crate::message::Channel;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What to do with a message, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver as is (the status header still says `No`).
    Ham,
    /// Deliver with spam headers (`X-Spam-Flag: YES`).
    Tag,
    /// Deliver to the spam box / quarantine.
    Quarantine,
    /// Refuse (SMTP 550 5.7.1 in the milter).
    Reject,
}

impl Action {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ham => "ham",
            Action::Tag => "tag",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }

    /// Whether this action treats the message as spam.
    pub fn is_spam(self) -> bool {
        self != Action::Ham
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Rule (or reputation source, Bayes band, policy) id.
    pub id: Arc<str>,
    /// Points added.
    pub score: f64,
    /// What it means.
    pub description: Arc<str>,
}

/// Score thresholds of one channel. A message is spam at `tag` or above.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Spam threshold ("required" score): tag at or above.
    #[serde(default = "default_tag")]
    pub tag: f64,
    /// Quarantine at or above, if set.
    #[serde(default)]
    pub quarantine: Option<f64>,
    /// Reject at or above, if set.
    #[serde(default = "default_reject")]
    pub reject: Option<f64>,
}

fn default_tag() -> f64 {
    5.0
}

fn default_reject() -> Option<f64> {
    Some(15.0)
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            tag: default_tag(),
            quarantine: None,
            reject: default_reject(),
        }
    }
}

impl Thresholds {
    /// The action for a score.
    pub fn action(&self, score: f64) -> Action {
        if self.reject.is_some_and(|r| score >= r) {
            Action::Reject
        } else if self.quarantine.is_some_and(|q| score >= q) {
            Action::Quarantine
        } else if score >= self.tag {
            Action::Tag
        } else {
            Action::Ham
        }
    }

    /// Check the thresholds are finite and ordered.
    pub fn validate(&self) -> Result<(), String> {
        let all = [Some(self.tag), self.quarantine, self.reject];
        if all.iter().flatten().any(|v| !v.is_finite()) {
            return Err("thresholds must be finite numbers".into());
        }
        if self.quarantine.is_some_and(|q| q < self.tag)
            || self.reject.is_some_and(|r| r < self.tag)
        {
            return Err("quarantine and reject thresholds must not be below tag".into());
        }
        if let (Some(q), Some(r)) = (self.quarantine, self.reject)
            && r < q
        {
            return Err("reject threshold must not be below quarantine".into());
        }
        Ok(())
    }
}

/// The outcome of classifying one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Channel of the message.
    pub channel: Channel,
    /// Sum of hit scores, rounded to 0.1 like SpamAssassin reports it.
    pub score: f64,
    /// The spam threshold of the channel (the `tag` threshold).
    pub threshold: f64,
    /// What to do.
    pub action: Action,
    /// Every reported check that fired, highest score first.
    pub hits: Vec<Hit>,
    /// Spam probability from the statistical classifier, when it spoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bayes: Option<f64>,
}

impl Verdict {
    /// Whether the message is spam (score at or above the threshold).
    pub fn is_spam(&self) -> bool {
        self.action.is_spam()
    }

    /// Hit ids joined with commas, as in `X-Spam-Status: ... tests=`.
    pub fn tests(&self) -> String {
        let mut ids: Vec<&str> = self.hits.iter().map(|h| &*h.id).collect();
        ids.sort_unstable();
        ids.join(",")
    }

    /// Whether classification ran out of its time budget (a
    /// [`TIME_BUDGET`](crate::engine::TIME_BUDGET) hit): checks were skipped.
    pub fn over_budget(&self) -> bool {
        self.hit(crate::engine::TIME_BUDGET)
    }

    /// Whether a check with this id fired.
    pub fn hit(&self, id: &str) -> bool {
        self.hits.iter().any(|h| &*h.id == id)
    }
}

/// One verdict as every front end writes it in JSON (`check --json`,
/// `scan`, `stream`, the HTTP API): the [`Verdict`]'s fields, after what
/// identifies the message in its input, or an error instead of them.
///
/// ```json
/// {"origin":"mail/1.eml","channel":"email","score":7.3,"threshold":5.0,"action":"tag",
///  "hits":[{"id":"RULE_A","score":2.5,"description":"..."}]}
/// ```
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record<'a> {
    /// The file (or `stdin:LINE`) the message came from (`scan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'a str>,
    /// The input line (`stream`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The caller's id of the message, echoed (`stream`, the HTTP API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a serde_json::Value>,
    /// The verdict, when the message was classified.
    #[serde(flatten)]
    pub verdict: Option<&'a Verdict>,
    /// Why there is no verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl<'a> Record<'a> {
    /// The record of a verdict.
    pub fn of(verdict: &'a Verdict) -> Record<'a> {
        Record {
            verdict: Some(verdict),
            ..Record::default()
        }
    }

    /// The record of an error.
    pub fn error(error: impl Into<String>) -> Record<'a> {
        Record {
            error: Some(error.into()),
            ..Record::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_by_threshold() {
        let t = Thresholds {
            tag: 5.0,
            quarantine: Some(8.0),
            reject: Some(12.0),
        };
        assert_eq!(t.action(4.9), Action::Ham);
        assert_eq!(t.action(5.0), Action::Tag);
        assert_eq!(t.action(8.0), Action::Quarantine);
        assert_eq!(t.action(30.0), Action::Reject);
        assert!(
            Thresholds {
                tag: 5.0,
                quarantine: None,
                reject: Some(3.0)
            }
            .validate()
            .is_err()
        );
    }
}
