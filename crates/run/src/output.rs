//! One run output, one way to a result: the engine's output of a process,
//! the merger's of distributed workers, or a live snapshot of either, all
//! become a [`RunMeta`] here, so no caller restates its fields.

use std::time::SystemTime;

use cliffload_engine::RunOutput;
use cliffload_report::{OpenMeasures, PreflightRow, RunMeta, Warning};
use cliffload_scenario::Scenario;

/// What a result of `scenario` is built from besides the counts: `out`'s
/// figures, and where the load went (`nats_url`, an `embedded` server).
/// Preflight rows, warnings and connection events are the caller's to add.
pub fn meta<'a>(
    scenario: &'a Scenario,
    out: &RunOutput,
    nats_url: String,
    embedded: bool,
) -> RunMeta<'a> {
    RunMeta {
        scenario,
        nats_url,
        embedded,
        workers: out.workers.max(1),
        preflight: Vec::new(),
        started_at: out.started_at.max(SystemTime::UNIX_EPOCH),
        elapsed: out.elapsed,
        interrupted: out.interrupted,
        warnings: Vec::new(),
        generator_cpu: out.generator_cpu,
        open: open_measures(scenario, out),
        errors: out.errors.clone(),
        connection_events: Vec::new(),
        flows: out.flows.clone(),
        out_of_rows: out.out_of_rows,
    }
}

/// The open model's measurements of `out` (`None` for the closed model).
pub fn open_measures(scenario: &Scenario, out: &RunOutput) -> Option<OpenMeasures> {
    scenario.arrival.as_ref().map(|_| OpenMeasures {
        intended: out.intended.clone(),
        never_sent_wait: out.never_sent_wait.clone(),
        planned: out.planned,
        sent: out.sent,
        never_sent: out.never_sent,
        late: out.late,
    })
}

/// The preflight calls' rows of the result.
pub fn preflight_rows(reports: &[cliffload_nats::PreflightReport]) -> Vec<PreflightRow> {
    reports
        .iter()
        .map(|p| PreflightRow {
            task: p.task.clone(),
            outcome: p.outcome,
            latency_us: p.latency.as_micros() as u64,
        })
        .collect()
}

/// The smoke calls' problems that `--preflight warn` let through.
pub fn tolerated(problems: &[cliffload_nats::Tolerated]) -> Vec<Warning> {
    problems
        .iter()
        .map(|p| Warning::PreflightTolerated {
            task: p.task.clone(),
            subject: p.subject.clone(),
            problem: p.problem.clone(),
        })
        .collect()
}
