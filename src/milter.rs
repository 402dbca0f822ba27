//! The milter front end: Postfix and Sendmail call spamsift over the milter
//! protocol (via the `miltr-server` crate) for every message.
//!
//! Each connection gets its own [`SpamsiftMilter`] collecting the connection
//! address, HELO, envelope, headers and body; at end of message the shared
//! [`Engine`] classifies it within a time budget (a small message on the
//! session's task, a large one or one that may wait on shared state on the
//! blocking pool). Any failure — timeout, oversize, panic — answers accept
//! (or tempfail, configurable): mail is never lost because of the filter.
//! The conversation on the wire is `milter_wire`'s.

use crate::{Action, Engine, Verdict, headers};
use async_trait::async_trait;
use miltr_common::actions::{Action as MilterAction, Continue, Replycode, Tempfail};
use miltr_common::commands::{Body, Connect, Header, Helo, Macro, Mail, Recipient};
use miltr_common::encoding::Writable;
use miltr_common::modifications::ModificationResponse;
use miltr_common::modifications::headers::{AddHeader, ChangeHeader};
use miltr_common::modifications::quarantine::Quarantine;
use miltr_common::optneg::{OptNeg, Protocol};
use miltr_server::Milter;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::frontend::FailAction;

/// Milter settings.
#[derive(Debug, Clone)]
pub struct MilterOptions {
    /// Time budget per message for classification.
    pub timeout: Duration,
    /// Largest message classified; larger ones are passed.
    pub max_size: usize,
    /// Answer when classification fails or is skipped.
    pub on_error: FailAction,
    /// A session that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Sender authentication (`[dns]` configured), before classification.
    pub auth: Option<crate::auth::Authenticator>,
}

impl Default for MilterOptions {
    fn default() -> Self {
        MilterOptions {
            timeout: Duration::from_secs(10),
            max_size: 20 * 1024 * 1024,
            on_error: FailAction::Accept,
            idle_timeout: Duration::from_secs(300),
            auth: None,
        }
    }
}

/// Why the milter returned an error to the server (never for mail content).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MilterError(String);

/// One milter conversation's state.
pub struct SpamsiftMilter {
    engine: Arc<Engine>,
    opts: Arc<MilterOptions>,
    client_ip: Option<IpAddr>,
    client_host: String,
    queue_id: String,
    /// The SMTP AUTH user (macro `{auth_authen}`), if the client logged in.
    auth_user: Option<String>,
    /// The Authentication-Results value for the message in hand, when it
    /// was authenticated and `[dns] authserv_id` is set.
    auth_results: Option<String>,
    helo: String,
    mail_from: String,
    rcpts: Vec<String>,
    raw: Vec<u8>,
    oversize: bool,
    result_header_counts: HashMap<String, u32>,
    /// Authentication-Results fields seen, and the positions (1-based) of
    /// those claiming one of our own authserv-ids: forgeries, deleted and
    /// never shown to the engine.
    auth_results_seen: u32,
    forged_auth_results: Vec<u32>,
    /// The first Subject's value as the MTA sent it (for a rewrite).
    subject: Option<Vec<u8>>,
}

impl SpamsiftMilter {
    /// A new conversation using a shared engine.
    pub fn new(engine: Arc<Engine>, opts: Arc<MilterOptions>) -> SpamsiftMilter {
        SpamsiftMilter {
            engine,
            opts,
            client_ip: None,
            client_host: String::new(),
            queue_id: String::new(),
            auth_user: None,
            auth_results: None,
            helo: String::new(),
            mail_from: String::new(),
            rcpts: Vec::new(),
            raw: Vec::new(),
            oversize: false,
            result_header_counts: HashMap::new(),
            auth_results_seen: 0,
            forged_auth_results: Vec::new(),
            subject: None,
        }
    }

    fn reset_message(&mut self) {
        self.queue_id.clear();
        self.mail_from.clear();
        self.rcpts.clear();
        self.raw.clear();
        self.oversize = false;
        self.result_header_counts.clear();
        self.auth_results_seen = 0;
        self.forged_auth_results.clear();
        self.subject = None;
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.raw.len() + bytes.len() > self.opts.max_size {
            self.oversize = true;
        } else {
            self.raw.extend_from_slice(bytes);
        }
    }

    fn fail_open(&self, why: &str) -> ModificationResponse {
        tracing::warn!(queue_id = %self.queue_id, client = %self.client_host, from = %self.mail_from, reason = why, "message not classified; {}", match self.opts.on_error {
            FailAction::Accept => "accepted",
            FailAction::Tempfail => "tempfailed",
        });
        match self.opts.on_error {
            FailAction::Accept => {
                // Delivered unclassified, but never with the sender's own verdict.
                let mut b = ModificationResponse::builder();
                self.delete_result_headers(&mut b);
                b.contin()
            }
            FailAction::Tempfail => ModificationResponse::builder().build(Tempfail),
        }
    }

