//! Load generator for `spamsift milter`: plays an MTA with N concurrent
//! milter sessions over a corpus, one message per session, and reports
//! messages/s, p50/p99 latency per message and how many were answered.
//!
//! ```sh
//! spamsift milter --listen inet:127.0.0.1:11332 &
//! cargo run --release --example milter_load -- 127.0.0.1:11332 200 DIR...
//! ```
//!
//! It offers what Postfix offers (protocol 6, no reply asked for any
//! command but end of body); `MILTER_LOAD_REPLY_ALL=1` offers nothing, so
//! every command waits for its reply, as with an older MTA.

use miltr_client::Client;
use miltr_common::commands::{Body, Connect, Family, Header};
use miltr_common::optneg::OptNeg;
#[path = "../tests/common/milter_client.rs"]
mod milter_client;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Header fields (name, value) of a message.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn split(raw: &[u8]) -> (Fields, Vec<u8>) {
    let raw = if raw.starts_with(b"From ") {
        raw.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(b"")
    } else {
        raw
    };
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut fields: Fields = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = fields.last_mut() {
                last.1.extend_from_slice(b"\r\n");
                last.1.extend_from_slice(line.as_bytes());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            fields.push((n.as_bytes().to_vec(), v.trim_start().as_bytes().to_vec()));
        }
    }
    (fields, body.replace('\n', "\r\n").into_bytes())
}

async fn one(addr: &str, raw: &[u8]) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    // miltr-client writes each command on its own; with no reply to wait
    // for, Nagle's algorithm would hold each small write for the milter's
    // delayed ACK. Postfix buffers the unanswered commands and sends them
    // in one write; Sendmail sets TCP_NODELAY (MILTER_NO_NAGLE), as here.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let offer = if std::env::var_os("MILTER_LOAD_REPLY_ALL").is_none() {
        milter_client::postfix_offer()
    } else {
        OptNeg::default()
    };
    let mut conn = Client::new(offer)
        .connect_via(stream.compat())
        .await
        .map_err(|e| e.to_string())?;
    let e = |e: miltr_client::ResponseError| e.to_string();
    conn.connect(Connect::new(
        b"load.example",
        Family::Inet,
        Some(25),
        b"192.0.2.9",
    ))
    .await
    .map_err(e)?;
    conn.helo(b"load.example".as_slice()).await.map_err(e)?;
    conn.mail(b"<load@example.com>".as_slice())
        .await
        .map_err(e)?;
    conn.recipient(b"<bob@example.net>".as_slice())
        .await
        .map_err(e)?;
    conn.data().await.map_err(e)?;
    let (fields, body) = split(raw);
    for (n, v) in &fields {
        conn.header(Header::new(n, v)).await.map_err(e)?;
    }
    conn.end_of_header().await.map_err(e)?;
    for chunk in body.chunks(65_000) {
        conn.body(Body::from(chunk)).await.map_err(e)?;
    }
    conn.end_of_body().await.map_err(e)?;
    let _ = conn.quit().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: milter_load ADDR CONCURRENCY DIR...");
        std::process::exit(2);
    }
    let addr = Arc::new(args[0].clone());
    let conc: usize = args[1].parse().expect("concurrency");
    let mut mails = Vec::new();
    for d in &args[2..] {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        v.sort();
        mails.extend(v.into_iter().filter_map(|p| std::fs::read(p).ok()));
    }
    let mails = Arc::new(mails);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conc {
        let (addr, mails, next) = (addr.clone(), mails.clone(), next.clone());
        set.spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= mails.len() {
                    break;
                }
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs(60), one(&addr, &mails[i])).await {
                    Ok(Ok(())) => lat.push(t.elapsed()),
                    Ok(Err(e)) => errors.push(e),
                    Err(_) => errors.push("hung: no answer in 60 s".into()),
                }
            }
            (lat, errors)
        });
    }
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        let (l, e) = r.expect("task");
        lat.extend(l);
        errors.extend(e);
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{} messages, {conc} concurrent sessions: {} answered, {} failed; {:.0} msg/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        mails.len(),
        lat.len(),
        errors.len(),
        lat.len() as f64 / wall,
        pct(0.50),
        pct(0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    for e in errors.iter().take(5) {
        eprintln!("error: {e}");
    }
}
