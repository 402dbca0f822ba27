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

/// The write token every test server is configured with.
const TOKEN: &str = "test-token-0123456789abcdef";
const AUTH: &str = "Bearer test-token-0123456789abcdef";

/// A config file allowing writes with [`TOKEN`] (and `extra` settings).
fn token_config(dir: &std::path::Path, extra: &str) -> String {
    let cfg = dir.join("serve.toml");
    std::fs::write(&cfg, format!("[serve]\ntoken = \"{TOKEN}\"\n{extra}")).unwrap();
    cfg.to_str().unwrap().to_string()
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
    post_as(url, body, &[])
}

/// POST with extra headers (name, value).
fn post_as(url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = ureq::post(url).set("Content-Type", "application/json");
    for (n, v) in headers {
        req = req.set(n, v);
    }
    match req.send_string(body) {
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
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = token_config(cfg_dir.path(), "");
    let s = start(&["--config", &cfg, "--policies", dir.path().to_str().unwrap()]);
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
        .set("Authorization", AUTH)
        .send_json(policy)
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        dir.path().join("+447700900456.toml").exists(),
        "written to the policy folder"
    );
    let got: Value = ureq::get(&format!("{b}/v1/policy/+447700900456"))
        .set("Authorization", AUTH)
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
            .set("Authorization", AUTH)
            .call()
            .unwrap()
            .status(),
        204
    );
    assert!(matches!(
        ureq::get(&format!("{b}/v1/policy/+447700900456"))
            .set("Authorization", AUTH)
            .call(),
        Err(ureq::Error::Status(404, _))
    ));

    // complaints about a sender count against its next messages
    let reported =
        json!({"channel": "im", "from": "@pusher", "text": "buy followers now"}).to_string();
    for n in 1..=3 {
        let reporter = format!("user{n}");
        let (code, v) = post_as(
            &format!("{b}/v1/report"),
            &reported,
            &[("Authorization", AUTH), ("X-Spamsift-Reporter", &reporter)],
        );
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
    let (code, _) = post_as(
        &format!("{b}/v1/report"),
        &json!({"channel": "sms", "text": "no sender"}).to_string(),
        &[("Authorization", AUTH)],
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
    std::fs::write(
        &cfg,
        format!("[bayes]\nmin_spam = 5\nmin_ham = 5\n[serve]\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
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
    // Five users report five variants: each is learned once.
    for i in 0..5 {
        let reporter = format!("user{i}");
        let variant = json!({"channel": "sms", "from": "+447700900321", "text": format!("exclusive zorblax membership, reply ZORB for your zorblax pass {i}")}).to_string();
        let (code, v) = post_as(
            &format!("{}/v1/report", s.base),
            &variant,
            &[("Authorization", AUTH), ("X-Spamsift-Reporter", &reporter)],
        );
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
    let (code, _) = post_as(
        &format!("{}/v1/report", s.base),
        &msg,
        &[("Authorization", AUTH)],
    );
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

#[test]
fn writes_need_a_credential() {
    let policy = json!({"allow": [{"sender": "+447700900999"}]});
    let put = |b: &str, auth: Option<&str>| {
        let mut r = ureq::put(&format!("{b}/v1/policy/+447700900456"));
        if let Some(a) = auth {
            r = r.set("Authorization", a);
        }
        match r.send_json(policy.clone()) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    // Nothing configured: writes are off, even from loopback.
    let open = start(&[]);
    assert_eq!(put(&open.base, None), 403);
    let (code, _) = post(
        &format!("{}/v1/report", open.base),
        &json!({"channel": "sms", "from": "+447700900123", "text": "x"}).to_string(),
    );
    assert_eq!(code, 403);
    // Reading a policy needs the credential too.
    assert!(matches!(
        ureq::get(&format!("{}/v1/policy/+447700900456", open.base)).call(),
        Err(ureq::Error::Status(403, _))
    ));
    drop(open);

    let cfg_dir = tempfile::tempdir().unwrap();
    let tokened = start(&["--config", &token_config(cfg_dir.path(), "")]);
    assert_eq!(put(&tokened.base, None), 401);
    assert_eq!(
        put(&tokened.base, Some("Bearer wrong-token-0123456789")),
        401
    );
    assert_eq!(put(&tokened.base, Some(AUTH)), 200);
    drop(tokened);

    let ip_dir = tempfile::tempdir().unwrap();
    let cfg = ip_dir.path().join("c.toml");
    std::fs::write(&cfg, "[serve]\nallowed_ips = [\"127.0.0.0/8\"]\n").unwrap();
    let by_ip = start(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(put(&by_ip.base, None), 200);
}

#[test]
fn complaints_count_once_per_reporter_and_are_capped() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let s = start(&[
        "--config",
        &token_config(cfg_dir.path(), "reports_per_hour = 3\n"),
    ]);
    let url = format!("{}/v1/report", s.base);
    let msg = |i: u32| {
        json!({"channel": "sms", "from": "+447700900777", "text": format!("offer {i}")}).to_string()
    };
    let as_alice = [("Authorization", AUTH), ("X-Spamsift-Reporter", "alice")];
    let (code, v) = post_as(&url, &msg(1), &as_alice);
    assert_eq!((code, v["complaints"].as_u64()), (200, Some(1)));
    // The same message again from the same reporter changes nothing.
    let (code, v) = post_as(&url, &msg(1), &as_alice);
    assert_eq!(code, 200);
    assert_eq!(v["duplicate"], true, "{v}");
    assert_eq!(v["complaints"].as_u64(), Some(1));
    // 600 repeats still count once.
    for _ in 0..600 {
        post_as(&url, &msg(1), &as_alice);
    }
    let (_, v) = post_as(&url, &msg(1), &as_alice);
    assert_eq!(v["complaints"].as_u64(), Some(1));
    // Another reporter counts; a reporter is capped per hour.
    let (_, v) = post_as(
        &url,
        &msg(1),
        &[("Authorization", AUTH), ("X-Spamsift-Reporter", "bob")],
    );
    assert_eq!(v["complaints"].as_u64(), Some(2));
    assert_eq!(post_as(&url, &msg(2), &as_alice).0, 200);
    assert_eq!(post_as(&url, &msg(3), &as_alice).0, 200);
    assert_eq!(post_as(&url, &msg(4), &as_alice).0, 429);
}

#[test]
fn recipient_ids_are_checked_and_errors_show_no_paths() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let s = start(&[
        "--config",
        &token_config(cfg_dir.path(), ""),
        "--policies",
        dir.path().to_str().unwrap(),
    ]);
    for bad in ["a%0Ab", ".hidden", "a%20b", &"x".repeat(300)] {
        let r = ureq::put(&format!("{}/v1/policy/{bad}", s.base))
            .set("Authorization", AUTH)
            .send_json(json!({"allow": [{"sender": "+1"}]}));
        match r {
            Err(ureq::Error::Status(400, r)) => {
                let body = r.into_string().unwrap();
                assert!(!body.contains(dir.path().to_str().unwrap()), "{body}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn slow_and_idle_connections_are_closed_while_healthz_answers() {
    use std::io::{Read, Write};
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = token_config(
        cfg_dir.path(),
        "header_timeout = 1.0\nrequest_timeout = 1.0\n",
    );
    let s = start(&["--config", &cfg]);
    let addr = s.base.trim_start_matches("http://").to_string();
    // 300 connections: half send one byte of a request line, half nothing.
    let mut slow: Vec<std::net::TcpStream> = (0..300)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            if i % 2 == 0 {
                c.write_all(b"G").unwrap();
            }
            c
        })
        .collect();
    // A body that never finishes: answered 408 within the request timeout.
    let mut body = std::net::TcpStream::connect(&addr).unwrap();
    body.write_all(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").unwrap();
    let health = ureq::get(&format!("{}/healthz", s.base))
        .timeout(Duration::from_secs(5))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);
    std::thread::sleep(Duration::from_millis(2500));
    let mut closed = 0;
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 512];
        // Closed: EOF or reset, perhaps after an error answer; still open:
        // the read times out.
        loop {
            match c.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(_) => {
                    closed += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(closed, 300, "idle connections closed by the header timeout");
    body.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut answer = String::new();
    let _ = body.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert_eq!(
        ureq::get(&format!("{}/healthz", s.base))
            .call()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn raw_email_over_http_gets_the_verdict_check_gives() {
    let s = start(&[]);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    for name in [
        "spam-phish-html.eml",
        "ham-newsletter.eml",
        "spam-pharmacy-tagged.eml",
    ] {
        let raw = std::fs::read(fixtures.join(name)).unwrap();
        let r = ureq::post(&format!("{}/v1/check/email?rcpt=bob%40example.org", s.base))
            .set("Helo", "mx.example.net")
            .set("Rcpt", "alice@example.org")
            .send_bytes(&raw)
            .unwrap();
        let v: Value = r.into_json().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
            .args(["check", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        let out = child.wait_with_output().unwrap();
        let expected: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["score"], expected["score"], "{name}: {v}");
        assert_eq!(v["action"], expected["action"], "{name}");
        assert_eq!(v["hits"], expected["hits"], "{name}");
    }
    let bad = ureq::post(&format!("{}/v1/check/email?ip=not-an-address", s.base))
        .send_bytes(b"Subject: x\n\ny\n");
    assert!(matches!(bad, Err(ureq::Error::Status(400, _))), "{bad:?}");
}
