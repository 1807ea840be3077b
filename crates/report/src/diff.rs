//! Two runs side by side (`cliffload diff A B`): per task and overall,
//! before → after, the change, and whether it is outside the noise.
//!
//! "Outside the noise" is decided from the data, not from two numbers:
//! - a latency percentile: the two runs' 95 % confidence intervals of that
//!   percentile do not overlap. Each interval is read from the run's whole
//!   latency histogram by order statistics (distribution-free: the ranks
//!   n·q ± 1.96·√(n·q·(1−q))), so a percentile of 50 requests is judged
//!   with the doubt it deserves and one of a million is not;
//! - requests per second: the change exceeds twice the two runs' combined
//!   standard error of their per-second rates;
//! - the failure rate: a two-proportion z-test (|z| > 1.96).
//!
//! And in every case the change must be at least `min_change_percent` (the
//! failure rate: a tenth of it, in points): with a million requests a 0.3 %
//! shift is real and still not worth a reader's time.

use serde::{Deserialize, Serialize};

use crate::result::{RunResult, TaskRow};
use cliffload_metrics::LatencyHistogram;

mod render;
pub use render::{html, markdown, text};

/// The change a diff calls noise unless told otherwise, in percent.
pub const DEFAULT_MIN_CHANGE_PERCENT: f64 = 5.0;

/// The name of the row of all tasks together.
pub const ALL_TASKS: &str = "all tasks";

/// One of the two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Where it came from: "run 12" or a file's path.
    pub source: String,
    /// The scenario's name.
    pub scenario: String,
    /// When it started.
    pub started_at: String,
    /// Its load, in words.
    pub load: String,
    /// Its verdict (`passed`, `failed`, `inconclusive`).
    pub verdict: String,
}

/// How a figure moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Better, beyond the noise.
    Better,
    /// Worse, beyond the noise.
    Worse,
    /// Within the noise (or smaller than the smallest change reported).
    Same,
    /// Not judged: a side has no data for it.
    Unknown,
}

/// One figure of one task (or of all tasks), before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffRow {
    /// The task, or [`ALL_TASKS`].
    pub task: String,
    /// `p50_us`, `p90_us`, `p99_us`, `rps` or `failure_percent`.
    pub figure: String,
    /// The first run's figure.
    pub before: f64,
    /// The second run's figure.
    pub after: f64,
    /// The change in percent of `before` (the failure rate: in points).
    pub change: f64,
    /// The 95 % confidence interval of `before` (latency only, from its histogram).
    pub before_ci: Option<(f64, f64)>,
    /// The 95 % confidence interval of `after`.
    pub after_ci: Option<(f64, f64)>,
    /// Better, worse, or the same within the noise.
    pub verdict: Change,
}

/// The comparison of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// The first run (before).
    pub before: Side,
    /// The second run (after).
    pub after: Side,
    /// Both ran the same scenario with the same settings (same hash).
    pub same_scenario: bool,
    /// Changes smaller than this (percent) are never reported.
    pub min_change_percent: f64,
    /// Per task in the second run's order (tasks in both), then all tasks.
    pub rows: Vec<DiffRow>,
    /// What the reader should know (tasks in one run only, no histograms).
    pub notes: Vec<String>,
}

impl Diff {
    /// `before` against `after` (`*_source`: how each is named).
    pub fn of(before: (&RunResult, String), after: (&RunResult, String), min_change: f64) -> Self {
        let (a, b) = (before.0, after.0);
        let rps_noise = rps_noise(a, b);
        let mut rows = Vec::new();
        let mut notes = Vec::new();
        for t in &b.tasks {
            match a.tasks.iter().find(|x| x.name == t.name) {
                Some(old) => rows.extend(figures(old, t, rps_noise, min_change)),
                None => notes.push(format!("{} is only in the second run", t.name)),
            }
        }
        for t in a
            .tasks
            .iter()
            .filter(|t| !b.tasks.iter().any(|x| x.name == t.name))
        {
            notes.push(format!("{} is only in the first run", t.name));
        }
        rows.extend(figures(&all_tasks(a), &all_tasks(b), rps_noise, min_change));
        if a.tasks
            .iter()
            .chain(&b.tasks)
            .any(|t| t.successes > 0 && t.latency_histogram.is_none())
        {
            notes.push("a run has no latency histograms (written by an older cliffload): its latency is judged on the change alone".to_owned());
        }
        let same_scenario = a.scenario_hash.is_some() && a.scenario_hash == b.scenario_hash;
        if !same_scenario {
            notes.push("the runs differ in their scenario or its settings (scenario hash): differences may come from that".to_owned());
        }
        Self {
            before: side(a, before.1),
            after: side(b, after.1),
            same_scenario,
            min_change_percent: min_change,
            rows,
            notes,
        }
    }

    /// Rows that moved beyond the noise, worse.
    pub fn worse(&self) -> impl Iterator<Item = &DiffRow> {
        self.rows.iter().filter(|r| r.verdict == Change::Worse)
    }
}

fn side(r: &RunResult, source: String) -> Side {
    Side {
        source,
        scenario: r.scenario.clone(),
        started_at: r.started_at.clone(),
        load: r.load.describe(),
        verdict: r.verdict.status().word().to_ascii_lowercase(),
    }
}

