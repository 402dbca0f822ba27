//! Shared state in a real Redis: Debian's `redis-server`, started by each
//! test on a loopback port with its own directory. Several engines on one
//! Redis behave as one filter (learning, complaints); a model file goes
//! into Redis and back; Redis killed mid-stream gives verdicts without the
//! shared state and learning refused, and both resume when it is back; the
//! memory ceiling holds. Without redis-server the tests say so and are
//! skipped, except under CI, where they fail.

mod common;

use spamsift::Engine;
use spamsift::bayes::{LearnOutcome, MemoryStore, features, message_digest};
use spamsift::behaviour::ComplaintLog;
use spamsift::corpus::Label;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A redis-server of the test's own.
struct Redis {
    server: Option<common::Daemon>,
    binary: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Option<Redis> {
        let binary = common::real_tool("redis-server", &["/usr/bin/redis-server"])?;
        let mut r = Redis {
            server: None,
            binary,
            dir: dir.to_path_buf(),
            port: common::free_port(),
        };
        r.restart();
        Some(r)
    }

    fn restart(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.server = Some(common::Daemon(child, None));
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn kill(&mut self) {
        self.server = None; // Daemon's drop kills and reaps it
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A command through the redis crate, for looking inside.
    fn query<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).expect("client");
        let mut c = client.get_connection().expect("connect");
        cmd.query(&mut c).expect("query")
    }
}

/// A config with the state in this Redis, and a Bayes that speaks after
/// five messages of each class.
fn config(dir: &Path, redis: &Redis, more: &str) -> std::path::PathBuf {
    let path = dir.join("spamsift.toml");
    std::fs::write(
        &path,
        format!(
            "[bayes]\nmin_spam = 5\nmin_ham = 5\n\n[state]\nbackend = \"redis\"\nurl = \"{}\"\nprefix = \"t1:\"\ntimeout = 0.3\n{more}",
            redis.url()
        ),
    )
    .expect("config");
    path
}

fn engine(conf: &Path) -> Engine {
    Engine::builder()
        .config_file(conf)
        .complaint_log(Arc::new(ComplaintLog::new(1000, 3, 4.0)))
        .build()
        .expect("engine")
}

fn mail(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\nTo: {to}\nSubject: {subject}\n\n{body}\n").into_bytes()
}

fn spam(i: usize) -> Vec<u8> {
    mail(
        &format!("deals{i}@promo.example"),
        "u@example.org",
        &format!("cheap meds offer {i}"),
        &format!("Buy cheap pills now, discount pharmacy, limited offer, order today number {i}."),
    )
}

fn ham(i: usize) -> Vec<u8> {
    mail(
        &format!("colleague{i}@work.example"),
        "u@example.org",
        &format!("project notes {i}"),
        &format!("Minutes of the project meeting, the schedule for the release and review {i}."),
    )
}

/// A small trained model file.
fn trained(engine: &Engine) -> MemoryStore {
    let mut m = MemoryStore::new();
    let opts = engine.config().bayes.tokenizer();
    for i in 0..20 {
        for (raw, label) in [(spam(i), Label::Spam), (ham(i), Label::Ham)] {
            let msg = engine.parse_email(&raw);
            m.learn_message(message_digest(&msg), &features(&msg, &opts), label, false);
        }
    }
    m
}

fn bayes(engine: &Engine, raw: &[u8]) -> Option<f64> {
    engine.classify(&engine.parse_email(raw)).bayes
}

fn has(engine: &Engine, raw: &[u8], id: &str) -> bool {
    engine.classify(&engine.parse_email(raw)).hit(id)
}

