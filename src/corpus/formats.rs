//! Reading each corpus format.

use super::{Corpus, Item, Label, Payload, Split};
use crate::message::Channel;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a corpus source is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Guess from the path: maildir (has `cur/`), folder, mbox (`From ` first), `.tsv`, `.csv`, `.jsonl`, else lines.
    Auto,
    /// A folder of one-message-per-file emails (SpamAssassin public corpus layout).
    Dir,
    /// A maildir: messages in `cur/` and `new/`.
    Maildir,
    /// An mbox file: messages separated by `From ` lines, `>From` unescaped.
    Mbox,
    /// One short message per line.
    Lines,
    /// `label<TAB>text` per line (SMS Spam Collection).
    Tsv,
    /// CSV with a header row naming a text column and a label column.
    Csv,
    /// One JSON object per line: `{"label":"spam","channel":"sms","from":..,"text":..}`.
    Jsonl,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde::Deserialize::deserialize(
            serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s),
        )
        .map_err(|_| {
            format!("unknown format {s:?} (auto, dir, maildir, mbox, lines, tsv, csv, jsonl)")
        })
    }
}

/// One place to read labelled messages from.
#[derive(Debug, Clone)]
pub struct Source {
    /// File or folder.
    pub path: PathBuf,
    /// Layout; [`Format::Auto`] guesses.
    pub format: Format,
    /// Label of every message; required unless the format carries labels
    /// (TSV, CSV, JSONL) or the folder name says (`*ham*`, `spam*`).
    pub label: Option<Label>,
    /// Channel of the messages (email for dir/maildir/mbox).
    pub channel: Channel,
}

impl Source {
    /// A source with the format guessed from the path.
    pub fn auto(path: impl Into<PathBuf>, label: Option<Label>, channel: Channel) -> Source {
        Source {
            path: path.into(),
            format: Format::Auto,
            label,
            channel,
        }
    }

    /// The format this source will be read as.
    pub fn resolved_format(&self) -> Format {
        if self.format != Format::Auto {
            return self.format;
        }
        let p = &self.path;
        if p.is_dir() {
            if p.join("cur").is_dir() || p.join("new").is_dir() {
                Format::Maildir
            } else {
                Format::Dir
            }
        } else {
            match p
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("tsv") => Format::Tsv,
                Some("csv") => Format::Csv,
                Some("jsonl") | Some("ndjson") => Format::Jsonl,
                Some("mbox") => Format::Mbox,
                _ => {
                    let starts_from = std::fs::File::open(p)
                        .and_then(|mut f| {
                            let mut b = [0u8; 5];
                            std::io::Read::read_exact(&mut f, &mut b).map(|_| b)
                        })
                        .is_ok_and(|b| &b == b"From ");
                    if starts_from {
                        Format::Mbox
                    } else if has_tab_labels(p) {
                        Format::Tsv
                    } else {
                        Format::Lines
                    }
                }
            }
        }
    }

    /// Read the messages of the chosen half into `into`.
    pub fn load(&self, split: Split, into: &mut Corpus) {
        let origin = self.path.display().to_string();
        match self.resolved_format() {
            Format::Dir | Format::Maildir => {
                let walk = super::walk::walk(&self.path);
                into.unreadable.extend(walk.unreadable);
                into.skipped.extend(walk.skipped);
                for folder in &walk.folders {
                    // A given label, else the nearest folder (up to the
                    // root given) whose name says ham or spam.
                    let label = self.label.or_else(|| {
                        folder
                            .dir
                            .ancestors()
                            .take_while(|d| d.starts_with(&self.path))
                            .find_map(label_from_dir_name)
                    });
                    match label {
                        Some(label) => load_files(&folder.files, label, split, into),
                        None => into.skipped.extend(folder.files.iter().map(|f| {
                            (
                                f.display().to_string(),
                                "no label: no folder name says ham or spam (give --ham/--spam or label =)"
                                    .to_string(),
                            )
                        })),
                    }
                }
                if walk.folders.is_empty() && into.unreadable.is_empty() {
                    into.unreadable
                        .push((origin, "no message files in this folder".into()));
                }
            }
            Format::Mbox => match self.label.or_else(|| label_from_dir_name(&self.path)) {
                Some(label) => load_mbox(&self.path, label, split, into),
                None => into.unreadable.push((origin, "mbox needs a label".into())),
            },
            Format::Lines => match self.label.or_else(|| label_from_file_name(&self.path)) {
                Some(label) => load_lines(&self.path, self.channel, split, into, |line| {
                    Ok((label, line.to_string(), None))
                }),
                None => into
                    .unreadable
                    .push((origin, "a file of lines needs a label".into())),
            },
            Format::Tsv => load_lines(&self.path, self.channel, split, into, |line| {
                let (label, text) = line
                    .split_once('\t')
                    .ok_or("no TAB between label and text")?;
                let label = Label::parse(label).ok_or("label is not spam/ham")?;
                Ok((label, text.to_string(), None))
            }),
            Format::Csv => load_csv(&self.path, self.channel, split, into),
            Format::Jsonl => {
                let fixed = self.label;
                load_lines(&self.path, self.channel, split, into, move |line| {
                    let v: JsonlItem = serde_json::from_str(line).map_err(|_| "invalid JSON")?;
                    let label = fixed
                        .or_else(|| v.label.as_deref().and_then(Label::parse))
                        .ok_or("no label (\"label\":\"spam\"|\"ham\")")?;
                    Ok((label, v.text, v.from))
                })
            }
            Format::Auto => unreachable!("resolved above"),
        }
    }
}

