//! The HTTP API end to end on loopback, with a real HTTP client.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = extra.to_vec();
    let listen = format!("127.0.0.1:{port}");
    args.extend_from_slice(&["serve", "--listen", &listen, "--max-body", "65536"]);
    let child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{listen}");
    for _ in 0..200 {
        if ureq::get(&format!("{base}/healthz")).call().is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Server { child, base }
}

fn post(url: &str, body: &str) -> (u16, Value) {
    match ureq::post(url)
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{e}"),
    }
}

const SPAM: &str =
    "URGENT! You have WON a £2000 prize. Call 09061701461 from a landline to claim. 150ppm";

#[test]
fn check_batch_policy_report_metrics_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(&["--policies", dir.path().to_str().unwrap()]);
    let b = &s.base;

    let health = ureq::get(&format!("{b}/healthz")).call().unwrap();
    assert_eq!(health.status(), 200);

    let (code, v) = post(&format!("{b}/v1/check"), &json!({"id": 7, "channel": "sms", "from": "+447700900999", "to": "+447700900456", "text": SPAM}).to_string());
    assert_eq!(code, 200);
    assert_eq!(v["id"], 7);
    assert_ne!(v["action"], "ham");
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "SMS_PREMIUM_RATE_NUMBER")
    );

    // a batch of 100, answered in order
    let messages: Vec<Value> = (0..100)
        .map(|i| json!({"id": i, "channel": "sms", "from": "+447700900111", "text": if i % 2 == 0 { SPAM } else { "see you at 8" }}))
        .collect();
    let (code, v) = post(
        &format!("{b}/v1/check"),
        &json!({"messages": messages}).to_string(),
    );
    assert_eq!(code, 200);
    let verdicts = v["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 100);
    for (i, v) in verdicts.iter().enumerate() {
        assert_eq!(v["id"], i);
        assert_eq!(v["action"] != "ham", i % 2 == 0);
    }

    // user rules through the API
    let policy = json!({"allow": [{"sender": "+447700900999"}]});
    let r = ureq::put(&format!("{b}/v1/policy/+447700900456"))
        .send_json(policy)
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        dir.path().join("+447700900456.toml").exists(),
        "written to the policy folder"
    );
    let got: Value = ureq::get(&format!("{b}/v1/policy/+447700900456"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(got["allow"][0]["sender"], "+447700900999");
    let (_, v) = post(
        &format!("{b}/v1/check"),
        &json!({"channel": "sms", "from": "+447700900999", "to": "+447700900456", "text": SPAM})
            .to_string(),
    );
    assert_eq!(v["action"], "ham");
    assert_eq!(v["hits"][0]["id"], "POLICY_ALLOW");
    assert_eq!(
        ureq::delete(&format!("{b}/v1/policy/+447700900456"))
            .call()
            .unwrap()
            .status(),
        204
    );
    assert!(matches!(
        ureq::get(&format!("{b}/v1/policy/+447700900456")).call(),
        Err(ureq::Error::Status(404, _))
    ));

    // complaints about a sender count against its next messages
    let reported =
        json!({"channel": "im", "from": "@pusher", "text": "buy followers now"}).to_string();
    for n in 1..=3 {
        let (code, v) = post(&format!("{b}/v1/report"), &reported);
        assert_eq!((code, v["complaints"].as_u64()), (200, Some(n)));
    }
    let (_, v) = post(
        &format!("{b}/v1/check"),
        &json!({"channel": "im", "from": "@Pusher", "text": "hello"}).to_string(),
    );
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "USER_COMPLAINTS"),
        "{v}"
    );

    // clear errors, never a crash
    let (code, v) = post(&format!("{b}/v1/check"), "{not json");
    assert_eq!(code, 400);
    assert!(v["error"].is_string());
    let (code, v) = post(
        &format!("{b}/v1/check"),
        &json!({"channel": "sms", "text": "x", "colour": "red"}).to_string(),
    );
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("colour"), "{v}");
    // the body is read to its end first, so the client gets the answer
    let (code, v) = post(
        &format!("{b}/v1/check"),
        &json!({"channel": "sms", "text": "x".repeat(100_000)}).to_string(),
    );
    assert_eq!(code, 413);
    assert!(
        v["error"].as_str().unwrap().contains("over the limit"),
        "{v}"
    );
    let (code, _) = post(
        &format!("{b}/v1/check"),
        &json!({"messages": "nope"}).to_string(),
    );
    assert_eq!(code, 400);
    assert!(matches!(
        ureq::get(&format!("{b}/v2/nothing")).call(),
        Err(ureq::Error::Status(404, _))
    ));
    let (code, _) = post(
        &format!("{b}/v1/report"),
        &json!({"channel": "sms", "text": "no sender"}).to_string(),
    );
    assert_eq!(code, 400);

    // still alive, and the metrics count what was classified
    let metrics = ureq::get(&format!("{b}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let sms_spam: u64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("spamsift_messages_total{channel=\"sms\"")
                && !l.contains("action=\"ham\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(sms_spam >= 51, "{metrics}");
    assert!(metrics.contains("spamsift_classify_seconds_bucket{le=\"+Inf\"}"));
    assert!(metrics.contains("spamsift_complaints_total 3"));
}

#[test]
fn complaints_teach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[bayes]\nmin_spam = 5\nmin_ham = 5\n").unwrap();
    let model = dir.path().join("m.bin");
    let root = env!("CARGO_MANIFEST_DIR");
    let trained = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "train",
            "--labelled",
            &format!("{root}/corpora/sms.tsv"),
            "--channel",
            "sms",
            "--out",
            model.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(trained.status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "serve",
            "--listen",
            &listen,
            "--save-feedback",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s = Server {
        child,
        base: format!("http://{listen}"),
    };
    for _ in 0..200 {
        if ureq::get(&format!("{}/healthz", s.base)).call().is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let msg = json!({"channel": "sms", "from": "+447700900321", "text": "exclusive zorblax membership, reply ZORB for your zorblax pass"}).to_string();
    let (_, before) = post(&format!("{}/v1/check", s.base), &msg);
    let p0 = before["bayes"].as_f64().unwrap();
    for _ in 0..5 {
        let (code, v) = post(&format!("{}/v1/report", s.base), &msg);
        assert_eq!((code, v["learned"].as_bool()), (200, Some(true)));
    }
    let (_, after) = post(&format!("{}/v1/check", s.base), &msg);
    let p1 = after["bayes"].as_f64().unwrap();
    assert!(p1 > p0 && p1 > 0.9, "before {p0}, after {p1}");
    use spamsift::bayes::TokenStore;
    let learned_spam = || spamsift::bayes::MemoryStore::load(&model).map(|m| m.learned().spam);
    // Complaints are saved in batches, within a second or so.
    let mut saved = learned_spam();
    for _ in 0..100 {
        if matches!(saved, Ok(n) if n == 15 + 5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        saved = learned_spam();
    }
    assert_eq!(
        saved.unwrap(),
        15 + 5,
        "complaints saved into the model file"
    );
    // One more, then a graceful stop (SIGTERM) at once: it is saved on the way out.
    let (code, _) = post(&format!("{}/v1/report", s.base), &msg);
    assert_eq!(code, 200);
    let mut s = s;
    let stopped = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = s.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(learned_spam().unwrap(), 15 + 6, "saved at shutdown");
}
