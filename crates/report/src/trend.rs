//! A run among the runs before it: the same scenario (same content hash)
//! over the history, judged against the recent passing runs
//! (`--baseline history`), and the steps in the series (change points).
//!
//! The history store (crate `cliffload-history`) reads and writes
//! [`PastRun`]s; what they mean is decided here, purely.

use serde::{Deserialize, Serialize};

use crate::regression::{BaselineComparison, BaselineRow};
use crate::result::RunResult;
use crate::verdict::{Check, Status, failure_rate, judged_latency};
use crate::warning::Warning;

pub mod stats;
pub mod table;

/// The most recent runs a trend and `--baseline history` look at.
pub const WINDOW: usize = 30;
/// Passing runs `--baseline history` needs before it judges.
pub const MIN_PASSING: usize = 3;
/// A step is reported when chance would make one as clear less often than this.
pub const STEP_P_VALUE: f64 = 0.01;

/// One task of a remembered run, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastTask {
    /// The task's name.
    pub name: String,
    /// Requests completed.
    pub requests: u64,
    /// Of them, successes.
    pub successes: u64,
    /// Of them, failures.
    pub failures: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency of its successes, µs.
    pub p50_us: u64,
    /// 99th percentile of its successes, µs.
    pub p99_us: u64,
}

/// A run as the history remembers it: what a table row and a trend point
/// show. The whole result is stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastRun {
    /// Its id in the history (0: not stored).
    pub id: i64,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// The scenario's name.
    pub scenario: String,
    /// [`RunResult::scenario_hash`] (empty for results without one).
    pub scenario_hash: String,
    /// The load, in words ("50 users", "200/s (at most 64 in flight)").
    pub load: String,
    /// Seconds the load ran.
    pub duration_s: f64,
    /// `--label` (e.g. the service's git commit).
    pub label: Option<String>,
    /// `passed`, `failed` or `inconclusive`.
    pub verdict: String,
    /// Cut short by Ctrl-C.
    pub interrupted: bool,
    /// Requests completed.
    pub requests: u64,
    /// Failures among them.
    pub failures: u64,
    /// Failures in percent of requests.
    pub failure_percent: f64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency of the successes, µs (from the intended send time in
    /// the open model, as the verdict judges it).
    pub p50_us: u64,
    /// 99th percentile of the successes, µs (likewise).
    pub p99_us: u64,
    /// Per task (left out of a trend's points).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<PastTask>,
}

impl PastRun {
    /// `r` summarised, as run `id` with `label`.
    pub fn of(r: &RunResult, id: i64, label: Option<String>) -> Self {
        let (latency, _) = judged_latency(r);
        Self {
            id,
            started_at: r.started_at.clone(),
            scenario: r.scenario.clone(),
            scenario_hash: r.scenario_hash.clone().unwrap_or_default(),
            load: r.load.describe(),
            duration_s: r.duration_s,
            label,
            verdict: r.verdict.status().word().to_ascii_lowercase(),
            interrupted: r.interrupted,
            requests: r.summary.requests,
            failures: r.summary.failures,
            failure_percent: r.summary.failure_percent,
            rps: r.summary.rps,
            p50_us: latency.p50,
            p99_us: latency.p99,
            tasks: r.tasks.iter().map(past_task).collect(),
        }
    }

    /// Whether it may stand in a baseline: it passed and ran whole.
    pub fn passing(&self) -> bool {
        self.verdict == "passed" && !self.interrupted
    }
}

fn past_task(t: &crate::TaskRow) -> PastTask {
    let latency = t.intended_latency_us.as_ref().unwrap_or(&t.latency_us);
    PastTask {
        name: t.name.clone(),
        requests: t.requests,
        successes: t.successes,
        failures: t.failures,
        rps: t.rps,
        p50_us: latency.p50,
        p99_us: latency.p99,
    }
}

/// A figure of the series over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Median latency of successes.
    P50,
    /// 99th percentile of successes.
    P99,
    /// Requests per second.
    Rps,
    /// Failure rate, percent.
    FailureRate,
}