#[derive(Deserialize)]
struct JsonlItem {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    from: Option<String>,
}

fn has_tab_labels(p: &Path) -> bool {
    let Ok(text) = std::fs::read(p) else {
        return false;
    };
    let head = String::from_utf8_lossy(&text[..text.len().min(4096)]).into_owned();
    let lines: Vec<&str> = head.lines().take(5).collect();
    !lines.is_empty()
        && lines.iter().all(|l| {
            l.split_once('\t')
                .is_some_and(|(lab, _)| Label::parse(lab).is_some())
        })
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

fn label_from_file_name(path: &Path) -> Option<Label> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.starts_with("ham") || name.contains("-ham") || name.contains("_ham") {
        Some(Label::Ham)
    } else if name.starts_with("spam") || name.contains("-spam") || name.contains("_spam") {
        Some(Label::Spam)
    } else {
        None
    }
}

fn load_files(files: &[PathBuf], label: Label, split: Split, into: &mut Corpus) {
    for (i, f) in files.iter().enumerate() {
        if !split.keeps(i) {
            continue;
        }
        let origin = f.display().to_string();
        match std::fs::read(f) {
            Ok(raw) if !super::walk::looks_like_mail(&raw) => into
                .skipped
                .push((origin, "not a message: no header block".into())),
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

/// Split an mbox into messages: a line starting `From ` after a blank line
/// (or at the start) begins a message; `>From ` lines are unescaped
/// (mboxrd: one `>` removed from `>+From `).
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") && prev_blank {
            if let Some(mut m) = cur.take() {
                // drop the blank separator line that belongs to the mbox
                if m.ends_with(b"\n\n") {
                    m.pop();
                } else if m.ends_with(b"\r\n\r\n") {
                    m.truncate(m.len() - 2);
                }
                out.push(m);
            }
            cur = Some(Vec::new());
            prev_blank = false;
            continue; // the separator line is not part of the message
        }
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        prev_blank = content.is_empty() || content == b"\r";
        let m = cur.get_or_insert_with(Vec::new);
        let gt = line.iter().take_while(|&&b| b == b'>').count();
        if gt > 0 && line[gt..].starts_with(b"From ") {
            m.extend_from_slice(&line[1..]);
        } else {
            m.extend_from_slice(line);
        }
    }
    if let Some(m) = cur
        && !m.iter().all(u8::is_ascii_whitespace)
    {
        out.push(m);
    }
    out
}

fn load_mbox(path: &Path, label: Label, split: Split, into: &mut Corpus) {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            into.unreadable
                .push((path.display().to_string(), e.to_string()));
            return;
        }
    };
    for (i, m) in split_mbox(&data).into_iter().enumerate() {
        if split.keeps(i) {
            into.items.push(Item {
                origin: format!("{}#{}", path.display(), i + 1),
                channel: Channel::Email,
                label,
                payload: Payload::Email(m),
            });
        }
    }
}

type LineParser<'a> = dyn Fn(&str) -> Result<(Label, String, Option<String>), &'static str> + 'a;

fn load_lines(
    path: &Path,
    channel: Channel,
    split: Split,
    into: &mut Corpus,
    parse: impl Fn(&str) -> Result<(Label, String, Option<String>), &'static str>,
) {
    let parse: &LineParser = &parse;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            into.unreadable
                .push((path.display().to_string(), e.to_string()));
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
            Ok((label, text, from)) => into.items.push(Item {
                origin,
                channel,
                label,
                payload: Payload::Text { text, from },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_split_and_unescape() {
        let data = b"From a@b Mon Jan 1 00:00:00 2024\nSubject: one\n\nbody\n>From here\n\nFrom c@d Tue\nSubject: two\n\n>>From x\n";
        let msgs = split_mbox(data);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"Subject: one\n\nbody\nFrom here\n");
        assert_eq!(msgs[1], b"Subject: two\n\n>From x\n");
    }

    #[test]
    fn format_names() {
        assert_eq!("maildir".parse::<Format>(), Ok(Format::Maildir));
        assert!("zip".parse::<Format>().is_err());
    }
}
