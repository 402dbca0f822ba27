//! `spamsift check`: the filter. One message in on stdin, the same message
//! out with result headers (or a JSON verdict). Never loses mail.

use super::EngineOpts;
use clap::Args;
use spamsift::frontend::{Envelope, Limits, Outcome as FrontOutcome, check_email_prepared};
use spamsift::message::Channel;
use spamsift::{Verdict, headers};
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

/// Exit code with `--exit-code` when the message is spam.
pub const EXIT_SPAM: u8 = 1;
/// Exit code with `--exit-code` when the message was passed through unclassified.
pub const EXIT_PASSED_THROUGH: u8 = 3;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Channel of the message: email reads raw RFC 5322; sms and im read one
    /// JSON object [default: a JSON object with a "channel" is read as such, else email].
    #[arg(long)]
    channel: Option<Channel>,
    /// Print the verdict as JSON instead of the message.
    #[arg(long)]
    json: bool,
    /// Exit 1 for spam, 0 for ham, 3 when the message could not be classified (like `spamc -E`).
    #[arg(long)]
    exit_code: bool,
    /// Largest message classified, in bytes; larger ones pass through unchanged.
    #[arg(long, default_value_t = 20 * 1024 * 1024, value_name = "BYTES")]
    max_size: usize,
    /// Envelope recipient, whose policy (`--policies`) applies (repeatable;
    /// e.g. Postfix pipe's `${recipient}`). Without it, email recipients are
    /// read from To and Cc, which miss Bcc and mailing-list copies.
    #[arg(long, value_name = "ADDRESS")]
    recipient: Vec<String>,
    /// The SMTP client's address (Postfix pipe's `${client_address}`): the
    /// sender identity, instead of the one read from Received headers.
    #[arg(long, value_name = "IP")]
    client_ip: Option<std::net::IpAddr>,
    /// The HELO name (Postfix pipe's `${client_helo}`).
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// The envelope sender (Postfix pipe's `${sender}`).
    #[arg(long, value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// Undo spamsift's markup instead of classifying (like `spamassassin -d`):
    /// remove every X-Spam-* field and restore a rewritten Subject.
    #[arg(long, conflicts_with_all = ["json", "exit_code"])]
    remove_markup: bool,
}

impl CheckArgs {
    /// The channel read (email until the input says otherwise).
    fn channel(&self) -> Channel {
        self.channel.unwrap_or(Channel::Email)
    }
}

enum Outcome {
    Classified(Verdict),
    PassedThrough,
}

/// Standard output could not be written: the message did not get through.
struct WriteFailed(io::Error);

impl From<io::Error> for WriteFailed {
    fn from(e: io::Error) -> Self {
        WriteFailed(e)
    }
}

/// The channel of input given without `--channel`: a JSON object naming
/// `"channel": "sms"` or `"im"` is a short message, anything else email.
pub fn sniff_channel(input: &[u8]) -> Channel {
    let trimmed = input.trim_ascii_start();
    if !trimmed.starts_with(b"{") {
        return Channel::Email;
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        channel: Option<Channel>,
    }
    match serde_json::from_slice::<Probe>(input) {
        Ok(Probe {
            channel: Some(ch @ (Channel::Sms | Channel::Im)),
        }) => ch,
        _ => Channel::Email,
    }
}

pub fn run(opts: &EngineOpts, mut args: CheckArgs) -> ExitCode {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = Vec::new();
    let mut out = stdout.lock();
    if args.remove_markup {
        let removed = stdin
            .lock()
            .read_to_end(&mut input)
            .and_then(|_| out.write_all(&headers::remove_markup(&input)))
            .and_then(|_| out.flush());
        return match removed {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("spamsift: cannot read input or write output: {e}");
                ExitCode::from(super::EXIT_IO)
            }
        };
    }
    let mut limited = stdin.lock().take(args.max_size as u64 + 1);
    let read = limited.read_to_end(&mut input);
    if args.channel.is_none() {
        args.channel = Some(sniff_channel(&input));
    }
    let outcome = match read {
        Err(e) => pass_through(&mut out, &args, &input, &format!("cannot read input: {e}")),
        Ok(_) if input.len() > args.max_size => {
            let why = format!("message larger than --max-size {} bytes", args.max_size);
            pass_through(&mut out, &args, &input, &why).and_then(|o| {
                // Stream the rest unchanged (not with --json: the verdict
                // object stands for the message).
                if !args.json {
                    io::copy(&mut limited.into_inner(), &mut out)?;
                }
                Ok(o)
            })
        }
        Ok(_) => match catch_unwind(AssertUnwindSafe(|| filter(opts, &args, &input, &mut out))) {
            Ok(o) => o,
            Err(_) => pass_through(
                &mut out,
                &args,
                &input,
                "internal error (panic) while classifying",
            ),
        },
    };
    let outcome = outcome.and_then(|o| {
        out.flush()?;
        Ok(o)
    });
    match outcome {
        Err(WriteFailed(e)) => {
            // The MTA must not believe the message was delivered.
            eprintln!("spamsift: cannot write output: {e}");
            ExitCode::from(super::EXIT_IO)
        }
        Ok(Outcome::Classified(v)) if args.exit_code && v.is_spam() => ExitCode::from(EXIT_SPAM),
        Ok(Outcome::PassedThrough) if args.exit_code => ExitCode::from(EXIT_PASSED_THROUGH),
        Ok(_) => ExitCode::SUCCESS,
    }
}

