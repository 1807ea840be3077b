//! `cliffload run`: scenario → (embedded services) → preflight → load →
//! result → verdict → exit code.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use cliffload_engine::{CancellationToken, EngineError, Plan, RunOptions, RunOutput};
use cliffload_http::{HttpConnector, HttpTarget};
use cliffload_monitor::{NatsTraffic, Role, Sampler, Varz, Watched};
use cliffload_nats::{NatsConnector, Target};
use cliffload_report::{OpenMeasures, PreflightRow, RunMeta, RunResult};
use cliffload_scenario::{ArrivalRate, Scenario, ScenarioFile, Settings, catalog, parse_duration};

use crate::args::{ColorChoice, Format, Latency, RunArgs};
use crate::embedded::{Embedded, ServeConfig};
use crate::exit;
use crate::progress::Printer;

pub async fn run(args: RunArgs, color: ColorChoice, cancel: CancellationToken) -> Result<u8> {
    let (scenario, settings) = resolve(&args)?;
    // Read before the load: a bad baseline is a usage error, not lost results.
    let baseline = find_baseline(&scenario.name, args.baseline.as_deref(), &settings)?;
    // --nats-url, else the file's environment.nats_url, else our own server.
    let target = args.target.nats_url.clone().or(settings.nats_url.clone());
    args.target.check()?;
    if let Some(dir) = &args.out {
        check_writable(dir)?;
    }
    let mut printer = Printer::new(args.quiet);
    let (embedded, url) = connect_or_embed(target, args.target.latency, &settings).await?;
    if embedded.is_some() {
        printer.note(&format!(
            "started nats-server on {url} with the reference services (test, order_processing_service)"
        ));
    }
    let monitoring = Monitoring::new(embedded.as_ref(), &args.target.monitor_pid, &settings);
    let outcome = run_scenario(
        args.target.workers,
        &scenario,
        &url,
        embedded.as_ref(),
        args.target.http_url.as_deref(),
        &monitoring,
        &mut printer,
        cancel,
    )
    .await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    let mut result = outcome?;
    compare_with_baseline(&mut result, baseline, &settings);
    report(&args, &result, color.stdout())?;
    Ok(if result.interrupted {
        exit::INTERRUPTED
    } else if result.verdict.passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

/// The NATS URL to load: `target`, or that of our own nats-server with the
/// reference services (then returned too, to be stopped after the load).
pub async fn connect_or_embed(
    target: Option<String>,
    latency: Option<Latency>,
    settings: &Settings,
) -> Result<(Option<Embedded>, String)> {
    Ok(match target {
        Some(url) => (None, url),
        None => {
            let e = start_embedded(latency, settings).await?;
            let url = e.url().to_owned();
            (Some(e), url)
        }
    })
}

/// The embedded nats-server and reference services, with the latency of
/// `--latency`, else the file's `environment.reference_service_latency`.
async fn start_embedded(latency: Option<Latency>, settings: &Settings) -> Result<Embedded> {
    let latency = if latency == Some(Latency::None)
        || (latency.is_none() && settings.reference_latency_none)
    {
        Latency::None
    } else {
        Latency::Realistic
    };
    Embedded::spawn(&ServeConfig {
        latency,
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

/// The scenario named on the command line, with the flags' overrides.
fn resolve(args: &RunArgs) -> Result<(Scenario, Settings)> {
    let file = scenario_file(args.target.config.as_deref())?;
    let mut s = file.get(&args.scenario)?.clone();
    apply_overrides(
        &mut s,
        &Overrides {
            duration: args.duration.as_deref(),
            users: args.users,
            spawn_rate: args.spawn_rate,
            seed: args.seed,
        },
    )?;
    match args.requests {
        Some(0) => bail!("--requests: must be ≥ 1, got 0"),
        Some(n) => s.max_requests = Some(n),
        None => {}
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
            bail!("--rate: must be > 0 and ≤ 10000000 requests/s, got {rate}");
        }
        let max_in_flight = s
            .arrival
            .map_or(NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN), |a| {
                a.max_in_flight
            });
        s.arrival = Some(ArrivalRate {
            rate,
            ramp_to: None,
            max_in_flight,
        });
    }
    Ok((s, file.settings))
}

/// The result to compare with: `--baseline FILE` (must be readable), else,
/// with `advanced.regression_detection` enabled, its `baseline_results_path`:
/// a result.json, or a directory holding `<scenario>/result.json` (what
/// `cliffload suite --out` writes) or `result.json`. A configured baseline
/// that is not there yet is a warning (the first run makes it), not an error.
pub fn find_baseline(
    scenario: &str,
    explicit: Option<&Path>,
    settings: &Settings,
) -> Result<Baseline> {
    if let Some(path) = explicit {
        return Ok(Baseline::Found(Box::new(crate::list::read_result(path)?)));
    }
    let Some(configured) = &settings.baseline_results_path else {
        return Ok(Baseline::None);
    };
    let root = Path::new(configured);
    let candidates = [
        root.to_path_buf(),
        root.join(scenario).join("result.json"),
        root.join("result.json"),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => Ok(Baseline::Found(Box::new(crate::list::read_result(p)?))),
        None => Ok(Baseline::Missing(format!(
            "no regression check: advanced.regression_detection is enabled but there is no baseline at {} (nor {}/{scenario}/result.json); keep this run's result.json there to compare the next one with it",
            root.display(),
            root.display()
        ))),
    }
}

/// What [`find_baseline`] found.
#[derive(Debug)]
pub enum Baseline {
    /// No comparison asked for.
    None,
    /// Compare with this result.
    Found(Box<RunResult>),
    /// Asked for in the configuration but not there: this warning.
    Missing(String),
}

/// Applies the regression check of `baseline`, or its warning.
pub fn compare_with_baseline(result: &mut RunResult, baseline: Baseline, settings: &Settings) {
    match baseline {
        Baseline::None => {}
        Baseline::Found(base) => cliffload_report::regression::apply(
            result,
            &base,
            settings.max_degradation_percent.unwrap_or(20.0),
        ),
        Baseline::Missing(warning) => result.warnings.push(warning),
    }
}

/// Command-line overrides of a scenario's load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides<'a> {
    pub duration: Option<&'a str>,
    pub users: Option<u32>,
    pub spawn_rate: Option<f64>,
    pub seed: Option<u64>,
}

/// Lays `o` over `s`, checking each value.
pub fn apply_overrides(s: &mut Scenario, o: &Overrides<'_>) -> Result<()> {
    if let Some(d) = o.duration {
        s.duration = parse_duration(d).map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
        if s.duration.is_zero() {
            bail!("--duration: must be > 0");
        }
    }
    if let Some(u) = o.users {
        s.users = NonZeroU32::new(u).context("--users: must be ≥ 1, got 0")?;
    }
    if let Some(r) = o.spawn_rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--spawn-rate: must be > 0 users/s, got {r}");
        }
        s.spawn_rate = r;
    }
    if let Some(seed) = o.seed {
        s.seed = seed;
    }
    Ok(())
}

