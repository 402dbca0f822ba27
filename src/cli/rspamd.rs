//! `spamsift rspamd`: serve Rspamd's protocol (rspamc, Exim's
//! `variant=rspamd`, Haraka's rspamd plugin).

use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use spamsift::Channel;
use spamsift::frontend::Limits;
use spamsift::listener::Listen;
use spamsift::net::IpNet;
use spamsift::rspamd::{RspamdOptions, RspamdState, Stats, serve};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RspamdArgs {
    /// The normal worker's address (HTTP /checkv2 and the legacy protocol):
    /// HOST:PORT or unix:/path.
    #[arg(long, default_value = "127.0.0.1:11333")]
    listen: Listen,
    /// The controller's address (/learnspam, /learnham, /stat); `none` for no controller.
    #[arg(long, default_value = "127.0.0.1:11334")]
    controller: String,
    #[command(flatten)]
    daemon: super::DaemonArgs,
    /// Load rules, config and model, report, and exit.
    #[arg(long)]
    check_config: bool,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn run(opts: &EngineOpts, args: RspamdArgs) -> CmdResult {
    let fail = Failure::Setup;
    // A loaded model learns over the controller at once: the engine reads
    // its counts through a feedback store, and the file keeps the books.
    let (model_path, feedback) = opts.learning_model()?;
    let base = EngineOpts {
        model: None,
        ..opts.clone()
    };
    // Email is all the Rspamd protocol carries.
    let engine = match base
        .builder()
        .map(|b| b.compile_channels(&[Channel::Email]))
        .map(|b| match &feedback {
            Some(fb) => b
                .token_store(Arc::clone(fb) as Arc<dyn spamsift::bayes::TokenStore>)
                .build(),
            None => b.build(),
        }) {
        Ok(Ok(e)) => e,
        Ok(Err(e)) | Err(e) => return Err(fail(e.to_string())),
    };
    let allowed = args
        .daemon
        .allowed_ips
        .iter()
        .map(|a| IpNet::parse(a).map_err(|e| Failure::setup(format!("--allowed-ips: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if !(args.daemon.timeout > 0.0 && args.daemon.timeout.is_finite() && args.daemon.timeout < 1e6)
    {
        return Err(fail(
            "--timeout must be a positive number of seconds".into(),
        ));
    }
    let controller: Option<Listen> = match args.controller.as_str() {
        "none" | "" => None,
        c => Some(
            c.parse()
                .map_err(|e: String| fail(format!("--controller: {e}")))?,
        ),
    };
    let settings = engine.config().serve.clone();
    let password_sha256 = engine
        .config()
        .rspamd
        .password_sha256
        .as_deref()
        .and_then(hex32);
    let rspamd_opts = RspamdOptions {
        limits: Limits {
            max_size: args.daemon.max_size,
            timeout: Duration::from_secs_f64(args.daemon.timeout),
        },
        allowed,
        max_connections: settings.max_connections,
        header_timeout: Duration::from_secs_f64(settings.header_timeout),
        request_timeout: Duration::from_secs_f64(settings.request_timeout),
        password_sha256,
        model: model_path,
        auth: super::authenticator(&engine)?,
    };
    if args.check_config {
        super::print_out(&super::config_report(
            &engine,
            &format!(
                "rspamd: worker {}, controller {}, learning {}, allowed {}",
                args.listen,
                controller
                    .as_ref()
                    .map_or("none".to_string(), |c| c.to_string()),
                match (&rspamd_opts.password_sha256, &rspamd_opts.model) {
                    (Some(_), Some(m)) => format!("into {}", m.display()),
                    (None, _) => "off (no [rspamd] password_sha256)".to_string(),
                    (Some(_), None) => "off (no --model)".to_string(),
                },
                args.daemon.allowed_ips.join(","),
            ),
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let state = Arc::new(RspamdState {
        engine: Arc::new(engine),
        opts: rspamd_opts,
        feedback,
        stats: Stats::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(serve(
            state,
            args.listen,
            controller,
            spamsift::listener::shutdown_signal(),
        ))
        .map_err(|e| fail(format!("rspamd: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
