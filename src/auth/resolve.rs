//! The resolver side of authentication: `mail-auth` over `hickory-resolver`.

use super::{AuthResults, DmarcPolicy, DnsServers, DnsSettings, Outcome, parse_server};
use mail_auth::common::verify::VerifySignature;
use mail_auth::hickory_resolver::config::{
    NameServerConfig, ProtocolConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator, SpfResult, dmarc::Policy,
    spf::verify::SpfParameters,
};
use std::net::IpAddr;
use std::time::Duration;

fn spf_outcome(r: SpfResult) -> Outcome {
    match r {
        SpfResult::Pass => Outcome::Pass,
        SpfResult::Fail => Outcome::Fail,
        SpfResult::SoftFail => Outcome::SoftFail,
        SpfResult::Neutral => Outcome::Neutral,
        SpfResult::TempError => Outcome::TempError,
        SpfResult::PermError => Outcome::PermError,
        SpfResult::None => Outcome::None,
    }
}

fn dkim_outcome(r: &DkimResult) -> Outcome {
    match r {
        DkimResult::Pass => Outcome::Pass,
        DkimResult::Neutral(_) => Outcome::Neutral,
        DkimResult::Fail(_) => Outcome::Fail,
        DkimResult::PermError(_) => Outcome::PermError,
        DkimResult::TempError(_) => Outcome::TempError,
        DkimResult::None => Outcome::None,
    }
}

fn dmarc_outcome(r: &DmarcResult) -> Outcome {
    match r {
        DmarcResult::Pass => Outcome::Pass,
        DmarcResult::Fail(_) => Outcome::Fail,
        DmarcResult::TempError(_) => Outcome::TempError,
        DmarcResult::PermError(_) => Outcome::PermError,
        DmarcResult::None => Outcome::None,
    }
}

/// The shared authenticator: one resolver (with its cache) for every message.
#[derive(Clone)]
pub struct Authenticator {
    inner: MessageAuthenticator,
    budget: Duration,
    trusted_arc_sealers: Vec<String>,
    /// This host's name, for SPF's `%{r}` and the results header.
    host: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("budget", &self.budget)
            .field("host", &self.host)
            .finish()
    }
}

impl Authenticator {
    /// An authenticator with the `[dns]` settings.
    pub fn new(settings: &DnsSettings) -> Result<Authenticator, String> {
        settings.validate()?;
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs_f64(settings.timeout);
        opts.attempts = 1;
        opts.cache_size = 64 * 1024;
        let inner = match &settings.servers {
            DnsServers::System(_) => {
                let (config, mut sys) =
                    mail_auth::hickory_resolver::system_conf::read_system_conf()
                        .map_err(|e| format!("[dns] servers = \"system\": {e}"))?;
                sys.timeout = opts.timeout;
                sys.attempts = 1;
                MessageAuthenticator::new(config, sys)
            }
            DnsServers::List(list) => {
                let mut config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
                for s in list {
                    let addr = parse_server(s)?;
                    config.add_name_server(NameServerConfig::new(addr, ProtocolConfig::Udp));
                    config.add_name_server(NameServerConfig::new(addr, ProtocolConfig::Tcp));
                }
                MessageAuthenticator::new(config, opts)
            }
        }
        .map_err(|e| format!("[dns]: {e}"))?;
        Ok(Authenticator {
            inner,
            budget: Duration::from_secs_f64(settings.budget),
            trusted_arc_sealers: settings.trusted_arc_sealers.clone(),
            host: "localhost".into(),
        })
    }

    /// The authenticator of a configuration's `[dns]` section; `None`
    /// without one (no lookups, no authentication rule fires).
    pub fn from_config(config: &crate::Config) -> Result<Option<Authenticator>, String> {
        config.dns.as_ref().map(Authenticator::new).transpose()
    }