pub fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--out: cannot create {}", dir.display()))?;
    let probe = dir.join(".cliffload-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out: cannot write into {}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

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
                label: format!("pid {pid}"),
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
        }
    }
}

/// The scenario over NATS; then, when it claims `ten_x_faster_than_rest`,
/// the same plan over HTTP (`http_url`, else the embedded services' HTTP
/// endpoint), compared in the result.
#[allow(clippy::too_many_arguments)]
pub async fn run_scenario(
    workers: usize,
    scenario: &Scenario,
    url: &str,
    embedded: Option<&Embedded>,
    http_url: Option<&str>,
    monitoring: &Monitoring,
    printer: &mut Printer,
    cancel: CancellationToken,
) -> Result<RunResult> {
    let plan = plan_of(scenario)?;
    let mut result = load(
        workers,
        scenario,
        &plan,
        Via::Nats(url),
        embedded.is_some(),
        monitoring,
        printer,
        cancel.clone(),
    )
    .await?;
    if !scenario.claims.ten_x_faster_than_rest || result.interrupted {
        return Ok(result);
    }
    let base = http_url.map(str::to_owned).or_else(|| {
        embedded
            .and_then(Embedded::http)
            .map(|a| format!("http://{a}"))
    });
    let Some(base) = base else {
        result.warnings.push(
            "ten_x_faster_than_rest not judged: no HTTP endpoint to compare with; pass --http-url http://HOST:PORT of the same service".to_owned(),
        );
        return Ok(result);
    };
    printer.note(&format!("the same requests over HTTP at {base}"));
    match load(
        workers,
        scenario,
        &plan,
        Via::Http(&base),
        embedded.is_some(),
        &Monitoring::default(),
        printer,
        cancel,
    )
    .await
    {
        Ok(http) => cliffload_report::comparison::apply(
            &mut result,
            &http,
            &base,
            scenario.expectations.max_failure_percent.unwrap_or(1.0),
        ),
        Err(e) => result
            .warnings
            .push(format!("the HTTP comparison could not run: {e:#}")),
    }
    Ok(result)
}

