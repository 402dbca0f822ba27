//! The gateway HTTP API (`spamsift serve`), for SMS centres, chat services
//! and anything that speaks HTTP + JSON:
//!
//! | route | does |
//! |---|---|
//! | `POST /v1/check` | classify one message object, or `{"messages": [...]}` (a batch, answered in order) |
//! | `POST /v1/report` | a user complaint: the message object that was spam; its sender is counted (X.1247/X.1248) |
//! | `GET/PUT/DELETE /v1/policy/{recipient}` | the recipient's user rules (X.1242) |
//! | `GET /healthz` | liveness |
//! | `GET /metrics` | Prometheus text: messages by channel and action, latency histogram |
//!
//! Bad JSON, unknown fields and oversized bodies get a 4xx with a clear
//! message; nothing a client sends can crash the server.
//!
//! Policy reads and writes and complaints need a credential: the bearer
//! token of `[serve] token` / `token_sha256`, or a client address in
//! `[serve] allowed_ips` (401 without one, 403 when writes are not
//! configured at all). A complaint counts once per reporter (the
//! `X-Spamsift-Reporter` header a gateway sets for its user, else the
//! client address) and message, and each reporter may file
//! `reports_per_hour`; a message is learned once, however often reported.
//! Connections are bounded in number, in the time to send headers (also
//! the keep-alive idle time) and in the time a request may take.

use crate::Record;
use crate::message::short::{ShortMessage, into_message};
use crate::policy::{Policy, PolicyStore};
use crate::{Action, Channel, Engine, Verdict};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Most messages in one batch request.
pub const MAX_BATCH: usize = 10_000;
/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 10] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0,
];

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    by_channel_action: [[AtomicU64; 4]; 3],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
    complaints: AtomicU64,
    errors: AtomicU64,
    /// Verdicts given without the shared state (`STATE_UNAVAILABLE`).
    state_unavailable: AtomicU64,
}

