//! Rspamd's protocol, so that `rspamc`, Exim's `variant=rspamd`, Haraka's
//! rspamd plugin and other Rspamd clients use spamsift unchanged.
//!
//! The normal worker (`spamsift rspamd --listen 127.0.0.1:11333`):
//!
//! | request | answer |
//! |---|---|
//! | `POST /checkv2` (raw message; envelope in `IP`, `Helo`, `Hostname`, `From`, `Rcpt`…, `Deliver-To`, `Queue-Id`, `User`) | Rspamd's JSON: `action`, `score`, `required_score`, `thresholds`, `symbols`, `messages`, `milter` |
//! | `GET /ping` | `pong` |
//! | `CHECK RSPAMC/1.3` (the legacy text protocol Exim sends) | `RSPAMD/1.3 0 EX_OK`, `Metric: default; True; 7.3 / 5.0 / 15.0`, `Action:`, `Symbol:` lines |
//!
//! The controller (`--controller 127.0.0.1:11334`): `POST /learnspam` and
//! `/learnham` (with the `Password:` header whose SHA-256 is
//! `[rspamd] password_sha256`), `GET /stat`, `GET /ping`.
//!
//! Scores are spamsift's: `required_score` is the spam threshold (the
//! score at which `X-Spam-Flag: YES` is added), so "spam" means the same
//! to spamc, rspamc and Exim's `spam =` condition. A message the engine
//! cannot classify is answered "no action" with `is_skipped`, and logged.

use crate::bayes::{FeedbackStore, LearnOutcome, MemoryStore, features, message_digest};
use crate::corpus::Label;
use crate::frontend::{Envelope, Limits, Outcome, check_email_prepared};
use crate::net::IpNet;
use crate::{Action, Engine, Verdict};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Settings of the Rspamd front end.
#[derive(Debug, Clone)]
pub struct RspamdOptions {
    /// Size and time limits per message.
    pub limits: Limits,
    /// Clients allowed to connect; empty: any.
    pub allowed: Vec<IpNet>,
    /// Most open connections per listener.
    pub max_connections: usize,
    /// Time to send a request's headers (also the keep-alive idle time).
    pub header_timeout: Duration,
    /// Time a request may take, body included.
    pub request_timeout: Duration,
    /// SHA-256 of the controller's password; `None`: learning is off.
    pub password_sha256: Option<[u8; 32]>,
    /// The model file learning writes to (with its books), if any.
    pub model: Option<PathBuf>,
    /// Sender authentication (`[dns]` configured), before classification.
    pub auth: Option<crate::auth::Authenticator>,
}

impl Default for RspamdOptions {
    fn default() -> Self {
        RspamdOptions {
            limits: Limits::default(),
            allowed: vec![
                IpNet::parse("127.0.0.1").unwrap_or_else(|e| panic!("{e}")),
                IpNet::parse("::1").unwrap_or_else(|e| panic!("{e}")),
            ],
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            password_sha256: None,
            model: None,
            auth: None,
        }
    }
}

/// Counters `/stat` reports.
#[derive(Debug, Default)]
pub struct Stats {
    scanned: AtomicU64,
    spam: AtomicU64,
    ham: AtomicU64,
    skipped: AtomicU64,
    learned: AtomicU64,
    /// Answered `soft reject` by greylisting.
    greylisted: AtomicU64,
    /// By Rspamd action name: no action, add header, reject.
    actions: [AtomicU64; 3],
}

impl Stats {
    fn record(&self, v: Option<&Verdict>) {
        self.scanned.fetch_add(1, Ordering::Relaxed);
        let Some(v) = v else {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            self.actions[0].fetch_add(1, Ordering::Relaxed);
            return;
        };
        let i = match v.action {
            Action::Ham => 0,
            Action::Tag | Action::Quarantine => 1,
            Action::Reject => 2,
        };
        self.actions[i].fetch_add(1, Ordering::Relaxed);
        let n = if v.is_spam() { &self.spam } else { &self.ham };
        n.fetch_add(1, Ordering::Relaxed);
    }
}

