//! Ctrl-C, SIGTERM and SIGHUP: the first stops sending and lets requests in
//! flight finish; the second stops waiting for them, and what was recorded
//! is still written (exit 130); the third leaves at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use cliffload_engine::CancellationToken;

use crate::exit;

/// Fired by the second signal; the engine stops waiting for in-flight requests.
static ABORT: OnceLock<CancellationToken> = OnceLock::new();

/// The token the second signal fires (one per process: signals are).
pub fn abort() -> CancellationToken {
    ABORT.get_or_init(CancellationToken::new).clone()
}

/// Set once the results are written and only the dashboard is waiting
/// (`--keep-dashboard`): a signal then just closes it, and says so.
static WRITTEN: AtomicBool = AtomicBool::new(false);

/// The results are written: from now on a signal only ends the wait.
pub fn results_written() {
    WRITTEN.store(true, Ordering::SeqCst);
}

/// What a signal does, in words: `running` while the run is on.
fn say(running: &str) {
    if WRITTEN.load(Ordering::SeqCst) {
        eprintln!("\nclosing the dashboard");
    } else {
        eprintln!("{running}");
    }
}

/// Cancels `cancel` on the first signal and [`abort`] on the second; exits
/// 130 on the third.
pub async fn stop_on_signals(cancel: CancellationToken, serving: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let mut next = async || {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
            _ = hup.recv() => {},
        }
    };
    next().await;
    if serving {
        eprintln!("\nstopping the services");
    } else {
        say(
            "\ninterrupted: finishing in-flight requests and writing results (Ctrl-C again to stop waiting for them)",
        );
    }
    cancel.cancel();
    next().await;
    say(
        "stopped waiting for in-flight requests: writing what was recorded (Ctrl-C again to quit at once, writing nothing)",
    );
    abort().cancel();
    next().await;
    eprintln!("aborted");
    std::process::exit(i32::from(exit::INTERRUPTED));
}