impl Metrics {
    fn record(&self, v: &Verdict, secs: f64) {
        let a = match v.action {
            Action::Ham => 0,
            Action::Tag => 1,
            Action::Quarantine => 2,
            Action::Reject => 3,
        };
        self.by_channel_action[v.channel.index()][a].fetch_add(1, Ordering::Relaxed);
        if v.hit(crate::state::STATE_UNAVAILABLE) {
            self.state_unavailable.fetch_add(1, Ordering::Relaxed);
        }
        for (b, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_nanos
            .fetch_add((secs * 1e9) as u64, Ordering::Relaxed);
    }

    /// Prometheus text exposition, with the shared state's counters when
    /// there is one.
    pub fn render_with(&self, engine: &Engine) -> String {
        let mut out = self.render();
        out += &format!(
            "# HELP spamsift_state_unavailable_total Verdicts given without the shared state (Redis down).\n# TYPE spamsift_state_unavailable_total counter\nspamsift_state_unavailable_total {}\n",
            self.state_unavailable.load(Ordering::Relaxed)
        );
        if let Some(r) = engine.shared_state() {
            out += &format!(
                "# HELP spamsift_state_requests_total Requests (round trips) to the shared state.\n# TYPE spamsift_state_requests_total counter\nspamsift_state_requests_total {}\n# HELP spamsift_state_failures_total Requests to the shared state that failed.\n# TYPE spamsift_state_failures_total counter\nspamsift_state_failures_total {}\n",
                r.requests(),
                r.failures()
            );
        }
        out
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP spamsift_messages_total Messages classified, by channel and action.\n# TYPE spamsift_messages_total counter\n",
        );
        for ch in Channel::ALL {
            for (i, a) in ["ham", "tag", "quarantine", "reject"].iter().enumerate() {
                out += &format!(
                    "spamsift_messages_total{{channel=\"{ch}\",action=\"{a}\"}} {}\n",
                    self.by_channel_action[ch.index()][i].load(Ordering::Relaxed)
                );
            }
        }
        out += "# HELP spamsift_classify_seconds Time to parse and classify one message.\n# TYPE spamsift_classify_seconds histogram\n";
        for (b, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            out += &format!(
                "spamsift_classify_seconds_bucket{{le=\"{bound}\"}} {}\n",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        out += &format!("spamsift_classify_seconds_bucket{{le=\"+Inf\"}} {count}\n");
        out += &format!(
            "spamsift_classify_seconds_sum {}\n",
            self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
        out += &format!("spamsift_classify_seconds_count {count}\n");
        out += &format!(
            "# TYPE spamsift_complaints_total counter\nspamsift_complaints_total {}\n",
            self.complaints.load(Ordering::Relaxed)
        );
        out += &format!(
            "# TYPE spamsift_request_errors_total counter\nspamsift_request_errors_total {}\n",
            self.errors.load(Ordering::Relaxed)
        );
        out
    }
}

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Policies (also read by the engine).
    pub policies: Arc<PolicyStore>,
    /// Counters.
    pub metrics: Metrics,
    /// Complaints per sender, fed into behaviour analysis.
    pub complaints: Arc<crate::behaviour::ComplaintLog>,
    /// The model learning from complaints, when one is loaded.
    pub feedback: Option<Arc<crate::bayes::FeedbackStore>>,
    /// Where to save the model with feedback (complaints are saved in
    /// batches, at most [`SAVE_DELAY`] after they arrive, and at shutdown).
    pub save_feedback: Option<std::path::PathBuf>,
    /// Complaints learned but not saved yet.
    pub unsaved: UnsavedFeedback,
    /// Who may use the write routes.
    pub access: Access,
    /// Duplicate and rate bookkeeping of complaints.
    pub reports: ReportLedger,
    /// Sender authentication for `/v1/check/email` (`[dns]` configured).
    pub auth: Option<crate::auth::Authenticator>,
}

/// Who may read and write policies and file complaints.
#[derive(Debug, Default)]
pub struct Access {
    token_sha256: Option<[u8; 32]>,
    nets: Vec<crate::net::IpNet>,
}

impl Access {
    /// From the `[serve]` settings (validated by the config loader).
    pub fn new(s: &crate::config::ServeSettings) -> Access {
        use sha2::Digest;
        let token_sha256 = match (&s.token, &s.token_sha256) {
            (Some(t), _) => Some(sha2::Sha256::digest(t.trim().as_bytes()).into()),
            (None, Some(h)) => {
                let mut out = [0u8; 32];
                let ok = h.len() == 64
                    && out.iter_mut().enumerate().all(|(i, b)| {
                        u8::from_str_radix(&h[2 * i..2 * i + 2], 16)
                            .map(|v| *b = v)
                            .is_ok()
                    });
                ok.then_some(out)
            }
            (None, None) => None,
        };
        Access {
            token_sha256,
            nets: s
                .allowed_ips
                .iter()
                .filter_map(|n| crate::net::IpNet::parse(n).ok())
                .collect(),
        }
    }

    /// Whether any credential is configured.
    pub fn configured(&self) -> bool {
        self.token_sha256.is_some() || !self.nets.is_empty()
    }

    /// Whether a request from `peer` with this `Authorization` value may write.
    fn allows(&self, peer: Option<std::net::IpAddr>, authorization: Option<&str>) -> bool {
        use sha2::Digest;
        if peer.is_some_and(|ip| self.nets.iter().any(|n| n.contains(ip))) {
            return true;
        }
        let (Some(want), Some(given)) = (
            &self.token_sha256,
            authorization.and_then(|a| a.trim().strip_prefix("Bearer ")),
        ) else {
            return false;
        };
        // Digests compared in full, whatever differs first.
        let got: [u8; 32] = sha2::Sha256::digest(given.trim().as_bytes()).into();
        got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// Complaints already counted (per reporter and message), messages already
/// learned, and each reporter's complaints this hour; all bounded.
#[derive(Debug)]
pub struct ReportLedger {
    seen: std::sync::Mutex<lru::LruCache<(u64, u64), ()>>,
    learned: std::sync::Mutex<lru::LruCache<u64, ()>>,
    hourly: std::sync::Mutex<lru::LruCache<u64, (Instant, u32)>>,
    per_hour: u32,
}

/// What the ledger says of a new complaint.
#[derive(Debug, PartialEq, Eq)]
enum ReportCheck {
    /// Count it; `learn` says whether the message is new to the model.
    New { learn: bool },
    /// This reporter already reported this message.
    Duplicate,
    /// This reporter is over its hourly allowance.
    OverLimit,
}

/// Entries each ledger table keeps (the least recently used go first).
const LEDGER_ENTRIES: usize = 1 << 20;

impl ReportLedger {
    /// A ledger allowing `per_hour` complaints per reporter.
    pub fn new(per_hour: u32) -> ReportLedger {
        let cap =
            std::num::NonZeroUsize::new(LEDGER_ENTRIES).unwrap_or(std::num::NonZeroUsize::MIN);
        ReportLedger {
            seen: std::sync::Mutex::new(lru::LruCache::new(cap)),
            learned: std::sync::Mutex::new(lru::LruCache::new(cap)),
            hourly: std::sync::Mutex::new(lru::LruCache::new(cap)),
            per_hour,
        }
    }

    fn check(&self, reporter: u64, digest: u64, now: Instant) -> ReportCheck {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&(reporter, digest)) {
            return ReportCheck::Duplicate;
        }
        {
            let mut hourly = self.hourly.lock().unwrap_or_else(|e| e.into_inner());
            let slot = hourly.get_or_insert_mut(reporter, || (now, 0));
            if now.duration_since(slot.0) >= std::time::Duration::from_secs(3600) {
                *slot = (now, 0);
            }
            if slot.1 >= self.per_hour {
                return ReportCheck::OverLimit;
            }
            slot.1 += 1;
        }
        seen.put((reporter, digest), ());
        let mut learned = self.learned.lock().unwrap_or_else(|e| e.into_inner());
        let learn = learned.put(digest, ()).is_none();
        ReportCheck::New { learn }
    }
}

impl Default for ReportLedger {
    fn default() -> Self {
        ReportLedger::new(crate::config::ServeSettings::default().reports_per_hour)
    }
}

/// How long a complaint waits before the model is saved: complaints that
/// arrive meanwhile are saved in the same write.
pub const SAVE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether complaints wait to be saved, and a wake-up for the saver.
#[derive(Debug, Default)]
pub struct UnsavedFeedback {
    dirty: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
    /// One save at a time: each reads the model when it starts, so the last
    /// to write is the newest.
    saving: std::sync::Mutex<()>,
}

impl UnsavedFeedback {
    fn mark(&self) {
        self.dirty.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// Save the model with its feedback if complaints wait to be saved.
async fn save_feedback(state: &Arc<AppState>) {
    let (Some(fb), Some(path)) = (state.feedback.clone(), state.save_feedback.clone()) else {
        return;
    };
    if !state.unsaved.dirty.swap(false, Ordering::AcqRel) {
        return;
    }
    let state = Arc::clone(state);
    let saved = tokio::task::spawn_blocking(move || {
        let _one_at_a_time = state.unsaved.saving.lock();
        fb.persist(&path)
    })
    .await;
    if !matches!(saved, Ok(Ok(()))) {
        tracing::warn!("could not save the model with feedback: {saved:?}");
    }
}

/// Saves complaints in batches while the server runs.
async fn feedback_saver(state: Arc<AppState>) {
    loop {
        state.unsaved.wake.notified().await;
        tokio::time::sleep(SAVE_DELAY).await;
        save_feedback(&state).await;
    }
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

fn json_error(e: JsonRejection) -> Response {
    let status = match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, e.body_text())
}

/// The envelope of a raw email posted to `/v1/check/email`, from request
/// headers as Rspamd's protocol names them (`IP`, `Helo`, `Hostname`,
/// `From`, `Rcpt` repeated, `Queue-Id`, `User`), or the query
/// (`?ip=..&helo=..&from=..&rcpt=..&rcpt=..`).
pub(crate) fn envelope_of(
    headers: &axum::http::HeaderMap,
    query: Option<&str>,
) -> Result<crate::frontend::Envelope, String> {
    let mut env = crate::frontend::Envelope::default();
    let mut deliver_to = None;
    let mut set = |name: &str, value: &str| -> Result<(), String> {
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "ip" => {
                env.client_ip = Some(
                    value
                        .parse()
                        .map_err(|_| format!("IP {value:?} is not an address"))?,
                )
            }
            "helo" => env.helo = Some(value.to_string()),
            "hostname" => env.client_host = Some(value.to_string()),
            "from" => env.mail_from = Some(value.to_string()),
            "rcpt" => env.recipients.push(value.to_string()),
            "queue-id" => env.queue_id = Some(value.to_string()),
            // Rspamd's `User` is the SMTP AUTH user, not a recipient.
            "user" => env.auth_user = Some(value.to_string()),
            "deliver-to" => deliver_to = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    };
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            set(name.as_str(), v)?;
        }
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        set(k, &v)?;
    }
    // Deliver-To: the mailbox being delivered to, when no RCPT is given.
    if env.recipients.is_empty()
        && let Some(d) = &deliver_to
    {
        env.recipients.push(d.clone());
    }
    env.deliver_to = deliver_to;
    Ok(env)
}

/// `%XX` and `+` of a query value decoded (invalid escapes kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /v1/check/email`: a raw RFC 5322 message as the body, the
/// envelope in request headers or the query; answers the verdict JSON
/// (or `{"action":"pass","error":..}` when it cannot be classified).
async fn check_email(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut envelope = match envelope_of(&headers, uri.query()) {
        Ok(e) => e,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let parsed = envelope
        .authenticate(state.auth.as_ref(), &state.engine, &body)
        .await;
    let st = Arc::clone(&state);
    let start = Instant::now();
    let done = crate::listener::classification_work(&state.engine, body.len(), move || {
        let limits = crate::frontend::Limits {
            max_size: usize::MAX,
            timeout: st.engine.config().limits.budget(),
        };
        crate::frontend::check_email_prepared(&st.engine, &body, parsed, &envelope, &limits)
    })
    .await;
    match done {
        Ok(crate::frontend::Outcome::Classified(v)) => {
            state.metrics.record(&v, start.elapsed().as_secs_f64());
            Json(v).into_response()
        }
        Ok(crate::frontend::Outcome::PassedThrough(why)) => {
            tracing::warn!(reason = %why, "email not classified");
            Json(json!({"channel": "email", "action": "pass", "error": why})).into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("classification failed: {e}"),
        ),
    }
}

fn classify_value(state: &AppState, v: Value) -> Value {
    let start = Instant::now();
    let short: ShortMessage = match serde_json::from_value(v) {
        Ok(s) => s,
        Err(e) => return json!({"error": format!("invalid message: {e}")}),
    };
    let id = short.id.clone();
    match into_message(short, None, 0) {
        Err(e) => serde_json::to_value(Record {
            id: id.as_ref(),
            ..Record::error(e.to_string())
        })
        .unwrap_or(Value::Null),
        Ok(msg) => {
            let verdict = state.engine.classify(&msg);
            state.engine.observe(&msg, &verdict);
            state
                .metrics
                .record(&verdict, start.elapsed().as_secs_f64());
            serde_json::to_value(Record {
                id: id.as_ref(),
                ..Record::of(&verdict)
            })
            .unwrap_or(Value::Null)
        }
    }
}

async fn check(
    State(state): State<Arc<AppState>>,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
            return json_error(e);
        }
    };
    let (batch, single) = match body {
        Value::Object(ref o) if o.contains_key("messages") => match o.get("messages") {
            Some(Value::Array(a)) if o.len() == 1 => (Some(a.clone()), Value::Null),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "a batch is {\"messages\": [message, ...]} and nothing else",
                );
            }
        },
        Value::Array(a) => (Some(a), Value::Null),
        other => (None, other),
    };
    let st = Arc::clone(&state);
    let result = tokio::task::spawn_blocking(move || match batch {
        Some(items) if items.len() > MAX_BATCH => Err(format!(
            "batch of {} messages; at most {MAX_BATCH}",
            items.len()
        )),
        Some(items) => {
            use rayon::prelude::*;
            let verdicts: Vec<Value> = items
                .into_par_iter()
                .map(|v| classify_value(&st, v))
                .collect();
            Ok(json!({ "verdicts": verdicts }))
        }
        None => Ok(classify_value(&st, single)),
    })
    .await;
    match result {
        Ok(Ok(v)) if v.get("error").is_some() && v.get("action").is_none() => {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, Json(v)).into_response()
        }
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::PAYLOAD_TOO_LARGE, e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("classification failed: {e}"),
        ),
    }
}

