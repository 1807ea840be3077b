//! Regression against a baseline run: per task, median and p99 of successful
//! requests, requests per second and failure rate, each flagged when it is
//! worse by more than the allowed percentage *and* by more than the run-to-run
//! noise visible in the two runs' per-second data (twice the combined
//! standard error of their interval means).

use serde::{Deserialize, Serialize};

use crate::result::{RunResult, TaskRow};
use crate::verdict::{Check, Status, failure_rate};
use crate::warning::Warning;

/// Relative standard error of the mean of `xs` (0 with fewer than 2 values).
fn relative_se(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return 0.0;
    }
    let mean = xs.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return 0.0;
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    var.sqrt() / n.sqrt() / mean
}

fn noise(r: &RunResult) -> (f64, f64) {
    let whole: Vec<_> = r.intervals.iter().filter(|i| i.duration_s >= 0.5).collect();
    let rps: Vec<f64> = whole.iter().map(|i| i.rps).collect();
    let p50: Vec<f64> = whole
        .iter()
        .filter(|i| i.latency_us.count > 0)
        .map(|i| i.latency_us.p50 as f64)
        .collect();
    (relative_se(&rps), relative_se(&p50))
}

/// One figure of one task, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// The task.
    pub task: String,
    /// `median_us`, `p99_us`, `rps` or `failure_rate_percent`.
    pub metric: String,
    /// The baseline's figure.
    pub before: f64,
    /// This run's figure.
    pub after: f64,
    /// How much worse, in percent of `before` (negative: better); for the
    /// failure rate, in percentage points.
    pub worse_percent: f64,
    /// The run-to-run noise of this figure, in percent (none for the
    /// failure rate, judged on points).
    pub noise_percent: Option<f64>,
    /// Worse by more than both the allowance and the noise.
    pub regressed: bool,
}

/// The comparison with a baseline, figure by figure (`result.baseline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    /// When the baseline ran.
    pub baseline_started_at: String,
    /// Its scenario.
    pub baseline_scenario: String,
    /// A figure regresses when worse by more than this (and the noise).
    pub max_degradation_percent: f64,
    /// The tasks of this run that the baseline has, four figures each.
    pub rows: Vec<BaselineRow>,
    /// When the baseline is the history (`--baseline history`): which runs,
    /// in words (absent for a baseline file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl BaselineComparison {
    /// What was compared with: "baseline of 2026-12-01T…" or the history's runs.
    pub fn against(&self) -> String {
        self.source.clone().unwrap_or_else(|| {
            format!("{} of {}", self.baseline_scenario, self.baseline_started_at)
        })
    }

    /// What "the noise" is, for the reports' legend.
    pub fn noise_words(&self) -> &'static str {
        if self.source.is_some() {
            "three times the spread of the history's runs (1.4826 × their median absolute deviation)"
        } else {
            "the noise of the two runs"
        }
    }
}

impl BaselineRow {
    /// The metric for people: "median", "p99", "req/s", "failure rate".
    pub fn label(&self) -> &'static str {
        match self.metric.as_str() {
            "median_us" => "median",
            "p99_us" => "p99",
            "rps" => "req/s",
            _ => "failure rate",
        }
    }

    /// A figure as the table shows it (µs as latencies, rates as percent).
    pub fn figure(&self, v: f64) -> String {
        match self.metric.as_str() {
            "median_us" | "p99_us" => crate::text::latency(v.round() as u64),
            "rps" => format!("{v:.1}"),
            _ => format!("{v:.2}%"),
        }
    }

    /// The change in words: "31.0% slower", "-2.10 points", "unchanged".
    pub fn change(&self) -> String {
        let w = self.worse_percent;
        if w.abs() < 0.05 {
            return "unchanged".to_owned();
        }
        if self.metric == "failure_rate_percent" {
            return format!("{:+.2} points", w);
        }
        let word = match (self.metric == "rps", w > 0.0) {
            (false, true) => "slower",
            (false, false) => "faster",
            (true, true) => "lower",
            (true, false) => "higher",
        };
        format!("{:.1}% {word}", w.abs())
    }

    /// "±4.2%" or "-".
    pub fn noise(&self) -> String {
        self.noise_percent
            .map_or_else(|| "-".to_owned(), |n| format!("±{n:.1}%"))
    }
}

