//! One verdict whatever the door: every email fixture gets the same score
//! and the same hits from `check --json` (a process per message), the
//! milter, the spamd protocol, the Rspamd protocol (HTTP `/checkv2` and
//! the legacy `CHECK RSPAMC/1.3`) and the gateway's `/v1/check/email`.

mod common;
#[path = "common/milter_client.rs"]
mod milter_client;

use miltr_common::modifications::ModificationAction;
use std::io::{Read, Write};
use std::sync::Arc;

/// Score and sorted hit ids.
type Seen = (String, Vec<String>);

fn seen(score: f64, mut ids: Vec<String>) -> Seen {
    ids.sort();
    ids.dedup();
    (format!("{score:.1}"), ids)
}

fn exchange(port: u16, request: &[u8]) -> String {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(request).expect("write");
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut a = Vec::new();
    c.read_to_end(&mut a).expect("read");
    String::from_utf8_lossy(&a).into_owned()
}

fn http_json(port: u16, path: &str, raw: &[u8]) -> serde_json::Value {
    let mut req = format!(
        "POST {path} HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
        raw.len()
    )
    .into_bytes();
    req.extend_from_slice(raw);
    let answer = exchange(port, &req);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn spamd(port: u16, raw: &[u8]) -> Seen {
    let mut req =
        format!("SYMBOLS SPAMC/1.5\r\nContent-length: {}\r\n\r\n", raw.len()).into_bytes();
    req.extend_from_slice(raw);
    let a = exchange(port, &req);
    let score = a
        .split("Spam: ")
        .nth(1)
        .and_then(|s| s.split(" ; ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{a}"));
    let body = a.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let ids = body
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    seen(score, ids)
}

fn legacy(port: u16, raw: &[u8]) -> Seen {
    let mut req = format!("CHECK RSPAMC/1.3\r\nContent-length: {}\r\n\r\n", raw.len()).into_bytes();
    req.extend_from_slice(raw);
    let a = exchange(port, &req);
    let score = a
        .split("; ")
        .nth(2)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{a}"));
    let ids = a
        .lines()
        .filter_map(|l| l.strip_prefix("Symbol: "))
        .map(|l| l.split('(').next().unwrap_or_default().to_string())
        .collect();
    seen(score, ids)
}

fn milter_verdict(rt: &tokio::runtime::Runtime, addr: &str, raw: &[u8]) -> Seen {
    let resp = rt.block_on(milter_client::session(addr, "192.0.2.10", raw));
    let status = resp
        .modifications()
        .iter()
        .find_map(|m| match m {
            ModificationAction::AddHeader(h) if h.name() == "X-Spam-Status" => {
                Some(h.value().to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no X-Spam-Status: {resp:?}"));
    let status = status.replace(['\r', '\n', '\t'], "");
    let score = status
        .split("score=")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{status}"));
    let tests = status.split("tests=").nth(1).unwrap_or_default();
    let ids = tests
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "NONE")
        .map(str::to_string)
        .collect();
    seen(score, ids)
}

#[test]
fn every_front_end_gives_the_same_verdict() {
    let (spamd_port, rspamd_port, serve_port) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let _spamd = common::daemon(
        &["spamd", "--listen", &format!("inet:127.0.0.1:{spamd_port}")],
        spamd_port,
    );
    let _rspamd = common::daemon(
        &[
            "rspamd",
            "--listen",
            &format!("127.0.0.1:{rspamd_port}"),
            "--controller",
            "none",
        ],
        rspamd_port,
    );
    let _serve = common::daemon(
        &["serve", "--listen", &format!("127.0.0.1:{serve_port}")],
        serve_port,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let milter_addr = format!("127.0.0.1:{}", common::free_port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = Arc::new(spamsift::Engine::with_defaults().expect("default rules"));
    let listen = spamsift::listener::Listen::Inet(milter_addr.clone());
    let milter = rt.spawn(spamsift::milter::serve(
        engine,
        spamsift::milter::MilterOptions::default(),
        listen,
        async {
            let _ = stopped.await;
        },
    ));
    for _ in 0..100 {
        if std::net::TcpStream::connect(&milter_addr).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut compared = 0;
    for (name, raw) in common::email_fixtures() {
        let check = common::run(&["check", "--json"], &raw);
        let v: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
        let Some(score) = v["score"].as_f64() else {
            continue; // not a message: passed through by every front end
        };
        let ids = |hits: &serde_json::Value| -> Vec<String> {
            hits.as_array()
                .expect("hits")
                .iter()
                .map(|h| h["id"].as_str().expect("id").to_string())
                .collect()
        };
        let want = seen(score, ids(&v["hits"]));
        assert_eq!(spamd(spamd_port, &raw), want, "{name}: spamd");
        assert_eq!(legacy(rspamd_port, &raw), want, "{name}: RSPAMC/1.3");
        let r = http_json(rspamd_port, "/checkv2", &raw);
        let rs = seen(
            r["score"].as_f64().expect("score"),
            r["symbols"]
                .as_object()
                .expect("symbols")
                .keys()
                .cloned()
                .collect(),
        );
        assert_eq!(rs, want, "{name}: /checkv2");
        let s = http_json(serve_port, "/v1/check/email", &raw);
        assert_eq!(
            seen(s["score"].as_f64().expect("score"), ids(&s["hits"])),
            want,
            "{name}: /v1/check/email"
        );
        // Over SMTP a message is lines ending in CRLF: mail with CR-only
        // line ends cannot reach a milter as it is (the test client, like
        // an MTA, splits header fields on LF).
        if !raw.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') {
            assert_eq!(
                milter_verdict(&rt, &milter_addr, &raw),
                want,
                "{name}: milter"
            );
        }
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} fixtures compared");
    let _ = stop.send(());
    let _ = rt.block_on(milter);
}