#[test]
fn two_filters_on_one_redis_learn_and_count_complaints_as_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "");
    let (a, b) = (engine(&conf), engine(&conf));
    // Nothing learned: neither speaks.
    assert_eq!(bayes(&a, &spam(100)), None);
    // Filter A learns 20 + 20 messages; B reads them at once.
    let opts = a.config().bayes.tokenizer();
    let store = a.bayes().expect("bayes").store();
    for i in 0..20 {
        for (raw, label) in [(spam(i), Label::Spam), (ham(i), Label::Ham)] {
            let msg = a.parse_email(&raw);
            let r = store.learn_shared(message_digest(&msg), &features(&msg, &opts), label);
            assert_eq!(r, Some(Ok(LearnOutcome::Done)));
        }
    }
    let p_spam = bayes(&b, &spam(100)).expect("B speaks");
    let p_ham = bayes(&b, &ham(100)).expect("B speaks");
    assert!(p_spam > 0.9 && p_ham < 0.1, "{p_spam} {p_ham}");
    assert_eq!(bayes(&a, &spam(100)), Some(p_spam), "A and B agree");
    // The same message learned on B counts once; as the other class, it moves.
    let msg = b.parse_email(&spam(3));
    let f = features(&msg, &opts);
    let d = message_digest(&msg);
    let bstore = b.bayes().expect("bayes").store();
    assert_eq!(
        bstore.learn_shared(d, &f, Label::Spam),
        Some(Ok(LearnOutcome::AlreadyLearned))
    );
    assert_eq!(
        bstore.learn_shared(d, &f, Label::Ham),
        Some(Ok(LearnOutcome::Moved))
    );
    assert_eq!(
        store.learned(),
        spamsift::bayes::Learned { spam: 19, ham: 21 }
    );
    // Complaints filed on A count on B.
    let sender = "deals7@promo.example";
    let log = a.complaint_log().expect("complaints");
    for n in 1..=3 {
        assert_eq!(log.complain(sender), Ok(n));
    }
    assert!(has(&b, &spam(7), "USER_COMPLAINTS"));
    assert!(!has(&b, &spam(8), "USER_COMPLAINTS"));
    // Every key but the two totals expires; tokens within their TTL.
    let keys: Vec<String> = redis.query(redis::cmd("KEYS").arg("t1:*"));
    assert!(keys.len() > 40, "{}", keys.len());
    for k in &keys {
        let ttl: i64 = redis.query(redis::cmd("TTL").arg(k));
        if k == "t1:nspam" || k == "t1:nham" {
            assert_eq!(ttl, -1, "{k}");
        } else {
            assert!(ttl > 0 && ttl <= 90 * 86_400, "{k}: {ttl}");
        }
    }
    // At most one round trip per message for Bayes (learned totals and
    // every token not read within `cache_ms` in one MGET; each of these
    // messages has a token never read before) and one for complaints.
    let shared = b.shared_state().expect("redis");
    let before = shared.requests();
    for i in 0..10 {
        b.classify(&b.parse_email(&ham(200 + i)));
    }
    assert_eq!(shared.requests() - before, 20);
    // The same message again within `cache_ms`: its tokens are not read
    // again (only the complaint count is).
    b.classify(&b.parse_email(&ham(300)));
    let before = shared.requests();
    b.classify(&b.parse_email(&ham(300)));
    assert_eq!(shared.requests() - before, 1);
}

#[test]
fn redis_down_gives_verdicts_without_it_and_refuses_learning_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "");
    let e = engine(&conf);
    let redis_pool = e.shared_state().expect("redis");
    redis_pool.push(&trained(&e)).expect("push");
    assert!(bayes(&e, &spam(100)).is_some());
    assert!(!has(&e, &spam(100), "STATE_UNAVAILABLE"));
    redis.kill();
    // Every message gets a verdict, quickly, without the shared state.
    let t = Instant::now();
    for i in 0..50 {
        let v = e.classify(&e.parse_email(&spam(i)));
        assert!(v.hit("STATE_UNAVAILABLE"), "{v:?}");
        assert_eq!(v.bayes, None);
    }
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Learning and complaints are refused, not dropped.
    let msg = e.parse_email(&spam(500));
    let f = features(&msg, &e.config().bayes.tokenizer());
    let store = e.bayes().expect("bayes").store();
    assert!(matches!(
        store.learn_shared(message_digest(&msg), &f, Label::Spam),
        Some(Err(_))
    ));
    assert!(
        e.complaint_log()
            .expect("log")
            .complain("x@y.example")
            .is_err()
    );
    assert!(redis_pool.failures() > 0);
    // Back (empty: it kept nothing): the engine reconnects by itself.
    redis.restart();
    std::thread::sleep(Duration::from_millis(1100));
    let v = e.classify(&e.parse_email(&spam(1)));
    assert!(!v.hit("STATE_UNAVAILABLE"), "{v:?}");
    assert_eq!(
        store.learn_shared(message_digest(&msg), &f, Label::Spam),
        Some(Ok(LearnOutcome::Done))
    );
}

