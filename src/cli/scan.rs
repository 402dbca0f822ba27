//! `spamsift scan PATH...`: classify many messages in parallel and stream one
//! JSON verdict per message, in input order.

use super::progress;
use super::{CmdResult, EngineOpts};
use clap::Args;
use rayon::prelude::*;
use spamsift::corpus::split_mbox;
use spamsift::message::{Channel, short};
use spamsift::{Engine, Verdict};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Messages classified per parallel batch; output is written batch by batch.
const BATCH: usize = 2048;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders: email files, message folders, maildirs, mbox files;
    /// with --channel sms|im, JSONL files (one message object per line). `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Channel: email reads raw messages; sms and im read JSONL.
    #[arg(long, default_value = "email")]
    channel: Channel,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Largest message classified, in bytes; larger ones are reported, not read.
    #[arg(long, default_value_t = 20 * 1024 * 1024, value_name = "BYTES")]
    max_size: u64,
    /// Authenticate email (DKIM, DMARC, ARC; SPF needs a connection, so
    /// not here) and ask the DNS lists, with the `[dns]` resolver. Off by
    /// default so corpus runs are reproducible and make no queries.
    #[arg(long)]
    dns: bool,
}

/// The resolver side of `--dns`: a runtime for the lookups, shared by the
/// workers, and the authenticator with its cache.
struct Dns {
    runtime: tokio::runtime::Runtime,
    auth: spamsift::auth::Authenticator,
}

impl Dns {
    fn new(engine: &Engine) -> Result<Dns, String> {
        let auth = spamsift::auth::Authenticator::from_config(engine.config())?.ok_or(
            "--dns needs a [dns] section in the config (servers = [\"127.0.0.1:53\"] or \"system\")",
        )?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("--dns: {e}"))?;
        Ok(Dns { runtime, auth })
    }

    /// Authenticate and classify one raw email.
    fn check(&self, engine: &Engine, raw: &[u8]) -> Verdict {
        let mut envelope = spamsift::frontend::Envelope::default();
        let parsed = self
            .runtime
            .block_on(envelope.authenticate(Some(&self.auth), engine, raw));
        let limits = spamsift::frontend::Limits {
            max_size: usize::MAX,
            timeout: engine.config().limits.budget(),
        };
        match spamsift::frontend::check_email_prepared(engine, raw, parsed, &envelope, &limits) {
            spamsift::frontend::Outcome::Classified(v) => v,
            // Out of its budget or a panic: as the engine reports it
            // without DNS.
            spamsift::frontend::Outcome::PassedThrough(_) => {
                check(engine, &engine.parse_email(raw))
            }
        }
    }
}

/// One unit of input.
enum Input {
    Email {
        origin: String,
        raw: Vec<u8>,
    },
    /// An email file of a folder, read when its batch is classified (by the
    /// worker that classifies it), so a folder of any size is never held in
    /// memory at once.
    EmailFile {
        origin: String,
        path: PathBuf,
    },
    Json {
        origin: String,
        line: String,
    },
    Unreadable {
        origin: String,
        why: String,
    },
}

/// Where inputs come from: ready ones, or a JSONL source (SMS/IM) read a
/// batch at a time, so a file of any size is never held in memory.
enum Source {
    Ready(Input),
    JsonLines {
        origin: String,
        reader: Box<dyn BufRead>,
        line: usize,
    },
}

/// The inputs, one batch at a time.
struct Inputs {
    sources: std::collections::VecDeque<Source>,
    max_line: u64,
}

impl Inputs {
    /// Up to `n` inputs; empty at the end.
    fn next_batch(&mut self, n: usize) -> Vec<Input> {
        let mut out = Vec::with_capacity(n.min(4096));
        while out.len() < n {
            let Some(front) = self.sources.front_mut() else {
                break;
            };
            match front {
                Source::Ready(_) => {
                    if let Some(Source::Ready(i)) = self.sources.pop_front() {
                        out.push(i);
                    }
                }
                Source::JsonLines {
                    origin,
                    reader,
                    line,
                } => {
                    let mut buf = Vec::new();
                    match reader
                        .by_ref()
                        .take(self.max_line + 1)
                        .read_until(b'\n', &mut buf)
                    {
                        Ok(0) => {
                            self.sources.pop_front();
                        }
                        Ok(_) => {
                            *line += 1;
                            let origin = format!("{origin}:{line}");
                            if buf.len() as u64 > self.max_line && !buf.ends_with(b"\n") {
                                // Skip the rest of the overlong line.
                                let mut rest = Vec::new();
                                let _ = reader.read_until(b'\n', &mut rest);
                                out.push(Input::Unreadable {
                                    origin,
                                    why: format!("line longer than {} bytes", self.max_line),
                                });
                                continue;
                            }
                            match String::from_utf8(buf) {
                                Ok(l) if l.trim().is_empty() => {}
                                Ok(l) => out.push(Input::Json {
                                    origin,
                                    line: l.trim_end_matches(['\n', '\r']).to_string(),
                                }),
                                Err(e) => out.push(Input::Unreadable {
                                    origin,
                                    why: e.to_string(),
                                }),
                            }
                        }
                        Err(e) => {
                            out.push(Input::Unreadable {
                                origin: format!("{origin}:{}", *line + 1),
                                why: e.to_string(),
                            });
                            self.sources.pop_front();
                        }
                    }
                }
            }
        }
        out
    }
}

