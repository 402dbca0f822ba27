//! Command-line interface.

mod check;
mod corpus_args;
mod deferred;
mod eval;
mod fit;
mod milter;
mod progress;
mod reputation;
mod rspamd;
mod rules;
mod scan;
mod serve;
mod spamd;
mod stream;
mod train;

use clap::{Parser, Subcommand};
use deferred::Deferred;
use spamsift::{Engine, EngineError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when output could not be written (sysexits EX_IOERR): the
/// MTA must retry, not believe the message was delivered.
pub const EXIT_IO: u8 = 74;
/// Exit code when a command cannot start: bad options, or a config, rule,
/// model, policy or corpus file that cannot be used.
pub const EXIT_SETUP: u8 = 2;

/// Why a command failed. [`main`] maps each kind to its exit code, the one
/// place that does so for every subcommand.
#[derive(Debug)]
pub enum Failure {
    /// The command cannot start or go on with what it was given (exit 2).
    Setup(String),
    /// The command was understood but refused, and nothing changed (exit
    /// 1): unlearning a message that was never learned, say.
    Refused(String),
    /// Standard output could not be written (exit 74); a closed pipe is
    /// not reported on stderr (`spamsift rules | head`).
    Output(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Output(e)
    }
}

impl Failure {
    /// A setup failure with this message.
    pub fn setup(msg: impl std::fmt::Display) -> Failure {
        Failure::Setup(msg.to_string())
    }

    /// Say why on stderr and give the exit code.
    fn report(self) -> ExitCode {
        match self {
            Failure::Setup(msg) => {
                eprintln!("spamsift: {}", msg.trim_end());
                ExitCode::from(EXIT_SETUP)
            }
            Failure::Refused(msg) => {
                eprintln!("spamsift: {}", msg.trim_end());
                ExitCode::from(1)
            }
            Failure::Output(e) => {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("spamsift: cannot write output: {e}");
                }
                ExitCode::from(EXIT_IO)
            }
        }
    }
}

/// What `--check-config` prints (milter and serve alike): rules per
/// channel, the model's counts and whether Bayes is active, then the
/// front end's own settings. A model too small to speak gets a warning
/// on stderr, since the classifier would ignore it.
pub fn config_report(engine: &Engine, front_end: &str) -> String {
    let r = engine.rules();
    let per_channel: Vec<String> = spamsift::Channel::ALL
        .iter()
        .map(|c| format!("{c} {}", r.count_for(*c)))
        .collect();
    let bayes = match engine.bayes() {
        None => "no model (Bayes off)".to_string(),
        Some(b) => {
            let l = b.store().learned();
            let c = b.config();
            if b.ready() {
                format!(
                    "model of {} spam + {} ham, {} features (Bayes active)",
                    l.spam,
                    l.ham,
                    b.store().len()
                )
            } else {
                eprintln!(
                    "spamsift: warning: the model has {} spam + {} ham, below min_spam {} / min_ham {}: Bayes stays silent until more is learned",
                    l.spam, l.ham, c.min_spam, c.min_ham
                );
                format!(
                    "model of {} spam + {} ham (Bayes INACTIVE: needs {} + {})",
                    l.spam, l.ham, c.min_spam, c.min_ham
                )
            }
        }
    };
    format!(
        "configuration OK: {} rules ({}); {bayes}; {front_end}\n",
        r.rules().len(),
        per_channel.join(", ")
    )
}

/// What a subcommand returns: its exit code, or why it failed.
pub type CmdResult = Result<ExitCode, Failure>;

/// Write to standard output (locked, unbuffered beyond std's own line
/// buffer); a failure is [`Failure::Output`].
pub fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// spamsift: anti-spam filtering for email, SMS and instant messages.
#[derive(Debug, Parser)]
#[command(name = "spamsift", version, about, long_about = None)]
struct Cli {
    /// Load rules from this directory instead of the built-in rule sets.
    #[arg(long, global = true, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Load every *.toml rule file of DIR after the rule sets: more rules, and
    /// `[[score]]` changes to any rule (score 0.0 switches it off).
    #[arg(long, global = true, value_name = "DIR")]
    local_rules: Option<PathBuf>,
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

/// The subcommands; each one's arguments are built only when it is used
/// (see [`Deferred`]).
#[derive(Debug, Subcommand)]
enum Command {
    /// Filter one message from stdin: add X-Spam-* headers (email) or print a verdict.
    Check(Deferred<check::CheckArgs>),
    /// Classify messages in parallel; one JSON verdict per message, in input order.
    Scan(Deferred<scan::ScanArgs>),
    /// Gateway pipe: SMS/IM JSON lines on stdin, one JSON verdict per line on stdout, in order.
    Stream(Deferred<stream::StreamArgs>),
    /// Gateway HTTP API: /v1/check, /v1/report, /v1/policy/{recipient}, /healthz, /metrics.
    Serve(Deferred<serve::ServeArgs>),
    /// Classify labelled corpora: accuracy, per-rule statistics, speed, comparisons.
    Eval(Deferred<Box<eval::EvalArgs>>),
    /// List the loaded rules, or validate a rule directory.
    Rules(Deferred<rules::RulesArgs>),
    /// Serve Postfix/Sendmail over the milter protocol.
    Milter(Deferred<milter::MilterArgs>),
    /// Serve SpamAssassin's spamd protocol (spamc, Exim's `spam =`).
    Spamd(Deferred<spamd::SpamdArgs>),
    /// Serve Rspamd's protocol (rspamc, Exim's `variant=rspamd`, Haraka,
    /// Rspamd's proxy clients): /checkv2 and the legacy RSPAMC/1.3 on the
    /// worker port, learning and /stat on the controller port.
    Rspamd(Deferred<rspamd::RspamdArgs>),
    /// Build, merge, query and inspect shareable reputation filters.
    Reputation(Deferred<reputation::ReputationArgs>),
    /// Train a Bayes model from labelled corpora.
    Train(Deferred<train::TrainArgs>),
    /// Fit the rule scores of a channel to labelled corpora (each on the
    /// side of what its rule is evidence of); writes a `[[score]]` file.
    Fit(Deferred<fit::FitArgs>),
    /// Learn one message from stdin as spam or ham into a model (user feedback).
    Learn(Deferred<train::LearnArgs>),
    /// Inspect a Bayes model: `model info MODEL`.
    Model(Deferred<train::ModelArgs>),
}

/// Options every command uses to build the engine.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    pub(crate) rules: Option<PathBuf>,
    pub(crate) local_rules: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) model: Option<PathBuf>,
    pub(crate) policies: Option<PathBuf>,
}