/// The client address of a request (set per connection by [`serve`]).
fn peer_of(req: &axum::extract::Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Lets a request through to a write route only with a credential.
async fn require_writer(
    State(state): State<Arc<AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !state.access.configured() {
        return error(
            StatusCode::FORBIDDEN,
            "policy and complaint routes are off: configure [serve] token, token_sha256 or allowed_ips",
        );
    }
    let auth = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if state.access.allows(peer_of(&req), auth) {
        next.run(req).await
    } else {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "this route needs Authorization: Bearer TOKEN or an allowed client address",
        );
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        r
    }
}

/// Who filed a complaint: the gateway's `X-Spamsift-Reporter` (its user),
/// else the client address.
fn reporter_of(headers: &axum::http::HeaderMap, peer: Option<std::net::IpAddr>) -> u64 {
    let named = headers
        .get("x-spamsift-reporter")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let key = match (named, peer) {
        (Some(n), _) => format!("r:{n}"),
        (None, Some(ip)) => format!("ip:{ip}"),
        (None, None) => "unknown".to_string(),
    };
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

async fn report(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return json_error(e),
    };
    let short: ShortMessage = match serde_json::from_value(body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid message: {e}")),
    };
    let msg = match into_message(short, None, 0) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if msg.sender.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "a complaint needs the message's sender (\"from\")",
        );
    }
    let reporter = reporter_of(&headers, Some(peer.ip()));
    let learn =
        match state
            .reports
            .check(reporter, crate::bayes::message_digest(&msg), Instant::now())
        {
            ReportCheck::Duplicate => {
                return Json(json!({
                    "sender": msg.sender,
                    "complaints": state.complaints.count(&msg.sender),
                    "learned": false,
                    "duplicate": true,
                }))
                .into_response();
            }
            ReportCheck::OverLimit => {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "this reporter has filed its complaints for this hour",
                );
            }
            ReportCheck::New { learn } => learn,
        };
    // A complaint the shared state cannot take is refused, so the reporter
    // retries: never silently dropped.
    let n = match state.complaints.complain(&msg.sender) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    state.metrics.complaints.fetch_add(1, Ordering::Relaxed);
    let mut learned = false;
    let shared = state
        .engine
        .bayes()
        .filter(|_| learn && state.feedback.is_none())
        .map(|b| b.learn_shared(&msg, crate::corpus::Label::Spam));
    match shared.flatten() {
        Some(Ok(_)) => learned = true,
        Some(Err(e)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("complaint counted, but not learned: {e}"),
            );
        }
        None => {}
    }
    if let Some(fb) = state.feedback.as_ref().filter(|_| learn) {
        let features = crate::bayes::features(&msg, &state.engine.config().bayes.tokenizer());
        fb.learn(&features, crate::corpus::Label::Spam);
        learned = true;
        if state.save_feedback.is_some() {
            state.unsaved.mark();
        }
    }
    Json(json!({"sender": msg.sender, "complaints": n, "learned": learned})).into_response()
}

