//! Email: mail-parser alone (`parse_only`), building the normalised Message
//! (`parse_to_message`), rule matching on parsed messages (`classify_parsed`)
//! and the whole filter (`parse_and_classify`); SMS and IM: classification of
//! parsed messages. Over the fixtures in `tests/fixtures` and the project
//! corpora in `corpora/`.
//!
//! `cargo bench --bench classify`. `SPAMSIFT_BENCH_SMS=FILE` benchmarks SMS
//! on a labelled TSV file (the SMS Spam Collection) instead of
//! `corpora/sms.tsv`. Set `SPAMSIFT_BENCH_CORPUS=DIR[:DIR...]`
//! (folders of one-message-per-file emails, e.g. the five folders of
//! ../shared/corpora/spamassassin) to also measure a real corpus.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spamsift::{Channel, Engine, Message};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn read_dir_files(dir: &Path, ext: Option<&str>) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.is_file() && ext.is_none_or(|x| p.extension().is_some_and(|e| e == x)));
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn fixtures(channel: &str, ext: &str) -> Vec<Vec<u8>> {
    read_dir_files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(channel),
        Some(ext),
    )
}

/// Default rules plus a recipient policy and behaviour analysis.
fn gateway_engine() -> Engine {
    use spamsift::policy::{KeywordRule, Policy, PolicyAction, PolicyStore, SenderRule};
    let store = std::sync::Arc::new(PolicyStore::new());
    let policy = Policy {
        block: vec![SenderRule {
            sender: "+44906*".into(),
            action: PolicyAction::Discard,
        }],
        keyword: vec![KeywordRule {
            phrases: vec!["zorblax".into()],
            action: PolicyAction::Spambox,
        }],
        ..Policy::default()
    };
    store.put("+447700900456", Some(policy)).expect("policy");
    let config = spamsift::Config {
        behaviour: spamsift::behaviour::BehaviourConfig {
            enabled: true,
            ..Default::default()
        },
        ..spamsift::Config::default()
    };
    Engine::builder()
        .config(config)
        .policies(store)
        .build()
        .expect("engine")
}

/// The default engine plus the Bayes model named by `SPAMSIFT_BENCH_MODEL`.
fn model_engine() -> Option<Engine> {
    let path = std::env::var("SPAMSIFT_BENCH_MODEL").ok()?;
    Some(
        Engine::builder()
            .model_file(path)
            .build()
            .expect("bench model loads"),
    )
}

fn bench_email(c: &mut Criterion, name: &str, mails: &[Vec<u8>], engine: &Engine) {
    let bytes: usize = mails.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            for m in mails {
                black_box(mail_parser::MessageParser::default().parse(black_box(m.as_slice())));
            }
        })
    });
    g.bench_function("parse_only_filter_config", |b| {
        b.iter(|| {
            for m in mails {
                black_box(spamsift::message::email::mail_parser().parse(black_box(m.as_slice())));
            }
        })
    });
    g.bench_function("parse_to_message", |b| {
        b.iter(|| {
            for m in mails {
                black_box(engine.parse_email(black_box(m)));
            }
        })
    });
    let parsed: Vec<Message> = mails.iter().map(|m| engine.parse_email(m)).collect();
    g.bench_function("classify_parsed", |b| {
        b.iter(|| {
            for m in &parsed {
                black_box(engine.classify(black_box(m)));
            }
        })
    });
    if let Ok(dir) = std::env::var("SPAMSIFT_BENCH_RULES_B") {
        let b_engine = Engine::from_dir(&dir).expect("SPAMSIFT_BENCH_RULES_B rules load");
        g.bench_function("classify_parsed_rules_b", |b| {
            b.iter(|| {
                for m in &parsed {
                    black_box(b_engine.classify(black_box(m)));
                }
            })
        });
        // The reputation stage alone: what the sources add to classify_parsed.
        g.bench_function("reputation_sources_only", |b| {
            b.iter(|| {
                let mut n = 0u32;
                for m in &parsed {
                    for (_, s) in b_engine.rules().reputation_sources(m.channel) {
                        n += u32::from(s.matches(black_box(m)));
                    }
                }
                n
            })
        });
    }
    if let Some(with_model) = model_engine() {
        g.bench_function("classify_parsed_with_model", |b| {
            b.iter(|| {
                for m in &parsed {
                    black_box(with_model.classify(black_box(m)));
                }
            })
        });
    }
    g.bench_function("parse_and_classify", |b| {
        b.iter(|| {
            for m in mails {
                black_box(engine.classify(&engine.parse_email(black_box(m))));
            }
        })
    });
    g.finish();
}