/// The sender authenticator of the engine's `[dns]` section, if any.
pub(crate) fn authenticator(
    engine: &spamsift::Engine,
) -> Result<Option<spamsift::auth::Authenticator>, Failure> {
    spamsift::auth::Authenticator::from_config(engine.config()).map_err(Failure::setup)
}

/// Options every MTA protocol daemon (spamd, Rspamd) takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Clients allowed to connect, addresses or networks, comma-separated
    /// (like spamd's --allowed-ips).
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1,::1")]
    pub allowed_ips: Vec<String>,
    /// Largest message classified, in bytes; larger ones are answered "not spam".
    #[arg(long, default_value_t = 20 * 1024 * 1024, value_name = "BYTES")]
    pub max_size: usize,
    /// Time for classifying one message, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
}

impl EngineOpts {
    /// The model file (`--model`, else `[bayes] model`) loaded as a store
    /// the running engine learns into at once, for daemons that learn.
    pub(crate) fn learning_model(
        &self,
    ) -> Result<
        (
            Option<std::path::PathBuf>,
            Option<std::sync::Arc<spamsift::bayes::FeedbackStore>>,
        ),
        Failure,
    > {
        let config = self
            .config
            .as_ref()
            .and_then(|c| spamsift::Config::from_file(c).ok());
        let path = self
            .model
            .clone()
            .or_else(|| config.as_ref().and_then(|c| c.bayes_model.clone()));
        // With the state in Redis, the engine learns there.
        let shared = config
            .as_ref()
            .is_some_and(|c| c.state.backend == spamsift::state::Backend::Redis);
        match (shared, &path) {
            (true, Some(p)) => {
                return Err(Failure::setup(format!(
                    "[state] backend = \"redis\" keeps the model in Redis, and a model file ({}) was given too: load it into Redis with `spamsift model push {}`, then start without it",
                    p.display(),
                    p.display()
                )));
            }
            (true, None) => return Ok((None, None)),
            _ => {}
        }
        let store = match &path {
            Some(p) => Some(std::sync::Arc::new(spamsift::bayes::FeedbackStore::new(
                spamsift::bayes::MemoryStore::load(p).map_err(|e| Failure::setup(e.to_string()))?,
            ))),
            None => None,
        };
        Ok((path, store))
    }

    /// The same options with another rule directory.
    pub fn with_rules(&self, dir: &std::path::Path) -> EngineOpts {
        EngineOpts {
            rules: Some(dir.to_path_buf()),
            local_rules: self.local_rules.clone(),
            config: self.config.clone(),
            model: self.model.clone(),
            policies: self.policies.clone(),
        }
    }

    /// How the rule set is named in reports (and in its load errors): the
    /// rule directory, or `built-in`, with the local rule directory after
    /// it when there is one.
    pub fn rules_label(&self) -> String {
        let base = self
            .rules
            .as_ref()
            .map_or("built-in".to_string(), |r| r.display().to_string());
        match &self.local_rules {
            Some(local) => format!("{base} + local {}", local.display()),
            None => base,
        }
    }

    /// Build the engine, or a setup failure saying why.
    pub fn build_or_fail(&self) -> Result<Engine, Failure> {
        self.build().map_err(Failure::setup)
    }

    /// Build the engine these options describe, compiling at start only
    /// the matchers of `channel` (others compile on their first message),
    /// or a setup failure saying why.
    pub fn build_for_channel(&self, channel: spamsift::Channel) -> Result<Engine, Failure> {
        self.builder()
            .and_then(|b| b.compile_channels(&[channel]).build())
            .map_err(Failure::setup)
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
        if let Some(r) = &self.local_rules {
            b = b.local_rules_dir(r);
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
        local_rules: cli.local_rules,
        config: cli.config,
        model: cli.model,
        policies: cli.policies,
    };
    let result = match cli.command {
        Command::Check(Deferred(a)) => Ok(check::run(&opts, a)),
        Command::Scan(Deferred(a)) => scan::run(&opts, a),
        Command::Stream(Deferred(a)) => stream::run(&opts, a),
        Command::Serve(Deferred(a)) => serve::run(&opts, a),
        Command::Eval(Deferred(a)) => eval::run(&opts, *a),
        Command::Rules(Deferred(a)) => rules::run(&opts, a),
        Command::Milter(Deferred(a)) => milter::run(&opts, a),
        Command::Spamd(Deferred(a)) => spamd::run(&opts, a),
        Command::Rspamd(Deferred(a)) => rspamd::run(&opts, a),
        Command::Reputation(Deferred(a)) => reputation::run(a),
        Command::Train(Deferred(a)) => train::train(&opts, a),
        Command::Fit(Deferred(a)) => fit::run(&opts, a),
        Command::Learn(Deferred(a)) => train::learn(&opts, a),
        Command::Model(Deferred(a)) => train::model(&opts, a),
    };
    result.unwrap_or_else(Failure::report)
}
