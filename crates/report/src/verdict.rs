//! Pass/fail checks of a run (DESIGN §4, §6): judged on successful requests
//! only, and never passed on a run that has nothing to judge.

use cliffload_scenario::Expectations;
use serde::{Deserialize, Serialize};

use crate::result::RunResult;

/// Whether every check passed and no claim was refuted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when every check passed and no claim is `not_validated`.
    pub passed: bool,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
    /// The performance claims judged (`reporting.benchmark_claims`).
    pub claims: Vec<Claim>,
}

/// What the measurements say of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Measured on successful requests, within the failure bound: holds.
    Validated,
    /// Measured, and it does not hold (or the run failed too often to say it does).
    NotValidated,
    /// Cannot be judged from this run (says why).
    Inconclusive,
}

/// One judged claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// `sub_millisecond`, `high_throughput`, `ten_x_faster_than_rest`.
    pub name: String,
    /// The judgement.
    pub status: ClaimStatus,
    /// The figures behind it.
    pub detail: String,
}

/// Successful simple RPCs a latency claim needs before it is judged either way.
pub const MIN_CLAIM_SAMPLES: u64 = 100;

/// Judges the scenario's claims. `simple` is the summary of successful
/// requests to simple RPCs (tasks with a fixed body) and their request and
/// failure counts.
pub fn claims(
    claims: &cliffload_scenario::Claims,
    max_failure_percent: f64,
    result: &RunResult,
    simple: (&cliffload_metrics::LatencySummary, u64, u64),
) -> Vec<Claim> {
    let s = &result.summary;
    let mut out = Vec::new();
    let (lat, simple_requests, simple_failures) = simple;
    if claims.sub_millisecond {
        let failure = if simple_requests > 0 {
            simple_failures as f64 * 100.0 / simple_requests as f64
        } else {
            0.0
        };
        let (status, detail) = if simple_requests == 0 {
            (
                ClaimStatus::Inconclusive,
                "no simple RPC (a task with a fixed body) ran in this scenario".to_owned(),
            )
        } else if lat.count == 0 {
            (
                ClaimStatus::NotValidated,
                format!(
                    "none of {simple_requests} simple RPCs succeeded: the time to fail is not a response time"
                ),
            )
        } else if failure > max_failure_percent {
            (
                ClaimStatus::NotValidated,
                format!(
                    "{failure:.2}% of simple RPCs failed (bound {max_failure_percent}%): median {} µs of the successful ones does not validate the claim",
                    lat.p50
                ),
            )
        } else if lat.count < MIN_CLAIM_SAMPLES {
            (
                ClaimStatus::Inconclusive,
                format!(
                    "only {} successful simple RPCs (median {} µs): too few to judge a median, need at least {MIN_CLAIM_SAMPLES}; run longer",
                    lat.count, lat.p50
                ),
            )
        } else if lat.p50 < 1000 {
            (
                ClaimStatus::Validated,
                format!(
                    "median {} µs of {} successful simple RPCs, {failure:.2}% failed",
                    lat.p50, lat.count
                ),
            )
        } else {
            (
                ClaimStatus::NotValidated,
                format!(
                    "median {} µs of {} successful simple RPCs is not below 1 ms",
                    lat.p50, lat.count
                ),
            )
        };
        out.push(Claim {
            name: "sub_millisecond".into(),
            status,
            detail,
        });
    }
    if let Some(target) = claims.high_throughput_rps {
        let status = if s.success_rps >= target {
            ClaimStatus::Validated
        } else {
            ClaimStatus::NotValidated
        };
        out.push(Claim {
            name: "high_throughput".into(),
            status,
            detail: format!(
                "{:.1} successful requests/s (claim: {target})",
                s.success_rps
            ),
        });
    }
    if claims.ten_x_faster_than_rest {
        out.push(Claim {
            name: "ten_x_faster_than_rest".into(),
            status: ClaimStatus::Inconclusive,
            detail: "needs a NATS-vs-HTTP comparison run of the same requests; this run measured NATS only".into(),
        });
    }
    out
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
    if let Some(max) = expectations.max_p95_ms {
        checks.push(latency_check("max_p95_ms", max, s.latency_us.p95, "p95"));
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
        claims: vec![],
    }
}
