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
    /// List the brands `FROM_BRAND_IMPERSONATION` and
    /// `SUBJ_BRAND_ACCOUNT_ALERT` guard (`[[brand]]` entries, local ones
    /// included) instead.
    #[arg(long)]
    brands: bool,
    /// Write the built-in rule files into DIR (created if need be; existing
    /// files are left alone), to read or to start a rule set of your own.
    #[arg(long, value_name = "DIR")]
    export: Option<std::path::PathBuf>,
}

/// Write the embedded default rule files into `dir`.
fn export(dir: &std::path::Path) -> CmdResult {
    std::fs::create_dir_all(dir)
        .map_err(|e| super::Failure::setup(format!("cannot create {}: {e}", dir.display())))?;
    let mut report = String::new();
    for (name, text) in spamsift::rules::DEFAULT_RULE_FILES {
        let path = dir.join(name);
        if path.exists() {
            report.push_str(&format!("kept {} (exists)\n", path.display()));
            continue;
        }
        std::fs::write(&path, text)
            .map_err(|e| super::Failure::setup(format!("cannot write {}: {e}", path.display())))?;
        report.push_str(&format!("wrote {}\n", path.display()));
    }
    super::print_out(&report)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(opts: &EngineOpts, args: RulesArgs) -> CmdResult {
    if let Some(dir) = &args.export {
        return export(dir);
    }
    if args.evals {
        for (name, what) in EvalTest::catalogue() {
            super::print_out(&format!("{name:24} {what}\n"))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let engine = opts.build_or_fail()?;
    let rules = engine.rules();
    if args.brands {
        let mut listing = String::new();
        for (brand, names, domains) in rules.brands().iter() {
            listing.push_str(&format!(
                "{brand:24} names: {}  domains: {}\n",
                names.join(", "),
                domains.join(", ")
            ));
        }
        super::print_out(&listing)?;
        eprintln!("{} brands loaded", rules.brands().len());
        return Ok(ExitCode::SUCCESS);
    }
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