async fn get_policy(State(state): State<Arc<AppState>>, Path(recipient): Path<String>) -> Response {
    match state.policies.get(&recipient) {
        Some(p) => Json(serde_json::to_value(&*p).unwrap_or(Value::Null)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no policy for {recipient}")),
    }
}

async fn put_policy(
    State(state): State<Arc<AppState>>,
    Path(recipient): Path<String>,
    body: Result<Json<Policy>, JsonRejection>,
) -> Response {
    let Json(policy) = match body {
        Ok(b) => b,
        Err(e) => return json_error(e),
    };
    match state.policies.put(&recipient, Some(policy)) {
        Ok(()) => Json(json!({"recipient": recipient, "stored": true})).into_response(),
        Err(e) => policy_error(e),
    }
}

async fn delete_policy(
    State(state): State<Arc<AppState>>,
    Path(recipient): Path<String>,
) -> Response {
    match state.policies.put(&recipient, None) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => policy_error(e),
    }
}

/// A policy the store refused: what was wrong with the request, or for a
/// failure of the store itself a 500 that shows no server path (the
/// detail goes to the log).
fn policy_error(e: crate::policy::PolicyError) -> Response {
    if e.internal {
        tracing::error!("policy store: {e}");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the policy could not be stored",
        )
    } else {
        error(StatusCode::BAD_REQUEST, e.message)
    }
}