    /// Authenticate a raw message with what the connection says: SPF needs
    /// the client address (and MAIL FROM or HELO); DKIM, DMARC and ARC the
    /// message. Within the budget; a message that cannot be parsed gets
    /// `None` everywhere.
    pub async fn authenticate(
        &self,
        raw: &[u8],
        client_ip: Option<IpAddr>,
        helo: Option<&str>,
        mail_from: Option<&str>,
    ) -> AuthResults {
        self.check(raw, client_ip, helo, mail_from, Vec::new())
            .await
            .0
    }

    /// Authenticate a message and ask its DNS lists, all at once within one
    /// budget: the authentication results, and the rules whose lists
    /// answered "listed". A list that does not answer in time, or answers
    /// with an error, counts as not listing (and `timed_out` says so).
    pub async fn check(
        &self,
        raw: &[u8],
        client_ip: Option<IpAddr>,
        helo: Option<&str>,
        mail_from: Option<&str>,
        queries: Vec<crate::rules::dnslist::DnsQuery>,
    ) -> (AuthResults, Vec<std::sync::Arc<str>>) {
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut out = AuthResults::default();
        // Every list query at once, each bounded by the shared deadline.
        let mut lists = tokio::task::JoinSet::new();
        for q in queries {
            let resolver = self.inner.0.clone();
            // A list's own timeout, within the shared budget.
            let until = q
                .list
                .timeout
                .map_or(deadline, |t| deadline.min(tokio::time::Instant::now() + t));
            lists.spawn(async move {
                let answer = tokio::time::timeout_at(until, resolver.ipv4_lookup(q.name)).await;
                match answer {
                    Err(_) => (q.rule, None),
                    Ok(Err(_)) => (q.rule, Some(false)), // NXDOMAIN and errors: not listed
                    Ok(Ok(a)) => {
                        let ips: Vec<std::net::Ipv4Addr> = a.iter().map(|r| r.0).collect();
                        (q.rule, Some(q.list.listed(&ips)))
                    }
                }
            });
        }
        let auth = async {
            if let Some(msg) = AuthenticatedMessage::parse(raw) {
                let work = self.run(&msg, client_ip, helo, mail_from, &mut out);
                if tokio::time::timeout_at(deadline, work).await.is_err() {
                    out.timed_out = true;
                }
            }
        };
        let collect = async {
            let mut listed: Vec<std::sync::Arc<str>> = Vec::new();
            let mut late = false;
            while let Some(r) = lists.join_next().await {
                match r {
                    Ok((rule, Some(true))) if !listed.contains(&rule) => listed.push(rule),
                    Ok((_, None)) => late = true,
                    _ => {}
                }
            }
            (listed, late)
        };
        let ((), (listed, late)) = tokio::join!(auth, collect);
        out.timed_out |= late;
        (out, listed)
    }

