//! One scenario's load: preflight, the engine over NATS (or HTTP), the
//! watched processes sampled meanwhile, nats-server's counters around it,
//! and the result with its verdict; then, for `ten_x_faster_than_rest`, the
//! same plan over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};
use cliffload_engine::{CancellationToken, EngineError, Plan, RunOptions, RunOutput};
use cliffload_http::{HttpConnector, HttpTarget};
use cliffload_monitor::{NatsTraffic, Role, Sampler, Varz, Watched};
use cliffload_nats::{ConnectionEvents, NatsAccess, NatsConnector, Target};
use cliffload_report::{ConnectionEventRow, RunMeta, RunResult, Warning};
use cliffload_scenario::{Scenario, Settings};

use crate::Observer;
use crate::embedded::Embedded;
use crate::output::{preflight_rows, tolerated};
use crate::progress::Printer;

/// How often the monitor samples the watched processes.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What the monitor watches during a load, and the memory growth allowed.
#[derive(Debug, Clone, Default)]
pub struct Monitoring {
    pub watched: Vec<Watched>,
    /// `advanced.memory_leak_detection.max_memory_increase_mb`, when enabled.
    pub max_increase_mib: Option<f64>,
    /// nats-server's monitoring endpoint (`http://HOST:PORT`), read before and after the load.
    pub nats_monitor_url: Option<String>,
    /// What watches the run (`--dashboard`, `--prometheus`, `--otlp`):
    /// fed each second's record.
    pub observers: Option<Arc<dyn Observer>>,
}

/// What every load of a run shares, instead of a bundle of parameters:
/// the engine's threads, the deployment and the services started for it,
/// what is watched, the person's terminal, and Ctrl-C.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Engine worker threads.
    pub workers: usize,
    /// The NATS deployment under test.
    pub access: NatsAccess,
    /// The nats-server and reference services this run started, if any.
    pub embedded: Option<&'a Embedded>,
    /// The processes watched and the observers fed.
    pub monitoring: Monitoring,
    /// Progress and notes on stderr.
    pub printer: &'a mut Printer,
    /// The first Ctrl-C: stop sending, finish what is in flight.
    pub cancel: CancellationToken,
    /// The second: stop waiting for requests in flight.
    pub abort: CancellationToken,
}

impl Ctx<'_> {
    /// The same context for a load nobody watches: the other half of a
    /// comparison (the observers saw the run itself).
    pub fn aside(&mut self) -> Ctx<'_> {
        Ctx {
            workers: self.workers,
            access: self.access.clone(),
            embedded: self.embedded,
            monitoring: Monitoring::default(),
            printer: self.printer,
            cancel: self.cancel.clone(),
            abort: self.abort.clone(),
        }
    }
}

impl Monitoring {
    /// The generator itself, the processes cliffload started, and `--monitor-pid`s.
    pub fn new(embedded: Option<&Embedded>, extra: &[u32], settings: &Settings) -> Self {
        let mut watched = vec![Watched {
            label: "cliffload (generator)".into(),
            role: Role::Generator,
            pid: std::process::id(),
        }];
        if let Some(e) = embedded {
            let (services, server) = e.pids();
            if let Some(pid) = services {
                watched.push(Watched {
                    label: "reference services".into(),
                    role: Role::Service,
                    pid,
                });
            }
            if let Some(pid) = server {
                watched.push(Watched {
                    label: "nats-server".into(),
                    role: Role::NatsServer,
                    pid,
                });
            }
        }
        for &pid in extra {
            watched.push(Watched {
                // The process's own name (`comm`), as ps shows it.
                label: std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim().to_owned())
                    .ok()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "service".to_owned()),
                role: Role::Service,
                pid,
            });
        }
        Self {
            watched,
            max_increase_mib: settings.max_memory_increase_mb,
            nats_monitor_url: embedded
                .and_then(Embedded::monitor_url)
                .or(settings.nats_monitoring_url.as_deref())
                .map(str::to_owned),
            observers: None,
        }
    }
}

