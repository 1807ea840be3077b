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
use cliffload_scenario::{Scenario, ScenarioFile, Settings, parse_duration};

use crate::args::{ColorChoice, SuiteArgs, SuiteMode};
use crate::baseline::{Baseline, compare_with_baseline, find_baseline};
use crate::exit;
use crate::load::{Monitoring, run_scenario};
use crate::progress::Printer;
use crate::run::{Overrides, apply_overrides, check_writable, connect_or_embed, scenario_file};

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
                    seed: None,
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

fn mode_name(mode: SuiteMode) -> &'static str {
    match mode {
        SuiteMode::Quick => "quick",
        SuiteMode::Full => "full",
        SuiteMode::Stress => "stress",
    }
}

/// `cliffload suite MODE`: every scenario checked, then run in turn against
/// one deployment, then one summary; exit 0 only when every scenario passed.
pub async fn suite(args: SuiteArgs, color: ColorChoice, cancel: CancellationToken) -> Result<u8> {
    let file = scenario_file(args.target.config.as_deref())?;
    let cooldown =
        parse_duration(&args.cooldown).map_err(|e| anyhow::anyhow!("--cooldown: {e}"))?;
    args.target.check()?;
    // Every scenario resolved before the first runs.
    let mut scenarios = resolve(&file, &args)?;
    let mode = mode_name(args.mode);
    let started = jiff::Timestamp::now();
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_dir(mode, started));
    check_writable(&dir)?;

    let mut printer = Printer::new(args.quiet);
    let target = args.target.connect.access(&file.settings)?;
    let (embedded, access) = connect_or_embed(target, args.target.latency, &file.settings).await?;
    let url = access.display();
    announce(
        &mut printer,
        mode,
        &scenarios,
        cooldown,
        &url,
        embedded.is_some(),
        &dir,
    );
    let mut monitoring =
        Monitoring::new(embedded.as_ref(), &args.target.monitor_pid, &file.settings);
    let observers = std::sync::Arc::new(
        crate::observe::Observers::start(
            &args.observe,
            &format!("suite {mode}"),
            &cancel,
            &mut printer,
        )
        .await?,
    );
    monitoring.observers = Some(observers.clone());
    let mut runs = Runs::new(
        &dir,
        &file.settings,
        (!args.quiet).then(|| color.stderr_style()),
    );
    let count = scenarios.len();
    for (i, (scenario, baseline)) in scenarios.iter_mut().enumerate() {
        if cancel.is_cancelled() || (i > 0 && !cool_down(cooldown, &mut printer, &cancel).await) {
            runs.rows.push(SuiteRow::not_run(&scenario.name, None));
            continue;
        }
        printer.note(&format!("[{}/{count}] {}", i + 1, scenario.name));
        let mut outcome = run_scenario(
            args.target.workers,
            scenario,
            &access,
            embedded.as_ref(),
            args.target.http_url.as_deref(),
            &monitoring,
            &mut printer,
            cancel.clone(),
        )
        .await;
        if let Ok(r) = &mut outcome {
            observers.finish(r).await;
        }
        runs.record(scenario, outcome, baseline.take(), &mut printer)?;
    }
    if let Some(e) = embedded {
        e.stop().await;
    }
    let summary = SuiteSummary::new(
        mode,
        started.to_string(),
        cooldown.as_secs_f64(),
        &url,
        runs.rows,
    );
    write_suite(&dir, &summary, &runs.junit, &runs.junit_errors)?;
    print!("{}", cliffload_report::suite::markdown(&summary));
    if !args.quiet {
        eprintln!(
            "suite summary: {} (open {} in a browser)",
            dir.join("suite.md").display(),
            dir.join("index.html").display()
        );
    }
    observers.close(&cancel, &mut printer).await;
    Ok(exit_code(&summary, &cancel))
}

/// 130 when interrupted; 0 only when every scenario passed; 3 when the
/// only scenarios that did not pass were inconclusive; else 1.
fn exit_code(summary: &SuiteSummary, cancel: &CancellationToken) -> u8 {
    use cliffload_report::suite::SuiteStatus;
    if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else if summary.passed {
        exit::OK
    } else if summary
        .scenarios
        .iter()
        .all(|r| matches!(r.status, SuiteStatus::Passed | SuiteStatus::Inconclusive))
    {
        exit::INCONCLUSIVE
    } else {
        exit::CHECK_FAILED
    }
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
    /// For the regression check.
    settings: &'a Settings,
    /// How to show each result on stderr (`None` under --quiet).
    show: Option<cliffload_report::text::Style>,
    rows: Vec<SuiteRow>,
    junit: Vec<String>,
    junit_errors: Vec<(String, String)>,
}

impl<'a> Runs<'a> {
    fn new(
        dir: &'a std::path::Path,
        settings: &'a Settings,
        show: Option<cliffload_report::text::Style>,
    ) -> Self {
        Self {
            dir,
            settings,
            show,
            rows: Vec::new(),
            junit: Vec::new(),
            junit_errors: Vec::new(),
        }
    }

    /// Keeps one scenario's outcome: its result compared with its baseline,
    /// written and shown, or the reason it could not run.
    fn record(
        &mut self,
        scenario: &Scenario,
        outcome: Result<RunResult>,
        baseline: Option<Baseline>,
        printer: &mut Printer,
    ) -> Result<()> {
        match outcome {
            Ok(mut result) => {
                if let Some(b) = baseline {
                    compare_with_baseline(&mut result, b, self.settings);
                }
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
fn resolve(file: &ScenarioFile, args: &SuiteArgs) -> Result<Vec<(Scenario, Option<Baseline>)>> {
    let user = Overrides {
        duration: args.duration.as_deref(),
        seed: args.seed,
        ..Overrides::default()
    };
    plan(args.mode)
        .into_iter()
        .map(|(name, mode_overrides)| {
            let mut s = file.get(name)?.clone();
            apply_overrides(&mut s, &mode_overrides)?;
            apply_overrides(&mut s, &user)?;
            let baseline = find_baseline(&s.name, None, &file.settings)?;
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
