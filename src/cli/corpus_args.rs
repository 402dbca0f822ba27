//! Command-line options naming labelled corpora, shared by `eval` (and later `train`).

use clap::Args;
use spamsift::corpus::{Corpus, Format, Label, Source, Split, manifest};
use spamsift::message::Channel;
use std::path::PathBuf;

/// Where labelled messages come from.
#[derive(Debug, Args, Clone)]
pub struct CorpusArgs {
    /// Ham: a message folder, maildir, mbox, or file of one message per line.
    #[arg(long, value_name = "PATH")]
    ham: Vec<PathBuf>,
    /// Spam: a message folder, maildir, mbox, or file of one message per line.
    #[arg(long, value_name = "PATH")]
    spam: Vec<PathBuf>,
    /// Folder of one-email-per-file, labelled by its name (`*ham*`, `spam*`).
    #[arg(long = "email-dir", value_name = "DIR")]
    email_dirs: Vec<PathBuf>,
    /// Labelled file whose format carries labels: `.tsv` (label<TAB>text), `.csv` (text and label columns), `.jsonl`.
    #[arg(long, value_name = "FILE")]
    labelled: Vec<PathBuf>,
    /// Corpus manifest (TOML) naming several sources with labels and channels.
    #[arg(long, value_name = "FILE")]
    manifest: Vec<PathBuf>,
    /// Channel of line, TSV, CSV and JSONL sources given on the command line.
    #[arg(long, default_value = "sms")]
    channel: Channel,
    /// Which half: all, even (training) or odd (test); sorted file name or line index.
    #[arg(long, default_value = "all")]
    pub split: Split,
}

impl CorpusArgs {
    /// The sources named, or an error message.
    pub fn sources(&self) -> Result<Vec<Source>, String> {
        let short_or_email = |p: &PathBuf| {
            let s = Source::auto(p, None, self.channel);
            match s.resolved_format() {
                Format::Dir | Format::Maildir | Format::Mbox => Channel::Email,
                _ => self.channel,
            }
        };
        let mut out = Vec::new();
        for (paths, label) in [(&self.ham, Label::Ham), (&self.spam, Label::Spam)] {
            out.extend(
                paths
                    .iter()
                    .map(|p| Source::auto(p, Some(label), short_or_email(p))),
            );
        }
        out.extend(self.email_dirs.iter().map(|p| Source {
            path: p.clone(),
            format: Format::Dir,
            label: None,
            channel: Channel::Email,
        }));
        out.extend(
            self.labelled
                .iter()
                .map(|p| Source::auto(p, None, self.channel)),
        );
        for m in &self.manifest {
            out.extend(manifest::load(m).map_err(|e| e.to_string())?);
        }
        if out.is_empty() {
            return Err(
                "no corpus given (--ham, --spam, --email-dir, --labelled or --manifest)".into(),
            );
        }
        Ok(out)
    }

    /// Load every source; unreadable entries are reported on stderr.
    pub fn load(&self) -> Result<(Vec<Source>, Corpus), String> {
        let sources = self.sources()?;
        let mut corpus = Corpus::default();
        for s in &sources {
            s.load(self.split, &mut corpus);
        }
        for (origin, why) in &corpus.unreadable {
            eprintln!("spamsift: unreadable: {origin}: {why}");
        }
        for line in corpus.skipped_summary() {
            eprintln!("spamsift: {line}");
        }
        if corpus.items.is_empty() {
            return Err("the corpus holds no readable message".into());
        }
        Ok((sources, corpus))
    }
}