    async fn run<'x>(
        &self,
        msg: &'x AuthenticatedMessage<'x>,
        client_ip: Option<IpAddr>,
        helo: Option<&str>,
        mail_from: Option<&str>,
        out: &mut AuthResults,
    ) {
        let helo = helo.unwrap_or_default();
        let mail_from = mail_from
            .map(|m| m.trim().trim_start_matches('<').trim_end_matches('>'))
            .unwrap_or_default();
        // SPF: the MAIL FROM identity, or HELO's for a null sender.
        let spf_fut = async {
            match client_ip {
                Some(ip) if !mail_from.is_empty() => Some(
                    self.inner
                        .verify_spf(SpfParameters::verify_mail_from(
                            ip, helo, &self.host, mail_from,
                        ))
                        .await,
                ),
                Some(ip) if !helo.is_empty() => Some(
                    self.inner
                        .verify_spf(SpfParameters::verify_ehlo(ip, helo, &self.host))
                        .await,
                ),
                _ => None,
            }
        };
        let (spf, dkim, arc) = tokio::join!(
            spf_fut,
            self.inner.verify_dkim(msg),
            self.inner.verify_arc(msg)
        );
        // Recorded as each finishes, so a budget cut keeps what came in.
        if let Some(s) = &spf {
            out.spf = spf_outcome(s.result());
            out.spf_domain = s.domain().to_string();
        }
        out.dkim = if dkim.iter().any(|d| d.result() == &DkimResult::Pass) {
            Outcome::Pass
        } else {
            dkim.first()
                .map_or(Outcome::None, |d| dkim_outcome(d.result()))
        };
        out.dkim_domains = dkim
            .iter()
            .filter(|d| d.result() == &DkimResult::Pass)
            .filter_map(|d| d.signature().map(|s| s.domain().to_string()))
            .collect();
        out.arc = dkim_outcome(arc.result());
        if out.arc == Outcome::Pass {
            out.arc_sealer = latest_arc_sealer(msg.raw_message());
            out.arc_trusted = out.arc_sealer.as_deref().is_some_and(|d| {
                self.trusted_arc_sealers
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(d))
            });
        }
        let from_domain = msg.from().rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        if from_domain.is_empty() {
            return;
        }
        let spf_for_dmarc = spf.unwrap_or_else(|| {
            mail_auth::SpfOutput::new(from_domain.to_string()).with_result(SpfResult::None)
        });
        let mail_from_domain = mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);
        let dmarc = self
            .inner
            .verify_dmarc(
                mail_auth::dmarc::verify::DmarcParameters::new(
                    msg,
                    &dkim,
                    mail_from_domain,
                    &spf_for_dmarc,
                )
                .with_domain_suffix_fn(|d| psl::domain_str(d).unwrap_or(d)),
            )
            .await;
        out.dmarc_domain = dmarc.domain().to_string();
        let (s, d) = (
            dmarc_outcome(dmarc.spf_result()),
            dmarc_outcome(dmarc.dkim_result()),
        );
        // With a record, DMARC fails unless SPF or DKIM passed aligned
        // (mail-auth leaves both at None when neither passed at all).
        out.dmarc = if s == Outcome::Pass || d == Outcome::Pass {
            Outcome::Pass
        } else if s == Outcome::TempError || d == Outcome::TempError {
            Outcome::TempError
        } else if s == Outcome::PermError || d == Outcome::PermError {
            Outcome::PermError
        } else if dmarc.dmarc_record().is_some() {
            Outcome::Fail
        } else {
            Outcome::None
        };
        let mut policy = dmarc.policy();
        // A From subdomain without a record of its own takes the
        // organisation's subdomain policy (RFC 7489 6.6.3: `sp=`); mail-auth
        // applies it only to aligned passes.
        if out.dmarc == Outcome::Fail
            && let Some(record) = dmarc.dmarc_record()
            && psl::domain_str(from_domain).is_some_and(|org| org != from_domain)
        {
            let own = self
                .inner
                .txt_raw_lookup(format!("_dmarc.{from_domain}."))
                .await
                .is_ok_and(|t| t.starts_with(b"v=DMARC1"));
            if !own {
                policy = record.sp;
            }
        }
        out.dmarc_policy = match policy {
            Policy::None => DmarcPolicy::None,
            Policy::Quarantine => DmarcPolicy::Quarantine,
            Policy::Reject => DmarcPolicy::Reject,
            Policy::Unspecified => DmarcPolicy::Unspecified,
        };
    }
}

/// The `d=` of the ARC-Seal with the highest `i=`.
fn latest_arc_sealer(raw: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(raw)?;
    parsed
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("ARC-Seal"))
        .filter_map(|h| {
            let value =
                std::str::from_utf8(raw.get(h.offset_start() as usize..h.offset_end() as usize)?)
                    .ok()?;
            let mut i = None;
            let mut d = None;
            for tag in value.split(';') {
                let Some((k, v)) = tag.split_once('=') else {
                    continue;
                };
                let v: String = v.split_whitespace().collect();
                match k.trim() {
                    "i" => i = v.parse::<u32>().ok(),
                    "d" => d = Some(v.to_ascii_lowercase()),
                    _ => {}
                }
            }
            Some((i?, d?))
        })
        .max_by_key(|(i, _)| *i)
        .map(|(_, d)| d)
}
