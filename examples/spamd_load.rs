//! Load generator for `spamsift spamd`: N client threads send CHECK
//! requests for every message of the folders given, one connection per
//! message as spamc does, and report messages/s and p50/p99 latency.
//!
//! ```sh
//! spamsift spamd --listen inet:127.0.0.1:7830 &
//! cargo run --release --example spamd_load -- 127.0.0.1:7830 32 DIR...
//! ```

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: spamd_load HOST:PORT CLIENTS DIR...");
        std::process::exit(2);
    }
    let addr = args[0].clone();
    let clients: usize = args[1].parse().unwrap_or(32);
    let mut paths = Vec::new();
    for d in &args[2..] {
        files(std::path::Path::new(d), &mut paths);
    }
    paths.sort();
    let messages: Arc<Vec<Vec<u8>>> = Arc::new(
        paths
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|m| {
                let mut r =
                    format!("CHECK SPAMC/1.5\r\nContent-length: {}\r\n\r\n", m.len()).into_bytes();
                r.extend_from_slice(&m);
                r
            })
            .collect(),
    );
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
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(req) = messages.get(i) else { break };
                    let t = Instant::now();
                    let Ok(mut c) = std::net::TcpStream::connect(&addr) else {
                        continue;
                    };
                    let mut answer = Vec::new();
                    if c.write_all(req).is_ok()
                        && c.read_to_end(&mut answer).is_ok()
                        && answer.starts_with(b"SPAMD/1.1 0 EX_OK")
                    {
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
        "{} messages, {} answered, {clients} clients: {:.0} msg/s, p50 {:.2?}, p99 {:.2?}",
        messages.len(),
        answered.load(Ordering::Relaxed),
        messages.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
}
