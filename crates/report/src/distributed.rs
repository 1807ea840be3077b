//! A distributed run's workers in the result: each one's part, the start
//! skew, and the `all_workers` check (a lost worker fails the run unless
//! `--allow-worker-loss` was given, which marks it degraded instead).

use serde::{Deserialize, Serialize};

use crate::result::RunResult;
use crate::verdict::Check;
use crate::warning::Warning;

/// The workers of a distributed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedRun {
    /// Each worker, in the order the plan was split.
    pub workers: Vec<WorkerRow>,
    /// Between the first and the last worker's actual start, ms.
    pub start_skew_ms: f64,
    /// Bytes of control messages (plans, intervals, results, heartbeats).
    pub control_bytes: u64,
    /// `--allow-worker-loss`: a lost worker degrades the run rather than failing it.
    pub allow_worker_loss: bool,
    /// Messages on the run's control subjects the coordinator refused
    /// (forged, replayed, out of bounds); none changed the result.
    #[serde(default)]
    pub refused_messages: u64,
    /// The first few of them, each naming the subject, the claimed sender and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// One worker's part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// Its name (`--name`, else host-pid).
    pub name: String,
    /// Its NATS service id.
    pub id: String,
    /// Generator threads.
    pub threads: usize,
    /// Requests it recorded.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Median of its successful requests, µs.
    pub p50_us: u64,
    /// 99th percentile of its successful requests, µs.
    pub p99_us: u64,
    /// CPU its generator threads spent, seconds.
    pub cpu_s: Option<f64>,
    /// Its start after the first worker's, ms.
    pub start_offset_ms: f64,
    /// It fell silent before reporting its end: its figures are what it sent before.
    pub lost: bool,
    /// Why it could not run, if it could not.
    pub error: Option<String>,
}

/// Adds the workers to `r`, the `all_workers` check, and a warning per lost worker.
pub fn apply(r: &mut RunResult, run: DistributedRun) {
    let lost: Vec<&WorkerRow> = run
        .workers
        .iter()
        .filter(|w| w.lost || w.error.is_some())
        .collect();
    let n = run.workers.len();
    let actual = if lost.is_empty() {
        format!("all {n} reported their whole run")
    } else {
        let names: Vec<String> = lost.iter().map(|w| lost_words(w)).collect();
        format!("{} of {n} did not: {}", lost.len(), names.join("; "))
    };
    let expected = if run.allow_worker_loss {
        "any (--allow-worker-loss)".to_owned()
    } else {
        format!("every one of the {n} workers to the end")
    };
    for w in &lost {
        r.warnings.push(Warning::WorkerLost {
            name: w.name.clone(),
            detail: lost_words(w),
            allowed: run.allow_worker_loss,
        });
    }
    if run.refused_messages > 0 {
        r.warnings.push(Warning::ControlRefused {
            count: run.refused_messages,
            first: run.refused.first().cloned().unwrap_or_default(),
        });
    }
    r.verdict.checks.push(Check::new(
        "all_workers",
        lost.is_empty() || run.allow_worker_loss,
        expected,
        actual,
    ));
    r.distributed = Some(run);
}

fn lost_words(w: &WorkerRow) -> String {
    match &w.error {
        Some(e) => format!("{} could not run: {e}", w.name),
        None => format!("{} fell silent after {} requests", w.name, w.requests),
    }
}

/// One line per worker and one for the skew, for the text and Markdown reports.
pub fn lines(d: &DistributedRun) -> Vec<String> {
    let mut out: Vec<String> = d
        .workers
        .iter()
        .map(|w| {
            let cpu = w
                .cpu_s
                .map(|c| format!(", CPU {c:.2} s"))
                .unwrap_or_default();
            let state = if w.lost { " — LOST" } else { "" };
            format!(
                "{}: {} requests, {} failed, p50 {} · p99 {}{cpu}, {} thread(s), started +{:.1} ms{state}",
                w.name,
                w.requests,
                w.failures,
                crate::text::latency(w.p50_us),
                crate::text::latency(w.p99_us),
                w.threads,
                w.start_offset_ms
            )
        })
        .collect();
    out.push(format!(
        "start skew {:.1} ms over {} workers; {:.1} KB of control messages",
        d.start_skew_ms,
        d.workers.len(),
        d.control_bytes as f64 / 1000.0
    ));
    out
}
