//! `cliffload run … --distributed N`: the coordinator. Finds the workers,
//! runs the plan over them, and builds the same result a single process
//! would, from their merged figures, with each worker's part beside it.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Result;
use cliffload_distributed::{CoordinateOptions, DistError, Distributed};
use cliffload_nats::NatsAccess;
use cliffload_report::distributed::{DistributedRun, WorkerRow};
use cliffload_report::{RunMeta, RunResult};
use cliffload_scenario::Scenario;

use crate::load::Ctx;

/// How a run spreads over workers (`run --distributed N`).
#[derive(Debug, Clone)]
pub struct DistributedSpec {
    /// Worker processes to find on the control server.
    pub workers: u32,
    /// The NATS server the workers wait on (default: the one under test).
    pub control_url: Option<String>,
    /// A worker that dies or falls silent marks the run degraded instead of failing it.
    pub allow_worker_loss: bool,
    /// How long to look for the workers.
    pub wait: Duration,
    /// The control token, if one was given.
    pub token: Option<String>,
    /// Run without a token on a control server off loopback.
    pub insecure_no_token: bool,
}

/// Between the start message and the start: time for it to reach every worker.
const LEAD: Duration = Duration::from_millis(500);

/// Runs `scenario` on `spec.workers` workers against the deployment of `ctx`.
pub async fn run_distributed(
    ctx: &mut Ctx<'_>,
    scenario: &Scenario,
    spec: &DistributedSpec,
) -> Result<RunResult> {
    // The run's streams and watched consumers are the coordinator's: made
    // before the workers start, read while they run, deleted after.
    let mut jetstream = crate::jetstream::Side::prepare(&ctx.access, scenario).await?;
    if let Some(j) = jetstream.as_mut() {
        j.watch();
    }
    let origin = (tokio::time::Instant::now(), std::time::SystemTime::now());
    let coordinated = coordinated(ctx, scenario, spec).await;
    let Some(mut j) = jetstream else {
        return coordinated;
    };
    let mut result = match coordinated {
        Ok(r) => r,
        Err(e) => {
            let _ = j.finish().await;
            return Err(e);
        }
    };
    let started = jiff::Timestamp::from_str(&result.started_at)
        .ok()
        .map(std::time::SystemTime::from);
    let load_start = crate::jetstream::instant_of(started, origin);
    let series = j.series(load_start).await;
    cliffload_report::consumers::apply(&mut result, series, scenario.expectations.max_consumer_lag);
    result.warnings.extend(j.finish().await);
    Ok(result)
}

/// [`run_distributed`] once its streams exist.
async fn coordinated(
    ctx: &mut Ctx<'_>,
    scenario: &Scenario,
    spec: &DistributedSpec,
) -> Result<RunResult> {
    let embedded = ctx.embedded.is_some();
    if embedded && spec.control_url.is_none() {
        anyhow::bail!(
            "--distributed: the workers cannot know the address of the nats-server this run starts; give --control-url (the server the workers wait on), or --nats-url of the system under test"
        );
    }
    let target = ctx.access.clone();
    let mut options = coordinate_options(&target, spec)?;
    options.intervals = ctx.monitoring.feed(scenario);
    ctx.printer.note(&format!(
        "looking for {} worker(s) on {} (up to {} s) to run {} against {}: {}",
        options.workers,
        options.control.display(),
        options.wait.as_secs(),
        scenario.name,
        target.display(),
        scenario.describe_load()
    ));
    ctx.printer.set_open_model(scenario.arrival.is_some());
    let printer = &mut *ctx.printer;
    let d = match cliffload_distributed::coordinate(
        scenario,
        &options,
        |p| printer.update(&p),
        &ctx.cancel,
    )
    .await
    {
        Ok(d) => d,
        Err(DistError::Cancelled) => return Err(crate::Interrupted.into()),
        Err(e) => return Err(e.into()),
    };
    ctx.printer.finish();
    let mut result = RunResult::build(
        meta(scenario, &target, embedded, &d),
        &d.output.totals,
        &d.output.intervals,
    );
    cliffload_report::distributed::apply(&mut result, run_of(&d, spec.allow_worker_loss));
    Ok(result)
}

/// The coordinator's options from the spec: the control server inherits
/// the target's login and TLS unless its URL carries its own.
fn coordinate_options(target: &NatsAccess, spec: &DistributedSpec) -> Result<CoordinateOptions> {
    let control = match &spec.control_url {
        None => target.clone(),
        Some(url) => {
            let mut c =
                NatsAccess::from_urls(&[url]).map_err(|e| anyhow::anyhow!("--control-url: {e}"))?;
            if c.credentials == cliffload_nats::Credentials::None {
                c.credentials = target.credentials.clone();
            }
            c.tls = target.tls.clone();
            c
        }
    };
    let token = cliffload_distributed::trust::token_for(
        spec.token.clone(),
        spec.insecure_no_token,
        &control.servers,
    )
    .map_err(|why| anyhow::anyhow!("{why}"))?;
    Ok(CoordinateOptions {
        control: control.clone(),
        target: target.servers.clone(),
        workers: spec.workers as usize,
        wait: spec.wait,
        token,
        lead: LEAD,
        intervals: None,
    })
}

/// What the result is built from, as for one process.
fn meta<'a>(
    scenario: &'a Scenario,
    target: &NatsAccess,
    embedded: bool,
    d: &Distributed,
) -> RunMeta<'a> {
    RunMeta {
        preflight: d
            .preflight
            .iter()
            .map(|p| cliffload_report::PreflightRow {
                task: p.task.clone(),
                outcome: p.outcome,
                latency_us: p.latency_us,
            })
            .collect(),
        warnings: crate::output::tolerated(&d.tolerated),
        ..crate::output::meta(scenario, &d.output, target.display(), embedded)
    }
}

/// Each worker's part, for the result.
fn run_of(d: &Distributed, allow_worker_loss: bool) -> DistributedRun {
    DistributedRun {
        workers: d
            .workers
            .iter()
            .map(|w| WorkerRow {
                name: w.name.clone(),
                id: w.id.clone(),
                threads: w.threads,
                requests: w.requests,
                failures: w.failures,
                p50_us: w.p50_us,
                p99_us: w.p99_us,
                cpu_s: w.cpu.map(|c| c.as_secs_f64()),
                start_offset_ms: w.start_offset.as_secs_f64() * 1e3,
                lost: w.lost,
                error: w.error.clone(),
            })
            .collect(),
        start_skew_ms: d.start_skew.as_secs_f64() * 1e3,
        control_bytes: d.control_bytes,
        allow_worker_loss,
        refused_messages: d.refused.count,
        refused: d.refused.first.clone(),
    }
}
