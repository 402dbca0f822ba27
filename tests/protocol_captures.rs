//! The MTA protocols on requests captured from the real clients
//! (`tests/fixtures/protocols/*.request`: spamc, rspamc, and Exim in both
//! modes, recorded on a socket) and on malformed ones: each gets the answer
//! its client parses, byte for byte where the client is strict.

use spamsift::Engine;
use spamsift::rspamd::{RspamdOptions, RspamdState, Stats, worker_exchange};
use spamsift::spamd::{SpamdOptions, exchange};
use std::sync::Arc;
use std::time::Duration;

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/protocols")
            .join(name),
    )
    .expect("capture")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn engine() -> Arc<Engine> {
    Arc::new(Engine::with_defaults().expect("default rules"))
}

fn rspamd_state(max_size: usize) -> Arc<RspamdState> {
    let mut opts = RspamdOptions {
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        ..RspamdOptions::default()
    };
    opts.limits.max_size = max_size;
    Arc::new(RspamdState {
        engine: engine(),
        opts,
        feedback: None,
        stats: Stats::default(),
    })
}

fn rspamd(req: &[u8]) -> String {
    rspamd_with(&rspamd_state(1 << 20), req)
}

fn rspamd_with(state: &Arc<RspamdState>, req: &[u8]) -> String {
    String::from_utf8_lossy(&runtime().block_on(worker_exchange(state, req))).into_owned()
}

fn spamd(req: &[u8]) -> String {
    let e = engine();
    String::from_utf8_lossy(&runtime().block_on(exchange(&e, &SpamdOptions::default(), req)))
        .into_owned()
}

#[test]
fn captured_requests_get_the_answers_their_clients_parse() {
    // spamc -y: SYMBOLS; spamc reads the Spam line and a body of rule ids.
    let a = spamd(&capture("spamc-symbols.request"));
    assert!(a.starts_with("SPAMD/1.1 0 EX_OK\r\nSpam: False ; "), "{a}");
    let (head, body) = a.split_once("\r\n\r\n").expect("head");
    assert!(
        head.ends_with(&format!("Content-length: {}", body.len())),
        "{a}"
    );
    // Exim's spamd mode sends REPORT SPAMC/1.2 and parses
    // "SPAMD/%s 0 EX_OK\r\nSpam: %*s ; %lf / %lf\r\n".
    let a = spamd(&capture("exim-spamd-report.request"));
    assert!(a.starts_with("SPAMD/1.1 0 EX_OK\r\nSpam: False ; "), "{a}");
    assert!(a.contains("Content analysis details:"), "{a}");
    // Exim's variant=rspamd: "RSPAMD/%s 0 EX_OK\r\nMetric: default; %s %lf / %lf / %lf\r\n",
    // then "Action: ".
    let a = rspamd(&capture("exim-variant-rspamd.request"));
    let mut lines = a.split("\r\n");
    assert_eq!(lines.next(), Some("RSPAMD/1.3 0 EX_OK"), "{a}");
    let metric = lines.next().unwrap_or_default();
    let nums: Vec<f64> = metric
        .strip_prefix("Metric: default; False; ")
        .unwrap_or_else(|| panic!("{a}"))
        .split(" / ")
        .map(|n| n.parse().expect("number"))
        .collect();
    assert_eq!(nums[1..], [5.0, 15.0], "{a}");
    assert_eq!(lines.next(), Some("Action: no action"), "{a}");
    // rspamc: POST /checkv2 HTTP/1.0, Connection: close; JSON answer.
    let a = rspamd(&capture("rspamc-checkv2.request"));
    assert!(a.starts_with("HTTP/1.0 200 OK\r\n"), "{a}");
    let json: serde_json::Value =
        serde_json::from_str(a.split_once("\r\n\r\n").expect("body").1).expect("json");
    assert_eq!(json["action"], "no action");
    assert_eq!(json["required_score"], 5.0);
    // rspamc learn_spam sent to the worker: not a worker route.
    let a = rspamd(&capture("rspamc-learnspam.request"));
    assert!(a.starts_with("HTTP/1.0 404"), "{a}");
}

