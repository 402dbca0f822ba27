//! Reputation filters from the CLI into the engine: block lists add hits,
//! allow lists decide ham before content rules.

use spamsift::{Action, Engine, Message};
mod common;

use common::{root, spamsift};
use std::path::{Path, PathBuf};

fn build(dir: &Path, kind: &str, list: &str, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "reputation",
        "build",
        "--kind",
        kind,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let list = root().join("corpora/reputation").join(list);
    args.push(list.to_str().unwrap());
    let o = spamsift(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// A rule directory: the default rules plus reputation sources.
fn engine_with_reputation() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("rules")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let key = dir.path().join("partner.key");
    std::fs::write(&key, b"0123456789abcdef-shared-secret").unwrap();
    build(dir.path(), "ip", "blocked-ips.txt", "ips.rep", &[]);
    build(
        dir.path(),
        "domain",
        "blocked-domains.txt",
        "domains.rep",
        &[],
    );
    build(
        dir.path(),
        "phone",
        "blocked-phones.txt",
        "phones.rep",
        &["--key", key.to_str().unwrap()],
    );
    build(
        dir.path(),
        "im-account",
        "blocked-accounts.txt",
        "accounts.rep",
        &[],
    );
    build(
        dir.path(),
        "domain",
        "allowed-domains.txt",
        "allow.rep",
        &[],
    );
    std::fs::write(
        dir.path().join("zz-reputation.toml"),
        r#"
[[reputation]]
id = "RCVD_IN_LOCAL_BL"
description = "Client IP on the local block list"
score = 3.0
kind = "ip"
file = "ips.rep"
identities = ["client_ip"]

[[reputation]]
id = "URIBL_LOCAL"
description = "Links to a listed domain"
score = 3.0
kind = "domain"
file = "domains.rep"
identities = ["url_hosts", "from_domain"]

[[reputation]]
id = "SMS_SENDER_BL"
description = "SMS sender on a shared (keyed) block list"
score = 4.0
kind = "phone"
file = "phones.rep"
key = "partner.key"
identities = ["sender"]
channels = ["sms"]

[[reputation]]
id = "IM_SENDER_BL"
description = "IM account on the block list"
score = 4.0
kind = "im-account"
file = "accounts.rep"
identities = ["sender"]
channels = ["im"]

[[reputation]]
id = "ALLOW_LOCAL_DOMAIN"
description = "Sender domain on the allow list"
score = -5.0
kind = "domain"
file = "allow.rep"
identities = ["from_domain"]
allow = true
"#,
    )
    .unwrap();
    let engine = Engine::from_dir(dir.path()).unwrap();
    (dir, engine)
}

fn email(from: &str, rcvd_ip: &str, body: &str) -> Message {
    Message::from_email(
        format!(
            "Received: from x (x [{rcvd_ip}]) by mx.example.net\nFrom: {from}\nTo: bob@example.net\nSubject: hello\nDate: Mon, 6 May 2024 09:12:00 +0000\nMessage-ID: <1@x.example>\n\n{body}\n"
        )
        .as_bytes(),
    )
}

#[test]
fn block_lists_add_hits_for_each_identity() {
    let (_d, engine) = engine_with_reputation();
    let v = engine.classify(&email(
        "a@friend.example",
        "203.0.113.77",
        "see http://www.pills.example.info/x",
    ));
    assert!(
        v.hit("RCVD_IN_LOCAL_BL") && v.hit("URIBL_LOCAL"),
        "{}",
        v.tests()
    );
    let clean = engine.classify(&email(
        "a@friend.example",
        "192.0.2.1",
        "see http://example.org/",
    ));
    assert!(!clean.hit("RCVD_IN_LOCAL_BL") && !clean.hit("URIBL_LOCAL"));
    let sms =
        Message::from_json(r#"{"channel":"sms","from":"0906 170 1461","text":"hi"}"#).unwrap();
    assert!(
        engine.classify(&sms).hit("SMS_SENDER_BL"),
        "national number normalised to E.164"
    );
    let sc = Message::from_json(r#"{"channel":"sms","from":"80082","text":"hi"}"#).unwrap();
    assert!(engine.classify(&sc).hit("SMS_SENDER_BL"));
    let im = Message::from_json(r#"{"channel":"im","from":"@Earn_Fast","text":"hi"}"#).unwrap();
    assert!(engine.classify(&im).hit("IM_SENDER_BL"));
    let im_ok = Message::from_json(r#"{"channel":"im","from":"@friend","text":"hi"}"#).unwrap();
    assert!(!engine.classify(&im_ok).hit("IM_SENDER_BL"));
}

#[test]
fn allow_list_wins_over_content() {
    let (_d, engine) = engine_with_reputation();
    let spammy = "URGENT!!! You have won $1,000,000. Click here to claim your prize. Viagra, no prescription. To be removed from our mailing list click here.";
    let from_stranger = engine.classify(&email("x@stranger.example", "192.0.2.1", spammy));
    assert!(from_stranger.is_spam(), "{}", from_stranger.tests());
    let from_partner = engine.classify(&email("it@corp.example.com", "192.0.2.1", spammy));
    assert_eq!(from_partner.action, Action::Ham);
    assert_eq!(from_partner.tests(), "ALLOW_LOCAL_DOMAIN");
    // subdomains of an allowed domain are allowed too
    assert_eq!(
        engine
            .classify(&email("x@mail.corp.example.com", "192.0.2.1", spammy))
            .action,
        Action::Ham
    );
}

#[test]
fn rule_errors_name_the_reputation_entry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.toml"),
        "[[reputation]]\nid = \"X_BL\"\nscore = 1.0\nkind = \"ip\"\nfile = \"missing.rep\"\nidentities = [\"client_ip\"]\n\n[[reputation]]\nid = \"Y_BL\"\nkind = \"phone\"\nfile = \"x\"\nidentities = [\"client_ip\"]\n",
    )
    .unwrap();
    let e = Engine::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("r.toml:1: rule X_BL:") && e.contains("missing.rep"),
        "{e}"
    );
    assert!(
        e.contains("r.toml:8: rule Y_BL: identity client_ip cannot be looked up in a phone filter"),
        "{e}"
    );
}

#[test]
fn cli_build_query_merge_info_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let a = build(
        dir.path(),
        "domain",
        "blocked-domains.txt",
        "a.rep",
        &["--fp-rate", "0.01", "--capacity", "1000"],
    );
    let q = spamsift(&[
        "reputation",
        "query",
        a.to_str().unwrap(),
        "www.pills.example.info",
        "example.org",
    ]);
    assert_eq!(q.status.code(), Some(0));
    let text = String::from_utf8_lossy(&q.stdout);
    assert!(
        text.contains("www.pills.example.info\tlisted") && text.contains("example.org\tnot listed"),
        "{text}"
    );
    assert_eq!(
        spamsift(&["reputation", "query", a.to_str().unwrap(), "clean.example"])
            .status
            .code(),
        Some(1)
    );
    // merge with a compatible filter
    let b = build(
        dir.path(),
        "domain",
        "allowed-domains.txt",
        "b.rep",
        &["--fp-rate", "0.01", "--capacity", "1000"],
    );
    let m = dir.path().join("m.rep");
    let out = spamsift(&[
        "reputation",
        "merge",
        "--out",
        m.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = spamsift(&[
        "reputation",
        "query",
        m.to_str().unwrap(),
        "corp.example.com",
        "pills.example.info",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&q.stdout)
            .matches("\tlisted")
            .count(),
        2
    );
    // incompatible kinds are refused with a clear error
    let ips = build(
        dir.path(),
        "ip",
        "blocked-ips.txt",
        "i.rep",
        &["--fp-rate", "0.01"],
    );
    let out = spamsift(&[
        "reputation",
        "merge",
        "--out",
        m.to_str().unwrap(),
        a.to_str().unwrap(),
        ips.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot merge"));
    // info
    let info = spamsift(&["reputation", "info", a.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["kind"], "domain");
    assert_eq!(v["items"], 5);
    // invalid lines are reported with line numbers, skipped, or refused with --strict
    let list = dir.path().join("mixed.txt");
    std::fs::write(&list, "1.2.3.4\nnot an ip\n5.6.7.0/24\n").unwrap();
    let out_f = dir.path().join("x.rep");
    let o = spamsift(&[
        "reputation",
        "build",
        "--kind",
        "ip",
        "--out",
        out_f.to_str().unwrap(),
        list.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("mixed.txt:2: not an IP address"));
    let strict = dir.path().join("s.rep");
    let o = spamsift(&[
        "reputation",
        "build",
        "--strict",
        "--kind",
        "ip",
        "--out",
        strict.to_str().unwrap(),
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!strict.exists());
    // truncated file
    let bytes = std::fs::read(&a).unwrap();
    std::fs::write(&a, &bytes[..bytes.len() / 2]).unwrap();
    let o = spamsift(&["reputation", "info", a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated or corrupted"));
}

/// A message as a front end hands it over: from `ip`, authenticated for
/// `dkim` when given.
fn delivered(e: &Engine, fixture: &str, ip: &str, dkim: Option<&str>) -> Message {
    let raw = std::fs::read(root().join("tests/fixtures/email").join(fixture)).unwrap();
    let mut msg = e.parse_email(&raw);
    spamsift::frontend::Envelope {
        client_ip: Some(ip.parse().unwrap()),
        auth: dkim.map(|d| spamsift::auth::AuthResults {
            dkim: spamsift::auth::Outcome::Pass,
            dkim_domains: vec![d.to_string()],
            ..Default::default()
        }),
        ..Default::default()
    }
    .apply(&mut msg);
    msg
}

fn learning_engine() -> Engine {
    let config = spamsift::Config::from_toml(
        "test.toml",
        "[reputation]\nenabled = true\nmin_messages = 5\n",
    )
    .unwrap();
    Engine::builder().config(config).build().unwrap()
}

#[test]
fn reputation_is_learned_from_verdicts_of_unforgeable_sources() {
    let e = learning_engine();
    let spam = "spam-advance-fee.eml";
    let ham = "ham-list-reply.eml";
    // Four spam verdicts for a network: not yet a reputation.
    for i in 1..=4 {
        let m = delivered(&e, spam, &format!("203.0.113.{i}"), None);
        e.observe(&m, &e.classify(&m));
    }
    assert!(
        !e.classify(&delivered(&e, ham, "203.0.113.50", None))
            .hit("REP_NET_BAD")
    );
    // The fifth: its /24 is a spam source, for any message from it...
    let m = delivered(&e, spam, "203.0.113.5", None);
    e.observe(&m, &e.classify(&m));
    let v = e.classify(&delivered(&e, ham, "203.0.113.50", None));
    assert!(v.hit("REP_NET_BAD"), "{:?}", v.hits);
    // ...but not for the next network, nor for a private address (local
    // submission), which is never counted.
    assert!(
        !e.classify(&delivered(&e, ham, "203.0.114.50", None))
            .hit("REP_NET_BAD")
    );
    for _ in 0..6 {
        let m = delivered(&e, spam, "10.1.2.3", None);
        e.observe(&m, &e.classify(&m));
    }
    assert!(
        !e.classify(&delivered(&e, spam, "10.1.2.4", None))
            .hit("REP_NET_BAD")
    );
    // A domain that signs its ham earns a good name; one that signs spam,
    // a bad one. The verdict it counts by leaves the reputation hits out,
    // so the bad network's ham still counts as ham.
    for i in 0..5 {
        let m = delivered(&e, ham, &format!("198.51.100.{i}"), Some("lists.example"));
        e.observe(&m, &e.classify(&m));
        let m = delivered(&e, spam, &format!("192.0.2.{i}"), Some("spammer.example"));
        e.observe(&m, &e.classify(&m));
    }
    let good = e.classify(&delivered(&e, ham, "198.51.100.9", Some("lists.example")));
    assert!(good.hit("REP_DOMAIN_GOOD"), "{:?}", good.hits);
    let bad = e.classify(&delivered(&e, ham, "198.51.100.9", Some("spammer.example")));
    assert!(bad.hit("REP_DOMAIN_BAD"), "{:?}", bad.hits);
    // A From domain alone is never a source: the same ham unsigned gets
    // no domain reputation.
    let unsigned = e.classify(&delivered(&e, ham, "198.51.100.9", None));
    assert!(!unsigned.hits.iter().any(|h| h.id.starts_with("REP_DOMAIN")));
    // Without [reputation] enabled: no counting, no hits.
    let plain = Engine::builder().build().unwrap();
    for _ in 0..6 {
        let m = delivered(&plain, spam, "203.0.113.1", None);
        plain.observe(&m, &plain.classify(&m));
    }
    assert!(
        !plain
            .classify(&delivered(&plain, ham, "203.0.113.2", None))
            .hit("REP_NET_BAD")
    );
}

#[test]
fn a_reputation_score_on_the_wrong_side_is_a_config_error() {
    let e = spamsift::Config::from_toml("site.toml", "\n[reputation]\ngood_score = 1.5\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("site.toml:2:") && e.contains("good_score"),
        "{e}"
    );
}
