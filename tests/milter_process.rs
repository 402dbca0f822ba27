//! The `spamsift milter` process: configuration checks and graceful shutdown
//! on SIGTERM with a session in flight.

use miltr_client::Client;
use miltr_common::actions::Action;
use miltr_common::commands::{Body, Connect, Family, Header};
use miltr_common::optneg::OptNeg;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_util::compat::TokioAsyncReadCompatExt;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn check_config_reads_the_milter_section_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("spamsift.toml");
    std::fs::write(&cfg, "[email]\ntag = 6.0\nreject = 12.0\n\n[milter]\nlisten = \"unix:/tmp/x.sock\"\ntimeout = 3.0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "milter",
            "--check-config",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("configuration OK")
            && text.contains("/tmp/x.sock")
            && text.contains("timeout 3"),
        "{text}"
    );
    std::fs::write(&cfg, "[milter]\nlisten = \"inet:nope\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "milter",
            "--check-config",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("spamsift.toml:1: [milter] invalid listen address")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_session_in_flight() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(["milter", "--listen", &format!("inet:{addr}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = tokio::net::TcpStream::connect(&addr).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = Client::new(OptNeg::default())
        .connect_via(stream.unwrap().compat())
        .await
        .unwrap();
    conn.connect(Connect::new(b"c", Family::Inet, Some(1), b"192.0.2.1"))
        .await
        .unwrap();
    conn.mail(b"<a@example.com>".as_slice()).await.unwrap();
    conn.recipient(b"<b@example.net>".as_slice()).await.unwrap();
    conn.data().await.unwrap();
    conn.header(Header::new(b"Subject", b"FREE MONEY NOW!!!"))
        .await
        .unwrap();
    conn.header(Header::new(b"From", b"x@example.com"))
        .await
        .unwrap();
    conn.end_of_header().await.unwrap();

    // Ask the process to stop while this session is in flight.
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    conn.body(Body::from(b"Make money fast. Click here!\r\n".as_slice()))
        .await
        .unwrap();
    let resp = conn.end_of_body().await.unwrap();
    assert!(matches!(
        resp.final_action(),
        Action::Continue(_) | Action::Replycode(_)
    ));
    assert!(
        !resp.modifications().is_empty(),
        "the session got its verdict"
    );
    let _ = conn.quit().await;

    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "milter did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no longer listening"
    );
}
