//! Who really sent it: SPF (MAIL FROM, else HELO), DKIM, DMARC and ARC.
//!
//! Authentication waits on DNS, so it runs in the front end, before the
//! engine: [`Authenticator::authenticate`] (feature `daemons`: `mail-auth`
//! over one shared, caching `hickory-resolver`) gives [`AuthResults`], which
//! the front end puts on the [`Envelope`](crate::frontend::Envelope) and the
//! engine reads as facts (the `spf_*`, `dkim_*`, `dmarc_*`, `arc_*` eval
//! tests, scored in `rules/email-auth.toml`). All lookups of a message share
//! one budget (`[dns] budget`); past it the verdict is given without the
//! missing answers and `DNS_TIMEOUT` shows it. DNS failures, malformed
//! records and bad signatures become temperror/permerror results, never a
//! delay past the budget or a lost message. Without a `[dns]` section no
//! lookup is made and no authentication rule fires.

#[cfg(feature = "daemons")]
mod resolve;
#[cfg(feature = "daemons")]
pub use resolve::Authenticator;

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// The `[dns]` section: the resolver and its time limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// Name servers (`["127.0.0.1:53"]`), or `"system"` for
    /// `/etc/resolv.conf`.
    pub servers: DnsServers,
    /// Seconds one query may take.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Seconds all lookups of one message may take together.
    #[serde(default = "default_budget")]
    pub budget: f64,
}

fn default_timeout() -> f64 {
    1.0
}
fn default_budget() -> f64 {
    2.0
}

/// Where queries go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DnsServers {
    /// `"system"`: the system resolver configuration.
    System(String),
    /// Name server addresses.
    List(Vec<String>),
}

impl DnsSettings {
    /// Check the values; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match &self.servers {
            DnsServers::System(s) if s == "system" => {}
            DnsServers::System(s) => {
                return Err(format!(
                    "[dns] servers must be \"system\" or a list of addresses, not {s:?}"
                ));
            }
            DnsServers::List(l) if l.is_empty() => {
                return Err("[dns] servers is empty".into());
            }
            DnsServers::List(l) => {
                for s in l {
                    parse_server(s)?;
                }
            }
        }
        for (name, v) in [("timeout", self.timeout), ("budget", self.budget)] {
            if !(v > 0.0 && v.is_finite() && v < 1e4) {
                return Err(format!("[dns] {name} must be a positive number of seconds"));
            }
        }
        Ok(())
    }
}

/// `IP` (port 53) or `IP:PORT`.
pub(crate) fn parse_server(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("[dns] servers: {s:?} is not an address (IP or IP:PORT)"))
}

/// A check's result, as RFC 8601 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// SPF soft fail (`~all`).
    SoftFail,
    /// SPF neutral (`?all`).
    Neutral,
    /// Nothing to check (no record, no signature).
    #[default]
    None,
    /// A transient error (DNS failure or timeout).
    TempError,
    /// A permanent error (malformed record or signature).
    PermError,
}

impl Outcome {
    /// The RFC 8601 word.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::SoftFail => "softfail",
            Outcome::Neutral => "neutral",
            Outcome::None => "none",
            Outcome::TempError => "temperror",
            Outcome::PermError => "permerror",
        }
    }
}

/// The DMARC policy of the From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    /// `p=none` (monitoring only).
    None,
    /// `p=quarantine`.
    Quarantine,
    /// `p=reject`.
    Reject,
    /// No record, or no policy in it.
    #[default]
    Unspecified,
}

/// What authentication found for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthResults {
    /// SPF of the MAIL FROM identity (of the HELO identity for a null sender).
    pub spf: Outcome,
    /// The domain SPF checked.
    pub spf_domain: String,
    /// DKIM: pass if any signature verified, else the first signature's result.
    pub dkim: Outcome,
    /// The domains of the signatures that verified.
    pub dkim_domains: Vec<String>,
    /// DMARC for the From domain: pass when SPF or DKIM passed aligned.
    pub dmarc: Outcome,
    /// The From domain's published policy.
    pub dmarc_policy: DmarcPolicy,
    /// The From domain DMARC evaluated.
    pub dmarc_domain: String,
    /// ARC chain validation.
    pub arc: Outcome,
    /// Some lookups did not finish within the budget.
    pub timed_out: bool,
}

impl AuthResults {
    /// An `Authentication-Results` field value (RFC 8601) for `authserv_id`.
    pub fn header_value(&self, authserv_id: &str) -> String {
        let mut out = format!(
            "{authserv_id}; spf={} smtp.mailfrom={}; dkim={}",
            self.spf.as_str(),
            if self.spf_domain.is_empty() {
                "unknown"
            } else {
                &self.spf_domain
            },
            self.dkim.as_str()
        );
        if let Some(d) = self.dkim_domains.first() {
            out.push_str(&format!(" header.d={d}"));
        }
        out.push_str(&format!("; dmarc={}", self.dmarc.as_str()));
        if !self.dmarc_domain.is_empty() {
            out.push_str(&format!(" header.from={}", self.dmarc_domain));
        }
        out.push_str(&format!("; arc={}", self.arc.as_str()));
        out
    }
}
