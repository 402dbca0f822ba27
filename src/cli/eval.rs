//! `spamsift eval`: classify labelled corpora and report accuracy, what each
//! rule earns, and what it costs.

use super::corpus_args::CorpusArgs;
use super::progress;
use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use rayon::prelude::*;
use spamsift::corpus::{Corpus, Item};
use spamsift::eval::metrics::Scored;
use spamsift::eval::report::{Comparison, Report};
use spamsift::eval::{ChannelReport, Sample, channel_report, flips, plot, profile_rules};
use spamsift::message::Channel;
use spamsift::{Engine, corpus::Label};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Report metrics also at the lowest threshold whose false-positive rate is at most this.
    #[arg(long, default_value_t = 0.001, value_name = "RATE")]
    target_fpr: f64,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Rules listed per channel in the table (0: none).
    #[arg(long, default_value_t = 30, value_name = "N")]
    top: usize,
    /// Also time every rule alone over the corpus (slower).
    #[arg(long)]
    profile: bool,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the report as Markdown.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Write SVG plots (CHANNEL-roc.svg, CHANNEL-scores.svg) into this folder.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Compare two rule directories on the same messages (A, then B).
    #[arg(long, num_args = 2, value_names = ["RULES_A", "RULES_B"])]
    compare: Option<Vec<PathBuf>>,
    /// Write one JSON line per message (origin, label, score, hit ids and
    /// scores, Bayes probability): mass-check output.
    #[arg(long, value_name = "FILE")]
    hits_jsonl: Option<PathBuf>,
    /// Print up to N misclassified messages of each kind.
    #[arg(long, value_name = "N", default_value_t = 0)]
    show_errors: usize,
    /// Learning as it is used (TREC's immediate feedback): the corpus in
    /// order, each message classified by the model of every message before
    /// it, then learned with its label; reports (1-ROCA)% and the learning
    /// curve (starts from --model when given, else from nothing).
    #[arg(long)]
    online: bool,
    /// With --online: learn only the messages the filter got wrong.
    #[arg(long, requires = "online")]
    train_on_error: bool,
    /// With --online: the order messages come in: `given` (sources in order,
    /// each file's lines in order) or `name` (by file name across all the
    /// folders, so numbered ham and spam files interleave).
    #[arg(long, default_value = "given", value_parser = ["given", "name"], requires = "online")]
    order: String,
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure::setup(msg)
}

pub fn run(opts: &EngineOpts, args: EvalArgs) -> CmdResult {
    let (sources, corpus) = args.corpus.load().map_err(fail)?;
    if args.online {
        return online(opts, &args, &corpus);
    }
    let pool = progress::pool(args.jobs).map_err(fail)?;
    let jobs = pool.current_num_threads();
    let rule_sets: Vec<(String, EngineOpts)> = match &args.compare {
        Some(dirs) => dirs
            .iter()
            .map(|d| (d.display().to_string(), opts.with_rules(d)))
            .collect(),
        None => vec![(opts.rules_label(), opts.clone())],
    };
    let mut runs = Vec::new();
    for (label, o) in &rule_sets {
        let engine = match o.build() {
            Ok(e) => e,
            Err(e) => return Err(fail(format_args!("{label}: {e}"))),
        };
        let (samples, wall) = classify_all(&pool, &engine, &corpus);
        let reports = reports(&engine, &corpus, &samples, wall, jobs, &args);
        runs.push((label.clone(), engine, samples, reports));
    }
    let mut runs = runs.into_iter();
    let Some((rules_a, engine_a, samples_a, channels_a)) = runs.next() else {
        return Err(fail("no rule set"));
    };
    let comparison = runs
        .next()
        .map(|(rules_b, _, samples_b, channels_b)| Comparison {
            rules_b,
            channels_b,
            flips: flips(&samples_a, &samples_b),
        });
    let report = Report {
        split: format!("{:?}", args.corpus.split).to_lowercase(),
        rules: rules_a,
        sources: sources
            .iter()
            .map(|s| s.path.display().to_string())
            .collect(),
        unreadable: corpus.unreadable.clone(),
        channels: channels_a,
        comparison,
    };
    super::print_out(&report.to_text(args.top))?;
    if args.show_errors > 0 {
        super::print_out(&misclassified(&samples_a, args.show_errors))?;
    }
    if let Err(e) = write_outputs(&report, &engine_a, &samples_a, &args) {
        return Err(fail(e));
    }
    Ok(ExitCode::SUCCESS)
}

