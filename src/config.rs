//! Engine configuration: per-channel thresholds and parsing options (TOML).
//!
//! ```toml
//! [email]
//! tag = 5.0          # spam threshold ("required")
//! quarantine = 10.0  # optional
//! reject = 15.0      # optional; omit or set very high to never reject
//!
//! [sms]
//! tag = 5.0
//!
//! [parse]
//! trusted_hops = 1          # Received headers added by your own site
//! max_body_bytes = 524288   # decoded text kept for matching
//!
//! rules = "rules"           # rule directory replacing the built-in rules, or:
//! # [rules]
//! # dir = "rules"           # (the same)
//! # local = "local-rules"   # loaded after the rule sets: more rules, [[score]] changes
//!
//! [milter]
//! listen = "inet:127.0.0.1:11332"
//! timeout = 10.0            # seconds per message
//! max_size = 20971520
//! on_error = "accept"       # or "tempfail"
//!
//! [limits]
//! budget = 5.0              # seconds of classification per message
//! over_budget = "verdict"   # or "pass": pass the message through unchanged
//! ```

use crate::bayes::BayesConfig;
use crate::message::{Channel, EmailOptions};
use crate::verdict::Thresholds;
use serde::Deserialize;
use std::path::Path;

/// Everything the engine needs besides rules.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Thresholds per channel, indexed by [`Channel::index`].
    pub thresholds: [Thresholds; 3],
    /// How email is parsed.
    pub email: EmailOptions,
    /// Statistical classifier settings.
    pub bayes: BayesConfig,
    /// Model file to load (`[bayes] model = "..."`, relative to the config file).
    pub bayes_model: Option<std::path::PathBuf>,
    /// Rule directory (`rules = "..."` or `[rules] dir`, relative to the
    /// config file): replaces the built-in rules.
    pub rules_dir: Option<std::path::PathBuf>,
    /// Local rule directory (`[rules] local`), loaded after the rule sets.
    pub local_rules_dir: Option<std::path::PathBuf>,
    /// Milter settings (`[milter]`).
    pub milter: MilterSettings,
    /// Sender behaviour analysis (`[behaviour]`).
    pub behaviour: crate::behaviour::BehaviourConfig,
    /// Per-message work limits (`[limits]`).
    pub limits: Limits,
    /// The HTTP API's access control and connection limits (`[serve]`).
    pub serve: ServeSettings,
    /// The Rspamd front end's controller (`[rspamd]`).
    pub rspamd: RspamdSettings,
    /// The resolver for sender authentication and DNS lists (`[dns]`);
    /// `None`: no lookups, no authentication rule fires.
    pub dns: Option<crate::auth::DnsSettings>,
    /// Where learned state lives (`[state]`): this process, or Redis.
    pub state: crate::state::StateSettings,
    /// Greylisting in the milter and the Rspamd protocol (`[greylist]`).
    pub greylist: crate::greylist::GreylistSettings,
    /// Sender reputation learned from verdicts (`[reputation]`).
    pub reputation: crate::reputation::ReputationSettings,
    /// What is added to email besides the verdict fields (`[email]`).
    pub markup: crate::headers::Markup,
}

/// The `[email]` section: thresholds, and what the result fields say.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    #[serde(default = "default_email_tag")]
    tag: f64,
    #[serde(default)]
    quarantine: Option<f64>,
    #[serde(default = "default_email_reject")]
    reject: Option<f64>,
    #[serde(default)]
    report: bool,
    #[serde(default)]
    rewrite_subject: Option<String>,
}

fn default_email_tag() -> f64 {
    Thresholds::default().tag
}

fn default_email_reject() -> Option<f64> {
    Thresholds::default().reject
}

/// The `[serve]` section: who may use the HTTP API's write routes (policy
/// reads and writes, complaints) and how connections are bounded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Bearer token (`Authorization: Bearer TOKEN`) that allows writes.
    #[serde(default)]
    pub token: Option<String>,
    /// The token's SHA-256, hex, instead of the token itself.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Client addresses or networks (`192.0.2.7`, `10.0.0.0/8`, `::1`)
    /// allowed to write without a token. Loopback is not allowed unless listed.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Complaints one reporter may file per hour.
    #[serde(default = "default_reports_per_hour")]
    pub reports_per_hour: u32,
    /// Open connections at most; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (also the
    /// keep-alive idle time between requests).
    #[serde(default = "default_header_timeout")]
    pub header_timeout: f64,
    /// Seconds a request may take, body and answer included.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: f64,
}

