//! `spamsift rules`: list the loaded rules (and so validate them).

use super::{CmdResult, EngineOpts};
use clap::Args;
use spamsift::message::Channel;
use spamsift::rules::eval::EvalTest;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Only rules of this channel.
    #[arg(long)]
    channel: Option<Channel>,
    /// List the built-in eval tests instead.
    #[arg(long)]
    evals: bool,
}

pub fn run(opts: &EngineOpts, args: RulesArgs) -> CmdResult {
    if args.evals {
        for (name, what) in EvalTest::catalogue() {
            super::print_out(&format!("{name:24} {what}\n"))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let engine = match opts.build_or_fail() {
        Ok(e) => e,
        Err(f) => return Err(f),
    };
    let rules = engine.rules();
    let mut listing = String::new();
    for r in rules.rules() {
        if args.channel.is_some_and(|c| !r.channels.contains(&c)) {
            continue;
        }
        let chans: Vec<&str> = r.channels.iter().map(|c| c.as_str()).collect();
        listing.push_str(&format!(
            "{:28} {:>6.1}  {:14} {}\n",
            r.id,
            r.score,
            chans.join(","),
            r.description
        ));
    }
    super::print_out(&listing)?;
    let counts: Vec<String> = Channel::ALL
        .iter()
        .map(|c| format!("{c} {}", rules.count_for(*c)))
        .collect();
    eprintln!(
        "{} rules loaded ({})",
        rules.rules().len(),
        counts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
