//! Regression against a baseline run: per task, median and p99 of successful
//! requests, requests per second and failure rate, each flagged when it is
//! worse by more than the allowed percentage *and* by more than the run-to-run
//! noise visible in the two runs' per-second data (twice the combined
//! standard error of their interval means).

use crate::result::RunResult;
use crate::verdict::Check;

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

/// Compares `new` with `base`; the check fails when any task regressed.
pub fn compare(new: &RunResult, base: &RunResult, max_degradation_percent: f64) -> Check {
    let (rps_a, lat_a) = noise(new);
    let (rps_b, lat_b) = noise(base);
    let rps_noise = 2.0 * (rps_a.powi(2) + rps_b.powi(2)).sqrt() * 100.0;
    let lat_noise = 2.0 * (lat_a.powi(2) + lat_b.powi(2)).sqrt() * 100.0;
    let mut worse = Vec::new();
    let mut flag = |task: &str, metric: &str, change_pct: f64, noise_pct: f64| {
        if change_pct.is_infinite() {
            // Failure rate: an absolute rise in percentage points (`noise_pct` carries it).
            worse.push(format!("{task} {metric} {noise_pct:+.2}"));
        } else if change_pct > max_degradation_percent && change_pct > noise_pct {
            worse.push(format!(
                "{task} {metric} {change_pct:+.1}% (noise ±{noise_pct:.1}%)"
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
    for t in &new.tasks {
        let Some(b) = base.tasks.iter().find(|b| b.name == t.name) else {
            continue;
        };
        if t.successes > 0 && b.successes > 0 {
            flag(
                &t.name,
                "median",
                pct(t.latency_us.p50 as f64, b.latency_us.p50 as f64),
                lat_noise,
            );
            flag(
                &t.name,
                "p99",
                pct(t.latency_us.p99 as f64, b.latency_us.p99 as f64),
                lat_noise,
            );
        }
        flag(&t.name, "req/s", -pct(t.rps, b.rps), rps_noise);
        let rate = |x: &crate::result::TaskRow| {
            if x.requests > 0 {
                x.failures as f64 / x.requests as f64 * 100.0
            } else {
                0.0
            }
        };
        // Failure rate: percentage points, not a relative change.
        let points = rate(t) - rate(b);
        if points > max_degradation_percent / 10.0 {
            flag(&t.name, "failure rate (points)", f64::INFINITY, points);
        }
    }
    Check {
        name: "no_regression".into(),
        passed: worse.is_empty(),
        expected: format!(
            "no task worse than the baseline ({}) by > {max_degradation_percent}% beyond noise",
            base.started_at
        ),
        actual: if worse.is_empty() {
            "none".into()
        } else {
            worse.join("; ")
        },
    }
}

/// Adds the regression check to `new`'s verdict.
pub fn apply(new: &mut RunResult, base: &RunResult, max_degradation_percent: f64) {
    let check = compare(new, base, max_degradation_percent);
    new.verdict.passed &= check.passed;
    new.verdict.checks.push(check);
}
