//! `spamsift milter`: serve Postfix/Sendmail over the milter protocol.

use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use spamsift::Channel;
use spamsift::milter::{FailAction, Listen, MilterOptions, serve};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct MilterArgs {
    /// Listen address: inet:HOST:PORT or unix:/path/to.sock [config: milter.listen; default inet:127.0.0.1:11332].
    #[arg(long)]
    listen: Option<Listen>,
    /// Time budget per message, in seconds; then the message is accepted (or tempfailed) [default 10].
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Largest message classified, in bytes; larger ones are accepted unclassified [default 20 MiB].
    #[arg(long, value_name = "BYTES")]
    max_size: Option<usize>,
    /// Answer when a message cannot be classified: accept or tempfail [default accept].
    #[arg(long)]
    on_error: Option<FailAction>,
    /// Close a session that sends nothing for this many seconds [config: milter.idle_timeout; default 300].
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<f64>,
    /// Load rules, config and model, report, and exit.
    #[arg(long)]
    check_config: bool,
}

pub fn run(opts: &EngineOpts, args: MilterArgs) -> CmdResult {
    // A milter sees email only.
    let engine = Arc::new(opts.build_for_channel(Channel::Email)?);
    let m = &engine.config().milter;
    let listen = match args
        .listen
        .or_else(|| m.listen.as_ref().and_then(|l| l.parse().ok()))
    {
        Some(l) => l,
        None => Listen::Inet("127.0.0.1:11332".into()),
    };
    let timeout = args.timeout.or(m.timeout).unwrap_or(10.0);
    let max_size = args.max_size.or(m.max_size).unwrap_or(20 * 1024 * 1024);
    let on_error = args
        .on_error
        .or_else(|| m.on_error.as_ref().and_then(|o| o.parse().ok()))
        .unwrap_or_default();
    if args.check_config {
        super::print_out(&super::config_report(
            &engine,
            &format!(
                "milter: listen {listen:?}, timeout {timeout} s, max size {max_size} bytes, on error {on_error:?}"
            ),
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let milter_opts = MilterOptions {
        auth: super::authenticator(&engine)?,
        timeout: Duration::from_secs_f64(timeout.max(0.001)),
        max_size,
        on_error,
        idle_timeout: Duration::from_secs_f64(
            args.idle_timeout
                .or(m.idle_timeout)
                .unwrap_or(300.0)
                .clamp(0.001, 1e6),
        ),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Err(Failure::setup(format!("cannot start the runtime: {e}"))),
    };
    let result = runtime.block_on(serve(engine, milter_opts, listen, shutdown_signal()));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::setup(format!("milter: {e}"))),
    }
}

pub(crate) async fn shutdown_signal() {
    spamsift::listener::shutdown_signal().await
}
