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
    /// When set, `check` and the milter add an `Authentication-Results`
    /// field with this authserv-id (your host's name) to mail they pass on.
    #[serde(default)]
    pub authserv_id: Option<String>,
    /// Forwarders (mailing lists, the large mailbox providers) whose valid
    /// ARC seal is believed: a DMARC failure of mail they forwarded does
    /// not count against it. A seal by anyone else proves only who sealed.
    #[serde(default)]
    pub trusted_arc_sealers: Vec<String>,
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
    /// The domain of the latest ARC seal, when the chain validated.
    pub arc_sealer: Option<String>,
    /// The latest sealer is one of `[dns] trusted_arc_sealers`: its
    /// authentication of the original message stands in for checks that
    /// the forward broke.
    pub arc_trusted: bool,
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
        let policy = match self.dmarc_policy {
            DmarcPolicy::Reject => Some("reject"),
            DmarcPolicy::Quarantine => Some("quarantine"),
            DmarcPolicy::None => Some("none"),
            DmarcPolicy::Unspecified => None,
        };
        if let Some(p) = policy {
            out.push_str(&format!(" policy.dmarc={p}"));
        }
        if !self.dmarc_domain.is_empty() {
            out.push_str(&format!(" header.from={}", self.dmarc_domain));
        }
        out.push_str(&format!("; arc={}", self.arc.as_str()));
        out
    }
}

/// Results read from an `Authentication-Results` field (RFC 8601) whose
/// authserv-id is one of `trusted` (your own MTA's), instead of repeating
/// its lookups; `None` when the field is from another authserv-id.
pub fn read_results(value: &str, trusted: &[String]) -> Option<AuthResults> {
    // Comments first: `dmarc=fail (p=REJECT dis=NONE) header.from=x`.
    let mut plain = String::with_capacity(value.len());
    let mut comments = String::new();
    let mut depth = 0u32;
    for c in value.chars() {
        match c {
            '(' => {
                depth += 1;
                comments.push(' ');
            }
            ')' => depth = depth.saturating_sub(1),
            c if depth > 0 => comments.push(c),
            c => plain.push(c),
        }
    }
    let mut parts = plain.split(';');
    let id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    if !trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)) {
        return None;
    }
    let mut out = AuthResults::default();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let outcome = match result.to_ascii_lowercase().as_str() {
            "pass" => Outcome::Pass,
            "fail" | "hardfail" => Outcome::Fail,
            "softfail" => Outcome::SoftFail,
            "neutral" | "policy" => Outcome::Neutral,
            "temperror" => Outcome::TempError,
            "permerror" => Outcome::PermError,
            _ => Outcome::None,
        };
        let props: Vec<(String, String)> = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                )
            })
            .collect();
        let prop = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match method.to_ascii_lowercase().as_str() {
            "spf" if out.spf == Outcome::None => {
                out.spf = outcome;
                out.spf_domain = prop("smtp.mailfrom")
                    .or_else(|| prop("smtp.helo"))
                    .map(|d| d.rsplit_once('@').map_or(d.clone(), |(_, x)| x.to_string()))
                    .unwrap_or_else(|| "unknown".into());
            }
            "dkim" => {
                if outcome == Outcome::Pass {
                    out.dkim = Outcome::Pass;
                    out.dkim_domains
                        .extend(prop("header.d").or_else(|| prop("header.i")));
                } else if out.dkim == Outcome::None {
                    out.dkim = outcome;
                }
            }
            "dmarc" if out.dmarc == Outcome::None => {
                out.dmarc = outcome;
                out.dmarc_domain = prop("header.from").unwrap_or_default();
                let policy = prop("policy.dmarc").or_else(|| {
                    comments.split_whitespace().find_map(|w| {
                        w.to_ascii_lowercase()
                            .strip_prefix("p=")
                            .map(str::to_string)
                    })
                });
                out.dmarc_policy = match policy.as_deref() {
                    Some("reject") => DmarcPolicy::Reject,
                    Some("quarantine") => DmarcPolicy::Quarantine,
                    Some("none") => DmarcPolicy::None,
                    _ => DmarcPolicy::Unspecified,
                };
            }
            "arc" if out.arc == Outcome::None => out.arc = outcome,
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_authentication_results_are_read() {
        let trusted = vec!["mx.example.org".to_string()];
        let v = "mx.example.org; dkim=pass header.d=shop.test header.s=s1; \
                 spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=security@bank.test; \
                 dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=bank.test; arc=none";
        let r = read_results(v, &trusted).expect("trusted");
        assert_eq!(r.spf, Outcome::Fail);
        assert_eq!(r.spf_domain, "bank.test");
        assert_eq!(r.dkim, Outcome::Pass);
        assert_eq!(r.dkim_domains, vec!["shop.test".to_string()]);
        assert_eq!(
            (r.dmarc, r.dmarc_policy),
            (Outcome::Fail, DmarcPolicy::Reject)
        );
        assert_eq!(r.dmarc_domain, "bank.test");
        // Another authserv-id (a forgery, or someone else's verdict): ignored.
        assert!(read_results("evil.example; spf=pass smtp.mailfrom=a@b", &trusted).is_none());
        // Our own header reads back as written.
        let back = read_results(&r.header_value("mx.example.org"), &trusted).expect("ours");
        assert_eq!(
            (back.spf, back.dkim, back.dmarc, back.dmarc_policy),
            (r.spf, r.dkim, r.dmarc, r.dmarc_policy)
        );
    }
}
