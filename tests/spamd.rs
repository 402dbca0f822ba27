//! The spamd protocol front end with the real client: Debian's `spamc`
//! against `spamsift spamd`, for every method spamc uses, the verdicts
//! compared with `spamsift check`, and 200 concurrent connections. Without
//! `spamc` the test says so and passes, except under CI (`CI=true` or
//! `SPAMSIFT_REQUIRE_SPAMC=1`), where `.ci/run` installs it.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn start() -> (common::Daemon, u16) {
    start_with(&[], &[])
}

/// `spamsift GLOBAL... spamd --listen PORT EXTRA...` on a free port.
fn start_with(global: &[&str], extra: &[&str]) -> (common::Daemon, u16) {
    let port = common::free_port();
    let listen = format!("inet:127.0.0.1:{port}");
    let mut args: Vec<&str> = global.to_vec();
    args.extend(["spamd", "--listen", &listen]);
    args.extend_from_slice(extra);
    (common::daemon(&args, port), port)
}

fn spamc_present() -> bool {
    let have = Path::new("/usr/bin/spamc").exists();
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SPAMSIFT_REQUIRE_SPAMC").is_ok_and(|v| v == "1");
    assert!(
        have || !required,
        "spamc is required here (CI) but not installed: apt-get install spamc"
    );
    if !have {
        eprintln!("spamd test with the real spamc not run: apt-get install spamc (.ci/run does)");
    }
    have
}

fn spamc(port: u16, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("spamc")
        .args(["-d", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn spamc_gets_the_verdicts_check_gives() {
    if !spamc_present() {
        return;
    }
    let (_daemon, port) = start();
    for (name, raw) in common::email_fixtures() {
        let check = common::run(&["check", "--json"], &raw);
        let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let Some(score) = v["score"].as_f64() else {
            continue; // not a message: check passes it through
        };
        // spamc -c: "score/threshold", exit 1 for spam.
        let out = spamc(port, &["-c"], &raw);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), format!("{score:.1}/5.0"), "{name}");
        let spam = v["action"] != "ham";
        assert_eq!(out.status.code(), Some(i32::from(spam)), "{name}: {text}");
        // spamc -y: the rules that hit, as check lists them.
        let out = spamc(port, &["-y"], &raw);
        let mut ids: Vec<String> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ids.join(","),
            "{name}"
        );
        // spamc (PROCESS): the same bytes check writes.
        let out = spamc(port, &[], &raw);
        let mine = common::run(&["check"], &raw);
        assert_eq!(
            out.stdout, mine.stdout,
            "{name}: PROCESS differs from check"
        );
    }
}

#[test]
fn spamc_report_exit_codes_ping_and_learning() {
    if !spamc_present() {
        return;
    }
    let (_daemon, port) = start();
    let spam =
        std::fs::read(common::root().join("tests/fixtures/email/spam-phish-html.eml")).unwrap();
    let out = spamc(port, &["-R"], &spam);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Content analysis details:") && text.contains("URI_BARE_IP"),
        "{text}"
    );
    let out = spamc(port, &["-E"], &spam);
    assert_eq!(out.status.code(), Some(1), "-E: spam exits 1");
    let out = spamc(port, &["-K"], b"");
    assert!(out.status.success(), "{out:?}");
    // Without --allow-tell, TELL is refused (spamc itself reports any
    // TELL answer without DidSet as "already learned", so the protocol
    // answer is checked).
    let tell = [
        format!(
            "TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\nContent-length: {}\r\n\r\n",
            spam.len()
        )
        .into_bytes(),
        spam.clone(),
    ]
    .concat();
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(&tell).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("SPAMD/1.0 69 TELL commands have not been enabled"),
        "{answer}"
    );
}

#[test]
fn spamc_learns_into_the_model_with_allow_tell() {
    if !spamc_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.bin");
    let m = model.to_str().unwrap();
    let trained = common::spamsift(&[
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
    let counts = || {
        let info = common::spamsift(&["model", "info", m]);
        String::from_utf8_lossy(&info.stdout).into_owned()
    };
    assert!(counts().contains("spam learned: 15"), "{}", counts());
    let (_daemon, port) = start_with(&["--model", m], &["--allow-tell"]);
    let spam =
        std::fs::read(common::root().join("tests/fixtures/email/spam-phish-html.eml")).unwrap();
    let out = spamc(port, &["-L", "spam"], &spam);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Message successfully un/learned"),
        "{out:?}"
    );
    assert!(counts().contains("spam learned: 16"), "{}", counts());
    // Twice: the books say it is known, nothing changes.
    let out = spamc(port, &["-L", "spam"], &spam);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already"),
        "{out:?}"
    );
    assert!(counts().contains("spam learned: 16"), "{}", counts());
}

#[test]
fn two_hundred_concurrent_connections_all_answered() {
    let (_daemon, port) = start();
    let raw =
        std::fs::read(common::root().join("tests/fixtures/email/spam-phish-html.eml")).unwrap();
    // The score check gives the same message.
    let check = common::run(&["check", "--json"], &raw);
    let request = [
        format!("CHECK SPAMC/1.5\r\nContent-length: {}\r\n\r\n", raw.len()).into_bytes(),
        raw,
    ]
    .concat();
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let want = format!(
        "SPAMD/1.1 0 EX_OK\r\nSpam: True ; {:.1} / 5.0",
        v["score"].as_f64().unwrap()
    );
    let workers: Vec<_> = (0..200)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                c.write_all(&request).unwrap();
                let mut answer = String::new();
                c.read_to_string(&mut answer).unwrap();
                answer
            })
        })
        .collect();
    for w in workers {
        let answer = w.join().unwrap();
        assert!(answer.starts_with(&want), "{answer}");
    }
}