/// Where a load goes.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// Over NATS, to this server.
    Nats(&'a str),
    /// Over HTTP, to this base URL (`POST {base}/{service}/rpc/{method}`).
    Http(&'a str),
}

/// The scenario's plan: its payload pools built once, shared by every load of it.
pub fn plan_of(scenario: &Scenario) -> Result<Arc<Plan>> {
    let payloads = cliffload_engine::build_payloads(scenario).map_err(anyhow::Error::msg)?;
    Ok(Arc::new(Plan::new(scenario, payloads)))
}

/// Preflight, then the load (its processes sampled every second); the result with its verdict.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    workers: usize,
    scenario: &Scenario,
    plan: &Arc<Plan>,
    via: Via<'_>,
    embedded: bool,
    monitoring: &Monitoring,
    printer: &mut Printer,
    cancel: CancellationToken,
) -> Result<RunResult> {
    let origin = (Instant::now(), SystemTime::now());
    let mut sampler =
        Sampler::new(monitoring.watched.clone(), origin.0).map_err(anyhow::Error::msg)?;
    sampler.sample();
    if let Some(gone) = sampler.series().iter().find(|s| s.exited) {
        bail!(
            "--monitor-pid {}: no such process (is the service running?)",
            gone.pid
        );
    }
    let (preflight, url) = match via {
        Via::Nats(url) => {
            let targets: Vec<Target> = scenario.tasks.iter().map(Target::of).collect();
            let client = cliffload_nats::connect(url, "cliffload-preflight")
                .await
                .map_err(anyhow::Error::msg)?;
            let rows = cliffload_nats::preflight(&client, plan, &targets).await?;
            drop(client);
            (rows, url)
        }
        Via::Http(base) => (Vec::new(), base),
    };
    printer.note(&format!(
        "running {} for {:?} over {}: {} users at {}/s, {} class(es), {} task(s), error rate {}, seed {}",
        scenario.name,
        scenario.duration,
        match via {
            Via::Nats(_) => "NATS",
            Via::Http(_) => "HTTP",
        },
        scenario.users,
        scenario.spawn_rate,
        scenario.classes.len(),
        scenario.tasks.len(),
        scenario.error_rate,
        scenario.seed
    ));
    let options = RunOptions { workers };
    let varz_before = match &monitoring.nats_monitor_url {
        Some(u) => Some(read_varz(u).await),
        None => None,
    };
    let out = match via {
        Via::Nats(url) => {
            let targets: Vec<Target> = scenario.tasks.iter().map(Target::of).collect();
            let connector = Arc::new(NatsConnector::new(url, targets));
            drive(plan, connector, options, &mut sampler, printer, cancel).await
        }
        Via::Http(base) => {
            let targets = scenario
                .tasks
                .iter()
                .map(|t| HttpTarget::of(t, base))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            let connector = Arc::new(HttpConnector::new(targets));
            let first: Vec<&cliffload_engine::Payload> =
                plan.tasks.iter().map(|t| t.payload(0)).collect();
            cliffload_http::preflight(&connector, &first)
                .await
                .map_err(anyhow::Error::msg)?;
            drive(plan, connector, options, &mut sampler, printer, cancel).await
        }
    };
    let out: RunOutput = match out {
        Ok(o) => o,
        Err(EngineError::CancelledBeforeStart) => bail!("interrupted before the load started"),
        Err(e) => return Err(e.into()),
    };
    let mut warnings = Vec::new();
    if out.lost_workers > 0 {
        warnings.push(format!(
            "{} generator worker(s) stopped early: their last second is missing from the figures",
            out.lost_workers
        ));
    }
    let meta = RunMeta {
        scenario,
        nats_url: url.to_owned(),
        embedded,
        workers: out.workers.max(1),
        preflight: preflight
            .iter()
            .map(|p| PreflightRow {
                task: p.task.clone(),
                outcome: p.outcome,
                latency_us: p.latency.as_micros() as u64,
            })
            .collect(),
        started_at: out.started_at.max(SystemTime::UNIX_EPOCH),
        elapsed: out.elapsed,
        interrupted: out.interrupted,
        warnings,
        generator_cpu: out.generator_cpu,
        open: scenario.arrival.map(|_| OpenMeasures {
            intended: out.intended.clone(),
            late: out.late,
            dropped: out.dropped,
        }),
    };
    // Sample times from the start of the load.
    let load_start = match out.started_at.duration_since(origin.1) {
        Ok(after) => origin.0 + after,
        Err(e) => origin.0.checked_sub(e.duration()).unwrap_or(origin.0),
    };
    sampler.set_origin(load_start);
    let mut result = RunResult::build(meta, &out.totals, &out.intervals);
    let nats = match (&monitoring.nats_monitor_url, varz_before) {
        (Some(u), Some(Ok(before))) => match read_varz(u).await {
            Ok(after) => Some(NatsTraffic::between(u, &before, &after)),
            Err(e) => {
                result.warnings.push(e);
                None
            }
        },
        (_, Some(Err(e))) => {
            result.warnings.push(e);
            None
        }
        _ => None,
    };
    cliffload_report::monitor::apply(
        &mut result,
        SAMPLE_EVERY.as_secs_f64(),
        sampler.finish(),
        nats,
        monitoring.max_increase_mib,
    );
    Ok(result)
}

