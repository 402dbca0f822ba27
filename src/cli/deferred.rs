//! A subcommand's arguments, built only when that subcommand is used.
//!
//! clap's derive builds every subcommand's arguments at every start, for a
//! command line that names one of them: with fourteen subcommands that was
//! about half of what the parser cost `spamsift check` (a process started
//! for every message). [`Deferred`] hands clap the argument builder through
//! [`clap::Command::defer`], which runs it only for the subcommand the
//! command line names (and for `--help`, which lists them all).

use clap::{ArgMatches, Args, Command, FromArgMatches};

/// The arguments `T` of one subcommand, added to it only when it is used.
#[derive(Debug)]
pub(crate) struct Deferred<T>(pub(crate) T);

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(T::augment_args)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(T::augment_args_for_update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, global = true)]
        verbose: bool,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        /// One.
        One(Deferred<OneArgs>),
        /// Two.
        Two(Deferred<TwoArgs>),
    }

    #[derive(Debug, clap::Args)]
    struct OneArgs {
        #[arg(long)]
        size: usize,
    }

    #[derive(Debug, clap::Args)]
    struct TwoArgs {
        name: String,
    }

    #[test]
    fn deferred_arguments_parse_as_written() {
        let cli = Cli::try_parse_from(["x", "one", "--size", "7", "--verbose"]).expect("parses");
        assert!(cli.verbose);
        assert!(matches!(
            cli.command,
            Sub::One(Deferred(OneArgs { size: 7 }))
        ));
        let cli = Cli::try_parse_from(["x", "--verbose", "two", "n"]).expect("parses");
        assert!(matches!(cli.command, Sub::Two(Deferred(TwoArgs { ref name })) if name == "n"));
        // Unknown and missing arguments are still refused.
        assert!(Cli::try_parse_from(["x", "one", "--name", "n"]).is_err());
        assert!(Cli::try_parse_from(["x", "one"]).is_err());
        // The full help lists every argument.
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("one")
            .expect("subcommand")
            .render_long_help()
            .to_string();
        assert!(help.contains("--size"), "{help}");
        Cli::command().debug_assert();
    }
}
