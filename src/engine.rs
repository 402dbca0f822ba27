//! The engine: rules and configuration compiled once, shared by reference.

use crate::bayes::{Classifier, MemoryStore, ModelError};
use crate::config::{Config, ConfigError};
use crate::message::{self, Channel, Message, ShortMessageError};
use crate::rules::{LoadError, RuleSet};
use crate::verdict::{Hit, Verdict};
use std::path::{Path, PathBuf};

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Rule files had problems.
    #[error("{0}")]
    Rules(#[from] LoadError),
    /// The configuration file had a problem.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The Bayes model file could not be loaded.
    #[error("{0}")]
    Model(#[from] ModelError),
    /// A policy file could not be loaded.
    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The shared state (`[state]`) cannot be used as configured.
    #[error("[state]: {0}")]
    State(String),
}

/// Builds an [`Engine`] from rule files and a configuration.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    rules_dir: Option<PathBuf>,
    local_rules_dir: Option<PathBuf>,
    config_file: Option<PathBuf>,
    config: Option<Config>,
    model_file: Option<PathBuf>,
    model: Option<MemoryStore>,
    token_store: Option<std::sync::Arc<dyn crate::bayes::TokenStore>>,
    policies: Option<std::sync::Arc<crate::policy::PolicyStore>>,
    behaviour_store: Option<std::sync::Arc<dyn crate::behaviour::BehaviourStore>>,
    complaints: Option<std::sync::Arc<crate::behaviour::ComplaintLog>>,
    compile_channels: Option<Vec<crate::message::Channel>>,
    build_for: crate::rules::BuildFor,
}

impl EngineBuilder {
    /// Compile the rule matchers of these channels only while building; the
    /// others compile when a message of theirs first comes. Every rule is
    /// still validated while building. `spamsift check` asks for the one
    /// channel it reads, which roughly halves its start-up.
    pub fn compile_channels(mut self, channels: &[crate::message::Channel]) -> Self {
        self.compile_channels = Some(channels.to_vec());
        self
    }

    /// What the rule matchers are built for: many messages (the default) or
    /// one message per process, which builds them several times faster.
    pub fn build_for(mut self, build: crate::rules::BuildFor) -> Self {
        self.build_for = build;
        self
    }

