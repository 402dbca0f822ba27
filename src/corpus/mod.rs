//! Labelled corpora: loading messages from folders, line files, TSV, CSV and
//! JSONL, with the even/odd split convention (sorted file name or line
//! index: even = training half, odd = test half).

use crate::message::{Channel, EmailOptions, Message, email, short};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

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
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Split::All),
            "even" | "train" => Ok(Split::Even),
            "odd" | "test" => Ok(Split::Odd),
            other => Err(format!(
                "unknown split {other:?} (expected all, even or odd)"
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
}

/// Where to read messages from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A folder of one-message-per-file emails, all with one label.
    /// The label is taken from the folder name (`*ham*` / `spam*`) if not given.
    EmailDir {
        /// Folder.
        path: PathBuf,
        /// Label of every message.
        label: Option<Label>,
    },
    /// One message per line, all with one label.
    Lines {
        /// File.
        path: PathBuf,
        /// Channel.
        channel: Channel,
        /// Label.
        label: Label,
    },
    /// `label<TAB>text` per line (SMS Spam Collection).
    Tsv {
        /// File.
        path: PathBuf,
        /// Channel.
        channel: Channel,
    },
    /// CSV with a header row naming a text column and a label column
    /// (YouTube Spam Collection: `CONTENT`, `CLASS`/`label`).
    Csv {
        /// File.
        path: PathBuf,
        /// Channel.
        channel: Channel,
    },
}

impl Source {
    /// Read the messages of the chosen half.
    pub fn load(&self, split: Split, into: &mut Corpus) {
        match self {
            Source::EmailDir { path, label } => load_email_dir(path, *label, split, into),
            Source::Lines {
                path,
                channel,
                label,
            } => load_lines(path, *channel, split, into, |line| {
                Ok((*label, line.to_string()))
            }),
            Source::Tsv { path, channel } => load_lines(path, *channel, split, into, |line| {
                let (label, text) = line
                    .split_once('\t')
                    .ok_or("no TAB between label and text")?;
                let label = Label::parse(label).ok_or("label is not spam/ham")?;
                Ok((label, text.to_string()))
            }),
            Source::Csv { path, channel } => load_csv(path, *channel, split, into),
        }
    }
}

fn label_from_dir_name(path: &Path) -> Option<Label> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.contains("ham") {
        Some(Label::Ham)
    } else if name.starts_with("spam") {
        Some(Label::Spam)
    } else {
        None
    }
}

fn load_email_dir(path: &Path, label: Option<Label>, split: Split, into: &mut Corpus) {
    let origin = path.display().to_string();
    let Some(label) = label.or_else(|| label_from_dir_name(path)) else {
        into.unreadable.push((
            origin,
            "cannot tell the label from the folder name; pass --ham or --spam".into(),
        ));
        return;
    };
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(e) => {
            into.unreadable.push((origin, e.to_string()));
            return;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for (i, f) in files.into_iter().enumerate() {
        if !split.keeps(i) {
            continue;
        }
        let origin = f.display().to_string();
        match std::fs::read(&f) {
            Ok(raw) => into.items.push(Item {
                origin,
                channel: Channel::Email,
                label,
                payload: Payload::Email(raw),
            }),
            Err(e) => into.unreadable.push((origin, e.to_string())),
        }
    }
}

fn load_lines(
    path: &Path,
    channel: Channel,
    split: Split,
    into: &mut Corpus,
    parse: impl Fn(&str) -> Result<(Label, String), &'static str>,
) {
    let origin = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            into.unreadable.push((origin, e.to_string()));
            return;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if !split.keeps(i) {
            continue;
        }
        let origin = format!("{}:{}", path.display(), i + 1);
        match parse(line) {
            Ok((label, text)) => into.items.push(Item {
                origin,
                channel,
                label,
                payload: Payload::Text { text, from: None },
            }),
            Err(why) => into.unreadable.push((origin, why.to_string())),
        }
    }
}

fn load_csv(path: &Path, channel: Channel, split: Split, into: &mut Corpus) {
    let origin = path.display().to_string();
    let mut reader = match csv::ReaderBuilder::new().flexible(true).from_path(path) {
        Ok(r) => r,
        Err(e) => {
            into.unreadable.push((origin, e.to_string()));
            return;
        }
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            into.unreadable.push((origin, e.to_string()));
            return;
        }
    };
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let (Some(text_col), Some(label_col)) = (
        find(&["content", "text", "message"]),
        find(&["label", "class"]),
    ) else {
        into.unreadable.push((
            origin,
            "CSV needs a text column (CONTENT/text) and a label column (label/CLASS)".into(),
        ));
        return;
    };
    let author_col = find(&["author", "from"]);
    for (i, rec) in reader.records().enumerate() {
        if !split.keeps(i) {
            continue;
        }
        let origin = format!("{}:record {}", path.display(), i + 1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                into.unreadable.push((origin, e.to_string()));
                continue;
            }
        };
        let label = rec.get(label_col).and_then(Label::parse);
        match (label, rec.get(text_col)) {
            (Some(label), Some(text)) => into.items.push(Item {
                origin,
                channel,
                label,
                payload: Payload::Text {
                    text: text.to_string(),
                    from: author_col.and_then(|c| rec.get(c)).map(str::to_string),
                },
            }),
            _ => into
                .unreadable
                .push((origin, "missing text or label".into())),
        }
    }
}
