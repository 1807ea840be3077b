//! `cliffload suite quick|full|stress`: scenarios in sequence against one
//! set of services, a cool-down between them, every scenario's reports in its
//! own directory, and one summary (`suite.md`, `index.html`, `suite.json`).
//!
//! A scenario that cannot run (preflight, connection) is recorded as an error
//! and the suite goes on; the configuration of every scenario is checked
//! before the first starts, so a typo fails at once (exit 2).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use cliffload_engine::CancellationToken;
use cliffload_report::RunResult;
use cliffload_report::suite::{SuiteRow, SuiteSummary};
use cliffload_scenario::{Overrides, Scenario, ScenarioFile};

use crate::baseline::{Baseline, compare_with_baseline, find_baseline};
use crate::load::run_scenario;
use crate::progress::Printer;
use crate::run::{Deployment, Session, check_writable};

/// Which scenarios a suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SuiteMode {
    /// baseline 30 s, then high_throughput with 50 users (5/s) for 60 s.
    Quick,
    /// baseline, high_throughput, error_resilience, large_payloads, mixed_workload, stress_test.
    Full,
    /// stress_test alone.
    Stress,
}

/// Everything a suite needs, resolved.
#[derive(Debug)]
pub struct SuiteSpec {
    /// Which scenarios.
    pub mode: SuiteMode,
    /// Where they come from (the built-in catalog, or a file over it).
    pub file: ScenarioFile,
    /// What the loads go to, and how they are generated.
    pub deployment: Deployment,
    /// The pause between two scenarios.
    pub cooldown: Duration,
    /// Every scenario's duration, when overridden (`--duration`).
    pub duration: Option<String>,
    /// Every scenario's seed, when overridden.
    pub seed: Option<u64>,
    /// The results directory (`None`: cliffload-reports/suite-MODE-TIME).
    pub out: Option<PathBuf>,
    /// How to show each scenario's result on stderr (`None`: not at all).
    pub show: Option<cliffload_report::text::Style>,
    /// Where each scenario's run is remembered (`None`: `--no-history`).
    pub history: Option<crate::history::HistorySpec>,
}

/// What a suite left: its summary, in the directory its files are in.
#[derive(Debug)]
pub struct SuiteDone {
    /// The summary (also written as suite.md, index.html, suite.json).
    pub summary: SuiteSummary,
    /// Where every file is.
    pub dir: PathBuf,
}

/// The scenarios of a mode, with the mode's own load where it has one
/// (the original suite's `quick`: baseline 30 s, high-throughput 50 users for 60 s).
fn plan(mode: SuiteMode) -> Vec<(&'static str, Overrides<'static>)> {
    let as_configured = Overrides::default();
    match mode {
        SuiteMode::Quick => vec![
            (
                "baseline",
                Overrides {
                    duration: Some("30s"),
                    ..as_configured
                },
            ),
            (
                "high_throughput",
                Overrides {
                    duration: Some("60s"),
                    users: Some(50),
                    spawn_rate: Some(5.0),
                    ..as_configured
                },
            ),
        ],
        SuiteMode::Full => [
            "baseline",
            "high_throughput",
            "error_resilience",
            "large_payloads",
            "mixed_workload",
            "stress_test",
        ]
        .into_iter()
        .map(|n| (n, as_configured))
        .collect(),
        SuiteMode::Stress => vec![("stress_test", as_configured)],
    }
}

impl SuiteMode {
    /// `quick`, `full`, `stress`.
    pub fn name(self) -> &'static str {
        match self {
            SuiteMode::Quick => "quick",
            SuiteMode::Full => "full",
            SuiteMode::Stress => "stress",
        }
    }
}

