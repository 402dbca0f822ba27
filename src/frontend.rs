//! The seam every email front end shares: the [`Envelope`] a front end
//! knows from its connection, and [`check_email`], which owns the size
//! limit, the time budget, panic catching and fail-open, so that `check`,
//! the milter and the spamd protocol answer alike.

use crate::{Engine, Verdict};
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the connection says about a message: set by the front end from the
/// SMTP session, the protocol request or the command line, never from the
/// message's own headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The SMTP client's address.
    pub client_ip: Option<IpAddr>,
    /// The SMTP client's host name, as the MTA resolved it.
    pub client_host: Option<String>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The envelope sender (MAIL FROM).
    pub mail_from: Option<String>,
    /// The envelope recipients (RCPT TO); their policies apply.
    pub recipients: Vec<String>,
    /// The local user a protocol request runs for (spamd's `User`); used
    /// as the recipient whose policy applies when no recipient is known.
    pub user: Option<String>,
    /// The mailbox being delivered to (Rspamd's `Deliver-To`), whose own
    /// Bayes model applies with `[state] per_user`.
    pub deliver_to: Option<String>,
    /// The MTA's queue id, for logs.
    pub queue_id: Option<String>,
    /// The user the client authenticated as (SMTP AUTH), if any.
    pub auth_user: Option<String>,
    /// When the front end received the message; `None`: now, when it is
    /// applied. Never the message's own `Date`.
    pub received: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Sender authentication results the front end found (SPF needs the
    /// connection; DKIM, DMARC and ARC the message and DNS).
    pub auth: Option<crate::auth::AuthResults>,
    /// The DNS-list rules whose lists answered "listed" for the message.
    pub dns_listed: Vec<std::sync::Arc<str>>,
}

impl Envelope {
    /// Put what the connection says in place of what the message claims:
    /// the client address, the time received (the envelope's, else now),
    /// and the recipients whose policies apply (the envelope recipients,
    /// else the protocol's user).
    pub fn apply(&self, msg: &mut crate::Message) {
        msg.received = Some(
            self.received
                .unwrap_or_else(|| chrono::Utc::now().fixed_offset()),
        );
        if self.auth.is_some() {
            msg.auth.clone_from(&self.auth);
        }
        if !self.dns_listed.is_empty() {
            msg.dns_listed.clone_from(&self.dns_listed);
        }
        if self.client_ip.is_some() {
            msg.client_ip = self.client_ip;
        }
        // The envelope sender is the return path; a Return-Path field in
        // incoming mail is only the sender's claim.
        if let Some(from) = self.mail_from.as_deref() {
            let from = crate::message::identity::normalise_address(from);
            if !from.is_empty() {
                msg.hosts.return_path = crate::message::host::Host::of_address(&from);
                msg.return_path = Some(from);
            }
        }
        let recipients = if self.recipients.is_empty() {
            self.user.as_slice()
        } else {
            self.recipients.as_slice()
        };
        if !recipients.is_empty() {
            msg.recipients = recipients
                .iter()
                .map(|r| crate::message::identity::normalise_address(r))
                .collect();
        }
        msg.user = self.bayes_user();
    }

    /// Whose Bayes model applies (`[state] per_user`): `Deliver-To`, else
    /// the only envelope recipient, else the protocol's user; normalised
    /// like an address. `None` when the message goes to several.
    pub fn bayes_user(&self) -> Option<String> {
        let user = match (&self.deliver_to, self.recipients.as_slice(), &self.user) {
            (Some(d), _, _) => d,
            (None, [only], _) => only,
            (None, [], Some(u)) => u,
            _ => return None,
        };
        let user = crate::message::identity::normalise_address(user);
        (!user.is_empty()).then_some(user)
    }
}

#[cfg(feature = "daemons")]
impl Envelope {
    /// Authenticate `raw` (SPF with this envelope's client address, HELO and
    /// MAIL FROM; DKIM, DMARC, ARC) and ask the engine's DNS lists about it,
    /// when an authenticator is configured (`[dns]`), and keep the results
    /// for the engine. Everything within `[dns] budget`.
    ///
    /// The lists are asked about what the parsed message names; the parsed
    /// message is returned so classification need not parse it again (pass
    /// it to [`check_email_prepared`]). A message the parser panics on is
    /// asked about nothing.
    pub async fn authenticate(
        &mut self,
        auth: Option<&crate::auth::Authenticator>,
        engine: &crate::Engine,
        raw: &[u8],
    ) -> Option<crate::Message> {
        let a = auth?;
        let parsed = if engine.rules().has_dns_lists(crate::Channel::Email) {
            catch_unwind(AssertUnwindSafe(|| {
                let mut msg = engine.parse_email(raw);
                self.apply(&mut msg);
                msg
            }))
            .ok()
        } else {
            None
        };
        let queries = parsed
            .as_ref()
            .map(|m| engine.rules().dns_queries(m))
            .unwrap_or_default();
        let (results, listed) = a
            .check(
                raw,
                self.client_ip,
                self.helo.as_deref(),
                self.mail_from.as_deref(),
                queries,
            )
            .await;
        self.auth = Some(results);
        self.dns_listed = listed;
        parsed
    }
}

