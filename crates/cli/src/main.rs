//! `cliffload`: load testing for NATS request/reply microservices.
//!
//! This binary is wiring: clap arguments ([`args`]) turned into the run
//! library's specs (`cliffload-run`), the observers it is given
//! (`cliffload-observe`), the subcommands ([`run`], [`suite`], [`serve`],
//! [`scenarios`], [`sample`], …), signals, what is printed, and the
//! mapping of results to exit codes.

/// `println!` through [`out`]: a closed stdout ends the program quietly.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`out`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out(&format!($($arg)*))
    };
}

mod args;
mod diff;
mod history;
mod k8s;
mod report;
mod run;
mod sample;
mod scenarios;
mod serve;
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

/// Writes `text` on stdout. When its reader has gone away (`cliffload
/// scenarios | head -1`), the program ends quietly as `ls | head` does
/// (status 141, 128 + SIGPIPE): Rust ignores SIGPIPE, so the write returns
/// the error, which is handled here instead of `print!`'s panic. Results
/// are on disk before anything is printed.
pub fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(141),
        Err(e) => {
            eprintln!("error: cannot write on stdout: {e}");
            std::process::exit(i32::from(exit::USAGE));
        }
    }
}

use cliffload_run::{Interrupted, child, exit};

/// `f` on the runtime's blocking threads.
async fn blocking(f: impl FnOnce() -> anyhow::Result<u8> + Send + 'static) -> anyhow::Result<u8> {
    tokio::task::spawn_blocking(f).await?
}

fn main() -> ExitCode {
    if let Some(code) = child::exec_if_requested() {
        return code;
    }
    child::register_binary();
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
        tokio::spawn(cliffload_run::signals::stop_on_signals(
            cancel.clone(),
            serving,
        ));
        let result = match cli.command {
            Command::Run(a) => run::run(*a, color, cancel, None).await,
            Command::Compare(a) => {
                let a = *a;
                run::run(a.run, color, cancel, Some(a.framework)).await
            }
            Command::Suite(a) => suite::suite(*a, color, cancel).await,
            Command::Serve(a) => serve::serve(a, cancel).await,
            Command::Scenarios(a) => scenarios::scenarios(a),
            Command::Sample(a) => sample::sample(a),
            Command::Validate(a) => validate::validate(a),
            Command::Report(a) => report::report(a, color),
            Command::Worker(a) => worker::worker(a, cancel).await,
            Command::K8s(a) => k8s::k8s(a),
            // Off the runtime: the history's PostgreSQL client runs its own.
            Command::History(a) => blocking(move || history::history(a)).await,
            Command::Diff(a) => blocking(move || diff::diff(a)).await,
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