    /// Load rules from this directory instead of the embedded defaults.
    pub fn rules_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.rules_dir = Some(dir.into());
        self
    }

    /// Load every `*.toml` of this directory after the rule sets (the
    /// defaults or [`rules_dir`](Self::rules_dir)): new rules, and
    /// `[[score]]` changes to any loaded rule (SpamAssassin's `local.cf`).
    pub fn local_rules_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.local_rules_dir = Some(dir.into());
        self
    }

    /// Read thresholds and options from this TOML file.
    pub fn config_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.config_file = Some(file.into());
        self
    }

    /// Use this configuration (overridden by [`config_file`](Self::config_file)).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Load this Bayes model file (overrides `[bayes] model` in the config).
    pub fn model_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.model_file = Some(file.into());
        self
    }

    /// Read token statistics from this store (e.g. a [`crate::bayes::FeedbackStore`]
    /// that keeps learning from complaints); overrides model files.
    pub fn token_store(mut self, store: std::sync::Arc<dyn crate::bayes::TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// Use this in-memory model.
    pub fn model(mut self, store: MemoryStore) -> Self {
        self.model = Some(store);
        self
    }

    /// Load per-recipient policies from a folder (see [`crate::policy`]).
    pub fn policy_dir(self, dir: impl AsRef<Path>) -> Result<Self, EngineError> {
        let store = crate::policy::PolicyStore::load_dir(dir.as_ref())?;
        Ok(self.policies(std::sync::Arc::new(store)))
    }

    /// Evaluate these per-recipient policies before content rules (the
    /// store can be changed while the engine runs).
    pub fn policies(mut self, store: std::sync::Arc<crate::policy::PolicyStore>) -> Self {
        self.policies = Some(store);
        self
    }

    /// Keep sender behaviour state in this store (default: in memory, when
    /// `[behaviour] enabled = true`).
    pub fn behaviour_store(
        mut self,
        store: std::sync::Arc<dyn crate::behaviour::BehaviourStore>,
    ) -> Self {
        self.behaviour_store = Some(store);
        self
    }

    /// Count user complaints in this log; senders reported often enough get
    /// a `USER_COMPLAINTS` hit.
    pub fn complaint_log(mut self, log: std::sync::Arc<crate::behaviour::ComplaintLog>) -> Self {
        self.complaints = Some(log);
        self
    }

    /// Compile everything.
    pub fn build(self) -> Result<Engine, EngineError> {
        let config = match &self.config_file {
            Some(f) => Config::from_file(f)?,
            None => self.config.unwrap_or_default(),
        };
        let eager = self
            .compile_channels
            .as_deref()
            .unwrap_or(&crate::message::Channel::ALL);
        // (name, text, whether its regexes are checked now): the embedded
        // default rules were checked when spamsift was built and tested.
        // The embedded texts are borrowed from the binary, not copied.
        let mut sources: Vec<(String, std::borrow::Cow<'static, str>, bool)> =
            match self.rules_dir.as_ref().or(config.rules_dir.as_ref()) {
                Some(dir) => crate::rules::read_dir_sources(dir)?
                    .into_iter()
                    .map(|(n, t)| (n, t.into(), true))
                    .collect(),
                None => crate::rules::DEFAULT_RULE_FILES
                    .iter()
                    .map(|&(n, t)| (n.to_string(), t.into(), false))
                    .collect(),
            };
        if let Some(local) = self
            .local_rules_dir
            .as_ref()
            .or(config.local_rules_dir.as_ref())
        {
            sources.extend(
                crate::rules::read_dir_sources(local)?
                    .into_iter()
                    .map(|(n, t)| (n, t.into(), true)),
            );
        }
        let rules = crate::rules::load_sources_checked(sources, eager, self.build_for)?;
        #[cfg_attr(not(feature = "daemons"), allow(unused_variables))]
        let shared = shared_state(&config)?;
        let model_file = self.model_file.or_else(|| config.bayes_model.clone());
        #[cfg(feature = "daemons")]
        if let (Some(_), Some(path), None) = (&shared, &model_file, &self.token_store) {
            return Err(EngineError::State(format!(
                "backend = \"redis\" keeps the model in Redis, and a model file ({}) was given too: load the file into Redis with `spamsift model push {} --config ...`, then start without it",
                path.display(),
                path.display()
            )));
        }
        // One message per process reads the model file in place; others
        // load it and precompute its clues.
        let store: Option<std::sync::Arc<dyn crate::bayes::TokenStore>> =
            match (self.token_store, self.model, model_file) {
                (Some(t), _, _) => Some(t),
                (None, Some(m), _) => Some(std::sync::Arc::new(m)),
                (None, None, Some(path)) if self.build_for == crate::rules::BuildFor::StartUp => {
                    Some(std::sync::Arc::new(crate::bayes::FileStore::open(&path)?))
                }
                (None, None, Some(path)) => Some(std::sync::Arc::new(MemoryStore::load(&path)?)),
                (None, None, None) => None,
            };
        #[cfg(feature = "daemons")]
        let store = match (&shared, store) {
            (_, Some(s)) => Some(s),
            (Some(r), None) => {
                let mut store = crate::state::redis::RedisTokenStore::new(
                    std::sync::Arc::clone(r),
                    std::time::Duration::from_millis(config.state.cache_ms),
                );
                if config.state.per_user {
                    store = store.per_user(crate::bayes::Learned {
                        spam: config.bayes.min_spam,
                        ham: config.bayes.min_ham,
                    });
                }
                Some(std::sync::Arc::new(store) as std::sync::Arc<dyn crate::bayes::TokenStore>)
            }
            (None, None) => None,
        };
        // Complaints are counted where the rest of the state lives.
        #[cfg(feature = "daemons")]
        let complaints = match (&shared, self.complaints) {
            (Some(r), Some(log)) => Some(std::sync::Arc::new(log.with_counter_of(
                std::sync::Arc::new(crate::state::redis::RedisComplaints::new(
                    std::sync::Arc::clone(r),
                )),
            ))),
            (_, c) => c,
        };
        #[cfg(not(feature = "daemons"))]
        let complaints = self.complaints;
        let bayes = store.map(|s| Classifier::new(s, config.bayes.clone()));
        // With shared state, a fleet counts sender behaviour together.
        #[cfg(feature = "daemons")]
        let behaviour_store = self.behaviour_store.or_else(|| {
            shared
                .as_ref()
                .filter(|_| config.behaviour.enabled)
                .map(|r| {
                    std::sync::Arc::new(crate::state::behaviour::RedisBehaviourStore::new(
                        std::sync::Arc::clone(r),
                        &config.behaviour,
                    )) as std::sync::Arc<dyn crate::behaviour::BehaviourStore>
                })
        });
        #[cfg(not(feature = "daemons"))]
        let behaviour_store = self.behaviour_store;
        let behaviour = match behaviour_store {
            Some(store) => Some(crate::behaviour::Behaviour::new(
                store,
                config.behaviour.clone(),
            )),
            None if config.behaviour.enabled => Some(crate::behaviour::Behaviour::new(
                std::sync::Arc::new(crate::behaviour::MemoryBehaviourStore::new(
                    &config.behaviour,
                )),
                config.behaviour.clone(),
            )),
            None => None,
        };
        let greylist = if config.greylist.enabled {
            #[cfg(feature = "daemons")]
            let store: std::sync::Arc<dyn crate::greylist::GreylistStore> = match &shared {
                Some(r) => std::sync::Arc::new(crate::state::redis::RedisGreylist::new(
                    std::sync::Arc::clone(r),
                )),
                None => std::sync::Arc::new(crate::greylist::MemoryGreylist::new(
                    config.greylist.capacity,
                )),
            };
            #[cfg(not(feature = "daemons"))]
            let store = std::sync::Arc::new(crate::greylist::MemoryGreylist::new(
                config.greylist.capacity,
            ));
            Some(
                crate::greylist::Greylister::new(config.greylist.clone(), store)
                    .map_err(|e| EngineError::State(format!("[greylist] {e}")))?,
            )
        } else {
            None
        };
        let reputation = config.reputation.enabled.then(|| {
            #[cfg(feature = "daemons")]
            let store: std::sync::Arc<dyn crate::reputation::ReputationStore> = match &shared {
                Some(r) => std::sync::Arc::new(crate::state::redis::RedisReputation::new(
                    std::sync::Arc::clone(r),
                    config.reputation.ttl_days,
                )),
                None => std::sync::Arc::new(crate::reputation::counters::MemoryReputation::new(
                    &config.reputation,
                )),
            };
            #[cfg(not(feature = "daemons"))]
            let store = std::sync::Arc::new(crate::reputation::counters::MemoryReputation::new(
                &config.reputation,
            ));
            crate::reputation::Reputation::new(config.reputation.clone(), store)
        });
        Ok(Engine {
            reputation,
            greylist,
            rules,
            config,
            bayes,
            policies: self.policies,
            behaviour,
            complaints,
            #[cfg(feature = "daemons")]
            shared,
        })
    }
}

/// The Redis pool of `[state] backend = "redis"` (with its memory
/// ceiling set, when configured); `None` for state in memory.
#[cfg(feature = "daemons")]
fn shared_state(
    config: &Config,
) -> Result<Option<std::sync::Arc<crate::state::redis::Redis>>, EngineError> {
    if config.state.backend != crate::state::Backend::Redis {
        return Ok(None);
    }
    let redis = crate::state::redis::Redis::open(&config.state).map_err(EngineError::State)?;
    if let Some(bytes) = config
        .state
        .max_memory
        .as_deref()
        .and_then(crate::state::parse_bytes)
        && let Err(e) = redis.set_max_memory(bytes)
    {
        // Redis may be down now (the filter starts all the same) or refuse
        // CONFIG (managed elsewhere): say so, do not stop.
        tracing::warn!("[state] max_memory could not be set: {e}");
    }
    Ok(Some(std::sync::Arc::new(redis)))
}

/// Without the `daemons` feature there is no Redis client: asking for one
/// is an error, not state silently kept in memory.
#[cfg(not(feature = "daemons"))]
fn shared_state(config: &Config) -> Result<Option<()>, EngineError> {
    if config.state.backend == crate::state::Backend::Redis {
        return Err(EngineError::State(
            "backend = \"redis\" needs spamsift built with the `daemons` feature".into(),
        ));
    }
    Ok(None)
}

/// Id of the hit a verdict carries when its classification ran out of time.
pub const TIME_BUDGET: &str = "TIME_BUDGET";

/// The filter: immutable, `Send + Sync`, built once and shared (`Arc<Engine>`).
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    config: Config,
    bayes: Option<Classifier>,
    policies: Option<std::sync::Arc<crate::policy::PolicyStore>>,
    behaviour: Option<crate::behaviour::Behaviour>,
    complaints: Option<std::sync::Arc<crate::behaviour::ComplaintLog>>,
    /// Greylisting (`[greylist] enabled`), for the front ends at RCPT.
    greylist: Option<crate::greylist::Greylister>,
    /// Sender reputation learned from verdicts (`[reputation] enabled`).
    reputation: Option<crate::reputation::Reputation>,
    /// The Redis pool, with `[state] backend = "redis"`.
    #[cfg(feature = "daemons")]
    shared: Option<std::sync::Arc<crate::state::redis::Redis>>,
}