/// What both listeners share.
#[derive(Debug)]
pub struct RspamdState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Settings.
    pub opts: RspamdOptions,
    /// Learned counts the running engine reads at once (the engine's
    /// token store), when a model is loaded.
    pub feedback: Option<Arc<FeedbackStore>>,
    /// Counters for `/stat`.
    pub stats: Stats,
}

/// Rspamd's name of an action.
pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Ham => "no action",
        // Rspamd has no quarantine: the MTA files tagged mail as junk.
        Action::Tag | Action::Quarantine => "add header",
        Action::Reject => "reject",
    }
}

/// The SMTP text of a rejection.
const REJECT_TEXT: &str = "Spam message rejected";

/// Rspamd's `/checkv2` JSON for a verdict, or for a message passed
/// through unclassified (`None`).
pub fn check_reply(engine: &Engine, verdict: Option<&Verdict>, secs: f64) -> Value {
    let t = engine.config().thresholds(crate::Channel::Email);
    let mut thresholds = Map::new();
    if let Some(r) = t.reject {
        thresholds.insert("reject".into(), json!(r));
    }
    thresholds.insert("add header".into(), json!(t.tag));
    let Some(v) = verdict else {
        return json!({
            "is_skipped": true,
            "score": 0.0,
            "required_score": t.tag,
            "action": "no action",
            "thresholds": thresholds,
            "symbols": {},
            "messages": {},
            "time_real": secs,
            "milter": {"remove_headers": remove_headers()},
        });
    };
    let symbols: Map<String, Value> = v
        .hits
        .iter()
        .map(|h| {
            (
                h.id.to_string(),
                json!({
                    "name": &*h.id,
                    "score": h.score,
                    "metric_score": h.score,
                    "description": &*h.description,
                    "options": [],
                }),
            )
        })
        .collect();
    let add: Map<String, Value> = crate::headers::result_headers(v, &engine.config().markup)
        .into_iter()
        .map(|(name, value)| (name.to_string(), json!({"value": value, "order": 0})))
        .collect();
    let mut messages = Map::new();
    if v.action == Action::Reject {
        messages.insert("smtp_message".into(), json!(REJECT_TEXT));
    }
    json!({
        "is_skipped": false,
        "score": v.score,
        "required_score": v.threshold,
        "action": action_name(v.action),
        "thresholds": thresholds,
        "symbols": symbols,
        "messages": messages,
        "time_real": secs,
        "milter": {"add_headers": add, "remove_headers": remove_headers()},
        "spamsift": {"action": v.action.as_str()},
    })
}

/// Seconds to wait, when greylisting (`[greylist] enabled`) defers any
/// recipient of this envelope (the `IP`, `From`, `Rcpt` and `User`
/// headers); `None`: deliver.
fn greylisted(engine: &Engine, envelope: &Envelope) -> Option<u64> {
    let g = engine.greylister()?;
    let from = envelope.mail_from.as_deref().unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    envelope
        .recipients
        .iter()
        .filter_map(|r| {
            match g.check(
                envelope.client_ip,
                envelope.auth_user.as_deref(),
                from,
                r,
                now,
            ) {
                crate::greylist::Decision::Defer(s) => Some(s),
                crate::greylist::Decision::Pass(_) => None,
            }
        })
        .max()
}

/// Rspamd's answer for a greylisted message: action `soft reject`, a
/// `GREYLIST` symbol and the SMTP text, as Rspamd's greylist module gives
/// them (the MTA answers 451 and the sender retries).
fn greylist_reply(engine: &Engine, secs: u64, time_real: f64) -> Value {
    let t = engine.config().thresholds(crate::Channel::Email);
    json!({
        "is_skipped": false,
        "score": 0.0,
        "required_score": t.tag,
        "action": "soft reject",
        "symbols": {
            "GREYLIST": {
                "name": "GREYLIST",
                "score": 0.0,
                "metric_score": 0.0,
                "description": "Greylisted: first attempt of this client network, sender and recipient",
                "options": ["greylisted", format!("retry in {secs} s")],
            }
        },
        "messages": {"smtp_message": format!("Greylisted, please try again in {secs} seconds")},
        "time_real": time_real,
        "milter": {"remove_headers": remove_headers()},
    })
}

