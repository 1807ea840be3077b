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
use cliffload_report::suite::{SuiteRow, SuiteSummary};
use cliffload_scenario::{Scenario, ScenarioFile, parse_duration};

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

pub async fn suite(args: SuiteArgs, color: ColorChoice, cancel: CancellationToken) -> Result<u8> {
    let file = scenario_file(args.target.config.as_deref())?;
    let cooldown =
        parse_duration(&args.cooldown).map_err(|e| anyhow::anyhow!("--cooldown: {e}"))?;
    args.target.check()?;
    // Every scenario resolved before the first runs.
    let mut scenarios = resolve(&file, &args)?;
    let mode = mode_name(args.mode);
    let started = jiff::Timestamp::now();
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("cliffload-reports").join(format!(
            "suite-{mode}-{}",
            started.strftime("%Y%m%dT%H%M%SZ")
        ))
    });
    check_writable(&dir)?;

    let mut printer = Printer::new(args.quiet);
    let target = args.target.connect.access(&file.settings)?;
    let (embedded, access) = connect_or_embed(target, args.target.latency, &file.settings).await?;
    let url = access.display();
    let total: Duration = scenarios.iter().map(|s| s.0.duration).sum::<Duration>()
        + cooldown * (scenarios.len().saturating_sub(1) as u32);
    let services = if embedded.is_some() {
        " (embedded services)"
    } else {
        ""
    };
    printer.note(&format!(
        "suite {mode}: {} scenario(s), about {} s of load and cool-down, on {url}{services}; results in {}",
        scenarios.len(),
        total.as_secs(),
        dir.display()
    ));

    let monitoring = Monitoring::new(embedded.as_ref(), &args.target.monitor_pid, &file.settings);
    let mut rows = Vec::new();
    let count = scenarios.len();
    // One JUnit file for the whole suite, beside each scenario's own.
    let (mut junit, mut junit_errors) = (Vec::new(), Vec::new());
    for (i, (scenario, baseline)) in scenarios.iter_mut().enumerate() {
        if cancel.is_cancelled() {
            rows.push(SuiteRow::not_run(&scenario.name, None));
            continue;
        }
        if i > 0 && !cooldown.is_zero() {
            printer.note(&format!("cooling down for {} s", cooldown.as_secs_f64()));
            tokio::select! {
                () = tokio::time::sleep(cooldown) => {}
                () = cancel.cancelled() => {
                    rows.push(SuiteRow::not_run(&scenario.name, None));
                    continue;
                }
            }
        }
        printer.note(&format!("[{}/{count}] {}", i + 1, scenario.name));
        let outcome = run_scenario(
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
        match outcome {
            Ok(mut result) => {
                if let Some(b) = baseline.take() {
                    compare_with_baseline(&mut result, b, &file.settings);
                }
                write_scenario(&dir.join(&scenario.name), &result)?;
                if !args.quiet {
                    eprint!(
                        "{}",
                        cliffload_report::text::render_styled(&result, color.stderr_style())
                    );
                }
                rows.push(SuiteRow::ran(&result, &scenario.name));
                junit.push(cliffload_report::junit::render(&result));
            }
            Err(e) => {
                let message = format!("{e:#}");
                printer.note(&format!("{}: could not run: {message}", scenario.name));
                junit_errors.push((scenario.name.clone(), message.clone()));
                rows.push(SuiteRow::not_run(&scenario.name, Some(message)));
            }
        }
    }
    if let Some(e) = embedded {
        e.stop().await;
    }

    let summary = SuiteSummary::new(
        mode,
        started.to_string(),
        cooldown.as_secs_f64(),
        &url,
        rows,
    );
    write_suite(&dir, &summary, &junit, &junit_errors)?;
    print!("{}", cliffload_report::suite::markdown(&summary));
    if !args.quiet {
        eprintln!(
            "suite summary: {} (open {} in a browser)",
            dir.join("suite.md").display(),
            dir.join("index.html").display()
        );
    }
    Ok(if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else if summary.passed {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
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
fn write_scenario(sub: &std::path::Path, result: &cliffload_report::RunResult) -> Result<()> {
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