/// All tasks of `r` as one row: counts summed, histograms merged.
fn all_tasks(r: &RunResult) -> TaskRow {
    let mut merged: Option<LatencyHistogram> = Some(LatencyHistogram::new());
    for t in r.tasks.iter().filter(|t| t.successes > 0) {
        match (&mut merged, &t.latency_histogram) {
            (Some(m), Some(h)) => m.merge(&h.0),
            _ => merged = None,
        }
    }
    TaskRow {
        name: ALL_TASKS.to_owned(),
        subject: String::new(),
        class: None,
        weight: None,
        requests: r.summary.requests,
        successes: r.summary.successes,
        failures: r.summary.failures,
        rejected: r.summary.rejected,
        rps: r.summary.rps,
        latency_us: r.summary.latency_us,
        intended_latency_us: None,
        outcomes: Default::default(),
        errors: Vec::new(),
        reply_bytes: 0,
        latency_histogram: merged.map(crate::EncodedHistogram),
    }
}

/// The 95 % confidence interval of quantile `q` of `h`, by order
/// statistics: the values at ranks n·q ∓ 1.96·√(n·q·(1−q)).
pub fn quantile_ci(h: &LatencyHistogram, q: f64) -> Option<(f64, f64)> {
    let n = h.count() as f64;
    if n < 1.0 {
        return None;
    }
    let half = 1.96 * (n * q * (1.0 - q)).sqrt();
    let lo = ((n * q - half).floor() / n).clamp(0.0, 1.0);
    let hi = ((n * q + half).ceil() / n).clamp(0.0, 1.0);
    Some((h.quantile_us(lo) as f64, h.quantile_us(hi) as f64))
}

/// Twice the combined relative standard error of the two runs' per-second
/// rates, in percent.
fn rps_noise(a: &RunResult, b: &RunResult) -> f64 {
    let rel_se = |r: &RunResult| {
        let xs: Vec<f64> = r
            .intervals
            .iter()
            .filter(|i| i.duration_s >= 0.5)
            .map(|i| i.rps)
            .collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n.max(1.0);
        if xs.len() < 2 || mean <= 0.0 {
            return 0.0;
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        var.sqrt() / n.sqrt() / mean
    };
    2.0 * (rel_se(a).powi(2) + rel_se(b).powi(2)).sqrt() * 100.0
}

fn pct(before: f64, after: f64) -> f64 {
    if before > 0.0 {
        (after - before) / before * 100.0
    } else {
        0.0
    }
}

/// The direction of a change that is beyond the noise (`higher_is_worse`).
fn direction(change: f64, beyond: bool, higher_is_worse: bool) -> Change {
    match (beyond, (change > 0.0) == higher_is_worse) {
        (false, _) => Change::Same,
        (true, true) => Change::Worse,
        (true, false) => Change::Better,
    }
}

/// Task `b` (after) against `a` (before): three percentiles, req/s, failures.
fn figures(a: &TaskRow, b: &TaskRow, rps_noise: f64, min_change: f64) -> Vec<DiffRow> {
    let row = |figure: &str, before: f64, after: f64, change: f64| DiffRow {
        task: b.name.clone(),
        figure: figure.to_owned(),
        before,
        after,
        change,
        before_ci: None,
        after_ci: None,
        verdict: Change::Unknown,
    };
    let mut rows = Vec::new();
    for (figure, q) in [("p50_us", 0.5), ("p90_us", 0.9), ("p99_us", 0.99)] {
        let hist = |t: &TaskRow| t.latency_histogram.as_ref().map(|h| h.0.clone());
        let summary = |t: &TaskRow| match q {
            0.5 => t.latency_us.p50,
            0.9 => t.latency_us.p90,
            _ => t.latency_us.p99,
        } as f64;
        let (before, after) = (summary(a), summary(b));
        let mut r = row(figure, before, after, pct(before, after));
        if a.successes == 0 || b.successes == 0 {
            rows.push(r);
            continue;
        }
        r.before_ci = hist(a).and_then(|h| quantile_ci(&h, q));
        r.after_ci = hist(b).and_then(|h| quantile_ci(&h, q));
        let apart = match (r.before_ci, r.after_ci) {
            (Some((lo_a, hi_a)), Some((lo_b, hi_b))) => hi_a < lo_b || hi_b < lo_a,
            _ => true,
        };
        r.verdict = direction(r.change, apart && r.change.abs() >= min_change, true);
        rows.push(r);
    }
    let change = pct(a.rps, b.rps);
    let mut r = row("rps", a.rps, b.rps, change);
    r.verdict = direction(change, change.abs() >= min_change.max(rps_noise), false);
    rows.push(r);
    rows.push(failure_row(
        a,
        b,
        min_change,
        row("failure_percent", 0.0, 0.0, 0.0),
    ));
    rows
}

/// The failure rates and a two-proportion z-test of their difference.
fn failure_row(a: &TaskRow, b: &TaskRow, min_change: f64, mut r: DiffRow) -> DiffRow {
    let rate = |t: &TaskRow| crate::verdict::failure_rate(t.failures, t.requests);
    (r.before, r.after) = (rate(a), rate(b));
    r.change = r.after - r.before;
    let (n1, n2) = (a.requests as f64, b.requests as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return r;
    }
    let pooled = (a.failures + b.failures) as f64 / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt() * 100.0;
    let significant = se > 0.0 && (r.change / se).abs() > 1.96;
    r.verdict = direction(
        r.change,
        significant && r.change.abs() >= min_change / 10.0,
        true,
    );
    r
}

#[cfg(test)]
mod tests;
