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
    ("spamd", spamd_request),
    ("rspamd", rspamd_request),
];

/// xorshift64*: small and deterministic, so a run reproduces from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Fragments that reach the parsers' special cases.
pub const TOKENS: &[&[u8]] = &[
    b"CHECK SPAMC/1.5\r\n",
    b"PROCESS SPAMC/1.5\r\n",
    b"Content-length: 40\r\n",
    b"Compress: zlib\r\n",
    b"User: bob\r\n",
    b"\r\n",
    b"\n\n",
    b":",
    b"<a href=",
    b"</a>",
    b"<a href=http://x>",
    b"<!--",
    b"<style>",
    b"&amp;",
    b"&#x",
    b"=?utf-8?b?",
    b"?=",
    b"--b\n",
    b"Content-Type: multipart/mixed; boundary=b\n",
    b"Content-Transfer-Encoding: base64\n",
    b"http://",
    b"www.",
    b"@",
    b"\xff\xfe",
    b"\0",
    b"X-Spam-Flag: NO\n",
    b"Subject: ",
    b"X-Spam-Prev-Subject: x\n",
    b"{\"channel\":\"sms\",\"text\":\"",
    b"\"}",
    b"[[rule]]\nid = \"A\"\ndescription = \"d\"\nscore = 1.0\nfield = \"body\"\nregex = '",
    b"(a+)+$",
    b"\\d+",
    b"0123456789",
    b"$$$",
    b"meta = \"A && B\"\n",
    b"[[score]]\nid = \"A\"\nscore = 0\n",
    b"\x02\x00\x00\x00\x0dO",
    b"\x00\x00\x00\x01C",
    b"\x00\x00\x00\x05Lsub\0",
    b"\x00\x00\x00\x01E",
];

/// `base` changed at random: fragments inserted, bytes deleted, changed
/// or repeated thousands of times, the end cut; at most 1 MiB.
pub fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.below(8) + 1 {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 | 1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 if at < v.len() => v[at] = rng.next_u64() as u8,
            4 if !v.is_empty() => {
                // Repeat a slice many times: the shape of hostile input.
                let end = (at + 1 + rng.below(16)).min(v.len());
                let piece = v[at.min(end - 1)..end].to_vec();
                let times = 1 + rng.below(5000);
                let rep: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                v.splice(at..at, rep);
            }
            _ => v.truncate(at),
        }
    }
    v.truncate(1 << 20);
    v
}

static ENGINE: LazyLock<Arc<Engine>> = LazyLock::new(|| {
    Arc::new(Engine::with_defaults().unwrap_or_else(|e| panic!("default rules: {e}")))
});

/// The rules built for one message per process (`spamsift check`): its
/// verdicts must be those of [`ENGINE`]'s, built for many.
static ONE_MESSAGE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::builder()
        .compile_channels(&[])
        .build_for(crate::rules::BuildFor::StartUp)
        .build()
        .unwrap_or_else(|e| panic!("default rules: {e}"))
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
});

/// Raw email: parse, classify (with rules built for many messages and for
/// one, which must agree), add and remove markup, strip forged fields.
pub fn email(data: &[u8]) {
    let engine = &*ENGINE;
    let msg = engine.parse_email(data);
    let v = engine.classify(&msg);
    let one = ONE_MESSAGE.classify(&msg);
    assert_eq!(
        (v.score, v.action, v.tests()),
        (one.score, one.action, one.tests()),
        "rules built for one message gave another verdict"
    );
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
        // A panic in the session is a finding, not a closed connection.
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(5), task).await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
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
            auth: None,
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

/// Bytes a spamd client might send: one request, answered.
pub fn spamd_request(data: &[u8]) {
    let opts = crate::spamd::SpamdOptions {
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    RUNTIME.block_on(async {
        let _ = crate::spamd::exchange(&ENGINE, &opts, data).await;
    });
}

/// Bytes an Rspamd client might send on a worker connection (HTTP or the
/// legacy protocol): answered; and the same bytes as a `/checkv2` body.
pub fn rspamd_request(data: &[u8]) {
    static STATE: LazyLock<Arc<crate::rspamd::RspamdState>> = LazyLock::new(|| {
        Arc::new(crate::rspamd::RspamdState {
            engine: Arc::clone(&ENGINE),
            opts: crate::rspamd::RspamdOptions {
                header_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(2),
                ..Default::default()
            },
            feedback: None,
            stats: Default::default(),
        })
    });
    RUNTIME.block_on(async {
        let _ = crate::rspamd::worker_exchange(&STATE, data).await;
        let mut req = format!(
            "POST /checkv2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .into_bytes();
        req.extend_from_slice(data);
        let _ = crate::rspamd::worker_exchange(&STATE, &req).await;
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
