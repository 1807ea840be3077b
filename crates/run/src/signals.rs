//! Ctrl-C, SIGTERM and SIGHUP: the first stops sending and lets requests in
//! flight finish; the second stops waiting for them, and what was recorded
//! is still written (exit 130); the third leaves at once.

use std::sync::{Mutex, OnceLock};

use cliffload_engine::CancellationToken;

use crate::exit;

/// Fired by the second signal; the engine stops waiting for in-flight requests.
static ABORT: OnceLock<CancellationToken> = OnceLock::new();

/// The token the second signal fires (one per process: signals are).
pub fn abort() -> CancellationToken {
    ABORT.get_or_init(CancellationToken::new).clone()
}

/// Set once the results are written and only a server is waited for
/// (`--keep-dashboard`, `--prometheus-linger`): a signal then just ends
/// the wait, and says so in these words.
static WRITTEN: Mutex<Option<&'static str>> = Mutex::new(None);

/// The results are written: from now on a signal only ends the wait, and
/// prints `ending` ("closing the dashboard").
pub fn results_written(ending: &'static str) {
    if let Ok(mut w) = WRITTEN.lock() {
        *w = Some(ending);
    }
}

/// What a signal does, in words: `running` while the run is on.
fn say(running: &str) {
    match WRITTEN.lock().ok().and_then(|w| *w) {
        Some(ending) => eprintln!("\n{ending}"),
        None => eprintln!("{running}"),
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
