//! Pass/fail checks of a run (DESIGN §4, §6): judged on successful requests
//! only, and never passed on a run that has nothing to judge.

use cliffload_scenario::Expectations;
use serde::{Deserialize, Serialize};

use crate::result::RunResult;

/// Whether every check passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when every check passed.
    pub passed: bool,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier (`max_failure_percent`, …).
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// The bound, in words (`≤ 1%`).
    pub expected: String,
    /// The measured value, in words.
    pub actual: String,
}

fn check(name: &str, passed: bool, expected: String, actual: String) -> Check {
    Check {
        name: name.into(),
        passed,
        expected,
        actual,
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Applies `expectations` to `result`.
pub fn evaluate(expectations: &Expectations, result: &RunResult) -> Verdict {
    let s = &result.summary;
    let mut checks = vec![check(
        "requests_completed",
        s.requests > 0,
        "> 0".into(),
        s.requests.to_string(),
    )];
    if let Some(max) = expectations.max_failure_percent {
        checks.push(check(
            "max_failure_percent",
            s.requests > 0 && s.failure_percent <= max,
            format!("≤ {max}%"),
            format!(
                "{:.3}% ({} of {})",
                s.failure_percent, s.failures, s.requests
            ),
        ));
    }
    let no_success = "no successful requests: a latency of failures is not a latency".to_owned();
    let latency_check = |name: &str, bound_ms: f64, us: u64, label: &str| {
        if s.successes == 0 {
            check(name, false, format!("≤ {bound_ms} ms"), no_success.clone())
        } else {
            check(
                name,
                ms(us) <= bound_ms,
                format!("≤ {bound_ms} ms"),
                format!("{label} {:.3} ms", ms(us)),
            )
        }
    };
    if let Some(max) = expectations.max_median_ms {
        checks.push(latency_check(
            "max_median_ms",
            max,
            s.latency_us.p50,
            "median",
        ));
    }
    if let Some(max) = expectations.max_p99_ms {
        checks.push(latency_check("max_p99_ms", max, s.latency_us.p99, "p99"));
    }
    if let Some(min) = expectations.min_rps {
        checks.push(check(
            "min_rps",
            s.success_rps >= min,
            format!("≥ {min} successful req/s"),
            format!("{:.1} successful req/s", s.success_rps),
        ));
    }
    Verdict {
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}