/// rayon scaling: parse and classify the corpus on 1 and 2 worker threads.
fn bench_parallel(c: &mut Criterion, mails: &[Vec<u8>], engine: &Engine) {
    use rayon::prelude::*;
    let mut g = c.benchmark_group("email_corpus_parallel");
    g.throughput(Throughput::Elements(mails.len() as u64));
    for jobs in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .expect("pool");
        g.bench_function(format!("jobs_{jobs}"), |b| {
            b.iter(|| {
                pool.install(|| {
                    mails
                        .par_iter()
                        .map(|m| engine.classify(&engine.parse_email(m)).score)
                        .sum::<f64>()
                })
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let engine = Engine::with_defaults().expect("default rules");
    bench_email(c, "email_fixtures", &fixtures("email", "eml"), &engine);
    if let Ok(dirs) = std::env::var("SPAMSIFT_BENCH_CORPUS") {
        let mails: Vec<Vec<u8>> = dirs
            .split(':')
            .flat_map(|d| read_dir_files(Path::new(d), None))
            .collect();
        if !mails.is_empty() {
            bench_email(c, "email_corpus", &mails, &engine);
            bench_parallel(c, &mails, &engine);
        }
    }
    let corpora = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpora");
    let mbox: Vec<Vec<u8>> = ["email-ham.mbox", "email-spam.mbox"]
        .iter()
        .flat_map(|f| {
            spamsift::corpus::split_mbox(&std::fs::read(corpora.join(f)).unwrap_or_default())
        })
        .collect();
    bench_email(c, "email_project_corpus", &mbox, &engine);
    for channel in ["sms", "im"] {
        let mut msgs: Vec<Message> = fixtures(channel, "json")
            .iter()
            .map(|j| Message::from_json(std::str::from_utf8(j).expect("utf-8")).expect("fixture"))
            .collect();
        let mut corpus = spamsift::corpus::Corpus::default();
        // SPAMSIFT_BENCH_SMS=FILE (e.g. the SMS Spam Collection TSV)
        // replaces the project's sms.tsv.
        let file = match (channel, std::env::var("SPAMSIFT_BENCH_SMS")) {
            ("sms", Ok(path)) => {
                msgs.clear();
                PathBuf::from(path)
            }
            ("sms", Err(_)) => corpora.join("sms.tsv"),
            _ => corpora.join("im.jsonl"),
        };
        let ch: Channel = channel.parse().expect("channel");
        spamsift::corpus::Source::auto(file, None, ch)
            .load(spamsift::corpus::Split::All, &mut corpus);
        msgs.extend(
            corpus
                .items
                .iter()
                .map(|i| i.message(&engine.config().email)),
        );
        let mut g = c.benchmark_group(format!("{channel}_messages"));
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function("classify", |b| {
            b.iter(|| {
                for m in &msgs {
                    black_box(engine.classify(black_box(m)));
                }
            })
        });
        // The gateway set-up: content rules, a user policy for the
        // recipient (not matching these senders) and behaviour analysis.
        let full = gateway_engine();
        // Corpus lines carry no sender or time: give each one of 2,000
        // senders and a second of its own, so behaviour analysis has
        // something to track.
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z").expect("time");
        let with_recipient: Vec<Message> = msgs
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, mut m)| {
                m.recipients = vec!["+447700900456".into()];
                if m.sender.is_empty() {
                    m.sender = format!("+4477009{:05}", i % 2000);
                }
                m.time = m
                    .time
                    .or_else(|| Some(start + chrono::Duration::seconds(i as i64)));
                m
            })
            .collect();
        // A stream: each pass over the corpus comes after the one before
        // (times move on by the corpus's span), as a gateway's traffic does,
        // so each sender sends two or three texts an hour.
        let span = chrono::Duration::seconds(with_recipient.len() as i64);
        let mut stream = with_recipient.clone();
        g.bench_function("classify_with_policy_and_behaviour", |b| {
            b.iter(|| {
                for m in &mut stream {
                    m.time = m.time.map(|t| t + span);
                    black_box(full.classify(black_box(m)));
                }
            })
        });
        // The worst case: every pass replays the same times, so after a
        // few passes every sender is over its rate limit (each message
        // earns a BEHAV_RATE hit) and its windows are full.
        let saturated = gateway_engine();
        g.bench_function("classify_with_policy_and_behaviour_saturated", |b| {
            b.iter(|| {
                for m in &with_recipient {
                    black_box(saturated.classify(black_box(m)));
                }
            })
        });
        g.finish();
    }
}

criterion_group!(name = classify; config = Criterion::default().sample_size(10); targets = benches);
criterion_main!(classify);