#[test]
fn a_model_file_goes_into_redis_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "");
    let plain_conf = dir.path().join("plain.toml");
    std::fs::write(&plain_conf, "[bayes]\nmin_spam = 5\nmin_ham = 5\n").expect("config");
    let model = dir.path().join("model.bin");
    let trained = trained(&engine(&plain_conf));
    trained.save(&model).expect("save");
    let conf_s = conf.to_str().expect("path");
    let out = common::run(
        &[
            "--config",
            conf_s,
            "model",
            "push",
            model.to_str().expect("path"),
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    // The same verdicts from the file and from Redis, through `check`.
    let check = |args: &[&str], raw: &[u8]| -> serde_json::Value {
        let out = common::run(args, raw);
        assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let plain_s = plain_conf.to_str().expect("path");
    let model_s = model.to_str().expect("path");
    for raw in [spam(50), ham(50)] {
        let from_file = check(
            &["--config", plain_s, "--model", model_s, "check", "--json"],
            &raw,
        );
        let from_redis = check(&["--config", conf_s, "check", "--json"], &raw);
        assert_eq!(from_file["bayes"], from_redis["bayes"], "{from_redis}");
        assert_eq!(from_file["score"], from_redis["score"]);
        assert!(from_file["bayes"].is_number());
    }
    // A model file and Redis at once is refused, naming both.
    let out = common::run(&["--config", conf_s, "--model", model_s, "check"], &spam(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("model push"),
        "{out:?}"
    );
    // Pulled back: the same counts.
    let pulled = dir.path().join("pulled.bin");
    let out = common::run(
        &[
            "--config",
            conf_s,
            "model",
            "pull",
            pulled.to_str().expect("path"),
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let back = MemoryStore::load(&pulled).expect("load");
    use spamsift::bayes::TokenStore;
    assert_eq!(back.learned(), trained.learned());
    assert_eq!(back.len(), trained.len());
    let mut same = true;
    trained.for_each(&mut |f, c| same &= back.counts(f) == c);
    assert!(same);
}

#[test]
fn the_memory_ceiling_holds_while_learning_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "max_memory = \"3mb\"\n");
    let e = engine(&conf);
    let maxmemory: Vec<String> = redis.query(redis::cmd("CONFIG").arg("GET").arg("maxmemory"));
    assert_eq!(maxmemory[1], (3 << 20).to_string());
    // 4,000 messages of 60 new words each: far more tokens than 3 MB holds.
    let store = e.bayes().expect("bayes").store();
    let opts = e.config().bayes.tokenizer();
    for i in 0..4000 {
        let words: String = (0..60).map(|w| format!("w{i}x{w} ")).collect();
        let raw = format!("From: a{i}@x.example\nSubject: s{i}\n\n{words}\n");
        let msg = e.parse_email(raw.as_bytes());
        let r = store.learn_shared(
            message_digest(&msg),
            &features(&msg, &opts),
            if i % 2 == 0 { Label::Spam } else { Label::Ham },
        );
        assert!(matches!(r, Some(Ok(_))), "message {i}: {r:?}");
    }
    let info: String = redis.query(redis::cmd("INFO").arg("memory"));
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    let stats: String = redis.query(redis::cmd("INFO").arg("stats"));
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("evicted_keys");
    eprintln!("used_memory {used}, evicted_keys {evicted}");
    assert!(used <= (3 << 20) + (256 << 10), "{used}");
    assert!(evicted > 0);
    // The totals never expire or get evicted.
    let learned = store.learned();
    assert_eq!(learned.spam + learned.ham, 4000);
}

#[test]
fn sender_behaviour_in_redis_counts_like_memory_and_across_filters() {
    use spamsift::behaviour::{
        BehaviourConfig, BehaviourStore, MemoryBehaviourStore, WindowCounter,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(
        dir.path(),
        &redis,
        "\n[behaviour]\nenabled = true\nrate_limit = 5\nfanout_limit = 4\nduplicate_senders = 3\n",
    );
    let (a, b) = (engine(&conf), engine(&conf));
    // The same sequence through the in-memory store and the Redis store
    // gives the same observations, read and recorded.
    let cfg = BehaviourConfig {
        enabled: true,
        rate_limit: 5,
        fanout_limit: 4,
        duplicate_senders: 3,
        window_secs: 100,
        ..Default::default()
    };
    let memory = MemoryBehaviourStore::new(&cfg);
    let shared = spamsift::state::behaviour::RedisBehaviourStore::new(
        Arc::clone(a.shared_state().expect("redis")),
        &cfg,
    );
    let fp =
        spamsift::behaviour::simhash("the very same campaign text sent out by many senders today");
    for i in 0..12i64 {
        let sender = format!("s{}", i % 3);
        let to = vec![format!("r{}", i % 5), format!("r{}", i % 7)];
        let f = (i % 2 == 0).then_some(fp ^ (i as u64 & 1));
        let now = 1_000 + i * 15;
        assert_eq!(
            memory.peek(&sender, &to, f, now),
            shared.try_peek(&sender, &to, f, now).expect("peek"),
            "peek {i}"
        );
        assert_eq!(
            memory.observe(&sender, &to, f, now),
            shared.try_observe(&sender, &to, f, now).expect("observe"),
            "observe {i}"
        );
    }
    // Records queued after verdicts are all written, at the latest when
    // the store goes.
    {
        use spamsift::behaviour::{Query, StoreLimits};
        let queued = spamsift::state::behaviour::RedisBehaviourStore::new(
            Arc::clone(a.shared_state().expect("redis")),
            &cfg,
        );
        let l = StoreLimits::of(&cfg);
        for i in 0..1000 {
            let q = Query::new(&l, &format!("q{}", i % 10), &[], None, 5_000 + i);
            queued.record_later(&q).expect("queued");
        }
        drop(queued);
        for s in 0..10 {
            let q = Query::new(&l, &format!("q{s}"), &[], None, 6_000);
            assert_eq!(shared.window_count(q.sender, 5_000), Ok(l.max_messages));
        }
    }
    // A message's reads are one round trip, its record one transaction.
    let pool = a.shared_state().expect("redis");
    let to = vec!["r1".to_string(), "r2".to_string()];
    let before = pool.requests();
    shared.try_peek("s9", &to, Some(fp), 2_000).expect("peek");
    assert_eq!(pool.requests() - before, 1);
    shared
        .try_observe("s9", &to, Some(fp), 2_000)
        .expect("observe");
    assert_eq!(pool.requests() - before, 2);
    // Six messages of one sender, three recorded by each filter: the
    // sender's rate is counted across both.
    let from = |sender: &str, i: usize| {
        format!(
            "From: {sender}\nTo: u{i}@example.org\nSubject: news {i}\n\nIssue {i} of our news.\n"
        )
        .into_bytes()
    };
    for i in 0..6 {
        let e = if i % 2 == 0 { &a } else { &b };
        let m = e.parse_email(&from("bulk@promo.example", i));
        e.observe(&m, &e.classify(&m));
    }
    // Records made after a verdict are sent by each filter's writer
    // thread, in batches, within milliseconds.
    std::thread::sleep(Duration::from_millis(300));
    assert!(has(&a, &from("bulk@promo.example", 99), "BEHAV_RATE"));
    assert!(has(&b, &from("bulk@promo.example", 99), "BEHAV_RATE"));
    assert!(!has(&b, &from("quiet@promo.example", 99), "BEHAV_RATE"));
}

/// `sha256("secret")`, the controller password of the fleet test.
const SECRET_SHA256: &str = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

/// `spamsift rspamd` with a worker and a controller port: the daemon and
/// both addresses.
fn rspamd_front_end(conf: &str) -> (common::Daemon, String, String) {
    let (worker, controller) = (common::free_port(), common::free_port());
    let (w, c) = (
        format!("127.0.0.1:{worker}"),
        format!("127.0.0.1:{controller}"),
    );
    let d = common::daemon(
        &[
            "--config",
            conf,
            "rspamd",
            "--listen",
            &w,
            "--controller",
            &c,
        ],
        worker,
    );
    (d, w, c)
}

fn rspamc(args: &[&str], file: Option<&Path>) -> String {
    let bin = common::real_tool("rspamc", &["/usr/bin/rspamc"]).expect("rspamc");
    common::run_tool(&bin, args, file).1
}

#[test]
fn a_fleet_of_two_rspamd_front_ends_greylists_and_learns_as_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    if common::real_tool("rspamc", &["/usr/bin/rspamc"]).is_none() {
        return;
    }
    let conf = config(
        dir.path(),
        &redis,
        &format!(
            "\n[greylist]\nenabled = true\ndelay_secs = 2\n\n[rspamd]\npassword_sha256 = \"{SECRET_SHA256}\"\n"
        ),
    );
    let conf_s = conf.to_str().expect("path");
    let start = || rspamd_front_end(conf_s);
    let (_a, a_worker, a_controller) = start();
    let (_b, b_worker, _) = start();
    let mail = dir.path().join("mail.eml");
    std::fs::write(&mail, spam(1)).expect("write");
    let envelope = [
        "--ip",
        "203.0.113.5",
        "--from",
        "deals1@promo.example",
        "--rcpt",
        "u@example.org",
    ];
    let check = |worker: &str| {
        let mut args = vec!["-h", worker];
        args.extend_from_slice(&envelope);
        rspamc(&args, Some(&mail))
    };
    // First attempt on A: greylisted. The retry on B, too soon: still
    // greylisted (B knows A's attempt). After the delay, B lets it through.
    let first = check(&a_worker);
    assert!(first.contains("Action: soft reject"), "{first}");
    assert!(first.contains("GREYLIST"), "{first}");
    let early = check(&b_worker);
    assert!(early.contains("Action: soft reject"), "{early}");
    std::thread::sleep(Duration::from_millis(2100));
    let retried = check(&b_worker);
    assert!(!retried.contains("soft reject"), "{retried}");
    assert!(retried.contains("Score:"), "{retried}");
    // Learned over A's controller; B's verdicts use it at once.
    for i in 0..6 {
        for (raw, cmd) in [(spam(i), "learn_spam"), (ham(i), "learn_ham")] {
            let f = dir.path().join(format!("{cmd}-{i}.eml"));
            std::fs::write(&f, raw).expect("write");
            let out = rspamc(&["-h", &a_controller, "-P", "secret", cmd], Some(&f));
            assert!(out.contains("success = true"), "{out}");
        }
    }
    // B read these tokens less than `[state] cache_ms` (1 s) ago: what A
    // learned reaches B's verdicts within that time.
    std::thread::sleep(Duration::from_millis(1100));
    let after = check(&b_worker);
    assert!(after.contains("Symbol: BAYES_"), "{after}");
}

#[test]
fn redis_killed_mid_stream_every_line_gets_a_verdict() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(["--config", conf.to_str().expect("path"), "stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stream");
    let mut input = child.stdin.take().expect("stdin");
    let mut output = BufReader::new(child.stdout.take().expect("stdout"));
    // Send `n` lines, read their `n` verdicts: how many say the shared
    // state was unavailable.
    let mut round = |n: usize, from: usize| -> usize {
        for i in from..from + n {
            writeln!(
                input,
                "{{\"from\":\"+4479{i:08}\",\"to\":\"+447700900000\",\"text\":\"Your parcel {i} is waiting, confirm delivery\"}}"
            )
            .expect("write");
        }
        input.flush().expect("flush");
        let mut unavailable = 0;
        for _ in 0..n {
            let mut line = String::new();
            output.read_line(&mut line).expect("read");
            let v: serde_json::Value = serde_json::from_str(&line).expect("verdict");
            assert!(v["action"].is_string(), "{line}");
            unavailable += usize::from(line.contains("STATE_UNAVAILABLE"));
        }
        unavailable
    };
    assert_eq!(round(50, 0), 0);
    redis.kill();
    assert_eq!(round(50, 50), 50);
    redis.restart();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(round(50, 100), 0);
    drop(input);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn the_http_api_counts_complaints_in_redis_and_shows_when_it_is_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(
        dir.path(),
        &redis,
        "\n[serve]\ntoken = \"test-token-0123456789abcdef\"\n",
    );
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let _server = common::daemon(
        &[
            "--config",
            conf.to_str().expect("path"),
            "serve",
            "--listen",
            &listen,
        ],
        port,
    );
    let base = format!("http://{listen}");
    let post = |path: &str, body: serde_json::Value, reporter: &str| -> (u16, serde_json::Value) {
        let req = ureq::post(&format!("{base}{path}"))
            .set("Content-Type", "application/json")
            .set("Authorization", "Bearer test-token-0123456789abcdef")
            .set("X-Spamsift-Reporter", reporter);
        match req.send_string(&body.to_string()) {
            Ok(r) => (r.status(), r.into_json().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    let sms = |text: &str| serde_json::json!({"channel": "sms", "from": "+447700900123", "to": "+447700900456", "text": text});
    for n in 1..=3 {
        let (code, v) = post(
            "/v1/report",
            sms(&format!("win a prize {n}")),
            &format!("user{n}"),
        );
        assert_eq!((code, v["complaints"].as_u64()), (200, Some(n)), "{v}");
    }
    // Counted in Redis (a second filter would see them).
    let keys: Vec<String> = redis.query(redis::cmd("KEYS").arg("t1:c:*"));
    assert_eq!(keys.len(), 1);
    let (_, v) = post("/v1/check", sms("hello"), "x");
    assert!(v.to_string().contains("USER_COMPLAINTS"), "{v}");
    // Redis down: verdicts still come, marked; complaints are refused.
    redis.kill();
    let (code, v) = post("/v1/check", sms("hello again"), "x");
    assert_eq!(code, 200);
    assert!(v.to_string().contains("STATE_UNAVAILABLE"), "{v}");
    let (code, _) = post("/v1/report", sms("more spam"), "user9");
    assert_eq!(code, 503);
    let metrics = ureq::get(&format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    assert!(
        metrics.contains("spamsift_state_unavailable_total 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("spamsift_state_failures_total 0\n"),
        "{metrics}"
    );
}

/// Mail a pharmacist gets from her wholesaler: spam to the site, ham to her.
fn wholesale(i: usize) -> Vec<u8> {
    mail(
        &format!("orders{i}@wholesale.example"),
        "alice@example.org",
        &format!("cheap meds offer {i}"),
        &format!("Buy cheap pills now, discount pharmacy, limited offer, order today number {i}."),
    )
}

/// What the pharmacist calls spam.
fn crypto(i: usize) -> Vec<u8> {
    mail(
        &format!("moon{i}@coins.example"),
        "alice@example.org",
        &format!("token presale {i}"),
        &format!("Join the token presale, guaranteed returns, wallet airdrop bonus {i}."),
    )
}

#[test]
fn per_user_models_apply_to_their_user_once_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "per_user = true\n");
    let (a, b) = (engine(&conf), engine(&conf));
    let opts = a.config().bayes.tokenizer();
    let store = a.bayes().expect("bayes").store();
    let learn = |raw: &[u8], user: Option<&str>, label| {
        let msg = a.parse_email(raw);
        store.learn_shared_for(user, message_digest(&msg), &features(&msg, &opts), label)
    };
    // The site learns pharmacy mail as spam.
    for i in 0..20 {
        assert_eq!(
            learn(&spam(i), None, Label::Spam),
            Some(Ok(LearnOutcome::Done))
        );
        assert_eq!(
            learn(&ham(i), None, Label::Ham),
            Some(Ok(LearnOutcome::Done))
        );
    }
    // Delivered to one user (her only recipient, as the milter and the
    // protocols set it).
    let to = |e: &Engine, raw: &[u8], user: &str| {
        let mut msg = e.parse_email(raw);
        spamsift::frontend::Envelope {
            recipients: vec![user.to_string()],
            ..Default::default()
        }
        .apply(&mut msg);
        e.classify(&msg).bayes.expect("Bayes speaks")
    };
    // Alice learns 4 + 4 of her own: not ready, the site's model applies.
    for i in 0..4 {
        learn(&wholesale(i), Some("alice@example.org"), Label::Ham);
        learn(&crypto(i), Some("alice@example.org"), Label::Spam);
    }
    assert!(to(&b, &wholesale(100), "alice@example.org") > 0.9);
    // With 5 + 5 her model is ready: on either filter, her pharmacy mail
    // is ham to her and spam to Bob and to a message for several users.
    for i in 4..8 {
        learn(&wholesale(i), Some("Alice@Example.org"), Label::Ham);
        learn(&crypto(i), Some("alice@example.org"), Label::Spam);
    }
    // B read her totals less than `cache_ms` (1 s) ago.
    std::thread::sleep(Duration::from_millis(1100));
    for e in [&a, &b] {
        assert!(to(e, &wholesale(100), "alice@example.org") < 0.1);
        assert!(to(e, &crypto(100), "alice@example.org") > 0.9);
        assert!(to(e, &wholesale(100), "bob@example.org") > 0.9);
        assert!(bayes(e, &wholesale(100)).expect("speaks") > 0.9);
    }
    // Her learning is hers: the site's model learned only its own 20 + 20,
    // and her keys are under her scope, each with a TTL.
    assert_eq!(
        store.learned(),
        spamsift::bayes::Learned { spam: 20, ham: 20 }
    );
    let (_, scope) = spamsift::state::redis::user_scope("alice@example.org");
    let keys: Vec<String> = redis.query(redis::cmd("KEYS").arg(format!("t1:{scope}t:*")));
    assert!(keys.len() > 10, "{}", keys.len());
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&keys[0]));
    assert!(ttl > 0, "{ttl}");
    // A message learned for her twice counts once in her model.
    assert_eq!(
        learn(&crypto(3), Some("alice@example.org"), Label::Spam),
        Some(Ok(LearnOutcome::AlreadyLearned))
    );
    // Without per_user, users are ignored: the site model for everyone.
    let plain = engine(&config(dir.path(), &redis, ""));
    assert!(to(&plain, &wholesale(100), "alice@example.org") > 0.9);
}

#[test]
fn per_user_learning_through_rspamc_and_spamc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let Some(spamc) = common::real_tool("spamc", &["/usr/bin/spamc"]) else {
        return;
    };
    if common::real_tool("rspamc", &["/usr/bin/rspamc"]).is_none() {
        return;
    }
    let conf = config(
        dir.path(),
        &redis,
        &format!("per_user = true\n\n[rspamd]\npassword_sha256 = \"{SECRET_SHA256}\"\n"),
    );
    let conf_s = conf.to_str().expect("path");
    let (_rspamd, w, c) = rspamd_front_end(conf_s);
    let spamd = common::free_port();
    let _spamd = common::daemon(
        &[
            "--config",
            conf_s,
            "spamd",
            "--listen",
            &format!("127.0.0.1:{spamd}"),
            "--allow-tell",
        ],
        spamd,
    );
    let file = |name: &str, raw: Vec<u8>| {
        let f = dir.path().join(name);
        std::fs::write(&f, raw).expect("write");
        f
    };
    // The site's model, over the controller.
    for i in 0..6 {
        for (raw, cmd) in [(spam(i), "learn_spam"), (ham(i), "learn_ham")] {
            let f = file(&format!("{cmd}-{i}.eml"), raw);
            let out = rspamc(&["-h", &c, "-P", "secret", cmd], Some(&f));
            assert!(out.contains("success = true"), "{out}");
        }
    }
    // Alice's own: half over the controller (rspamc -d), half by spamc
    // TELL (spamc -u).
    let port = spamd.to_string();
    for i in 0..6 {
        let (h, s) = (
            file(&format!("w{i}.eml"), wholesale(i)),
            file(&format!("c{i}.eml"), crypto(i)),
        );
        if i % 2 == 0 {
            for (f, cmd) in [(&h, "learn_ham"), (&s, "learn_spam")] {
                let out = rspamc(
                    &["-h", &c, "-P", "secret", "-d", "alice@example.org", cmd],
                    Some(f),
                );
                assert!(out.contains("success = true"), "{out}");
            }
        } else {
            for (f, class) in [(&h, "ham"), (&s, "spam")] {
                let (ok, out) = spamc_with(
                    &spamc,
                    &[
                        "-d",
                        "127.0.0.1",
                        "-p",
                        &port,
                        "-u",
                        "alice@example.org",
                        "-L",
                        class,
                    ],
                    f,
                );
                assert!(ok, "{out}");
                assert!(out.contains("successfully"), "{out}");
            }
        }
    }
    let probe = file("probe.eml", wholesale(100));
    let bayes_hit = |user: &str| rspamc(&["-h", &w, "-d", user], Some(&probe));
    std::thread::sleep(Duration::from_millis(1100));
    let alice = bayes_hit("alice@example.org");
    let bob = bayes_hit("bob@example.org");
    assert!(alice.contains("BAYES_HAM"), "{alice}");
    assert!(bob.contains("BAYES_SPAM"), "{bob}");
    // spamd's User is the user too.
    let (_, out) = spamc_with(
        &spamc,
        &[
            "-d",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "alice@example.org",
            "-R",
        ],
        &probe,
    );
    assert!(out.contains("BAYES_HAM"), "{out}");
    // Unlearning is not kept in Redis: refused (spamc, which reads no
    // error of a TELL, reports nothing done), never claimed as done.
    let (_, out) = spamc_with(
        &spamc,
        &["-d", "127.0.0.1", "-p", &port, "-L", "forget"],
        &probe,
    );
    assert!(!out.contains("successfully"), "{out}");
}

/// spamc with a message on its standard input: whether it succeeded, and
/// its output.
fn spamc_with(bin: &Path, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .stdin(std::fs::File::open(file).expect("open"))
        .output()
        .expect("run spamc");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn reputation_counted_by_one_filter_holds_on_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(
        dir.path(),
        &redis,
        "\n[reputation]\nenabled = true\nmin_messages = 4\nttl_days = 7\n",
    );
    let (a, b) = (engine(&conf), engine(&conf));
    let advance_fee =
        std::fs::read(common::root().join("tests/fixtures/email/spam-advance-fee.eml"))
            .expect("fixture");
    let from = |e: &Engine, raw: &[u8], ip: &str| {
        let mut msg = e.parse_email(raw);
        spamsift::frontend::Envelope {
            client_ip: Some(ip.parse().expect("ip")),
            ..Default::default()
        }
        .apply(&mut msg);
        msg
    };
    // Two spam verdicts on each filter: the network's four.
    for i in 0..4 {
        let e = if i % 2 == 0 { &a } else { &b };
        let m = from(e, &advance_fee, &format!("203.0.113.{i}"));
        let v = e.classify(&m);
        assert!(v.is_spam(), "{:?}", v.hits);
        e.observe(&m, &v);
    }
    for e in [&a, &b] {
        let v = e.classify(&from(e, &ham(1), "203.0.113.77"));
        assert!(v.hit("REP_NET_BAD"), "{:?}", v.hits);
        assert!(
            !e.classify(&from(e, &ham(1), "198.51.100.1"))
                .hit("REP_NET_BAD")
        );
    }
    // One hash per source, with the TTL.
    let keys: Vec<String> = redis.query(redis::cmd("KEYS").arg("t1:rep:*"));
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&keys[0]));
    assert!(ttl > 6 * 86_400 && ttl <= 7 * 86_400, "{ttl}");
    // Redis down: verdicts go on without the reputation, and say so.
    redis.kill();
    let v = a.classify(&from(&a, &ham(1), "203.0.113.77"));
    assert!(
        !v.hit("REP_NET_BAD") && v.hit("STATE_UNAVAILABLE"),
        "{:?}",
        v.hits
    );
    let m = from(&a, &advance_fee, "203.0.113.9");
    a.observe(&m, &a.classify(&m));
}

/// The behaviour primitives, one by one, in memory and in Redis: the same
/// answers to the same calls.
#[test]
fn behaviour_primitives_answer_alike_in_memory_and_redis() {
    use spamsift::behaviour::{
        BandIndex, BehaviourConfig, DistinctCounter, MemoryBehaviourStore, WindowCounter,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(redis) = Redis::start(dir.path()) else {
        return;
    };
    let conf = config(dir.path(), &redis, "");
    let pool = Arc::clone(engine(&conf).shared_state().expect("redis"));
    let cfg = BehaviourConfig::default();
    let memory = MemoryBehaviourStore::new(&cfg);
    let shared = spamsift::state::behaviour::RedisBehaviourStore::new(pool, &cfg);
    // (key, time, window start, keep): counts within the window, the
    // newest `keep` kept.
    for (key, now, since, keep) in [
        (1u64, 100i64, 0i64, 3usize),
        (1, 110, 0, 3),
        (1, 120, 0, 3),
        (1, 130, 0, 3),
        (1, 500, 400, 3),
        (2, 500, 400, 3),
    ] {
        assert_eq!(
            memory.window_count(key, since),
            shared.window_count(key, since),
            "count {key} {now}"
        );
        assert_eq!(
            memory.window_add(key, now, since, keep),
            shared.window_add(key, now, since, keep),
            "add {key} {now}"
        );
    }
    // Distinct members: repeats count once, the window forgets.
    for (now, since, new) in [
        (100i64, 0i64, vec![1u32, 2, 2]),
        (110, 0, vec![2, 3]),
        (120, 0, vec![]),
        (400, 105, vec![4]),
        (900, 800, vec![5, 6, 7]),
    ] {
        assert_eq!(
            memory.distinct_with(7, since, &new, 64),
            shared.distinct_with(7, since, &new, 64),
            "with {now}"
        );
        assert_eq!(
            memory.distinct_add(7, now, since, &new, 64),
            shared.distinct_add(7, now, since, &new, 64),
            "add {now}"
        );
    }
    // The band index: a sender's own repeat is renewed, not repeated; old
    // entries are forgotten.
    // Every entry a store gives, in order of time.
    let entries = |store: &dyn BandIndex, fp: u64, insert: Option<(u64, i64)>, since: i64| {
        let mut v = Vec::new();
        let mut visit = |e| {
            v.push(e);
            true
        };
        match insert {
            Some((sender, now)) => store.band_insert(fp, sender, now, since, &mut visit),
            None => store.band_entries(fp, since, &mut visit),
        }
        .expect("band index");
        v.sort_unstable();
        v
    };
    for (fp, sender, now, since) in [
        (0xabcdu64, 1u64, 100i64, 0i64),
        (0xabcd, 1, 110, 0),
        (0xabce, 2, 120, 0),
        (0x1_0000_abcd, 3, 130, 0),
        (0xabcd, 4, 300, 115),
    ] {
        assert_eq!(
            entries(&memory, fp, None, since),
            entries(&shared, fp, None, since),
            "entries {now}"
        );
        assert_eq!(
            entries(&memory, fp, Some((sender, now)), since),
            entries(&shared, fp, Some((sender, now)), since),
            "insert {now}"
        );
    }
}