/// The message's own verdict fields are removed (forgeries).
fn remove_headers() -> Value {
    [
        "X-Spam-Checker-Version",
        "X-Spam-Flag",
        "X-Spam-Level",
        "X-Spam-Score",
        "X-Spam-Status",
        "X-Spam-Report",
    ]
    .iter()
    .map(|name| (name.to_string(), json!(0)))
    .collect::<Map<String, Value>>()
    .into()
}

/// The legacy text reply (`RSPAMD/1.3 0 EX_OK` ...), as Exim's
/// `variant=rspamd` reads it.
pub fn legacy_reply(engine: &Engine, verdict: Option<&Verdict>) -> String {
    let t = engine.config().thresholds(crate::Channel::Email);
    let (spam, score, action) = match verdict {
        Some(v) => (v.is_spam(), v.score, action_name(v.action)),
        None => (false, 0.0, "no action"),
    };
    let mut out = format!(
        "RSPAMD/1.3 0 EX_OK\r\nMetric: default; {}; {:.2} / {:.2} / {:.2}\r\nAction: {}\r\n",
        if spam { "True" } else { "False" },
        score,
        t.tag,
        t.reject.unwrap_or(t.tag),
        action
    );
    for h in verdict.map(|v| v.hits.as_slice()).unwrap_or_default() {
        out.push_str(&format!("Symbol: {}({:.2})\r\n", h.id, h.score));
    }
    if verdict.is_some_and(|v| v.action == Action::Reject) {
        out.push_str(&format!("Message: {REJECT_TEXT}\r\n"));
    }
    out.push_str("\r\n");
    out
}

/// Classify a raw message with its envelope, off the reactor.
async fn classify(
    state: &Arc<RspamdState>,
    body: Vec<u8>,
    mut envelope: Envelope,
) -> Option<Verdict> {
    let parsed = envelope
        .authenticate(state.opts.auth.as_ref(), &state.engine, &body)
        .await;
    let st = Arc::clone(state);
    let job = crate::listener::classification_work(&state.engine, body.len(), move || {
        check_email_prepared(&st.engine, &body, parsed, &envelope, &st.opts.limits)
    });
    let outcome = match job.await {
        Ok(o) => o,
        Err(e) => Outcome::PassedThrough(format!("classification failed: {e}")),
    };
    match outcome {
        Outcome::Classified(v) => {
            state.stats.record(Some(&v));
            Some(v)
        }
        Outcome::PassedThrough(why) => {
            tracing::warn!(reason = %why, "message not classified; answered no action");
            state.stats.record(None);
            None
        }
    }
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json_response(status, json!({"error": msg.into()}))
}

/// The body of a request, or why not: over `max`, the body is read and
/// dropped (so the client reads the answer) and `Err(true)` says so.
async fn read_body(req: axum::extract::Request, max: usize) -> Result<Vec<u8>, bool> {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        let _ = axum::body::to_bytes(req.into_body(), 64 << 20).await;
        return Err(true);
    }
    axum::body::to_bytes(req.into_body(), max)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| false)
}

/// `POST /checkv2`.
async fn checkv2(State(state): State<Arc<RspamdState>>, req: axum::extract::Request) -> Response {
    let start = Instant::now();
    let envelope = match crate::server::envelope_of(req.headers(), req.uri().query()) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let compression = req
        .headers()
        .get("compression")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let max = state.opts.limits.max_size;
    let verdict = match read_body(req, max).await {
        Ok(body) => {
            let body = match compression.as_deref() {
                None | Some("" | "none" | "identity") => body,
                Some("zstd") => match unzstd(&body, max) {
                    Ok(b) => b,
                    Err(e) => return error(StatusCode::BAD_REQUEST, e),
                },
                Some(other) => {
                    return error(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!("unsupported compression {other:?} (zstd or none)"),
                    );
                }
            };
            if let Some(secs) = greylisted(&state.engine, &envelope) {
                state.stats.greylisted.fetch_add(1, Ordering::Relaxed);
                return json_response(
                    StatusCode::OK,
                    greylist_reply(&state.engine, secs, start.elapsed().as_secs_f64()),
                );
            }
            classify(&state, body, envelope).await
        }
        Err(true) => {
            tracing::warn!(
                "message larger than the size limit of {} bytes; answered no action",
                state.opts.limits.max_size
            );
            state.stats.record(None);
            None
        }
        Err(false) => return error(StatusCode::BAD_REQUEST, "could not read the message"),
    };
    json_response(
        StatusCode::OK,
        check_reply(
            &state.engine,
            verdict.as_ref(),
            start.elapsed().as_secs_f64(),
        ),
    )
}

