//! Per-recipient rules (X.1242) decide before content, and the `stream`
//! gateway pipe answers line by line.

mod common;

use spamsift::policy::{Policy, PolicyAction, PolicyStore, QuietHours, SenderRule};
use spamsift::{Action, Engine, Message};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

const RECIPIENT: &str = "+447700900456";

fn sms(from: &str, text: &str, time: &str) -> Message {
    Message::from_json(&serde_json::json!({"channel": "sms", "from": from, "to": RECIPIENT, "text": text, "time": time}).to_string()).unwrap()
}

fn store_with(policy: Policy) -> Arc<PolicyStore> {
    let store = Arc::new(PolicyStore::new());
    store.put(RECIPIENT, Some(policy)).unwrap();
    store
}

const SPAMMY: &str =
    "URGENT! You have WON a £2000 prize. Call 09061701461 from a landline to claim. 150ppm";

#[test]
fn allow_list_wins_over_content() {
    let policy = Policy {
        allow: vec![SenderRule {
            sender: "+447700900123".into(),
            action: PolicyAction::Deliver,
        }],
        ..Policy::default()
    };
    let engine = Engine::builder()
        .policies(store_with(policy))
        .build()
        .unwrap();
    let v = engine.classify(&sms("+447700900123", SPAMMY, "2024-05-01T12:00:00Z"));
    assert_eq!(v.action, Action::Ham);
    assert_eq!(v.tests(), "POLICY_ALLOW");
    assert!(v.hits[0].description.contains("allow list"));
    // another sender with the same text is judged on content
    assert!(
        engine
            .classify(&sms("+447700900999", SPAMMY, "2024-05-01T12:00:00Z"))
            .is_spam()
    );
}

#[test]
fn block_prefix_keyword_and_quiet_hours() {
    let policy = Policy {
        allow: vec![SenderRule {
            sender: "+447700900123".into(),
            action: PolicyAction::Deliver,
        }],
        block: vec![SenderRule {
            sender: "+44906*".into(),
            action: PolicyAction::Discard,
        }],
        keyword: vec![spamsift::policy::KeywordRule {
            phrases: vec!["casino".into()],
            action: PolicyAction::Spambox,
        }],
        quiet_hours: vec![QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            timezone: Some("Europe/London".into()),
            action: PolicyAction::Spambox,
        }],
    };
    let engine = Engine::builder()
        .policies(store_with(policy))
        .build()
        .unwrap();
    let noon = "2024-07-01T11:00:00Z";
    let v = engine.classify(&sms("+449061234567", "hi", noon));
    assert_eq!(
        (v.action, v.tests().as_str()),
        (Action::Reject, "POLICY_BLOCK")
    );
    let v = engine.classify(&sms("+447700900777", "new CASINO bonus", noon));
    assert_eq!(
        (v.action, v.tests().as_str()),
        (Action::Quarantine, "POLICY_KEYWORD")
    );
    // 23:30 BST = 22:30 UTC: held; the allowed sender still gets through
    let late = "2024-07-01T22:30:00Z";
    let v = engine.classify(&sms("+447700900777", "are you awake?", late));
    assert_eq!(
        (v.action, v.tests().as_str()),
        (Action::Quarantine, "POLICY_QUIET_HOURS")
    );
    assert_eq!(
        engine
            .classify(&sms("+447700900123", "are you awake?", late))
            .action,
        Action::Ham
    );
    // the same hour given with an offset: 07:30+08:00 is 23:30 UTC, 00:30 BST
    let v = engine.classify(&sms(
        "+447700900777",
        "morning",
        "2024-07-02T07:30:00+08:00",
    ));
    assert_eq!(v.tests(), "POLICY_QUIET_HOURS");
    // outside the window and without rules matching: content rules decide
    let v = engine.classify(&sms("+447700900777", "see you at lunch", noon));
    assert_eq!(v.action, Action::Ham);
    assert!(!v.tests().contains("POLICY"));
}

#[test]
fn policies_change_while_the_engine_runs() {
    let store = Arc::new(PolicyStore::new());
    let engine = Engine::builder()
        .policies(Arc::clone(&store))
        .build()
        .unwrap();
    let m = sms("+447700900555", "hello", "2024-05-01T12:00:00Z");
    assert!(!engine.classify(&m).tests().contains("POLICY"));
    store
        .put(
            RECIPIENT,
            Some(Policy {
                block: vec![SenderRule {
                    sender: "+447700900555".into(),
                    action: PolicyAction::Spambox,
                }],
                ..Policy::default()
            }),
        )
        .unwrap();
    assert_eq!(engine.classify(&m).tests(), "POLICY_BLOCK");
    store.put(RECIPIENT, None).unwrap();
    assert!(!engine.classify(&m).tests().contains("POLICY"));
}

