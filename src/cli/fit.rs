//! `spamsift fit`: fit the rule scores of one channel to labelled corpora
//! (rules only, no Bayes model) and write them as a rule file of
//! `[[score]]` entries that a local rule directory loads.

use super::corpus_args::CorpusArgs;
use super::progress;
use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use rayon::prelude::*;
use spamsift::corpus::Label;
use spamsift::eval::fit::{Example, FitOptions, FitRule, confusion, fit, score_file};
use spamsift::message::Channel;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FitArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// The channel whose rules are fitted (on every source of it together).
    #[arg(long = "fit-channel", default_value = "email", value_name = "CHANNEL")]
    fit_channel: Channel,
    /// The score file to write (atomically replaced); stdout without it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// What a false positive costs, in missed spam.
    #[arg(long, default_value_t = 20.0)]
    ham_cost: f64,
    /// Largest score of a spam sign.
    #[arg(long, default_value_t = 4.5)]
    max_score: f64,
    /// Lowest score of a ham sign.
    #[arg(long, default_value_t = -2.0, allow_hyphen_values = true)]
    min_score: f64,
    /// Pull toward the hand-set scores.
    #[arg(long, default_value_t = 0.005)]
    l2: f64,
    /// Worker threads for classifying (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::setup(e)
}

pub fn run(opts: &EngineOpts, args: FitArgs) -> CmdResult {
    if !(args.ham_cost > 0.0 && args.max_score > 0.0 && args.min_score <= 0.0 && args.l2 >= 0.0) {
        return Err(fail(
            "--ham-cost and --max-score must be above 0, --min-score at most 0, --l2 at least 0",
        ));
    }
    // Rules only: a model's hit is not a rule and would stand in for them.
    let engine = EngineOpts {
        model: None,
        ..opts.clone()
    }
    .build_or_fail()?;
    if engine.bayes().is_some() {
        return Err(fail(
            "the configuration loads a Bayes model ([bayes] model): fit the rules without it (a config without the model)",
        ));
    }
    let (_, corpus) = args.corpus.load().map_err(fail)?;
    let channel = args.fit_channel;
    let items: Vec<_> = corpus
        .items
        .iter()
        .filter(|i| i.channel == channel)
        .collect();
    let spam = items.iter().filter(|i| i.label == Label::Spam).count();
    let ham = items.len() - spam;
    if spam == 0 || ham == 0 {
        return Err(fail(format_args!(
            "the corpus holds {spam} spam and {ham} ham of channel {channel}: fitting needs both"
        )));
    }
    let rules: Vec<FitRule> = engine
        .rules()
        .rules()
        .iter()
        .filter(|r| r.reported && r.channels.contains(&channel))
        .map(|r| FitRule {
            id: r.id.to_string(),
            score: r.score,
            evidence: r.evidence,
        })
        .collect();
    let index: HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let pool = progress::pool(args.jobs).map_err(fail)?;
    let pb = progress::bar(items.len() as u64, "classifying");
    let cfg = engine.config();
    let examples: Vec<Example> = pool.install(|| {
        items
            .par_iter()
            .map(|item| {
                let v = engine.classify(&item.message(&cfg.email));
                pb.inc(1);
                Example {
                    hits: v
                        .hits
                        .iter()
                        .filter_map(|h| index.get(&*h.id).copied())
                        .collect(),
                    spam: item.label == Label::Spam,
                }
            })
            .collect()
    });
    pb.finish_and_clear();
    let o = FitOptions {
        threshold: cfg.thresholds(channel).tag,
        ham_cost: args.ham_cost,
        l2: args.l2,
        max_score: args.max_score,
        min_score: args.min_score,
        ..FitOptions::default()
    };
    let fitted = fit(&rules, &examples, &o);
    let before: Vec<f64> = fitted.iter().map(|f| f.before).collect();
    let after: Vec<f64> = fitted.iter().map(|f| f.after).collect();
    let (tp0, fp0) = confusion(&examples, &before, o.threshold);
    let (tp1, fp1) = confusion(&examples, &after, o.threshold);
    let changed = fitted.iter().filter(|f| f.after != f.before).count();
    let summary = format!(
        "fitted by `spamsift fit` on {spam} spam and {ham} ham of channel {channel}\n\
         (threshold {}, ham cost {}, scores within [{}, {}], l2 {}); {changed} of {} rules changed.\n\
         On these messages: spam caught {tp0} -> {tp1} ({:.2}% -> {:.2}%), ham flagged {fp0} -> {fp1}.\n\
         These are training figures: measure on mail the fit did not see (eval --split odd).\n\
         Load it from a local rule directory ([rules] local, --local-rules).",
        o.threshold,
        o.ham_cost,
        o.min_score,
        o.max_score,
        o.l2,
        rules.len(),
        100.0 * tp0 as f64 / spam as f64,
        100.0 * tp1 as f64 / spam as f64,
    );
    let text = score_file(&fitted, &summary);
    match &args.out {
        Some(path) => {
            // A local rule directory named for the first time is made.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail(format_args!("cannot create {}: {e}", dir.display())))?;
            }
            spamsift::fsutil::write_atomic(path, text.as_bytes())
                .map_err(|e| fail(format_args!("cannot write {}: {e}", path.display())))?;
            eprintln!("spamsift: {}", summary.replace('\n', "\nspamsift: "));
        }
        None => super::print_out(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}