impl Engine {
    /// Start building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Whether the engine records anything (sender behaviour, complaints,
    /// greylisting, reputation, shared state). Such an engine must be
    /// dropped before the process ends, so that what it queued is written;
    /// one that records nothing may be left to the process's exit.
    pub fn records_state(&self) -> bool {
        #[cfg(feature = "daemons")]
        let shared = self.shared.is_some();
        #[cfg(not(feature = "daemons"))]
        let shared = false;
        shared
            || self.behaviour.is_some()
            || self.complaints.is_some()
            || self.greylist.is_some()
            || self.reputation.is_some()
    }

    /// The engine with the embedded default rules and configuration.
    pub fn with_defaults() -> Result<Engine, EngineError> {
        Engine::builder().build()
    }

    /// An engine with rules from a directory and the default configuration.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Engine, EngineError> {
        Engine::builder().rules_dir(dir.as_ref()).build()
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The per-recipient policy store, when one is configured.
    pub fn policies(&self) -> Option<&std::sync::Arc<crate::policy::PolicyStore>> {
        self.policies.as_ref()
    }

    /// Whether a front end should pass the message of this verdict through
    /// unclassified: it ran out of time and `[limits] over_budget = "pass"`.
    pub fn passes_through(&self, verdict: &Verdict) -> bool {
        self.config.limits.over_budget == crate::config::OverBudget::Pass && verdict.over_budget()
    }