#[test]
fn policy_files_load_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("+447700900456.toml"),
        "[[block]]\nsender = \"+44906*\"\naction = \"discard\"\n",
    )
    .unwrap();
    let store = PolicyStore::load_dir(dir.path()).unwrap();
    assert!(store.get(RECIPIENT).is_some());
    // updates are written back
    store.put("@alice", Some(Policy::default())).unwrap();
    assert!(dir.path().join("alice.toml").exists());
    assert!(store.put("../evil", Some(Policy::default())).is_err());
    std::fs::write(
        dir.path().join("bob.toml"),
        "[[quiet_hours]]\nstart = \"25:00\"\nend = \"07:00\"\n",
    )
    .unwrap();
    let e = PolicyStore::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("bob.toml") && e.contains("invalid time"), "{e}");
    std::fs::write(dir.path().join("bob.toml"), "[[blok]]\n").unwrap();
    let e = PolicyStore::load_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("bob.toml: line 1"), "{e}");
}

#[test]
fn stream_answers_every_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("+447700900456.toml"),
        "[[allow]]\nsender = \"+447700900123\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args([
            "--policies",
            dir.path().to_str().unwrap(),
            "stream",
            "--jobs",
            "2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for i in 0..300 {
        let text = if i % 2 == 0 { SPAMMY } else { "see you at 8" };
        input +=
            &serde_json::json!({"id": i, "from": "+447700900999", "to": RECIPIENT, "text": text})
                .to_string();
        input.push('\n');
    }
    input += "not json\n\n";
    input += &format!(
        "{}\n",
        serde_json::json!({"id": "allowed", "from": "+447700900123", "to": RECIPIENT, "text": SPAMMY})
    );
    input += "{\"channel\":\"im\",\"from\":\"@x\",\"text\":\"check out my channel and subscribe!! http://x.example\"}\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = common::json_lines(&out.stdout);
    assert_eq!(lines.len(), 303, "one answer per non-empty line");
    for (i, v) in lines.iter().take(300).enumerate() {
        assert_eq!(v["id"], i);
        assert_eq!(v["line"], i + 1);
        assert_eq!(v["action"] != "ham", i % 2 == 0, "{v}");
    }
    assert!(
        lines[300]["error"]
            .as_str()
            .unwrap()
            .contains("invalid message JSON")
    );
    assert_eq!(lines[301]["id"], "allowed");
    assert_eq!(lines[301]["hits"][0]["id"], "POLICY_ALLOW");
    assert_eq!(lines[301]["hits"].as_array().map(Vec::len), Some(1));
    assert_eq!(lines[302]["channel"], "im");
    // The IM matchers, not built at start for an SMS stream, are built
    // when the first IM line comes.
    assert!(
        lines[302]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "IM_SUBSCRIBE_BEG"),
        "{}",
        lines[302]
    );
}

#[test]
fn check_applies_the_envelope_recipients_policy() {
    // A Bcc copy: the policy owner is not in To or Cc, only in the envelope
    // (Postfix pipe passes it as `--recipient ${recipient}`).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bob@example.org.toml"),
        "[[block]]\nsender = \"news@shop.example\"\naction = \"discard\"\n",
    )
    .unwrap();
    let mail = b"From: Shop <news@shop.example>\r\nTo: list@example.net\r\n\
Subject: weekly news\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <1@shop.example>\r\n\r\nHello list.\r\n";
    let check = |extra: &[&str]| {
        let mut args = vec![
            "--policies",
            dir.path().to_str().unwrap(),
            "check",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = common::run(&args, mail);
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let v = check(&["--recipient", "<Bob@Example.org>"]);
    assert_eq!(v["action"], "reject", "{v}");
    assert!(v["hits"].to_string().contains("POLICY_BLOCK"), "{v}");
    // Without the envelope recipient only To/Cc count: no policy applies.
    let v = check(&[]);
    assert_ne!(v["action"], "reject", "{v}");
    assert!(!v["hits"].to_string().contains("POLICY_"), "{v}");
}