/// `cliffload suite MODE`: every scenario checked, then run in turn against
/// one deployment, each written into its own directory, then one summary.
pub async fn suite(spec: SuiteSpec, session: &mut Session<'_>) -> Result<SuiteDone> {
    // Every scenario resolved before the first runs.
    let mut scenarios = resolve(&spec)?;
    let mode = spec.mode.name();
    let started = jiff::Timestamp::now();
    let dir = spec
        .out
        .clone()
        .unwrap_or_else(|| default_dir(mode, started));
    check_writable(&dir)?;
    let settings = &spec.file.settings;
    let jetstream = scenarios
        .iter()
        .any(|(s, _)| crate::jetstream::needs_jetstream(s));
    let (embedded, access) = spec.deployment.connect(settings, jetstream).await?;
    let url = access.display();
    announce(
        session.printer,
        mode,
        &scenarios,
        spec.cooldown,
        &url,
        embedded.is_some(),
        &dir,
    );
    let observer = session.observer.clone();
    let mut ctx = spec
        .deployment
        .ctx(access, embedded.as_ref(), settings, session);
    let mut runs = Runs::new(&dir, spec.show);
    let count = scenarios.len();
    for (i, (scenario, baseline)) in scenarios.iter_mut().enumerate() {
        let cancel = ctx.cancel.clone();
        if cancel.is_cancelled() || (i > 0 && !cool_down(spec.cooldown, ctx.printer, &cancel).await)
        {
            runs.rows.push(SuiteRow::not_run(&scenario.name, None));
            continue;
        }
        ctx.printer
            .note(&format!("[{}/{count}] {}", i + 1, scenario.name));
        let outcome = run_scenario(&mut ctx, scenario, spec.deployment.http_url.as_deref()).await;
        let outcome = match outcome {
            Ok(r) => Ok(judged(r, baseline.take(), &spec, &mut ctx, &observer).await),
            Err(e) => Err(e),
        };
        runs.record(scenario, outcome, ctx.printer)?;
    }
    drop(ctx);
    if let Some(e) = embedded {
        e.stop().await;
    }
    let summary = SuiteSummary::new(
        mode,
        started.to_string(),
        spec.cooldown.as_secs_f64(),
        &url,
        runs.rows,
    );
    write_suite(&dir, &summary, &runs.junit, &runs.junit_errors)?;
    Ok(SuiteDone { summary, dir })
}

/// One scenario's result compared with its baseline, remembered in the
/// history and shown to the observers, in that order (as a run's).
async fn judged(
    mut r: RunResult,
    baseline: Option<Baseline>,
    spec: &SuiteSpec,
    ctx: &mut crate::load::Ctx<'_>,
    observer: &std::sync::Arc<dyn crate::Observer>,
) -> RunResult {
    let settings = &spec.file.settings;
    if let Some(b) = baseline {
        compare_with_baseline(&mut r, b, settings);
    }
    if let Some(h) = &spec.history {
        let allowance = settings.max_degradation_percent.unwrap_or(20.0);
        r = crate::history::remember(r, h, allowance, ctx.printer).await;
    }
    observer.finish(&mut r).await;
    r
}

/// `cliffload-reports/suite-MODE-TIME`.
fn default_dir(mode: &str, started: jiff::Timestamp) -> PathBuf {
    PathBuf::from("cliffload-reports").join(format!(
        "suite-{mode}-{}",
        started.strftime("%Y%m%dT%H%M%SZ")
    ))
}

/// What the suite will do, in one line.
fn announce(
    printer: &mut Printer,
    mode: &str,
    scenarios: &[(Scenario, Option<Baseline>)],
    cooldown: Duration,
    url: &str,
    embedded: bool,
    dir: &std::path::Path,
) {
    let total: Duration = scenarios.iter().map(|s| s.0.duration).sum::<Duration>()
        + cooldown * (scenarios.len().saturating_sub(1) as u32);
    let services = if embedded { " (embedded services)" } else { "" };
    printer.note(&format!(
        "suite {mode}: {} scenario(s), about {} s of load and cool-down, on {url}{services}; results in {}",
        scenarios.len(),
        total.as_secs(),
        dir.display()
    ));
}

