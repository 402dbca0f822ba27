//! Parse-only vs parse+classify for email, and classify for SMS and IM,
//! over the fixture messages in `tests/fixtures`.
//!
//! `cargo bench --bench classify`. Set `SPAMSIFT_BENCH_CORPUS=DIR[:DIR...]`
//! (folders of one-message-per-file emails, e.g. the five folders of
//! ../shared/corpora/spamassassin) to also measure a real corpus.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spamsift::{Engine, Message};
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
    g.bench_function("parse_to_message", |b| {
        b.iter(|| {
            for m in mails {
                black_box(engine.parse_email(black_box(m)));
            }
        })
    });
    g.bench_function("parse_and_classify", |b| {
        b.iter(|| {
            for m in mails {
                black_box(engine.classify(&engine.parse_email(black_box(m))));
            }
        })
    });
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
        }
    }
    for channel in ["sms", "im"] {
        let msgs: Vec<Message> = fixtures(channel, "json")
            .iter()
            .map(|j| Message::from_json(std::str::from_utf8(j).expect("utf-8")).expect("fixture"))
            .collect();
        let mut g = c.benchmark_group(format!("{channel}_fixtures"));
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function("classify", |b| {
            b.iter(|| {
                for m in &msgs {
                    black_box(engine.classify(black_box(m)));
                }
            })
        });
        g.finish();
    }
}

criterion_group!(name = classify; config = Criterion::default().sample_size(10); targets = benches);
criterion_main!(classify);