/// Decompress a zstd body (`rspamc --compressed`), refusing more than
/// `max` bytes (a zstd bomb).
fn unzstd(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut src = data;
    let decoder = ruzstd::decoding::StreamingDecoder::new(&mut src)
        .map_err(|e| format!("bad zstd body: {e}"))?;
    let mut out = Vec::new();
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad zstd body: {e}"))?;
    if out.len() > max {
        return Err(format!(
            "compressed message inflates past the size limit of {max} bytes"
        ));
    }
    Ok(out)
}

/// Whether a request carries the controller's password.
fn authorised(state: &RspamdState, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    use sha2::Digest;
    let Some(want) = state.opts.password_sha256 else {
        return Err((
            StatusCode::FORBIDDEN,
            "learning is not enabled: set [rspamd] password_sha256",
        ));
    };
    let given = headers
        .get("password")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let got: [u8; 32] = sha2::Sha256::digest(given.as_bytes()).into();
    // Compared whole, whatever differs first.
    if got
        .iter()
        .zip(want.iter())
        .fold(0u8, |d, (a, b)| d | (a ^ b))
        == 0
    {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "Unauthorized"))
    }
}

/// `POST /learnspam` and `/learnham`: learn into the shared state
/// (`[state] backend = "redis"`: every filter on that Redis learns at
/// once), or into the model file (with the books `spamsift learn` keeps: a
/// message counts once) and the running engine at once. Refused with 503
/// while the shared state is down, so the client knows it was not learned.
async fn learn(state: Arc<RspamdState>, req: axum::extract::Request, label: Label) -> Response {
    if let Err((status, why)) = authorised(&state, req.headers()) {
        return error(status, why);
    }
    let shared = state.engine.shared_state().is_some();
    let model = state.opts.model.clone();
    if !shared && model.is_none() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "learning needs a model file (start with --model FILE) or [state] backend = \"redis\"",
        );
    }
    // Whose model learns it too (`[state] per_user`): `Deliver-To` (rspamc
    // -d USER), else the only `Rcpt`.
    let user = match crate::server::envelope_of(req.headers(), req.uri().query()) {
        Ok(e) => e.bayes_user(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let body = match read_body(req, state.opts.limits.max_size).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "message too large to learn"),
    };
    let st = Arc::clone(&state);
    let job = tokio::task::spawn_blocking(move || {
        let msg = st.engine.parse_email(&body);
        let f = features(&msg, &st.engine.config().bayes.tokenizer());
        let d = message_digest(&msg);
        // Err((status, why)).
        let outcome = match model {
            _ if shared => match st
                .engine
                .bayes()
                .and_then(|b| b.store().learn_shared_for(user.as_deref(), d, &f, label))
            {
                Some(Ok(o)) => Ok(o),
                Some(Err(e)) => Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
                None => Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the shared state does not learn".to_string(),
                )),
            },
            Some(model) => {
                let mut outcome = LearnOutcome::Done;
                MemoryStore::update(&model, MemoryStore::new, |s| {
                    outcome = s.learn_message(d, &f, label, false);
                })
                .map(|_| outcome)
                .map_err(|e| {
                    tracing::error!("learning: {e}");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the model could not be updated".to_string(),
                    )
                })
            }
            None => Err((StatusCode::SERVICE_UNAVAILABLE, "no model".to_string())),
        };
        (outcome, f, d)
    });
    let name = match label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    };
    match job.await {
        Ok((Ok(LearnOutcome::AlreadyLearned), _, d)) => error(
            StatusCode::ALREADY_REPORTED,
            format!("<{d:016x}> has been already learned as {name}, ignore it"),
        ),
        Ok((Ok(_), f, _)) => {
            if let Some(fb) = state.feedback.as_ref().filter(|_| !shared) {
                fb.learn(&f, label);
            }
            state.stats.learned.fetch_add(1, Ordering::Relaxed);
            json_response(StatusCode::OK, json!({"success": true}))
        }
        Ok((Err((status, why)), _, _)) => error(status, why),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("learning failed: {e}"),
        ),
    }
}

