//! `cliffload worker`: a load generator that waits for a coordinator
//! (`cliffload run … --distributed N`) on a NATS server.

use std::sync::Arc;

use anyhow::{Result, bail};
use cliffload_distributed::WorkerOptions;
use cliffload_engine::CancellationToken;

use crate::args::WorkerArgs;
use cliffload_run::exit;

pub async fn worker(args: WorkerArgs, cancel: CancellationToken) -> Result<u8> {
    let Some(access) = args
        .connect
        .access(&cliffload_scenario::Settings::default())?
    else {
        bail!(
            "cliffload worker needs --nats-url: the NATS server its coordinator reaches (e.g. --nats-url nats://127.0.0.1:4222)"
        );
    };
    let name = args.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".to_owned());
        format!("{host}-{}", std::process::id())
    });
    let token = args.token.token_for(&access.servers)?;
    let mut trusted = access.servers.clone();
    for t in &args.target {
        // Checked as a URL here, so a typo is named at once.
        cliffload_nats::NatsAccess::from_urls(&[t])
            .map_err(|e| anyhow::anyhow!("--target: {e}"))?;
        trusted.push(t.clone());
    }
    let options = WorkerOptions {
        name,
        targets: cliffload_distributed::trust::Targets::new(&trusted),
        any_target: args.any_target,
        access,
        token,
        threads: args.workers,
        exit_after_run: args.exit_after_run,
        log: Arc::new(|line: &str| {
            eprintln!("{} {line}", jiff::Timestamp::now().strftime("%H:%M:%S"));
        }),
    };
    cliffload_distributed::serve(options, cancel.clone()).await?;
    Ok(if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}