fn default_reports_per_hour() -> u32 {
    100
}
fn default_max_connections() -> usize {
    1024
}
fn default_header_timeout() -> f64 {
    10.0
}
fn default_request_timeout() -> f64 {
    30.0
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            token: None,
            token_sha256: None,
            allowed_ips: Vec::new(),
            reports_per_hour: default_reports_per_hour(),
            max_connections: default_max_connections(),
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
        }
    }
}

impl ServeSettings {
    /// Check the values; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for ip in &self.allowed_ips {
            crate::net::IpNet::parse(ip).map_err(|e| format!("[serve] allowed_ips: {e}"))?;
        }
        if let Some(h) = &self.token_sha256
            && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err("[serve] token_sha256 must be 64 hex digits".into());
        }
        if self.token.as_deref().is_some_and(|t| t.len() < 16) {
            return Err("[serve] token must be at least 16 characters".into());
        }
        if [self.header_timeout, self.request_timeout]
            .iter()
            .any(|t| !(*t > 0.0 && t.is_finite() && *t < 1e6))
        {
            return Err("[serve] timeouts must be positive numbers of seconds".into());
        }
        if self.max_connections == 0 {
            return Err("[serve] max_connections must be at least 1".into());
        }
        Ok(())
    }
}

/// The `[rspamd]` section: the controller's learning password, kept as
/// its SHA-256 (`printf %s PASSWORD | sha256sum`), like Rspamd keeps a hash.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RspamdSettings {
    /// SHA-256 of the password (`Password:` header) that `/learnspam` and
    /// `/learnham` need; without it, learning over the controller is off.
    #[serde(default)]
    pub password_sha256: Option<String>,
}

impl RspamdSettings {
    /// Check the values; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(h) = &self.password_sha256
            && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err("[rspamd] password_sha256 must be 64 hex digits".into());
        }
        Ok(())
    }
}

/// What to do with a message whose classification ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverBudget {
    /// Give the verdict of the checks that ran, with a `TIME_BUDGET` hit.
    #[default]
    Verdict,
    /// Treat the message as unclassified: front ends pass it through
    /// unchanged (verdict headers removed), as on any other error.
    Pass,
}

/// The `[limits]` section: how much work one message may cost.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Seconds of classification per message; checks are skipped once it
    /// is spent (the engine looks at the clock between stages and fields).
    #[serde(default = "default_budget")]
    pub budget: f64,
    /// What an over-budget verdict means to front ends.
    #[serde(default)]
    pub over_budget: OverBudget,
}

fn default_budget() -> f64 {
    5.0
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            budget: default_budget(),
            over_budget: OverBudget::Verdict,
        }
    }
}

impl Limits {
    /// The budget as a duration.
    pub fn budget(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.budget)
    }
}

/// The `[milter]` section; command-line options override it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilterSettings {
    /// Listen address: `inet:HOST:PORT` or `unix:/path`.
    pub listen: Option<String>,
    /// Time budget per message, seconds.
    pub timeout: Option<f64>,
    /// Largest message classified, bytes.
    pub max_size: Option<usize>,
    /// `accept` or `tempfail` when a message cannot be classified.
    pub on_error: Option<String>,
    /// Seconds a session may stay silent before it is closed.
    pub idle_timeout: Option<f64>,
}