/// nats-server's `/varz` counters (one loopback or configured request, 2 s at most).
async fn read_varz(base: &str) -> Result<Varz, String> {
    let url = format!("{}/varz", base.trim_end_matches('/'));
    let fail = |e: String| {
        format!(
            "no nats-server counters: cannot read {url} ({e}); set environment.nats_monitoring_url to the server's monitoring address (nats-server -m PORT)"
        )
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    response
        .json::<Varz>()
        .await
        .map_err(|e| fail(e.to_string()))
}

/// Runs the engine, sampling the watched processes every second meanwhile.
async fn drive<C: cliffload_engine::Connector>(
    plan: &Arc<Plan>,
    connector: Arc<C>,
    options: RunOptions,
    sampler: &mut Sampler,
    printer: &mut Printer,
    cancel: CancellationToken,
) -> Result<RunOutput, EngineError> {
    let out = {
        let mut engine = std::pin::pin!(cliffload_engine::run(
            plan.clone(),
            connector,
            options,
            cancel,
            |p| printer.update(&p)
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

/// Writes the files, then prints: results are on disk before anything else can fail.
fn report(args: &RunArgs, result: &RunResult, colour: bool) -> Result<()> {
    let json = result.to_json();
    let text = cliffload_report::text::render_styled(result, colour);
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, result)
            .with_context(|| format!("cannot write the results into {}", dir.display()))?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Text => print!("{text}"),
    }
    if let Some(dir) = args.out.as_ref().filter(|_| !args.quiet) {
        eprintln!("results written to {}", dir.display());
    }
    Ok(())
}