/// `GET /stat`.
async fn stat(State(state): State<Arc<RspamdState>>) -> Response {
    let s = &state.stats;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let learned = state.engine.bayes().map(|c| c.store().learned());
    json_response(
        StatusCode::OK,
        json!({
            "read_only": state.opts.password_sha256.is_none(),
            "scanned": n(&s.scanned),
            "learned": n(&s.learned),
            "spam_count": n(&s.spam),
            "ham_count": n(&s.ham),
            "skipped": n(&s.skipped),
            "actions": {
                "reject": n(&s.actions[2]),
                "soft reject": n(&s.greylisted),
                "rewrite subject": 0,
                "add header": n(&s.actions[1]),
                "greylist": 0,
                "no action": n(&s.actions[0]),
            },
            "statfiles": [],
            "total_learns": learned.map_or(0, |l| l.spam + l.ham),
            "model": learned.map(|l| json!({"spam": l.spam, "ham": l.ham})),
        }),
    )
}

/// Routes of the normal worker.
pub fn worker_router(state: Arc<RspamdState>) -> Router {
    Router::new()
        .route("/checkv2", post(checkv2))
        .route("/ping", get(|| async { "pong\r\n" }))
        .with_state(state)
}

/// Routes of the controller.
pub fn controller_router(state: Arc<RspamdState>) -> Router {
    Router::new()
        .route(
            "/learnspam",
            post(|State(s): State<Arc<RspamdState>>, req| learn(s, req, Label::Spam)),
        )
        .route(
            "/learnham",
            post(|State(s): State<Arc<RspamdState>>, req| learn(s, req, Label::Ham)),
        )
        .route("/stat", get(stat))
        .route("/ping", get(|| async { "pong\r\n" }))
        .with_state(state)
}

/// A stream that gives back bytes already read from it before the rest.
struct Rewind<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Longest line of the legacy protocol, and of the sniffed first line.
const MAX_LINE: usize = 8 * 1024;
/// Most header lines of a legacy request.
const MAX_HEADERS: usize = 1000;

/// Whether a request line is the legacy protocol's (`CHECK RSPAMC/1.3`).
fn is_legacy(first: &[u8]) -> bool {
    let line = first.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let method = words.next().unwrap_or_default();
    !method.is_empty()
        && method.iter().all(|b| b.is_ascii_uppercase() || *b == b'_')
        && words
            .next()
            .is_some_and(|v| v.starts_with(b"RSPAMC/") || v.starts_with(b"SPAMC/"))
}

