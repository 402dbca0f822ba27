//! Entry points for fuzzing: one function per target, each taking raw
//! bytes and running them through a whole front end path. The cargo-fuzz
//! targets in `fuzz/` and the stable harness (`examples/fuzz.rs`) both
//! call these, so they test the same thing. Each returns normally on any
//! input; a panic or a run over [`TIME_BUDGET`] is a finding.

use crate::{Engine, headers};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Longest a single input may take on a release build before the harness
/// reports it (the adversarial suite keeps ordinary inputs far below).
pub const TIME_BUDGET: Duration = Duration::from_secs(2);

/// A fuzz target: takes any bytes.
pub type Target = fn(&[u8]);

/// The fuzz targets by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("email", email),
    ("short_json", short_json),
    ("milter", milter_packets),
    ("http", http_body),
    ("rules", rule_file),
];

static ENGINE: LazyLock<Arc<Engine>> = LazyLock::new(|| {
    Arc::new(Engine::with_defaults().unwrap_or_else(|e| panic!("default rules: {e}")))
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
});

/// Raw email: parse, classify, add and remove markup, strip forged fields.
pub fn email(data: &[u8]) {
    let engine = &*ENGINE;
    let msg = engine.parse_email(data);
    let v = engine.classify(&msg);
    let markup = headers::Markup {
        report: true,
        rewrite_subject: Some("[SPAM] ".into()),
    };
    if let Ok(out) = headers::rewrite(data, &v, &markup) {
        // Undoing the markup gives back the message without its own
        // X-Spam-* fields.
        assert_eq!(
            headers::remove_markup(&out),
            &*headers::strip_result_fields(data),
            "markup added then removed changed the message"
        );
    }
    let _ = headers::strip_result_fields(data);
}

/// One SMS/IM JSON object: parse and classify.
pub fn short_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(msg) = crate::Message::from_json(text) {
        let _ = ENGINE.classify(&msg);
    }
}

/// Bytes a milter client might send: a whole conversation over an
/// in-memory stream, the milter answering as it would to Postfix.
pub fn milter_packets(data: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let opts = Arc::new(crate::milter::MilterOptions {
        timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    });
    RUNTIME.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(crate::milter::conversation(
            Arc::clone(&ENGINE),
            opts,
            server,
            "fuzz".into(),
        ));
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        // Drain the answers so the milter never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut sink)).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    });
}

/// An HTTP request body for `/v1/check`, through the API's router.
pub fn http_body(data: &[u8]) {
    use tower::ServiceExt;
    static APP: LazyLock<axum::Router> = LazyLock::new(|| {
        let state = Arc::new(crate::server::AppState {
            engine: Arc::clone(&ENGINE),
            policies: Arc::new(crate::policy::PolicyStore::new()),
            metrics: Default::default(),
            complaints: Arc::new(crate::behaviour::ComplaintLog::new(1000, 3, 4.0)),
            feedback: None,
            save_feedback: None,
            unsaved: Default::default(),
            access: Default::default(),
            reports: Default::default(),
        });
        crate::server::router(state, 1 << 20, Duration::from_secs(5))
    });
    let req = axum::http::Request::post("/v1/check")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(data.to_vec()));
    let Ok(req) = req else {
        return;
    };
    RUNTIME.block_on(async {
        let _ = APP.clone().oneshot(req).await;
    });
}

/// A rule file: load it; if it loads, run its rules over a message.
pub fn rule_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = crate::rules::load_sources([("fuzz.toml".to_string(), text.to_string())]) {
        let msg = ENGINE.parse_email(
            b"From: a@b.example\nSubject: win money now\n\nclick http://x.example/ $100 free",
        );
        let _ = rules.run(&msg);
    }
}