/// The pause between two scenarios; false when Ctrl-C came during it.
async fn cool_down(cooldown: Duration, printer: &mut Printer, cancel: &CancellationToken) -> bool {
    if cooldown.is_zero() {
        return true;
    }
    printer.note(&format!("cooling down for {} s", cooldown.as_secs_f64()));
    tokio::select! {
        () = tokio::time::sleep(cooldown) => true,
        () = cancel.cancelled() => false,
    }
}

/// What the scenarios so far gave: a summary row each, and the suite's one
/// JUnit file (the results of those that ran, the errors of those that did not).
struct Runs<'a> {
    /// The suite's directory: each scenario writes into its own below it.
    dir: &'a std::path::Path,
    /// How to show each result on stderr (`None` under --quiet).
    show: Option<cliffload_report::text::Style>,
    rows: Vec<SuiteRow>,
    junit: Vec<String>,
    junit_errors: Vec<(String, String)>,
}

impl<'a> Runs<'a> {
    fn new(dir: &'a std::path::Path, show: Option<cliffload_report::text::Style>) -> Self {
        Self {
            dir,
            show,
            rows: Vec::new(),
            junit: Vec::new(),
            junit_errors: Vec::new(),
        }
    }

    /// Keeps one scenario's outcome: its judged result, written and shown,
    /// or the reason it could not run.
    fn record(
        &mut self,
        scenario: &Scenario,
        outcome: Result<RunResult>,
        printer: &mut Printer,
    ) -> Result<()> {
        match outcome {
            Ok(result) => {
                write_scenario(&self.dir.join(&scenario.name), &result)?;
                if let Some(style) = self.show {
                    eprint!("{}", cliffload_report::text::render_styled(&result, style));
                }
                self.rows.push(SuiteRow::ran(&result, &scenario.name));
                self.junit.push(cliffload_report::junit::render(&result));
            }
            Err(e) => {
                let message = format!("{e:#}");
                printer.note(&format!("{}: could not run: {message}", scenario.name));
                self.junit_errors
                    .push((scenario.name.clone(), message.clone()));
                self.rows
                    .push(SuiteRow::not_run(&scenario.name, Some(message)));
            }
        }
        Ok(())
    }
}

/// The suite's scenarios with the mode's and the user's overrides, and the
/// baseline each is compared with.
fn resolve(spec: &SuiteSpec) -> Result<Vec<(Scenario, Option<Baseline>)>> {
    let user = Overrides {
        duration: spec.duration.as_deref(),
        seed: spec.seed,
        ..Overrides::default()
    };
    plan(spec.mode)
        .into_iter()
        .map(|(name, mode_overrides)| {
            let mut s = spec.file.get(name)?.clone();
            s.apply(&mode_overrides).map_err(anyhow::Error::msg)?;
            s.apply(&user).map_err(anyhow::Error::msg)?;
            let baseline = find_baseline(&s.name, None, &spec.file.settings)?;
            Ok((s, Some(baseline)))
        })
        .collect()
}

/// One scenario's files in its own directory of the suite's.
fn write_scenario(sub: &std::path::Path, result: &RunResult) -> Result<()> {
    std::fs::create_dir_all(sub)
        .and_then(|()| cliffload_report::write_all(sub, result).map(drop))
        .map_err(|e| anyhow::anyhow!("cannot write the results into {}: {e}", sub.display()))
}

/// The suite's summary (index.html, suite.md, suite.json) and its one junit.xml.
fn write_suite(
    dir: &std::path::Path,
    summary: &SuiteSummary,
    junit: &[String],
    junit_errors: &[(String, String)],
) -> Result<()> {
    cliffload_report::suite::write_all(dir, summary)
        .and_then(|_| {
            cliffload_report::write_atomically(
                &dir.join("junit.xml"),
                cliffload_report::junit::combine(junit, junit_errors).as_bytes(),
            )
        })
        .map_err(|e| anyhow::anyhow!("cannot write the suite summary into {}: {e}", dir.display()))
}