/// Read the first line (or what came of it within the header timeout).
async fn sniff<S: AsyncRead + Unpin>(s: &mut S, timeout: Duration) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    let _ = tokio::time::timeout(timeout, async {
        let mut chunk = [0u8; 1024];
        while !buf.contains(&b'\n') && buf.len() < MAX_LINE {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    buf
}

/// Answer one legacy request (the connection closes after it, as Exim
/// expects: it reads to the end).
async fn legacy<S: AsyncRead + AsyncWrite + Unpin>(state: &Arc<RspamdState>, stream: S) {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = tokio::io::BufReader::new(reader);
    let answer = tokio::time::timeout(
        state.opts.request_timeout,
        legacy_answer(state, &mut reader),
    )
    .await
    .unwrap_or_else(|_| Err((79, "EX_TIMEOUT".into())));
    let bytes = match answer {
        Ok(a) => a,
        Err((code, why)) => {
            tracing::info!(code, "legacy rspamc request refused: {why}");
            format!("RSPAMD/1.3 {code} {why}\r\n\r\n")
        }
    };
    let _ = writer.write_all(bytes.as_bytes()).await;
    let _ = writer.shutdown().await;
}

async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<String, (u8, String)> {
    let mut buf = Vec::new();
    (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| (74, format!("read error: {e}")))?;
    if buf.len() > MAX_LINE {
        return Err((64, "line too long".into()));
    }
    if !buf.ends_with(b"\n") {
        return Err((76, "unexpected end of request".into()));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| (64, "bad header line: not UTF-8".into()))
}

async fn legacy_answer<R: tokio::io::AsyncBufRead + Unpin>(
    state: &Arc<RspamdState>,
    r: &mut R,
) -> Result<String, (u8, String)> {
    let first = read_line(r).await?;
    let method = first.split(' ').next().unwrap_or_default();
    match method {
        "CHECK" | "SYMBOLS" | "REPORT" | "REPORT_IFSPAM" => {}
        "PING" => return Ok("RSPAMD/1.3 0 PONG\r\n\r\n".into()),
        _ => return Err((76, format!("unknown command: {method}"))),
    }
    let mut headers = HeaderMap::new();
    let mut length = None;
    for i in 0..=MAX_HEADERS {
        let line = read_line(r).await?;
        if line.is_empty() {
            break;
        }
        if i == MAX_HEADERS {
            return Err((64, "too many header lines".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| (64, format!("bad header line: {line}")))?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| (64, format!("bad content-length: {value}")))?,
            );
            continue;
        }
        // Exim writes `From: <a@b>` and `Rcpt: <c@d>`.
        let value = value.trim_start_matches('<').trim_end_matches('>');
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.trim().as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let length = length.ok_or((64, "missing content-length".to_string()))?;
    let max = state.opts.limits.max_size;
    let keep = length.min(max + 1);
    let mut body = Vec::with_capacity(keep.min(1 << 20));
    let got = (&mut *r)
        .take(keep as u64)
        .read_to_end(&mut body)
        .await
        .map_err(|e| (74, format!("read error: {e}")))?;
    if got < keep {
        return Err((65, format!("message truncated: {got} of {length} bytes")));
    }
    if length > max {
        // The rest is left unread; the answer is "no action" (fail open).
        tracing::warn!("message larger than the size limit of {max} bytes; answered no action");
        state.stats.record(None);
        return Ok(legacy_reply(&state.engine, None));
    }
    let envelope =
        crate::server::envelope_of(&headers, None).map_err(|e| (64, format!("bad header: {e}")))?;
    let verdict = classify(state, body, envelope).await;
    Ok(legacy_reply(&state.engine, verdict.as_ref()))
}

/// Serve the normal worker on `listen` (HTTP and the legacy protocol on
/// one port) and, if given, the controller on `controller`, until
/// `shutdown` resolves.
pub async fn serve(
    state: Arc<RspamdState>,
    listen: crate::listener::Listen,
    controller: Option<crate::listener::Listen>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = crate::listener::Bound::bind(&listen).await?;
    tracing::info!(listen = %listen, "rspamd worker listening");
    let control = match &controller {
        Some(c) => {
            let b = crate::listener::Bound::bind(c).await?;
            tracing::info!(listen = %c, "rspamd controller listening");
            Some(b)
        }
        None => None,
    };
    serve_bound(state, worker, control, shutdown).await
}

/// [`serve`] on listeners already bound.
pub async fn serve_bound(
    state: Arc<RspamdState>,
    worker: crate::listener::Bound,
    controller: Option<crate::listener::Bound>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, _) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let http = crate::server::ServeOptions {
        listen: String::new(),
        max_body: state.opts.limits.max_size,
        max_connections: state.opts.max_connections,
        header_timeout: state.opts.header_timeout,
        request_timeout: state.opts.request_timeout,
    };
    let control = controller.map(|bound| {
        let app = with_limits(controller_router(Arc::clone(&state)), &state.opts);
        let (http, rx) = (http.clone(), stop.subscribe());
        let allowed = state.opts.allowed.clone();
        tokio::spawn(async move {
            crate::server::serve_http(bound, app, "rspamd controller", &http, allowed, stopped(rx))
                .await
        })
    });
    let app = with_limits(worker_router(Arc::clone(&state)), &state.opts);
    let mut opts = crate::listener::ListenerOptions::new("rspamd");
    opts.allowed = state.opts.allowed.clone();
    opts.max_connections = state.opts.max_connections;
    let header_timeout = state.opts.header_timeout;
    let rx = stop.subscribe();
    let worker = crate::listener::serve(worker, opts, stopped(rx), move |c| {
        let (state, app) = (Arc::clone(&state), app.clone());
        async move {
            connection(&state, app, c.stream, c.peer, c.closing, header_timeout).await;
        }
    });
    let worker = tokio::spawn(worker);
    shutdown.await;
    let _ = stop.send(true);
    let served = worker
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    if let Some(c) = control {
        c.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))?;
    }
    served
}

