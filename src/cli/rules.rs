//! `spamsift rules`: list the loaded rules (and so validate them).

use super::EngineOpts;
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

pub fn run(opts: &EngineOpts, args: RulesArgs) -> ExitCode {
    if args.evals {
        for (name, what) in EvalTest::catalogue() {
            println!("{name:24} {what}");
        }
        return ExitCode::SUCCESS;
    }
    let engine = match opts.build_or_report() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let rules = engine.rules();
    for r in rules.rules() {
        if args.channel.is_some_and(|c| !r.channels.contains(&c)) {
            continue;
        }
        let chans: Vec<&str> = r.channels.iter().map(|c| c.as_str()).collect();
        println!(
            "{:28} {:>6.1}  {:14} {}",
            r.id,
            r.score,
            chans.join(","),
            r.description
        );
    }
    let counts: Vec<String> = Channel::ALL
        .iter()
        .map(|c| format!("{c} {}", rules.count_for(*c)))
        .collect();
    eprintln!(
        "{} rules loaded ({})",
        rules.rules().len(),
        counts.join(", ")
    );
    ExitCode::SUCCESS
}