    /// Delete every X-Spam-* field the message brought.
    fn delete_result_headers(
        &self,
        b: &mut miltr_common::modifications::ModificationResponseBuilder,
    ) {
        for i in self.forged_auth_results.iter().rev() {
            b.push(ChangeHeader::new(*i, b"Authentication-Results", b""));
        }
        for (name, count) in &self.result_header_counts {
            // Delete from the last occurrence down so indices stay valid.
            for i in (1..=*count).rev() {
                b.push(ChangeHeader::new(i, name.as_bytes(), b""));
            }
        }
    }

    /// Whether an Authentication-Results value names one of our own
    /// authserv-ids (`[dns] authserv_id`, `[parse] trusted_authserv_ids`):
    /// arriving from the client, it is a forgery.
    fn claims_our_authserv_id(&self, value: &str) -> bool {
        let config = self.engine.config();
        let id = value
            .split(';')
            .next()
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_default();
        !id.is_empty()
            && (config
                .dns
                .as_ref()
                .and_then(|d| d.authserv_id.as_deref())
                .is_some_and(|o| o.eq_ignore_ascii_case(id))
                || config
                    .email
                    .trusted_authserv_ids
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(id)))
    }

    /// The milter's answer for a verdict: result headers (replacing any the
    /// message carried), then continue, quarantine or reject.
    fn respond(&self, v: &Verdict) -> ModificationResponse {
        let mut b = ModificationResponse::builder();
        self.delete_result_headers(&mut b);
        let markup = &self.engine.config().markup;
        if let Some(ar) = &self.auth_results {
            b.push(AddHeader::new(b"Authentication-Results", ar.as_bytes()));
        }
        for (name, value) in headers::result_headers(v, markup) {
            b.push(AddHeader::new(name.as_bytes(), value.as_bytes()));
        }
        if let (Some(prefix), Some(subject), true) =
            (&markup.rewrite_subject, &self.subject, v.is_spam())
        {
            b.push(AddHeader::new(headers::PREV_SUBJECT.as_bytes(), subject));
            let new = [prefix.as_bytes(), subject.trim_ascii_start()].concat();
            b.push(ChangeHeader::new(1, b"Subject", &new));
        }
        match v.action {
            Action::Ham | Action::Tag => b.contin(),
            Action::Quarantine => {
                b.push(Quarantine::new(
                    format!("spamsift score {:.1}", v.score).as_bytes(),
                ));
                b.contin()
            }
            Action::Reject => b.build(Replycode::new(
                [5u8, 5, 0],
                [5u16, 7, 1],
                &format!("Message rejected as spam (score {:.1})", v.score),
            )),
        }
    }
}

#[async_trait]
impl Milter for SpamsiftMilter {
    type Error = MilterError;

    /// Agree on protocol 6 with every modification the MTA allows, and ask
    /// for no reply to the commands this milter always continues after
    /// (connection, HELO, sender, header fields, end of headers, body
    /// chunks, DATA, unknown commands; recipients too unless greylisting
    /// may defer one), so the MTA streams a message and waits only at its
    /// end. An MTA that does not offer a flag keeps getting that reply.
    async fn option_negotiation(
        &mut self,
        theirs: OptNeg,
    ) -> Result<OptNeg, miltr_server::Error<Self::Error>> {
        let mut protocol = Protocol::NR_CONNECT
            | Protocol::NR_HELO
            | Protocol::NR_MAIL
            | Protocol::NR_HEADER
            | Protocol::NR_END_OF_HEADER
            | Protocol::NR_BODY
            | Protocol::NR_DATA
            | Protocol::NR_UNKNOWN;
        if self.engine.greylister().is_none() {
            protocol |= Protocol::NR_RECIPIENT;
        }
        let ours = OptNeg {
            protocol,
            ..OptNeg::default()
        };
        let agreed = ours
            .merge_compatible(&theirs)
            .map_err(|e| miltr_server::Error::Codec(miltr_common::ProtocolError::from(e)))?;
        tracing::debug!(
            protocol = ?agreed.protocol,
            capabilities = ?agreed.capabilities,
            "milter options agreed"
        );
        Ok(agreed)
    }

    async fn macro_(&mut self, macros: Macro) -> Result<(), Self::Error> {
        for (name, value) in macros.macros() {
            // Postfix and Sendmail send the queue id as macro `i`.
            if name == b"i" || name == b"{i}" {
                self.queue_id = String::from_utf8_lossy(value)
                    .trim_end_matches('\0')
                    .to_string();
            } else if name == b"{auth_authen}" {
                self.auth_user = Some(
                    String::from_utf8_lossy(value)
                        .trim_end_matches('\0')
                        .to_string(),
                )
                .filter(|u| !u.is_empty());
            }
        }
        Ok(())
    }

