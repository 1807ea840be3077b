//! A scenario file's resolved plan in words (`cliffload validate`): what
//! the file adds and changes, then each scenario's load, expectations, data
//! and tasks as they will run.

use std::fmt::Write as _;

use crate::{
    ConfigError, Expectations, Payload, RowOrder, Scenario, ScenarioFile, Task, TaskExpectations,
    catalog, human_duration,
};

/// The plan of `file` (read from `path`): of the one scenario `only`, else
/// of those the file writes (all of them when it writes none), each line
/// ending in a newline. An unknown `only` is the lookup's error.
pub fn describe(
    file: &ScenarioFile,
    path: &str,
    only: Option<&str>,
) -> Result<String, ConfigError> {
    let chosen: Vec<&Scenario> = match only {
        Some(name) => vec![file.get(name)?],
        None if file.written.is_empty() => file.scenarios.iter().collect(),
        None => file
            .written
            .iter()
            .filter_map(|n| file.get(n).ok())
            .collect(),
    };
    let mut out = format!("{path}: valid; {}\n", what_it_writes(file));
    for s in chosen {
        scenario(&mut out, s);
    }
    Ok(out)
}

/// One scenario of the plan, after a blank line.
fn scenario(out: &mut String, s: &Scenario) {
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "\n{} — {}",
        s.name,
        s.description.as_deref().unwrap_or("")
    );
    let _ = writeln!(
        out,
        "  {} for {}; error rate {}; seed {}",
        s.describe_load(),
        human_duration(s.duration),
        s.error_rate,
        s.seed
    );
    let _ = writeln!(
        out,
        "  expectations: {}",
        describe_expectations(&s.expectations)
    );
    for t in &s.expectations.tasks {
        let _ = writeln!(
            out,
            "  thresholds of {}: {}",
            t.name,
            describe_thresholds(t)
        );
    }
    if let Some(d) = &s.data_file {
        let exhausted = match d.order {
            RowOrder::Unique => format!(", when exhausted: {}", d.when_exhausted),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  data: {} ({} rows; columns {}), order {}, a row per {}{exhausted}",
            d.table.origin,
            d.table.rows.len(),
            d.table.columns.join(", "),
            d.order,
            d.per,
        );
    }
    for c in &s.classes {
        let flow = if c.flow {
            ": a flow, its tasks in this order"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  class {} (weight {}, think time {}){flow}",
            c.name, c.weight, c.wait_time
        );
        for &t in &c.tasks {
            task(out, s, &s.tasks[t]);
        }
    }
}

/// One task of the plan: subject, weight, timeout, error rate, body, saves.
fn task(out: &mut String, s: &Scenario, t: &Task) {
    let payload = match &t.payload {
        Payload::Static(v) => format!("fixed {v}"),
        Payload::Template(v) => format!("template {v}"),
        Payload::Generated { models, arg } => format!(
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
    let _ = writeln!(
        out,
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
    let builtin = catalog::builtin();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> ScenarioFile {
        ScenarioFile::parse_over_catalog(yaml, "my.yaml").expect("valid")
    }

    #[test]
    fn a_file_of_its_own_is_described_with_its_load_checks_and_tasks() {
        let file = parse(
            r#"
scenarios:
  mine:
    description: "my service"
    users: 3
    duration: 20s
    seed: 7
    expectations: {max_failure_percent: 1, max_p95_ms: 50}
    tasks:
      - {name: get, subject: svc.rpc.get, weight: 2, timeout: 500ms, payload: {id: 1}}
"#,
        );
        let text = describe(&file, "my.yaml", None).expect("described");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("my.yaml: valid; 1 scenario of its own (mine); "),
            "{text}"
        );
        assert!(text.contains("\nmine — my service\n"), "{text}");
        assert!(text.contains("3 users"), "{text}");
        assert!(text.contains("for 20 s; error rate 0; seed 7"), "{text}");
        assert!(
            text.contains("expectations: failures ≤ 1%, p95 ≤ 50 ms\n"),
            "{text}"
        );
        let task = lines
            .iter()
            .find(|l| l.trim_start().starts_with("mine.get "))
            .unwrap_or_else(|| panic!("no line for the task: {text}"));
        assert!(
            task.contains("svc.rpc.get weight 2 timeout 500 ms"),
            "{task}"
        );
        assert!(task.ends_with(r#"· fixed {"id":1}"#), "{task}");
        // Only what the file writes: no built-in scenario is described.
        assert!(!text.contains("\nping — "), "{text}");
    }

    #[test]
    fn one_scenario_can_be_chosen_and_an_unknown_one_is_the_lookup_error() {
        let file = catalog::builtin();
        let text = describe(&file, "built-in", Some("ping")).expect("ping");
        assert_eq!(text.matches("\n\n").count(), 1, "one scenario: {text}");
        assert!(text.contains("\nping — "), "{text}");
        assert!(text.contains("median ≤ 5 ms"), "{text}");
        let err = describe(&file, "built-in", Some("pnig")).expect_err("unknown");
        assert!(err.to_string().contains("ping"), "{err}");
    }
}