impl Figure {
    /// Every figure, in the order the reports show them.
    pub const ALL: [Figure; 4] = [Figure::P50, Figure::P99, Figure::Rps, Figure::FailureRate];

    /// `p50_us`, `p99_us`, `rps`, `failure_percent`: the key in `result.json`.
    pub fn key(self) -> &'static str {
        match self {
            Figure::P50 => "p50_us",
            Figure::P99 => "p99_us",
            Figure::Rps => "rps",
            Figure::FailureRate => "failure_percent",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::Rps => "req/s",
            Figure::FailureRate => "failure rate",
        }
    }

    /// The figure of run `r`.
    pub fn of(self, r: &PastRun) -> f64 {
        match self {
            Figure::P50 => r.p50_us as f64,
            Figure::P99 => r.p99_us as f64,
            Figure::Rps => r.rps,
            Figure::FailureRate => r.failure_percent,
        }
    }

    /// How much worse `after` is than `before`: percent for latency and
    /// throughput (lower throughput is worse), points for the failure rate.
    pub fn worse(self, before: f64, after: f64) -> f64 {
        let pct = |new: f64, old: f64| {
            if old > 0.0 {
                (new - old) / old * 100.0
            } else {
                0.0
            }
        };
        match self {
            Figure::P50 | Figure::P99 => pct(after, before),
            Figure::Rps => -pct(after, before),
            Figure::FailureRate => after - before,
        }
    }

    /// Whether a change `worse` (from [`Self::worse`]) matters at `allowance` percent.
    fn beyond(self, worse: f64, allowance: f64) -> bool {
        match self {
            Figure::FailureRate => worse > allowance / 10.0,
            _ => worse > allowance,
        }
    }
}

/// A step in one figure's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendStep {
    /// `p50_us`, `p99_us`, `rps` or `failure_percent`.
    pub figure: String,
    /// Index in [`Trend::runs`] of the first run after the step.
    pub index: usize,
    /// The median of the figure before the step.
    pub before: f64,
    /// The median from the step on.
    pub after: f64,
    /// How much worse (percent; points for the failure rate; negative: better).
    pub worse: f64,
    /// The chance of a step as clear in the same values in a random order.
    pub p_value: f64,
    /// Worse by more than the allowance, and not chance.
    pub regressed: bool,
}

/// The same scenario over the recent runs, this run last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Where the history is (a path, or a URL without its password).
    pub store: String,
    /// The runs, oldest first; the last is this run (id 0 until stored).
    pub runs: Vec<PastRun>,
    /// Steps found in the series, one per figure at most, clearest first.
    pub steps: Vec<TrendStep>,
}

impl Trend {
    /// `current` after `past` (runs of its scenario hash, oldest first; the
    /// last [`WINDOW`] − 1 are kept), with the steps of each figure
    /// (`allowance`: the percent a step must be worse by to regress).
    pub fn new(store: String, past: &[PastRun], current: &RunResult, allowance: f64) -> Self {
        let keep = past.len().saturating_sub(WINDOW - 1);
        let mut runs: Vec<PastRun> = past[keep..].to_vec();
        runs.push(PastRun::of(current, 0, None));
        for r in &mut runs {
            r.tasks.clear();
        }
        let steps = steps(&runs, allowance);
        Self { store, runs, steps }
    }
}

/// The step of each figure over `runs` (interrupted ones left out of the
/// series), those with p < [`STEP_P_VALUE`], clearest first.
pub fn steps(runs: &[PastRun], allowance: f64) -> Vec<TrendStep> {
    let whole: Vec<(usize, &PastRun)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.interrupted)
        .collect();
    let mut out: Vec<TrendStep> = Figure::ALL
        .into_iter()
        .filter_map(|f| {
            let xs: Vec<f64> = whole.iter().map(|(_, r)| f.of(r)).collect();
            let s = stats::step(&xs)?;
            let worse = f.worse(s.before, s.after);
            (s.p_value < STEP_P_VALUE).then(|| TrendStep {
                figure: f.key().to_owned(),
                index: whole[s.at].0,
                before: s.before,
                after: s.after,
                worse,
                p_value: s.p_value,
                regressed: f.beyond(worse, allowance),
            })
        })
        .collect();
    out.sort_by(|a, b| a.p_value.total_cmp(&b.p_value));
    out
}