    async fn connect(&mut self, connect: Connect) -> Result<MilterAction, Self::Error> {
        self.client_host = connect.hostname().to_string();
        self.client_ip = connect.address().trim_matches(['[', ']']).parse().ok();
        Ok(Continue.into())
    }

    async fn helo(&mut self, helo: Helo) -> Result<MilterAction, Self::Error> {
        self.helo = helo.helo().trim_end_matches(char::from(0)).to_string();
        Ok(Continue.into())
    }

    async fn mail(&mut self, mail: Mail) -> Result<MilterAction, Self::Error> {
        self.reset_message();
        self.mail_from = mail.sender().trim_matches(['<', '>']).to_string();
        Ok(Continue.into())
    }

    async fn rcpt(&mut self, rcpt: Recipient) -> Result<MilterAction, Self::Error> {
        let recipient = rcpt.recipient().to_string();
        if let Some(g) = self.engine.greylister() {
            let decision = g.check(
                self.client_ip,
                self.auth_user.as_deref(),
                &self.mail_from,
                &recipient,
                chrono::Utc::now().timestamp(),
            );
            if let crate::greylist::Decision::Defer(secs) = decision {
                tracing::info!(
                    client = %self.client_host,
                    ip = ?self.client_ip,
                    from = %self.mail_from,
                    to = %recipient,
                    retry_in = secs,
                    "greylisted"
                );
                return Ok(Replycode::new(
                    [4u8, 5, 1],
                    [4u16, 7, 1],
                    &format!("Greylisted, please try again in {secs} seconds"),
                )
                .into());
            }
        }
        // Normalised with the rest of the envelope, in `Envelope::apply`.
        self.rcpts.push(recipient);
        Ok(Continue.into())
    }

