//! The framework comparison: after the NATS run, the same plan (same seed,
//! same payloads, same load) against each framework of
//! `comparison_frameworks`, over HTTP or Celery.

use std::time::Duration;

use anyhow::Result;
use cliffload_report::RunResult;
use cliffload_report::frameworks::Compared;
use cliffload_scenario::{Framework, FrameworkTarget, Scenario};

use crate::load::{Ctx, Via, load, plan_of};

/// How long a framework has to accept a connection before it counts as not reachable.
const REACH: Duration = Duration::from_secs(2);

/// Runs `scenario` against each of `frameworks` and adds them to `result`.
pub async fn compare(
    ctx: &mut Ctx<'_>,
    result: &mut RunResult,
    scenario: &Scenario,
    frameworks: &[Framework],
) -> Result<()> {
    let plan = plan_of(scenario)?;
    let mut compared = Vec::new();
    for f in frameworks {
        if ctx.cancel.is_cancelled() {
            break;
        }
        let (kind, target) = describe(f);
        let skipped = |why: String| Compared::Skipped {
            name: f.name.clone(),
            kind: kind.to_owned(),
            target: target.clone(),
            why,
        };
        if !f.enabled {
            compared.push(Compared::Disabled {
                name: f.name.clone(),
                kind: kind.to_owned(),
                target,
            });
            continue;
        }
        if let Err(e) = reach(f).await {
            compared.push(skipped(format!("not reachable at {target} ({e}): skipped")));
            continue;
        }
        ctx.printer
            .note(&format!("the same plan against {} at {target}", f.name));
        let via = match &f.target {
            FrameworkTarget::Http(base) => Via::Http(base),
            FrameworkTarget::Celery { broker_url, queue } => Via::Celery(broker_url, queue),
        };
        // Not on the embedded services, and not watched.
        let mut aside = ctx.aside();
        aside.embedded = None;
        match load(&mut aside, scenario, &plan, via).await {
            Ok(r) => compared.push(Compared::Ran {
                name: f.name.clone(),
                kind: kind.to_owned(),
                target,
                result: Box::new(r),
            }),
            Err(e) => compared.push(skipped(format!("could not run: {e:#}"))),
        }
    }
    cliffload_report::frameworks::apply(result, compared, scenario.expectations.failure_bound());
    Ok(())
}

/// `http` or `celery`, and where.
fn describe(f: &Framework) -> (&'static str, String) {
    match &f.target {
        FrameworkTarget::Http(base) => ("http", base.clone()),
        FrameworkTarget::Celery { broker_url, queue } => {
            ("celery", format!("{broker_url} (queue {queue})"))
        }
    }
}

/// Whether the framework accepts a connection (HTTP) or answers PING (Redis).
async fn reach(f: &Framework) -> Result<(), String> {
    let attempt = async {
        match &f.target {
            FrameworkTarget::Http(base) => {
                // Parsed, not cut by hand: https, IPv6 brackets, user info
                // and a missing port (the scheme's) all come out right.
                let url = reqwest::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
                let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
                    return Err(format!("{base}: no host and port to connect to"));
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                tokio::net::TcpStream::connect((host, port))
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            FrameworkTarget::Celery { broker_url, .. } => cliffload_celery::ping(broker_url)
                .await
                .map_err(|e| e.to_string()),
        }
    };
    tokio::time::timeout(REACH, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", REACH.as_secs())))
}
