//! `expectations.tasks`: bounds on single tasks (and flows), each named by
//! its name in results (`Class.task`) or, when no other task shares it, by
//! its name within its class (`task`).

use std::collections::BTreeMap;

use super::*;
use crate::TaskExpectations;
use crate::error::closest;

/// What a threshold may name, by its name in results and its short name.
pub(super) struct Target {
    full: String,
    short: String,
}

/// The tasks a threshold may name (`names`: every task written, by its
/// name in results and within its class).
///
/// Flows (issue 29) join this list after the tasks once they exist, with
/// their own names: a name is looked up in tasks, then in flows, as the
/// verdict looks the rows up in `RunResult::tasks`, then `flows`.
pub(super) fn targets<'a>(
    names: &[(String, String)],
    flows: impl Iterator<Item = &'a str>,
) -> Vec<Target> {
    let tasks = names.iter().map(|(full, short)| Target {
        full: full.clone(),
        short: short.clone(),
    });
    // A flow is named by its class (the scenario's name for its own tasks).
    let flows = flows.map(|f| Target {
        full: f.to_owned(),
        short: f.to_owned(),
    });
    tasks.chain(flows).collect()
}

/// The file's thresholds for a scenario (`performance_expectations.<name>.tasks`)
/// with the scenario's own, name by name and key by key, over them.
pub(super) fn merged(
    file: Option<BTreeMap<String, RawTaskExpectations>>,
    own: Option<&BTreeMap<String, RawTaskExpectations>>,
) -> Option<BTreeMap<String, RawTaskExpectations>> {
    let Some(own) = own else { return file };
    let mut out = file.unwrap_or_default();
    for (name, o) in own {
        let e = out.entry(name.clone()).or_default();
        e.max_failure_percent = o.max_failure_percent.or(e.max_failure_percent);
        e.max_median_ms = o.max_median_ms.or(e.max_median_ms);
        e.max_p95_ms = o.max_p95_ms.or(e.max_p95_ms);
        e.max_p99_ms = o.max_p99_ms.or(e.max_p99_ms);
        e.min_rps = o.min_rps.or(e.min_rps);
    }
    Some(out)
}

/// Each threshold's bounds, checked as the scenario's are (`path`: the
/// expectations' key path), under the name written; errors kept in `errors`.
pub(super) fn values(
    path: &str,
    raw: Option<&BTreeMap<String, RawTaskExpectations>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<TaskExpectations> {
    let mut out = Vec::new();
    for (name, t) in raw.into_iter().flatten() {
        let path = format!("{path}.tasks.{name}");
        let (max_failure_percent, max_median_ms, max_p95_ms, max_p99_ms, min_rps) = Bounds {
            path: &path,
            errors,
        }
        .of(
            t.max_failure_percent,
            t.max_median_ms,
            t.max_p95_ms,
            t.max_p99_ms,
            t.min_rps,
        );
        let given = [
            t.max_failure_percent,
            t.max_median_ms,
            t.max_p95_ms,
            t.max_p99_ms,
            t.min_rps,
        ];
        if given.iter().all(Option::is_none) {
            errors.push(invalid(
                path,
                "sets no bound: give max_failure_percent, max_median_ms, max_p95_ms, max_p99_ms or min_rps",
            ));
        }
        out.push(TaskExpectations {
            name: name.clone(),
            max_failure_percent,
            max_median_ms,
            max_p95_ms,
            max_p99_ms,
            min_rps,
        });
    }
    out
}

/// The names the thresholds of scenario `scenario` are written under
/// (`merged`: its expectations with the file's; `own`: its own), each with
/// the task it names, in the tasks' order. An unknown name, a short name
/// two tasks share, and two names for one task are errors.
pub(super) fn resolve(
    scenario: &str,
    merged: &RawExpectations,
    own: Option<&RawExpectations>,
    targets: &[Target],
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut errors = Vec::new();
    let mut found: Vec<(usize, String)> = Vec::new();
    for written in merged.tasks.iter().flat_map(BTreeMap::keys) {
        // Where the name is written: the scenario's own expectations, or the file's.
        let path = if own
            .and_then(|o| o.tasks.as_ref())
            .is_some_and(|t| t.contains_key(written))
        {
            format!("scenarios.{scenario}.expectations.tasks.{written}")
        } else {
            format!("performance_expectations.{scenario}.tasks.{written}")
        };
        match lookup(written, targets) {
            Err(message) => errors.push(invalid(path, message)),
            Ok(i) => match found.iter().find(|(j, _)| *j == i) {
                Some((_, other)) => errors.push(invalid(
                    path,
                    format!(
                        "names the same task as {other:?} ({}): give its bounds once",
                        targets[i].full
                    ),
                )),
                None => found.push((i, written.clone())),
            },
        }
    }
    none_of(errors)?;
    found.sort();
    Ok(found
        .into_iter()
        .map(|(i, written)| (written, targets[i].full.clone()))
        .collect())
}

/// The thresholds (`values`, under the names written) under the names of
/// the tasks they name, in the order of `names` (from [`resolve`]).
pub(super) fn named(
    values: Vec<TaskExpectations>,
    names: &[(String, String)],
) -> Vec<TaskExpectations> {
    names
        .iter()
        .filter_map(|(written, full)| {
            let t = values.iter().find(|t| t.name == *written)?;
            Some(TaskExpectations {
                name: full.clone(),
                ..t.clone()
            })
        })
        .collect()
}

/// The target `name` names: its full name, else the one task whose short
/// name it is; or why none.
fn lookup(name: &str, targets: &[Target]) -> Result<usize, String> {
    if let Some(i) = targets.iter().position(|t| t.full == name) {
        return Ok(i);
    }
    let short: Vec<usize> = (0..targets.len())
        .filter(|i| targets[*i].short == name)
        .collect();
    match short.as_slice() {
        [i] => Ok(*i),
        [] => {
            let names = targets
                .iter()
                .flat_map(|t| [t.short.as_str(), t.full.as_str()]);
            let hint = closest(name, names)
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            Err(format!(
                "no task named {name:?} in this scenario{hint} (tasks: {})",
                list(targets.iter().map(|t| t.full.as_str()))
            ))
        }
        several => Err(format!(
            "{name:?} is the name of {} tasks ({}): write the one meant in full",
            several.len(),
            list(several.iter().map(|i| targets[*i].full.as_str()))
        )),
    }
}

/// `a, b, c`, or `(none)`.
fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.collect();
    if all.is_empty() {
        "(none)".to_owned()
    } else {
        all.join(", ")
    }
}
