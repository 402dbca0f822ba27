//! Training, learning and using a Bayes model through the CLI and the library.

mod common;

use common::{root, run};
use spamsift::bayes::{MemoryStore, TokenStore};
use std::path::PathBuf;

/// A config letting the classifier speak after a handful of messages.
fn small_config(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("spamsift.toml");
    std::fs::write(&p, "[bayes]\nmin_spam = 5\nmin_ham = 5\n").unwrap();
    p
}

/// `spamsift --config CFG train CORPUS... --out MODEL`, which must succeed;
/// its stderr.
fn train(cfg: &str, corpus: &[&str], model: &str) -> String {
    let mut args = vec!["--config", cfg, "train"];
    args.extend_from_slice(corpus);
    args.extend_from_slice(&["--out", model]);
    let out = run(&args, b"");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

const SPAM_SMS: &str = r#"{"channel":"sms","from":"+447700900999","text":"Claim your free prize voucher now, reply WIN"}"#;
const HAM_SMS: &str = r#"{"channel":"sms","from":"+447700900123","text":"see you at the pub at 8, bring the slides"}"#;

#[test]
fn train_then_check_reports_probability_and_band() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let model = dir.path().join("sms.model");
    let (cfg, model_s) = (cfg.to_str().unwrap(), model.to_str().unwrap());
    let stderr = train(
        cfg,
        &["--labelled", "corpora/sms.tsv", "--channel", "sms"],
        model_s,
    );
    assert!(stderr.contains("trained 15 spam + 20 ham"));
    let store = MemoryStore::load(&model).unwrap();
    assert_eq!((store.learned().spam, store.learned().ham), (15, 20));

    let check = |text: &str| -> serde_json::Value {
        let out = run(
            &[
                "--config",
                cfg,
                "--model",
                model_s,
                "check",
                "--channel",
                "sms",
            ],
            text.as_bytes(),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let spam = check(SPAM_SMS);
    let ham = check(HAM_SMS);
    let (ps, ph) = (
        spam["bayes"].as_f64().unwrap(),
        ham["bayes"].as_f64().unwrap(),
    );
    assert!(ps > 0.9 && ph < 0.1, "spam {ps}, ham {ph}");
    let ids = |v: &serde_json::Value| {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        ids(&spam).iter().any(|i| i == "BAYES_SPAM"),
        "{:?}",
        ids(&spam)
    );
    assert!(
        ids(&ham).iter().any(|i| i == "BAYES_HAM"),
        "{:?}",
        ids(&ham)
    );
    let bayes_score = |v: &serde_json::Value| {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"].as_str().unwrap().starts_with("BAYES"))
            .unwrap()["score"]
            .as_f64()
            .unwrap()
    };
    assert!(
        bayes_score(&spam) > 1.0 && bayes_score(&ham) < -1.0,
        "graded by the model's confidence"
    );
}

#[test]
fn classifier_is_silent_until_min_learns() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    let out = run(
        &[
            "train",
            "--labelled",
            "corpora/sms.tsv",
            "--channel",
            "sms",
            "--out",
            model.to_str().unwrap(),
            "--allow-small",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // default min_spam/min_ham = 200: 35 messages are not enough
    let out = run(
        &[
            "--model",
            model.to_str().unwrap(),
            "check",
            "--channel",
            "sms",
        ],
        SPAM_SMS.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("bayes").is_none(), "{v}");
}

#[test]
fn learn_and_unlearn_update_the_model_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("feedback.model");
    let m = model.to_str().unwrap();
    let out = run(
        &[
            "--model",
            m,
            "learn",
            "--spam",
            "--channel",
            "sms",
            "--create",
        ],
        SPAM_SMS.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["--model", m, "learn", "--ham"],
        std::fs::read(root().join("tests/fixtures/email/ham-newsletter.eml"))
            .unwrap()
            .as_slice(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = MemoryStore::load(&model).unwrap();
    assert_eq!((s.learned().spam, s.learned().ham), (1, 1));
    let features = s.len();
    let out = run(
        &[
            "--model",
            m,
            "learn",
            "--spam",
            "--unlearn",
            "--channel",
            "sms",
        ],
        SPAM_SMS.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = MemoryStore::load(&model).unwrap();
    assert_eq!(s.learned().spam, 0);
    assert!(s.len() < features);
    // no temporary files left beside the model, only its lock file
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["feedback.model", "feedback.model.lock"]);
    // learn without a model is a clear error
    let out = run(&["learn", "--spam"], b"Subject: x\n\ny\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a model file"));
}

#[test]
fn concurrent_learns_all_count() {
    // Feedback arrives from many mail clients at once: each `learn` reads,
    // changes and rewrites the model under its update lock, so none is lost.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("shared.model");
    let m = model.to_str().unwrap().to_string();
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let m = m.clone();
            std::thread::spawn(move || {
                for i in 0..4 {
                    // Distinct messages: one learned twice counts once.
                    let (label, text) = if (w + i) % 2 == 0 {
                        ("--spam", SPAM_SMS.replace("WIN", &format!("WIN {w} {i}")))
                    } else {
                        (
                            "--ham",
                            HAM_SMS.replace("slides", &format!("slides {w} {i}")),
                        )
                    };
                    let out = run(
                        &[
                            "--model",
                            &m,
                            "learn",
                            label,
                            "--channel",
                            "sms",
                            "--create",
                        ],
                        text.as_bytes(),
                    );
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let s = MemoryStore::load(&model).unwrap();
    assert_eq!((s.learned().spam, s.learned().ham), (12, 12));
}

#[test]
fn corrupt_model_is_a_clear_error_and_check_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.model");
    std::fs::write(&bad, b"SSBAYES\0 but then garbage").unwrap();
    let input = std::fs::read(root().join("tests/fixtures/email/ham-newsletter.eml")).unwrap();
    let out = run(&["--model", bad.to_str().unwrap(), "check"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, input, "fails open: message unchanged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.model") && err.contains("not a spamsift model"),
        "{err}"
    );
    let out = run(
        &[
            "--model",
            bad.to_str().unwrap(),
            "eval",
            "--manifest",
            "corpora/suite.toml",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    // Feedback into a corrupt model is refused and leaves the file as it was.
    let out = run(
        &[
            "--model",
            bad.to_str().unwrap(),
            "learn",
            "--spam",
            "--channel",
            "sms",
        ],
        SPAM_SMS.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.model"));
    assert_eq!(std::fs::read(&bad).unwrap(), b"SSBAYES\0 but then garbage");
}

#[test]
fn engine_runs_without_a_model() {
    let engine = spamsift::Engine::with_defaults().unwrap();
    assert!(engine.bayes().is_none());
    let v = engine.classify(&spamsift::Message::from_json(SPAM_SMS).unwrap());
    assert!(v.bayes.is_none());
    assert!(v.hits.iter().all(|h| !h.id.starts_with("BAYES")));
}

#[test]
fn learning_keeps_books_like_sa_learn() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.bin");
    let m = model.to_str().unwrap();
    let learn = |args: &[&str], input: &str| {
        let mut all = vec!["--model", m, "learn"];
        all.extend_from_slice(args);
        run(&all, input.as_bytes())
    };
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    // No model yet: learn asks for --create rather than starting one silently.
    let out = learn(&["--spam"], SPAM_SMS);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--create"));
    assert!(!model.exists());
    // SMS JSON without --channel is read as SMS.
    let out = learn(&["--spam", "--create"], SPAM_SMS);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("learned as spam"));
    let counts = || {
        let s = MemoryStore::load(&model).unwrap();
        (s.learned().spam, s.learned().ham, s.learned_messages())
    };
    assert_eq!(counts(), (1, 0, 1));
    // Twice as the same class: nothing changes.
    let out = learn(&["--spam"], SPAM_SMS);
    assert!(out.status.success());
    assert!(stderr(&out).contains("already learned"), "{}", stderr(&out));
    assert_eq!(counts(), (1, 0, 1));
    // As the other class: moved.
    let out = learn(&["--ham"], SPAM_SMS);
    assert!(stderr(&out).contains("moved to ham"), "{}", stderr(&out));
    assert_eq!(counts(), (0, 1, 1));
    // Unlearning what was never learned (or not as that class) is refused.
    let out = learn(&["--ham", "--unlearn"], HAM_SMS);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("never learned"), "{}", stderr(&out));
    let out = learn(&["--spam", "--unlearn"], SPAM_SMS);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("learned as ham"), "{}", stderr(&out));
    assert_eq!(counts(), (0, 1, 1));
    let out = learn(&["--ham", "--unlearn"], SPAM_SMS);
    assert!(out.status.success());
    assert_eq!(counts(), (0, 0, 0));
    // model info reads without changing anything.
    let before = std::fs::read(&model).unwrap();
    let out = run(&["model", "info", m], b"");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("spam learned: 0"), "{text}");
    assert!(text.contains("messages in the books: 0"), "{text}");
    assert_eq!(std::fs::read(&model).unwrap(), before);
}

#[test]
fn check_reads_json_objects_as_short_messages_without_channel() {
    let out = run(&["check"], SPAM_SMS.as_bytes());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["channel"], "sms");
}

/// A process per message (`check`, which reads the model file in place)
/// and a bulk scan (which reads a clue table built from it) give every
/// fixture the same score and Bayes hit, including how much of the
/// message the model knows (which holds back the opinion of a model on
/// mail unlike what it learned).
#[test]
fn check_and_scan_agree_with_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let model = dir.path().join("email.model");
    let (cfg, model_s) = (cfg.to_str().unwrap(), model.to_str().unwrap());
    train(
        cfg,
        &[
            "--spam",
            "corpora/email-spam.mbox",
            "--ham",
            "corpora/email-ham.mbox",
        ],
        model_s,
    );
    let fixtures = root().join("tests/fixtures/email");
    let out = run(
        &[
            "--config",
            cfg,
            "--model",
            model_s,
            "scan",
            "--jobs",
            "1",
            fixtures.to_str().unwrap(),
        ],
        b"",
    );
    let mut compared = 0;
    let mut held_back = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let bulk: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(origin) = bulk["origin"].as_str() else {
            continue;
        };
        if bulk["bayes"].is_null() {
            continue;
        }
        let raw = std::fs::read(origin).unwrap();
        let out = run(
            &["--config", cfg, "--model", model_s, "check", "--json"],
            &raw,
        );
        let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(one["score"], bulk["score"], "{origin}");
        assert_eq!(one["hits"], bulk["hits"], "{origin}");
        let bayes = bulk["hits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"].as_str().unwrap().starts_with("BAYES"))
            .expect("a Bayes hit");
        let description = bayes["description"].as_str().unwrap();
        let known: f64 = description
            .split([',', ';'])
            .find_map(|p| p.trim().strip_suffix("% of features known"))
            .unwrap_or_else(|| panic!("{description}"))
            .parse()
            .unwrap();
        held_back += usize::from(known < 80.0);
        compared += 1;
    }
    assert!(compared > 50, "{compared} fixtures compared");
    // A model of 24 messages knows little of most fixtures.
    assert!(held_back > compared / 2, "{held_back} of {compared}");
}
