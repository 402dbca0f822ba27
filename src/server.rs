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

use crate::message::short::{ShortMessage, into_message};
use crate::policy::{Policy, PolicyStore};
use crate::{Action, Channel, Engine, Verdict};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
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
        for (b, bound) in self.latency_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_nanos
            .fetch_add((secs * 1e9) as u64, Ordering::Relaxed);
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

fn classify_value(state: &AppState, v: Value) -> Value {
    let start = Instant::now();
    let short: ShortMessage = match serde_json::from_value(v) {
        Ok(s) => s,
        Err(e) => return json!({"error": format!("invalid message: {e}")}),
    };
    let id = short.id.clone();
    match into_message(short, None, 0) {
        Err(e) => json!({"id": id, "error": e.to_string()}),
        Ok(msg) => {
            let verdict = state.engine.classify(&msg);
            state
                .metrics
                .record(&verdict, start.elapsed().as_secs_f64());
            let mut out = serde_json::to_value(&verdict).unwrap_or(Value::Null);
            if let (Some(id), Some(obj)) = (id, out.as_object_mut()) {
                obj.insert("id".into(), id);
            }
            out
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

async fn report(
    State(state): State<Arc<AppState>>,
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
    let n = state.complaints.complain(&msg.sender);
    state.metrics.complaints.fetch_add(1, Ordering::Relaxed);
    let mut learned = false;
    if let Some(fb) = &state.feedback {
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
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn delete_policy(
    State(state): State<Arc<AppState>>,
    Path(recipient): Path<String>,
) -> Response {
    match state.policies.put(&recipient, None) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The API routes over shared state; `max_body` bounds request bodies.
pub fn router(state: Arc<AppState>, max_body: usize) -> Router {
    Router::new()
        .route("/v1/check", post(check))
        .route("/v1/report", post(report))
        .route(
            "/v1/policy/{recipient}",
            get(get_policy).put(put_policy).delete(delete_policy),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(|State(s): State<Arc<AppState>>| async move { s.metrics.render() }),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(move |req, next| {
            reject_oversized(max_body, req, next)
        }))
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
#[derive(Debug, Clone, Deserialize)]
pub struct ServeOptions {
    /// `HOST:PORT` to listen on.
    pub listen: String,
    /// Largest request body, bytes.
    pub max_body: usize,
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    state: Arc<AppState>,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(&opts.listen).await?;
    tracing::info!(listen = %opts.listen, "HTTP API listening");
    let saver = tokio::spawn(feedback_saver(Arc::clone(&state)));
    let served = axum::serve(listener, router(Arc::clone(&state), opts.max_body))
        .with_graceful_shutdown(shutdown)
        .await;
    saver.abort();
    // Complaints still waiting are saved before the server exits.
    save_feedback(&state).await;
    served
}