    /// The statistical classifier, when a model is loaded.
    pub fn bayes(&self) -> Option<&Classifier> {
        self.bayes.as_ref()
    }

    /// The complaint log, when one was given to the builder (counted in
    /// Redis with `[state] backend = "redis"`).
    pub fn complaint_log(&self) -> Option<&std::sync::Arc<crate::behaviour::ComplaintLog>> {
        self.complaints.as_ref()
    }

    /// Greylisting, when `[greylist] enabled`: front ends ask it for each
    /// recipient before the message is sent (it is not classification).
    pub fn greylister(&self) -> Option<&crate::greylist::Greylister> {
        self.greylist.as_ref()
    }

    /// The Redis pool, with `[state] backend = "redis"`.
    #[cfg(feature = "daemons")]
    pub fn shared_state(&self) -> Option<&std::sync::Arc<crate::state::redis::Redis>> {
        self.shared.as_ref()
    }

    /// Parse raw email with this engine's parse options.
    pub fn parse_email(&self, raw: &[u8]) -> Message {
        message::email::parse(raw, &self.config.email)
    }

    /// Parse one SMS/IM JSON object, expecting `channel` if given.
    pub fn parse_json(
        &self,
        json: &str,
        channel: Option<Channel>,
    ) -> Result<Message, ShortMessageError> {
        message::short::parse(json, channel)
    }

    /// Record a classified message in the state that later verdicts read
    /// (the sender's rate, fan-out and duplicate texts; its sources'
    /// reputation, by `verdict`): the step after
    /// [`classify`](Self::classify) for a message that was delivered to
    /// the filter. Classifying is read-only; a message recorded twice (a
    /// retried request) counts once in its sender's behaviour.
    pub fn observe(&self, msg: &Message, verdict: &Verdict) {
        if let Some(b) = &self.behaviour {
            b.record(msg);
        }
        if let Some(r) = self
            .reputation
            .as_ref()
            .filter(|_| msg.channel == Channel::Email)
        {
            r.record(msg, verdict);
        }
    }

    /// Classify a message within the configured time budget
    /// (`[limits] budget`, counted from now). Read-only: the message counts
    /// in its sender's history only once [`observe`](Self::observe)d.
    pub fn classify(&self, msg: &Message) -> Verdict {
        let deadline = std::time::Instant::now().checked_add(self.config.limits.budget());
        self.classify_until(msg, deadline)
    }

