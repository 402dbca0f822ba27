//! `spamsift eval`: classify labelled corpora, report accuracy and what each
//! rule earns.

use super::EngineOpts;
use clap::Args;
use rayon::prelude::*;
use spamsift::corpus::{Corpus, Item, Label, Payload, Source, Split};
use spamsift::message::Channel;
use spamsift::{Engine, Verdict};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Print to stdout, ignoring a closed pipe (`spamsift eval | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of one-email-per-file; label from the folder name (`*ham*`, `spam*`).
    #[arg(long = "email-dir", value_name = "DIR")]
    email_dirs: Vec<PathBuf>,
    /// TSV file `label<TAB>text` (SMS Spam Collection).
    #[arg(long, value_name = "FILE")]
    tsv: Vec<PathBuf>,
    /// CSV file with text and label columns (YouTube Spam Collection).
    #[arg(long, value_name = "FILE")]
    csv: Vec<PathBuf>,
    /// File with one spam message per line.
    #[arg(long = "spam-lines", value_name = "FILE")]
    spam_lines: Vec<PathBuf>,
    /// File with one ham message per line.
    #[arg(long = "ham-lines", value_name = "FILE")]
    ham_lines: Vec<PathBuf>,
    /// Channel of the TSV, CSV and line sources.
    #[arg(long, default_value = "sms")]
    channel: Channel,
    /// Which half: all, even (training) or odd (test).
    #[arg(long, default_value = "all")]
    split: Split,
    /// Print the per-rule table.
    #[arg(long)]
    rule_stats: bool,
    /// Write one JSON line per message (origin, label, score, hit ids): mass-check output.
    #[arg(long, value_name = "FILE")]
    hits_jsonl: Option<PathBuf>,
    /// Print up to N misclassified messages of each kind.
    #[arg(long, value_name = "N", default_value_t = 0)]
    show_errors: usize,
}

struct Outcome<'a> {
    item: &'a Item,
    verdict: Verdict,
}

pub fn run(opts: &EngineOpts, args: EvalArgs) -> ExitCode {
    let engine = match opts.build() {
        Ok(e) => e,
        Err(e) => {
            eprint!("spamsift: {e}");
            return ExitCode::from(2);
        }
    };
    let mut sources = Vec::new();
    sources.extend(args.email_dirs.iter().map(|p| Source::EmailDir {
        path: p.clone(),
        label: None,
    }));
    sources.extend(args.tsv.iter().map(|p| Source::Tsv {
        path: p.clone(),
        channel: args.channel,
    }));
    sources.extend(args.csv.iter().map(|p| Source::Csv {
        path: p.clone(),
        channel: args.channel,
    }));
    for (paths, label) in [
        (&args.spam_lines, Label::Spam),
        (&args.ham_lines, Label::Ham),
    ] {
        sources.extend(paths.iter().map(|p| Source::Lines {
            path: p.clone(),
            channel: args.channel,
            label,
        }));
    }
    if sources.is_empty() {
        eprintln!(
            "spamsift: eval needs at least one corpus (--email-dir, --tsv, --csv, --spam-lines, --ham-lines)"
        );
        return ExitCode::from(2);
    }
    let mut corpus = Corpus::default();
    for s in &sources {
        s.load(args.split, &mut corpus);
    }
    for (origin, why) in &corpus.unreadable {
        eprintln!("spamsift: unreadable: {origin}: {why}");
    }
    let start = Instant::now();
    let outcomes: Vec<Outcome> = corpus
        .items
        .par_iter()
        .map(|item| Outcome {
            item,
            verdict: classify(&engine, item),
        })
        .collect();
    let elapsed = start.elapsed();
    let bytes: usize = corpus.items.iter().map(Item::size).sum();
    out!(
        "{} messages ({:.1} MB) in {:.2}s: {:.0} msg/s, split {:?}, {} unreadable",
        outcomes.len(),
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        outcomes.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        args.split,
        corpus.unreadable.len()
    );
    if let Some(path) = &args.hits_jsonl
        && let Err(e) = write_hits(path, &outcomes)
    {
        eprintln!("spamsift: cannot write {}: {e}", path.display());
        return ExitCode::from(1);
    }
    for ch in Channel::ALL {
        let of_ch: Vec<&Outcome> = outcomes.iter().filter(|o| o.item.channel == ch).collect();
        if of_ch.is_empty() {
            continue;
        }
        report_channel(ch, &of_ch, &engine, &args);
    }
    ExitCode::SUCCESS
}

fn write_hits(path: &std::path::Path, outcomes: &[Outcome]) -> std::io::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for o in outcomes {
        let ids: Vec<&str> = o.verdict.hits.iter().map(|h| &*h.id).collect();
        let line = serde_json::json!({
            "origin": o.item.origin,
            "channel": o.item.channel,
            "label": o.item.label,
            "score": o.verdict.score,
            "hits": ids,
        });
        writeln!(w, "{line}")?;
    }
    w.flush()
}

fn classify(engine: &Engine, item: &Item) -> Verdict {
    engine.classify(&item.message(&engine.config().email))
}

fn report_channel(ch: Channel, outcomes: &[&Outcome], _engine: &Engine, args: &EvalArgs) {
    let (mut tp, mut fp, mut tn, mut fn_) = (0usize, 0usize, 0usize, 0usize);
    let mut per_rule: BTreeMap<&str, (usize, usize, f64)> = BTreeMap::new();
    let spam_total = outcomes
        .iter()
        .filter(|o| o.item.label == Label::Spam)
        .count();
    let ham_total = outcomes.len() - spam_total;
    for o in outcomes {
        match (o.item.label, o.verdict.is_spam()) {
            (Label::Spam, true) => tp += 1,
            (Label::Spam, false) => fn_ += 1,
            (Label::Ham, true) => fp += 1,
            (Label::Ham, false) => tn += 1,
        }
        for h in &o.verdict.hits {
            let e = per_rule.entry(&h.id).or_insert((0, 0, h.score));
            if o.item.label == Label::Spam {
                e.0 += 1
            } else {
                e.1 += 1
            }
        }
    }
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    let fpr = fp as f64 / (fp + tn).max(1) as f64;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    out!("\n== {ch}: {} spam, {} ham", spam_total, ham_total);
    out!("   TP {tp}  FN {fn_}  FP {fp}  TN {tn}");
    out!(
        "   recall {:.2}%  FPR {:.2}%  precision {:.2}%  F1 {:.4}  accuracy {:.2}%",
        recall * 100.0,
        fpr * 100.0,
        precision * 100.0,
        f1,
        (tp + tn) as f64 * 100.0 / outcomes.len().max(1) as f64
    );
    if args.rule_stats {
        let mut rows: Vec<_> = per_rule.into_iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.0 + r.1.1));
        out!(
            "   {:28} {:>6} {:>7} {:>7} {:>6}",
            "rule",
            "score",
            "spam%",
            "ham%",
            "S/O"
        );
        for (id, (s, h, score)) in rows {
            let sp = s as f64 * 100.0 / spam_total.max(1) as f64;
            let hp = h as f64 * 100.0 / ham_total.max(1) as f64;
            let so = if sp + hp > 0.0 { sp / (sp + hp) } else { 0.0 };
            out!("   {id:28} {score:>6.1} {sp:>7.2} {hp:>7.2} {so:>6.3}");
        }
    }
    if args.show_errors > 0 {
        for (label, want_spam, what) in [
            (Label::Ham, true, "FALSE POSITIVE"),
            (Label::Spam, false, "MISSED SPAM"),
        ] {
            for o in outcomes
                .iter()
                .filter(|o| o.item.label == label && o.verdict.is_spam() == want_spam)
                .take(args.show_errors)
            {
                let snippet = match &o.item.payload {
                    Payload::Text { text, .. } => text.chars().take(160).collect::<String>(),
                    Payload::Email(_) => String::new(),
                };
                out!(
                    "   {what} {:.1} {} [{}] {}",
                    o.verdict.score,
                    o.item.origin,
                    o.verdict.tests(),
                    snippet
                );
            }
        }
    }
}