/// `--baseline history`: judges `r` against `past` (its scenario hash's
/// runs, oldest first) and adds two checks: `no_regression` (each task's
/// median, p99, req/s and failure rate against the median of the last
/// [`WINDOW`] passing runs, beyond the allowance and three times their
/// spread) and `no_step_change` (no step in the series ending with this
/// run, worse by more than the allowance). With fewer than [`MIN_PASSING`]
/// passing runs, a warning instead.
pub fn judge(r: &mut RunResult, past: &[PastRun], store: &str, allowance: f64) {
    let reference: Vec<&PastRun> = past
        .iter()
        .filter(|p| p.passing())
        .rev()
        .take(WINDOW)
        .collect();
    if reference.len() < MIN_PASSING {
        r.warnings.push(Warning::HistoryShort {
            passing: reference.len(),
            needed: MIN_PASSING,
            store: store.to_owned(),
        });
        return;
    }
    let table = history_table(r, &reference, allowance);
    let check = regression_check(&table, reference.len());
    r.baseline = Some(table);
    r.verdict.checks.push(check);
    let trend = Trend::new(store.to_owned(), past, r, allowance);
    r.verdict.checks.push(step_check(&trend, allowance));
    r.trend = Some(trend);
}

/// Each task's four figures against the median of the reference runs that have it.
fn history_table(r: &RunResult, reference: &[&PastRun], allowance: f64) -> BaselineComparison {
    let mut rows = Vec::new();
    for t in &r.tasks {
        let past: Vec<&PastTask> = reference
            .iter()
            .filter_map(|p| p.tasks.iter().find(|pt| pt.name == t.name))
            .collect();
        if past.len() < MIN_PASSING {
            continue;
        }
        let now = past_task(t);
        // This run's own sampling doubt: a latency figure is judged by the
        // better end of its 95 % interval (the p99 of 200 requests is the
        // second slowest of them, and may be anywhere from the fifth).
        let hist = t
            .latency_histogram
            .as_ref()
            .filter(|_| t.intended_latency_us.is_none());
        let best_case = |f: Figure| {
            let q = match f {
                Figure::P50 => 0.5,
                Figure::P99 => 0.99,
                _ => return None,
            };
            hist.and_then(|h| crate::diff::quantile_ci(&h.0, q))
                .map(|(lo, _)| lo)
        };
        let mut figure = |f: Figure, of: &dyn Fn(&PastTask) -> f64| {
            let xs: Vec<f64> = past.iter().map(|p| of(p)).collect();
            let (before, after) = (stats::median(&xs), of(&now));
            let spread = 3.0 * stats::robust_sd(&xs);
            let worse = f.worse(before, after);
            let judged = best_case(f).map_or(worse, |lo| f.worse(before, lo.min(after)));
            let noise = match f {
                Figure::FailureRate => spread,
                _ if before > 0.0 => spread / before * 100.0,
                _ => 0.0,
            };
            rows.push(BaselineRow {
                task: t.name.clone(),
                metric: metric_key(f).to_owned(),
                before,
                after,
                worse_percent: worse,
                noise_percent: (f != Figure::FailureRate).then_some(noise),
                regressed: f.beyond(judged, allowance) && judged > noise,
            });
        };
        if t.successes > 0 {
            figure(Figure::P50, &|p| p.p50_us as f64);
            figure(Figure::P99, &|p| p.p99_us as f64);
        }
        figure(Figure::Rps, &|p| p.rps);
        figure(Figure::FailureRate, &|p| {
            failure_rate(p.failures, p.requests)
        });
    }
    let first = reference.last().map_or("", |p| p.started_at.as_str());
    let last = reference.first().map_or("", |p| p.started_at.as_str());
    BaselineComparison {
        baseline_started_at: last.to_owned(),
        baseline_scenario: r.scenario.clone(),
        max_degradation_percent: allowance,
        rows,
        source: Some(format!(
            "the history: median of {} passing runs, {} to {}",
            reference.len(),
            table::minute(first),
            table::minute(last)
        )),
    }
}

