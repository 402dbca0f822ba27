//! Corpus manifests: one TOML file naming several sources, so one command
//! evaluates a whole suite.
//!
//! ```toml
//! [[source]]
//! path = "../../shared/corpora/spamassassin/easy_ham"   # relative to this file
//! label = "ham"                                          # optional where the format or folder name says
//! format = "dir"                                         # optional: auto, dir, maildir, mbox, lines, tsv, csv, jsonl
//! channel = "email"                                      # default email
//! ```

use super::{Format, Label, Source};
use crate::message::Channel;
use serde::Deserialize;
use std::path::Path;

/// A manifest problem, with its place.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ManifestError {
    /// Manifest file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    source: Vec<toml::Spanned<RawSource>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    path: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    channel: Option<Channel>,
}

/// Read a manifest; source paths are resolved relative to its folder.
pub fn load(path: &Path) -> Result<Vec<Source>, ManifestError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() + 1;
    let raw: RawManifest = toml::from_str(&text).map_err(|e| ManifestError {
        file: file.clone(),
        line: e.span().map_or(0, |s| line_of(s.start)),
        message: e.message().trim().to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for s in raw.source {
        let line = line_of(s.span().start);
        let s = s.into_inner();
        let label = match s.label.as_deref() {
            None => None,
            Some(l) => Some(Label::parse(l).ok_or_else(|| ManifestError {
                file: file.clone(),
                line,
                message: format!("label {l:?} is not spam or ham"),
            })?),
        };
        out.push(Source {
            path: base.join(&s.path),
            format: s.format.unwrap_or(Format::Auto),
            label,
            channel: s.channel.unwrap_or(Channel::Email),
        });
    }
    if out.is_empty() {
        return Err(ManifestError {
            file,
            line: 0,
            message: "no [[source]] entries".into(),
        });
    }
    Ok(out)
}
