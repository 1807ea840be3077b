//! `cliffload run … --distributed N`: the coordinator. Finds the workers,
//! runs the plan over them, and builds the same result a single process
//! would, from their merged figures, with each worker's part beside it.

use std::time::Duration;

use anyhow::Result;
use cliffload_distributed::{CoordinateOptions, DistError, Distributed};
use cliffload_engine::CancellationToken;
use cliffload_nats::NatsAccess;
use cliffload_report::distributed::{DistributedRun, WorkerRow};
use cliffload_report::{PreflightRow, RunMeta, RunResult};
use cliffload_scenario::{Scenario, parse_duration};

use crate::args::DistributedArgs;
use crate::progress::Printer;

/// Between the start message and the start: time for it to reach every worker.
const LEAD: Duration = Duration::from_millis(500);

/// Runs `scenario` on `dist.distributed` workers against `target`.
pub async fn run_distributed(
    scenario: &Scenario,
    target: &NatsAccess,
    dist: &DistributedArgs,
    embedded: bool,
    monitoring: &crate::load::Monitoring,
    printer: &mut Printer,
    cancel: CancellationToken,
) -> Result<RunResult> {
    if embedded && dist.control_url.is_none() {
        anyhow::bail!(
            "--distributed: the workers cannot know the address of the nats-server this run starts; give --control-url (the server the workers wait on), or --nats-url of the system under test"
        );
    }
    let mut options = coordinate_options(target, dist)?;
    options.intervals = monitoring.feed(scenario);
    printer.note(&format!(
        "looking for {} worker(s) on {} (up to {} s) to run {} against {}: {}",
        options.workers,
        options.control.display(),
        options.wait.as_secs(),
        scenario.name,
        target.display(),
        scenario.describe_load()
    ));
    printer.set_open_model(scenario.arrival.is_some());
    let d = match cliffload_distributed::coordinate(
        scenario,
        &options,
        |p| printer.update(&p),
        &cancel,
    )
    .await
    {
        Ok(d) => d,
        Err(DistError::Cancelled) => return Err(crate::Interrupted.into()),
        Err(e) => return Err(e.into()),
    };
    printer.finish();
    let mut result = RunResult::build(
        meta(scenario, target, embedded, &d),
        &d.output.totals,
        &d.output.intervals,
    );
    cliffload_report::distributed::apply(&mut result, run_of(&d, dist.allow_worker_loss));
    Ok(result)
}

/// The coordinator's options from the flags.
fn coordinate_options(target: &NatsAccess, dist: &DistributedArgs) -> Result<CoordinateOptions> {
    let control = match &dist.control_url {
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
    Ok(CoordinateOptions {
        control: control.clone(),
        target: target.servers.clone(),
        workers: dist.distributed.unwrap_or(1) as usize,
        wait: parse_duration(&dist.wait_workers)
            .map_err(|e| anyhow::anyhow!("--wait-workers: {e}"))?,
        token: dist.token.token_for(&control.servers)?,
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
    let out = &d.output;
    RunMeta {
        scenario,
        nats_url: target.display(),
        embedded,
        workers: out.workers.max(1),
        preflight: d
            .preflight
            .iter()
            .map(|p| PreflightRow {
                task: p.task.clone(),
                outcome: p.outcome,
                latency_us: p.latency_us,
            })
            .collect(),
        started_at: out.started_at,
        elapsed: out.elapsed,
        interrupted: out.interrupted,
        warnings: crate::load::tolerated(&d.tolerated),
        generator_cpu: out.generator_cpu,
        open: crate::load::open_measures(scenario, out),
        errors: out.errors.clone(),
        connection_events: Vec::new(),
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