/// The regression table's metric key for a figure (as a baseline file's rows).
fn metric_key(f: Figure) -> &'static str {
    match f {
        Figure::P50 => "median_us",
        Figure::P99 => "p99_us",
        Figure::Rps => "rps",
        Figure::FailureRate => "failure_rate_percent",
    }
}

fn regression_check(table: &BaselineComparison, runs: usize) -> Check {
    let expected = format!(
        "no task worse than the median of the last {runs} passing runs by > {}% beyond their spread",
        table.max_degradation_percent
    );
    if table.rows.is_empty() {
        return Check::with_status(
            "no_regression",
            Status::Inconclusive,
            expected,
            format!("no task of this run is in {MIN_PASSING} or more of those runs"),
        );
    }
    let worse: Vec<String> = table
        .rows
        .iter()
        .filter(|r| r.regressed)
        .map(|r| format!("{} {} {}", r.task, r.label(), r.change()))
        .collect();
    let actual = if worse.is_empty() {
        format!(
            "none of {} figures (see the baseline table)",
            table.rows.len()
        )
    } else {
        format!(
            "{} of {} figures worse: {} (see the baseline table)",
            worse.len(),
            table.rows.len(),
            worse.join("; ")
        )
    };
    Check::new("no_regression", worse.is_empty(), expected, actual)
}

/// `no_step_change`: fails on a step worse than the allowance in the
/// series; under 6 runs, inconclusive.
fn step_check(trend: &Trend, allowance: f64) -> Check {
    let expected = format!(
        "no step worse by > {allowance}% over the last {} runs (rank change point, p < {STEP_P_VALUE})",
        trend.runs.len()
    );
    if trend.runs.iter().filter(|r| !r.interrupted).count() < 6 {
        return Check::with_status(
            "no_step_change",
            Status::Inconclusive,
            expected,
            format!("{} run(s): a step needs 6 or more", trend.runs.len()),
        );
    }
    let bad: Vec<String> = trend
        .steps
        .iter()
        .filter(|s| s.regressed)
        .map(|s| describe_step(trend, s))
        .collect();
    let actual = if bad.is_empty() {
        "no such step".to_owned()
    } else {
        bad.join("; ")
    };
    Check::new("no_step_change", bad.is_empty(), expected, actual)
}

/// "p50 stepped from 10.2 ms to 13.3 ms (+30.4%) at run 17 (label abc, 2026-12-07T04:01), p = 0.002".
pub fn describe_step(trend: &Trend, s: &TrendStep) -> String {
    let f = Figure::ALL
        .into_iter()
        .find(|f| f.key() == s.figure)
        .unwrap_or(Figure::P50);
    let show = |v: f64| match f {
        Figure::P50 | Figure::P99 => crate::text::latency(v.round() as u64),
        Figure::Rps => format!("{v:.1}/s"),
        Figure::FailureRate => format!("{v:.2}%"),
    };
    let change = match f {
        Figure::FailureRate => format!("{:+.2} points", s.after - s.before),
        _ if s.before > 0.0 => format!("{:+.1}%", (s.after - s.before) / s.before * 100.0),
        _ => "from zero".to_owned(),
    };
    let at = trend.runs.get(s.index).map_or_else(String::new, |r| {
        let id = if r.id == 0 {
            "this run".to_owned()
        } else {
            format!("run {}", r.id)
        };
        let label = r
            .label
            .as_deref()
            .map_or_else(String::new, |l| format!("{l}, "));
        format!(" at {id} ({label}{})", table::minute(&r.started_at))
    });
    format!(
        "{} stepped from {} to {} ({change}){at}, p = {:.3}",
        f.label(),
        show(s.before),
        show(s.after),
        s.p_value
    )
}

#[cfg(test)]
mod tests;