/// A configuration problem, with its place.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    /// File name.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    email: Option<toml::Spanned<RawEmail>>,
    #[serde(default)]
    sms: Option<toml::Spanned<Thresholds>>,
    #[serde(default)]
    im: Option<toml::Spanned<Thresholds>>,
    #[serde(default)]
    parse: Option<RawParse>,
    #[serde(default)]
    bayes: Option<toml::Spanned<toml::Table>>,
    #[serde(default)]
    rules: Option<RawRules>,
    #[serde(default)]
    milter: Option<toml::Spanned<MilterSettings>>,
    #[serde(default)]
    behaviour: Option<crate::behaviour::BehaviourConfig>,
    #[serde(default)]
    limits: Option<toml::Spanned<Limits>>,
    #[serde(default)]
    serve: Option<toml::Spanned<ServeSettings>>,
    #[serde(default)]
    rspamd: Option<toml::Spanned<RspamdSettings>>,
    #[serde(default)]
    dns: Option<toml::Spanned<crate::auth::DnsSettings>>,
    #[serde(default)]
    state: Option<toml::Spanned<crate::state::StateSettings>>,
    #[serde(default)]
    greylist: Option<toml::Spanned<crate::greylist::GreylistSettings>>,
    #[serde(default)]
    reputation: Option<toml::Spanned<crate::reputation::ReputationSettings>>,
}