    async fn header(&mut self, header: Header) -> Result<MilterAction, Self::Error> {
        // The field as the MTA sent it: `Header::name` and `value` would
        // turn 8-bit bytes (a Subject written raw in Shift_JIS or KOI8-R)
        // into replacement characters; the frame's own bytes are
        // `name NUL value NUL`.
        let mut frame = bytes::BytesMut::with_capacity(header.len());
        header.write(&mut frame);
        let frame = frame.strip_suffix(b"\0").unwrap_or(&frame);
        let (name, value) = match memchr::memchr(0, frame) {
            Some(i) => (&frame[..i], &frame[i + 1..]),
            None => (frame, &[][..]),
        };
        // Compared as bytes: a name may hold any bytes.
        if name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"x-spam-"))
        {
            *self
                .result_header_counts
                .entry(String::from_utf8_lossy(name).into_owned())
                .or_insert(0) += 1;
        }
        if name.eq_ignore_ascii_case(b"authentication-results") {
            self.auth_results_seen += 1;
            if self.claims_our_authserv_id(&String::from_utf8_lossy(value)) {
                self.forged_auth_results.push(self.auth_results_seen);
                return Ok(Continue.into());
            }
        }
        if self.subject.is_none() && name.eq_ignore_ascii_case(b"subject") {
            // Kept as bytes: a rewritten Subject keeps its own charset.
            self.subject = Some(value.to_vec());
        }
        // `name: value` with the value's line ends as CRLF, appended
        // without an intermediate copy.
        let value = value.trim_ascii_start();
        let mut line = Vec::with_capacity(name.len() + value.len() + 4);
        line.extend_from_slice(name);
        line.extend_from_slice(b": ");
        for (i, piece) in value.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                line.extend_from_slice(b"\r\n");
            }
            line.extend_from_slice(piece.strip_suffix(b"\r").unwrap_or(piece));
        }
        line.extend_from_slice(b"\r\n");
        self.append(&line);
        Ok(Continue.into())
    }

    async fn end_of_header(&mut self) -> Result<MilterAction, Self::Error> {
        self.append(b"\r\n");
        Ok(Continue.into())
    }

    async fn body(&mut self, body: Body) -> Result<MilterAction, Self::Error> {
        self.append(body.as_bytes());
        Ok(Continue.into())
    }

    async fn end_of_body(&mut self) -> Result<ModificationResponse, Self::Error> {
        if self.oversize {
            let r = self.fail_open(&format!(
                "larger than max_size {} bytes",
                self.opts.max_size
            ));
            self.reset_message();
            return Ok(r);
        }
        let engine = Arc::clone(&self.engine);
        let raw = std::mem::take(&mut self.raw);
        let mut envelope = crate::frontend::Envelope {
            client_ip: self.client_ip,
            client_host: Some(self.client_host.clone()).filter(|h| !h.is_empty()),
            helo: Some(self.helo.clone()).filter(|h| !h.is_empty()),
            mail_from: Some(self.mail_from.clone()),
            recipients: self.rcpts.clone(),
            user: None,
            deliver_to: None,
            queue_id: Some(self.queue_id.clone()).filter(|q| !q.is_empty()),
            auth_user: self.auth_user.clone(),
            received: Some(chrono::Utc::now().fixed_offset()),
            auth: None,
            dns_listed: Vec::new(),
        };
        let parsed = envelope
            .authenticate(self.opts.auth.as_ref(), &self.engine, &raw)
            .await;
        self.auth_results = match (
            &envelope.auth,
            self.engine
                .config()
                .dns
                .as_ref()
                .and_then(|d| d.authserv_id.as_deref()),
        ) {
            (Some(a), Some(id)) => Some(a.header_value(id)),
            _ => None,
        };
        // The engine stops its own work within the budget (no thread
        // outlives its message), a little before the milter gives up.
        let limits = crate::frontend::Limits {
            max_size: self.opts.max_size,
            timeout: self.opts.timeout.mul_f64(0.8),
        };
        let start = Instant::now();
        // A small message is classified on this task, as the other front
        // ends do (`listener::cpu_work`): handing each message to the
        // blocking pool cost a thread switch both ways, and with 32
        // sessions tokio kept up to 32 blocking threads, each warming its
        // own lazy-DFA caches (DFA building and thread switches were about
        // 15% of the milter's time in a profile).
        // The engine stops within `limits.timeout` on its own.
        let size = raw.len();
        // A panic while classifying passes the message, as a timeout does,
        // wherever the work ran (on the blocking pool it is a join error).
        let job = crate::listener::classification_work(&self.engine, size, move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::frontend::check_email_prepared(&engine, &raw, parsed, &envelope, &limits)
            }))
        });
        let response = match tokio::time::timeout(self.opts.timeout, job).await {
            // The timer has a millisecond's grain and may fire late on a busy
            // machine: a verdict that came in over the budget is late all the
            // same, so the budget is checked here too.
            Ok(Ok(Err(_))) => self.fail_open("classification panicked"),
            Ok(Ok(Ok(_))) if start.elapsed() > self.opts.timeout => {
                self.fail_open(&format!("timed out after {:?}", self.opts.timeout))
            }
            Ok(Ok(Ok(crate::frontend::Outcome::PassedThrough(why)))) => self.fail_open(&why),
            Ok(Ok(Ok(crate::frontend::Outcome::Classified(v)))) => {
                tracing::info!(
                    queue_id = %self.queue_id,
                    client = %self.client_host,
                    ip = ?self.client_ip,
                    from = %self.mail_from,
                    score = v.score,
                    action = %v.action,
                    hits = %v.tests(),
                    ms = start.elapsed().as_secs_f64() * 1e3,
                    "classified"
                );
                self.respond(&v)
            }
            Ok(Err(join)) => self.fail_open(&format!("classification failed: {join}")),
            Err(_) => self.fail_open(&format!("timed out after {:?}", self.opts.timeout)),
        };
        self.reset_message();
        Ok(response)
    }

    async fn abort(&mut self) -> Result<(), Self::Error> {
        self.reset_message();
        Ok(())
    }
}

pub use crate::listener::Listen;

pub(crate) async fn conversation<S>(
    engine: Arc<Engine>,
    opts: Arc<MilterOptions>,
    stream: S,
    peer: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    // A peer that goes quiet for the idle timeout loses its session.
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_read_timeout(Some(opts.idle_timeout));
    stream.set_write_timeout(Some(opts.idle_timeout));
    let stream = Box::pin(stream);
    let mut milter = SpamsiftMilter::new(engine, opts);
    if let Err(e) = crate::milter_wire::converse(&mut milter, stream).await {
        tracing::debug!(peer = %peer, error = %e, "milter connection ended with an error");
    }
}

/// Serve milter connections until `shutdown` resolves, then finish the
/// sessions in flight (up to 30 s) and return.
pub async fn serve(
    engine: Arc<Engine>,
    opts: MilterOptions,
    listen: Listen,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let opts = Arc::new(opts);
    crate::listener::run(
        &listen,
        crate::listener::ListenerOptions::new("milter"),
        shutdown,
        move |c: crate::listener::Connection| {
            let (engine, opts) = (Arc::clone(&engine), Arc::clone(&opts));
            let peer = c.peer_name();
            conversation(engine, opts, c.stream, peer)
        },
    )
    .await
}