/// The API routes over shared state; `max_body` bounds request bodies and
/// `request_timeout` the time a request may take (reading its body too).
pub fn router(
    state: Arc<AppState>,
    max_body: usize,
    request_timeout: std::time::Duration,
) -> Router {
    let writes = Router::new()
        .route("/v1/report", post(report))
        .route(
            "/v1/policy/{recipient}",
            get(get_policy).put(put_policy).delete(delete_policy),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            require_writer,
        ));
    Router::new()
        .route("/v1/check", post(check))
        .route("/v1/check/email", post(check_email))
        .merge(writes)
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(|State(s): State<Arc<AppState>>| async move { s.metrics.render_with(&s.engine) }),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(move |req, next| {
            reject_oversized(max_body, req, next)
        }))
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| async move {
                match tokio::time::timeout(request_timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => error(StatusCode::REQUEST_TIMEOUT, "request took too long"),
                }
            },
        ))
        .with_state(state)
}

/// Bodies declared larger than the limit, up to this size, are read and
/// dropped before the 413 answer: a client still sending its body then reads
/// the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 16 << 20;

/// Answers 413 to a request whose Content-Length is over `max_body`.
async fn reject_oversized(
    max_body: usize,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared {
        Some(n) if n > max_body => {
            if n <= DRAIN_LIMIT {
                let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await;
            }
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body of {n} bytes is over the limit of {max_body} bytes"),
            )
        }
        _ => next.run(req).await,
    }
}

