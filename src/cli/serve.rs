//! `spamsift serve`: the gateway HTTP API.

use super::{CmdResult, EngineOpts, Failure};
use clap::Args;
use spamsift::Engine;
use spamsift::behaviour::ComplaintLog;
use spamsift::policy::PolicyStore;
use spamsift::server::{AppState, Metrics, ServeOptions, serve};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8025")]
    listen: String,
    /// Largest request body in bytes; larger requests get 413.
    #[arg(long, default_value_t = 1024 * 1024)]
    max_body: usize,
    /// Complaints about a sender before its messages get USER_COMPLAINTS.
    #[arg(long, default_value_t = 3)]
    complaint_threshold: u32,
    /// Score of USER_COMPLAINTS.
    #[arg(long, default_value_t = 4.0)]
    complaint_score: f64,
    /// Save the model (with what complaints taught it) back to --model: complaints are written
    /// in batches, about a second after they arrive, and at shutdown.
    #[arg(long)]
    save_feedback: bool,
    /// Load rules, config, model and policies, report, and exit.
    #[arg(long)]
    check_config: bool,
}

pub fn run(opts: &EngineOpts, args: ServeArgs) -> CmdResult {
    let fail = Failure::Setup;
    let policies = match &opts.policies {
        Some(dir) => match PolicyStore::load_dir(dir) {
            Ok(p) => Arc::new(p),
            Err(e) => return Err(fail(e.to_string())),
        },
        None => Arc::new(PolicyStore::new()),
    };
    let complaints = Arc::new(ComplaintLog::new(
        1_000_000,
        args.complaint_threshold,
        args.complaint_score,
    ));
    // A loaded model keeps learning from complaints.
    let (model_path, feedback) = opts.learning_model()?;
    let base = super::EngineOpts {
        policies: None,
        model: None,
        ..opts.clone()
    };
    let built = base.builder().map(|b| {
        let b = b
            .policies(Arc::clone(&policies))
            .complaint_log(Arc::clone(&complaints));
        match &feedback {
            Some(fb) => b
                .token_store(Arc::clone(fb) as Arc<dyn spamsift::bayes::TokenStore>)
                .build(),
            None => b.build(),
        }
    });
    let engine: Engine = match built {
        Ok(Ok(e)) => e,
        Ok(Err(e)) | Err(e) => return Err(fail(e.to_string())),
    };
    // With shared state, complaints are counted in Redis.
    let complaints = engine.complaint_log().cloned().unwrap_or(complaints);
    let settings = engine.config().serve.clone();
    let auth = super::authenticator(&engine)?;
    if args.check_config {
        super::print_out(&super::config_report(
            &engine,
            &format!(
                "serve: listen {}, {} policies, writes {}, at most {} connections",
                args.listen,
                policies.len(),
                if settings.token.is_some() || settings.token_sha256.is_some() {
                    "by token".to_string()
                } else if !settings.allowed_ips.is_empty() {
                    format!("from {}", settings.allowed_ips.join(", "))
                } else {
                    "off (no [serve] token or allowed_ips)".to_string()
                },
                settings.max_connections
            ),
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let save_feedback = if args.save_feedback { model_path } else { None };
    let state = Arc::new(AppState {
        engine: Arc::new(engine),
        policies,
        metrics: Metrics::default(),
        complaints,
        feedback,
        save_feedback,
        unsaved: Default::default(),
        access: spamsift::server::Access::new(&settings),
        reports: spamsift::server::ReportLedger::new(settings.reports_per_hour),
        auth: auth.clone(),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Err(fail(format!("cannot start the runtime: {e}"))),
    };
    let opts = ServeOptions::new(args.listen, args.max_body, &settings);
    match runtime.block_on(serve(state, opts, super::milter::shutdown_signal())) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(fail(format!("serve: {e}"))),
    }
}
