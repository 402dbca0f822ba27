//! `spamsift reputation build|merge|query|info`: shareable Bloom filters of
//! spam sources.

use super::progress;
use super::{CmdResult, Failure};
use clap::{Args, Subcommand};
use spamsift::reputation::{FilterBuilder, Kind, ReputationFilter, normalise_item};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ReputationArgs {
    #[command(subcommand)]
    command: ReputationCommand,
}

#[derive(Debug, Subcommand)]
enum ReputationCommand {
    /// Build a filter from lists (one item per line, `#` comments); stdin when no INPUT.
    Build(BuildArgs),
    /// Union filters built with the same parameters (and key).
    Merge(MergeArgs),
    /// Ask whether items are listed (exit 0 if any is, 1 if none).
    Query(QueryArgs),
    /// Show a filter's parameters.
    Info(InfoArgs),
}

#[derive(Debug, Args)]
struct KeyArg {
    /// Secret key file shared with partners: items are HMAC'd with it.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

impl KeyArg {
    fn read(&self) -> Result<Option<Vec<u8>>, String> {
        self.key
            .as_ref()
            .map(|p| std::fs::read(p).map_err(|e| format!("cannot read key {}: {e}", p.display())))
            .transpose()
            .and_then(|k| match k {
                Some(k) if k.len() < 16 => Err("the key file must hold at least 16 bytes".into()),
                k => Ok(k),
            })
    }
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// What the list holds: ip, domain, url-host, email, phone, im-account.
    #[arg(long)]
    kind: Kind,
    /// Target false-positive rate.
    #[arg(long, default_value_t = 0.001)]
    fp_rate: f64,
    /// Output filter file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Size the filter for this many items (default: the items read). Filters
    /// that will be merged must share --fp-rate and --capacity.
    #[arg(long, value_name = "N")]
    capacity: Option<usize>,
    /// Source label stored in the filter.
    #[arg(long, default_value = "")]
    label: String,
    /// Refuse the whole input if any line is invalid (default: skip and report).
    #[arg(long)]
    strict: bool,
    /// Calling code for national phone numbers (`07700 900123` -> `+447700900123`).
    #[arg(long, default_value = "44")]
    default_country: String,
    #[command(flatten)]
    key: KeyArg,
    /// List files; stdin when none.
    inputs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// Output filter file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    key: KeyArg,
    /// Filters to merge (two or more).
    #[arg(required = true, num_args = 2..)]
    filters: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// Filter file.
    filter: PathBuf,
    /// Items to look up.
    #[arg(required = true)]
    items: Vec<String>,
    /// Calling code for national phone numbers.
    #[arg(long, default_value = "44")]
    default_country: String,
    #[command(flatten)]
    key: KeyArg,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// Filter file.
    filter: PathBuf,
    #[command(flatten)]
    key: KeyArg,
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure::setup(msg)
}

pub fn run(args: ReputationArgs) -> CmdResult {
    match args.command {
        ReputationCommand::Build(a) => build(a),
        ReputationCommand::Merge(a) => merge(a),
        ReputationCommand::Query(a) => query(a),
        ReputationCommand::Info(a) => info(a),
    }
}

fn build(a: BuildArgs) -> CmdResult {
    let key = a.key.read().map_err(fail)?;
    let start = Instant::now();
    // Items are hashed as they are read: memory is 8 bytes per item.
    let mut builder = FilterBuilder::new(a.kind, key.as_deref());
    let mut bad = 0usize;
    let sources: Vec<(String, Box<dyn Read>)> = if a.inputs.is_empty() {
        vec![("<stdin>".into(), Box::new(std::io::stdin()))]
    } else {
        let mut v: Vec<(String, Box<dyn Read>)> = Vec::new();
        for p in &a.inputs {
            match std::fs::File::open(p) {
                Ok(f) => v.push((p.display().to_string(), Box::new(f))),
                Err(e) => return Err(fail(format_args!("cannot read {}: {e}", p.display()))),
            }
        }
        v
    };
    let total: u64 = a
        .inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let pb = progress::bar(total, "reading");
    for (name, src) in sources {
        for (i, line) in BufReader::new(src).split(b'\n').enumerate() {
            let line = match line {
                Ok(l) => l,
                Err(e) => return Err(fail(format_args!("{name}: {e}"))),
            };
            pb.inc(line.len() as u64 + 1);
            let text = String::from_utf8_lossy(&line);
            let item = text.split('#').next().unwrap_or("").trim();
            if item.is_empty() {
                continue;
            }
            match normalise_item(a.kind, item, &a.default_country) {
                Ok(n) => builder.add(&n),
                Err(why) => {
                    bad += 1;
                    eprintln!(
                        "spamsift: {name}:{}: {why}{}",
                        i + 1,
                        if a.strict { "" } else { " (skipped)" }
                    );
                }
            }
        }
    }
    pb.finish_and_clear();
    if a.strict && bad > 0 {
        return Err(fail(format_args!(
            "{bad} invalid line(s); nothing written (--strict)"
        )));
    }
    let filter = builder
        .finish(a.fp_rate, a.capacity, &a.label)
        .map_err(fail)?;
    if let Err(e) = filter.save(&a.out) {
        return Err(fail(format_args!("cannot write {}: {e}", a.out.display())));
    }
    let size = std::fs::metadata(&a.out).map_or(0, |m| m.len());
    eprintln!(
        "spamsift: {} {} item(s) ({} invalid skipped) -> {} ({:.1} MB) in {:.2} s",
        filter.info().items,
        a.kind,
        bad,
        a.out.display(),
        size as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn merge(a: MergeArgs) -> CmdResult {
    let key = a.key.read().map_err(fail)?;
    let mut merged: Option<ReputationFilter> = None;
    for p in &a.filters {
        let f = ReputationFilter::load(p, key.as_deref()).map_err(fail)?;
        match &mut merged {
            None => merged = Some(f),
            Some(m) => {
                if let Err(e) = m.merge(&f, &p.display().to_string()) {
                    return Err(fail(e));
                }
            }
        }
    }
    let Some(m) = merged else {
        return Err(fail("nothing to merge"));
    };
    if let Err(e) = m.save(&a.out) {
        return Err(fail(format_args!("cannot write {}: {e}", a.out.display())));
    }
    eprintln!(
        "spamsift: merged {} filters ({} items) -> {}",
        a.filters.len(),
        m.info().items,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn query(a: QueryArgs) -> CmdResult {
    let key = a.key.read().map_err(fail)?;
    let f = ReputationFilter::load(&a.filter, key.as_deref()).map_err(fail)?;
    let mut any = false;
    for item in &a.items {
        let hit = f.contains(item, &a.default_country);
        any |= hit;
        super::print_out(&format!(
            "{item}\t{}\n",
            if hit { "listed" } else { "not listed" }
        ))?;
    }
    Ok(if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn info(a: InfoArgs) -> CmdResult {
    let key = a.key.read().map_err(fail)?;
    match ReputationFilter::load(&a.filter, key.as_deref()) {
        Ok(f) => {
            let i = f.info();
            super::print_out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&i).unwrap_or_default()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(fail(e)),
    }
}
