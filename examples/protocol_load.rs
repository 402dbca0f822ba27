//! Load generator for spamsift's MTA protocols: N client threads send every
//! message of the files and folders given, each client as its real
//! counterpart does, and report messages/s and p50/p99 latency.
//!
//! | protocol | requests |
//! |---|---|
//! | `spamd` | `CHECK SPAMC/1.5`, one connection per message (spamc) |
//! | `rspamd` | `POST /checkv2` HTTP/1.0, one connection per message (rspamc) |
//! | `rspamd-keepalive` | `POST /checkv2` HTTP/1.1 on one kept-alive connection per client (Rspamd's proxy) |
//! | `legacy` | `CHECK RSPAMC/1.3`, one connection per message (Exim `variant=rspamd`) |
//! | `http` | `POST /v1/check/email` HTTP/1.1 kept alive (`spamsift serve`) |
//!
//! ```sh
//! spamsift spamd --listen inet:127.0.0.1:7830 &
//! cargo run --release --example protocol_load -- spamd 127.0.0.1:7830 32 DIR...
//! # latency: one client, the same message 1,000 times
//! cargo run --release --example protocol_load -- --repeat 1000 rspamd 127.0.0.1:11333 1 msg.eml
//! # with envelope headers
//! cargo run --release --example protocol_load -- --header "IP: 192.0.2.1" --header "From: a@b.example" rspamd 127.0.0.1:11333 1 msg.eml
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn files(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    for e in rd.flatten() {
        files(&e.path(), out);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Spamd,
    Rspamd,
    RspamdKeepAlive,
    Legacy,
    Http,
}

impl Protocol {
    fn request(self, m: &[u8], extra: &str) -> Vec<u8> {
        let head = match self {
            Protocol::Spamd => format!(
                "CHECK SPAMC/1.5\r\n{extra}Content-length: {}\r\n\r\n",
                m.len()
            ),
            Protocol::Legacy => {
                format!(
                    "CHECK RSPAMC/1.3\r\n{extra}Content-length: {}\r\n\r\n",
                    m.len()
                )
            }
            Protocol::Rspamd => format!(
                "POST /checkv2 HTTP/1.0\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                m.len()
            ),
            Protocol::RspamdKeepAlive => format!(
                "POST /checkv2 HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\n\r\n",
                m.len()
            ),
            Protocol::Http => format!(
                "POST /v1/check/email HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\n\r\n",
                m.len()
            ),
        };
        let mut r = head.into_bytes();
        r.extend_from_slice(m);
        r
    }

    fn keeps_alive(self) -> bool {
        matches!(self, Protocol::RspamdKeepAlive | Protocol::Http)
    }

    fn ok(self, answer: &[u8]) -> bool {
        match self {
            Protocol::Spamd => answer.starts_with(b"SPAMD/1.1 0 EX_OK"),
            Protocol::Legacy => answer.starts_with(b"RSPAMD/1.3 0 EX_OK"),
            _ => answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200"),
        }
    }
}

/// Read one HTTP response (headers and Content-Length body) from a kept-alive connection.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    head.extend_from_slice(&body);
    Ok(head)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut repeat = 1usize;
    let mut extra = String::new();
    loop {
        match args.first().map(String::as_str) {
            Some("--repeat") if args.len() > 1 => {
                repeat = args[1].parse().unwrap_or(1);
                args.drain(..2);
            }
            // A request header to send (`--header "IP: 192.0.2.1"`), repeatable.
            Some("--header") if args.len() > 1 => {
                extra.push_str(&args[1]);
                extra.push_str("\r\n");
                args.drain(..2);
            }
            _ => break,
        }
    }
    let protocol = match args.first().map(String::as_str) {
        Some("spamd") => Protocol::Spamd,
        Some("rspamd") => Protocol::Rspamd,
        Some("rspamd-keepalive") => Protocol::RspamdKeepAlive,
        Some("legacy") => Protocol::Legacy,
        Some("http") => Protocol::Http,
        _ => {
            eprintln!(
                "usage: protocol_load [--repeat N] spamd|rspamd|rspamd-keepalive|legacy|http HOST:PORT CLIENTS PATH..."
            );
            std::process::exit(2);
        }
    };
    if args.len() < 4 {
        eprintln!("usage: protocol_load [--repeat N] PROTOCOL HOST:PORT CLIENTS PATH...");
        std::process::exit(2);
    }
    let addr = args[1].clone();
    let clients: usize = args[2].parse().unwrap_or(32);
    let mut paths = Vec::new();
    for d in &args[3..] {
        files(std::path::Path::new(d), &mut paths);
    }
    paths.sort();
    let one: Vec<Vec<u8>> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|m| protocol.request(&m, &extra))
        .collect();
    let messages: Arc<Vec<Vec<u8>>> =
        Arc::new((0..repeat).flat_map(|_| one.iter().cloned()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(messages.len())));
    let answered = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (messages, next, latencies, answered, addr) = (
                Arc::clone(&messages),
                Arc::clone(&next),
                Arc::clone(&latencies),
                Arc::clone(&answered),
                addr.clone(),
            );
            std::thread::spawn(move || {
                let mut mine: Vec<Duration> = Vec::new();
                let mut kept: Option<BufReader<TcpStream>> = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = messages.get(i) else { break };
                    let t = Instant::now();
                    let answer = if protocol.keeps_alive() {
                        if kept.is_none() {
                            kept = TcpStream::connect(&addr).ok().map(|c| {
                                let _ = c.set_nodelay(true);
                                BufReader::new(c)
                            });
                        }
                        let Some(c) = kept.as_mut() else { continue };
                        let sent = c.get_mut().write_all(req);
                        match sent.and_then(|()| read_response(c)) {
                            Ok(a) => a,
                            Err(_) => {
                                kept = None;
                                Vec::new()
                            }
                        }
                    } else {
                        let Ok(mut c) = TcpStream::connect(&addr) else {
                            continue;
                        };
                        let _ = c.set_nodelay(true);
                        let mut a = Vec::new();
                        if c.write_all(req).is_ok() {
                            let _ = c.read_to_end(&mut a);
                        }
                        a
                    };
                    if protocol.ok(&answer) {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    mine.push(t.elapsed());
                }
                if let Ok(mut all) = latencies.lock() {
                    all.extend(mine);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let secs = start.elapsed().as_secs_f64();
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} requests, {} answered, {clients} clients: {:.0} msg/s, p50 {:.2?}, p99 {:.2?}",
        messages.len(),
        answered.load(Ordering::Relaxed),
        messages.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
}
