//! Command-line interface.

mod check;
mod corpus_args;
mod eval;
mod milter;
mod progress;
mod reputation;
mod rules;
mod scan;
mod serve;
mod stream;
mod train;

use clap::{Parser, Subcommand};
use spamsift::{Engine, EngineError};
use std::path::PathBuf;
use std::process::ExitCode;

/// spamsift: anti-spam filtering for email, SMS and instant messages.
#[derive(Debug, Parser)]
#[command(name = "spamsift", version, about, long_about = None)]
struct Cli {
    /// Load rules from this directory instead of the built-in rule sets.
    #[arg(long, global = true, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Thresholds and options (TOML).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Bayes model file (from `spamsift train`); overrides `[bayes] model` in the config.
    #[arg(long, global = true, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Folder of per-recipient policies (RECIPIENT.toml): block/allow lists, keywords, quiet hours.
    #[arg(long, global = true, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// More log output on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Filter one message from stdin: add X-Spam-* headers (email) or print a verdict.
    Check(check::CheckArgs),
    /// Classify messages in parallel; one JSON verdict per message, in input order.
    Scan(scan::ScanArgs),
    /// Gateway pipe: SMS/IM JSON lines on stdin, one JSON verdict per line on stdout, in order.
    Stream(stream::StreamArgs),
    /// Gateway HTTP API: /v1/check, /v1/report, /v1/policy/{recipient}, /healthz, /metrics.
    Serve(serve::ServeArgs),
    /// Classify labelled corpora: accuracy, per-rule statistics, speed, comparisons.
    Eval(Box<eval::EvalArgs>),
    /// List the loaded rules, or validate a rule directory.
    Rules(rules::RulesArgs),
    /// Serve Postfix/Sendmail over the milter protocol.
    Milter(milter::MilterArgs),
    /// Build, merge, query and inspect shareable reputation filters.
    Reputation(reputation::ReputationArgs),
    /// Train a Bayes model from labelled corpora.
    Train(train::TrainArgs),
    /// Learn one message from stdin as spam or ham into a model (user feedback).
    Learn(train::LearnArgs),
}

/// Options every command uses to build the engine.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    pub(crate) rules: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) model: Option<PathBuf>,
    pub(crate) policies: Option<PathBuf>,
}

impl EngineOpts {
    /// The same options with another rule directory.
    pub fn with_rules(&self, dir: &std::path::Path) -> EngineOpts {
        EngineOpts {
            rules: Some(dir.to_path_buf()),
            config: self.config.clone(),
            model: self.model.clone(),
            policies: self.policies.clone(),
        }
    }

    /// How the rule set is named in reports.
    pub fn rules_label(&self) -> String {
        self.rules
            .as_ref()
            .map_or("built-in".to_string(), |r| r.display().to_string())
    }

    /// Build the engine, or say why on stderr and give the exit code (2).
    pub fn build_or_report(&self) -> Result<Engine, ExitCode> {
        self.build().map_err(|e| {
            eprint!("spamsift: {e}");
            ExitCode::from(2)
        })
    }

    /// Build the engine these options describe.
    pub fn build(&self) -> Result<Engine, EngineError> {
        self.builder()?.build()
    }

    /// An engine builder with these options applied.
    pub fn builder(&self) -> Result<spamsift::EngineBuilder, EngineError> {
        let mut b = Engine::builder();
        if let Some(r) = &self.rules {
            b = b.rules_dir(r);
        }
        if let Some(c) = &self.config {
            b = b.config_file(c);
        }
        if let Some(m) = &self.model {
            b = b.model_file(m);
        }
        if let Some(p) = &self.policies {
            b = b.policy_dir(p)?;
        }
        Ok(b)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let opts = EngineOpts {
        rules: cli.rules,
        config: cli.config,
        model: cli.model,
        policies: cli.policies,
    };
    match cli.command {
        Command::Check(a) => check::run(&opts, a),
        Command::Scan(a) => scan::run(&opts, a),
        Command::Stream(a) => stream::run(&opts, a),
        Command::Serve(a) => serve::run(&opts, a),
        Command::Eval(a) => eval::run(&opts, *a),
        Command::Rules(a) => rules::run(&opts, a),
        Command::Milter(a) => milter::run(&opts, a),
        Command::Reputation(a) => reputation::run(a),
        Command::Train(a) => train::train(&opts, a),
        Command::Learn(a) => train::learn(&opts, a),
    }
}