pub fn run(opts: &EngineOpts, args: ScanArgs) -> CmdResult {
    // Only the channel scanned is compiled.
    let engine = opts.build_for_channel(args.channel)?;
    let dns = if args.dns {
        Some(Dns::new(&engine).map_err(super::Failure::setup)?)
    } else {
        None
    };
    let pool = progress::pool_or_fail(args.jobs)?;
    let (sources, mut skipped) = collect_inputs(&args);
    let ready = sources
        .iter()
        .filter(|s| matches!(s, Source::Ready(_)))
        .count();
    let pb = progress::bar(ready as u64, "scanning");
    let mut inputs = Inputs {
        sources: sources.into(),
        max_line: args.max_size,
    };
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let (mut spam, mut errors, mut lines) = (0usize, 0usize, 0usize);
    loop {
        let batch = inputs.next_batch(BATCH);
        if batch.is_empty() {
            break;
        }
        let streamed = batch
            .iter()
            .filter(|i| matches!(i, Input::Json { .. }))
            .count();
        pb.inc_length(streamed as u64);
        let results: Vec<(String, Scanned)> = pool.install(|| {
            batch
                .par_iter()
                .map(|i| classify(&engine, dns.as_ref(), i, args.channel, args.max_size))
                .collect()
        });
        for (origin, r) in &results {
            let line = match r {
                Scanned::Skipped(why) => {
                    skipped.push((origin.clone(), why.clone()));
                    continue;
                }
                Scanned::Verdict(v) => {
                    lines += 1;
                    spam += usize::from(v.is_spam());
                    spamsift::Record {
                        origin: Some(origin),
                        ..spamsift::Record::of(v)
                    }
                }
                Scanned::Error(e) => {
                    lines += 1;
                    errors += 1;
                    spamsift::Record {
                        origin: Some(origin),
                        ..spamsift::Record::error(e.clone())
                    }
                }
            };
            serde_json::to_writer(&mut w, &line).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
        }
        pb.inc(batch.len() as u64);
    }
    pb.finish_and_clear();
    w.flush()?;
    eprintln!(
        "spamsift: scanned {lines} message(s): {spam} spam, {errors} not classified; {} skipped as not mail",
        skipped.len()
    );
    for line in spamsift::corpus::skipped_summary(&skipped) {
        eprintln!("spamsift: {line}");
    }
    // The process ends here: freeing the matchers one by one only delays
    // the exit.
    std::mem::forget(engine);
    // Like check's 3: something could not be classified.
    Ok(if errors > 0 {
        ExitCode::from(super::check::EXIT_PASSED_THROUGH)
    } else {
        ExitCode::SUCCESS
    })
}

/// What became of one input.
enum Scanned {
    Verdict(Verdict),
    /// Could not be read or classified: reported on its own line.
    Error(String),
    /// A folder entry that is not mail: counted, not reported.
    Skipped(String),
}

impl From<Result<Verdict, String>> for Scanned {
    fn from(r: Result<Verdict, String>) -> Self {
        match r {
            Ok(v) => Scanned::Verdict(v),
            Err(e) => Scanned::Error(e),
        }
    }
}

/// Classify a message and record it in the sender's history.
fn check(engine: &Engine, msg: &spamsift::Message) -> spamsift::Verdict {
    let v = engine.classify(msg);
    engine.observe(msg, &v);
    v
}