/// Pass the input on unclassified, saying why on stderr: unchanged but for
/// the sender's own X-Spam-* fields (a forged verdict never rides through
/// on a failure), or with `--json` (and for SMS/IM) a JSON object saying so.
fn pass_through(
    out: &mut impl Write,
    args: &CheckArgs,
    input: &[u8],
    why: &str,
) -> Result<Outcome, WriteFailed> {
    eprintln!("spamsift: {why}; message passed through unchanged");
    if args.json || args.channel() != Channel::Email {
        let obj = serde_json::json!({
            "channel": args.channel(),
            "action": "pass",
            "error": why,
        });
        serde_json::to_writer(&mut *out, &obj).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(&headers::strip_result_fields(input))?;
    }
    Ok(Outcome::PassedThrough)
}

fn filter(
    opts: &EngineOpts,
    args: &CheckArgs,
    input: &[u8],
    out: &mut impl Write,
) -> Result<Outcome, WriteFailed> {
    // Only this channel's matchers, built for one message: start-up is
    // what a filter run once per message pays.
    let engine = match opts.builder().and_then(|b| {
        b.compile_channels(&[args.channel()])
            .build_for(spamsift::rules::BuildFor::StartUp)
            .build()
    }) {
        Ok(e) => e,
        Err(e) => {
            return pass_through(
                out,
                args,
                input,
                &format!("cannot load rules, config or model:\n{e}"),
            );
        }
    };
    // The Authentication-Results field to add, when authenticated and
    // `[dns] authserv_id` names this host.
    let mut auth_results: Option<String> = None;
    let verdict = match args.channel() {
        // Email goes through the seam every email front end shares.
        Channel::Email => {
            let mut envelope = Envelope {
                client_ip: args.client_ip,
                helo: args.helo.clone(),
                mail_from: args.mail_from.clone(),
                recipients: args.recipient.clone(),
                ..Envelope::default()
            };
            // Sender authentication, when `[dns]` is configured: a small
            // runtime for the lookups, bounded by `[dns] budget`.
            let mut parsed = None;
            if input.len() <= args.max_size {
                match spamsift::auth::Authenticator::from_config(engine.config()) {
                    Ok(Some(auth)) => {
                        match tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            Ok(rt) => {
                                parsed =
                                    rt.block_on(envelope.authenticate(Some(&auth), &engine, input));
                            }
                            Err(e) => tracing::warn!("no sender authentication: {e}"),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("no sender authentication: {e}"),
                }
            }
            if let (Some(a), Some(id)) = (
                &envelope.auth,
                engine
                    .config()
                    .dns
                    .as_ref()
                    .and_then(|d| d.authserv_id.as_deref()),
            ) {
                auth_results = Some(a.header_value(id));
            }
            let limits = Limits {
                max_size: args.max_size,
                timeout: engine.config().limits.budget(),
            };
            match check_email_prepared(&engine, input, parsed, &envelope, &limits) {
                FrontOutcome::Classified(v) => v,
                FrontOutcome::PassedThrough(why) => return pass_through(out, args, input, &why),
            }
        }
        ch => {
            let text = match std::str::from_utf8(input) {
                Ok(t) => t,
                Err(e) => {
                    return pass_through(out, args, input, &format!("input is not UTF-8: {e}"));
                }
            };
            let mut msg = match engine.parse_json(text.trim(), Some(ch)) {
                Ok(m) => m,
                Err(e) => return pass_through(out, args, input, &e.to_string()),
            };
            Envelope {
                recipients: args.recipient.clone(),
                ..Envelope::default()
            }
            .apply(&mut msg);
            let verdict = engine.classify(&msg);
            engine.observe(&msg, &verdict);
            if engine.passes_through(&verdict) {
                return pass_through(
                    out,
                    args,
                    input,
                    "classification ran out of its time budget",
                );
            }
            verdict
        }
    };
    if args.json || args.channel() != Channel::Email {
        serde_json::to_writer(&mut *out, &spamsift::Record::of(&verdict))
            .map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    } else {
        match headers::rewrite(input, &verdict, &engine.config().markup) {
            Ok(bytes) => {
                if let Some(v) = &auth_results {
                    // Added on top, as a receiving host adds trace fields.
                    let crlf = memchr::memmem::find(&bytes, b"\r\n").is_some();
                    let eol = if crlf { "\r\n" } else { "\n" };
                    out.write_all(format!("Authentication-Results: {v}{eol}").as_bytes())?;
                }
                out.write_all(&bytes)?
            }
            Err(e) => return pass_through(out, args, input, &e.to_string()),
        }
    }
    // The process exits next: an engine that records nothing need not be
    // taken apart first (freeing its matchers and tables was about 0.35 ms
    // of a `check` run).
    if !engine.records_state() {
        std::mem::forget(engine);
    }
    Ok(Outcome::Classified(verdict))
}
