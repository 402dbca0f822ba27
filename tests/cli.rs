//! The `spamsift check` filter as a mail system runs it: bytes in, bytes out,
//! exit codes.

mod common;

use common::run;
use std::path::Path;

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel),
    )
    .unwrap()
}

/// Split the output into the result headers spamsift added and the rest.
fn split_added(out: &[u8]) -> (String, Vec<u8>) {
    let text = String::from_utf8_lossy(out);
    let mut added = String::new();
    let mut rest_at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("X-Spam-") || (line.starts_with('\t') && !added.is_empty()) {
            added.push_str(line);
            rest_at += line.len();
        } else {
            break;
        }
    }
    (added, out[rest_at..].to_vec())
}

#[test]
fn ham_keeps_every_byte_and_gets_status_no() {
    let input = fixture("email/ham-list-reply.eml");
    let out = run(&["check"], &input);
    assert_eq!(out.status.code(), Some(0));
    let (added, rest) = split_added(&out.stdout);
    assert!(added.contains("X-Spam-Status: No, score="), "{added}");
    assert!(added.contains("X-Spam-Score: "));
    assert!(!added.contains("X-Spam-Flag"));
    assert_eq!(rest, input, "message body and headers must be unchanged");
}

#[test]
fn spam_is_flagged_and_smuggled_headers_are_replaced() {
    let input = fixture("email/spam-pharmacy-tagged.eml");
    let out = run(&["check"], &input);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.starts_with("X-Spam-Checker-Version: spamsift "),
        "{text}"
    );
    assert!(
        text.contains("\nX-Spam-Flag: YES\nX-Spam-Level: ****"),
        "{text}"
    );
    assert_eq!(text.matches("X-Spam-Flag:").count(), 1);
    assert_eq!(text.matches("X-Spam-Status:").count(), 1);
    assert!(
        !text.contains("score=-100"),
        "the message's own verdict must be gone"
    );
    assert!(text.contains("tests=") && text.contains("BODY_PHARMACY"));
    // Everything except the removed X-Spam-* lines is unchanged.
    let (_, rest) = split_added(&out.stdout);
    let expected: Vec<u8> = String::from_utf8(input)
        .unwrap()
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("X-Spam-"))
        .collect::<String>()
        .into_bytes();
    assert_eq!(rest, expected);
}

#[test]
fn exit_codes_like_spamc() {
    let spam = run(
        &["check", "--exit-code"],
        &fixture("email/spam-advance-fee.eml"),
    );
    assert_eq!(spam.status.code(), Some(1));
    let ham = run(
        &["check", "--exit-code"],
        &fixture("email/ham-newsletter.eml"),
    );
    assert_eq!(ham.status.code(), Some(0));
    let plain = run(&["check"], &fixture("email/spam-advance-fee.eml"));
    assert_eq!(
        plain.status.code(),
        Some(0),
        "filter mode exits 0 without --exit-code"
    );
}

#[test]
fn garbage_passes_through_unchanged() {
    let input = b"garbage\0\xff";
    let out = run(&["check"], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input);
    assert!(String::from_utf8_lossy(&out.stderr).contains("passed through unchanged"));
    let coded = run(&["check", "--exit-code"], input);
    assert_eq!(coded.status.code(), Some(3));
    assert_eq!(coded.stdout, input);
}