/// Compares `new` with `base`, figure by figure.
pub fn table(
    new: &RunResult,
    base: &RunResult,
    max_degradation_percent: f64,
) -> BaselineComparison {
    let noise = combined_noise(new, base);
    let mut rows = Vec::new();
    for t in &new.tasks {
        if let Some(b) = base.tasks.iter().find(|b| b.name == t.name) {
            rows.extend(figures(t, b, noise, max_degradation_percent));
        }
    }
    BaselineComparison {
        baseline_started_at: base.started_at.clone(),
        baseline_scenario: base.scenario.clone(),
        max_degradation_percent,
        rows,
        source: None,
    }
}

/// The `no_regression` check of a comparison: fails when any figure
/// regressed, inconclusive when no task of `new` is in `base`.
pub fn compare(new: &RunResult, base: &RunResult, max_degradation_percent: f64) -> Check {
    check(base, &table(new, base, max_degradation_percent))
}

/// The noise of the two runs together, in percent, as (req/s, latency):
/// twice the combined relative standard error of their interval means.
fn combined_noise(new: &RunResult, base: &RunResult) -> (f64, f64) {
    let (rps_a, lat_a) = noise(new);
    let (rps_b, lat_b) = noise(base);
    let rps_noise = 2.0 * (rps_a.powi(2) + rps_b.powi(2)).sqrt() * 100.0;
    let lat_noise = 2.0 * (lat_a.powi(2) + lat_b.powi(2)).sqrt() * 100.0;
    (rps_noise, lat_noise)
}

/// Task `t`'s median, p99 (when both runs had successes), req/s and failure
/// rate against the baseline's `b`. A latency or throughput figure regresses
/// when worse by more than the allowed percentage and the noise; the failure
/// rate when it rose by more than a tenth of the allowance, in points (a
/// relative change of a rate near 0 says nothing).
fn figures(
    t: &TaskRow,
    b: &TaskRow,
    (rps_noise, lat_noise): (f64, f64),
    max_degradation_percent: f64,
) -> Vec<BaselineRow> {
    let pct = |new: f64, old: f64| {
        if old > 0.0 {
            (new - old) / old * 100.0
        } else {
            0.0
        }
    };
    let row = |metric: &str, before: f64, after: f64, worse: f64, noise: f64| BaselineRow {
        task: t.name.clone(),
        metric: metric.to_owned(),
        before,
        after,
        worse_percent: worse,
        noise_percent: Some(noise),
        regressed: worse > max_degradation_percent && worse > noise,
    };
    let mut rows = Vec::new();
    // A run's 95 % interval of a percentile, from its histogram (closed
    // model: the open model judges latency from the intended send time).
    let ci = |r: &TaskRow, q: f64| {
        r.latency_histogram
            .as_ref()
            .filter(|_| r.intended_latency_us.is_none())
            .and_then(|h| crate::diff::quantile_ci(&h.0, q))
    };
    if t.successes > 0 && b.successes > 0 {
        for (metric, q, n, o) in [
            ("median_us", 0.5, t.latency_us.p50, b.latency_us.p50),
            ("p99_us", 0.99, t.latency_us.p99, b.latency_us.p99),
        ] {
            let (n, o) = (n as f64, o as f64);
            let mut r = row(metric, o, n, pct(n, o), lat_noise);
            // Judged on the gap between the two runs' intervals where both
            // have one: the p99 of 200 requests is their second slowest.
            if let (Some((lo, _)), Some((_, hi))) = (ci(t, q), ci(b, q)) {
                let judged = pct(lo.min(n), hi.max(o));
                r.regressed = judged > max_degradation_percent && judged > lat_noise;
            }
            rows.push(r);
        }
    }
    rows.push(row("rps", b.rps, t.rps, -pct(t.rps, b.rps), rps_noise));
    let (before, after) = (
        failure_rate(b.failures, b.requests),
        failure_rate(t.failures, t.requests),
    );
    rows.push(BaselineRow {
        task: t.name.clone(),
        metric: "failure_rate_percent".to_owned(),
        before,
        after,
        worse_percent: after - before,
        noise_percent: None,
        regressed: after - before > max_degradation_percent / 10.0,
    });
    rows
}