    /// Classify a message, skipping the checks left when `deadline` passes
    /// (the clock is read between stages and between fields; every stage
    /// is linear in the message size). A verdict cut short carries a
    /// [`TIME_BUDGET`] hit and is built from the checks that ran.
    pub fn classify_until(&self, msg: &Message, deadline: Option<std::time::Instant>) -> Verdict {
        // The recipient's own rules (X.1242) decide first.
        if let Some(d) = self.policies.as_ref().and_then(|p| p.decide(msg)) {
            return self.policy_verdict(msg, d);
        }
        let out_of_time = || deadline.is_some_and(|d| std::time::Instant::now() >= d);
        let (hit_set, mut complete) = self.rules.run_until(msg, deadline);
        let rules = self.rules.rules();
        // A listed good sender decides ham before content rules and the model.
        let allowed: Vec<Hit> = hit_set
            .iter()
            .filter(|&i| self.rules.is_allow_list(i))
            .map(|i| Hit {
                id: rules[i].id.clone(),
                score: rules[i].score,
                description: rules[i].description.clone(),
            })
            .collect();
        if !allowed.is_empty() {
            let t = self.config.thresholds(msg.channel);
            let score = (allowed.iter().map(|h| h.score).sum::<f64>() * 10.0).round() / 10.0 + 0.0;
            return Verdict {
                channel: msg.channel,
                score,
                threshold: t.tag,
                action: crate::Action::Ham,
                hits: allowed,
                bayes: None,
            };
        }
        let mut hits: Vec<Hit> = hit_set
            .iter()
            .map(|i| &rules[i])
            .filter(|r| r.reported)
            .map(|r| Hit {
                id: r.id.clone(),
                score: r.score,
                description: r.description.clone(),
            })
            .collect();
        // Shared state (behaviour, complaints, Bayes counts in Redis) that
        // cannot be read leaves its checks out, and a hit says so.
        let mut unavailable = false;
        match self.behaviour.as_ref().map(|b| b.try_check(msg)) {
            Some(Ok(h)) => hits.extend(h),
            Some(Err(_)) => unavailable = true,
            None => {}
        }
        match self.complaints.as_ref().map(|c| c.check(&msg.sender)) {
            Some(Ok(Some(h))) => hits.push(h),
            Some(Err(_)) => unavailable = true,
            _ => {}
        }
        match self
            .reputation
            .as_ref()
            .filter(|_| msg.channel == Channel::Email)
            .map(|r| r.check(msg))
        {
            Some(Ok(h)) => hits.extend(h),
            Some(Err(_)) => unavailable = true,
            None => {}
        }
        complete = complete && !out_of_time();
        let evidence = if complete {
            match self.bayes.as_ref().map(|c| c.assess(msg)) {
                Some(Ok(e)) => e,
                Some(Err(_)) => {
                    unavailable = true;
                    None
                }
                None => None,
            }
        } else {
            None
        };
        if unavailable {
            hits.push(Hit {
                id: std::sync::Arc::from(crate::state::STATE_UNAVAILABLE),
                score: 0.0,
                description: std::sync::Arc::from(
                    "Shared state (Redis) could not be read; its checks were skipped",
                ),
            });
        }
        if !complete {
            hits.push(Hit {
                id: std::sync::Arc::from(TIME_BUDGET),
                score: 0.0,
                description: std::sync::Arc::from(
                    "Classification ran out of its time budget; later checks were skipped",
                ),
            });
        }
        if let Some(hit) =
            evidence.and_then(|e| self.bayes.as_ref().and_then(|c| c.band_of(e, msg.channel)))
        {
            hits.push(hit);
        }
        let bayes = evidence.map(|e| e.probability);
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        let raw: f64 = hits.iter().map(|h| h.score).sum();
        // Adding 0.0 turns -0.0 into 0.0.
        let score = (raw * 10.0).round() / 10.0 + 0.0;
        let t = self.config.thresholds(msg.channel);
        Verdict {
            channel: msg.channel,
            score,
            threshold: t.tag,
            action: t.action(score),
            hits,
            bayes,
        }
    }
}

impl Engine {
    fn policy_verdict(&self, msg: &Message, d: crate::policy::Decision) -> Verdict {
        use crate::policy::PolicyAction;
        let t = self.config.thresholds(msg.channel);
        let (action, score) = match d.action {
            PolicyAction::Deliver => (crate::Action::Ham, -100.0),
            PolicyAction::Spambox => (crate::Action::Quarantine, 100.0),
            PolicyAction::Discard => (crate::Action::Reject, 100.0),
        };
        let hit = Hit {
            id: std::sync::Arc::from(d.id),
            score,
            description: std::sync::Arc::from(d.reason.as_str()),
        };
        Verdict {
            channel: msg.channel,
            score,
            threshold: t.tag,
            action,
            hits: vec![hit],
            bayes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
    }
}