/// One connection to the normal worker: the legacy protocol if its first
/// line says `RSPAMC/`, else HTTP.
async fn connection<S>(
    state: &Arc<RspamdState>,
    app: Router,
    mut stream: S,
    peer: Option<std::net::SocketAddr>,
    closing: tokio::sync::watch::Receiver<bool>,
    header_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first = sniff(&mut stream, header_timeout).await;
    if first.is_empty() {
        return;
    }
    let stream = Rewind {
        prefix: first,
        pos: 0,
        inner: stream,
    };
    if is_legacy(&stream.prefix) {
        legacy(state, stream).await;
    } else {
        crate::server::serve_connection(app, stream, peer, closing, header_timeout).await;
    }
}

/// Answer what a client sends on one worker connection, given as bytes
/// (for tests and fuzzing): the legacy protocol or HTTP, as it comes.
pub async fn worker_exchange(state: &Arc<RspamdState>, request: &[u8]) -> Vec<u8> {
    let app = with_limits(worker_router(Arc::clone(state)), &state.opts);
    let (_closing, rx) = tokio::sync::watch::channel(false);
    let timeout = state.opts.header_timeout;
    crate::listener::exchange(request, |s| connection(state, app, s, None, rx, timeout)).await
}

/// The request timeout on every route.
fn with_limits(app: Router, opts: &RspamdOptions) -> Router {
    let request_timeout = opts.request_timeout;
    app.layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| async move {
                match tokio::time::timeout(request_timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => error(StatusCode::REQUEST_TIMEOUT, "request took too long"),
                }
            },
        ))
}

