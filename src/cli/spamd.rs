//! `spamsift spamd`: serve SpamAssassin's spamd protocol (spamc, Exim's
//! `spam =` condition and other spamd clients).

use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use spamsift::Channel;
use spamsift::frontend::Limits;
use spamsift::milter::Listen;
use spamsift::net::IpNet;
use spamsift::spamd::{SpamdOptions, serve};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SpamdArgs {
    /// Listen address: inet:HOST:PORT or unix:/path/to.sock.
    #[arg(long, default_value = "inet:127.0.0.1:783")]
    listen: Listen,
    #[command(flatten)]
    daemon: super::DaemonArgs,
    /// Seconds a client has for its whole request.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    idle_timeout: f64,
    /// Accept TELL (`spamc -L spam|ham`): learn into the model file (--model,
    /// or [bayes] model), keeping the books `spamsift learn` keeps. The
    /// running daemon reads the updated model at its next start.
    #[arg(long)]
    allow_tell: bool,
    /// Load rules, config and model, report, and exit.
    #[arg(long)]
    check_config: bool,
}

pub fn run(opts: &EngineOpts, args: SpamdArgs) -> CmdResult {
    // Email is all the spamd protocol carries.
    let engine = Arc::new(opts.build_for_channel(Channel::Email)?);
    let allowed = args
        .daemon
        .allowed_ips
        .iter()
        .map(|a| IpNet::parse(a).map_err(|e| Failure::setup(format!("--allowed-ips: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let seconds = |s: f64, what: &str| {
        if s > 0.0 && s.is_finite() && s < 1e6 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(Failure::setup(format!(
                "--{what} must be a positive number of seconds"
            )))
        }
    };
    let spamd_opts = SpamdOptions {
        auth: super::authenticator(&engine)?,
        limits: Limits {
            max_size: args.daemon.max_size,
            timeout: seconds(args.daemon.timeout, "timeout")?,
        },
        allowed,
        idle_timeout: seconds(args.idle_timeout, "idle-timeout")?,
        tell_shared: args.allow_tell && engine.shared_state().is_some(),
        tell_model: if args.allow_tell && engine.shared_state().is_none() {
            let model = opts
                .model
                .clone()
                .or_else(|| engine.config().bayes_model.clone())
                .ok_or_else(|| {
                    Failure::setup(
                        "--allow-tell needs a model file: --model FILE (or [bayes] model)",
                    )
                })?;
            Some(model)
        } else {
            None
        },
    };
    if args.check_config {
        super::print_out(&super::config_report(
            &engine,
            &format!(
                "spamd: listen {:?}, allowed {}, max size {} bytes",
                args.listen,
                args.daemon.allowed_ips.join(","),
                args.daemon.max_size
            ),
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::setup(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(serve(
            engine,
            spamd_opts,
            args.listen,
            super::milter::shutdown_signal(),
        ))
        .map_err(|e| Failure::setup(format!("spamd: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