/// The `no_regression` check of comparison `c` with `base`: its measured
/// text names the regressed figures, or says how much was compared; the
/// table (`result.baseline`) has every figure.
fn check(base: &RunResult, c: &BaselineComparison) -> Check {
    let expected = format!(
        "no task worse than the baseline ({}) by > {}% beyond noise",
        base.started_at, c.max_degradation_percent
    );
    if c.rows.is_empty() {
        let names: Vec<&str> = base.tasks.iter().map(|t| t.name.as_str()).collect();
        return Check::with_status(
            "no_regression",
            Status::Inconclusive,
            expected,
            format!(
                "no task of this run is in the baseline (its tasks: {}): nothing was compared; use a baseline of the same scenario",
                names.join(", ")
            ),
        );
    }
    let mut tasks: Vec<&str> = c.rows.iter().map(|r| r.task.as_str()).collect();
    tasks.dedup();
    let worse: Vec<String> = c
        .rows
        .iter()
        .filter(|r| r.regressed)
        .map(|r| format!("{} {} {}", r.task, r.label(), r.change()))
        .collect();
    Check::new(
        "no_regression",
        worse.is_empty(),
        expected,
        if worse.is_empty() {
            format!(
                "none of {} figures of {} task(s) (see the baseline table)",
                c.rows.len(),
                tasks.len()
            )
        } else {
            format!(
                "{} of {} figures worse: {} (see the baseline table)",
                worse.len(),
                c.rows.len(),
                worse.join("; ")
            )
        },
    )
}

/// What makes `base` a doubtful reference for `new`, in words.
fn mismatch(new: &RunResult, base: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    if new.scenario != base.scenario {
        out.push(format!(
            "the baseline ran scenario '{}', this run '{}'",
            base.scenario, new.scenario
        ));
    }
    let (n, b) = (&new.load, &base.load);
    if n.model != b.model {
        out.push(format!(
            "the baseline used the {} model, this run the {} model",
            b.model, n.model
        ));
    } else if n.arrival_rate != b.arrival_rate || n.ramp_to != b.ramp_to {
        out.push(format!(
            "the baseline's arrival rate was {}/s, this run's {}/s",
            b.arrival_rate.unwrap_or(0.0),
            n.arrival_rate.unwrap_or(0.0)
        ));
    } else if n.model == "closed" && n.users != b.users {
        out.push(format!(
            "the baseline ran {} users, this run {}",
            b.users, n.users
        ));
    } else if n.shape != b.shape && n.ramp_to.is_none() {
        out.push(format!(
            "the baseline's load was {}, this run's {}",
            b.describe(),
            n.describe()
        ));
    }
    out
}

/// Adds the regression check to `new`'s verdict, and a warning when the
/// baseline is another scenario or another load.
pub fn apply(new: &mut RunResult, base: &RunResult, max_degradation_percent: f64) {
    let table = table(new, base, max_degradation_percent);
    let check = check(base, &table);
    new.baseline = Some(table);
    let differences = mismatch(new, base);
    if !differences.is_empty() {
        new.warnings.push(Warning::BaselineUnlike { differences });
    }
    new.verdict.checks.push(check);
}
