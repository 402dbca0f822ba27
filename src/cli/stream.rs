//! `spamsift stream`: the pipe interface for SMS centres and chat gateways.
//! JSON lines in, one JSON verdict per line out, in input order. Lines are
//! classified in parallel in batches of whatever has arrived (up to
//! [`BATCH`]), so a bulk feed runs on all cores and an interactive one gets
//! each answer at once.

use super::progress;
use super::{CmdResult, EngineOpts};
use clap::Args;
use rayon::prelude::*;
use spamsift::Engine;
use spamsift::Record;
use spamsift::message::Channel;
use spamsift::message::short::{ShortMessage, into_message};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;

/// Most lines classified together.
const BATCH: usize = 4096;

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Channel of objects that do not name one.
    #[arg(long, default_value = "sms")]
    channel: Channel,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Longest line accepted, in bytes; longer lines get an error answer.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    max_line: usize,
}

fn answer(engine: &Engine, default: Channel, max_line: usize, n: usize, line: &str) -> String {
    let err = |e: String| Record {
        line: Some(n),
        ..Record::error(e)
    };
    let text = if line.len() > max_line {
        serde_json::to_string(&err(format!(
            "line longer than --max-line {max_line} bytes"
        )))
    } else {
        match serde_json::from_str::<ShortMessage>(line) {
            Err(e) => serde_json::to_string(&err(format!("invalid message JSON: {e}"))),
            Ok(short) => {
                let id = short.id.clone();
                let expected = if short.channel.is_none() {
                    Some(default)
                } else {
                    None
                };
                match into_message(short, expected, line.len()) {
                    Err(e) => serde_json::to_string(&Record {
                        id: id.as_ref(),
                        ..err(e.to_string())
                    }),
                    Ok(msg) => {
                        let v = engine.classify(&msg);
                        engine.observe(&msg, &v);
                        serde_json::to_string(&Record {
                            line: Some(n),
                            id: id.as_ref(),
                            ..Record::of(&v)
                        })
                    }
                }
            }
        }
    };
    text.unwrap_or_else(|e| format!("{{\"line\":{n},\"error\":\"cannot encode verdict: {e}\"}}"))
}

pub fn run(opts: &EngineOpts, args: StreamArgs) -> CmdResult {
    // Lines of another channel (an object may name one) compile theirs
    // when the first of them comes.
    let engine = opts.build_for_channel(args.channel)?;
    let pool = progress::pool_or_fail(args.jobs)?;
    // A reader thread hands lines over as they come; the main loop takes
    // whatever is waiting, classifies it in parallel and answers in order.
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<String, String>)>(BATCH * 4);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for (i, line) in stdin.lock().split(b'\n').enumerate() {
            let item = line
                .map(|l| {
                    String::from_utf8_lossy(&l)
                        .trim_end_matches('\r')
                        .to_string()
                })
                .map_err(|e| e.to_string());
            let stop = item.is_err();
            if tx.send((i + 1, item)).is_err() || stop {
                break;
            }
        }
    });
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = rx.recv() {
        batch.clear();
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let answers: Vec<Option<String>> = pool.install(|| {
            batch
                .par_iter()
                .map(|(n, item)| match item {
                    Ok(line) if line.trim().is_empty() => None,
                    Ok(line) => Some(answer(&engine, args.channel, args.max_line, *n, line)),
                    Err(e) => Some(format!(
                        "{{\"line\":{n},\"error\":{}}}",
                        serde_json::Value::String(format!("cannot read input: {e}"))
                    )),
                })
                .collect()
        });
        for a in answers.into_iter().flatten() {
            out.write_all(a.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    // The process ends here: freeing the matchers one by one only delays
    // the exit (5% of a start-up).
    std::mem::forget(engine);
    Ok(ExitCode::SUCCESS)
}
