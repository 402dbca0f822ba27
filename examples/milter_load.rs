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
//! command but end of body) and writes as Postfix does: commands that get
//! no reply wait in a buffer that goes out when a reply is due, so a
//! message is one write and one answer. `MILTER_LOAD_REPLY_ALL=1` offers
//! nothing, so every command waits for its reply, as with an older MTA.

use bytes::{BufMut, BytesMut};
use miltr_common::actions::Quit;
use miltr_common::commands::{
    Body, Connect, Data, EndOfBody, EndOfHeader, Family, Header, Helo, Mail, Recipient,
};
use miltr_common::encoding::Writable;
use miltr_common::optneg::{OptNeg, Protocol};
#[path = "../tests/common/milter_client.rs"]
mod milter_client;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One side of the conversation as Postfix's milter8 client plays it:
/// each command goes into a write buffer, and the buffer is flushed only
/// when a reply is due (commands negotiated with no reply wait in it).
struct Mta {
    stream: tokio::net::TcpStream,
    out: BytesMut,
    /// The commands the milter agreed not to answer.
    no_reply: Protocol,
}

impl Mta {
    /// Append one command frame (length, code, data).
    fn put(&mut self, command: &impl Writable) {
        self.out.put_u32(command.len() as u32 + 1);
        self.out.put_u8(command.code());
        command.write(&mut self.out);
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| e.to_string())?;
        self.out.clear();
        Ok(())
    }

    /// Read one reply frame: its code and data.
    async fn reply(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut len = [0u8; 4];
        let e = |e: std::io::Error| e.to_string();
        self.stream.read_exact(&mut len).await.map_err(e)?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > 1 << 20 {
            return Err(format!("reply frame of {len} bytes"));
        }
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).await.map_err(e)?;
        Ok((buf[0], buf[1..].to_vec()))
    }

    /// Send a command; when the milter answers it, flush and read the
    /// answer (stopping at a final one: accept, continue, discard, reject,
    /// tempfail, reply code).
    async fn command(&mut self, command: &impl Writable, skip: Protocol) -> Result<(), String> {
        self.put(command);
        if self.no_reply.contains(skip) {
            return Ok(());
        }
        self.flush().await?;
        loop {
            let (code, _) = self.reply().await?;
            if b"acdrty".contains(&code) {
                return Ok(());
            }
        }
    }
}

async fn one(addr: &str, raw: &[u8]) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    // Sendmail sets TCP_NODELAY (MILTER_NO_NAGLE); Postfix's writes are
    // whole buffers.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let offer = if std::env::var_os("MILTER_LOAD_REPLY_ALL").is_none() {
        milter_client::postfix_offer()
    } else {
        OptNeg::default()
    };
    let mut mta = Mta {
        stream,
        out: BytesMut::with_capacity(raw.len() + 1024),
        no_reply: Protocol::empty(),
    };
    mta.put(&offer);
    mta.flush().await?;
    let (code, data) = mta.reply().await?;
    if code != b'O' || data.len() < 12 {
        return Err(format!(
            "option negotiation answered with {:?}",
            code as char
        ));
    }
    let agreed = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
    mta.no_reply = Protocol::from_bits_truncate(agreed) & offer.protocol;
    let connect = Connect::new(b"load.example", Family::Inet, Some(25), b"192.0.2.9");
    mta.command(&connect, Protocol::NR_CONNECT).await?;
    mta.command(&Helo::from(b"load.example".as_slice()), Protocol::NR_HELO)
        .await?;
    mta.command(
        &Mail::from(b"<load@example.com>".as_slice()),
        Protocol::NR_MAIL,
    )
    .await?;
    mta.command(
        &Recipient::from(b"<bob@example.net>".as_slice()),
        Protocol::NR_RECIPIENT,
    )
    .await?;
    mta.command(&Data, Protocol::NR_DATA).await?;
    // The mbox separator some corpora keep is no header field.
    let raw = if raw.starts_with(b"From ") {
        raw.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(b"")
    } else {
        raw
    };
    let (fields, body) = milter_client::split(raw);
    for (n, v) in &fields {
        mta.command(&Header::new(n, v), Protocol::NR_HEADER).await?;
    }
    mta.command(&EndOfHeader, Protocol::NR_END_OF_HEADER)
        .await?;
    for chunk in body.chunks(65_000) {
        mta.command(&Body::from(chunk), Protocol::NR_BODY).await?;
    }
    // End of body is always answered.
    mta.command(&EndOfBody, Protocol::empty()).await?;
    mta.put(&Quit);
    mta.flush().await
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