fn classify_all(
    pool: &rayon::ThreadPool,
    engine: &Engine,
    corpus: &Corpus,
) -> (Vec<Sample>, Duration) {
    let pb = progress::bar(corpus.items.len() as u64, "classifying");
    let start = Instant::now();
    let samples: Vec<Sample> = pool.install(|| {
        corpus
            .items
            .par_iter()
            .map(|item| {
                let s = Sample::classify(engine, item);
                pb.inc(1);
                s
            })
            .collect()
    });
    let wall = start.elapsed();
    pb.finish_and_clear();
    (samples, wall)
}

fn reports(
    engine: &Engine,
    corpus: &Corpus,
    samples: &[Sample],
    wall: Duration,
    jobs: usize,
    args: &EvalArgs,
) -> Vec<ChannelReport> {
    Channel::ALL
        .iter()
        .filter_map(|&ch| {
            let of: Vec<&Sample> = samples.iter().filter(|s| s.channel == ch).collect();
            if of.is_empty() {
                return None;
            }
            let times = args.profile.then(|| {
                let msgs: Vec<_> = corpus
                    .items
                    .iter()
                    .filter(|i| i.channel == ch)
                    .map(|i: &Item| i.message(&engine.config().email))
                    .collect();
                profile_rules(engine.rules(), &msgs)
            });
            // Wall time is shared by all channels of a run; split it by CPU share.
            let cpu_all: f64 = samples
                .iter()
                .map(|s| (s.parse + s.classify).as_secs_f64())
                .sum();
            let cpu_ch: f64 = of
                .iter()
                .map(|s| (s.parse + s.classify).as_secs_f64())
                .sum();
            let share = if cpu_all > 0.0 { cpu_ch / cpu_all } else { 1.0 };
            Some(channel_report(
                ch,
                &of,
                engine.config().thresholds(ch).tag,
                args.target_fpr,
                times.as_ref(),
                wall.mul_f64(share),
                jobs,
            ))
        })
        .collect()
}

fn misclassified(samples: &[Sample], n: usize) -> String {
    let mut s = String::new();
    for (label, spam, what) in [
        (Label::Ham, true, "FALSE POSITIVE"),
        (Label::Spam, false, "MISSED SPAM"),
    ] {
        for x in samples
            .iter()
            .filter(|x| x.label == label && x.verdict.is_spam() == spam)
            .take(n)
        {
            s += &format!(
                "{what} {:.1} {} [{}]\n",
                x.verdict.score,
                x.origin,
                x.verdict.tests()
            );
        }
    }
    s
}

/// `target` as a link from the file `from` reaches it: relative to the
/// file's folder when both are given relative to the same place or one
/// lies under the other, else absolute.
fn relative_to_file(target: &Path, from: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (target, base) = (abs(target), abs(from.parent().unwrap_or(Path::new("."))));
    let common = target
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = base.components().count() - common;
    let mut rel = std::path::PathBuf::new();
    for _ in 0..ups {
        rel.push("..");
    }
    rel.extend(target.components().skip(common));
    rel.to_string_lossy().into_owned()
}

