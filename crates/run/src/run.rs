//! One scenario's run: (embedded services) → preflight → load (over NATS,
//! distributed workers or Celery) → frameworks compared → baseline compared
//! → the result with its verdict. Writing and printing it is the caller's.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use cliffload_nats::NatsAccess;
use cliffload_report::RunResult;
use cliffload_scenario::{Framework, Scenario, ScenarioFile, Settings, catalog};

use crate::Observer;
use crate::baseline::{Baseline, compare_with_baseline};
use crate::distributed::DistributedSpec;
use crate::embedded::{Embedded, Latency, ServeConfig};
use crate::load::{Ctx, Monitoring, Via, run_scenario};
use crate::progress::Printer;

/// Everything a run needs, resolved: what to run, against what, how.
#[derive(Debug)]
pub struct RunSpec {
    /// The scenario, with the command line's overrides laid over it.
    pub scenario: Scenario,
    /// Its file's settings (environment, monitoring, frameworks).
    pub settings: Settings,
    /// What to compare the result with.
    pub baseline: Baseline,
    /// What the load goes to, and how it is generated.
    pub deployment: Deployment,
    /// Over NATS from this process, over workers, or as Celery tasks.
    pub route: Route,
    /// The frameworks to run the same plan against afterwards.
    pub frameworks: Vec<Framework>,
    /// Where the run is remembered (`None`: `--no-history`).
    pub history: Option<crate::history::HistorySpec>,
}

/// What a run's or a suite's loads go to, and how they are generated.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The deployment under test; `None`: start nats-server and the
    /// reference services (the embedded start).
    pub target: Option<NatsAccess>,
    /// The embedded services' simulated latency (`None`: the file's).
    pub latency: Option<Latency>,
    /// Their realistic delays multiplied by this (0 or 1: as they are).
    pub latency_factor: f64,
    /// Engine worker threads.
    pub workers: usize,
    /// The HTTP endpoint of the services, for `ten_x_faster_than_rest`.
    pub http_url: Option<String>,
    /// More processes to watch (`--monitor-pid`).
    pub monitor_pids: Vec<u32>,
}

impl Deployment {
    /// The target, or the embedded start (then returned too, to be stopped
    /// after the loads).
    /// `jetstream`: a scenario of the run needs JetStream, so an embedded
    /// nats-server starts with it on.
    pub async fn connect(
        &self,
        settings: &Settings,
        jetstream: bool,
    ) -> Result<(Option<Embedded>, NatsAccess)> {
        let latency = (self.latency, self.latency_factor);
        connect_or_embed(self.target.clone(), latency, settings, jetstream).await
    }

    /// The load's context on `access` (and `embedded`), watched by the
    /// session's observer.
    pub(crate) fn ctx<'a>(
        &self,
        access: NatsAccess,
        embedded: Option<&'a Embedded>,
        settings: &Settings,
        session: &'a mut Session<'_>,
    ) -> Ctx<'a> {
        let mut monitoring = Monitoring::new(embedded, &self.monitor_pids, settings);
        monitoring.observers = Some(session.observer.clone());
        Ctx {
            workers: self.workers,
            access,
            embedded,
            monitoring,
            printer: &mut *session.printer,
            cancel: session.cancel.clone(),
            abort: session.abort.clone(),
        }
    }
}

/// How the load is sent.
#[derive(Debug, Clone)]
pub enum Route {
    /// From this process, over NATS.
    Nats,
    /// From workers found on a control server (`--distributed N`).
    Distributed(DistributedSpec),
    /// As Celery tasks on a Redis broker (`--celery-url`), to a queue.
    Celery {
        /// The broker's URL.
        url: String,
        /// The queue.
        queue: String,
    },
}

/// What a run is given besides its spec: the terminal, Ctrl-C twice, and
/// what watches it.
#[derive(Debug)]
pub struct Session<'a> {
    /// Progress and notes on stderr.
    pub printer: &'a mut Printer,
    /// The first Ctrl-C.
    pub cancel: crate::CancellationToken,
    /// The second Ctrl-C.
    pub abort: crate::CancellationToken,
    /// The live dashboard and exporters, or [`crate::Unobserved`].
    pub observer: Arc<dyn Observer>,
}