/// Settings of `spamsift serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` to listen on.
    pub listen: String,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Most open connections; more are closed at once.
    pub max_connections: usize,
    /// Time to send a request's headers, and keep-alive idle time.
    pub header_timeout: std::time::Duration,
    /// Time a request may take, body included.
    pub request_timeout: std::time::Duration,
}

impl ServeOptions {
    /// Options for `listen` with the `[serve]` settings' limits.
    pub fn new(listen: String, max_body: usize, s: &crate::config::ServeSettings) -> ServeOptions {
        ServeOptions {
            listen,
            max_body,
            max_connections: s.max_connections,
            header_timeout: std::time::Duration::from_secs_f64(s.header_timeout),
            request_timeout: std::time::Duration::from_secs_f64(s.request_timeout),
        }
    }
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    state: Arc<AppState>,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listen: crate::listener::Listen = opts
        .listen
        .parse()
        .map_err(|e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let bound = crate::listener::Bound::bind(&listen).await?;
    tracing::info!(listen = %opts.listen, "HTTP API listening");
    let saver = tokio::spawn(feedback_saver(Arc::clone(&state)));
    let app = router(Arc::clone(&state), opts.max_body, opts.request_timeout);
    let served = serve_http(bound, app, "serve", &opts, Vec::new(), shutdown).await;
    saver.abort();
    // Complaints still waiting are saved before the server exits.
    save_feedback(&state).await;
    served
}

/// Serve an axum app on a bound listener with hyper: a header timeout
/// (also the keep-alive idle time), at most `opts.max_connections` at
/// once, HTTP/1.0 and 1.1; at shutdown each connection finishes its
/// request and closes.
pub(crate) async fn serve_http(
    bound: crate::listener::Bound,
    app: Router,
    name: &'static str,
    opts: &ServeOptions,
    allowed: Vec<crate::net::IpNet>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut listener = crate::listener::ListenerOptions::new(name);
    listener.max_connections = opts.max_connections;
    listener.allowed = allowed;
    let header_timeout = opts.header_timeout;
    crate::listener::serve(bound, listener, shutdown, move |c| {
        serve_connection(app.clone(), c.stream, c.peer, c.closing, header_timeout)
    })
    .await
}

/// Serve one connection's HTTP/1 requests with an axum app until the
/// client closes, or until `closing` turns (then the request in hand is
/// finished).
pub(crate) async fn serve_connection<S>(
    app: Router,
    stream: S,
    peer: Option<std::net::SocketAddr>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    header_timeout: std::time::Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let peer = peer.unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
    // A client that half-closes after its request (as Exim and
    // `nc -N` do) still reads its answer.
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .half_close(true)
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = closing.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let table = [
            ("bob%40example.org", "bob@example.org"),
            ("a+b", "a b"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%41", "A"),
        ];
        for (raw, want) in table {
            assert_eq!(percent_decode(raw), want, "{raw}");
        }
    }

    #[test]
    fn envelope_from_headers_and_query() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("IP", "192.0.2.7".parse().expect("header value"));
        h.append("Rcpt", "a@example.org".parse().expect("header value"));
        let env = envelope_of(&h, Some("rcpt=b%40example.org&helo=mx")).expect("envelope");
        assert_eq!(env.client_ip, Some("192.0.2.7".parse().expect("ip")));
        assert_eq!(env.recipients, ["a@example.org", "b@example.org"]);
        assert_eq!(env.helo.as_deref(), Some("mx"));
        assert!(envelope_of(&axum::http::HeaderMap::new(), Some("ip=x")).is_err());
    }
}