/// The scenario over NATS; then, when it claims `ten_x_faster_than_rest`,
/// the same plan over HTTP (`http_url`, else the embedded services' HTTP
/// endpoint), compared in the result.
pub async fn run_scenario(
    ctx: &mut Ctx<'_>,
    scenario: &Scenario,
    http_url: Option<&str>,
) -> Result<RunResult> {
    let plan = plan_of(scenario)?;
    let access = ctx.access.clone();
    let mut result = load(ctx, scenario, &plan, Via::Nats(&access)).await?;
    if !scenario.claims.ten_x_faster_than_rest || result.interrupted {
        return Ok(result);
    }
    let base = http_url.map(str::to_owned).or_else(|| {
        ctx.embedded
            .and_then(Embedded::http)
            .map(|a| format!("http://{a}"))
    });
    let Some(base) = base else {
        result.warnings.push(Warning::RestClaimWithoutHttp);
        return Ok(result);
    };
    ctx.printer
        .note(&format!("the same requests over HTTP at {base}"));
    let http = load(&mut ctx.aside(), scenario, &plan, Via::Http(&base)).await;
    if ctx.cancel.is_cancelled() {
        // Ctrl-C during the HTTP half: no comparison of a partial run.
        result.interrupted = true;
        result.warnings.push(Warning::ComparisonInterrupted);
        return Ok(result);
    }
    match http {
        Ok(http) => cliffload_report::comparison::apply(
            &mut result,
            &http,
            &base,
            scenario.expectations.failure_bound(),
        ),
        Err(e) => result.warnings.push(Warning::ComparisonFailed {
            error: format!("{e:#}"),
        }),
    }
    Ok(result)
}

/// Where a load goes.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// Over NATS, to this deployment.
    Nats(&'a NatsAccess),
    /// Over HTTP, to this base URL (`POST {base}/{service}/rpc/{method}`).
    Http(&'a str),
    /// As Celery tasks (`{service}.{method}`) on this Redis broker, to this queue.
    Celery(&'a str, &'a str),
}

/// The scenario's plan: its payload pools built once, shared by every load of it.
pub fn plan_of(scenario: &Scenario) -> Result<Arc<Plan>> {
    let payloads = cliffload_engine::build_payloads(scenario)?;
    Ok(Arc::new(Plan::try_new(scenario, payloads)?))
}

/// Preflight, then the load (its processes sampled every second); the result with its verdict.
pub async fn load(
    ctx: &mut Ctx<'_>,
    scenario: &Scenario,
    plan: &Arc<Plan>,
    via: Via<'_>,
) -> Result<RunResult> {
    let origin = (Instant::now(), SystemTime::now());
    let monitoring = &ctx.monitoring;
    let sampler = start_sampler(monitoring, origin.0)?;
    let mut jetstream = match via {
        Via::Nats(access) => crate::jetstream::Side::prepare(access, scenario).await?,
        _ => None,
    };
    let loaded = load_with(
        ctx,
        scenario,
        plan,
        via,
        origin,
        sampler,
        jetstream.as_mut(),
    )
    .await;
    // The streams go whatever became of the load.
    let left = match jetstream {
        Some(j) => j.finish().await,
        None => None,
    };
    let mut result = loaded?;
    result.warnings.extend(left);
    Ok(result)
}

/// [`load`] once its streams exist: preflight, the load, its result.
async fn load_with(
    ctx: &mut Ctx<'_>,
    scenario: &Scenario,
    plan: &Arc<Plan>,
    via: Via<'_>,
    origin: (Instant, SystemTime),
    mut sampler: Sampler,
    mut jetstream: Option<&mut crate::jetstream::Side>,
) -> Result<RunResult> {
    let monitoring = &ctx.monitoring;
    let (preflight, url) = preflight(via, scenario, plan, &ctx.cancel).await?;
    for w in tolerated(&preflight.tolerated) {
        ctx.printer.note(&format!("warning: {w}"));
    }
    announce(ctx.printer, scenario, via);
    let options = RunOptions {
        workers: ctx.workers,
        abort: Some(ctx.abort.clone()),
        intervals: monitoring.feed(scenario),
        ..RunOptions::default()
    };
    let varz_before = match &monitoring.nats_monitor_url {
        Some(u) => Some(Varz::read(u).await),
        None => None,
    };
    if let Some(j) = jetstream.as_deref_mut() {
        j.watch();
    }
    let driven = drive_via(
        via,
        scenario,
        plan,
        options,
        &mut sampler,
        ctx.printer,
        ctx.cancel.clone(),
    )
    .await?;
    let out: RunOutput = match driven.output {
        Ok(o) => o,
        Err(EngineError::CancelledBeforeStart) => return Err(crate::Interrupted.into()),
        Err(e) => return Err(e.into()),
    };
    let meta = run_meta(
        scenario,
        url,
        ctx.embedded.is_some(),
        preflight,
        &out,
        &driven.events,
    );
    // Sample times from the start of the load.
    let load_start = match out.started_at.duration_since(origin.1) {
        Ok(after) => origin.0 + after,
        Err(e) => origin.0.checked_sub(e.duration()).unwrap_or(origin.0),
    };
    sampler.set_origin(load_start);
    let mut result = RunResult::build(meta, &out.totals, &out.intervals);
    if let Some(j) = jetstream {
        let series = j.series(tokio::time::Instant::from_std(load_start)).await;
        let bound = scenario.expectations.max_consumer_lag;
        cliffload_report::consumers::apply(&mut result, series, bound);
    }
    let nats = nats_traffic(monitoring, varz_before, &mut result.warnings).await;
    cliffload_report::processes::apply(
        &mut result,
        SAMPLE_EVERY.as_secs_f64(),
        sampler.finish(),
        nats,
        monitoring.max_increase_mib,
    );
    Ok(result)
}

/// The sampler of the watched processes, with its first sample; a
/// `--monitor-pid` that names no process stops the run here.
fn start_sampler(monitoring: &Monitoring, origin: Instant) -> Result<Sampler> {
    let mut sampler = Sampler::new(monitoring.watched.clone(), origin)?;
    sampler.sample();
    if let Some(gone) = sampler.series().iter().find(|s| s.exited) {
        bail!(
            "--monitor-pid {}: no such process (is the service running?)",
            gone.pid
        );
    }
    Ok(sampler)
}

impl Monitoring {
    /// Where one load of `scenario` sends its records, when anything watches.
    pub fn feed(
        &self,
        scenario: &Scenario,
    ) -> Option<tokio::sync::mpsc::UnboundedSender<(u32, cliffload_engine::Recorded)>> {
        self.observers
            .as_ref()?
            .feed(scenario, &self.watched, self.max_increase_mib)
    }
}

/// The NATS target of each task, in plan order.
fn nats_targets(scenario: &Scenario) -> Vec<Target> {
    scenario
        .tasks
        .iter()
        .map(|t| Target::of(&t.name, &t.request))
        .collect()
}

/// One smoke call per task over NATS (Ctrl-C ends it), and the URL the
/// load goes to. Over HTTP the smoke calls come with the transport.
async fn preflight(
    via: Via<'_>,
    scenario: &Scenario,
    plan: &Arc<Plan>,
    cancel: &CancellationToken,
) -> Result<(cliffload_nats::Preflight, String)> {
    let access = match via {
        Via::Nats(access) => access,
        Via::Http(base) | Via::Celery(base, _) => {
            return Ok((cliffload_nats::Preflight::default(), base.to_owned()));
        }
    };
    let targets = nats_targets(scenario);
    let check = async {
        let name = format!("{}/preflight", client_name(scenario));
        let client = cliffload_nats::connect(access, &name)
            .await
            .map_err(with_embedded_hint)?;
        anyhow::Ok(cliffload_nats::preflight(&client, plan, &targets, scenario.preflight).await?)
    };
    // Preflight waits up to a task's timeout per task: Ctrl-C ends it.
    let found = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(crate::Interrupted.into()),
        found = check => found?,
    };
    Ok((found, access.display()))
}