#[test]
fn empty_input_passes_through() {
    let out = run(&["check"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn oversized_message_passes_through_unchanged() {
    let input = fixture("email/spam-advance-fee.eml");
    let out = run(&["check", "--max-size", "100"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-size"));
    let coded = run(&["check", "--max-size", "100", "--exit-code"], &input);
    assert_eq!(coded.status.code(), Some(3));
}

#[test]
fn json_verdict() {
    let out = run(&["check", "--json"], &fixture("email/spam-phish-html.eml"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["channel"], "email");
    assert!(v["action"] != "ham");
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "LINK_TEXT_MISMATCH")
    );
    assert!(v["hits"][0]["description"].is_string());
}

#[test]
fn sms_and_im_read_json() {
    let out = run(
        &["check", "--channel", "sms", "--exit-code"],
        &fixture("sms/spam-premium-prize.json"),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["channel"], "sms");
    let out = run(
        &["check", "--channel", "im"],
        &fixture("im/ham-comment.json"),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "ham");
}

#[test]
fn invalid_json_is_a_clear_error_and_passes_through() {
    let input = br#"{"channel":"sms","text":"hi""#;
    let out = run(&["check", "--channel", "sms", "--exit-code"], input);
    assert_eq!(out.status.code(), Some(3));
    // A verdict-shaped answer that says the message was not classified.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "pass");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("invalid message JSON"),
        "{v}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid message JSON"));
    let wrong = run(
        &["check", "--channel", "sms"],
        br#"{"channel":"im","text":"hi"}"#,
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("expected a sms message"));
}

#[test]
fn broken_rules_fail_open_and_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[rule]]\nid = \"GOOD\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"x\"]\n\n[[rule]]\nid = \"BAD_RE\"\nscore = 1.0\nfield = \"body\"\nregex = \"(unclosed\"\n",
    )
    .unwrap();
    let input = fixture("email/ham-newsletter.eml");
    let rules = dir.path().to_str().unwrap();
    let out = run(&["--rules", rules, "check"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:7: rule BAD_RE: invalid regex"),
        "{err}"
    );
}

#[test]
fn rules_command_lists_default_rules() {
    let out = run(&["rules"], b"");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BODY_ADVANCE_FEE") && text.contains("SMS_PREMIUM_RATE_NUMBER"));
}

/// `rules --brands` lists the brand table, a local rule file's additions
/// included.
#[test]
fn rules_command_lists_brands_with_local_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nbrand = \"Acme Savings Bank\"\ndisplay_names = [\"Acme Savings\"]\ndomains = [\"acmesavings\"]\n",
    )
    .unwrap();
    let local = dir.path().to_str().unwrap();
    let out = run(&["--local-rules", local, "rules", "--brands"], b"");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("PayPal") && text.contains("names: paypal"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("Acme Savings Bank") && l.contains("names: acme savings")),
        "{text}"
    );
}

/// Lines of a channel the stream did not start with build that channel's
/// matchers when the first of them comes, on a worker, while the other
/// workers classify the batch (and may meet the same channel; such a build
/// does not spread over the workers, which could make one wait on itself):
/// every line is answered, in order, within a minute, and the IM lines get
/// the verdict a stream of IM alone gives them.
#[test]
fn stream_builds_a_channel_met_mid_batch_without_stalling() {
    let im = |i: usize| {
        serde_json::json!({"channel": "im", "from": "@x", "text": format!("check out my channel and subscribe!! http://x{i}.example")})
            .to_string()
    };
    let mut input = String::new();
    let mut im_only = String::new();
    for i in 0..2000 {
        if i % 10 == 3 {
            input += &im(i);
            im_only += &im(i);
            im_only.push('\n');
        } else {
            input += &serde_json::json!({"channel": "sms", "text": format!("see you at {i}")})
                .to_string();
        }
        input.push('\n');
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let data = input.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run(
            &["stream", "--jobs", "2", "--channel", "sms"],
            data.as_bytes(),
        ));
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("stream answered within a minute");
    assert!(out.status.success());
    let answers = common::json_lines(&out.stdout);
    assert_eq!(answers.len(), 2000);
    let alone = run(&["stream", "--channel", "im"], im_only.as_bytes());
    let alone = common::json_lines(&alone.stdout);
    let mixed_im: Vec<&serde_json::Value> = answers
        .iter()
        .enumerate()
        .inspect(|(i, v)| assert_eq!(v["line"], i + 1))
        .filter(|(i, _)| i % 10 == 3)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(mixed_im.len(), alone.len());
    for (m, a) in mixed_im.iter().zip(&alone) {
        assert_eq!(m["channel"], "im");
        assert_eq!((&m["score"], &m["hits"]), (&a["score"], &a["hits"]));
    }
}
