//! `spamsift train` and `spamsift learn`: building and updating Bayes models.

use super::corpus_args::CorpusArgs;
use super::progress;
use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use rayon::prelude::*;
use spamsift::bayes::{
    LearnOutcome, MemoryStore, TokenStore, TokenStoreMut, features, message_digest,
};
use spamsift::corpus::Label;
use spamsift::message::{Channel, short};
use spamsift::{Config, message};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Model file to write (atomically replaced).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Write the model even when it holds fewer messages than `min_spam` /
    /// `min_ham` (a seed that is to learn more from feedback); the
    /// classifier stays silent until it has enough.
    #[arg(long)]
    allow_small: bool,
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The message is spam.
    #[arg(long, conflicts_with = "ham", required_unless_present = "ham")]
    spam: bool,
    /// The message is ham.
    #[arg(long)]
    ham: bool,
    /// Remove the message instead (undo an earlier learn).
    #[arg(long)]
    unlearn: bool,
    /// Channel of the message on stdin: email (raw) or sms/im (one JSON
    /// object) [default: a JSON object with a "channel" is read as such, else email].
    #[arg(long)]
    channel: Option<Channel>,
    /// Largest message read, in bytes.
    #[arg(long, default_value_t = 20 * 1024 * 1024, value_name = "BYTES")]
    max_size: u64,
    /// Start a new model when the model file does not exist yet.
    #[arg(long)]
    create: bool,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelCommand {
    /// Print a model's counts, features and learned messages; changes nothing.
    Info {
        /// The model file.
        model: PathBuf,
    },
    /// Load a model file into the shared state (Redis): its counts and
    /// learned messages are added to what is there, so a site trains
    /// offline and deploys to its fleet.
    Push {
        /// The model file.
        model: PathBuf,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Write the shared state's token counts (Redis) to a model file.
    Pull {
        /// The model file to write (atomically).
        model: PathBuf,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// Which Redis: the config's `[state]`, with these overrides.
#[derive(Debug, Args)]
struct StateArgs {
    /// Redis URL (default: the config's `[state] url`).
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// Key prefix (default: the config's `[state] prefix`).
    #[arg(long)]
    prefix: Option<String>,
}

impl StateArgs {
    fn open(&self, opts: &EngineOpts) -> Result<spamsift::state::redis::Redis, Failure> {
        let mut settings = match &opts.config {
            Some(c) => Config::from_file(c).map_err(fail)?.state,
            None => spamsift::state::StateSettings::default(),
        };
        settings.backend = spamsift::state::Backend::Redis;
        if let Some(u) = &self.state {
            settings.url.clone_from(u);
        }
        if let Some(p) = &self.prefix {
            settings.prefix.clone_from(p);
        }
        // Bulk transfers wait longer than a message may.
        settings.timeout = settings.timeout.max(10.0);
        spamsift::state::redis::Redis::open(&settings).map_err(fail)
    }
}

/// `spamsift model info|push|pull`.
pub fn model(opts: &EngineOpts, args: ModelArgs) -> CmdResult {
    let model = match args.command {
        ModelCommand::Info { model } => model,
        ModelCommand::Push { model, state } => {
            let store = MemoryStore::load(&model).map_err(fail)?;
            let redis = state.open(opts)?;
            let t = Instant::now();
            let n = redis.push(&store).map_err(fail)?;
            eprintln!(
                "spamsift: pushed {n} features and {} learned messages from {} in {:.1} s ({} requests)",
                store.learned_messages(),
                model.display(),
                t.elapsed().as_secs_f64(),
                redis.requests()
            );
            return Ok(ExitCode::SUCCESS);
        }
        ModelCommand::Pull { model, state } => {
            let redis = state.open(opts)?;
            let store = redis.pull().map_err(fail)?;
            store
                .save(&model)
                .map_err(|e| fail(format!("{}: {e}", model.display())))?;
            eprintln!(
                "spamsift: pulled {} features ({} spam, {} ham learned) into {}",
                store.len(),
                store.learned().spam,
                store.learned().ham,
                model.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let store = MemoryStore::load(&model).map_err(fail)?;
    let l = store.learned();
    super::print_out(&format!(
        "model: {}\nformat version: {}\nspam learned: {}\nham learned: {}\nfeatures: {}\nmessages in the books: {}\n",
        model.display(),
        spamsift::bayes::store::FORMAT_VERSION,
        l.spam,
        l.ham,
        store.len(),
        store.learned_messages()
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn fail(msg: impl std::fmt::Display) -> Failure {
    Failure::setup(msg)
}

fn config(opts: &EngineOpts) -> Result<Config, String> {
    match &opts.config {
        Some(c) => Config::from_file(c).map_err(|e| e.to_string()),
        None => Ok(Config::default()),
    }
}

pub fn train(opts: &EngineOpts, args: TrainArgs) -> CmdResult {
    let cfg = config(opts).map_err(fail)?;
    let (_, corpus) = args.corpus.load().map_err(fail)?;
    let pool = progress::pool(args.jobs).map_err(fail)?;
    let pb = progress::bar(corpus.items.len() as u64, "training");
    let start = Instant::now();
    let store = pool.install(|| {
        corpus
            .items
            .par_iter()
            .fold(MemoryStore::new, |mut store, item| {
                let msg = item.message(&cfg.email);
                store.learn(&features(&msg, &cfg.bayes.tokenizer()), item.label, 1);
                store.note_learned(message_digest(&msg), item.label);
                pb.inc(1);
                store
            })
            .reduce(MemoryStore::new, |mut a, b| {
                a.merge(&b);
                a
            })
    });
    pb.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let l = store.learned();
    if l.spam == 0 || l.ham == 0 {
        return Err(fail(format_args!(
            "the corpus holds {} spam and {} ham: a model needs both; nothing written (check the corpus options, e.g. --email-dir labels by folder names holding 'spam' or 'ham')",
            l.spam, l.ham
        )));
    }
    if (l.spam < cfg.bayes.min_spam || l.ham < cfg.bayes.min_ham) && !args.allow_small {
        return Err(fail(format_args!(
            "the corpus holds {} spam and {} ham, fewer than min_spam {} / min_ham {}: the model would stay silent; nothing written (pass --allow-small to write it anyway)",
            l.spam, l.ham, cfg.bayes.min_spam, cfg.bayes.min_ham
        )));
    }
    // Under the update lock, so a `learn` running meanwhile cannot write
    // its older model over this one.
    let saved =
        spamsift::fsutil::lock_for_update(&args.out).and_then(|_lock| store.save(&args.out));
    if let Err(e) = saved {
        return Err(fail(format_args!(
            "cannot write {}: {e}",
            args.out.display()
        )));
    }
    eprintln!(
        "spamsift: trained {} spam + {} ham in {secs:.2} s ({:.0} msg/s on {} thread(s)); {} features -> {}",
        l.spam,
        l.ham,
        corpus.items.len() as f64 / secs.max(1e-9),
        pool.current_num_threads(),
        store.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn learn(opts: &EngineOpts, args: LearnArgs) -> CmdResult {
    let Some(model) = opts
        .model
        .clone()
        .or_else(|| config(opts).ok().and_then(|c| c.bayes_model))
    else {
        return Err(fail(
            "learn needs a model file: --model FILE (or [bayes] model in --config)",
        ));
    };
    let cfg = config(opts).map_err(fail)?;
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(args.max_size + 1)
        .read_to_end(&mut input)
    {
        return Err(fail(format_args!("cannot read stdin: {e}")));
    }
    if input.len() as u64 > args.max_size {
        return Err(fail(format_args!(
            "message larger than --max-size {} bytes; not learned",
            args.max_size
        )));
    }
    if !model.exists() && !args.create {
        return Err(fail(format_args!(
            "{}: no such model; pass --create to start a new one",
            model.display()
        )));
    }
    let channel = args
        .channel
        .unwrap_or_else(|| super::check::sniff_channel(&input));
    let msg = match channel {
        Channel::Email => message::email::parse(&input, &cfg.email),
        ch => match std::str::from_utf8(&input)
            .map_err(|e| e.to_string())
            .and_then(|t| short::parse(t.trim(), Some(ch)).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => return Err(fail(e)),
        },
    };
    let label = if args.spam { Label::Spam } else { Label::Ham };
    let features = features(&msg, &cfg.bayes.tokenizer());
    let digest = message_digest(&msg);
    // Under the model's update lock: concurrent learns all count.
    let mut outcome = LearnOutcome::Done;
    let store = MemoryStore::update(&model, MemoryStore::new, |s| {
        outcome = s.learn_message(digest, &features, label, args.unlearn);
    })
    .map_err(|e| fail(format_args!("cannot update the model: {e}")))?;
    let l = store.learned();
    let what = match outcome {
        LearnOutcome::Done if args.unlearn => format!("unlearned as {label}"),
        LearnOutcome::Done => format!("learned as {label}"),
        LearnOutcome::AlreadyLearned => format!("already learned as {label}; nothing changed"),
        LearnOutcome::Moved => format!("moved to {label} (it had been learned as the other class)"),
        LearnOutcome::NotLearned(was) => {
            return Err(Failure::Refused(format!(
                "not unlearned: this model never learned the message as {label}{}",
                was.map_or(String::new(), |w| format!(" (it was learned as {w})"))
            )));
        }
    };
    eprintln!(
        "spamsift: {what}; model {} has {} spam, {} ham",
        model.display(),
        l.spam,
        l.ham
    );
    Ok(ExitCode::SUCCESS)
}