/// A server the user named that cannot be reached: also says that without
/// a URL cliffload starts its own. Only here, where leaving it out is a
/// choice (not for a worker, a control server or a framework's endpoint).
fn with_embedded_hint(e: cliffload_nats::NatsError) -> anyhow::Error {
    if e.is_unreachable() {
        anyhow::anyhow!("{e} (without --nats-url, cliffload starts its own)")
    } else {
        e.into()
    }
}

/// Says what is about to run.
fn announce(printer: &mut Printer, scenario: &Scenario, via: Via<'_>) {
    printer.note(&format!(
        "running {} for {} over {}: {}, {} class(es), {} task(s), error rate {}, seed {}",
        scenario.name,
        cliffload_scenario::human_duration(scenario.duration),
        match via {
            Via::Nats(_) => "NATS",
            Via::Http(_) => "HTTP",
            Via::Celery(..) => "Celery",
        },
        scenario.describe_load(),
        scenario.classes.len(),
        scenario.tasks.len(),
        scenario.error_rate,
        scenario.seed
    ));
    printer.set_open_model(scenario.arrival.is_some());
}

/// What the engine returned, and what happened to the NATS connections.
struct Driven {
    output: Result<RunOutput, EngineError>,
    events: Vec<cliffload_nats::ConnectionEvent>,
}