fn classify(
    engine: &Engine,
    dns: Option<&Dns>,
    input: &Input,
    channel: Channel,
    max_size: u64,
) -> (String, Scanned) {
    let email = |raw: &[u8]| match dns {
        Some(d) => d.check(engine, raw),
        None => check(engine, &engine.parse_email(raw)),
    };
    let scanned = match input {
        Input::Email { raw, .. } => Scanned::Verdict(email(raw)),
        Input::EmailFile { path, .. } => match read_limited(path, max_size) {
            Ok(raw) if !spamsift::corpus::walk::looks_like_mail(&raw) => {
                Scanned::Skipped("not a message: no header block".into())
            }
            r => r.map(|raw| email(&raw)).into(),
        },
        Input::Json { line, .. } => short::parse(line, Some(channel))
            .map(|m| check(engine, &m))
            .map_err(|e| e.to_string())
            .into(),
        Input::Unreadable { why, .. } => Scanned::Error(why.clone()),
    };
    let origin = match input {
        Input::Email { origin, .. }
        | Input::EmailFile { origin, .. }
        | Input::Json { origin, .. }
        | Input::Unreadable { origin, .. } => origin.clone(),
    };
    (origin, scanned)
}

/// The file's bytes, or why not: an error, or larger than `max` bytes (one
/// open and one `fstat`; a file that grows while read stops at `max + 1`).
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let too_big = || format!("larger than --max-size {max} bytes");
    if len > max {
        return Err(too_big());
    }
    let mut raw = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    file.take(max.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    if raw.len() as u64 > max {
        return Err(too_big());
    }
    Ok(raw)
}

/// The inputs named by the arguments, and `(path, reason)` of the folder
/// entries skipped as not mail.
fn collect_inputs(args: &ScanArgs) -> (Vec<Source>, Vec<(String, String)>) {
    let mut out: Vec<Source> = Vec::new();
    let ready = |i: Input| Source::Ready(i);
    let mut skipped = Vec::new();
    for p in &args.paths {
        let origin = p.display().to_string();
        if origin == "-" && args.channel != Channel::Email {
            out.push(Source::JsonLines {
                origin: "stdin".into(),
                reader: Box::new(std::io::BufReader::new(std::io::stdin())),
                line: 0,
            });
        } else if origin == "-" {
            let mut buf = Vec::new();
            match std::io::stdin()
                .lock()
                .take(args.max_size + 1)
                .read_to_end(&mut buf)
            {
                Ok(_) if buf.len() as u64 > args.max_size => out.push(ready(Input::Unreadable {
                    origin,
                    why: format!("larger than --max-size {} bytes", args.max_size),
                })),
                Ok(_) => push_file_contents(&mut out, "stdin", buf),
                Err(e) => out.push(ready(Input::Unreadable {
                    origin,
                    why: e.to_string(),
                })),
            }
        } else if p.is_dir() {
            // Every subfolder, maildirs understood, what is not mail skipped.
            let walk = spamsift::corpus::walk::walk(p);
            skipped.extend(walk.skipped);
            for (origin, why) in walk.unreadable {
                out.push(ready(Input::Unreadable { origin, why }));
            }
            for f in walk.folders.into_iter().flat_map(|f| f.files) {
                let origin = f.display().to_string();
                if args.channel == Channel::Email {
                    out.push(ready(Input::EmailFile { origin, path: f }));
                } else {
                    out.push(json_lines(origin, &f));
                }
            }
        } else if args.channel != Channel::Email {
            out.push(json_lines(origin, p));
        } else {
            match read_limited(p, args.max_size.saturating_mul(64)) {
                Ok(raw) => push_file_contents(&mut out, &origin, raw),
                Err(why) => out.push(ready(Input::Unreadable { origin, why })),
            }
        }
    }
    (out, skipped)
}

/// A JSONL file (SMS/IM), read a batch at a time when its turn comes.
fn json_lines(origin: String, path: &Path) -> Source {
    match std::fs::File::open(path) {
        Ok(f) => Source::JsonLines {
            origin,
            reader: Box::new(std::io::BufReader::new(f)),
            line: 0,
        },
        Err(e) => Source::Ready(Input::Unreadable {
            origin,
            why: e.to_string(),
        }),
    }
}

/// One email file's messages: an mbox, or a single email.
fn push_file_contents(out: &mut Vec<Source>, origin: &str, raw: Vec<u8>) {
    if raw.starts_with(b"From ") && raw.windows(6).skip(5).any(|w| w == b"\nFrom ") {
        for (i, m) in split_mbox(&raw).into_iter().enumerate() {
            out.push(Source::Ready(Input::Email {
                origin: format!("{origin}#{}", i + 1),
                raw: m,
            }));
        }
    } else {
        out.push(Source::Ready(Input::Email {
            origin: origin.to_string(),
            raw,
        }));
    }
}
