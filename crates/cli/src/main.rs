//! `cliffload`: load testing for NATS request/reply microservices.
//!
//! This binary is wiring: clap arguments ([`args`]), the subcommands
//! ([`run`], [`serve`], [`scenarios`], [`sample`]), live progress ([`progress`]), and the
//! mapping of results to exit codes.

mod args;
mod baseline;
mod child;
mod dashboard;
mod distributed;
mod embedded;
mod frameworks;
mod k8s;
mod load;
mod observe;
mod otlp;
mod progress;
mod prometheus;
mod report;
mod run;
mod sample;
mod scenarios;
mod serve;
mod signals;
mod suite;
mod validate;
mod worker;

use std::process::ExitCode;

use clap::Parser;
use cliffload_engine::CancellationToken;

use crate::args::{Cli, Command};

/// mimalloc rather than glibc malloc: the reference services allocate a
/// decoded tree per request from several threads, where glibc's arenas
/// spent a quarter of the service's CPU (perf, `cliffload-bench order`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `cliffload scenarios | head -1`: when the reader of stdout goes away,
/// end quietly as `ls | head` does (status 141, 128 + SIGPIPE), instead of
/// `print!`'s panic. Rust ignores SIGPIPE, and restoring it needs `unsafe`.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// Ctrl-C (or SIGTERM, SIGHUP) before the load started: nothing to write;
/// exit 130 at once.
#[derive(Debug, thiserror::Error)]
#[error("interrupted before the load started: nothing was sent")]
pub struct Interrupted;

/// Exit codes.
pub mod exit {
    /// Ran; every check passed.
    pub const OK: u8 = 0;
    /// Ran; a check failed or a claim was refuted.
    pub const CHECK_FAILED: u8 = 1;
    /// Usage, config, connection or preflight error.
    pub const USAGE: u8 = 2;
    /// Ran; nothing failed, but a check could not be judged (too few
    /// samples, nothing to compare with): a CI job can tell "run longer"
    /// from "too slow".
    pub const INCONCLUSIVE: u8 = 3;
    /// Interrupted; partial results written.
    pub const INTERRUPTED: u8 = 130;

    /// The code of a finished run's verdict.
    pub fn of(status: cliffload_report::verdict::Status) -> u8 {
        use cliffload_report::verdict::Status;
        match status {
            Status::Passed => OK,
            Status::Failed => CHECK_FAILED,
            Status::Inconclusive => INCONCLUSIVE,
        }
    }
}

fn main() -> ExitCode {
    if let Some(code) = child::exec_if_requested() {
        return code;
    }
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let color = cli.color;
    // One current-thread runtime for the embedded services, the aggregator and
    // the progress display; the load itself runs on the engine's worker threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let code = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let serving = matches!(cli.command, Command::Serve(_) | Command::Worker(_));
        tokio::spawn(signals::stop_on_signals(cancel.clone(), serving));
        let result = match cli.command {
            Command::Run(a) => run::run(*a, color, cancel, None).await,
            Command::Compare(a) => {
                let a = *a;
                run::run(a.run, color, cancel, Some(a.framework)).await
            }
            Command::Suite(a) => suite::suite(a, color, cancel).await,
            Command::Serve(a) => serve::serve(a, cancel).await,
            Command::Scenarios(a) => scenarios::scenarios(a),
            Command::Sample(a) => sample::sample(a),
            Command::Validate(a) => validate::validate(a),
            Command::Report(a) => report::report(a, color),
            Command::Worker(a) => worker::worker(a, cancel).await,
            Command::K8s(a) => k8s::k8s(a),
        };
        result.unwrap_or_else(|e| {
            if e.is::<Interrupted>() {
                eprintln!("{e}");
                return exit::INTERRUPTED;
            }
            eprintln!("error: {e:#}");
            exit::USAGE
        })
    });
    // Worker threads have been joined; don't wait on anything left behind.
    runtime.shutdown_background();
    ExitCode::from(code)
}
