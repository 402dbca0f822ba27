//! A fuzzing harness that runs on stable Rust, for CI and for machines
//! without cargo-fuzz: mutates seed inputs (the test fixtures, or a folder
//! given) at random and runs them through the targets of
//! `spamsift::fuzzing`, failing on a panic or on an input slower than the
//! time budget. A finding is written to `fuzz/artifacts/TARGET/` so it can
//! become a regression fixture.
//!
//! ```sh
//! cargo run --release --example fuzz -- [SECONDS] [TARGET|all] [SEED]
//! ```
//! (`cargo fuzz run TARGET` runs the coverage-guided targets in `fuzz/`.)

use spamsift::fuzzing::{TARGETS, TIME_BUDGET};
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: small and deterministic, so a run reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that reach the parsers' special cases.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n\n",
    b":",
    b"<a href=",
    b"</a>",
    b"<a href=http://x>",
    b"<!--",
    b"<style>",
    b"&amp;",
    b"&#x",
    b"=?utf-8?b?",
    b"?=",
    b"--b\n",
    b"Content-Type: multipart/mixed; boundary=b\n",
    b"Content-Transfer-Encoding: base64\n",
    b"http://",
    b"www.",
    b"@",
    b"\xff\xfe",
    b"\0",
    b"X-Spam-Flag: NO\n",
    b"Subject: ",
    b"X-Spam-Prev-Subject: x\n",
    b"{\"channel\":\"sms\",\"text\":\"",
    b"\"}",
    b"[[rule]]\nid = \"A\"\ndescription = \"d\"\nscore = 1.0\nfield = \"body\"\nregex = '",
    b"(a+)+$",
    b"\\d+",
    b"0123456789",
    b"$$$",
    b"meta = \"A && B\"\n",
    b"[[score]]\nid = \"A\"\nscore = 0\n",
    b"\x02\x00\x00\x00\x0dO",
    b"\x00\x00\x00\x01C",
    b"\x00\x00\x00\x05Lsub\0",
    b"\x00\x00\x00\x01E",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.below(8) + 1 {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 | 1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 if at < v.len() => v[at] = rng.next() as u8,
            4 if !v.is_empty() => {
                // Repeat a slice many times: the shape of hostile input.
                let end = (at + 1 + rng.below(16)).min(v.len());
                let piece = v[at.min(end - 1)..end].to_vec();
                let times = 1 + rng.below(5000);
                let rep: Vec<u8> = piece
                    .iter()
                    .copied()
                    .cycle()
                    .take(piece.len() * times)
                    .collect();
                v.splice(at..at, rep);
            }
            _ => v.truncate(at),
        }
    }
    v.truncate(1 << 20);
    v
}

fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    out.sort();
    out
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let which = args.get(1).map_or("all", String::as_str);
    let seed: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pool = seeds(&root.join("tests/fixtures"));
    pool.extend(seeds(&root.join("rules")));
    pool.extend(seeds(&root.join("fuzz/regressions")));
    pool.push(Vec::new());
    let targets: Vec<_> = TARGETS
        .iter()
        .filter(|(n, _)| which == "all" || *n == which)
        .collect();
    if targets.is_empty() {
        eprintln!(
            "unknown target {which}; one of: all {}",
            TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(" ")
        );
        return std::process::ExitCode::from(2);
    }
    // A panic is a finding: report it, keep the input, fail.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed | 1);
    let per_target = Duration::from_secs_f64(seconds / targets.len() as f64);
    let mut failed = false;
    for (name, run) in targets {
        let start = Instant::now();
        let (mut execs, mut slowest) = (0u64, Duration::ZERO);
        while start.elapsed() < per_target {
            let base = &pool[rng.below(pool.len())];
            let input = mutate(&mut rng, base);
            let t = Instant::now();
            let outcome = std::panic::catch_unwind(|| run(&input));
            let took = t.elapsed();
            execs += 1;
            slowest = slowest.max(took);
            let finding = match outcome {
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Some(format!(
                        "panic: {}",
                        msg.chars().take(200).collect::<String>()
                    ))
                }
                Ok(()) if took > TIME_BUDGET => Some(format!("slow: {took:?}")),
                Ok(()) => None,
            };
            if let Some(what) = finding {
                let dir = root.join("fuzz/artifacts").join(name);
                let _ = std::fs::create_dir_all(&dir);
                let file = dir.join(format!("finding-{:016x}", xxhash(&input)));
                let _ = std::fs::write(&file, &input);
                eprintln!(
                    "{name}: {what} ({} bytes) -> {}",
                    input.len(),
                    file.display()
                );
                failed = true;
            }
        }
        println!(
            "{name}: {execs} executions in {:.0?}, slowest input {slowest:.1?}",
            start.elapsed()
        );
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn xxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}