/// `rules = "DIR"` or a `[rules]` table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRules {
    Dir(String),
    Table(RawRulesTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRulesTable {
    #[serde(default)]
    dir: Option<String>,
    #[serde(default)]
    local: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParse {
    trusted_hops: Option<usize>,
    max_body_bytes: Option<usize>,
    trusted_authserv_ids: Option<Vec<String>>,
}

impl Config {
    /// Thresholds of a channel.
    pub fn thresholds(&self, channel: Channel) -> &Thresholds {
        &self.thresholds[channel.index()]
    }

    /// Read a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::from_toml(&file, &text)
    }

    /// Parse configuration text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigError> {
        let line_of = |off: usize| text[..off.min(text.len())].matches('\n').count() + 1;
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: file.into(),
            line: e.span().map_or(0, |s| line_of(s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut cfg = Config::default();
        let email = raw.email.map(|e| {
            let span = e.span();
            let e = e.into_inner();
            cfg.markup = crate::headers::Markup {
                report: e.report,
                rewrite_subject: e.rewrite_subject.filter(|s| !s.is_empty()),
            };
            toml::Spanned::new(
                span,
                Thresholds {
                    tag: e.tag,
                    quarantine: e.quarantine,
                    reject: e.reject,
                },
            )
        });
        for (ch, t) in [
            (Channel::Email, email),
            (Channel::Sms, raw.sms),
            (Channel::Im, raw.im),
        ] {
            if let Some(t) = t {
                let line = line_of(t.span().start);
                let t = t.into_inner();
                t.validate().map_err(|message| ConfigError {
                    file: file.into(),
                    line,
                    message: format!("[{ch}] {message}"),
                })?;
                cfg.thresholds[ch.index()] = t;
            }
        }
        if let Some(b) = raw.bayes {
            let line = line_of(b.span().start);
            let mut table = b.into_inner();
            if let Some(m) = table.remove("model") {
                let m = m.as_str().ok_or_else(|| ConfigError {
                    file: file.into(),
                    line,
                    message: "[bayes] model must be a file name".into(),
                })?;
                let base = std::path::Path::new(file)
                    .parent()
                    .unwrap_or(std::path::Path::new(""));
                cfg.bayes_model = Some(base.join(m));
            }
            cfg.bayes = table.try_into().map_err(|e: toml::de::Error| ConfigError {
                file: file.into(),
                line,
                message: format!("[bayes] {}", e.message().trim()),
            })?;
        }
        let base = std::path::Path::new(file)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        match raw.rules {
            Some(RawRules::Dir(r)) => cfg.rules_dir = Some(base.join(r)),
            Some(RawRules::Table(t)) => {
                cfg.rules_dir = t.dir.map(|d| base.join(d));
                cfg.local_rules_dir = t.local.map(|d| base.join(d));
            }
            None => {}
        }
        if let Some(m) = raw.milter {
            let line = line_of(m.span().start);
            let m = m.into_inner();
            let bad = |message: String| ConfigError {
                file: file.into(),
                line,
                message,
            };
            if let Some(l) = &m.listen {
                l.parse::<crate::frontend::Listen>()
                    .map_err(|e| bad(format!("[milter] {e}")))?;
            }
            if let Some(o) = &m.on_error {
                o.parse::<crate::frontend::FailAction>()
                    .map_err(|e| bad(format!("[milter] {e}")))?;
            }
            if [m.timeout, m.idle_timeout]
                .iter()
                .flatten()
                .any(|t| !(*t > 0.0 && t.is_finite()))
            {
                return Err(bad(
                    "[milter] timeouts must be positive numbers of seconds".into()
                ));
            }
            cfg.milter = m;
        }
        if let Some(b) = raw.behaviour {
            cfg.behaviour = b;
        }
        if let Some(l) = raw.limits {
            let line = line_of(l.span().start);
            let l = l.into_inner();
            if !(l.budget > 0.0 && l.budget.is_finite() && l.budget < 1e6) {
                return Err(ConfigError {
                    file: file.into(),
                    line,
                    message: "[limits] budget must be a positive number of seconds".into(),
                });
            }
            cfg.limits = l;
        }
        // A section checked as a whole: its errors name its line.
        let checked = |span: std::ops::Range<usize>, r: Result<(), String>| {
            r.map_err(|message| ConfigError {
                file: file.into(),
                line: line_of(span.start),
                message,
            })
        };
        if let Some(sv) = raw.serve {
            checked(sv.span(), sv.get_ref().validate())?;
            cfg.serve = sv.into_inner();
        }
        if let Some(r) = raw.rspamd {
            checked(r.span(), r.get_ref().validate())?;
            cfg.rspamd = r.into_inner();
        }
        if let Some(d) = raw.dns {
            checked(d.span(), d.get_ref().validate())?;
            cfg.dns = Some(d.into_inner());
        }
        if let Some(st) = raw.state {
            checked(st.span(), st.get_ref().validate())?;
            cfg.state = st.into_inner();
        }
        if let Some(g) = raw.greylist {
            checked(g.span(), g.get_ref().validate())?;
            cfg.greylist = g.into_inner();
        }
        if let Some(r) = raw.reputation {
            checked(r.span(), r.get_ref().validate())?;
            cfg.reputation = r.into_inner();
        }
        if let Some(p) = raw.parse {
            if let Some(h) = p.trusted_hops {
                cfg.email.trusted_hops = h;
            }
            if let Some(ids) = p.trusted_authserv_ids {
                cfg.email.trusted_authserv_ids = ids;
            }
            if let Some(m) = p.max_body_bytes {
                cfg.email.max_body_bytes = m;
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_thresholds() {
        let c = Config::from_toml(
            "t.toml",
            "[sms]\ntag = 4.0\nreject = 9.0\n[parse]\ntrusted_hops = 2\n",
        )
        .expect("valid configuration");
        assert_eq!(c.thresholds(Channel::Sms).tag, 4.0);
        assert_eq!(c.thresholds(Channel::Email).tag, 5.0);
        assert_eq!(c.email.trusted_hops, 2);
    }

    #[test]
    fn reads_bayes_section() {
        let c = Config::from_toml(
            "/etc/spamsift/c.toml",
            "[bayes]\nmodel = \"m.bin\"\nmin_spam = 10\n",
        )
        .expect("valid configuration");
        assert_eq!(c.bayes.min_spam, 10);
        assert_eq!(c.bayes.min_ham, 200);
        assert_eq!(
            c.bayes_model.as_deref(),
            Some(std::path::Path::new("/etc/spamsift/m.bin"))
        );
        let e = Config::from_toml("c.toml", "\n[bayes]\nmin_spm = 1\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("min_spm"), "{e}");
    }

    #[test]
    fn reads_milter_section_and_rules_dir() {
        let c = Config::from_toml("/etc/spamsift/c.toml", "rules = \"r\"\n[milter]\nlisten = \"unix:/run/s.sock\"\ntimeout = 2.5\non_error = \"tempfail\"\n").expect("valid configuration");
        assert_eq!(
            c.rules_dir.as_deref(),
            Some(std::path::Path::new("/etc/spamsift/r"))
        );
        assert_eq!(c.milter.timeout, Some(2.5));
        let e = Config::from_toml("c.toml", "[milter]\nlisten = \"tcp:1\"\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("c.toml:1: [milter] invalid listen address"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Config::from_toml(
            "t.toml",
            "[email]\ntag = 5.0\n\n[im]\ntag = 6.0\nreject = 2.0\n",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("t.toml", 4), "{e}");
        let e = Config::from_toml("t.toml", "[email]\ntga = 1\n").unwrap_err();
        assert!(e.to_string().starts_with("t.toml:2:"), "{e}");
    }
}
