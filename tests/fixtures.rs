//! Data-driven verdict tests: every message under `tests/fixtures/<channel>/`
//! has a `NAME.expect.toml` beside it saying whether it is spam, which rules
//! must hit, and which must not. The default (embedded) rules are used.

use serde::Deserialize;
use spamsift::{Channel, Engine, Message};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The verdict; left out where a fixture pins the rules that fire and
    /// not the verdict (one piece of evidence the rest of the message does
    /// not carry over the threshold).
    spam: Option<bool>,
    #[serde(default)]
    hits: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    /// `hits` lists every rule that may fire.
    #[serde(default)]
    only: bool,
}

fn fixtures(channel: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(channel);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".expect.toml"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let expect = p.with_file_name(format!("{stem}.expect.toml"));
            (p, expect)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

fn check_channel(channel: Channel) {
    let engine = Engine::with_defaults().expect("default rules load");
    let mut failures = Vec::new();
    for (msg_path, expect_path) in fixtures(channel.as_str()) {
        let expect: Expect = toml::from_str(
            &std::fs::read_to_string(&expect_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
        let raw = std::fs::read(&msg_path).unwrap();
        let msg = match channel {
            Channel::Email => engine.parse_email(&raw),
            ch => Message::from_json(std::str::from_utf8(&raw).unwrap())
                .inspect(|m| assert_eq!(m.channel, ch))
                .unwrap_or_else(|e| panic!("{}: {e}", msg_path.display())),
        };
        let v = engine.classify(&msg);
        let name = msg_path.file_name().unwrap().to_string_lossy().to_string();
        if expect.spam.is_some_and(|spam| spam != v.is_spam()) {
            failures.push(format!(
                "{name}: spam={} (score {}, tests {}), expected spam={}",
                v.is_spam(),
                v.score,
                v.tests(),
                expect.spam.unwrap_or_default()
            ));
        }
        for id in &expect.hits {
            if !v.hit(id) {
                failures.push(format!("{name}: expected hit {id}, got {}", v.tests()));
            }
        }
        for id in &expect.absent {
            if v.hit(id) {
                failures.push(format!("{name}: {id} must not hit"));
            }
        }
        if expect.only {
            for h in &v.hits {
                if !expect.hits.iter().any(|e| **e == *h.id) {
                    failures.push(format!("{name}: unexpected hit {}", h.id));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn email_fixtures_get_their_verdicts() {
    check_channel(Channel::Email);
}

#[test]
fn sms_fixtures_get_their_verdicts() {
    check_channel(Channel::Sms);
}

#[test]
fn im_fixtures_get_their_verdicts() {
    check_channel(Channel::Im);
}

#[test]
fn matchers_compiled_on_first_use_or_for_one_message_give_the_same_verdicts() {
    // `spamsift check` compiles only the channel it reads; a library user's
    // engine may leave every channel for first use. Verdicts must not change,
    // also when several threads need a channel's matchers at once.
    let eager = Engine::with_defaults().expect("default rules load");
    let lazy = Engine::builder()
        .compile_channels(&[])
        .build()
        .expect("default rules load");
    // Built for one message (`check`): NFA phrase automata, same verdicts.
    let quick = Engine::builder()
        .compile_channels(&[])
        .build_for(spamsift::rules::BuildFor::StartUp)
        .build()
        .expect("default rules load");
    let mut messages = Vec::new();
    for channel in Channel::ALL {
        for (path, _) in fixtures(channel.as_str()) {
            let raw = std::fs::read(&path).unwrap();
            messages.push(match channel {
                Channel::Email => eager.parse_email(&raw),
                _ => Message::from_json(std::str::from_utf8(&raw).unwrap()).unwrap(),
            });
        }
    }
    let summary = |v: &spamsift::Verdict| (v.score, v.action, v.tests());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for m in &messages {
                    let want = summary(&eager.classify(m));
                    assert_eq!(summary(&lazy.classify(m)), want);
                    assert_eq!(summary(&quick.classify(m)), want);
                }
            });
        }
    });
}
