//! Labelled corpora: loading messages from message folders, maildir, mbox,
//! line files, TSV, CSV and JSONL, with the even/odd split convention (sorted
//! file name or line index: even = training half, odd = test half).
//!
//! Shared by `eval`, `scan` and training. Unreadable entries are counted and
//! reported in [`Corpus::unreadable`], never fatal and never dropped silently.

mod formats;
pub mod manifest;
pub mod walk;

pub use formats::{Format, Source, split_mbox};

use crate::message::{Channel, EmailOptions, Message, email, short};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Ground truth of a corpus message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Wanted message.
    Ham,
    /// Unwanted message.
    Spam,
}

impl Label {
    /// Read common spellings: `spam`/`ham`, `1`/`0`.
    pub fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spam" | "1" | "true" => Some(Label::Spam),
            "ham" | "0" | "false" => Some(Label::Ham),
            _ => None,
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Label::Ham => "ham",
            Label::Spam => "spam",
        })
    }
}

/// Which half of a corpus to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// Every message.
    #[default]
    All,
    /// Even indices: the training half.
    Even,
    /// Odd indices: the test half.
    Odd,
    /// Indices 0, 4, 8, …: the first half of the training half, for tuning
    /// settings without touching the test half.
    EvenA,
    /// Indices 2, 6, 10, …: the second half of the training half.
    EvenB,
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Split::All),
            "even" | "train" => Ok(Split::Even),
            "odd" | "test" => Ok(Split::Odd),
            "even-a" => Ok(Split::EvenA),
            "even-b" => Ok(Split::EvenB),
            other => Err(format!(
                "unknown split {other:?} (expected all, even, odd, even-a or even-b)"
            )),
        }
    }
}

impl Split {
    /// Whether the message at `index` belongs to this half.
    pub fn keeps(self, index: usize) -> bool {
        match self {
            Split::All => true,
            Split::Even => index.is_multiple_of(2),
            Split::Odd => !index.is_multiple_of(2),
            Split::EvenA => index.is_multiple_of(4),
            Split::EvenB => index % 4 == 2,
        }
    }
}

/// The raw form of one corpus message.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Raw RFC 5322 bytes.
    Email(Vec<u8>),
    /// Text of a short message (SMS/IM), with optional sender.
    Text {
        /// Message text.
        text: String,
        /// Sender, when the corpus gives one.
        from: Option<String>,
    },
}

/// One labelled message with where it came from.
#[derive(Debug, Clone)]
pub struct Item {
    /// `path` or `path:line`.
    pub origin: String,
    /// Channel to classify it as.
    pub channel: Channel,
    /// Ground truth.
    pub label: Label,
    /// The message.
    pub payload: Payload,
}

impl Item {
    /// Parse the payload into a [`Message`].
    pub fn message(&self, email_opts: &EmailOptions) -> Message {
        match &self.payload {
            Payload::Email(raw) => email::parse(raw, email_opts),
            Payload::Text { text, from } => {
                short::from_text(self.channel, from.as_deref().unwrap_or(""), text)
            }
        }
    }

    /// Size of the raw payload in bytes.
    pub fn size(&self) -> usize {
        match &self.payload {
            Payload::Email(raw) => raw.len(),
            Payload::Text { text, .. } => text.len(),
        }
    }
}

/// A corpus that was read, with what could not be.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Messages read.
    pub items: Vec<Item>,
    /// `(origin, reason)` of every entry that could not be read.
    pub unreadable: Vec<(String, String)>,
    /// `(origin, reason)` of every entry skipped as not a message (or
    /// without a label), like mass-check does.
    pub skipped: Vec<(String, String)>,
}

impl Corpus {
    /// One line per reason: how many entries were skipped and why.
    pub fn skipped_summary(&self) -> Vec<String> {
        skipped_summary(&self.skipped)
    }
}

/// One line per reason of `(origin, reason)` entries: how many were
/// skipped and why.
pub fn skipped_summary(skipped: &[(String, String)]) -> Vec<String> {
    let mut by_reason: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, why) in skipped {
        *by_reason.entry(why.as_str()).or_default() += 1;
    }
    by_reason
        .into_iter()
        .map(|(why, n)| format!("{n} skipped: {why}"))
        .collect()
}