fn write_outputs(
    report: &Report,
    engine: &Engine,
    samples: &[Sample],
    args: &EvalArgs,
) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(p, text).map_err(|e| io(p, e))?;
    }
    if let Some(p) = &args.markdown {
        let plots = args.plots.as_deref().map(|d| relative_to_file(d, p));
        std::fs::write(p, report.to_markdown(args.top, plots.as_deref())).map_err(|e| io(p, e))?;
    }
    if let Some(dir) = &args.plots {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        for c in &report.channels {
            let scored: Vec<Scored> = samples
                .iter()
                .filter(|s| s.channel == c.channel)
                .map(|s| Scored {
                    spam: s.label == Label::Spam,
                    score: s.verdict.score,
                })
                .collect();
            let roc = dir.join(format!("{}-roc.svg", c.channel));
            plot::roc_svg(
                &roc,
                &format!("{} ROC (AUC {:.4})", c.channel, c.auc),
                &scored,
            )
            .map_err(|e| io(&roc, e))?;
            let hist = dir.join(format!("{}-scores.svg", c.channel));
            let t = engine.config().thresholds(c.channel).tag;
            plot::score_histogram_svg(&hist, &format!("{} scores", c.channel), &scored, t)
                .map_err(|e| io(&hist, e))?;
        }
    }
    if let Some(p) = &args.hits_jsonl {
        let mut text = String::new();
        for s in samples {
            let ids: Vec<&str> = s.verdict.hits.iter().map(|h| &*h.id).collect();
            let scores: Vec<f64> = s.verdict.hits.iter().map(|h| h.score).collect();
            text += &serde_json::json!({
                "origin": s.origin, "channel": s.channel, "label": s.label,
                "score": s.verdict.score, "hits": ids, "hit_scores": scores,
                "bayes": s.verdict.bayes,
            })
            .to_string();
            text.push('\n');
        }
        std::fs::write(p, text).map_err(|e| io(p, e))?;
    }
    Ok(())
}

/// `eval --online`: every channel of the corpus in order, learning as it goes.
fn online(opts: &EngineOpts, args: &EvalArgs, corpus: &spamsift::corpus::Corpus) -> CmdResult {
    use spamsift::eval::online::{LearningStore, run};
    let mut reports = Vec::new();
    for channel in spamsift::Channel::ALL {
        let mut items: Vec<&spamsift::corpus::Item> = corpus
            .items
            .iter()
            .filter(|i| i.channel == channel)
            .collect();
        if items.is_empty() {
            continue;
        }
        if args.order == "name" {
            // File name, then line number as a number (`path:line`).
            let key = |i: &spamsift::corpus::Item| {
                let (path, line) = match i.origin.rsplit_once(':') {
                    Some((p, l)) if l.bytes().all(|b| b.is_ascii_digit()) => {
                        (p.to_string(), l.parse::<u64>().unwrap_or(0))
                    }
                    _ => (i.origin.clone(), 0),
                };
                let name = std::path::Path::new(&path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(path);
                (name, line)
            };
            items.sort_by_cached_key(|i| key(i));
        }
        let base = match &opts.model {
            Some(m) => spamsift::bayes::MemoryStore::load(m).map_err(fail)?,
            None => spamsift::bayes::MemoryStore::new(),
        };
        let store = std::sync::Arc::new(LearningStore::new(base));
        let o = EngineOpts {
            model: None,
            ..opts.clone()
        };
        let engine = o
            .builder()
            .and_then(|b| {
                b.token_store(std::sync::Arc::clone(&store)
                    as std::sync::Arc<dyn spamsift::bayes::TokenStore>)
                    .build()
            })
            .map_err(fail)?;
        let r = run(&engine, &store, &items, channel, args.train_on_error);
        super::print_out(&r.to_text(args.train_on_error))?;
        #[cfg(feature = "plots")]
        if let Some(dir) = &args.plots {
            std::fs::create_dir_all(dir).map_err(fail)?;
            let path = dir.join(format!("{channel}-online.svg"));
            spamsift::eval::plot::curve_svg(
                &path,
                &format!("{channel}: (1-ROCA)% as it learns"),
                &r.curve,
            )
            .map_err(|e| fail(format_args!("{}: {e}", path.display())))?;
        }
        reports.push(r);
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&reports).map_err(fail)?;
        spamsift::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|e| fail(format_args!("{}: {e}", path.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}
