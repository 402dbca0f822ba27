//! Sender behaviour on synthetic streams: bursts, fan-out and duplicate
//! campaigns are flagged; ordinary traffic is not; memory stays bounded.

use spamsift::behaviour::{BehaviourConfig, BehaviourStore, MemoryBehaviourStore};
use spamsift::{Config, Engine, Message};
use std::sync::Arc;

fn engine(cfg: BehaviourConfig) -> Engine {
    let config = Config {
        behaviour: BehaviourConfig {
            enabled: true,
            ..cfg
        },
        ..Config::default()
    };
    Engine::builder().config(config).build().unwrap()
}

/// Classify a message as a front end does: the verdict, then the message
/// recorded in its sender's history.
fn check(e: &Engine, msg: &Message) -> spamsift::Verdict {
    let v = e.classify(msg);
    e.observe(msg, &v);
    v
}

fn sms(from: &str, to: &str, text: &str, secs: i64) -> Message {
    let time = chrono::DateTime::from_timestamp(1_714_560_000 + secs, 0)
        .unwrap()
        .to_rfc3339();
    Message::from_json(
        &serde_json::json!({"channel": "sms", "from": from, "to": to, "text": text, "time": time})
            .to_string(),
    )
    .unwrap()
}

#[test]
fn burst_to_500_recipients_is_flagged_quickly() {
    let e = engine(BehaviourConfig::default());
    let mut first_flag = None;
    for i in 0..500 {
        let v = check(
            &e,
            &sms(
                "+447700900999",
                &format!("+4477009{i:05}"),
                "Your parcel is waiting, see details at our site",
                i,
            ),
        );
        if first_flag.is_none() && v.hit("BEHAV_FANOUT") {
            first_flag = Some(i);
        }
        if i == 499 {
            assert!(
                v.hit("BEHAV_RATE") && v.hit("BEHAV_FANOUT"),
                "{}",
                v.tests()
            );
        }
    }
    // fanout_limit is 30: the 31st distinct recipient is the first flagged
    assert_eq!(first_flag, Some(30));
}

#[test]
fn ordinary_traffic_is_not_flagged() {
    let e = engine(BehaviourConfig::default());
    let texts = [
        "see you at 8",
        "running late",
        "can you call me back",
        "thanks for dinner",
        "happy birthday!!",
        "which train are you on",
        "ok",
    ];
    for s in 0..200 {
        for m in 0..5 {
            let text = format!("{} {}", texts[(s + m) % texts.len()], s * 7 + m);
            let v = check(
                &e,
                &sms(
                    &format!("+4477001{s:05}"),
                    &format!("+4477002{:05}", (s + m) % 3),
                    &text,
                    (s * 5 + m) as i64 * 3,
                ),
            );
            assert!(
                !v.tests().contains("BEHAV"),
                "sender {s} message {m}: {}",
                v.tests()
            );
        }
    }
}

#[test]
fn near_duplicate_campaign_from_many_senders() {
    let e = engine(BehaviourConfig::default());
    let mut flagged_from = None;
    for s in 0..12 {
        let text = format!(
            "Congratulations! You have won a {} pound voucher, reply WIN to 8008{} to claim today",
            1000 + s * 100,
            s % 10
        );
        let v = check(
            &e,
            &sms(&format!("+4477003{s:05}"), "+447700900456", &text, s * 10),
        );
        if flagged_from.is_none() && v.hit("BEHAV_DUPLICATE") {
            flagged_from = Some(s);
        }
    }
    assert_eq!(
        flagged_from,
        Some(4),
        "the 5th sender of the same text is flagged"
    );
}

#[test]
fn window_expires_and_memory_is_bounded() {
    let cfg = BehaviourConfig {
        enabled: true,
        capacity: 64,
        window_secs: 60,
        ..BehaviourConfig::default()
    };
    let store = Arc::new(MemoryBehaviourStore::new(&cfg));
    for i in 0..10_000 {
        store.observe(&format!("sender{i}"), &["x".to_string()], Some(i as u64), i);
    }
    assert!(store.tracked_senders() <= 64, "{}", store.tracked_senders());
    // 40 messages, then an hour later one more: only it counts
    for i in 0..40 {
        store.observe("busy", &[format!("r{i}")], None, i);
    }
    let o = store.observe("busy", &["r".to_string()], None, 3600);
    assert_eq!((o.sent, o.recipients), (1, 1));
    // a shared store can back several engines
    let config = Config {
        behaviour: BehaviourConfig {
            enabled: true,
            fanout_limit: 2,
            ..BehaviourConfig::default()
        },
        ..Config::default()
    };
    let shared: Arc<dyn BehaviourStore> = Arc::new(MemoryBehaviourStore::new(&config.behaviour));
    let a = Engine::builder()
        .config(config.clone())
        .behaviour_store(Arc::clone(&shared))
        .build()
        .unwrap();
    let b = Engine::builder()
        .config(config)
        .behaviour_store(shared)
        .build()
        .unwrap();
    check(&a, &sms("+447700900111", "+1", "hi", 0));
    check(&a, &sms("+447700900111", "+2", "hi", 1));
    assert!(check(&b, &sms("+447700900111", "+3", "hi", 2)).hit("BEHAV_FANOUT"));
}

#[test]
fn classifying_records_nothing_and_a_repeat_counts_once() {
    let e = engine(BehaviourConfig {
        fanout_limit: 2,
        ..BehaviourConfig::default()
    });
    let to = |i: usize, secs| sms("+447700900222", &format!("+{i}"), "hello there", secs);
    // Classified again and again (eval re-runs, retried requests): no history.
    for _ in 0..10 {
        assert!(!e.classify(&to(1, 0)).hit("BEHAV_FANOUT"));
    }
    // The same message recorded twice counts once.
    for _ in 0..5 {
        for m in [to(1, 0), to(2, 1)] {
            e.observe(&m, &e.classify(&m));
        }
    }
    assert!(!e.classify(&to(2, 1)).hit("BEHAV_FANOUT"));
    // A third distinct recipient passes the limit of 2.
    assert!(e.classify(&to(3, 2)).hit("BEHAV_FANOUT"));
}

#[test]
fn an_email_cannot_date_itself_out_of_the_rate_window() {
    use spamsift::frontend::Envelope;
    let e = engine(BehaviourConfig {
        rate_limit: 3,
        ..BehaviourConfig::default()
    });
    let mut last = None;
    for i in 0..6 {
        // Each claims a Date a year apart; all arrive now.
        let raw = format!(
            "From: bulk@sender.example\nTo: r{i}@example.org\nDate: Mon, 1 Jan {} 10:00:00 +0000\nSubject: offer {i}\n\nbuy now {i}\n",
            2000 + i
        );
        let mut msg = e.parse_email(raw.as_bytes());
        Envelope::default().apply(&mut msg);
        last = Some(check(&e, &msg));
    }
    let v = last.expect("classified");
    assert!(v.hit("BEHAV_RATE"), "{}", v.tests());
}