/// The load itself, over NATS or HTTP.
async fn drive_via(
    via: Via<'_>,
    scenario: &Scenario,
    plan: &Arc<Plan>,
    options: RunOptions,
    sampler: &mut Sampler,
    printer: &mut Printer,
    cancel: CancellationToken,
) -> Result<Driven> {
    match via {
        Via::Nats(access) => {
            let connector = Arc::new(NatsConnector::new(
                access.clone(),
                &client_name(scenario),
                nats_targets(scenario),
            ));
            let events = connector.events();
            let output = drive(
                plan,
                connector,
                options,
                sampler,
                printer,
                cancel,
                Some(&events),
            )
            .await;
            Ok(Driven {
                output,
                events: events.all(),
            })
        }
        Via::Http(base) => {
            let targets = scenario
                .tasks
                .iter()
                .map(|t| HttpTarget::of(&t.name, &t.request, base))
                .collect::<Result<Vec<_>, _>>()?;
            let connector = Arc::new(HttpConnector::new(targets));
            let first: Vec<Option<&cliffload_engine::Payload>> = plan
                .tasks
                .iter()
                .map(|t| t.no_smoke.is_none().then(|| t.payload(0)))
                .collect();
            cliffload_http::preflight(&connector, &first).await?;
            let output = drive(plan, connector, options, sampler, printer, cancel, None).await;
            Ok(Driven {
                output,
                events: Vec::new(),
            })
        }
        Via::Celery(url, queue) => {
            let targets = scenario
                .tasks
                .iter()
                .map(|t| cliffload_celery::CeleryTarget::of(&t.name, &t.request))
                .collect::<Result<Vec<_>, _>>()?;
            let connector = Arc::new(cliffload_celery::CeleryConnector::new(url, queue, targets));
            let output = drive(plan, connector, options, sampler, printer, cancel, None).await;
            Ok(Driven {
                output,
                events: Vec::new(),
            })
        }
    }
}

/// What the result is built from besides the counts.
fn run_meta<'a>(
    scenario: &'a Scenario,
    url: String,
    embedded: bool,
    preflight: cliffload_nats::Preflight,
    out: &RunOutput,
    events: &[cliffload_nats::ConnectionEvent],
) -> RunMeta<'a> {
    let mut warnings = tolerated(&preflight.tolerated);
    if out.lost_workers > 0 {
        warnings.push(Warning::WorkersLost {
            count: out.lost_workers,
        });
    }
    RunMeta {
        preflight: preflight_rows(&preflight.reports),
        warnings,
        connection_events: events
            .iter()
            .map(|e| ConnectionEventRow {
                t_s: match e.at.duration_since(out.started_at) {
                    Ok(after) => after.as_secs_f64(),
                    Err(before) => -before.duration().as_secs_f64(),
                },
                worker: e.worker,
                event: e.kind.to_owned(),
                detail: e.detail.clone(),
            })
            .collect(),
        ..crate::output::meta(scenario, out, url, embedded)
    }
}

/// nats-server's counters over the load, from /varz read before and now;
/// a reading that failed becomes a warning.
async fn nats_traffic(
    monitoring: &Monitoring,
    before: Option<Result<Varz, String>>,
    warnings: &mut Vec<Warning>,
) -> Option<NatsTraffic> {
    match (&monitoring.nats_monitor_url, before) {
        (Some(u), Some(Ok(before))) => match Varz::read(u).await {
            Ok(after) => Some(NatsTraffic::between(u, &before, &after)),
            Err(detail) => {
                warnings.push(Warning::NatsMonitorUnreadable { detail });
                None
            }
        },
        (_, Some(Err(detail))) => {
            warnings.push(Warning::NatsMonitorUnreadable { detail });
            None
        }
        _ => None,
    }
}

/// Runs the engine, sampling the watched processes every second meanwhile.
async fn drive<C: cliffload_engine::Connector>(
    plan: &Arc<Plan>,
    connector: Arc<C>,
    options: RunOptions,
    sampler: &mut Sampler,
    printer: &mut Printer,
    cancel: CancellationToken,
    events: Option<&ConnectionEvents>,
) -> Result<RunOutput, EngineError> {
    let mut shown = 0;
    let out = {
        let mut engine = std::pin::pin!(cliffload_engine::run(
            plan.clone(),
            connector,
            options,
            cancel,
            |p| {
                printer.update(&p);
                // Connection events as they happen (checked once a second).
                for e in events.map(|ev| ev.since(shown)).unwrap_or_default() {
                    shown += 1;
                    printer.note(&format!(
                        "connection of worker {}: {} ({})",
                        e.worker, e.kind, e.detail
                    ));
                }
            }
        ));
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                out = &mut engine => break out,
                _ = every.tick() => sampler.sample(),
            }
        }
    };
    sampler.sample();
    printer.finish();
    out
}

/// The name of the load's connections, seen in the server's `/connz`.
fn client_name(scenario: &Scenario) -> String {
    format!("cliffload/{}/{}", env!("CARGO_PKG_VERSION"), scenario.name)
}
