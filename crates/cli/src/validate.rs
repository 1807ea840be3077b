//! `cliffload validate`: a scenario file's resolved plan, or every mistake in it.

use anyhow::Result;
use cliffload_scenario::{Expectations, ScenarioFile, TaskExpectations, human_duration};

use crate::args::ValidateArgs;
use cliffload_run::exit;

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
    outln!("{}: valid; {}", args.file.display(), what_it_writes(&file));
    for s in chosen {
        outln!("\n{} — {}", s.name, s.description.as_deref().unwrap_or(""));
        outln!(
            "  {} for {}; error rate {}; seed {}",
            s.describe_load(),
            human_duration(s.duration),
            s.error_rate,
            s.seed
        );
        outln!("  expectations: {}", describe_expectations(&s.expectations));
        for t in &s.expectations.tasks {
            outln!("  thresholds of {}: {}", t.name, describe_thresholds(t));
        }
        if let Some(d) = &s.data_file {
            outln!(
                "  data: {} ({} rows; columns {}), order {}, a row per {}{}",
                d.table.origin,
                d.table.rows.len(),
                d.table.columns.join(", "),
                d.order,
                d.per,
                match d.order {
                    cliffload_scenario::RowOrder::Unique =>
                        format!(", when exhausted: {}", d.when_exhausted),
                    _ => String::new(),
                }
            );
        }
        for c in &s.classes {
            outln!(
                "  class {} (weight {}, think time {}){}",
                c.name,
                c.weight,
                c.wait_time,
                if c.flow {
                    ": a flow, its tasks in this order"
                } else {
                    ""
                }
            );
            for &t in &c.tasks {
                print_task(s, &s.tasks[t]);
            }
        }
    }
    Ok(exit::OK)
}

/// One task of the plan: subject, weight, timeout, error rate, body, saves.
fn print_task(s: &cliffload_scenario::Scenario, t: &cliffload_scenario::Task) {
    let payload = match &t.payload {
        cliffload_scenario::Payload::Static(v) => format!("fixed {v}"),
        cliffload_scenario::Payload::Template(v) => format!("template {v}"),
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
    let save: Vec<String> = t
        .save
        .iter()
        .map(|c| format!("{} ← {}", s.vars[c.var], c.path))
        .collect();
    let save = if save.is_empty() {
        String::new()
    } else {
        format!(" · saves {}", save.join(", "))
    };
    outln!(
        "    {:<40} {} weight {} timeout {} error rate {} · {payload}{save}",
        t.name,
        t.request.subject,
        t.weight,
        human_duration(t.request.timeout),
        t.error_rate
    );
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
    bounds_in_words(
        Some(e.failure_bound()),
        [e.max_median_ms, e.max_p95_ms, e.max_p99_ms],
        e.min_rps,
    )
}

/// The bounds one task (or flow) sets, in words.
fn describe_thresholds(t: &TaskExpectations) -> String {
    bounds_in_words(
        t.max_failure_percent,
        [t.max_median_ms, t.max_p95_ms, t.max_p99_ms],
        t.min_rps,
    )
}

/// `failures ≤ 1%, median ≤ 5 ms, p95 ≤ …, p99 ≤ …, ≥ 100 successful req/s`
/// for the bounds given.
fn bounds_in_words(failures: Option<f64>, latency: [Option<f64>; 3], rps: Option<f64>) -> String {
    let mut parts: Vec<String> = failures
        .map(|f| format!("failures ≤ {f}%"))
        .into_iter()
        .collect();
    for (name, v) in ["median", "p95", "p99"].into_iter().zip(latency) {
        parts.extend(v.map(|v| format!("{name} ≤ {v} ms")));
    }
    parts.extend(rps.map(|v| format!("≥ {v} successful req/s")));
    parts.join(", ")
}