/// Answer one legacy request given as bytes (for tests and fuzzing).
pub async fn legacy_exchange(state: &Arc<RspamdState>, request: &[u8]) -> Vec<u8> {
    crate::listener::exchange(request, |s| legacy(state, s)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAM: &str = "From: Prize Office <win@lottery.example>\r\nTo: you@example.org\r\nSubject: CONGRATULATIONS!!! YOU HAVE WON $1,000,000\r\n\r\nClick here to claim your prize now! Act now! 100% free, no risk. Send your bank details to claim the transfer.\r\n";
    const HAM: &str = "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: lunch\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nSee you at noon.\r\n";

    fn state() -> Arc<RspamdState> {
        Arc::new(RspamdState {
            engine: Arc::new(Engine::with_defaults().expect("default rules")),
            opts: RspamdOptions::default(),
            feedback: None,
            stats: Stats::default(),
        })
    }

    fn ask(st: &Arc<RspamdState>, req: &[u8]) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        String::from_utf8_lossy(&rt.block_on(legacy_exchange(st, req))).into_owned()
    }

    fn legacy_request(body: &str) -> Vec<u8> {
        format!(
            "CHECK RSPAMC/1.3\r\nContent-length: {}\r\nQueue-Id: 1abc\r\nFrom: <win@lottery.example>\r\nRecipient-Number: 1\r\nRcpt: <you@example.org>\r\nHelo: mx.example\r\nIP: 192.0.2.7\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn legacy_replies_as_exim_parses_them() {
        let st = state();
        let spam = ask(&st, &legacy_request(SPAM));
        assert!(
            spam.starts_with("RSPAMD/1.3 0 EX_OK\r\nMetric: default; True; "),
            "{spam}"
        );
        let action_line = spam.lines().nth(2).unwrap_or_default();
        assert!(action_line.starts_with("Action: "), "{spam}");
        assert!(spam.contains("Symbol: BODY_CLICK_HERE("), "{spam}");
        assert!(spam.ends_with("\r\n\r\n"));
        let ham = ask(&st, &legacy_request(HAM));
        assert!(
            ham.starts_with("RSPAMD/1.3 0 EX_OK\r\nMetric: default; False; ")
                && ham.contains("Action: no action\r\n"),
            "{ham}"
        );
        assert_eq!(st.stats.scanned.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn legacy_malformed_requests() {
        let st = state();
        let table: &[(&[u8], &str)] = &[
            (b"FETCH RSPAMC/1.3\r\n\r\n", "RSPAMD/1.3 76 "),
            (b"CHECK RSPAMC/1.3\r\nno colon\r\n\r\n", "RSPAMD/1.3 64 "),
            (
                b"CHECK RSPAMC/1.3\r\n\r\nbody",
                "RSPAMD/1.3 64 missing content-length",
            ),
            (
                b"CHECK RSPAMC/1.3\r\nContent-length: x\r\n\r\n",
                "RSPAMD/1.3 64 bad content-length",
            ),
            (
                b"CHECK RSPAMC/1.3\r\nContent-length: 500\r\n\r\nshort",
                "RSPAMD/1.3 65 message truncated",
            ),
            (b"CHECK RSPAMC/1.3\r\nContent-le", "RSPAMD/1.3 76 "),
            (
                b"CHECK RSPAMC/1.3\r\nContent-length: 5\r\nIP: not-an-ip\r\n\r\nhello",
                "RSPAMD/1.3 64 bad header",
            ),
            (b"PING RSPAMC/1.3\r\n\r\n", "RSPAMD/1.3 0 PONG"),
        ];
        for (req, want) in table {
            let got = ask(&st, req);
            assert!(
                got.starts_with(want),
                "{:?}: {got}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn oversized_legacy_message_is_answered_no_action() {
        let mut opts = RspamdOptions::default();
        opts.limits.max_size = 100;
        let st = Arc::new(RspamdState {
            engine: Arc::new(Engine::with_defaults().expect("default rules")),
            opts,
            feedback: None,
            stats: Stats::default(),
        });
        let got = ask(&st, &legacy_request(SPAM));
        assert!(
            got.starts_with("RSPAMD/1.3 0 EX_OK\r\nMetric: default; False; 0.00 / ")
                && got.contains("Action: no action"),
            "{got}"
        );
    }

    #[test]
    fn json_reply_has_rspamd_fields() {
        let engine = Engine::with_defaults().expect("default rules");
        let msg = engine.parse_email(SPAM.as_bytes());
        let v = engine.classify(&msg);
        let j = check_reply(&engine, Some(&v), 0.001);
        assert_eq!(j["is_skipped"], json!(false));
        assert_eq!(j["score"], json!(v.score));
        assert_eq!(j["required_score"], json!(5.0));
        assert_eq!(j["thresholds"]["add header"], json!(5.0));
        assert_ne!(j["action"], json!("no action"));
        let sym = &j["symbols"]["BODY_CLICK_HERE"];
        assert_eq!(sym["name"], json!("BODY_CLICK_HERE"));
        assert!(sym["score"].is_number() && sym["description"].is_string());
        assert_eq!(
            j["milter"]["add_headers"]["X-Spam-Flag"]["value"],
            json!("YES")
        );
        assert_eq!(j["milter"]["remove_headers"]["X-Spam-Flag"], json!(0));
        let skipped = check_reply(&engine, None, 0.0);
        assert_eq!(skipped["is_skipped"], json!(true));
        assert_eq!(skipped["action"], json!("no action"));
    }

    #[test]
    fn sniffing_tells_the_legacy_protocol_from_http() {
        assert!(is_legacy(b"CHECK RSPAMC/1.3\r\n"));
        assert!(is_legacy(b"SYMBOLS RSPAMC/1.2\r\nContent-length: 5"));
        assert!(!is_legacy(b"POST /checkv2 HTTP/1.1\r\n"));
        assert!(!is_legacy(b"GET /ping HTTP/1.0\r\n"));
        assert!(!is_legacy(b""));
    }
}
