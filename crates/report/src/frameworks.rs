//! The framework comparison (`comparison_frameworks`): the same plan run
//! against each framework after the NATS run, side by side, and
//! `ten_x_faster_than_rest` judged against each REST framework.

use serde::{Deserialize, Serialize};

use crate::comparison::{between, judge_ten_x};
use crate::result::{LatencyUs, RunResult};
use crate::verdict::{Claim, ClaimStatus};
use crate::warning::Warning;

/// One framework's row (the NATS run first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkRow {
    /// `NATS (this run)`, or its key in `comparison_frameworks`.
    pub name: String,
    /// `nats`, `http` or `celery`.
    pub kind: String,
    /// Where it was reached.
    pub target: String,
    /// Why it did not run (disabled, not reachable, failed to start); absent when it ran.
    pub skipped: Option<String>,
    /// Requests sent.
    pub requests: u64,
    /// Requests that failed (not a correct refusal).
    pub failures: u64,
    /// Successful requests, in percent of all.
    pub success_percent: f64,
    /// Latency of the successful requests.
    pub latency_us: LatencyUs,
    /// Successful requests per second.
    pub success_rps: f64,
    /// The generator's CPU per request, µs.
    pub cpu_us_per_request: Option<f64>,
    /// Per task: requests, success rate, latency, successful req/s.
    pub tasks: Vec<FrameworkTask>,
}

/// One task against one framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkTask {
    /// Task name.
    pub name: String,
    /// Requests sent.
    pub requests: u64,
    /// Successful, in percent.
    pub success_percent: f64,
    /// Latency of the successful requests.
    pub latency_us: LatencyUs,
    /// Successful requests per second.
    pub success_rps: f64,
}

impl FrameworkRow {
    /// The row of a run against a framework (or of the NATS run itself).
    pub fn ran(name: &str, kind: &str, target: &str, r: &RunResult) -> Self {
        let s = &r.summary;
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            target: target.to_owned(),
            skipped: None,
            requests: s.requests,
            failures: s.failures,
            success_percent: share(s.successes, s.requests),
            latency_us: s.latency_us,
            success_rps: s.success_rps,
            cpu_us_per_request: r.generator.cpu_us_per_request,
            tasks: r
                .tasks
                .iter()
                .map(|t| FrameworkTask {
                    name: t.name.clone(),
                    requests: t.requests,
                    success_percent: share(t.successes, t.requests),
                    latency_us: t.latency_us,
                    success_rps: crate::verdict::per_second(t.successes, r.duration_s),
                })
                .collect(),
        }
    }

    /// The row of a framework that did not run, and why.
    pub fn skipped(name: &str, kind: &str, target: &str, why: String) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            target: target.to_owned(),
            skipped: Some(why),
            requests: 0,
            failures: 0,
            success_percent: 0.0,
            latency_us: LatencyUs::default(),
            success_rps: 0.0,
            cpu_us_per_request: None,
            tasks: Vec::new(),
        }
    }
}

fn share(part: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / all as f64 * 1000.0).round() / 1000.0
    }
}

/// A framework's run, or why it has none.
#[derive(Debug)]
pub enum Compared {
    /// It ran.
    Ran {
        /// Its key.
        name: String,
        /// `http` or `celery`.
        kind: String,
        /// Where.
        target: String,
        /// The run.
        result: Box<RunResult>,
    },
    /// `enabled: false`: a row that says so, and no warning.
    Disabled {
        /// Its key.
        name: String,
        /// `http` or `celery`.
        kind: String,
        /// Where.
        target: String,
    },
    /// It should have run and did not: a row and a warning.
    Skipped {
        /// Its key.
        name: String,
        /// `http` or `celery`.
        kind: String,
        /// Where.
        target: String,
        /// Why.
        why: String,
    },
}

/// Adds the frameworks' rows to `nats` (the NATS run first), a warning for
/// each that did not run, and, when the scenario claims
/// `ten_x_faster_than_rest`, the claim judged against each REST framework.
pub fn apply(nats: &mut RunResult, compared: Vec<Compared>, max_failure_percent: f64) {
    let claims_ten_x = nats
        .verdict
        .claims
        .iter()
        .any(|c| c.name == "ten_x_faster_than_rest");
    let mut rows = vec![FrameworkRow::ran(
        "NATS (this run)",
        "nats",
        &nats.target.nats_url,
        nats,
    )];
    let mut claims = Vec::new();
    for c in compared {
        match c {
            Compared::Ran {
                name,
                kind,
                target,
                result,
            } => {
                if claims_ten_x && kind == "http" {
                    let mut claim =
                        judge_ten_x(nats, &between(nats, &result, &target), max_failure_percent);
                    claim.name = format!("ten_x_faster_than_rest vs {name}");
                    claims.push(claim);
                }
                rows.push(FrameworkRow::ran(&name, &kind, &target, &result));
            }
            Compared::Disabled { name, kind, target } => rows.push(FrameworkRow::skipped(
                &name,
                &kind,
                &target,
                "disabled (enabled: false in comparison_frameworks)".into(),
            )),
            Compared::Skipped {
                name,
                kind,
                target,
                why,
            } => {
                nats.warnings.push(Warning::FrameworkSkipped {
                    name: name.clone(),
                    why: why.clone(),
                });
                if claims_ten_x && kind == "http" {
                    claims.push(Claim {
                        name: format!("ten_x_faster_than_rest vs {name}"),
                        status: ClaimStatus::Inconclusive,
                        detail: format!("{name} did not run: {why}"),
                    });
                }
                rows.push(FrameworkRow::skipped(&name, &kind, &target, why));
            }
        }
    }
    nats.verdict.claims.extend(claims);
    nats.frameworks = rows;
}

/// Lines for the text and Markdown reports: one per framework.
pub fn lines(rows: &[FrameworkRow]) -> Vec<String> {
    rows.iter()
        .map(|r| match &r.skipped {
            Some(why) => format!("{} ({} {}): skipped — {why}", r.name, r.kind, r.target),
            None => format!(
                "{} ({}): {} requests, {} failed, {:.1}% ok, p50 {} · p95 {} · p99 {}, {:.1} successful req/s{}",
                r.name,
                r.kind,
                r.requests,
                r.failures,
                r.success_percent,
                crate::text::latency(r.latency_us.p50),
                crate::text::latency(r.latency_us.p95),
                crate::text::latency(r.latency_us.p99),
                r.success_rps,
                r.cpu_us_per_request
                    .map(|c| format!(", generator {c:.1} µs CPU/request"))
                    .unwrap_or_default()
            ),
        })
        .collect()
}