#[test]
fn malformed_and_hostile_rspamd_requests() {
    let msg = "Subject: hi\r\n\r\nhello\r\n";
    let table: Vec<(Vec<u8>, &str)> = vec![
        // Not HTTP, not RSPAMC: hyper answers 400.
        (b"HELLO THERE\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        // A header line without a colon.
        (
            format!(
                "POST /checkv2 HTTP/1.1\r\nHost x\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            )
            .into_bytes(),
            "HTTP/1.1 400",
        ),
        // Unknown path and method.
        (b"GET /nothing HTTP/1.0\r\n\r\n".to_vec(), "HTTP/1.0 404"),
        (b"GET /checkv2 HTTP/1.0\r\n\r\n".to_vec(), "HTTP/1.0 405"),
        // A bad envelope address.
        (
            format!(
                "POST /checkv2 HTTP/1.0\r\nIP: 999.1.1.1\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            )
            .into_bytes(),
            "HTTP/1.0 400",
        ),
        // Content-Length larger than the body sent: no answer can be
        // given for a message never received; the connection ends.
        (
            b"POST /checkv2 HTTP/1.0\r\nContent-Length: 500\r\n\r\nshort".to_vec(),
            "",
        ),
        // Legacy: unknown command, truncated body.
        (b"FETCH RSPAMC/1.3\r\n\r\n".to_vec(), "RSPAMD/1.3 76 "),
        (
            b"CHECK RSPAMC/1.3\r\nContent-length: 99\r\n\r\nshort".to_vec(),
            "RSPAMD/1.3 65 message truncated",
        ),
    ];
    for (req, want) in &table {
        let a = rspamd(req);
        assert!(
            a.starts_with(want),
            "{:?}: want {want:?}, got {a:?}",
            String::from_utf8_lossy(req)
        );
    }
}

#[test]
fn oversized_messages_are_answered_no_action() {
    let st = rspamd_state(1000);
    let big = format!(
        "Subject: win money\r\n\r\n{}\r\n",
        "click here now ".repeat(500)
    );
    let a = rspamd_with(
        &st,
        &[
            format!(
                "POST /checkv2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
                big.len()
            )
            .as_bytes(),
            big.as_bytes(),
        ]
        .concat(),
    );
    assert!(a.starts_with("HTTP/1.0 200"), "{a}");
    let json: serde_json::Value =
        serde_json::from_str(a.split_once("\r\n\r\n").expect("body").1).expect("json");
    assert_eq!(json["is_skipped"], true);
    assert_eq!(json["action"], "no action");
    let a = rspamd_with(
        &st,
        &[
            format!("CHECK RSPAMC/1.3\r\nContent-length: {}\r\n\r\n", big.len()).as_bytes(),
            big.as_bytes(),
        ]
        .concat(),
    );
    assert!(
        a.contains("Metric: default; False; 0.00") && a.contains("Action: no action"),
        "{a}"
    );
}

#[test]
fn zstd_bodies_and_zstd_bombs() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let st = rspamd_state(1 << 20);
    let ask = |body: &[u8], compression: &str| {
        rspamd_with(
            &st,
            &[
                format!(
                    "POST /checkv2 HTTP/1.0\r\nCompression: {compression}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
                body,
            ]
            .concat(),
        )
    };
    let msg = b"From: a@b.example\r\nSubject: FREE money\r\n\r\nclick here now\r\n";
    let plain = rspamd(
        &[
            format!(
                "POST /checkv2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
                msg.len()
            )
            .as_bytes(),
            msg,
        ]
        .concat(),
    );
    let zipped = ask(
        &compress_to_vec(&msg[..], CompressionLevel::Fastest),
        "zstd",
    );
    let score = |a: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(a.split_once("\r\n\r\n").expect("body").1)
            .expect("json")["score"]
            .clone()
    };
    assert_eq!(score(&zipped), score(&plain), "{zipped}");
    // 8 MB of zeros in a few kilobytes, over the 1 MB limit: refused, not inflated.
    let bomb = compress_to_vec(&vec![0u8; 8 << 20][..], CompressionLevel::Fastest);
    let a = ask(&bomb, "zstd");
    assert!(
        a.starts_with("HTTP/1.0 400") && a.contains("inflates past"),
        "{a}"
    );
    assert!(ask(b"not zstd", "zstd").starts_with("HTTP/1.0 400"));
    assert!(ask(msg, "gzip").starts_with("HTTP/1.0 415"));
}
