//! Nothing passes silently: output failures, broken models and forged
//! verdicts, as a mail system running spamsift would meet them.

mod common;

use common::{run, spamsift};
use std::io::Write;
use std::process::{Command, Stdio};

const HAM: &[u8] = b"From: ann@example.org\nTo: bob@example.org\nSubject: lunch\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <1@example.org>\n\nSee you at noon.\n";

/// `spamsift ARGS` with `input` on stdin and stdout to /dev/full.
fn to_full_device(args: &[&str], input: &[u8]) -> std::process::Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(args)
        .current_dir(common::root())
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spamsift");
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait")
}

#[test]
fn output_to_a_full_device_exits_74_in_every_mode() {
    for args in [
        &["check"][..],
        &["check", "--exit-code"],
        &["check", "--json"],
        &["check", "--max-size", "10"],
    ] {
        let out = to_full_device(args, HAM);
        assert_eq!(out.status.code(), Some(74), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot write output"),
            "{args:?}"
        );
    }
    let out = to_full_device(&["rules"], b"");
    assert_eq!(out.status.code(), Some(74));
    let out = to_full_device(&["rules", "--evals"], b"");
    assert_eq!(out.status.code(), Some(74));
}

#[test]
fn a_reader_that_closes_the_pipe_gets_74_and_no_panic() {
    // A message far larger than a pipe buffer, and a reader that reads nothing.
    let big = [HAM, "word ".repeat(400_000).as_bytes()].concat();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .arg("check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // the reader goes away
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&big);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");

    // `spamsift rules | head -1`: quiet, no panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .arg("rules")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101));
}

#[test]
fn a_missing_or_corrupt_model_is_named_and_never_silent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let corrupt = dir.path().join("corrupt.bin");
    std::fs::write(&corrupt, b"not a model at all").expect("write");
    let missing = dir.path().join("missing.bin");
    for model in [&corrupt, &missing] {
        let m = model.to_str().expect("UTF-8 path");
        // check passes the message through, exit 3 with --exit-code, naming the file.
        let out = run(&["--model", m, "check", "--exit-code"], HAM);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(out.stdout, HAM);
        assert!(String::from_utf8_lossy(&out.stderr).contains(m));
        let plain = run(&["--model", m, "check"], HAM);
        assert_eq!(plain.status.code(), Some(0));
        // --json answers JSON, never the raw mail.
        let json = run(&["--model", m, "check", "--json"], HAM);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
        assert_eq!(v["action"], "pass");
        assert!(v["error"].as_str().expect("error").contains(m), "{v}");
        // Long-running front ends and batch commands refuse to start.
        for args in [
            &["milter", "--check-config"][..],
            &["serve", "--check-config"],
            &["scan", "tests/fixtures/email"],
            &["eval", "--manifest", "corpora/suite.toml"],
        ] {
            let mut all = vec!["--model", m];
            all.extend_from_slice(args);
            let out = spamsift(&all);
            assert_eq!(out.status.code(), Some(2), "{all:?}: {out:?}");
            assert!(String::from_utf8_lossy(&out.stderr).contains(m), "{all:?}");
        }
        let out = run(&["--model", m, "stream", "--channel", "sms"], b"");
        assert_eq!(out.status.code(), Some(2));
    }
}

#[test]
fn check_config_says_when_bayes_is_inactive() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("small.bin");
    let m = model.to_str().expect("UTF-8 path");
    let trained = spamsift(&[
        "train",
        "--labelled",
        "corpora/sms.tsv",
        "--channel",
        "sms",
        "--out",
        m,
        "--allow-small",
    ]);
    assert!(trained.status.success(), "{trained:?}");
    for cmd in ["milter", "serve"] {
        let out = spamsift(&["--model", m, cmd, "--check-config"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Bayes INACTIVE"), "{stdout}");
        assert!(stdout.contains("rules ("), "{stdout}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    }
    let out = spamsift(&["milter", "--check-config"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no model (Bayes off)"));
}

#[test]
fn no_forged_verdict_survives_a_pass_through() {
    let forged = "X-Spam-Flag: NO\nX-Spam-Status: No, score=-100.0\n\tfolded=yes\n";
    // A NUL byte in a header: not a message spamsift can rewrite.
    let nul = format!("Subject: buy\0now\n{forged}From: a@b.example\n\nbody\n");
    let out = run(&["check", "--exit-code"], nul.as_bytes());
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        out.stdout,
        b"Subject: buy\0now\nFrom: a@b.example\n\nbody\n".to_vec()
    );
    // Over --max-size: passed through, still without the forged fields,
    // and the part beyond the limit streamed as it came.
    let big = format!("{forged}Subject: s\n\n{}", "x".repeat(5000));
    let out = run(&["check", "--max-size", "1000"], big.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Subject: s\n\n{}", "x".repeat(5000))
    );
    // Over the time budget with over_budget = "pass".
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[limits]\nbudget = 0.000001\nover_budget = \"pass\"\n",
    )
    .expect("write");
    let msg = format!("{forged}Subject: s\n\n{}", "free money ".repeat(20000));
    let out = run(
        &[
            "--config",
            cfg.to_str().expect("path"),
            "check",
            "--exit-code",
        ],
        msg.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("X-Spam"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time budget"));
}

#[test]
fn over_budget_verdicts_say_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[limits]\nbudget = 0.000001\n").expect("write");
    let msg = format!("Subject: s\n\n{}", "free money ".repeat(20000));
    let out = run(
        &["--config", cfg.to_str().expect("path"), "check", "--json"],
        msg.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        v["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|h| h["id"] == "TIME_BUDGET"),
        "{v}"
    );
}
