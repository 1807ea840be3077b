//! `cliffload scenarios`.

use anyhow::Result;
use cliffload_scenario::{Expectations, ScenarioFile, human_duration};

use crate::args::{ReportArgs, ReportFormat, ScenariosArgs, ValidateArgs};
use crate::exit;

pub fn scenarios(args: ScenariosArgs) -> Result<u8> {
    let file = crate::run::scenario_file(args.config.as_deref())?;
    for s in &file.scenarios {
        println!(
            "{:<20} {:>6}  {}  {}",
            s.name,
            human_duration(s.duration),
            s.describe_load(),
            s.description.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

/// `cliffload validate FILE [SCENARIO]`: the resolved plan of the file's
/// scenarios (or of SCENARIO), or every error found.
pub fn validate(args: ValidateArgs) -> Result<u8> {
    let file = ScenarioFile::load(&args.file)?;
    let chosen: Vec<&cliffload_scenario::Scenario> = match &args.scenario {
        Some(name) => vec![file.get(name)?],
        None if file.written.is_empty() => file.scenarios.iter().collect(),
        None => file
            .written
            .iter()
            .filter_map(|n| file.get(n).ok())
            .collect(),
    };
    println!("{}: valid; {}", args.file.display(), what_it_writes(&file));
    for s in chosen {
        println!("\n{} — {}", s.name, s.description.as_deref().unwrap_or(""));
        println!(
            "  {} for {}; error rate {}; seed {}",
            s.describe_load(),
            human_duration(s.duration),
            s.error_rate,
            s.seed
        );
        println!("  expectations: {}", describe_expectations(&s.expectations));
        for c in &s.classes {
            println!(
                "  class {} (weight {}, think time {})",
                c.name, c.weight, c.wait_time
            );
            for &t in &c.tasks {
                let t = &s.tasks[t];
                let payload = match &t.payload {
                    cliffload_scenario::Payload::Static(v) => format!("fixed {v}"),
                    cliffload_scenario::Payload::Generated { models, arg } => format!(
                        "generated {} as {}",
                        models
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" or "),
                        arg.as_deref().unwrap_or("the whole body")
                    ),
                };
                println!(
                    "    {:<40} {} weight {} timeout {} error rate {} · {payload}",
                    t.name,
                    t.request.subject,
                    t.weight,
                    human_duration(t.request.timeout),
                    t.error_rate
                );
            }
        }
    }
    Ok(exit::OK)
}

/// `cliffload report result.json`: re-render a saved run.
pub fn report(args: ReportArgs, color: crate::args::ColorChoice) -> Result<u8> {
    let mut r = read_result(&args.result)?;
    if let Some(base) = &args.baseline {
        cliffload_report::regression::apply(
            &mut r,
            &read_result(base)?,
            args.max_degradation_percent,
        );
    }
    if let Some(dir) = &args.out {
        cliffload_report::write_all(dir, &r)
            .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
    }
    print!(
        "{}",
        match args.format {
            ReportFormat::Text => cliffload_report::text::render_styled(&r, color.stdout_style()),
            ReportFormat::Markdown => cliffload_report::markdown::render(&r),
            ReportFormat::Junit => cliffload_report::junit::render(&r),
            ReportFormat::Csv => cliffload_report::csv_locust::stats(&r),
        }
    );
    Ok(if r.verdict.passed() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

/// Reads a result.json, saying what is wrong with it.
pub fn read_result(path: &std::path::Path) -> Result<cliffload_report::RunResult> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a cliffload result.json (schema version {}): {e}",
            path.display(),
            cliffload_report::SCHEMA_VERSION
        )
    })
}

/// The scenarios a file adds and changes, in words.
fn what_it_writes(file: &ScenarioFile) -> String {
    let builtin = cliffload_scenario::catalog::builtin();
    let is_builtin = |n: &String| builtin.scenarios.iter().any(|s| &s.name == n);
    let (changed, added): (Vec<&String>, Vec<&String>) =
        file.written.iter().partition(|n| is_builtin(n));
    let list = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!(
            "{} scenario{} of its own ({})",
            added.len(),
            plural(added.len()),
            list(&added)
        ));
    }
    if !changed.is_empty() {
        parts.push(format!(
            "{} built-in one{} changed ({})",
            changed.len(),
            plural(changed.len()),
            list(&changed)
        ));
    }
    if parts.is_empty() {
        parts.push("no scenario of its own".to_owned());
    }
    let untouched = builtin.scenarios.len() - changed.len();
    parts.push(format!(
        "{untouched} built-in scenario{} beside them",
        plural(untouched)
    ));
    parts.join("; ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The checks a scenario sets, in words (the failure bound always applies).
fn describe_expectations(e: &Expectations) -> String {
    let mut parts = vec![format!("failures ≤ {}%", e.failure_bound())];
    let ms = |name: &str, v: Option<f64>| v.map(|v| format!("{name} ≤ {v} ms"));
    parts.extend(ms("median", e.max_median_ms));
    parts.extend(ms("p95", e.max_p95_ms));
    parts.extend(ms("p99", e.max_p99_ms));
    parts.extend(e.min_rps.map(|v| format!("≥ {v} successful req/s")));
    parts.join(", ")
}
