//! The rows of tasks and flows: counts per outcome, latency, messages.

use cliffload_metrics::{Outcome, OutcomeClass, TaskTable};
use cliffload_scenario::Scenario;

use super::{OutcomeEntry, TaskError, TaskRow, is_success, per_second};

/// One row per task, in scenario order (`intended`: the open model's
/// latency from the intended send time).
pub(super) fn task_rows(
    s: &Scenario,
    totals: &TaskTable,
    intended: Option<&TaskTable>,
    errors: &cliffload_metrics::ErrorLog,
    secs: f64,
) -> Vec<TaskRow> {
    let class_of = |i: usize| s.classes.iter().find(|c| c.tasks.contains(&i));
    s.tasks
        .iter()
        .zip(totals.tasks())
        .enumerate()
        .map(|(i, (task, row))| {
            let counted = counted(task.name.clone(), task.request.subject.clone(), row, secs);
            TaskRow {
                class: class_of(i).map(|c| c.name.clone()),
                weight: Some(task.weight.get()),
                intended_latency_us: intended
                    .and_then(|t| t.tasks().get(i))
                    .map(|row| row.merged(is_success).summary()),
                errors: task_errors(errors, i),
                reply_bytes: totals.reply_bytes().get(i).copied().unwrap_or(0),
                ..counted
            }
        })
        .collect()
}

/// One row per flow (a class with `flow: true`): its whole passes, timed
/// from the first step's send to the last step's reply; the outcome of a
/// pass is its first failing step's.
pub(super) fn flow_rows(s: &Scenario, flows: &TaskTable, secs: f64) -> Vec<TaskRow> {
    let short = |i: &usize| {
        let name = &s.tasks[*i].name;
        name.rsplit_once('.')
            .map_or(name.as_str(), |(_, n)| n)
            .to_owned()
    };
    s.classes
        .iter()
        .filter(|c| c.flow)
        .enumerate()
        .map(|(i, c)| {
            let empty = cliffload_metrics::OutcomeHistograms::default();
            let row = flows.tasks().get(i).unwrap_or(&empty);
            let steps = c.tasks.iter().map(short).collect::<Vec<_>>().join(" → ");
            TaskRow {
                class: Some(c.name.clone()),
                ..counted(c.name.clone(), steps, row, secs)
            }
        })
        .collect()
}

/// Task `i`'s messages, by outcome then frequency.
fn task_errors(log: &cliffload_metrics::ErrorLog, i: usize) -> Vec<TaskError> {
    Outcome::ALL
        .into_iter()
        .flat_map(|o| {
            log.messages(i, o).into_iter().map(move |e| TaskError {
                outcome: o,
                message: e.message,
                count: e.count,
                sample: e.sample,
                reply: e.reply,
            })
        })
        .collect()
}

/// Count and latency of each outcome a row had.
fn outcome_entries(
    row: &cliffload_metrics::OutcomeHistograms,
) -> std::collections::BTreeMap<Outcome, OutcomeEntry> {
    Outcome::ALL
        .into_iter()
        .filter_map(|o| {
            let h = row.get(o)?;
            let entry = OutcomeEntry {
                count: h.count(),
                latency_us: h.summary(),
            };
            Some((o, entry))
        })
        .collect()
}

/// A row's name and subject, its counts per outcome and the latency of its
/// successes; no class, weight, messages or reply bytes.
fn counted(
    name: String,
    subject: String,
    row: &cliffload_metrics::OutcomeHistograms,
    secs: f64,
) -> TaskRow {
    let c = row.counts();
    let ok = row.merged(is_success);
    TaskRow {
        name,
        subject,
        class: None,
        weight: None,
        requests: c.total(),
        successes: c.in_class(OutcomeClass::Success),
        failures: c.in_class(OutcomeClass::Failure),
        rejected: c.in_class(OutcomeClass::Rejected),
        rps: per_second(c.total(), secs),
        latency_us: ok.summary(),
        intended_latency_us: None,
        outcomes: outcome_entries(row),
        errors: Vec::new(),
        reply_bytes: 0,
        latency_histogram: (ok.count() > 0).then_some(super::EncodedHistogram(ok)),
    }
}