/// How much one message may cost a front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message classified; a larger one passes through.
    pub max_size: usize,
    /// Time for classification; the engine stops at the smaller of this
    /// and its own `[limits] budget`.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 20 * 1024 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Classified: the verdict.
    Classified(Verdict),
    /// Not classified, for this reason: the front end passes the message
    /// on unchanged (but for forged `X-Spam-*` fields) and logs why.
    PassedThrough(String),
}

/// Parse and classify raw email for a front end: a message over
/// `limits.max_size` passes through, the envelope's client address and
/// recipients replace what the message claims, classification stops at
/// the budget, and a panic becomes a pass-through instead of a lost
/// connection.
pub fn check_email(engine: &Engine, raw: &[u8], envelope: &Envelope, limits: &Limits) -> Outcome {
    check_email_prepared(engine, raw, None, envelope, limits)
}

/// [`check_email`] of a message already parsed from `raw` (by
/// [`Envelope::authenticate`]), when there is one: it is not parsed again.
pub fn check_email_prepared(
    engine: &Engine,
    raw: &[u8],
    prepared: Option<crate::Message>,
    envelope: &Envelope,
    limits: &Limits,
) -> Outcome {
    if raw.len() > limits.max_size {
        return Outcome::PassedThrough(format!(
            "larger than the size limit of {} bytes",
            limits.max_size
        ));
    }
    let start = Instant::now();
    let budget = limits.timeout.min(engine.config().limits.budget());
    let classified = catch_unwind(AssertUnwindSafe(|| {
        let mut msg = prepared.unwrap_or_else(|| engine.parse_email(raw));
        envelope.apply(&mut msg);
        let v = engine.classify_until(&msg, start.checked_add(budget));
        engine.observe(&msg, &v);
        v
    }));
    match classified {
        Err(_) => Outcome::PassedThrough("internal error (panic) while classifying".into()),
        Ok(v) if engine.passes_through(&v) => {
            Outcome::PassedThrough("classification ran out of its time budget".into())
        }
        Ok(v) => Outcome::Classified(v),
    }
}

/// Where a front end listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `inet:HOST:PORT` (or Sendmail's `inet:PORT@HOST`, or bare `HOST:PORT`)
    Inet(String),
    /// `unix:/path/to.sock` (or `local:/path`)
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Listen, String> {
        let inet = |addr: &str| {
            // Sendmail style `inet:PORT@HOST` as well as `inet:HOST:PORT`.
            let addr = match addr.split_once('@') {
                Some((port, host)) => format!("{host}:{port}"),
                None => addr.to_string(),
            };
            addr.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                .then_some(Listen::Inet(addr))
        };
        if let Some(addr) = s.strip_prefix("inet:") {
            if let Some(l) = inet(addr) {
                return Ok(l);
            }
        } else if let Some(path) = s.strip_prefix("unix:").or_else(|| s.strip_prefix("local:")) {
            if !path.is_empty() {
                return Ok(Listen::Unix(path.into()));
            }
        } else if let Some((host, _)) = s.rsplit_once(':')
            // A bare HOST:PORT needs a host that is not a scheme's name.
            && (host.contains(['.', ':', '[']) || host == "localhost")
            && let Some(l) = inet(s)
        {
            return Ok(l);
        }
        Err(format!(
            "invalid listen address {s:?} (inet:HOST:PORT, HOST:PORT or unix:/path)"
        ))
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Inet(a) => write!(f, "inet:{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// What a front end answers when it cannot decide (the milter's `on_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailAction {
    /// Deliver the message unchanged (Postfix `milter_default_action = accept`).
    #[default]
    Accept,
    /// Ask the client to retry later (4xx).
    Tempfail,
}

impl std::str::FromStr for FailAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "accept" => Ok(FailAction::Accept),
            "tempfail" => Ok(FailAction::Tempfail),
            o => Err(format!("unknown fail action {o:?} (accept or tempfail)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAM: &[u8] = b"From: a@b.example\nSubject: FREE MONEY!!!\n\nClick here to claim your prize now! Act now!\n";

    #[test]
    fn oversize_passes_through_and_envelope_replaces_claims() {
        let engine = Engine::with_defaults().expect("default rules");
        let small = Limits {
            max_size: 10,
            ..Limits::default()
        };
        assert!(matches!(
            check_email(&engine, SPAM, &Envelope::default(), &small),
            Outcome::PassedThrough(why) if why.contains("size limit")
        ));
        let env = Envelope {
            client_ip: Some("192.0.2.9".parse().expect("ip")),
            ..Envelope::default()
        };
        match check_email(&engine, SPAM, &env, &Limits::default()) {
            Outcome::Classified(v) => assert!(v.score.is_finite()),
            other => panic!("{other:?}"),
        }
    }
}
