//! `spamsift check`: the filter. One message in on stdin, the same message
//! out with result headers (or a JSON verdict). Never loses mail.

use super::EngineOpts;
use clap::Args;
use spamsift::message::Channel;
use spamsift::{Message, Verdict, headers};
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

/// Exit code with `--exit-code` when the message is spam.
pub const EXIT_SPAM: u8 = 1;
/// Exit code with `--exit-code` when the message was passed through unclassified.
pub const EXIT_PASSED_THROUGH: u8 = 3;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Channel of the message: email reads raw RFC 5322; sms and im read one JSON object.
    #[arg(long, default_value = "email")]
    channel: Channel,
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
}

enum Outcome {
    Classified(Verdict),
    PassedThrough,
}

pub fn run(opts: &EngineOpts, args: CheckArgs) -> ExitCode {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = Vec::new();
    let mut out = stdout.lock();
    let mut limited = stdin.lock().take(args.max_size as u64 + 1);
    let outcome = match limited.read_to_end(&mut input) {
        Err(e) => pass_through(&mut out, &input, &format!("cannot read input: {e}")),
        Ok(_) if input.len() > args.max_size => {
            let why = format!("message larger than --max-size {} bytes", args.max_size);
            let o = pass_through(&mut out, &input, &why);
            // Stream the rest unchanged.
            if let Err(e) = io::copy(&mut limited.into_inner(), &mut out) {
                eprintln!("spamsift: error copying oversized message: {e}");
            }
            o
        }
        Ok(_) => match catch_unwind(AssertUnwindSafe(|| filter(opts, &args, &input, &mut out))) {
            Ok(o) => o,
            Err(_) => pass_through(&mut out, &input, "internal error (panic) while classifying"),
        },
    };
    if let Err(e) = out.flush() {
        eprintln!("spamsift: cannot write output: {e}");
        return ExitCode::from(74);
    }
    match outcome {
        Outcome::Classified(v) if args.exit_code && v.is_spam() => ExitCode::from(EXIT_SPAM),
        Outcome::PassedThrough if args.exit_code => ExitCode::from(EXIT_PASSED_THROUGH),
        _ => ExitCode::SUCCESS,
    }
}

fn pass_through(out: &mut impl Write, input: &[u8], why: &str) -> Outcome {
    eprintln!("spamsift: {why}; message passed through unchanged");
    if let Err(e) = out.write_all(input) {
        eprintln!("spamsift: cannot write output: {e}");
    }
    Outcome::PassedThrough
}

fn filter(opts: &EngineOpts, args: &CheckArgs, input: &[u8], out: &mut impl Write) -> Outcome {
    // Only this channel's matchers, built for one message: start-up is
    // what a filter run once per message pays.
    let engine = match opts.builder().and_then(|b| {
        b.compile_channels(&[args.channel])
            .build_for(spamsift::rules::BuildFor::StartUp)
            .build()
    }) {
        Ok(e) => e,
        Err(e) => return pass_through(out, input, &format!("cannot load rules or config:\n{e}")),
    };
    let msg: Message = match args.channel {
        Channel::Email => engine.parse_email(input),
        ch => {
            let text = match std::str::from_utf8(input) {
                Ok(t) => t,
                Err(e) => return pass_through(out, input, &format!("input is not UTF-8: {e}")),
            };
            match engine.parse_json(text.trim(), Some(ch)) {
                Ok(m) => m,
                Err(e) => return pass_through(out, input, &e.to_string()),
            }
        }
    };
    let msg = if args.recipient.is_empty() {
        msg
    } else {
        Message {
            recipients: args
                .recipient
                .iter()
                .map(|r| spamsift::message::identity::normalise_address(r))
                .collect(),
            ..msg
        }
    };
    let verdict = engine.classify(&msg);
    let written = if args.json || args.channel != Channel::Email {
        serde_json::to_writer(&mut *out, &verdict)
            .map_err(io::Error::other)
            .and_then(|_| out.write_all(b"\n"))
    } else {
        match headers::rewrite(input, &verdict) {
            Ok(bytes) => out.write_all(&bytes),
            Err(e) => return pass_through(out, input, &e.to_string()),
        }
    };
    if let Err(e) = written {
        eprintln!("spamsift: cannot write output: {e}");
    }
    Outcome::Classified(verdict)
}
