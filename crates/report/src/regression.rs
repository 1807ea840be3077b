//! Regression against a baseline run: per task, median and p99 of successful
//! requests, requests per second and failure rate, each flagged when it is
//! worse by more than the allowed percentage *and* by more than the run-to-run
//! noise visible in the two runs' per-second data (twice the combined
//! standard error of their interval means).

use crate::result::{RunResult, TaskRow};
use crate::verdict::{Check, Status, failure_rate, percent};
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

/// How a change of `metric` reads: "slower"/"faster" for latency, "lower"/
/// "higher" for throughput; `worse_pct` > 0 is a degradation.
fn change_words(metric: &str, worse_pct: f64) -> String {
    let latency = metric != "req/s";
    let word = match (latency, worse_pct > 0.0) {
        (true, true) => "slower",
        (true, false) => "faster",
        (false, true) => "lower",
        (false, false) => "higher",
    };
    format!("{:.1}% {word}", worse_pct.abs())
}

/// Compares `new` with `base`; the check fails when any task regressed and
/// is inconclusive when no task of `new` is in `base`.
pub fn compare(new: &RunResult, base: &RunResult, max_degradation_percent: f64) -> Check {
    let noise = combined_noise(new, base);
    let mut matched = 0;
    let mut worse = Vec::new();
    let mut failure_rises = Vec::new();
    for t in &new.tasks {
        let Some(b) = base.tasks.iter().find(|b| b.name == t.name) else {
            continue;
        };
        matched += 1;
        worse.extend(degradations(t, b, noise, max_degradation_percent));
        failure_rises.extend(failure_rise(t, b, max_degradation_percent));
    }
    worse.extend(failure_rises);
    check(base, matched, worse, max_degradation_percent)
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

/// Task `t`'s median, p99 and req/s against the baseline's `b`: each worse by
/// more than the allowed percentage and the noise, in words.
fn degradations(
    t: &TaskRow,
    b: &TaskRow,
    (rps_noise, lat_noise): (f64, f64),
    max_degradation_percent: f64,
) -> Vec<String> {
    let mut worse = Vec::new();
    let mut flag =
        |task: &str, metric: &str, old: f64, new: f64, worse_pct: f64, noise_pct: f64| {
            if worse_pct > max_degradation_percent && worse_pct > noise_pct {
                worse.push(format!(
                    "{task} {metric} {} ({old:.0} → {new:.0}; noise ±{noise_pct:.1}%)",
                    change_words(metric, worse_pct)
                ));
            }
        };
    let pct = |new: f64, old: f64| {
        if old > 0.0 {
            (new - old) / old * 100.0
        } else {
            0.0
        }
    };
    if t.successes > 0 && b.successes > 0 {
        for (metric, n, o) in [
            ("median µs", t.latency_us.p50, b.latency_us.p50),
            ("p99 µs", t.latency_us.p99, b.latency_us.p99),
        ] {
            flag(
                &t.name,
                metric,
                o as f64,
                n as f64,
                pct(n as f64, o as f64),
                lat_noise,
            );
        }
    }
    flag(
        &t.name,
        "req/s",
        b.rps,
        t.rps,
        -pct(t.rps, b.rps),
        rps_noise,
    );
    worse
}

/// Task `t`'s failure rate against the baseline's `b`, in percentage points
/// (not a relative change), when it rose by more than a tenth of the allowed
/// degradation.
fn failure_rise(t: &TaskRow, b: &TaskRow, max_degradation_percent: f64) -> Option<String> {
    let (rate_new, rate_old) = (
        failure_rate(t.failures, t.requests),
        failure_rate(b.failures, b.requests),
    );
    let points = rate_new - rate_old;
    (points > max_degradation_percent / 10.0).then(|| {
        format!(
            "{} failure rate up {points:.2} points ({} → {})",
            t.name,
            percent(rate_old),
            percent(rate_new)
        )
    })
}

/// The `no_regression` check from the `matched` tasks and what got `worse`.
fn check(
    base: &RunResult,
    matched: usize,
    worse: Vec<String>,
    max_degradation_percent: f64,
) -> Check {
    let expected = format!(
        "no task worse than the baseline ({}) by > {max_degradation_percent}% beyond noise",
        base.started_at
    );
    if matched == 0 {
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
    Check::new(
        "no_regression",
        worse.is_empty(),
        expected,
        if worse.is_empty() {
            format!("none ({matched} task(s) compared)")
        } else {
            worse.join("; ")
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
            "the baseline's arrival rate was {:?}/s, this run's {:?}/s",
            b.arrival_rate.unwrap_or(0.0),
            n.arrival_rate.unwrap_or(0.0)
        ));
    } else if n.model == "closed" && n.users != b.users {
        out.push(format!(
            "the baseline ran {} users, this run {}",
            b.users, n.users
        ));
    }
    out
}

/// Adds the regression check to `new`'s verdict, and a warning when the
/// baseline is another scenario or another load.
pub fn apply(new: &mut RunResult, base: &RunResult, max_degradation_percent: f64) {
    let check = compare(new, base, max_degradation_percent);
    let differences = mismatch(new, base);
    if !differences.is_empty() {
        new.warnings.push(Warning::BaselineUnlike { differences });
    }
    new.verdict.checks.push(check);
}