/// Runs `spec`; the result carries its verdict (with the baseline's
/// check) and whether it was interrupted. A run that could not start (a
/// connection, a preflight, Ctrl-C before the load) is an error.
pub async fn run(spec: RunSpec, session: &mut Session<'_>) -> Result<RunResult> {
    cliffload_engine::memory::check(&spec.scenario, cliffload_engine::memory::available())
        .map_err(anyhow::Error::msg)?;
    let cancel = session.cancel.clone();
    // Starting the server and the services can take seconds: Ctrl-C ends it.
    let (embedded, access) = if matches!(spec.route, Route::Celery { .. }) {
        // Over Celery nothing runs on NATS: no server or services to start.
        (None, NatsAccess::default())
    } else {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(crate::Interrupted.into()),
            started = spec.deployment.connect(
                &spec.settings,
                crate::jetstream::needs_jetstream(&spec.scenario),
            ) => started?,
        }
    };
    if embedded.is_some() {
        session.printer.note(&format!(
            "started nats-server on {} with the reference services (test, order_processing_service)",
            access.display()
        ));
    }
    let outcome = {
        let d = &spec.deployment;
        let mut ctx = d.ctx(access, embedded.as_ref(), &spec.settings, session);
        route(&mut ctx, &spec).await
    };
    // The services are stopped before the frameworks run: they would
    // share the machine with them.
    if let Some(e) = embedded {
        e.stop().await;
    }
    let mut result = outcome?;
    if matches!(spec.route, Route::Nats) && !spec.frameworks.is_empty() && !result.interrupted {
        let mut ctx = Ctx {
            workers: spec.deployment.workers,
            access: NatsAccess::default(),
            embedded: None,
            monitoring: Monitoring::default(),
            printer: &mut *session.printer,
            cancel: cancel.clone(),
            abort: session.abort.clone(),
        };
        crate::frameworks::compare(&mut ctx, &mut result, &spec.scenario, &spec.frameworks).await?;
        result.interrupted |= cancel.is_cancelled();
    }
    compare_with_baseline(&mut result, spec.baseline, &spec.settings);
    if let Some(h) = &spec.history {
        let allowance = spec.settings.max_degradation_percent.unwrap_or(20.0);
        result = crate::history::remember(result, h, allowance, session.printer).await;
    }
    session.observer.finish(&mut result).await;
    Ok(result)
}

/// The load along its route.
async fn route(ctx: &mut Ctx<'_>, spec: &RunSpec) -> Result<RunResult> {
    match &spec.route {
        Route::Celery { url, queue } => {
            ctx.printer
                .note(&format!("over Celery: broker {url}, queue {queue}"));
            let plan = crate::load::plan_of(&spec.scenario)?;
            crate::load::load(ctx, &spec.scenario, &plan, Via::Celery(url, queue)).await
        }
        Route::Distributed(d) => crate::distributed::run_distributed(ctx, &spec.scenario, d).await,
        Route::Nats => run_scenario(ctx, &spec.scenario, spec.deployment.http_url.as_deref()).await,
    }
}

/// The frameworks to compare `scenario` with: for `run`, those whose
/// `scenarios` list it (`compare: None`); for `compare`, those named (all
/// when none is).
pub fn frameworks_for(
    settings: &Settings,
    scenario: &str,
    compare: Option<&[String]>,
) -> Result<Vec<Framework>> {
    let all = &settings.frameworks;
    Ok(match compare {
        None => all
            .iter()
            .filter(|f| f.scenarios.iter().any(|s| s == scenario))
            .cloned()
            .collect(),
        Some([]) => all.clone(),
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter().find(|f| &f.name == n).cloned().ok_or_else(|| {
                    let known: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
                    anyhow::anyhow!(
                        "--framework {n}: not in comparison_frameworks (there: {})",
                        known.join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?,
    })
}

/// The deployment to load: `target`, or our own nats-server with the
/// reference services (then returned too, to be stopped after the load).
pub async fn connect_or_embed(
    target: Option<NatsAccess>,
    latency: (Option<Latency>, f64),
    settings: &Settings,
    jetstream: bool,
) -> Result<(Option<Embedded>, NatsAccess)> {
    Ok(match target {
        Some(access) => (None, access),
        None => {
            let e = start_embedded(latency, settings, jetstream).await?;
            let access = e.access().clone();
            (Some(e), access)
        }
    })
}

/// The embedded nats-server and reference services, with the latency of
/// `--latency`, else the file's `environment.reference_service_latency`.
async fn start_embedded(
    (latency, factor): (Option<Latency>, f64),
    settings: &Settings,
    jetstream: bool,
) -> Result<Embedded> {
    let latency = if latency == Some(Latency::None)
        || (latency.is_none() && settings.reference_latency_none)
    {
        Latency::None
    } else {
        Latency::Realistic
    };
    Embedded::spawn(&ServeConfig {
        latency,
        latency_factor: if factor > 0.0 { factor } else { 1.0 },
        jetstream,
        ..ServeConfig::default()
    })
    .await
}

/// The scenario file of `--config`, else the built-in catalog.
pub fn scenario_file(config: Option<&Path>) -> Result<ScenarioFile> {
    Ok(match config {
        Some(path) => ScenarioFile::load(path)?,
        None => catalog::builtin(),
    })
}

/// Refuses an `--out` directory that cannot be created or written, before
/// any load: results must have somewhere to go.
pub fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--out: cannot create {}", dir.display()))?;
    let probe = dir.join(".cliffload-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out: cannot write into {}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests;
