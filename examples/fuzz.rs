//! A fuzzing harness that runs on stable Rust, for CI and for machines
//! without cargo-fuzz: mutates seed inputs (the test fixtures, or a folder
//! given) at random and runs them through the targets of
//! `spamsift::fuzzing`, failing on a panic or on an input slower than the
//! time budget. A finding is written to `fuzz/artifacts/TARGET/` so it can
//! become a regression fixture.
//!
//! ```sh
//! cargo run --profile fuzz --example fuzz -- [SECONDS] [TARGET|all] [SEED]
//! ```
//! (`cargo fuzz run TARGET` runs the coverage-guided targets in `fuzz/`.)

use spamsift::fuzzing::{Rng, TARGETS, TIME_BUDGET, mutate};
use std::path::Path;
use std::time::{Duration, Instant};

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
